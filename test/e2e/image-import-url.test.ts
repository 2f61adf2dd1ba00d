// `import` from a URL (POST /images/create?fromSrc=<URL>, `hako import URL`, `docker import URL`)
// and `--change HEALTHCHECK …` on import and commit. The rootfs is served by an HTTP server this
// test starts on 127.0.0.1 (never an outside address). dockerd 20.10's answers for the same
// requests were the reference: `Downloading from <url>`, `Importing` progress, the ID; a 404 is
// an HTTP 404 `failed to GET <url> with status 404 …`; the comment is `Imported from <url>`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { existsSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, makeBusyboxRootfs, tempDir } from '../helpers/fixtures.js';
import { tarDir } from '../helpers/images.js';
import { retryUntil } from '../helpers/retry.js';

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');
const skipContainers = !hasEngine ? 'the container engine is not built' : !isRoot ? 'containers need root' : false;
const skipDocker = !hasDocker ? `${DOCKER} is missing` : false;

let d: TestDaemon;
let server: Server;
let base = '';
let tar: Buffer;
const files = new Map<string, Buffer>();
const requests: string[] = [];

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const file = bin === HAKO ? process.execPath : bin;
    const argv = bin === HAKO ? [HAKO, ...args] : args;
    execFile(file, argv, { env: { ...d.env, HAKO_HOST: d.host }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

before(async () => {
  const rootfs = tempDir('hako-import-url-');
  try {
    makeBusyboxRootfs(rootfs.path);
    tar = tarDir(rootfs.path);
  } finally {
    rootfs.cleanup();
  }
  files.set('/rootfs.tar', tar);
  files.set('/rootfs.tar.gz', gzipSync(tar));
  files.set('/rootfs.tar.xz', execFileSync('xz', ['-c', '-1'], { input: tar, maxBuffer: 1 << 30 }));
  files.set('/rootfs.tar.bz2', execFileSync('bzip2', ['-c', '-1'], { input: tar, maxBuffer: 1 << 30 }));
  if (existsSync('/usr/bin/zstd')) files.set('/rootfs.tar.zst', execFileSync('zstd', ['-c', '-q'], { input: tar, maxBuffer: 1 << 30 }));
  files.set('/garbage', Buffer.alloc(4096, 7));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/moved') {
      res.writeHead(302, { Location: '/rootfs.tar.gz' }).end();
      return;
    }
    if (req.url === '/truncated') {
      // Promises the whole tar, sends half, then closes the connection.
      res.writeHead(200, { 'Content-Length': String(tar.length) });
      res.write(tar.subarray(0, tar.length >> 1), () => res.socket?.destroy());
      return;
    }
    const body = files.get(req.url ?? '');
    if (!body) {
      res.writeHead(404, 'Not Found', { 'Content-Type': 'text/plain' }).end('no such file here\n');
      return;
    }
    res.writeHead(200, { 'Content-Length': String(body.length) }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  d = await startDaemon();
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  await new Promise((r) => server?.close(r));
});

async function importUrl(url: string, query = ''): Promise<{ status: number; lines: Array<Record<string, unknown>>; text: string }> {
  const r = await d.request('POST', `/v1.44/images/create?fromSrc=${encodeURIComponent(url)}${query}`);
  const text = r.body.toString();
  const lines = r.status === 200 ? text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
  return { status: r.status, lines, text };
}

/** Nothing half-imported: no staged blobs, the image list as before. */
async function assertClean(imagesBefore: string): Promise<void> {
  const ingest = join(d.root, 'content', 'ingest');
  assert.deepEqual(existsSync(ingest) ? readdirSync(ingest) : [], [], 'no staged blob is left');
  assert.equal((await d.request('GET', '/v1.44/images/json?all=1')).body.toString(), imagesBefore);
}

test('POST /images/create?fromSrc=<URL>: plain, gzip, xz, bzip2 and zstd tars, a redirect; docker’s messages; the layer is the uncompressed tar', async () => {
  const fromBody = await d.request('POST', '/v1.44/images/create?fromSrc=-&repo=body&tag=1&message=m', tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(fromBody.status, 200, fromBody.body.toString());
  for (const name of [...files.keys()].filter((n) => n.startsWith('/rootfs')).concat('/moved')) {
    const url = base + name;
    const r = await importUrl(url, `&repo=url&tag=${name.replace(/\W/g, '')}&message=m`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.lines[0], { status: `Downloading from ${url}` });
    const progress = r.lines.filter((l) => l.status === 'Importing');
    assert.ok(progress.length >= 1, r.text);
    const served = name === '/moved' ? files.get('/rootfs.tar.gz')! : files.get(name)!;
    assert.deepEqual(progress.at(-1)!.progressDetail, { current: served.length, total: served.length });
    assert.match(String(progress.at(-1)!.progress), /\]/);
    const id = String(r.lines.at(-1)!.status);
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const insp = JSON.parse((await d.request('GET', `/v1.44/images/url:${name.replace(/\W/g, '')}/json`)).body.toString());
    assert.deepEqual(insp.RootFS.Layers, [sha(tar)], `${name}: the layer is the uncompressed tar`);
    assert.equal(insp.Comment, 'm');
  }
  const noMessage = await importUrl(base + '/rootfs.tar', '&repo=url&tag=default');
  const insp = JSON.parse((await d.request('GET', '/v1.44/images/url:default/json')).body.toString());
  assert.equal(insp.Comment, `Imported from ${base}/rootfs.tar`, noMessage.text);
});

test('import from a URL: 404, refused, bad scheme, bad change, not a tar, truncated: clear errors, nothing left behind', async () => {
  const before = (await d.request('GET', '/v1.44/images/json?all=1')).body.toString();
  const missing = await importUrl(base + '/missing.tar', '&repo=bad');
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.text).message, `failed to GET ${base}/missing.tar with status 404 Not Found: no such file here`);
  // A port nothing listens on: the server's own, closed for the moment.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  const refused = await importUrl(`http://127.0.0.1:${port}/x.tar`);
  assert.equal(refused.status, 500);
  // dockerd 20.10.24 lab: `Get "http://127.0.0.1:1/x.tar": dial tcp 127.0.0.1:1: connect: connection refused`, 500
  assert.equal(JSON.parse(refused.text).message, `Get "http://127.0.0.1:${port}/x.tar": dial tcp 127.0.0.1:${port}: connect: connection refused`);
  // A port the Fetch standard calls bad (fetch refused it without dialling: `bad port`): dialled, as Go does.
  const one = await importUrl('http://127.0.0.1:1/x.tar');
  assert.deepEqual([one.status, JSON.parse(one.text).message], [500, 'Get "http://127.0.0.1:1/x.tar": dial tcp 127.0.0.1:1: connect: connection refused']);
  const ftp = await importUrl('ftp://127.0.0.1/x.tar');
  assert.equal(ftp.status, 400);
  assert.match(JSON.parse(ftp.text).message, /^Get "ftp:\/\/127.0.0.1\/x.tar": unsupported protocol scheme "ftp"/);
  const n = requests.length;
  const change = await importUrl(base + '/rootfs.tar', '&changes=' + encodeURIComponent('RUN x'));
  assert.equal(change.status, 400);
  assert.equal(JSON.parse(change.text).message, 'run is not a valid change command');
  assert.equal(requests.length, n, 'a bad change is refused before the URL is fetched');
  const garbage = await importUrl(base + '/garbage', '&repo=bad');
  assert.equal(garbage.status, 200);
  assert.match(String(garbage.lines.at(-1)!.error), /import rootfs: .*(not a tar|bad header|checksum)/i);
  const truncated = await importUrl(base + '/truncated', '&repo=bad');
  assert.match(String(truncated.lines.at(-1)!.error ?? truncated.text), /terminated|truncated|closed|aborted|premature/i);
  await assertClean(before);
  assert.equal((await d.request('GET', '/v1.44/images/bad/json')).status, 404);
});

test('hako import URL and docker import URL print the ID (and the download on a terminal only as a bar)', async (t) => {
  const h = await run(HAKO, ['import', '-m', 'by hako', base + '/rootfs.tar.gz', 'cli/url:hako']);
  assert.equal(h.code, 0, h.stderr);
  const lines = h.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), [`Downloading from ${base}/rootfs.tar.gz`]);
  assert.match(lines.at(-1)!, /^sha256:[0-9a-f]{64}$/);
  const bad = await run(HAKO, ['import', base + '/missing.tar']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /failed to GET .*\/missing.tar with status 404 Not Found/);
  if (skipDocker) return t.skip(skipDocker);
  const k = await run(DOCKER, ['import', '-c', 'HEALTHCHECK --interval=5s --timeout=3s --start-period=2s --start-interval=1s --retries=4 CMD echo hi', base + '/rootfs.tar.xz', 'cli/url:docker']);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, new RegExp(`Downloading from ${base}/rootfs.tar.xz`));
  assert.match(k.stdout.trim().split('\n').at(-1)!, /^sha256:[0-9a-f]{64}$/);
  const hc = JSON.parse((await run(DOCKER, ['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', 'cli/url:docker'])).stdout);
  assert.deepEqual(hc, { Test: ['CMD-SHELL', 'echo hi'], Interval: 5e9, Timeout: 3e9, StartPeriod: 2e9, StartInterval: 1e9, Retries: 4 });
  const e = await run(DOCKER, ['import', base + '/missing.tar']);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /Error response from daemon: failed to GET .*\/missing.tar with status 404 Not Found: no such file here/);
  const c = await run(DOCKER, ['import', '-c', 'HEALTHCHECK --retries=-1 CMD x', base + '/rootfs.tar', 'x:y']);
  assert.match(c.stderr, /Error response from daemon: --retries cannot be negative \(-1\)/);
});

test('an imported image’s HEALTHCHECK runs in its containers (State.Health), and commit --change HEALTHCHECK sets it', { skip: skipContainers }, async () => {
  const imp = await importUrl(base + '/rootfs.tar', '&repo=hc&tag=1&changes=' + encodeURIComponent('HEALTHCHECK --interval=200ms --start-interval=100ms --start-period=5s --retries=2 CMD ["/bin/sh", "-c", "test -e /tmp/ok"]') + '&changes=' + encodeURIComponent('CMD ["sleep", "60"]'));
  assert.equal(imp.status, 200, imp.text);
  const cfg = JSON.parse((await d.request('GET', '/v1.44/images/hc:1/json')).body.toString()).Config;
  assert.deepEqual(cfg.Healthcheck, { Test: ['CMD', '/bin/sh', '-c', 'test -e /tmp/ok'], Interval: 200e6, StartPeriod: 5e9, StartInterval: 100e6, Retries: 2 });
  const id = JSON.parse((await d.request('POST', '/v1.44/containers/create?name=hc-url', JSON.stringify({ Image: 'hc:1' }), { 'Content-Type': 'application/json' })).body.toString()).Id as string;
  assert.ok(id, 'created');
  try {
    assert.equal((await d.request('POST', `/v1.44/containers/${id}/start`)).status, 204);
    const health = async () => JSON.parse((await d.request('GET', `/v1.44/containers/${id}/json`)).body.toString()).State.Health as { Status: string; Log: Array<{ ExitCode: number }> };
    assert.equal((await health()).Status, 'starting');
    await retryUntil(async () => assert.ok((await health()).Log.length >= 1), 'a probe ran');
    assert.equal((await health()).Log[0]!.ExitCode, 1, 'the probe is the image’s command (no /tmp/ok yet)');
    const ex = JSON.parse((await d.request('POST', `/v1.44/containers/${id}/exec`, JSON.stringify({ Cmd: ['touch', '/tmp/ok'] }), { 'Content-Type': 'application/json' })).body.toString()).Id as string;
    await d.request('POST', `/v1.44/exec/${ex}/start`, JSON.stringify({ Detach: true }), { 'Content-Type': 'application/json' });
    await retryUntil(async () => assert.equal((await health()).Status, 'healthy'), 'healthy once /tmp/ok exists', 10_000);
    // commit with a HEALTHCHECK change: the new image carries it, NONE switches it off.
    const commit = await d.request('POST', `/v1.44/commit?container=${id}&repo=hc&tag=committed&changes=${encodeURIComponent('HEALTHCHECK --timeout=2s CMD true')}`);
    assert.equal(commit.status, 201, commit.body.toString());
    const c2 = JSON.parse((await d.request('GET', '/v1.44/images/hc:committed/json')).body.toString()).Config;
    assert.deepEqual(c2.Healthcheck, { Test: ['CMD-SHELL', 'true'], Timeout: 2e9 });
    const none = await d.request('POST', `/v1.44/commit?container=${id}&repo=hc&tag=none&changes=${encodeURIComponent('HEALTHCHECK NONE')}`);
    assert.equal(none.status, 201);
    assert.deepEqual(JSON.parse((await d.request('GET', '/v1.44/images/hc:none/json')).body.toString()).Config.Healthcheck, { Test: ['NONE'] });
    const imagesBefore = (await d.request('GET', '/v1.44/images/json?all=1')).body.toString();
    const badCommit = await d.request('POST', `/v1.44/commit?container=${id}&repo=hc&tag=bad&changes=${encodeURIComponent('HEALTHCHECK --interval=1us CMD true')}`);
    assert.equal(badCommit.status, 400);
    assert.equal(JSON.parse(badCommit.body.toString()).message, 'Interval "interval" cannot be less than 1ms');
    assert.equal((await d.request('GET', '/v1.44/images/json?all=1')).body.toString(), imagesBefore, 'a bad change commits nothing');
  } finally {
    await d.request('DELETE', `/v1.44/containers/${id}?force=1`);
  }
});
