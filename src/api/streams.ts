// Streaming answers: hijacked connections (attach, exec start), JSON-lines streams (pull/push
// progress, events, stats) and the attach pump that frames container output with stdcopy.
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { Attachment } from '../engine/api-types.js';
import { encodeFrame, STDERR, STDOUT } from './stdcopy.js';
import { errorStatus, sendError, type Ctx } from './http.js';
import { native } from '../native/addon.js';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** A connection taken over for raw bytes both ways. */
export interface Hijacked {
  /** Client → daemon bytes (stdin). Ends when the client shuts down its write side. */
  input: Readable;
  /**
   * Writes output; false when the peer should be let to catch up (drain). Once a write failed
   * (the client shut its read side or went: EPIPE, ECONNRESET) output goes nowhere: the input
   * is still read to its end (the stdin the client sent goes in, as dockerd's), then the
   * connection closes.
   */
  write(data: Buffer): boolean;
  /** Resolves when the peer can take more (or the connection is gone, or a write failed). */
  drain(): Promise<void>;
  /** Ends our side (output done). */
  end(): void;
  /** Whether the connection is gone. */
  readonly closed: boolean;
  onClose(cb: () => void): void;
}

/**
 * Takes the connection over. With `Connection: Upgrade` / `Upgrade: tcp` the answer is
 * `101 UPGRADED`; the old style (no Upgrade header) gets `200 OK` and a streamed body, with
 * the request body as input.
 */
export function hijack(ctx: Ctx, contentType: string): Hijacked {
  if (ctx.upgraded) {
    const sock = ctx.upgraded.socket;
    sock.setNoDelay(true);
    let closed = false;
    const closers: Array<() => void> = [];
    sock.once('close', () => {
      closed = true;
      for (const c of closers.splice(0)) c();
    });
    const outputFailed = outputErrorEndsOutputOnly(sock);
    sock.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    const gate = headGate(sock);
    // Output held until the client has read the head (see headGate); null once it may flow.
    let held: Buffer[] | null = null;
    let opened: Promise<void> = Promise.resolve();
    const drainSock = (): Promise<void> => (closed || outputFailed() || !sock.writableNeedDrain ? Promise.resolve() : new Promise((r) => {
      // (a write that fails later still drains: its failure is reported to the stream as done)
      const done = (): void => { sock.off('drain', done); sock.off('close', done); r(); };
      sock.on('drain', done);
      sock.on('close', done);
    }));
    const endSock = (): void => {
      if (closed) return;
      // After a failed write there is no output to end; the input is still read to its end.
      if (!outputFailed()) sock.end();
      // The client normally closes when it sees EOF; do not hold the fd forever if it does not.
      // (Cleared at the close: a pending timer kept the socket, and the attach session and
      // monitor client its listeners hold, in memory for 30 s after every stream: bench/soak.mjs.)
      const linger = setTimeout(() => sock.destroy(), 30_000);
      linger.unref();
      closers.push(() => clearTimeout(linger));
    };
    return {
      input: sock,
      write: (d) => {
        if (closed) return false;
        if (outputFailed()) return true;
        if (held) {
          held.push(d);
          return false;
        }
        if (gate.open()) return sock.write(d);
        const first = [d];
        held = first;
        opened = gate.wait().then(() => {
          held = null;
          if (!closed && !outputFailed()) for (const b of first) sock.write(b);
        });
        return false;
      },
      drain: () => (held ? opened.then(drainSock) : drainSock()),
      end: () => {
        if (held) void opened.then(endSock);
        else endSock();
      },
      get closed() {
        return closed;
      },
      onClose: (cb) => (closed ? cb() : closers.push(cb)),
    };
  }
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': contentType });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  let closed = false;
  const closers: Array<() => void> = [];
  res.once('close', () => {
    closed = true;
    for (const c of closers.splice(0)) c();
  });
  // As the upgraded path: a failed write ends the output only, the request body (stdin) is still
  // read to its end (node:http destroyed the socket, and the stdin still in the kernel with it).
  const outputFailed = res.socket ? outputErrorEndsOutputOnly(res.socket) : (): boolean => false;
  return {
    input: ctx.req,
    write: (d) => (closed ? false : outputFailed() ? true : res.write(d)),
    drain: () => (closed || outputFailed() || !res.writableNeedDrain ? Promise.resolve() : new Promise((r) => {
      const done = (): void => { res.off('drain', done); res.off('close', done); r(); };
      res.on('drain', done);
      res.on('close', done);
    })),
    end: () => {
      if (!closed && !outputFailed()) res.end();
    },
    get closed() {
      return closed;
    },
    onClose: (cb) => (closed ? cb() : closers.push(cb)),
  };
}

/** How long output waits for the client to read the 101 head before it goes anyway. */
export const HEAD_READ_CAP_MS = 50;

/**
 * Whether the client has read the `101 UPGRADED` head yet. docker-py reads the head through
 * Python's buffered http.client and then reads the raw socket: the bytes that came in the same
 * read as the head stay in the buffer it drops. An exec that fails to start writes its error
 * right behind the 101, and docker-py lost it (7 of 10 here; exit code 126 and no text). So the
 * first output waits until the head has left the socket: ioctl SIOCOUTQ on a unix stream socket
 * counts the bytes the peer has not read yet (the kernel charges an skb to its sender until the
 * receiver consumes it). Over TCP it counts unacknowledged bytes only (acked on arrival, before
 * the client reads): no guarantee there, and no cost. Output of a process that ran only after the
 * client read the head (the normal case) finds the queue empty at its first write and never
 * waits; otherwise it waits at most HEAD_READ_CAP_MS (a client that does not read), polled each
 * millisecond (nothing wakes a sender when its peer reads a unix socket, short of filling it).
 */
function headGate(sock: Socket): { open(): boolean; wait(): Promise<void> } {
  let isOpen = false;
  const unread = (): number => {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return 0;
    try {
      return native().outq(fd);
    } catch {
      return 0; // no addon (or not a socket): no wait
    }
  };
  const open = (): boolean => {
    if (!isOpen && sock.writableLength === 0 && unread() === 0) isOpen = true;
    return isOpen;
  };
  return {
    open,
    wait: () => new Promise<void>((resolve) => {
      const until = performance.now() + HEAD_READ_CAP_MS;
      const tick = (): void => {
        if (sock.destroyed || open() || performance.now() >= until) {
          isOpen = true;
          resolve();
        } else setTimeout(tick, 1);
      };
      setTimeout(tick, 1);
    }),
  };
}

/**
 * Makes a failed write end only the output direction of a hijacked socket. A net.Socket destroys
 * itself on a write error (autoDestroy, which node:net forces on): a client that shut its read
 * side (EPIPE) or went with output unread (ECONNRESET) then lost the stdin it had sent that was
 * still in the kernel's receive queue, unread while the process was not taking more. dockerd
 * stops only its copy of the output and reads the connection to its end. So the socket's write
 * (the stream implementer's `_write`/`_writev`) reports a failure here instead of to the stream:
 * the stream neither errors (an errored readable reads no more) nor destroys itself, and the
 * input goes on to its end, when the socket is destroyed. Returns whether a write failed.
 */
function outputErrorEndsOutputOnly(sock: Socket): () => boolean {
  let failed = false;
  const fail = (): void => {
    if (failed) return;
    failed = true;
    if (sock.readableEnded) sock.destroy();
    else sock.once('end', () => setImmediate(() => sock.destroy())); // after the input's own 'end' listeners (stdin EOF)
  };
  type Done = (error?: Error | null) => void;
  const report = (cb: Done): Done => (err) => {
    // A destroyed socket's writes fail too (ERR_SOCKET_CLOSED): nothing left to keep reading.
    if (err && !sock.destroyed) {
      fail();
      return cb();
    }
    cb(err);
  };
  const write = sock._write;
  sock._write = (chunk: unknown, encoding: BufferEncoding, cb: Done) => write.call(sock, chunk, encoding, report(cb));
  const writev = sock._writev;
  if (writev) sock._writev = (chunks: Array<{ chunk: unknown; encoding: BufferEncoding }>, cb: Done) => writev.call(sock, chunks, report(cb));
  sock.on('error', () => undefined); // a read error destroys the socket (node does): nothing to keep
  return () => failed;
}

/**
 * Relays an attachment over a hijacked connection until the container's output ends or the
 * client goes away: output framed with stdcopy unless TTY; input (stdin) written to the
 * container, the client's half-close becoming stdin EOF while output keeps flowing.
 */
export async function pumpAttachment(conn: Hijacked, att: Attachment, opts: { stdin: boolean }): Promise<void> {
  conn.onClose(() => att.close());
  if (opts.stdin && att.input) {
    const input = att.input;
    input.on('error', () => undefined);
    conn.input.on('data', (chunk: Buffer) => {
      if (!input.writable) return;
      if (!input.write(chunk)) {
        conn.input.pause();
        input.once('drain', () => conn.input.resume());
      }
    });
    // A client that closed its side while the exec or attach was being set up (`docker exec -i …
    // </dev/null` half-closes right after the 101) has already had its 'end' emitted: close stdin now.
    if (conn.input.readableEnded) input.end();
    else {
      conn.input.once('end', () => {
        if (input.writable) input.end();
      });
    }
  } else {
    // Nobody reads stdin: still consume it so a client that writes does not block.
    conn.input.on('data', () => undefined);
  }
  conn.input.on('error', () => undefined);
  // The server pauses the socket once a request body that came in pieces is read (exec start's
  // JSON), and a 'data' listener does not resume a paused stream: stdin and its end stayed unread
  // (`docker exec -i … cat` hung when the body arrived apart from the headers, under load).
  conn.input.resume();
  try {
    for await (const item of att.output as AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }>) {
      if (conn.closed) break;
      const data = Buffer.isBuffer(item.data) ? item.data : Buffer.from(item.data);
      if (data.length === 0) continue;
      const out = att.tty ? data : encodeFrame(item.stream === 'stderr' ? STDERR : STDOUT, data);
      if (!conn.write(out)) await conn.drain();
    }
  } catch {
    // The engine ended the output with an error (container gone): end the stream.
  } finally {
    conn.end();
  }
}

/**
 * How a JSON stream ends its lines, as dockerd: the progress streams (pull, push, import, load,
 * build) go through moby's streamformatter, which ends each message with "\r\n"; events and stats
 * are written by Go's json.Encoder, which ends each with "\n".
 */
export type JsonLineEnd = '\r\n' | '\n';
/** dockerd's streamformatter line end (progress streams). */
export const PROGRESS_LINE_END: JsonLineEnd = '\r\n';
/** Go's json.Encoder line end (events, stats). */
export const ENCODER_LINE_END: JsonLineEnd = '\n';

/**
 * A JSON-lines answer (200, application/json, one object per line, flushed as written). The
 * headers go out on the first write; an error before that is a normal HTTP error, after it an
 * `{"errorDetail":{"message":…},"error":…}` line, as docker does. `lineEnd` ends every line (the
 * error line too): PROGRESS_LINE_END or ENCODER_LINE_END, as dockerd's route writes it.
 */
export class JsonStream {
  private started = false;
  constructor(private readonly ctx: Ctx, private readonly lineEnd: JsonLineEnd, private readonly contentType = 'application/json') {}

  start(): void {
    if (this.started) return;
    this.started = true;
    const res = this.ctx.res!;
    res.writeHead(200, { 'Content-Type': this.contentType });
    res.flushHeaders();
  }

  get isStarted(): boolean {
    return this.started;
  }

  get closed(): boolean {
    const res = this.ctx.res!;
    return res.destroyed || res.writableEnded;
  }

  /** Writes one object (`stringify`: its JSON encoder); resolves when the client can take more. */
  async write(obj: unknown, stringify: (v: unknown) => string = JSON.stringify): Promise<void> {
    this.start();
    const res = this.ctx.res!;
    if (this.closed) return;
    this.ctx.working?.();
    if (!res.write(stringify(obj) + this.lineEnd)) {
      await new Promise<void>((r) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); r(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }

  /** Writes synchronously, ignoring back-pressure (progress messages are small). */
  push(obj: unknown): void {
    this.start();
    if (this.closed) return;
    this.ctx.working?.();
    this.ctx.res!.write(JSON.stringify(obj) + this.lineEnd);
  }

  fail(err: unknown): void {
    if (!this.started) {
      sendError(this.ctx, err);
      return;
    }
    const { message } = errorStatus(err);
    this.push({ errorDetail: { message }, error: message });
    this.end();
  }

  end(): void {
    this.start();
    if (!this.closed) this.ctx.res!.end();
  }
}

/** A progress line from ImageService's log (`abcdef012345: Pulling fs layer`, `Digest: …`). */
export function progressMessage(line: string): Record<string, unknown> {
  const m = /^([0-9a-f]{12}): (.*)$/.exec(line);
  if (m) return { status: m[2], progressDetail: {}, id: m[1] };
  return { status: line };
}

/** A byte stream for a Readable answer body with the given content type. */
export async function sendStream(ctx: Ctx, contentType: string, body: Readable, headers: Record<string, string> = {}): Promise<void> {
  const res = ctx.res!;
  res.writeHead(200, { 'Content-Type': contentType, ...headers });
  if (ctx.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    body.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => {
      body.destroy();
      resolve();
    });
    body.pipe(res);
  });
}

export { PassThrough };

/** go-units HumanSize (decimal, 4 significant digits): `12.3MB`, as docker prints progress. */
function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** docker's `JSONProgress.String()` as the daemon renders it (no terminal: width 200, bar and counts). */
function progressText(current: number, total: number | undefined): string {
  if (!total || total <= 0) return humanSize(current).padStart(8);
  const pct = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  return current > total ? bar + humanSize(current).padStart(8) : `${bar}${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/**
 * A structured progress event (src/image/progress.ts) as dockerd's JSON message. A layer's
 * status (an id) carries `progressDetail: {}` as dockerd's progress.Update; a message without
 * one (`Digest: …`, `Status: …`) none, as dockerd's progress.Message: docker's CLI takes a
 * message with a progressDetail for a bar, clears the line and ends it with \r, not \n (each then
 * overwrote the one before on a terminal).
 */
export function progressEventMessage(ev: { id?: string | undefined; status: string; current?: number | undefined; total?: number | undefined; start?: number | undefined }): Record<string, unknown> {
  const msg: Record<string, unknown> = { status: ev.status };
  if (ev.current !== undefined) {
    msg.progressDetail = { current: ev.current, ...(ev.total !== undefined ? { total: ev.total } : {}), ...(ev.start !== undefined ? { start: ev.start } : {}) };
    msg.progress = progressText(ev.current, ev.total);
  } else if (ev.id !== undefined) msg.progressDetail = {};
  if (ev.id !== undefined) msg.id = ev.id;
  return msg;
}
