// Image metadata: one small JSON record per image (<root>/image/images/<id hex>.json), a
// reference table (<root>/image/refs.json: `name:tag` and `name@digest` → image), and leases
// (<root>/image/leases/<owner>.json) that containers hold on images. All written atomically.
import { readFile, readdir, unlink } from 'node:fs/promises';
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { joinPath as join } from '../../common/join-path.js';
import { fromSystemError } from '../../common/errors.js';
import { digestHex, isDigest, type Digest } from '../digest.js';
import type { Descriptor } from '../manifest.js';
import type { Platform } from '../platform.js';
import { stageFileAtomicSync, writeFileAtomic, writeFileAtomicSync, type StagedFile } from '../../common/atomic-file.js';
import { FileLock } from './lock.js';

export interface ImageRecord {
  /** The image ID: the config digest. */
  id: Digest;
  /** The platform manifest this image was built from. */
  manifestDigest: Digest;
  manifestMediaType: string;
  /** The index (manifest list) the manifest was selected from, when there was one. */
  indexDigest?: Digest | undefined;
  config: Descriptor;
  layers: Descriptor[];
  diffIds: Digest[];
  chainIds: Digest[];
  platform: Platform;
  /** From the config. */
  created?: string | undefined;
  /** Sum of compressed layer sizes plus config. */
  size: number;
  /** Repositories (`127.0.0.1:5000/busybox`) the image was pulled from or pushed to (for mounts). */
  sources: string[];
  /** When this record was first written. */
  addedAt: string;
  /**
   * The image it was made from here (commit), like dockerd's local parent metadata: `docker
   * history` names it on its rows, inspect's Parent. Never pulled, pushed or saved.
   */
  parent?: Digest | undefined;
  /**
   * When a tag last pointed here by `tag`, a tagged `import`, `commit` or `build -t` (Go's
   * RFC3339Nano, UTC): dockerd's image metadata `lastUpdated`, inspect's Metadata.LastTagTime.
   * A pull or a load leaves it as it was (absent: Go's zero time).
   */
  lastTagTime?: string | undefined;
}

export interface RefTarget {
  image: Digest;
  /** The manifest (or index) digest this reference points at in its registry. */
  manifest: Digest;
}

export interface RefTable {
  /** `docker.io/library/busybox:latest` → target */
  tags: Record<string, RefTarget>;
  /** `docker.io/library/busybox@sha256:…` → target */
  digests: Record<string, RefTarget>;
}

export interface Lease {
  owner: string;
  image: Digest;
  /**
   * Set once the image was deleted under the lease (rmi --force of an image a stopped container
   * uses, as dockerd allows): the layers the owner still stands on, kept until the lease goes.
   */
  chainIds?: Digest[] | undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class MetadataStore {
  readonly dir: string;
  private readonly imagesDir: string;
  private readonly leasesDir: string;
  private readonly refsPath: string;
  private readonly lock: FileLock;
  private swept = false;

  constructor(root: string) {
    this.dir = join(root, 'image');
    this.imagesDir = join(this.dir, 'images');
    this.leasesDir = join(this.dir, 'leases');
    this.refsPath = join(this.dir, 'refs.json');
    this.lock = new FileLock(join(this.dir, '.lock'));
  }

  async init(): Promise<void> {
    // Synchronous: two mkdir calls (EEXIST once the store exists) at the start of every pull.
    try {
      mkdirSync(this.imagesDir, { recursive: true });
      mkdirSync(this.leasesDir, { recursive: true });
    } catch (err) {
      throw fromSystemError(`create image metadata in ${this.dir}`, err, this.dir);
    }
    if (!this.swept) {
      this.swept = true;
      this.removeDeadTemps();
    }
  }

  /**
   * Removes the temp files (stageFileAtomic: `.<name>.<pid>-<time>-<rand>.tmp`) of processes that
   * died before renaming them: a pull writes its record and reference table while its layers
   * download, so a daemon killed mid-pull leaves them. Once per store object (a daemon's start).
   */
  private removeDeadTemps(): void {
    for (const dir of [this.dir, this.imagesDir]) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const pid = Number(/^\..*\.(\d+)-[0-9a-z]+-[0-9a-f]+\.tmp$/.exec(name)?.[1] ?? 0);
        if (pid <= 0 || pid === process.pid || processAlive(pid)) continue;
        try {
          unlinkSync(join(dir, name));
        } catch {
          /* removed meanwhile */
        }
      }
    }
  }

  /** Runs `fn` with the metadata lock (across processes): for read-modify-write of refs and records. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  private imagePath(id: Digest): string {
    return join(this.imagesDir, `${digestHex(id)}.json`);
  }

  async getImage(id: Digest): Promise<ImageRecord | undefined> {
    try {
      // A small file read on every container create: one synchronous read (~20 µs) instead of
      // readFile's four thread-pool round trips (open, fstat, read, close).
      return JSON.parse(readFileSync(this.imagePath(id), 'utf8')) as ImageRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromSystemError(`read image record ${id}`, err, this.imagePath(id));
    }
  }

  async putImage(rec: ImageRecord): Promise<void> {
    await writeFileAtomic(this.imagePath(rec.id), JSON.stringify(rec, null, 1), { mode: 0o644 });
  }

  /**
   * putImage in two steps (see stageFileAtomicSync: written now, its fsync under way in the
   * pool); after init(). The caller commits or aborts the file (its fd stays open until then).
   */
  async stageImage(rec: ImageRecord, fsyncVia?: (fd: number) => Promise<void>): Promise<StagedFile> {
    return stageFileAtomicSync(this.imagePath(rec.id), JSON.stringify(rec, null, 1), { mode: 0o644, fsyncVia });
  }

  async deleteImage(id: Digest): Promise<void> {
    await unlink(this.imagePath(id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw fromSystemError(`remove image record ${id}`, err);
    });
  }

  /**
   * A dir that is missing lists nothing; one that cannot be read (EMFILE, EIO) fails: read as
   * "nothing", a collection would delete every blob and layer the records and leases name.
   */
  private async names(dir: string, what: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fromSystemError(`list ${what} in ${dir}`, err, dir);
    }
  }

  async listImages(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const name of await this.names(this.imagesDir, 'image records')) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = `sha256:${name.slice(0, -5)}`;
      if (!isDigest(id)) continue;
      const rec = await this.getImage(id);
      if (rec) out.push(rec);
    }
    return out;
  }

  readRefs(): RefTable {
    try {
      const t = JSON.parse(readFileSync(this.refsPath, 'utf8')) as Partial<RefTable>;
      return { tags: t.tags ?? {}, digests: t.digests ?? {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tags: {}, digests: {} };
      throw fromSystemError(`read ${this.refsPath}`, err, this.refsPath);
    }
  }

  async writeRefs(t: RefTable): Promise<void> {
    await writeFileAtomic(this.refsPath, JSON.stringify(t, null, 1), { mode: 0o644 });
  }

  /** writeRefs in two steps (as stageImage); after init(), holding the lock until the commit. */
  async stageRefs(t: RefTable, fsyncVia?: (fd: number) => Promise<void>): Promise<StagedFile> {
    return stageFileAtomicSync(this.refsPath, JSON.stringify(t, null, 1), { mode: 0o644, fsyncVia });
  }

  // ---- leases (containers using images) ----------------------------------------------------

  /** `durable: false`: not fsync'd (for an owner that restores its leases after a crash). */
  async addLease(owner: string, image: Digest, opts: { durable?: boolean; chainIds?: Digest[] | undefined } = {}): Promise<void> {
    await this.init();
    const lease: Lease = opts.chainIds ? { owner, image, chainIds: opts.chainIds } : { owner, image };
    const file = join(this.leasesDir, `${encodeURIComponent(owner)}.json`);
    // Not durable (a container create's): written synchronously, a small file whose thread-pool
    // round trips would queue behind the background deletions of containers removed before.
    if (opts.durable === false) writeFileAtomicSync(file, JSON.stringify(lease), { mode: 0o644, durable: false });
    else await writeFileAtomic(file, JSON.stringify(lease), { mode: 0o644 });
  }

  /** One owner's lease, or undefined (read synchronously: a small file, on container removal's path). */
  getLease(owner: string): Lease | undefined {
    try {
      return JSON.parse(readFileSync(join(this.leasesDir, `${encodeURIComponent(owner)}.json`), 'utf8')) as Lease;
    } catch {
      return undefined;
    }
  }

  async removeLease(owner: string): Promise<void> {
    // Synchronous: one small unlink (tens of µs) on a container's removal path, which would
    // otherwise queue in the thread pool behind the previous removal's background deletions.
    try {
      unlinkSync(join(this.leasesDir, `${encodeURIComponent(owner)}.json`));
    } catch {
      /* not there */
    }
  }

  async listLeases(): Promise<Lease[]> {
    const out: Lease[] = [];
    for (const name of await this.names(this.leasesDir, 'leases')) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      let text: string;
      try {
        text = await readFile(join(this.leasesDir, name), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed meanwhile
        throw fromSystemError(`read lease ${name}`, err, join(this.leasesDir, name));
      }
      try {
        out.push(JSON.parse(text) as Lease);
      } catch {
        /* not a lease (as before: skipped) */
      }
    }
    return out;
  }
}
