// Signalling the processes of a cgroup and waiting for conditions, shared by both drivers.
import { sleep } from './fsutil.js';

/** Sends `signal` to each pid; a process that already exited (ESRCH) is fine. */
export function killProcesses(pids: number[], signal: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** Polls `check` (1 ms, backing off to 20 ms) until it is true or `timeoutMs` passed. */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
}
