// A per-container lock so that concurrent commands on one container are serialized.
// Node has no flock(2); an exclusively created lock file holding the owner's pid works across
// processes, and a lock whose owner is dead is taken over (the owner was killed mid-command).
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, renameSync } from 'node:fs';
import { HakoError } from '../../common/errors.js';
import { isProcessAlive } from './process-info.js';

// Waiting is asynchronous: in the daemon a blocked wait would stall every other request.
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Lock {
  release(): void;
}

export async function acquireLock(path: string, what: string, timeoutMs = 30_000): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            unlinkSync(path);
          } catch {
            /* the state dir may be gone (delete) */
          }
        },
      };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT') throw new HakoError({ step: `lock ${what}`, path, errno: 2, kind: 'not-found' });
      if (e.code !== 'EEXIST') throw new HakoError({ step: `lock ${what}`, path, errno: Math.abs(e.errno ?? 5) });
    }
    // Held: take it over if its owner is gone, else wait.
    let owner = 0;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // released meanwhile
    }
    if (Number.isFinite(owner) && owner > 0 && !isProcessAlive(owner)) {
      // Rename first so that only one waiter wins the stale lock.
      const stale = `${path}.stale.${process.pid}`;
      try {
        renameSync(path, stale);
        unlinkSync(stale);
      } catch {
        /* someone else took it over */
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw new HakoError({ step: `lock ${what}`, path, hint: `held by pid ${owner} for more than ${timeoutMs / 1000}s`, kind: 'conflict' });
    }
    await sleepMs(Math.min(1 + attempt, 20));
  }
}
