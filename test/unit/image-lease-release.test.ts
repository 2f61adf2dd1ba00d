// ImageService.removeLease and the store's `unsettled-*` marker (src/image/images.ts): a release
// that frees no layer (a container's plain lease, or one whose layers another image or lease
// still holds) writes no marker; one that frees layers removes them with the marker in place, so
// a crash in between leaves it for the next start's collection (e2e/crash-consistency).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import type { ImageRecord } from '../../src/image/store/metadata.js';
import type { LayerUnpacker } from '../../src/image/pull.js';
import type { Digest } from '../../src/image/digest.js';
import { tempDir } from '../helpers/fixtures.js';

const digest = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;

function setUp(t: { after(fn: () => void): void }) {
  const dir = tempDir('hako-lease-release-');
  const removed: Array<{ chain: Digest; markers: number }> = [];
  let svc: ImageService | undefined;
  const markers = (): string[] => readdirSync(svc!.meta.dir).filter((n) => n.startsWith('unsettled-'));
  const unpacker: LayerUnpacker = {
    has: () => true,
    unpack: () => Promise.reject(new Error('not in this test')),
    remove: async (chain) => {
      removed.push({ chain, markers: markers().length });
    },
    list: () => [],
  };
  svc = new ImageService({ root: join(dir.path, 'root'), dockerConfigPath: join(dir.path, 'config.json'), unpacker });
  let unsettled = 0;
  const original = svc.unsettled.bind(svc);
  svc.unsettled = ((fn: () => Promise<unknown>) => {
    unsettled++;
    return original(fn);
  }) as typeof svc.unsettled;
  t.after(() => {
    svc!.close();
    dir.cleanup();
  });
  return { svc, removed, markers, unsettledCalls: () => unsettled };
}

const image = (id: Digest, chainIds: Digest[]): ImageRecord => ({
  id,
  manifestDigest: digest('m'),
  manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: id, size: 2 },
  layers: [],
  diffIds: [],
  chainIds,
  platform: { os: 'linux', architecture: 'amd64' },
  size: 2,
  sources: [],
  addedAt: new Date(0).toISOString(),
});

test("a container's plain lease: released without a marker", async (t) => {
  const { svc, removed, markers, unsettledCalls } = setUp(t);
  await svc.meta.init();
  await svc.addLease('c1', digest('a'));
  await svc.removeLease('c1');
  assert.equal(unsettledCalls(), 0);
  assert.deepEqual(removed, []);
  assert.deepEqual(await svc.leases(), []);
  assert.deepEqual(markers(), []);
});

test('a forced-rmi lease whose layers others still hold frees nothing: no marker; the last holder frees them under one', async (t) => {
  const { svc, removed, markers, unsettledCalls } = setUp(t);
  await svc.meta.init();
  const [l1, l2, l3] = [digest('1'), digest('2'), digest('3')];
  // Two containers of an image removed by force (their leases name its layers), and another
  // image that shares the lower layer.
  await svc.meta.addLease('c1', digest('a'), { chainIds: [l1, l2] });
  await svc.meta.addLease('c2', digest('a'), { chainIds: [l1, l2] });
  await svc.meta.putImage(image(digest('b'), [l1, l3]));

  await svc.removeLease('c1'); // c2 still holds both layers
  assert.equal(unsettledCalls(), 0);
  assert.deepEqual(removed, []);
  assert.deepEqual((await svc.leases()).map((l) => l.owner), ['c2']);

  await svc.removeLease('c2'); // l2 is freed; l1 stays with image b
  assert.equal(unsettledCalls(), 1);
  assert.deepEqual(removed, [{ chain: l2, markers: 1 }], 'removed while the marker is there');
  assert.deepEqual(await svc.leases(), []);
  assert.deepEqual(markers(), [], 'the marker goes once the release is done');
});
