// A hostile registry: a node:http server on loopback that serves one small image, each test
// bending one answer (sizes, digests, redirects, challenges, stalls). The pull must fail clearly
// (or succeed where the answer is fine), not buffer without bound, send no credentials to another
// host, and leave nothing in the store.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { makeTar } from '../helpers/tar.js';
import { startDaemon } from '../helpers/daemon.js';

type Digest = `sha256:${string}`;
const sha = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Img {
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  layerDigest: Digest;
  configDigest: Digest;
  manifestDigest: Digest;
}

function image(opts: { configSize?: number; env?: string[]; layers?: number; extra?: Record<string, unknown> } = {}): Img {
  const tar = makeTar([{ name: 'hello.txt', data: 'hello\n' }]);
  const layer = gzipSync(tar);
  const n = opts.layers ?? 1;
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: opts.env ?? ['PATH=/bin'], Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: Array(n).fill(sha(tar)) }, history: [{ created_by: 'test' }], ...opts.extra }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: opts.configSize ?? config.length, digest: sha(config) },
      layers: Array(n).fill({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha(layer) }),
    }),
  );
  return { layer, config, manifest, layerDigest: sha(layer), configDigest: sha(config), manifestDigest: sha(manifest) };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;

interface Hostile {
  host: string;
  /** Requests seen: `METHOD path auth=<Authorization header>`. */
  seen: string[];
  stop(): Promise<void>;
}

/** Serves `img` as test/x:latest; `bend` may answer a request first (returns true when it did). */
async function hostile(img: Img, bend: Handler = () => false, address = '127.0.0.1'): Promise<Hostile> {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ''}`);
    req.resume();
    if (bend(req, res)) return;
    const url = req.url ?? '';
    if (url === '/v2/') return void res.writeHead(200).end('{}');
    if (/^\/v2\/test\/x\/manifests\//.test(url)) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json', 'Docker-Content-Digest': img.manifestDigest, 'Content-Length': img.manifest.length });
      return void res.end(req.method === 'HEAD' ? undefined : img.manifest);
    }
    const blob = url.endsWith(img.configDigest) ? img.config : url.endsWith(img.layerDigest) ? img.layer : undefined;
    if (blob) return void res.writeHead(200, { 'Content-Length': blob.length }).end(blob);
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  const addr = server.address();
  return {
    host: `${address}:${typeof addr === 'object' && addr ? addr.port : 0}`,
    seen,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const roots: { cleanup(): void }[] = [];
after(() => {
  for (const r of roots) r.cleanup();
});

function service(): ImageService {
  const t = tempDir('hako-root-');
  roots.push(t);
  return new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker-config.json') });
}

/** Nothing of a failed pull stays: no image, no blob, nothing in ingest/. */
async function assertEmpty(svc: ImageService): Promise<void> {
  assert.deepEqual(await svc.list(), []);
  assert.deepEqual(await svc.content.list(), []);
  assert.deepEqual(readdirSync(join(svc.root, 'content', 'ingest')), []);
}

test('the fake registry serves a good image (the other tests bend one answer of it)', async () => {
  const img = image();
  const reg = await hostile(img);
  const svc = service();
  try {
    const res = await svc.pull(`${reg.host}/test/x`);
    assert.equal(res.id, img.configDigest);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('a config whose descriptor claims a huge size, served without end: refused without buffering it (at most 16 MiB read), nothing stored', async () => {
  const img = image({ configSize: 2 ** 40 });
  let served = 0;
  let stalled: ServerResponse | undefined;
  const chunk = Buffer.alloc(1 << 20, 0x20);
  const reg = await hostile(img, (req, res) => {
    if (!req.url?.endsWith(img.configDigest)) return false;
    res.writeHead(200);
    stalled = res;
    // Endless: 1 MiB at a time while the client reads, up to 256 MiB (then cut).
    const more = (): void => {
      while (served < 256 << 20) {
        served += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.destroy();
    };
    more();
    return true;
  });
  const svc = service();
  try {
    await assert.rejects(svc.pull(`${reg.host}/test/x`), (err: Error) => {
      assert.match(err.message, /image config sha256:[0-9a-f]{64} is too large \(1099511627776 bytes; the limit is 16777216\)/);
      return true;
    });
    // Refused from its descriptor: at most what the socket buffers took before the close.
    assert.ok(served <= 32 << 20, `${served} bytes served`);
    await assertEmpty(svc);
  } finally {
    stalled?.destroy();
    svc.close();
    await reg.stop();
  }
});

/** Writes `chunk` while the client reads, up to `max` bytes, then cuts the connection. */
function endless(res: ServerResponse, max: number, count: (n: number) => void): void {
  const chunk = Buffer.alloc(1 << 20, 0x7b);
  let sent = 0;
  const more = (): void => {
    while (sent < max) {
      sent += chunk.length;
      count(chunk.length);
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.destroy();
  };
  more();
}

test('a manifest without end: refused past 4 MiB (reading stops there), nothing stored', async () => {
  const img = image();
  let served = 0;
  const reg = await hostile(img, (req, res) => {
    if (!/\/manifests\//.test(req.url ?? '') || req.method !== 'GET') return false;
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.v2+json' });
    endless(res, 256 << 20, (n) => (served += n));
    return true;
  });
  const svc = service();
  try {
    await assert.rejects(svc.pull(`${reg.host}/test/x`), /response larger than 4194304 bytes/);
    assert.ok(served <= 32 << 20, `${served} bytes served`);
    await assertEmpty(svc);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('a layer longer than its descriptor, and one without end: size mismatch at its size, nothing stored', async () => {
  const img = image();
  let served = 0;
  for (const mode of ['longer', 'endless'] as const) {
    const reg = await hostile(img, (req, res) => {
      if (!req.url?.endsWith(img.layerDigest)) return false;
      res.writeHead(200);
      if (mode === 'longer') res.end(Buffer.concat([img.layer, Buffer.from('trailing bytes')]));
      else endless(res, 256 << 20, (n) => (served += n));
      return true;
    });
    const svc = service();
    try {
      await assert.rejects(svc.pull(`${reg.host}/test/x`), new RegExp(`size mismatch for layer ${img.layerDigest}: expected ${img.layer.length} bytes, got more \\(nothing was stored\\)`));
      await assertEmpty(svc);
    } finally {
      svc.close();
      await reg.stop();
    }
  }
  assert.ok(served <= 32 << 20, `${served} bytes served`);
});

test('pull by digest: a manifest that does not hash to the digest asked for is refused, nothing stored', async () => {
  const img = image();
  const other = image({ env: ['PATH=/bin', 'EVIL=1'] });
  const reg = await hostile(other);
  const svc = service();
  try {
    // The registry answers other's manifest (and its own Docker-Content-Digest) for img's digest.
    await assert.rejects(svc.pull(`${reg.host}/test/x@${img.manifestDigest}`), new RegExp(`digest mismatch for manifest ${img.manifestDigest}: expected ${img.manifestDigest}, got ${other.manifestDigest}`));
    await assertEmpty(svc);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('a blob redirected to another host gets no credentials; a redirect loop fails naming the status, nothing stored', async () => {
  const img = image();
  const auth = 'Basic ' + Buffer.from('alice:secret').toString('base64');
  // The other host: 127.0.0.2 (loopback, another address), serving the blobs.
  const elsewhere = await hostile(img, (req, res) => {
    if (req.url === '/loop') return void res.writeHead(302, { Location: '/loop' }).end(), true;
    return false;
  }, '127.0.0.2');
  let loop = false;
  const reg = await hostile(img, (req, res) => {
    if (req.headers.authorization !== auth) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="test"', 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return true;
    }
    if (/\/blobs\//.test(req.url ?? '')) {
      res.writeHead(307, { Location: loop ? `http://${elsewhere.host}/loop` : `http://${elsewhere.host}${req.url}` }).end();
      return true;
    }
    return false;
  });
  const svc = service();
  try {
    const res = await svc.pull(`${reg.host}/test/x`, { credentials: { username: 'alice', password: 'secret' } });
    assert.equal(res.id, img.configDigest);
    assert.ok(reg.seen.some((s) => s.endsWith(`auth=${auth}`)), reg.seen.join('\n'));
    assert.ok(elsewhere.seen.length >= 2, elsewhere.seen.join('\n'));
    for (const s of elsewhere.seen) assert.match(s, / auth=$/);

    loop = true;
    const svc2 = service();
    try {
      await assert.rejects(svc2.pull(`${reg.host}/test/x`, { credentials: { username: 'alice', password: 'secret' } }), /HTTP 302|redirect/);
      await assertEmpty(svc2);
    } finally {
      svc2.close();
    }
  } finally {
    svc.close();
    await reg.stop();
    await elsewhere.stop();
  }
});

test('a manifest list with 12000 entries, none for this platform: refused quickly with a bounded message', async () => {
  const img = image();
  const entries = Array.from({ length: 12_000 }, (_, i) => ({ mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 100, digest: sha(Buffer.from(String(i))), platform: { os: 'linux', architecture: `arch${i}` } }));
  const list = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: entries }));
  const reg = await hostile(img, (req, res) => {
    if (!/\/manifests\//.test(req.url ?? '')) return false;
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.distribution.manifest.list.v2+json', 'Docker-Content-Digest': sha(list), 'Content-Length': list.length }).end(req.method === 'HEAD' ? undefined : list);
    return true;
  });
  const svc = service();
  try {
    const t0 = Date.now();
    await assert.rejects(svc.pull(`${reg.host}/test/x`), (err: Error) => {
      assert.match(err.message, /no matching manifest for linux\/amd64 in the manifest list/);
      assert.ok(err.message.length < 4096, `message of ${err.message.length} characters`);
      assert.match(err.message, /the image has linux\/arch0, linux\/arch1, .*, linux\/arch9 and 11990 more; choose one with --platform/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000);
    await assertEmpty(svc);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('a layer whose body stalls after its first bytes: the pull is cancelled by its signal at once, only the bytes received are kept for a resume', async () => {
  const img = image();
  const reg = await hostile(img, (req, res) => {
    if (!req.url?.endsWith(img.layerDigest)) return false;
    res.writeHead(200, { 'Content-Length': img.layer.length });
    res.write(img.layer.subarray(0, 10)); // and nothing more
    return true;
  });
  const svc = service();
  const ac = new AbortController();
  try {
    const p = svc.pull(`${reg.host}/test/x`, { signal: ac.signal });
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    ac.abort();
    await assert.rejects(p);
    assert.ok(Date.now() - t0 < 2000, `cancelled after ${Date.now() - t0} ms`);
    // No image and no blob; the bytes received stay in ingest/ for a resume (by design: a later
    // pull of the blob asks for the rest with Range), never more than the descriptor's size.
    assert.deepEqual(await svc.list(), []);
    assert.deepEqual(await svc.content.list(), []);
    const left = readdirSync(join(svc.root, 'content', 'ingest'));
    assert.deepEqual(left, [`${img.layerDigest.slice(7)}.partial`]);
    assert.equal(statSync(join(svc.root, 'content', 'ingest', left[0]!)).size, 10);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('hakod: a pull whose layer stalls is cancelled when the API client goes away (the registry sees its connection closed), and the daemon has no image', async () => {
  const img = image();
  let stalled: ServerResponse | undefined;
  let closed: () => void = () => undefined;
  const gone = new Promise<void>((r) => (closed = r));
  const reg = await hostile(img, (req, res) => {
    if (!req.url?.endsWith(img.layerDigest)) return false;
    res.writeHead(200, { 'Content-Length': img.layer.length });
    res.write(img.layer.subarray(0, 10));
    stalled = res;
    res.on('close', closed);
    return true;
  });
  const d = await startDaemon();
  try {
    const client = request({ socketPath: d.socket, method: 'POST', path: `/v1.41/images/create?fromImage=${reg.host}/test/x&tag=latest` }, (res) => res.resume());
    client.on('error', () => undefined);
    client.end();
    const t0 = Date.now();
    while (!stalled && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stalled, 'the layer was never asked for');
    client.destroy();
    const t1 = Date.now();
    await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error('the stalled download went on 5 s after the client left')), 5000))]);
    assert.ok(Date.now() - t1 < 5000);
    const list = await d.request('GET', '/images/json');
    assert.deepEqual(JSON.parse(list.body.toString()), []);
  } finally {
    stalled?.destroy();
    assert.equal(await d.stop(), 0);
    await reg.stop();
  }
});

test('an image of more than 125 layers is refused before any download, in dockerd\'s words (max depth exceeded); 125 are pulled', async () => {
  for (const n of [126, 125]) {
    const img = image({ layers: n });
    const reg = await hostile(img);
    const svc = service();
    try {
      if (n === 126) {
        await assert.rejects(svc.pull(`${reg.host}/test/x`), /max depth exceeded: the image has 126 layers, at most 125 are supported/);
        assert.deepEqual(reg.seen.filter((r) => /\/blobs\//.test(r)), []);
        await assertEmpty(svc);
      } else {
        assert.equal((await svc.pull(`${reg.host}/test/x`)).id, img.configDigest);
      }
    } finally {
      svc.close();
      await reg.stop();
    }
  }
});

test('a tags list whose pages never end (a new next link each time): refused past 64 MiB in all, as a clear error', async () => {
  const img = image();
  let pages = 0;
  const page = Buffer.from(JSON.stringify({ name: 'test/x', tags: Array.from({ length: 40_000 }, (_, i) => `t${String(i).padStart(20, '0')}`) }));
  const reg = await hostile(img, (req, res) => {
    if (!/\/tags\/list/.test(req.url ?? '')) return false;
    pages++;
    // (stops after 100 pages, ~100 MiB: without a cap the list came back whole)
    res.writeHead(200, { 'Content-Type': 'application/json', ...(pages < 100 ? { Link: `</v2/test/x/tags/list?n=40000&last=p${pages}>; rel="next"` } : {}) }).end(page);
    return true;
  });
  const svc = service();
  try {
    await assert.rejects(svc.listTags(`${reg.host}/test/x`), /tags list of test\/x: the registry's answer is larger than 67108864 bytes in all \(\d+ pages\)/);
    assert.ok(pages * page.length <= (64 << 20) + page.length * 2, `${pages} pages of ${page.length} bytes`);
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('a config whose fields have the wrong types (history a string, Env a string, Labels a list) is refused as Go\'s decoder refuses it, nothing stored; a null history entry and a Cmd string pass', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ history: 'x' }, /invalid image config \(history is not a list\)/],
    [{ history: [5] }, /invalid image config \(history\[0\] is not an object\)/],
    [{ history: [{ created_by: 5 }] }, /history\[0\]\.created_by is not a string/],
    [{ config: 'x' }, /invalid image config \(config is not an object\)/],
    [{ config: { Env: 'PATH=/bin' } }, /config\.Env is not a list of strings/],
    [{ config: { Cmd: 5 } }, /config\.Cmd is not a string or a list of strings/],
    [{ config: { Labels: ['a'] } }, /config\.Labels is not an object of strings/],
    [{ config: { ExposedPorts: '80' } }, /config\.ExposedPorts is not an object/],
  ];
  for (const [extra, re] of cases) {
    const img = image({ extra });
    const reg = await hostile(img);
    const svc = service();
    try {
      await assert.rejects(svc.pull(`${reg.host}/test/x`), re, JSON.stringify(extra));
      await assertEmpty(svc);
    } finally {
      svc.close();
      await reg.stop();
    }
  }
  const img = image({ extra: { history: [null], config: { Cmd: '/hello', Env: null, Labels: null } } });
  const reg = await hostile(img);
  const svc = service();
  try {
    assert.equal((await svc.pull(`${reg.host}/test/x`)).id, img.configDigest);
    assert.equal((await svc.history(`${reg.host}/test/x`)).length, 1);
  } finally {
    svc.close();
    await reg.stop();
  }
});
