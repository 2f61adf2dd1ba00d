// Authentication against a real docker-registry: htpasswd Basic auth and Bearer tokens from a
// tiny token server; login/logout write a Docker-compatible config.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { tempDir } from '../helpers/fixtures.js';
import { hasRegistry, hasHtpasswd, startRegistry, startTokenServer, type TestRegistry, type TokenServer } from '../helpers/registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from '../helpers/images.js';

const skip = !hasRegistry ? 'docker-registry is not installed' : false;
const user = 'hako';
const password = 's3cret!';

let busybox: BuiltImage;
const roots: { cleanup(): void }[] = [];

function service(): ImageService {
  const t = tempDir('hako-root-');
  roots.push(t);
  return new ImageService({ root: t.path, dockerConfigPath: join(t.path, 'docker', 'config.json') });
}

before(() => {
  if (!skip) busybox = busyboxImage();
});
after(() => {
  busybox?.cleanup();
  for (const r of roots) r.cleanup();
});

test('Basic auth: clear errors without or with wrong credentials; login, pull, logout', { skip: skip || (!hasHtpasswd && 'htpasswd missing (apt-get install apache2-utils)') }, async () => {
  const reg: TestRegistry = await startRegistry({ basic: { user, password } });
  const svc = service();
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    await assert.rejects(svc.pull(`${reg.host}/private/busybox`), (err: Error) => {
      assert.equal(err.message, `pull ${reg.host}/private/busybox:latest: authentication required for ${reg.host} (run hako login)`);
      return true;
    });
    await assert.rejects(svc.login(reg.host, { username: user, password: 'wrong' }), new RegExp(`login to ${reg.host.replace(/\./g, '\\.')}: authentication failed for ${reg.host.replace(/\./g, '\\.')}`));
    const cfgPath = join(svc.root, 'docker', 'config.json');
    assert.ok(!existsSync(cfgPath), 'a failed login writes nothing');
    await svc.login(reg.host, { username: user, password });
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString(), `${user}:${password}`);
    assert.equal(statSync(cfgPath).mode & 0o777, 0o600);
    const res = await svc.pull(`${reg.host}/private/busybox`);
    assert.equal(res.id, busybox.manifests[0]!.config.digest);
    assert.equal(await svc.logout(reg.host), true);
    assert.deepEqual(JSON.parse(readFileSync(cfgPath, 'utf8')).auths, {});
  } finally {
    svc.close();
    await reg.stop();
  }
});

test('Bearer tokens: anonymous pull of a public repo, login for private pull and push with mount', { skip }, async () => {
  const tokens: TokenServer = await startTokenServer({ user, password });
  const reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath } });
  const svc = service();
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'public/busybox', 'latest', authed);
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    assert.ok(tokens.requests.some((r) => r.user === user && r.scopes.includes('repository:private/busybox:pull,push')));

    // Anonymous: the public repository works, the private one asks for a login.
    const pub = await svc.pull(`${reg.host}/public/busybox`);
    assert.equal(pub.manifestDigest, busybox.top.digest);
    assert.ok(tokens.requests.some((r) => r.user === undefined && r.scopes.includes('repository:public/busybox:pull')));
    await assert.rejects(svc.pull(`${reg.host}/private/busybox`), /authentication required for 127\.0\.0\.1:\d+ \(run hako login\)/);
    await assert.rejects(svc.login(reg.host, { username: user, password: 'nope' }), /authentication failed for .*incorrect username or password/);

    await svc.login(reg.host, { username: user, password });
    const priv = await svc.pull(`${reg.host}/private/busybox`);
    assert.equal(priv.id, pub.id);
    // Push to a new repository: blobs mount from private/busybox with a token for both scopes.
    await svc.tag(priv.id, `${reg.host}/private/copy:1`);
    const pushed = await svc.push(`${reg.host}/private/copy:1`);
    assert.equal(pushed.mounted, 2);
    assert.ok(tokens.requests.some((r) => r.scopes.includes('repository:private/copy:pull,push') && r.scopes.some((s) => s.endsWith(':pull') && s.includes('busybox'))));
  } finally {
    svc.close();
    await reg.stop();
    await tokens.stop();
  }
});
