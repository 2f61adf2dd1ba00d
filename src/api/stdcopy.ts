// Docker's stdcopy framing for non-TTY streams: each frame is an 8-byte header
// [stream, 0, 0, 0, size (uint32 big-endian)] followed by `size` bytes. Stream 0 is stdin,
// 1 stdout, 2 stderr (3 is "systemerr", which docker uses for errors inside a stream).
export type StreamType = 0 | 1 | 2 | 3;

export const STDIN: StreamType = 0;
export const STDOUT: StreamType = 1;
export const STDERR: StreamType = 2;
export const SYSTEMERR: StreamType = 3;

/** Largest payload put in one frame (larger chunks are split). */
const MAX_FRAME = 1 << 20;

/** Frames `data` (split into ≤ 1 MiB frames). */
export function encodeFrame(stream: StreamType, data: Buffer): Buffer {
  if (data.length <= MAX_FRAME) {
    const out = Buffer.allocUnsafe(8 + data.length);
    out.writeUInt32BE(stream << 24, 0);
    out.writeUInt32BE(data.length, 4);
    data.copy(out, 8);
    return out;
  }
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_FRAME) parts.push(encodeFrame(stream, data.subarray(off, off + MAX_FRAME)));
  return Buffer.concat(parts);
}

export interface Frame {
  stream: StreamType;
  data: Buffer;
}

/**
 * Incremental decoder: push() bytes as they arrive, frames come out whole. Rejects a stream
 * byte above 3 or non-zero padding (garbage, or a TTY stream read as multiplexed).
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= 8) {
      const stream = this.buf[0]!;
      if (stream > 3 || this.buf[1] !== 0 || this.buf[2] !== 0 || this.buf[3] !== 0) {
        throw new Error(`stdcopy: bad frame header ${this.buf.subarray(0, 8).toString('hex')}`);
      }
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      out.push({ stream: stream as StreamType, data: this.buf.subarray(8, 8 + size) });
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }

  /** Bytes of an incomplete frame still buffered (non-zero at end of stream = truncated). */
  get pending(): number {
    return this.buf.length;
  }
}

/** Decodes a complete buffer; throws on a truncated last frame. */
export function decodeAll(data: Buffer): Frame[] {
  const d = new FrameDecoder();
  const frames = d.push(data);
  if (d.pending) throw new Error(`stdcopy: truncated frame (${d.pending} bytes left)`);
  return frames;
}
