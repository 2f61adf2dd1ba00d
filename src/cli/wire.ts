// A small HTTP/1.1 client over node:net for the daemon's unix socket: what the CLI's commands need
// and no more. JSON and streamed (chunked) request bodies, Content-Length / chunked / until-close
// answers, keep-alive connections reused one request at a time, and the `Upgrade: tcp` hijack of
// attach and exec (the raw socket and the bytes that came with the 101).
//
// Why not node:http: for a short command like `run --rm` it costs 3–5 ms of client-side work per
// command (loading node:http, ~2.3 ms to build the first ClientRequest against ~1.2 ms for a raw
// socket, ~1 ms more to parse the answer), several times over for run's four requests. TCP and
// TLS hosts keep node:http / node:https (client.ts).
// The connections are pipe-socket.ts's (libuv's pipe handle without node:net), and node:stream
// is loaded only for an answer read as a stream: a JSON answer is collected into one Buffer
// (`collect`), which is all `run`, `create`, `start`, `rm`, `ps`, … need.
import type { Readable } from 'node:stream';
import { connectUnix, type UnixConnector, type WireSocket } from './pipe-socket.js';
import { builtin } from './builtin.js';

export type Headers = Record<string, string | string[]>;

/** The answer's head and its body as a stream (an IncomingMessage look-alike). */
export interface WireResponse extends Readable {
  statusCode: number;
  statusMessage: string;
  /** Lower-case names; repeated headers joined with ', ' (set-cookie kept as a list). */
  headers: Headers;
  /** @internal */ attach(socket: WireSocket | null): void;
}

let responseClass: (new () => WireResponse) | undefined;

/** A new WireResponse; its class (and node:stream) made on the first. */
function newResponse(): WireResponse {
  if (!responseClass) {
    const { Readable: R } = builtin('node:stream') as typeof import('node:stream');
    responseClass = class extends R implements WireResponse {
      statusCode = 0;
      statusMessage = '';
      headers: Headers = {};
      private socket: WireSocket | null = null;

      attach(socket: WireSocket | null): void {
        this.socket = socket;
      }

      // Like IncomingMessage: an error nobody listens for (an answer cut short that the command
      // no longer reads) is not thrown as an uncaught exception.
      override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
        this.socket = null;
        cb(this.listenerCount('error') ? err : null);
      }

      override _read(): void {
        this.socket?.resume();
      }
    };
  }
  return new responseClass();
}

/** An answer collected whole: its head now, its body once it is all in. */
export interface CollectedResponse {
  statusCode: number;
  statusMessage: string;
  headers: Headers;
  /** Rejects when the connection fails before the end of the body. */
  body: Promise<Buffer>;
}

/** A request body sent as a stream (chunked) rather than whole. */
function isStream(b: WireRequest['body']): b is Readable {
  return b !== undefined && !Buffer.isBuffer(b) && typeof (b as Readable).on === 'function';
}

/** The daemon's answer was not HTTP as we know it. */
export class MalformedAnswerError extends Error {
  readonly code = 'EMALFORMED';
}

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** A whole body (Content-Length) or a stream sent chunked. */
  body?: Buffer | Readable | undefined;
  /** Send `Connection: Upgrade` / `Upgrade: tcp` and hand over the socket on a 101. */
  upgrade?: boolean;
  /** Collect the body into one Buffer instead of streaming it (no node:stream). */
  collect?: boolean;
  /**
   * With `collect`, for a 2xx answer: each piece of the body is handed to this as it comes
   * instead of kept (the body's promise then resolves with an empty Buffer at its end). A throw
   * fails the exchange: the connection is closed and the body's promise rejects with it. A
   * promise returned holds the reading until it resolves (back-pressure: the output is behind).
   */
  onBody?: ((chunk: Buffer) => void | Promise<void>) | undefined;
}

export type WireResult = { res: WireResponse } | { collected: CollectedResponse } | { upgraded: { socket: WireSocket; head: Buffer } };

const MAX_HEAD = 64 * 1024;

/** Parses a response head (without the blank line). Exported for the unit tests. */
export function parseHead(text: string): { statusCode: number; statusMessage: string; headers: Headers } {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new MalformedAnswerError(`malformed status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Headers = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const c = line.indexOf(':');
    if (c <= 0 || /\s/.test(line[c - 1]!)) throw new MalformedAnswerError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, c).toLowerCase();
    const value = line.slice(c + 1).trim();
    const old = headers[name];
    if (name === 'set-cookie') headers[name] = [...((old as string[] | undefined) ?? []), value];
    else headers[name] = old === undefined ? value : `${old as string}, ${value}`;
  }
  return { statusCode: Number(m[1]), statusMessage: m[2] ?? '', headers };
}

/**
 * Decodes a chunked body: feed() bytes, get body bytes; `done` once the last chunk and its
 * trailers went by, `rest` the bytes after it. Exported for the unit tests.
 */
export class ChunkedDecoder {
  done = false;
  rest: Buffer = Buffer.alloc(0);
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes left in the current chunk's data, -1 while reading a size line, -2 in the trailers. */
  private left = -1;
  private needCrlf = false;

  feed(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    for (;;) {
      if (this.done) {
        this.rest = this.buf;
        this.buf = Buffer.alloc(0);
        return out;
      }
      if (this.needCrlf) {
        if (this.buf.length < 2) return out;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) throw new MalformedAnswerError('malformed chunked body: no CRLF after a chunk');
        this.buf = this.buf.subarray(2);
        this.needCrlf = false;
      }
      if (this.left > 0) {
        if (!this.buf.length) return out;
        const n = Math.min(this.left, this.buf.length);
        out.push(this.buf.subarray(0, n));
        this.buf = this.buf.subarray(n);
        this.left -= n;
        if (this.left === 0) {
          this.needCrlf = true;
          this.left = -1;
        }
        continue;
      }
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) {
        if (this.buf.length > 4096) throw new MalformedAnswerError('malformed chunked body: line too long');
        return out;
      }
      const line = this.buf.subarray(0, eol).toString('latin1');
      this.buf = this.buf.subarray(eol + 2);
      if (this.left === -2) {
        if (line === '') this.done = true; // end of the trailers
        continue;
      }
      const size = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/.exec(line);
      if (!size || size[1]!.length > 12) throw new MalformedAnswerError(`malformed chunk size ${JSON.stringify(line.slice(0, 40))}`);
      const n = parseInt(size[1]!, 16);
      this.left = n === 0 ? -2 : n;
    }
  }
}

function serializeHead(r: WireRequest, bodyHeaders: Record<string, string>): string {
  let s = `${r.method} ${r.path} HTTP/1.1\r\nHost: api.moby.localhost\r\n`;
  const all = { ...r.headers, ...bodyHeaders };
  if (r.upgrade) {
    all.Connection = 'Upgrade';
    all.Upgrade = 'tcp';
  }
  for (const [k, v] of Object.entries(all)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`invalid header ${k}`);
    s += `${k}: ${v}\r\n`;
  }
  return `${s}\r\n`;
}

/**
 * Connections to one unix socket. A connection serves one request at a time; once its answer was
 * read to the end it waits (unref'd, so it keeps no process alive) for the next request.
 */
export class UnixPool {
  private readonly idle: WireSocket[] = [];
  private readonly live = new Set<WireSocket>();
  /** The 'error' listener of each idle connection (a reset while idle just closes it). */
  private readonly idleError = new Map<WireSocket, () => void>();

  /** `connector`: connects synchronously (pipe-socket.ts), so a request goes out when written. */
  constructor(
    readonly socketPath: string,
    private readonly connector?: UnixConnector,
  ) {}

  /** Sends a request; resolves once the answer's head arrived (or the connection was upgraded). */
  request(r: WireRequest, onSocket?: (s: WireSocket) => void): Promise<WireResult> {
    const reused = this.idle.pop();
    if (reused) {
      // A kept-alive connection the daemon closed just as we sent gives no answer: once more on a
      // fresh one (only when the body can be sent again).
      return this.exchange(reused, r, onSocket, !isStream(r.body));
    }
    return this.exchange(this.open(), r, onSocket, false);
  }

  /**
   * Opens connections ahead of need (up to `n` idle ones), so that the daemon accepts them while
   * it works on an earlier request instead of on the command's critical path. They keep no
   * process alive, and one that fails is dropped (the request that needs it opens another).
   */
  prewarm(n: number): void {
    while (this.idle.length < n) {
      const s = this.open();
      const idleError = () => s.destroy();
      this.idleError.set(s, idleError);
      s.on('error', idleError);
      s.unref();
      this.idle.unshift(s);
    }
  }

  private open(): WireSocket {
    const s = connectUnix(this.socketPath, this.connector);
    this.live.add(s);
    s.once('close', () => {
      this.live.delete(s);
      this.idleError.delete(s);
      const i = this.idle.indexOf(s);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return s;
  }

  private exchange(socket: WireSocket, r: WireRequest, onSocket: ((s: WireSocket) => void) | undefined, retry: boolean): Promise<WireResult> {
    socket.ref();
    const idleError = this.idleError.get(socket);
    if (idleError) {
      socket.removeListener('error', idleError);
      this.idleError.delete(socket);
    }
    onSocket?.(socket);
    return new Promise<WireResult>((resolve, reject) => {
      let head: Buffer | null = Buffer.alloc(0);
      let res: WireResponse | null = null;
      // collect: the body's parts and its promise's ends (res stays null).
      let collected: CollectedResponse | null = null;
      const parts: Buffer[] = [];
      let bodyDone: ((b: Buffer) => void) | null = null;
      let bodyFailed: ((e: Error) => void) | null = null;
      let gotBytes = false;
      let finished = false;
      let bodyLeft = -1; // Content-Length left; -1: chunked or until close
      let chunked: ChunkedDecoder | null = null;
      let keepAlive = true;

      const fail = (err: Error) => {
        if (finished) return;
        finished = true;
        socket.destroy();
        if (res) res.destroy(err);
        else if (collected) bodyFailed!(err);
        else reject(err);
      };
      const done = () => {
        finished = true;
        if (res) {
          res.attach(null);
          res.push(null);
        } else bodyDone!(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.removeListener('close', onClose);
        socket.removeListener('error', onError);
        if (keepAlive && socket.readyState === 'open') {
          const idleError = () => socket.destroy();
          this.idleError.set(socket, idleError);
          socket.on('error', idleError);
          socket.unref();
          this.idle.push(socket);
        } else socket.destroy();
      };
      // r.onBody, once the head said 2xx (an error's body is collected for its message).
      let sink: ((b: Buffer) => void | Promise<void>) | undefined;
      const body = (b: Buffer) => {
        if (!b.length) return;
        if (sink) {
          const wait = sink(b);
          if (wait) {
            socket.pause();
            wait.then(
              () => socket.resume(),
              (e: Error) => fail(e),
            );
          }
        } else if (!res) parts.push(b);
        else if (!res.push(b)) socket.pause();
      };
      const onBody = (data: Buffer) => {
        if (chunked) {
          for (const b of chunked.feed(data)) body(b);
          if (chunked.done) done();
        } else if (bodyLeft >= 0) {
          const n = Math.min(bodyLeft, data.length);
          body(data.subarray(0, n));
          bodyLeft -= n;
          if (bodyLeft === 0) done();
        } else body(data);
      };
      const onData = (data: Buffer) => {
        gotBytes = true;
        if (finished) return;
        if (head === null) {
          try {
            onBody(data);
          } catch (e) {
            fail(e as Error);
          }
          return;
        }
        head = head.length ? Buffer.concat([head, data]) : data;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD) fail(new MalformedAnswerError('answer head larger than 64 KiB'));
          return;
        }
        let parsed;
        try {
          parsed = parseHead(head.subarray(0, end).toString('latin1'));
        } catch (e) {
          fail(e as Error);
          return;
        }
        const rest = head.subarray(end + 4);
        head = null;
        if (parsed.statusCode === 100) {
          head = rest;
          if (rest.length) onData(Buffer.alloc(0));
          return;
        }
        if (r.upgrade && parsed.statusCode === 101) {
          finished = true;
          this.live.delete(socket);
          socket.removeListener('data', onData);
          socket.removeListener('end', onEnd);
          socket.removeListener('close', onClose);
          socket.removeListener('error', onError);
          resolve({ upgraded: { socket, head: rest } });
          return;
        }
        const conn = String(parsed.headers.connection ?? '').toLowerCase();
        keepAlive = conn !== 'close';
        const te = String(parsed.headers['transfer-encoding'] ?? '').toLowerCase();
        const cl = parsed.headers['content-length'];
        if (r.method === 'HEAD' || parsed.statusCode === 204 || parsed.statusCode === 304) bodyLeft = 0;
        else if (te.includes('chunked')) chunked = new ChunkedDecoder();
        else if (cl !== undefined) {
          if (!/^\d+$/.test(String(cl))) {
            fail(new MalformedAnswerError(`malformed Content-Length ${JSON.stringify(cl)}`));
            return;
          }
          bodyLeft = Number(cl);
        } else keepAlive = false; // the body runs to the end of the connection
        if (r.collect) {
          if (r.onBody && parsed.statusCode >= 200 && parsed.statusCode < 300) sink = r.onBody;
          const bodyP = new Promise<Buffer>((ok, ko) => {
            bodyDone = ok;
            bodyFailed = ko;
          });
          bodyP.catch(() => undefined); // the command may stop caring once the head said enough
          collected = { statusCode: parsed.statusCode, statusMessage: parsed.statusMessage, headers: parsed.headers, body: bodyP };
          resolve({ collected });
        } else {
          res = newResponse();
          res.attach(socket);
          res.statusCode = parsed.statusCode;
          res.statusMessage = parsed.statusMessage;
          res.headers = parsed.headers;
          resolve({ res });
        }
        if (bodyLeft === 0) done();
        else if (rest.length) onData(rest);
      };
      const onEnd = () => {
        if (finished) return;
        if ((res || collected) && bodyLeft === -1 && !chunked) {
          done(); // a body delimited by the end of the connection
          return;
        }
        onClose();
      };
      const onClose = () => {
        if (finished) return;
        if (retry && !gotBytes && !res && !collected) {
          finished = true;
          socket.destroy();
          resolve(this.exchange(this.open(), r, onSocket, false));
          return;
        }
        fail(new Error(res || collected ? 'the daemon closed the connection before the end of the answer' : 'the daemon closed the connection without an answer'));
      };
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onClose);
      const onError = (err: NodeJS.ErrnoException) => {
        if (finished) return;
        if (retry && !gotBytes && !res && !collected && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          onClose();
          return;
        }
        fail(err);
      };
      socket.on('error', onError);

      const b = r.body;
      if (isStream(b)) {
        socket.write(serializeHead(r, { 'Transfer-Encoding': 'chunked' }));
        b.on('data', (c: Buffer | string) => {
          const buf = typeof c === 'string' ? Buffer.from(c) : c;
          if (!buf.length) return;
          socket.write(`${buf.length.toString(16)}\r\n`);
          socket.write(buf);
          if (!socket.write('\r\n')) {
            b.pause();
            socket.once('drain', () => b.resume());
          }
        });
        b.once('end', () => socket.write('0\r\n\r\n'));
        b.once('error', (e: Error) => fail(e));
      } else if (b) {
        socket.write(serializeHead(r, { 'Content-Length': String(b.length) }) + (b.length < 16384 ? b.toString('latin1') : ''), 'latin1');
        if (b.length >= 16384) socket.write(b);
      } else {
        const bodyless = r.method === 'GET' || r.method === 'HEAD' || r.method === 'DELETE' || r.method === 'OPTIONS';
        socket.write(serializeHead(r, bodyless ? {} : { 'Content-Length': '0' }));
      }
    });
  }

  /** Closes every connection (idle and busy; hijacked ones belong to their user). */
  close(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
    this.idle.length = 0;
  }
}
