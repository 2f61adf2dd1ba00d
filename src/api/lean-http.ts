// A lean HTTP/1.1 front for the API's unix sockets. Under hakod's V8 flags (`--no-opt`: no
// optimising compiler) node:http's JavaScript costs ~110 µs of main-thread CPU per keep-alive
// request (IncomingMessage and ServerResponse streams, header bookkeeping, the writable
// machinery); a request parsed and answered here costs ~30 (bench/api-requests.mjs).
//
// It serves only the plain requests of the API's busiest routes (those marked `lean`: container
// create/start/wait/remove/inspect, upgraded attach and exec start, _ping, version…): an
// HTTP/1.1 request line with a plain target, well-formed header lines (no duplicates, no
// Transfer-Encoding, no Expect, Connection absent or keep-alive), a Content-Length body of at most
// LEAN_MAX_BODY bytes. Anything else hands the connection to node:http for good: the bytes read
// so far are pushed back onto the socket and node's own connection listener takes it, so every
// odd, malformed or streaming request is parsed and answered by node:http exactly as before.
// The answers' bytes are node:http's (unit test: each lean route answered both ways).
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

/** The largest request body the lean path buffers (create bodies are a few KiB). */
export const LEAN_MAX_BODY = 256 * 1024;
/** node:http's default limit for a request head (larger heads go to it: it answers 431). */
const MAX_HEAD = 16 * 1024;
/** Pipelined requests in flight on one connection before the front stops reading more. */
const MAX_PIPELINED = 16;

const REQUEST_LINE = /^([A-Z]+) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** A header field line: a token, a colon, a value of visible ASCII, spaces and tabs. */
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x20-\x7e\t]*)$/;
const TRAILING_WS = /[ \t]+$/;
const DIGITS = /^[0-9]{1,9}$/;

/** What the lean path gives the API handlers for a request (the fields they read of node's). */
export class LeanRequest {
  readonly httpVersion = '1.1';
  readonly complete = true;
  constructor(
    readonly method: string,
    readonly url: string,
    readonly headers: Record<string, string>,
    /** The whole body (already read). */
    readonly body: Buffer,
    readonly socket: Socket,
  ) {}

  /** The body is read already: nothing to drain. */
  resume(): this {
    return this;
  }

  on(): this {
    return this;
  }

  once(): this {
    return this;
  }
}

/**
 * A response written as node:http's ServerResponse would write it (the subset the lean routes
 * use: setHeader, writeHead, flushHeaders, write, end; 'finish' and 'close' events).
 */
export class LeanResponse extends EventEmitter {
  statusCode = 200;
  /** Name as given, value, name, value…, in the order set; a name set again keeps its place (as node's). */
  private fields: string[];
  private header: string | null = null;
  private headerOut = false;
  private chunked = false;
  private hasBody: boolean;
  private ended = false;
  destroyed = false;
  readonly writableNeedDrain = false;

  constructor(
    private readonly conn: LeanConnection,
    initial: string[],
    head: boolean,
  ) {
    super();
    this.fields = initial;
    this.hasBody = !head; // an answer to HEAD has none (node: _hasBody false)
  }

  get headersSent(): boolean {
    return this.header !== null;
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  /** The whole answer went to the socket. */
  writableFinished = false;

  setHeader(name: string, value: string | number): this {
    if (this.header !== null) throw new Error('Cannot set headers after they are sent to the client');
    const lower = name.toLowerCase();
    const v = String(value);
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i]!.toLowerCase() === lower) {
        f[i] = name;
        f[i + 1] = v;
        return this;
      }
    }
    f.push(name, v);
    return this;
  }

  getHeader(name: string): string | undefined {
    const lower = name.toLowerCase();
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) if (f[i]!.toLowerCase() === lower) return f[i + 1];
    return undefined;
  }

  writeHead(status: number, headers?: Record<string, string | number>): this {
    if (this.header !== null) throw new Error('Cannot write headers after they are sent to the client');
    this.statusCode = status;
    if (headers) for (const k of Object.keys(headers)) this.setHeader(k, headers[k]!);
    this.storeHeader();
    return this;
  }

  /** node's _storeHeader for a keep-alive HTTP/1.1 answer to a request that is not HEAD. */
  private storeHeader(): void {
    const status = this.statusCode;
    if (status === 204 || status === 304 || (status >= 100 && status <= 199)) this.hasBody = false;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let contLen = false;
    let te = false;
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) {
      const k = f[i]!;
      head += `${k}: ${f[i + 1]!}\r\n`;
      const lower = k.length === 14 || k.length === 17 ? k.toLowerCase() : '';
      if (lower === 'content-length') contLen = true;
      else if (lower === 'transfer-encoding') te = true;
    }
    head += 'Connection: keep-alive\r\n';
    const secs = Math.floor(this.conn.keepAliveTimeout / 1000);
    if (this.conn.keepAliveTimeout) head += `Keep-Alive: timeout=${secs}\r\n`;
    if (!contLen && !te && this.hasBody) {
      head += 'Transfer-Encoding: chunked\r\n';
      this.chunked = true;
    }
    this.header = head + '\r\n';
  }

  /** Sends the header now (wait: the client sees the answer begin before the container exits). */
  flushHeaders(): void {
    if (this.header === null) this.storeHeader();
    if (!this.headerOut) this.send('');
  }

  write(data: string | Buffer): boolean {
    if (this.ended || this.destroyed) return false;
    if (this.header === null) this.storeHeader();
    if (!this.hasBody) return true;
    const len = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (len === 0) return true;
    if (this.chunked) {
      this.send(`${len.toString(16)}\r\n`);
      this.send(data);
      this.send('\r\n');
    } else this.send(data);
    return true;
  }

  end(data?: string | Buffer): this {
    if (this.ended) return this;
    if (this.header === null) {
      // node sets Content-Length from end()'s data when no header was stored yet.
      if (this.hasBody && this.statusCode !== 204 && this.statusCode !== 304) this.setHeader('Content-Length', data === undefined ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length);
      this.storeHeader();
    }
    this.ended = true;
    let out: string | Buffer = '';
    if (data !== undefined && this.hasBody && (typeof data === 'string' ? data.length : data.length)) {
      if (this.chunked) out = typeof data === 'string' ? `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n0\r\n\r\n` : Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n\r\n')]);
      else out = data;
    } else if (this.chunked) out = '0\r\n\r\n';
    this.send(out, true);
    return this;
  }

  private send(data: string | Buffer, last = false): void {
    const sock = this.conn.socket;
    let payload: string | Buffer = data;
    if (!this.headerOut) {
      this.headerOut = true;
      payload = typeof data === 'string' ? this.header! + data : Buffer.concat([Buffer.from(this.header!, 'latin1'), data]);
    }
    if (this.held !== null) {
      // An answer to a pipelined request waits for the ones before it (as node's).
      if (payload.length) this.held.push(payload);
      if (last) this.heldLast = true;
      return;
    }
    this.out(payload, last);
  }

  /** Output of an answer that is not first in its connection's queue yet. */
  held: Array<string | Buffer> | null = null;
  private heldLast = false;

  /** First in the queue now: what was held goes out. */
  flushHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    for (let i = 0; i < held.length; i++) this.out(held[i]!, this.heldLast && i === held.length - 1);
    if (this.heldLast && held.length === 0) this.out('', true);
  }

  private out(payload: string | Buffer, last: boolean): void {
    const sock = this.conn.socket;
    if (this.destroyed || sock.destroyed || !sock.writable) {
      if (last) this.conn.finished(this, false);
      return;
    }
    if (last) {
      if (payload.length === 0) {
        this.conn.finished(this, true);
        return;
      }
      sock.write(payload, () => this.conn.finished(this, true));
    } else if (payload.length) sock.write(payload);
  }

  /** The connection closed before the answer was done. */
  gone(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

/** One lean connection: parses requests one at a time; hands the socket to node:http when it must. */
class LeanConnection {
  private buf: Buffer | null = null;
  /**
   * Answers in flight, in request order. Pipelined requests run at once (as node:http runs
   * them: a `wait` followed by a `start` on one connection must not wait for each other); each
   * answer's bytes are held until those before it are written.
   */
  private readonly queue: LeanResponse[] = [];
  /** A request node:http or an upgrade must take waits until the answers before it are out. */
  private stalled = false;
  private done = false;
  private timeoutMs = 0;
  private readonly onData = (d: Buffer): void => {
    this.buf = this.buf === null ? d : Buffer.concat([this.buf, d]);
    if (!this.stalled) this.next();
  };
  private readonly onEnd = (): void => {
    // node:http (allowHalfOpen false for HTTP) ends its side and aborts the requests in flight.
    for (const r of this.queue) r.gone();
    if (this.socket.writable) this.socket.end();
  };
  private readonly onClose = (): void => {
    this.done = true;
    this.front.connections.delete(this);
    for (const r of this.queue.splice(0)) r.gone();
  };
  private readonly onTimeout = (): void => {
    this.socket.destroy();
  };

  constructor(
    readonly socket: Socket,
    private readonly front: LeanFront,
  ) {
    front.connections.add(this);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore);
    socket.on('timeout', this.onTimeout);
    // No timeout before the first request (as node:http: a connection opened ahead waits);
    // keepAliveTimeout after each answer, none while a request is in flight.
  }

  get keepAliveTimeout(): number {
    return this.front.server.keepAliveTimeout;
  }

  get idle(): boolean {
    return this.queue.length === 0;
  }

  /** Parses and dispatches the whole requests in the buffer. */
  private next(): void {
    while (this.buf !== null && !this.done && !this.stalled) {
      if (this.queue.length >= MAX_PIPELINED) {
        this.socket.pause(); // resumed as answers go out (finished)
        return;
      }
      if (!this.one()) return;
    }
  }

  /** The next request in the buffer: true when one was dispatched (there may be more). */
  private one(): boolean {
    const buf = this.buf!;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      // node's parser rejects a bad byte as soon as it comes (and a client that sent a body
      // without framing sees its connection closed): anything that cannot begin a request we
      // serve goes to node:http at once.
      if (buf.length > MAX_HEAD || !plausibleHead(buf.toString('latin1'))) this.handOff();
      return false;
    }
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    const rl = REQUEST_LINE.exec(lines[0]!);
    if (!rl) return this.handOff();
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const m = HEADER_LINE.exec(lines[i]!);
      if (!m) return this.handOff();
      const name = m[1]!.toLowerCase();
      if (headers[name] !== undefined) return this.handOff();
      headers[name] = m[2]!.replace(TRAILING_WS, '');
    }
    if (headers['transfer-encoding'] !== undefined || headers.expect !== undefined) return this.handOff();
    const connection = headers.connection;
    let upgrade = false;
    if (connection !== undefined) {
      const c = connection.toLowerCase();
      if (c === 'upgrade' && headers.upgrade !== undefined) upgrade = true;
      else if (c !== 'keep-alive') return this.handOff();
    }
    const cl = headers['content-length'];
    let bodyLen = 0;
    if (cl !== undefined) {
      if (!DIGITS.test(cl)) return this.handOff();
      bodyLen = Number(cl);
      if (bodyLen > LEAN_MAX_BODY) return this.handOff();
    }
    const method = rl[1]!;
    const prepared = this.front.app.prepare(method, rl[2]!, upgrade);
    if (prepared === undefined) return this.handOff();
    const start = end + 4;
    if (upgrade && this.queue.length > 0) return this.stall();
    if (upgrade) {
      // The body (exec start's JSON) and the raw stream are the handler's to read, as node's
      // 'upgrade' event gives them: everything after the head.
      this.release();
      const head = buf.subarray(start);
      this.buf = null;
      // Buffer what comes until the handler reads (as node:http does before its 'upgrade' event).
      (this.socket as { readableFlowing: boolean | null }).readableFlowing = null;
      this.front.app.upgrade(prepared, asIncoming(new LeanRequest(method, rl[2]!, headers, EMPTY, this.socket)), this.socket, head);
      return false;
    }
    if (buf.length < start + bodyLen) return false; // the body is still coming
    const body = bodyLen === 0 ? EMPTY : buf.subarray(start, start + bodyLen);
    this.buf = buf.length === start + bodyLen ? null : buf.subarray(start + bodyLen);
    const res = new LeanResponse(this, this.front.initialHeaders(), method === 'HEAD');
    if (this.queue.length > 0) res.held = [];
    this.queue.push(res);
    this.timeout(0);
    this.front.app.request(prepared, asIncoming(new LeanRequest(method, rl[2]!, headers, body, this.socket)), res as unknown as ServerResponse);
    return true;
  }

  /** Stops parsing until the answers in flight are out (then node:http or an upgrade takes over). */
  private stall(): boolean {
    this.stalled = true;
    return false;
  }

  /** The first answer in the queue is written (or could not be). */
  finished(res: LeanResponse, ok: boolean): void {
    if (this.queue[0] !== res) return;
    this.queue.shift();
    if (ok) {
      res.writableFinished = true;
      res.emit('finish');
    }
    process.nextTick(() => res.gone());
    if (this.done) return;
    if (this.queue.length > 0) this.queue[0]!.flushHeld();
    else {
      this.timeout(this.keepAliveTimeout);
      this.stalled = false;
    }
    if (this.socket.isPaused() && this.queue.length < MAX_PIPELINED) this.socket.resume();
    if (this.buf !== null) this.next();
  }

  /** Stops listening on the socket (it goes to node:http or to an upgrade handler). */
  private release(): void {
    this.done = true;
    this.front.connections.delete(this);
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    this.socket.off('error', ignore);
    this.socket.off('timeout', this.onTimeout);
    this.timeout(0);
  }

  /** socket.setTimeout, only when it changes (a timer list update each). */
  private timeout(ms: number): void {
    if (ms === this.timeoutMs) return;
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  /** node:http takes the connection, from the first byte not answered here. */
  private handOff(): boolean {
    if (this.queue.length > 0) return this.stall();
    this.release();
    this.socket.pause();
    if (this.buf !== null) this.socket.unshift(this.buf);
    this.buf = null;
    for (const l of this.front.nodeListeners) l.call(this.front.server, this.socket);
    this.socket.resume();
    return false;
  }

  /** Ends an idle connection (server shutdown). */
  closeIfIdle(): void {
    if (this.queue.length === 0) this.socket.destroy();
  }
}

const PARTIAL_REQUEST_LINE = /^[A-Z]*$|^[A-Z]+ (?:\/[\x21-\x7e]*)?$|^[A-Z]+ \/[\x21-\x7e]* (H[TP/1.]{0,7})?$/;
const PARTIAL_HEADER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$|^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\x20-\x7e\t]*$/;

/** Whether an incomplete request head (no blank line yet) may still become one the lean path serves. */
export function plausibleHead(text: string): boolean {
  const lines = text.split('\r\n');
  let last = lines.pop()!;
  if (last.endsWith('\r')) last = last.slice(0, -1);
  if (lines.length === 0) {
    const m = PARTIAL_REQUEST_LINE.exec(last);
    return m !== null && (m[1] === undefined || 'HTTP/1.1'.startsWith(m[1]));
  }
  if (!REQUEST_LINE.test(lines[0]!)) return false;
  for (let i = 1; i < lines.length; i++) if (!HEADER_LINE.test(lines[i]!)) return false;
  return PARTIAL_HEADER_LINE.test(last);
}

const EMPTY = Buffer.alloc(0);
/**
 * The lean objects stand in for node's in the routes marked lean, which use only what they have
 * (deps.ts, Route.lean; readBody takes a LeanRequest's body as it is).
 */
const asIncoming = (r: LeanRequest): IncomingMessage => r as unknown as IncomingMessage;
const ignore = (): void => undefined;

/** What the lean front asks of the API. */
export interface LeanApp<P = unknown> {
  /** The route for (method, request target), when the lean path may serve it; else undefined. */
  prepare(method: string, target: string, upgrade: boolean): P | undefined;
  request(prepared: P, req: IncomingMessage, res: ServerResponse): void;
  upgrade(prepared: P, req: IncomingMessage, socket: Socket, head: Buffer): void;
}

interface LeanFront {
  server: Server;
  app: LeanApp;
  nodeListeners: Array<(socket: Socket) => void>;
  connections: Set<LeanConnection>;
  initialHeaders(): string[];
}

/**
 * Puts the lean front before a plain (not TLS) node:http server's connection handling. Every
 * connection starts here; `initialHeaders` gives the header fields each answer starts with (a
 * new array of names and values: name, value, name, value…; the ones node:http's 'request'
 * listeners would set). closeIdleConnections/closeAllConnections cover the lean connections too.
 */
export function serveLean<P>(server: Server, app: LeanApp<P>, initialHeaders: () => string[]): void {
  const nodeListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  const front: LeanFront = { server, app: app as LeanApp, nodeListeners, connections: new Set(), initialHeaders };
  for (const l of nodeListeners) server.off('connection', l);
  server.on('connection', (socket: Socket) => {
    if (server.maxRequestsPerSocket) {
      // Answers would need node's `Connection: close` bookkeeping: node:http serves it all.
      for (const l of nodeListeners) l.call(server, socket);
      return;
    }
    new LeanConnection(socket, front);
  });
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    for (const c of [...front.connections]) c.closeIfIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    for (const c of [...front.connections]) c.socket.destroy();
  };
}
