// The lean HTTP front (src/api/lean-http.ts) against node:http: the same API handlers behind
// both, the same raw requests on each, the same bytes back (Date and random IDs aside), for the
// lean routes (answers with Content-Length, 204/304, wait's chunked answer flushed early,
// errors), for requests it hands to node:http (other routes, HTTP/1.0, Connection: close,
// chunked bodies, garbage) including in the middle of a keep-alive connection, pipelined
// requests and bodies that come in pieces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createApiHandlers, createApiServer } from '../../src/api/server.js';
import { plausibleHead } from '../../src/api/lean-http.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { ImageService } from '../../src/image/images.js';
import { tempDir } from '../helpers/fixtures.js';
import { FakeEngine } from './api-fake-engine.js';

interface Side {
  sock: string;
  server: Server;
  images: ImageService;
}

let dir: { path: string; cleanup(): void };
const sides: Record<'lean' | 'node', Side> = {} as never;

before(async () => {
  dir = tempDir('hako-lean-');
  for (const kind of ['lean', 'node'] as const) {
    const images = new ImageService({ root: join(dir.path, kind, 'root'), dockerConfigPath: join(dir.path, kind, 'config.json') });
    await images.content.init();
    await images.meta.init();
    const deps: ApiDeps = { engine: new FakeEngine(), images, log: () => undefined, daemon: { version: '0.0-test', root: dir.path, execRoot: dir.path, startedAt: new Date(0), debug: false, insecureRegistries: [] } };
    const server = createApiServer(createApiHandlers(deps), undefined, { lean: kind === 'lean' });
    const sock = join(dir.path, `${kind}.sock`);
    await new Promise<void>((r) => server.listen(sock, r));
    sides[kind] = { sock, server, images };
  }
});

after(async () => {
  for (const s of Object.values(sides)) {
    s.server.closeAllConnections();
    s.images.close();
  }
  // The temp dir first: a close that waits on a lingering connection must not leak it.
  dir.cleanup();
  for (const s of Object.values(sides)) await new Promise<void>((r) => s.server.close(() => r()));
});

/** A raw connection that reads whole HTTP answers (Content-Length, chunked, or until close). */
class Conn {
  private buf = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;
  readonly socket: Socket;

  constructor(path: string) {
    this.socket = createConnection(path);
    this.socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    this.socket.on('error', () => undefined);
  }

  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  private async more(): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await new Promise<void>((r) => (this.wake = r));
    this.wake = undefined;
  }

  /** The head of the next answer (through the blank line). */
  async head(): Promise<string> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.toString('latin1', 0, end + 4);
        this.buf = this.buf.subarray(end + 4);
        return head;
      }
      await this.more();
    }
  }

  /** The body after a head. */
  async body(head: string): Promise<string> {
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (cl) {
      while (this.buf.length < Number(cl[1])) await this.more();
      const b = this.buf.toString('latin1', 0, Number(cl[1]));
      this.buf = this.buf.subarray(Number(cl[1]));
      return b;
    }
    if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      for (;;) {
        const end = this.buf.indexOf('\r\n0\r\n\r\n');
        const empty = this.buf.indexOf('0\r\n\r\n') === 0;
        if (empty || end >= 0) {
          const upto = empty ? 5 : end + 7;
          const b = this.buf.toString('latin1', 0, upto);
          this.buf = this.buf.subarray(upto);
          return b;
        }
        await this.more();
      }
    }
    if (/^HTTP\/1\.1 (1\d\d|204|304) /.test(head)) return '';
    while (!this.closed) await this.more().catch(() => undefined);
    const b = this.buf.toString('latin1');
    this.buf = Buffer.alloc(0);
    return b;
  }

  async answer(): Promise<string> {
    const h = await this.head();
    return h + (await this.body(h));
  }

  /** Everything until the peer closes. */
  async rest(): Promise<string> {
    while (!this.closed) await this.more().catch(() => undefined);
    return this.buf.toString('latin1');
  }

  close(): void {
    this.socket.destroy();
  }
}

const normalize = (s: string): string => s.replace(/\r\nDate: [^\r]*/g, '\r\nDate: <date>').replace(/[0-9a-f]{64}/g, '<id>').replace(/fake_[0-9a-f]{6}/g, 'fake_<id>');

const request = (method: string, path: string, body?: string, headers = ''): string =>
  `${method} ${path} HTTP/1.1\r\nHost: api\r\n${headers}${body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body ?? ''}`;

/** Runs a scenario on both sides; returns the normalized transcripts (which must be equal). */
async function both(scenario: (path: string) => Promise<string[]>): Promise<string[]> {
  const lean = (await scenario(sides.lean.sock)).map(normalize);
  const node = (await scenario(sides.node.sock)).map(normalize);
  assert.deepEqual(lean, node);
  return lean;
}

test('lean routes answer the bytes node:http answers', async () => {
  const out = await both(async (path) => {
    const c = new Conn(path);
    const answers: string[] = [];
    const ask = async (text: string): Promise<void> => {
      c.send(text);
      answers.push(await c.answer());
    };
    await ask(request('GET', '/_ping'));
    await ask(request('GET', '/v1.44/version'));
    await ask(request('POST', '/v1.44/containers/create?name=c1', '{"Image":"busybox","Cmd":["true"]}'));
    await ask(request('POST', '/v1.44/containers/create?name=c1', '{"Image":"busybox"}'));
    await ask(request('POST', '/v1.44/containers/create', '{"Image":'));
    await ask(request('POST', '/containers/create', ''));
    await ask(request('GET', '/v1.44/containers/c1/json'));
    await ask(request('GET', '/v1.44/containers/nosuch/json'));
    await ask(request('GET', '/v1.44/containers/json?all=1'));
    await ask(request('POST', '/v1.44/containers/c1/start', ''));
    await ask(request('POST', '/v1.44/containers/c1/start'));
    // wait: the head at once, the body when the container exits (killed on another connection).
    c.send(request('POST', '/v1.44/containers/c1/wait?condition=not-running'));
    const waitHead = await c.head();
    const k = new Conn(path);
    k.send(request('POST', '/v1.44/containers/c1/kill?signal=KILL'));
    answers.push(await k.answer());
    k.close();
    answers.push(waitHead + (await c.body(waitHead)));
    await ask(request('POST', '/v1.44/containers/c1/wait?condition=bogus'));
    await ask(request('POST', '/v1.44/containers/c1/stop?t=1'));
    await ask(request('DELETE', '/v1.44/containers/c1?force=1'));
    await ask(request('DELETE', '/v1.44/containers/c1'));
    await ask(request('DELETE', '/v1.44/containers/'));
    await ask(request('GET', '/v1.99/version'));
    await ask(request('GET', '/v1.44/nope'));
    c.close();
    return answers;
  });
  assert.match(out[0]!, /^HTTP\/1\.1 200 OK\r\n.*Connection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nOK$/s);
  assert.match(out[2]!, /^HTTP\/1\.1 201 Created\r\n/);
  assert.match(out[9]!, /^HTTP\/1\.1 204 No Content\r\n/);
  assert.match(out[10]!, /^HTTP\/1\.1 304 Not Modified\r\n/);
  assert.match(out[12]!, /Transfer-Encoding: chunked\r\n\r\n13\r\n\{"StatusCode":137\}\n\r\n0\r\n\r\n$/);
});

test('pipelined requests, bodies in pieces, and node:http taking a connection over midway', async () => {
  await both(async (path) => {
    const answers: string[] = [];
    const c = new Conn(path);
    // Two requests in one write, then a body that comes in three writes.
    c.send(request('GET', '/_ping') + request('POST', '/v1.44/containers/create?name=p1', '{"Image":"busybox"}'));
    answers.push(await c.answer(), await c.answer());
    const body = '{"Image":"busybox","Env":["A=1"]}';
    const whole = request('POST', '/v1.44/containers/create?name=p2', body);
    c.send(whole.slice(0, 20));
    await new Promise((r) => setImmediate(r));
    c.send(whole.slice(20, whole.length - 5));
    await new Promise((r) => setImmediate(r));
    c.send(whole.slice(whole.length - 5));
    answers.push(await c.answer());
    // Pipelined requests run at once, answered in order (as node:http): a wait, and behind it
    // a lean request and one node:http takes; the kill the wait waits for on another connection.
    for (const behind of [request('GET', '/_ping'), request('GET', '/v1.44/images/json')]) {
      c.send(request('POST', '/v1.44/containers/p1/start'));
      answers.push(await c.answer());
      c.send(request('POST', '/v1.44/containers/p1/wait') + behind);
      const waitHead = await c.head(); // its waiter is registered once the head went out
      const k = new Conn(path);
      k.send(request('POST', '/v1.44/containers/p1/kill'));
      answers.push(await k.answer());
      k.close();
      answers.push(waitHead + (await c.body(waitHead)), await c.answer());
    }
    // The request behind a pending wait has run already (not only once the wait is answered),
    // on a connection of the lean front's (c is node:http's now).
    const f = new Conn(path);
    f.send(request('POST', '/v1.44/containers/create?name=p9', '{"Image":"busybox"}'));
    answers.push(await f.answer());
    f.send(request('POST', '/v1.44/containers/p1/start'));
    answers.push(await f.answer());
    f.send(request('POST', '/v1.44/containers/p1/wait') + request('DELETE', '/v1.44/containers/p9'));
    const pending = await f.head();
    const o = new Conn(path);
    o.send(request('GET', '/v1.44/containers/p9/json'));
    const gone = await o.answer();
    assert.match(gone, /^HTTP\/1\.1 404 /);
    answers.push(gone);
    o.send(request('POST', '/v1.44/containers/p1/kill'));
    answers.push(await o.answer());
    o.close();
    answers.push(pending + (await f.body(pending)), await f.answer());
    f.close();
    // A route the lean front leaves to node:http (after lean answers on this connection), then
    // lean routes again on what is now node:http's connection.
    c.send(request('GET', '/v1.44/images/json'));
    answers.push(await c.answer());
    c.send(request('GET', '/v1.44/containers/p2/json'));
    answers.push(await c.answer());
    // A chunked body, then a path that is not clean (a redirect).
    c.send('POST /v1.44/containers/create?name=p3 HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n13\r\n{"Image":"busybox"}\r\n0\r\n\r\n');
    answers.push(await c.answer());
    c.send(request('GET', '/v1.44//containers/p3/json'));
    answers.push(await c.answer());
    c.close();
    for (const [method, target, headers] of [
      ['GET', '/_ping', 'Connection: close\r\n'],
      ['HEAD', '/_ping', ''],
      ['GET', '/v1.44/containers/p1/json', 'X-A: 1\r\nX-A: 2\r\n'],
      ['POST', '/v1.44/containers/p1/start', 'Expect: 100-continue\r\n'],
    ] as const) {
      const d = new Conn(path);
      d.send(request(method, target, undefined, headers));
      answers.push(method === 'HEAD' ? await d.head() : await d.answer());
      d.close();
    }
    // HTTP/1.0: answered and closed.
    const e = new Conn(path);
    e.send('GET /v1.44/version HTTP/1.0\r\n\r\n');
    answers.push(await e.rest());
    // A body sent without framing after a lean answer: node:http's 400 and the connection closed.
    const g = new Conn(path);
    g.send(request('GET', '/_ping'));
    answers.push(await g.answer());
    g.send('{"Cmd":[1,2]}');
    answers.push(await g.rest());
    // Garbage first.
    const h = new Conn(path);
    h.send('\x00\x01garbage\r\n\r\n');
    answers.push(await h.rest());
    for (const n of ['p1', 'p2', 'p3']) {
      const r = new Conn(path);
      r.send(request('DELETE', `/v1.44/containers/${n}?force=1`));
      answers.push(await r.answer());
      r.close();
    }
    return answers;
  });
});

test('requests split at random points: the same answers as node:http', async () => {
  // (Pipelined requests whose outcomes do not depend on one another's timing.)
  const names = ['s0', 's1', 's2'];
  for (let round = 0; round < 10; round++) {
    const steps = [
      request('GET', '/_ping'),
      ...names.map((n) => request('POST', `/v1.44/containers/create?name=r${round}${n}`, JSON.stringify({ Image: 'busybox', Env: ['X=' + 'y'.repeat(3000)] }))),
      request('HEAD', '/_ping'),
      ...names.map((n) => request('GET', `/v1.44/containers/${n}/json`)),
      request('POST', '/v1.44/containers/create', '{"Image":'),
      request('GET', '/v1.44/version'),
    ];
    const script = steps.join('');
    // The same cut points on both sides.
    const cuts = Array.from({ length: 1 + Math.floor(Math.random() * 12) }, () => Math.floor(Math.random() * script.length)).sort((x, y) => x - y);
    await both(async (path) => {
      const c = new Conn(path);
      const answers: string[] = [];
      for (const n of names) {
        c.send(request('POST', `/v1.44/containers/create?name=${n}`, '{"Image":"busybox"}'));
        answers.push(await c.answer());
      }
      let at = 0;
      for (const cut of [...cuts, script.length]) {
        c.send(script.slice(at, cut));
        at = cut;
        await new Promise((r) => setImmediate(r));
      }
      for (const step of steps) answers.push(step.startsWith('HEAD') ? await c.head() : await c.answer());
      for (const n of [...names, ...names.map((n) => `r${round}${n}`)]) {
        c.send(request('DELETE', `/v1.44/containers/${n}?force=1`));
        answers.push(await c.answer());
      }
      c.close();
      return answers;
    });
  }
});

test('upgraded attach on the lean front: 101, the stream, the exit', async () => {
  const c = new Conn(sides.lean.sock);
  c.send(request('POST', '/v1.44/containers/create?name=u1', '{"Image":"busybox","OpenStdin":true}'));
  assert.match(await c.answer(), /^HTTP\/1\.1 201 /);
  const a = new Conn(sides.lean.sock);
  a.send('POST /v1.44/containers/u1/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  assert.equal(await a.head(), 'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  c.send(request('POST', '/v1.44/containers/u1/start'));
  assert.match(await c.answer(), /^HTTP\/1\.1 204 /);
  a.send('hello\n');
  a.socket.end();
  const out = await a.rest();
  // stdcopy frames on stdout: the echo, then the fake container's last words as stdin ended.
  assert.equal(out, '\x01\x00\x00\x00\x00\x00\x00\x06hello\n\x01\x00\x00\x00\x00\x00\x00\x0cbye after 1\n');
  c.send(request('DELETE', '/v1.44/containers/u1?force=1'));
  assert.match(await c.answer(), /^HTTP\/1\.1 204 /);
  c.close();
});

test('an idle keep-alive connection is closed after keepAliveTimeout, on both sides', { timeout: 20_000 }, async () => {
  await both(async (path) => {
    const server = path === sides.lean.sock ? sides.lean.server : sides.node.server;
    server.keepAliveTimeout = 30;
    try {
      const c = new Conn(path);
      c.send(request('GET', '/_ping'));
      const answer = await c.answer();
      return [answer, await c.rest()]; // '' once the server closed it
    } finally {
      server.keepAliveTimeout = 60_000;
    }
  });
});

test('which requests the lean front takes (prepare)', () => {
  const h = createApiHandlers({ engine: new FakeEngine(), images: sides.lean.images, log: () => undefined, daemon: { version: '0', root: dir.path, execRoot: dir.path, startedAt: new Date(0), debug: false, insecureRegistries: [] } });
  const takes = (method: string, target: string, upgrade = false): boolean => h.lean.prepare(method, target, upgrade) !== undefined;
  for (const [m, t] of [['GET', '/_ping'], ['HEAD', '/_ping'], ['GET', '/v1.44/version'], ['POST', '/v1.44/containers/create?name=a'], ['POST', '/v1.24/containers/x/start'], ['POST', '/containers/x/wait?condition=removed'], ['DELETE', '/v1.44/containers/x?force=1&v=1'], ['DELETE', '/containers/'], ['GET', '/v1.44/containers/x/json'], ['GET', '/v1.44/exec/e/json']] as const) assert.equal(takes(m, t), true, `${m} ${t}`);
  assert.equal(takes('POST', '/v1.44/containers/x/attach?stream=1', true), true);
  assert.equal(takes('POST', '/v1.44/exec/e/start', true), true);
  for (const [m, t] of [
    ['GET', '/_ping/'], // the warm-up's (node:http's server side compiled at start: warm-up.test.ts)
    ['POST', '/v1.44/containers/x/attach?stream=1'], // not upgraded: node:http's streams
    ['POST', '/v1.44/images/create?fromImage=busybox'],
    ['POST', '/v1.44/images/load'],
    ['PUT', '/v1.44/containers/x/archive?path=/'],
    ['GET', '/v1.44/containers/x/logs?stdout=1'],
    ['GET', '/v1.44/events'],
    ['GET', '/v1.44//containers/json'],
    ['GET', '/v1.44/containers/%78/json'],
    ['GET', '/v1.99/version'],
    ['GET', '/v1.44/nope'],
  ] as const) assert.equal(takes(m, t), false, `${m} ${t}`);
  assert.equal(takes('GET', '/v1.44/version', true), false, 'an upgrade to a route without hijack');
});

test('plausibleHead: what may still become a request the lean front serves', () => {
  for (const t of ['', 'G', 'GET', 'GET ', 'GET /x', 'GET /x ', 'GET /x HTTP/1', 'GET /x HTTP/1.1', 'GET /x HTTP/1.1\r', 'GET /x HTTP/1.1\r\nHo', 'GET /x HTTP/1.1\r\nHost: a\r\n', 'GET /x HTTP/1.1\r\nHost: a\r\n\r']) assert.equal(plausibleHead(t), true, JSON.stringify(t));
  for (const t of ['{"a"', 'get /', 'GET x', 'GET /x HTTP/1.0', 'GET /x HTTP/1.11', 'GET /x HTTP/1.0\r\n', 'GET /x HTTP/1.1\r\nHo st', 'GET /x HTTP/1.1\r\nA: \x01\r\n', '\x16\x03\x01']) assert.equal(plausibleHead(t), false, JSON.stringify(t));
});
