// The status a user sees is derived, as runc does: the recorded pid must still be the same
// process (start time), the exec fifo exists only until `start`, and a frozen cgroup is `paused`.
import { existsSync } from 'node:fs';
import type { ContainerRecord } from '../state/container-store.js';
import { isSameProcess } from '../state/process-info.js';
import type { RuntimeContext } from './context.js';
import { cgroupsOf } from './context.js';

export type ContainerStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export function statusOf(ctx: RuntimeContext, rec: ContainerRecord): ContainerStatus {
  if (rec.status === 'stopped' || rec.pid <= 0) return rec.status === 'creating' && rec.pid <= 0 ? 'creating' : 'stopped';
  if (!isSameProcess(rec.pid, rec.pidStartTime)) return 'stopped';
  if (rec.status === 'creating') return 'creating';
  if (existsSync(ctx.store.fifoPath(rec.id))) return 'created';
  try {
    const state = cgroupsOf(rec).freezerState();
    if (state === 'frozen' || state === 'freezing') return 'paused';
  } catch {
    /* no freezer: cannot be paused */
  }
  return 'running';
}

/** The OCI state document (`state` command, hooks' stdin). */
export function ociState(ctx: RuntimeContext, rec: ContainerRecord, status = statusOf(ctx, rec)) {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    status,
    pid: status === 'stopped' ? 0 : rec.pid,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(rec.annotations && Object.keys(rec.annotations).length > 0 ? { annotations: rec.annotations } : {}),
  };
}
