// A cross-process lock file (O_EXCL) holding the owner's pid; a lock whose owner died is taken
// over. Within one process, callers queue on a promise chain first.
import { open, readFile, unlink } from 'node:fs/promises';
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
      try {
        const fh = await open(this.path, 'wx', 0o644);
        await fh.writeFile(String(process.pid));
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(`lock ${this.path}`, err, this.path);
        const owner = Number(await readFile(this.path, 'utf8').catch(() => ''));
        if (owner > 0 && !alive(owner)) {
          await unlink(this.path).catch(() => undefined);
          continue;
        }
        if (Date.now() > deadline) throw new HakoError({ step: `lock ${this.path}: held by pid ${owner || 'unknown'}`, kind: 'conflict', hint: 'another hako process is working on the image store' });
        await sleep(20);
      }
    }
    try {
      return await fn();
    } finally {
      await unlink(this.path).catch(() => undefined);
    }
  }
}
