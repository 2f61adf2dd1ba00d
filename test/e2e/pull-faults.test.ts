// Pull when things go wrong: a proxy in front of the registry that corrupts or cuts a blob,
// and a full disk (a small tmpfs as the storage root). Nothing partial may stay behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { SnapshotStore, directorySize } from '../../src/image/snapshot/index.js';
import { snapshotUnpacker } from '../../src/engine/snapshot-unpacker.js';
import { isRoot, tempDir, mountsUnder } from '../helpers/fixtures.js';
import { freePort, hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, pushLayout, randomImage, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed';

type Mode =
  | { kind: 'pass' }
  | { kind: 'corrupt' }
  | { kind: 'cut'; after: number; times: number }
  /** Answer `status` to the first `times` requests whose path matches (all when times is Infinity). */
  | { kind: 'fail'; status: number; times: number; path: RegExp; served: string[]; delayMs?: number };

interface Proxy {
  host: string;
  mode: Mode;
  /** Range headers seen on blob GETs. */
  ranges: (string | undefined)[];
  stop(): Promise<void>;
}

/** Forwards to `target`; blob GETs can be corrupted (one byte flipped) or cut after N bytes. */
async function startProxy(target: number): Promise<Proxy> {
  const p: Proxy = { host: '', mode: { kind: 'pass' }, ranges: [], stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    const m = p.mode;
    if (m.kind === 'fail' && m.times > 0 && m.path.test(req.url ?? '')) {
      m.times--;
      m.served.push(`${req.method} ${req.url}`);
      req.resume();
      setTimeout(() => {
        res.writeHead(m.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `injected ${m.status}` }] }));
      }, m.delayMs ?? 0);
      return;
    }
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    if (isBlob) p.ranges.push(req.headers.range);
    const up = request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const mode = p.mode;
      if (!isBlob || mode.kind === 'pass' || (ur.statusCode !== 200 && ur.statusCode !== 206)) {
        ur.pipe(res);
        return;
      }
      let sent = 0;
      let flipped = false;
      ur.on('data', (chunk: Buffer) => {
        if (mode.kind === 'corrupt' && !flipped && sent + chunk.length > 1000) {
          chunk = Buffer.from(chunk);
          chunk[1000 - sent] = chunk[1000 - sent]! ^ 0xff;
          flipped = true;
        }
        if (mode.kind === 'cut' && mode.times > 0 && sent + chunk.length >= mode.after) {
          res.write(chunk.subarray(0, mode.after - sent));
          mode.times--;
          ur.destroy();
          res.socket?.destroy();
          return;
        }
        sent += chunk.length;
        res.write(chunk);
      });
      ur.on('end', () => res.end());
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  p.host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  p.stop = async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return p;
}

let reg: TestRegistry;
let proxy: Proxy;
let busybox: BuiltImage;
const roots: { cleanup(): void }[] = [];

function service(root?: string): ImageService {
  let path = root;
  if (!path) {
    const t = tempDir('hako-root-');
    roots.push(t);
    path = t.path;
  }
  return new ImageService({ root: path, dockerConfigPath: join(path, 'docker-config.json') });
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  proxy = await startProxy(reg.port);
  busybox = busyboxImage();
  await pushLayout(busybox, reg.host, 'test/busybox');
});

after(async () => {
  await proxy?.stop();
  await reg?.stop();
  busybox?.cleanup();
  for (const r of roots) r.cleanup();
});

test('a corrupted layer: digest mismatch, nothing stored, no partial files', { skip }, async () => {
  const svc = service();
  proxy.mode = { kind: 'corrupt' };
  try {
    const layer = busybox.manifests[0]!.layers[0]!.digest;
    await assert.rejects(svc.pull(`${proxy.host}/test/busybox`), (err: Error) => {
      assert.match(err.message, new RegExp(`^pull ${proxy.host}/test/busybox:latest: digest mismatch for layer ${layer}: expected ${layer}, got sha256:[0-9a-f]{64} \\(nothing was stored\\)$`));
      return true;
    });
    assert.ok(!svc.content.has(layer));
    // The config and manifest, written beside the download, were removed, not renamed in.
    assert.ok(!svc.content.has(busybox.manifests[0]!.config.digest));
    assert.ok(!svc.content.has(busybox.top.digest));
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    assert.deepEqual(await svc.list(), []);
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('a download cut off in the middle resumes with Range and verifies', { skip }, async () => {
  const svc = service();
  const layer = busybox.manifests[0]!.layers[0]!;
  proxy.ranges.length = 0;
  proxy.mode = { kind: 'cut', after: Math.floor(layer.size / 2), times: 1 };
  try {
    const res = await svc.pull(`${proxy.host}/test/busybox`);
    assert.equal(res.id, busybox.manifests[0]!.config.digest);
    const ranges = proxy.ranges.filter((r) => r !== undefined);
    assert.equal(ranges.length, 1, JSON.stringify(proxy.ranges));
    const start = Number(/^bytes=(\d+)-$/.exec(ranges[0]!)![1]);
    assert.ok(start > 0 && start <= Math.floor(layer.size / 2), `resumed from ${start}`);
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('5xx and 429 answers are retried with backoff: manifests, configs and layers; a registry that keeps failing gives a clear error', { skip }, async () => {
  const svc = service();
  const layer = busybox.manifests[0]!.layers[0]!;
  try {
    // The first three requests for each kind fail (503, then 502, 429 for the layer).
    const served: string[] = [];
    proxy.mode = { kind: 'fail', status: 503, times: 2, path: /\/manifests\//, served };
    const started = Date.now();
    const pulling = svc.pull(`${proxy.host}/test/busybox`);
    // Switch the fault to the config and the layer once the manifest got through.
    const until = Date.now() + 10_000;
    while ((proxy.mode as { times: number }).times > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    proxy.mode = { kind: 'fail', status: 429, times: 2, path: new RegExp(`/blobs/${layer.digest}`), served };
    const res = await pulling;
    assert.equal(res.id, busybox.manifests[0]!.config.digest);
    assert.equal(served.filter((x) => x.includes('/manifests/')).length, 2, served.join('\n'));
    assert.equal(served.filter((x) => x.includes(layer.digest)).length, 2, served.join('\n'));
    assert.ok(Date.now() - started >= 200 + 400, 'backoff between attempts');
    assert.ok((await svc.verify()).ok);

    // Always failing: bounded attempts, the registry's message, nothing stored.
    const fresh = service();
    proxy.mode = { kind: 'fail', status: 500, times: Infinity, path: /\/v2\/test\//, served: [] };
    const t0 = Date.now();
    // dockerd's words (distribution's client reads no body of a 5xx): its status line
    await assert.rejects(fresh.pull(`${proxy.host}/test/busybox`), (e: Error) => e.message === 'received unexpected HTTP status: 500 Internal Server Error');
    assert.equal((proxy.mode as { served: string[] }).served.length, 4, 'four attempts');
    assert.ok(Date.now() - t0 < 10_000);
    assert.deepEqual(await fresh.list(), []);
    assert.ok((await fresh.verify()).ok);
    fresh.close();
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('a registry that refuses the connection: the pull fails at once with Go’s dial text, as dockerd 20.10 (no backoff), nothing stored', async () => {
  // dockerd: `Get "http://127.0.0.1:P/v2/": dial tcp 127.0.0.1:P: connect: connection refused`, in
  // ~15 ms; its transfer manager retries only layer downloads (a reset mid-layer: test above).
  const svc = service();
  try {
    const port = await freePort();
    const t0 = Date.now();
    await assert.rejects(svc.pull(`127.0.0.1:${port}/test/busybox`), (e: Error) => {
      assert.match(e.message, new RegExp(`^Get "http://127\\.0\\.0\\.1:${port}/v2/test/busybox/manifests/latest": dial tcp 127\\.0\\.0\\.1:${port}: connect: connection refused$`));
      return true;
    });
    // Four attempts with backoff took ~1.4 s.
    assert.ok(Date.now() - t0 < 500, `failed after ${Date.now() - t0} ms`);
    assert.deepEqual(await svc.list(), []);
  } finally {
    svc.close();
  }
});

test('a config the registry does not have: the layer requested with it is dropped unread, nothing stored, and the next pull fetches it again', { skip }, async () => {
  const svc = service();
  const { config, layers } = busybox.manifests[0]!;
  const served: string[] = [];
  try {
    proxy.mode = { kind: 'fail', status: 404, times: Infinity, path: new RegExp(`/blobs/${config.digest}`), served };
    const rangesBefore = proxy.ranges.length;
    await assert.rejects(svc.pull(`${proxy.host}/test/busybox`), (e: Error) => e.message.includes(`blob ${config.digest}: injected 404`));
    // The layer's request went out with the config's (it may reach the proxy after the 404).
    for (const until = Date.now() + 2000; proxy.ranges.length === rangesBefore && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
    assert.equal(proxy.ranges.length - rangesBefore, 1, 'the layer was requested with the config');
    assert.deepEqual(await svc.list(), []);
    assert.ok(!svc.content.has(layers[0]!.digest));
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    proxy.mode = { kind: 'pass' };
    const res = await svc.pull(`${proxy.host}/test/busybox`);
    assert.equal(res.id, config.digest);
    assert.equal(res.downloaded, 1);
    assert.equal(proxy.ranges.length - rangesBefore, 3, 'then the config and the layer once each');
    assert.ok((await svc.verify()).ok);
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('push: a 503 when starting an upload is retried, the push completes and pulls back', { skip }, async () => {
  const svc = service();
  try {
    await svc.pull(`${reg.host}/test/busybox`);
    await svc.tag(`${reg.host}/test/busybox`, `${proxy.host}/test/pushed-retry:1`);
    const served: string[] = [];
    proxy.mode = { kind: 'fail', status: 503, times: 2, path: /\/v2\/test\/pushed-retry\/blobs\/uploads\//, served };
    const lines: string[] = [];
    const r = await svc.push(`${proxy.host}/test/pushed-retry:1`, { progress: (e) => lines.push(`${e.id ?? ''} ${e.status}`) });
    assert.equal(served.length, 2, served.join('\n'));
    assert.equal(r.uploaded, 2);
    assert.ok(lines.some((l) => /Retrying in 0\.5 seconds$/.test(l)), lines.join('\n'));
    const back = service();
    assert.equal((await back.pull(`${reg.host}/test/pushed-retry:1`)).id, busybox.manifests[0]!.config.digest);
    back.close();
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('a full disk: no space left on device, and a consistent store', { skip: skip || (!isRoot && 'needs root to mount a tmpfs') }, async () => {
  const img = randomImage(3 << 20);
  const t = tempDir('hako-tmpfs-');
  const mnt = join(t.path, 'root');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  const svc = service(mnt);
  try {
    await pushLayout(img, reg.host, 'test/big');
    await assert.rejects(svc.pull(`${reg.host}/test/big`), (err: Error) => {
      assert.match(err.message, /^pull 127\.0\.0\.1:\d+\/test\/big:latest: write layer sha256:[0-9a-f]{64} to \S+: no space left on device \(ENOSPC\)$/);
      return true;
    });
    const v = await svc.verify();
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(readdirSync(join(mnt, 'content', 'ingest')), []);
    assert.deepEqual(await svc.list(), []);
  } finally {
    svc.close();
    execFileSync('umount', [mnt]);
    t.cleanup();
    img.cleanup();
    assert.deepEqual(mountsUnder(t.path), []);
  }
});

test('with a snapshotter (layers downloaded and unpacked before the config is in): a missing config or a corrupted layer leaves no blob, snapshot or scratch directory', { skip }, async () => {
  const t = tempDir('hako-root-');
  roots.push(t);
  const snapRoot = join(t.path, 'snapshots');
  const svc = new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker-config.json'), unpacker: snapshotUnpacker(new SnapshotStore(snapRoot)) });
  const { config, layers } = busybox.manifests[0]!;
  const leftovers = (): string[] => ['tmp', 'layers', 'l'].flatMap((d) => (existsSync(join(snapRoot, d)) ? readdirSync(join(snapRoot, d)).map((n) => `${d}/${n}`) : []));
  try {
    // The config's 404 comes late: the layer is downloaded, verified and unpacked by then.
    proxy.mode = { kind: 'fail', status: 404, times: Infinity, path: new RegExp(`/blobs/${config.digest}`), served: [], delayMs: 400 };
    await assert.rejects(svc.pull(`${proxy.host}/test/busybox`), (e: Error) => e.message.includes(`blob ${config.digest}: injected 404`));
    assert.ok(!svc.content.has(layers[0]!.digest), 'the layer fetched with the config is not stored');
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    assert.deepEqual(leftovers(), []);
    proxy.mode = { kind: 'corrupt' };
    await assert.rejects(svc.pull(`${proxy.host}/test/busybox`), /digest mismatch for layer/);
    assert.ok(!svc.content.has(layers[0]!.digest));
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    assert.deepEqual(leftovers(), []);
    // The record and reference table written while the layer came were removed, not renamed in.
    const metaFiles = ['image', 'image/images'].flatMap((d) => readdirSync(join(svc.root, d)).map((n) => `${d}/${n}`));
    assert.deepEqual(metaFiles.filter((n) => !/\/(images|leases)$/.test(n)), []);
    assert.deepEqual(await svc.list(), []);
    proxy.mode = { kind: 'pass' };
    const res = await svc.pull(`${proxy.host}/test/busybox`);
    assert.equal(res.id, config.digest);
    // The layer unpacked before the config came has its content size recorded beside it by the
    // pull itself (checked before inspect, which would count and record a missing one).
    const chain0 = busybox.manifests[0]!.diffIds[0]!.slice(7);
    const sizeFile = join(snapRoot, 'layers', chain0, 'size');
    assert.ok(existsSync(sizeFile), 'the size file was written with the early layer');
    assert.equal(Number(readFileSync(sizeFile, 'utf8')), await directorySize(join(snapRoot, 'layers', chain0, 'diff')));
    const rec = (await svc.inspect(res.id)).record;
    assert.ok(existsSync(join(snapRoot, 'layers', rec.chainIds[0]!.slice(7), 'diff', 'bin', 'busybox')));
    assert.deepEqual(readdirSync(join(snapRoot, 'tmp')), []);
    assert.ok((await svc.verify()).ok);
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
  }
});

test('a pull that fails after some of its layers are stored removes them (blobs and snapshots) at once, but one another image uses', { skip }, async () => {
  const layered = layeredImage();
  const t = tempDir('hako-root-');
  roots.push(t);
  const snapRoot = join(t.path, 'snapshots');
  // One layer at a time: the first is stored and unpacked before the second is asked for.
  const svc = new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker-config.json'), unpacker: snapshotUnpacker(new SnapshotStore(snapRoot)), concurrency: 1 });
  const layers = (): string[] => (existsSync(join(snapRoot, 'layers')) ? readdirSync(join(snapRoot, 'layers')) : []);
  try {
    await pushLayout(layered, reg.host, 'test/layered');
    const [first, second] = layered.manifests[0]!.layers;
    const chain0 = layered.manifests[0]!.diffIds[0]!;
    assert.equal(first!.digest, busybox.manifests[0]!.layers[0]!.digest, 'its first layer is busybox’s');
    const failSecond = (): Mode => ({ kind: 'fail', status: 404, times: Infinity, path: new RegExp(`/blobs/${second!.digest}`), served: [] });
    proxy.mode = failSecond();
    await assert.rejects(svc.pull(`${proxy.host}/test/layered`), (e: Error) => e.message.includes(`blob ${second!.digest}: injected 404`));
    assert.deepEqual(await svc.content.list(), [], 'its first layer’s blob went');
    assert.deepEqual(layers(), [], 'its first layer’s snapshot went');
    assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
    assert.deepEqual(readdirSync(svc.meta.dir).filter((n) => n.startsWith('unsettled-')), []);
    // With busybox here, the failed pull leaves busybox's layer (blob and snapshot) alone.
    proxy.mode = { kind: 'pass' };
    await svc.pull(`${proxy.host}/test/busybox`);
    const before = (await svc.content.list()).sort();
    proxy.mode = failSecond();
    await assert.rejects(svc.pull(`${proxy.host}/test/layered`), /injected 404/);
    assert.deepEqual((await svc.content.list()).sort(), before);
    assert.deepEqual(layers(), [chain0.slice(7)]);
    assert.ok((await svc.verify()).ok);
    // And it pulls whole afterwards.
    proxy.mode = { kind: 'pass' };
    await svc.pull(`${proxy.host}/test/layered`);
    assert.ok((await svc.verify()).ok);
  } finally {
    proxy.mode = { kind: 'pass' };
    svc.close();
    layered.cleanup();
  }
});
