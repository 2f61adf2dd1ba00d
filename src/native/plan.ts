// The executor plan: the only language the native executor speaks.
//
// TypeScript decides everything (which namespaces, which mounts in which order, which ids, caps,
// seccomp bytes); the C child interprets this list op by op between clone() and execve() and
// decides nothing. The binary encoding is specified in docs/executor-plan.md and implemented in
// ./plan-encoding.ts; the interpreter is native/addon_exec.c.
//
// Paths: an op path with `inRoot: true` is resolved by the kernel inside the current root
// register (set by `openRoot`/`pivotRoot`/`moveRoot`) with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS), so a symlink in the container's rootfs can never lead outside it.
// Paths with `inRoot` false/absent are used as given (host paths before pivot, or container
// paths after it).

/** An fd the parent hands the child, referenced by index into `Plan.internalFds`. */
export type InternalFd = number;

export type PlanOp =
  /** Block until the parent writes one byte on the sync pipe. EOF → the child exits 126 quietly. */
  | { op: 'syncWait' }
  /** Tell the parent "I got here": writes the record {-2, value} on the error pipe. */
  | { op: 'notify'; value: number }
  /** Raw setresgid(gid)+setresuid(uid) (no setgroups). Used as setid0 right after entering a user ns. */
  | { op: 'setresid'; uid: number; gid: number }
  /** Raw setgroups(2). */
  | { op: 'setgroups'; gids: number[] }
  | { op: 'unshare'; flags: number }
  /** setns(internalFds[fd], nstype); nstype 0 = any (pidfd with several CLONE_NEW* flags also allowed). */
  | { op: 'setns'; fd: InternalFd; nstype: number }
  /**
   * clone3(CLONE_PARENT | flags): the calling process reports the new pid as record {-1, pid} and
   * exits 0; the new process (a sibling, so the parent can reap it) carries on with the next op.
   * Used after joining namespaces (a pid ns join takes effect only for children).
   */
  | { op: 'clone'; flags: number }
  /**
   * clone3(flags | CLONE_PIDFD) WITHOUT CLONE_PARENT: the new process is the caller's child.
   * The caller (parent) writes the record {-4, childPid} and continues at op `parentContinuesAt`
   * (typically the `exec` of a monitor that reaps the child); when `pidfd` >= 0 the child's pidfd
   * is first moved onto that fd number without CLOEXEC, so it survives the parent's exec.
   * The child carries on with the next op. `ops[parentContinuesAt - 1]` must be an `exec` (the
   * child's last op), so the child can never run into the parent's ops.
   * Used for supervised containers: the process Node spawned becomes the container's monitor.
   * When the child part has a `clone` op, the caller waits (before its continuation) for the
   * clone's pid on a pipe of its own, reaps the forked child (which exits after cloning) and
   * moves the clone's pidfd to `pidfd` instead: the clone's process is its child (CLONE_PARENT
   * from its child). The parent sees the clone as a {-1, pid} record but keeps tracking the
   * spawned process. With `cgroupFd` (an internal fd of a cgroup2 directory) the child is made
   * in that cgroup (CLONE_INTO_CGROUP), the caller stays where it is.
   */
  | { op: 'fork'; flags: number; parentContinuesAt: number; pidfd?: number; cgroupFd?: InternalFd }
  /** open(path, O_PATH|O_DIRECTORY) becomes the root register. */
  | { op: 'openRoot'; path: string }
  | {
      op: 'mount';
      source: string | null;
      target: string;
      fstype: string | null;
      flags: number;
      data: string | null;
      /** Resolve target inside the root register (mount goes onto /proc/self/fd/N). */
      inRoot?: boolean;
      /** ENOENT while resolving the target makes the op a no-op instead of an error. */
      optional?: boolean;
    }
  /**
   * Bind-remount target with `flags` (MS_RDONLY, MS_NOSUID, ...) plus whatever flags the kernel
   * has locked on it (statfs: nosuid/nodev/noexec/rdonly/atime flags), because dropping a locked
   * flag in a user namespace fails with EPERM.
   */
  | { op: 'remount'; target: string; flags: number; inRoot?: boolean; optional?: boolean }
  /** Hide a path: a directory gets a read-only empty tmpfs, anything else a bind of /dev/null. Missing → no-op. */
  | { op: 'mask'; path: string; inRoot?: boolean }
  /** mkdir -p (each missing component created with `mode`). */
  | { op: 'mkdirs'; path: string; mode: number; inRoot?: boolean }
  /** Create an empty regular file if nothing exists there (parents created 0755). */
  | { op: 'touch'; path: string; mode: number; inRoot?: boolean }
  | { op: 'symlink'; target: string; path: string; inRoot?: boolean; ignoreExisting?: boolean }
  | { op: 'mknod'; path: string; mode: number; major: number; minor: number; uid: number; gid: number; inRoot?: boolean }
  | { op: 'chown'; path: string; uid: number; gid: number; inRoot?: boolean }
  | { op: 'chmod'; path: string; mode: number; inRoot?: boolean }
  /** chdir(root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"); root register = "/". */
  | { op: 'pivotRoot'; path: string }
  /** The chroot fallback (e.g. rootfs on ramfs): chdir(path); mount(path, "/", MS_MOVE); chroot("."); chdir("/"). */
  | { op: 'moveRoot'; path: string }
  | { op: 'chroot'; path: string }
  | { op: 'sethostname'; name: string }
  | { op: 'setdomainname'; name: string }
  /** open(path, O_WRONLY|O_TRUNC) and write data (sysctls, oom_score_adj, ...). */
  | { op: 'writeFile'; path: string; data: string; inRoot?: boolean }
  /**
   * write(2) `data` to an fd the parent opened (its credentials are the file's, e.g. a cgroup v1
   * `tasks` file that "0" moves the child into). `path` only names the file in error messages.
   */
  | { op: 'writeFd'; fd: InternalFd; data: string; path?: string }
  | { op: 'setrlimit'; resource: number; soft: bigint; hard: bigint }
  /**
   * chdir(path). `attempt` (runc's two tries, so that a cwd only the container user may enter, or
   * only root, works): 'first' = before the user switch, and EACCES/EPERM is no failure but
   * leaves the cwd to the 'retry' op; 'retry' = after the switch, only if the first try was denied.
   */
  | { op: 'chdir'; path: string; attempt?: 'first' | 'retry' }
  | { op: 'umask'; mask: number }
  /** PR_CAPBSET_DROP every capability not in `keep` (bit n = capability n). */
  | { op: 'capBounding'; keep: bigint }
  | { op: 'keepCaps'; on: boolean }
  /** capset v3 with these masks. */
  | { op: 'capset'; effective: bigint; permitted: bigint; inheritable: bigint }
  /** Clear the ambient set, then raise each capability in `raise`. */
  | { op: 'ambient'; raise: bigint }
  /** prctl(PR_SET_PDEATHSIG, signal); 0 clears it. */
  | { op: 'pdeathsig'; signal: number }
  | { op: 'noNewPrivs' }
  /** seccomp(SECCOMP_SET_MODE_FILTER, flags, {filter}); filter is classic BPF, 8 bytes per insn. */
  | { op: 'seccomp'; filter: Uint8Array; flags: number }
  | { op: 'setsid' }
  /** Sets `lo` of the process's network namespace up (SIOCSIFFLAGS; docker's --network none). */
  | { op: 'loopbackUp' }
  /**
   * Open /dev/ptmx in the current root (after pivot it is the container's devpts), unlock it,
   * open the peer, setsid + TIOCSCTTY, dup2 the peer onto 0/1/2, send the master with SCM_RIGHTS
   * on internalFds[socket] (payload: the peer's path, as runc does), close the master.
   * rows/cols > 0 set the initial window size.
   */
  | { op: 'openPty'; socket: InternalFd; rows: number; cols: number }
  /** open("/proc/self/fd/<internalFds[fd]>", O_WRONLY) — blocks until someone opens the fifo to read (start). Writes "0". */
  | { op: 'waitFifo'; fd: InternalFd }
  /** dup2(internalFds[fd], target) (clears CLOEXEC on target). */
  | { op: 'dup2'; fd: InternalFd; target: number }
  /** close_range(from, ~0, CLOSE_RANGE_CLOEXEC) except the error pipe. */
  | { op: 'closeFrom'; from: number }
  /**
   * Checks that `exec` of the same `file` and `searchPath` would find a program it may run, without
   * running it: the same search as `exec` (EACCES remembered, ENOENT skipped), each candidate a
   * regular file (statx) that the process may execute with its current credentials (faccessat2
   * X_OK, AT_EACCESS; noexec mounts give EACCES). Fails with ENOENT (not found) or EACCES. For
   * create, so that a missing program fails the create, not the start.
   */
  | { op: 'lookPath'; file: string; searchPath: string | null }
  /**
   * execve. If `file` has no '/', each directory of `searchPath` (colon-separated) is tried like
   * execvpe (EACCES remembered, ENOENT skipped). This must be the last op, or the last op of a
   * fork's child part (the op before the fork's `parentContinuesAt`).
   */
  | { op: 'exec'; file: string; argv: string[]; env: string[]; searchPath: string | null };

/** Whether an `exec` at `step` may be followed by more ops: it ends a fork's child part. */
export function execEndsForkChild(ops: readonly PlanOp[], step: number): boolean {
  return ops.some((o, k) => o.op === 'fork' && k < step && o.parentContinuesAt === step + 1);
}

export interface Plan {
  /** CLONE_NEW* flags for the first clone3 (CLONE_PIDFD is always added). */
  cloneFlags: number;
  /** A cgroup v2 directory fd for CLONE_INTO_CGROUP, or -1. */
  cgroupFd: number;
  /** Parent fds that become fds in the child (dup2'd, no CLOEXEC), e.g. stdio 0/1/2 and preserved fds. */
  fds: Array<{ source: number; target: number }>;
  /** Parent fds the ops use (relocated above every target, CLOEXEC); ops name them by index. */
  internalFds: number[];
  /** prctl(PR_SET_PDEATHSIG) right after the clone; 0 = none (the process outlives the caller). */
  pdeathsig: number;
  ops: PlanOp[];
}

/** Special `step` values of records on the error pipe. */
export const RECORD_PID = -1;
export const RECORD_NOTIFY = -2;
/** A failure before the first op (fd setup, signal reset). */
export const RECORD_SETUP = -3;
/** A `fork` op made pid `value` (the caller's child; the caller goes on to its continuation). */
export const RECORD_FORK = -4;

/** Linux constants the planner needs. */
export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
  PARENT: 0x00008000,
  INTO_CGROUP: 0x200000000, // clone3 only; set by the addon when cgroupFd >= 0
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;
