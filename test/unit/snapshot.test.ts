// Snapshot store without root: chain IDs, layer commit/remove, single extraction, mount options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chainIds, SnapshotStore, MOUNT_OPTIONS_LIMIT } from '../../src/image/snapshot/index.js';
import { tempDir } from '../helpers/fixtures.js';

const A = 'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'; // sha256("a")
const B = 'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d';
const C = 'sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6';

function fakeId(i: number): string {
  return 'sha256:' + i.toString(16).padStart(64, '0');
}

test('chainIds: first is the diffID, then sha256(prev + " " + diffID) (values from sha256sum)', () => {
  assert.deepEqual(chainIds([]), []);
  assert.deepEqual(chainIds([A]), [A]);
  assert.deepEqual(chainIds([A, B, C]), [
    A,
    'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676',
    'sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106',
  ]);
  assert.throws(() => chainIds(['sha256:xyz']), /invalid diffID/);
});

test('store: prepare/commit/list/remove; a losing commit is discarded', async () => {
  const t = tempDir('hako-snap-');
  try {
    const s = new SnapshotStore(join(t.path, 'snapshots'));
    assert.deepEqual(s.list(), []);
    assert.equal(s.has(A), false);
    const d1 = await s.prepareLayer(A);
    mkdirSync(d1);
    writeFileSync(join(d1, 'f'), 'one');
    assert.equal(await s.commitLayer(A, d1), true);
    assert.ok(s.has(A));
    assert.deepEqual(s.list(), [A]);
    assert.equal(readlinkSync(s.shortLink(A)), `../layers/${A.slice(7)}/diff`);
    // A second extraction (another process) loses the race and is removed.
    const d2 = await s.prepareLayer(A);
    mkdirSync(d2);
    assert.equal(await s.commitLayer(A, d2), false);
    assert.equal(existsSync(d2), false);
    assert.deepEqual(readdirSync(join(t.path, 'snapshots', 'tmp')), []);
    await s.removeLayer(A);
    assert.equal(s.has(A), false);
    assert.equal(existsSync(s.shortLink(A)), false);
    await assert.rejects(s.removeLayer(A), /not found/);
  } finally {
    t.cleanup();
  }
});

test('store: concurrent ensureLayer of one chain ID extracts once; a failed extraction leaves nothing', async () => {
  const t = tempDir('hako-snap-');
  try {
    const s = new SnapshotStore(t.path);
    let runs = 0;
    const extract = async (dir: string) => {
      runs++;
      await sleep(30);
      mkdirSync(dir);
      writeFileSync(join(dir, 'x'), 'x');
    };
    const results = await Promise.all([s.ensureLayer(B, extract), s.ensureLayer(B, extract), s.ensureLayer(B, extract)]);
    assert.equal(runs, 1);
    assert.deepEqual(results.map((r) => r.created).sort(), [false, false, true]);
    assert.equal((await s.ensureLayer(B, extract)).created, false);
    assert.equal(runs, 1);
    await assert.rejects(
      s.ensureLayer(C, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(s.has(C), false);
    assert.deepEqual(readdirSync(join(t.path, 'tmp')), []);
  } finally {
    t.cleanup();
  }
});

test('store: container mount options list layers top first with short relative links; 120 layers fit', async () => {
  const t = tempDir('hako-snap-');
  try {
    const s = new SnapshotStore(t.path);
    const ids = Array.from({ length: 120 }, (_, i) => fakeId(i + 1));
    for (const id of ids) await s.ensureLayer(id, async (dir) => mkdirSync(dir));
    const snap = await s.prepareContainer('c1', ids);
    assert.equal(snap.lowerdirs[0], s.layerDir(ids[119]!));
    assert.equal(snap.lowerdirs[119], s.layerDir(ids[0]!));
    const opts = snap.mountOptions();
    assert.ok(opts.length < MOUNT_OPTIONS_LIMIT, `${opts.length} bytes`);
    const lower = opts.split(',')[0]!.slice('lowerdir='.length).split(':');
    assert.equal(lower.length, 120);
    assert.equal(readlinkSync(join(snap.mountCwd, lower[0]!)), `../layers/${ids[119]!.slice(7)}/diff`);
    assert.deepEqual(s.container('c1').lowerdirs, snap.lowerdirs);
    // No layers: one empty lower dir.
    const empty = await s.prepareContainer('c2', []);
    assert.deepEqual(empty.lowerdirs, [join(t.path, 'empty')]);
    await assert.rejects(s.prepareContainer('c3', [A]), /not unpacked/);
    await assert.rejects(s.prepareContainer('../x', []), /invalid container id/);
    await s.removeContainer('c1');
    assert.equal(existsSync(join(t.path, 'containers', 'c1')), false);
  } finally {
    t.cleanup();
  }
});

test('init layer: made once (fsync\'d, then linked) with dockerd\'s entries, on top of containers prepared after, removed with its top layer', async () => {
  const t = tempDir('hako-snap-');
  try {
    const s = new SnapshotStore(t.path);
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    // A has /etc (0700), /dev and /proc; B, above it, has /etc again (0751, the merged view's) and
    // a file named sys; nobody has a /.dockerenv dir.
    await s.ensureLayer(A, async (dir) => {
      mkdirSync(dir);
      mkdirSync(join(dir, 'etc'), { mode: 0o700 });
      mkdirSync(join(dir, 'dev'), { mode: 0o710 });
      mkdirSync(join(dir, 'proc'), { mode: 0o555 });
      writeFileSync(join(dir, 'etc', 'hosts'), '1.2.3.4 image\n');
    });
    await s.ensureLayer(B, async (dir) => {
      mkdirSync(dir);
      mkdirSync(join(dir, 'etc'));
      chmodSync(join(dir, 'etc'), 0o751);
      writeFileSync(join(dir, 'sys'), 'not a dir');
    });
    const before = await s.prepareContainer('c0', [A, B]);
    assert.equal(before.init, false);
    assert.equal(s.hasInitLayer(B), false);
    assert.equal(await s.ensureInitLayer([A, B]), true);
    assert.equal(await s.ensureInitLayer([A, B]), false, 'made once');
    assert.equal(await s.ensureInitLayer([]), false, 'no layers, no init layer');
    assert.deepEqual(readdirSync(join(t.path, 'layers', B.slice(7))).filter((n) => n.startsWith('.init-')), [], 'no scratch dir left');
    const init = s.initLayerDir(B);
    const ls = (rel: string) => {
      const st = lstatSync(join(init, rel));
      return `${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : '?'} ${(st.mode & 0o7777).toString(8)} ${st.uid === uid && st.gid === gid ? 'me' : `${st.uid}:${st.gid}`} ${st.isSymbolicLink() ? readlinkSync(join(init, rel)) : st.size}`;
    };
    assert.deepEqual(readdirSync(init).sort(), ['.dockerenv', 'dev', 'etc', 'proc', 'sys']);
    assert.deepEqual(readdirSync(join(init, 'etc')).sort(), ['hostname', 'hosts', 'mtab', 'resolv.conf']);
    assert.deepEqual(readdirSync(join(init, 'dev')).sort(), ['console', 'pts', 'shm']);
    assert.deepEqual(
      ['.dockerenv', 'etc', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf', 'etc/mtab', 'dev', 'dev/console', 'dev/pts', 'dev/shm', 'proc', 'sys'].map(ls),
      ['f 755 me 0', 'd 751 me 4096', 'f 755 me 0', 'f 755 me 0', 'f 755 me 0', 'l 777 me /proc/mounts', 'd 710 me 4096', 'f 755 me 0', 'd 755 me 4096', 'd 755 me 4096', 'd 555 me 4096', 'd 755 me 4096'],
    );
    // Containers prepared from now on have it on top; the one prepared before keeps its layers.
    const after = await s.prepareContainer('c1', [A, B]);
    assert.equal(after.init, true);
    assert.deepEqual(after.lowerdirs, [init, s.layerDir(B), s.layerDir(A)]);
    const lower = after.mountOptions().split(',')[0]!.slice('lowerdir='.length).split(':');
    assert.equal(readlinkSync(join(after.mountCwd, lower[0]!)), `../layers/${B.slice(7)}/init`);
    assert.deepEqual(s.container('c1').lowerdirs, after.lowerdirs);
    assert.equal(s.container('c1').init, true);
    assert.equal(s.container('c0').init, false);
    // An image whose top layer is another one has its own (none yet).
    assert.equal((await s.prepareContainer('c2', [A])).init, false);
    // The init layer goes with its top layer, link included.
    await s.removeLayer(B);
    assert.equal(existsSync(init), false);
    assert.equal(existsSync(join(t.path, 'l', lower[0]!.slice(2))), false);
    assert.throws(() => readlinkSync(join(after.mountCwd, lower[0]!)), /ENOENT/);
  } finally {
    t.cleanup();
  }
});

test('init layer: calls at once make it once (the second waits for the first); left out when the layers only just fit the mount options', async () => {
  const t = tempDir('hako-snap-');
  try {
    const s = new SnapshotStore(t.path);
    await s.ensureLayer(A, async (dir) => mkdirSync(dir));
    const both = await Promise.all([s.ensureInitLayer([A]), s.ensureInitLayer([A])]);
    assert.deepEqual(both, [true, false]);
    assert.equal(s.hasInitLayer(A), true, 'there once the second call returns');
    assert.deepEqual(readdirSync(s.initLayerDir(A)).sort(), ['.dockerenv', 'dev', 'etc', 'proc', 'sys']);
    // Layers that fit the mount options only without the init layer: prepared without it.
    const ids: string[] = [];
    for (let i = 1; ; i++) {
      const id = fakeId(1000 + i);
      await s.ensureLayer(id, async (dir) => mkdirSync(dir));
      ids.push(id);
      const name = `p${String(i).padStart(3, '0')}`; // as long as 'full' below
      const probe = await s.prepareContainer(name, ids);
      await s.removeContainer(name);
      if (probe.mountOptions().length + 'l/0123456789abcdef-init:'.length >= MOUNT_OPTIONS_LIMIT) break; // the init layer's entry would not fit
    }
    const top = ids[ids.length - 1]!;
    assert.equal(await s.ensureInitLayer(ids), true);
    const snap = await s.prepareContainer('full', ids);
    assert.equal(snap.init, false);
    assert.ok(snap.mountOptions().length < MOUNT_OPTIONS_LIMIT);
    assert.equal(s.container('full').init, false);
  } finally {
    t.cleanup();
  }
});

test('GraphDriver.Data of an image, as dockerd overlay2: the top layer’s dirs, LowerDir top-down below it', async () => {
  const { snapshotUnpacker } = await import('../../src/engine/snapshot-unpacker.js');
  const t = tempDir();
  try {
    const snaps = new SnapshotStore(join(t.path, 'snapshots'));
    const u = snapshotUnpacker(snaps);
    const [a, b, c] = chainIds([`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`, `sha256:${'3'.repeat(64)}`]) as [`sha256:${string}`, `sha256:${string}`, `sha256:${string}`];
    const dir = (id: string) => join(t.path, 'snapshots', 'layers', id.slice('sha256:'.length));
    assert.deepEqual(u.graphDriverData?.([a]), { MergedDir: join(dir(a), 'merged'), UpperDir: join(dir(a), 'diff'), WorkDir: join(dir(a), 'work') });
    assert.deepEqual(u.graphDriverData?.([a, b, c]), {
      LowerDir: `${join(dir(b), 'diff')}:${join(dir(a), 'diff')}`,
      MergedDir: join(dir(c), 'merged'),
      UpperDir: join(dir(c), 'diff'),
      WorkDir: join(dir(c), 'work'),
    });
    assert.deepEqual(u.graphDriverData?.([]), {}, 'an image without layers');
  } finally {
    t.cleanup();
  }
});
