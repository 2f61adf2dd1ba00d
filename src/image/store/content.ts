// The content store: blobs addressed by sha256 under <root>/content/blobs/sha256/<hex>.
// A blob becomes visible only complete and verified: it is written to ingest/<hex>.partial
// while its digest is computed, fsynced, then renamed into blobs/. A partial file left by an
// interrupted download is resumed (its bytes are re-hashed, the rest fetched with Range).
// Concurrent ingests of one digest in this process share a single download.
import { close as closeCb, closeSync, createReadStream, existsSync, fstatSync, fsync as fsyncCb, ftruncateSync, mkdirSync, openSync, readdirSync, renameSync, statSync, writeSync, writev as writevCb, type ReadStream } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { digestHex, hasherDigest, isDigest, newHasher, sha256, type Digest } from '../digest.js';
import { fsyncChain, fsyncDirFast } from '../../common/atomic-file.js';
import { pullMark } from '../pull-trace.js';
import { startWriteback } from '../../native/fs.js';

export interface ExpectedBlob {
  digest: Digest;
  size: number;
  /** What the blob is, for messages: `layer`, `config`, `manifest`. */
  what?: string;
}

/** Opens the blob's bytes from `offset`; `start` says where the returned body really starts (a server may ignore Range). */
export type BlobFetcher = (offset: number, signal?: AbortSignal) => Promise<{ body: Readable; start: number }>;

export interface IngestOptions {
  /**
   * Called only if this ingest really downloads the blob; the returned stream then receives
   * every byte of it, in order, from the first (for streaming unpack), and is ended at the end
   * or destroyed with the error.
   */
  tap?: (() => Writable) | undefined;
  signal?: AbortSignal | undefined;
  /** Attempts for a body that breaks off (network errors); default 5. */
  attempts?: number | undefined;
  /** Called with the number of new bytes as they arrive. */
  onProgress?: ((bytes: number) => void) | undefined;
  /**
   * Awaited once the blob is verified and fsynced, before it is renamed into the store: when it
   * rejects, the download is dropped (nothing is stored) and ingest rejects with its reason.
   */
  commitGate?: Promise<unknown> | undefined;
  /**
   * Rename the blob into the store without fsyncing the directory: the caller makes the name
   * durable with `syncNames()` before anything that refers to the blob is (a pull's record), so
   * that the names of a pull's blobs cost one directory fsync, not one each.
   */
  deferDirSync?: boolean | undefined;
}

export interface IngestResult {
  /** False when the blob was already present or another ingest in this process fetched it. */
  downloaded: boolean;
  /** Whether `tap` got the bytes (false when the blob came from the store or another ingest). */
  tapped: boolean;
  /** Bytes taken from a partial file of an earlier, interrupted download. */
  resumedFrom: number;
}

export interface ContentVerifyReport {
  ok: boolean;
  /** Partial downloads in ingest/ (resumable; fine while a pull runs, leftovers otherwise). */
  partial: string[];
  /** Blob files whose content does not hash to their name. */
  corrupt: string[];
  /** Files that do not belong: temp files in blobs/, bad names. */
  stray: string[];
}

/** Marks an error (a 5xx answer, a dropped connection) as worth another attempt. */
export function markRetryable<E extends Error>(err: E): E {
  (err as E & { retryable?: boolean }).retryable = true;
  return err;
}

export function isRetryable(err: unknown): boolean {
  if ((err as { retryable?: boolean })?.retryable === true) return true;
  if (err instanceof HakoError) return false;
  const code = (err as NodeJS.ErrnoException)?.code;
  return (
    code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE' || code === 'ETIMEDOUT' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'UND_ERR_SOCKET' || code === 'ECONNABORTED' ||
    (err as Error)?.message === 'aborted' || (err as Error)?.name === 'PrematureCloseError'
  );
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}

async function writeTap(tap: Writable | undefined, chunk: Buffer): Promise<void> {
  if (!tap || tap.destroyed) return;
  if (!tap.write(chunk)) {
    if (tap.destroyed) return;
    // One listener pair per wait, removed after: once() on both events would leave the loser's
    // listener behind on every wait (MaxListenersExceededWarning after ten).
    await new Promise<void>((resolve) => {
      const done = (): void => {
        tap.off('drain', done);
        tap.off('close', done);
        resolve();
      };
      tap.on('drain', done);
      tap.on('close', done);
    });
  }
}

/** writev of every byte of `bufs` (a short write continues where it stopped). */
async function writevAll(fd: number, bufs: Buffer[]): Promise<void> {
  let total = 0;
  for (const b of bufs) total += b.length;
  let done = await new Promise<number>((resolve, reject) => writevCb(fd, bufs, (err, n) => (err ? reject(err) : resolve(n))));
  while (done < total) {
    const rest = Buffer.concat(bufs).subarray(done);
    done += await new Promise<number>((resolve, reject) => writevCb(fd, [rest], (err, n) => (err ? reject(err) : resolve(n))));
  }
}

const fdSync = (fd: number): Promise<void> => new Promise((resolve, reject) => fsyncCb(fd, (err) => (err ? reject(err) : resolve())));
const fdClose = (fd: number): Promise<void> => new Promise((resolve, reject) => closeCb(fd, (err) => (err ? reject(err) : resolve())));

/** Bytes of a download collected before they are written to the partial file with one writev. */
/**
 * A `.partial` download not written to for this long is swept at start-up (leftovers()), not kept
 * for a resume: 24 h, containerd's default expiry of an ingest left by a client.
 */
export const PARTIAL_EXPIRY_MS = 24 * 60 * 60 * 1000;

const WRITE_BATCH = 1 << 20;
/** Bytes of a download written before their writeback is started (sync_file_range). */
const WRITEBACK_BATCH = 8 << 20;

export class ContentStore {
  readonly root: string;
  readonly blobsDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<Digest, Promise<IngestResult>>();
  /**
   * Blobs operations in flight use before a record names them (counts): a pull's, from its
   * manifest's resolution to its end (PullContext.inUse), a load's found already stored. A
   * collection or a failed operation's cleanup leaves them (removeUnclaimed).
   */
  readonly claims = new Map<Digest, number>();
  /** Unlinks of blobs removeUnclaimed took out of blobs/, on the thread pool. */
  private readonly unlinking = new Set<Promise<void>>();
  /** Blobs renamed into blobs/ whose names no started directory fsync covers yet. */
  private unsynced = 0;
  /** The directory fsync under way, if any. */
  private syncing: Promise<void> | undefined;

  constructor(root: string) {
    this.root = join(root, 'content');
    this.blobsDir = join(this.root, 'blobs', 'sha256');
    this.ingestDir = join(this.root, 'ingest');
  }

  async init(): Promise<void> {
    // Synchronous: two mkdir calls (EEXIST once the store exists), not four thread-pool round
    // trips at the start of every pull and ingest.
    try {
      mkdirSync(this.blobsDir, { recursive: true });
      mkdirSync(this.ingestDir, { recursive: true });
    } catch (err) {
      throw fromSystemError(`create content store in ${this.root}`, err, this.root);
    }
  }

  /**
   * Makes the names of blobs renamed into the store so far durable (one fsync of blobs/ covers
   * them all); returns at once when a finished fsync already did.
   */
  async syncNames(): Promise<void> {
    if (this.unsynced === 0) {
      // Every rename so far happened before a directory fsync started: wait for it, if running.
      await this.syncing;
      return;
    }
    this.unsynced = 0;
    // One pool round trip (the fsync; the directory opened and closed synchronously): a pull's
    // commit waits for this while its last layer may still keep the event loop busy.
    const p = fsyncDirFast(this.blobsDir);
    this.syncing = p;
    try {
      await p;
    } catch (err) {
      this.unsynced++;
      throw fromSystemError(`sync ${this.blobsDir}`, err, this.blobsDir);
    } finally {
      if (this.syncing === p) this.syncing = undefined;
    }
  }

  blobPath(d: Digest): string {
    return join(this.blobsDir, digestHex(d));
  }

  has(d: Digest): boolean {
    return existsSync(this.blobPath(d));
  }

  /** Whether an ingest of `d` is running in this process. */
  ingesting(d: Digest): boolean {
    return this.inflight.has(d);
  }

  size(d: Digest): number | undefined {
    try {
      return statSync(this.blobPath(d)).size;
    } catch {
      return undefined;
    }
  }

  async readBlob(d: Digest): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(d));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new HakoError({ step: `blob ${d} is not in the content store`, kind: 'not-found', cause: err });
      }
      throw fromSystemError(`read blob ${d}`, err, this.blobPath(d));
    }
  }

  /** Streams a blob, or bytes start..end (inclusive) of it. */
  openBlob(d: Digest, start = 0, end?: number): ReadStream {
    return createReadStream(this.blobPath(d), { start, end, highWaterMark: 1 << 20 });
  }

  async list(): Promise<Digest[]> {
    const names = await readdir(this.blobsDir).catch(() => [] as string[]);
    return names.map((n) => `sha256:${n}`).filter(isDigest);
  }

  /** Claims blobs (see `claims`) until the returned release is called (once). */
  claim(digests: Iterable<Digest>): () => void {
    const held = [...digests];
    countUp(this.claims, held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      countDown(this.claims, held);
    };
  }

  /**
   * Removes blob `d` unless an operation in flight claims it (`claims`); false when it stays (or
   * was gone). The look at the claims and the blob's removal from blobs/ are one synchronous
   * step: a pull or load that claims the blob before it keeps it, one that claims it after finds
   * it gone (and fetches or stages it again). With an await between the two, a claimer could find
   * the blob still present and lose it a moment later. The mark 'gc.blob-unlinking' comes before
   * the look (a test's ordering point). `unlinked()` waits for the space to be freed.
   */
  removeUnclaimed(d: Digest): boolean {
    pullMark('gc.blob-unlinking');
    if (this.claims.has(d)) return false;
    // Out of blobs/ in this step by a rename; the unlink runs on the thread pool. An unlink frees
    // the file's blocks (and page cache) before it returns: 13 ms for 50 MB, 28 ms for 100 MB on
    // ext4 (tmpfs 6/12, overlay 15/29) of event loop; a rename takes ~0.1 ms. The name ends in .tmp
    // in ingest/: a daemon that dies before the unlink leaves it to the start-up sweep (leftovers()).
    const trash = join(this.ingestDir, `${digestHex(d)}.${randomBytes(4).toString('hex')}.removed.tmp`);
    try {
      renameSync(this.blobPath(d), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fromSystemError(`remove blob ${d}`, err, this.blobPath(d));
    }
    const p: Promise<void> = unlink(trash)
      .catch(() => undefined) // left for the start-up sweep
      .finally(() => this.unlinking.delete(p));
    this.unlinking.add(p);
    return true;
  }

  /** Resolves once the unlinks removeUnclaimed started are done (the space is free again). */
  async unlinked(): Promise<void> {
    while (this.unlinking.size > 0) await Promise.all([...this.unlinking]);
  }

  /** Stores a small blob held in memory; verifies it against `expected` when given. */
  async putBlob(data: Buffer, expected?: ExpectedBlob): Promise<Digest> {
    const [d] = await this.putBlobs([{ data, expected }]);
    return d!;
  }

  /**
   * Stores small blobs held in memory, each verified against its `expected` when given, all or
   * none: they are written and fsynced side by side, then renamed into place, with one fsync of
   * the directory (a pull's config, manifest and index cost two fsync latencies, not six).
   */
  async putBlobs(items: ReadonlyArray<{ data: Buffer; expected?: ExpectedBlob | undefined }>): Promise<Digest[]> {
    const staged = await this.stageBlobs(items);
    await staged.commit();
    return staged.digests;
  }

  /**
   * putBlobs in two halves, for a pull that knows its config and manifest long before it may
   * show them: verified, written and fsynced under temp names in ingest/ now; `commit` renames
   * them into blobs/ (and fsyncs the directory), `abort` removes them. Exactly one of the two
   * must be called.
   */
  async stageBlobs(items: ReadonlyArray<{ data: Buffer; expected?: ExpectedBlob | undefined }>): Promise<{ digests: Digest[]; commit(): Promise<void>; abort(): Promise<void> }> {
    const digests = items.map(({ data, expected }) => {
      const got = sha256(data);
      if (expected) this.check(expected, got, data.length);
      return got;
    });
    const todo = items.map((it, i) => ({ ...it, digest: digests[i]! })).filter((it, i) => !this.has(it.digest) && digests.indexOf(it.digest) === i);
    const nothing = async (): Promise<void> => undefined;
    if (todo.length === 0) return { digests, commit: nothing, abort: nothing };
    await this.init();
    const tmps = todo.map((it) => join(this.ingestDir, `${digestHex(it.digest)}.${randomBytes(4).toString('hex')}.tmp`));
    const removeTemps = async (): Promise<void> => {
      await Promise.all(tmps.map((t) => unlink(t).catch(() => undefined)));
    };
    let current = todo[0]!;
    try {
      // Small files: created and written synchronously, all of them before the first fsync;
      // the fsyncs wait on the pool one after the other (fsyncChain: one pool thread).
      const fds: number[] = [];
      let synced: Array<Promise<void>> = [];
      try {
        for (const [i, it] of todo.entries()) {
          current = it;
          const fd = openSync(tmps[i]!, 'wx', 0o644);
          fds.push(fd);
          let off = 0;
          while (off < it.data.length) off += writeSync(fd, it.data, off);
        }
        const fsync = fsyncChain();
        synced = fds.map((fd) => fsync(fd));
        for (const [i, p] of synced.entries()) {
          current = todo[i]!;
          await p;
        }
      } finally {
        // (an fd closed under a running fsync could be reused by another open meanwhile)
        await Promise.allSettled(synced);
        for (const fd of fds) closeSync(fd);
      }
    } catch (err) {
      await removeTemps();
      throw fromSystemError(`store ${current.expected?.what ?? 'blob'} ${current.digest}`, err);
    }
    return {
      digests,
      abort: removeTemps,
      commit: async () => {
        try {
          // Renames in memory (tens of µs each), not a pool round trip each behind the fsyncs.
          for (const [i, it] of todo.entries()) {
            current = it;
            renameSync(tmps[i]!, this.blobPath(it.digest));
            this.unsynced++;
          }
          await this.syncNames();
        } catch (err) {
          await removeTemps();
          throw fromSystemError(`store ${current.expected?.what ?? 'blob'} ${current.digest}`, err);
        }
      },
    };
  }

  private check(expected: ExpectedBlob, got: Digest, size: number): void {
    const what = expected.what ?? 'blob';
    if (got !== expected.digest) {
      throw new HakoError({ step: `digest mismatch for ${what} ${expected.digest}: expected ${expected.digest}, got ${got}`, hint: 'nothing was stored', kind: 'internal' });
    }
    if (size !== expected.size) {
      throw new HakoError({ step: `size mismatch for ${what} ${expected.digest}: expected ${expected.size} bytes, got ${size}`, hint: 'nothing was stored', kind: 'internal' });
    }
  }

  /**
   * Downloads a blob into the store with `fetch`, verifying size and digest while streaming.
   * On a digest or size mismatch nothing is stored (the partial file is removed); on a broken
   * connection it retries from where it stopped, with backoff.
   */
  ingest(expected: ExpectedBlob, fetch: BlobFetcher, opts: IngestOptions = {}): Promise<IngestResult> {
    if (this.has(expected.digest)) return Promise.resolve({ downloaded: false, tapped: false, resumedFrom: 0 });
    const running = this.inflight.get(expected.digest);
    if (running) return running.then((r) => ({ ...r, downloaded: false, tapped: false }));
    const p = this.doIngest(expected, fetch, opts).finally(() => this.inflight.delete(expected.digest));
    this.inflight.set(expected.digest, p);
    return p;
  }

  private async doIngest(expected: ExpectedBlob, fetch: BlobFetcher, opts: IngestOptions): Promise<IngestResult> {
    await this.init();
    const what = expected.what ?? 'blob';
    const partial = join(this.ingestDir, `${digestHex(expected.digest)}.partial`);
    const hasher = newHasher();
    let fd: number | undefined;
    // The writeback job under way on the pool (startWriteback): fd stays open until it is done.
    let writeback: Promise<void> | undefined;
    let offset = 0;
    let resumedFrom = 0;
    const tap = opts.tap?.();
    try {
      try {
        // Opened synchronously (one syscall each): the first bytes of the body wait for this.
        fd = openSync(partial, 'a+', 0o644);
        const existing = fstatSync(fd).size;
        if (existing > expected.size) {
          ftruncateSync(fd, 0);
        } else if (existing > 0) {
          // Re-hash what an earlier attempt left, and give it to the tap first.
          for await (const chunk of createReadStream(partial, { end: existing - 1, highWaterMark: 1 << 20 })) {
            hasher.update(chunk as Buffer);
            await writeTap(tap, chunk as Buffer);
          }
          offset = resumedFrom = existing;
        }
      } catch (err) {
        throw fromSystemError(`open ${partial}`, err, partial);
      }
      const attempts = opts.attempts ?? 5;
      // Bytes received (hashed, counted in `offset`, given to the tap) but not yet in the partial
      // file: written in batches with one writev, without holding up the tap meanwhile.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      // The file's bytes so far, and how far their writeback was started: every WRITEBACK_BATCH
      // written, the kernel starts writing them out, so that the fsync at the end waits for the
      // last few MB rather than the whole blob.
      let inFile = offset;
      let writebackFrom = offset;
      const flush = async (): Promise<void> => {
        if (pendingBytes === 0) return;
        const bufs = pending;
        const n = pendingBytes;
        pending = [];
        pendingBytes = 0;
        try {
          await writevAll(fd!, bufs);
          inFile += n;
          if (inFile - writebackFrom >= WRITEBACK_BATCH && fd !== undefined) {
            // The jobs run one after another (one behind a congested device queue holds one pool
            // thread, not more); a failure is ignored: a hint to the kernel only, the fsync
            // writes what it did not.
            const [f, from, n] = [fd, writebackFrom, inFile - writebackFrom];
            writebackFrom = inFile;
            writeback = (writeback ?? Promise.resolve()).then(() => startWriteback(f, from, n)).catch(() => undefined);
          }
        } catch (err) {
          throw fromSystemError(`write ${what} ${expected.digest} to ${this.ingestDir}`, err, partial);
        }
      };
      // A partial file that is already whole (a crash between its fsync and its rename into
      // blobs/) needs no request: a Range from its end is answered 416 by registries, which
      // failed every later pull of the blob. Its hash is checked below like a download's.
      const whole = resumedFrom > 0 && resumedFrom === expected.size;
      for (let attempt = 1; !whole && (offset < expected.size || attempt === 1); attempt++) {
        try {
          const { body, start } = await fetch(offset, opts.signal);
          let skip = offset - start;
          if (skip < 0) throw new HakoError({ step: `fetch ${what} ${expected.digest}: server answered from byte ${start}, wanted ${offset}`, kind: 'internal' });
          for await (const raw of body) {
            if (opts.signal?.aborted) {
              body.destroy();
              throw opts.signal.reason;
            }
            let chunk = raw as Buffer;
            if (skip > 0) {
              if (chunk.length <= skip) { skip -= chunk.length; continue; }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            if (offset + chunk.length > expected.size) {
              body.destroy();
              throw new HakoError({ step: `size mismatch for ${what} ${expected.digest}: expected ${expected.size} bytes, got more`, hint: 'nothing was stored', kind: 'conflict' });
            }
            hasher.update(chunk);
            pending.push(chunk);
            pendingBytes += chunk.length;
            offset += chunk.length;
            opts.onProgress?.(chunk.length);
            const written = pendingBytes >= WRITE_BATCH ? flush() : undefined;
            written?.catch(() => undefined); // awaited below; not unhandled while the tap waits
            await writeTap(tap, chunk);
            if (written) {
              try {
                await written;
              } catch (err) {
                body.destroy();
                throw err;
              }
            }
          }
          await flush();
          break;
        } catch (err) {
          // What was received is kept (for a resume) only when all of it reached the file.
          await flush();
          if (opts.signal?.aborted || !isRetryable(err) || attempt >= attempts) throw err;
          await sleep(Math.min(100 * 2 ** (attempt - 1), 2000), opts.signal);
        }
      }
      pullMark('ingest.body-end');
      const got = hasherDigest(hasher);
      this.check(expected, got, offset);
      // Verified: the tap may finish (e.g. unpack its last entries) while the blob is made durable.
      tap?.end();
      try {
        await writeback;
        await fdSync(fd);
        pullMark('ingest.fsynced');
        const f = fd;
        fd = undefined;
        // close and (below) rename are synchronous: each is in memory, and as a pool round trip
        // it waited for a turn of an event loop busy with the layer's unpack.
        closeSync(f);
      } catch (err) {
        throw fromSystemError(`store ${what} ${expected.digest}`, err, partial);
      }
      if (opts.commitGate) await opts.commitGate;
      try {
        renameSync(partial, this.blobPath(expected.digest));
        this.unsynced++;
        if (!opts.deferDirSync) await this.syncNames();
        pullMark('ingest.stored');
      } catch (err) {
        throw fromSystemError(`store ${what} ${expected.digest}`, err, partial);
      }
      return { downloaded: true, tapped: tap !== undefined, resumedFrom };
    } catch (err) {
      await writeback;
      if (fd !== undefined) await fdClose(fd).catch(() => undefined);
      // Keep a partial download only when it can be resumed: a broken connection. A bad digest,
      // a full disk or anything else removes it, so nothing is left behind.
      if (!isRetryable(err) || offset === 0) {
        await unlink(partial).catch(() => undefined);
      }
      tap?.destroy(err as Error);
      throw err;
    }
  }

  /**
   * What a crash left in ingest/: staged blobs (stageBlobs' `<hex>.<random>.tmp`, never committed)
   * and the staging dirs of loads, imports and commits (BlobStaging's `stage-<random>`), and
   * `.partial` downloads not written to for PARTIAL_EXPIRY_MS: a later pull of the same blob
   * resumes a younger one, but one of a pull never retried (or of a registry that claimed sizes it
   * never sent) would otherwise hold its disk space for good (containerd expires ingests alike).
   */
  leftovers(now = Date.now()): string[] {
    let names: string[];
    try {
      names = readdirSync(this.ingestDir);
    } catch {
      return [];
    }
    const expired = (p: string): boolean => {
      try {
        return now - statSync(p).mtimeMs > PARTIAL_EXPIRY_MS;
      } catch {
        return false; // gone meanwhile
      }
    };
    return names
      .map((n) => ({ n, p: join(this.ingestDir, n) }))
      .filter(({ n, p }) => n.endsWith('.tmp') || n.startsWith('stage-') || (n.endsWith('.partial') && expired(p)))
      .map(({ p }) => p);
  }

  /**
   * Checks the store: every blob hashes to its name (when `deep`), no temp or stray files in
   * blobs/, and lists partial downloads left in ingest/.
   */
  async verify(opts: { deep?: boolean } = {}): Promise<ContentVerifyReport> {
    const report: ContentVerifyReport = { ok: true, partial: [], corrupt: [], stray: [] };
    await this.unlinked(); // a blob being removed is not a stray file
    for (const name of await readdir(this.blobsDir).catch(() => [] as string[])) {
      const p = join(this.blobsDir, name);
      if (!/^[a-f0-9]{64}$/.test(name) || !(await stat(p)).isFile()) {
        report.stray.push(p);
        continue;
      }
      if (opts.deep !== false) {
        const h = newHasher();
        for await (const chunk of createReadStream(p, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
        if (hasherDigest(h) !== `sha256:${name}`) report.corrupt.push(p);
      }
    }
    for (const name of await readdir(this.ingestDir).catch(() => [] as string[])) {
      const p = join(this.ingestDir, name);
      if (name.endsWith('.partial')) report.partial.push(p);
      else report.stray.push(p);
    }
    report.ok = report.partial.length === 0 && report.corrupt.length === 0 && report.stray.length === 0;
    return report;
  }
}

/** Counts each of `digests` once more in `counts` (claims held by operations in flight). */
export function countUp(counts: Map<Digest, number>, digests: Iterable<Digest>): void {
  for (const d of digests) counts.set(d, (counts.get(d) ?? 0) + 1);
}

/** Undoes countUp: a digest whose count reaches 0 leaves the map. */
export function countDown(counts: Map<Digest, number>, digests: Iterable<Digest>): void {
  for (const d of digests) {
    const n = (counts.get(d) ?? 1) - 1;
    if (n > 0) counts.set(d, n);
    else counts.delete(d);
  }
}
