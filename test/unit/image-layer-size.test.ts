// A layer's content size two ways that must agree: counted from the tar while unpacking
// (UnpackResult.contentSize) and counted from the unpacked directory as moby's directory.Size
// does (what overlay2 reports and hako recounts for snapshots from before sizes were kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { mkdirSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { unpackLayer } from '../../src/image/unpack/index.js';
import { directorySize } from '../../src/image/snapshot/index.js';
import { makeTar, whiteout, opaque } from '../helpers/tar.js';
import { tempDir } from '../helpers/fixtures.js';

test('contentSize while unpacking = directorySize of the result: files, hard links once, symlink target bytes, no dirs, whiteouts or empty files', async () => {
  const t = tempDir('hako-layer-size-');
  try {
    const tar = makeTar([
      { name: 'd/', type: 'dir' },
      { name: 'd/e/', type: 'dir' },
      { name: 'd/e/big', data: Buffer.alloc(70_000, 7) },
      { name: 'd/small', data: 'abc' },
      { name: 'd/same', type: 'hardlink', linkname: 'd/e/big' },
      { name: 'd/also', type: 'hardlink', linkname: 'd/small' },
      { name: 'd/ln', type: 'symlink', linkname: 'e/big' },
      { name: 'd/utf', type: 'symlink', linkname: 'zielé/ñ' },
      { name: 'd/empty', data: '' },
      { name: 'd/fifo', type: 'fifo' },
      whiteout('d/gone'),
      opaque('d/e'),
    ]);
    const dest = join(t.path, 'layer');
    const r = await unpackLayer(Readable.from([tar]), dest, { mediaType: 'application/vnd.oci.image.layer.v1.tar', writerThreads: 0 });
    const expected = 70_000 + 3 + 'e/big'.length + Buffer.byteLength('zielé/ñ');
    assert.equal(r.contentSize, expected);
    assert.equal(await directorySize(dest), expected);
    assert.ok(r.size > expected, 'the tar is larger than its content');
  } finally {
    t.cleanup();
  }
});

test('directorySize: each inode once, directories and zero sizes not counted, a missing directory is 0', async () => {
  const t = tempDir('hako-dir-size-');
  try {
    mkdirSync(join(t.path, 'a/b'), { recursive: true });
    writeFileSync(join(t.path, 'a/b/f'), Buffer.alloc(1234));
    linkSync(join(t.path, 'a/b/f'), join(t.path, 'a/f2'));
    symlinkSync('../a/b/f', join(t.path, 'a/s'));
    writeFileSync(join(t.path, 'z'), '');
    assert.equal(await directorySize(t.path), 1234 + '../a/b/f'.length);
    assert.equal(await directorySize(join(t.path, 'nope')), 0);
  } finally {
    t.cleanup();
  }
});
