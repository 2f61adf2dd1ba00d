// Pull when things go wrong: a proxy in front of the registry that corrupts or cuts a blob,
// and a full disk (a small tmpfs as the storage root). Nothing partial may stay behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { isRoot, tempDir, mountsUnder } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushLayout, randomImage, type BuiltImage } from '../helpers/images.js';

const skip = hasRegistry ? false : 'docker-registry is not installed';

type Mode = { kind: 'pass' } | { kind: 'corrupt' } | { kind: 'cut'; after: number; times: number };

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
