// The overlay2 lines of `docker info`'s storage driver status, probed from the kernel and the
// file system under the snapshots as dockerd's overlay2 driver probes them at its start:
//   Supports d_type      readdir gives each entry's type (overlay needs it of its backing fs)
//   Using metacopy       a chmod in an overlay copies up only the inode (the upper file gets the
//                        trusted.overlay.metacopy xattr: the module's metacopy=Y or the kernel's
//                        CONFIG_OVERLAY_FS_METACOPY)
//   Native Overlay Diff  the overlay's upper dirs are a layer's diff as they are: an opaque dir is
//                        not copied up with its opaque mark (kernels < 4.8) and a renamed dir is
//                        not a redirect (redirect_dir=Y: trusted.overlay.redirect)
//   userxattr            overlay must be mounted with `userxattr` (only inside a user namespace,
//                        kernel ≥ 5.11 or a mount that takes the option)
// Each probe works in a dir of its own under <snapshots>/tmp (what a crash leaves there is
// removed at the next start) and removes it; a probe that fails reports false, as dockerd's
// Native Overlay Diff does (dockerd refuses to start without d_type; hako says false).
import { mkdir, mkdtemp, rm, writeFile, chmod, rename } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { direntTypesKnown, lgetxattr, lsetxattr } from '../native/fs.js';
import { mountSyscall, unmount } from './fs/mount.js';
import { backingFsName } from './backing-fs.js';

export interface OverlayStatus {
  supportsDType: boolean;
  usingMetacopy: boolean;
  nativeDiff: boolean;
  userxattr: boolean;
}

/** What the probes need from the host (tests replace it). */
export interface OverlayProbeHost {
  inUserNamespace(): boolean;
  kernelRelease(): string;
  debug?(msg: string): void;
}

const EXDEV = 18;

/** Whether this process is in a user namespace other than the initial one (its uid_map is not the identity of all ids). */
export function runningInUserNamespace(uidMap: string = readUidMap()): boolean {
  const lines = uidMap.trim().split('\n').map((l) => l.trim().split(/\s+/));
  return !(lines.length === 1 && lines[0]![0] === '0' && lines[0]![1] === '0' && lines[0]![2] === '4294967295');
}

function readUidMap(): string {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return '0 0 4294967295'; // no /proc: as dockerd, taken as the initial namespace
  }
}

/** Whether `release` (uname -r) is at least major.minor. */
export function kernelAtLeast(releaseText: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(releaseText);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

export const hostProbe: OverlayProbeHost = { inUserNamespace: () => runningInUserNamespace(), kernelRelease: release };

/** A fresh dir under <root>/tmp for one probe, removed (after its overlay is unmounted) by `done`. */
async function probeDir(root: string, name: string): Promise<{ dir: string; done: (mounted?: string) => Promise<void> }> {
  const base = join(root, 'tmp');
  await mkdir(base, { recursive: true });
  const dir = await mkdtemp(join(base, `${name}-`));
  return {
    dir,
    done: async (mounted) => {
      if (mounted) await unmount(mounted, 'overlay probe').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function mkdirs(dir: string, names: string[]): Promise<void> {
  for (const n of names) await mkdir(join(dir, n), { recursive: true, mode: 0o755 });
}

/** Supports d_type: a dir's entry read back with its type. */
export async function probeDType(root: string): Promise<boolean> {
  const p = await probeDir(root, 'dtype-check');
  try {
    await mkdir(join(p.dir, 'd'));
    return direntTypesKnown(p.dir);
  } finally {
    await p.done();
  }
}

/** Using metacopy: a chmod through an overlay leaves a metadata-only copy in the upper dir. */
export async function probeMetacopy(root: string, host: OverlayProbeHost, userxattr: boolean): Promise<boolean> {
  const p = await probeDir(root, 'metacopy-check');
  const merged = join(p.dir, 'merged');
  let mounted: string | undefined;
  try {
    await mkdirs(p.dir, ['l1', 'l2', 'work', 'merged']);
    await writeFile(join(p.dir, 'l1', 'f'), '', { mode: 0o700 });
    const data = `lowerdir=${join(p.dir, 'l1')},upperdir=${join(p.dir, 'l2')},workdir=${join(p.dir, 'work')}${userxattr ? ',userxattr' : ''}`;
    await mountSyscall('mount an overlay for the metacopy check', 'overlay', merged, 'overlay', 0, data);
    mounted = merged;
    await chmod(join(merged, 'f'), 0o600);
    const cls = host.inUserNamespace() ? 'user' : 'trusted';
    return lgetxattr(join(p.dir, 'l2', 'f'), `${cls}.overlay.metacopy`) !== null;
  } finally {
    await p.done(mounted);
  }
}

/**
 * Native Overlay Diff: no user namespace, the opaque mark of a copied-up opaque dir not copied
 * with it, and a dir rename refused with EXDEV (no redirect_dir) or not recorded as a redirect.
 * Resolves to the reason it is not native, or undefined when it is.
 */
export async function probeNativeDiff(root: string, host: OverlayProbeHost): Promise<string | undefined> {
  if (host.inUserNamespace()) return 'running in a user namespace';
  const p = await probeDir(root, 'opaque-bug-check');
  const merged = join(p.dir, 'merged');
  let mounted: string | undefined;
  try {
    await mkdirs(p.dir, ['l1/d', 'l1/d1', 'l2/d', 'l3', 'work', 'merged']);
    lsetxattr(join(p.dir, 'l2', 'd'), 'trusted.overlay.opaque', Buffer.from('y'));
    const data = `lowerdir=${join(p.dir, 'l2')}:${join(p.dir, 'l1')},upperdir=${join(p.dir, 'l3')},workdir=${join(p.dir, 'work')}`;
    await mountSyscall('mount an overlay for the native diff check', 'overlay', merged, 'overlay', 0, data);
    mounted = merged;
    // A file in d copies the opaque dir d up from l2 into l3: its mark must stay behind.
    await writeFile(join(merged, 'd', 'f'), '');
    if (lgetxattr(join(p.dir, 'l3', 'd'), 'trusted.overlay.opaque')?.toString() === 'y') return 'opaque flag erroneously copied up, consider update to kernel 4.8 or later to fix';
    try {
      await rename(join(merged, 'd1'), join(merged, 'd2'));
    } catch (err) {
      // EXDEV: the kernel has no redirect_dir (a lower dir cannot be renamed), as a native diff needs.
      if ((err as NodeJS.ErrnoException).errno === -EXDEV || (err as NodeJS.ErrnoException).code === 'EXDEV') return undefined;
      throw err;
    }
    if (lgetxattr(join(p.dir, 'l3', 'd2'), 'trusted.overlay.redirect')?.toString() === 'd1') return 'kernel has CONFIG_OVERLAY_FS_REDIRECT_DIR enabled';
    return undefined;
  } finally {
    await p.done(mounted);
  }
}

/** userxattr: only in a user namespace; kernels ≥ 5.11 take it, older ones if a mount with it works. */
export async function probeUserxattr(root: string, host: OverlayProbeHost): Promise<boolean> {
  if (!host.inUserNamespace()) return false;
  if (kernelAtLeast(host.kernelRelease(), 5, 11)) return true;
  const p = await probeDir(root, 'userxattr-check');
  const merged = join(p.dir, 'merged');
  let mounted: string | undefined;
  try {
    await mkdirs(p.dir, ['lower1', 'lower2', 'upper', 'work', 'merged']);
    const data = `lowerdir=${join(p.dir, 'lower2')}:${join(p.dir, 'lower1')},upperdir=${join(p.dir, 'upper')},workdir=${join(p.dir, 'work')},userxattr`;
    try {
      await mountSyscall('mount an overlay with userxattr', 'overlay', merged, 'overlay', 0, data);
    } catch {
      return false; // the kernel does not know the option
    }
    mounted = merged;
    return true;
  } finally {
    await p.done(mounted);
  }
}

/** All four, each failure reported (debug) and taken as false. */
export async function probeOverlay(root: string, host: OverlayProbeHost = hostProbe): Promise<OverlayStatus> {
  const attempt = async <T>(what: string, f: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      host.debug?.(`overlay ${what} check failed: ${(err as Error).message}`);
      return fallback;
    }
  };
  const supportsDType = await attempt('d_type', () => probeDType(root), false);
  const userxattr = await attempt('userxattr', () => probeUserxattr(root, host), false);
  const usingMetacopy = await attempt('metacopy', () => probeMetacopy(root, host, userxattr), false);
  const notNative = await attempt('native diff', () => probeNativeDiff(root, host), 'the check failed');
  if (notNative !== undefined) host.debug?.(`not using native diff for overlay2: ${notNative}`);
  return { supportsDType, usingMetacopy, nativeDiff: notNative === undefined, userxattr };
}

/** DriverStatus as dockerd (API 1.44) lists it for overlay2. */
export function overlayDriverStatus(root: string, s: OverlayStatus): Array<[string, string]> {
  return [
    ['Backing Filesystem', backingFsName(root)],
    ['Supports d_type', String(s.supportsDType)],
    ['Using metacopy', String(s.usingMetacopy)],
    ['Native Overlay Diff', String(s.nativeDiff)],
    ['userxattr', String(s.userxattr)],
  ];
}
