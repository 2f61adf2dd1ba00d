// The pure parts of save/load/import: the streaming tar writer (read back by our reader and by
// GNU tar), `--change` parsing, progress events and their docker JSON form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarStream, tarHeader } from '../../src/image/archive/tar-writer.js';
import { readImageArchive } from '../../src/image/archive/index.js';
import { applyChanges } from '../../src/image/changes.js';
import { ByteProgress, type ProgressEvent } from '../../src/image/progress.js';
import { progressEventMessage } from '../../src/api/streams.js';
import { TarReader, type TarEntry } from '../../src/image/unpack/tar-reader.js';

async function collect(s: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('tar writer: files and dirs stream out in order, read back by our reader and GNU tar; long names use the ustar prefix', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0x61);
  const longName = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
  const tar = await collect(
    tarStream([
      { name: 'blobs/', type: 'dir' },
      { name: 'blobs/sha256/x', type: 'file', size: big.length, data: () => Readable.from([big.subarray(0, 1000), big.subarray(1000)]) },
      { name: longName, type: 'file', size: 2, data: Buffer.from('hi') },
      { name: 'manifest.json', type: 'file', size: 2, data: Buffer.from('[]'), mtime: 1700000000 },
    ]),
  );
  assert.equal(tar.length % 512, 0);
  const entries: Array<[string, string, number]> = [];
  const bodies = new Map<string, number>();
  let cur = '';
  const r = new TarReader({
    entry: (e: TarEntry) => {
      entries.push([e.name, e.type, e.size]);
      cur = e.name;
      bodies.set(cur, 0);
    },
    data: (c: Buffer) => void bodies.set(cur, bodies.get(cur)! + c.length),
    end: () => undefined,
  });
  r.write(tar);
  r.finish();
  assert.deepEqual(entries, [
    ['blobs/', 'dir', 0],
    ['blobs/sha256/x', 'file', big.length],
    [longName, 'file', 2],
    ['manifest.json', 'file', 2],
  ]);
  assert.equal(bodies.get('blobs/sha256/x'), big.length);
  const dir = mkdtempSync(join(tmpdir(), 'hako-tarw-'));
  try {
    writeFileSync(join(dir, 'a.tar'), tar);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
    assert.match(listing, /^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 blobs\/$/m);
    assert.match(listing, new RegExp(`^-rw-r--r-- 0/0 +2 1970-01-01 00:00 ${longName}$`, 'm'));
    assert.match(listing, /^-rw-r--r-- 0\/0 +2 2023-11-14 \d\d:\d\d manifest\.json$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The archive reader sees the same files.
  const seen: string[] = [];
  const contents = await readImageArchive(Readable.from([tar]), { blob: async (b, s) => void seen.push(`${b.path} ${(await collect(s)).length}`) });
  assert.deepEqual(contents.dockerManifest, []);
  assert.deepEqual(seen.sort(), [`blobs/sha256/x ${big.length}`, `${longName} 2`].sort());
});

test('tar writer: a stream shorter or longer than its declared size fails the archive; names too long are refused', async () => {
  await assert.rejects(collect(tarStream([{ name: 'a', type: 'file', size: 10, data: () => Readable.from([Buffer.alloc(5)]) }])), /5 bytes of data for a declared size of 10/);
  await assert.rejects(collect(tarStream([{ name: 'a', type: 'file', size: 3, data: () => Readable.from([Buffer.alloc(5)]) }])), /more data than the declared 3 bytes/);
  assert.throws(() => tarHeader({ name: 'x'.repeat(300), type: 'file' }), /too long for a ustar header/);
  // Sizes of 8 GiB and more: GNU base-256.
  const h = tarHeader({ name: 'huge', type: 'file', size: 2 ** 33 + 5 });
  assert.equal(h[124], 0x80);
  assert.equal(h.readBigUInt64BE(128), 2n ** 33n + 5n);
});

test('--change: Dockerfile instructions applied to a config, docker’s quoting, clear errors', () => {
  const cfg: Record<string, unknown> = { Env: ['PATH=/bin', 'A=0'] };
  applyChanges(cfg, [
    'CMD echo hi',
    'ENTRYPOINT ["/init", "--"]',
    'ENV A=1 B="two words" C=\'x y\' D=a\\ b',
    'env LEGACY value with spaces',
    'EXPOSE 80 443/TCP 53/udp 8000-8001',
    'LABEL "com.example.x"="1" y=2',
    'USER 1000:1000',
    'WORKDIR /srv',
    'VOLUME ["/a", "/b"]',
    'VOLUME /c',
    'STOPSIGNAL SIGTERM',
    'ONBUILD RUN make',
    'HEALTHCHECK NONE',
  ]);
  assert.deepEqual(cfg, {
    Env: ['PATH=/bin', 'A=1', 'B=two words', 'C=x y', 'D=a b', 'LEGACY=value with spaces'],
    Cmd: ['/bin/sh', '-c', 'echo hi'],
    Entrypoint: ['/init', '--'],
    ExposedPorts: { '80/tcp': {}, '443/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} },
    Labels: { 'com.example.x': '1', y: '2' },
    User: '1000:1000',
    WorkingDir: '/srv',
    Volumes: { '/a': {}, '/b': {}, '/c': {} },
    StopSignal: 'SIGTERM',
    OnBuild: ['RUN make'],
    Healthcheck: { Test: ['NONE'] },
  });
  assert.throws(() => applyChanges({}, ['RUN make']), (e: Error) => e.message === 'run is not a valid change command');
  assert.throws(() => applyChanges({}, ['ENV']), /ENV requires at least one argument/);
  assert.throws(() => applyChanges({}, ['EXPOSE http']), /Invalid containerPort: http/);
  assert.throws(() => applyChanges({}, ['LABEL a="open']), /unexpected end of statement while looking for matching "/);
  assert.throws(() => applyChanges({}, ['LABEL novalue']), /LABEL must have two arguments/);
});

test('progress: byte counts are throttled, the last count always reported; docker JSON with progressDetail', () => {
  const seen: ProgressEvent[] = [];
  const p = new ByteProgress((e) => seen.push(e), 'abcdef012345', 'Downloading', 300, 60_000);
  p.add(100);
  p.add(100);
  p.add(100);
  p.done();
  p.done();
  assert.deepEqual(seen.map((e) => e.current), [100, 300]);
  assert.equal(seen[0]!.total, 300);
  assert.equal(typeof seen[0]!.start, 'number');
  const quiet = new ByteProgress(undefined, 'x', 'Downloading', 1);
  quiet.add(1);
  quiet.done();
  assert.deepEqual(progressEventMessage({ id: 'abcdef012345', status: 'Downloading', current: 12_300_000, total: 49_100_000, start: 1700000000 }), {
    status: 'Downloading',
    progressDetail: { current: 12_300_000, total: 49_100_000, start: 1700000000 },
    progress: `[============>${' '.repeat(38)}]   12.3MB/49.1MB`,
    id: 'abcdef012345',
  });
  assert.deepEqual(progressEventMessage({ id: 'abcdef012345', status: 'Pull complete' }), { status: 'Pull complete', progressDetail: {}, id: 'abcdef012345' });
  // Without an id, as dockerd's progress.Message: no progressDetail (docker's CLI would take it for a bar).
  assert.deepEqual(progressEventMessage({ status: 'Digest: sha256:x' }), { status: 'Digest: sha256:x' });
  assert.deepEqual(progressEventMessage({ status: 'Importing', current: 5, total: 10 }).progressDetail, { current: 5, total: 10 });
});

test('archive metadata: each file at most 16 MiB and all of them at most 64 MiB in all (many legacy <id>/json files held GBs in memory); a file named twice counts once', async () => {
  const body = Buffer.alloc(15 << 20, 0x20);
  body.write('{}');
  const entry = (name: string): Buffer => Buffer.concat([tarHeader({ name, size: body.length, type: 'file', mode: 0o644 }), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
  const hex = (i: number): string => i.toString(16).padStart(64, '0');
  async function* archive(names: string[]): AsyncGenerator<Buffer> {
    for (const n of names) yield entry(n);
    yield Buffer.alloc(1024);
  }
  const noBlobs = { blob: async () => undefined };
  await assert.rejects(readImageArchive(Readable.from(archive([0, 1, 2, 3, 4].map((i) => `${hex(i)}/json`))), noBlobs), /^.*read image archive: its metadata files .* are larger than 67108864 bytes in all/);
  // The same file five times: 15 MiB held, not 75 (then: no manifest.json).
  await assert.rejects(readImageArchive(Readable.from(archive([0, 0, 0, 0, 0].map((i) => `${hex(i)}/json`))), noBlobs), /neither manifest.json \(docker save\) nor index.json/);
});
