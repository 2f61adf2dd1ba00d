// A cross-process lock file (O_EXCL) holding the owner's pid and its start time; a lock whose
// owner died is taken over. Within one process, callers queue on a promise chain first.
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
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

/** A process's start time (clock ticks since boot, /proc/<pid>/stat field 22); '' when unknown. */
function startTime(pid: number | 'self'): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

let ownStartTime: string | undefined;

/**
 * Whether the lock file's owner (`<pid> <start time>`, or a bare pid from before start times
 * were kept) still holds it. A dead owner does not; nor does one whose pid now names another
 * process: after a crash the restarted daemon may get the same pid (pid 1 of a container, every
 * time), and took its own predecessor's lock for a live holder, failing every image operation
 * for 30 s each.
 */
function held(owner: string): boolean {
  const [pidText, since] = owner.trim().split(' ');
  const pid = Number(pidText);
  if (!(pid > 0) || !alive(pid)) return false;
  if (pid !== process.pid) return since === undefined || since === startTime(pid);
  // Our own pid: ours only if written by this process (another store on the same root in it).
  ownStartTime ??= startTime('self');
  return since !== undefined && since === ownStartTime;
}

function olderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false; // released meanwhile
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
        let owner: string | undefined;
        try {
          owner = readFileSync(this.path, 'utf8');
        } catch {
          /* released meanwhile */
        }
        // An empty file is being written: its owner's pid follows — unless its owner was killed
        // between the create and the write, which leaves it empty for good (every image
        // operation then waited 30 s and failed): one older than a second is taken over.
        if ((owner && !held(owner)) || (owner === '' && olderThan(this.path, 1000))) {
          removeQuietly(this.path);
          continue;
        }
        if (Date.now() > deadline) throw new HakoError({ step: `lock ${this.path}: held by pid ${owner?.split(' ')[0] || 'unknown'}`, kind: 'conflict', hint: 'another hako process is working on the image store' });
        await sleep(20);
        continue;
      }
      try {
        ownStartTime ??= startTime('self');
        writeSync(fd, `${process.pid} ${ownStartTime}`);
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
