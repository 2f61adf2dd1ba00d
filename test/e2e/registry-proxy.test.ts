// Registry pulls and pushes through the proxy named by HTTP_PROXY / HTTPS_PROXY (dockerd's
// registry transport uses Go's ProxyFromEnvironment). The registries (Debian's docker-registry,
// one plain HTTP, one HTTPS with a certificate for reg.hako.test) listen on 127.0.0.1; the
// client addresses them as reg.hako.test:PORT, a name only this test's proxy resolves: a request
// that does not go through the proxy cannot reach them, and nothing leaves loopback. Loopback
// registries are never proxied (Go's rule), so they cannot show the proxy in use.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import type { ProxyEnv } from '../../src/image/proxy.js';
import { tempDir } from '../helpers/fixtures.js';
import { freePort, hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushLayout, randomImage, type BuiltImage } from '../helpers/images.js';
import { hasDocker, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';

const NAME = 'reg.hako.test';
/** This machine's name when it resolves to 127.0.0.1 from /etc/hosts (Debian), else undefined. */
const localName: string | undefined = (() => {
  try {
    const hosts = readFileSync('/etc/hosts', 'utf8');
    return hosts.split('\n').some((l) => /^127\.0\.0\.1\s/.test(l) && l.split(/\s+/).slice(1).includes(hostname())) ? hostname() : undefined;
  } catch {
    return undefined;
  }
})();
const skip = !hasRegistry ? 'docker-registry is not installed' : false;

let work: { path: string; cleanup(): void };
let plainReg: TestRegistry;
let tlsReg: TestRegistry;
let busybox: BuiltImage;
/** Only in the HTTPS registry: pushing it elsewhere uploads its blobs (nothing to mount). */
let random: BuiltImage;
let proxy: Server;
let proxyPort = 0;
let ca: string;
/** What the proxy was asked: `GET http://…`, `CONNECT host:port`, with ` auth=<Proxy-Authorization>`. */
const seen: string[] = [];
const tunnels = new Set<Socket>();
/** When set, the proxy answers 407 without these credentials (`user:password`). */
let requireAuth: string | undefined;
const services: ImageService[] = [];

/** The loopback port behind `reg.hako.test:PORT`, if it is one of the registries. */
function upstreamPort(host: string): number | undefined {
  const m = /^reg\.hako\.test:(\d+)$/.exec(host);
  const port = m ? Number(m[1]) : 0;
  return port === plainReg.port || port === tlsReg.port ? port : undefined;
}

function authorized(req: IncomingMessage): boolean {
  if (!requireAuth) return true;
  return req.headers['proxy-authorization'] === `Basic ${Buffer.from(requireAuth).toString('base64')}`;
}

function forward(req: IncomingMessage, res: ServerResponse): void {
  seen.push(`${req.method} ${req.url} auth=${req.headers['proxy-authorization'] ?? '-'}`);
  if (!authorized(req)) {
    res.writeHead(407, { 'Proxy-Authenticate': 'Basic realm="test"' }).end();
    return;
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end('absolute URIs only');
    return;
  }
  const port = url.protocol === 'http:' ? upstreamPort(url.host) : undefined;
  if (port === undefined) {
    res.writeHead(502).end(`this proxy only knows ${NAME}`);
    return;
  }
  const headers = { ...req.headers };
  delete headers['proxy-authorization'];
  const up = httpRequest({ host: '127.0.0.1', port, method: req.method, path: url.pathname + url.search, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

function tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
  seen.push(`CONNECT ${req.url} auth=${req.headers['proxy-authorization'] ?? '-'}`);
  if (!authorized(req)) {
    client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
    return;
  }
  const port = upstreamPort(req.url ?? '');
  if (port === undefined) {
    client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    return;
  }
  tunnels.add(client);
  client.on('close', () => tunnels.delete(client));
  const upstream = connect(port, '127.0.0.1', () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  client.on('end', () => upstream.end());
  upstream.on('close', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
}

function service(env: ProxyEnv, opts: { insecure?: string[] } = {}): ImageService {
  const root = join(work.path, `root-${services.length}`);
  const certsDir = join(root, 'certs.d');
  mkdirSync(join(certsDir, `${NAME}:${tlsReg.port}`), { recursive: true });
  copyFileSync(ca, join(certsDir, `${NAME}:${tlsReg.port}`, 'ca.crt'));
  const svc = new ImageService({ root, certsDir, insecureRegistries: opts.insecure, dockerConfigPath: join(root, 'config.json'), proxyEnv: env });
  services.push(svc);
  return svc;
}

before(async () => {
  if (skip) return;
  work = tempDir('hako-regproxy-');
  const d = work.path;
  ca = join(d, 'ca.crt');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', join(d, 'ca.key'), '-out', ca, '-days', '1', '-subj', '/CN=hako-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', join(d, 'srv.key'), '-out', join(d, 'srv.csr'), '-subj', `/CN=${NAME}`], { stdio: 'ignore' });
  writeFileSync(join(d, 'san.ext'), `subjectAltName=DNS:${NAME},IP:127.0.0.1\n`);
  execFileSync('openssl', ['x509', '-req', '-in', join(d, 'srv.csr'), '-CA', ca, '-CAkey', join(d, 'ca.key'), '-CAcreateserial', '-out', join(d, 'srv.crt'), '-days', '1', '-extfile', join(d, 'san.ext')], { stdio: 'ignore' });
  tlsReg = await startRegistry({ tls: { certPath: join(d, 'srv.crt'), keyPath: join(d, 'srv.key') } });
  plainReg = await startRegistry();
  busybox = busyboxImage();
  await pushLayout(busybox, tlsReg.host, 'test/busybox');
  await pushLayout(busybox, plainReg.host, 'test/busybox');
  random = randomImage(64 << 10);
  await pushLayout(random, tlsReg.host, 'test/random');
  proxy = createServer(forward);
  proxy.on('connect', tunnel);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as { port: number }).port;
});

after(async () => {
  for (const s of services) s.close();
  for (const t of tunnels) t.destroy();
  if (proxy) {
    proxy.closeAllConnections();
    await new Promise((r) => proxy.close(r));
  }
  await tlsReg?.stop();
  await plainReg?.stop();
  busybox?.cleanup();
  random?.cleanup();
  work?.cleanup();
});

const auth = (creds: string): string => `Basic ${Buffer.from(creds).toString('base64')}`;

test('a plain-HTTP registry through HTTP_PROXY: absolute-URI requests with Proxy-Authorization, the TLS probe through HTTPS_PROXY; pull and push', { skip }, async () => {
  seen.length = 0;
  requireAuth = 'hako:s3cret';
  try {
    const domain = `${NAME}:${plainReg.port}`;
    const svc = service({ HTTP_PROXY: `http://hako:s3cret@127.0.0.1:${proxyPort}`, HTTPS_PROXY: `http://hako:s3cret@127.0.0.1:${proxyPort}` }, { insecure: [domain] });
    const r = await svc.pull(`${domain}/test/busybox`);
    assert.equal(r.id, busybox.manifests[0]!.config.digest);
    // The "does it speak TLS?" probe went through a tunnel; everything else as absolute URIs.
    assert.ok(seen.includes(`CONNECT ${domain} auth=${auth('hako:s3cret')}`), seen.join('\n'));
    assert.ok(seen.includes(`GET http://${domain}/v2/test/busybox/manifests/latest auth=${auth('hako:s3cret')}`), seen.join('\n'));
    assert.ok(seen.some((l) => l.startsWith(`GET http://${domain}/v2/test/busybox/blobs/sha256:`)), seen.join('\n'));
    assert.deepEqual(seen.filter((l) => !l.endsWith(`auth=${auth('hako:s3cret')}`)), [], 'every request carries the proxy credentials');
    assert.ok(plainReg.count('GET', '/v2/test/busybox/manifests/latest') >= 1, 'the registry answered');

    // Push what came from the other registry: nothing to mount, so the blobs are uploaded.
    const tls = `${NAME}:${tlsReg.port}`;
    await svc.pull(`${tls}/test/random`);
    seen.length = 0;
    await svc.tag(`${tls}/test/random`, `${domain}/test/copy:1`);
    const pushed = await svc.push(`${domain}/test/copy:1`);
    assert.match(pushed.message, /^1: digest: sha256:/);
    assert.ok(seen.some((l) => l.startsWith(`PUT http://${domain}/v2/test/copy/manifests/1 `)), seen.join('\n'));
    assert.ok(seen.some((l) => l.startsWith(`POST http://${domain}/v2/test/copy/blobs/uploads/ `)), seen.join('\n'));
    // The upload Location the registry gives is followed through the proxy as well.
    assert.ok(seen.some((l) => new RegExp(`^PUT http://${domain.replace(/\./g, '\\.')}/v2/test/copy/blobs/uploads/[^ ]*digest=sha256`).test(l)), seen.join('\n'));
    assert.ok(plainReg.count('PUT', '/v2/test/copy/manifests/1') >= 1);
  } finally {
    requireAuth = undefined;
  }
});

test('an HTTPS registry through HTTPS_PROXY: CONNECT tunnels, the certificate verified for the registry name (certs.d); pull and push', { skip }, async () => {
  seen.length = 0;
  const domain = `${NAME}:${tlsReg.port}`;
  const svc = service({ https_proxy: `127.0.0.1:${proxyPort}` });
  const r = await svc.pull(`${domain}/test/busybox`);
  assert.equal(r.id, busybox.manifests[0]!.config.digest);
  assert.ok(seen.length >= 1, 'the proxy was asked');
  assert.deepEqual(new Set(seen), new Set([`CONNECT ${domain} auth=-`]), 'only CONNECTs to the registry');
  assert.ok(seen.length <= 4, `keep-alive connections through the tunnels are reused (${seen.length} CONNECTs)`);
  await svc.tag(`${domain}/test/busybox`, `${domain}/test/copy:2`);
  assert.match((await svc.push(`${domain}/test/copy:2`)).message, /^2: digest: sha256:/);
  assert.ok(tlsReg.count('PUT', '/v2/test/copy/manifests/2') >= 1);
});

test('NO_PROXY and loopback registries go direct', { skip: skip || (!localName && `${hostname()} does not resolve to 127.0.0.1 through /etc/hosts`) }, async () => {
  // The registry by this machine's name (127.0.0.1 through /etc/hosts, no DNS query): a name is
  // proxied (only literal loopback addresses and localhost are not), unless NO_PROXY names it.
  const domain = `${localName}:${plainReg.port}`;
  const proxied = { HTTP_PROXY: `127.0.0.1:${proxyPort}`, HTTPS_PROXY: `127.0.0.1:${proxyPort}` };
  seen.length = 0;
  await assert.rejects(service(proxied, { insecure: [domain] }).pull(`${domain}/test/busybox`), /HTTP 502|502|only knows/);
  assert.ok(seen.some((l) => l.startsWith(`GET http://${domain}/v2/`)), seen.join('\n'));
  // Go's NO_PROXY rules: a name matches itself and its subdomains, `.name` subdomains only, an
  // IP entry a target given as that IP only (not a name resolving to it), `*` everything.
  const cases: Array<[string, boolean]> = [[localName!, true], [`${localName}:${plainReg.port}`, true], ['*', true], [`other,${localName}`, true], [`.${localName}`, false], ['127.0.0.1', false], [`${localName}:1`, false]];
  for (const [noProxy, direct] of cases) {
    seen.length = 0;
    const pulled = service({ ...proxied, NO_PROXY: noProxy }, { insecure: [domain] }).pull(`${domain}/test/busybox`);
    if (!direct) {
      // (the proxy's 502, in dockerd's words; its own text is the cause's)
      await assert.rejects(pulled, (e: Error) => /^received unexpected HTTP status: 502 Bad Gateway$/.test(e.message) && /only knows/.test(String((e as { cause?: Error }).cause?.message)), `NO_PROXY=${noProxy}`);
      assert.ok(seen.length > 0, `NO_PROXY=${noProxy}: proxied`);
      continue;
    }
    assert.equal((await pulled).id, busybox.manifests[0]!.config.digest, `NO_PROXY=${noProxy}`);
    assert.deepEqual(seen, [], `NO_PROXY=${noProxy}: the proxy was not asked`);
  }
  // Loopback is never proxied.
  seen.length = 0;
  assert.equal((await service(proxied).pull(`${plainReg.host}/test/busybox`)).id, busybox.manifests[0]!.config.digest);
  assert.deepEqual(seen, []);
});

test('proxy failures name the proxy: not listening, 407 without credentials, CONNECT refused', { skip }, async () => {
  const dead = await freePort();
  const plain = `${NAME}:${plainReg.port}`;
  // Like dockerd 20.10, a proxy that cannot be reached fails the pull at once (no backoff).
  const dialStart = Date.now();
  await assert.rejects(service({ HTTP_PROXY: `http://127.0.0.1:${dead}`, HTTPS_PROXY: `http://127.0.0.1:${dead}` }, { insecure: [plain] }).pull(`${plain}/test/busybox`), (e: Error) => {
    assert.match(e.message, new RegExp(`GET http://${plain.replace(/\./g, '\\.')}/v2/.*: proxyconnect tcp: dial tcp 127\\.0\\.0\\.1:${dead}: connect: connection refused`));
    assert.match(e.message, /HTTP_PROXY/);
    return true;
  });
  const tls = `${NAME}:${tlsReg.port}`;
  await assert.rejects(service({ HTTPS_PROXY: `http://127.0.0.1:${dead}` }).pull(`${tls}/test/busybox`), (e: Error) => {
    assert.match(e.message, new RegExp(`GET https://${tls.replace(/\./g, '\\.')}/v2/.*: proxyconnect tcp: dial tcp 127\\.0\\.0\\.1:${dead}: connect: connection refused`));
    return true;
  });
  assert.ok(Date.now() - dialStart < 800, `two refused pulls took ${Date.now() - dialStart} ms`);
  requireAuth = 'hako:s3cret';
  try {
    await assert.rejects(service({ HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` }, { insecure: [plain] }).pull(`${plain}/test/busybox`), (e: Error) => {
      assert.match(e.message, new RegExp(`the proxy 127\\.0\\.0\\.1:${proxyPort} asks for credentials \\(407 Proxy Authentication Required\\)`));
      return true;
    });
    await assert.rejects(service({ HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` }).pull(`${tls}/test/busybox`), (e: Error) => {
      assert.match(e.message, new RegExp(`proxyconnect: the proxy 127\\.0\\.0\\.1:${proxyPort} refused CONNECT ${tls.replace(/\./g, '\\.')}: 407 Proxy Authentication Required`));
      return true;
    });
  } finally {
    requireAuth = undefined;
  }
  const t0 = Date.now();
  await assert.rejects(service({ HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` }).pull(`${NAME}:1/test/busybox`), /proxyconnect: the proxy 127\.0\.0\.1:\d+ refused CONNECT reg\.hako\.test:1: 403 Forbidden/);
  assert.ok(Date.now() - t0 < 1000, 'a refusal is an answer: not retried with backoff');
});

test('hakod: docker pull and push through the daemon’s HTTP_PROXY', { skip: skip || (!hasDocker && `${DOCKER} is missing`) }, async () => {
  let d: TestDaemon | undefined;
  try {
    d = await startDaemon(['--insecure-registry', `${NAME}:${plainReg.port}`], { env: { ...process.env, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: '' } });
    const docker = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) => execFile(DOCKER, args, { env: d!.env }, (err, stdout, stderr) => (err ? reject(new Error(`docker ${args.join(' ')}: ${stderr}`)) : resolve(stdout))));
    seen.length = 0;
    const plain = `${NAME}:${plainReg.port}`;
    await docker('pull', '-q', `${plain}/test/busybox`);
    assert.ok(seen.some((l) => l.startsWith(`GET http://${plain}/v2/test/busybox/manifests/latest `)), seen.join('\n'));
    await docker('tag', `${plain}/test/busybox`, `${plain}/test/viahakod:1`);
    await docker('push', `${plain}/test/viahakod:1`);
    assert.ok(plainReg.count('PUT', '/v2/test/viahakod/manifests/1') >= 1);
    assert.ok(seen.some((l) => l.startsWith(`PUT http://${plain}/v2/test/viahakod/manifests/1 `)), seen.join('\n'));
  } finally {
    if (d) assert.equal(await d.stop(), 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
});
