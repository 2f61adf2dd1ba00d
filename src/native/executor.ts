// Runs an executor plan: encodes it, clones the child through the addon, and turns what comes
// back (error-pipe records, the pidfd) into promises and HakoErrors.
//
//   const proc = spawnPlan(plan);
//   /* write uid maps, join cgroups */ proc.release();
//   for await (const ev of proc.events()) { if (ev.type === 'notify') await runHook(ev.value); }
//   // here the exec happened; proc.pid is the real process (after a clone op too)
//   const { code, signal } = await proc.exited;
import { writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { HakoError } from '../common/errors.js';
import { addonErrno, native, type PipeRecord, type RawExitStatus } from './addon.js';
import { describeOp, opPath } from './describe-op.js';
import { encodePlan } from './plan-encoding.js';
import { RECORD_NOTIFY, RECORD_PID, RECORD_SETUP, type Plan, type PlanOp } from './plan.js';

export type { PipeRecord } from './addon.js';

export interface ExitStatus {
  /** The exit status, or null when killed by a signal. */
  code: number | null;
  /** The signal's name (`SIGKILL`) when killed by one. */
  signal: string | null;
}

/** What the child reports before its exec: see docs/executor-plan.md. */
export type ExecutorEvent =
  | { type: 'notify'; value: number }
  | { type: 'pid'; pid: number }
  | { type: 'exec' };

const signalNames = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.signals)) if (!signalNames.has(n)) signalNames.set(n, name);

function signalNumber(signal: NodeJS.Signals | number): number {
  if (typeof signal === 'number') return signal;
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  if (n === undefined) throw new HakoError({ step: `send signal ${signal}`, hint: 'unknown signal name', kind: 'invalid-argument' });
  return n;
}

function toExitStatus(raw: RawExitStatus): ExitStatus {
  if (raw.signal !== null) return { code: null, signal: signalNames.get(raw.signal) ?? `SIG${raw.signal}` };
  return { code: raw.code, signal: null };
}

function hintFor(op: PlanOp, errno: number): string | undefined {
  const name = osConstants.errno;
  if (op.op === 'exec' && errno === name.ENOENT) return 'check that the executable exists in the container and is on PATH';
  if (op.op === 'exec' && errno === name.EACCES) return 'the file is not executable, or is on a noexec mount';
  if (op.op === 'lookPath' && errno === name.ENOENT) {
    return op.file.includes('/') || op.searchPath === null ? 'check process.args[0]: no such program in the container' : `PATH is ${op.searchPath}; check process.args[0] and that the program exists in the container`;
  }
  if (op.op === 'lookPath' && errno === name.EACCES) return 'not a regular file the container user may execute (permissions, or a noexec mount)';
  if (op.op === 'pivotRoot' && errno === name.EINVAL) return 'the new root must be a mount point on a private mount';
  if (op.op === 'chdir' && errno === name.ENOENT) return 'the working directory does not exist in the container';
  return undefined;
}

/** Turns a failure record `{step, errno}` (or `{-3, errno}` from the prologue) into a HakoError. */
export function failureError(plan: Plan, record: PipeRecord): HakoError {
  const errno = record.value;
  if (record.step === RECORD_SETUP) {
    return new HakoError({ step: 'prepare the container process (signals, file descriptors)', errno });
  }
  const op = plan.ops[record.step];
  if (!op) {
    return new HakoError({ step: `executor step ${record.step} (not in the plan)`, errno, kind: 'internal' });
  }
  return new HakoError({ step: stepOf(op, errno), path: opPath(op), errno, hint: hintFor(op, errno) });
}

/** The failed op's step; a program not found reads like runc's (Go's exec.LookPath) error. */
function stepOf(op: PlanOp, errno: number): string {
  if (op.op !== 'lookPath') return describeOp(op);
  const name = JSON.stringify(op.file);
  if (errno === osConstants.errno.ENOENT && !op.file.includes('/') && op.searchPath !== null) return `exec: ${name}: executable file not found in $PATH`;
  return `exec: ${name}`;
}

/** A process running (or having run) a plan. Exactly one owner should consume its events. */
export class SpawnedProcess {
  /** The process to track: the clone op's process once its pid record has been seen. */
  pid: number;
  pidfd: number;

  private syncFd: number;
  private errFd: number;
  private readonly queue: PipeRecord[] = [];
  private eof = false;
  private errWait: { promise: Promise<void>; resolve: () => void } | undefined;
  private exitStatus: ExitStatus | undefined;
  private exitPromise: Promise<ExitStatus> | undefined;
  private resolveExit: (status: ExitStatus) => void = () => undefined;
  private readonly forks: boolean;

  constructor(
    readonly plan: Plan,
    handles: { pid: number; pidfd: number; syncFd: number; errFd: number },
    /** Whether plan.ops has a fork op, when the caller knows (plan.ops may be built on demand). */
    forks?: boolean,
  ) {
    this.pid = handles.pid;
    this.pidfd = handles.pidfd;
    this.syncFd = handles.syncFd;
    this.errFd = handles.errFd;
    this.forks = forks ?? plan.ops.some((o) => o.op === 'fork');
  }

  /**
   * Resolves once the tracked process exited and was reaped (never rejects). Tracking starts on
   * first access: from then on a pidfd watch keeps the event loop alive until the exit, like a
   * child_process. A caller that leaves the process running (a detached `create`) simply never
   * asks, so nothing keeps it from exiting (or calls detach()).
   */
  get exited(): Promise<ExitStatus> {
    if (!this.exitPromise) {
      this.exitPromise = new Promise((resolve) => (this.resolveExit = resolve));
      if (this.exitStatus) this.resolveExit(this.exitStatus);
      else if (this.pidfd >= 0) this.watchExit();
    }
    return this.exitPromise;
  }

  /** The exit status once known. */
  get exitCode(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** Lets the child past its `syncWait` op (writes one byte on the sync pipe). */
  release(): void {
    if (this.syncFd < 0) throw new HakoError({ step: 'release the container process', hint: 'the sync pipe is already closed', kind: 'internal' });
    try {
      writeSync(this.syncFd, Buffer.from('G'));
    } catch (err) {
      // EPIPE: the child is gone (Node ignores SIGPIPE, so the write fails instead).
      throw new HakoError({ step: 'release the container process', errno: addonErrno(err), cause: err });
    }
  }

  /** Gives up on the child: closes the sync pipe (a child at syncWait exits 126) and SIGKILLs it. */
  abort(): void {
    this.closeSync();
    this.kill('SIGKILL');
  }

  /** Signals the tracked process through its pidfd; false if it already exited. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exitStatus || this.pidfd < 0) return false;
    try {
      native().pidfdSignal(this.pidfd, signalNumber(signal));
      return true;
    } catch (err) {
      if (addonErrno(err) === osConstants.errno.ESRCH) return false;
      throw new HakoError({ step: `send ${String(signal)} to pid ${this.pid}`, errno: addonErrno(err), cause: err });
    }
  }

  /** The next error-pipe record, or null at EOF (exec happened, or every writer died). Never blocks the loop. */
  async nextRecord(): Promise<PipeRecord | null> {
    for (;;) {
      const rec = this.queue.shift();
      if (rec) return rec;
      if (this.eof || this.errFd < 0) return null;
      this.drain();
      if (this.queue.length > 0 || this.eof) continue;
      await this.errReadable();
    }
  }

  /** Like nextRecord but blocking (for synchronous callers). */
  readRecordSync(): PipeRecord | null {
    const queued = this.queue.shift();
    if (queued) return queued;
    if (this.eof || this.errFd < 0) return null;
    const rec = native().readRecord(this.errFd);
    if (rec === null) {
      this.eof = true;
      return null;
    }
    this.ingest(rec);
    return this.queue.shift() ?? null;
  }

  /**
   * The child's progress as events: `notify` (run hooks, then keep iterating), `pid` (a clone op
   * made the real process; `this.pid`/`this.pidfd` already track it), and finally `exec`.
   * A failure record is thrown as a HakoError naming the op.
   */
  async *events(): AsyncGenerator<ExecutorEvent, void, undefined> {
    for (;;) {
      const rec = await this.nextRecord();
      if (rec === null) {
        yield { type: 'exec' };
        return;
      }
      if (rec.step === RECORD_PID) yield { type: 'pid', pid: rec.value };
      else if (rec.step === RECORD_NOTIFY) yield { type: 'notify', value: rec.value };
      else throw failureError(this.plan, rec);
    }
  }

  /** The failure the child already reported, if any (reads what is in the pipe, never blocks). */
  pendingFailure(): HakoError | undefined {
    try {
      this.drain();
    } catch {
      return undefined;
    }
    const rec = this.queue.find((r) => r.step >= 0 || r.step === RECORD_SETUP);
    return rec ? failureError(this.plan, rec) : undefined;
  }

  /** Closes the read end of the error pipe (a later failing child then writes to its fd 2). */
  closeErrPipe(): void {
    if (this.errFd < 0) return;
    native().unwatch(this.errFd);
    native().close(this.errFd);
    this.errFd = -1;
    const wait = this.errWait;
    this.errWait = undefined;
    wait?.resolve();
  }

  /**
   * Stops tracking without touching the process (a detached container that outlives this
   * Node process): closes every fd, so nothing keeps the event loop alive. `exited` never resolves.
   */
  detach(): void {
    this.closeSync();
    this.closeErrPipe();
    if (this.pidfd >= 0) {
      native().unwatch(this.pidfd);
      native().close(this.pidfd);
      this.pidfd = -1;
    }
  }

  private closeSync(): void {
    if (this.syncFd < 0) return;
    native().close(this.syncFd);
    this.syncFd = -1;
  }

  private errReadable(): Promise<void> {
    if (!this.errWait) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      const wait = { promise, resolve };
      this.errWait = wait;
      native().watch(this.errFd, () => {
        if (this.errWait === wait) this.errWait = undefined;
        resolve();
      });
    }
    return this.errWait.promise;
  }

  /** Moves every record already in the pipe into the queue, without blocking. */
  private drain(): void {
    while (this.errFd >= 0 && !this.eof) {
      const rec = native().readRecord(this.errFd, true);
      if (rec === undefined) return;
      if (rec === null) this.eof = true;
      else this.ingest(rec);
    }
  }

  private ingest(rec: PipeRecord): void {
    // In a plan with a fork op, a clone op runs in the forked child and its process becomes the
    // fork caller's child (see docs/executor-plan.md): the tracked process stays the caller.
    if (rec.step === RECORD_PID && !this.forks) this.switchTo(rec.value);
    this.queue.push(rec);
  }

  /**
   * A clone op reported the real process: track it instead. It is our child (CLONE_PARENT), so
   * nobody else can reap it and its pid cannot be reused before we open the pidfd. The reporting
   * process exits right after writing the record; reap it.
   */
  private switchTo(pid: number): void {
    const old = this.pidfd;
    const fresh = native().pidfdOpen(pid);
    this.pid = pid;
    this.pidfd = fresh;
    if (old >= 0) {
      native().unwatch(old);
      try {
        native().waitPidfd(old, false);
      } catch {
        /* ECHILD: already reaped by the exit watcher, which is how we got here */
      }
      native().close(old);
    }
    if (this.exitPromise) this.watchExit();
  }

  private watchExit(): void {
    const fd = this.pidfd;
    native().watch(fd, () => this.onExitReadable(fd));
  }

  private onExitReadable(fd: number): void {
    if (fd !== this.pidfd) return;
    const raw = native().waitPidfd(fd, true);
    if (raw === null) {
      this.watchExit(); // spurious wakeup
      return;
    }
    // Whatever the process wrote before exiting is in the pipe now; a pid record among it means
    // this was a clone op's reporting process and switchTo() already moved on to the real one.
    // (This runs as a loop callback: a throw here would be an uncaught exception.)
    try {
      this.drain();
    } catch {
      /* unreadable pipe or pidfd_open failure: report the exit of the process we know */
    }
    if (this.pidfd !== fd) return;
    this.exitStatus = toExitStatus(raw);
    this.pidfd = -1;
    native().close(fd);
    this.closeSync();
    if (this.eof) this.closeErrPipe();
    this.resolveExit(this.exitStatus);
  }
}

/** Encodes and starts `plan`. The child waits at its first `syncWait` until release(). */
/**
 * `trace` (profiling): a BigUint64Array of plan.ops.length + 1 slots, filled by the processes
 * with the CLOCK_MONOTONIC time (ns) each op completed (slot ops.length: the spawn's prologue;
 * an exec op's slot: right before the exec). Only CLONE_VM spawns write it; 0 = not reached.
 * Keep it referenced until the processes exec'd or exited.
 */
export function spawnPlan(plan: Plan, trace?: BigUint64Array): SpawnedProcess {
  return spawnEncoded(plan, encodePlan(plan), trace);
}

/**
 * spawnPlan with `plan` encoded already (`buf`: encodePlan(plan), or its equal from a launch
 * template); `forks`: whether plan.ops has a fork op (so that plan.ops, which failure messages
 * describe, may be built only when asked for).
 */
export function spawnEncoded(plan: Plan, buf: Buffer, trace?: BigUint64Array, forks?: boolean): SpawnedProcess {
  let handles;
  try {
    handles = trace ? native().spawn(buf, trace) : native().spawn(buf);
  } catch (err) {
    if (err instanceof HakoError) throw err;
    const e = err as { syscall?: string };
    throw new HakoError({ step: `start the container process (${e.syscall ?? 'clone3'})`, errno: addonErrno(err), cause: err });
  }
  return new SpawnedProcess(plan, handles, forks);
}

/**
 * Waits until the exec happened (EOF on the error pipe without a failure record) and returns
 * the pid of the real process; rejects with the failure's HakoError. `onNotify` runs for each
 * notify op (e.g. hooks) before the child is expected to go on.
 */
export async function waitUntilExecOrFailure(
  proc: SpawnedProcess,
  opts: { onNotify?: (value: number) => void | Promise<void> } = {},
): Promise<{ pid: number }> {
  for await (const ev of proc.events()) {
    if (ev.type === 'notify') await opts.onNotify?.(ev.value);
    else if (ev.type === 'exec') return { pid: proc.pid };
  }
  return { pid: proc.pid };
}
