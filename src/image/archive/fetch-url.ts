// `docker import <URL>`: the daemon downloads the rootfs tar itself (POST /images/create
// ?fromSrc=<URL>). Like dockerd: redirects are followed, a URL without a scheme is taken as
// http://, an HTTP error status fails with `failed to GET <url> with status <code> <reason>:
// <start of the body>` (mapped to the same API status for 4xx), a network error with
// `Get "<url>": <cause>`. The body is handed on as a stream, never buffered whole.
//
// Requests go through node:http (not fetch: it refuses the Fetch standard's "bad ports", 1, 6000,
// 6665–6669 and others, which Go dials). With HTTP_PROXY / HTTPS_PROXY in the daemon's
// environment (dockerd honours them through Go's ProxyFromEnvironment): http URLs as absolute-URI
// requests to the proxy, https URLs through a CONNECT tunnel; NO_PROXY and loopback hosts connect
// directly (see proxy.ts). A connection never made reads as Go's (`dial tcp 127.0.0.1:1: connect:
// connection refused`, `dial tcp: lookup h on 10.0.0.53:53: no such host`).
import { Readable } from 'node:stream';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { Socket } from 'node:net';
import { HakoError, type HakoErrorKind } from '../../common/errors.js';
import { proxyFor, type ProxyEnv } from '../proxy.js';
import { dialErrorText } from '../registry/http.js';
import { absoluteUriRequest, connectTunnel, proxyConnectError } from '../proxy-tunnel.js';

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
/** `env`: where HTTP_PROXY, HTTPS_PROXY and NO_PROXY are read (default: the process's). */
export async function openUrl(src: string, opts: { signal?: AbortSignal | undefined; env?: ProxyEnv | undefined } = {}): Promise<UrlSource> {
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
  return openWithNode(url, opts.signal, opts.env ?? process.env);
}

function statusError(url: string, status: number, statusText: string, text: string): HakoError {
  return new HakoError({ step: `failed to GET ${url} with status ${status} ${statusText}`.trimEnd() + (text ? `: ${text}` : ''), kind: statusKind(status) });
}

/** Go's http.Client: at most 10 redirects. */
const MAX_REDIRECTS = 10;

/** The node:http path (a proxy is configured): redirects followed, the proxy chosen per hop. */
async function openWithNode(url: string, signal: AbortSignal | undefined, env: ProxyEnv): Promise<UrlSource> {
  let current = url;
  for (let hop = 0; ; hop++) {
    let res: http.IncomingMessage;
    try {
      res = await requestOnce(new URL(current), signal, env);
    } catch (err) {
      signal?.throwIfAborted();
      if (err instanceof HakoError) throw err;
      throw new HakoError({ step: `Get ${JSON.stringify(current)}: ${dialErrorText(err as NodeJS.ErrnoException, new URL(current))}`, kind: 'internal', cause: err });
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      res.resume();
      if (hop + 1 >= MAX_REDIRECTS) throw new HakoError({ step: `Get ${JSON.stringify(current)}: stopped after ${MAX_REDIRECTS} redirects`, kind: 'internal' });
      current = new URL(location, current).toString();
      continue;
    }
    if (status < 200 || status >= 300) {
      const parts: Buffer[] = [];
      let n = 0;
      try {
        for await (const c of res as AsyncIterable<Buffer>) {
          parts.push(c);
          n += c.length;
          if (n >= ERROR_BODY_BYTES) break;
        }
      } catch {
        /* the status says enough */
      } finally {
        res.destroy();
      }
      throw statusError(url, status, res.statusMessage ?? '', Buffer.concat(parts).subarray(0, ERROR_BODY_BYTES).toString('utf8').trim());
    }
    const len = res.headers['content-length'];
    const size = len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
    return { url, body: res, size };
  }
}

/** One GET of `target`, through the proxy the environment names for it, if any. */
function requestOnce(target: URL, signal: AbortSignal | undefined, env: ProxyEnv): Promise<http.IncomingMessage> {
  let proxy: URL | undefined;
  try {
    proxy = proxyFor(target, env);
  } catch (err) {
    return Promise.reject(new HakoError({ step: `Get ${JSON.stringify(target.toString())}: ${(err as Error).message}`, kind: 'invalid-argument', hint: 'fix HTTP_PROXY / HTTPS_PROXY in the daemon’s environment' }));
  }
  const targetHttps = target.protocol === 'https:';
  const targetPort = Number(target.port || (targetHttps ? 443 : 80));
  const targetHost = target.hostname.replace(/^\[|\]$/g, '');
  const headers = { 'User-Agent': 'hako', 'Accept-Encoding': 'identity' };
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => reject(err);
    if (!proxy) {
      const mod = targetHttps ? https : http;
      const req = mod.request(target, { method: 'GET', headers, signal }, resolve);
      req.on('error', fail).end();
      return;
    }
    if (!targetHttps) {
      // An absolute-URI request to the proxy (RFC 9112 3.2.2).
      const p = absoluteUriRequest(target, proxy);
      const proxyMod = proxy.protocol === 'https:' ? https : http;
      const req = proxyMod.request({ host: p.host, port: p.port, method: 'GET', path: p.path, headers: { ...headers, ...p.hostHeader }, signal, agent: false }, resolve);
      req.on('error', (e) => fail(signal?.aborted ? e : proxyConnectError(proxy!, e)));
      req.end();
      return;
    }
    // https through a CONNECT tunnel; TLS to the target inside it.
    connectTunnel(proxy, `${target.hostname}:${targetPort}`, signal).then((socket) => {
      let tunnel: tls.TLSSocket | undefined;
      // Without an agent node closes the connection after the response; on an error here it may
      // not have been handed over yet.
      const close = (): void => {
        tunnel?.destroy();
        socket.destroy();
      };
      const req = https.request(
        target,
        {
          method: 'GET',
          headers,
          signal,
          // No agent: with one (even `agent: false`) node ignores createConnection.
          createConnection: () => (tunnel = tls.connect({ socket: socket as Socket, servername: isIpLiteral(targetHost) ? undefined : targetHost, ALPNProtocols: ['http/1.1'] })),
        },
        resolve,
      );
      req.on('error', (e) => {
        close();
        fail(e);
      });
      req.end();
    }, fail);
  });
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
