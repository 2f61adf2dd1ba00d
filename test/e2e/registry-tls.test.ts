// Registries over HTTPS (docker-registry with a certificate from a CA the test makes): loopback
// registries are insecure like in docker (unverified TLS, else HTTP); a registry reached by name
// needs its CA in certs.d/<host:port>/ (never the system store); --insecure-registry skips the
// verification and falls back to plain HTTP when the registry does not speak TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from '../helpers/images.js';

const skip = !hasRegistry ? 'docker-registry is not installed' : false;

let work: { path: string; cleanup(): void };
let tlsReg: TestRegistry;
let plainReg: TestRegistry;
let busybox: BuiltImage;
/** A name for this machine that resolves to a loopback address (the hostname, on Debian). */
const name: string | undefined = await lookup(hostname(), { family: 4 }).then(
  (a) => (/^127\./.test(a.address) ? hostname() : undefined),
  () => undefined,
);
let ca: string;
const services: ImageService[] = [];

function service(opts: { certs?: Record<string, string>; insecure?: string[] } = {}): ImageService {
  const root = join(work.path, `root-${services.length}`);
  const certsDir = join(root, 'certs.d');
  mkdirSync(certsDir, { recursive: true });
  for (const [host, file] of Object.entries(opts.certs ?? {})) {
    mkdirSync(join(certsDir, host), { recursive: true });
    copyFileSync(file, join(certsDir, host, 'ca.crt'));
  }
  const svc = new ImageService({ root, certsDir, insecureRegistries: opts.insecure, dockerConfigPath: join(root, 'config.json') });
  services.push(svc);
  return svc;
}

before(async () => {
  if (skip) return;
  work = tempDir('hako-tls-');
  // A CA, and a server certificate it signs for the hostname, localhost and 127.0.0.1.
  const d = work.path;
  ca = join(d, 'ca.crt');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', join(d, 'ca.key'), '-out', ca, '-days', '1', '-subj', '/CN=hako-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', join(d, 'srv.key'), '-out', join(d, 'srv.csr'), '-subj', `/CN=${name ?? 'localhost'}`], { stdio: 'ignore' });
  writeFileSync(join(d, 'san.ext'), `subjectAltName=DNS:${name ?? 'localhost'},DNS:localhost,IP:127.0.0.1\n`);
  execFileSync('openssl', ['x509', '-req', '-in', join(d, 'srv.csr'), '-CA', ca, '-CAkey', join(d, 'ca.key'), '-CAcreateserial', '-out', join(d, 'srv.crt'), '-days', '1', '-extfile', join(d, 'san.ext')], { stdio: 'ignore' });
  tlsReg = await startRegistry({ tls: { certPath: join(d, 'srv.crt'), keyPath: join(d, 'srv.key') } });
  plainReg = await startRegistry();
  busybox = busyboxImage();
  await pushLayout(busybox, tlsReg.host, 'test/busybox');
  await pushLayout(busybox, plainReg.host, 'test/busybox');
});

after(async () => {
  for (const s of services) s.close();
  await tlsReg?.stop();
  await plainReg?.stop();
  busybox?.cleanup();
  work?.cleanup();
});

test('a loopback registry over HTTPS: insecure by default like in docker, so unverified TLS works', { skip }, async () => {
  const svc = service();
  const r = await svc.pull(`${tlsReg.host}/test/busybox`);
  assert.equal(r.id, busybox.manifests[0]!.config.digest);
  assert.ok(tlsReg.count('GET', '/v2/test/busybox/manifests/latest') >= 1);
  // And a loopback registry over plain HTTP still works (the TLS probe falls back).
  assert.equal((await service().pull(`${plainReg.host}/test/busybox`)).id, r.id);
});

test('an HTTPS registry by name: its CA from certs.d/<host:port>/ca.crt; without it a clear, unretried error; --insecure-registry skips verification', { skip: skip || (!name && `${hostname()} does not resolve to a loopback address`) }, async () => {
  const domain = `${name}:${tlsReg.port}`;
  const ref = `${domain}/test/busybox`;
  const t0 = Date.now();
  await assert.rejects(service().pull(ref), (e: Error) => {
    assert.match(e.message, new RegExp(`^pull ${ref}:latest: GET https://${domain}/v2/.*: TLS certificate not trusted: .*(self-signed|unable to (verify|get local issuer))`, 'i'));
    assert.match(e.message, /ca\.crt, or mark .* as an insecure registry/);
    return true;
  });
  assert.ok(Date.now() - t0 < 3000, 'a certificate error is not retried with backoff');
  const trusted = service({ certs: { [domain]: ca } });
  assert.equal((await trusted.pull(ref)).id, busybox.manifests[0]!.config.digest);
  // Trust is per registry: the CA under another name does not apply.
  await assert.rejects(service({ certs: { [`${name}:1`]: ca } }).pull(ref), /TLS certificate not trusted/);
  const insecure = service({ insecure: [domain] });
  assert.equal((await insecure.pull(ref)).id, busybox.manifests[0]!.config.digest);
  // Push through the verified connection too.
  await trusted.tag(ref, `${domain}/test/copy:1`);
  const pushed = await trusted.push(`${domain}/test/copy:1`);
  assert.match(pushed.message, /^1: digest: sha256:/);
});

test('a plain-HTTP registry by name: --insecure-registry falls back from TLS to HTTP; without it the error says so', { skip: skip || (!name && `${hostname()} does not resolve to a loopback address`) }, async () => {
  const domain = `${name}:${plainReg.port}`;
  const ref = `${domain}/test/busybox`;
  assert.equal((await service({ insecure: [domain] }).pull(ref)).id, busybox.manifests[0]!.config.digest);
  await assert.rejects(service().pull(ref), (e: Error) => {
    assert.match(e.message, /TLS handshake failed: .*a plain-HTTP registry must be an insecure registry \(--insecure-registry /);
    return true;
  });
});
