// dockerd's archives (cp's GET /containers/{id}/archive, export, save) come from Go's
// archive/tar through moby's archive package, which puts the file-type bits into each header's
// mode field as stat(2) has them (040755 a directory, 0100644 a file, 0120777 a symlink:
// "fillGo18FileTypeBits"); GNU tar writes the permission bits alone (0755). Clients see the
// difference (Python's TarInfo.mode, docker-py's get_archive users). This stream rewrites the
// mode field of each header GNU tar wrote, and its checksum; data blocks pass untouched.
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;

/** stat(2)'s S_IFMT bits by tar typeflag ('1', a hard link, is a regular file as Go sees it). */
export const TAR_TYPE_BITS: Readonly<Record<string, number>> = {
  '0': 0o100000,
  '\0': 0o100000,
  '7': 0o100000,
  '1': 0o100000,
  '2': 0o120000,
  '3': 0o020000,
  '4': 0o060000,
  '5': 0o040000,
  '6': 0o010000,
};

function octalField(h: Buffer, off: number, len: number): number {
  const s = h.toString('latin1', off, off + len).replace(/[\0 ].*$/s, '').trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** A header's size field: octal, or GNU base-256 (high bit of the first byte set). */
function sizeOf(h: Buffer): number {
  if ((h[124]! & 0x80) === 0) return octalField(h, 124, 12);
  let v = 0;
  for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
  return v;
}

/** Adds the type bits of `h`'s typeflag to its mode field (7 octal digits) and redoes the checksum. */
export function addTypeBits(h: Buffer): void {
  const bits = TAR_TYPE_BITS[String.fromCharCode(h[156]!)];
  if (bits === undefined) return; // pax/GNU long-name entries and others keep their mode
  const mode = (octalField(h, 100, 8) & 0o7777) | bits;
  h.write(mode.toString(8).padStart(7, '0'), 100, 7, 'latin1');
  h[107] = 0;
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  h[154] = 0;
  h[155] = 0x20;
}

/** A Transform that gives each header of a tar stream its type bits (see above). */
export function tarTypeBits(highWaterMark = 1 << 20): Transform {
  let data = 0; // bytes of the current entry's data (with padding) still to pass
  let partial: Buffer | undefined; // the start of a header split across chunks
  return new Transform({
    highWaterMark,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
      const buf = partial ? Buffer.concat([partial, chunk]) : chunk;
      partial = undefined;
      const out: Buffer[] = [];
      let off = 0;
      while (off < buf.length) {
        if (data > 0) {
          const n = Math.min(data, buf.length - off);
          out.push(buf.subarray(off, off + n));
          off += n;
          data -= n;
          continue;
        }
        if (buf.length - off < BLOCK) {
          partial = Buffer.from(buf.subarray(off));
          break;
        }
        const h = Buffer.from(buf.subarray(off, off + BLOCK));
        off += BLOCK;
        // The end-of-archive zero blocks (and tar's record padding) have no checksum: as they are.
        if (h.some((b) => b !== 0)) {
          data = Math.ceil(sizeOf(h) / BLOCK) * BLOCK;
          addTypeBits(h);
        }
        out.push(h);
      }
      if (out.length > 0) this.push(out.length === 1 ? out[0] : Buffer.concat(out));
      cb();
    },
    flush(cb: TransformCallback): void {
      if (partial) this.push(partial);
      cb();
    },
  });
}
