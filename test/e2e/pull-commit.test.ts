// The end of a pull (src/image/pull.ts, commitPull): the record and the reference table are
// written as soon as every layer's bytes are in, and the config and manifest blobs enter the
// store as soon as every blob is in, both before the unpack ends; the record and the tag appear
// only after it. When the reference table changes meanwhile, the early files are written again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dc from 'node:diagnostics_channel';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ImageService } from '../../src/image/images.js';
import { directoryUnpacker, type LayerUnpacker } from '../../src/image/pull.js';
import { PULL_TRACE_CHANNEL } from '../../src/image/pull-trace.js';
import type { Descriptor } from '../../src/image/manifest.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, pushLayout, randomImage, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed';
let reg: TestRegistry;
let img: BuiltImage;
/** busybox's layer and two more: shares its first snapshot with img. */
let layered: BuiltImage;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = busyboxImage();
  layered = layeredImage();
  await pushLayout(img, reg.host, 'test/busybox');
  await pushLayout(layered, reg.host, 'test/layered');
});
after(async () => {
  await reg?.stop();
  img?.cleanup();
  layered?.cleanup();
});

/** directoryUnpacker whose unpacks finish only once `release` is called. */
function heldUnpacker(dir: string): { unpacker: LayerUnpacker; release: () => void } {
  const inner = directoryUnpacker(dir);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return {
    release,
    unpacker: {
      ...inner,
      async unpack(chainId, input: Readable, layer: Descriptor, signal) {
        const r = await inner.unpack(chainId, input, layer, signal);
        await gate;
        return r;
      },
      async unpackDetached(input: Readable, layer: Descriptor, signal) {
        const r = await inner.unpackDetached!(input, layer, signal);
        await gate;
        return r;
      },
    },
  };
}

/** Resolves at the `times`th pull mark `name` (HAKO_PHASE_TRACE's channel). */
function mark(name: string, times = 1): { seen: Promise<void>; stop: () => void } {
  const channel = dc.channel(PULL_TRACE_CHANNEL);
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  let n = 0;
  const fn = (m: unknown): void => {
    if (m === name && ++n >= times) resolve();
  };
  channel.subscribe(fn);
  return { seen, stop: () => channel.unsubscribe(fn) };
}

const tempFiles = (svc: ImageService): string[] =>
  ['image', 'image/images', 'content/ingest'].flatMap((d) => readdirSync(join(svc.root, d)).filter((n) => n.endsWith('.tmp') || n.endsWith('.partial')).map((n) => `${d}/${n}`));

test('pull: the record and references are written while the unpack runs, the blobs enter the store before it ends, the image appears after it', { skip }, async () => {
  const t = tempDir('hako-root-');
  const held = heldUnpacker(join(t.path, 'layers'));
  const svc = new ImageService({ root: t.path, unpacker: held.unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
  const staged = mark('pull.meta-staged');
  try {
    const pulling = svc.pull(`${reg.host}/test/busybox`);
    pulling.catch(() => undefined);
    await staged.seen;
    // The unpack is held: the blobs become visible once they are all in; no image yet.
    const m = img.manifests[0]!;
    for (let i = 0; i < 200 && !svc.content.has(m.config.digest); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(svc.content.has(m.config.digest), 'the config is in the store before the unpack ends');
    assert.ok(svc.content.has(m.layers[0]!.digest));
    assert.deepEqual(await svc.list(), []);
    assert.deepEqual(svc.meta.readRefs().tags, {});
    await new Promise((r) => setTimeout(r, 30));
    const released = Date.now();
    held.release();
    const res = await pulling;
    // The record that was renamed in is the one written before the unpack ended.
    const recordFile = join(t.path, 'image', 'images', `${res.id.slice(7)}.json`);
    assert.ok(statSync(recordFile).mtimeMs < released, 'the record written early is the one committed');
    assert.equal((await svc.resolve(`${reg.host}/test/busybox:latest`)).id, res.id);
    assert.deepEqual(tempFiles(svc), []);
  } finally {
    staged.stop();
    held.release();
    svc.close();
    t.cleanup();
  }
});

test('pull: a reference table changed after the early write is read again under the lock: both tags survive', { skip }, async () => {
  const t = tempDir('hako-root-');
  const held = heldUnpacker(join(t.path, 'layers'));
  const svc = new ImageService({ root: t.path, unpacker: held.unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
  const staged = mark('pull.meta-staged');
  try {
    const pulling = svc.pull(`${reg.host}/test/busybox`);
    pulling.catch(() => undefined);
    await staged.seen;
    // Another writer (a tag, another pull) changes the reference table meanwhile.
    const other = { image: `sha256:${'1'.repeat(64)}` as const, manifest: `sha256:${'2'.repeat(64)}` as const };
    await svc.meta.locked(async () => {
      const refs = svc.meta.readRefs();
      refs.tags['example.com/other:1'] = other;
      await svc.meta.writeRefs(refs);
    });
    held.release();
    const res = await pulling;
    const refs = svc.meta.readRefs();
    assert.deepEqual(refs.tags['example.com/other:1'], other, 'the concurrent change is kept');
    assert.equal(refs.tags[`${reg.host}/test/busybox:latest`]?.image, res.id);
    assert.deepEqual(tempFiles(svc), []);
  } finally {
    staged.stop();
    held.release();
    svc.close();
    t.cleanup();
  }
});

test('pull: an rmi that collects garbage while a pull is in flight leaves the pull’s blobs alone (they are in the store before its record)', { skip }, async () => {
  const t = tempDir('hako-root-');
  const held = heldUnpacker(join(t.path, 'layers'));
  const svc = new ImageService({ root: t.path, unpacker: held.unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
  const other = randomImage(4096);
  const staged = mark('pull.meta-staged');
  try {
    await pushLayout(other, reg.host, 'test/other');
    held.release(); // the first pull is not held
    const first = await svc.pull(`${reg.host}/test/other`);
    svc.close();
    // A second service on the same root with a held unpacker (the gate above is open now).
    const held2 = heldUnpacker(join(t.path, 'layers'));
    const svc2 = new ImageService({ root: t.path, unpacker: held2.unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
    try {
      const pulling = svc2.pull(`${reg.host}/test/busybox`);
      pulling.catch(() => undefined);
      await staged.seen;
      const m = img.manifests[0]!;
      for (let i = 0; i < 200 && !svc2.content.has(m.config.digest); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(svc2.content.has(m.config.digest), 'the config is in the store before the unpack ends');
      // Deleting the other image collects every blob no record names: not the pull's.
      const removed = await svc2.remove(first.id, { force: true });
      assert.ok(removed.items.some((i) => 'Deleted' in i && i.Deleted === first.id));
      assert.ok(!svc2.content.has(other.manifests[0]!.config.digest), 'the removed image’s blobs go');
      assert.ok(svc2.content.has(m.config.digest), 'the pulled config is kept');
      assert.ok(svc2.content.has(m.layers[0]!.digest), 'the pulled layer is kept');
      held2.release();
      const res = await pulling;
      assert.equal((await svc2.verify()).ok, true);
      assert.equal((await svc2.resolve(`${reg.host}/test/busybox:latest`)).id, res.id);
    } finally {
      held2.release();
      svc2.close();
    }
  } finally {
    staged.stop();
    held.release();
    svc.close();
    other.cleanup();
    t.cleanup();
  }
});

test('pull: an rmi while a pull is in flight keeps the snapshot the pull found present (“Already exists”) and will name', { skip }, async () => {
  const t = tempDir('hako-root-');
  const layers = join(t.path, 'layers');
  const first = directoryUnpacker(layers);
  const svc = new ImageService({ root: t.path, unpacker: first, dockerConfigPath: join(t.path, 'cfg.json') });
  let staged: ReturnType<typeof mark> | undefined;
  let svc2: ImageService | undefined;
  const held = heldUnpacker(layers);
  try {
    const base = await svc.pull(`${reg.host}/test/busybox`);
    staged = mark('pull.meta-staged');
    const shared = (await svc.resolve(base.id)).chainIds[0]!;
    svc.close();
    svc2 = new ImageService({ root: t.path, unpacker: held.unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
    const seen: string[] = [];
    const pulling = svc2.pull(`${reg.host}/test/layered`, { progress: (ev) => void seen.push(ev.status) });
    pulling.catch(() => undefined);
    // Every layer's bytes are in, the upper layers' unpacks are held; the shared one was found.
    await staged.seen;
    assert.ok(seen.includes('Already exists'), seen.join(', '));
    const removed = await svc2.remove(`${reg.host}/test/busybox`);
    assert.ok(removed.items.some((i) => 'Deleted' in i && i.Deleted === base.id), JSON.stringify(removed.items));
    assert.ok(!removed.items.some((i) => 'Deleted' in i && i.Deleted === shared), 'the shared layer is not reported deleted');
    assert.ok(held.unpacker.has(shared), 'the snapshot the pull uses is kept');
    held.release();
    const res = await pulling;
    const rec = await svc2.resolve(res.id);
    assert.equal(rec.chainIds[0], shared);
    for (const c of rec.chainIds) assert.ok(held.unpacker.has(c), `snapshot ${c} of the pulled image`);
    // Once the pull is done, its record keeps the snapshot; deleting it releases the layer.
    const gone = await svc2.remove(res.id, { force: true });
    assert.ok(gone.items.some((i) => 'Deleted' in i && i.Deleted === shared), JSON.stringify(gone.items));
    assert.ok(!held.unpacker.has(shared));
  } finally {
    staged?.stop();
    held.release();
    svc2?.close();
    svc.close();
    t.cleanup();
  }
});

test('pull: a snapshot whose removal began before the pull knew its chains is waited for and unpacked again, not reported present', { skip }, async () => {
  const t = tempDir('hako-root-');
  const inner = directoryUnpacker(join(t.path, 'layers'));
  let letRemove!: () => void;
  const removeGate = new Promise<void>((r) => (letRemove = r));
  let removeStarted!: () => void;
  const started = new Promise<void>((r) => (removeStarted = r));
  const unpacker: LayerUnpacker = {
    ...inner,
    async remove(chainId) {
      removeStarted();
      await removeGate;
      await inner.remove!(chainId);
    },
  };
  const svc = new ImageService({ root: t.path, unpacker, dockerConfigPath: join(t.path, 'cfg.json') });
  let unpacked: ReturnType<typeof mark> | undefined;
  try {
    const base = await svc.pull(`${reg.host}/test/busybox`);
    const shared = (await svc.resolve(base.id)).chainIds[0]!;
    // The rmi's collection starts removing the snapshot (held), then a pull that shares it starts.
    const removing = svc.remove(`${reg.host}/test/busybox`);
    await started;
    unpacked = mark('layer.unpacked', layered.manifests[0]!.layers.length);
    const pulling = svc.pull(`${reg.host}/test/layered`);
    pulling.catch(() => undefined);
    // The removal goes on once every layer of the pull is settled (its snapshot committed, or
    // found present and its copy discarded: what a pull without the marks does) or, with the
    // pull waiting for the removal instead, after a while.
    await Promise.race([unpacked.seen, new Promise((r) => setTimeout(r, 400))]);
    letRemove();
    const removed = await removing;
    assert.ok(removed.items.some((i) => 'Deleted' in i && i.Deleted === shared), JSON.stringify(removed.items));
    const res = await pulling;
    const rec = await svc.resolve(res.id);
    assert.equal(rec.chainIds[0], shared);
    for (const c of rec.chainIds) assert.ok(inner.has(c), `snapshot ${c} of the pulled image`);
    assert.equal((await svc.verify()).ok, true);
  } finally {
    unpacked?.stop();
    letRemove();
    svc.close();
    t.cleanup();
  }
});
