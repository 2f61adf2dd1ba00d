// The engine holds a running container's mount namespace (so its mounts are not torn down on the
// exit path) and lets go of it after the exit, on every path (remove, restart, auto-remove,
// close), with real busybox containers; nothing of the container is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import { isRoot, testCgroupName, cgroupDirs, mountsUnder } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let dir: { path: string; cleanup: () => void };
let engine: Engine;
let fx: EngineFixture | undefined;
let IMAGE: string;
const cgroupParent = testCgroupName('engine-exit');
const net = testNet();

function newEngine(): Engine {
  return fx!.newEngine();
}

before(async () => {
  if (skip) return;
  fx = await engineFixture({ dirPrefix: 'hako-exit-', cgroupParent, net });
  ({ engine, image: IMAGE, dir } = fx);
});

after(async () => {
  await fx?.close(engine);
});

const mounted = (id: string) => mountsUnder(join(dir.path, 'run', 'containers', id)).length > 0;
const cgroupsOf = (id: string) => cgroupDirs(`${cgroupParent}/${id}`);

async function waitFor(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Nothing of the container in the exec-root, the mount table or the cgroup trees. */
async function assertGone(id: string): Promise<void> {
  await waitFor(`the mount, bundle and cgroups of ${id} to go`, () => !mounted(id) && !existsSync(join(dir.path, 'run', 'containers', id)) && cgroupsOf(id).length === 0, 5000);
}

test('a running container’s mount namespace is held by the engine and released after its exit (also auto-removed, restarted, closed)', { skip }, async () => {
  const { readdirSync, readlinkSync } = await import('node:fs');
  const ownMnt = readlinkSync('/proc/self/ns/mnt');
  const heldNs = () => readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const l = readlinkSync(`/proc/self/fd/${fd}`);
      return l.startsWith('mnt:[') && l !== ownMnt ? [l] : [];
    } catch {
      return [];
    }
  });
  const before = heldNs().length;
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['sleep', '30'] });
  await engine.startContainer(Id);
  const pid = ((await engine.inspectContainer(Id)).State as { Pid: number }).Pid;
  assert.ok(heldNs().includes(readlinkSync(`/proc/${pid}/ns/mnt`)), 'the container’s mount namespace is held');
  await engine.stopContainer(Id, { timeoutSeconds: 0 });
  await engine.startContainer(Id); // a start after an exit releases the old one first
  assert.equal(heldNs().length, before + 1, 'one held: the new run’s');
  await engine.removeContainer(Id, { force: true });
  await waitFor('the held namespace to be closed after the remove', () => heldNs().length === before, 5000);
  await assertGone(Id);
  const auto = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'], HostConfig: { AutoRemove: true } });
  const removed = engine.waitContainer(auto.Id, 'removed');
  await engine.startContainer(auto.Id);
  await removed;
  await waitFor('the auto-removed container’s namespace to be closed', () => heldNs().length === before, 5000);
  await assertGone(auto.Id);
  const kept = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['sleep', '30'] });
  await engine.startContainer(kept.Id);
  assert.equal(heldNs().length, before + 1);
  await engine.close(); // the running container keeps its namespace; the engine lets go of it
  assert.equal(heldNs().length, before, 'close lets go');
  engine = newEngine();
  await engine.removeContainer(kept.Id, { force: true });
  await assertGone(kept.Id);
});
