// /dev/shm by IPC mode, as dockerd 20.10 does it:
//   private (and ""): a tmpfs of the container's own, mounted inside its mount namespace;
//   shareable:        a tmpfs mounted on the host side at <exec-root>/shm/<id> (ShmSize,
//                     nosuid,nodev,noexec, mode 1777) and bind-mounted on /dev/shm;
//   container:<id>:   a bind of the donor's host-side tmpfs (its own ShmSize plays no part);
//                     of the host's /dev/shm when the donor has the host's IPC;
//   host:             a bind of the host's /dev/shm;
//   none:             no /dev/shm at all.
// A user mount on /dev/shm (-v, --mount, --tmpfs) replaces any of these, and makes a shareable
// container non-shareable for joiners (dockerd's words).
//
// The host-side tmpfs is what lets a joiner see the donor's files: a tmpfs made inside the
// donor's mount namespace cannot be bind-mounted from another namespace (mount(2): EINVAL).
// It is mounted at start and unmounted when the container's run is over (exit cleanup, a failed
// start, remove, a restart reconciliation that finds it dead or unknown); while hakod is down it
// stays, as the container does. A joiner's bind is a mount of its own namespace: it keeps the
// tmpfs (and its files) after the donor stops or is removed, as with dockerd, and the donor's
// next start gets a new, empty one.
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../common/errors.js';
import { startRefusal } from './start-errors.js';
import { isMountPoint, mountSyscall, unmount } from './fs/mount.js';

const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MNT_DETACH = 2;

/** What a container gets on /dev/shm (the engine's plan; buildSpec turns it into a mount). */
export type ShmPlan =
  | { kind: 'tmpfs'; size: number }
  | { kind: 'bind'; source: string }
  | { kind: 'none' }
  /** A mount of the user's is on /dev/shm: it is what the container gets. */
  | { kind: 'user' };

interface ShmRecord {
  Id: string;
  HostConfig: Record<string, unknown>;
  MountPoints: ReadonlyArray<{ Destination: string }>;
}

/** Whether a mount of the user's (-v, --mount, --tmpfs) is on /dev/shm (dockerd's HasMountFor). */
export function userShmMount(rec: ShmRecord): boolean {
  return rec.MountPoints.some((m) => m.Destination.replace(/\/+$/, '') === '/dev/shm');
}

/** ShmSize as recorded (64 MiB or the daemon's --default-shm-size when none was given; 0: no limit, tmpfs's size=0). */
export function shmSizeOf(rec: ShmRecord): number {
  const n = Number(rec.HostConfig.ShmSize);
  return Number.isFinite(n) && n >= 0 ? n : 64 * 1024 * 1024;
}

export class ShmMounts {
  constructor(readonly dir: string) {}

  /** The host-side mount point of a shareable container's /dev/shm. */
  pathOf(id: string): string {
    return join(this.dir, id);
  }

  isMounted(id: string): boolean {
    return isMountPoint(this.pathOf(id));
  }

  /**
   * The /dev/shm plan for a start. `donor`: the running container named by IpcMode
   * container:<id> (the caller checked it runs and is shareable). `hostShm`: the host's /dev/shm.
   */
  plan(rec: ShmRecord, donor?: ShmRecord, hostShm = '/dev/shm'): ShmPlan {
    if (userShmMount(rec)) return { kind: 'user' };
    const mode = String(rec.HostConfig.IpcMode ?? '');
    if (mode === 'none') return { kind: 'none' };
    if (mode === 'host') {
      if (!isDir(hostShm)) throw startRefusal('/dev/shm is not mounted, but must be for --ipc=host');
      return { kind: 'bind', source: hostShm };
    }
    if (mode === 'shareable') return { kind: 'bind', source: this.pathOf(rec.Id) };
    if (mode.startsWith('container:')) {
      if (!donor) throw new HakoError({ step: `IPC mode ${mode}: the donor container is unknown`, kind: 'internal' });
      const ref = mode.slice('container:'.length);
      // A donor on the host's IPC: the joiner is too, with the host's /dev/shm (dockerd).
      if (donor.HostConfig.IpcMode === 'host') return this.plan({ ...rec, HostConfig: { ...rec.HostConfig, IpcMode: 'host' } }, undefined, hostShm);
      if (userShmMount(donor)) throw startRefusal(`can't join IPC of container ${ref}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`);
      // A donor started before hakod made host-side shm mounts (an upgrade while it ran) has
      // its /dev/shm inside its own mount namespace: nothing to bind.
      if (!this.isMounted(donor.Id)) throw startRefusal(`can't join IPC of container ${ref}: its /dev/shm is not on the host (it was started by an older hakod)`, 'restart the donor container');
      return { kind: 'bind', source: this.pathOf(donor.Id) };
    }
    return { kind: 'tmpfs', size: shmSizeOf(rec) };
  }

  /**
   * Mounts a shareable container's tmpfs on the host side (a stale one left by an earlier run
   * goes first: each start gets an empty /dev/shm, as dockerd's). A failure leaves nothing.
   */
  async mount(id: string, size: number): Promise<void> {
    const p = this.pathOf(id);
    if (this.isMounted(id)) await this.release(id);
    mkdirSync(p, { recursive: true, mode: 0o700 });
    try {
      await mountSyscall(`mount the /dev/shm tmpfs of container ${id} on ${p}`, 'shm', p, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${size}`);
    } catch (err) {
      removeDir(p);
      throw err;
    }
  }

  /**
   * Unmounts a container's host-side tmpfs and removes its mount point; nothing mounted, nothing
   * done. Lazily (MNT_DETACH): a joiner's bind is a mount of its own and keeps the tmpfs alive.
   */
  async release(id: string): Promise<void> {
    const p = this.pathOf(id);
    // 'not-mounted' (EINVAL/ENOENT): none there, or the directory is gone.
    await unmount(p, 'the /dev/shm tmpfs', MNT_DETACH);
    removeDir(p);
  }

  /** Every host-side tmpfs but those of `keep` (after a crash: dead or unknown containers'). */
  async sweep(keep: Set<string>, warn: (msg: string) => void): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const id of names) {
      if (keep.has(id)) continue;
      await this.release(id).catch((e: unknown) => warn(`release the /dev/shm tmpfs of container ${id}: ${(e as Error).message}`));
    }
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function removeDir(p: string): void {
  try {
    rmdirSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new HakoError({ step: `remove the /dev/shm mount point ${p}`, path: p, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 0), cause: err });
  }
}
