// The container rootfs mount with syscalls (native/addon_mount.c, run on the libuv pool) instead
// of mount(8)/umount(8) processes, which cost 5–20 ms each in a daemon: overlay with absolute
// layer paths when they fit in one page of mount data; otherwise the caller falls back to the
// snapshot store's mount(8) in its root (relative paths, for images with very many layers).
import { realpathSync, statSync } from 'node:fs';
import { topMountId } from '../../runtime/lifecycle/host-mounts.js';
import { dirname } from 'node:path';
import { HakoError } from '../../common/errors.js';
import { addonErrno, native } from '../../native/addon.js';

interface MountAddon {
  mountAsync(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): Promise<void>;
  umountAsync(target: string, flags: number): Promise<void>;
}

const EINVAL = 22;
const ENOENT = 2;
/** The kernel copies at most one page of mount data; keep clear of it. */
const MAX_DATA = 4000;

function addon(): MountAddon | undefined {
  const a = native() as unknown as Partial<MountAddon>;
  return typeof a.mountAsync === 'function' && typeof a.umountAsync === 'function' ? (a as MountAddon) : undefined;
}

/** The overlay mount data with absolute paths, or undefined when it cannot be used as is. */
export function overlayData(snap: { lowerdirs: string[]; upperdir: string; workdir: string }): string | undefined {
  const paths = [...snap.lowerdirs, snap.upperdir, snap.workdir];
  if (paths.some((p) => /[,:\\]/.test(p))) return undefined;
  const data = `lowerdir=${snap.lowerdirs.join(':')},upperdir=${snap.upperdir},workdir=${snap.workdir}`;
  return data.length < MAX_DATA ? data : undefined;
}

/** Mounts the overlay; false when this way is not available (no addon function, data too long). */
export async function mountOverlay(target: string, snap: { id: string; lowerdirs: string[]; upperdir: string; workdir: string }): Promise<boolean> {
  const a = addon();
  const data = overlayData(snap);
  if (!a || data === undefined) return false;
  try {
    await a.mountAsync('overlay', target, 'overlay', 0, data);
  } catch (err) {
    const errno = addonErrno(err);
    throw new HakoError({ step: `mount overlay rootfs of ${snap.id} on ${target}`, path: target, errno, hint: errno === 19 ? 'modprobe overlay' : undefined, kind: 'internal', cause: err });
  }
  return true;
}

/** One mount(2) on the thread pool; a failure is a HakoError of `step` with the kernel's errno. */
export async function mountSyscall(step: string, source: string | null, target: string, fstype: string | null, flags: number, data: string | null): Promise<void> {
  const a = addon();
  if (!a) throw new HakoError({ step: `${step}: the native addon has no mountAsync`, path: target, kind: 'internal', hint: 'rebuild it: npm run build' });
  try {
    await a.mountAsync(source, target, fstype, flags, data);
  } catch (err) {
    throw new HakoError({ step, path: target, errno: addonErrno(err), kind: 'internal', cause: err });
  }
}

/**
 * Unmounts `target`; 'not-mounted' when nothing is mounted there (EINVAL, or the dir is gone),
 * 'unavailable' when the addon function is missing. EBUSY and others throw.
 */
export async function unmount(target: string, what = 'rootfs', flags = 0): Promise<'done' | 'not-mounted' | 'unavailable'> {
  const a = addon();
  if (!a) return 'unavailable';
  try {
    await a.umountAsync(target, flags);
    return 'done';
  } catch (err) {
    const errno = addonErrno(err);
    if (errno === EINVAL || errno === ENOENT) return 'not-mounted';
    throw new HakoError({ step: `unmount ${what} ${target}`, path: target, errno, kind: 'internal', cause: err });
  }
}

/** Whether something is mounted on `dir` (its device differs from its parent's; overlay has its own). */
export function isMountPoint(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.dev !== statSync(dirname(dir)).dev;
  } catch {
    return false;
  }
}

/** Whether a mount has `dir` as its mount point (mountinfo: a bind within one fs keeps the device). */
export function hasMountAt(dir: string): boolean {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return false; // gone: nothing can be mounted there
  }
  return topMountId(real) !== undefined;
}
