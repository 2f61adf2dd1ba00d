// hakod as a process: socket permissions, refusing a second daemon, removing a stale socket,
// refusing tcp without mutual TLS, clean SIGTERM (socket and pidfile gone, exit 0), idle RSS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { daemonPid, HAKOD, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/fixtures.js';
import { retryUntil } from '../helpers/retry.js';
import { dockerSaveArchive } from '../helpers/images.js';

test('socket mode, pidfile, SIGTERM removes socket and pidfile and exits 0', async () => {
  const d = await startDaemon();
  const st = statSync(d.socket);
  assert.ok(st.isSocket());
  const hasHakoGroup = readFileSync('/etc/group', 'utf8').split('\n').some((l) => l.startsWith('hako:'));
  assert.equal(st.mode & 0o777, hasHakoGroup ? 0o660 : 0o600);
  assert.equal(daemonPid(d), d.proc.pid);
  const r = await d.request('GET', '/v1.41/version');
  assert.equal(r.status, 200);
  const socket = d.socket;
  const pidfile = d.pidfile;
  // An open event stream must not hold shutdown up.
  void d.request('GET', '/events').catch(() => undefined);
  await new Promise((res) => setTimeout(res, 100));
  const code = await d.stop();
  assert.equal(code, 0, d.log());
  assert.equal(existsSync(socket), false);
  assert.equal(existsSync(pidfile), false);
  assert.match(d.log(), /received SIGTERM/);
  assert.doesNotMatch(d.log(), /BUG: /);
});

test('a second daemon on the same socket is refused; a stale socket is replaced', async () => {
  const d = await startDaemon();
  try {
    const t = tempDir('hakod2-');
    const r = spawnSync(process.execPath, [HAKOD, '-H', `unix://${d.socket}`, '--data-root', join(t.path, 'root'), '--exec-root', join(t.path, 'run'), '--pidfile', join(t.path, 'pid')], { encoding: 'utf8', timeout: 20_000 });
    t.cleanup();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /another daemon is already listening on/);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  } finally {
    await d.stop();
  }
  // Stale: a socket file nobody listens on.
  const t = tempDir('hakod3-');
  const path = join(t.path, 'stale.sock');
  const s = createServer();
  await new Promise<void>((r) => s.listen(path, r));
  // Closing a node server unlinks its socket; leave a stale one by copying the inode name first.
  const { linkSync } = await import('node:fs');
  linkSync(path, path + '.keep');
  await new Promise<void>((r) => s.close(() => r()));
  const { renameSync } = await import('node:fs');
  renameSync(path + '.keep', path);
  assert.ok(statSync(path).isSocket());
  const d2 = await startDaemon(['-H', `unix://${path}`]);
  try {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      request({ socketPath: path, path: '/_ping' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    assert.equal(status, 200);
  } finally {
    await d2.stop();
    t.cleanup();
  }
});

test('tcp without --tlsverify and certificates is refused with a clear message; bad flags exit 1', () => {
  const t = tempDir('hakod4-');
  try {
    const base = ['--data-root', join(t.path, 'root'), '--exec-root', join(t.path, 'run'), '--pidfile', join(t.path, 'pid')];
    const r = spawnSync(process.execPath, [HAKOD, '-H', 'tcp://127.0.0.1:23750', ...base], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing to listen on tcp:\/\/127.0.0.1:23750 without TLS client verification/);
    assert.match(r.stderr, /--tlsverify --tlscacert/);
    const bad = spawnSync(process.execPath, [HAKOD, '--frobnicate'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown flag: --frobnicate/);
    const help = spawnSync(process.execPath, [HAKOD, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--data-root/);
    writeFileSync(join(t.path, 'pid'), `${process.pid}`);
    const live = spawnSync(process.execPath, [HAKOD, '-H', `unix://${join(t.path, 's.sock')}`, ...base], { encoding: 'utf8' });
    assert.equal(live.status, 1);
    assert.match(live.stderr, /names a running process/);
  } finally {
    t.cleanup();
  }
});

test('idle RSS of hakod (reported; target ≤ 50 MB without NODE_EXTRA_CA_CERTS)', async () => {
  const d = await startDaemon();
  try {
    for (const p of ['/_ping', '/version', '/info', '/images/json']) await d.request('GET', p);
    await new Promise((r) => setTimeout(r, 300));
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))![1]);
    console.log(`hakod idle RSS: ${(kb / 1024).toFixed(1)} MB (NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'unset'})`);
    assert.ok(kb < 120 * 1024, `RSS ${kb} kB`);
  } finally {
    await d.stop();
  }
});

test('hakod warms its HTTP client (one GET /_ping to itself), zlib and streams once listening; HAKOD_WARMUP=off does not', async () => {
  const warmed = /HTTP client(, zlib and streams)? warmed up \(/;
  const d = await startDaemon();
  try {
    await retryUntil(async () => assert.match(d.log(), warmed), 'the warm-up is logged');
    assert.equal(d.log().match(/HTTP client, zlib and streams warmed up \(/g)?.length, 1);
    assert.equal((await d.request('GET', '/_ping')).status, 200);
  } finally {
    assert.equal(await d.stop(), 0, d.log());
  }
  const off = await startDaemon([], { env: { ...process.env, HAKOD_WARMUP: 'off' } });
  try {
    // The daemon answers requests (startDaemon pinged it, this one follows), so its start-up is over.
    assert.equal((await off.request('GET', '/version')).status, 200);
  } finally {
    assert.equal(await off.stop(), 0, off.log());
  }
  assert.doesNotMatch(off.log(), warmed);
});

test('hakod runs its start-up collection once, in its first quiet second after the warm-ups; HAKOD_STARTUP_GC=off does not', async () => {
  const collected = /start-up garbage collected \(/;
  const d = await startDaemon();
  try {
    await retryUntil(async () => assert.match(d.log(), collected), 'the collection is logged');
    const warmedAt = d.log().search(/warmed up \(/);
    assert.ok(warmedAt >= 0 && warmedAt < d.log().search(collected), 'after the warm-ups');
    assert.equal((await d.request('GET', '/_ping')).status, 200);
    await new Promise((r) => setTimeout(r, 1500)); // another quiet period: a trim, no collection
    assert.equal(d.log().split('start-up garbage collected (').length - 1, 1, d.log());
  } finally {
    assert.equal(await d.stop(), 0, d.log());
  }
  const off = await startDaemon([], { env: { ...process.env, HAKOD_STARTUP_GC: 'off' } });
  try {
    await retryUntil(async () => assert.match(off.log(), /warmed up \(/), 'the warm-up is logged');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await off.request('GET', '/_ping')).status, 200);
  } finally {
    assert.equal(await off.stop(), 0, off.log());
  }
  assert.doesNotMatch(off.log(), collected);
});

test('hakod collects a burst\'s garbage in its first quiet second once the heap grew by 4 MB since the last collection (RSS back down); not without growth', async () => {
  const idle = /idle: garbage collected \(heap ([\d.]+) → ([\d.]+) MB/g;
  const d = await startDaemon();
  const t = tempDir('hako-image-');
  try {
    const tar = readFileSync(dockerSaveArchive(t.path, 'test'));
    assert.equal((await d.request('POST', '/v1.44/images/load?quiet=1', tar, { 'Content-Type': 'application/x-tar' })).status, 200);
    await retryUntil(async () => assert.match(d.log(), /start-up garbage collected \(/), 'the start-up collection is logged');
    // (the load's garbage may be collected in the quiet second after the start-up collection)
    await new Promise((r) => setTimeout(r, 1500));
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))![1]);
    const collections = (): RegExpMatchArray[] => [...d.log().matchAll(idle)];
    const seen = collections().length;
    // A few small requests and a quiet second: little garbage, no collection.
    for (let i = 0; i < 5; i++) assert.equal((await d.request('GET', '/_ping')).status, 200);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(collections().length, seen, d.log().slice(-1500));
    // A burst that leaves old garbage: 12 containers with 512 KB of Env each (kept in their
    // records, so it outlives the young generation), removed.
    const before = rss();
    const body = JSON.stringify({ Image: 'busybox:latest', Cmd: ['true'], Env: Array.from({ length: 512 }, (_, i) => `E${i}=${'x'.repeat(1024)}`) });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await d.request('POST', '/v1.44/containers/create', body, { 'Content-Type': 'application/json' });
      assert.equal(r.status, 201, r.body.toString());
      ids.push((JSON.parse(r.body.toString()) as { Id: string }).Id);
    }
    for (const id of ids) assert.equal((await d.request('DELETE', `/v1.44/containers/${id}`)).status, 204);
    const burst = rss();
    await retryUntil(async () => assert.equal(collections().length, seen + 1, d.log().slice(-1500)), 'an idle collection is logged', 5000);
    const [, from, to] = collections()[seen]!;
    assert.ok(Number(from) - Number(to) >= 4, `the collection freed at least the 4 MB it waited for: ${from} → ${to} MB`);
    await new Promise((r) => setTimeout(r, 300)); // (the trim right after it)
    const after = rss();
    console.log(`hakod RSS: ${(before / 1024).toFixed(1)} MB quiet, ${(burst / 1024).toFixed(1)} after the burst, ${(after / 1024).toFixed(1)} after the idle collection (heap ${from} → ${to} MB)`);
    assert.ok(after < burst - 4096, `RSS went down by more than 4 MB: ${burst} → ${after} kB`);
  } finally {
    t.cleanup();
    assert.equal(await d.stop(), 0, d.log());
  }
});

test('a daemon whose log reader went away keeps serving (no EPIPE loop) and stops cleanly', async () => {
  const d = await startDaemon();
  try {
    const cpu = (): number => {
      const f = readFileSync(`/proc/${d.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks
    };
    // Close the read ends of its stdout/stderr pipes: every log line now fails with EPIPE.
    d.proc.stdout!.destroy();
    d.proc.stderr!.destroy();
    for (let i = 0; i < 20; i++) assert.equal((await d.request('GET', '/_ping')).status, 200); // --log-level debug logs each
    const before = cpu();
    await new Promise((r) => setTimeout(r, 1000));
    const used = cpu() - before;
    assert.ok(used < 30, `the idle daemon used ${used} ticks in 1 s`);
    assert.equal((await d.request('GET', '/version')).status, 200);
  } finally {
    assert.equal(await d.stop(), 0);
  }
});

test('empty names answer as dockerd: DELETE /images/, /containers/, /volumes/, /networks/ (the router keeps the trailing slash for them)', async () => {
  const d = await startDaemon();
  try {
    const call = async (method: string, path: string, body?: string) => {
      const r = await d.request(method, path, body, body ? { 'Content-Type': 'application/json' } : {});
      const text = r.body.toString();
      return { status: r.status, message: text ? (JSON.parse(text) as { message?: string }).message : undefined, text };
    };
    for (const p of ['/images/', '/v1.41/images/', '/images/%20']) assert.deepEqual(await call('DELETE', p).then((r) => [r.status, r.message]), [400, 'image name cannot be blank'], p);
    assert.deepEqual(await call('DELETE', '/containers/?force=1').then((r) => [r.status, r.message]), [400, 'invalid name or ID supplied: ""']);
    assert.deepEqual(await call('DELETE', '/containers/nope/').then((r) => [r.status, r.message]), [404, 'No such container: nope/']);
    assert.equal((await call('POST', '/volumes/create', JSON.stringify({ Name: 'kept' }))).status, 201);
    for (const m of ['GET', 'DELETE']) assert.deepEqual(await call(m, '/volumes/').then((r) => [r.status, r.message]), [404, 'get: no such volume'], m);
    assert.equal((await call('DELETE', '/volumes/?force=1')).status, 204, 'dockerd: 204');
    assert.deepEqual(await call('DELETE', '/volumes/a/b').then((r) => [r.status, r.message]), [404, 'get a/b: no such volume']);
    assert.equal((await call('GET', '/volumes/kept')).status, 200, 'no volume went with the empty names');
    const del = await call('DELETE', '/networks/');
    assert.equal(del.status, 400);
    assert.match(del.message ?? '', /^network {2}is ambiguous \(\d+ matches found based on ID prefix\)$/);
    const listed = await call('GET', '/networks/');
    assert.equal(listed.status, 200, 'GET /networks/ lists, as moby');
    assert.deepEqual((JSON.parse(listed.text) as Array<{ Name: string }>).map((n) => n.Name).sort(), (JSON.parse((await call('GET', '/networks')).text) as Array<{ Name: string }>).map((n) => n.Name).sort());
    assert.equal((await call('GET', '/images/json/')).status, 200, 'other trailing slashes are still forgiven');
  } finally {
    await d.stop();
  }
});
