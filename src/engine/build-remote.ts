// What a build fetches from elsewhere, as dockerd 20.10's classic builder does it: `ADD <URL>`
// (downloaded into a private directory, mode 0600, named from the URL's path, the
// Content-Disposition or the destination, Last-Modified as its mtime, never extracted) and the
// remote contexts of `POST /build?remote=` (a tarball, a plain Dockerfile served as text/plain,
// or a git repository cloned with git(1)).
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync, lstatSync, realpathSync, utimesSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join, posix, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { HakoError, invalid, type HakoErrorKind } from '../common/errors.js';
import { resolveInRoot } from './fs/paths.js';
import { dialErrorText } from '../image/registry/http.js';
import type { ProgressEvent } from '../image/progress.js';

/** docker's urlutil.IsURL: http:// or https://. */
export function isURL(s: string): boolean {
  return /^https?:\/\//.test(s);
}

/** docker's urlutil.IsGitURL: an http(s) URL ending in `.git` (with a `#fragment`), or git://, github.com/, git@. */
export function isGitURL(s: string): boolean {
  // dockerd's pattern is ".git(?:#.+)?$" with an unescaped dot: `xgit` at the end matches too.
  if (isURL(s) && /.git(?:#.+)?$/.test(s)) return true;
  return s.startsWith('git://') || s.startsWith('github.com/') || s.startsWith('git@');
}

const STATUS_KIND: Record<number, HakoErrorKind> = { 400: 'invalid-argument', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found' };

/** Node's network errors in Go's words where they are common (`dial tcp 127.0.0.1:1: connect: connection refused`). */
function netMessage(url: string, e: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  return `Get ${JSON.stringify(url)}: ${dialErrorText(e, new URL(url))}`;
}

/**
 * GET `url`, following up to 10 redirects (Go's http.Get). A status of 400 or more fails as
 * dockerd's GetWithStatusError: `failed to GET <url> with status 404 Not Found: <body>`.
 */
export async function httpGet(url: string, signal?: AbortSignal, redirects = 0): Promise<IncomingMessage> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`parse ${JSON.stringify(url)}: invalid URL`);
  }
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, { method: 'GET', headers: { 'User-Agent': 'hako-builder' }, ...(signal ? { signal } : {}) }, resolve);
    req.on('error', (e) => reject(new HakoError({ step: netMessage(url, e as NodeJS.ErrnoException), kind: 'internal' })));
    req.end();
  });
  const status = res.statusCode ?? 0;
  if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
    res.resume();
    if (redirects >= 10) throw new HakoError({ step: `Get ${JSON.stringify(url)}: stopped after 10 redirects`, kind: 'internal' });
    return httpGet(new URL(res.headers.location, u).toString(), signal, redirects + 1);
  }
  if (status < 400) return res;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res) {
    // The body only decorates the message: a little of it is enough.
    if (size < 4096) chunks.push(c as Buffer);
    size += (c as Buffer).length;
  }
  const body = Buffer.concat(chunks).subarray(0, 4096).toString('utf8').trim();
  throw new HakoError({ step: `failed to GET ${url} with status ${status} ${res.statusMessage ?? ''}: ${body}`, kind: STATUS_KIND[status] ?? 'internal' });
}

/** The name dockerd gives a download: the URL path's last element, else Content-Disposition's filename; '' when neither. */
export function downloadName(url: string, contentDisposition: string | undefined): string {
  let path = '';
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    path = new URL(url).pathname;
  }
  if (path !== '' && !path.endsWith('/')) {
    const base = posix.basename(path);
    if (base !== '') return base;
  }
  const m = contentDisposition ? /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(contentDisposition) : null;
  const name = m ? (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!) : '';
  if (name !== '' && !name.endsWith('/')) {
    const base = posix.basename(name);
    if (base !== '' && base !== '.' && base !== '..') return base;
  }
  return '';
}

/** A Last-Modified header as the file's time (epoch when missing or unreadable, as dockerd's zero time). */
export function lastModified(header: string | undefined): Date {
  const t = header ? Date.parse(header) : NaN;
  return Number.isNaN(t) ? new Date(0) : new Date(t);
}

/** Counts a stream's bytes for a progress line (at most every 100 ms, and once at the end). */
function counter(report: (n: number) => void): Transform {
  let n = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        report(n);
      }
      cb(null, chunk);
    },
    flush(cb) {
      report(n);
      cb();
    },
  });
}

/**
 * `ADD <url>`: the body saved in `dir` under the download's name (`__unnamed__` when it has
 * none: the destination names it), mode 0600, mtime from Last-Modified. Progress as dockerd's
 * (`Downloading`, no id).
 */
export async function downloadForAdd(url: string, dir: string, progress: (ev: ProgressEvent) => void, signal?: AbortSignal): Promise<{ path: string; name: string }> {
  const res = await httpGet(url, signal);
  const name = downloadName(url, res.headers['content-disposition']);
  const path = join(dir, name || '__unnamed__');
  const len = Number(res.headers['content-length'] ?? -1);
  let lastReport = -1;
  await pipeline(
    res,
    counter((n) => {
      if (n === lastReport) return;
      lastReport = n;
      progress({ status: 'Downloading', current: n, total: Number.isFinite(len) && len >= 0 ? len : -1 });
    }),
    createWriteStream(path, { flags: 'wx', mode: 0o600 }),
  );
  const t = lastModified(res.headers['last-modified']);
  utimesSync(path, t, t);
  return { path, name };
}

/** What `remote=<url>` gave: a Dockerfile's text (text/plain) or a context archive. */
export type RemoteContext = { kind: 'dockerfile'; text: string } | { kind: 'archive'; body: Readable };

const ARCHIVE_TYPES = /^application\/(octet-stream|(x-)?(tar|gzip|bzip2|xz))$/;

/** A remote context's body, by Content-Type as dockerd 20.10 takes it (checked against it: text/plain is a Dockerfile, octet-stream or none an archive). */
export async function fetchRemoteContext(url: string, progress: (ev: ProgressEvent) => void, signal?: AbortSignal): Promise<RemoteContext> {
  let res: IncomingMessage;
  try {
    res = await httpGet(url, signal);
  } catch (e) {
    if (e instanceof HakoError) throw new HakoError({ step: `error downloading remote context ${url}: ${e.message}`, kind: e.kind });
    throw e;
  }
  const ct = (res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const detectErr = (why: string): HakoError => new HakoError({ step: `error detecting content type for remote ${url}: ${why}`, kind: 'internal' });
  if (ct !== '' && ct !== 'text/plain' && !ARCHIVE_TYPES.test(ct)) {
    res.resume();
    throw detectErr(`unsupported Content-Type ${JSON.stringify(ct)}`);
  }
  const report = (n: number): void => progress({ id: 'Downloading context', status: url, current: n });
  if (ct === 'text/plain') {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (body.length === 0) throw detectErr('empty response');
    report(body.length);
    return { kind: 'dockerfile', text: body.toString('utf8') };
  }
  // The first bytes tell an empty answer from an archive (dockerd reads a preamble first).
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await it.next();
  if (first.done) throw detectErr('empty response');
  async function* all(): AsyncGenerator<Buffer> {
    yield first.value;
    for (;;) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  }
  const counted = counter(report);
  const src = Readable.from(all(), { objectMode: false });
  src.on('error', (e) => counted.destroy(e));
  return { kind: 'archive', body: src.pipe(counted) };
}

/** `url#ref:subdir` split as dockerd's gitutils (ref defaults to master). */
export function parseGitURL(remote: string): { remote: string; ref: string; subdir: string } {
  let url = remote;
  if (!/^(https?|git|ssh):\/\//.test(url) && !url.startsWith('git@')) url = `https://${url}`;
  const hash = url.indexOf('#');
  const fragment = hash >= 0 ? url.slice(hash + 1) : '';
  if (hash >= 0) url = url.slice(0, hash);
  const colon = fragment.indexOf(':');
  const ref = (colon >= 0 ? fragment.slice(0, colon) : fragment) || 'master';
  const subdir = colon >= 0 ? fragment.slice(colon + 1) : '';
  return { remote: url, ref, subdir };
}

function git(dir: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    // No prompt for credentials (a build has no terminal); protocol.file off so a repository cannot pull files from the daemon's host.
    const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'protocol.file.allow', GIT_CONFIG_VALUE_0: 'never' };
    execFile('git', args, { cwd: dir, env, maxBuffer: 16 << 20, ...(signal ? { signal } : {}) }, (err, stdout, stderr) => {
      if (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT') reject(new HakoError({ step: 'git is needed for a git build context: exec: "git": executable file not found in $PATH', hint: 'install git on the daemon\'s host or send the context as a tar', kind: 'internal' }));
        // dockerd's text: git's combined output, then Go's `exit status N`.
        else reject(new Error(`${stdout}${stderr}: exit status ${typeof e.code === 'number' ? e.code : 1}`));
        return;
      }
      resolve(stdout);
    });
  });
}

/** Whether an http(s) git server is a smart one (dockerd fetches with --depth 1 only then). */
async function smartHTTP(remote: string, signal?: AbortSignal): Promise<boolean> {
  if (!isURL(remote)) return true;
  try {
    const res = await httpGet(`${remote}/info/refs?service=git-upload-pack`, signal);
    res.resume();
    return res.statusCode === 200 && res.headers['content-type'] === 'application/x-git-upload-pack-advertisement';
  } catch {
    return false;
  }
}

/**
 * A git context as dockerd's gitutils.Clone makes it in `root`: init, origin, fetch the ref
 * (shallow where the server allows), checkout (the ref, else FETCH_HEAD), submodules; the context
 * is the checkout or its `subdir` (which must stay inside it). Returns the context directory.
 */
export async function gitClone(url: string, root: string, signal?: AbortSignal): Promise<string> {
  const repo = parseGitURL(url);
  const step = async (what: string, args: string[]): Promise<void> => {
    try {
      await git(root, args, signal);
    } catch (e) {
      if (e instanceof HakoError) throw e;
      throw new HakoError({ step: `${what}: ${(e as Error).message}`, kind: 'internal' });
    }
  };
  await step(`failed to init repo at ${root}`, ['init', '-q']);
  await step(`failed add origin repo at ${repo.remote}`, ['remote', 'add', 'origin', repo.remote]);
  await step('error fetching', ['fetch', ...((await smartHTTP(repo.remote, signal)) ? ['--depth', '1'] : []), 'origin', repo.ref]);
  try {
    await git(root, ['checkout', '-q', repo.ref], signal);
  } catch (e) {
    if (e instanceof HakoError) throw e;
    try {
      await git(root, ['checkout', '-q', 'FETCH_HEAD'], signal);
    } catch {
      throw new HakoError({ step: `error checking out ${repo.ref}: ${(e as Error).message}`, kind: 'internal' });
    }
  }
  await step('error initializing submodules', ['submodule', 'update', '--init', '--recursive', '--depth=1']);
  if (repo.subdir === '') return root;
  let dir: string;
  try {
    dir = resolveInRoot(root, repo.subdir);
  } catch {
    throw new HakoError({ step: `error setting git context, ${JSON.stringify(repo.subdir)} not within git root`, kind: 'internal' });
  }
  if (!existsSync(dir)) throw new HakoError({ step: `stat ${dir}: no such file or directory`, kind: 'internal' });
  if (!lstatSync(realpathSync(dir)).isDirectory()) throw new HakoError({ step: `error setting git context, not a directory: ${dir}`, kind: 'internal' });
  return dir.endsWith(sep) ? dir.slice(0, -1) : dir;
}
