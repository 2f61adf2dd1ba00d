// Phase timestamps on the container path, for profiling (bench/engine.mjs --phases): with
// HAKO_PHASE_TRACE=<file> in the daemon's environment, each mark appends one line
// `hako-phase <container id> <phase> <CLOCK_MONOTONIC ms> [<main thread CPU ms> <process CPU ms>]`
// to that file. process.hrtime is CLOCK_MONOTONIC, so a client on the same host can put its own
// timestamps on the same axis. The CPU columns (marks made now, not with a time taken elsewhere):
// the event loop thread's (CLOCK_THREAD_CPUTIME_ID, through the addon) and the whole process's
// (CLOCK_PROCESS_CPUTIME_ID: every thread). Off (the default), a mark is one branch.
import { openSync, writeSync } from 'node:fs';
import { native } from '../native/addon.js';

export class PhaseTrace {
  constructor(private readonly fd: number | undefined) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): PhaseTrace {
    const path = env.HAKO_PHASE_TRACE;
    if (!path) return new PhaseTrace(undefined);
    try {
      return new PhaseTrace(openSync(path, 'a', 0o600));
    } catch {
      return new PhaseTrace(undefined);
    }
  }

  get enabled(): boolean {
    return this.fd !== undefined;
  }

  /** `atMs`: a time taken elsewhere on the same clock (ms, CLOCK_MONOTONIC); default now. */
  mark(id: string, phase: string, atMs?: number): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `hako-phase ${id} ${phase} ${(atMs ?? Number(process.hrtime.bigint()) / 1e6).toFixed(3)}${atMs === undefined ? this.cpu() : ''}\n`);
    } catch {
      /* profiling only */
    }
  }

  private cpu(): string {
    const n = native();
    return ` ${(n.cpuTimeNs() / 1e6).toFixed(3)} ${(n.cpuTimeNs(true) / 1e6).toFixed(3)}`;
  }
}
