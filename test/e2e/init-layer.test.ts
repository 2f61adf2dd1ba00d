// An image's init layer (dockerd's "-init" layer: /.dockerenv, the /etc and /dev mount targets,
// /etc/mtab) is made once, at the first create of one of its containers, and given to every
// container as its top lower layer: their starts create none of those files in their upper dirs
// (no copy-up of /etc), and the layer goes with the image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import type { Json } from '../../src/engine/api-types.js';
import { SnapshotStore } from '../../src/image/snapshot/index.js';
import { isRoot, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let dir: { path: string; cleanup: () => void };
let engine: Engine;
let fx: EngineFixture | undefined;
let IMAGE: string;
const cgroupParent = testCgroupName('init-layer');
const net = testNet();

before(async () => {
  if (skip) return;
  fx = await engineFixture({ dirPrefix: 'hako-init-layer-', cgroupParent, net, warn: (m) => console.error(m) });
  ({ engine, image: IMAGE, dir } = fx);
});

after(async () => {
  await fx?.close(engine);
});

async function runToExit(body: Json): Promise<{ id: string; code: number; out: string }> {
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, HostConfig: { NetworkMode: 'none' }, ...body } as never);
  await engine.startContainer(Id);
  const { StatusCode } = await engine.waitContainer(Id);
  const { entries } = await engine.containerLogs(Id, { follow: false, stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: 'all' });
  let out = '';
  for await (const e of entries) out += e.data.toString();
  return { id: Id, code: StatusCode, out };
}

const snapRoot = () => join(dir.path, 'root', 'snapshots');
const upperOf = (id: string) => join(snapRoot(), 'containers', id, 'upper');
const lowerOf = (id: string) => readFileSync(join(snapRoot(), 'containers', id, 'lower'), 'utf8').trim().split(':');
const chainIdsOf = (id: string) => (JSON.parse(readFileSync(join(dir.path, 'root', 'containers', id, 'config.v2.json'), 'utf8')) as { ChainIds: string[] }).ChainIds;

async function waitFor(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// What the container sees of the paths the init layer covers, and their owner and mode.
const PROBE = ['sh', '-c', 'for p in /.dockerenv /etc /etc/hostname /etc/hosts /etc/resolv.conf /etc/mtab /dev /dev/pts /dev/shm; do stat -c "%n %F %a %u %g %N" $p; done; cat /etc/hostname'];

test('the init layer is made at the first create, is every container\'s top lower layer, and goes with the image', { skip, timeout: 120_000 }, async () => {
  const snaps = new SnapshotStore(snapRoot());
  // Created, never started: the layer is there already (dockerd makes its "-init" layer at create).
  const { Id: created } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } } as never);
  const config = join(dir.path, 'root', 'containers', created, 'config.v2.json');
  await waitFor('the record (written after the answer)', () => existsSync(config));
  const chain = chainIdsOf(created);
  const top = chain[chain.length - 1]!;
  assert.ok(snaps.hasInitLayer(top));
  assert.ok(lowerOf(created)[0]!.endsWith('-init'), lowerOf(created).join(':'));
  const init = snaps.initLayerDir(top);
  assert.deepEqual(readdirSync(join(init, 'etc')).sort(), ['hostname', 'hosts', 'mtab', 'resolv.conf']);
  const imageEtc = lstatSync(join(snaps.layerDir(top), 'etc'));
  const etc = lstatSync(join(init, 'etc'));
  assert.deepEqual([etc.mode & 0o7777, etc.uid, etc.gid], [imageEtc.mode & 0o7777, imageEtc.uid, imageEtc.gid]);
  assert.equal(readlinkSync(join(snapRoot(), 'l', `${lowerOf(created)[0]!.slice(2)}`)), `../layers/${top.slice(7)}/init`);
  assert.equal(await snaps.ensureInitLayer(chain), false, 'made once');

  const first = await runToExit({ Cmd: PROBE, Hostname: 'first' });
  assert.equal(first.code, 0, first.out);
  assert.ok(lowerOf(first.id)[0]!.endsWith('-init'));
  // What dockerd 20.10's containers show (busybox: the /etc files are its bind mounts).
  const lines = (out: string) => out.trim().split('\n');
  assert.deepEqual(lines(first.out), [
    '/.dockerenv regular empty file 755 0 0 /.dockerenv',
    '/etc directory 755 0 0 /etc',
    '/etc/hostname regular file 644 0 0 /etc/hostname',
    '/etc/hosts regular file 644 0 0 /etc/hosts',
    '/etc/resolv.conf regular file 644 0 0 /etc/resolv.conf',
    "/etc/mtab symbolic link 777 0 0 '/etc/mtab' -> '/proc/mounts'",
    '/dev directory 755 0 0 /dev',
    '/dev/pts directory 755 0 0 /dev/pts',
    '/dev/shm directory 1777 0 0 /dev/shm',
    'first',
  ]);
  // Its start made nothing in its upper dir.
  assert.deepEqual(readdirSync(upperOf(first.id)), []);
  assert.deepEqual(await engine.containerChanges(first.id), []);

  // The image goes (its containers first): the init layer and its link go with its top layer.
  const link = join(snapRoot(), lowerOf(first.id)[0]!);
  await engine.removeContainer(created, {});
  await engine.removeContainer(first.id, {});
  await waitFor('the containers\' snapshots to go', () => !existsSync(upperOf(first.id)) && !existsSync(upperOf(created)));
  await engine.images.remove(IMAGE);
  assert.ok(!existsSync(init), 'init layer removed');
  assert.throws(() => lstatSync(link), /ENOENT/, 'init layer link removed');
});
