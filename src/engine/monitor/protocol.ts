// The control protocol of hako-monitor (native/monitor.c): frames of an 8-byte header
// {u8 type, 3 zero bytes, u32 big-endian length} + payload, both directions. The output frames
// are docker's stdcopy frames (type 1 stdout, 2 stderr), so an API server may pass them through.

export const FRAME = {
  /** client → monitor: bytes for the container's stdin (at most MAX_FRAME per frame). */
  STDIN: 0x00,
  /** monitor → client: output. */
  STDOUT: 0x01,
  STDERR: 0x02,
  /**
   * monitor → client: the exit record (exit.json's JSON). The monitor then shuts down its side
   * (EOF follows) and closes once the client has (2 s at most): writes until then do not fail.
   */
  EXIT: 0x03,
  /** client → monitor: {u8 streams} (STREAM bits); may be sent again to change them. */
  HELLO: 0x10,
  /** monitor → client: reply to HELLO, JSON {version, tty, pid, stdin}. */
  INFO: 0x11,
  /** client → monitor: {u16 rows, u16 cols} big-endian: TIOCSWINSZ on the pty. */
  RESIZE: 0x12,
  /** client → monitor: close the container's stdin (a pipe: close it; a pty: send ^D). */
  CLOSE_STDIN: 0x13,
} as const;

export const STREAM = { STDIN: 1, STDOUT: 2, STDERR: 4 } as const;

/** The monitor drops a connection sending a bigger frame. */
export const MAX_FRAME = 32 * 1024;

export function frame(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const hdr = Buffer.alloc(8);
  hdr[0] = type;
  hdr.writeUInt32BE(payload.length, 4);
  return Buffer.concat([hdr, payload]);
}

/** Incremental frame parser. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ type: number; payload: Buffer }> {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Array<{ type: number; payload: Buffer }> = [];
    let off = 0;
    while (this.buf.length - off >= 8) {
      const len = this.buf.readUInt32BE(off + 4);
      if (this.buf.length - off < 8 + len) break;
      out.push({ type: this.buf[off]!, payload: this.buf.subarray(off + 8, off + 8 + len) });
      off += 8 + len;
    }
    this.buf = this.buf.subarray(off);
    return out;
  }
}
