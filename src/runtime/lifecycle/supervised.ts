// The supervised launch: the process the executor spawns becomes the container's monitor.
//
//   Node ──spawn──▶ P (host namespaces, stdio /dev/null, monitor fds at 3…)
//                   ops: fork(container namespaces, pidfd → 3) ─┬─▶ child: dup2 pipes onto 0/1/2,
//                                                               │   closeFrom 3, the container's ops, exec
//                                                               └─▶ P: exec monitor --pidfd 3 --stdout 4 …
//
// The container is the monitor's child (not Node's), so it keeps running, logging and attachable
// when the daemon dies. Node learns the container pid from the fork's {-4, pid} record and does
// the usual handshake on it (id maps, cgroups, release); the SpawnedProcess keeps tracking P,
// i.e. the monitor (Node's child: awaiting `exited` reaps it). When the container's ops have a
// clone op (a pid ns join, a new time ns), the clone's process is the container: P waits for it,
// reaps the forked one and gives the monitor the clone's pidfd; Node sees its {-1, pid} record
// as a `pid` event, opens its own pidfd on it and releases it from the sync wait that follows
// the clone op here (see launch.ts).
import { closeSync, openSync } from 'node:fs';
import { HakoError } from '../../common/errors.js';
import { addonErrno, native } from '../../native/addon.js';
import { failureError, type SpawnedProcess } from '../../native/executor.js';
import { RECORD_FORK, type Plan, type PlanOp } from '../../native/plan.js';

/** How launch() starts a container under a monitor (the engine builds this: src/engine/monitor). */
export interface SupervisorOptions {
  /** The monitor executable (host path), e.g. build/hako-monitor. */
  path: string;
  /** The monitor's state dir (it chdirs there; launch writes monitor.json into it). */
  dir: string;
  /** The monitor's arguments, without the fd arguments launch adds (--pidfd, --stdout, --stderr, --stdin, --pty-socket). */
  args: string[];
  /** Give the container a stdin pipe (docker OpenStdin); otherwise its stdin is /dev/null. Ignored with a terminal. */
  openStdin: boolean;
  /**
   * A flag the monitor takes with the container's memory cgroup dir (the unified one on v2):
   * launch() appends `<flag> <dir>` to `args` once it made the cgroups (when there is one).
   */
  cgroupMemoryFlag?: string;
  /**
   * Control-protocol clients handed to the monitor already connected (one end of a socketpair
   * each; the caller keeps the other end, and closes these once launch() returned or failed).
   * They get fds from MONITOR_FD.firstClient on and a `--client-fd N` each (at most 8).
   */
  clientFds?: number[];
}

/** The fds the monitor is given (fixed numbers in its process). */
export const MONITOR_FD = { pidfd: 3, stdout: 4, stderr: 5, stdin: 6, ptySocket: 4, firstClient: 7 } as const;

/** Clients hako-monitor takes already connected (`--client-fd`; MAX_HANDED in native/monitor.c). */
export const MAX_HANDED_CLIENTS = 8;

export interface SupervisedPlanInput {
  supervisor: SupervisorOptions;
  /** The container's clone flags (CLONE_NEW*): they go on the fork, the monitor stays on the host. */
  cloneFlags: number;
  /** The container's ops (ending in its exec). */
  ops: PlanOp[];
  /** The internal fds the container's ops already refer to (appended to, not reordered). */
  internalFds: number[];
  /** terminal: the index of the internal fd the openPty op sends the master on, and the monitor's end. */
  pty?: { monitorEnd: number };
  /** Internal fd index of the cgroup2 directory the container is forked into (CLONE_INTO_CGROUP). */
  cgroupFd?: number;
}

export interface SupervisedPlan {
  plan: Plan;
  /** Fds this process made for the plan: close them once the child has them (after spawn). */
  fdsToClose: number[];
}

/**
 * The plan for a supervised container. Without a terminal the container's stdout/stderr (and
 * stdin with openStdin) are pipes whose other ends the monitor holds; with one, the monitor
 * receives the pty master on `pty.monitorEnd` (the container's openPty op sends it).
 */
export function supervisedPlan(input: SupervisedPlanInput): SupervisedPlan {
  const { supervisor } = input;
  // A clone op (pid namespace join, new time ns…) stays in the container's part: the fork op
  // hands the monitor the clone's process instead of the forked one (docs/executor-plan.md).
  if (input.ops.some((o) => o.op === 'fork')) throw new HakoError({ step: 'plan a supervised container', hint: 'the container ops already have a fork op', kind: 'internal' });
  const fdsToClose: number[] = [];
  const internalFds = [...input.internalFds];
  const internal = (fd: number) => internalFds.push(fd) - 1;
  try {
    const devNull = openSync('/dev/null', 'r+');
    fdsToClose.push(devNull);
    const fds: Plan['fds'] = [
      { source: devNull, target: 0 },
      { source: devNull, target: 1 },
      { source: devNull, target: 2 },
    ];
    const childOps: PlanOp[] = [];
    const fdArgs: string[] = ['--pidfd', String(MONITOR_FD.pidfd)];
    if (input.pty) {
      fds.push({ source: input.pty.monitorEnd, target: MONITOR_FD.ptySocket });
      fdArgs.push('--pty-socket', String(MONITOR_FD.ptySocket));
    } else {
      const out = native().pipe();
      const err = native().pipe();
      fdsToClose.push(...out, ...err);
      fds.push({ source: out[0], target: MONITOR_FD.stdout }, { source: err[0], target: MONITOR_FD.stderr });
      fdArgs.push('--stdout', String(MONITOR_FD.stdout), '--stderr', String(MONITOR_FD.stderr));
      let stdinIndex = internal(devNull);
      if (supervisor.openStdin) {
        const inp = native().pipe();
        fdsToClose.push(...inp);
        fds.push({ source: inp[1], target: MONITOR_FD.stdin });
        fdArgs.push('--stdin', String(MONITOR_FD.stdin));
        stdinIndex = internal(inp[0]);
      }
      childOps.push(
        { op: 'dup2', fd: stdinIndex, target: 0 },
        { op: 'dup2', fd: internal(out[1]), target: 1 },
        { op: 'dup2', fd: internal(err[1]), target: 2 },
      );
    }
    if ((supervisor.clientFds?.length ?? 0) > MAX_HANDED_CLIENTS) throw new HakoError({ step: 'plan a supervised container', hint: `at most ${MAX_HANDED_CLIENTS} clients can be handed to the monitor`, kind: 'internal' });
    (supervisor.clientFds ?? []).forEach((source, k) => {
      fds.push({ source, target: MONITOR_FD.firstClient + k });
      fdArgs.push('--client-fd', String(MONITOR_FD.firstClient + k));
    });
    // The fds targets (the monitor's ends) are inherited by the child too: not past its exec.
    childOps.push({ op: 'closeFrom', from: 3 });
    // The clone's process waits right after the clone until Node has a pidfd on it: in run mode
    // nothing else holds it, and the monitor (its parent by CLONE_PARENT) reaps it as soon as it
    // exits, so a pidfd_open after a quick `true` could fail (ESRCH) or name a reused pid.
    const containerOps = [...childOps, ...input.ops.flatMap((o): PlanOp[] => (o.op === 'clone' ? [o, { op: 'syncWait' }] : [o]))];
    const monitorExec: PlanOp = {
      op: 'exec',
      file: supervisor.path,
      argv: [supervisor.path, '--dir', supervisor.dir, ...supervisor.args, ...fdArgs],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      searchPath: null,
    };
    const ops: PlanOp[] = [
      { op: 'fork', flags: input.cloneFlags, parentContinuesAt: 1 + containerOps.length, pidfd: MONITOR_FD.pidfd, ...(input.cgroupFd === undefined ? {} : { cgroupFd: input.cgroupFd }) },
      ...containerOps,
      monitorExec,
    ];
    if (containerOps[containerOps.length - 1]?.op !== 'exec') throw new HakoError({ step: 'plan a supervised container', hint: 'the container ops do not end in exec', kind: 'internal' });
    return { plan: { cloneFlags: 0, cgroupFd: -1, fds, internalFds, pdeathsig: 0, ops }, fdsToClose };
  } catch (err) {
    for (const fd of fdsToClose) safeClose(fd);
    throw err;
  }
}

/**
 * Waits for the fork record and returns the container's pid, with a pidfd on it (opened while
 * the monitor, its parent, cannot have reaped it yet... or has: then the pid is a zombie or gone,
 * and the handshake fails on it like for any dead child). A failure record is thrown.
 */
export async function awaitFork(proc: SpawnedProcess): Promise<{ pid: number; pidfd: number }> {
  for (;;) {
    const rec = await proc.nextRecord();
    if (rec === null) throw new HakoError({ step: 'start the container monitor', hint: 'the process exited before forking the container', kind: 'internal' });
    if (rec.step === RECORD_FORK) {
      let pidfd = -1;
      try {
        pidfd = native().pidfdOpen(rec.value);
      } catch (err) {
        throw new HakoError({ step: `open a pidfd on container process ${rec.value}`, errno: addonErrno(err), cause: err });
      }
      return { pid: rec.value, pidfd };
    }
    throw failureError(proc.plan, rec);
  }
}

/** SIGKILLs the container through its pidfd and waits (without reaping: the monitor does) until it is gone. */
export async function killContainerPidfd(pidfd: number): Promise<void> {
  try {
    native().pidfdSignal(pidfd, 9);
  } catch {
    /* ESRCH: already dead */
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      native().unwatch(pidfd);
      resolve();
    }, 5000);
    native().watch(pidfd, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  safeClose(pidfd);
}

function safeClose(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}
