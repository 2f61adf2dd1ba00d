// The exit file the monitor writes (dir/exit.json, atomically: exit.json.tmp + rename) and
// waiting for it without polling: a pidfd on the monitor becomes readable when it exits.
import { readFileSync } from 'node:fs';
import { joinPath as join } from '../../common/join-path.js';
import { HakoError } from '../../common/errors.js';
import { addonErrno, native } from '../../native/addon.js';
import { isSameProcess } from '../../runtime/state/process-info.js';

export interface ExitRecord {
  /** docker's exit code: the status, or 128 + signal number. */
  exitCode: number;
  /** The killing signal's name (SIGKILL), or null for a normal exit. */
  signal: string | null;
  /** RFC3339Nano UTC. */
  finishedAt: string;
  /** The memory cgroup's oom_kill counter grew while the container ran. */
  oomKilled: boolean;
  /** The container's pid. */
  pid: number;
}

/** dir/exit.json, or null while the container runs (or if the monitor died without writing it). */
export function readExit(dir: string): ExitRecord | null {
  let text: string;
  try {
    text = readFileSync(join(dir, 'exit.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as ExitRecord;
}

/** True when `pid` is alive, not a zombie, and started at `startTime` (from /proc/PID/stat). */
export function monitorAlive(pid: number, startTime: string | null | undefined): boolean {
  return isSameProcess(pid, startTime ?? undefined);
}

/** The exit record of a monitor that has exited; a HakoError when it left none (it was killed). */
export function exitOfGoneMonitor(dir: string, pid: number): ExitRecord {
  const rec = readExit(dir);
  if (rec) return rec;
  throw new HakoError({ step: `wait for the container monitor ${pid}`, path: join(dir, 'exit.json'), hint: 'the monitor exited without writing an exit record (was it killed?)', kind: 'internal' });
}

/**
 * Resolves with the exit record once the monitor has exited (it writes the record, then exits).
 * Waits on a pidfd of the monitor (no polling). It does not reap: if the monitor is this
 * process's child (launched here), await `launched.process.exited` too, or it stays a zombie.
 * Rejects with a HakoError when the monitor is gone without a record (it was killed), or on abort.
 */
export async function waitForExit(dir: string, monitor: { pid: number; startTime?: string | null }, signal?: AbortSignal): Promise<ExitRecord> {
  const gone = () => exitOfGoneMonitor(dir, monitor.pid);
  const early = readExit(dir);
  if (early) return early;
  let pidfd: number;
  try {
    pidfd = native().pidfdOpen(monitor.pid);
  } catch (err) {
    if (addonErrno(err) === 3 /* ESRCH */) return gone();
    throw new HakoError({ step: `open a pidfd on monitor ${monitor.pid}`, errno: addonErrno(err), cause: err });
  }
  // The pid may have been reused since it was recorded: check identity after opening the pidfd.
  if (monitor.startTime && !monitorAlive(monitor.pid, monitor.startTime)) {
    native().close(pidfd);
    return gone();
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        native().unwatch(pidfd);
        reject(signal!.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      native().watch(pidfd, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  } finally {
    native().close(pidfd);
  }
  return gone();
}
