// A container's cgroup directories made on a thread of the addon while its start does other work
// (cgroup v1 hosts: one directory per hierarchy, ~0.1 ms of kernel time each). The launch adopts
// them: its create() finds them made (mkdir's EEXIST; it makes any the thread has not) and counts
// them as its own, so a failed launch removes them like the rest. A start that fails before its
// launch drops them (removed again, when still empty). Nothing else changes: the same
// directories, made before the container's process exists; the cpuset ones are left to create()
// (a new cpuset cgroup needs its cpus and mems copied down before anything can join it).
import { readFileSync } from 'node:fs';
import { native, type NativeAddon } from '../../native/addon.js';
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
  ) {}

  /** Waits for the thread (done by then as a rule): the directories it made, now the caller's. */
  adopt(): string[] {
    if (this.ended) return [];
    this.ended = true;
    return native().mkdirsEnd(this.handle, false);
  }

  /** Not launched: removes what the thread made (empty directories only). */
  drop(): void {
    if (this.ended) return;
    this.ended = true;
    native().mkdirsEnd(this.handle, true);
  }
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
  let handle: MkdirsHandle;
  try {
    handle = native().mkdirsBegin(dirs, 0o755);
  } catch {
    return undefined; // the launch makes them itself
  }
  return new CgroupsAhead(cgroupsPath, manager, procSelfCgroup, host, handle);
}
