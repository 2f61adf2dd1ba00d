// Layer unpacking with the writer threads (FileWriterPool) forced on from the first file: the
// result must be the same as on one thread, and every ordering and safety rule must still hold
// while files are in flight on other threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { HakoError } from '../../src/common/errors.js';
import { unpackLayer } from '../../src/image/unpack/index.js';
import { makeTar, type TarTestEntry } from '../helpers/tar.js';
import { tempDir } from '../helpers/fixtures.js';

const TAR = 'application/vnd.oci.image.layer.v1.tar';
const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const POOL = { writerThreads: 2, writersAfterFiles: 0 };

function chunks(blob: Buffer, size = 4096): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < blob.length; i += size) out.push(blob.subarray(i, i + size));
  return out;
}

/** name, type, mode, size, mtime and content hash of everything below dir (the root's mtime is the time of the unpack). */
function listing(dir: string): string[] {
  return execFileSync('find', ['.', '-mindepth', '1', '-printf', '%p %y %m %s %T@ %l\n'], { cwd: dir, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const p = join(dir, l.split(' ')[0]!);
      const st = lstatSync(p);
      return st.isFile() ? `${l} ${createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16)}` : l;
    })
    .sort();
}

/** A layer with many files in many directories: small, empty, and larger than one batch (256 KiB). */
function bigLayer(): TarTestEntry[] {
  const entries: TarTestEntry[] = [];
  for (let d = 0; d < 12; d++) {
    entries.push({ name: `d${d}/`, type: 'dir', mode: d === 3 ? 0o700 : 0o755, mtime: 1_600_000_000 + d });
    for (let f = 0; f < 40; f++) {
      const size = f === 0 ? 0 : f === 1 ? 700 * 1024 + d : (f * 997 + d * 31) % 9000;
      const data = Buffer.alloc(size, (d * 40 + f) & 0xff);
      if (size > 8) data.writeUInt32LE(d * 1000 + f, 4);
      entries.push({ name: `d${d}/f${f}`, data, mode: [0o644, 0o755, 0o600, 0o4755, 0o444, 0o666][f % 6], mtime: 1_500_000_000 + f * 7 + d });
    }
    entries.push({ name: `d${d}/link`, type: 'symlink', linkname: `f${d}`, mtime: 1_400_000_000 });
    entries.push({ name: `d${d}/hard`, type: 'hardlink', linkname: `d${d}/f2` });
  }
  return entries;
}

test('writer threads: a layer of 500 files unpacks exactly as on one thread (contents, modes, times, links); same diffID', async () => {
  const t = tempDir('hako-unpack-writers-');
  try {
    const tar = makeTar(bigLayer());
    const gz = gzipSync(tar);
    const one = await unpackLayer(Readable.from(chunks(gz)), join(t.path, 'one'), { mediaType: GZ, chown: false, writerThreads: 0 });
    const many = await unpackLayer(Readable.from(chunks(gz)), join(t.path, 'many'), { mediaType: GZ, chown: false, ...POOL });
    assert.equal(many.diffId, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
    assert.equal(many.diffId, one.diffId);
    assert.equal(many.entries, one.entries);
    const a = listing(join(t.path, 'many'));
    const b = listing(join(t.path, 'one'));
    assert.equal(a.length, b.length);
    assert.deepEqual(a.filter((l, i) => l !== b[i]), [], 'entries that differ from the one-thread unpack');
    const setuid = statSync(join(t.path, 'many', 'd5/f3'));
    assert.equal(setuid.mode & 0o7777, 0o4755);
    assert.equal(statSync(join(t.path, 'many', 'd5/f4')).mode & 0o7777, 0o444);
    assert.equal(statSync(join(t.path, 'many', 'd5/f5')).mode & 0o7777, 0o666, 'the umask does not apply');
    assert.equal(statSync(join(t.path, 'many', 'd7/f1')).size, 700 * 1024 + 7);
    assert.equal(lstatSync(join(t.path, 'many', 'd7/hard')).ino, lstatSync(join(t.path, 'many', 'd7/f2')).ino);
    assert.deepEqual(readdirSync(t.path).sort(), ['many', 'one'], 'no scratch directory left');
  } finally {
    t.cleanup();
  }
});

test('writer threads: later entries replace files still in flight, never following them', async () => {
  const t = tempDir('hako-unpack-writers-');
  try {
    const victim = join(t.path, 'victim');
    mkdirSync(victim);
    const dest = join(t.path, 'layer');
    await unpackLayer(
      Readable.from([
        makeTar([
          { name: 'd', data: 'v1' },
          { name: 'd', data: 'v2' },
          { name: 'e', data: 'file first' },
          { name: 'e', type: 'symlink', linkname: victim },
          { name: 'f', data: 'file first' },
          { name: 'f/', type: 'dir' },
          { name: 'f/inner', data: 'inner' },
          { name: 'g/', type: 'dir' },
          { name: 'g/a', data: 'a' },
          { name: 'g/b', data: 'b' },
          { name: 'g', data: 'file replaces a dir whose files were in flight' },
          { name: 'h', data: 'target' },
          { name: 'h2', type: 'hardlink', linkname: 'h' },
          { name: 'w/', type: 'dir' },
          { name: 'w/gone', data: 'x' },
          { name: 'w/.wh.gone', data: '' },
        ]),
      ]),
      dest,
      { mediaType: TAR, chown: false, ...POOL },
    );
    assert.equal(readFileSync(join(dest, 'd'), 'utf8'), 'v2');
    assert.equal(lstatSync(join(dest, 'e')).isSymbolicLink(), true);
    assert.equal(readFileSync(join(dest, 'f/inner'), 'utf8'), 'inner');
    assert.equal(readFileSync(join(dest, 'g'), 'utf8'), 'file replaces a dir whose files were in flight');
    assert.equal(lstatSync(join(dest, 'h2')).ino, lstatSync(join(dest, 'h')).ino);
    assert.equal(readFileSync(join(dest, 'h2'), 'utf8'), 'target');
    const wh = lstatSync(join(dest, 'w/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'the whiteout replaced the file');
    assert.deepEqual(readdirSync(victim), []);
  } finally {
    t.cleanup();
  }
});

const escapes: Array<[string, TarTestEntry[], RegExp]> = [
  [
    'dir replaced by a symlink while its files are in flight, then a write through it',
    [
      { name: 'd/', type: 'dir' },
      ...Array.from({ length: 20 }, (_, i) => ({ name: `d/ok${i}`, data: 'x'.repeat(3000) })),
      { name: 'd', type: 'symlink', linkname: '/tmp' },
      { name: 'd/hako-escape-test', data: 'x' },
    ],
    /through the symlink "d"/,
  ],
  [
    'a file in flight used as a parent directory',
    [
      { name: 'p', data: 'a file' },
      { name: 'p/child', data: 'x' },
    ],
    /entry "p\/child": parent "p" is not a directory/,
  ],
  [
    'hardlink through a symlink',
    [
      { name: 'a', data: 'a' },
      { name: 'l', type: 'symlink', linkname: '/etc' },
      { name: 'h', type: 'hardlink', linkname: 'l/passwd' },
    ],
    /through the symlink "l"/,
  ],
];

for (const [what, entries, re] of escapes) {
  test(`writer threads: refuses a malicious layer: ${what}; nothing is left`, async () => {
    const t = tempDir('hako-unpack-writers-');
    try {
      await assert.rejects(unpackLayer(Readable.from(chunks(makeTar(entries), 1000)), join(t.path, 'layer'), { mediaType: TAR, digest: 'sha256:abc', chown: false, ...POOL }), (e: unknown) => {
        assert.ok(e instanceof HakoError, String(e));
        assert.match(e.message, /^layer sha256:abc: /);
        assert.match(e.message, re);
        return true;
      });
      assert.deepEqual(readdirSync(t.path), []);
      assert.equal(existsSync('/tmp/hako-escape-test'), false);
    } finally {
      t.cleanup();
    }
  });
}

test('writer threads: a failure on a thread (a corrupt gzip after many files, an abort) leaves nothing and no thread', async () => {
  const t = tempDir('hako-unpack-writers-');
  try {
    const tar = makeTar(bigLayer());
    const gz = gzipSync(tar);
    const bad = Buffer.from(gz);
    bad[Math.floor(bad.length * 0.8)]! ^= 0xff;
    await assert.rejects(unpackLayer(Readable.from(chunks(bad)), join(t.path, 'layer'), { mediaType: GZ, chown: false, ...POOL }), /corrupt|invalid/);
    assert.deepEqual(readdirSync(t.path), []);

    const ac = new AbortController();
    async function* slow() {
      let n = 0;
      for (const c of chunks(tar, 64 * 1024)) {
        if (++n === 20) ac.abort();
        yield c;
      }
    }
    await assert.rejects(unpackLayer(Readable.from(slow()), join(t.path, 'layer'), { mediaType: TAR, chown: false, signal: ac.signal, ...POOL }), /aborted/);
    assert.deepEqual(readdirSync(t.path), []);
    assert.equal(
      process.getActiveResourcesInfo().filter((r) => /Worker|MessagePort/.test(r)).length,
      0,
      `threads or ports left: ${process.getActiveResourcesInfo().join(', ')}`,
    );
  } finally {
    t.cleanup();
  }
});

test('writer threads: a worker module that cannot load fails the drain with its reason instead of blocking it forever', async () => {
  const { FileWriterPool } = await import('../../src/image/unpack/file-writers.js');
  const t = tempDir('hako-writers-');
  const missing = new URL(`file://${join(t.path, 'no-such-worker.js')}`);
  const pool = new FileWriterPool({ threads: 1, label: 'layer sha256:test', module: missing });
  try {
    pool.openFile(join(t.path, 'a'), 'a', 0o644);
    pool.writeData(Buffer.from('x'));
    pool.closeFile(-1, -1, -1, 0, 0);
    assert.throws(() => pool.drainSync(), (e: unknown) => e instanceof HakoError && /start file writer thread/.test(e.message) && /no-such-worker\.js/.test(e.message));
    assert.equal(existsSync(join(t.path, 'a')), false);
  } finally {
    await pool.destroy();
    t.cleanup();
  }
});
