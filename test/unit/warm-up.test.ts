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
import { warmUpGunzip } from '../../src/image/unpack/decompress.js';

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
