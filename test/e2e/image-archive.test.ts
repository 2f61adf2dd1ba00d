// save / load / import on ImageService against a real registry: round trips, skopeo as the
// oracle in both directions (its docker-archive and oci-archive writers; its docker-archive
// reader on our archives), legacy `docker save` layouts, compressed archives and layers, and
// corrupt or truncated archives that must leave nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync, readdirSync, renameSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import dc from 'node:diagnostics_channel';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { ImageService } from '../../src/image/images.js';
import { directoryUnpacker } from '../../src/image/pull.js';
import { PULL_TRACE_CHANNEL } from '../../src/image/pull-trace.js';
import { readImageArchive } from '../../src/image/archive/index.js';
import type { ProgressEvent } from '../../src/image/progress.js';
import { formatPlatform, hostPlatform } from '../../src/image/platform.js';
import { tempDir, makeBusyboxRootfs } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, multiPlatformImage, pushLayout, hasSkopeo, tarDir, type BuiltImage } from '../helpers/images.js';
import { makeTar, type TarTestEntry } from '../helpers/tar.js';

const skip = !hasRegistry ? 'docker-registry is not installed (apt-get install docker-registry)' : false;
const skipSkopeo = skip || (!hasSkopeo ? 'skopeo is not installed (apt-get install skopeo)' : false);
const HELLO_TAR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', 'hello-world.tar');

let reg: TestRegistry;
let busybox: BuiltImage;
let layered: BuiltImage;
let work: { path: string; cleanup(): void };
const services: ImageService[] = [];

interface Svc {
  svc: ImageService;
  root: string;
  snaps: string;
}

function service(): Svc {
  const root = join(work.path, `root-${services.length}`);
  mkdirSync(root);
  const snaps = join(root, 'snapshots');
  const svc = new ImageService({ root, unpacker: directoryUnpacker(snaps), dockerConfigPath: join(root, 'config.json') });
  services.push(svc);
  return { svc, root, snaps };
}

const sha = (b: Buffer | string): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function saveTo(svc: ImageService, names: string[], file: string): Promise<Buffer> {
  await pipeline(await svc.save(names), createWriteStream(file));
  return readFileSync(file);
}

/** The store holds nothing: no image, tag, blob, partial, staged file or snapshot. */
async function assertEmpty(s: Svc): Promise<void> {
  const v = await s.svc.verify();
  assert.ok(v.ok, JSON.stringify(v));
  assert.deepEqual(await s.svc.list(), []);
  assert.deepEqual(await s.svc.content.list(), []);
  assert.deepEqual(readdirSync(s.svc.content.ingestDir), []);
  assert.deepEqual(existsSync(s.snaps) ? readdirSync(s.snaps) : [], []);
}

before(async () => {
  if (skip) return;
  work = tempDir('hako-archive-');
  reg = await startRegistry();
  busybox = busyboxImage();
  layered = layeredImage();
  await pushLayout(busybox, reg.host, 'test/busybox');
  await pushLayout(layered, reg.host, 'test/layered');
});

after(async () => {
  for (const s of services) s.close();
  await reg?.stop();
  busybox?.cleanup();
  layered?.cleanup();
  work?.cleanup();
});

test('save → load round trip: same IDs, manifests, tags and snapshots; archives are deterministic', { skip }, async () => {
  const a = service();
  const bb = `${reg.host}/test/busybox`;
  const lay = `${reg.host}/test/layered`;
  await a.svc.pull(bb);
  await a.svc.pull(lay);
  await a.svc.tag(lay, 'mine:1');
  await a.svc.tag(lay, 'mine:2');
  const file = join(work.path, 'two.tar');
  const bytes = await saveTo(a.svc, [bb, 'mine'], file);
  assert.deepEqual(await saveTo(a.svc, [bb, 'mine'], join(work.path, 'two-again.tar')), bytes, 'same images, same bytes');

  // The layout: docker ≥ 25 (blobs/sha256, index.json, manifest.json, oci-layout, repositories).
  const names: string[] = [];
  const contents = await readImageArchive(Readable.from([bytes]), {
    async blob(b, s) {
      names.push(b.path);
      for await (const _ of s) void _;
    },
  });
  const bbId = busybox.manifests[0]!.config.digest;
  const layId = layered.manifests[0]!.config.digest;
  assert.deepEqual(contents.dockerManifest!.map((e) => [e.Config, e.RepoTags]).sort(), [
    [`blobs/sha256/${bbId.slice(7)}`, [`${bb}:latest`]],
    [`blobs/sha256/${layId.slice(7)}`, ['mine:1', 'mine:2']],
  ].sort());
  assert.ok(names.every((n) => n.startsWith('blobs/sha256/')), names.join());
  const idx = contents.ociIndex!.manifests;
  assert.equal(idx.length, 3);
  assert.ok(idx.some((m) => m.digest === layered.manifests[0]!.manifest.digest && m.annotations?.['io.containerd.image.name'] === 'docker.io/library/mine:2' && m.annotations['org.opencontainers.image.ref.name'] === '2'));
  assert.deepEqual(contents.repositories?.mine, { '1': layered.manifests[0]!.layers[2]!.digest.slice(7), '2': layered.manifests[0]!.layers[2]!.digest.slice(7) });

  const b = service();
  const events: ProgressEvent[] = [];
  const r = await b.svc.load(createReadStream(file), { progress: (e) => events.push(e) });
  assert.deepEqual(r.messages.sort(), [`Loaded image: ${bb}:latest`, 'Loaded image: mine:1', 'Loaded image: mine:2'].sort());
  const list = await b.svc.list();
  assert.deepEqual(list.map((i) => i.id).sort(), [bbId, layId].sort());
  const rec = (await b.svc.inspect('mine:1')).record;
  assert.equal(rec.manifestDigest, layered.manifests[0]!.manifest.digest, 'the manifest (and so its digest) is kept');
  for (const c of rec.chainIds) assert.ok(existsSync(join(b.snaps, c.slice(7))), `snapshot ${c}`);
  assert.ok(readFileSync(join(b.snaps, rec.chainIds[2]!.slice(7), 'data/replaced'), 'utf8') === 'new\n');
  // Progress: one `Loading layer` per layer, ending at its size.
  for (const l of layered.manifests[0]!.layers) {
    const last = events.filter((e) => e.id === l.digest.slice(7, 19)).pop();
    assert.deepEqual([last?.status, last?.current, last?.total], ['Loading layer', l.size, l.size]);
  }
  assert.ok((await b.svc.verify()).ok);
  // Loading again changes nothing.
  const again = await b.svc.load(createReadStream(file));
  assert.equal(again.messages.length, 3);
  assert.equal((await b.svc.list()).length, 2);
  const v = await b.svc.verify();
  assert.ok(v.ok, JSON.stringify(v));

  // By ID: untagged, `Loaded image ID`.
  const c = service();
  await saveTo(a.svc, [layId.slice(7, 19)], join(work.path, 'byid.tar'));
  const byId = await c.svc.load(createReadStream(join(work.path, 'byid.tar')));
  assert.deepEqual(byId.messages, [`Loaded image ID: ${layId}`]);
  assert.deepEqual((await c.svc.list()).map((i) => [i.id, i.repoTags]), [[layId, []]]);
  await assert.rejects(a.svc.save(['nosuch:1']), /no such image: nosuch:1/);

  // Removing the image while its archive streams does not break the archive (blobs were opened
  // when the save began), and the removal still frees the space.
  const stream = await a.svc.save([bb]);
  await a.svc.remove(bb);
  assert.ok(!a.svc.content.has(bbId));
  const late = join(work.path, 'removed-meanwhile.tar');
  await pipeline(stream, createWriteStream(late));
  const d = service();
  assert.deepEqual((await d.svc.load(createReadStream(late))).messages, [`Loaded image: ${bb}:latest`]);
});

test("hako's archive is valid to skopeo's docker-archive reader and keeps the image ID", { skip: skipSkopeo }, async () => {
  const a = service();
  const lay = `${reg.host}/test/layered`;
  await a.svc.pull(lay);
  const file = join(work.path, 'skopeo-in.tar');
  await saveTo(a.svc, [lay], file);
  const oci = join(work.path, 'from-hako-oci');
  execFileSync('skopeo', ['copy', '--quiet', `docker-archive:${file}`, `oci:${oci}:x`], { stdio: ['ignore', 'ignore', 'pipe'] });
  assert.ok(existsSync(join(oci, 'index.json')));
  const dir = join(work.path, 'from-hako-dir');
  execFileSync('skopeo', ['copy', '--quiet', `docker-archive:${file}`, `dir:${dir}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const id = layered.manifests[0]!.config.digest;
  assert.ok(existsSync(join(dir, id.slice(7))), 'skopeo sees the config under the image ID');
  const insp = JSON.parse(execFileSync('skopeo', ['inspect', `docker-archive:${file}`], { encoding: 'utf8' })) as { RepoTags: string[]; Layers: string[] };
  assert.deepEqual(insp.Layers, layered.manifests[0]!.diffIds, 'skopeo reports the uncompressed digests');
});

test('load archives skopeo wrote from the registry: docker-archive (legacy layout, symlinked layers), oci-archive, zstd layers, a gzipped archive', { skip: skipSkopeo }, async () => {
  const src = `docker://${reg.host}/test/layered:latest`;
  const copy = (dest: string, extra: string[] = []): void => {
    execFileSync('skopeo', ['copy', '--quiet', '--src-tls-verify=false', ...extra, src, dest], { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const id = layered.manifests[0]!.config.digest;
  const da = join(work.path, 'sk-docker.tar');
  copy(`docker-archive:${da}:layered:v1`);
  const s1 = service();
  const r1 = await s1.svc.load(createReadStream(da));
  assert.deepEqual(r1.messages, ['Loaded image: layered:v1']);
  const rec = (await s1.svc.inspect('layered:v1')).record;
  assert.equal(rec.id, id);
  assert.deepEqual(rec.diffIds, layered.manifests[0]!.diffIds);
  assert.ok(rec.chainIds.every((c) => existsSync(join(s1.snaps, c.slice(7)))));
  assert.ok((await s1.svc.verify()).ok);

  // Into a store that pulled the same image (gzip layers): the pulled record and blobs stay,
  // the archive's uncompressed copies are not kept.
  const pulled = service();
  await pulled.svc.pull(`${reg.host}/test/layered`);
  assert.deepEqual((await pulled.svc.load(createReadStream(da))).messages, ['Loaded image: layered:v1']);
  assert.equal((await pulled.svc.inspect('layered:v1')).record.manifestDigest, layered.manifests[0]!.manifest.digest);
  const pv = await pulled.svc.verify();
  assert.ok(pv.ok, JSON.stringify(pv));

  // The same archive gzipped as a whole (docker load accepts that).
  const gz = join(work.path, 'sk-docker.tar.gz');
  writeFileSync(gz, gzipSync(readFileSync(da), { level: 1 }));
  const s2 = service();
  assert.deepEqual((await s2.svc.load(createReadStream(gz))).messages, ['Loaded image: layered:v1']);

  const oa = join(work.path, 'sk-oci.tar');
  copy(`oci-archive:${oa}:layered:v2`);
  const s3 = service();
  const r3 = await s3.svc.load(createReadStream(oa));
  assert.deepEqual(r3.messages, ['Loaded image: layered:v2']);
  assert.equal((await s3.svc.inspect('layered:v2')).id, id);

  // zstd layers; no name in index.json → untagged.
  const oz = join(work.path, 'sk-oci-zstd.tar');
  copy(`oci-archive:${oz}`, ['--dest-compress-format', 'zstd']);
  const s4 = service();
  const r4 = await s4.svc.load(createReadStream(oz));
  assert.equal(r4.messages.length, 1);
  assert.match(r4.messages[0]!, /^Loaded image ID: sha256:/);
  const zrec = (await s4.svc.inspect(r4.images[0]!.id)).record;
  assert.ok(zrec.layers.every((l) => l.mediaType.endsWith('+zstd')), JSON.stringify(zrec.layers));
  assert.deepEqual(zrec.diffIds, layered.manifests[0]!.diffIds);
  assert.ok(zrec.chainIds.every((c) => existsSync(join(s4.snaps, c.slice(7)))));
  assert.ok((await s4.svc.verify()).ok);
});

/** A legacy (docker < 25) archive: <v1 id>/layer.tar (the second image's shared layer a symlink), <config hex>.json. */
function legacyArchive(opts: { badDiffId?: boolean } = {}): { tar: Buffer; ids: string[] } {
  const t = tempDir('hako-legacy-');
  try {
    makeBusyboxRootfs(join(t.path, 'base'));
    const base = tarDir(join(t.path, 'base'));
    mkdirSync(join(t.path, 'top'));
    writeFileSync(join(t.path, 'top', 'hello.txt'), 'hello\n');
    const top = tarDir(join(t.path, 'top'));
    const cfg = (diffIds: string[], cmd: string): string =>
      JSON.stringify({ architecture: 'amd64', os: 'linux', created: '2020-01-01T00:00:00Z', config: { Cmd: [cmd] }, rootfs: { type: 'layers', diff_ids: diffIds }, history: diffIds.map(() => ({ created_by: 'x' })) });
    const c1 = cfg([sha(base)], 'sh');
    const c2 = cfg([sha(base), opts.badDiffId ? sha('not this') : sha(top)], 'cat');
    const [id1, id2] = [sha(c1).slice(7), sha(c2).slice(7)];
    const l1 = 'a'.repeat(64);
    const l2 = 'b'.repeat(64);
    const l3 = 'c'.repeat(64);
    const tar = makeTar([
      { name: `${l1}/`, type: 'dir' },
      { name: `${l1}/VERSION`, data: '1.0' },
      { name: `${l1}/json`, data: '{}' },
      { name: `${l1}/layer.tar`, data: base },
      { name: `${l2}/`, type: 'dir' },
      { name: `${l2}/layer.tar`, type: 'symlink', linkname: `../${l1}/layer.tar` },
      { name: `${l3}/`, type: 'dir' },
      { name: `${l3}/layer.tar`, data: top },
      { name: `${id1}.json`, data: c1 },
      { name: `${id2}.json`, data: c2 },
      {
        name: 'manifest.json',
        data: JSON.stringify([
          { Config: `${id1}.json`, RepoTags: ['legacy/one:1'], Layers: [`${l1}/layer.tar`] },
          { Config: `${id2}.json`, RepoTags: ['legacy/two:1', 'localhost:5000/legacy/two:x'], Layers: [`${l2}/layer.tar`, `${l3}/layer.tar`] },
        ]),
      },
      { name: 'repositories', data: JSON.stringify({ 'legacy/one': { '1': l1 } }) },
    ]);
    return { tar, ids: [`sha256:${id1}`, `sha256:${id2}`] };
  } finally {
    t.cleanup();
  }
}

test('legacy docker save layout: per-layer dirs, a layer shared through a symlink, <config>.json; the hello-world fixture', { skip }, async () => {
  const { tar, ids } = legacyArchive();
  const s = service();
  const r = await s.svc.load(Readable.from([tar]));
  assert.deepEqual(r.messages, ['Loaded image: legacy/one:1', 'Loaded image: legacy/two:1', 'Loaded image: localhost:5000/legacy/two:x']);
  assert.deepEqual((await s.svc.list()).map((i) => i.id).sort(), [...ids].sort());
  const two = (await s.svc.inspect('legacy/two:1')).record;
  assert.equal(two.manifestMediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.ok(two.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar'));
  assert.equal(readFileSync(join(s.snaps, two.chainIds[1]!.slice(7), 'hello.txt'), 'utf8'), 'hello\n');
  assert.ok((await s.svc.verify()).ok);
  // Saved again by hako, and loaded into another store: the same IDs.
  const out = join(work.path, 'legacy-resaved.tar');
  await saveTo(s.svc, ['legacy/two:1', 'legacy/one'], out);
  const s2 = service();
  assert.deepEqual((await s2.svc.load(createReadStream(out))).images.map((i) => i.id).sort(), [...ids].sort());

  if (existsSync(HELLO_TAR)) {
    const h = service();
    assert.deepEqual((await h.svc.load(createReadStream(HELLO_TAR))).messages, ['Loaded image: hello-world:latest']);
    assert.deepEqual((await h.svc.inspect('hello-world')).config.config?.Cmd, ['/hello']);
  }
});

test('corrupt, truncated and inconsistent archives: clear errors, nothing left behind', { skip }, async () => {
  const a = service();
  const lay = `${reg.host}/test/layered`;
  await a.svc.pull(lay);
  const good = await saveTo(a.svc, [lay], join(work.path, 'good.tar'));
  const layer = layered.manifests[0]!.layers[0]!;
  const at = good.indexOf(readFileSync(join(layered.dir, 'blobs/sha256', layer.digest.slice(7))).subarray(0, 64));
  assert.ok(at > 0);

  const cases: Array<[string, Buffer, RegExp]> = [];
  const flipped = Buffer.from(good);
  flipped[at + 1000] = flipped[at + 1000]! ^ 0xff;
  cases.push(['a flipped byte in a layer', flipped, new RegExp(`digest mismatch for archive entry blobs/sha256/${layer.digest.slice(7)}`)]);
  cases.push(['truncated in a layer', good.subarray(0, at + 5000), /unexpected end of tar archive: the archive is truncated/]);
  cases.push(['garbage', Buffer.alloc(4096, 7), /not a tar archive|bad header/]);
  cases.push(['no metadata', makeTar([{ name: 'x', data: 'y' }]), /neither manifest.json .* nor index.json/]);
  cases.push(['a layer that is not in the archive', makeTar([{ name: 'manifest.json', data: JSON.stringify([{ Config: 'blobs/sha256/' + 'e'.repeat(64), RepoTags: ['x:1'], Layers: [] }]) }]), /is named in the archive's manifest but is not in the archive/]);
  cases.push(['a config whose diff IDs do not match its layers', legacyArchive({ badDiffId: true }).tar, /diff ID mismatch for layer sha256:[0-9a-f]+: the image config says/]);
  const emptyConfig = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  cases.push(['a bad tag', makeTar([{ name: 'c.json', data: emptyConfig }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['UPPER:case'], Layers: [] }]) }]), /invalid tag "UPPER:case"/]);
  cases.push(['a config that is not an image config', makeTar([{ name: 'c.json', data: '{}' }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: [] }]) }]), /invalid image config/]);
  // A layer with an entry outside its directory: the unpacker's words, named once by the layer.
  const evil = makeTar([{ name: '../evil', data: 'x' }]);
  const evilDigest = sha(evil);
  const evilConfig = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [evilDigest] } });
  cases.push(['a layer escaping its directory', makeTar([{ name: 'c.json', data: evilConfig }, { name: 'l.tar', data: evil }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['evil:1'], Layers: ['l.tar'] }]) }]), new RegExp(`load: layer ${evilDigest}: entry "\\.\\./evil" escapes the layer directory`)]);
  for (const [what, bytes, re] of cases) {
    const s = service();
    await assert.rejects(s.svc.load(Readable.from([bytes])), re, what);
    await assertEmpty(s);
    // Also gzipped: the same error, still nothing left.
    await assert.rejects(s.svc.load(Readable.from([gzipSync(bytes)])), re, `${what} (gzipped)`);
    await assertEmpty(s);
  }
});

test('hostile archives: manifest.json naming ../ or absolute paths, links out of the archive or in a loop, odd repositories, an index naming missing blobs: refused, nothing read outside, nothing left', { skip }, async () => {
  const layer = makeTar([{ name: 'f', data: 'x' }]);
  const config = JSON.stringify({ architecture: hostArch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } });
  const manifest = (c: string, l: string, tags: unknown = ['x:1']): TarTestEntry => ({ name: 'manifest.json', data: JSON.stringify([{ Config: c, RepoTags: tags, Layers: [l] }]) });
  const cases: Array<[string, Buffer, RegExp]> = [
    ['Config ../', makeTar([{ name: 'c.json', data: config }, { name: 'l.tar', data: layer }, manifest('../c.json', 'l.tar')]), /config \.\.\/c\.json is named in the archive's manifest but is not in the archive/],
    ['Config absolute, a host file', makeTar([{ name: 'l.tar', data: layer }, manifest('/etc/passwd', 'l.tar')]), /config \/?etc\/passwd is named in the archive's manifest but is not in the archive/],
    ['Layers ../../', makeTar([{ name: 'c.json', data: config }, manifest('c.json', '../../etc/passwd')]), /layer \.\.\/\.\.\/etc\/passwd is named in the archive's manifest but is not in the archive/],
    ['a symlinked layer pointing out of the archive', makeTar([{ name: 'c.json', data: config }, { name: 'l.tar', type: 'symlink', linkname: '../../../etc/passwd' }, manifest('c.json', 'l.tar')]), /link "l\.tar" → "\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the archive/],
    ['a symlinked config, absolute', makeTar([{ name: 'c.json', type: 'symlink', linkname: '/etc/passwd' }, { name: 'l.tar', data: layer }, manifest('c.json', 'l.tar')]), /config c\.json is named in the archive's manifest but is not in the archive|points outside/],
    ['links in a loop', makeTar([{ name: 'c.json', data: config }, { name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, manifest('c.json', 'a')]), /layer a: too many levels of links/],
    ['RepoTags not strings', makeTar([{ name: 'c.json', data: config }, { name: 'l.tar', data: layer }, manifest('c.json', 'l.tar', [{ x: 1 }])]), /invalid tag|RepoTags/],
    ['an index naming a missing blob', makeTar([{ name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', data: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'a'.repeat(64), size: 10 }] }) }]), /sha256:a{64}|no image|not in the archive/],
  ];
  const deep = JSON.stringify({ architecture: hostArch, os: 'linux', rootfs: { type: 'layers', diff_ids: Array(126).fill(sha(layer)) } });
  cases.push(['126 layers (dockerd: max depth exceeded)', makeTar([{ name: 'c.json', data: deep }, { name: 'l.tar', data: layer }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['x:1'], Layers: Array(126).fill('l.tar') }]) }]), /max depth exceeded: the image has 126 layers, at most 125 are supported/]);
  for (const [what, bytes, re] of cases) {
    const s = service();
    await assert.rejects(s.svc.load(Readable.from([bytes])), re, what);
    await assertEmpty(s);
  }
  // A repositories file with odd names beside a good manifest.json: the manifest's tags count.
  const s = service();
  const odd = makeTar([{ name: 'c.json', data: config }, { name: 'l.tar', data: layer }, { name: 'repositories', data: JSON.stringify({ '../../x': { '$(id)': 'e'.repeat(64) }, 'UPPER': { latest: 'nope' } }) }, manifest('c.json', 'l.tar')]);
  const r = await s.svc.load(Readable.from([odd])).catch((e: Error) => e);
  if (r instanceof Error) {
    assert.match(r.message, /repositories|invalid/, r.message);
    await assertEmpty(s);
  } else {
    assert.deepEqual(r.messages, ['Loaded image: x:1']);
  }
});

test('a gzip bomb layer (64 KiB unpacking to 64 MiB) loaded into a store on a 16 MiB filesystem: no space left on device, nothing of it left', { skip: skip || (process.getuid?.() !== 0 && 'needs root to mount a tmpfs') }, async () => {
  const t = tempDir('hako-bomb-');
  const mnt = join(t.path, 'root');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
  const snaps = join(mnt, 'snapshots');
  const svc = new ImageService({ root: mnt, unpacker: directoryUnpacker(snaps), dockerConfigPath: join(mnt, 'config.json') });
  try {
    // The tar streamed into gzip: 64 MiB of zeros in one file.
    const big = 64 << 20;
    const tarHead = makeTar([{ name: 'zeros', data: Buffer.alloc(0) }], { end: false }).subarray(0, 512);
    const head = Buffer.from(tarHead);
    head.write((big).toString(8).padStart(11, '0') + '\0', 124, 12, 'latin1');
    head.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of head) sum += b;
    head.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    const { createGzip } = await import('node:zlib');
    const gz = createGzip();
    const chunks: Buffer[] = [];
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r) => gz.on('end', r));
    const hash = createHash('sha256');
    const put = (b: Buffer): void => {
      hash.update(b);
      gz.write(b);
    };
    put(head);
    const mb = Buffer.alloc(1 << 20);
    for (let i = 0; i < 64; i++) put(mb);
    put(Buffer.alloc(1024));
    gz.end();
    await done;
    const layer = Buffer.concat(chunks);
    assert.ok(layer.length < 256 << 10, `${layer.length} bytes compressed`);
    const diffId = 'sha256:' + hash.digest('hex');
    const config = JSON.stringify({ architecture: hostArch, os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } });
    const archive = makeTar([{ name: 'c.json', data: config }, { name: 'l.tar.gz', data: layer }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['bomb:1'], Layers: ['l.tar.gz'] }]) }]);
    await assert.rejects(svc.load(Readable.from([archive])), /no space left on device|ENOSPC/);
    assert.deepEqual(await svc.list(), []);
    assert.deepEqual(await svc.content.list(), []);
    assert.deepEqual(readdirSync(svc.content.ingestDir), []);
    assert.deepEqual(existsSync(snaps) ? readdirSync(snaps) : [], []);
    // The space is free again: df's used blocks are what the empty store takes.
    const used = Number(execFileSync('df', ['--output=used', '-B1', mnt]).toString().split('\n')[1]);
    assert.ok(used < 1 << 20, `${used} bytes still used`);
  } finally {
    svc.close();
    execFileSync('umount', [mnt]);
    t.cleanup();
  }
});

test('import: a rootfs tar becomes a one-layer image with --change and --message; a broken tar leaves nothing', { skip }, async () => {
  const s = service();
  const t = tempDir('hako-rootfs-');
  try {
    makeBusyboxRootfs(t.path);
    const tar = tarDir(t.path);
    const r = await s.svc.importImage(Readable.from([gzipSync(tar)]), {
      reference: 'imported/busybox:v1',
      changes: ['CMD ["/bin/sh", "-c", "echo hi"]', 'ENV A=1 B="two words"', 'ENV C 3 4', 'EXPOSE 80 53/udp', 'USER nobody', 'WORKDIR /tmp', 'LABEL a=b "c d"=e', 'VOLUME /data', 'STOPSIGNAL SIGINT', 'ENTRYPOINT ["/bin/busybox"]'],
      message: 'from a test',
    });
    assert.deepEqual(r.tags, ['imported/busybox:v1']);
    const i = await s.svc.inspect('imported/busybox:v1');
    assert.equal(i.id, r.id);
    assert.deepEqual(i.config.config, {
      Cmd: ['/bin/sh', '-c', 'echo hi'],
      Env: ['A=1', 'B=two words', 'C=3 4'],
      ExposedPorts: { '80/tcp': {}, '53/udp': {} },
      User: 'nobody',
      WorkingDir: '/tmp',
      Labels: { a: 'b', 'c d': 'e' },
      Volumes: { '/data': {} },
      StopSignal: 'SIGINT',
      Entrypoint: ['/bin/busybox'],
    });
    assert.equal(i.config.comment, 'from a test');
    assert.deepEqual(i.config.rootfs.diff_ids, [sha(tar)]);
    assert.deepEqual(i.record.layers.map((l) => [l.digest, l.size, l.mediaType]), [[sha(tar), tar.length, 'application/vnd.oci.image.layer.v1.tar']]);
    assert.ok(existsSync(join(s.snaps, sha(tar).slice(7), 'bin/busybox')));
    assert.deepEqual((await s.svc.history(r.id)).map((h) => [h.comment, h.createdBy]), [['from a test', '']]);
    // Defaults: `Imported from -`, untagged.
    const plain = await s.svc.importImage(Readable.from([tar]));
    assert.deepEqual(plain.tags, []);
    assert.equal((await s.svc.inspect(plain.id)).config.comment, 'Imported from -');
    assert.ok((await s.svc.verify()).ok);
  } finally {
    t.cleanup();
  }
  const e = service();
  await assert.rejects(e.svc.importImage(Readable.from([Buffer.alloc(3000, 1)])), /import rootfs: not a tar archive|bad header/);
  await assert.rejects(e.svc.importImage(Readable.from([makeTar([{ name: 'a', data: 'x'.repeat(5000) }]).subarray(0, 2048)])), /unexpected end of tar archive: the tar is truncated/);
  await assert.rejects(e.svc.importImage(Readable.from([makeTar([])]), { changes: ['RUN x'] }), /run is not a valid change command/);
  await assert.rejects(e.svc.importImage(Readable.from([makeTar([])]), { reference: 'x@sha256:' + 'a'.repeat(64) }), /has a digest/);
  await assertEmpty(e);
});

const hostArch = hostPlatform().architecture;

/** A docker-save archive of one image whose layers are these tars (uncompressed), tagged `tag`. */
function saveArchiveOf(layers: Buffer[], tag: string, createdBy: string): Buffer {
  const d = tempDir('hako-save-');
  try {
    const diffIds = layers.map((l) => sha(l));
    const config = Buffer.from(JSON.stringify({ architecture: hostArch, os: 'linux', created: '2026-01-01T00:00:00Z', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds }, history: layers.map(() => ({ created_by: createdBy })) }));
    for (const [i, l] of layers.entries()) {
      mkdirSync(join(d.path, diffIds[i]!.slice(7)));
      writeFileSync(join(d.path, diffIds[i]!.slice(7), 'layer.tar'), l);
    }
    writeFileSync(join(d.path, `${sha(config).slice(7)}.json`), config);
    writeFileSync(join(d.path, 'manifest.json'), JSON.stringify([{ Config: `${sha(config).slice(7)}.json`, RepoTags: [tag], Layers: diffIds.map((x) => `${x.slice(7)}/layer.tar`) }]));
    return execFileSync('tar', ['-C', d.path, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  } finally {
    d.cleanup();
  }
}

/** An OCI layout archive (blobs named by digest) of one image of these layers, named `name`. */
function ociArchiveOf(layers: Buffer[], name: string, createdBy: string): Buffer {
  const d = tempDir('hako-oci-');
  try {
    const blob = (b: Buffer): { digest: string; size: number } => {
      mkdirSync(join(d.path, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(join(d.path, 'blobs', 'sha256', sha(b).slice(7)), b);
      return { digest: sha(b), size: b.length };
    };
    const config = Buffer.from(JSON.stringify({ architecture: hostArch, os: 'linux', created: '2026-01-01T00:00:00Z', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha(l)) }, history: layers.map(() => ({ created_by: createdBy })) }));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(config) }, layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...blob(l) })) }));
    writeFileSync(join(d.path, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(d.path, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...blob(manifest), annotations: { 'io.containerd.image.name': name } }] }));
    return execFileSync('tar', ['-C', d.path, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  } finally {
    d.cleanup();
  }
}

test('a load that finds a layer (or an OCI layout\'s blob) already here holds it until its record names it: an rmi of the image that had it, meanwhile, leaves it', { skip }, async () => {
  const root = join(work.path, 'root-hold');
  mkdirSync(root);
  const plain = directoryUnpacker(join(root, 'snapshots'));
  // The load's second layer waits in its unpack until the rmi is done (gate(): a new wait).
  let slowChain: string | undefined;
  let entered!: () => void;
  let go: () => void = () => undefined;
  let resume: Promise<void> = Promise.resolve();
  const gate = (): Promise<void> => {
    resume = new Promise<void>((r) => (go = r));
    return new Promise<void>((r) => (entered = r));
  };
  const svc = new ImageService({
    root,
    dockerConfigPath: join(root, 'config.json'),
    unpacker: {
      ...plain,
      async unpack(chainId, input, layer, signal) {
        if (chainId === slowChain) {
          entered();
          await resume;
        }
        return plain.unpack(chainId, input, layer, signal);
      },
    },
  });
  services.push(svc);
  const t = tempDir('hako-rootfs-');
  try {
    makeBusyboxRootfs(t.path);
    const shared = tarDir(t.path);
    const more = makeTar([{ name: 'more', data: 'more\n' }]);
    const chain0 = sha(shared);
    slowChain = sha(`${chain0} ${sha(more)}`);
    await svc.load(Readable.from([saveArchiveOf([shared], 'hold/a:1', 'a')]));
    assert.ok(plain.has(chain0 as never));
    const inSlow = gate();
    const loading = svc.load(Readable.from([saveArchiveOf([shared, more], 'hold/b:1', 'b')]));
    await inSlow; // its first layer found present, its second being unpacked
    await svc.remove('hold/a:1');
    go();
    await loading;
    const rec = await svc.resolve('hold/b:1');
    assert.deepEqual(rec.chainIds.filter((c) => !plain.has(c)), [], 'every layer the loaded image names is there');
    // Its layers go with it (nothing held any more).
    await svc.remove('hold/b:1');
    assert.deepEqual(readdirSync(join(root, 'snapshots')), []);
    // An OCI layout names its blobs by digest: one already stored is not staged again, and is
    // held as well (the register failed: "layer … is not in the content store").
    await svc.load(Readable.from([ociArchiveOf([shared], 'docker.io/hold/a:2', 'a')]));
    assert.ok(svc.content.has(chain0 as never));
    const inSlow2 = gate();
    const loading2 = svc.load(Readable.from([ociArchiveOf([shared, more], 'docker.io/hold/b:2', 'b')]));
    await inSlow2;
    await svc.remove('hold/a:2');
    go();
    await loading2;
    const rec2 = await svc.resolve('hold/b:2');
    assert.deepEqual(rec2.chainIds.filter((c) => !plain.has(c)), [], 'every layer the loaded image names is there');
    assert.deepEqual(rec2.layers.map((l) => l.digest).filter((x) => !svc.content.has(x)), [], 'every blob the loaded image names is there');
    assert.ok((await svc.verify()).ok);
  } finally {
    go();
    t.cleanup();
  }
});


test('a load that fails at its registration (its record or its tag cannot be written) removes at once what it stored, but a blob an in-flight pull claims', { skip }, async () => {
  const s = service();
  const layer = makeTar([{ name: 'regfail', data: 'regfail\n' }]);
  let claimed: (() => void) | undefined;
  let claimLayer = false;
  // Where the registration fails: the image record's write (its directory replaced by a file once
  // the staged blobs are in the store), or the reference table's (replaced by a directory once
  // the record is written); as a full disk or an I/O error would. With claimLayer, the layer is
  // claimed there first, as a pull of an image with that layer would.
  let at: { mark: string; path: string; dir: boolean } | undefined;
  let blocked: typeof at;
  const onMark = (m: unknown): void => {
    if (!at || m !== at.mark || blocked) return;
    blocked = at;
    if (claimLayer) claimed = s.svc.content.claim([sha(layer) as never]);
    if (existsSync(at.path)) renameSync(at.path, `${at.path}.away`);
    if (at.dir) mkdirSync(at.path);
    else writeFileSync(at.path, '');
  };
  const unblock = (): void => {
    if (!blocked) return;
    rmSync(blocked.path, { recursive: true, force: true });
    if (existsSync(`${blocked.path}.away`)) renameSync(`${blocked.path}.away`, blocked.path);
    blocked = undefined;
  };
  dc.subscribe(PULL_TRACE_CHANNEL, onMark);
  try {
    const archives = [['docker save', saveArchiveOf([layer], 'regfail/a:1', 'regfail')], ['OCI layout', ociArchiveOf([layer], 'docker.io/regfail/a:1', 'regfail')]] as const;
    const points = [
      { what: 'record', mark: 'register.blobs-committed', path: join(s.root, 'image', 'images'), dir: false },
      { what: 'tag', mark: 'register.recorded', path: join(s.root, 'image', 'refs.json'), dir: true },
    ];
    for (const [kind, archive] of archives) {
      for (const point of points) {
        for (const claim of [false, true]) {
          const round = `${kind}, ${point.what} fails${claim ? ', layer claimed' : ''}`;
          claimLayer = claim;
          at = point;
          await assert.rejects(s.svc.load(Readable.from([archive])), /write \S+\/image\/(images\/[0-9a-f]{64}\.json|refs\.json): /, round);
          at = undefined;
          unblock();
          // Nothing of it is left: no blob (but the claimed layer), staging dir, record, tag or snapshot.
          assert.deepEqual(await s.svc.content.list(), claim ? [sha(layer)] : [], `${round}: the blobs it stored are gone`);
          assert.deepEqual(readdirSync(s.svc.content.ingestDir), [], round);
          assert.deepEqual(await s.svc.meta.listImages(), [], `${round}: no record`);
          assert.deepEqual(s.svc.meta.readRefs(), { tags: {}, digests: {} }, round);
          assert.deepEqual(existsSync(s.snaps) ? readdirSync(s.snaps) : [], [], `${round}: no snapshot`);
          claimed?.();
          claimed = undefined;
          // The same archive loads afterwards (the claimed layer found present) and goes with its rmi.
          await s.svc.load(Readable.from([archive]));
          await s.svc.remove('regfail/a:1');
          await assertEmpty(s);
        }
      }
    }
  } finally {
    dc.unsubscribe(PULL_TRACE_CHANNEL, onMark);
    at = undefined;
    unblock();
    claimed?.();
  }
});

test('an index.json whose entry is a multi-platform index (docker 28 with the containerd store, OCI tools): the host platform among those in the archive', { skip: skip || (!['amd64', 'arm64'].includes(hostArch) && `the test image has amd64 and arm64, not ${hostArch}`) }, async () => {
  const multi = multiPlatformImage();
  try {
    // `amd` is this host's platform, `arm` the other one.
    const [amd, arm] = (hostArch === 'amd64' ? multi.manifests : [...multi.manifests].reverse()) as [typeof multi.manifests[0], typeof multi.manifests[0]];
    const blob = (d: string): Buffer => readFileSync(join(multi.dir, 'blobs', 'sha256', d.slice(7)));
    const entries = (m: typeof amd) => [m.manifest, m.config, ...m.layers].map((b) => ({ name: `blobs/sha256/${b.digest.slice(7)}`, data: blob(b.digest) }));
    const index = { schemaVersion: 2, manifests: [{ mediaType: multi.top.mediaType, digest: multi.top.digest, size: multi.top.size, annotations: { 'io.containerd.image.name': 'docker.io/library/multi:1', 'org.opencontainers.image.ref.name': '1' } }] };
    const top = { name: `blobs/sha256/${multi.top.digest.slice(7)}`, data: blob(multi.top.digest) };
    const dockerManifest = [{ Config: `blobs/sha256/${amd.config.digest.slice(7)}`, RepoTags: ['multi:1'], Layers: amd.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }];
    // With manifest.json (docker's archive): only this platform's blobs are there.
    const withManifest = makeTar([top, ...entries(amd), { name: 'index.json', data: JSON.stringify(index) }, { name: 'manifest.json', data: JSON.stringify(dockerManifest) }, { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }]);
    const s1 = service();
    assert.deepEqual((await s1.svc.load(Readable.from([withManifest]))).messages, ['Loaded image: multi:1']);
    assert.equal((await s1.svc.inspect('multi:1')).record.manifestDigest, amd.manifest.digest, 'the platform manifest is kept');
    // A pure OCI layout with both platforms: the host's is chosen.
    const both = makeTar([top, ...entries(amd), ...entries(arm), { name: 'index.json', data: JSON.stringify(index) }, { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }]);
    const s2 = service();
    await s2.svc.load(Readable.from([both]));
    assert.equal((await s2.svc.inspect('multi:1')).id, amd.config.digest);
    // Only another platform: that one (docker ≥ 25 with the containerd store loads it too).
    const armOnly = makeTar([top, ...entries(arm), { name: 'index.json', data: JSON.stringify(index) }]);
    const s3 = service();
    await s3.svc.load(Readable.from([armOnly]));
    assert.deepEqual([(await s3.svc.inspect('multi:1')).id, (await s3.svc.inspect('multi:1')).record.indexDigest], [arm.config.digest, multi.top.digest]);
    // The entry names a platform the archive lacks: a clear error, nothing left.
    const askArm = { ...index, manifests: [{ ...index.manifests[0]!, platform: arm.platform }] };
    const s4 = service();
    await assert.rejects(s4.svc.load(Readable.from([makeTar([top, ...entries(amd), { name: 'index.json', data: JSON.stringify(askArm) }])])), new RegExp(`has no manifest for ${formatPlatform(arm.platform)} in the archive \\(it has: ${formatPlatform(amd.platform)}\\)`));
    await assertEmpty(s4);
  } finally {
    multi.cleanup();
  }
});

test('save of two platforms of one index (two tags) in one archive: both entries name the index, and on load both keep it', { skip: skip || (!['amd64', 'arm64'].includes(hostArch) && `the test image has amd64 and arm64, not ${hostArch}`) }, async () => {
  const multi = multiPlatformImage();
  try {
    await pushLayout(multi, reg.host, 'test/multi2');
    const name = `${reg.host}/test/multi2`;
    const other = hostArch === 'amd64' ? 'linux/arm64/v8' : 'linux/amd64';
    const a = service();
    const host = await a.svc.pull(`${name}:latest`);
    await a.svc.tag(`${name}:latest`, `${name}:host`);
    const oth = await a.svc.pull(`${name}:latest`, { platform: other });
    await a.svc.tag(`${name}:latest`, `${name}:other`);
    await a.svc.remove(`${name}:latest`);
    assert.notEqual(host.id, oth.id);
    const file = join(work.path, 'multi-two.tar');
    const bytes = await saveTo(a.svc, [`${name}:host`, `${name}:other`], file);
    const contents = await readImageArchive(Readable.from([bytes]), {
      async blob(_b, st) {
        for await (const _ of st) void _;
      },
    });
    assert.deepEqual(
      contents.ociIndex!.manifests.map((m) => [m.digest, m.annotations?.['io.containerd.image.name']]),
      [[multi.top.digest, `${name}:host`], [multi.top.digest, `${name}:other`]],
    );
    const b = service();
    assert.deepEqual((await b.svc.load(createReadStream(file))).messages.sort(), [`Loaded image: ${name}:host`, `Loaded image: ${name}:other`]);
    for (const [tag, pulled] of [['host', host], ['other', oth]] as const) {
      const insp = await b.svc.inspect(`${name}:${tag}`);
      assert.deepEqual([insp.id, insp.record.manifestDigest, insp.record.indexDigest], [pulled.id, pulled.manifestDigest, multi.top.digest], `${tag} keeps the index`);
    }
    assert.ok((await b.svc.verify()).ok);
    // Saved again from the loaded store: the same archive.
    assert.deepEqual(await saveTo(b.svc, [`${name}:host`, `${name}:other`], join(work.path, 'multi-two-again.tar')), bytes);
    // Without manifest.json (an OCI layout only): each index.json entry carries the platform
    // saved for its name, so both names come back as they were.
    const dir = join(work.path, 'multi-two-oci');
    mkdirSync(dir);
    execFileSync('tar', ['-C', dir, '-xf', file]);
    rmSync(join(dir, 'manifest.json'));
    rmSync(join(dir, 'repositories'), { force: true });
    const ociOnly = join(work.path, 'multi-two-oci.tar');
    execFileSync('tar', ['-C', dir, '-cf', ociOnly, '.']);
    const c = service();
    assert.deepEqual((await c.svc.load(createReadStream(ociOnly))).messages.sort(), [`Loaded image: ${name}:host`, `Loaded image: ${name}:other`]);
    for (const [tag, pulled] of [['host', host], ['other', oth]] as const) {
      const insp = await c.svc.inspect(`${name}:${tag}`);
      assert.deepEqual([insp.id, insp.record.manifestDigest, insp.record.indexDigest], [pulled.id, pulled.manifestDigest, multi.top.digest], `${tag} from the OCI layout`);
    }
    // Entries without a platform (another tool's layout): a name means the index, resolved for
    // this host as docker ≥ 25's containerd store does; both names are this platform's image.
    const idx = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<Record<string, unknown>> };
    for (const m of idx.manifests) delete m.platform;
    writeFileSync(join(dir, 'index.json'), JSON.stringify(idx));
    const plain = join(work.path, 'multi-two-plain.tar');
    execFileSync('tar', ['-C', dir, '-cf', plain, '.']);
    const e = service();
    await e.svc.load(createReadStream(plain));
    for (const tag of ['host', 'other']) assert.equal((await e.svc.inspect(`${name}:${tag}`)).id, host.id, `${tag} without an entry platform`);
  } finally {
    multi.cleanup();
  }
});

test('save of an image pulled from a multi-platform index (this platform or another): index.json names the index, only the pulled platform’s blobs; load keeps ID, manifest, index and name@digest', { skip: skip || (!['amd64', 'arm64'].includes(hostArch) && `the test image has amd64 and arm64, not ${hostArch}`) }, async () => {
  const multi = multiPlatformImage();
  try {
    await pushLayout(multi, reg.host, 'test/multi');
    const name = `${reg.host}/test/multi`;
    const other = hostArch === 'amd64' ? 'linux/arm64/v8' : 'linux/amd64';
    for (const platform of [undefined, other]) {
      const a = service();
      const pulled = await a.svc.pull(`${name}:latest`, { platform });
      const want = multi.manifests.find((m) => m.manifest.digest === pulled.manifestDigest)!;
      assert.equal(pulled.digest, multi.top.digest, 'the tag is the index');
      const file = join(work.path, `multi-${platform ? 'other' : 'host'}.tar`);
      const bytes = await saveTo(a.svc, [`${name}:latest`], file);
      const blobs: string[] = [];
      const contents = await readImageArchive(Readable.from([bytes]), {
        async blob(b, s) {
          blobs.push(b.digest!);
          for await (const _ of s) void _;
        },
      });
      assert.deepEqual(contents.ociIndex!.manifests, [{ mediaType: multi.top.mediaType, digest: multi.top.digest, size: multi.top.size, platform: (await a.svc.inspect(`${name}:latest`)).record.platform, annotations: { 'io.containerd.image.name': `${name}:latest`, 'org.opencontainers.image.ref.name': 'latest' } }]);
      assert.deepEqual(blobs.sort(), [multi.top, want.manifest, want.config, ...want.layers].map((b) => b.digest).sort(), 'the index and the pulled platform only');
      assert.deepEqual(contents.dockerManifest, [{ Config: `blobs/sha256/${want.config.digest.slice(7)}`, RepoTags: [`${name}:latest`], Layers: want.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`) }]);
      // hako load: the same image, manifest and index; the digest reference works again.
      const b = service();
      assert.deepEqual((await b.svc.load(createReadStream(file))).messages, [`Loaded image: ${name}:latest`]);
      const insp = await b.svc.inspect(`${name}:latest`);
      assert.deepEqual([insp.id, insp.record.manifestDigest, insp.record.indexDigest, insp.repoDigests], [want.config.digest, want.manifest.digest, multi.top.digest, [`${name}@${multi.top.digest}`]]);
      assert.equal((await b.svc.inspect(`${name}@${multi.top.digest}`)).id, want.config.digest);
      assert.ok((await b.svc.verify()).ok);
      // Saved again from the loaded store: byte for byte the same archive.
      assert.deepEqual(await saveTo(b.svc, [`${name}:latest`], join(work.path, 'multi-again.tar')), bytes);
      // Removing it removes the index blob too.
      await b.svc.remove(`${name}:latest`);
      await b.svc.remove(`${name}@${multi.top.digest}`).catch(() => undefined);
      await b.svc.prune({ all: true });
      await assertEmpty(b);
    }
  } finally {
    multi.cleanup();
  }
});
