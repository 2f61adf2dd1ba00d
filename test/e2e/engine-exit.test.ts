// The engine holds a running container's mount namespace (so its mounts are not torn down on the
// exit path) and lets go of it after the exit, on every path (remove, restart, auto-remove,
// close), with real busybox containers; nothing of the container is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import { isRoot, tempDir, testCgroupName, removeCgroupEverywhere, cgroupDirs, mountsUnder } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from '../helpers/images.js';
import { cleanupNet, engineNetOptions, testNet } from '../helpers/network.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let reg: TestRegistry;
let img: BuiltImage;
let dir: { path: string; cleanup: () => void };
let engine: Engine;
let IMAGE: string;
const cgroupParent = testCgroupName('engine-exit');
const net = testNet();

function newEngine(): Engine {
  return new Engine({ root: join(dir.path, 'root'), execRoot: join(dir.path, 'run'), cgroupParent, network: engineNetOptions(net), log: { warn: () => undefined } });
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = busyboxImage();
  await pushLayout(img, reg.host, 'test/busybox');
  dir = tempDir('hako-exit-');
  engine = newEngine();
  IMAGE = `${reg.host}/test/busybox:latest`;
  await engine.images.pull(IMAGE);
});

after(async () => {
  if (engine) {
    for (const c of await engine.listContainers({ all: true })) await engine.removeContainer(c.Id as string, { force: true, volumes: true }).catch(() => undefined);
    await engine.close();
  }
  await reg?.stop();
  img?.cleanup();
  if (!skip) {
    for (const m of mountsUnder(dir.path).reverse()) execFileSync('umount', ['-l', m]);
    removeCgroupEverywhere(cgroupParent);
    cleanupNet(net);
  }
  dir?.cleanup();
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
