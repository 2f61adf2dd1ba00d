// A per-container lock so that concurrent commands on one container are serialized.
// Node has no flock(2); an exclusively created lock file holding the owner's pid works across
// processes, and a lock whose owner is dead is taken over (the owner was killed mid-command).
import { closeSync, openSync, readFileSync, statSync, unlinkSync, renameSync } from 'node:fs';
import { writeAllSync } from '../../common/atomic-file.js';
import { HakoError } from '../../common/errors.js';
import { isProcessAlive } from './process-info.js';

// Waiting is asynchronous: in the daemon a blocked wait would stall every other request.
const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* not there */
  }
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false; // released meanwhile: the next round sees
  }
}

export interface Lock {
  release(): void;
}

export async function acquireLock(path: string, what: string, timeoutMs = 30_000): Promise<Lock> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeAllSync(fd, String(process.pid));
      } catch (err) {
        // A full disk (ENOSPC: the file was made, its first block was not): the empty file would
        // read as a lock held by nobody known, and every later command on the container waited
        // its 30 s and failed (pause, kill, delete; a commit took a minute).
        closeSync(fd);
        removeQuietly(path);
        throw err;
      }
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
    // No pid in it: being written right now (between the create and the write), or left so by a
    // process killed in between (or by an older hako on a full disk). Only the second outlives
    // a second.
    const unwritten = !(Number.isFinite(owner) && owner > 0) && olderThan(path, 1000);
    if (unwritten || (Number.isFinite(owner) && owner > 0 && !isProcessAlive(owner))) {
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
