// A new container's rootfs is mounted right after its create answered (Engine.mountAhead), so
// that the overlay mount (1–3 ms of kernel time) runs while the client attaches and waits, not
// on its start's critical path. Nothing of it may outlast its use: a mount no start takes is
// unmounted after HAKOD_ROOTFS_AHEAD_MS (10 s by default, 400 ms here), at a graceful stop, and
// after a crash at the next start-up; a cp into the created container meanwhile lands in the
// rootfs the start then runs; rm removes it. (dockerd mounts a rootfs at start only: between
// create and start, hako's is mounted where dockerd's is not, invisible to clients.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hasEngine, requestJson, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot, mountsUnder } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import { makeTar } from '../helpers/tar.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
const AHEAD_MS = 400;
const env = { ...process.env, HAKOD_ROOTFS_AHEAD_MS: String(AHEAD_MS) };
let setup: BusyboxDaemon | undefined;
let image: string;
const d = (): TestDaemon => setup!.d;

const json = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => requestJson(d(), method, path, body);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rootfsOf = (id: string): string => join(d().execRoot, 'containers', id, 'rootfs');
const mounted = (id: string): boolean => mountsUnder(rootfsOf(id)).length > 0;

async function until(ms: number, what: string, cond: () => boolean): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(10)) if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
}

async function create(cmd: string[]): Promise<string> {
  const r = await json('POST', '/containers/create', { Image: image, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.Id as string;
}

/** Starts it, waits for its exit and returns its output (logs) and exit code. */
async function runToEnd(id: string): Promise<{ code: number; out: string }> {
  const r = await json('POST', `/containers/${id}/start`);
  assert.equal(r.status, 204, JSON.stringify(r.body));
  const w = await json('POST', `/containers/${id}/wait`);
  const logs = await d().request('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  return { code: w.body.StatusCode as number, out: logs.body.toString('latin1') };
}

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon({ pull: true, daemonOptions: { env } });
  image = setup.image;
});

after(async () => {
  await setup?.stop();
});

test('a created container has its rootfs mounted ahead; unmounted when no start comes, and its start later still runs', { skip, timeout: 60_000 }, async () => {
  const id = await create(['cat', '/etc/hostname']);
  try {
    await until(2000, 'the rootfs mounted ahead of the start', () => mounted(id));
    await until(AHEAD_MS + 3000, 'the rootfs mount ahead dropped', () => !mounted(id));
    const r = await runToEnd(id);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(id.slice(0, 12)));
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
  }
  // (rm answers before its unmount, which runs in the background after the answer)
  await until(3000, 'nothing mounted after rm', () => !mounted(id));
});

test('a start right after the create runs in the rootfs mounted ahead; rm of a created one unmounts it', { skip, timeout: 60_000 }, async () => {
  const id = await create(['true']);
  const r = await runToEnd(id);
  assert.equal(r.code, 0);
  const other = await create(['true']);
  await until(2000, 'the rootfs mounted ahead', () => mounted(other));
  assert.equal((await json('DELETE', `/containers/${other}`)).status, 204);
  await json('DELETE', `/containers/${id}?force=1`);
  await until(3000, 'rm unmounted every rootfs, the one mounted ahead too', () => mountsUnder(join(d().execRoot, 'containers')).length === 0);
});

test('a cp into a created container while its rootfs is mounted ahead: the start sees the file; nothing stays mounted', { skip, timeout: 60_000 }, async () => {
  const id = await create(['cat', '/put-here']);
  try {
    await until(2000, 'the rootfs mounted ahead', () => mounted(id));
    const put = await d().request('PUT', `/containers/${id}/archive?path=/`, makeTar([{ name: 'put-here', data: 'copied in\n' }]), { 'content-type': 'application/x-tar' });
    assert.equal(put.status, 200, put.body.toString());
    // cp took the mount over and unmounted it after (as for any created container): no timer left to fire on it.
    assert.equal(mounted(id), false);
    const r = await runToEnd(id);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /copied in/);
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
  }
  await until(3000, 'nothing mounted after rm', () => !mounted(id));
});

test('a rootfs mounted ahead is unmounted by a graceful stop, and after a crash by the next start-up', { skip, timeout: 90_000 }, async () => {
  // A long wait: only the stop (or the start-up after a crash) can unmount it in time.
  const longEnv = { ...process.env, HAKOD_ROOTFS_AHEAD_MS: '600000' };
  await d().restart('SIGTERM', longEnv);
  const a = await create(['true']);
  await until(2000, 'the rootfs mounted ahead', () => mounted(a));
  await d().restart('SIGTERM', longEnv);
  assert.equal(mounted(a), false, 'unmounted by the graceful stop');
  const b = await create(['true']);
  await until(2000, 'the rootfs mounted ahead', () => mounted(b));
  await d().restart('SIGKILL', env);
  assert.equal(mounted(b), false, 'unmounted by the start-up after the crash');
  for (const id of [a, b]) {
    const r = await runToEnd(id);
    assert.equal(r.code, 0, `${id} runs after the restart: ${r.out}`);
    assert.equal((await json('DELETE', `/containers/${id}`)).status, 204);
  }
  await until(3000, 'nothing mounted after rm', () => mountsUnder(join(d().execRoot, 'containers')).length === 0);
});
