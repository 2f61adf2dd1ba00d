// Pull with the streaming unpacker wired: one HTTP body per layer feeds the blob store and the
// unpacker; every layer's diff ID is checked against the config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { directoryUnpacker } from '../../src/image/pull.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { layeredImage, pushLayout, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed';
let reg: TestRegistry;
let img: BuiltImage;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = layeredImage();
  await pushLayout(img, reg.host, 'test/layered');
});
after(async () => {
  await reg?.stop();
  img?.cleanup();
});

test('pull streams each layer into the store and the unpacker at once, diff IDs verified', { skip }, async () => {
  const t = tempDir('hako-root-');
  const snaps = join(t.path, 'layers');
  const svc = new ImageService({ root: t.path, unpacker: directoryUnpacker(snaps), dockerConfigPath: join(t.path, 'cfg.json') });
  try {
    const res = await svc.pull(`${reg.host}/test/layered`);
    const rec = (await svc.inspect(res.id)).record;
    assert.deepEqual(rec.diffIds, img.manifests[0]!.diffIds);
    for (const c of rec.chainIds) assert.ok(existsSync(join(snaps, c.slice(7))), c);
    const [l0, , l2] = rec.chainIds.map((c) => join(snaps, c.slice(7)));
    assert.ok(lstatSync(join(l0!, 'bin/busybox')).isFile());
    assert.equal(readFileSync(join(l2!, 'data/replaced'), 'utf8'), 'new\n');
    assert.equal(svc.content.has(img.manifests[0]!.layers[0]!.digest), true);
    // Snapshots present: a second store-only pull of the same image in this root unpacks nothing new.
    const again = await svc.pull(`${reg.host}/test/layered`);
    assert.equal(again.status, 'up-to-date');
    // Removing the image removes its snapshots.
    await svc.remove(res.id);
    for (const c of rec.chainIds) assert.ok(!existsSync(join(snaps, c.slice(7))), c);
    assert.ok((await svc.verify()).ok);
  } finally {
    svc.close();
    t.cleanup();
  }
});
