// Push against a real docker-registry, with skopeo as the oracle: digests preserved, blobs the
// registry has are skipped, cross-repository mount, chunked upload; plus the local verbs
// (tag, remove, leases, prune) on pulled images.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, pushLayout, skopeoInspect, skopeoRawManifest, hasSkopeo, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed (apt-get install docker-registry)';

let reg: TestRegistry;
let reg2: TestRegistry;
let busybox: BuiltImage;
let layered: BuiltImage;
const roots: { cleanup(): void }[] = [];

function service(): ImageService {
  const t = tempDir('hako-root-');
  roots.push(t);
  return new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker-config.json') });
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  reg2 = await startRegistry();
  busybox = busyboxImage();
  layered = layeredImage();
  await pushLayout(busybox, reg.host, 'src/busybox');
  await pushLayout(layered, reg.host, 'src/layered');
});

after(async () => {
  await reg?.stop();
  await reg2?.stop();
  busybox?.cleanup();
  layered?.cleanup();
  for (const r of roots) r.cleanup();
});

test('push keeps the digest, mounts blobs from the source repository, is pullable by skopeo', { skip: skip || (!hasSkopeo && 'skopeo missing') }, async () => {
  const svc = service();
  const lines: string[] = [];
  try {
    const pulled = await svc.pull(`${reg.host}/src/busybox`);
    await svc.tag(`${reg.host}/src/busybox`, `${reg.host}/pushed/busybox:v2`);
    const res = await svc.push(`${reg.host}/pushed/busybox:v2`, { log: (l) => lines.push(l) });
    assert.equal(res.digest, pulled.manifestDigest);
    assert.equal(res.mounted, 2, JSON.stringify(res));
    assert.equal(res.uploaded, 0);
    assert.match(res.message, /^v2: digest: sha256:[0-9a-f]{64} size: \d+$/);
    assert.equal(reg.count('POST', '/v2/pushed/busybox/blobs/uploads/?mount='), 2);
    const info = skopeoInspect(`${reg.host}/pushed/busybox:v2`);
    assert.equal(info.Digest, res.digest);
    assert.deepEqual(info.Layers, busybox.manifests[0]!.layers.map((l) => l.digest));
    // Again: everything exists.
    const again = await svc.push(`${reg.host}/pushed/busybox:v2`);
    assert.equal(again.existed, 2);
    assert.equal(again.uploaded + again.mounted, 0);
  } finally {
    svc.close();
  }
});

test('push to another registry uploads (monolithic and chunked) and pulls back identical', { skip: skip || (!hasSkopeo && 'skopeo missing') }, async () => {
  const svc = service();
  const other = service();
  try {
    const pulled = await svc.pull(`${reg.host}/src/layered`);
    await svc.tag(pulled.id, `${reg2.host}/mono/layered:1`);
    await svc.tag(pulled.id, `${reg2.host}/chunked/layered:1`);
    const chunked = await svc.push(`${reg2.host}/chunked/layered:1`, { chunkSize: 64 * 1024 });
    assert.equal(chunked.digest, pulled.manifestDigest);
    assert.equal(chunked.uploaded, 4);
    assert.ok(reg2.count('PATCH', '/v2/chunked/layered/blobs/uploads/') > 3, 'several PATCH chunks');
    // The second repository of that registry mounts every blob from the first.
    const mono = await svc.push(`${reg2.host}/mono/layered:1`);
    assert.equal(mono.mounted, 4);
    // A monolithic upload: a fresh registry repository with nothing to mount from.
    const fresh = service();
    try {
      await fresh.pull(`${reg.host}/src/busybox`);
      await fresh.tag(`${reg.host}/src/busybox`, `${reg2.host}/mono2/busybox:1`);
      const m2 = await fresh.push(`${reg2.host}/mono2/busybox:1`);
      assert.equal(m2.uploaded + m2.existed, 2);
    } finally {
      fresh.close();
    }
    assert.equal(skopeoRawManifest(`${reg2.host}/chunked/layered:1`), (await svc.content.readBlob(pulled.manifestDigest)).toString());
    const back = await other.pull(`${reg2.host}/chunked/layered:1`);
    assert.equal(back.id, pulled.id);
    assert.ok((await other.verify()).ok);
  } finally {
    svc.close();
    other.close();
  }
});

test('push of an unknown image names it', { skip }, async () => {
  const svc = service();
  try {
    await assert.rejects(svc.push(`${reg.host}/none/here:1`), /no such image: 127\.0\.0\.1:\d+\/none\/here:1/);
  } finally {
    svc.close();
  }
});

test('tag, remove (untag vs delete, in use), prune, and the store stays consistent', { skip }, async () => {
  const svc = service();
  try {
    const a = await svc.pull(`${reg.host}/src/busybox`);
    const b = await svc.pull(`${reg.host}/src/layered`);
    await svc.tag(a.id, 'mybox:1');
    assert.deepEqual((await svc.inspect('mybox:1')).repoTags.sort(), [`${reg.host}/src/busybox:latest`, 'mybox:1'].sort());
    // Two tags: deleting by ID is refused, by name only untags.
    await assert.rejects(svc.remove(a.id), /referenced in multiple repositories/);
    const r1 = await svc.remove('mybox:1');
    assert.deepEqual(r1, { untagged: ['mybox:1'], deleted: [], items: [{ Untagged: 'mybox:1' }] });
    // In use by a container: refused unless forced.
    await svc.addLease('container-1', a.id);
    await assert.rejects(svc.remove(`${reg.host}/src/busybox`), /\(must force\) - container container-1 is using its referenced image/);
    const pruned = await svc.prune({ all: true });
    assert.deepEqual(pruned.deleted, [b.id], 'prune -a removes what no container uses');
    assert.ok(pruned.reclaimed > 0);
    await svc.pull(`${reg.host}/src/layered`);
    await svc.removeLease('container-1');
    // Shared layer: busybox is the lower layer of `layered`; removing busybox keeps it.
    const r2 = await svc.remove(a.id.slice(7, 19));
    assert.deepEqual(r2.deleted, [a.id]);
    const layer0 = busybox.manifests[0]!.layers[0]!.digest;
    assert.equal(layered.manifests[0]!.layers[0]!.digest, layer0);
    assert.ok(svc.content.has(layer0));
    assert.ok(!svc.content.has(a.id));
    let v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
    // A dangling image (its tag moved away) is pruned; then nothing is left.
    await svc.tag(b.id, 'keep:1');
    await svc.remove(`${reg.host}/src/layered:latest`);
    assert.deepEqual((await svc.prune()).deleted, []);
    const r3 = await svc.remove('keep:1');
    assert.deepEqual(r3.deleted, [b.id]);
    assert.deepEqual(await svc.list(), []);
    assert.deepEqual(await svc.content.list(), []);
    v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
  } finally {
    svc.close();
  }
});
