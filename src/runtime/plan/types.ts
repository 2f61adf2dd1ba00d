// The planner's request and answer shapes.
import type { PlanOp } from '../../native/plan.js';
import type { IdMapping, NamespaceType, Process, Spec } from '../spec/types.js';
import type { SeccompCache } from './process.js';

/** Checkpoint values the child reports with `notify` ops (the lifecycle reacts to them). */
export const NOTIFY = {
  /** All mounts done, not pivoted yet: run createRuntime/createContainer hooks, then release. */
  BEFORE_PIVOT: 1,
  /** (Used by the lifecycle before waitFifo.) */
  CREATED: 2,
  /** The child made its user namespace with unshare: write uid_map/gid_map now, then release. */
  USERNS: 3,
} as const;

/** What a bind source is on the host. */
export type SourceKind = 'dir' | 'file' | 'missing';

/** A cgroup v1 hierarchy as mounted on the host (one directory under /sys/fs/cgroup). */
export interface CgroupHierarchy {
  /** Directory name under the cgroup mount: `cpu,cpuacct`, `memory`, `systemd`. */
  name: string;
  /** mount(2) data selecting the hierarchy: `cpu,cpuacct`, `memory`, `none,name=systemd`. */
  options: string;
  /** Host directory of the container's cgroup in this hierarchy (for binds without a cgroup ns). */
  containerDir?: string;
}

export interface CgroupLayout {
  version: 1 | 2;
  /** v1 only. */
  hierarchies?: CgroupHierarchy[];
  /** v2 only: host directory of the container's cgroup. */
  containerDir?: string;
}

export interface PlanRequest {
  spec: Spec;
  /** Absolute bundle directory (root.path and relative bind sources are relative to it). */
  bundle: string;
  mode: 'create' | 'run';
  /** Internal fd index of the exec fifo (create mode): waitFifo after all root setup. */
  fifo?: number;
  /** Internal fd index of the console socket: openPty sends the pty master there (process.terminal). */
  consoleSocket?: number;
  /** Internal fd indexes of the namespaces that have a `path` in the spec. */
  joinNamespaces: Array<{ type: NamespaceType; fd: number }>;
  /** Emit notify(NOTIFY.BEFORE_PIVOT)+syncWait before pivot_root (for createRuntime/createContainer hooks). */
  hooksBeforePivot: boolean;
  /** The process is cloned straight into its v2 cgroup (CLONE_INTO_CGROUP): CLONE_NEWCGROUP may go in cloneFlags. */
  cgroupV2IntoClone?: boolean;
  /**
   * The process joins its v1 cgroups itself, first thing after its release: "0" written to each
   * internal fd (a hierarchy's `tasks` file; `path` names it in errors). See ../cgroups/v1.ts.
   * Replaces the parent's move.
   */
  cgroupSelfJoin?: Array<{ fd: number; path: string }>;
  /** The host's cgroup layout and the container's cgroup dirs, for `cgroup` mounts (default: read from /proc/self/mountinfo, without container dirs). */
  cgroupLayout?: CgroupLayout;
  /**
   * The container's cgroup directories as recorded at create (CgroupManager.paths: controller →
   * host dir, `name=systemd`, `unified`). They fill in the layout's container dirs, which a
   * `cgroup` mount binds when the container has no cgroup namespace.
   */
  cgroupPaths?: Record<string, string>;
  /** What a bind source is (default: stat on the host). Injectable for tests. */
  statSource?: (path: string) => SourceKind;
  /** The mount point containing `path` on the host (default: /proc/self/mountinfo); only for rootfsPropagation "shared". */
  mountPointOf?: (path: string) => string;
  /** Use moveRoot (MS_MOVE + chroot) instead of pivot_root, e.g. for a rootfs on ramfs (runc --no-pivot). */
  noPivot?: boolean;
  /** The caller has no privilege over the host ids (default: euid != 0): setgroups is denied in a new user ns. */
  rootless?: boolean;
  /** Reuse compiled seccomp filters (the Runtime's). */
  seccompCache?: SeccompCache;
  /** Set `lo` of the container's new network namespace up (an engine's `--network none`). */
  loopbackUp?: boolean;
  /**
   * A fresh network namespace the caller made ahead (owned by the host's user ns, nothing in it
   * but lo; `loopbackUp`: lo already up), by internal fd index. Entered with setns instead of
   * CLONE_NEWNET when the spec asks for a new network namespace owned by the host's user ns (no
   * new or joined user ns); otherwise unused (PlannedContainer.premadeNetworkUsed).
   */
  premadeNetwork?: { fd: number; loopbackUp: boolean };
  /**
   * The kernel has /proc/kcore (CONFIG_PROC_KCORE; default: it exists on this host): only then is
   * /dev/core linked to it, as runc does (a dangling link otherwise).
   */
  hostHasKcore?: boolean;
}

export interface PlannedContainer {
  /** CLONE_NEW* flags for the first clone. */
  cloneFlags: number;
  ops: PlanOp[];
  /** Mappings the parent writes for a new user namespace (empty when there is none). */
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** Write "deny" to /proc/PID/setgroups before gid_map (the plan then has no setgroups op). */
  needsSetgroupsDeny: boolean;
  /**
   * When the maps are written: `undefined` = after spawn, before the first release (user ns in
   * cloneFlags); a number = when the child reports notify(that value) (the user ns is made with
   * unshare after joining other namespaces), then release.
   */
  idMapsAtNotify?: number;
  /**
   * The plan has a `clone` op: the container's process is the one it reports ({-1, pid}), the
   * first process exits 0 once it has cloned. Needed for a new time namespace, a pid ns join, or
   * a new pid ns owned by a joined/unshared user ns.
   */
  pidFromClone: boolean;
  /**
   * The container has no mount namespace: its mounts are made in the caller's, beneath a
   * self-bind of this rootfs path, which stays until delete detaches it.
   */
  hostRootfsMount?: string;
  /** The request's premadeNetwork is entered (a setns op) instead of a new network namespace. */
  premadeNetworkUsed?: boolean;
  warnings: string[];
  /** Debug-level findings, for a debug log only (never for the container's stderr). */
  notices?: string[];
}

export interface ExecRequest {
  /** The container's config (its namespaces and seccomp profile apply to the new process). */
  spec: Spec;
  /** The process to run (an OCI process object). */
  process: Process;
  /** Internal fd index of a pidfd of the container's init: setns(pidfd, all its namespace flags). */
  targetPidfd: number;
  consoleSocket?: number;
  /** See PlanRequest.rootless. */
  rootless?: boolean;
  /** See PlanRequest.seccompCache. */
  seccompCache?: SeccompCache;
  /** See PlanRequest.cgroupSelfJoin (before the setns: the clone op's process inherits the cgroups). */
  cgroupSelfJoin?: Array<{ fd: number; path: string }>;
}
