// What the docker CLI (and docker-py) pointed at hakod print when a pull or push fails (#3/#4):
// dockerd's words, exit codes and status codes. Every expected string below is what
// dockerd 20.10.24 answered in the lab (docker CLI 28.2.2, Debian's docker-registry on 127.0.0.1,
// htpasswd Basic auth), with the lab's registry address replaced by this test's. Deliberate
// differences: hako names the request it made (it does not ping /v2/ first, and it GETs a
// manifest where dockerd HEADs it first), so an unreachable registry and a missing Basic
// credential name `Get "…/v2/<name>/manifests/<tag>"` where dockerd said `Get "…/v2/"` and `Head …`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER, hasDocker, hasDockerPy, type TestDaemon } from '../helpers/daemon.js';
import { freePort, hasHtpasswd, hasRegistry, startRegistry, startTokenServer, type TestRegistry } from '../helpers/registry.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { pushLayout, randomImage } from '../helpers/images.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';

const skip = !hasRegistry ? 'docker-registry is not installed (apt-get install docker-registry)' : !hasDocker ? `the docker CLI is not installed (${DOCKER})` : !hasHtpasswd ? 'htpasswd missing (apt-get install apache2-utils)' : false;
const user = 'hako';
const password = 's3cret!';

let bb: BusyboxDaemon;
let authReg: TestRegistry;
let d: TestDaemon;
let reg: string;
let authHost: string;

before(async () => {
  if (skip) return;
  bb = await startBusyboxDaemon({ pull: true });
  d = bb.d;
  reg = bb.reg.host;
  authReg = await startRegistry({ basic: { user, password } });
  authHost = authReg.host;
});
after(async () => {
  await authReg?.stop();
  await bb?.stop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (((err as { code?: unknown }).code as number) ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The client's config.json: `auth` for the Basic-auth registry (`u:p`), or none. */
function clientConfig(auth?: string, host = authHost): void {
  const path = join(d.env.DOCKER_CONFIG!, 'config.json');
  mkdirSync(d.env.DOCKER_CONFIG!, { recursive: true });
  writeFileSync(path, JSON.stringify(auth ? { auths: { [host]: { auth: Buffer.from(auth).toString('base64') } } } : {}));
}

const docker = (args: string[]): Promise<Run> => run(DOCKER, args, d.env);

/** The API's status and JSON message for POST /images/create (the error answer before any progress). */
async function createError(query: string, auth?: string): Promise<{ status: number; message: string }> {
  const r = await d.request('POST', `/v1.41/images/create?${query}`, undefined, auth ? { 'X-Registry-Auth': Buffer.from(auth).toString('base64url') } : {});
  return { status: r.status, message: (JSON.parse(r.body.toString()) as { message: string }).message };
}

test('pull of a missing tag, repository or digest: 404 "manifest for <ref> not found: manifest unknown: manifest unknown"', { skip }, async () => {
  clientConfig();
  const zero = `sha256:${'0'.repeat(64)}`;
  for (const ref of [`${reg}/test/busybox:nope`, `${reg}/nosuch:1`, `${reg}/test/busybox@${zero}`]) {
    const r = await docker(['pull', ref]);
    // dockerd 20.10.24 lab: `Error response from daemon: manifest for 127.0.0.1:45001/hw:nope not found: manifest unknown: manifest unknown`, exit 1
    assert.equal(r.stderr, `Error response from daemon: manifest for ${ref} not found: manifest unknown: manifest unknown\n`);
    assert.equal(r.code, 1);
  }
  const at = await createError(`fromImage=${encodeURIComponent(`${reg}/nosuch`)}&tag=1`);
  assert.deepEqual(at, { status: 404, message: `manifest for ${reg}/nosuch:1 not found: manifest unknown: manifest unknown` });
});

test('run and create of an image the registry lacks (implicit pull): dockerd\'s words, exit 125 / 1', { skip }, async () => {
  clientConfig();
  let r = await docker(['run', '--rm', `${reg}/test/busybox:nope`]);
  // dockerd 20.10.24 lab (stderr, exit 125):
  assert.equal(r.stderr, `Unable to find image '${reg}/test/busybox:nope' locally\ndocker: Error response from daemon: manifest for ${reg}/test/busybox:nope not found: manifest unknown: manifest unknown\n\nRun 'docker run --help' for more information\n`);
  assert.equal(r.code, 125);
  r = await docker(['create', `${reg}/nosuch:1`]);
  // dockerd 20.10.24 lab (exit 1):
  assert.equal(r.stderr, `Unable to find image '${reg}/nosuch:1' locally\nError response from daemon: manifest for ${reg}/nosuch:1 not found: manifest unknown: manifest unknown\n`);
  assert.equal(r.code, 1);
});

test('pull -a of a missing repository: 404 "repository <name> not found: name unknown: …"', { skip }, async () => {
  clientConfig();
  const r = await docker(['pull', '-a', `${reg}/nosuch`]);
  // dockerd 20.10.24 lab:
  assert.equal(r.stderr, `Error response from daemon: repository ${reg}/nosuch not found: name unknown: repository name not known to registry\n`);
  assert.equal(r.code, 1);
  assert.deepEqual(await createError(`fromImage=${encodeURIComponent(`${reg}/nosuch`)}`), { status: 404, message: `repository ${reg}/nosuch not found: name unknown: repository name not known to registry` });
});

test('malformed references: 400 in dockerd\'s words (the tag parameter: "invalid tag format")', { skip }, async () => {
  // dockerd 20.10.24 lab: 400 {"message":"invalid tag format"}
  assert.deepEqual(await createError(`fromImage=${encodeURIComponent(`${reg}/test/busybox`)}&tag=bad%21tag`), { status: 400, message: 'invalid tag format' });
  // dockerd 20.10.24 lab: 400 {"message":"invalid reference format: repository name must be lowercase"}
  assert.deepEqual(await createError(`fromImage=${encodeURIComponent(`${reg}/Hw`)}&tag=1`), { status: 400, message: 'invalid reference format: repository name must be lowercase' });
  // dockerd 20.10.24 lab: 400 {"message":"invalid reference format"}
  assert.deepEqual(await createError(`fromImage=${encodeURIComponent(`${reg}/hw@sha256:abc`)}`), { status: 400, message: 'invalid reference format' });
});

test('pull from an unreachable registry: 500, Go\'s request error without hako\'s "pull X:"', { skip }, async () => {
  clientConfig();
  const port = await freePort();
  const r = await docker(['pull', `127.0.0.1:${port}/hw:1`]);
  // dockerd 20.10.24 lab: `Error response from daemon: Get "http://127.0.0.1:45009/v2/": dial tcp 127.0.0.1:45009: connect: connection refused`
  // (hako's request is the manifest's: see the file's comment).
  assert.equal(r.stderr, `Error response from daemon: Get "http://127.0.0.1:${port}/v2/hw/manifests/1": dial tcp 127.0.0.1:${port}: connect: connection refused\n`);
  assert.equal(r.code, 1);
  const e = await createError(`fromImage=127.0.0.1:${port}/hw&tag=1`);
  assert.equal(e.status, 500);
});

test('pull and push with a Basic-auth registry, no or wrong credentials: dockerd\'s words, 500', { skip }, async () => {
  clientConfig();
  let r = await docker(['pull', `${authHost}/hw:1`]);
  // dockerd 20.10.24 lab: `Error response from daemon: Head "http://127.0.0.1:45002/v2/hw/manifests/1": no basic auth credentials` (hako GETs)
  assert.equal(r.stderr, `Error response from daemon: Get "http://${authHost}/v2/hw/manifests/1": no basic auth credentials\n`);
  assert.equal(r.code, 1);
  assert.deepEqual(await createError(`fromImage=${authHost}/hw&tag=1`, '{}'), { status: 500, message: `Get "http://${authHost}/v2/hw/manifests/1": no basic auth credentials` });
  r = await docker(['pull', '-a', `${authHost}/hw`]);
  // dockerd 20.10.24 lab: `Error response from daemon: Get "http://127.0.0.1:45002/v2/hw/tags/list": no basic auth credentials`
  assert.equal(r.stderr, `Error response from daemon: Get "http://${authHost}/v2/hw/tags/list": no basic auth credentials\n`);

  await docker(['tag', bb.image, `${authHost}/hw:2`]);
  r = await docker(['push', `${authHost}/hw:2`]);
  // dockerd 20.10.24 lab: stderr `no basic auth credentials`, exit 1 (an error in the 200 stream)
  assert.equal(r.stderr, 'no basic auth credentials\n');
  assert.equal(r.code, 1);

  clientConfig(`${user}:wrong`);
  r = await docker(['pull', `${authHost}/hw:1`]);
  // dockerd 20.10.24 lab: `Error response from daemon: unauthorized: authentication required`, 500
  assert.equal(r.stderr, 'Error response from daemon: unauthorized: authentication required\n');
  assert.equal(r.code, 1);
  assert.deepEqual(await createError(`fromImage=${authHost}/hw&tag=1`, JSON.stringify({ username: user, password: 'wrong', serveraddress: authHost })), { status: 500, message: 'unauthorized: authentication required' });
  r = await docker(['push', `${authHost}/hw:2`]);
  // dockerd 20.10.24 lab: stderr `unauthorized: authentication required`, exit 1
  assert.equal(r.stderr, 'unauthorized: authentication required\n');
  assert.equal(r.code, 1);
  await docker(['rmi', `${authHost}/hw:2`]);
});

test('push of an image that is not local: the 200 stream\'s error, as dockerd', { skip }, async () => {
  clientConfig();
  const r = await docker(['push', `${reg}/notlocal:1`]);
  // dockerd 20.10.24 lab: stderr `An image does not exist locally with the tag: 127.0.0.1:45001/notlocal`, exit 1
  assert.equal(r.stderr, `An image does not exist locally with the tag: ${reg}/notlocal\n`);
  assert.equal(r.code, 1);
  const api = await d.request('POST', `/v1.41/images/${reg}/notlocal/push?tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
  // dockerd 20.10.24 lab: 200, `The push refers to repository [127.0.0.1:45001/notlocal]`, then the error
  assert.equal(api.status, 200);
  assert.deepEqual(api.body.toString().trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { status: `The push refers to repository [${reg}/notlocal]` },
    { errorDetail: { message: `An image does not exist locally with the tag: ${reg}/notlocal` }, error: `An image does not exist locally with the tag: ${reg}/notlocal` },
  ]);
});

test('docker-py images.pull of a missing tag: docker.errors.NotFound with dockerd\'s message', { skip: skip || (!hasDockerPy && 'docker-py is missing (apt-get install python3-docker)') }, async () => {
  const script = [
    'import docker, sys',
    "c = docker.DockerClient(base_url=sys.argv[1], version='1.41')",
    'try:',
    "    c.images.pull(sys.argv[2], tag='nope')",
    "    print('no error')",
    'except Exception as e:',
    "    print(type(e).__module__ + '.' + type(e).__name__, e.response.status_code, e.explanation)",
  ].join('\n');
  const r = await run('python3', ['-c', script, d.host, `${reg}/test/busybox`], d.env);
  // dockerd 20.10.24 lab: docker.errors.NotFound, 404, "manifest for 127.0.0.1:45001/hw:nope not found: manifest unknown: manifest unknown"
  assert.equal(r.stdout, `docker.errors.NotFound 404 manifest for ${reg}/test/busybox:nope not found: manifest unknown: manifest unknown\n`, r.stderr);
});

test('a Bearer-token registry: no access is 404 "pull access denied …", a refused password the request\'s "unauthorized: …"', { skip }, async () => {
  // The test token server gives anonymous callers pull on public/* only, and refuses a wrong
  // password with {"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}.
  const tokens = await startTokenServer({ user, password });
  const treg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, certPath: tokens.certPath } });
  try {
    const authed = new RegistryClient({ domain: treg.host, credentials: () => ({ username: user, password }) });
    await pushLayout(bb.img, treg.host, 'private/busybox', 'latest', authed);
    authed.close();
    clientConfig();
    for (const name of [`${treg.host}/private/busybox`, `${treg.host}/private/nosuch`]) {
      const r = await docker(['pull', `${name}:latest`]);
      // dockerd 20.10.24 lab: `Error response from daemon: pull access denied for 127.0.0.1:45081/private/busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied`
      assert.equal(r.stderr, `Error response from daemon: pull access denied for ${name}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied\n`);
      assert.equal(r.code, 1);
    }
    const api = await createError(`fromImage=${treg.host}/private/busybox&tag=latest`);
    // dockerd 20.10.24 lab: 404
    assert.equal(api.status, 404);
    await docker(['tag', bb.image, `${treg.host}/private/hw:1`]);
    let r = await docker(['push', `${treg.host}/private/hw:1`]);
    // dockerd 20.10.24 lab: stderr `denied: requested access to the resource is denied`, exit 1
    assert.equal(r.stderr, 'denied: requested access to the resource is denied\n');
    assert.equal(r.code, 1);

    clientConfig(`${user}:wrong`, treg.host);
    r = await docker(['pull', `${treg.host}/private/busybox:latest`]);
    // dockerd 20.10.24 lab: `Error response from daemon: Head "http://127.0.0.1:45081/v2/private/busybox/manifests/latest": unauthorized: incorrect username or password` (hako GETs)
    assert.equal(r.stderr, `Error response from daemon: Get "http://${treg.host}/v2/private/busybox/manifests/latest": unauthorized: incorrect username or password\n`);
    assert.equal(r.code, 1);
    r = await docker(['push', `${treg.host}/private/hw:1`]);
    // dockerd 20.10.24 lab: stderr `unauthorized: incorrect username or password`, exit 1
    assert.equal(r.stderr, 'unauthorized: incorrect username or password\n');
    assert.equal(r.code, 1);
    await docker(['rmi', `${treg.host}/private/hw:1`]);
  } finally {
    await treg.stop();
    await tokens.stop();
  }
});

test('a registry answering 500/502/503: dockerd\'s "received unexpected HTTP status: …" for pull (500) and push (the stream\'s error)', { skip }, async () => {
  // A proxy in front of the test registry that answers 5xx where the path says: a tag s5NN (the
  // manifest), a repository u5NN/… (a push's upload) or m5NN/… (a push's manifest PUT). dockerd
  // reads no body of a 5xx (both a JSON one and a text one were tried in the lab).
  const { createServer, request } = await import('node:http');
  const target = Number(reg.split(':')[1]);
  // An image this daemon has none of (busybox's config it has): its config blob answers 503.
  const other = randomImage(1000);
  const otherConfig = other.manifests[0]!.config.digest;
  await pushLayout(other, reg, 'test/other', 'latest');
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    const m = (url.endsWith(`/blobs/${otherConfig}`) && ['', '503']) || /\/manifests\/s(5\d\d)$/.exec(url) || (req.method === 'POST' && /^\/v2\/u(5\d\d)\/[^/]+\/blobs\/uploads\//.exec(url)) || (req.method === 'PUT' && /^\/v2\/m(5\d\d)\/[^/]+\/manifests\//.exec(url));
    if (m) {
      req.resume();
      req.on('end', () => {
        res.writeHead(Number(m[1]), { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'the registry is down' }] }));
      });
      return;
    }
    const up = request({ host: '127.0.0.1', port: target, method: req.method, path: url, headers: { ...req.headers, host: `127.0.0.1:${target}` } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const proxy = `127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    clientConfig();
    for (const [status, words] of [[500, 'Internal Server Error'], [502, 'Bad Gateway'], [503, 'Service Unavailable']] as const) {
      const r = await docker(['pull', `${proxy}/test/busybox:s${status}`]);
      // dockerd 20.10.24 lab: `Error response from daemon: received unexpected HTTP status: 503 Service Unavailable`, exit 1; the API 500
      assert.equal(r.stderr, `Error response from daemon: received unexpected HTTP status: ${status} ${words}\n`);
      assert.equal(r.code, 1);
      assert.deepEqual(await createError(`fromImage=${encodeURIComponent(`${proxy}/test/busybox`)}&tag=s${status}`), { status: 500, message: `received unexpected HTTP status: ${status} ${words}` });
    }
    // The config: dockerd 20.10.24 lab answers 200, its progress, then `error pulling image
    // configuration: download failed after attempts=6: received unexpected HTTP status: 500
    // Internal Server Error`; hako asks 4 times, and answers before any progress (the config
    // comes before the layers' lines): an error answer of 500.
    const cfg = await createError(`fromImage=${encodeURIComponent(`${proxy}/test/other`)}&tag=latest`);
    assert.deepEqual(cfg, { status: 500, message: 'error pulling image configuration: download failed after attempts=4: received unexpected HTTP status: 503 Service Unavailable' });
    for (const [repo, status, words] of [['u503', 503, 'Service Unavailable'], ['m502', 502, 'Bad Gateway']] as const) {
      await docker(['tag', bb.image, `${proxy}/${repo}/x:1`]);
      const r = await docker(['push', `${proxy}/${repo}/x:1`]);
      // dockerd 20.10.24 lab: stderr `received unexpected HTTP status: 502 Bad Gateway`, exit 1 (after its retries of the upload)
      assert.equal(r.stderr, `received unexpected HTTP status: ${status} ${words}\n`);
      assert.equal(r.code, 1);
      const api = await d.request('POST', `/v1.41/images/${proxy}/${repo}/x/push?tag=1`, undefined, { 'X-Registry-Auth': 'e30=' });
      assert.equal(api.status, 200);
      const last = JSON.parse(api.body.toString().trim().split('\n').at(-1)!) as unknown;
      assert.deepEqual(last, { errorDetail: { message: `received unexpected HTTP status: ${status} ${words}` }, error: `received unexpected HTTP status: ${status} ${words}` });
      await docker(['rmi', `${proxy}/${repo}/x:1`]);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    other.cleanup();
  }
});
