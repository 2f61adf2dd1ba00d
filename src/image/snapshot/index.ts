// Snapshots: each layer extracted once into a directory keyed by its chain ID, and overlayfs
// mounts of a container's rootfs over those directories.
//
// Layout under the store root:
//   layers/<chain hex>/diff      a layer's files (overlayfs format: whiteouts are 0/0 char devices)
//   layers/<chain hex>/size      its content size in bytes, as dockerd's layerdb keeps it (written
//                                before the layer is committed; computed when missing)
//   l/<short id> → ../layers/<chain hex>/diff
//                                 short names so that 100+ layers fit the overlay `lowerdir=`
//                                 option, which the kernel copies into one page (4096 bytes);
//                                 mounts are made from the store root with relative paths
//   containers/<id>/{upper,work,lower}
//   empty/                       the lower dir of an image with no layers (overlay needs one)
//   tmp/                         layers being extracted; renamed into layers/ atomically
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { removeTree } from '../../native/fs.js';
import { chmod, chown, lstat, mkdir, open, readFile, readdir, rename, rm, symlink, writeFile, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { HakoError, fromSystemError, invalid, notFound } from '../../common/errors.js';
import { pullMark } from '../pull-trace.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
/** The kernel copies mount options into one page. */
export const MOUNT_OPTIONS_LIMIT = 4096;

/** OCI chain IDs: chain(0) = diffid(0), chain(n) = sha256(chain(n-1) + " " + diffid(n)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    if (!DIGEST.test(d)) throw invalid(`invalid diffID "${d}"`, 'expected sha256:<64 hex digits>');
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex'));
  }
  return out;
}

function hexOf(chainId: string): string {
  if (!DIGEST.test(chainId)) throw invalid(`invalid chain ID "${chainId}"`, 'expected sha256:<64 hex digits>');
  return chainId.slice(7);
}

/** The init layer's link in l/: its top layer's short name with this suffix. */
const INIT_LINK_SUFFIX = '-init';

function initLinkName(hex: string): string {
  return shortId(hex) + INIT_LINK_SUFFIX;
}

/** A short, stable name for a layer's link: 16 base32 chars of sha256(chain hex) (80 bits). */
function shortId(hex: string): string {
  const h = createHash('sha256').update(hex).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const b of h) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += alphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
    if (out.length >= 16) break;
  }
  return out;
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function run(cmd: string, args: string[], cwd: string | undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(cmd, args, { cwd, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err) reject(Object.assign(err, { stderr: String(stderr).trim() }));
      else resolvePromise();
    });
  });
}

/**
 * What an image's init layer holds: dockerd's "-init" layer (made once per image here instead of
 * once per container), the same set of paths with the same types and modes: the empty files
 * /.dockerenv, /dev/console, /etc/hostname, /etc/hosts and /etc/resolv.conf (0755, as dockerd
 * makes them), the dirs /dev/pts and /dev/shm (0755) and /etc/mtab → /proc/mounts. Like dockerd's
 * they cover whatever the image has at those paths (`docker export` and `docker cp` of any
 * container show them, empty), and a start creates nothing in a container's upper dir for them.
 * The parent dirs (/dev, /etc, and /proc and /sys, which dockerd's layer has too) take the image's
 * owner and mode where the image has them as dirs (the merged view shows the topmost layer's),
 * 0755 owned by the daemon (root) otherwise.
 */
export const INIT_LAYER_ENTRIES: ReadonlyArray<{ path: string; type: 'file' | 'dir' | 'symlink'; target?: string }> = [
  { path: 'dev/pts', type: 'dir' },
  { path: 'dev/shm', type: 'dir' },
  { path: 'proc', type: 'dir' },
  { path: 'sys', type: 'dir' },
  { path: '.dockerenv', type: 'file' },
  { path: 'etc/resolv.conf', type: 'file' },
  { path: 'etc/hosts', type: 'file' },
  { path: 'etc/hostname', type: 'file' },
  { path: 'dev/console', type: 'file' },
  { path: 'etc/mtab', type: 'symlink', target: '/proc/mounts' },
];

/** Owner and mode of a directory. */
export interface DirAttrs {
  mode: number;
  uid: number;
  gid: number;
}

export interface ContainerSnapshot {
  id: string;
  /** Whether its top lower layer is its image's init layer (INIT_LAYER_ENTRIES). */
  init: boolean;
  /** Absolute lower directories, top layer first (the empty dir for an image without layers). */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /**
   * The overlay mount data: `lowerdir=l/…:l/…,upperdir=…,workdir=…`. The lower paths are
   * relative to `mountCwd` (the store root): mount(2) must be called with that cwd.
   */
  mountOptions(): string;
  mountCwd: string;
}

export class SnapshotStore {
  readonly root: string;
  private readonly inflight = new Map<string, Promise<boolean>>();

  constructor(root: string) {
    this.root = resolve(root);
  }

  private layerPath(chainId: string): string {
    return join(this.root, 'layers', hexOf(chainId));
  }

  /** The directory holding a committed layer's files. */
  layerDir(chainId: string): string {
    return join(this.layerPath(chainId), 'diff');
  }

  has(chainId: string): boolean {
    return existsSync(this.layerDir(chainId));
  }

  /** Chain IDs of all committed layers. */
  list(): string[] {
    try {
      return readdirSync(join(this.root, 'layers'))
        .filter((h) => /^[a-f0-9]{64}$/.test(h))
        .map((h) => 'sha256:' + h)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fromSystemError(`list snapshots in ${this.root}`, e);
    }
  }

  /**
   * A fresh path to extract a layer into (it does not exist yet; its parent, in tmp/, does).
   * Give it to unpackLayer, then commitLayer(chainId, path), or abortLayer(path) on failure.
   */
  async prepareLayer(chainId: string): Promise<string> {
    const hex = hexOf(chainId);
    const dir = join(this.root, 'tmp', `${hex.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    try {
      // Synchronous (a pull's first layer bytes wait for it): one or two mkdir calls.
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw fromSystemError(`prepare snapshot for ${chainId}`, e, dir);
    }
    return join(dir, 'diff');
  }

  /**
   * Moves an extracted layer into place with one rename. Returns false when the layer was
   * already there (another process won the race): the extracted copy is then removed.
   */
  async commitLayer(chainId: string, tmpDiff: string): Promise<boolean> {
    const hex = hexOf(chainId);
    const tmp = dirname(resolve(tmpDiff));
    if (dirname(tmp) !== join(this.root, 'tmp') || !tmpDiff.endsWith('/diff')) {
      throw invalid(`commit snapshot ${chainId}: ${tmpDiff} was not made by prepareLayer`);
    }
    if (!existsSync(tmpDiff)) throw notFound(`commit snapshot ${chainId}: ${tmpDiff} does not exist`);
    const short = shortId(hex);
    const dest = this.layerPath(chainId);
    // Synchronous: a handful of small metadata calls at the end of a pull's unpack, each a few
    // tens of µs, instead of as many thread-pool round trips queued behind the pull's fsyncs.
    try {
      writeFileSync(join(tmp, 'link'), short + '\n');
      mkdirSync(join(this.root, 'layers'), { recursive: true });
      this.ensureLink(hex, short);
    } catch (e) {
      throw fromSystemError(`commit snapshot ${chainId}`, e, dest);
    }
    try {
      renameSync(tmp, dest);
      pullMark('snapshot.committed');
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        await rm(tmp, { recursive: true, force: true });
        return false;
      }
      throw fromSystemError(`commit snapshot ${chainId}`, e, dest);
    }
  }

  async abortLayer(tmpDiff: string): Promise<void> {
    const tmp = dirname(resolve(tmpDiff));
    if (dirname(tmp) !== join(this.root, 'tmp')) return;
    await rm(tmp, { recursive: true, force: true });
  }

  private ensureLink(hex: string, short: string): void {
    mkdirSync(join(this.root, 'l'), { recursive: true });
    const link = join(this.root, 'l', short);
    const target = `../layers/${hex}/diff`;
    try {
      symlinkSync(target, link);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (readlinkSync(link) !== target) {
        throw new HakoError({ step: `snapshot link ${link} points to ${readlinkSync(link)}, not ${target}`, kind: 'internal', hint: 'short id collision or a damaged store' });
      }
    }
  }

  /**
   * Extracts a layer once: concurrent callers for one chain ID (in this process) share one
   * extraction; other processes are handled by commitLayer's rename. `extract` gets the path
   * to create (e.g. `(dir) => unpackLayer(stream, dir, opts)`). `created` is false when the
   * layer was already there or another caller made it.
   */
  async ensureLayer(chainId: string, extract: (dir: string) => Promise<unknown>): Promise<{ created: boolean }> {
    for (;;) {
      if (this.has(chainId)) return { created: false };
      const running = this.inflight.get(chainId);
      if (running) {
        try {
          await running;
          return { created: false };
        } catch {
          continue; // that attempt failed: try ourselves
        }
      }
      const attempt = (async () => {
        const dir = await this.prepareLayer(chainId);
        try {
          const r = await extract(dir);
          // unpackLayer's result: its content size goes into place with the layer.
          const size = (r as { contentSize?: unknown } | undefined)?.contentSize;
          if (typeof size === 'number') await writeFile(join(dirname(dir), 'size'), String(size));
          return await this.commitLayer(chainId, dir);
        } catch (e) {
          await this.abortLayer(dir);
          throw e;
        }
      })();
      this.inflight.set(chainId, attempt);
      try {
        return { created: await attempt };
      } finally {
        this.inflight.delete(chainId);
      }
    }
  }

  /**
   * A committed layer's content size (dockerd's DiffSize): its `size` file, else its files
   * counted as overlay2 counts them (directorySize), then recorded. Undefined when the layer
   * is not here.
   */
  async layerSize(chainId: string): Promise<number | undefined> {
    const file = join(this.layerPath(chainId), 'size');
    try {
      const text = await readFile(file, 'utf8');
      if (/^\d+$/.test(text.trim())) return Number(text.trim());
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromSystemError(`read the size of snapshot ${chainId}`, e, file);
    }
    if (!this.has(chainId)) return undefined;
    const size = await directorySize(this.layerDir(chainId));
    // A store from before sizes were kept: remember it (a lost race writes the same number).
    const tmp = `${file}.${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, String(size));
      await rename(tmp, file);
    } catch {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
    return size;
  }

  /**
   * What a crash left in tmp/: layers being extracted (prepareLayer's dirs, never committed) and
   * removed layers not yet deleted (removeLayer's `rm-…`). Random names no later call reuses:
   * listed at start-up, before any pull, and deleted meanwhile.
   */
  leftovers(): string[] {
    const tmp = join(this.root, 'tmp');
    try {
      return readdirSync(tmp).map((n) => join(tmp, n));
    } catch {
      return [];
    }
  }

  /** Removes a layer (its directory disappears atomically, then is deleted). */
  async removeLayer(chainId: string): Promise<void> {
    const hex = hexOf(chainId);
    const dest = this.layerPath(chainId);
    if (!existsSync(dest)) throw notFound(`snapshot ${chainId} not found`);
    const trash = join(this.root, 'tmp', `rm-${hex.slice(0, 12)}-${randomBytes(6).toString('hex')}`);
    try {
      // Its l/ links first: a crash after the rename left them dangling, and nothing lists l/
      // (one after the unlinks leaves the layer without links; unused, it is removed again by
      // the collection of the next start, which its caller's unsettled marker asks for).
      await unlink(join(this.root, 'l', shortId(hex))).catch(() => undefined);
      await unlink(join(this.root, 'l', initLinkName(hex))).catch(() => undefined);
      pullMark('snapshot.unlinked');
      await mkdir(join(this.root, 'tmp'), { recursive: true });
      await rename(dest, trash);
      pullMark('snapshot.retired');
      await rm(trash, { recursive: true, force: true });
    } catch (e) {
      throw fromSystemError(`remove snapshot ${chainId}`, e, dest);
    }
  }

  /** An image's init layer: `layers/<top chain>/init`, removed with its top layer. */
  initLayerDir(topChainId: string): string {
    return join(this.layerPath(topChainId), 'init');
  }

  /** Whether the image (top layer) has its init layer. */
  hasInitLayer(topChainId: string): boolean {
    return existsSync(this.initLayerDir(topChainId)) && existsSync(join(this.root, 'l', initLinkName(hexOf(topChainId))));
  }

  /**
   * The owner and mode of the image's top-level dir `name` as its merged view shows them (the
   * topmost layer that has an entry for it; overlay whiteouts are 0/0 char devices), or
   * undefined when the image has no directory there. Layers bottom first.
   */
  private imageDirAttrs(chainIdsOfImage: string[], name: string): DirAttrs | undefined {
    for (const c of [...chainIdsOfImage].reverse()) {
      let st;
      try {
        st = lstatSync(join(this.layerDir(c), name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      return st.isDirectory() ? { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid } : undefined;
    }
    return undefined;
  }

  /**
   * Makes the init layer (INIT_LAYER_ENTRIES) of the image whose layers are `chainIdsOfImage`
   * (bottom first), once: false when it is there already, made by another call meanwhile (which
   * this one waits for), or the top layer is gone. Its files are written and fsync'd in a scratch
   * dir beside `init`, renamed into place, and its l/ link made last, so a container never names
   * an init layer that a crash could leave incomplete. Containers prepared from then on get it as
   * their top lower layer (prepareContainer); the engine makes it before a container's create.
   */
  async ensureInitLayer(chainIdsOfImage: string[]): Promise<boolean> {
    const topChainId = chainIdsOfImage[chainIdsOfImage.length - 1];
    if (topChainId === undefined) return false;
    const hex = hexOf(topChainId);
    const key = `init:${hex}`;
    const running = this.inflight.get(key);
    if (running) {
      await running;
      return false;
    }
    const attempt = this.makeInitLayer(chainIdsOfImage, topChainId, hex);
    this.inflight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async makeInitLayer(chainIdsOfImage: string[], topChainId: string, hex: string): Promise<boolean> {
    if (this.hasInitLayer(topChainId) || !this.has(topChainId)) return false;
    const parent = this.layerPath(topChainId);
    const dest = this.initLayerDir(topChainId);
    const link = join(this.root, 'l', initLinkName(hex));
    if (!existsSync(dest)) {
      // Scratch dirs of an attempt a crash interrupted go first.
      for (const n of await readdir(parent)) if (n.startsWith('.init-')) await rm(join(parent, n), { recursive: true, force: true });
      const tmp = join(parent, `.init-${randomBytes(6).toString('hex')}`);
      const synced: string[] = [];
      try {
        await mkdir(tmp, { mode: 0o755 });
        synced.push(tmp);
        const made = new Set<string>();
        const ensureDir = async (rel: string) => {
          if (made.has(rel)) return;
          made.add(rel);
          const p = join(tmp, rel);
          await mkdir(p);
          if (!rel.includes('/')) {
            // A top-level dir shows the topmost layer's owner and mode: keep the image's.
            // (Else 0755, owned by the daemon's user: root, as dockerd makes them.)
            const attrs = this.imageDirAttrs(chainIdsOfImage, rel);
            if (attrs) await chown(p, attrs.uid, attrs.gid);
            await chmod(p, attrs?.mode ?? 0o755);
          } else await chmod(p, 0o755);
          synced.push(p);
        };
        for (const e of INIT_LAYER_ENTRIES) {
          const parts = e.path.split('/');
          for (let i = 1; i < parts.length; i++) await ensureDir(parts.slice(0, i).join('/'));
          const p = join(tmp, e.path);
          if (e.type === 'dir') await ensureDir(e.path);
          else if (e.type === 'symlink') await symlink(e.target!, p);
          else {
            await writeFile(p, '', { mode: 0o755 });
            await chmod(p, 0o755); // past the umask
            synced.push(p);
          }
        }
        for (const p of synced) await fsyncPath(p);
        await rename(tmp, dest);
        await fsyncPath(parent);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') return false; // another process made it
        throw fromSystemError(`make the init layer of ${topChainId}`, e, dest);
      }
    }
    try {
      mkdirSync(join(this.root, 'l'), { recursive: true });
      const target = `../layers/${hex}/init`;
      try {
        symlinkSync(target, link);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (readlinkSync(link) !== target) throw new HakoError({ step: `init layer link ${link} points to ${readlinkSync(link)}, not ${target}`, kind: 'internal', hint: 'short id collision or a damaged store' });
      }
      await fsyncPath(join(this.root, 'l'));
    } catch (e) {
      throw fromSystemError(`make the init layer of ${topChainId}`, e, link);
    }
    return true;
  }

  private containerDir(id: string): string {
    if (!CONTAINER_ID.test(id)) throw invalid(`invalid container id "${id}"`);
    return join(this.root, 'containers', id);
  }

  /**
   * Creates (or reopens) a container's upper and work dirs over the image's layers
   * (`chainIdsOfImage` bottom layer first, as in the image config).
   */
  async prepareContainer(id: string, chainIdsOfImage: string[]): Promise<ContainerSnapshot> {
    return this.prepareContainerSync(id, chainIdsOfImage);
  }

  /**
   * prepareContainer without the thread pool: a few small calls (tens of µs each) on a container
   * create's path, where pool round trips queue behind the background deletions of containers
   * removed just before (milliseconds).
   */
  prepareContainerSync(id: string, chainIdsOfImage: string[]): ContainerSnapshot {
    const dir = this.containerDir(id);
    const shorts: string[] = [];
    const lowerdirs: string[] = [];
    for (const c of [...chainIdsOfImage].reverse()) {
      if (!this.has(c)) throw notFound(`prepare rootfs of ${id}: layer ${c} is not unpacked`, 'pull the image again');
      const hex = hexOf(c);
      const short = shortId(hex);
      this.ensureLink(hex, short);
      shorts.push(`l/${short}`);
      lowerdirs.push(this.layerDir(c));
    }
    if (shorts.length === 0) {
      mkdirSync(join(this.root, 'empty'), { recursive: true, mode: 0o755 });
      shorts.push('empty');
      lowerdirs.push(join(this.root, 'empty'));
    } else {
      // The image's init layer, when made already (by an earlier container's first start), on top.
      const top = chainIdsOfImage[chainIdsOfImage.length - 1]!;
      const hex = hexOf(top);
      if (existsSync(this.initLayerDir(top)) && existsSync(join(this.root, 'l', initLinkName(hex)))) {
        shorts.unshift(`l/${initLinkName(hex)}`);
        lowerdirs.unshift(this.initLayerDir(top));
      }
    }
    const created = !existsSync(dir);
    try {
      mkdirSync(join(dir, 'upper'), { recursive: true, mode: 0o755 });
      mkdirSync(join(dir, 'work'), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, 'lower'), shorts.join(':') + '\n');
    } catch (e) {
      if (created) rmSync(dir, { recursive: true, force: true });
      throw fromSystemError(`prepare rootfs of ${id}`, e, dir);
    }
    let snap = this.snapshotOf(id, shorts, lowerdirs);
    if (snap.init && snap.mountOptions().length >= MOUNT_OPTIONS_LIMIT) {
      // The init layer is an optimisation: an image whose layers only just fit goes without it.
      snap = this.snapshotOf(id, shorts.slice(1), lowerdirs.slice(1));
      writeFileSync(join(dir, 'lower'), shorts.slice(1).join(':') + '\n');
    }
    const opts = snap.mountOptions();
    if (opts.length >= MOUNT_OPTIONS_LIMIT) {
      if (created) rmSync(dir, { recursive: true, force: true });
      throw invalid(`prepare rootfs of ${id}: ${chainIdsOfImage.length} layers do not fit the overlay mount options (${opts.length} bytes, the limit is ${MOUNT_OPTIONS_LIMIT - 1})`);
    }
    return snap;
  }

  private snapshotOf(id: string, shorts: string[], lowerdirs: string[]): ContainerSnapshot {
    const dir = this.containerDir(id);
    const upperdir = join(dir, 'upper');
    const workdir = join(dir, 'work');
    return {
      id,
      init: shorts.length > 0 && shorts[0]!.endsWith(INIT_LINK_SUFFIX),
      lowerdirs,
      upperdir,
      workdir,
      mountCwd: this.root,
      mountOptions: () => `lowerdir=${shorts.join(':')},upperdir=${upperdir},workdir=${workdir}`,
    };
  }

  /** The snapshot of a prepared container (from its `lower` file). */
  container(id: string): ContainerSnapshot {
    const dir = this.containerDir(id);
    let lower: string;
    try {
      lower = readFileSync(join(dir, 'lower'), 'utf8').trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`rootfs of container ${id} was not prepared`);
      throw fromSystemError(`read rootfs of ${id}`, e, dir);
    }
    const shorts = lower.split(':');
    const lowerdirs = shorts.map((s) => resolve(this.root, s === 'empty' ? 'empty' : join('l', readlinkSync(join(this.root, s)))));
    return this.snapshotOf(id, shorts, lowerdirs);
  }

  /** Mounts the container's overlay rootfs on `target` (an existing directory). */
  async mountRootfs(id: string, target: string): Promise<void> {
    const snap = this.container(id);
    const opts = snap.mountOptions();
    try {
      // Relative lower paths are resolved by the kernel from the caller's cwd: mount(8) runs
      // in the store root.
      await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, resolve(target)], this.root);
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr ?? '';
      const errno = /permission denied/i.test(stderr) ? 13 : /no such file/i.test(stderr) ? 2 : /unknown filesystem type/i.test(stderr) ? 19 : undefined;
      throw new HakoError({
        step: `mount overlay rootfs of ${id} on ${target}`,
        path: target,
        errno,
        hint: errno === 19 ? 'modprobe overlay' : stderr || undefined,
        kind: 'internal',
        cause: e,
      });
    }
  }

  /** Unmounts a rootfs mounted by mountRootfs. A target that is not mounted is not an error. */
  async unmountRootfs(target: string): Promise<void> {
    const abs = resolve(target);
    try {
      await run('umount', [abs], undefined);
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr ?? '';
      if (/not mounted|no mount point/i.test(stderr)) return;
      if (/no such file/i.test(stderr) && !existsSync(abs)) return;
      throw new HakoError({ step: `unmount rootfs ${abs}`, path: abs, errno: /busy/i.test(stderr) ? 16 : undefined, hint: stderr || undefined, kind: 'internal', cause: e });
    }
  }

  /**
   * Moves a container's upper and work dirs out of the way in one rename (unmount its rootfs
   * first), to containers/.removed-<id>-<random>: the container's snapshot is gone at once, and
   * the returned directory can be deleted later (removeRetired() deletes every such directory,
   * e.g. the ones a crash left). undefined when there was no snapshot.
   */
  async retireContainer(id: string): Promise<string | undefined> {
    const dir = this.containerDir(id);
    const retired = join(this.root, 'containers', `.removed-${id}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, retired);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromSystemError(`remove rootfs of ${id}`, e, dir);
    }
    return retired;
  }

  /** Deletes the directories retireContainer() left (all of them, or the one given). */
  async removeRetired(dir?: string): Promise<void> {
    const base = join(this.root, 'containers');
    const dirs = dir !== undefined ? [dir] : (await readdir(base).catch(() => [] as string[])).filter((n) => n.startsWith('.removed-')).map((n) => join(base, n));
    for (const d of dirs) {
      if (dirname(d) !== base || !basename(d).startsWith('.removed-')) throw invalid(`not a retired container snapshot: ${d}`);
      await removeTree(d).catch((e) => {
        throw fromSystemError('remove a retired container rootfs', e, d);
      });
    }
  }

  /** IDs of the containers that have a snapshot (prepared, not removed). */
  containerIds(): string[] {
    try {
      return readdirSync(join(this.root, 'containers')).filter((n) => CONTAINER_ID.test(n));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fromSystemError(`list container snapshots in ${this.root}`, e);
    }
  }

  /** Deletes a container's upper and work dirs (unmount its rootfs first). */
  async removeContainer(id: string): Promise<void> {
    const dir = this.containerDir(id);
    try {
      await rm(dir, { recursive: true, force: true });
    } catch (e) {
      throw fromSystemError(`remove rootfs of ${id}`, e, dir);
    }
  }

  /** The layer's short link name (for tests and diagnostics). */
  shortLink(chainId: string): string {
    return join(this.root, 'l', shortId(hexOf(chainId)));
  }
}

/**
 * moby's directory.Size, which overlay2 reports as a layer's size: the sizes of everything but
 * directories (symlinks count their target's length), each inode once, zero sizes skipped.
 */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fromSystemError(`count the size of ${dir}`, e, d);
    }
    for (const name of names) {
      const p = d + '/' + name;
      const st = await lstat(p).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw fromSystemError(`count the size of ${dir}`, e, p);
      });
      if (!st) continue;
      if (st.isDirectory()) {
        stack.push(p);
        continue;
      }
      if (st.size === 0 || seen.has(st.ino)) continue;
      seen.add(st.ino);
      total += st.size;
    }
  }
  return total;
}
