// A cross-process lock file (O_EXCL) holding the owner's pid; a lock whose owner died is taken
// over. Within one process, callers queue on a promise chain first.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { HakoError, fromSystemError } from '../../common/errors.js';
import { sleep } from './content.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

export class FileLock {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(readonly path: string) {}

  /** Runs `fn` holding the lock. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(() => this.withFile(fn));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async withFile<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      // Synchronous: a create and a small write (tens of µs) at every image commit, instead of
      // three thread-pool round trips queued behind the commit's fsyncs.
      let fd: number;
      try {
        fd = openSync(this.path, 'wx', 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(`lock ${this.path}`, err, this.path);
        let owner = 0;
        try {
          owner = Number(readFileSync(this.path, 'utf8'));
        } catch {
          /* released meanwhile */
        }
        if (owner > 0 && !alive(owner)) {
          removeQuietly(this.path);
          continue;
        }
        if (Date.now() > deadline) throw new HakoError({ step: `lock ${this.path}: held by pid ${owner || 'unknown'}`, kind: 'conflict', hint: 'another hako process is working on the image store' });
        await sleep(20);
        continue;
      }
      try {
        writeSync(fd, String(process.pid));
      } catch (err) {
        closeSync(fd);
        removeQuietly(this.path); // not left behind half-written (ENOSPC)
        throw fromSystemError(`lock ${this.path}`, err, this.path);
      }
      closeSync(fd);
      break;
    }
    try {
      return await fn();
    } finally {
      removeQuietly(this.path);
    }
  }
}
