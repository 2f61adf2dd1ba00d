// Credentials through hakod, as docker does it: the client keeps them (docker login stores them in
// its config.json after hakod's POST /auth checked them) and sends them with each pull and push in
// the X-Registry-Auth header; hakod keeps nothing. Driven by the real docker CLI (and the hako CLI)
// against docker-registry with htpasswd Basic auth, and with Bearer tokens from the test token
// server (username/password, identitytoken, registrytoken).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegistryClient } from '../../src/image/registry/client.js';
import { DOCKER, hasDocker, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry, hasHtpasswd, startRegistry, startTokenServer, type TestRegistry, type TokenServer } from '../helpers/registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from '../helpers/images.js';

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.cjs');
const skip = !hasRegistry ? 'docker-registry is not installed (apt-get install docker-registry)' : !hasDocker ? `the docker CLI is not installed (${DOCKER})` : false;
const user = 'hako';
const password = 's3cret!';

let busybox: BuiltImage;
before(() => {
  if (!skip) busybox = busyboxImage();
});
after(() => busybox?.cleanup());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking this process (the token server answers from it). */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number) ?? 1 : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    p.stdin?.end(input);
  });
}
const docker = (d: TestDaemon, args: string[], input?: string): Promise<Run> => run(DOCKER, args, d.env, input);
const hako = (d: TestDaemon, args: string[], input?: string): Promise<Run> => run(process.execPath, [HAKO, ...args], { ...d.env, NODE_EXTRA_CA_CERTS: '' }, input);

/** Writes the client's config.json (DOCKER_CONFIG of the daemon's env). */
function writeClientConfig(d: TestDaemon, cfg: unknown): void {
  const path = join(d.env.DOCKER_CONFIG!, 'config.json');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(cfg));
}
const basicAuth = (u: string, p: string): string => Buffer.from(`${u}:${p}`).toString('base64');
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('docker CLI → hakod with a Basic-auth registry: login checks, pull and push send X-Registry-Auth, bad or missing credentials fail like docker', { skip: skip || (!hasHtpasswd && 'htpasswd missing (apt-get install apache2-utils)') }, async () => {
  const reg: TestRegistry = await startRegistry({ basic: { user, password } });
  const d = await startDaemon();
  const homeConfig = join(homedir(), '.docker', 'config.json');
  const homeBefore = existsSync(homeConfig) ? readFileSync(homeConfig, 'utf8') : undefined;
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    const ref = `${reg.host}/private/busybox`;

    // No credentials: an error answer before any progress, as dockerd gives it.
    let r = await docker(d, ['pull', ref]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^Error response from daemon: Get "http://${esc(reg.host)}/v2/private/busybox/manifests/latest": no basic auth credentials$`, 'm'));
    assert.doesNotMatch(r.stdout, /Pulling from/);

    // login checks the password through hakod and stores nothing on a failure.
    r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], 'wrong\n');
    assert.equal(r.code, 1);
    // dockerd 20.10.24 lab, word for word (a 500 to POST /auth):
    assert.equal(r.stderr, `Error response from daemon: login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized\n`);
    const wrong = await d.request('POST', '/auth', JSON.stringify({ username: user, password: 'wrong', serveraddress: reg.host }), { 'Content-Type': 'application/json' });
    assert.equal(wrong.status, 500);
    assert.deepEqual(JSON.parse(wrong.body.toString()), { message: `login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized` });
    // Nothing listening: Go's request error (lab: `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`).
    r = await docker(d, ['login', '-u', user, '--password-stdin', '127.0.0.1:1'], 'wrong\n');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n');
    assert.ok(!existsSync(join(d.env.DOCKER_CONFIG!, 'config.json')) || !readFileSync(join(d.env.DOCKER_CONFIG!, 'config.json'), 'utf8').includes(reg.host));
    r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Login Succeeded/);
    const cfg = JSON.parse(readFileSync(join(d.env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(cfg.auths[reg.host]?.auth, basicAuth(user, password));

    r = await docker(d, ['pull', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /latest: Pulling from private\/busybox/);
    assert.match(r.stdout, /Status: Downloaded newer image for /);
    r = await docker(d, ['tag', ref, `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);

    // The daemon kept nothing: with the client's credentials gone, it is anonymous again.
    writeClientConfig(d, { auths: {} });
    r = await docker(d, ['pull', ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error response from daemon: Get "http:\/\/[^"]*\/manifests\/latest": no basic auth credentials$/m);
    r = await docker(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /The push refers to repository/);
    assert.match(r.stderr, /^no basic auth credentials$/m);

    // Wrong credentials: dockerd 20.10.24's words (the registry's), a 500.
    writeClientConfig(d, { auths: { [reg.host]: { auth: basicAuth(user, 'wrong') } } });
    r = await docker(d, ['pull', ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error response from daemon: unauthorized: authentication required$/m);
    r = await docker(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^unauthorized: authentication required$/m);

    // The hako CLI sends the header from the same config.json; it names the fix after dockerd's words.
    r = await hako(d, ['pull', '-q', ref]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error response from daemon: unauthorized: authentication required (run hako login)\n');
    r = await hako(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^unauthorized: authentication required \(run hako login\)$/m);
    writeClientConfig(d, { auths: {} });
    r = await hako(d, ['pull', '-q', ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^Error response from daemon: Get "http://[^"]*/manifests/latest": no basic auth credentials \\(run hako login ${reg.host.replace(/\./g, '\\.')}\\)$`, 'm'));
    writeClientConfig(d, { auths: { [`http://${reg.host}/v2/`]: { auth: basicAuth(user, password) } } });
    r = await hako(d, ['pull', '-q', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `${ref}:latest`);
    r = await hako(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    // hako login/logout: checked by hakod, kept in the client's config.json only.
    writeClientConfig(d, {});
    r = await hako(d, ['login', '-u', user, '--password-stdin', reg.host], 'wrong\n');
    assert.equal(r.code, 1);
    // What the docker CLI prints (hako's own words stay for in-process callers).
    assert.equal(r.stderr, `Error response from daemon: login attempt to http://${reg.host}/v2/ failed with status: 401 Unauthorized\n`);
    r = await hako(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(readFileSync(join(d.env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> }).auths[reg.host]?.auth, basicAuth(user, password));
    // The docker CLI 28's words when it writes the credentials into the file; none when the
    // file already held exactly these (a second login); again when the entry differs (an email).
    const cfgFile = join(d.env.DOCKER_CONFIG!, 'config.json');
    const warning = `\nWARNING! Your credentials are stored unencrypted in '${cfgFile}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n`;
    assert.deepEqual([r.stdout, r.stderr], ['Login Succeeded\n', warning]);
    r = await hako(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Login Succeeded\n', '']);
    writeClientConfig(d, { auths: { [reg.host]: { auth: basicAuth(user, password), email: 'x@y' } } });
    r = await hako(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Login Succeeded\n', warning]);
    // (the docker CLI 28 against hakod, the same three steps)
    writeClientConfig(d, {});
    for (const want of [warning, '']) {
      r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
      assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'Login Succeeded\n', want]);
    }
    r = await docker(d, ['pull', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    r = await hako(d, ['logout', reg.host]);
    assert.equal(r.stdout, `Removing login credentials for ${reg.host}\n`);
    r = await hako(d, ['logout', reg.host]);
    assert.equal(r.stdout, `Not logged in to ${reg.host}\n`);

    // A malformed header is a 400 naming it.
    const bad = await d.request('POST', `/images/create?fromImage=${encodeURIComponent(ref)}&tag=latest`, '', { 'X-Registry-Auth': '!!not base64 json' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /invalid X-Registry-Auth header/);
    // The daemon wrote no credentials of its own anywhere it would read them.
    assert.equal(existsSync(homeConfig) ? readFileSync(homeConfig, 'utf8') : undefined, homeBefore);
  } finally {
    await d.stop();
    await reg.stop();
  }
});

test('docker CLI → hakod with a token registry: anonymous public pull, login, identitytoken and registrytoken', { skip }, async () => {
  const tokens: TokenServer = await startTokenServer({ user, password, identityToken: 'refresh-me' });
  const reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath } });
  const d = await startDaemon();
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'public/busybox', 'latest', authed);
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    const priv = `${reg.host}/private/busybox`;

    let r = await docker(d, ['pull', `${reg.host}/public/busybox`]);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, ['pull', priv]);
    assert.equal(r.code, 1);
    // dockerd 20.10.24 lab (a token without access: the registry's insufficient_scope), a 404:
    assert.match(r.stderr, new RegExp(`^Error response from daemon: pull access denied for ${esc(priv)}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied$`, 'm'));

    r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], 'nope\n');
    assert.equal(r.code, 1);
    // dockerd 20.10.24 lab: the token server's refusal as the /v2/ request's error, a 500.
    assert.equal(r.stderr, `Error response from daemon: Get "http://${reg.host}/v2/": unauthorized: incorrect username or password\n`);
    const nope = await d.request('POST', '/auth', JSON.stringify({ username: user, password: 'nope', serveraddress: reg.host }), { 'Content-Type': 'application/json' });
    assert.equal(nope.status, 500);
    r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.equal(r.code, 0, r.stderr);
    // This token server issues no refresh token: no IdentityToken, the password is kept.
    const noToken = await d.request('POST', '/auth', JSON.stringify({ username: user, password, serveraddress: reg.host }), { 'Content-Type': 'application/json' });
    assert.deepEqual(JSON.parse(noToken.body.toString()), { Status: 'Login Succeeded', IdentityToken: '' });
    const before = tokens.requests.length;
    r = await docker(d, ['pull', priv]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(tokens.requests.slice(before).some((t) => t.user === user && t.scopes.includes('repository:private/busybox:pull')));
    r = await docker(d, ['tag', priv, `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, ['push', `${reg.host}/private/copy:v1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Mounted from (public|private)\/busybox/);

    // identitytoken (an OAuth2 refresh token) in the client's config: the docker CLI sends it and
    // hakod trades it for a token with a refresh_token grant.
    writeClientConfig(d, { auths: { [reg.host]: { auth: basicAuth(user, ''), identitytoken: 'refresh-me' } } });
    r = await docker(d, ['rmi', priv]);
    assert.equal(r.code, 0, r.stderr);
    r = await docker(d, ['pull', priv]);
    assert.equal(r.code, 0, r.stderr);
    writeClientConfig(d, { auths: { [reg.host]: { auth: basicAuth(user, ''), identitytoken: 'stale' } } });
    r = await docker(d, ['pull', priv]);
    assert.equal(r.code, 1);
    // The token server's refusal as the request's (the form dockerd 20.10.24 gave for a refused password).
    assert.match(r.stderr, /Get "http:\/\/[^"]*\/manifests\/latest": unauthorized: invalid refresh token/);

    // registrytoken: the bearer token itself, sent to the registry as is.
    const tokenAnswer = await fetch(`${tokens.realm}?service=${tokens.service}&scope=repository:private/busybox:pull`, { headers: { Authorization: `Basic ${basicAuth(user, password)}` } });
    const { token } = (await tokenAnswer.json()) as { token: string };
    const header = (a: unknown): string => Buffer.from(JSON.stringify(a)).toString('base64url');
    const ok = await d.request('POST', `/images/create?fromImage=${encodeURIComponent(priv)}&tag=latest`, '', { 'X-Registry-Auth': header({ registrytoken: token, serveraddress: reg.host }) });
    assert.equal(ok.status, 200);
    const lines = ok.body.toString().trim().split('\n').map((l) => JSON.parse(l) as { status?: string; error?: string });
    assert.ok(lines.every((l) => l.error === undefined), ok.body.toString());
    assert.match(lines[lines.length - 1]!.status ?? '', /^Status: /);
    const refused = await d.request('POST', `/images/create?fromImage=${encodeURIComponent(priv)}&tag=latest`, '', { 'X-Registry-Auth': header({ registrytoken: 'garbage' }) });
    assert.equal(refused.status, 500, 'not 401: the docker CLI would prompt for a login');
    // What the registry says of the token, as dockerd passes it on.
    assert.equal(JSON.parse(refused.body.toString()).message, 'unauthorized: authentication required');
  } finally {
    await d.stop();
    await reg.stop();
    await tokens.stop();
  }
});

test('POST /auth returns the refresh token the token server issues to docker’s login (offline_token) as IdentityToken; docker login and hako login store it and pulls use it', { skip }, async () => {
  const tokens: TokenServer = await startTokenServer({ user, password, identityToken: 'issued-refresh', issueRefreshToken: true });
  const reg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath } });
  const d = await startDaemon();
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(busybox, reg.host, 'private/busybox', 'latest', authed);
    authed.close();
    const priv = `${reg.host}/private/busybox`;

    const n = tokens.requests.length;
    const a = await d.request('POST', '/auth', JSON.stringify({ username: user, password, serveraddress: reg.host }), { 'Content-Type': 'application/json' });
    assert.equal(a.status, 200, a.body.toString());
    assert.deepEqual(JSON.parse(a.body.toString()), { Status: 'Login Succeeded', IdentityToken: 'issued-refresh' });
    assert.deepEqual(tokens.requests.slice(n).map((t) => [t.user, t.offline]), [[user, { clientId: 'docker', account: user }]], 'one GET with offline_token=true, client_id=docker, account');
    // Wrong password: refused, no token.
    const bad = await d.request('POST', '/auth', JSON.stringify({ username: user, password: 'nope', serveraddress: reg.host }), { 'Content-Type': 'application/json' });
    assert.notEqual(bad.status, 200);

    // docker login stores the identity token instead of the password; a pull trades it (refresh_token grant).
    let r = await docker(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.equal(r.code, 0, r.stderr);
    const cfgPath = join(d.env.DOCKER_CONFIG!, 'config.json');
    const stored = (JSON.parse(readFileSync(cfgPath, 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> }).auths[reg.host]!;
    assert.equal(stored.identitytoken, 'issued-refresh');
    assert.ok(!Buffer.from(stored.auth ?? '', 'base64').toString().includes(password), 'the password is not stored');
    r = await docker(d, ['pull', priv]);
    assert.equal(r.code, 0, r.stderr);

    // hako login writes the same.
    writeClientConfig(d, {});
    r = await hako(d, ['login', '-u', user, '--password-stdin', reg.host], `${password}\n`);
    assert.equal(r.code, 0, r.stderr);
    const mine = (JSON.parse(readFileSync(cfgPath, 'utf8')) as { auths: Record<string, { auth?: string; identitytoken?: string }> }).auths[reg.host]!;
    assert.deepEqual(mine, { auth: basicAuth(user, ''), identitytoken: 'issued-refresh' });
    r = await hako(d, ['rmi', priv]);
    assert.equal(r.code, 0, r.stderr);
    r = await hako(d, ['pull', priv]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await d.stop();
    await reg.stop();
    await tokens.stop();
  }
});
