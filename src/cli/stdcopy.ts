// docker's stdcopy framing: each frame is [stream, 0, 0, 0, size (u32 BE)] + payload, stream
// 0 stdin, 1 stdout, 2 stderr, 3 system error (the payload is an error message).
import { EventEmitter } from 'node:events';

export class StdcopyError extends Error {}

/** Where a stream's payloads go: a writable stream, or anything with its write (ctx.print). */
export interface Sink {
  write(chunk: Uint8Array): unknown;
}

/** An output, or a function that makes it on first use. */
export type Output = Sink | (() => Sink);

/**
 * Splits framed bytes onto stdout/stderr; `onSystemError` gets stream-3 payloads. A bad frame
 * is an 'error' event (and the error of that write's callback and of every later write).
 * Outputs given as functions are made on their first frame: process.stdout/stderr cost ~1 ms
 * each to create, for nothing when the container writes nothing there (`run --rm busybox true`).
 * Not a stream.Writable: node:stream costs a short command ~1.2 ms to load, and nothing here
 * needs back-pressure (the outputs buffer what they are given, as they did before).
 */
export class Demuxer extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private out: Output;
  private err: Output;
  private failed: Error | null = null;

  constructor(
    stdout: Output,
    stderr: Output,
    private readonly onSystemError?: (message: string) => void,
  ) {
    super();
    this.out = stdout;
    this.err = stderr;
  }

  /** The bad frame's error once a write failed. */
  get error(): Error | null {
    return this.failed;
  }

  private get stdout(): Sink {
    if (typeof this.out === 'function') this.out = this.out();
    return this.out;
  }

  private get stderr(): Sink {
    if (typeof this.err === 'function') this.err = this.err();
    return this.err;
  }

  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean {
    if (this.failed) {
      const e = this.failed;
      if (cb) process.nextTick(cb, e);
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drainFrames();
    } catch (e) {
      const err = e as Error;
      this.failed = err;
      process.nextTick(() => {
        cb?.(err);
        this.emit('error', err);
      });
      return false;
    }
    if (cb) process.nextTick(cb, null);
    return true;
  }

  /** No more input; `cb` runs once what was written went to the outputs (at once: writes are synchronous). */
  end(cb?: (err?: Error | null) => void): void {
    if (cb) process.nextTick(cb, null);
  }

  private drainFrames(): void {
    while (this.buf.length >= 8) {
      const kind = this.buf[0]!;
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) return;
      const payload = this.buf.subarray(8, 8 + size);
      this.buf = this.buf.subarray(8 + size);
      if (kind === 0 || kind === 1) this.stdout.write(payload);
      else if (kind === 2) this.stderr.write(payload);
      else if (kind === 3) this.onSystemError?.(payload.toString('utf8'));
      else throw new StdcopyError(`Unrecognized input header: ${kind}`);
    }
  }
}

/** Frames a payload (used by tests and fake servers). */
export function frame(stream: 0 | 1 | 2 | 3, data: Buffer | string): Buffer {
  const payload = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Splits a complete framed buffer into [stream, payload] pairs. */
export function demuxAll(buf: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off + 4);
    out.push([buf[off]!, buf.subarray(off + 8, off + 8 + size)]);
    off += 8 + size;
  }
  return out;
}
