// delete: a stopped (or still only created) container is removed with its cgroups and state;
// a running one only with --force, which kills everything in its cgroup first.
import { constants as osc } from 'node:os';
import { conflict, HakoError } from '../../common/errors.js';
import { isSameProcess } from '../state/process-info.js';
import type { ContainerRecord } from '../state/container-store.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';
import { ociState, statusOf } from './status.js';
import { runHooksWarn } from './hooks.js';
import { signalPid } from './kill.js';
import { detachHostMount } from './host-mounts.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `record`: the container's state as its launch returned it, from an embedding engine that kept
 * it (nothing but the launch writes what delete reads: pid, cgroups, mounts, hooks): state.json
 * (~10 KB with the spec in it) is then not read and parsed again.
 */
export async function deleteContainer(ctx: RuntimeContext, id: string, opts: { force?: boolean; record?: ContainerRecord } = {}): Promise<void> {
  let lock;
  try {
    lock = await ctx.store.lock(id);
  } catch (err) {
    if (err instanceof HakoError && err.kind === 'not-found') {
      // Like runc: `delete --force` of a container that is already gone succeeds. containerd's
      // shim calls it again during cleanup after a normal delete, and logs the failure otherwise.
      if (opts.force) return;
      throw new HakoError({ step: `container "${id}" does not exist`, kind: 'not-found' });
    }
    throw err;
  }
  try {
    let rec;
    try {
      rec = opts.record && opts.record.id === id ? opts.record : ctx.store.load(id);
    } catch (err) {
      // A state dir without a readable state.json (a crash mid-create): --force removes it.
      if (opts.force) {
        ctx.store.remove(id);
        return;
      }
      throw err;
    }
    const status = statusOf(ctx, rec);
    if ((status === 'running' || status === 'paused' || status === 'creating') && !opts.force) {
      throw conflict(`cannot delete container "${id}" that is not stopped: ${status}`, 'stop it first, or use delete --force');
    }
    const cgroups = cgroupsOf(rec);
    if (status !== 'stopped') {
      try {
        if (cgroups.exists()) await cgroups.killAll(osc.signals.SIGKILL);
        else signalPid(rec.pid, rec.pidStartTime, osc.signals.SIGKILL, id);
      } catch (err) {
        if (!(err instanceof HakoError && err.kind === 'conflict')) throw err;
      }
      const deadline = Date.now() + 10_000;
      while (isSameProcess(rec.pid, rec.pidStartTime)) {
        if (Date.now() > deadline) throw new HakoError({ step: `delete container "${id}"`, hint: `process ${rec.pid} did not die after SIGKILL`, kind: 'internal' });
        await sleep(2);
      }
    }
    if (rec.hostRootfsMount) await detachHostMount(rec.hostRootfsMount.path, rec.hostRootfsMount.mountId);
    await cgroups.destroy();
    ctx.store.remove(id);
    await runHooksWarn('poststop', rec.config.hooks?.poststop, ociState(ctx, rec, 'stopped'), ctx.log.warn);
  } finally {
    lock.release();
  }
}
