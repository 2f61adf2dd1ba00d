// Layer unpacking as root on the real kernel: GNU tar round trips, gzip/zstd/plain, devices,
// xattrs, whiteouts and opaque dirs mounted as overlay, ENOSPC on a small tmpfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HakoError } from '../../src/common/errors.js';
import { unpackLayer } from '../../src/image/unpack/index.js';
import { makeTar, whiteout, opaque } from '../helpers/tar.js';
import { isRoot, makeBusyboxRootfs, mountsUnder, tempDir } from '../helpers/fixtures.js';

const skipRoot = isRoot ? false : 'needs root (mknod, chown, trusted.* xattrs)';
const hasZstd = spawnSync('zstd', ['--version']).status === 0;
const hasSetfattr = spawnSync('setfattr', ['--version']).status === 0;
const LISTING = '%p %m %u %g %s %l %y %Ts\n';

function listing(dir: string): string {
  return execFileSync('find', ['.', '-printf', LISTING], { cwd: dir, encoding: 'utf8' }).split('\n').sort().join('\n');
}

function sha256sum(file: string): string {
  return 'sha256:' + execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64);
}

test('a busybox rootfs tarred by GNU tar (plain, gzip, zstd) unpacks identically; diffID = sha256sum', { skip: skipRoot }, async (t) => {
  const tmp = tempDir('hako-unpack-e2e-');
  try {
    const src = join(tmp.path, 'src');
    mkdirSync(src);
    makeBusyboxRootfs(src);
    execFileSync('mknod', [join(src, 'dev/null'), 'c', '1', '3']);
    execFileSync('mknod', [join(src, 'dev/loop9'), 'b', '7', '9']);
    execFileSync('mkfifo', [join(src, 'fifo')]);
    execFileSync('ln', [join(src, 'etc/passwd'), join(src, 'etc/passwd.hard')]);
    execFileSync('chown', ['1000:2000', join(src, 'etc/group')]);
    execFileSync('chown', ['-h', '33:33', join(src, 'bin/sh')]);
    execFileSync('chmod', ['4755', join(src, 'bin/busybox')]);
    execFileSync('chmod', ['2750', join(src, 'root')]);
    execFileSync('touch', ['-h', '-d', '2001-02-03 04:05:06', join(src, 'etc'), join(src, 'bin/sh'), join(src, 'usr')]);
    const tar = join(tmp.path, 'layer.tar');
    execFileSync('tar', ['-C', src, '-cf', tar, '.']);
    execFileSync('gzip', ['-k', tar]);
    const inputs: Array<[string, string, string]> = [
      ['plain', tar, 'application/vnd.oci.image.layer.v1.tar'],
      ['gzip', tar + '.gz', 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ];
    if (hasZstd) {
      execFileSync('zstd', ['-q', '-k', tar]);
      inputs.push(['zstd', tar + '.zst', 'application/vnd.oci.image.layer.v1.tar+zstd']);
    } else t.diagnostic('zstd not installed: zstd input not tested (apt-get install zstd)');
    const want = listing(src);
    for (const [kind, file, mediaType] of inputs) {
      const dest = join(tmp.path, 'out-' + kind);
      const res = await unpackLayer(createReadStream(file), dest, { mediaType });
      assert.equal(res.diffId, sha256sum(tar), kind);
      assert.equal(listing(dest), want, kind);
      assert.equal(readFileSync(join(dest, 'bin/busybox')).equals(readFileSync(join(src, 'bin/busybox'))), true);
    }
    // Truncated compressed blobs fail cleanly (zstd through the CLI here, gzip through zlib).
    for (const [kind, file] of inputs.slice(1)) {
      const whole = readFileSync(file);
      const dest = join(tmp.path, 'trunc-' + kind);
      await assert.rejects(unpackLayer(Readable.from([whole.subarray(0, whole.length >> 1)]), dest, { mediaType: '' }), /data is corrupt|truncated/);
      assert.equal(existsSync(dest), false);
    }
    assert.deepEqual(readdirSync(tmp.path).filter((n) => n.startsWith('.')), []);
  } finally {
    tmp.cleanup();
  }
});

test('xattrs from PAX headers (binary security.capability) are set', { skip: skipRoot || (!hasSetfattr && 'setfattr not installed (apt-get install attr)') }, async () => {
  const tmp = tempDir('hako-unpack-e2e-');
  try {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
    const tar = makeTar([
      { name: 'bin/', type: 'dir' },
      { name: 'bin/ping', data: 'elf', mode: 0o755, xattrs: { 'security.capability': cap, 'user.comment': 'a b=c\n' } },
      { name: 'odd name\twith tab', data: '', xattrs: { 'trusted.x': 'y' } },
    ]);
    const dest = join(tmp.path, 'l');
    await unpackLayer(Readable.from([tar]), dest, { mediaType: '' });
    const got = execFileSync('getfattr', ['-h', '-e', 'hex', '-n', 'security.capability', join(dest, 'bin/ping')], { encoding: 'utf8' });
    assert.match(got, new RegExp(`security.capability=0x${cap.toString('hex')}`));
    const c = execFileSync('getfattr', ['-h', '--only-values', '-n', 'user.comment', join(dest, 'bin/ping')]);
    assert.equal(c.toString(), 'a b=c\n');
    const x = execFileSync('getfattr', ['-h', '--only-values', '-n', 'trusted.x', join(dest, 'odd name\twith tab')]);
    assert.equal(x.toString(), 'y');
  } finally {
    tmp.cleanup();
  }
});

test('whiteouts and opaque dirs become overlay objects and really hide files when mounted', { skip: skipRoot || (!hasSetfattr && 'setfattr not installed (apt-get install attr)') }, async () => {
  const tmp = tempDir('hako-unpack-e2e-');
  const merged = join(tmp.path, 'merged');
  try {
    const lower = join(tmp.path, 'lower');
    const upper = join(tmp.path, 'upper');
    await unpackLayer(
      Readable.from([
        makeTar([
          { name: 'etc/', type: 'dir' },
          { name: 'etc/keep', data: 'keep' },
          { name: 'etc/gone', data: 'gone' },
          { name: 'var/', type: 'dir' },
          { name: 'var/cache/', type: 'dir' },
          { name: 'var/cache/old1', data: '1' },
          { name: 'var/cache/sub/', type: 'dir' },
          { name: 'var/cache/sub/old2', data: '2' },
          { name: 'dir-gone/', type: 'dir' },
          { name: 'dir-gone/x', data: 'x' },
          { name: 'replaced', data: 'old' },
        ]),
      ]),
      lower,
      { mediaType: '' },
    );
    await unpackLayer(
      Readable.from([
        makeTar([
          { name: 'etc/', type: 'dir' },
          { name: 'replaced-then-whited', data: 'temp' },
          whiteout('replaced-then-whited'),
          whiteout('etc/gone'),
          whiteout('dir-gone'),
          { name: 'var/', type: 'dir' },
          { name: 'var/cache/', type: 'dir' },
          opaque('var/cache'),
          { name: 'var/cache/new', data: 'new' },
          { name: 'replaced', data: 'new' },
          { name: '.wh..wh.plnk/', type: 'dir' },
        ]),
      ]),
      upper,
      { mediaType: '' },
    );
    // The overlay objects themselves.
    for (const p of ['etc/gone', 'dir-gone', 'replaced-then-whited']) {
      const st = lstatSync(join(upper, p));
      assert.ok(st.isCharacterDevice(), p);
      assert.equal(st.rdev, 0, p);
    }
    const opq = execFileSync('getfattr', ['-h', '--only-values', '-n', 'trusted.overlay.opaque', join(upper, 'var/cache')]);
    assert.equal(opq.toString(), 'y');
    assert.deepEqual(readdirSync(join(upper, 'var/cache')), ['new']);
    assert.equal(existsSync(join(upper, '.wh..wh.plnk')), false);
    // Mounted: the whiteouts hide, the opaque dir hides the lower contents.
    mkdirSync(merged);
    const work = join(tmp.path, 'work');
    const top = join(tmp.path, 'top');
    mkdirSync(work);
    mkdirSync(top);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower},upperdir=${top},workdir=${work}`, merged]);
    try {
      assert.deepEqual(readdirSync(merged).sort(), ['etc', 'replaced', 'var']);
      assert.deepEqual(readdirSync(join(merged, 'etc')), ['keep']);
      assert.deepEqual(readdirSync(join(merged, 'var/cache')), ['new']);
      assert.equal(readFileSync(join(merged, 'replaced'), 'utf8'), 'new');
    } finally {
      execFileSync('umount', [merged]);
    }
    assert.deepEqual(mountsUnder(tmp.path), []);
  } finally {
    if (mountsUnder(merged).length) spawnSync('umount', [merged]);
    tmp.cleanup();
  }
});

test('disk full: ENOSPC names the layer and entry and leaves nothing behind', { skip: skipRoot }, async () => {
  const tmp = tempDir('hako-unpack-e2e-');
  const mnt = join(tmp.path, 'small');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'hako-test', mnt]);
  try {
    const big = Buffer.alloc(256 * 1024, 7);
    const tar = makeTar(Array.from({ length: 8 }, (_, i) => ({ name: `d/f${i}`, data: big })));
    await assert.rejects(unpackLayer(Readable.from([tar]), join(mnt, 'layer'), { mediaType: '', digest: 'sha256:feed' }), (e: unknown) => {
      assert.ok(e instanceof HakoError);
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

test('special files: devices, fifos and hardlinks to them keep their numbers and owners', { skip: skipRoot }, async () => {
  const tmp = tempDir('hako-unpack-e2e-');
  try {
    const dest = join(tmp.path, 'l');
    await unpackLayer(
      Readable.from([
        makeTar([
          { name: 'dev/', type: 'dir' },
          { name: 'dev/tty', type: 'char', devmajor: 5, devminor: 0, mode: 0o666, uid: 0, gid: 5 },
          { name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
          { name: 'dev/pipe', type: 'fifo', mode: 0o600, uid: 7 },
          { name: 'dev/tty-again', type: 'hardlink', linkname: 'dev/tty' },
        ]),
      ]),
      dest,
      { mediaType: '' },
    );
    const tty = lstatSync(join(dest, 'dev/tty'));
    assert.ok(tty.isCharacterDevice());
    assert.equal(tty.rdev, (5 << 8) | 0);
    assert.equal(tty.mode & 0o7777, 0o666);
    assert.equal(tty.gid, 5);
    const sda = lstatSync(join(dest, 'dev/sda'));
    assert.ok(sda.isBlockDevice());
    assert.equal(sda.rdev, 8 << 8);
    assert.ok(lstatSync(join(dest, 'dev/pipe')).isFIFO());
    assert.equal(lstatSync(join(dest, 'dev/pipe')).uid, 7);
    assert.equal(lstatSync(join(dest, 'dev/tty-again')).ino, tty.ino);
    writeFileSync(join(tmp.path, 'ok'), '');
  } finally {
    tmp.cleanup();
  }
});
