// docker's stdcopy framing: each frame is [stream, 0, 0, 0, size (u32 BE)] + payload, stream
// 0 stdin, 1 stdout, 2 stderr, 3 system error (the payload is an error message).
import { Writable } from 'node:stream';

export class StdcopyError extends Error {}

/** An output, or a function that makes it on first use. */
export type Output = NodeJS.WritableStream | (() => NodeJS.WritableStream);

/**
 * A writable that splits framed bytes onto stdout/stderr; `onSystemError` gets stream-3 payloads.
 * Outputs given as functions are made on their first frame: process.stdout/stderr cost ~1 ms
 * each to create, for nothing when the container writes nothing there (`run --rm busybox true`).
 */
export class Demuxer extends Writable {
  private buf: Buffer = Buffer.alloc(0);
  private out: Output;
  private err: Output;

  constructor(
    stdout: Output,
    stderr: Output,
    private readonly onSystemError?: (message: string) => void,
  ) {
    super();
    this.out = stdout;
    this.err = stderr;
  }

  private get stdout(): NodeJS.WritableStream {
    if (typeof this.out === 'function') this.out = this.out();
    return this.out;
  }

  private get stderr(): NodeJS.WritableStream {
    if (typeof this.err === 'function') this.err = this.err();
    return this.err;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drainFrames();
      cb();
    } catch (e) {
      cb(e as Error);
    }
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
