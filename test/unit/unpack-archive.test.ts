// Image archives: docker save and OCI-layout tarballs read as streams; rootfs import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { readImageArchive, importRootfs } from '../../src/image/archive/index.js';
import { makeTar } from '../helpers/tar.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function collect(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('docker save archive: manifest.json last, legacy <id>/layer.tar blobs streamed to the handler', async () => {
  const layer = makeTar([{ name: 'hello', data: 'world' }]);
  const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: ['sha256:' + sha(layer)] } });
  const id = sha(config);
  const archive = makeTar([
    { name: `${'a'.repeat(64)}/`, type: 'dir' },
    { name: `${'a'.repeat(64)}/layer.tar`, data: layer },
    { name: `${'a'.repeat(64)}/json`, data: '{"id":"x"}' },
    { name: `${'a'.repeat(64)}/VERSION`, data: '1.0' },
    { name: `${id}.json`, data: config },
    { name: 'repositories', data: JSON.stringify({ busybox: { latest: 'a'.repeat(64) } }) },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${id}.json`, RepoTags: ['busybox:latest'], Layers: [`${'a'.repeat(64)}/layer.tar`] }]) },
  ]);
  const got = new Map<string, Buffer>();
  const res = await readImageArchive(Readable.from([gzipSync(archive)]), {
    blob: async (b, s) => {
      got.set(b.path, await collect(s));
    },
  });
  assert.equal(res.format, 'docker-save');
  assert.deepEqual(res.dockerManifest?.[0]?.RepoTags, ['busybox:latest']);
  assert.deepEqual(res.repositories, { busybox: { latest: 'a'.repeat(64) } });
  assert.deepEqual(res.json.get(`${id}.json`), JSON.parse(config));
  assert.deepEqual([...got.keys()], [`${'a'.repeat(64)}/layer.tar`]);
  assert.ok(got.get(`${'a'.repeat(64)}/layer.tar`)!.equals(layer));
});

test('OCI layout archive: blobs carry their digests, index.json parsed; a large blob streams in order', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17, 9);
  const manifest = JSON.stringify({ schemaVersion: 2, layers: [{ digest: 'sha256:' + sha(big) }] });
  const archive = makeTar([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'blobs/', type: 'dir' },
    { name: 'blobs/sha256/', type: 'dir' },
    { name: `blobs/sha256/${sha(big)}`, data: big },
    { name: `blobs/sha256/${sha(manifest)}`, data: manifest },
    { name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ digest: 'sha256:' + sha(manifest), size: manifest.length }] }) },
  ]);
  const seen: string[] = [];
  const res = await readImageArchive(Readable.from([archive]), {
    blob: async (b, s) => {
      seen.push(b.digest!);
      const data = await collect(s);
      assert.equal('sha256:' + sha(data), b.digest);
      assert.equal(data.length, b.size);
    },
  });
  assert.equal(res.format, 'oci-layout');
  assert.equal(res.ociIndex?.manifests[0]?.digest, 'sha256:' + sha(manifest));
  assert.deepEqual(seen, ['sha256:' + sha(big), 'sha256:' + sha(manifest)]);
});

test('archives: garbage and archives without metadata are rejected; handler errors propagate', async () => {
  await assert.rejects(readImageArchive(Readable.from([Buffer.alloc(2048, 1)]), { blob: async () => undefined }), /read image archive/);
  await assert.rejects(readImageArchive(Readable.from([makeTar([{ name: 'x', data: 'y' }])]), { blob: async (_b, s) => void (await collect(s)) }), /neither manifest.json/);
  await assert.rejects(
    readImageArchive(Readable.from([makeTar([{ name: 'blobs/sha256/' + 'b'.repeat(64), data: 'y' }, { name: 'index.json', data: '{"manifests":[]}' }])]), {
      blob: async () => {
        throw new Error('store full');
      },
    }),
    /store full/,
  );
  await assert.rejects(readImageArchive(Readable.from([makeTar([{ name: '../manifest.json', data: '[]' }])]), { blob: async () => undefined }), /escapes the archive/);
});

test('importRootfs: a gzipped rootfs becomes a single-layer config with the tar digest as diffID', async () => {
  const tar = makeTar([{ name: 'bin/', type: 'dir' }, { name: 'bin/sh', data: '#!' }]);
  let stored: Buffer = Buffer.alloc(0);
  const res = await importRootfs(Readable.from([gzipSync(tar)]), {
    store: async (s) => {
      stored = await collect(s);
    },
    config: { Cmd: ['/bin/sh'] },
    created: '2024-01-01T00:00:00Z',
  });
  assert.ok(stored.equals(tar));
  assert.equal(res.diffId, 'sha256:' + sha(tar));
  assert.deepEqual((res.config.rootfs as { diff_ids: string[] }).diff_ids, [res.diffId]);
  assert.deepEqual(res.config.config, { Cmd: ['/bin/sh'] });
  assert.equal(res.config.os, 'linux');
  await assert.rejects(importRootfs(Readable.from([Buffer.from('not a tar'.repeat(100))]), { store: async (s) => void (await collect(s)) }), /import rootfs/);
});
