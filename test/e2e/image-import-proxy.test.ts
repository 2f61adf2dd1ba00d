// `import` from a URL through the proxy named by the daemon's HTTP_PROXY / HTTPS_PROXY (dockerd
// honours them through Go's ProxyFromEnvironment). The proxy is a tiny one this test runs on
// 127.0.0.1: absolute-URI GETs for http, CONNECT tunnels for https (to a TLS server of this test
// on 127.0.0.1 with a certificate for images.hako.test). The image host name never resolves:
// only a proxied request can reach it, so nothing leaves loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as HttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { hasDocker, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/fixtures.js';
import { makeTar } from '../helpers/tar.js';
import { retryUntil } from '../helpers/retry.js';

const HOST = 'images.hako.test';
const skipDocker = !hasDocker ? `${DOCKER} is missing` : false;

let d: TestDaemon;
let proxy: Server;
let origin: Server;
let tlsOrigin: HttpsServer;
let work: { path: string; cleanup(): void };
let proxyPort = 0;
const seen: string[] = [];
const tunnels = new Set<Socket>();
const tar = makeTar([{ name: 'etc/', type: 'dir' }, { name: 'etc/proxied', data: 'through the proxy\n' }]);
const files = new Map<string, Buffer>([
  ['/rootfs.tar', tar],
  ['/rootfs.tar.gz', gzipSync(tar)],
]);
const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

function serve(req: IncomingMessage, res: ServerResponse, path: string): void {
  if (path === '/moved') {
    res.writeHead(302, { Location: `http://${HOST}/rootfs.tar.gz` }).end();
    return;
  }
  const body = files.get(path);
  if (!body) {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here\n');
    return;
  }
  res.writeHead(200, { 'Content-Length': String(body.length) }).end(body);
}

before(async () => {
  work = tempDir('hako-proxy-');
  const key = join(work.path, 'key.pem');
  const cert = join(work.path, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`], { stdio: 'ignore' });
  tlsOrigin = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => serve(req, res, req.url ?? ''));
  await new Promise<void>((r) => tlsOrigin.listen(0, '127.0.0.1', r));
  const tlsPort = (tlsOrigin.address() as { port: number }).port;
  // A direct (loopback) origin: loopback is never proxied.
  origin = createServer((req, res) => serve(req, res, req.url ?? ''));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} auth=${req.headers['proxy-authorization'] ?? '-'}`);
    const url = new URL(req.url ?? '/', 'http://invalid');
    if (!/^http:\/\//.test(req.url ?? '') || url.hostname !== HOST) {
      res.writeHead(502).end('this proxy only knows ' + HOST);
      return;
    }
    serve(req, res, url.pathname);
  });
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url} auth=${req.headers['proxy-authorization'] ?? '-'}`);
    if (req.url !== `${HOST}:443`) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.add(client);
    client.on('close', () => tunnels.delete(client));
    const upstream = connect(tlsPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.resume();
    });
    // Either side closing closes the tunnel (the server's sockets allow half-open ones).
    client.on('end', () => upstream.end());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as { port: number }).port;
  d = await startDaemon([], {
    env: {
      ...process.env,
      HTTP_PROXY: `http://hako:s3cret@127.0.0.1:${proxyPort}`,
      https_proxy: `127.0.0.1:${proxyPort}`,
      NO_PROXY: 'direct.hako.test',
      NODE_EXTRA_CA_CERTS: cert,
    },
  });
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  for (const t of tunnels) t.destroy();
  for (const s of [proxy, origin, tlsOrigin]) {
    if (!s) continue;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  work?.cleanup();
});

async function importUrl(url: string, repo: string): Promise<{ status: number; text: string; last: Record<string, unknown> | undefined }> {
  const r = await d.request('POST', `/v1.44/images/create?fromSrc=${encodeURIComponent(url)}&repo=${repo}&tag=1`);
  const text = r.body.toString();
  const last = r.status === 200 ? (JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>) : undefined;
  return { status: r.status, text, last };
}

async function layers(ref: string): Promise<string[]> {
  return JSON.parse((await d.request('GET', `/v1.44/images/${ref}/json`)).body.toString()).RootFS.Layers;
}

test('import from a URL uses HTTP_PROXY (absolute URI, Proxy-Authorization) and HTTPS_PROXY (CONNECT); redirects stay proxied; loopback goes direct', async () => {
  const auth = `Basic ${Buffer.from('hako:s3cret').toString('base64')}`;
  seen.length = 0;
  const h = await importUrl(`http://${HOST}/rootfs.tar`, 'proxied');
  assert.equal(h.status, 200, h.text);
  assert.match(String(h.last?.status), /^sha256:[0-9a-f]{64}$/, h.text);
  assert.deepEqual(await layers('proxied:1'), [sha(tar)]);
  assert.deepEqual(seen, [`GET http://${HOST}/rootfs.tar auth=${auth}`]);

  seen.length = 0;
  const s = await importUrl(`https://${HOST}/rootfs.tar.gz`, 'tunneled');
  assert.equal(s.status, 200, s.text);
  assert.match(String(s.last?.status), /^sha256:[0-9a-f]{64}$/, s.text);
  assert.deepEqual(await layers('tunneled:1'), [sha(tar)]);
  assert.deepEqual(seen, [`CONNECT ${HOST}:443 auth=-`], 'https_proxy (lower case) has no credentials');
  await retryUntil(async () => assert.equal(tunnels.size, 0), 'hakod closes the tunnel after the download', 5000);

  seen.length = 0;
  const m = await importUrl(`http://${HOST}/moved`, 'moved');
  assert.equal(m.status, 200, m.text);
  assert.deepEqual(seen, [`GET http://${HOST}/moved auth=${auth}`, `GET http://${HOST}/rootfs.tar.gz auth=${auth}`]);

  seen.length = 0;
  const port = (origin.address() as { port: number }).port;
  const direct = await importUrl(`http://127.0.0.1:${port}/rootfs.tar`, 'direct');
  assert.equal(direct.status, 200, direct.text);
  assert.deepEqual(seen, [], 'loopback is never proxied');

  const missing = await importUrl(`http://${HOST}/missing.tar`, 'bad');
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.text).message, `failed to GET http://${HOST}/missing.tar with status 404 Not Found: not here`);
  const refused = await importUrl(`https://${HOST}:8443/rootfs.tar`, 'bad');
  assert.equal(refused.status, 500);
  assert.match(JSON.parse(refused.text).message, new RegExp(`^Get "https://${HOST.replace(/\./g, '\\.')}:8443/rootfs.tar": proxyconnect: the proxy 127\\.0\\.0\\.1:\\d+ refused CONNECT ${HOST.replace(/\./g, '\\.')}:8443: 403`));
  assert.equal((await d.request('GET', '/v1.44/images/bad:1/json')).status, 404);
});

test('docker import http://… through hakod’s proxy', { skip: skipDocker }, async () => {
  seen.length = 0;
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(DOCKER, ['import', `http://${HOST}/rootfs.tar.gz`, 'cli/proxied:1'], { env: d.env, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim().split('\n').at(-1)!, /^sha256:[0-9a-f]{64}$/);
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, new RegExp(`^GET http://${HOST.replace(/\./g, '\\.')}/rootfs.tar.gz `));
});
