// Phase timestamps on the container path, for profiling (bench/engine.mjs --phases): with
// HAKO_PHASE_TRACE=<file> in the daemon's environment, each mark appends one line
// `hako-phase <container id> <phase> <CLOCK_MONOTONIC ms> [<main thread CPU ms> <process CPU ms>]`
// to that file. process.hrtime is CLOCK_MONOTONIC, so a client on the same host can put its own
// timestamps on the same axis. The CPU columns (marks made now, not with a time taken elsewhere):
// the event loop thread's (CLOCK_THREAD_CPUTIME_ID, through the addon) and the whole process's
// (CLOCK_PROCESS_CPUTIME_ID: every thread). Off (the default), a mark is one branch.
//
// Crash injection, for tests only (test/e2e/crash-consistency.test.ts): with
// HAKOD_CRASH_AT=<phase>[:<n>] the daemon SIGKILLs itself when it reaches the n-th mark (default
// the first) of that phase, whatever container it names: a crash at a known point between two
// steps, with everything the steps before it left. Read once, when the trace is made (daemon
// start); absent, it costs nothing more than the trace being off.
import { closeSync, openSync, writeSync } from 'node:fs';
import { native } from '../native/addon.js';

/** HAKOD_CRASH_AT's phase and occurrence (1-based); undefined when unset or malformed. */
export function parseCrashAt(value: string | undefined): { phase: string; nth: number } | undefined {
  if (!value) return undefined;
  const m = /^(.+?)(?::(\d+))?$/.exec(value);
  if (!m) return undefined;
  const nth = m[2] === undefined ? 1 : Number(m[2]);
  return nth >= 1 ? { phase: m[1]!, nth } : undefined;
}

export class PhaseTrace {
  private crashSeen = 0;

  constructor(
    private fd: number | undefined,
    private readonly crashAt?: { phase: string; nth: number },
  ) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): PhaseTrace {
    const crashAt = parseCrashAt(env.HAKOD_CRASH_AT);
    const path = env.HAKO_PHASE_TRACE;
    if (!path) return new PhaseTrace(undefined, crashAt);
    try {
      return new PhaseTrace(openSync(path, 'a', 0o600), crashAt);
    } catch {
      return new PhaseTrace(undefined, crashAt);
    }
  }

  /** Whether marks are wanted (written to a file, or watched for a crash point). */
  get enabled(): boolean {
    return this.fd !== undefined || this.crashAt !== undefined;
  }

  /** `atMs`: a time taken elsewhere on the same clock (ms, CLOCK_MONOTONIC); default now. */
  mark(id: string, phase: string, atMs?: number): void {
    if (this.fd === undefined) {
      if (this.crashAt === undefined) return;
      this.crashIfDue(phase);
      return;
    }
    try {
      writeSync(this.fd, `hako-phase ${id} ${phase} ${(atMs ?? Number(process.hrtime.bigint()) / 1e6).toFixed(3)}${atMs === undefined ? this.cpu() : ''}\n`);
    } catch {
      /* profiling only */
    }
    if (this.crashAt !== undefined) this.crashIfDue(phase);
  }

  /** Closes the trace file (a trace made for one phase of the daemon's life). */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* profiling only */
    }
    this.fd = undefined;
  }

  private crashIfDue(phase: string): void {
    if (phase !== this.crashAt!.phase || ++this.crashSeen !== this.crashAt!.nth) return;
    // No cleanup of any kind: what a power cut or an OOM kill would leave (SIGKILL cannot be caught).
    process.kill(process.pid, 'SIGKILL');
  }

  private cpu(): string {
    const n = native();
    return ` ${(n.cpuTimeNs() / 1e6).toFixed(3)} ${(n.cpuTimeNs(true) / 1e6).toFixed(3)}`;
  }
}
