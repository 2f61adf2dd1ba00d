// Layer unpacking: blob stream → (gzip|zstd|plain) → tar → a directory in overlayfs format.
//
//   unpackLayer(stream, destDir, { mediaType, digest?, signal? }) → { diffId, size, compressedSize }
//
// The layer is extracted into a scratch directory beside destDir (same filesystem) and renamed
// onto destDir only when every entry was written: a failure (malicious entry, corrupt data,
// ENOSPC, abort) leaves nothing behind. destDir must not exist (or be an empty directory).
// The diffID is the sha256 of the uncompressed tar, computed on the way.
//
// Where the time goes (debian bookworm minbase: 49 MB gzip, 121 MB tar, 5235 files, 785 dirs,
// 646 symlinks; 2-CPU VM): inflate ~0.3 s CPU on the libuv pool (1 MB output chunks: 64 KiB
// ones cost 2x the CPU), sha256 of blob and tar ~0.1 s, and the per-entry syscalls ~0.4–0.6 s:
// open(O_CREAT) and write dominate; chown/chmod are skipped when creation already gave the owner
// and mode. On an ext4 without a journal every inode freed in the last ~30 s is skipped one
// inode-table lookup at a time by the next allocations in its group (recently_deleted()): right
// after a large delete, file creation costs ~750 µs instead of ~50 µs, for any tool.
// Without writer threads, the regular files whose data is in one input chunk are created in
// addon jobs on the libuv pool (extract.ts, batchFiles), beside zlib's inflating. Writer threads
// (file-writers.ts) take all file creation off this thread; they pay off only with idle CPUs,
// hence the default (none below 4 CPUs). HAKO_UNPACK_WRITERS=N overrides it.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { compressionOfMediaType, decompress } from './decompress.js';
import { Extractor } from './extract.js';
import { TarFormatError, TarReader } from './tar-reader.js';
import { pullMark } from '../pull-trace.js';

export { cleanName } from './extract.js';
export { TarReader, TarFormatError } from './tar-reader.js';
export type { TarEntry, EntryType } from './tar-reader.js';
export { sniffCompression, compressionOfMediaType } from './decompress.js';
export type { Compression } from './decompress.js';

export interface UnpackOptions {
  /** The layer's media type (OCI or Docker); the compression is sniffed from the bytes too. */
  mediaType: string;
  /** The blob digest (`sha256:…`), used in error messages. */
  digest?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Apply the headers' uid/gid (default: when running as root). */
  chown?: boolean | undefined;
  /**
   * Worker threads creating regular files once a layer has more than a few dozen (default: 2
   * with 4 or more CPUs, else none; 0 writes everything on the calling thread).
   */
  writerThreads?: number | undefined;
  /** Regular files written on the calling thread before the writer threads take over (default 64). */
  writersAfterFiles?: number | undefined;
  /** Without writer threads: regular files written on the calling thread before pool jobs take over (default 64). */
  batchFilesAfter?: number | undefined;
  /**
   * Skip gzip's CRC-32 (decompress.ts, skipGzipCrc): only for a caller that checks the blob's
   * digest and the returned diffId and removes the layer when either differs (pull does).
   */
  skipGzipCrc?: boolean | undefined;
}

export interface UnpackResult {
  /** `sha256:` + hex of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Bytes read from the input. */
  compressedSize: number;
  /** Tar entries processed. */
  entries: number;
  /** Bytes of the layer's files as dockerd counts a layer's size (see Extractor.contentBytes). */
  contentSize: number;
}

/** Unpacks one layer into destDir (created by the final rename). See the file comment. */
export async function unpackLayer(input: NodeJS.ReadableStream, destDir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const dest = resolve(destDir);
  const label = `layer ${opts.digest ?? basename(dest)}`;
  const declared = compressionOfMediaType(opts.mediaType);
  if (declared === 'unsupported') {
    destroy(input);
    throw new HakoError({ step: `${label}: unsupported layer media type "${opts.mediaType}"`, kind: 'invalid-argument', hint: 'only plain, gzip and zstd tar layers can be unpacked' });
  }
  let work: string;
  try {
    work = mkdtempSync(join(dirname(dest), `.${basename(dest)}.unpack-`));
  } catch (e) {
    destroy(input);
    throw fromSystemError(`${label}: create scratch directory beside ${dest}`, e, dirname(dest));
  }
  const root = join(work, 'root');
  const extractor = new Extractor({ root, scratch: work, label, chown: opts.chown ?? process.getuid?.() === 0, writerThreads: opts.writerThreads ?? defaultWriterThreads(), poolAfter: opts.writersAfterFiles, batchSymlinks: true, batchFiles: true, batchFilesAfter: opts.batchFilesAfter });
  const reader = new TarReader(extractor);
  const hash = createHash('sha256');
  let size = 0;
  let compressedSize = 0;
  try {
    mkdirSync(root, 0o755);
    opts.signal?.throwIfAborted();
    const d = await decompress(input, opts.signal, { expect: declared, skipGzipCrc: opts.skipGzipCrc });
    let first = true;
    for await (const chunk of d.chunks) {
      if (first) pullMark('unpack.first-chunk');
      first = false;
      hash.update(chunk);
      size += chunk.length;
      reader.write(chunk);
      while (reader.holding) {
        // An entry that depends on the waiting symlinks: they are created first (extract.ts).
        await extractor.flushLinks();
        reader.resume();
      }
      // This chunk's symlinks go to the pool while the next chunk is parsed.
      extractor.submitLinks();
      await extractor.pace();
      if (opts.signal?.aborted) opts.signal.throwIfAborted();
    }
    compressedSize = d.compressedBytes();
    pullMark('unpack.last-chunk');
    await extractor.flushLinks();
    reader.finish();
    extractor.finish();
    pullMark('unpack.extractor-finished');
    await extractor.close(false);
    try {
      renameSync(root, dest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') {
        throw new HakoError({ step: `${label}: move into place at ${dest}`, path: dest, errno: code === 'ENOTDIR' ? 20 : 39, kind: 'conflict', hint: 'the destination already exists' });
      }
      throw e;
    }
    // Usually empty now (the root was renamed out); whiteout templates may remain. rmdir first:
    // a recursive rmSync loads node's rimraf module, ~0.7 ms of compiling on a daemon's first pull.
    try {
      rmdirSync(work);
    } catch {
      rmSync(work, { recursive: true, force: true });
    }
    pullMark('unpack.done');
    return { diffId: 'sha256:' + hash.digest('hex'), size, compressedSize, entries: extractor.entries, contentSize: extractor.contentBytes };
  } catch (e) {
    extractor.abort();
    destroy(input);
    // The writer threads stop before the scratch directory goes: nothing is written after.
    await extractor.close(true).catch(() => undefined);
    try {
      rmSync(work, { recursive: true, force: true });
    } catch {
      try {
        rmdirSync(work);
      } catch {
        /* reported below as the original error */
      }
    }
    throw toHakoError(e, label);
  }
}

function defaultWriterThreads(): number {
  const env = process.env.HAKO_UNPACK_WRITERS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  // With fewer than 4 CPUs the threads cost more than they give: zlib already keeps a second
  // core busy, and the workers' start-up and hand-over (~0.3 s CPU for a 121 MB, 5k-file layer)
  // were measured to make a pull slower on a loaded 2-CPU machine.
  return availableParallelism() >= 4 ? 2 : 0;
}

function destroy(input: NodeJS.ReadableStream): void {
  const d = (input as { destroy?: () => void }).destroy;
  if (typeof d === 'function') {
    try {
      d.call(input);
    } catch {
      /* ignore */
    }
  }
}

function toHakoError(e: unknown, label: string): HakoError {
  if (e instanceof HakoError) return e;
  if (e instanceof TarFormatError) return new HakoError({ step: `${label}: ${e.message}`, kind: 'invalid-argument', cause: e });
  const err = e as NodeJS.ErrnoException & { name?: string };
  if (err?.name === 'AbortError') return new HakoError({ step: `${label}: unpack aborted`, kind: 'internal', cause: e });
  if (typeof err?.code === 'string' && err.code.startsWith('Z_')) {
    return new HakoError({ step: `${label}: gzip data is corrupt (${err.message})`, kind: 'invalid-argument', cause: e });
  }
  if (err && (typeof (err as { code?: unknown }).code === 'number' || (err as { code?: unknown }).code === 'ZSTD')) {
    // fzstd errors carry a numeric code.
    return new HakoError({ step: `${label}: zstd data is corrupt (${err.message})`, kind: 'invalid-argument', cause: e });
  }
  return fromSystemError(`${label}: unpack`, e);
}
