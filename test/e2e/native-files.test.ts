// The addon's in-place writes of small files on the libuv pool (native/addon_files.c through
// src/native/fs.ts), used by a start for a container's /etc/hosts, /etc/hostname and resolv.conf
// (src/engine/containers/etc-files.ts writeEtcFilesPooled); and sync_file_range(2) as the content
// store starts a download's writeback (startWriteback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeEtcFilesPooled } from '../../src/engine/containers/etc-files.js';
import { HakoError } from '../../src/common/errors.js';
import { native } from '../../src/native/addon.js';
import { startWriteback, writeFilesIfChangedPooled } from '../../src/native/fs.js';
import { tempDir } from '../helpers/fixtures.js';

test('writeFilesIfChangedPooled: made with the mode, rewritten in place only when changed (longer, shorter), symlinks and directories refused', async () => {
  const t = tempDir('hako-files-');
  try {
    const [a, b] = [join(t.path, 'a'), join(t.path, 'b')];
    const written = writeFilesIfChangedPooled([a, b], ['first\n', ''], 0o640);
    assert.ok(written, 'the addon has the function');
    await written;
    assert.equal(readFileSync(a, 'utf8'), 'first\n');
    assert.equal(readFileSync(b, 'utf8'), '');
    assert.equal(statSync(a).mode & 0o777, 0o640 & ~process.umask());
    const before = statSync(a, { bigint: true });
    await new Promise((r) => setTimeout(r, 20)); // past the fs timestamp granularity
    await writeFilesIfChangedPooled([a], ['first\n'], 0o644);
    const same = statSync(a, { bigint: true });
    assert.equal(same.mtimeNs, before.mtimeNs, 'unchanged: not written');
    assert.equal(same.ctimeNs, before.ctimeNs);
    await writeFilesIfChangedPooled([a], ['a longer second text ü\n'], 0o644);
    assert.equal(readFileSync(a, 'utf8'), 'a longer second text ü\n');
    await writeFilesIfChangedPooled([a], ['short\n'], 0o644);
    assert.equal(readFileSync(a, 'utf8'), 'short\n', 'no tail of the longer text left');
    assert.equal(statSync(a).ino, Number(before.ino), 'the same inode throughout (a bind mount of it follows)');
    assert.equal(statSync(a).mode & 0o777, 0o640 & ~process.umask(), 'mode of an existing file kept');

    const target = join(t.path, 'target');
    writeFileSync(target, 'kept');
    const link = join(t.path, 'link');
    symlinkSync(target, link);
    await assert.rejects(writeFilesIfChangedPooled([b, link], ['b', 'through the link'], 0o644)!, (e: NodeJS.ErrnoException) => e.code === 'ELOOP' && e.syscall === 'open' && e.path === link);
    assert.equal(readFileSync(target, 'utf8'), 'kept');
    assert.equal(readFileSync(b, 'utf8'), 'b', 'the files before the failed one are written');
    const dir = join(t.path, 'dir');
    mkdirSync(dir);
    await assert.rejects(writeFilesIfChangedPooled([dir], ['x'], 0o644)!, (e: NodeJS.ErrnoException) => e.code === 'EISDIR' && e.path === dir);

    const add = native() as unknown as { writeFilesIfChangedAsync(p: unknown, t: unknown, m: unknown): Promise<void> };
    assert.throws(() => add.writeFilesIfChangedAsync([a], [], 0o644), TypeError);
    assert.throws(() => add.writeFilesIfChangedAsync(['relative'], ['x'], 0o644), TypeError);
    assert.throws(() => add.writeFilesIfChangedAsync([a], [1], 0o644), TypeError);
  } finally {
    t.cleanup();
  }
});

test('writeEtcFilesPooled: the three files, and a failure as a HakoError naming the file', async () => {
  const t = tempDir('hako-etc-');
  try {
    const paths = { hosts: join(t.path, 'hosts'), hostname: join(t.path, 'hostname'), resolv: join(t.path, 'resolv.conf') };
    const texts = { hosts: '127.0.0.1\tlocalhost\n', hostname: 'c1\n', resolv: 'nameserver 8.8.8.8\n' };
    await writeEtcFilesPooled(paths, texts);
    assert.deepEqual([readFileSync(paths.hosts, 'utf8'), readFileSync(paths.hostname, 'utf8'), readFileSync(paths.resolv, 'utf8')], [texts.hosts, texts.hostname, texts.resolv]);
    const missing = { ...paths, resolv: join(t.path, 'no', 'resolv.conf') };
    await assert.rejects(writeEtcFilesPooled(missing, texts), (e: unknown) => e instanceof HakoError && e.code === 'ENOENT' && e.path === missing.resolv);
  } finally {
    t.cleanup();
  }
});

test('startWriteback: sync_file_range(SYNC_FILE_RANGE_WRITE) on the pool for a file; a pipe is refused with ESPIPE, bad ranges with a usage line', async () => {
  const t = tempDir('hako-writeback-');
  const fd = openSync(join(t.path, 'blob'), 'w');
  try {
    writeSync(fd, Buffer.alloc(3 << 20, 7));
    const p = startWriteback(fd, 0, 3 << 20);
    assert.ok(p, 'the addon has the function');
    await p;
    await startWriteback(fd, 1 << 20, 0); // 0 bytes: to the end of the file
    const [r, w] = native().pipe();
    try {
      await assert.rejects(startWriteback(r, 0, 1)!, (e: NodeJS.ErrnoException) => e.code === 'ESPIPE' && e.syscall === 'sync_file_range');
    } finally {
      closeSync(r);
      closeSync(w);
    }
    assert.throws(() => startWriteback(fd, -1, 1), /usage: syncFileRangeWriteAsync/);
  } finally {
    closeSync(fd);
    t.cleanup();
  }
});
