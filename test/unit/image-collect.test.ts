// The image store's collection (ImageService.collect, run by rmi, prune, a lease's release and
// the start-up recovery) against claims made while it runs (src/image/store/content.ts): a pull
// or load that finds a blob present claims it in the same turn, and the collection must never
// unlink a blob once such a claim was made on it. The ordering point is the mark
// 'gc.blob-unlinking' (published where the collection is about to unlink a blob): a claim made
// there, by a claimer that then finds the blob present, keeps it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { PULL_TRACE_CHANNEL } from '../../src/image/pull-trace.js';
import type { ImageRecord } from '../../src/image/store/metadata.js';
import type { Digest } from '../../src/image/digest.js';
import { tempDir } from '../helpers/fixtures.js';

/** An image store in a temporary root, closed and removed after the test. */
async function openStore(t: TestContext): Promise<ImageService> {
  const dir = tempDir('hako-collect-');
  const svc = new ImageService({ root: join(dir.path, 'root'), dockerConfigPath: join(dir.path, 'config.json') });
  t.after(() => {
    svc.close();
    dir.cleanup();
  });
  await svc.content.init();
  await svc.meta.init();
  return svc;
}

test('a blob claimed (and found present) while the collection is about to unlink it stays; unclaimed ones go', async (t) => {
  const svc = await openStore(t);
  const config = await svc.content.putBlob(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
  const manifest = await svc.content.putBlob(Buffer.from('{"schemaVersion":2}'));
  const layer = await svc.content.putBlob(Buffer.from('a layer'));
  const stray = await svc.content.putBlob(Buffer.from('named by nothing'));
  const rec: ImageRecord = {
    id: config,
    manifestDigest: manifest,
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 7 }],
    diffIds: [],
    chainIds: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: 9,
    sources: [],
    addedAt: new Date(0).toISOString(),
  };
  await svc.meta.putImage(rec);
  // At the first unlink the collection is about to make (whichever blob it is), a pull of the
  // same image and a load that has the stray blob look at the store: each claims its blobs and
  // finds them present (so fetches or stages none).
  const all = [config, manifest, layer, stray];
  const found = new Map<Digest, boolean>();
  const releases: Array<() => void> = [];
  const onMark = (m: unknown): void => {
    if (m !== 'gc.blob-unlinking' || found.size > 0) return;
    releases.push(svc.content.claim([config, manifest, layer]), svc.content.claim([stray]));
    for (const d of all) found.set(d, svc.content.has(d));
  };
  dc.subscribe(PULL_TRACE_CHANNEL, onMark);
  try {
    await svc.remove(config);
  } finally {
    dc.unsubscribe(PULL_TRACE_CHANNEL, onMark);
  }
  assert.deepEqual(all.filter((d) => found.get(d) !== true), [], 'the claims came while every blob was present');
  assert.deepEqual(all.filter((d) => !svc.content.has(d)), [], 'a blob found present under a claim is kept');
  // Released (the pull and load failed): the next collection (the start-up one) takes them.
  for (const r of releases) r();
  assert.equal(svc.content.claims.size, 0);
  writeFileSync(join(svc.meta.dir, 'unsettled-test'), '');
  await svc.recover();
  assert.deepEqual(await svc.content.list(), []);
  assert.deepEqual(readdirSync(svc.meta.dir).filter((n) => n.startsWith('unsettled-')), []);
});

test('a collection that cannot list the image records deletes nothing (and its marker stays for the next start)', async (t) => {
  const svc = await openStore(t);
  const config = await svc.content.putBlob(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
  const manifest = await svc.content.putBlob(Buffer.from('{"schemaVersion":2}'));
  await svc.meta.putImage({
    id: config,
    manifestDigest: manifest,
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
    layers: [],
    diffIds: [],
    chainIds: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: 2,
    sources: [],
    addedAt: new Date(0).toISOString(),
  });
  // The records' directory cannot be read (here: a file in its place, ENOTDIR; in life EMFILE,
  // EIO): taken for "no records", every blob would go.
  const images = join(svc.meta.dir, 'images');
  renameSync(images, `${images}.away`);
  writeFileSync(images, '');
  writeFileSync(join(svc.meta.dir, 'unsettled-test'), '');
  await assert.rejects(svc.recover(), /ENOTDIR/);
  assert.deepEqual((await svc.content.list()).sort(), [config, manifest].sort());
  assert.deepEqual(readdirSync(svc.meta.dir).filter((n) => n.startsWith('unsettled-')), ['unsettled-test']);
  rmSync(images);
  renameSync(`${images}.away`, images);
  await svc.recover();
  assert.deepEqual((await svc.content.list()).sort(), [config, manifest].sort(), 'the image keeps its blobs');
  assert.deepEqual(readdirSync(svc.meta.dir).filter((n) => n.startsWith('unsettled-')), []);
});

test('a collected blob leaves blobs/ in the collection\'s step and is unlinked (on the thread pool) before the collection answers; a claimed one stays', async (t) => {
  const svc = await openStore(t);
  const big = await svc.content.putBlob(Buffer.alloc(1 << 20, 'b'));
  const kept = await svc.content.putBlob(Buffer.from('claimed'));
  const release = svc.content.claim([kept]);
  let presentAtMark: boolean | undefined;
  const onMark = (m: unknown): void => {
    if (m === 'gc.blob-deleted' && presentAtMark === undefined) presentAtMark = svc.content.has(big);
  };
  dc.subscribe(PULL_TRACE_CHANNEL, onMark);
  try {
    writeFileSync(join(svc.meta.dir, 'unsettled-test'), '');
    await svc.recover();
  } finally {
    dc.unsubscribe(PULL_TRACE_CHANNEL, onMark);
    release();
  }
  assert.equal(presentAtMark, false, 'out of blobs/ in the step that looked at the claims');
  assert.deepEqual(await svc.content.list(), [kept], 'the claimed blob stays');
  assert.deepEqual(readdirSync(svc.content.ingestDir), [], 'unlinked when the collection answered');
  assert.equal((await svc.content.verify()).ok, true);
  // A removal cut short by a crash (renamed, not unlinked) is a leftover the start-up sweep takes.
  writeFileSync(join(svc.content.ingestDir, `${'a'.repeat(64)}.0badc0de.removed.tmp`), 'x');
  assert.equal(svc.content.leftovers().length, 1);
});
