// Authentication against a real docker-registry: htpasswd Basic auth and Bearer tokens from a
// tiny token server; login/logout write a Docker-compatible config.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageService } from '../../src/image/images.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { tempDir } from '../helpers/fixtures.js';
import { freePort, hasRegistry, hasHtpasswd, startRegistry, startTokenServer, type TestRegistry, type TokenServer } from '../helpers/registry.js';
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
      // dockerd 20.10.24's words for a Basic challenge without credentials (it HEADs; hako GETs).
      assert.equal(err.message, `Get "http://${reg.host}/v2/private/busybox/manifests/latest": no basic auth credentials`);
      return true;
    });
    // dockerd 20.10.24's words (POST /auth), in-process too; an unreachable registry is Go's request error.
    await assert.rejects(svc.login(reg.host, { username: user, password: 'wrong' }), (err: Error) => {
      assert.equal(err.message, `login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized`);
      return true;
    });
    const port = await freePort();
    await assert.rejects(svc.login(`127.0.0.1:${port}`, { username: user, password: 'x' }), (err: Error) => {
      assert.equal(err.message, `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`);
      return true;
    });
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
    await assert.rejects(svc.pull(`${reg.host}/private/busybox`), /pull access denied for 127\.0\.0\.1:\d+\/private\/busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied/);
    // dockerd 20.10.24's words for a token server's refusal: Go's request error of the ping
    await assert.rejects(svc.login(reg.host, { username: user, password: 'nope' }), (err: Error) => err.message === `Get "http://${reg.host}/v2/": unauthorized: incorrect username or password`);

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

/**
 * Fake credential helpers in a temp dir put on PATH: `hakotest` keeps credentials as files (get
 * answers "credentials not found in native keychain" for unknown servers, like the real ones)
 * and logs every call; `broken` always fails.
 */
function fakeHelpers(): { dir: string; log(): string[]; put(server: string, username: string, secret: string): void; restore(): void } {
  const t = tempDir('hako-credhelper-');
  roots.push(t);
  const store = join(t.path, 'store');
  mkdirSync(store);
  const key = (s: string): string => s.replace(/[/:]/g, '_');
  writeFileSync(
    join(t.path, 'docker-credential-hakotest'),
    `#!/bin/sh
input=$(cat)
echo "$1 $input" >> '${t.path}/log'
case "$1" in
get) f='${store}/'$(printf %s "$input" | tr '/:' '__'); if [ -f "$f" ]; then cat "$f"; else echo 'credentials not found in native keychain'; exit 1; fi ;;
store) server=$(printf %s "$input" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf %s "$input" > '${store}/'$(printf %s "$server" | tr '/:' '__') ;;
erase) f='${store}/'$(printf %s "$input" | tr '/:' '__'); if [ -f "$f" ]; then rm "$f"; else echo 'credentials not found in native keychain'; exit 1; fi ;;
esac
`,
    { mode: 0o755 },
  );
  writeFileSync(join(t.path, 'docker-credential-broken'), '#!/bin/sh\ncat >/dev/null\necho "boom: keyring locked" >&2\nexit 3\n', { mode: 0o755 });
  const oldPath = process.env.PATH;
  process.env.PATH = `${t.path}:${oldPath}`;
  return {
    dir: t.path,
    log: () => (existsSync(join(t.path, 'log')) ? readFileSync(join(t.path, 'log'), 'utf8').trim().split('\n') : []),
    put: (server, username, secret) => writeFileSync(join(store, key(server)), JSON.stringify({ ServerURL: server, Username: username, Secret: secret })),
    restore: () => {
      process.env.PATH = oldPath;
    },
  };
}

test('credential helpers: credHelpers and credsStore run docker-credential-<name> get/store/erase; missing or failing helpers are clear errors', { skip: skip || (!hasHtpasswd && 'htpasswd missing (apt-get install apache2-utils)') }, async () => {
  const reg: TestRegistry = await startRegistry({ basic: { user, password } });
  const helpers = fakeHelpers();
  const services: ImageService[] = [];
  const withConfig = (cfg: unknown): ImageService => {
    const svc = service();
    services.push(svc);
    mkdirSync(join(svc.root, 'docker'), { recursive: true });
    writeFileSync(join(svc.root, 'docker', 'config.json'), JSON.stringify(cfg));
    return svc;
  };
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    const ref = `${reg.host}/private/busybox`;

    // credHelpers for this registry: nothing stored yet → anonymous → the usual message.
    const svc = withConfig({ credHelpers: { [reg.host]: 'hakotest' }, credsStore: 'broken' });
    await assert.rejects(svc.pull(ref), /Get "http:\/\/127\.0\.0\.1:\d+\/v2\/private\/busybox\/manifests\/latest": no basic auth credentials$/);
    assert.deepEqual(helpers.log(), [`get ${reg.host}`]);
    // login stores through the helper; config.json keeps an empty auths entry, no secret.
    await svc.login(reg.host, { username: user, password });
    assert.ok(helpers.log().includes(`store {"ServerURL":"${reg.host}","Username":"${user}","Secret":"${password}"}`), helpers.log().join('\n'));
    const cfg = JSON.parse(readFileSync(join(svc.root, 'docker', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    assert.deepEqual(cfg.auths, { [reg.host]: {} });
    assert.equal((await svc.pull(ref)).id, busybox.manifests[0]!.config.digest);
    assert.equal(await svc.logout(reg.host), true);
    assert.equal(helpers.log().at(-1), `erase ${reg.host}`);

    // credsStore for every registry: the helper's answer is used.
    helpers.put(reg.host, user, password);
    const viaStore = withConfig({ credsStore: 'hakotest' });
    assert.equal((await viaStore.pull(ref)).id, busybox.manifests[0]!.config.digest);
    // A helper that fails, or is not installed: the error says which and why.
    const broken = withConfig({ credsStore: 'broken' });
    await assert.rejects(broken.pull(ref), (e: Error) => {
      assert.equal(e.message, `pull ${ref}:latest: credential helper docker-credential-broken get ${reg.host}: boom: keyring locked`);
      return true;
    });
    const missing = withConfig({ credHelpers: { [reg.host]: 'nosuchhelper' } });
    await assert.rejects(missing.pull(ref), /credential helper docker-credential-nosuchhelper is not installed \(not found in PATH\)/);
    // A wrong password from the helper.
    helpers.put(reg.host, user, 'wrong');
    const wrong = withConfig({ credsStore: 'hakotest' });
    await assert.rejects(wrong.pull(ref), /unauthorized: authentication required/);
    for (const s of [broken, missing, wrong]) assert.deepEqual(await s.list(), []);
  } finally {
    for (const s of services) s.close();
    helpers.restore();
    await reg.stop();
  }
});

test('identity tokens: a helper answering user <token> makes an OAuth2 refresh_token request', { skip }, async () => {
  const tokens: TokenServer = await startTokenServer({ user, password, identityToken: 'refresh-me' });
  const reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath } });
  const helpers = fakeHelpers();
  const svc = service();
  const bad = service();
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    for (const s of [svc, bad]) {
      mkdirSync(join(s.root, 'docker'), { recursive: true });
      writeFileSync(join(s.root, 'docker', 'config.json'), JSON.stringify({ credHelpers: { [reg.host]: 'hakotest' } }));
    }
    helpers.put(reg.host, '<token>', 'refresh-me');
    const before = tokens.requests.length;
    assert.equal((await svc.pull(`${reg.host}/private/busybox`)).id, busybox.manifests[0]!.config.digest);
    assert.ok(tokens.requests.slice(before).some((r) => r.user === user && r.scopes.includes('repository:private/busybox:pull')));
    helpers.put(reg.host, '<token>', 'stale');
    await assert.rejects(bad.pull(`${reg.host}/private/busybox`), /Get "http:\/\/[^"]*\/manifests\/latest": unauthorized: invalid refresh token/);
  } finally {
    svc.close();
    bad.close();
    helpers.restore();
    await reg.stop();
    await tokens.stop();
  }
});
