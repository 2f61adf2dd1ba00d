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
import { busyboxImage, pushLayout, randomImage, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed';
let reg: TestRegistry;
let img: BuiltImage;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = busyboxImage();
  await pushLayout(img, reg.host, 'test/busybox');
});
after(async () => {
  await reg?.stop();
  img?.cleanup();
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

/** Resolves at the first pull mark `name` (HAKO_PHASE_TRACE's channel). */
function mark(name: string): { seen: Promise<void>; stop: () => void } {
  const channel = dc.channel(PULL_TRACE_CHANNEL);
  let resolve!: () => void;
  const seen = new Promise<void>((r) => (resolve = r));
  const fn = (m: unknown): void => {
    if (m === name) resolve();
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
