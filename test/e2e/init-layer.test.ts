// An image's init layer (/.dockerenv and the /etc mount targets it lacks) is made once, from the
// first start of one of its containers, and given to the containers created after it as their top
// lower layer: their starts create none of those files in their upper dirs (no copy-up of /etc),
// they see the same rootfs as before, and the layer goes with the image.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import type { Json } from '../../src/engine/api-types.js';
import { INIT_ETC_FILES, SnapshotStore } from '../../src/image/snapshot/index.js';
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

// What the container sees of the files the init layer covers, and their owner and mode.
const PROBE = ['sh', '-c', 'for p in /.dockerenv /etc /etc/hostname /etc/hosts /etc/resolv.conf; do stat -c "%n %F %a %u %g" $p; done; cat /etc/hostname'];

test('the init layer is made once from the first start, used by later containers, and goes with the image', { skip, timeout: 120_000 }, async () => {
  const snaps = new SnapshotStore(snapRoot());
  const first = await runToExit({ Cmd: PROBE, Hostname: 'first' });
  assert.equal(first.code, 0, first.out);
  const chain = chainIdsOf(first.id);
  const top = chain[chain.length - 1]!;
  // The first container had no init layer: its start made the files in its upper dir.
  assert.ok(!lowerOf(first.id)[0]!.endsWith('-init'));
  assert.ok(existsSync(join(upperOf(first.id), '.dockerenv')));
  await waitFor('the init layer', () => snaps.hasInitLayer(top));

  // Its content: what the image lacks, /etc with the image's owner and mode.
  const init = snaps.initLayerDir(top);
  const layerDiff = snaps.layerDir(top);
  const imageEtc = lstatSync(join(layerDiff, 'etc'));
  const lacking = INIT_ETC_FILES.filter((f) => !existsSync(join(layerDiff, 'etc', f)));
  assert.ok(lacking.length > 0, 'busybox lacks some of the /etc mount targets (else this test proves little)');
  assert.deepEqual(readdirSync(join(init, 'etc')).sort(), [...lacking].sort());
  const etc = lstatSync(join(init, 'etc'));
  assert.deepEqual([etc.mode & 0o7777, etc.uid, etc.gid], [imageEtc.mode & 0o7777, imageEtc.uid, imageEtc.gid]);
  const env = lstatSync(join(init, '.dockerenv'));
  assert.ok(env.isFile() && env.size === 0);
  assert.equal(readlinkSync(join(snapRoot(), 'l', `${lowerOf(first.id)[0]!.slice(2)}-init`)), `../layers/${top.slice(7)}/init`);
  // Made once: a second attempt finds it.
  assert.equal(await snaps.ensureInitLayer(top, { dockerenv: true, etcFiles: [] }), false);

  // A container created now has it on top of its lower layers, sees the same rootfs (its own
  // hostname mounted over the target), and its start leaves its upper dir empty.
  const second = await runToExit({ Cmd: PROBE, Hostname: 'second' });
  assert.equal(second.code, 0, second.out);
  assert.ok(lowerOf(second.id)[0]!.endsWith('-init'), lowerOf(second.id).join(':'));
  const link = join(snapRoot(), lowerOf(second.id)[0]!);
  const lines = (out: string) => out.trim().split('\n');
  assert.deepEqual(lines(second.out).slice(0, -1), lines(first.out).slice(0, -1));
  assert.equal(lines(second.out).at(-1), 'second');
  assert.deepEqual(readdirSync(upperOf(second.id)), []);
  assert.deepEqual(await engine.containerChanges(second.id), []);
  assert.deepEqual(await engine.containerChanges(first.id), [], 'the old path hides its artifacts too');

  // The image goes (its containers first): the init layer and its link go with its top layer.
  await engine.removeContainer(first.id, {});
  await engine.removeContainer(second.id, {});
  await waitFor('the containers\' snapshots to go', () => !existsSync(upperOf(first.id)) && !existsSync(upperOf(second.id)));
  await engine.images.remove(IMAGE);
  assert.ok(!existsSync(init), 'init layer removed');
  assert.throws(() => lstatSync(link), /ENOENT/, 'init layer link removed');
});

