// Regular files created in pool jobs while the tar is parsed on (extract.ts: batchFiles, holdEntry,
// reapFiles, flushLinks; native/addon_regfiles.c) must give exactly what one-by-one extraction
// gives: duplicates, a file replacing a directory that holds waiting files, entries under a
// waiting file (refused as "not a directory"), hard links to one, whiteouts of one, files whose
// data spans input chunks (created on the calling thread), empty files, modes, mtimes, xattrs,
// and any chunking; batching from the first file or after some made one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { regularFilesPooled } from '../../src/native/fs.js';
import { makeTar, type TarTestEntry } from '../helpers/tar.js';
import { tempDir } from '../helpers/fixtures.js';
import { extractBatched as extractChunked, extractOneByOne, treeSnapshot as snapshot } from '../helpers/unpack-compare.js';

const root = process.getuid?.() === 0;

const extractBatched = (tar: Buffer, dest: string, chunk: number, first = 0) => extractChunked(tar, dest, chunk, { writerThreads: 0, batchFilesAfter: first });

/** A random layer over a few names, mostly regular files of every size class, so that entries collide often. */
function randomEntries(seed: number): TarTestEntry[] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 16) % n;
  };
  // Mostly names in the two directories; a few under names that may be files (refused then).
  const names = ['c', 'd', 'a/x', 'a/y', 'b/z', 'b/w', 'a/v', 'c', 'd', 'a/y', 'b/z', 'a/u', 'b/t', 'a', 'a/x/q'];
  const out: TarTestEntry[] = [{ name: 'a/', type: 'dir' }, { name: 'b/', type: 'dir' }];
  const made: string[] = [];
  const count = 8 + rnd(24);
  for (let i = 0; i < count; i++) {
    const name = names[rnd(names.length)]!;
    if ((name === 'a' || name === 'a/x/q') && rnd(3) !== 0) continue; // replacing a directory refuses what comes under it later
    const mtime = 1_000_000 + i;
    const kind = rnd(root ? 14 : 13);
    if (kind < 7) {
      // Empty, small, a few blocks, larger than the smaller chunkings.
      const size = [0, 3, 700, 1500, 5000, 9000][rnd(6)]!;
      const data = Buffer.alloc(size, 97 + (i % 26));
      data.write(`f${i}`);
      const e: TarTestEntry = { name, data, mtime, mode: [0o644, 0o600, 0o755, 0o4755][rnd(4)]! };
      if (rnd(5) === 0) e.xattrs = { 'user.t': `v${i}` };
      out.push(e);
      made.push(name);
    } else if (kind < 8) out.push({ name, type: 'symlink', linkname: `t${i}`, mtime });
    else if (kind < 10) out.push({ name: `${name}/`, type: 'dir', mtime });
    else if (kind < 12) out.push({ name, type: 'hardlink', linkname: rnd(8) === 0 || made.length === 0 ? names[rnd(names.length)]! : made[rnd(made.length)]! });
    else if (kind < 13) out.push({ name, type: 'fifo', mtime });
    else {
      const parts = name.split('/');
      parts[parts.length - 1] = `.wh.${parts[parts.length - 1]}`;
      out.push({ name: parts.join('/'), mtime });
    }
  }
  return out;
}

test('unpack: regular files in pool jobs give the one-by-one result (random layers, many chunkings)', { skip: regularFilesPooled() ? false : 'native addon not built' }, async () => {
  const t = tempDir('hako-unpack-files-');
  try {
    let errors = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const tar = makeTar(randomEntries(seed));
      const ref = join(t.path, `ref-${seed}`);
      const want = extractOneByOne(tar, ref);
      const wantTree = want === 'ok' ? snapshot(ref) : [];
      if (want !== 'ok') errors++;
      // Batches from the first file, and after a few files made one by one.
      for (const [chunk, first] of [[512, 0], [1024, 3], [4096, 0], [1 << 20, 0], [1 << 20, 3]] as const) {
        const dest = join(t.path, `got-${seed}-${chunk}-${first}`);
        const got = await extractBatched(tar, dest, chunk, first);
        assert.equal(got, want.replace('layer t', 'layer sha256:abc'), `seed ${seed}, chunk ${chunk}, first ${first}`);
        if (got === 'ok') assert.deepEqual(snapshot(dest), wantTree, `seed ${seed}, chunk ${chunk}, first ${first}`);
      }
    }
    assert.ok(errors >= 10 && errors <= 120, `a mix of refused and accepted layers (${errors} of 150 refused)`);
  } finally {
    t.cleanup();
  }
});

test('unpack: entries after waiting files, each kind, against one-by-one extraction', { skip: regularFilesPooled() ? false : 'native addon not built' }, async () => {
  const files: TarTestEntry[] = [];
  for (let i = 0; i < 40; i++) files.push({ name: `etc/f${i}`, data: `content ${i}`, mtime: 2_000_000 + i, mode: i % 2 ? 0o640 : 0o644 });
  const dir = { name: 'etc/', type: 'dir', mtime: 9 } as TarTestEntry;
  const cases: Array<[string, TarTestEntry[]]> = [
    ['files across dirs', [dir, ...files.slice(0, 20), { name: 'usr/', type: 'dir' }, { name: 'usr/g', data: 'x' }, ...files.slice(20)]],
    ['a file at a waiting file', [dir, ...files, { name: 'etc/f3', data: 'second wins' }]],
    ['a dir at a waiting file', [dir, ...files, { name: 'etc/f4/', type: 'dir' }, { name: 'etc/f4/inner', data: 'z' }]],
    ['a hard link to a waiting file', [dir, ...files, { name: 'hl', type: 'hardlink', linkname: 'etc/f5' }]],
    ['a hard link to below a waiting file (refused)', [dir, ...files, { name: 'hl', type: 'hardlink', linkname: 'etc/f5/x' }]],
    ['a symlink at a waiting file', [dir, ...files, { name: 'etc/f6', type: 'symlink', linkname: 'elsewhere' }]],
    ['a dir holding waiting files replaced by a file', [dir, ...files, { name: 'etc', data: 'now a file' }]],
    ['a dir holding waiting files replaced by a symlink', [dir, ...files, { name: 'etc', type: 'symlink', linkname: 'elsewhere' }, { name: 'etc2/', type: 'dir' }]],
    ['a file under a waiting file (refused)', [dir, ...files, { name: 'etc/f7/x', data: 'under' }]],
    ['a file at an existing file, then under it (refused)', [dir, { name: 'etc/f8', data: 'one' }, { name: 'pad', data: 'p'.repeat(3000) }, { name: 'etc/f8', data: 'two' }, { name: 'etc/f8/y', data: 'under' }]],
    ['a big file after waiting files', [dir, ...files, { name: 'etc/big', data: Buffer.alloc(200_000, 7), mode: 0o600 }, { name: 'etc/f9', data: 'again' }]],
    ['a fifo at a waiting file', [dir, ...files, { name: 'etc/f10', type: 'fifo' }]],
    ['xattrs of waiting files', [dir, { name: 'etc/x1', data: 'a', xattrs: { 'user.t': 'one' } }, { name: 'etc/x2', data: 'b', xattrs: { 'user.t': 'two' } }, { name: 'etc/x1', data: 'c' }]],
    ...(root ? ([['a whiteout of a waiting file', [dir, ...files, { name: 'etc/.wh.f11' }]]] as Array<[string, TarTestEntry[]]>) : []),
  ];
  const t = tempDir('hako-unpack-files-');
  try {
    for (const [i, [what, entries]] of cases.entries()) {
      const tar = makeTar(entries);
      const ref = join(t.path, `ref-${i}`);
      const want = extractOneByOne(tar, ref);
      for (const [chunk, first] of [[512, 0], [3072, 0], [1 << 20, 0], [1 << 20, 10]] as const) {
        const dest = join(t.path, `got-${i}-${chunk}-${first}`);
        const got = await extractBatched(tar, dest, chunk, first);
        assert.equal(got, want.replace('layer t', 'layer sha256:abc'), `${what}, chunk ${chunk}, first ${first}`);
        if (got === 'ok') assert.deepEqual(snapshot(dest), snapshot(ref), `${what}, chunk ${chunk}, first ${first}`);
      }
      if (what.includes('refused')) assert.match(want, /^error: /, what);
      else assert.equal(want, 'ok', what);
    }
  } finally {
    t.cleanup();
  }
});
