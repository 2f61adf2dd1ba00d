// RegistryClient.listTags (a pull of all tags): GET /v2/<name>/tags/list, its Link pages followed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient } from '../../src/image/registry/client.js';

test('listTags follows the Link rel="next" pages and keeps the registry\'s order; a 404 is a not-found error', async () => {
  const asked: string[] = [];
  // A plain-HTTP registry (the client's TLS probe gets node's 400 for a ClientHello).
  const server = createServer((req, res) => {
    asked.push(req.url!);
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/v2/a/b/tags/list' && !u.searchParams.has('last')) {
      res.writeHead(200, { 'Content-Type': 'application/json', Link: '</v2/a/b/tags/list?last=b&n=2>; rel="next"' });
      res.end(JSON.stringify({ name: 'a/b', tags: ['a', 'b'] }));
    } else if (u.pathname === '/v2/a/b/tags/list' && u.searchParams.get('last') === 'b') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ name: 'a/b', tags: ['c'] }));
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const client = new RegistryClient({ domain: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  try {
    assert.deepEqual(await client.listTags('a/b'), ['a', 'b', 'c']);
    assert.deepEqual(asked.filter((p) => p.includes('tags')), ['/v2/a/b/tags/list', '/v2/a/b/tags/list?last=b&n=2']);
    await assert.rejects(client.listTags('no/such'), (e: Error & { kind?: string }) => e.kind === 'not-found' && /repository name not known to registry/.test(e.message));
  } finally {
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
