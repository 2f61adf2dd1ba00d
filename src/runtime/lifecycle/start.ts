// start: the created process is blocked opening the exec fifo for writing; opening it for
// reading lets it go on, it writes one byte and execs the user's program.
import { closeSync, openSync, readSync, constants as fsc } from 'node:fs';
import { HakoError, conflict } from '../../common/errors.js';
import { isSameProcess } from '../state/process-info.js';
import type { RuntimeContext } from './context.js';
import { ociState, statusOf } from './status.js';
import { removeFifo } from './launch.js';
import { runHooksWarn } from './hooks.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
    // O_NONBLOCK: never hang if the process died; poll for its byte instead.
    const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK | 0o2000000 /* O_CLOEXEC */);
    try {
      const buf = Buffer.alloc(1);
      const deadline = Date.now() + 10_000;
      for (;;) {
        let n = 0;
        try {
          n = readSync(fd, buf, 0, 1, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (n === 1) break;
        if (!isSameProcess(rec.pid, rec.pidStartTime)) throw new HakoError({ step: `start container "${id}"`, hint: 'its process exited before it could be started', kind: 'conflict' });
        if (Date.now() > deadline) throw new HakoError({ step: `start container "${id}"`, hint: 'the container process did not answer within 10s', kind: 'internal' });
        await sleep(1);
      }
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
