// What the cgroup layer reads of the host besides our own cgroup: the cgroup mounts (from
// /proc/self/mountinfo) and the mode (v1 / hybrid / v2). A long-lived runtime (hakod) reads them
// once and keeps them, as dockerd and containerd do: reading mountinfo costs ~0.2 ms of CPU per
// container start (the kernel renders every mount of the namespace), parsing it ~0.1 ms more.
//
// When the host's cgroup mounts change while we run (a hierarchy unmounted or moved), the kept
// view is stale: the start that trips over it (making or joining the container's cgroup fails with
// ENOENT or EROFS) drops it, reads the mounts again and retries once (../lifecycle/launch.ts). A
// hierarchy mounted after the view was read breaks nothing and is not used until the view is read
// again (such a failure, or a restart). Our own cgroup (/proc/self/cgroup, ~20 µs) is still read
// per start, so a daemon moved to another cgroup places later containers relative to the new one.
import { detectCgroupMode, parseCgroupMounts, readProcInput, type CgroupMode, type CgroupMount } from './paths.js';

export interface CgroupHostView {
  /** /proc/self/mountinfo as read. */
  readonly mountinfo: string;
  /** Its cgroup and cgroup2 mounts. */
  readonly mounts: readonly CgroupMount[];
  /** The mode of `root`. */
  readonly mode: CgroupMode;
  /** The cgroup fs root the mode is of. */
  readonly root: string;
}

/** Reads the host's cgroup view now (`mountinfo` given: parsed from that text instead). */
export function readCgroupHostView(root = '/sys/fs/cgroup', mountinfo?: string): CgroupHostView {
  const text = readProcInput(mountinfo, '/proc/self/mountinfo');
  return { mountinfo: text, mounts: parseCgroupMounts(text), mode: detectCgroupMode(root), root };
}

/** One view kept for a long-lived runtime; refresh() when it proved stale. */
export class CgroupHostCache {
  private view: CgroupHostView | undefined;

  constructor(private readonly root = '/sys/fs/cgroup') {}

  get(): CgroupHostView {
    return (this.view ??= readCgroupHostView(this.root));
  }

  /** Drops the kept view and reads it again. */
  refresh(): CgroupHostView {
    this.view = undefined;
    return this.get();
  }
}
