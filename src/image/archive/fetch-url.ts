// `docker import <URL>`: the daemon downloads the rootfs tar itself (POST /images/create
// ?fromSrc=<URL>). Like dockerd: redirects are followed, a URL without a scheme is taken as
// http://, an HTTP error status fails with `failed to GET <url> with status <code> <reason>:
// <start of the body>` (mapped to the same API status for 4xx), a network error with
// `Get "<url>": <cause>`. The body is handed on as a stream, never buffered whole.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HakoError, type HakoErrorKind } from '../../common/errors.js';

export interface UrlSource {
  /** The URL as requested (after adding a missing scheme). */
  url: string;
  body: Readable;
  /** Content-Length, when the server sent one. */
  size: number | undefined;
}

const ERROR_BODY_BYTES = 1024;

function statusKind(status: number): HakoErrorKind {
  if (status === 404 || status === 410) return 'not-found';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status >= 400 && status < 500) return 'invalid-argument';
  return 'internal';
}

/** Opens `src` for reading; resolves once the response headers are in and the status is OK. */
export async function openUrl(src: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<UrlSource> {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(src) ? src : `http://${src}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HakoError({ step: `import from ${JSON.stringify(src)}: not a valid URL`, kind: 'invalid-argument' });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HakoError({ step: `Get ${JSON.stringify(url)}: unsupported protocol scheme ${JSON.stringify(parsed.protocol.slice(0, -1))}`, kind: 'invalid-argument', hint: 'only http:// and https:// URLs can be imported; for a local file, send it as the request body (fromSrc=-)' });
  }
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: opts.signal ?? null });
  } catch (err) {
    opts.signal?.throwIfAborted();
    const e = err as Error & { cause?: Error & { code?: string } };
    const cause = e.cause?.message ?? e.message;
    throw new HakoError({ step: `Get ${JSON.stringify(url)}: ${cause}`, kind: 'internal', cause: err });
  }
  if (!res.ok) {
    let text = '';
    if (res.body) {
      const reader = res.body.getReader();
      const parts: Buffer[] = [];
      let n = 0;
      try {
        while (n < ERROR_BODY_BYTES) {
          const r = await reader.read();
          if (r.done) break;
          parts.push(Buffer.from(r.value));
          n += r.value.length;
        }
      } catch {
        /* the status says enough */
      } finally {
        await reader.cancel().catch(() => undefined);
      }
      text = Buffer.concat(parts).subarray(0, ERROR_BODY_BYTES).toString('utf8').trim();
    }
    throw new HakoError({ step: `failed to GET ${url} with status ${res.status} ${res.statusText}`.trimEnd() + (text ? `: ${text}` : ''), kind: statusKind(res.status) });
  }
  if (!res.body) throw new HakoError({ step: `Get ${JSON.stringify(url)}: the response has no body`, kind: 'invalid-argument' });
  const len = res.headers.get('content-length');
  const size = len !== null && /^\d+$/.test(len) ? Number(len) : undefined;
  return { url, body: Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>, { highWaterMark: 1 << 20 }), size };
}
