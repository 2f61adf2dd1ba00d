// start: the created process is blocked opening the exec fifo for writing; opening it for
// reading lets it go on, it writes one byte and execs the user's program.
import { closeSync, openSync, readSync, constants as fsc } from 'node:fs';
import { native } from '../../native/addon.js';
import { HakoError, conflict } from '../../common/errors.js';
import { isSameProcess } from '../state/process-info.js';
import type { RuntimeContext } from './context.js';
import { ociState, statusOf } from './status.js';
import { removeFifo } from './launch.js';
import { runHooksWarn } from './hooks.js';

/**
 * Our open of the fifo lets the blocked process's open for writing return; it writes one byte
 * and goes on to exec. Wait (event-driven: the fifo becoming readable, or the process's pidfd
 * on exit) until the byte is there.
 */
async function awaitStartByte(fd: number, pid: number, startTime: string | undefined, id: string): Promise<void> {
  const buf = Buffer.alloc(1);
  const readByte = (): boolean => {
    try {
      return readSync(fd, buf, 0, 1, null) === 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      return false;
    }
  };
  if (readByte()) return;
  const gone = () => new HakoError({ step: `start container "${id}"`, hint: 'its process exited before it could be started', kind: 'conflict' });
  let pidfd = -1;
  try {
    pidfd = native().pidfdOpen(pid);
  } catch {
    /* ESRCH: gone (checked below) */
  }
  try {
    // The pidfd is of the recorded process only if it still has the recorded start time. It may
    // have written its byte, exec'd and exited already (a short-lived program): the byte is then
    // still in the fifo.
    if (pidfd < 0 || !isSameProcess(pid, startTime)) {
      if (readByte()) return;
      throw gone();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const woke = await new Promise<'fifo' | 'exit' | 'timeout'>((resolve) => {
        const done = (why: 'fifo' | 'exit' | 'timeout') => {
          clearTimeout(timer);
          native().unwatch(fd);
          native().unwatch(pidfd);
          resolve(why);
        };
        const timer = setTimeout(() => done('timeout'), Math.max(0, deadline - Date.now()));
        native().watch(fd, () => done('fifo'));
        native().watch(pidfd, () => done('exit'));
      });
      if (readByte()) return;
      if (woke === 'exit') throw gone();
      if (woke === 'timeout') throw new HakoError({ step: `start container "${id}"`, hint: 'the container process did not answer within 10s', kind: 'internal' });
      // Readable without a byte: some other writer came and went (EOF, which stays readable);
      // keep waiting for the process, without spinning on the hang-up.
      if (!isSameProcess(pid, startTime)) throw gone();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  } finally {
    if (pidfd >= 0) native().close(pidfd);
  }
}

export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const lock = await ctx.store.lock(id);
  try {
    const rec = ctx.store.load(id);
    const status = statusOf(ctx, rec);
    if (status !== 'created') throw conflict(`cannot start container "${id}": it is ${status}`, status === 'stopped' ? 'delete it and create it again' : undefined);
    const startHooks = rec.config.hooks?.startContainer;
    if (startHooks && startHooks.length > 0) {
      const { runStartContainerHooks } = await import('./start-hooks.js');
      try {
        await runStartContainerHooks(ctx, rec, startHooks);
      } catch (err) {
        // The spec: a failing startContainer hook stops the container; the user's program never runs.
        const { signalPid } = await import('./kill.js');
        try {
          signalPid(rec.pid, rec.pidStartTime, 9, id);
        } catch {
          /* already gone */
        }
        throw err;
      }
    }
    const fifo = ctx.store.fifoPath(id);
    // O_NONBLOCK: never hang if the process died; wait for its byte or its exit instead.
    const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK | 0o2000000 /* O_CLOEXEC */);
    try {
      await awaitStartByte(fd, rec.pid, rec.pidStartTime, id);
    } finally {
      closeSync(fd);
    }
    removeFifo(fifo);
    rec.status = 'running';
    ctx.store.save(rec);
    await runHooksWarn('poststart', rec.config.hooks?.poststart, ociState(ctx, rec, 'running'), ctx.log.warn);
  } finally {
    lock.release();
  }
}
