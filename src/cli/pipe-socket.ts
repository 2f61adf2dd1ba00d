// A unix-socket connection straight on libuv's pipe handle (Node's `pipe_wrap` binding), for the
// CLI's requests to the daemon: the subset of net.Socket that wire.ts and the attach/exec pumps
// use (write, end, destroy, pause/resume, ref/unref, readyState; events data, end, error, close,
// drain, connect).
//
// Why: node:net and the node:stream classes under it cost a short command ~2–3 ms to load and
// ~0.5 ms per Socket (construction, Duplex state, first-use compilation), and a net.Socket's first
// write and first answer run through several layers more. `hako run --rm` opens four connections;
// bench/startup.mjs measures the difference. When the binding is not there or not the shape this
// code knows (another Node major), connectUnix falls back to node:net: same behaviour, slower.
//
// process.binding('pipe_wrap' / 'stream_wrap') is on Node's allow-list and not runtime-deprecated
// (only --pending-deprecation warns, DEP0111: the warning is held back for the one look-up).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { builtin } from './builtin.js';

/** What the CLI uses of a connection: net.Socket has all of it. */
export interface WireSocket extends EventEmitter {
  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean;
  end(): void;
  destroy(err?: Error): void;
  pause(): void;
  resume(): void;
  ref(): void;
  unref(): void;
  readonly readyState: string;
}

interface StreamHandle {
  onread: (buf: ArrayBuffer) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: object, data: Uint8Array): number;
  writeLatin1String(req: object, data: string): number;
  writeUtf8String(req: object, data: string): number;
  shutdown(req: object): number;
  close(cb: () => void): void;
  ref(): void;
  unref(): void;
  connect(req: object, path: string): number;
  /** uv_pipe_open on an fd that is already connected: 0, or a negative errno (Node 20 returns it). */
  open?(fd: number): number | undefined;
}

interface PipeApi {
  newHandle(): StreamHandle;
  ConnectReq: new () => { oncomplete: (status: number) => void };
  WriteReq: new () => { oncomplete: (status: number) => void; handle: unknown; buffer?: unknown };
  ShutdownReq: new () => { oncomplete: (status: number) => void; handle: unknown };
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

function ignoreRead(): void {}

const UV_EOF = -4095; // libuv's UV_EOF on every platform
const HIGH_WATER = 16 * 1024; // as net.Socket's writableHighWaterMark

let api: PipeApi | null | undefined;

/** The pipe_wrap/stream_wrap bindings when they have the shape this file knows, else null. */
function pipeApi(): PipeApi | null {
  if (api !== undefined) return api;
  api = null;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const bind = (process as unknown as { binding?: (n: string) => Record<string, unknown> }).binding;
    if (typeof bind !== 'function') return null;
    const p = bind('pipe_wrap') as { Pipe?: new (t: number) => StreamHandle; PipeConnectWrap?: PipeApi['ConnectReq']; constants?: { SOCKET?: number } };
    const s = bind('stream_wrap') as { WriteWrap?: PipeApi['WriteReq']; ShutdownWrap?: PipeApi['ShutdownReq']; streamBaseState?: Int32Array; kReadBytesOrError?: number; kArrayBufferOffset?: number; kLastWriteWasAsync?: number };
    const Pipe = p.Pipe;
    const type = p.constants?.SOCKET;
    if (typeof Pipe !== 'function' || typeof p.PipeConnectWrap !== 'function' || typeof type !== 'number') return null;
    if (typeof s.WriteWrap !== 'function' || typeof s.ShutdownWrap !== 'function' || !(s.streamBaseState instanceof Int32Array)) return null;
    if (typeof s.kReadBytesOrError !== 'number' || typeof s.kArrayBufferOffset !== 'number' || typeof s.kLastWriteWasAsync !== 'number') return null;
    const proto = Pipe.prototype as Partial<StreamHandle>;
    for (const m of ['readStart', 'readStop', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'shutdown', 'close', 'ref', 'unref', 'connect'] as const) {
      if (typeof proto[m] !== 'function') return null;
    }
    api = {
      newHandle: () => new Pipe(type),
      ConnectReq: p.PipeConnectWrap,
      WriteReq: s.WriteWrap,
      ShutdownReq: s.ShutdownWrap,
      state: s.streamBaseState,
      kReadBytesOrError: s.kReadBytesOrError,
      kArrayBufferOffset: s.kArrayBufferOffset,
      kLastWriteWasAsync: s.kLastWriteWasAsync,
    };
  } catch {
    api = null;
  } finally {
    process.noDeprecation = quiet;
  }
  return api;
}

/** An Error like net's for a libuv status (`connect ENOENT /run/hako.sock`). */
function uvError(status: number, syscall: string, address?: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = (builtin('node:util') as typeof import('node:util')).getSystemErrorName(status);
  } catch {
    code = `Unknown system error ${status}`;
  }
  const e: NodeJS.ErrnoException = new Error(`${syscall} ${code}${address ? ` ${address}` : ''}`);
  e.errno = status;
  e.code = code;
  e.syscall = syscall;
  if (address) (e as { address?: string }).address = address;
  return e;
}

type Pending = { kind: 'data'; buf: Buffer } | { kind: 'end' };

/** A connection on a raw pipe handle. Like net.Socket with allowHalfOpen false: the daemon's EOF ends it. */
export class PipeSocket extends EventEmitter implements WireSocket {
  private handle: StreamHandle | null;
  private connected = false;
  private destroyed = false;
  private ended = false; // our side shut down (end())
  private readEnded = false;
  private paused = false;
  private reading = false;
  private writesBeforeConnect: Array<[string | Uint8Array, BufferEncoding | undefined]> = [];
  private pendingBytes = 0;
  private needDrain = false;
  /** Events read while nobody listened for data or the socket was paused. */
  private held: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly a: PipeApi,
    private readonly path: string,
    connectedFd?: number,
  ) {
    super();
    let h = a.newHandle();
    this.handle = h;
    h.onread = (buf) => this.onRead(buf);
    let adopted = false;
    if (connectedFd !== undefined) {
      adopted = this.adopt(connectedFd);
      if (!adopted) {
        // uv_pipe_open failed and left the fd to us: a fresh handle connects the usual way.
        closeFd(connectedFd);
        h.onread = ignoreRead;
        h.close(() => {});
        h = a.newHandle();
        this.handle = h;
        h.onread = (buf) => this.onRead(buf);
      }
    }
    if (!adopted) {
      const req = new a.ConnectReq();
      req.oncomplete = (status) => this.afterConnect(status);
      const err = h.connect(req, path);
      if (err) process.nextTick(() => this.destroy(uvError(err, 'connect', path)));
    }
    this.on('newListener', (event: string) => {
      if (event !== 'data' || this.paused) return;
      // Nothing held: reading starts now (libuv reads in a later loop turn, with the listener on),
      // not on a tick: a command's first process.nextTick compiles Node's tick queue (~0.15 ms,
      // measured in fresh processes), and each request of `hako run` listens for its answer.
      if (this.held.length === 0) this.startReading(true);
      else process.nextTick(() => this.flush());
    });
  }

  get readyState(): string {
    if (this.destroyed) return 'closed';
    if (!this.connected) return 'opening';
    if (this.ended) return this.readEnded ? 'closed' : 'readOnly';
    return this.readEnded ? 'writeOnly' : 'open';
  }

  /**
   * Adopts `fd`, a connected unix socket (the addon's unixConnect): writes go out at once instead
   * of after libuv's connect callback. False (nothing adopted, the fd left to the caller) when the
   * handle cannot open it.
   */
  private adopt(fd: number): boolean {
    const h = this.handle!;
    if (typeof h.open !== 'function') return false;
    try {
      const err = h.open(fd);
      if (typeof err === 'number' && err < 0) return false;
    } catch {
      return false; // a Node that throws instead
    }
    this.connected = true;
    // As net.Socket, 'connect' comes after the caller had a chance to listen: on a microtask, for
    // the same reason as the reading above (no process.nextTick on `hako run`'s path).
    void Promise.resolve().then(() => {
      if (this.destroyed) return;
      this.emit('connect');
      this.startReading();
    });
    return true;
  }

  private afterConnect(status: number): void {
    if (this.destroyed) return;
    if (status < 0) {
      this.destroy(uvError(status, 'connect', this.path));
      return;
    }
    this.connected = true;
    this.emit('connect');
    for (const [d, enc] of this.writesBeforeConnect.splice(0)) this.write(d, enc);
    if (this.ended) this.shutdown();
    this.startReading();
  }

  /** `listening`: a 'data' listener is being added (newListener: not counted yet). */
  private startReading(listening = false): void {
    if (!this.connected || this.destroyed || this.reading || this.readEnded) return;
    if (this.paused || (!listening && this.listenerCount('data') === 0)) return;
    this.reading = true;
    const err = this.handle!.readStart();
    if (err) this.destroy(uvError(err, 'read'));
  }

  private stopReading(): void {
    if (!this.reading || !this.handle) return;
    this.reading = false;
    this.handle.readStop();
  }

  private onRead(buf: ArrayBuffer): void {
    const n = this.a.state[this.a.kReadBytesOrError]!;
    if (n === 0) return;
    if (n > 0) {
      this.deliver({ kind: 'data', buf: Buffer.from(buf, this.a.state[this.a.kArrayBufferOffset]!, n) });
      return;
    }
    this.stopReading();
    if (n === UV_EOF) {
      this.readEnded = true;
      this.deliver({ kind: 'end' });
      return;
    }
    this.destroy(uvError(n, 'read'));
  }

  private deliver(p: Pending): void {
    // Data waits for a reader (as in a paused net.Socket); the end waits only behind held data.
    if (this.held.length || (p.kind === 'data' && (this.paused || this.listenerCount('data') === 0))) {
      this.held.push(p);
      if (p.kind === 'data') this.stopReading();
      return;
    }
    this.dispatch(p);
  }

  private dispatch(p: Pending): void {
    if (p.kind === 'data') {
      this.emit('data', p.buf);
      return;
    }
    this.emit('end');
    // allowHalfOpen false, as net's default: the daemon's EOF closes the connection.
    this.destroy();
  }

  private flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.held.length && !this.paused && !this.destroyed && this.listenerCount('data') > 0) this.dispatch(this.held.shift()!);
    } finally {
      this.flushing = false;
    }
    if (!this.held.length) this.startReading();
  }

  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean {
    if (this.destroyed || this.ended) return false;
    if (this.writesBeforeConnect.length) {
      this.writesBeforeConnect.push([data, encoding]);
      return true;
    }
    // Before the connect callback too: libuv queues the write until its connect callback ran and
    // sends it a loop turn after that (behind whatever else that turn runs). An adopted fd (a
    // connector's) is connected already: the write goes out here.
    const h = this.handle!;
    const req = new this.a.WriteReq();
    req.handle = h;
    const size = typeof data === 'string' ? Buffer.byteLength(data, encoding === 'latin1' ? 'latin1' : 'utf8') : data.byteLength;
    req.oncomplete = (status) => {
      this.pendingBytes -= size;
      if (status < 0) {
        this.destroy(uvError(status, 'write'));
        return;
      }
      if (this.pendingBytes === 0 && this.needDrain) {
        this.needDrain = false;
        this.emit('drain');
      }
    };
    const err = typeof data === 'string' ? (encoding === 'latin1' ? h.writeLatin1String(req, data) : h.writeUtf8String(req, data)) : h.writeBuffer(req, data);
    if (err) {
      if (!this.connected) {
        // connect(2) failed (libuv: no longer writable): the connect callback reports why.
        this.writesBeforeConnect.push([data, encoding]);
        return true;
      }
      process.nextTick(() => this.destroy(uvError(err, 'write')));
      return false;
    }
    if (this.a.state[this.a.kLastWriteWasAsync]) {
      if (typeof data !== 'string') req.buffer = data; // kept alive until written
      this.pendingBytes += size;
      if (this.pendingBytes >= HIGH_WATER) {
        this.needDrain = true;
        return false;
      }
    }
    return true;
  }

  /** Half-close: the daemon reads EOF once what was written went out; reading goes on. */
  end(): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    if (this.connected) this.shutdown();
  }

  private shutdown(): void {
    const req = new this.a.ShutdownReq();
    req.handle = this.handle;
    req.oncomplete = () => {
      if (this.readEnded) this.destroy();
    };
    const err = this.handle!.shutdown(req);
    if (err) this.destroy();
  }

  destroy(err?: Error): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.held.length = 0;
    this.writesBeforeConnect.length = 0;
    const h = this.handle;
    this.handle = null;
    this.reading = false;
    if (!h) return;
    h.onread = ignoreRead; // (the binding aborts the process on a non-function)
    h.close(() => {
      if (err) this.emit('error', err);
      this.emit('close', !!err);
    });
  }

  pause(): void {
    this.paused = true;
    this.stopReading();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.held.length) process.nextTick(() => this.flush());
    else this.startReading();
  }

  ref(): void {
    this.handle?.ref();
  }

  unref(): void {
    this.handle?.unref();
  }
}

function closeFd(fd: number): void {
  try {
    (builtin('node:fs') as typeof import('node:fs')).closeSync(fd);
  } catch {
    /* already gone */
  }
}

/**
 * A synchronous connect(2) to a unix socket, returning the connected fd (non-blocking,
 * close-on-exec): the native addon's unixConnect. It throws when it cannot connect; the connection
 * is then made the usual way, which reports the same failure as before.
 */
export type UnixConnector = (path: string) => number;

/**
 * A connection to the unix socket at `path`: a PipeSocket, or a net.Socket where the binding is
 * not usable. With `connector`, connected before this returns, so a first write goes out at once.
 */
export function connectUnix(path: string, connector?: UnixConnector): WireSocket {
  const a = pipeApi();
  if (a) {
    let fd: number | undefined;
    if (connector) {
      try {
        fd = connector(path);
      } catch {
        fd = undefined; // libuv's connect below reports why, as without the connector
      }
    }
    return new PipeSocket(a, path, fd);
  }
  return (builtin('node:net') as typeof import('node:net')).connect({ path }) as Socket;
}
