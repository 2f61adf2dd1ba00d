// The addon's file-system primitives (native/addon_fs.c through src/native/fs.ts) that the
// unpacker uses for devices, whiteouts and xattrs, and the unpacker's failures on a real kernel
// with the writer threads on (ENOSPC from a thread, an xattr the filesystem refuses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HakoError } from '../../src/common/errors.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lgetxattr, llistxattr, lsetxattr, mknod } from '../../src/native/fs.js';
import { unpackLayer } from '../../src/image/unpack/index.js';
import { makeTar, whiteout, opaque } from '../helpers/tar.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';

const hasGetfattr = spawnSync('getfattr', ['--version']).status === 0;
const skipRoot = isRoot ? false : 'needs root (mknod of devices, trusted.* xattrs, tmpfs mounts)';

function errnoCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    const err = e as { code?: string; errno?: number; syscall?: string };
    assert.equal(typeof err.errno, 'number');
    assert.ok(err.errno! > 0);
    assert.ok(err.syscall, 'the error names the syscall');
    return err.code;
  }
  return undefined;
}

test('native mknod: character and block devices with their numbers, fifos; never replaces or follows', { skip: skipRoot }, () => {
  const t = tempDir('hako-native-fs-');
  try {
    mknod(join(t.path, 'null'), S_IFCHR | 0o640, 1, 3);
    const c = lstatSync(join(t.path, 'null'));
    assert.ok(c.isCharacterDevice());
    assert.equal(c.rdev, (1 << 8) | 3);
    mknod(join(t.path, 'sda'), S_IFBLK | 0o600, 8, 300); // a minor above 255 (makedev's split encoding)
    const b = lstatSync(join(t.path, 'sda'));
    assert.ok(b.isBlockDevice());
    assert.equal(b.rdev, (8 << 8) | (300 & 0xff) | ((300 & ~0xff) << 12));
    mknod(join(t.path, 'fifo'), S_IFIFO | 0o600);
    assert.ok(lstatSync(join(t.path, 'fifo')).isFIFO());
    // An existing name, even a symlink to a free name, is EEXIST: nothing is created through it.
    symlinkSync(join(t.path, 'elsewhere'), join(t.path, 'link'));
    assert.equal(errnoCode(() => mknod(join(t.path, 'link'), S_IFCHR, 0, 0)), 'EEXIST');
    assert.deepEqual(readdirSync(t.path).sort(), ['fifo', 'link', 'null', 'sda']);
    assert.equal(errnoCode(() => mknod(join(t.path, 'no/such/dir'), S_IFIFO | 0o600)), 'ENOENT');
    assert.throws(() => mknod(join(t.path, 'a\0b'), S_IFIFO | 0o600), /NUL byte/);
  } finally {
    t.cleanup();
  }
});

test('native xattrs: binary values round-trip; l* calls act on a symlink itself; absent is null', { skip: skipRoot }, () => {
  const t = tempDir('hako-native-fs-');
  try {
    const f = join(t.path, 'f');
    writeFileSync(f, 'x');
    const value = Buffer.from([0, 1, 2, 0xff, 0, 0x3d, 0x0a]);
    lsetxattr(f, 'trusted.hako', value);
    lsetxattr(f, 'user.empty', Buffer.alloc(0));
    assert.deepEqual(lgetxattr(f, 'trusted.hako'), value);
    assert.deepEqual(lgetxattr(f, 'user.empty'), Buffer.alloc(0));
    assert.equal(lgetxattr(f, 'user.absent'), null);
    assert.deepEqual(llistxattr(f).filter((n) => !n.startsWith('security.')).sort(), ['trusted.hako', 'user.empty']);
    // What getfattr sees (when installed), to be sure it is the kernel's attribute and not our own echo.
    if (hasGetfattr) assert.match(execFileSync('getfattr', ['-h', '-e', 'hex', '-n', 'trusted.hako', f], { encoding: 'utf8' }), /^trusted\.hako=0x000102ff003d0a$/m);

    const link = join(t.path, 'link');
    symlinkSync(f, link);
    lsetxattr(link, 'trusted.onlink', Buffer.from('l'));
    assert.deepEqual(lgetxattr(link, 'trusted.onlink'), Buffer.from('l'));
    assert.equal(lgetxattr(f, 'trusted.onlink'), null, 'the target is untouched');
    assert.equal(errnoCode(() => lsetxattr(join(t.path, 'missing'), 'user.x', Buffer.from('1'))), 'ENOENT');
    assert.equal(errnoCode(() => lsetxattr(f, 'bogus.x', Buffer.from('1'))), 'EOPNOTSUPP');
  } finally {
    t.cleanup();
  }
});

test('unpack: whiteouts, opaque dirs, and xattrs on files and on a symlink itself', { skip: skipRoot }, async () => {
  const t = tempDir('hako-native-fs-');
  try {
    const dest = join(t.path, 'l');
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    await unpackLayer(
      Readable.from([
        makeTar([
          { name: 'etc/', type: 'dir' },
          whiteout('etc/gone'),
          { name: 'var/', type: 'dir' },
          opaque('var'),
          { name: 'bin/ping', data: 'elf', mode: 0o755, xattrs: { 'security.capability': cap } },
          { name: 'lnk', type: 'symlink', linkname: 'bin/ping', xattrs: { 'trusted.l': 'on the link' } },
        ]),
      ]),
      dest,
      { mediaType: '' },
    );
    const wh = lstatSync(join(dest, 'etc/gone'));
    assert.ok(wh.isCharacterDevice() && wh.rdev === 0);
    assert.deepEqual(lgetxattr(join(dest, 'var'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.deepEqual(lgetxattr(join(dest, 'bin/ping'), 'security.capability'), cap);
    assert.deepEqual(lgetxattr(join(dest, 'lnk'), 'trusted.l'), Buffer.from('on the link'));
    assert.equal(lgetxattr(join(dest, 'bin/ping'), 'trusted.l'), null);
    assert.deepEqual(readdirSync(t.path), ['l']);
  } finally {
    t.cleanup();
  }
});

test('unpack: an xattr the filesystem refuses names the attribute and the entry, and leaves nothing', { skip: skipRoot }, async () => {
  const t = tempDir('hako-native-fs-');
  try {
    await assert.rejects(
      unpackLayer(Readable.from([makeTar([{ name: 'a/f', data: 'x', xattrs: { 'bogus.attr': 'v' } }])]), join(t.path, 'l'), { mediaType: '', digest: 'sha256:feed' }),
      (e: unknown) => {
        assert.ok(e instanceof HakoError, String(e));
        assert.equal(e.code, 'EOPNOTSUPP');
        assert.match(e.message, /^layer sha256:feed: set extended attribute bogus\.attr on "a\/f": operation not supported \(EOPNOTSUPP\)/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(t.path), []);
  } finally {
    t.cleanup();
  }
});

test('writer threads: ENOSPC on a thread names the layer and entry and leaves nothing behind', { skip: skipRoot }, async () => {
  const tmp = tempDir('hako-native-fs-');
  const mnt = join(tmp.path, 'small');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'hako-test', mnt]);
  try {
    const big = Buffer.alloc(256 * 1024, 7);
    const tar = makeTar(Array.from({ length: 8 }, (_, i) => ({ name: `d/f${i}`, data: big })));
    await assert.rejects(unpackLayer(Readable.from([tar]), join(mnt, 'layer'), { mediaType: '', digest: 'sha256:feed', writerThreads: 2, writersAfterFiles: 0 }), (e: unknown) => {
      assert.ok(e instanceof HakoError, String(e));
      assert.equal(e.code, 'ENOSPC');
      assert.match(e.message, /^layer sha256:feed: write "d\/f\d": no space left on device \(ENOSPC\)/);
      return true;
    });
    assert.deepEqual(readdirSync(mnt), []);
  } finally {
    execFileSync('umount', [mnt]);
    tmp.cleanup();
  }
});
