// exec: a new process inside a running container. The child joins every namespace of the
// container's process through one pidfd (user first, as setns(pidfd, flags) does), then a clone
// op makes the real process (a pid-ns join only applies to children) as our direct child, so we
// get its exit status. It is put into the container's cgroups before it is released.
//
// With `monitor` (the engine's docker exec): the process is started under a monitor of its own,
// as launch() does for a container (./supervised.ts): the spawned process forks the exec'd one
// and execs the monitor, which becomes its parent, holds its stdio and writes its exit record,
// so the exec outlives the caller (a daemon that is killed and restarted, as with containerd's shim).
import { closeSync } from 'node:fs';
import { resolve } from 'node:path';
import { conflict, invalid } from '../../common/errors.js';
import { native } from '../../native/addon.js';
import type { Plan } from '../../native/plan.js';
import { spawnPlan, type SpawnedProcess } from '../../native/executor.js';
import { planExec } from '../plan/index.js';
import type { SpecProcess } from '../spec/types.js';
import { processStartTime } from '../state/process-info.js';
import { writeFileAtomicSync } from '../../common/atomic-file.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';
import { waitInForeground } from './foreground.js';
import { openPidfd, receivePty } from './launch.js';
import { awaitFork, killContainerPidfd, supervisedPlan, type SupervisorOptions } from './supervised.js';

export interface ExecOptions {
  process: SpecProcess;
  stdio: [number, number, number];
  preserveFds?: number;
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  /** Internal: allow a container that is only created (startContainer hooks run then). */
  allowCreated?: boolean;
  /**
   * Supervised: the process runs under a monitor (its parent, which holds its stdio; `stdio`,
   * `preserveFds`, `consoleSocket` and `pidFile` are then ignored). `process` tracks the monitor.
   */
  monitor?: SupervisorOptions;
}

export interface ExecStarted {
  /** The exec'd process, or with `monitor` the monitor (our child: await `exited` to reap it). */
  process: SpawnedProcess;
  /** The exec'd process. */
  pid: number;
  ptyMaster?: number;
  /** Supervised: the monitor (also written to <monitor dir>/monitor.json). */
  monitor?: { pid: number; startTime: string | null; containerPid: number };
}

export async function startExec(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<ExecStarted> {
  if (opts.monitor) return startSupervisedExec(ctx, id, opts, opts.monitor);
  const rec = ctx.store.load(id);
  const status = statusOf(ctx, rec);
  if (status !== 'running' && !(opts.allowCreated && status === 'created')) throw conflict(`cannot exec in container "${id}": it is ${status}`, status === 'created' ? 'start it first' : undefined);
  if (opts.process.terminal && opts.detach && !opts.consoleSocket) {
    throw invalid('cannot allocate a terminal for a detached exec without --console-socket');
  }
  const toClose: number[] = [];
  const closers: Array<() => void> = [];
  // The exec'd process joins the container's cgroups without a move by us (whose lock waits for
  // an RCU grace period, ../cgroups/v1.ts): on v2 it is cloned into them (CLONE_INTO_CGROUP); on
  // v1 it moves itself ("0" to each tasks file), cloned into the unified hierarchy of a hybrid host.
  const cgroups = cgroupsOf(rec);
  try {
    const { selfJoin, internalFds, cgroupSelfJoin } = openExecJoin(rec, id, cgroups, toClose);
    let consoleSocket: number | undefined;
    let ownPtyEnd: number | undefined;
    if (opts.process.terminal) {
      if (opts.consoleSocket) {
        const { connectConsoleSocket } = await import('./console.js'); // node:net, only when needed
        const sock = await connectConsoleSocket(opts.consoleSocket);
        closers.push(() => sock.close());
        consoleSocket = internalFds.push(sock.fd) - 1;
      } else {
        const [ours, theirs] = native().socketPair();
        toClose.push(ours, theirs);
        ownPtyEnd = ours;
        consoleSocket = internalFds.push(theirs) - 1;
      }
    }
    const planned = planExec({ spec: rec.config, process: opts.process, targetPidfd: 0, consoleSocket, ...(cgroupSelfJoin ? { cgroupSelfJoin } : {}), ...(ctx.seccompCache ? { seccompCache: ctx.seccompCache } : {}) });
    for (const w of planned.warnings) ctx.log.warn(w);
    for (const n of planned.notices ?? []) ctx.log.debug(n);
    const fds: Plan['fds'] = [
      { source: opts.stdio[0], target: 0 },
      { source: opts.stdio[1], target: 1 },
      { source: opts.stdio[2], target: 2 },
    ];
    for (let i = 0; i < (opts.preserveFds ?? 0); i++) fds.push({ source: 3 + i, target: 3 + i });
    let cgroupFd = selfJoin?.cloneInto ?? -1;
    if (cgroups.version === 2) {
      cgroupFd = cgroups.openForCloneInto();
      toClose.push(cgroupFd);
    }
    const proc = spawnPlan({ cloneFlags: planned.cloneFlags, cgroupFd, fds, internalFds, pdeathsig: 0, ops: planned.ops });
    try {
      proc.release();
      for await (const ev of proc.events()) {
        if (ev.type === 'exec') break;
      }
    } catch (err) {
      proc.abort();
      await proc.exited.catch(() => undefined);
      throw err;
    }
    if (opts.pidFile) writeFileAtomicSync(opts.pidFile, String(proc.pid), { mode: 0o644, durable: false });
    let ptyMaster: number | undefined;
    if (ownPtyEnd !== undefined) ptyMaster = receivePty(ownPtyEnd);
    return { process: proc, pid: proc.pid, ...(ptyMaster === undefined ? {} : { ptyMaster }) };
  } finally {
    for (const close of closers) close();
    for (const fd of toClose) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
    }
  }
}

export async function execInContainer(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<number> {
  const started = await startExec(ctx, id, opts);
  if (opts.detach) {
    started.process.closeErrPipe();
    return 0;
  }
  return await waitInForeground(started.process, started.ptyMaster);
}

/** startExec under a monitor of its own (see the top of this file). */
async function startSupervisedExec(ctx: RuntimeContext, id: string, opts: ExecOptions, supervisor: SupervisorOptions): Promise<ExecStarted> {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx, rec);
  if (status !== 'running') throw conflict(`cannot exec in container "${id}": it is ${status}`, status === 'created' ? 'start it first' : undefined);
  const toClose: number[] = [];
  const cgroups = cgroupsOf(rec);
  const execPidfds: number[] = [];
  let proc: SpawnedProcess | undefined;
  try {
    const { selfJoin, internalFds, cgroupSelfJoin } = openExecJoin(rec, id, cgroups, toClose);
    let consoleSocket: number | undefined;
    let monitorPtyEnd: number | undefined;
    if (opts.process.terminal) {
      const [ours, theirs] = native().socketPair();
      toClose.push(ours, theirs);
      monitorPtyEnd = ours;
      consoleSocket = internalFds.push(theirs) - 1;
    }
    let cgroupFd = selfJoin?.cloneInto ?? -1;
    if (cgroups.version === 2) {
      cgroupFd = cgroups.openForCloneInto();
      toClose.push(cgroupFd);
    }
    // The fork op (the future exec process) is cloned into the cgroup; the monitor stays outside.
    const forkCgroupFd = cgroupFd >= 0 ? internalFds.push(cgroupFd) - 1 : undefined;
    const planned = planExec({ spec: rec.config, process: opts.process, targetPidfd: 0, consoleSocket, ...(cgroupSelfJoin ? { cgroupSelfJoin } : {}), ...(ctx.seccompCache ? { seccompCache: ctx.seccompCache } : {}) });
    for (const w of planned.warnings) ctx.log.warn(w);
    for (const n of planned.notices ?? []) ctx.log.debug(n);
    const supervised = supervisedPlan({
      supervisor,
      cloneFlags: planned.cloneFlags,
      ops: planned.ops,
      internalFds,
      ...(monitorPtyEnd === undefined ? {} : { pty: { monitorEnd: monitorPtyEnd } }),
      ...(forkCgroupFd === undefined ? {} : { cgroupFd: forkCgroupFd }),
    });
    toClose.push(...supervised.fdsToClose);
    proc = spawnPlan(supervised.plan);
    const spawned = proc;
    // The forked process, then the clone op's process that replaces it (the exec'd one).
    const forked = await awaitFork(spawned);
    execPidfds.push(forked.pidfd);
    let execPid = forked.pid;
    try {
      spawned.release();
    } catch (err) {
      throw spawned.pendingFailure() ?? err;
    }
    for await (const ev of spawned.events()) {
      if (ev.type === 'pid') {
        execPid = ev.pid;
        execPidfds.push(openPidfd(ev.pid));
        spawned.release(); // it waits after its clone op until this pidfd is open (supervisedPlan)
      } else if (ev.type === 'exec') {
        break;
      }
    }
    spawned.closeErrPipe();
    const monitor = { pid: spawned.pid, startTime: processStartTime(spawned.pid), containerPid: execPid };
    writeFileAtomicSync(resolve(supervisor.dir, 'monitor.json'), JSON.stringify(monitor), { mode: 0o644, durable: false });
    for (const fd of execPidfds.splice(0)) native().close(fd);
    return { process: spawned, pid: execPid, monitor };
  } catch (err) {
    for (const fd of execPidfds.splice(0).reverse()) await killContainerPidfd(fd);
    if (proc) {
      proc.abort();
      await proc.exited.catch(() => undefined);
    }
    throw err;
  } finally {
    for (const fd of toClose) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
    }
  }
}

/**
 * What an exec'd process needs to join a running container: the cgroup self-join fds, a pidfd of
 * the container's process (checked to be the same process), and the fds the plan refers to by
 * index. Every fd opened goes into `toClose`.
 */
function openExecJoin(rec: Parameters<typeof cgroupsOf>[0], id: string, cgroups: ReturnType<typeof cgroupsOf>, toClose: number[]) {
  const selfJoin = cgroups.openSelfJoin();
  if (selfJoin) toClose.push(...selfJoin.tasks.map((t) => t.fd), ...(selfJoin.cloneInto >= 0 ? [selfJoin.cloneInto] : []));
  const pidfd = native().pidfdOpen(rec.pid);
  toClose.push(pidfd);
  if (processStartTime(rec.pid) !== rec.pidStartTime) throw conflict(`cannot exec in container "${id}": it is not running`);
  const internalFds = [pidfd];
  const cgroupSelfJoin = selfJoin?.tasks.map((t) => ({ fd: internalFds.push(t.fd) - 1, path: t.path }));
  return { selfJoin, internalFds, cgroupSelfJoin };
}
