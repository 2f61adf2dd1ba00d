// A safety net for test processes that end without stopping what they started.
//
// A test that hits --test-timeout is cancelled and the file's process then force-exits; any
// hakod or registry it spawned used to keep running (with its containers, cgroups, bridge and
// temp dirs). Helpers register a synchronous stopper for each process they start and unregister
// it on a normal stop; at 'exit' (and on SIGTERM/SIGINT/SIGHUP, turned into an exit) the remaining ones
// run. Only the event loop is gone by then, so stoppers signal by pid and poll /proc.
import { readFileSync } from 'node:fs';

const pending = new Map<number, () => void>();
let hooked = false;

function runAll(): void {
  for (const [key, stop] of [...pending]) {
    pending.delete(key);
    try {
      stop();
    } catch (err) {
      process.stderr.write(`exit-cleanup: ${(err as Error).message}\n`);
    }
  }
}

let nextKey = 0;

/** Registers `stop` to run if the process exits first; call the returned function once it is not needed. */
export function atExit(stop: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', runAll);
    // `on`, not `once`: a run killed as a process group sends each test process the signal twice
    // (the group's, then node --test passing it on to its files). With `once` the listener was gone
    // after the first, node restored the default action, and the second killed the process in the
    // middle of runAll (with its daemon half stopped: mounts, cgroups, bridge and dirs left).
    let exiting = false;
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.on(sig, () => {
        if (exiting) return;
        exiting = true;
        process.exit(128 + (sig === 'SIGTERM' ? 15 : sig === 'SIGINT' ? 2 : 1));
      });
    }
  }
  const key = ++nextKey;
  pending.set(key, stop);
  return () => pending.delete(key);
}

/** True while `pid` is a live process (a zombie awaiting our wait() counts as gone). */
export function pidAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Sends `signal`, waits up to `ms` for the process to end, then SIGKILLs it and waits again (sync). */
export function killSync(pid: number, signal: NodeJS.Signals, ms: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const waitGone = (limit: number): boolean => {
    const deadline = Date.now() + limit;
    while (pidAlive(pid)) {
      if (Date.now() > deadline) return false;
      Atomics.wait(pause, 0, 0, 20);
    }
    return true;
  };
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (waitGone(ms)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  waitGone(5000);
}
