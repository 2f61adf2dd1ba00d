// The cgroup attach prewarm: start the RCU grace period a container's cgroup join will need
// while the container is still being prepared.
//
// Moving a task between cgroups takes cgroup_threadgroup_rwsem for writing (v1 and v2 alike).
// When that lock has not been taken for writing for a while, taking it waits for a full RCU grace
// period first (rcu_sync_enter from idle): 8–17 ms on this machine kind, against 0.1–0.2 ms when
// it was taken a few ms before (see v1.ts). That wait is the largest cost of a container start
// after an idle gap, and it is on the critical path: the child cannot run its program before it
// is in its cgroups. runc hides part of it behind its own `runc init` start-up.
//
// Taking the lock for a move that changes nothing starts the same grace period: our own pid into
// the cgroup.procs of the cgroup we are already in (the kernel finds source and destination equal
// and migrates nothing). Issued from a detached thread at the start of a launch, the grace period
// runs while we validate the bundle, make the cgroups and plan the container; the real attach
// ~5–15 ms later then finds the lock warm (measured here: 12–15 ms → 0.2 ms with a 16 ms head
// start, → ~5 ms with 10 ms). The lock is global, so one hierarchy is enough.
//
// The target must be exactly our own cgroup (anything else would move this process): it is
// resolved from /proc/self/cgroup and /proc/self/mountinfo the same way the cgroup manager
// places containers. Failures are ignored (the real attach just pays the full wait).
import { dirOnMount, parseCgroupMounts, parseProcCgroup, readProcInput } from './paths.js';

export interface PrewarmInputs {
  /** Contents of /proc/self/cgroup and /proc/self/mountinfo (read when absent). */
  procSelfCgroup?: string;
  mountinfo?: string;
}

/** The cgroup.procs file of this process's own cgroup in one hierarchy (v1 controller, else v2), or undefined. */
export function ownProcsFile(inputs: PrewarmInputs = {}): string | undefined {
  const own = parseProcCgroup(readProcInput(inputs.procSelfCgroup, '/proc/self/cgroup'));
  const mounts = parseCgroupMounts(readProcInput(inputs.mountinfo, '/proc/self/mountinfo'));
  // Only a mount that shows our cgroup (its root is ours or above it); never a path with "..",
  // which /proc/self/cgroup shows for a cgroup outside our cgroup namespace.
  const shows = (m: { root: string }, path: string) => !path.split('/').includes('..') && (m.root === '/' || path === m.root || path.startsWith(`${m.root}/`));
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((c) => b.includes(c));
  for (const m of mounts) {
    if (m.fsType !== 'cgroup' || m.controllers.length === 0 || m.controllers.some((c) => c.startsWith('name='))) continue;
    const entry = own.find((e) => e.controllers.length > 0 && same(e.controllers, m.controllers));
    if (entry && shows(m, entry.path)) return `${dirOnMount(m, entry.path)}/cgroup.procs`;
  }
  const v2 = own.find((e) => e.id === 0 && e.controllers.length === 0);
  const m2 = mounts.find((m) => m.fsType === 'cgroup2' && v2 !== undefined && shows(m, v2.path));
  if (v2 && m2) return `${dirOnMount(m2, v2.path)}/cgroup.procs`;
  return undefined;
}

/** Starts the grace period in the background (see the top of this file). Never throws. */
export function startAttachPrewarm(write: (path: string, data: string) => void, inputs: PrewarmInputs = {}): void {
  try {
    const file = ownProcsFile(inputs);
    if (file) write(file, String(process.pid));
  } catch {
    /* no prewarm: the attach pays the whole wait */
  }
}
