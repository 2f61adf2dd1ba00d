// Entry point of the cgroup layer: pick the driver for this host and resolve the container's
// cgroup path. See paths.ts for the path rules and v1.ts / v2.ts for the drivers.
import { join } from 'node:path';
import type { BpfSyscall } from './bpf.js';
import { detectCgroupMode, normalizeCgroupsPath, parseCgroupMounts, parseProcCgroup, readProcInput, dirOnMount, resolveInHierarchy, type CgroupMode } from './paths.js';
import { CgroupV1Manager, v1Hierarchies } from './v1.js';
import { CgroupV2Manager } from './v2.js';
import type { CgroupManager } from './types.js';
import type { CgroupHostView } from './host.js';

export * from './types.js';
export { detectCgroupMode, expandSlice, systemdPathToCgroupfs, normalizeCgroupsPath, parseProcCgroup, parseCgroupMounts, type CgroupMode } from './paths.js';
export { sharesToWeight, swapToV2, blkioWeightToIoWeight, cpuMax } from './convert.js';
export { deviceProgram, deviceProgramInsns } from './devicefilter.js';
export { addonBpf, isMissingPointerSupport, type BpfSyscall } from './bpf.js';
export { CgroupV1Manager } from './v1.js';
export { CgroupV2Manager, v2Writes } from './v2.js';
export { CgroupHostCache, readCgroupHostView, type CgroupHostView } from './host.js';

export interface CgroupManagerOptions {
  /** OCI linux.cgroupsPath: absolute, relative (to our own cgroup) or 'slice:prefix:name'. */
  cgroupsPath: string | undefined;
  containerId: string;
  /** The cgroup fs root; /sys/fs/cgroup unless testing on a fake tree. */
  root?: string;
  /** Contents of /proc/self/cgroup (read when absent). */
  procSelfCgroup?: string;
  /** Contents of /proc/self/mountinfo (read when absent). */
  mountinfo?: string;
  /** The host's cgroup mounts and mode, read before (./host.ts); `root` and `mountinfo` are then not used. */
  host?: CgroupHostView;
  /**
   * Which driver: by default v2 on a pure v2 host and v1 on v1/hybrid hosts. 'v2' on a hybrid host
   * uses the cgroup2 mount at root/unified (freezer, kill, BPF devices only; no controllers).
   */
  driver?: 'v1' | 'v2';
  /** bpf(2) for v2 device rules; the native addon's by default. */
  bpf?: BpfSyscall;
}

export function cgroupManager(opts: CgroupManagerOptions): CgroupManager {
  const root = opts.host?.root ?? opts.root ?? '/sys/fs/cgroup';
  const mode: CgroupMode = opts.host?.mode ?? detectCgroupMode(root);
  const cgroupMounts = () => opts.host?.mounts ?? parseCgroupMounts(readProcInput(opts.mountinfo, '/proc/self/mountinfo'));
  const normalized = normalizeCgroupsPath(opts.cgroupsPath, opts.containerId);
  const own = parseProcCgroup(readProcInput(opts.procSelfCgroup, '/proc/self/cgroup'));
  const driver = opts.driver ?? (mode === 'v2' ? 'v2' : 'v1');
  if (driver === 'v2') {
    const mountPoint = mode === 'v2' ? root : join(root, 'unified');
    const mount = cgroupMounts().find((m) => m.fsType === 'cgroup2' && m.mountPoint === mountPoint) ?? { mountPoint, root: '/' };
    const ownV2 = own.find((e) => e.id === 0 && e.controllers.length === 0)?.path ?? '/';
    return new CgroupV2Manager({ mountPoint, dir: dirOnMount(mount, resolveInHierarchy(normalized, ownV2)), bpf: opts.bpf });
  }
  const { hierarchies, unifiedDir } = v1Hierarchies(cgroupMounts(), own, normalized, mode === 'hybrid' ? join(root, 'unified') : undefined);
  return new CgroupV1Manager(hierarchies, unifiedDir);
}

/**
 * A manager for a cgroup whose `paths` (CgroupManager.paths) were recorded when it was created,
 * so that later verbs (kill, pause, delete, update) need not recompute them. `{ unified }` alone
 * means v2; otherwise v1, with controllers sharing a directory forming one hierarchy.
 */
export function cgroupManagerFromPaths(paths: Record<string, string>, opts: { mountinfo?: string; bpf?: BpfSyscall } = {}): CgroupManager {
  const keys = Object.keys(paths);
  if (keys.length === 1 && paths.unified !== undefined) {
    const dir = paths.unified;
    const mounts = parseCgroupMounts(readProcInput(opts.mountinfo, '/proc/self/mountinfo')).filter(
      (m) => m.fsType === 'cgroup2' && (dir === m.mountPoint || dir.startsWith(m.mountPoint.replace(/\/$/, '') + '/')),
    );
    mounts.sort((a, b) => b.mountPoint.length - a.mountPoint.length);
    const mountPoint = mounts[0]?.mountPoint ?? '/sys/fs/cgroup';
    return new CgroupV2Manager({ mountPoint, dir, bpf: opts.bpf });
  }
  const byDir = new Map<string, string[]>();
  for (const [c, d] of Object.entries(paths)) {
    if (c === 'unified') continue;
    byDir.set(d, [...(byDir.get(d) ?? []), c]);
  }
  const hierarchies = [...byDir].map(([dir, controllers]) => ({ dir, controllers }));
  return new CgroupV1Manager(hierarchies, paths.unified);
}
