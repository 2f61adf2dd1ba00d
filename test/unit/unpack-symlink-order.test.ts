// Symlinks created in pool jobs while the tar is parsed on (extract.ts: submitLinks, holdEntry,
// flushLinks) must give exactly what one-by-one extraction gives, whatever comes after a link in
// the tar: duplicates, files or dirs at its path, hard links to it, whiteouts, a directory that
// holds waiting links replaced by a file, entries under it (refused), and any chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { symlinksPooled } from '../../src/native/fs.js';
import { makeTar, type TarTestEntry } from '../helpers/tar.js';
import { tempDir } from '../helpers/fixtures.js';
import { extractBatched, extractOneByOne, treeSnapshot as snapshot } from '../helpers/unpack-compare.js';

const root = process.getuid?.() === 0;

/** A small random layer over a few names, so that entries collide often. */
function randomEntries(seed: number): TarTestEntry[] {
  let s = seed;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 16) % n; // the high bits: an LCG's low bits repeat with a short period
  };
  // 'a' and 'b' start as directories; replacing one (rarely) refuses what comes under it later.
  const names = ['c', 'd', 'e', 'f', 'a/x', 'a/y', 'b/z', 'b/w', 'a/x/q', 'c', 'd', 'a/y', 'b/z', 'a', 'b'];
  const out: TarTestEntry[] = [{ name: 'a/', type: 'dir' }, { name: 'b/', type: 'dir' }];
  const files: string[] = [];
  const count = 6 + rnd(20);
  for (let i = 0; i < count; i++) {
    const name = names[rnd(names.length)]!;
    if ((name === 'a' || name === 'b') && rnd(3) !== 0) continue;
    const mtime = 1_000_000 + i;
    const kind = rnd(root ? 12 : 11);
    if (kind < 5) out.push({ name, type: 'symlink', linkname: `t${i}`, mtime });
    else if (kind < 7) out.push({ name: `${name}/`, type: 'dir', mtime });
    else if (kind < 9) {
      out.push({ name, data: `f${i}`, mtime });
      files.push(name);
    } else if (kind < 10) out.push({ name, type: 'hardlink', linkname: rnd(3) === 0 || files.length === 0 ? names[rnd(names.length)]! : files[rnd(files.length)]! });
    else if (kind < 11) out.push({ name, type: 'fifo', mtime });
    else {
      const parts = name.split('/');
      parts[parts.length - 1] = `.wh.${parts[parts.length - 1]}`;
      out.push({ name: parts.join('/'), mtime });
    }
  }
  return out;
}

test('unpack: symlinks in pool jobs give the one-by-one result (random layers, many chunkings)', { skip: symlinksPooled() ? false : 'native addon not built' }, async () => {
  const t = tempDir('hako-unpack-links-');
  try {
    let n = 0;
    let errors = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const tar = makeTar(randomEntries(seed));
      const ref = join(t.path, `ref-${seed}`);
      const want = extractOneByOne(tar, ref);
      const wantTree = want === 'ok' ? snapshot(ref) : [];
      if (want !== 'ok') errors++;
      for (const chunk of [512, 1536, 4096, 1 << 20]) {
        const dest = join(t.path, `got-${seed}-${chunk}`);
        const got = await extractBatched(tar, dest, chunk);
        assert.equal(got, want.replace('layer t', 'layer sha256:abc'), `seed ${seed}, chunk ${chunk}`);
        if (got === 'ok') assert.deepEqual(snapshot(dest), wantTree, `seed ${seed}, chunk ${chunk}`);
        n++;
      }
    }
    assert.ok(errors >= 10 && errors <= 120, `a mix of refused and accepted layers (${errors} of 150 refused)`);
    assert.ok(n === 600);
  } finally {
    t.cleanup();
  }
});

test('unpack: entries after waiting symlinks, each kind, against one-by-one extraction', { skip: symlinksPooled() ? false : 'native addon not built' }, async () => {
  const links: TarTestEntry[] = [];
  for (let i = 0; i < 50; i++) links.push({ name: `bin/l${i}`, type: 'symlink', linkname: `target-${i}`, mtime: 2_000_000 + i });
  const cases: Array<[string, TarTestEntry[]]> = [
    ['links across dirs and files', [{ name: 'bin/', type: 'dir', mtime: 9 }, ...links.slice(0, 20), { name: 'etc/', type: 'dir' }, { name: 'etc/f', data: 'x' }, ...links.slice(20), { name: 'bin/f', data: 'y' }]],
    ['a file at a waiting link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin/l3', data: 'file wins' }]],
    ['a dir at a waiting link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin/l4/', type: 'dir' }, { name: 'bin/l4/inner', data: 'z' }]],
    ['a hard link to a waiting link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'hl', type: 'hardlink', linkname: 'bin/l5' }]],
    ['a link at a submitted link (later chunk)', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'pad', data: 'p'.repeat(5000) }, { name: 'bin/l6', type: 'symlink', linkname: 'again', mtime: 5 }]],
    ['a dir holding waiting links replaced by a file', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin', data: 'now a file' }]],
    ['a dir holding waiting links replaced by a link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin', type: 'symlink', linkname: 'elsewhere' }]],
    ['a file under a waiting link (refused)', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin/l7/x', data: 'through' }]],
    ['a fifo at a waiting link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin/l8', type: 'fifo' }]],
    ...(root ? ([['a whiteout of a waiting link', [{ name: 'bin/', type: 'dir' }, ...links, { name: 'bin/.wh.l9' }]]] as Array<[string, TarTestEntry[]]>) : []),
  ];
  const t = tempDir('hako-unpack-links-');
  try {
    for (const [i, [what, entries]] of cases.entries()) {
      const tar = makeTar(entries);
      const ref = join(t.path, `ref-${i}`);
      const want = extractOneByOne(tar, ref);
      for (const chunk of [512, 3072, 1 << 20]) {
        const dest = join(t.path, `got-${i}-${chunk}`);
        const got = await extractBatched(tar, dest, chunk);
        assert.equal(got, want.replace('layer t', 'layer sha256:abc'), `${what}, chunk ${chunk}`);
        if (got === 'ok') assert.deepEqual(snapshot(dest), snapshot(ref), `${what}, chunk ${chunk}`);
      }
      if (what.includes('refused')) assert.match(want, /through the symlink "bin\/l7"/);
      else assert.equal(want, 'ok', what);
    }
  } finally {
    t.cleanup();
  }
});
