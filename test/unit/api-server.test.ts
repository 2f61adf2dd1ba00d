// The API server in-process over a unix socket, with an in-memory engine: headers, errors,
// limits, hijacked attach with half-close, exec start with a body before the stream, wait
// flushing its headers at once, JSON streams, and a fuzz run that must leave it answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { request, type Server } from 'node:http';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createApiHandlers, createApiServer, type ApiHandlers } from '../../src/api/server.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { ImageService } from '../../src/image/images.js';
import { FrameDecoder } from '../../src/api/stdcopy.js';
import { tempDir } from '../helpers/fixtures.js';
import { FakeEngine } from './api-fake-engine.js';

let dir: { path: string; cleanup(): void };
let sock: string;
let server: Server;
let handlers: ApiHandlers;
let engine: FakeEngine;
let images: ImageService;
const logged: string[] = [];
const problems: unknown[] = [];
const onProblem = (e: unknown): void => {
  problems.push(e);
};

before(async () => {
  process.on('uncaughtException', onProblem);
  process.on('unhandledRejection', onProblem);
  dir = tempDir('hako-api-');
  sock = join(dir.path, 'api.sock');
  engine = new FakeEngine();
  images = new ImageService({ root: join(dir.path, 'root'), dockerConfigPath: join(dir.path, 'config.json') });
  await images.content.init();
  await images.meta.init();
  const deps: ApiDeps = {
    engine,
    images,
    log: (level, msg) => {
      if (level === 'error') logged.push(msg);
    },
    daemon: { version: '0.0-test', root: dir.path, execRoot: dir.path, startedAt: new Date(), debug: false, insecureRegistries: [] },
  };
  handlers = createApiHandlers(deps);
  server = createApiServer(handlers);
  await new Promise<void>((r) => server.listen(sock, r));
});

after(async () => {
  server.closeAllConnections();
  // The temp dir goes first: a close that waits on a lingering connection must not leak it
  // (the runner's --test-force-exit ends the process when the tests are done).
  images.close();
  dir.cleanup();
  await new Promise<void>((r) => server.close(() => r()));
  process.off('uncaughtException', onProblem);
  process.off('unhandledRejection', onProblem);
});

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): any;
}

function req(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, timeoutMs?: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    const r = request({ socketPath: sock, method, path, timeout: timeoutMs, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) });
      });
    });
    r.on('error', reject);
    r.on('timeout', () => r.destroy(Object.assign(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`), { code: 'TIMEOUT' })));
    r.end(body);
  });
}

/** Raw HTTP over the socket: returns the socket and everything read until it closes. */
function raw(text: string | Buffer): { socket: Socket; done: Promise<Buffer> } {
  const socket = createConnection(sock);
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  const done = new Promise<Buffer>((r) => {
    socket.on('close', () => r(Buffer.concat(chunks)));
    socket.on('error', () => undefined);
  });
  socket.write(text);
  return { socket, done };
}

test('_ping GET and HEAD carry the headers the docker CLI reads', async () => {
  for (const method of ['GET', 'HEAD']) {
    const r = await req(method, '/_ping');
    assert.equal(r.status, 200);
    assert.equal(r.headers['api-version'], '1.44');
    assert.equal(r.headers['ostype'], 'linux');
    assert.equal(r.headers['docker-experimental'], 'false');
    assert.match(String(r.headers['server']), /^Docker\/.* \(linux\)$/);
    assert.equal(r.headers['builder-version'], '1');
    assert.match(String(r.headers['cache-control']), /no-cache/);
    assert.equal(r.body.toString(), method === 'GET' ? 'OK' : '');
  }
  assert.equal((await req('GET', '/v1.24/_ping')).status, 200);
});

test('errors: 404 page not found, version out of range, bad JSON, wrong types, 413, 501', async () => {
  let r = await req('GET', '/v1.44/nope');
  assert.equal(r.status, 404);
  assert.deepEqual(r.json(), { message: 'page not found' });
  r = await req('DELETE', '/_ping');
  assert.equal(r.status, 404);
  r = await req('GET', '/v1.99/version');
  assert.equal(r.status, 400);
  assert.equal(r.json().message, 'client version 1.99 is too new. Maximum supported API version is 1.44');
  r = await req('POST', '/containers/create', '{"Image":');
  assert.equal(r.status, 400);
  assert.match(r.json().message, /invalid JSON/);
  r = await req('POST', '/containers/create', '[1,2]');
  assert.equal(r.status, 400);
  r = await req('POST', '/containers/create', '{"Image":5}');
  assert.equal(r.status, 400);
  r = await req('POST', '/containers/create', '{"Image":"x","Cmd":{"a":1}}');
  assert.equal(r.status, 400);
  r = await req('POST', '/containers/create?name=bad/name', '{"Image":"x"}');
  assert.equal(r.status, 400);
  r = await req('POST', '/containers/create', Buffer.alloc(9 * 1024 * 1024, 0x20));
  assert.equal(r.status, 413);
  // A build context that is no tar: an HTTP error, nothing having been written yet.
  r = await req('POST', '/build', 'xxxx');
  assert.equal(r.status, 400);
  assert.match(r.json().message, /^unpack the build context/);
  r = await req('GET', '/containers/nosuch/json');
  assert.equal(r.status, 404);
  assert.equal(r.json().message, 'No such container: nosuch');
  r = await req('POST', '/containers/x/stop?t=abc');
  assert.equal(r.status, 400);
  r = await req('GET', '/containers/json?filters=%7Bbad');
  assert.equal(r.status, 400);
  r = await req('GET', '/images/nosuch:1/json');
  assert.equal(r.status, 404);
  assert.equal(r.json().message, 'No such image: nosuch:1');
  r = await req('GET', '/images/json');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), []);
});

test('a body nested deeper than Go’s 10000 levels is a 400 naming the depth, as dockerd; 10000 levels and brackets in strings pass', async () => {
  // (Cmd of nested arrays: a 400 for its type when the depth passes; nothing is created)
  const deep = (n: number): string => '{"Image":"x","Labels":{"a":"[[[{{{"},"Cmd":' + '['.repeat(n) + ']'.repeat(n) + '}';
  let r = await req('POST', '/containers/create', deep(100_000));
  assert.equal(r.status, 400, r.body.toString());
  assert.equal(r.json().message, 'invalid JSON: exceeded max depth (10000 nested arrays or objects)');
  r = await req('POST', '/networks/create', '{"Name":"deepnet","Labels":' + '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000) + '}');
  assert.equal(r.status, 400, r.body.toString());
  assert.match(r.json().message, /exceeded max depth/);
  // The body's own object counts: 9999 arrays are 10000 levels in all.
  r = await req('POST', '/containers/create', deep(9_999));
  assert.equal(r.status, 400, r.body.toString());
  assert.doesNotMatch(r.json().message, /max depth/);
  r = await req('POST', '/containers/create', deep(10_000));
  assert.equal(r.status, 400, r.body.toString());
  assert.match(r.json().message, /max depth/);
});

async function createStarted(name: string): Promise<string> {
  const c = await req('POST', `/v1.44/containers/create?name=${name}`, JSON.stringify({ Image: 'busybox', OpenStdin: true }));
  assert.equal(c.status, 201, c.body.toString());
  const id = c.json().Id as string;
  const conflictR = await req('POST', `/v1.44/containers/create?name=${name}`, JSON.stringify({ Image: 'busybox' }));
  assert.equal(conflictR.status, 409);
  return id;
}

/** Reads the HTTP head of a hijacked answer, then the rest as stdcopy frames. */
function splitHead(buf: Buffer): { head: string; rest: Buffer } {
  const i = buf.indexOf('\r\n\r\n');
  assert.ok(i > 0, `no HTTP head in ${JSON.stringify(buf.toString())}`);
  return { head: buf.subarray(0, i).toString(), rest: buf.subarray(i + 4) };
}

test('attach: 101 UPGRADED, stdcopy frames, half-close is stdin EOF while output keeps coming; wait answers headers first', async () => {
  const id = await createStarted('att');
  // wait: headers arrive before the container exits.
  const waitSock = createConnection(sock);
  const waitChunks: Buffer[] = [];
  waitSock.on('data', (c) => waitChunks.push(c));
  waitSock.write(`POST /v1.44/containers/${id}/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
  for (let i = 0; i < 100 && !Buffer.concat(waitChunks).includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
  const waitHead = Buffer.concat(waitChunks).toString();
  assert.match(waitHead, /^HTTP\/1.1 200 OK/);
  assert.doesNotMatch(waitHead, /StatusCode/);

  const body = JSON.stringify({});
  const a = raw(`POST /v1.44/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  assert.equal((await req('POST', `/containers/${id}/start`)).status, 204);
  assert.equal((await req('POST', `/containers/${id}/start`)).status, 304);
  a.socket.write('hello\nerr:bad\n');
  await new Promise((r) => setTimeout(r, 50));
  a.socket.end(); // half-close: stdin EOF
  const all = await a.done;
  const { head, rest } = splitHead(all);
  assert.match(head, /^HTTP\/1.1 101 UPGRADED/);
  assert.match(head, /Content-Type: application\/vnd.docker.multiplexed-stream/);
  assert.match(head, /Upgrade: tcp/);
  const frames = new FrameDecoder().push(rest);
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'hello\n'], [2, 'err:bad\n'], [1, 'bye after 2\n']]);

  for (let i = 0; i < 200 && !Buffer.concat(waitChunks).includes('StatusCode'); i++) await new Promise((r) => setTimeout(r, 10));
  const waitAll = Buffer.concat(waitChunks).toString();
  assert.match(waitAll, /\{"StatusCode":2\}/);
  waitSock.destroy();

  // logs replay with stdcopy framing.
  const logs = await req('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  assert.equal(logs.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  assert.deepEqual(new FrameDecoder().push(logs.body).map((f) => f.stream), [1, 2]);
  assert.equal((await req('DELETE', `/containers/${id}`)).status, 204);
});

test('exec start: JSON body before the hijacked stream; detach; inspect', async () => {
  const id = await createStarted('ex');
  await req('POST', `/containers/${id}/start`);
  const c = await req('POST', `/containers/${id}/exec`, JSON.stringify({ Cmd: ['echo', 'hi'], AttachStdout: true }));
  assert.equal(c.status, 201);
  const execId = c.json().Id;
  const body = JSON.stringify({ Detach: false, Tty: false });
  const s = raw(`POST /v1.44/exec/${execId}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  s.socket.end();
  const { head, rest } = splitHead(await s.done);
  assert.match(head, /101 UPGRADED/);
  assert.deepEqual(new FrameDecoder().push(rest).map((f) => f.data.toString()), ['echo hi\n']);
  const insp = await req('GET', `/exec/${execId}/json`);
  assert.equal(insp.json().ExitCode, 0);
  const bad = await req('POST', `/containers/${id}/exec`, JSON.stringify({ Cmd: [] }));
  assert.equal(bad.status, 400);
  const c2 = await req('POST', `/containers/${id}/exec`, JSON.stringify({ Cmd: ['true'] }));
  const det = await req('POST', `/exec/${c2.json().Id}/start`, JSON.stringify({ Detach: true }));
  assert.equal(det.status, 200);
  // Old style: no Upgrade header → 200 and the raw stream as body.
  const c3 = await req('POST', `/containers/${id}/exec`, JSON.stringify({ Cmd: ['old', 'style'] }));
  const old = await req('POST', `/exec/${c3.json().Id}/start`, JSON.stringify({}));
  assert.equal(old.status, 200);
  assert.equal(old.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
  assert.deepEqual(new FrameDecoder().push(old.body).map((f) => f.data.toString()), ['old style\n']);
  assert.equal((await req('DELETE', `/containers/${id}?force=1`)).status, 204);
});

test('exec start whose JSON body comes apart from the headers: stdin and its end still reach the exec', async () => {
  // The server read the body with the socket flowing, then paused it: the attach pump's 'data'
  // listener did not resume it, so stdin and its half-close were never read (`exec -i … cat` hung).
  const id = await createStarted('ex-split');
  await req('POST', `/containers/${id}/start`);
  const c = await req('POST', `/containers/${id}/exec`, JSON.stringify({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true }));
  const execId = c.json().Id;
  const body = JSON.stringify({ Detach: false, Tty: false });
  const s = raw(`POST /v1.44/exec/${execId}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  await new Promise((r) => setTimeout(r, 50));
  s.socket.write(body);
  await new Promise((r) => setTimeout(r, 50));
  s.socket.end('piped\n');
  const timer = setTimeout(() => s.socket.destroy(), 3000);
  const { head, rest } = splitHead(await s.done);
  clearTimeout(timer);
  assert.match(head, /101 UPGRADED/);
  assert.deepEqual(new FrameDecoder().push(rest).map((f) => f.data.toString()), ['piped\n'], 'stdin reached the exec and its end ended it (not cut off by the 3 s timer)');
  assert.equal((await req('DELETE', `/containers/${id}?force=1`)).status, 204);
});

test('events stream JSON lines as they happen; stats one-shot and stream', async () => {
  const evs: any[] = [];
  const r = request({ socketPath: sock, path: '/events', method: 'GET' });
  const got = new Promise<void>((resolve) => {
    r.on('response', (res) => {
      assert.equal(res.headers['content-type'], 'application/json');
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        // Go's json.Encoder (dockerd's events and stats): "\n", no "\r".
        assert.ok(!buf.includes('\r'));
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          evs.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
        if (evs.length >= 2) resolve();
      });
      res.on('error', () => undefined);
    });
  });
  r.on('error', () => undefined);
  r.end();
  await new Promise((res) => setTimeout(res, 50));
  const c = await req('POST', '/containers/create?name=ev', JSON.stringify({ Image: 'busybox' }));
  await req('POST', `/containers/${c.json().Id}/start`);
  await got;
  r.destroy();
  assert.deepEqual(evs.map((e) => e.Action), ['create', 'start']);
  const one = await req('GET', `/containers/ev/stats?stream=false`);
  assert.equal(one.status, 200);
  assert.equal(one.body.toString().trim().split('\n').length, 1);
  assert.match(one.body.toString(), /\}\n$/);
  assert.ok(!one.body.toString().includes('\r'));
  assert.equal((await req('DELETE', '/containers/ev?force=true')).status, 204);
});

test('aborted connections mid-stream and mid-body do not hurt the server', async () => {
  const c = await req('POST', '/containers/create?name=ab', JSON.stringify({ Image: 'busybox' }));
  const id = c.json().Id;
  for (const text of [
    `GET /containers/${id}/stats HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /events HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST /containers/${id}/wait HTTP/1.1\r\nHost: x\r\n\r\n`,
    `POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"Ima`,
    `POST /containers/${id}/attach?stream=1&stdout=1&stdin=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    `POST /exec/x/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 50\r\n\r\n{"De`,
  ]) {
    const s = raw(text);
    await new Promise((r) => setTimeout(r, 30));
    s.socket.destroy();
  }
  await req('DELETE', `/containers/${id}?force=1`);
  assert.equal((await req('GET', '/_ping')).status, 200);
  assert.deepEqual(problems, []);
});

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'BREW', ''];
const PATHS = ['/_ping', '/version', '/info', '/containers/json', '/containers/create', '/containers/%s/json', '/containers/%s/start', '/containers/%s/attach', '/containers/%s/wait', '/containers/%s/logs', '/containers/%s/stop', '/containers/%s/kill', '/containers/%s/resize', '/containers/%s/exec', '/exec/%s/start', '/exec/%s/json', '/images/json', '/images/%s/json', '/images/%s', '/images/create', '/images/%s/tag', '/images/%s/history', '/volumes', '/volumes/create', '/events', '/system/df', '/build', '/commit', '/v1.30/info', '/v9.9/info', '/v1/x', '//', '/%zz', '/containers/../../etc/passwd'];
const QUERIES = ['', '?t=-1', '?t=1e99', '?signal=SIGBOGUS', '?filters=%7B%22a%22:1%7D', '?filters=[', '?h=99999999&w=-1', '?since=abc', '?tail=xyz', '?condition=never', '?fromImage=%00%00', '?fromImage=a/../b&tag=%20', '?name=' + 'a'.repeat(300), '?force=maybe', '?stream=0&logs=0'];
const BODIES = ['', '{', '[]', 'null', '42', '"str"', '{"Image":null}', '{"Image":"busybox","Cmd":"sh","HostConfig":[]}', '{"Cmd":[1,2]}', '{"username":{},"password":[]}', '\u0000\u0001\u0002', '{"a":'.repeat(1000), JSON.stringify({ Image: 'x'.repeat(100000) }), '{"Detach":"yes","ConsoleSize":[-1,1e12]}'];

function pick<T>(a: readonly T[]): T {
  return a[Math.floor(Math.random() * a.length)]!;
}

test('fuzz: random and malformed requests, then the server still answers _ping', async () => {
  const N = 400;
  const pending: Promise<unknown>[] = [];
  const unanswered: string[] = [];
  for (let i = 0; i < N; i++) {
    const kind = Math.random();
    if (kind < 0.6) {
      const path = pick(PATHS).replace('%s', pick(['x', 'att', 'nosuch', '%2F', 'a'.repeat(500), '..', randomBytes(4).toString('hex')])) + pick(QUERIES);
      const body = pick(BODIES);
      const method = pick(METHODS) || 'GET';
      const upgrade = Math.random() < 0.2 ? 'Connection: Upgrade\r\nUpgrade: tcp\r\n' : '';
      const cl = Math.random() < 0.1 ? 'Content-Length: -5' : Math.random() < 0.1 ? `Content-Length: ${body.length + 10}` : `Content-Length: ${Buffer.byteLength(body)}`;
      const s = raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${upgrade}${cl}\r\n\r\n${body}`);
      const t = setTimeout(() => s.socket.destroy(), 50 + Math.random() * 200);
      pending.push(s.done.then(() => clearTimeout(t)));
    } else if (kind < 0.8) {
      // Pure garbage, or a broken request line.
      const s = raw(Math.random() < 0.5 ? randomBytes(Math.floor(Math.random() * 2000)) : `GET ${'/x'.repeat(20000)} HTTP/1.1\r\n\r\n`);
      const t = setTimeout(() => s.socket.destroy(), 100);
      pending.push(s.done.then(() => clearTimeout(t)));
    } else {
      // Well-formed but wrong-typed JSON through the normal client. A stream that stays open
      // (GET /events without since/until) is cut after a while, like the raw ones above; any
      // other request must be answered.
      const method = pick(['POST', 'GET', 'DELETE']);
      const path = pick(PATHS).replace('%s', 'x') + pick(QUERIES);
      pending.push(
        req(method, path, pick(BODIES), {}, 3000).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'TIMEOUT') unanswered.push(`${method} ${path}`);
        }),
      );
    }
    if (pending.length >= 40) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const r = await req('GET', '/_ping');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'OK');
  assert.deepEqual(problems, [], 'no uncaught exceptions or unhandled rejections');
  assert.deepEqual(unanswered.filter((r) => !/^GET \/events(\?|$)/.test(r)), [], 'every request but an event stream is answered');
  // Internal (500) errors would mean a handler lacks input validation.
  assert.deepEqual(logged.filter((l) => !/not in the fake/.test(l)), []);
});

test('network routes: create 201, list, inspect 404/200, connect/disconnect 200, remove 409 while in use then 204, prune', async () => {
  const c = await req('POST', '/networks/create', JSON.stringify({ Name: 'apinet', Driver: 'bridge' }));
  assert.equal(c.status, 201);
  assert.match(c.json().Id, /^[0-9a-f]{64}$/);
  assert.equal((await req('POST', '/networks/create', JSON.stringify({ Name: 'apinet' }))).status, 409);
  assert.equal((await req('POST', '/networks/create', JSON.stringify({ Name: 'x', IPAM: [] }))).status, 400, 'IPAM must be an object');
  assert.equal((await req('POST', '/networks/create', '')).status, 400, 'a body is required');
  assert.deepEqual((await req('GET', '/networks')).json().map((n: { Name: string }) => n.Name), ['apinet']);
  assert.equal((await req('GET', '/networks/nope')).status, 404);
  assert.equal((await req('GET', '/v1.44/networks/apinet')).json().Name, 'apinet');
  const ct = await req('POST', '/containers/create?name=netc', JSON.stringify({ Image: 'busybox' }));
  assert.equal(ct.status, 201);
  const con = await req('POST', '/networks/apinet/connect', JSON.stringify({ Container: 'netc', EndpointConfig: { Aliases: ['a'] } }));
  assert.equal(con.status, 200);
  assert.equal(con.body.length, 0);
  assert.deepEqual((await req('GET', '/networks/apinet')).json().Containers[ct.json().Id].EndpointConfig, { Aliases: ['a'] });
  assert.equal((await req('POST', '/networks/apinet/connect', JSON.stringify({ Container: 'netc', EndpointConfig: 'x' }))).status, 400);
  const busy = await req('DELETE', '/networks/apinet');
  assert.equal(busy.status, 403);
  assert.match(busy.json().message, /has active endpoints/);
  assert.equal((await req('POST', '/networks/apinet/disconnect', JSON.stringify({ Container: 'netc' }))).status, 200);
  assert.equal((await req('DELETE', '/networks/apinet')).status, 204);
  await req('POST', '/networks/create', JSON.stringify({ Name: 'spare' }));
  assert.deepEqual((await req('POST', '/networks/prune')).json(), { NetworksDeleted: ['spare'] });
  assert.deepEqual((await req('POST', '/networks/prune')).json(), { NetworksDeleted: null });
});

test('image archives: import (fromSrc=-), save (GET /images/get, /images/{name}/get), load with and without progress, errors', async () => {
  const { makeTar } = await import('../helpers/tar.js');
  const { gzipSync } = await import('node:zlib');
  const rootfs = makeTar([{ name: 'bin/', type: 'dir' }, { name: 'bin/hello', data: 'x'.repeat(300_000), mode: 0o755 }]);
  let r = await req('POST', '/v1.44/images/create?fromSrc=-&repo=imp/one&tag=v1&message=hi&changes=CMD%20%5B%22%2Fbin%2Fhello%22%5D&changes=ENV%20A%3D1', gzipSync(rootfs), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200);
  // dockerd's streamformatter ends each progress message with "\r\n" (events and stats: "\n").
  assert.match(r.body.toString(), /^\{"status":"sha256:[0-9a-f]{64}"\}\r\n$/);
  const id = (JSON.parse(r.body.toString().trim()) as { status: string }).status;
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  const insp = (await req('GET', '/v1.44/images/imp/one:v1/json')).json();
  assert.deepEqual([insp.Id, insp.Config.Cmd, insp.Config.Env, insp.Comment], [id, ['/bin/hello'], ['A=1'], 'hi']);
  // Import from a URL is tested end to end in e2e/image-import-url; here only what needs no server.
  r = await req('POST', '/v1.44/images/create?fromSrc=ftp://127.0.0.1/x.tar', '');
  assert.equal(r.status, 400);
  assert.match(r.json().message, /unsupported protocol scheme "ftp"/);
  r = await req('POST', '/v1.44/images/create?fromSrc=-&changes=RUN%20x', rootfs);
  assert.equal(r.status, 400);
  assert.equal(r.json().message, 'run is not a valid change command');

  const tar = await req('GET', '/v1.44/images/get?names=imp%2Fone%3Av1');
  assert.equal(tar.status, 200);
  assert.equal(tar.headers['content-type'], 'application/x-tar');
  const one = await req('GET', `/v1.44/images/${id.slice(7, 19)}/get`);
  assert.equal(one.status, 200);
  assert.ok(one.body.length > 300_000);
  r = await req('GET', '/v1.44/images/get?names=nosuch%3A1');
  assert.equal(r.status, 404);
  assert.equal(r.json().message, 'No such image: nosuch:1');

  await req('DELETE', '/v1.44/images/imp/one:v1');
  assert.equal((await req('GET', '/v1.44/images/json')).json().length, 0);
  // quiet (the default): just the result lines; quiet=0: `Loading layer` progress first.
  r = await req('POST', '/v1.44/images/load', tar.body, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), '{"stream":"Loaded image: imp/one:v1\\n"}\r\n');
  await req('DELETE', '/v1.44/images/imp/one:v1');
  r = await req('POST', '/v1.44/images/load?quiet=0', gzipSync(tar.body), { 'Content-Type': 'application/x-tar' });
  assert.ok(r.body.toString().endsWith('}\r\n'));
  assert.equal(r.body.toString().split('\r\n').length, r.body.toString().split('\n').length, 'every line ends with \\r\\n');
  const lines = r.body.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  assert.deepEqual(lines.at(-1), { stream: 'Loaded image: imp/one:v1\n' });
  const progress = lines.filter((l) => l.status === 'Loading layer');
  assert.ok(progress.length >= 1);
  assert.equal(progress.at(-1)!.progressDetail.current, progress.at(-1)!.progressDetail.total);
  assert.match(progress.at(-1)!.progress, /^\[=+>?\s*\] /);
  // dockerd answers 200 and writes a failed load's error into the stream.
  r = await req('POST', '/v1.44/images/load', Buffer.alloc(4096, 1), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200);
  assert.ok(r.body.toString().endsWith('"}\r\n'), 'the error line ends as the progress lines');
  assert.match(r.json().error, /read image archive: not a tar archive/);
  assert.equal(r.json().errorDetail.message, r.json().error);
  r = await req('POST', '/v1.44/images/load', tar.body.subarray(0, tar.body.length - 2000), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200);
  assert.match(r.json().error, /read image archive/);
  const v = await images.verify();
  assert.ok(v.ok, JSON.stringify(v));
  await req('DELETE', `/v1.44/images/${id}`);
});

test('DELETE /containers/{name}?link=1 removes the link the name gives (slashes and all), not a container (it was a 400)', async () => {
  const r = await req('DELETE', '/containers/web/db-alias?link=1');
  assert.equal(r.status, 204, r.body.toString());
  assert.deepEqual(engine.removedLinks, ['web/db-alias']);
});

test('activity (the idle trimmer of hakod): start and end of a request, and each line of a JSON stream (progress of a pull)', async () => {
  const { makeTar } = await import('../helpers/tar.js');
  let n = 0;
  handlers.onActivity = () => n++;
  try {
    await req('GET', '/_ping');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(n, 2);
    n = 0;
    const r = await req('POST', '/v1.44/images/create?fromSrc=-&repo=imp/activity', makeTar([{ name: 'f', data: 'x' }]), { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(n, 2 + r.body.toString().trim().split('\n').length);
  } finally {
    handlers.onActivity = undefined;
  }
});
