// The addon's directory removal on the libuv pool (native/addon_rmtree.c through src/native/fs.ts):
// removeTree (rm -rf --one-file-system in one job), used for removed containers' directories, and
// rmdirs (one job of rmdir(2)s), used for a container's cgroup v1 directories, and
// writeFileAtomicPooled (a temp file renamed over the target in one job), for record saves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S_IFCHR, mknod, removeTree, rmdirs, writeFileAtomicPooled } from '../../src/native/fs.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';

test('removeTree: files, nested and read-only dirs, whiteouts, symlinks (not followed); a missing path is success', async () => {
  const t = tempDir('hako-rmtree-');
  try {
    const outside = join(t.path, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'kept');
    const top = join(t.path, 'tree');
    mkdirSync(join(top, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(top, 'a', 'f'), 'x');
    writeFileSync(join(top, 'a', 'b', 'c', 'g'), 'y');
    symlinkSync(outside, join(top, 'a', 'to-outside')); // a link to a directory: removed, not entered
    symlinkSync(join(outside, 'keep'), join(top, 'to-file'));
    mkdirSync(join(top, 'work', 'work'), { recursive: true });
    chmodSync(join(top, 'work', 'work'), 0); // overlayfs leaves its work dir d---------
    if (isRoot) mknod(join(top, 'a', 'wh'), S_IFCHR, 0, 0); // an overlay whiteout
    await removeTree(top);
    assert.equal(existsSync(top), false);
    assert.equal(readFileSync(join(outside, 'keep'), 'utf8'), 'kept');
    await removeTree(top); // gone already
    await removeTree(join(t.path, 'no', 'such', 'parent'));
    // A symlink given as the path itself is removed, its target kept.
    symlinkSync(outside, join(t.path, 'link'));
    await removeTree(join(t.path, 'link'));
    assert.equal(existsSync(join(t.path, 'link')), false);
    assert.equal(existsSync(join(outside, 'keep')), true);
  } finally {
    t.cleanup();
  }
});

test('removeTree: a mount inside the tree is not entered (EXDEV); the rest goes', { skip: isRoot ? false : 'needs root (a tmpfs mount)' }, async () => {
  const t = tempDir('hako-rmtree-');
  const mnt = join(t.path, 'tree', 'mnt');
  try {
    mkdirSync(mnt, { recursive: true });
    writeFileSync(join(t.path, 'tree', 'f'), 'x');
    execFileSync('mount', ['-t', 'tmpfs', 'hako-rmtree-test', mnt]);
    writeFileSync(join(mnt, 'on-the-mount'), 'kept');
    await assert.rejects(removeTree(join(t.path, 'tree')), (e: Error & { code?: string }) => e.code === 'EXDEV');
    assert.equal(readFileSync(join(mnt, 'on-the-mount'), 'utf8'), 'kept');
    assert.equal(existsSync(join(t.path, 'tree', 'f')), false);
  } finally {
    execFileSync('umount', [mnt]);
    t.cleanup();
  }
});

test('rmdirs: each path’s errno, in order (0 removed, ENOTEMPTY, ENOENT)', async () => {
  const t = tempDir('hako-rmdirs-');
  try {
    mkdirSync(join(t.path, 'empty'));
    mkdirSync(join(t.path, 'full', 'sub'), { recursive: true });
    const errnos = await rmdirs([join(t.path, 'empty'), join(t.path, 'full'), join(t.path, 'none'), join(t.path, 'full', 'sub'), join(t.path, 'full')]);
    assert.deepEqual(errnos, [0, 39, 2, 0, 0]); // ENOTEMPTY 39, ENOENT 2 (Linux)
    assert.equal(existsSync(join(t.path, 'full')), false);
  } finally {
    t.cleanup();
  }
});

test('writeFileAtomicPooled: replaces the file whole (mode of a new one), durable or not; a failure leaves no temp file', async () => {
  const t = tempDir('hako-atomic-');
  try {
    const file = join(t.path, 'state.json');
    await writeFileAtomicPooled(file, '{"a":1}', { mode: 0o640, durable: false });
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    await writeFileAtomicPooled(file, Buffer.from('x'.repeat(100_000)), { durable: true });
    assert.equal(readFileSync(file, 'utf8'), 'x'.repeat(100_000));
    assert.deepEqual(readdirSync(t.path), ['state.json']);
    // The target is a directory: the rename fails (EISDIR), the written temp file goes again.
    mkdirSync(join(t.path, 'dir'));
    writeFileSync(join(t.path, 'dir', 'inside'), '');
    await assert.rejects(writeFileAtomicPooled(join(t.path, 'dir'), 'y'), (e: Error & { code?: string; syscall?: string }) => e.code === 'EISDIR' && e.syscall === 'rename');
    assert.deepEqual(readdirSync(t.path).sort(), ['dir', 'state.json']);
    // No directory: the open fails.
    await assert.rejects(writeFileAtomicPooled(join(t.path, 'none', 'f'), 'y'), (e: Error & { code?: string; syscall?: string }) => e.code === 'ENOENT' && e.syscall === 'open');
  } finally {
    t.cleanup();
  }
});
