// Blob staging for load and import: blobs are written (and hashed) into a private directory
// under the content store's ingest/ (same filesystem), and moved into blobs/ one rename each only
// when the whole operation succeeded. `discard()` removes everything staged, so a corrupt or
// truncated archive leaves no blob behind.
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { digestHex, hasherDigest, newHasher, type Digest } from '../digest.js';
import { fsyncDir } from '../../common/atomic-file.js';
import type { ContentStore } from './content.js';

export interface StagedBlob {
  digest: Digest;
  size: number;
}

export interface StageOptions {
  /** The digest the bytes must hash to (an archive's blobs/sha256/<hex> name). */
  expected?: Digest | undefined;
  /** The size the bytes must have. */
  size?: number | undefined;
  /** What the blob is, for messages (`archive entry blobs/sha256/…`). */
  what?: string | undefined;
  onProgress?: ((bytes: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export class BlobStaging {
  readonly dir: string;
  private readonly staged = new Map<Digest, StagedBlob>();
  private created: Promise<void> | undefined;
  private discarded = false;

  constructor(private readonly store: ContentStore) {
    this.dir = join(store.ingestDir, `stage-${randomBytes(6).toString('hex')}`);
  }

  /** Creates the directory once (blobs of one archive are staged concurrently). */
  private ensureDir(): Promise<void> {
    this.created ??= (async () => {
      await this.store.init();
      try {
        await mkdir(this.dir, { mode: 0o700 });
      } catch (err) {
        throw fromSystemError(`create staging directory ${this.dir}`, err, this.dir);
      }
    })();
    return this.created;
  }

  /** Whether a blob is staged (or, with `orStore`, already in the content store). */
  has(d: Digest, orStore = false): boolean {
    return this.staged.has(d) || (orStore && this.store.has(d));
  }

  get(d: Digest): StagedBlob | undefined {
    return this.staged.get(d);
  }

  /** Where a staged blob's bytes are, or the store's copy when it is not staged. */
  path(d: Digest): string {
    return this.staged.has(d) ? join(this.dir, digestHex(d)) : this.store.blobPath(d);
  }

  open(d: Digest): ReadStream {
    return createReadStream(this.path(d), { highWaterMark: 1 << 20 });
  }

  /**
   * Writes a stream to a staged blob, hashing it. With `expected`, a digest mismatch fails (and
   * the bytes are dropped); the same content staged twice is kept once.
   */
  async write(input: AsyncIterable<Buffer> | NodeJS.ReadableStream, opts: StageOptions = {}): Promise<StagedBlob> {
    await this.ensureDir();
    const tmp = join(this.dir, `.${randomBytes(6).toString('hex')}.tmp`);
    const hasher = newHasher();
    let size = 0;
    let fh: FileHandle | undefined;
    const what = opts.what ?? 'blob';
    try {
      fh = await open(tmp, 'wx', 0o644);
      for await (const raw of input as AsyncIterable<Buffer>) {
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
        hasher.update(chunk);
        size += chunk.length;
        await fh.write(chunk, 0, chunk.length, null);
        opts.onProgress?.(chunk.length);
        opts.signal?.throwIfAborted();
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      const digest = hasherDigest(hasher);
      if (opts.expected && digest !== opts.expected) {
        throw new HakoError({ step: `digest mismatch for ${what}: expected ${opts.expected}, got ${digest}`, kind: 'invalid-argument', hint: 'the archive is corrupt; nothing was loaded' });
      }
      if (opts.size !== undefined && size !== opts.size) {
        throw new HakoError({ step: `size mismatch for ${what}: expected ${opts.size} bytes, got ${size}`, kind: 'invalid-argument', hint: 'the archive is corrupt or truncated; nothing was loaded' });
      }
      if (this.staged.has(digest)) {
        await rm(tmp, { force: true });
      } else {
        await rename(tmp, join(this.dir, digestHex(digest)));
        this.staged.set(digest, { digest, size });
      }
      return { digest, size };
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      if (err instanceof HakoError || (err as Error)?.name === 'AbortError') throw err;
      throw fromSystemError(`stage ${what} in ${this.dir}`, err, tmp);
    }
  }

  /**
   * Moves staged blobs into the content store (ones it already has are left staged, for discard).
   * `moved` gets each one moved, as it is (a failure after some: their caller removes them).
   */
  async commit(digests: Iterable<Digest>, moved: Digest[] = []): Promise<void> {
    const before = moved.length;
    for (const d of new Set(digests)) {
      if (!this.staged.has(d) || this.store.has(d)) continue;
      const from = join(this.dir, digestHex(d));
      try {
        await rename(from, this.store.blobPath(d));
      } catch (err) {
        throw fromSystemError(`store blob ${d}`, err, from);
      }
      this.staged.delete(d);
      moved.push(d);
    }
    if (moved.length > before) await fsyncDir(this.store.blobsDir);
  }

  /** Removes the staging directory with whatever is left in it. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.staged.clear();
    if (this.created) {
      await this.created.catch(() => undefined);
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** Size of a staged or stored blob. */
  async size(d: Digest): Promise<number> {
    const s = this.staged.get(d);
    if (s) return s.size;
    return (await stat(this.store.blobPath(d))).size;
  }
}
