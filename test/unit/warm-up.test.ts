// hakod's warm-ups at start (src/daemon/main.ts): the HTTP client's (src/image/registry/http.ts
// warmUpHttpClient: one GET /_ping/ on the daemon's own socket, made the way registry requests
// are, and nothing left open after) and zlib's and the streams' (src/image/unpack/decompress.ts
// warmUpGunzip: a small gzip stream through the layer path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { warmUpHttpClient } from '../../src/image/registry/http.js';
import { decompress, warmUpGunzip } from '../../src/image/unpack/decompress.js';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';

test('warmUpHttpClient: one GET /_ping/ on the socket, read to its end, the connection closed after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-warm-up-'));
  const path = join(dir, 'api.sock');
  const seen: Array<{ method: string; url: string; agent: string | undefined }> = [];
  const closed: Array<Promise<void>> = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', agent: req.headers['user-agent'] });
    res.end('OK');
  });
  server.on('connection', (c: Socket) => closed.push(new Promise((resolve) => c.once('close', () => resolve()))));
  try {
    await new Promise<void>((resolve) => server.listen(path, () => resolve()));
    await warmUpHttpClient(path);
    // A trailing slash: the API's lean front hands it to node:http (lean-http.test.ts).
    assert.deepEqual(seen, [{ method: 'GET', url: '/_ping/', agent: 'hako/0.1' }]);
    assert.equal(closed.length, 1, 'one connection');
    await closed[0]; // the agent is destroyed: the client closes its keep-alive connection
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('warmUpHttpClient resolves when nothing listens on the socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-warm-up-'));
  try {
    await warmUpHttpClient(join(dir, 'nothing.sock'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('warmUpGunzip runs its gzip stream through decompress to the end (a failure there rejects)', async () => {
  await warmUpGunzip();
  await warmUpGunzip(); // again: nothing of the first run is shared
});

test('warmUpGunzip allocates no layer-sized output chunk (it would stay resident in the idle daemon)', async () => {
  // zlib's stream allocates its output chunk with Buffer.allocUnsafe; a layer's is 1 MiB.
  const sizes: number[] = [];
  const original = Buffer.allocUnsafe;
  Buffer.allocUnsafe = ((n: number) => {
    sizes.push(n);
    return original(n);
  }) as typeof Buffer.allocUnsafe;
  try {
    await warmUpGunzip();
  } finally {
    Buffer.allocUnsafe = original;
  }
  assert.ok(sizes.length > 0, 'the warm-up went through zlib\'s stream');
  assert.ok(Math.max(...sizes) <= 64 * 1024, `allocations: ${sizes.join(', ')}`);
});

test('decompress: gunzipChunk bounds each inflated chunk; the default is a layer\'s 1 MiB', async () => {
  const data = Buffer.alloc(3 * 1024 * 1024 + 5);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  for (const [opts, max] of [[{ gunzipChunk: 16 * 1024 }, 16 * 1024], [{}, 1 << 20]] as const) {
    for (const expect of ['gzip', undefined] as const) {
      const tap = new PassThrough();
      tap.end(gzipSync(data));
      const d = await decompress(tap, undefined, { ...opts, expect });
      const chunks: Buffer[] = [];
      for await (const c of d.chunks) chunks.push(c);
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.equal(Math.max(...chunks.map((c) => c.length)), max, `${JSON.stringify(opts)} ${expect}`);
    }
  }
});
