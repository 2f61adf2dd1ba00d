// The insecure-registry probe (src/image/registry/tls-probe.ts): a hand-made ClientHello tells a
// TLS port from a plain-HTTP one, whatever TLS versions the server allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type SecureVersion } from 'node:tls';
import { clientHello, speaksTls } from '../../src/image/registry/tls-probe.js';

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}
const close = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

function selfSigned(kind: 'ec' | 'rsa'): { key: string; cert: string } {
  const d = mkdtempSync(join(tmpdir(), 'hako-tls-probe-'));
  try {
    const alg = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
    execFileSync('openssl', ['req', '-x509', ...alg, '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    return { key: readFileSync(join(d, 'k.pem'), 'utf8'), cert: readFileSync(join(d, 'c.pem'), 'utf8') };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

test('clientHello: a well-formed record, with SNI only for a host name', () => {
  for (const host of ['127.0.0.1', 'registry.example']) {
    const b = clientHello(host);
    assert.equal(b[0], 0x16);
    assert.equal(b.readUInt16BE(3), b.length - 5, 'record length');
    assert.equal(b[5], 0x01, 'ClientHello');
    assert.equal(b.readUIntBE(6, 3), b.length - 9, 'handshake length');
    assert.equal(b.includes(Buffer.from(host)), host !== '127.0.0.1');
  }
});

test('speaksTls: true for TLS servers (1.2 only, 1.3 only, RSA and EC keys), false for HTTP, a closing server and a closed port', async () => {
  for (const [kind, min, max] of [['ec', 'TLSv1.2', 'TLSv1.3'], ['rsa', 'TLSv1.2', 'TLSv1.2'], ['ec', 'TLSv1.3', 'TLSv1.3']] as const) {
    const s = createTlsServer({ ...selfSigned(kind), minVersion: min as SecureVersion, maxVersion: max as SecureVersion }, (c) => c.end());
    s.on('tlsClientError', () => undefined);
    const port = await listen(s);
    try {
      assert.equal(await speaksTls('127.0.0.1', port), true, `${kind} ${min}–${max}`);
    } finally {
      await close(s);
    }
  }
  const http = createHttpServer((_req, res) => res.end('hi'));
  const hp = await listen(http);
  const closing = createNetServer((c) => c.destroy());
  const cp = await listen(closing);
  const unused = createNetServer();
  const up = await listen(unused);
  await close(unused);
  try {
    assert.equal(await speaksTls('127.0.0.1', hp), false, 'plain HTTP');
    assert.equal(await speaksTls('127.0.0.1', cp), false, 'closes at once');
    assert.equal(await speaksTls('127.0.0.1', up), false, 'nothing listening');
  } finally {
    await close(http);
    await close(closing);
  }
});

test('speaksTls: a silent server is given up when the signal aborts', async () => {
  const silent = createNetServer(() => undefined);
  const port = await listen(silent);
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('gave up')), 50);
    await assert.rejects(speaksTls('127.0.0.1', port, ac.signal), /gave up/);
  } finally {
    silent.close();
    await new Promise((r) => setTimeout(r, 10));
  }
});
