// The registry client's first request to an insecure registry goes out before the TLS probe's
// connection is made (src/image/registry/client.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import dc from 'node:diagnostics_channel';
import { RegistryClient } from '../../src/image/registry/client.js';

test('an insecure registry: the first request is written before the TLS probe connects', async () => {
  // Client side, in order: each socket made (net.client.socket: the request's, then the probe's)
  // and the request written out (http.client.request.start fires once its bytes are flushed).
  const events: string[] = [];
  const onSocket = (): void => void events.push('socket');
  const onRequest = (m: unknown): void => void events.push(`request ${(m as { request: { path: string } }).request.path}`);
  const manifest = Buffer.from('{"schemaVersion":2}');
  // A plain-HTTP "registry": the probe's ClientHello gets a 400, as from an HTTP server.
  const server = createNetServer((c) => {
    let buf = '';
    c.on('data', (d: Buffer) => {
      if (buf === '' && d[0] === 0x16) {
        c.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      buf += d.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      buf = '';
      c.write(`HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: ${manifest.length}\r\n\r\n`);
      c.write(manifest);
    });
    c.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const domain = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new RegistryClient({ domain });
  dc.subscribe('net.client.socket', onSocket);
  dc.subscribe('http.client.request.start', onRequest);
  try {
    const m = await client.getManifest('a/b', 'latest');
    assert.deepEqual(m.bytes, manifest);
    assert.deepEqual(events, ['socket', 'request /v2/a/b/manifests/latest', 'socket']);
  } finally {
    dc.unsubscribe('net.client.socket', onSocket);
    dc.unsubscribe('http.client.request.start', onRequest);
    client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
