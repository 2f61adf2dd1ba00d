// Pull with the streaming unpacker wired: one HTTP body per layer feeds the blob store and the
// unpacker; every layer's diff ID is checked against the config.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MediaType } from '../../src/image/media-types.js';
import { makeTar } from '../helpers/tar.js';
import { ImageService } from '../../src/image/images.js';
import { directoryUnpacker } from '../../src/image/pull.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, layoutBlob, pushLayout, type BuiltImage } from '../helpers/images.js';

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

test('a layer that does not unpack to the diff ID its config names: the pull fails, no snapshot or scratch directory is left', { skip }, async () => {
  // busybox with a config that names another diff ID (config and manifest digests made to match).
  const bad = busyboxImage();
  const m = bad.manifests[0]!;
  const cfg = JSON.parse(layoutBlob(bad, m.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  cfg.rootfs.diff_ids = [`sha256:${'0'.repeat(64)}`];
  const put = (data: string): { digest: string; size: number } => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(bad.dir, 'blobs', 'sha256', digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const config = put(JSON.stringify(cfg));
  const manifest = JSON.parse(layoutBlob(bad, m.manifest.digest).toString()) as { config: { digest: string; size: number } };
  manifest.config = { ...manifest.config, ...config };
  const top = put(JSON.stringify(manifest));
  const index = JSON.parse(readFileSync(join(bad.dir, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number }[] };
  index.manifests[0] = { ...index.manifests[0]!, ...top };
  writeFileSync(join(bad.dir, 'index.json'), JSON.stringify(index));
  const t = tempDir('hako-root-');
  const snaps = join(t.path, 'layers');
  const svc = new ImageService({ root: t.path, unpacker: directoryUnpacker(snaps), dockerConfigPath: join(t.path, 'cfg.json') });
  try {
    await pushLayout({ ...bad, top: { ...bad.top, ...top } as BuiltImage['top'], manifests: [{ ...m, manifest: { ...m.manifest, ...top } as BuiltImage['top'], config: { ...m.config, ...config } as BuiltImage['top'] }] }, reg.host, 'test/bad-diffid');
    await assert.rejects(svc.pull(`${reg.host}/test/bad-diffid`), /diff ID mismatch for layer .*: the image config says sha256:0{64}, the layer unpacks to sha256:/);
    assert.deepEqual(existsSync(snaps) ? readdirSync(snaps) : [], []);
    assert.deepEqual(await svc.list(), []);
  } finally {
    svc.close();
    t.cleanup();
    bad.cleanup();
  }
});

test('a layer built corrupt (a flipped byte its blob digest covers): the diff ID check refuses it, no snapshot or scratch directory is left', { skip }, async () => {
  // Stored (level 0) deflate blocks: the flipped byte still inflates, to other bytes. The gzip
  // CRC-32 that pull skips would have caught it; the diff ID check must (and the blob digest
  // cannot: the manifest names the corrupt blob).
  const tar = makeTar([{ name: 'etc/' , type: 'dir' }, { name: 'etc/data', data: 'A'.repeat(4000) }]);
  const gz = gzipSync(tar, { level: 0 });
  const at = gz.indexOf('AAAAAAAA');
  assert.ok(at > 0);
  gz[at + 100] = 0x42;
  const t = tempDir('hako-root-');
  const layout = join(t.path, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string, mediaType: string): { mediaType: string; digest: string; size: number } => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { mediaType, digest, size: Buffer.byteLength(data) };
  };
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const layer = put(gz, MediaType.OciLayerGzip);
  const config = put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }), MediaType.OciConfig);
  const manifest = put(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] }), MediaType.OciManifest);
  const img = { dir: layout, tag: 'latest', top: manifest, manifests: [{ manifest, config, layers: [layer], diffIds: [diffId], platform: { os: 'linux', architecture: 'amd64' } }], cleanup: () => undefined } as unknown as BuiltImage;
  const snaps = join(t.path, 'layers');
  const svc = new ImageService({ root: join(t.path, 'root'), unpacker: directoryUnpacker(snaps), dockerConfigPath: join(t.path, 'cfg.json') });
  try {
    await pushLayout(img, reg.host, 'test/built-corrupt');
    await assert.rejects(svc.pull(`${reg.host}/test/built-corrupt`), new RegExp(`diff ID mismatch for layer ${layer.digest}: the image config says ${diffId}, the layer unpacks to sha256:`));
    assert.deepEqual(existsSync(snaps) ? readdirSync(snaps) : [], []);
    assert.deepEqual(await svc.list(), []);
    assert.equal(svc.content.has(layer.digest as never), false);
  } finally {
    svc.close();
    t.cleanup();
  }
});
