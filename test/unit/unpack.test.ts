// Layer unpacking without root: tar parsing, name cleaning, compression, path safety.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { HakoError } from '../../src/common/errors.js';
import { unpackLayer, TarReader, cleanName, sniffCompression, compressionOfMediaType } from '../../src/image/unpack/index.js';
import type { TarEntry } from '../../src/image/unpack/index.js';
import { makeTar, type TarTestEntry } from '../helpers/tar.js';
import { tempDir } from '../helpers/fixtures.js';
import { spawnSync } from 'node:child_process';

// This file exercises the pure-JS zstd decoder (fzstd); the e2e test uses the zstd CLI.
process.env.HAKO_NO_ZSTD_BINARY = '1';
const hasZstd = spawnSync('zstd', ['--version']).status === 0;

const GZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const TAR = 'application/vnd.oci.image.layer.v1.tar';

function parse(buf: Buffer, chunk = 7): Array<TarEntry & { body: Buffer }> {
  const out: Array<TarEntry & { body: Buffer }> = [];
  let cur: Buffer[] = [];
  const r = new TarReader({
    entry: (e) => {
      cur = [];
      out.push({ ...e, body: Buffer.alloc(0) });
    },
    data: (c) => cur.push(Buffer.from(c)),
    end: () => {
      out[out.length - 1]!.body = Buffer.concat(cur);
    },
  });
  for (let i = 0; i < buf.length; i += chunk) r.write(buf.subarray(i, i + chunk));
  r.finish();
  return out;
}

/** Unpacks `entries` (as a tar, chunked to exercise the parser) into a fresh dir. */
async function unpack(entries: TarTestEntry[] | Buffer, gz = false, batchFilesAfter?: number) {
  const tar = Buffer.isBuffer(entries) ? entries : makeTar(entries);
  const blob = gz ? gzipSync(tar) : tar;
  const t = tempDir('hako-unpack-');
  const dest = join(t.path, 'layer');
  const chunks: Buffer[] = [];
  for (let i = 0; i < blob.length; i += 1000) chunks.push(blob.subarray(i, i + 1000));
  try {
    const res = await unpackLayer(Readable.from(chunks), dest, { mediaType: gz ? GZ : TAR, digest: 'sha256:abc', chown: false, batchFilesAfter });
    return { res, dest, tmp: t, tar };
  } catch (e) {
    // Nothing may be left beside dest.
    const left = readdirSync(t.path);
    t.cleanup();
    assert.deepEqual(left, [], 'a failed unpack left files behind');
    throw e;
  }
}

test('tar reader: ustar, PAX long names and binary xattrs, GNU long names, chunked input', () => {
  const long = 'a/'.repeat(80) + 'file.txt';
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00]);
  const tar = makeTar([
    { name: 'dir/', type: 'dir', mode: 0o1777, uid: 5, gid: 6, mtime: 1234 },
    { name: 'dir/file', data: 'hello', mode: 0o4755 },
    { name: long, data: 'x'.repeat(1000) },
    { name: 'g/' + 'b'.repeat(150), data: 'gnu', gnuLongName: true },
    { name: 'ping', data: 'p', xattrs: { 'security.capability': cap } },
    { name: 'ln', type: 'symlink', linkname: 'l'.repeat(200) },
    { name: 'big-ids', data: '', uid: 3000000, gid: 4000000 },
  ]);
  for (const chunk of [1, 7, 512, 100000]) {
    const es = parse(tar, chunk);
    assert.equal(es.length, 7);
    assert.equal(es[0]!.type, 'dir');
    assert.equal(es[0]!.mode, 0o1777);
    assert.equal(es[0]!.uid, 5);
    assert.equal(es[0]!.mtime, 1234);
    assert.equal(es[1]!.body.toString(), 'hello');
    assert.equal(es[1]!.mode, 0o4755);
    assert.equal(es[2]!.name, long);
    assert.equal(es[2]!.body.length, 1000);
    assert.equal(es[3]!.name, 'g/' + 'b'.repeat(150));
    assert.deepEqual(es[4]!.xattrs?.get('security.capability'), cap);
    assert.equal(es[5]!.linkname, 'l'.repeat(200));
    assert.equal(es[6]!.uid, 3000000);
    assert.equal(es[6]!.gid, 4000000);
  }
});

test('tar reader: holding entries (TarHandlers.holdEntry) and resuming gives the same entries, for any chunking', () => {
  const tar = makeTar([
    { name: 'dir/', type: 'dir' },
    { name: 'dir/file', data: 'y'.repeat(700) },
    { name: 'l1', type: 'symlink', linkname: 'a' },
    { name: 'g/' + 'b'.repeat(150), type: 'symlink', linkname: 'c', gnuLongName: true },
    { name: 'p/' + 'q'.repeat(150), data: 'pax', pax: { comment: 'x' } },
    { name: 'l2', type: 'symlink', linkname: 'b' },
  ]);
  const plain = parse(tar, 100000).map((e) => ({ ...e }));
  for (const chunk of [1, 7, 500, 512, 1024, 1536, 100000]) {
    const out: Array<{ name: string; type: string; body: string }> = [];
    const seen: string[] = [];
    let cur: Buffer[] = [];
    let asks = 0;
    const r = new TarReader({
      entry: (e) => {
        cur = [];
        out.push({ name: e.name, type: e.type, body: '' });
      },
      data: (c) => cur.push(Buffer.from(c)),
      end: () => {
        out[out.length - 1]!.body = Buffer.concat(cur).toString();
      },
      // Holds every other entry; resume() hands it over without asking again.
      holdEntry: (e) => {
        seen.push(e.name);
        return ++asks % 2 === 1;
      },
    });
    let holds = 0;
    for (let i = 0; i < tar.length; i += chunk) {
      r.write(tar.subarray(i, i + chunk));
      while (r.holding) {
        holds++;
        assert.throws(() => r.write(Buffer.alloc(0)), /while holding/);
        r.resume();
      }
    }
    r.finish();
    assert.deepEqual(
      out,
      plain.map((e) => ({ name: e.name, type: e.type, body: e.body.toString() })),
      `chunk ${chunk}`,
    );
    assert.equal(holds, 3, `chunk ${chunk}: ${holds} holds`);
    assert.deepEqual(seen, plain.map((e) => e.name), 'each entry asked about once, in order, with its long name');
  }
});

test('tar reader: holding sparse entries (old GNU and PAX 1.0, made by tar(1)) hands them over with their data', (t) => {
  const tmp = tempDir('hako-tar-hold-sparse-');
  try {
    const file = join(tmp.path, 'sparse');
    writeFileSync(file, Buffer.alloc(0));
    spawnSync('truncate', ['-s', '3M', file]);
    const fd = Buffer.from('data in the middle');
    writeFileSync(join(tmp.path, 'plain'), 'plain file');
    spawnSync('dd', [`of=${file}`, 'bs=1', 'seek=1048576', 'conv=notrunc', 'status=none'], { input: fd });
    for (const format of ['gnu', 'pax']) {
      const r = spawnSync('tar', ['--sparse', `--format=${format}`, '-C', tmp.path, '-cf', '-', 'sparse', 'plain'], { maxBuffer: 1 << 26 });
      if (r.status !== 0) {
        t.skip(`tar --sparse --format=${format} failed: ${r.stderr}`);
        return;
      }
      const tar = r.stdout as Buffer;
      const plain = parse(tar, 100000);
      assert.ok(plain[0]!.sparse, `${format}: tar made a sparse entry`);
      for (const chunk of [1, 300, 512, 4096, 1 << 20]) {
        const out: Array<{ name: string; body: string; sparse: unknown }> = [];
        let cur: Buffer[] = [];
        const rd = new TarReader({
          entry: (e) => {
            cur = [];
            out.push({ name: e.name, body: '', sparse: e.sparse });
          },
          data: (c) => cur.push(Buffer.from(c)),
          end: () => {
            out[out.length - 1]!.body = Buffer.concat(cur).toString('hex');
          },
          holdEntry: () => true,
        });
        let holds = 0;
        for (let i = 0; i < tar.length; i += chunk) {
          rd.write(tar.subarray(i, i + chunk));
          while (rd.holding) {
            holds++;
            rd.resume();
          }
        }
        rd.finish();
        assert.equal(holds, 2, `${format}, chunk ${chunk}`);
        assert.deepEqual(out, plain.map((e) => ({ name: e.name, body: e.body.toString('hex'), sparse: e.sparse })), `${format}, chunk ${chunk}`);
      }
    }
  } finally {
    tmp.cleanup();
  }
});

test('tar reader: rejects corrupt headers and truncated archives', () => {
  const tar = makeTar([{ name: 'f', data: 'x'.repeat(600) }]);
  const bad = Buffer.from(tar);
  bad[10] = 0x41; // name byte changes, checksum no longer matches
  assert.throws(() => parse(bad), /checksum/);
  assert.throws(() => parse(tar.subarray(0, 700)), /truncated/);
  assert.throws(() => parse(Buffer.from('this is not a tar archive at all'.repeat(20))), /not a tar/);
});

test('cleanName: normalises like tar and refuses to climb above the root', () => {
  const esc = (): never => {
    throw new Error('escape');
  };
  assert.deepEqual(cleanName('./a//b/./c/', esc), ['a', 'b', 'c']);
  assert.deepEqual(cleanName('/etc/passwd', esc), ['etc', 'passwd']);
  assert.deepEqual(cleanName('a/../b', esc), ['b']);
  assert.deepEqual(cleanName('./', esc), []);
  assert.throws(() => cleanName('../x', esc), /escape/);
  assert.throws(() => cleanName('a/../../x', esc), /escape/);
  assert.throws(() => cleanName('/../etc/passwd', esc), /escape/);
});

test('compression: sniffed from bytes, media types checked', () => {
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(sniffCompression(Buffer.from('abcd')), 'none');
  assert.equal(compressionOfMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip'), 'gzip');
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+zstd'), 'zstd');
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar'), 'none');
  assert.equal(compressionOfMediaType('application/vnd.oci.image.layer.v1.tar+encrypted'), 'unsupported');
});

test('unpack: files, dirs, symlinks, hardlinks, modes, mtimes, long names; diffID = sha256 of the tar', async () => {
  const long = 'deep/' + 'n'.repeat(120) + '/file';
  const { res, dest, tmp, tar } = await unpack(
    [
      { name: './', type: 'dir', mode: 0o755, mtime: 1000 },
      { name: './etc/', type: 'dir', mode: 0o750, mtime: 2000 },
      { name: './etc/passwd', data: 'root:x:0:0\n', mode: 0o644, mtime: 3000 },
      { name: './etc/shadow', type: 'hardlink', linkname: './etc/passwd' },
      { name: './bin/sh', data: '#!', mode: 0o755 },
      { name: './bin/ls', type: 'symlink', linkname: '/bin/sh' },
      { name: './abs-link', type: 'symlink', linkname: '../../../../etc/passwd' },
      { name: long, data: 'L' },
      { name: './empty', data: '' },
    ],
    true,
  );
  try {
    assert.equal(res.diffId, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
    assert.equal(res.size, tar.length);
    assert.equal(readFileSync(join(dest, 'etc/passwd'), 'utf8'), 'root:x:0:0\n');
    assert.equal(statSync(join(dest, 'etc/passwd')).ino, statSync(join(dest, 'etc/shadow')).ino);
    assert.equal(statSync(join(dest, 'etc')).mode & 0o7777, 0o750);
    assert.equal(statSync(join(dest, 'etc')).mtimeMs, 2000_000);
    assert.equal(statSync(join(dest, 'etc/passwd')).mtimeMs, 3000_000);
    assert.equal(statSync(dest).mtimeMs, 1000_000);
    assert.equal(statSync(join(dest, 'bin/sh')).mode & 0o7777, 0o755);
    assert.equal(readlinkSync(join(dest, 'bin/ls')), '/bin/sh');
    assert.equal(readlinkSync(join(dest, 'abs-link')), '../../../../etc/passwd');
    assert.equal(readFileSync(join(dest, long), 'utf8'), 'L');
    assert.equal(statSync(join(dest, 'empty')).size, 0);
    assert.deepEqual(readdirSync(tmp.path), ['layer'], 'no scratch directory left');
  } finally {
    tmp.cleanup();
  }
});

// Both ways regular files are made: one by one (a small layer) and in pool jobs from the first file on.
for (const [how, batchFilesAfter] of [['one by one', undefined], ['in pool jobs', 0]] as const) {
  test(`unpack: later entries replace earlier ones without following them (files ${how})`, async () => {
    const t = tempDir('hako-unpack-victim-');
    try {
      const victim = join(t.path, 'victim');
      mkdirSync(victim);
      const { dest, tmp } = await unpack([
        { name: 'a', type: 'symlink', linkname: victim },
        { name: 'a', data: 'file replaces the link' },
        { name: 'b', type: 'symlink', linkname: join(victim, 'x') },
        { name: 'b', type: 'dir' },
        { name: 'b/inner', data: 'in dir' },
        { name: 'c/', type: 'dir' },
        { name: 'c/old', data: 'old' },
        { name: 'c', data: 'file replaces dir' },
        { name: 'd', data: 'v1' },
        { name: 'd', data: 'v2' },
      ], false, batchFilesAfter);
      try {
        assert.equal(readFileSync(join(dest, 'a'), 'utf8'), 'file replaces the link');
        assert.ok(lstatSync(join(dest, 'b')).isDirectory());
        assert.equal(readFileSync(join(dest, 'b/inner'), 'utf8'), 'in dir');
        assert.equal(readFileSync(join(dest, 'c'), 'utf8'), 'file replaces dir');
        assert.equal(readFileSync(join(dest, 'd'), 'utf8'), 'v2');
        assert.deepEqual(readdirSync(victim), []);
      } finally {
        tmp.cleanup();
      }
    } finally {
      t.cleanup();
    }
  });

  const escapes: Array<[string, TarTestEntry[], RegExp]> = [
    ['../ name', [{ name: '../../etc/passwd', data: 'x' }], /entry "\.\.\/\.\.\/etc\/passwd" escapes the layer directory/],
    ['absolute name with ..', [{ name: '/../etc/passwd', data: 'x' }], /escapes the layer directory/],
    ['.. in the middle', [{ name: 'a/b/../../../x', data: 'x' }], /escapes the layer directory/],
    [
      'symlink to / then a file under it',
      [
        { name: 'ok', data: 'fine' },
        { name: 'link', type: 'symlink', linkname: '/' },
        { name: 'link/etc/hako-escape-test', data: 'x' },
      ],
      /escapes the layer directory through the symlink "link"/,
    ],
    [
      'symlink to .. then a file under it',
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/hako-escape-test', data: 'x' },
      ],
      /through the symlink "up"/,
    ],
    ['hardlink to ../../etc/passwd', [{ name: 'h', type: 'hardlink', linkname: '../../etc/passwd' }], /escapes the layer directory/],
    [
      'hardlink through a symlink',
      [
        { name: 'l', type: 'symlink', linkname: '/etc' },
        { name: 'h', type: 'hardlink', linkname: 'l/passwd' },
      ],
      /through the symlink "l"/,
    ],
    [
      'dir replaced by a symlink, then a write through it',
      [
        { name: 'd/', type: 'dir' },
        { name: 'd/ok', data: 'x' },
        { name: 'd', type: 'symlink', linkname: '/tmp' },
        { name: 'd/hako-escape-test', data: 'x' },
      ],
      /through the symlink "d"/,
    ],
    ['whiteout named ..', [{ name: 'a/.wh...', data: '' }], /escapes the layer directory/],
  ];

  for (const [what, entries, re] of escapes) {
    test(`unpack refuses a malicious layer: ${what}; nothing is left (files ${how})`, async () => {
      await assert.rejects(unpack(entries, false, batchFilesAfter), (e: unknown) => {
        assert.ok(e instanceof HakoError, String(e));
        assert.match(e.message, /^layer sha256:abc: /);
        assert.match(e.message, re);
        return true;
      });
      assert.equal(existsSync('/tmp/hako-escape-test'), false);
      assert.equal(existsSync('/etc/hako-escape-test'), false);
    });
  }
}

test('unpack: corrupt gzip and truncated tar fail cleanly', async () => {
  const tar = makeTar([{ name: 'f', data: 'x'.repeat(5000) }]);
  const gz = gzipSync(tar);
  const bad = Buffer.from(gz);
  bad[40] = (bad[40]! ^ 0xff) & 0xff;
  await assert.rejects(unpack(bad.subarray(0, bad.length), false), /gzip data is corrupt|checksum|corrupt/);
  await assert.rejects(unpack(gz.subarray(0, gz.length - 30), false), /corrupt|truncated|unexpected end/);
  await assert.rejects(unpack(tar.subarray(0, 2000)), /truncated/);
});

test('unpack: an empty blob and an empty tar give empty layers', async () => {
  for (const blob of [Buffer.alloc(0), Buffer.alloc(1024)]) {
    const { res, dest, tmp } = await unpack(blob);
    try {
      assert.deepEqual(readdirSync(dest), []);
      assert.equal(res.diffId, 'sha256:' + createHash('sha256').update(blob).digest('hex'));
      assert.equal(statSync(dest).mode & 0o777, 0o755);
    } finally {
      tmp.cleanup();
    }
  }
});

test('unpack: an existing non-empty destination is a conflict and is left alone', async () => {
  const t = tempDir('hako-unpack-');
  try {
    const dest = join(t.path, 'layer');
    mkdirSync(dest);
    writeFileSync(join(dest, 'keep'), 'k');
    await assert.rejects(unpackLayer(Readable.from([makeTar([{ name: 'f', data: 'x' }])]), dest, { mediaType: TAR, chown: false }), /already exists/);
    assert.deepEqual(readdirSync(t.path), ['layer']);
    assert.deepEqual(readdirSync(dest), ['keep']);
  } finally {
    t.cleanup();
  }
});

test('unpack: abort signal stops and cleans up', async () => {
  const t = tempDir('hako-unpack-');
  try {
    const ac = new AbortController();
    const tar = makeTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: 'x'.repeat(3000) })));
    async function* slow() {
      for (let i = 0; i < tar.length; i += 4096) {
        if (i === 8192) ac.abort();
        yield tar.subarray(i, i + 4096);
      }
    }
    await assert.rejects(unpackLayer(Readable.from(slow()), join(t.path, 'layer'), { mediaType: TAR, signal: ac.signal, chown: false }), /aborted/);
    assert.deepEqual(readdirSync(t.path), []);
  } finally {
    t.cleanup();
  }
});

test('unpack: zstd through fzstd (no zstd CLI), and a truncated zstd blob fails', { skip: hasZstd ? false : 'zstd CLI not installed to make test data (apt-get install zstd)' }, async () => {
  const files = Array.from({ length: 40 }, (_, i) => ({ name: `d/f${i}`, data: Buffer.alloc(70000 + i, i) }));
  const tar = makeTar(files);
  const zst = spawnSync('zstd', ['-c', '-q', '-3'], { input: tar }).stdout;
  const t = tempDir('hako-unpack-');
  try {
    const chunks: Buffer[] = [];
    for (let i = 0; i < zst.length; i += 777) chunks.push(zst.subarray(i, i + 777));
    const res = await unpackLayer(Readable.from(chunks), join(t.path, 'l'), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', chown: false });
    assert.equal(res.diffId, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
    assert.ok(readFileSync(join(t.path, 'l/d/f39')).equals(Buffer.alloc(70039, 39)));
    await assert.rejects(
      unpackLayer(Readable.from([zst.subarray(0, zst.length >> 1)]), join(t.path, 'l2'), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', chown: false }),
      /zstd data is corrupt|truncated/,
    );
    assert.deepEqual(readdirSync(t.path), ['l']);
  } finally {
    t.cleanup();
  }
});

test('unpack: the bytes decide the compression, whatever the media type says (a plain tar under a gzip type, gzip under a plain one)', async () => {
  const tar = makeTar([{ name: './etc/hostname', data: 'x\n', mode: 0o644 }]);
  for (const [blob, mediaType] of [[tar, GZ], [gzipSync(tar), TAR]] as const) {
    const t = tempDir('hako-unpack-');
    try {
      const res = await unpackLayer(Readable.from([blob]), join(t.path, 'layer'), { mediaType, chown: false });
      assert.equal(res.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
      assert.equal(readFileSync(join(t.path, 'layer', 'etc', 'hostname'), 'utf8'), 'x\n');
    } finally {
      t.cleanup();
    }
  }
});

test('unpack: runs of symlinks (created in batches on the pool): duplicates end with the last, a link replaces a file or dir, mtimes; with and without the end marker', async () => {
  const links: TarTestEntry[] = [];
  for (let i = 0; i < 300; i++) links.push({ name: `bin/l${i}`, type: 'symlink', linkname: `target-${i}`, mtime: 1_000_000 + i });
  for (const end of [true, false]) {
    const tar = makeTar(
      [
        { name: 'bin/', type: 'dir', mtime: 5 },
        { name: 'f', data: 'a file' },
        { name: 'd/', type: 'dir' },
        { name: 'd/inner', data: 'x' },
        ...links,
        { name: 'bin/l7', type: 'symlink', linkname: 'second' },
        { name: 'f', type: 'symlink', linkname: 'link replaces file' },
        { name: 'd', type: 'symlink', linkname: 'link replaces dir' },
        { name: 'bin/l7', type: 'symlink', linkname: 'third', mtime: 77 },
        { name: 'after', data: 'written after the run' },
        { name: 'bin/l8', type: 'symlink', linkname: 'last entry' },
      ],
      { end },
    );
    const { dest, tmp } = await unpack(tar);
    try {
      assert.equal(readlinkSync(join(dest, 'bin/l0')), 'target-0');
      assert.equal(readlinkSync(join(dest, 'bin/l299')), 'target-299');
      assert.equal(lstatSync(join(dest, 'bin/l123')).mtimeMs, (1_000_000 + 123) * 1000);
      assert.equal(readlinkSync(join(dest, 'bin/l7')), 'third');
      assert.equal(lstatSync(join(dest, 'bin/l7')).mtimeMs, 77_000);
      assert.equal(readlinkSync(join(dest, 'bin/l8')), 'last entry');
      assert.equal(readlinkSync(join(dest, 'f')), 'link replaces file');
      assert.equal(readlinkSync(join(dest, 'd')), 'link replaces dir');
      assert.equal(readFileSync(join(dest, 'after'), 'utf8'), 'written after the run');
      assert.equal(readdirSync(join(dest, 'bin')).length, 300);
      assert.equal(statSync(join(dest, 'bin')).mtimeMs, 5000);
    } finally {
      tmp.cleanup();
    }
  }
});

for (const [what, entries] of [
  [
    'a symlink under a link of the same run',
    [
      { name: 'l', type: 'symlink', linkname: '/tmp' },
      { name: 'l/hako-escape-test', type: 'symlink', linkname: 'x' },
    ],
  ],
  [
    'a dir replaced by a symlink, then a symlink through it in the same run',
    [
      { name: 'd/', type: 'dir' },
      { name: 'd', type: 'symlink', linkname: '/tmp' },
      { name: 'd/hako-escape-test', type: 'symlink', linkname: 'x' },
    ],
  ],
] as Array<[string, TarTestEntry[]]>) {
  test(`unpack refuses a malicious layer: ${what}; nothing is left`, async () => {
    await assert.rejects(unpack(entries), (e: unknown) => {
      assert.ok(e instanceof HakoError, String(e));
      assert.match(e.message, /^layer sha256:abc: entry ".*hako-escape-test" escapes the layer directory through the symlink "[ld]"/);
      return true;
    });
    assert.equal(existsSync('/tmp/hako-escape-test'), false);
  });
}
