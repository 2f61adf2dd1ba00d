// A streaming tar writer for image archives: ustar headers for regular files and directories,
// data streamed from wherever it lives (the content store), so an archive of any size is
// produced without a temporary copy. Only what `docker save` needs: names of up to 255 bytes
// (ustar prefix + name), sizes below 8 GiB (11 octal digits) — larger files get a GNU base-256
// size field, which GNU tar, Go's archive/tar and our reader all accept.
import { Readable } from 'node:stream';
import { HakoError } from '../../common/errors.js';

export interface TarFile {
  /** Path inside the archive, `/`-separated, no leading `/`; a trailing `/` for directories. */
  name: string;
  type: 'file' | 'dir';
  /** Bytes of data (files only); must equal what `data` yields. */
  size?: number;
  mode?: number;
  /** Seconds since the epoch (default 0, so archives of the same content are identical). */
  mtime?: number;
  /** The file's bytes: a buffer, or a function opening a stream (called when the entry is written). */
  data?: Buffer | (() => NodeJS.ReadableStream);
}

const BLOCK = 512;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(value.toString(8).padStart(len - 1, '0'), off, len - 1, 'ascii');
  buf[off + len - 1] = 0;
}

/** Splits a long name into ustar's prefix (≤ 155) and name (≤ 100) at a `/`. */
function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  throw new HakoError({ step: `tar entry name "${name}" is too long for a ustar header`, kind: 'internal' });
}

/** One 512-byte ustar header. */
export function tarHeader(f: TarFile): Buffer {
  const h = Buffer.alloc(BLOCK);
  const isDir = f.type === 'dir';
  const full = isDir && !f.name.endsWith('/') ? f.name + '/' : f.name;
  const { prefix, name } = splitName(full);
  const size = isDir ? 0 : (f.size ?? 0);
  h.write(name, 0, 100, 'utf8');
  // With stat(2)'s type bits, as Go's archive/tar in dockerd's save writes them (040755, 0100644).
  octal(h, 100, 8, ((f.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777) | (isDir ? 0o040000 : 0o100000));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  if (size < 8 ** 11) octal(h, 124, 12, size);
  else {
    // GNU base-256: the high bit of the first byte set, the value big-endian in the rest.
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  octal(h, 136, 12, Math.max(0, Math.floor(f.mtime ?? 0)));
  h.fill(0x20, 148, 156);
  h.write(isDir ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'ascii');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/**
 * A tar archive of `files` as a Readable (back-pressure honoured: a file's stream is read only
 * as fast as the consumer takes the archive). A file whose stream yields more or fewer bytes
 * than its declared size fails the archive (the consumer sees an error, never a corrupt tar).
 */
export function tarStream(files: Iterable<TarFile> | AsyncIterable<TarFile>, opts: { signal?: AbortSignal } = {}): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for await (const f of files) {
      opts.signal?.throwIfAborted();
      yield tarHeader(f);
      if (f.type === 'dir') continue;
      const size = f.size ?? 0;
      let n = 0;
      if (Buffer.isBuffer(f.data)) {
        n = f.data.length;
        if (n !== size) throw new HakoError({ step: `tar entry ${f.name}: ${n} bytes of data for a declared size of ${size}`, kind: 'internal' });
        yield f.data;
      } else if (f.data) {
        const src = f.data();
        try {
          for await (const chunk of src as AsyncIterable<Buffer>) {
            n += chunk.length;
            if (n > size) throw new HakoError({ step: `tar entry ${f.name}: more data than the declared ${size} bytes (did the file change?)`, kind: 'internal' });
            yield chunk;
            opts.signal?.throwIfAborted();
          }
        } finally {
          (src as { destroy?: () => void }).destroy?.();
        }
        if (n !== size) throw new HakoError({ step: `tar entry ${f.name}: ${n} bytes of data for a declared size of ${size} (did the file change?)`, kind: 'internal' });
      } else if (size !== 0) {
        throw new HakoError({ step: `tar entry ${f.name}: no data for a declared size of ${size}`, kind: 'internal' });
      }
      const pad = padding(size);
      if (pad.length) yield pad;
    }
    // Two zero blocks end the archive.
    yield Buffer.alloc(2 * BLOCK);
  }
  return Readable.from(generate(), { objectMode: false, highWaterMark: 1 << 20 });
}
