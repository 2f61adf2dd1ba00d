// Turns a layer blob stream into a stream of uncompressed tar bytes. The compression is taken
// from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd), which registries and `docker save` get
// right even when a media type does not (docker accepts an uncompressed blob under a gzip type);
// the media type only rules out what we cannot read (encrypted or unknown compressions).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createGunzip, createInflateRaw, gzipSync, type Gunzip, type InflateRaw } from 'node:zlib';
import { PassThrough } from 'node:stream';

export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression a layer media type declares; undefined when it names none we know. */
export function compressionOfMediaType(mediaType: string): Compression | 'unsupported' | undefined {
  const mt = mediaType.trim().toLowerCase();
  if (mt === '') return undefined;
  if (mt.endsWith('+gzip') || mt.endsWith('.tar.gzip') || mt.endsWith('.tar.gz')) return 'gzip';
  if (mt.endsWith('+zstd') || mt.endsWith('.tar.zstd')) return 'zstd';
  if (mt.endsWith('.tar') || mt.endsWith('/x-tar') || mt.endsWith('.layer.v1.tar')) return 'none';
  if (mt.includes('+encrypted') || mt.includes('+bzip2') || mt.includes('+xz') || mt.includes('+lz4')) return 'unsupported';
  return undefined;
}

/** Compression detected from the first bytes. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** What `docker import` and `docker load` accept on top of layer compressions (moby's DecompressStream). */
export type ArchiveCompression = Compression | 'xz' | 'bzip2';

/** xz (FD 37 7A 58 5A 00) and bzip2 (`BZh`) by their magic, else what sniffCompression says. */
export function sniffArchiveCompression(head: Uint8Array): ArchiveCompression {
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) return 'bzip2';
  return sniffCompression(head);
}

export interface DecompressOptions {
  /** Also xz and bzip2 (through the xz/bzip2 programs, as dockerd runs xz): for import and load, never for layers. */
  archive?: boolean | undefined;
  /**
   * The compression the media type declares: a gzip inflater is made before the first bytes
   * arrive (its set-up then overlaps the wait), and dropped when the bytes say otherwise.
   */
  expect?: Compression | undefined;
  /** Bytes of inflated output per zlib step for gzip (default GUNZIP_CHUNK). */
  gunzipChunk?: number | undefined;
  /**
   * Skip gzip's CRC-32 of the inflated bytes (~0.2 ms of pool CPU per MB: 26 ms for debian's
   * 121 MB layer, 330 → 280 ms for its inflate). Only for a caller that verifies both the blob's digest (the compressed bytes)
   * and the sha256 of every byte this yields (a layer's diff ID), and discards the result when
   * either differs: the CRC then cannot catch anything they miss. The member headers, deflate data,
   * trailers' lengths and what follows a member are checked as zlib's gunzip does.
   */
  skipGzipCrc?: boolean | undefined;
}

export interface DecompressedStream {
  compression: ArchiveCompression;
  /** Uncompressed chunks, in order. */
  chunks: AsyncIterable<Buffer>;
  /** Compressed bytes read so far. */
  compressedBytes(): number;
}

function toBuffer(c: unknown): Buffer {
  if (Buffer.isBuffer(c)) return c;
  if (typeof c === 'string') return Buffer.from(c);
  if (c instanceof Uint8Array) return Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  throw new TypeError('layer stream yielded a non-binary chunk');
}

/**
 * Reads the first bytes to sniff the compression, then yields uncompressed chunks. Gzip is
 * inflated by zlib on the libuv thread pool (so it overlaps with the extraction on the main
 * thread); zstd by fzstd on the main thread (Node 20's zlib has no zstd).
 */
export async function decompress(input: NodeJS.ReadableStream, signal?: AbortSignal, opts: DecompressOptions = {}): Promise<DecompressedStream> {
  const it = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const chunkSize = opts.gunzipChunk ?? GUNZIP_CHUNK;
  const unchecked = opts.skipGzipCrc === true;
  let ready: Gunzip | InflateRaw | undefined = opts.expect === 'gzip' ? (unchecked ? createInflateRaw({ chunkSize }) : createGunzip({ chunkSize })) : undefined;
  let compressed = 0;
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  try {
    while (headLen < 6) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      const b = toBuffer(r.value);
      compressed += b.length;
      head.push(b);
      headLen += b.length;
    }
  } catch (err) {
    ready?.destroy();
    throw err;
  }
  const first = Buffer.concat(head);
  const compression = opts.archive ? sniffArchiveCompression(first) : sniffCompression(first);
  if (compression !== 'gzip' && ready) {
    ready.destroy();
    ready = undefined;
  }

  async function* raw(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (ended) return;
    for (;;) {
      signal?.throwIfAborted();
      const r = await it.next();
      if (r.done) return;
      const b = toBuffer(r.value);
      compressed += b.length;
      yield b;
    }
  }

  let chunks: AsyncIterable<Buffer>;
  if (compression === 'none') chunks = raw();
  else if (compression === 'gzip') chunks = unchecked ? gunzipUnchecked(raw(), ready as InflateRaw | undefined, chunkSize) : gunzip(raw(), ready as Gunzip | undefined, chunkSize);
  else if (compression === 'xz' || compression === 'bzip2') chunks = filterProcess(raw(), toolBinary(compression), compression);
  else chunks = zstdBinary() ? filterProcess(raw(), zstdBinary()!, 'zstd') : unzstd(raw());
  return { compression, chunks, compressedBytes: () => compressed };
}

/** Bytes of inflated output per zlib step (64 KiB ones cost 2x the CPU). */
const GUNZIP_CHUNK = 1 << 20;

async function* gunzip(src: AsyncIterable<Buffer>, made: Gunzip | undefined, chunkSize: number): AsyncGenerator<Buffer> {
  // Hand-driven rather than pipeline(): the consumer pulls, we push one compressed chunk at a
  // time and drain what zlib produced, so memory stays at a few chunks.
  const gz = made ?? createGunzip({ chunkSize });
  const q = new InflatedQueue();
  gz.on('data', (b: Buffer) => q.push(b));
  gz.on('error', (e: Error) => q.fail(e));
  gz.on('end', () => q.end());
  const feeder = (async () => {
    try {
      for await (const c of src) {
        if (q.error) return;
        if (!gz.write(c)) await new Promise<void>((resolve) => gz.once('drain', resolve));
      }
      gz.end();
    } catch (e) {
      q.fail(e as Error);
    }
  })();
  try {
    yield* q.drain(() => gz, feeder);
  } finally {
    if (!q.finished) gz.destroy();
  }
}

/**
 * Inflated chunks handed from zlib's events to the generator its consumer pulls: the stream is
 * paused while more than 4 chunks wait (the buffered output stays bounded) and resumed at 2.
 */
class InflatedQueue {
  private readonly out: Buffer[] = [];
  error: Error | undefined;
  finished = false;
  private wake: (() => void) | undefined;

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  push(b: Buffer): void {
    this.out.push(b);
    this.poke();
  }

  fail(e: Error): void {
    this.error = e;
    this.poke();
  }

  end(): void {
    this.finished = true;
    this.poke();
  }

  /** Yields the chunks as they are pulled until the end, then awaits `feeder`; throws the error. */
  async *drain(stream: () => { pause(): void; resume(): void } | undefined, feeder: Promise<void>): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.out.length > 0) {
        if (this.out.length > 4) stream()?.pause();
        yield this.out.shift()!;
        if (this.out.length <= 2) stream()?.resume();
        continue;
      }
      if (this.error) throw this.error;
      if (this.finished) break;
      stream()?.resume();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    await feeder;
    if (this.error) throw this.error;
  }
}

/** A zlib-like error (its code makes unpack report "gzip data is corrupt"). */
function zlibError(message: string, code: 'Z_DATA_ERROR' | 'Z_BUF_ERROR'): Error {
  return Object.assign(new Error(message), { code, errno: code === 'Z_DATA_ERROR' ? -3 : -5 });
}

/**
 * The length of the gzip member header at the start of `b` (RFC 1952 2.3), or 0 when `b` ends
 * inside it. The header CRC-16 (FHCRC) is skipped, not checked, like the data's CRC-32.
 */
export function gzipHeaderLength(b: Buffer): number {
  if ((b.length >= 1 && b[0] !== 0x1f) || (b.length >= 2 && b[1] !== 0x8b)) throw zlibError('incorrect header check', 'Z_DATA_ERROR');
  if (b.length < 10) return 0;
  if (b[2] !== 8) throw zlibError('unknown compression method', 'Z_DATA_ERROR');
  const flags = b[3]!;
  if (flags & 0xe0) throw zlibError('unknown header flags set', 'Z_DATA_ERROR');
  let p = 10;
  if (flags & 4) {
    // FEXTRA: a 2-byte length, then that many bytes
    if (b.length < p + 2) return 0;
    p += 2 + b.readUInt16LE(p);
    if (b.length < p) return 0;
  }
  for (const flag of [8, 16]) {
    // FNAME, FCOMMENT: zero-terminated
    if (!(flags & flag)) continue;
    const z = b.indexOf(0, p);
    if (z < 0) return 0;
    p = z + 1;
  }
  if (flags & 2) {
    p += 2; // FHCRC
    if (b.length < p) return 0;
  }
  return p;
}

/**
 * gunzip without the CRC-32 (DecompressOptions.skipGzipCrc): each member's header is parsed here
 * and its deflate data inflated raw by zlib on the thread pool; the 8-byte trailer's length is
 * checked against the member's output. As zlib's gunzip (node's): further members are inflated
 * in turn, and input after a member that starts with a zero byte is read and ignored (padding).
 * Where a member's deflate data ends is only known once zlib stops taking input (bytesWritten
 * short of what it was given): the chunks given to it are kept until it has consumed them.
 */
async function* gunzipUnchecked(src: AsyncIterable<Buffer>, made: InflateRaw | undefined, chunkSize: number): AsyncGenerator<Buffer> {
  const it = src[Symbol.asyncIterator]();
  const q = new InflatedQueue();
  let current: InflateRaw | undefined;
  let pending: Buffer = Buffer.alloc(0); // input not yet given to an inflater
  let srcDone = false;
  const more = async (): Promise<boolean> => {
    if (srcDone) return false;
    const r = await it.next();
    if (r.done) {
      srcDone = true;
      return false;
    }
    pending = pending.length === 0 ? r.value : Buffer.concat([pending, r.value]);
    return true;
  };
  /** Inflates one member's deflate data from `pending` on; leaves in `pending` what follows it. */
  const member = async (inf: InflateRaw): Promise<number> => {
    current = inf;
    let produced = 0;
    const endedP = new Promise<void>((resolve) => {
      inf.on('data', (b: Buffer) => {
        produced += b.length;
        q.push(b);
      });
      inf.on('end', resolve);
    });
    const failed = new Promise<never>((_, reject) => inf.on('error', reject));
    failed.catch(() => undefined);
    const write = (b: Buffer): Promise<void> => new Promise<void>((resolve, reject) => inf.write(b, (e) => (e ? reject(e) : resolve())));
    // Given to zlib and not yet consumed: fed[0] starts at input offset fedAt of this member.
    const fed: Buffer[] = [];
    let fedAt = 0;
    let fedEnd = 0;
    const give = async (b: Buffer): Promise<void> => {
      fed.push(b);
      fedEnd += b.length;
      await Promise.race([write(b), failed]);
      const used = inf.bytesWritten;
      while (fed.length > 0 && fedAt + fed[0]!.length <= used) fedAt += fed.shift()!.length;
    };
    const stopped = (): boolean => inf.bytesWritten < fedEnd; // zlib stopped taking input: the deflate data ended
    if (pending.length > 0) {
      const b = pending;
      pending = Buffer.alloc(0);
      await give(b);
    }
    while (!stopped()) {
      const r = await it.next();
      if (r.done) {
        srcDone = true;
        break;
      }
      await give(r.value);
    }
    // Else the input ended with the deflate data or inside it: zlib tells which when flushed.
    if (stopped()) pending = Buffer.concat(fed).subarray(inf.bytesWritten - fedAt);
    inf.end();
    await Promise.race([endedP, failed]);
    return produced;
  };
  const feeder = (async () => {
    try {
      let inf = made;
      for (;;) {
        let h: number;
        while ((h = gzipHeaderLength(pending)) === 0) {
          if (!(await more())) throw zlibError('unexpected end of file', 'Z_BUF_ERROR');
        }
        pending = pending.subarray(h);
        const produced = await member(inf ?? createInflateRaw({ chunkSize }));
        inf = undefined;
        while (pending.length < 8) {
          if (!(await more())) throw zlibError('unexpected end of file', 'Z_BUF_ERROR');
        }
        // CRC-32 (not checked: see skipGzipCrc), then ISIZE: the member's length mod 2^32
        if (pending.readUInt32LE(4) !== produced % 2 ** 32) throw zlibError('incorrect length check', 'Z_DATA_ERROR');
        pending = pending.subarray(8);
        if (pending.length === 0 && !(await more())) break;
        if (pending[0] === 0) {
          // What zlib's gunzip ignores: read to the end (the download feeding us must not stall).
          while (await more()) pending = Buffer.alloc(0);
          break;
        }
      }
      q.end();
    } catch (e) {
      q.fail(e as Error);
    }
  })();
  try {
    yield* q.drain(() => current, feeder);
  } finally {
    if (!q.finished) {
      current?.destroy();
      made?.destroy();
    }
  }
}

let zstdPath: string | null | undefined;
/** The zstd CLI, when installed: ~10x faster than fzstd and runs on the other core. */
function zstdBinary(): string | null {
  if (zstdPath === undefined) {
    zstdPath = ['/usr/bin/zstd', '/bin/zstd', '/usr/local/bin/zstd'].find((p) => existsSync(p)) ?? null;
    if (process.env.HAKO_NO_ZSTD_BINARY) zstdPath = null;
  }
  return zstdPath;
}

/** The xz or bzip2 program; a clear error when it is not installed. */
function toolBinary(tool: 'xz' | 'bzip2'): string {
  const bin = ['/usr/bin', '/bin', '/usr/local/bin'].map((d) => `${d}/${tool}`).find((p) => existsSync(p));
  if (!bin) throw new ZstdError(`the input is ${tool}-compressed and the ${tool} program is not installed (Debian: apt-get install ${tool === 'xz' ? 'xz-utils' : 'bzip2'})`);
  return bin;
}

/** A decompression program's failure (zstd, xz, bzip2), with what it printed. */
export class ZstdError extends Error {
  readonly code = 'ZSTD';
}

async function* filterProcess(src: AsyncIterable<Buffer>, bin: string, tool: string): AsyncGenerator<Buffer> {
  const child = spawn(bin, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let feedError: unknown;
  child.stdin.on('error', () => undefined); // EPIPE when zstd gives up early: its exit status tells why
  const feeder = (async () => {
    try {
      for await (const c of src) {
        if (!child.stdin.write(c)) await new Promise<void>((r) => child.stdin.once('drain', r));
      }
    } catch (e) {
      feedError = e;
      child.kill();
    } finally {
      child.stdin.end();
    }
  })();
  let ok = false;
  try {
    for await (const b of child.stdout as AsyncIterable<Buffer>) yield b;
    await feeder;
    if (feedError) throw feedError;
    const code = await exited;
    if (code !== 0) throw new ZstdError(stderr.trim().replace(/^.*stdin\S*\s*:\s*/, '') || `${tool} exited with status ${code}`);
    ok = true;
  } finally {
    if (!ok && child.exitCode === null) child.kill();
  }
}

async function* unzstd(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Loaded here, not with the module: ~4 ms that a gzip layer (or a host with zstd) never needs.
  const { Decompress: ZstdDecompress } = await import('fzstd');
  let out: Buffer[] = [];
  const z = new ZstdDecompress((data) => {
    out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  for await (const c of src) {
    z.push(c);
    if (out.length > 0) {
      const o = out;
      out = [];
      for (const b of o) yield b;
    }
  }
  z.push(new Uint8Array(0), true);
  for (const b of out) yield b;
}

/**
 * Runs a small gzip stream the way a pull's layer runs (a PassThrough as the download's tap,
 * decompress, zlib's stream on the thread pool, the async iteration), so that a fresh daemon
 * has compiled Node's zlib and stream code before its first pull needs it on the critical
 * path (see registry/http.ts's warmUpHttpClient). Nothing is written anywhere.
 */
export async function warmUpGunzip(): Promise<void> {
  const tap = new PassThrough({ highWaterMark: 1 << 20 });
  tap.end(gzipSync(Buffer.alloc(4096)));
  // A small output chunk: zlib's stream allocates its whole chunk up front (Buffer.allocUnsafe),
  // and the layers' 1 MiB one stayed allocated in the idle daemon until some GC found it dead
  // (bench/hakod-rss.mjs: idle 50.7 MB in most fresh daemons, 49.7 in those where a GC came
  // first; arrayBuffers 1.4 vs 0.3 MB). The 4 KiB output never fills either chunk, so the warm-up
  // runs (and compiles) the same code as before.
  const d = await decompress(tap, undefined, { expect: 'gzip', gunzipChunk: 16 * 1024, skipGzipCrc: true }); // as pull's layers
  for await (const chunk of d.chunks) void chunk;
}
