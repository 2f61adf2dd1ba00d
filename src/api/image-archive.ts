// docker save / load / import over the API:
//   GET  /images/get?names=a&names=b, GET /images/{name}/get → application/x-tar stream
//   POST /images/load?quiet=     body: an archive → JSON lines (`Loading layer` progress unless
//                                quiet, then `{"stream":"Loaded image: x:y\n"}`)
//   POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=
//                                body: a rootfs tar → `{"status":"sha256:…"}`
//   POST /images/create?fromSrc=<http(s) URL>&…  the daemon downloads the tar: `Downloading from
//                                <url>`, `Importing` progress, then the ID (dockerd's messages)
// A failure before any output is an HTTP error (400 for a bad archive); after progress went
// out, an error line (docker's way).
import { Transform, type Readable } from 'node:stream';
import { HakoError, invalid } from '../common/errors.js';
import { applyChanges } from '../image/changes.js';
import type { UrlSource } from '../image/archive/fetch-url.js';
import { parseReference, formatReference, withTag } from '../image/reference.js';
import type { ProgressEvent } from '../image/progress.js';
import type { ApiDeps } from './deps.js';
import { HttpError, qBool, qStr, type Ctx } from './http.js';
import { JsonStream, PROGRESS_LINE_END, progressEventMessage, sendStream } from './streams.js';

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
  const out = new JsonStream(ctx, PROGRESS_LINE_END);
  try {
    const progress = quiet ? undefined : (ev: ProgressEvent) => out.push(progressEventMessage(ev));
    const r = await deps.images.load(ctx.req, { signal: ctx.signal, progress });
    for (const m of r.messages) out.push({ stream: `${m}\n` });
    out.end();
  } catch (err) {
    ctx.req.resume();
    if (!ctx.signal.aborted) deps.log('info', `load: ${(err as Error).message}`);
    // dockerd answers a load 200 whatever happens and writes its failure into the stream
    // (docker-py raises ImageLoadError for it, dockerode resolves with the stream, the CLI prints
    // the message without "Error response from daemon"); a 400 was an APIError / a rejection.
    out.start();
    out.fail(err);
  }
}

export async function importImage(ctx: Ctx, deps: ApiDeps, fromSrc: string): Promise<void> {
  // Everything that can be checked is checked before the body is read or a URL fetched.
  let reference: string | undefined;
  const repo = qStr(ctx, 'repo');
  if (repo) {
    let ref = parseReference(repo);
    if (ref.digest) throw invalid('cannot import digest reference');
    const tag = qStr(ctx, 'tag');
    if (tag) ref = withTag(ref, tag);
    reference = formatReference(ref);
  }
  const changes = ctx.query.getAll('changes').filter((c) => c.trim() !== '');
  applyChanges({}, changes);
  let input: NodeJS.ReadableStream = ctx.req;
  let download: UrlSource | undefined;
  if (fromSrc !== '-') {
    // dockerd: the rootfs comes from the URL; a failed GET (404, refused) is the HTTP answer.
    ctx.req.resume();
    download = await deps.images.openUrl(fromSrc, { signal: ctx.signal });
  }
  const out = new JsonStream(ctx, PROGRESS_LINE_END);
  try {
    if (download) {
      out.push({ status: `Downloading from ${download.url}` });
      input = withProgress(download.body, download.size, (ev) => out.push(progressEventMessage(ev)));
    }
    const r = await deps.images.importImage(input, {
      reference,
      changes,
      message: qStr(ctx, 'message'),
      platform: qStr(ctx, 'platform'),
      source: download?.url ?? fromSrc,
      signal: ctx.signal,
    });
    out.push({ status: r.id });
    out.end();
  } catch (err) {
    download?.body.destroy();
    ctx.req.resume();
    if (!ctx.signal.aborted) deps.log('info', `import: ${(err as Error).message}`);
    out.fail(err);
  }
}

/** The downloaded bytes, reported as docker's `Importing` progress (every 100 ms and at the end). */
function withProgress(body: Readable, total: number | undefined, sink: (ev: ProgressEvent) => void): Readable {
  let current = 0;
  let last = 0;
  const report = (): void => sink({ status: 'Importing', current, total });
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      current += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        report();
      }
      cb(null, chunk);
    },
    flush(cb) {
      report();
      cb();
    },
  });
  body.on('error', (e) => counter.destroy(e));
  return body.pipe(counter);
}
