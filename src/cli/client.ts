// The Docker Engine API client: unix or tcp(+TLS) transport, version negotiation like the docker
// CLI (`HEAD /_ping` → Api-Version → `/v1.xx/…`, min(1.44, server)), JSON requests, raw
// streams, and hijacked connections (`Upgrade: tcp`) for attach and exec.
// Unix sockets go through wire.ts (a small HTTP/1.1 client over node:net, a few ms less per
// command than node:http); TCP and TLS hosts through node:http / node:https, loaded on first use.
import type * as Http from 'node:http';
import type { IncomingHttpHeaders, ClientRequest } from 'node:http';
import type { Readable } from 'node:stream';
import { UnixPool, type CollectedResponse, type WireResult } from './wire.js';
import type { UnixConnector, WireSocket } from './pipe-socket.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtin } from './builtin.js';

export const CLIENT_MAX_API = '1.44';
export const DEFAULT_HOST = 'unix:///run/hako.sock';

/** An error the daemon answered with: printed as `Error response from daemon: <message>`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An answer: its status, headers and body stream (node's IncomingMessage or wire.ts's). */
export type Response = Readable & { statusCode?: number | undefined; statusMessage?: string | undefined; headers: IncomingHttpHeaders };

/** An answer read as a stream (Response) or collected whole (CollectedResponse). */
type Answer = Response | CollectedResponse;

function isCollected(a: Answer): a is CollectedResponse {
  return (a as CollectedResponse).body instanceof Promise;
}

/** The whole body of either kind of answer. */
function bodyOf(a: Answer): Promise<Buffer> {
  return isCollected(a) ? a.body : readAll(a);
}

/** The daemon could not be reached. */
export class ConnectError extends Error {}

export interface HostOptions {
  host: string;
  /** True when the host came from -H, HAKO_HOST or DOCKER_HOST (no auto-start then). */
  explicit: boolean;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; verify: boolean } | undefined;
}

export interface GlobalOptions {
  hosts: string[];
  tls: boolean;
  tlsverify: boolean;
  tlscacert?: string | undefined;
  tlscert?: string | undefined;
  tlskey?: string | undefined;
}

/** -H, then HAKO_HOST, then DOCKER_HOST, then the default socket. */
export function resolveHost(g: GlobalOptions, env: NodeJS.ProcessEnv = process.env): HostOptions {
  let host: string | undefined;
  let explicit = true;
  if (g.hosts.length > 1) throw new Error('Specify only one -H');
  if (g.hosts.length === 1) host = g.hosts[0];
  else if (env.HAKO_HOST) host = env.HAKO_HOST;
  else if (env.DOCKER_HOST) host = env.DOCKER_HOST;
  else {
    host = DEFAULT_HOST;
    explicit = false;
  }
  host = normalizeHost(host!);
  const verify = g.tlsverify || (!!env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '');
  let tls: HostOptions['tls'];
  if (g.tls || verify) {
    // (node:os only here: a unix-socket command need not load it)
    const certDir = env.DOCKER_CERT_PATH || join((builtin('node:os') as typeof import('node:os')).homedir(), '.docker');
    const read = (p: string | undefined, def: string) => {
      try {
        return readFileSync(p ?? join(certDir, def));
      } catch {
        return undefined;
      }
    };
    tls = { ca: read(g.tlscacert, 'ca.pem'), cert: read(g.tlscert, 'cert.pem'), key: read(g.tlskey, 'key.pem'), verify };
  }
  return { host, explicit, tls };
}

function normalizeHost(h: string): string {
  if (h.startsWith('unix://') || h.startsWith('tcp://')) return h;
  if (h.startsWith('/')) return `unix://${h}`;
  if (h.startsWith('http://')) return `tcp://${h.slice(7)}`;
  if (h.startsWith('https://')) return `tcp://${h.slice(8)}`;
  if (/^[\w.-]*:\d+$/.test(h)) return `tcp://${h}`;
  throw new Error(`unable to parse docker host \`${h}\``);
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Escapes a path segment the way Go's url.URL.EscapedPath leaves `:` `/` `@` as they are. */
export function pathEscape(s: string): string {
  return encodeURIComponent(s).replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%40/g, '@');
}

export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

/** Encodes a query like Go's url.Values.Encode (sorted keys); booleans as 1/0 like the docker CLI. */
export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v === undefined || v === null) continue;
    const vals = Array.isArray(v) ? v : [v];
    for (const x of vals) parts.push(`${queryEscape(k)}=${queryEscape(typeof x === 'boolean' ? (x ? '1' : '0') : String(x))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** A raw body (tar, stdin): streamed as is. */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Don't prefix /v1.xx (for /_ping). */
  unversioned?: boolean;
  /** Cancels the request (its promise rejects, its connection is closed). */
  cancel?: Cancel;
  /**
   * collected() only: a 2xx answer's body is handed to this piece by piece as it comes, not kept
   * (its `body` then resolves with an empty Buffer at the end; a throw rejects it; a promise holds
   * the reading until it resolves). See WireRequest.
   */
  onBody?: ((chunk: Buffer) => void | Promise<void>) | undefined;
}

/**
 * Cancels requests: a light stand-in for AbortController, whose EventTarget machinery costs a
 * short command ~2 ms of first-use compilation (measured with --cpu-prof on `hako run`).
 */
export class Cancel {
  private readonly fns: Array<() => void> = [];
  cancelled = false;

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const f of this.fns.splice(0)) f();
  }

  /** Runs `f` on cancel (at once when already cancelled). */
  onCancel(f: () => void): void {
    if (this.cancelled) f();
    else this.fns.push(f);
  }
}

export class Client {
  private apiVersion: string | null = null;
  private agent: Http.Agent | null = null;
  private readonly pool: UnixPool | null;
  /** Called once when the daemon is unreachable and may be started (returns true when started). */
  onUnreachable: (() => Promise<boolean>) | null = null;
  /** Profiling: called when each request goes out and when its answer's head is in. */
  mark: ((phase: string) => void) | undefined = undefined;
  /** Called when an answer's head (or an upgrade) came in. */
  onAnswer: (() => void) | undefined = undefined;

  /** `unixConnector`: connects to a unix-socket daemon synchronously (the addon's, from bin/hako.cjs). */
  constructor(
    readonly host: HostOptions,
    unixConnector?: UnixConnector,
  ) {
    this.pool = host.host.startsWith('unix://') ? new UnixPool(host.host.slice(7), unixConnector) : null;
  }

  get version(): string {
    return this.apiVersion ?? CLIENT_MAX_API;
  }

  private baseOptions(http: typeof Http): Http.RequestOptions {
    const h = this.host.host;
    const u = new URL(`http://${h.slice(6)}`);
    this.agent ??= new http.Agent({ keepAlive: true, maxSockets: 8 });
    return { host: u.hostname, port: Number(u.port || (this.host.tls ? 2376 : 2375)), agent: this.host.tls ? undefined : this.agent };
  }

  /** Human form of the host for "Cannot connect" messages. */
  get hostLabel(): string {
    return this.host.host;
  }

  private connectError(err: NodeJS.ErrnoException): Error {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH') {
      const e = new ConnectError(
        err.code === 'EACCES'
          ? `permission denied while trying to connect to the hako daemon socket at ${this.hostLabel}`
          : `Cannot connect to the hako daemon at ${this.hostLabel}. Is the hako daemon running?`,
      );
      (e as { code?: string }).code = err.code;
      return e;
    }
    if ((err as { code?: string }).code === 'EMALFORMED') return new Error(`the daemon at ${this.hostLabel} sent a malformed answer: ${err.message}`);
    return err;
  }

  private prepare(method: string, path: string, opts: RequestOptions): { full: string; headers: Record<string, string>; payload: Buffer | undefined } {
    const full = (opts.unversioned ? '' : `/v${this.version}`) + path + encodeQuery(opts.query);
    const headers: Record<string, string> = { 'User-Agent': `hako-cli/0.1.0`, ...opts.headers };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(JSON.stringify(opts.body));
      if (!headers['Content-Type']) headers['Content-Type'] = 'application/json';
    } else if (!opts.stream && (method === 'POST' || method === 'PUT')) {
      headers['Content-Type'] ??= 'text/plain';
    }
    return { full, headers, payload };
  }

  /** Over the unix socket: the answer, or the upgraded connection when `upgrade` and the daemon agreed. */
  private sendWire(method: string, path: string, opts: RequestOptions, upgrade = false, collect = false): Promise<WireResult> {
    const { full, headers, payload } = this.prepare(method, path, opts);
    let sock: { destroy(e?: Error): void } | null = null;
    let aborted = false;
    opts.cancel?.onCancel(() => {
      aborted = true;
      sock?.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    });
    if (aborted) return Promise.reject(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    const mark = this.mark;
    const tag = mark ? `${method}:${full.replace(/^\/v[\d.]+\//, '/').replace(/\?.*/, '')}` : '';
    mark?.(`cli.req.${tag}`);
    const answer = this.pool!.request({ method, path: full, headers, body: payload ?? opts.stream, upgrade, collect, onBody: collect ? opts.onBody : undefined }, (s) => (sock = s)).then(
      (r) => (this.onAnswer?.(), r),
      (err: NodeJS.ErrnoException) => {
        throw this.connectError(err);
      },
    );
    return mark ? answer.then((r) => (mark(`cli.req.${tag}-head`), r)) : answer;
  }

  /** The answer collected whole (a JSON request, the ping): over the unix socket without node:stream. */
  private async sendCollected(method: string, path: string, opts: RequestOptions): Promise<CollectedResponse> {
    if (this.pool) {
      const r = await this.sendWire(method, path, opts, false, true);
      return (r as { collected: CollectedResponse }).collected;
    }
    const res = await this.send(method, path, opts);
    const status = res.statusCode ?? 500;
    const sink = opts.onBody && status >= 200 && status < 300 ? opts.onBody : undefined;
    return { statusCode: status, statusMessage: res.statusMessage ?? '', headers: res.headers as CollectedResponse['headers'], body: sink ? fedAll(res, sink) : readAll(res) };
  }

  private async send(method: string, path: string, opts: RequestOptions, onUpgrade?: (req: ClientRequest) => void): Promise<Response> {
    if (this.pool) {
      const r = await this.sendWire(method, path, opts);
      return (r as { res: Response }).res;
    }
    const { full, headers, payload } = this.prepare(method, path, opts);
    if (payload) headers['Content-Length'] = String(payload.length);
    const { http } = await import('./lazy/http.js');
    const base = this.baseOptions(http);
    const mod: Pick<typeof Http, 'request'> = this.host.tls ? ((await import('./lazy/https.js')) as unknown as typeof Http) : http;
    const tlsOpts = this.host.tls
      ? { ca: this.host.tls.ca, cert: this.host.tls.cert, key: this.host.tls.key, rejectUnauthorized: this.host.tls.verify }
      : {};
    return new Promise<Response>((resolve, reject) => {
      const req = mod.request({ ...base, ...tlsOpts, method, path: full, headers });
      opts.cancel?.onCancel(() => req.destroy(Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })));
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectError(err)));
      req.on('response', (res) => {
        this.onAnswer?.();
        resolve(res);
      });
      if (onUpgrade) onUpgrade(req);
      if (payload) req.end(payload);
      else if (opts.stream) opts.stream.pipe(req);
      else req.end();
    });
  }

  /** HEAD /_ping and pick the API version (once). Starts the daemon when allowed and needed. */
  async negotiate(): Promise<void> {
    if (this.apiVersion) return;
    let res: CollectedResponse;
    try {
      res = await this.sendCollected('HEAD', '/_ping', { unversioned: true });
    } catch (e) {
      if (e instanceof ConnectError && this.onUnreachable && (e as { code?: string }).code !== 'EACCES') {
        const hook = this.onUnreachable;
        this.onUnreachable = null;
        if (await hook()) return this.negotiate();
      }
      throw e;
    }
    res.body.catch(() => undefined);
    const server = res.headers['api-version'];
    this.apiVersion = typeof server === 'string' && server ? minVersion(CLIENT_MAX_API, server) : '1.24';
  }

  /** A request whose response is returned unread; throws ApiError on an error status. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const res = this.apiVersion === null && !opts.stream && !opts.unversioned ? await this.optimistic(method, path, opts, false) : (await this.negotiate(), await this.send(method, path, opts));
    if ((res.statusCode ?? 500) >= 400) throw await errorFrom(res);
    return res;
  }

  /**
   * A request whose answer is collected whole: resolves once its head is in (ApiError on an error
   * status), the body following in `body`. For JSON answers: no stream is made for them.
   */
  async collected(method: string, path: string, opts: RequestOptions = {}): Promise<CollectedResponse> {
    const res = this.apiVersion === null && !opts.stream && !opts.unversioned ? await this.optimistic(method, path, opts, true) : (await this.negotiate(), await this.sendCollected(method, path, opts));
    if (res.statusCode >= 400) throw await errorFrom(res);
    return res;
  }

  /**
   * The first request without the `HEAD /_ping` before it (a round trip of every short command):
   * sent as our newest version, it learns the daemon's from the answer's Api-Version header. A
   * daemon that finds the version too new (400, nothing done) and an unreachable one (the ping
   * starts it when allowed) get the ping, then the request again.
   */
  private async optimistic(method: string, path: string, opts: RequestOptions, collect: false): Promise<Response>;
  private async optimistic(method: string, path: string, opts: RequestOptions, collect: true): Promise<CollectedResponse>;
  private async optimistic(method: string, path: string, opts: RequestOptions, collect: boolean): Promise<Answer> {
    const send = (): Promise<Answer> => (collect ? this.sendCollected(method, path, opts) : this.send(method, path, opts));
    let res: Answer;
    try {
      res = await send();
    } catch (e) {
      if (!(e instanceof ConnectError)) throw e;
      await this.negotiate();
      return send();
    }
    if (res.statusCode === 400) {
      const err = await errorFrom(res);
      if (!/client version .* is too new/i.test(err.message)) throw err;
      await this.negotiate();
      return send();
    }
    const server = res.headers['api-version'];
    if (this.apiVersion === null && typeof server === 'string' && server) this.apiVersion = minVersion(CLIENT_MAX_API, server);
    return res;
  }

  /** A JSON request: returns the decoded body (or null when empty). */
  async json<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    if (opts.stream) return decodeJson<T>(await readAll(await this.raw(method, path, opts)));
    return decodeJson<T>(await (await this.collected(method, path, opts)).body);
  }

  /**
   * Hijacks the connection (Upgrade: tcp). Resolves with the raw socket and any bytes that came
   * with the 101 response. A daemon that answers 200 without upgrading gets its body as the stream.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<{ socket: WireSocket; head: Buffer; res?: Response }> {
    await this.negotiate();
    if (this.pool) {
      const r = await this.sendWire(method, path, opts, true);
      if ('upgraded' in r) return r.upgraded;
      const res = (r as { res: Response }).res;
      if ((res.statusCode ?? 500) >= 400) throw await errorFrom(res);
      return { socket: res as unknown as WireSocket, head: Buffer.alloc(0), res };
    }
    let upgraded: ((v: { socket: WireSocket; head: Buffer }) => void) | null = null;
    const up = new Promise<{ socket: WireSocket; head: Buffer }>((r) => (upgraded = r));
    const headers = { Connection: 'Upgrade', Upgrade: 'tcp', ...opts.headers };
    const resP = this.send(method, path, { ...opts, headers }, (req) => {
      req.on('upgrade', (_res, socket, head) => {
        this.onAnswer?.();
        upgraded!({ socket, head });
      });
    }).catch((e: unknown) => {
      throw e;
    });
    const winner = await Promise.race([up.then((u) => ({ u })), resP.then((res) => ({ res }))]);
    if ('u' in winner) return winner.u;
    const res = winner.res;
    if ((res.statusCode ?? 500) >= 400) throw await errorFrom(res);
    return { socket: res as unknown as WireSocket, head: Buffer.alloc(0), res };
  }

  /** Unix sockets: opens `n` connections ahead of the requests that will need them (wire.ts). */
  prewarm(n: number): void {
    this.pool?.prewarm(n);
  }

  close(): void {
    this.pool?.close();
    this.agent?.destroy();
  }
}

export function minVersion(a: string, b: string): string {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y ? a : b;
  }
  return a;
}

/** Compares API versions: negative when a < b. */
export function versionCompare(a: string, b: string): number {
  return minVersion(a, b) === a && a !== b ? -1 : a === b ? 0 : 1;
}

/** Hands each piece of `res` to `sink` (RequestOptions.onBody); resolves with an empty Buffer at its end. */
function fedAll(res: Readable, sink: (chunk: Buffer) => void | Promise<void>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    res.on('data', (c: Buffer) => {
      try {
        const wait = sink(c);
        if (wait) {
          res.pause();
          wait.then(
            () => res.resume(),
            (e: Error) => res.destroy(e),
          );
        }
      } catch (e) {
        res.destroy(e as Error);
      }
    });
    res.once('end', () => resolve(Buffer.alloc(0)));
    res.once('error', reject);
    res.once('close', () => {
      if (!res.readableEnded) reject(new Error('the daemon closed the connection before the end of the answer'));
    });
  });
}

/** The whole body. Events, not `for await`: a stream's first async iterator costs ~2 ms to set up. */
export function readAll(res: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks)));
    res.once('error', reject);
    // An Response whose connection closed before its end (the daemon went away).
    res.once('close', () => {
      if (!res.readableEnded) reject(new Error('the daemon closed the connection before the end of the answer'));
    });
  });
}

function decodeJson<T>(body: Buffer): T {
  if (!body.length) return null as T;
  const text = body.toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

async function errorFrom(res: Answer): Promise<ApiError> {
  const body = (await bodyOf(res)).toString('utf8');
  let message = body.trim();
  try {
    const j = JSON.parse(body) as { message?: string };
    if (j && typeof j.message === 'string') message = j.message;
  } catch {
    /* plain text */
  }
  if (!message) message = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
  return new ApiError(res.statusCode ?? 500, message);
}
