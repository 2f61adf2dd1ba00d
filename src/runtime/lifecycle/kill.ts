// kill: signal the container's process (through a pidfd, so a reused pid is never hit) or,
// with --all, every process in its cgroup.
import { constants as osc } from 'node:os';
import { HakoError, conflict, invalid } from '../../common/errors.js';
import { native } from '../../native/addon.js';
import { processStartTime } from '../state/process-info.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';

export function parseSignal(sig: string | number | undefined): number {
  if (sig === undefined || sig === '') return osc.signals.SIGTERM;
  if (typeof sig === 'number') return checkSignalNumber(sig, String(sig));
  if (/^\d+$/.test(sig)) return checkSignalNumber(Number(sig), sig);
  const name = sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`;
  const n = (osc.signals as Record<string, number>)[name];
  if (n === undefined) throw invalid(`unknown signal "${sig}"`, 'use a name like TERM, KILL, HUP or a number');
  return n;
}

function checkSignalNumber(n: number, text: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw invalid(`invalid signal number "${text}"`, 'signals are 1 to 64');
  return n;
}

export async function killContainer(ctx: RuntimeContext, id: string, signal: number, opts: { all?: boolean } = {}): Promise<void> {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx, rec);
  if (status === 'stopped') throw conflict(`cannot kill container "${id}": it is not running`);
  if (opts.all) {
    await cgroupsOf(rec).killAll(signal);
    return;
  }
  signalPid(rec.pid, rec.pidStartTime, signal, id);
}

/** pidfd_open, then check the start time: holding the pidfd, the pid cannot be reused under us. */
export function signalPid(pid: number, startTime: string | undefined, signal: number, id: string): void {
  let pidfd: number;
  try {
    pidfd = native().pidfdOpen(pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw conflict(`cannot kill container "${id}": it is not running`);
    throw new HakoError({ step: `open process ${pid} of container "${id}"`, errno: (err as NodeJS.ErrnoException).errno });
  }
  try {
    if (startTime !== undefined && processStartTime(pid) !== startTime) throw conflict(`cannot kill container "${id}": it is not running`);
    native().pidfdSignal(pidfd, signal);
  } catch (err) {
    if (err instanceof HakoError) throw err;
    throw new HakoError({ step: `send signal ${signal} to container "${id}" (pid ${pid})`, errno: (err as NodeJS.ErrnoException).errno });
  } finally {
    native().close(pidfd);
  }
}
