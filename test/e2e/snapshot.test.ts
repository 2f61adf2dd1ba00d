// Snapshot store on the real kernel: a 120-layer overlay rootfs and a zero-layer one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SnapshotStore, chainIds } from '../../src/image/snapshot/index.js';
import { unpackLayer } from '../../src/image/unpack/index.js';
import { makeTar } from '../helpers/tar.js';
import { isRoot, mountsUnder, tempDir } from '../helpers/fixtures.js';

const skip = isRoot ? false : 'needs root (overlay mounts)';

test('120 layers mount as one overlay rootfs, top layer wins; unmount leaves nothing', { skip }, async () => {
  // Deep store root: absolute lowerdir paths would need ~120 * 110 bytes, far over one page.
  const tmp = tempDir('hako-snapshot-e2e-' + 'x'.repeat(40) + '-');
  const target = join(tmp.path, 'rootfs');
  const store = new SnapshotStore(join(tmp.path, 'store', 'snapshots'));
  try {
    const diffIds: string[] = [];
    const chain: string[] = [];
    for (let i = 0; i < 120; i++) {
      const tar = makeTar([
        { name: `layer${i}`, data: String(i) },
        { name: 'top', data: String(i) },
      ]);
      // The chain ID depends on the diffID, which unpacking computes: unpack into a staging dir first.
      const dir = await store.prepareLayer('sha256:' + '0'.repeat(64));
      const res = await unpackLayer(Readable.from([tar]), dir, { mediaType: '' });
      diffIds.push(res.diffId);
      const id = chainIds(diffIds)[i]!;
      chain.push(id);
      assert.equal(await store.commitLayer(id, dir), true);
    }
    const snap = await store.prepareContainer('many', chain);
    assert.ok(snap.mountOptions().length < 4096);
    mkdirSync(target);
    await store.mountRootfs('many', target);
    try {
      assert.equal(readFileSync(join(target, 'top'), 'utf8'), '119');
      assert.equal(readFileSync(join(target, 'layer0'), 'utf8'), '0');
      assert.equal(readdirSync(target).length, 121);
      writeFileSync(join(target, 'written'), 'w');
    } finally {
      await store.unmountRootfs(target);
    }
    assert.deepEqual(mountsUnder(tmp.path), []);
    assert.equal(readFileSync(join(snap.upperdir, 'written'), 'utf8'), 'w');
    await store.unmountRootfs(target); // not mounted: no error
    await store.removeContainer('many');
    assert.equal(existsSync(snap.upperdir), false);
  } finally {
    for (const m of mountsUnder(tmp.path).reverse()) await store.unmountRootfs(m).catch(() => undefined);
    tmp.cleanup();
  }
});

test('an image with no layers mounts an empty rootfs', { skip }, async () => {
  const tmp = tempDir('hako-snapshot-e2e-');
  const target = join(tmp.path, 'rootfs');
  const store = new SnapshotStore(join(tmp.path, 'snapshots'));
  try {
    await store.prepareContainer('empty', []);
    mkdirSync(target);
    await store.mountRootfs('empty', target);
    try {
      assert.deepEqual(readdirSync(target), []);
    } finally {
      await store.unmountRootfs(target);
    }
    assert.deepEqual(mountsUnder(tmp.path), []);
  } finally {
    tmp.cleanup();
  }
});
