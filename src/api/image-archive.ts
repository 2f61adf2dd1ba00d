// docker save / load / import over the API:
//   GET  /images/get?names=a&names=b, GET /images/{name}/get → application/x-tar stream
//   POST /images/load?quiet=     body: an archive → JSON lines (`Loading layer` progress unless
//                                quiet, then `{"stream":"Loaded image: x:y\n"}`)
//   POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=
//                                body: a rootfs tar → `{"status":"sha256:…"}`
// A failure before any output is an HTTP error (400 for a bad archive); after progress went
// out, an error line (docker's way).
import { HakoError, invalid } from '../common/errors.js';
import { parseReference, formatReference, withTag } from '../image/reference.js';
import type { ProgressEvent } from '../image/progress.js';
import type { ApiDeps } from './deps.js';
import { HttpError, qBool, qStr, type Ctx } from './http.js';
import { JsonStream, progressEventMessage, sendStream } from './streams.js';

export async function saveImages(ctx: Ctx, deps: ApiDeps, names: string[]): Promise<void> {
  if (names.length === 0) throw invalid('bad parameter: no image names given');
  const stream = await deps.images.save(names, { signal: ctx.signal }).catch((e: unknown) => {
    // docker's wording, which clients match: `No such image: x`.
    const missing = e instanceof HakoError && e.kind === 'not-found' && /^no such image: (.*)$/i.exec(e.message);
    throw missing ? new HakoError({ step: `No such image: ${missing[1]}`, kind: 'not-found' }) : e;
  });
  stream.on('error', (err) => {
    if (!ctx.signal.aborted) deps.log('warn', `save ${names.join(' ')}: ${err.message}`);
  });
  await sendStream(ctx, 'application/x-tar', stream);
}

export async function loadArchive(ctx: Ctx, deps: ApiDeps): Promise<void> {
  const quiet = qBool(ctx, 'quiet', true);
  const out = new JsonStream(ctx);
  try {
    const progress = quiet ? undefined : (ev: ProgressEvent) => out.push(progressEventMessage(ev));
    const r = await deps.images.load(ctx.req, { signal: ctx.signal, progress });
    for (const m of r.messages) out.push({ stream: `${m}\n` });
    out.end();
  } catch (err) {
    ctx.req.resume();
    if (!ctx.signal.aborted) deps.log('info', `load: ${(err as Error).message}`);
    out.fail(err);
  }
}

export async function importImage(ctx: Ctx, deps: ApiDeps, fromSrc: string): Promise<void> {
  if (fromSrc !== '-') {
    ctx.req.resume();
    throw new HttpError(501, `import from ${fromSrc}: only fromSrc=- (the tar in the request body) is supported; download the file and import it from there`);
  }
  let reference: string | undefined;
  const repo = qStr(ctx, 'repo');
  if (repo) {
    let ref = parseReference(repo);
    if (ref.digest) throw invalid('cannot import digest reference');
    const tag = qStr(ctx, 'tag');
    if (tag) ref = withTag(ref, tag);
    reference = formatReference(ref);
  }
  const out = new JsonStream(ctx);
  try {
    const r = await deps.images.importImage(ctx.req, {
      reference,
      changes: ctx.query.getAll('changes').filter((c) => c.trim() !== ''),
      message: qStr(ctx, 'message'),
      platform: qStr(ctx, 'platform'),
      source: fromSrc,
      signal: ctx.signal,
    });
    out.push({ status: r.id });
    out.end();
  } catch (err) {
    ctx.req.resume();
    if (!ctx.signal.aborted) deps.log('info', `import: ${(err as Error).message}`);
    out.fail(err);
  }
}
