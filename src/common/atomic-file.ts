// Crash-safe small files: write a uniquely named temp file beside the target (exclusive create),
// fsync it, rename it over the target, fsync the directory. A reader sees the old content or the
// new one, never a torn file, and two writers of one file never share a temp name.
import { closeSync, fsync as fsyncCb, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { joinPath as join } from './join-path.js';
import { fromSystemError } from './errors.js';

/**
 * A temp name no other writer uses: our pid (unique among live processes), the monotonic clock
 * in nanoseconds (two writes of one process never start in the same nanosecond) and a random
 * part against a reused pid's leftovers; the exclusive create catches anything else. (Not
 * node:crypto: loading it costs a short command ~5 ms of start-up.)
 */
export function tempName(path: string): string {
  const rand = Math.floor(Math.random() * 0x1000000).toString(16);
  return join(dirname(path), `.${basename(path)}.${process.pid}-${process.hrtime.bigint().toString(36)}-${rand}.tmp`);
}

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0o600). */
  mode?: number;
  /** fsync the file and its directory (default true); false only for files a crash may lose. */
  durable?: boolean;
  /** Create the directory when missing (writeFileAtomic only; default true). */
  createDir?: boolean;
  /**
   * stageFileAtomic only, durable: the file's fsync is left to `commit` (which then fsyncs the
   * temp file, renames it and fsyncs the directory), so the staging is only a write.
   */
  syncAtCommit?: boolean;
  /** stageFileAtomicSync only: how the early fsync is done (e.g. an fsyncChain shared by files staged together). */
  fsyncVia?: ((fd: number) => Promise<void>) | undefined;
}

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes all of `data` at the fd's position. write(2) may write less than asked without an error:
 * on a filesystem with fewer free bytes than the data (ENOSPC/EDQUOT only for the write after), a
 * file written by one writeSync was renamed in cut short (a container's state.json, read back
 * as corrupt). The loop makes the next write report the errno.
 */
export function writeAllSync(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) {
    const n = writeSync(fd, buf, off, buf.length - off);
    // (0 for a regular file with bytes asked: nothing more would go; ENOSPC in the kernel's words)
    if (n <= 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC', errno: -28 });
    off += n;
  }
}

/** Synchronous atomic write (used on the container start path, where it is cheaper). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = tempName(path);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o600);
    writeAllSync(fd, data);
    if (opts.durable !== false) fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
    if (opts.durable !== false) fsyncDirSync(dirname(path));
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* not created, or already renamed */
    }
    throw fromSystemError(`write ${path}`, err, path);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Asynchronous atomic write; creates the directory when missing (unless createDir is false). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  if (opts.createDir !== false) {
    await mkdir(dirname(path), { recursive: true }).catch((err: unknown) => {
      throw fromSystemError(`write ${path}`, err, path);
    });
  }
  const staged = await stageFileAtomic(path, data, opts);
  await staged.commit();
}

/** A file written (and fsynced) under a temp name: `commit` renames it over the target. */
export interface StagedFile {
  /**
   * Renames the temp file over the target and (durable) fsyncs the directory. `beforeRename`:
   * work that must be done before the rename (e.g. an fsync of the parent's parent), run beside
   * the file's own fsync.
   */
  commit(beforeRename?: Promise<unknown>): Promise<void>;
  /** Removes the temp file (after a failed or skipped commit). */
  abort(): Promise<void>;
}

/**
 * The first half of writeFileAtomic, for callers that write several files side by side and
 * must make them appear in a given order: the slow part (write, fsync) of all of them at once,
 * then each commit (rename, fsync of the directory) in that order. The directory must exist.
 */
export async function stageFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<StagedFile> {
  const tmp = tempName(path);
  const abort = (): Promise<void> => unlink(tmp).catch(() => undefined);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      if (opts.durable !== false && !opts.syncAtCommit) await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await abort();
    throw fromSystemError(`write ${path}`, err, path);
  }
  return stagedAt(path, tmp, opts, abort);
}

/**
 * stageFileAtomic with the write done synchronously, for a small file on a latency path. Its
 * commit keeps the thread pool to the waits on the disk: the temp file's fd stays open for its
 * fsync, the rename and the directory's open are synchronous (in memory; tens of µs), so the
 * commit is two pool round trips (the file's fsync, then the directory's) instead of about nine
 * (open, sync, close of each, the rename). With syncAtCommit the file's fsync waits for the
 * commit; without it (durable) it starts now, in the pool, and the commit awaits it: a pull's
 * record and reference table are staged while its layers' last bytes are unpacked on the main
 * thread, where each of stageFileAtomic's round trips (open, write, sync, close) waited for a
 * turn of a busy event loop.
 */
export function stageFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): StagedFile {
  const tmp = tempName(path);
  let fd = -1;
  const closeFd = () => {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
      fd = -1;
    }
  };
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o600);
    writeAllSync(fd, data);
  } catch (err) {
    closeFd();
    try {
      unlinkSync(tmp);
    } catch {
      /* not created */
    }
    throw fromSystemError(`write ${path}`, err, path);
  }
  const durable = opts.durable !== false;
  // The fd is closed only once this fsync has settled: a number closed under a running fsync
  // could be reused by another open meanwhile.
  const early = durable && !opts.syncAtCommit ? (opts.fsyncVia ?? fsyncFd)(fd) : undefined;
  early?.catch(() => undefined); // awaited by commit, settled by abort
  const abort = async (): Promise<void> => {
    await early?.catch(() => undefined);
    closeFd();
    await unlink(tmp).catch(() => undefined);
  };
  return {
    abort,
    async commit(beforeRename) {
      const fileSynced = early ?? (durable ? fsyncFd(fd) : Promise.resolve());
      try {
        await Promise.all([fileSynced, beforeRename]);
        closeFd();
        renameSync(tmp, path);
        if (durable) await fsyncDirFast(dirname(path));
      } catch (err) {
        await fileSynced.catch(() => undefined);
        await abort();
        throw fromSystemError(`write ${path}`, err, path);
      }
    },
  };
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => fsyncCb(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * fsyncs one after the other on the thread pool, in the order asked: for files written together
 * ahead of their commit (a pull's config and manifest; its record and reference table). An
 * fsync holds a pool thread for the disk's whole round trip (a loop-mounted ext4 under load:
 * 5–27 ms), and libuv's pool has 4: a pull's four staged files, each fsynced on its own thread,
 * took every thread while its layer's bytes came in, and the blob's writes, zlib's inflating and
 * the unpack's file jobs queued behind them (perf trace: the layer's 1 MB write waited 27 ms for
 * a thread). Chained, a group takes one thread; on a journaling filesystem the first fsync's
 * commit carries the other files of the group (written before it), so the ones behind it have
 * little left to wait for. What is durable before each commit point is unchanged: a commit still
 * awaits its files' fsyncs.
 */
export function fsyncChain(): (fd: number) => Promise<void> {
  let last: Promise<unknown> = Promise.resolve();
  return (fd) => {
    const p = last.then(() => fsyncFd(fd));
    last = p.catch(() => undefined);
    return p;
  };
}

/** fsyncDir with one thread-pool round trip (the fsync): the directory is opened and closed synchronously. */
export async function fsyncDirFast(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function stagedAt(path: string, tmp: string, opts: AtomicWriteOptions, abort: () => Promise<void>): StagedFile {
  const dir = dirname(path);
  return {
    abort,
    async commit(beforeRename) {
      try {
        const fileSynced = (async () => {
          if (opts.durable !== false && opts.syncAtCommit) {
            const fh = await open(tmp, 'r');
            try {
              await fh.sync();
            } finally {
              await fh.close();
            }
          }
        })();
        await Promise.all([fileSynced, beforeRename]);
        await rename(tmp, path);
        if (opts.durable !== false) await fsyncDir(dir);
      } catch (err) {
        await abort();
        throw fromSystemError(`write ${path}`, err, path);
      }
    },
  };
}
