// A hostile registry: a node:http server on loopback that serves one small image, each test
// bending one answer (sizes, digests, redirects, challenges, stalls). The pull must fail clearly
// (or succeed where the answer is fine), not buffer without bound, send no credentials to another
// host, and leave nothing in the store.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { makeTar } from '../helpers/tar.js';

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

function image(opts: { configSize?: number; env?: string[] } = {}): Img {
  const tar = makeTar([{ name: 'hello.txt', data: 'hello\n' }]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: opts.env ?? ['PATH=/bin'], Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] }, history: [{ created_by: 'test' }] }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: opts.configSize ?? config.length, digest: sha(config) },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: layer.length, digest: sha(layer) }],
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
