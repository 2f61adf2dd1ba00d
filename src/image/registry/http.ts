// Minimal HTTP(S) for the registry client on node:http/https: streaming bodies, keep-alive,
// system CA certificates, manual redirects (so we decide when credentials travel along).
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import { HakoError } from '../../common/errors.js';
import { markRetryable } from '../store/content.js';
import { requestWords, withDockerWords } from './errcode.js';
import { proxyFor, type ProxyEnv } from '../proxy.js';
import { absoluteUriRequest, proxyAddress, proxyConnectError, newTunnelingAgent } from '../proxy-tunnel.js';

let systemCas: string[] | undefined;
/** Node's bundled roots plus the system bundle (Debian: /etc/ssl/certs/ca-certificates.crt). */
function caCertificates(): string[] {
  if (!systemCas) {
    systemCas = [...rootCertificates];
    for (const f of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']) {
      try {
        systemCas.push(readFileSync(f, 'utf8'));
        break;
      } catch {
        /* not on this system */
      }
    }
  }
  return systemCas;
}

export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
  /** For --insecure-registry hosts served over TLS: no certificate verification. */
  httpsInsecure: https.Agent;
  /**
   * Where HTTP_PROXY / HTTPS_PROXY / NO_PROXY are read (dockerd's registry transport uses Go's
   * ProxyFromEnvironment): requests to http URLs go to the proxy as absolute URIs, https ones
   * through CONNECT tunnels (the https agents are TunnelingAgents).
   */
  proxyEnv: ProxyEnv;
}

/** HTTPS agents createAgents() made so far (destroyAgents must not make the others just to destroy them). */
const madeHttps = new WeakMap<HttpAgents, https.Agent[]>();

/** The HTTPS agents are made on first use: the CA list (~150 certificates) is ~0.7 MB of a daemon's heap. */
export function createAgents(opts: { proxyEnv?: ProxyEnv | undefined } = {}): HttpAgents {
  const made: https.Agent[] = [];
  let secure: https.Agent | undefined;
  let insecure: https.Agent | undefined;
  const make = (opts: https.AgentOptions) => {
    const a = newTunnelingAgent(opts);
    made.push(a);
    return a;
  };
  const agents: HttpAgents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
    get https() {
      return (secure ??= make({ keepAlive: true, maxSockets: 16, ca: caCertificates() }));
    },
    // No CA list: nothing is verified, and without one Node would load its whole root store for
    // the TLS context (~100 ms, the largest part of probing a plain-HTTP insecure registry).
    get httpsInsecure() {
      return (insecure ??= make({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false, ca: [] }));
    },
    proxyEnv: opts.proxyEnv ?? process.env,
  };
  madeHttps.set(agents, made);
  return agents;
}

/** Extra trust and a client certificate for one registry (docker's certs.d/<host>/). */
export interface RegistryTls {
  /** PEM CA certificates trusted in addition to the system's. */
  ca?: string[] | undefined;
  /** PEM client certificate and key (mutual TLS). */
  cert?: string | undefined;
  key?: string | undefined;
}

/**
 * docker's per-registry TLS directory, `<certsDir>/<host[:port]>/`: every `*.crt` is a CA to
 * trust, a `*.cert` with its `*.key` is the client certificate. Undefined when there is none.
 */
export function registryTlsFrom(certsDir: string, domain: string): RegistryTls | undefined {
  const dir = join(certsDir, domain);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  const read = (n: string): string => {
    try {
      return readFileSync(join(dir, n), 'utf8');
    } catch (err) {
      throw new HakoError({ step: `read ${join(dir, n)}: ${(err as Error).message}`, kind: 'internal', path: join(dir, n) });
    }
  };
  const tls: RegistryTls = { ca: names.filter((n) => n.endsWith('.crt')).map(read) };
  const cert = names.find((n) => n.endsWith('.cert'));
  if (cert) {
    const key = cert.replace(/\.cert$/, '.key');
    if (!names.includes(key)) throw new HakoError({ step: `${join(dir, cert)} has no matching ${key}`, kind: 'invalid-argument', hint: 'a client certificate needs its key beside it' });
    tls.cert = read(cert);
    tls.key = read(key);
  }
  return tls.ca!.length || tls.cert ? tls : undefined;
}

/** `base` with an https agent of its own that also trusts `tls.ca` and presents `tls.cert`. */
export function agentsWithTls(base: HttpAgents, tls: RegistryTls): HttpAgents {
  return {
    ...base,
    https: newTunnelingAgent({ keepAlive: true, maxSockets: 16, ca: [...caCertificates(), ...(tls.ca ?? [])], cert: tls.cert, key: tls.key }),
    httpsInsecure: newTunnelingAgent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false, ca: [], cert: tls.cert, key: tls.key }),
  };
}

/** TLS failures that another attempt cannot fix (certificate trust, protocol mismatch). */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export function isTlsError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
}

export function destroyAgents(a: HttpAgents): void {
  a.http.destroy();
  const made = madeHttps.get(a);
  if (made) for (const x of made) x.destroy();
  else {
    a.https.destroy();
    a.httpsInsecure.destroy();
  }
}

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable | undefined;
  signal?: AbortSignal | undefined;
  /** Skip TLS verification (insecure registries). */
  insecureTls?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: URL;
}

/** The proxy for `url` as the agents' environment names it (a malformed proxy is a HakoError). */
export function registryProxy(agents: HttpAgents, url: URL, method = 'GET'): URL | undefined {
  try {
    return proxyFor(url, agents.proxyEnv);
  } catch (err) {
    throw new HakoError({ step: `${method} ${url.origin}${url.pathname}: ${(err as Error).message}`, kind: 'invalid-argument', hint: 'fix HTTP_PROXY / HTTPS_PROXY in the daemon’s environment' });
  }
}

/** Errors of a connection that was never made: refused, no such host, no route. */
const DIAL_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether `err` is a request's failure to connect at all (to the registry or its proxy).
 * dockerd 20.10 fails a pull's ping, manifest and config requests at once on those (its layer
 * downloads are retried); a reset or 5xx is another matter.
 */
export function isDialFailure(err: unknown): boolean {
  return (err as { dialFailed?: boolean } | undefined)?.dialFailed === true;
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/**
 * Go's resolver's text for a name no server knows, as dockerd (pure Go resolver) says it:
 * `dial tcp: lookup registry.invalid on 10.0.0.53:53: no such host`, naming the server that said
 * so: the first `nameserver` of resolv.conf (Go asks them in order; an NXDOMAIN is final), or
 * Go's default 127.0.0.1:53 when there is none.
 */
export function lookupFailureText(host: string, resolvConf: string): string {
  const ns = /^\s*nameserver\s+(\S+)/m.exec(resolvConf)?.[1]?.replace(/%.*$/, '');
  const server = ns ? (ns.includes(':') ? `[${ns}]:53` : `${ns}:53`) : '127.0.0.1:53';
  return `dial tcp: lookup ${host} on ${server}: no such host`;
}

/**
 * Go's text for a failed dial, as dockerd words it: `dial tcp 127.0.0.1:5000: connect: connection
 * refused` (any other error: its own message). Shared by the daemon's other downloads (import
 * and build from a URL).
 */
export function dialErrorText(e: NodeJS.ErrnoException & { address?: string; port?: number }, url: URL): string {
  const addr = e.address ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port ?? url.port}` : url.host;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${addr}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `dial tcp ${addr}: connect: no route to host`;
    case 'ENETUNREACH':
      return `dial tcp ${addr}: connect: network is unreachable`;
    case 'ENOTFOUND':
      return lookupFailureText(url.hostname.replace(/^\[|\]$/g, ''), readResolvConf());
    default:
      return e.message;
  }
}

/** One request; the response body is left unread for the caller to stream or drain. */
export function send(agents: HttpAgents, req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = req.url.protocol === 'https:';
    const agent = isHttps ? (req.insecureTls ? agents.httpsInsecure : agents.https) : agents.http;
    const headers: Record<string, string> = { 'User-Agent': 'hako/0.1', ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
    else if (req.body === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')) headers['Content-Length'] ??= '0';
    const proxy = registryProxy(agents, req.url, req.method);
    const onResponse = (res: IncomingMessage): void => {
      if (proxy && !isHttps && res.statusCode === 407) {
        // The proxy's answer, not the registry's: say so.
        res.resume();
        reject(new HakoError({ step: `${req.method} ${req.url.origin}${req.url.pathname}: the proxy ${proxyAddress(proxy)} asks for credentials (407 Proxy Authentication Required)`, kind: 'unauthorized', hint: 'give them in the daemon’s HTTP_PROXY: http://user:password@host:port' }));
        return;
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url: req.url });
    };
    let r: http.ClientRequest;
    if (proxy && !isHttps) {
      // An absolute-URI request to the proxy; an https proxy is reached with verified TLS.
      const p = absoluteUriRequest(req.url, proxy);
      const mod = proxy.protocol === 'https:' ? https : http;
      r = mod.request({ host: p.host, port: p.port, path: p.path, method: req.method, headers: { ...headers, ...p.hostHeader }, agent: proxy.protocol === 'https:' ? agents.https : agents.http, signal: req.signal }, onResponse);
    } else {
      const mod = isHttps ? https : http;
      // TunnelingAgent reads `proxy` (https targets only).
      r = mod.request(req.url, { method: req.method, headers, agent, signal: req.signal, ...(proxy ? { proxy } : {}) } as https.RequestOptions, onResponse);
    }
    r.on('error', (err) => {
      const e = err as NodeJS.ErrnoException & { proxyError?: boolean; refused?: boolean };
      if (isTlsError(e)) {
        // Not worth another attempt: say what to change instead.
        const host = req.url.host;
        const trust = /CERT|SIGNATURE|ISSUER|ALTNAME/.test(e.code ?? '');
        // OpenSSL's text is `write EPROTO 80…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…`.
        const reason = /SSL routines:[^:]*:([^:]+)/.exec(e.message)?.[1] ?? e.message;
        reject(
          new HakoError({
            step: `${req.method} ${req.url.origin}${req.url.pathname}: ${trust ? 'TLS certificate not trusted: ' : 'TLS handshake failed: '}${reason.trim()}`,
            kind: 'internal',
            hint: trust
              ? `put the registry's CA certificate in /etc/docker/certs.d/${host}/ca.crt, or mark ${host} as an insecure registry`
              : `does ${host} speak HTTPS? a plain-HTTP registry must be an insecure registry (--insecure-registry ${host})`,
            cause: err,
          }),
        );
        return;
      }
      // Through a proxy, a failed connection is the proxy's (absolute-URI requests connect to it;
      // tunnels fail with their own proxyconnect error).
      const viaProxy = proxy !== undefined && (e.proxyError === true || (!isHttps && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(e.code ?? '')));
      const why = viaProxy && !e.proxyError ? proxyConnectError(proxy, e).message : !viaProxy ? dialErrorText(e, req.url) : e.message;
      const wrapped = new HakoError({ step: `${req.method} ${req.url.origin}${req.url.pathname}: ${why}`, kind: 'internal', cause: err, ...(viaProxy ? { hint: `the daemon reaches ${req.url.host} through the proxy in its ${isHttps ? 'HTTPS_PROXY' : 'HTTP_PROXY'}; check it, or exempt the registry with NO_PROXY` } : {}) });
      // A proxy's refusal (403, 407) is an answer: not retried. A connection never made (to the
      // registry or its proxy) stays retryable for a layer's download (dockerd's transfer manager
      // retries those) but is marked so that the registry client's own requests fail at once.
      if (DIAL_FAILURES.has(e.code ?? '')) {
        (wrapped as HakoError & { dialFailed?: boolean }).dialFailed = true;
        // dockerd (Go's url.Error): `Get "http://127.0.0.1:5000/v2/": dial tcp …: connection refused`.
        if (!viaProxy) withDockerWords(wrapped, requestWords(req.method, req.url, why));
      }
      reject(req.signal?.aborted ? err : e.refused ? wrapped : markRetryable(wrapped));
    });
    if (req.body === undefined) r.end();
    else if (Buffer.isBuffer(req.body)) r.end(req.body);
    else {
      req.body.on('error', (err) => r.destroy(err));
      req.body.pipe(r);
    }
  });
}

export async function readBody(res: HttpResponse, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.body.destroy();
      throw new HakoError({ step: `${res.url.href}: response larger than ${limit} bytes`, kind: 'internal' });
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function drain(res: HttpResponse): Promise<void> {
  return new Promise((resolve) => {
    res.body.on('end', resolve).on('error', () => resolve()).on('close', resolve);
    res.body.resume();
  });
}

export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A fresh daemon's first registry request compiled Node's HTTP client on its way (ClientRequest,
 * the agent, the socket's connect, the abort-signal wiring, the response parser, the body's async
 * iteration; V8 compiles each function at its first call, and Node's code cache holds only its
 * modules' top level): ~3 ms of main-thread CPU before the first manifest request went out and
 * ~2 ms when its answer came, both on the critical path of the first pull (a standalone node
 * under hakod's V8 flags: first request 11 ms of CPU, 2.4 ms after one like this). hakod makes
 * one request the way `send` does, with an agent like createAgents', to its own API socket
 * (GET /_ping) once it listens: those functions are then compiled before a pull needs them
 * (bench/pull-versus, 50 pairs, HAKOD_WARMUP=off on the other side: −5.6 ms of main-thread CPU
 * per fresh pull; idle RSS 49.0 → 49.2 MB, bench/hakod-rss). Resolves when done, whatever the
 * outcome (2 s at most). The target has a trailing slash (`/_ping/`, which the API's router
 * answers as /_ping) so that the API's lean front (src/api/lean-http.ts) hands it to node:http:
 * node's server side (request parsing, ServerResponse, chunked answers) is then compiled too,
 * as the pull's own POST /images/create goes through it.
 */
export function warmUpHttpClient(socketPath: string): Promise<void> {
  return new Promise((resolve) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const ac = new AbortController();
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      agent.destroy();
      resolve();
    };
    const timer = setTimeout(() => {
      ac.abort();
      done();
    }, 2000);
    timer.unref();
    const url = new URL('http://localhost/_ping/');
    const r = http.request(url, { socketPath, method: 'GET', headers: { 'User-Agent': 'hako/0.1' }, agent, signal: ac.signal }, (res) => {
      readBody({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }, 1 << 16).then(done, done);
    });
    r.on('error', done);
    r.end();
  });
}
