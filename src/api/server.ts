// The API server: node:http on unix sockets (and TLS-verified tcp), docker's version prefixes,
// routing, hijacked upgrades, and errors as `{"message": …}` with docker's status codes. No
// client input may crash it: every handler runs under one catch, bodies are size-limited and
// sockets' errors are swallowed (a client that goes away mid-stream is normal).
import { posix } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { httpDate } from '../common/time.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorStatus, HttpError, MAX_JSON_BODY, sendError, type Ctx, type Upgraded } from './http.js';
import type { ApiDeps, Route } from './deps.js';
import { API_VERSION, splitVersion } from './version.js';
import { systemRoutes } from './routes/system.js';
import { imageRoutes } from './routes/images.js';
import { containerRoutes } from './routes/containers.js';
import { execRoutes } from './routes/exec.js';
import { volumeRoutes } from './routes/volumes.js';
import { networkRoutes } from './routes/networks.js';
import { unimplementedRoutes } from './routes/unimplemented.js';
import { buildRoutes } from './routes/build.js';
import dc from 'node:diagnostics_channel';
import { PULL_TRACE_CHANNEL } from '../image/pull-trace.js';
import { PhaseTrace } from '../engine/phase-trace.js';
import { serveLean, type LeanApp } from './lean-http.js';

export const allRoutes: Route[] = [...systemRoutes, ...imageRoutes, ...containerRoutes, ...execRoutes, ...volumeRoutes, ...networkRoutes, ...buildRoutes, ...unimplementedRoutes];

export interface Match {
  route: Route;
  params: string[];
}

/** Finds the route for method and (unversioned) path; undefined → 404 page not found. */
export function matchRoute(routes: readonly Route[], method: string, path: string): Match | undefined {
  for (const r of routes) {
    if (r.method !== method) continue;
    const m = r.path.exec(path);
    if (!m) continue;
    const params = m.slice(1).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        throw new HttpError(400, `invalid escape in path: ${JSON.stringify(p)}`);
      }
    });
    return { route: r, params };
  }
  return undefined;
}

/**
 * matchRoute over only the routes that can match a path's first segment: each route whose
 * pattern starts with a literal segment (`/containers/…`) is listed under it, the others under
 * every segment, in table order, so the first match is the same as matchRoute's. (A scan of the
 * whole table with a regex per route was ~5–10 µs of CPU per request under hakod's V8 flags.)
 */
export function routeMatcher(routes: readonly Route[]): (method: string, path: string) => Match | undefined {
  const bySegment = new Map<string, Map<string, Route[]>>(); // method → segment → routes
  const anySegment = new Map<string, Route[]>(); // method → routes without a literal first segment
  const literalFirst = (r: Route): string | undefined => {
    // route() escapes [.+^$()[\]\|] and makes groups of parameters: /^\/seg\/…$/ or /^\/seg$/.
    const m = /^\^\\\/((?:[A-Za-z0-9_-]|\\\.)*)(\\\/|\$)/.exec(r.path.source);
    return m ? m[1]!.replace(/\\\./g, '.') : undefined;
  };
  for (const r of routes) {
    const seg = literalFirst(r);
    let segs = bySegment.get(r.method);
    if (!segs) bySegment.set(r.method, (segs = new Map()));
    if (seg === undefined) {
      if (!anySegment.has(r.method)) anySegment.set(r.method, []);
      anySegment.get(r.method)!.push(r);
      for (const list of segs.values()) list.push(r);
    } else {
      if (!segs.has(seg)) segs.set(seg, [...(anySegment.get(r.method) ?? [])]);
      segs.get(seg)!.push(r);
    }
  }
  return (method, path) => {
    const slash = path.indexOf('/', 1);
    const seg = path.slice(1, slash < 0 ? undefined : slash);
    const list = bySegment.get(method)?.get(seg) ?? anySegment.get(method);
    return list ? matchRoute(list, method, path) : undefined;
  };
}

export function commonHeaders(deps: ApiDeps): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Docker/${deps.daemon.version} (linux)`,
    'Builder-Version': '1',
    'Cache-Control': 'no-cache',
  };
}

const ignore = (): void => undefined;
/** A request without a query string shares this one (routes only read it). */
const EMPTY_QUERY = new URLSearchParams();
/**
 * Request targets that URL parsing leaves as they are: an absolute path of characters outside
 * the path percent-encode set, with no `%` (an escaped dot segment), `//` or `/.`, and a query of
 * visible ASCII without `#` (URL would percent-encode `"'<>`, which URLSearchParams decodes back).
 */
const PLAIN_PATH = /^(?!.*\/\.)(?!.*\/\/)\/[A-Za-z0-9\-._~:@!$&'()*+,;=/]*$/;
const PLAIN_QUERY = /^[\x21-\x22\x24-\x7e]*$/;

/** A request target's path and query, as `new URL(target, 'http://hako')` gives them. */
export function parseTarget(raw: string): { pathname: string; search: string; searchParams: URLSearchParams } {
  const q = raw.indexOf('?');
  const rawPath = q < 0 ? raw : raw.slice(0, q);
  if (PLAIN_PATH.test(rawPath) && (q < 0 || PLAIN_QUERY.test(raw.slice(q + 1)))) {
    return { pathname: rawPath, search: q < 0 || q === raw.length - 1 ? '' : raw.slice(q), searchParams: q < 0 ? EMPTY_QUERY : new URLSearchParams(raw.slice(q + 1)) };
  }
  try {
    return new URL(raw.startsWith('/') ? raw : `/${raw}`, 'http://hako');
  } catch {
    throw new HttpError(400, 'malformed request URL');
  }
}

/**
 * The client went away (its response or upgraded socket closed). The AbortSignal is made only
 * when a route asks for it: most requests never do, and an AbortController plus the
 * DOMException of its abort() cost ~30 µs of main-thread CPU per request under hakod's V8 flags.
 * A signal asked for after the close is aborted at once.
 */
class ClientGone {
  happened = false;
  private ac: AbortController | undefined;

  now(): void {
    this.happened = true;
    this.ac?.abort();
  }

  signal(): AbortSignal {
    if (!this.ac) {
      this.ac = new AbortController();
      if (this.happened) this.ac.abort();
    }
    return this.ac.signal;
  }
}

/** A request's Ctx (a class: an object literal with a getter costs more to make per request). */
class RequestCtx implements Ctx {
  method: string;
  path = '/';
  version = API_VERSION;
  params: string[] = [];
  query = EMPTY_QUERY;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse | null,
    readonly upgraded: Upgraded | null,
    private readonly gone: ClientGone,
    readonly working: () => void,
  ) {
    this.method = req.method ?? 'GET';
  }

  get signal(): AbortSignal {
    return this.gone.signal();
  }

  clientGone(): boolean {
    return this.gone.happened;
  }
}

/** A request's route, found before it is dispatched (the lean front's requests). */
export interface Prepared {
  version: string;
  path: string;
  query: URLSearchParams;
  match: Match;
}

export interface ApiHandlers {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The same handlers for the lean HTTP front (src/api/lean-http.ts): routes marked `lean` only. */
  readonly lean: LeanApp<Prepared>;
  /** The header fields every answer starts with (after Date), in order. */
  readonly commonHeaders: ReadonlyArray<[string, string]>;
  /**
   * Called as each request begins, as its handler ends and as a JSON stream writes a line (Ctx's
   * working: a pull's progress) (hakod: the idle memory trimmer).
   */
  onActivity: (() => void) | undefined;
  /** Handlers in flight (for tests and shutdown). */
  readonly inFlight: number;
}

export function createApiHandlers(deps: ApiDeps, routes: readonly Route[] = allRoutes): ApiHandlers {
  const headerPairs = Object.entries(commonHeaders(deps));
  const headerList = headerPairs.flat();
  const match = routeMatcher(routes);
  let inFlight = 0;
  let onActivity: (() => void) | undefined;
  const working = (): void => onActivity?.();
  // Profiling (HAKO_PHASE_TRACE): container requests' arrival and answer, on the engine's axis.
  const trace = PhaseTrace.fromEnv();
  if (trace.enabled) tracePulls(trace);
  const traceRequest = (ctx: Ctx, lean: boolean): void => {
    // Every request on one line of its own too (id "-"): the CLI's calls that name no container
    // (_ping, create, version) and the gaps between them.
    const tag = `req.${ctx.method}:${ctx.path}`.replace(/\s/g, '_');
    trace.mark('-', tag);
    // A request node:http parsed (not the lean front, src/api/lean-http.ts) gets a second mark.
    if (!lean) trace.mark('-', `${tag}-via-node-http`);
    if (ctx.res) ctx.res.once('finish', () => trace.mark('-', `${tag}-answered`));
    else if (ctx.upgraded) {
      trace.mark('-', `${tag}-upgraded`);
      ctx.upgraded.socket.once('end', () => trace.mark('-', `${tag}-client-ended`));
      ctx.upgraded.socket.once('finish', () => trace.mark('-', `${tag}-ended`));
      ctx.upgraded.socket.once('close', () => trace.mark('-', `${tag}-closed`));
    }
    const m = /^\/containers\/([^/]+)(?:\/([^/]+))?$/.exec(ctx.path);
    if (!m || m[1] === 'create' || m[1] === 'json') return;
    const what = `http.${m[2] ?? ctx.method.toLowerCase()}`;
    trace.mark(m[1]!, what);
    ctx.res?.once('finish', () => trace.mark(m[1]!, `${what}-answered`));
  };

  async function dispatch(ctx: Ctx, upgraded: boolean, prepared?: Prepared): Promise<void> {
    inFlight++;
    onActivity?.();
    try {
      if (prepared) {
        ctx.version = prepared.version;
        ctx.path = prepared.path;
        ctx.query = prepared.query;
        ctx.params = prepared.match.params;
        if (trace.enabled) traceRequest(ctx, true);
        if (deps.daemon.debug) deps.log('debug', `${ctx.method} ${ctx.req.url}`);
        await prepared.match.route.handler(ctx, deps);
        return;
      }
      const raw = ctx.req.url ?? '/';
      const q = raw.indexOf('?');
      const rawPath = q < 0 ? raw : raw.slice(0, q);
      // Most request targets are plain (`/v1.44/containers/<id>/json?all=1`): WHATWG URL parsing
      // would give back the same path and query (~6 µs of CPU per request under hakod's V8
      // flags); anything else (escapes, dot segments, `//`, odd characters) goes through URL.
      const url = parseTarget(raw);
      // dockerd's router (gorilla/mux) answers a path that is not clean (`//`, `.` or `..`
      // segments) with a 301 to the clean one, a trailing slash kept.
      // normalize is the identity on an absolute path without `//` or a `/.` (most requests).
      const clean = rawPath.startsWith('/') && !rawPath.includes('//') && !rawPath.includes('/.') ? rawPath : posix.normalize(rawPath.startsWith('/') ? rawPath : `/${rawPath}`);
      if (clean !== rawPath && ctx.res) {
        ctx.req.resume();
        ctx.res.writeHead(301, { Location: clean + url.search, 'Content-Length': 0 });
        ctx.res.end();
        return;
      }
      const v = splitVersion(url.pathname.replace(/\/{2,}/g, '/'));
      ctx.version = v.version;
      // The path as sent first (moby's routes with a name that may be empty: `DELETE /images/`
      // answers "image name cannot be blank" as dockerd), then without a trailing slash (lenient:
      // dockerd 404s `/images/json/`; no test or client here relies on either).
      ctx.path = v.path;
      ctx.query = url.searchParams;
      let m = match(ctx.method, ctx.path);
      if (!m && ctx.path.length > 1 && ctx.path.endsWith('/')) {
        ctx.path = ctx.path.slice(0, -1);
        m = match(ctx.method, ctx.path);
      }
      if (!m) throw new HttpError(404, 'page not found');
      if (upgraded && !m.route.hijack) throw new HttpError(400, `${ctx.path} does not support connection upgrades`);
      ctx.params = m.params;
      if (trace.enabled) traceRequest(ctx, false);
      if (deps.daemon.debug) deps.log('debug', `${ctx.method} ${raw}`);
      await m.route.handler(ctx, deps);
    } catch (err) {
      const { status, message, unexpected } = errorStatus(err);
      if (ctx.clientGone()) deps.log('debug', `${ctx.method} ${ctx.req.url}: client went away (${message})`);
      else if (unexpected) deps.log('error', `${ctx.method} ${ctx.req.url}: ${(err as Error)?.stack ?? message}`);
      else deps.log('debug', `${ctx.method} ${ctx.req.url}: ${status} ${message}`);
      if (ctx.res && ctx.res.headersSent) {
        // The answer was already streaming: all that is left is to end it.
        ctx.res.end();
      } else if (ctx.upgraded && ctx.upgraded.socket.destroyed) {
        // gone
      } else {
        try {
          sendError(ctx, err);
        } catch (e) {
          deps.log('error', `answering ${ctx.method} ${ctx.req.url}: ${(e as Error).message}`);
        }
      }
    } finally {
      inFlight--;
      onActivity?.();
    }
  }

  /**
   * The route of a plain request target for the lean front: a clean absolute path (no `//`, no
   * dot segment, nothing URL parsing would change), an accepted API version, a route marked
   * lean (hijack routes only upgraded, the others only not). Anything else: undefined (node:http
   * serves it, and dispatch answers redirects, 404s and version errors as before).
   */
  function prepare(method: string, target: string, upgrade: boolean): Prepared | undefined {
    const q = target.indexOf('?');
    const rawPath = q < 0 ? target : target.slice(0, q);
    if (!PLAIN_PATH.test(rawPath) || (q >= 0 && !PLAIN_QUERY.test(target.slice(q + 1)))) return undefined;
    let v: { version: string; path: string };
    try {
      v = splitVersion(rawPath);
    } catch {
      return undefined;
    }
    let m: Match | undefined;
    try {
      m = match(method, v.path);
    } catch {
      return undefined; // a bad escape in a parameter: dispatch answers it
    }
    if (!m || !m.route.lean || upgrade !== !!m.route.hijack) return undefined;
    return { version: v.version, path: v.path, query: q < 0 || q === target.length - 1 ? EMPTY_QUERY : new URLSearchParams(target.slice(q + 1)), match: m };
  }

  function newCtx(req: IncomingMessage, res: ServerResponse | null, upgraded: Upgraded | null, gone: ClientGone): Ctx {
    return new RequestCtx(req, res, upgraded, gone, working);
  }

  function upgrade(req: IncomingMessage, duplex: Duplex, head: Buffer, prepared: Prepared | undefined): void {
    const socket = duplex as Socket;
    const gone = new ClientGone();
    socket.on('error', ignore);
    req.on('error', ignore);
    socket.once('close', () => gone.now());
    // The request body (exec start's JSON) comes before the raw stream: read Content-Length bytes.
    const want = Number(req.headers['content-length'] ?? 0);
    const ctxFor = (body: Buffer): Ctx => newCtx(req, null, { socket, body }, gone);
    if (!Number.isSafeInteger(want) || want < 0 || want > MAX_JSON_BODY) {
      void dispatch(ctxFor(Buffer.alloc(0)), true, prepared).then(() => socket.destroy());
      return;
    }
    let buf = head;
    const proceed = (): void => {
      const body = buf.subarray(0, want);
      const rest = buf.subarray(want);
      if (rest.length) socket.unshift(rest);
      void dispatch(ctxFor(body), true, prepared);
    };
    if (buf.length >= want) {
      proceed();
      return;
    }
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= want) {
        socket.off('data', onData);
        socket.pause();
        proceed();
      }
    };
    socket.on('data', onData);
  }

  return {
    get inFlight() {
      return inFlight;
    },
    request(req, res) {
      const gone = new ClientGone();
      req.on('error', ignore);
      res.on('error', ignore);
      res.on('close', () => gone.now());
      for (let i = 0; i < headerList.length; i += 2) res.setHeader(headerList[i]!, headerList[i + 1]!);
      void dispatch(newCtx(req, res, null, gone), false);
    },
    upgrade(req, duplex, head) {
      upgrade(req, duplex, head, undefined);
    },
    lean: {
      prepare,
      request(prepared, req, res) {
        // The lean response starts with Date and the common headers already.
        const gone = new ClientGone();
        // 'close' follows every answer (as node's); only one that did not finish means the
        // client went away (an abort after a finished answer costs an AbortSignal's event and a
        // DOMException: ~30 µs per wait under hakod's V8 flags).
        res.on('close', () => {
          if (!res.writableFinished) gone.now();
        });
        void dispatch(newCtx(req, res, null, gone), false, prepared);
      },
      upgrade(prepared, req, socket, head) {
        upgrade(req, socket, head, prepared);
      },
    },
    commonHeaders: headerPairs,
    get onActivity() {
      return onActivity;
    },
    set onActivity(f) {
      onActivity = f;
    },
  };
}

/**
 * An http.Server wired to the handlers, with timeouts suited to long streams. A server made here
 * (the unix sockets') gets the lean front (src/api/lean-http.ts) unless `lean: false`; a given
 * one (hakod's TLS server) is node:http's alone.
 */
export function createApiServer(handlers: ApiHandlers, server?: Server, opts: { lean?: boolean } = {}): Server {
  const lean = server === undefined && opts.lean !== false;
  server ??= createServer();
  // Node's own Date header goes through Date#toUTCString, which loads ~0.8 MB of ICU time-zone
  // data into the daemon for good (src/common/time.ts); the same header, built without it, once
  // a second like Node's cache.
  let dateSecond = -1;
  let dateValue = '';
  const date = (): string => {
    const now = Date.now();
    if (Math.floor(now / 1000) !== dateSecond) {
      dateSecond = Math.floor(now / 1000);
      dateValue = httpDate(now);
    }
    return dateValue;
  };
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.sendDate = false;
    res.setHeader('Date', date());
  });
  server.on('request', handlers.request);
  server.on('upgrade', handlers.upgrade);
  server.on('clientError', (_err, socket) => {
    if (socket.writable && !(socket as Socket).destroyed) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"message":"malformed HTTP request"}\n');
    else socket.destroy();
  });
  // Pull/push/load bodies and logs/events streams may last for hours.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 60_000;
  if (lean) {
    const first = ['Date', '', ...handlers.commonHeaders.flat()];
    serveLean(server, handlers.lean, () => {
      const fields = first.slice();
      fields[1] = date();
      return fields;
    });
  }
  return server;
}

/**
 * Profiling (HAKO_PHASE_TRACE): the steps of pulls (src/image/pull-trace.ts) and the registry
 * requests they send (sent, answered, body received), on the id "pull".
 */
function tracePulls(trace: PhaseTrace): void {
  const what = (req: { path: string }): string => (/\/manifests\//.test(req.path) ? 'manifest' : /\/blobs\//.test(req.path) ? `blob-${req.path.split('sha256:')[1]?.slice(0, 12)}` : req.path.replace(/\s/g, '_'));
  dc.subscribe(PULL_TRACE_CHANNEL, (phase) => trace.mark('pull', String(phase).replace(/\s/g, '_')));
  dc.subscribe('http.client.request.start', (m) => trace.mark('pull', `${what((m as { request: { path: string } }).request)}-sent`));
  dc.subscribe('http.client.response.finish', (m) => {
    const { request, response } = m as { request: { path: string }; response: NodeJS.ReadableStream };
    trace.mark('pull', `${what(request)}-answered`);
    response.once('end', () => trace.mark('pull', `${what(request)}-received`));
  });
}
