import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageConfig, parseManifest } from '../../src/image/manifest.js';
import { parseWwwAuthenticate } from '../../src/image/registry/www-authenticate.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches, selectPlatform } from '../../src/image/platform.js';
import { chainIdsOf } from '../../src/image/pull.js';
import { sha256, parseDigest } from '../../src/image/digest.js';
import { MediaType, sniffCompression, layerCompressionOf } from '../../src/image/media-types.js';

const d = (c: string): `sha256:${string}` => `sha256:${c.repeat(64)}`;

test('manifest: OCI and Docker schema2, with and without mediaType', () => {
  const body = { schemaVersion: 2, config: { mediaType: MediaType.OciConfig, digest: d('a'), size: 10 }, layers: [{ mediaType: MediaType.OciLayerGzip, digest: d('b'), size: 20 }] };
  const m = parseManifest(JSON.stringify(body));
  assert.equal(m.kind, 'manifest');
  assert.equal(m.mediaType, MediaType.OciManifest);
  const docker = parseManifest(JSON.stringify({ ...body, mediaType: MediaType.DockerManifest, layers: [{ mediaType: MediaType.DockerLayerGzip, digest: d('b'), size: 20 }] }));
  assert.equal(docker.mediaType, MediaType.DockerManifest);
  assert.equal(parseManifest(JSON.stringify(body), `${MediaType.DockerManifest}; charset=utf-8`).mediaType, MediaType.DockerManifest);
});

test('index and manifest list with platforms', () => {
  const idx = parseManifest(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [{ mediaType: MediaType.DockerManifest, digest: d('c'), size: 5, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] }));
  assert.equal(idx.kind, 'index');
  if (idx.kind === 'index') assert.deepEqual(idx.manifests[0]!.platform, { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(parseManifest(JSON.stringify({ schemaVersion: 2, manifests: [] })).kind, 'index');
});

test('bad manifests are refused with the reason', () => {
  assert.throws(() => parseManifest('{'), /invalid manifest \(not JSON/);
  assert.throws(() => parseManifest('[]'), /not a JSON object/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 1, name: 'x' })), /schema 1 is deprecated/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:1', size: 1 }, layers: [] })), /not sha256/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: d('a'), size: -1 }, layers: [] })), /non-negative/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: d('a'), size: 1 }, layers: [{ mediaType: 'text/plain', digest: d('b'), size: 1 }] })), /unsupported layer media type/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 2, mediaType: 'application/x-foo' })), /unsupported media type/);
});

test('image config needs diff_ids, os and architecture', () => {
  assert.throws(() => parseImageConfig('{"os":"linux","architecture":"amd64"}'), /diff_ids is missing/);
  assert.throws(() => parseImageConfig('{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":["x"]}}'), /not sha256/);
  const c = parseImageConfig(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [d('1')] } }));
  assert.deepEqual(c.rootfs.diff_ids, [d('1')]);
});

test('chain IDs follow the OCI formula', () => {
  const a = d('1');
  const b = d('2');
  assert.deepEqual(chainIdsOf([a, b]), [a, sha256(`${a} ${b}`)]);
  assert.deepEqual(chainIdsOf([]), []);
});

test('digests', () => {
  assert.equal(sha256(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.throws(() => parseDigest('sha512:abc'), /only sha256/);
  assert.throws(() => parseDigest('nope'), /expected sha256/);
});

test('compression from media type and magic bytes', () => {
  assert.equal(layerCompressionOf(MediaType.DockerLayerGzip), 'gzip');
  assert.equal(layerCompressionOf(MediaType.OciLayerZstd), 'zstd');
  assert.equal(layerCompressionOf(MediaType.OciLayer), 'none');
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(sniffCompression(Buffer.from('ustar')), 'none');
});

test('WWW-Authenticate: Bearer, Basic, several challenges, quoting', () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm="a, b", Bearer realm="http://x/t", service=svc'), [
    { scheme: 'basic', params: { realm: 'a, b' } },
    { scheme: 'bearer', params: { realm: 'http://x/t', service: 'svc' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="q\\"uote", Error="insufficient_scope"'), [{ scheme: 'bearer', params: { realm: 'q"uote', error: 'insufficient_scope' } }]);
  assert.deepEqual(parseWwwAuthenticate(['Basic realm=x', 'Bearer realm=y']).map((c) => c.scheme), ['basic', 'bearer']);
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate('Negotiate'), [{ scheme: 'negotiate', params: {} }]);
});

test('platforms: parse, normalize, match, select', () => {
  assert.equal(formatPlatform(parsePlatform('linux/x86_64')), 'linux/amd64');
  assert.equal(formatPlatform(parsePlatform('linux/aarch64')), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatform('linux/arm64/v8')), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatform('linux/arm')), 'linux/arm/v7');
  assert.equal(formatPlatform(parsePlatform('linux/armhf')), 'linux/arm/v7');
  assert.equal(formatPlatform(parsePlatform('arm64')), 'linux/arm64');
  // containerd's platforms.Parse (dockerd's), its words (lab dockerd 20.10)
  assert.throws(() => parsePlatform('linux//amd64'), { message: '"" is an invalid component of "linux//amd64": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument' });
  assert.throws(() => parsePlatform('linux/am d64'), { message: '"am d64" is an invalid component of "linux/am d64": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument' });
  assert.throws(() => parsePlatform('a/b/c/d'), { message: '"a/b/c/d": cannot parse platform specifier: invalid argument' });
  assert.throws(() => parsePlatform('bogus'), { message: '"bogus": unknown operating system or architecture: invalid argument' });
  // one part: a known OS on this host's architecture, or a known architecture on linux
  assert.deepEqual(parsePlatform('windows'), { ...hostPlatform(), os: 'windows' });
  assert.deepEqual(parsePlatform('LINUX'), hostPlatform());
  assert.equal(formatPlatform(parsePlatform('x86_64')), 'linux/amd64');
  assert.equal(formatPlatform(parsePlatform('linux/bogus')), 'linux/bogus');
  assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(!platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' }));
  assert.ok(!platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' }));
  const entries = [
    { os: 'linux', architecture: 'arm', variant: 'v6' },
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
    undefined,
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ];
  assert.equal(selectPlatform(parsePlatform('linux/amd64'), entries), 1);
  assert.equal(selectPlatform(parsePlatform('linux/arm/v7'), entries), 2);
  assert.equal(selectPlatform(parsePlatform('linux/arm/v6'), entries), 0);
  assert.equal(selectPlatform(parsePlatform('linux/arm/v8'), entries), 2, 'v8 runs v7 best');
  assert.equal(selectPlatform(parsePlatform('linux/arm64'), entries), 4);
  assert.equal(selectPlatform(parsePlatform('linux/s390x'), entries), -1);
  assert.equal(selectPlatform(parsePlatform('linux/arm/v5'), entries), -1);
});
