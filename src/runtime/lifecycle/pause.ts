// pause/resume: the freezer (v1 freezer.state, v2 cgroup.freeze).
import { conflict } from '../../common/errors.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { statusOf } from './status.js';

export async function pauseContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const lock = await ctx.store.lock(id);
  try {
    const rec = ctx.store.load(id);
    const status = statusOf(ctx, rec);
    if (status !== 'running' && status !== 'created') throw conflict(`cannot pause container "${id}": it is ${status}`);
    await cgroupsOf(rec).freeze();
  } finally {
    lock.release();
  }
}

export async function resumeContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const lock = await ctx.store.lock(id);
  try {
    const rec = ctx.store.load(id);
    const status = statusOf(ctx, rec);
    if (status !== 'paused') throw conflict(`cannot resume container "${id}": it is not paused (${status})`);
    await cgroupsOf(rec).thaw();
  } finally {
    lock.release();
  }
}
