// Start work done ahead after create (Engine.prepareStart: the rootfs mount and the cgroup dirs,
// while the client attaches): used by the start, bounded, and nothing of it is left by a remove,
// a failed start, a close or a crash (the start-up sweep), with real busybox containers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
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
const cgroupParent = testCgroupName('engine-prepare');
const net = testNet();

function newEngine(): Engine {
  return new Engine({ root: join(dir.path, 'root'), execRoot: join(dir.path, 'run'), cgroupParent, network: engineNetOptions(net), log: { warn: () => undefined } });
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = busyboxImage();
  await pushLayout(img, reg.host, 'test/busybox');
  dir = tempDir('hako-prepare-');
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

const rootfsOf = (id: string) => join(dir.path, 'run', 'containers', id, 'rootfs');
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

test('a created container gets its rootfs mount and cgroup dirs ahead; removing it unstarted leaves nothing', { skip }, async () => {
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  await waitFor('the prepared mount and cgroups', () => mounted(Id) && cgroupsOf(Id).length > 0);
  assert.ok(existsSync(join(rootfsOf(Id), 'bin', 'busybox')), 'the image is mounted at the rootfs');
  await engine.removeContainer(Id);
  await assertGone(Id);
});

test('the start uses what was prepared, with limits set after the create (update)', { skip }, async () => {
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['sleep', '30'] });
  await waitFor('the prepared cgroups', () => cgroupsOf(Id).length > 0);
  await engine.updateContainer(Id, { Memory: 64 * 1024 * 1024, MemorySwap: 128 * 1024 * 1024 });
  await engine.startContainer(Id);
  const memDir = cgroupsOf(Id).find((d) => /\/memory(,[^/]*)?\//.test(d) || existsSync(join(d, 'memory.max')));
  assert.ok(memDir, 'a memory cgroup');
  const limit = existsSync(join(memDir, 'memory.max')) ? readFileSync(join(memDir, 'memory.max'), 'utf8') : readFileSync(join(memDir, 'memory.limit_in_bytes'), 'utf8');
  assert.equal(Number(limit.trim()), 64 * 1024 * 1024, 'the limit of the update, applied at start');
  const pid = (((await engine.inspectContainer(Id)).State as { Pid: number }).Pid);
  assert.ok(readFileSync(join(memDir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid)), 'the container runs in the prepared cgroup');
  await engine.removeContainer(Id, { force: true });
  await assertGone(Id);
});

test('at most a few containers are prepared at once; the others are released', { skip }, async () => {
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] })).Id);
  await waitFor('the newest one prepared', () => mounted(ids[6]!) && cgroupsOf(ids[6]!).length > 0);
  await new Promise((r) => setTimeout(r, 100));
  const prepared = ids.filter((id) => mounted(id) || cgroupsOf(id).length > 0);
  assert.ok(prepared.length <= 4, `${prepared.length} prepared: ${prepared.join(' ')}`);
  assert.ok(prepared.includes(ids[6]!), 'the newest is prepared');
  // A released one still starts (it prepares nothing then, the start does it all).
  const old = ids[0]!;
  assert.ok(!prepared.includes(old));
  await engine.startContainer(old);
  assert.equal((await engine.waitContainer(old)).StatusCode, 0);
  for (const id of ids) await engine.removeContainer(id);
  for (const id of ids) await assertGone(id);
});

test('a start that fails after the preparation leaves nothing; nor does a close', { skip }, async () => {
  const bad = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['/no/such/program'] });
  await waitFor('the prepared mount and cgroups of the failing one', () => mounted(bad.Id) && cgroupsOf(bad.Id).length > 0);
  await assert.rejects(engine.startContainer(bad.Id), /no such file|not found|executable file/i);
  await waitFor('the failed start to leave nothing', () => !mounted(bad.Id) && cgroupsOf(bad.Id).length === 0, 5000);
  await engine.removeContainer(bad.Id);
  await assertGone(bad.Id);
  // close() releases what was prepared for a container that stays created.
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  await waitFor('the prepared mount and cgroups', () => mounted(Id) && cgroupsOf(Id).length > 0);
  await engine.close();
  assert.equal(mounted(Id), false, 'the prepared mount after close');
  assert.deepEqual(cgroupsOf(Id), [], 'the prepared cgroups after close');
  engine = newEngine();
  await engine.removeContainer(Id);
  await assertGone(Id);
});

test('after a crash, a new engine releases the mount and cgroup dirs of a created container', { skip }, async () => {
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  await waitFor('the record', () => existsSync(join(dir.path, 'root', 'containers', Id, 'config.v2.json')));
  await engine.close();
  // What a crash after prepareStart leaves (close released the real ones): a mount on the
  // rootfs and the container's cgroup dirs.
  mkdirSync(rootfsOf(Id), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'hako-test', rootfsOf(Id)]);
  // And those of a container whose record the crash lost (prepareStart makes cgroups before the
  // record is durable).
  const lost = 'e'.repeat(64);
  const made: string[] = [];
  for (const base of cgroupDirs(cgroupParent)) {
    for (const id of [Id, lost]) {
      mkdirSync(join(base, id));
      made.push(join(base, id));
    }
  }
  assert.ok(made.length > 0);
  engine = newEngine();
  await engine.listContainers({ all: true }); // the start-up sweep has run once requests are served
  assert.equal(mounted(Id), false, 'the rootfs mount');
  assert.deepEqual(cgroupsOf(Id), [], 'the cgroup dirs');
  assert.deepEqual(cgroupsOf(lost), [], 'the cgroup dirs of a container without a record');
  await engine.removeContainer(Id);
  await assertGone(Id);
});

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
