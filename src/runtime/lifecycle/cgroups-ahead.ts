// A container's cgroup directories made on a thread of the addon while its start does other work
// (cgroup v1 hosts: one directory per hierarchy, ~0.1 ms of kernel time each). The launch adopts
// them: its create() finds them made (mkdir's EEXIST; it makes any the thread has not) and counts
// them as its own, so a failed launch removes them like the rest. A start that fails before its
// launch drops them (removed again, when still empty). Nothing else changes: the same
// directories, made before the container's process exists. A new cpuset cgroup needs its cpus
// and mems copied down before anything can join it: the thread does that too (MKDIRS.CPUSET), or,
// failing, leaves the directory to create(). And it opens each hierarchy's `tasks` file for the
// child's self-join (MKDIRS.TASKS; ~25 µs each on the event loop, ten per start): adopt() hands
// them to the launch, which opens any missing one itself (a failed open there reports it, and a
// plain directory where a hierarchy was unmounted sends the launch to read the mounts again).
import { readFileSync } from 'node:fs';
import { MKDIRS, native, type NativeAddon } from '../../native/addon.js';
import { cgroupManager, readCgroupHostView, type CgroupHostView, type CgroupManager } from '../cgroups/index.js';
import type { RuntimeContext } from './context.js';

type MkdirsHandle = ReturnType<NativeAddon['mkdirsBegin']>;

export class CgroupsAhead {
  private ended = false;

  constructor(
    /** The spec's linux.cgroupsPath these are for: a launch with another one drops them. */
    readonly cgroupsPath: string,
    readonly manager: CgroupManager,
    /** What the launch would read itself, read once. */
    readonly procSelfCgroup: string,
    readonly host: CgroupHostView,
    private readonly handle: MkdirsHandle,
    /** The paths given to the thread, in order. */
    private readonly paths: string[],
  ) {}

  /**
   * Waits for the thread (done by then as a rule): the directories it made, now the caller's, and
   * the `tasks` fds it opened, by hierarchy directory (the caller's to close; failed opens are
   * left out: the caller opens those itself and reports why).
   */
  adopt(): { made: string[]; tasks: Map<string, number> } {
    const tasks = new Map<string, number>();
    if (this.ended) return { made: [], tasks };
    this.ended = true;
    const fds: number[] = [];
    const made = native().mkdirsEnd(this.handle, false, fds);
    this.paths.forEach((p, k) => {
      const fd = fds[k];
      if (fd !== undefined && fd >= 0) tasks.set(p, fd);
    });
    return { made, tasks };
  }

  /** Not launched: removes what the thread made (empty directories only). */
  drop(): void {
    if (this.ended) return;
    this.ended = true;
    native().mkdirsEnd(this.handle, true);
  }
}

/**
 * Removes the cgroup directories of container `id` (cgroupsPath `cgroupsPath`) that a crash left
 * without runtime state: made ahead for a start that never launched (the runtime's delete knows
 * only launched containers). Empty ones only (rmdir); nothing when there are none.
 */
export async function removeCgroupsLeft(ctx: RuntimeContext, id: string, cgroupsPath: string): Promise<void> {
  const manager = cgroupManager({ cgroupsPath, containerId: id, procSelfCgroup: readFileSync('/proc/self/cgroup', 'utf8'), host: ctx.cgroupHost?.get() ?? readCgroupHostView(), ...(ctx.cgroupDriver ? { driver: ctx.cgroupDriver } : {}) });
  if (manager.exists()) await manager.destroy();
}

/**
 * Starts making the cgroup directories of container `id` (spec cgroupsPath `cgroupsPath`); undefined
 * where there is nothing to gain (cgroup v2: one directory) or the addon cannot.
 */
export function cgroupsAhead(ctx: RuntimeContext, id: string, cgroupsPath: string): CgroupsAhead | undefined {
  const procSelfCgroup = readFileSync('/proc/self/cgroup', 'utf8');
  const host = ctx.cgroupHost?.get() ?? readCgroupHostView();
  const manager = cgroupManager({ cgroupsPath, containerId: id, procSelfCgroup, host, ...(ctx.cgroupDriver ? { driver: ctx.cgroupDriver } : {}) });
  const dirs = manager.dirsAhead?.() ?? [];
  if (dirs.length === 0) return undefined;
  // v1 hierarchies' dirs get their `tasks` opened too (not the unified one of a hybrid host).
  const hierarchyDirs = new Set(Object.entries(manager.paths).filter(([c]) => c !== 'unified').map(([, d]) => d));
  const cpusetDirs = manager.cpusetDirsAhead?.() ?? [];
  const paths = [...dirs, ...cpusetDirs];
  const flags = paths.map((p, k) => (k >= dirs.length ? MKDIRS.CPUSET : 0) | (hierarchyDirs.has(p) ? MKDIRS.TASKS : 0));
  let handle: MkdirsHandle;
  try {
    handle = native().mkdirsBegin(paths, 0o755, flags);
  } catch {
    return undefined; // the launch makes them itself
  }
  return new CgroupsAhead(cgroupsPath, manager, procSelfCgroup, host, handle, paths);
}
