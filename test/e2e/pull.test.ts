// Pull against a real docker-registry: round trip with hako's client, skopeo as an oracle,
// platform selection, Docker schema2, errors, concurrency, corrupted and truncated downloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, multiPlatformImage, layeredImage, pushLayout, skopeoCopy, hasSkopeo, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed (apt-get install docker-registry)';

let reg: TestRegistry;
let busybox: BuiltImage;
let multi: BuiltImage;
const roots: { cleanup(): void }[] = [];

function service(): ImageService {
  const t = tempDir('hako-root-');
  roots.push(t);
  return new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker-config.json') });
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  busybox = busyboxImage();
  multi = multiPlatformImage();
});

after(async () => {
  await reg?.stop();
  busybox?.cleanup();
  multi?.cleanup();
  for (const r of roots) r.cleanup();
});

test('push a layout with hako, pull it back: every digest verified and recorded', { skip }, async () => {
  await pushLayout(busybox, reg.host, 'test/busybox');
  const svc = service();
  try {
    const res = await svc.pull(`${reg.host}/test/busybox`);
    const m = busybox.manifests[0]!;
    assert.equal(res.digest, m.manifest.digest);
    assert.equal(res.id, m.config.digest);
    assert.equal(res.status, 'downloaded');
    assert.equal(res.downloaded, 1);
    assert.match(res.message, new RegExp(`Downloaded newer image for ${reg.host}/test/busybox:latest`));
    for (const d of [m.manifest.digest, m.config.digest, ...m.layers.map((l) => l.digest)]) assert.ok(svc.content.has(d), d);
    const list = await svc.list();
    assert.equal(list.length, 1);
    assert.deepEqual(list[0]!.repoTags, [`${reg.host}/test/busybox:latest`]);
    const again = await svc.pull(`${reg.host}/test/busybox:latest`);
    assert.equal(again.status, 'up-to-date');
    assert.equal(again.downloaded, 0);
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
    // Pull by digest too.
    const byDigest = await svc.pull(`${reg.host}/test/busybox@${m.manifest.digest}`);
    assert.equal(byDigest.id, m.config.digest);
  } finally {
    svc.close();
  }
});

test('an image copied by skopeo pulls with the same manifest, config and layer digests', { skip: skip || (!hasSkopeo && 'skopeo missing') }, async () => {
  skopeoCopy(busybox, `${reg.host}/skopeo/busybox:v1`);
  const svc = service();
  try {
    const res = await svc.pull(`${reg.host}/skopeo/busybox:v1`);
    const m = busybox.manifests[0]!;
    assert.equal(res.manifestDigest, m.manifest.digest);
    assert.equal(res.id, m.config.digest);
    const info = await svc.inspect(`${reg.host}/skopeo/busybox:v1`);
    assert.deepEqual(info.record.layers.map((l) => l.digest), m.layers.map((l) => l.digest));
    assert.deepEqual(info.record.diffIds, m.diffIds);
  } finally {
    svc.close();
  }
});

test('an index pulls the host platform by default and another with --platform', { skip }, async () => {
  await pushLayout(multi, reg.host, 'test/multi');
  const svc = service();
  try {
    const amd = await svc.pull(`${reg.host}/test/multi`);
    assert.equal(amd.digest, multi.top.digest);
    assert.equal(amd.manifestDigest, multi.manifests[0]!.manifest.digest);
    assert.equal(amd.platform.architecture, 'amd64');
    const arm = await svc.pull(`${reg.host}/test/multi`, { platform: 'linux/arm64' });
    assert.equal(arm.manifestDigest, multi.manifests[1]!.manifest.digest);
    assert.equal(arm.id, multi.manifests[1]!.config.digest);
    await assert.rejects(svc.pull(`${reg.host}/test/multi`, { platform: 'linux/s390x' }), /no matching manifest for linux\/s390x in the manifest list.*linux\/amd64, linux\/arm64\/v8/);
    assert.ok((await svc.verify()).ok);
  } finally {
    svc.close();
  }
});

test('Docker schema2 manifest and manifest list', { skip }, async () => {
  const img = busyboxImage({ docker: true });
  const list = multiPlatformImage({ docker: true });
  const svc = service();
  try {
    await pushLayout(img, reg.host, 'docker/single');
    await pushLayout(list, reg.host, 'docker/list');
    const a = await svc.pull(`${reg.host}/docker/single`);
    assert.equal(a.manifestDigest, img.top.digest);
    assert.equal((await svc.inspect(a.id)).record.manifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const b = await svc.pull(`${reg.host}/docker/list`, { platform: 'linux/arm64/v8' });
    assert.equal(b.digest, list.top.digest);
    assert.equal(b.manifestDigest, list.manifests[1]!.manifest.digest);
  } finally {
    svc.close();
    img.cleanup();
    list.cleanup();
  }
});

test('an unknown manifest gives a clear error and stores nothing', { skip }, async () => {
  const svc = service();
  try {
    await assert.rejects(svc.pull(`${reg.host}/nope`), (err: Error) => {
      // dockerd 20.10.24's words (404): the reference, then the registry's code and message.
      assert.equal(err.message, `manifest for ${reg.host}/nope:latest not found: manifest unknown: manifest unknown`);
      return true;
    });
    assert.equal((await svc.list()).length, 0);
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
  } finally {
    svc.close();
  }
});

test('a multi-layer image with whiteouts is pulled layer by layer', { skip }, async () => {
  const img = layeredImage();
  const svc = service();
  try {
    await pushLayout(img, reg.host, 'test/layered');
    const res = await svc.pull(`${reg.host}/test/layered`);
    assert.equal(res.downloaded, 3);
    const info = await svc.inspect(res.id);
    assert.equal(info.record.layers.length, 3);
    assert.equal(info.record.chainIds[0], info.record.diffIds[0]);
    const hist = await svc.history(res.id);
    assert.equal(hist.length, 4);
    assert.equal(hist[0]!.createdBy, 'CMD');
    assert.ok(hist[0]!.emptyLayer);
  } finally {
    svc.close();
    img.cleanup();
  }
});

test('two concurrent pulls of one image download each blob once', { skip }, async () => {
  await pushLayout(busybox, reg.host, 'test/concurrent');
  const svc = service();
  try {
    const layer = busybox.manifests[0]!.layers[0]!.digest;
    const before = reg.count('GET', `/v2/test/concurrent/blobs/${layer}`);
    const [a, b] = await Promise.all([svc.pull(`${reg.host}/test/concurrent`), svc.pull(`${reg.host}/test/concurrent`)]);
    assert.equal(a.id, b.id);
    assert.equal(a.downloaded + b.downloaded, 1);
    // The access log is written after the response; give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reg.count('GET', `/v2/test/concurrent/blobs/${layer}`) - before, 1);
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    assert.ok(existsSync(svc.content.blobPath(layer)));
  } finally {
    svc.close();
  }
});
