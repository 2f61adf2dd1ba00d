// The CLI's HTTP/1.1 client over unix sockets (src/cli/wire.ts through Client): request framing,
// Content-Length / chunked / until-close answers, keep-alive reuse, the Upgrade: tcp hijack with
// half-close, and the errors (no socket, refused, malformed answers, answers cut short).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { Client, ConnectError, ApiError, readAll } from '../../src/cli/client.js';
import { frame } from '../../src/cli/stdcopy.js';
import { ChunkedDecoder, parseHead, MalformedAnswerError } from '../../src/cli/wire.js';
import { native } from '../../src/native/addon.js';

interface Req {
  head: string;
  body: Buffer;
}

/** A unix-socket server that hands each request (read by a simple parser of its own) to `answer`. */
async function serve(answer: (req: Req, sock: Socket, n: number) => void): Promise<{ path: string; server: Server; connections: () => number; done: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-wire-'));
  const path = join(dir, 's.sock');
  let conns = 0;
  let reqs = 0;
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    conns++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        let rest = buf.subarray(end + 4);
        let body: Buffer;
        const cl = /\r\ncontent-length: (\d+)/i.exec(head);
        if (/\r\ntransfer-encoding: chunked/i.test(head)) {
          const term = rest.indexOf('\r\n0\r\n\r\n');
          const term0 = rest.indexOf('0\r\n\r\n') === 0 ? 0 : -1;
          if (term < 0 && term0 < 0) return;
          const raw = rest.subarray(0, term0 === 0 ? 0 : term + 2).toString('latin1');
          const parts: Buffer[] = [];
          let s = raw;
          while (s.length) {
            const eol = s.indexOf('\r\n');
            const n = parseInt(s.slice(0, eol), 16);
            parts.push(Buffer.from(s.slice(eol + 2, eol + 2 + n), 'latin1'));
            s = s.slice(eol + 2 + n + 2);
          }
          body = Buffer.concat(parts);
          rest = rest.subarray(term0 === 0 ? 5 : term + 7);
        } else if (cl) {
          const n = Number(cl[1]);
          if (rest.length < n) return;
          body = rest.subarray(0, n);
          rest = rest.subarray(n);
        } else body = Buffer.alloc(0);
        buf = rest;
        if (head.startsWith('HEAD /_ping ')) {
          sock.write('HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Length: 2\r\n\r\n');
          continue;
        }
        answer({ head, body }, sock, ++reqs);
        if (/\r\nupgrade: tcp/i.test(head)) {
          sock.off('data', onData);
          return;
        }
      }
    };
    sock.on('data', onData);
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    server,
    connections: () => conns,
    done: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const client = (path: string) => new Client({ host: `unix://${path}`, explicit: true });
const json = (status: string, body: unknown) => {
  const b = Buffer.from(JSON.stringify(body));
  return Buffer.concat([Buffer.from(`HTTP/1.1 ${status}\r\nApi-Version: 1.44\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n`), b]);
};
/** A hung exchange fails its test instead of the whole file. */
const opts = { timeout: 10_000 };

test('wire: response heads parse; malformed ones are named', opts, () => {
  const h = parseHead('HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a\r\nSet-Cookie: b');
  assert.equal(h.statusCode, 200);
  assert.equal(h.statusMessage, 'OK');
  assert.deepEqual(h.headers, { 'api-version': '1.44', 'x-a': '1, 2', 'set-cookie': ['a', 'b'] });
  assert.equal(parseHead('HTTP/1.0 204').statusMessage, '');
  assert.throws(() => parseHead('SSH-2.0-OpenSSH'), (e: Error) => e instanceof MalformedAnswerError && /status line "SSH-2.0-OpenSSH"/.test(e.message));
  assert.throws(() => parseHead('HTTP/1.1 200 OK\r\nno colon here'), /malformed header line "no colon here"/);
  assert.throws(() => parseHead('HTTP/1.1 200 OK\r\nBad : space'), /malformed header line/);
});

test('wire: chunked bodies decode across any split, with extensions, trailers and what follows', opts, () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nHTTP/1.1 200 OK');
  for (let split = 1; split <= wire.length; split++) {
    const d = new ChunkedDecoder();
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i += split) out.push(...d.feed(wire.subarray(i, i + split)));
    assert.equal(Buffer.concat(out).toString(), 'hello 0123456789', `split ${split}`);
    assert.equal(d.done, true);
    if (split === wire.length) assert.equal(d.rest.toString(), 'HTTP/1.1 200 OK');
  }
  assert.throws(() => new ChunkedDecoder().feed(Buffer.from('zz\r\n')), /malformed chunk size "zz"/);
  assert.throws(() => new ChunkedDecoder().feed(Buffer.from('2\r\nabXY')), /no CRLF after a chunk/);
});

test('wire: JSON requests with Content-Length over one kept-alive connection; errors become ApiError', opts, async () => {
  const seen: Req[] = [];
  const s = await serve((req, sock, n) => {
    seen.push(req);
    if (n === 3) sock.write(json('404 Not Found', { message: 'No such container: x' }));
    else sock.write(json(n === 1 ? '201 Created' : '200 OK', { Id: `c${n}`, got: JSON.parse(req.body.toString() || 'null') }));
  });
  const c = client(s.path);
  try {
    const a = await c.json<{ Id: string; got: unknown }>('POST', '/containers/create', { query: { name: 'w' }, body: { Image: 'busybox', Env: ['É=ü'] } });
    assert.deepEqual(a, { Id: 'c1', got: { Image: 'busybox', Env: ['É=ü'] } });
    assert.match(seen[0]!.head, /^POST \/v1\.44\/containers\/create\?name=w HTTP\/1\.1\r\n/);
    assert.match(seen[0]!.head, /\r\nContent-Type: application\/json\r\n/);
    assert.match(seen[0]!.head, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(JSON.stringify({ Image: 'busybox', Env: ['É=ü'] }))}(\\r\\n|$)`));
    const b = await c.json<{ Id: string }>('GET', '/containers/json');
    assert.equal(b.Id, 'c2');
    assert.doesNotMatch(seen[1]!.head, /content-length/i);
    await assert.rejects(c.json('GET', '/containers/x/json'), (e: Error) => e instanceof ApiError && e.status === 404 && e.message === 'No such container: x');
    assert.equal(s.connections(), 1, 'one connection for the three requests');
  } finally {
    c.close();
    await s.done();
  }
});

test('wire: chunked and until-close answers; a streamed request body goes chunked', opts, async () => {
  const s = await serve((req, sock, n) => {
    if (n === 1) {
      // chunked, written in awkward pieces
      const parts = ['HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nTransfer-Encoding: chunked\r\n\r\n', '4\r\n{"St', '\r\n', 'b\r\natusCode": \r\n', '3\r\n3}\n\r\n', '0\r\n\r\n'];
      let i = 0;
      const next = () => {
        if (i < parts.length) sock.write(parts[i++]!, () => setTimeout(next, 2));
      };
      next();
    } else if (n === 2) {
      sock.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuploaded ${req.body.length}: ${req.body.toString()}`);
      sock.end();
    } else sock.write(json('200 OK', { again: true }));
  });
  const c = client(s.path);
  try {
    assert.deepEqual(await c.json('POST', '/containers/x/wait'), { StatusCode: 3 });
    const stream = new PassThrough();
    const p = c.raw('POST', '/images/load', { stream, headers: { 'Content-Type': 'application/x-tar' } });
    stream.write('abc');
    setTimeout(() => stream.end('defg'), 5);
    const res = await p;
    assert.equal((await readAll(res)).toString(), 'uploaded 7: abcdefg');
    // The until-close answer closed its connection: the next request opens another.
    assert.deepEqual(await c.json('GET', '/info'), { again: true });
    assert.equal(s.connections(), 2);
  } finally {
    c.close();
    await s.done();
  }
});

test('wire: a kept-alive connection the daemon closed while idle is replaced', opts, async () => {
  const s = await serve((_req, sock) => {
    sock.write(json('200 OK', { ok: 1 }));
    setTimeout(() => sock.destroy(), 5);
  });
  const c = client(s.path);
  try {
    assert.deepEqual(await c.json('GET', '/a'), { ok: 1 });
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(await c.json('GET', '/b'), { ok: 1 });
    assert.equal(s.connections(), 2);
  } finally {
    c.close();
    await s.done();
  }
});

test('wire: Upgrade: tcp hijack hands over the socket with the bytes that came with the 101; half-close', opts, async () => {
  const s = await serve((req, sock) => {
    assert.match(req.head, /\r\nConnection: Upgrade\r\n/);
    assert.match(req.head, /\r\nUpgrade: tcp(\r\n|$)/);
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x02hi');
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    sock.on('end', () => sock.end(Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, got.length]), Buffer.from(got)])));
  });
  const c = client(s.path);
  try {
    const { socket, head } = await c.hijack('POST', '/containers/x/attach', { query: { stream: true, stdin: true } });
    assert.deepEqual([...head], [1, 0, 0, 0, 0, 0, 0, 2, 104, 105]);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => socket.on('end', r));
    socket.write('input');
    socket.end(); // stdin's EOF: the daemon still answers after it
    await ended;
    assert.match(Buffer.concat(chunks).toString('latin1'), /input$/);
    socket.destroy();
  } finally {
    c.close();
    await s.done();
  }
});

test('wire: no socket, a refused socket, a malformed answer and an answer cut short are clear errors', opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-wire-'));
  try {
    const missing = join(dir, 'none.sock');
    const c1 = client(missing);
    await assert.rejects(c1.json('GET', '/info'), (e: Error) => e instanceof ConnectError && e.message === `Cannot connect to the hako daemon at unix://${missing}. Is the hako daemon running?`);
    c1.close();
    const notSocket = join(dir, 'file.sock');
    writeFileSync(notSocket, '');
    const c2 = client(notSocket);
    await assert.rejects(c2.json('GET', '/info'), (e: Error & { code?: string }) => e instanceof ConnectError && e.code === 'ECONNREFUSED' && e.message.includes(notSocket));
    c2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = await serve((req, sock) => {
    if (req.head.includes('/garbage')) sock.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    else if (req.head.includes('/badlen')) sock.end('HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n');
    else if (req.head.includes('/short')) sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a":');
    else sock.end();
  });
  const c = client(s.path);
  try {
    await assert.rejects(c.json('GET', '/garbage'), (e: Error) => e.message === `the daemon at unix://${s.path} sent a malformed answer: malformed status line "SSH-2.0-OpenSSH_9.2"`);
    await assert.rejects(c.json('GET', '/badlen'), /malformed Content-Length "lots"/);
    await assert.rejects(c.json('GET', '/short'), /the daemon closed the connection before the end of the answer/);
    await assert.rejects(c.json('GET', '/nothing'), /the daemon closed the connection without an answer/);
  } finally {
    c.close();
    await s.done();
  }
});

/** The addon's unixConnect, or why there is none. */
function unixConnect(): ((path: string) => number) | string {
  try {
    return native().unixConnect.bind(native());
  } catch (e) {
    return `native addon not built: ${(e as Error).message}`;
  }
}

test('addon unixConnect: a connected non-blocking socket, or the errno of connect(2)', opts, async (t) => {
  const connect = unixConnect();
  if (typeof connect === 'string') {
    t.skip(connect);
    return;
  }
  const got: Buffer[] = [];
  const s = await serve((req, sock) => {
    got.push(Buffer.from(req.head));
    sock.end(json('200 OK', {}));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-wire-'));
  try {
    const fd = connect(s.path);
    assert.ok(fd > 2);
    writeSync(fd, 'GET /x HTTP/1.1\r\nHost: h\r\n\r\n');
    for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got[0]?.toString(), 'GET /x HTTP/1.1\r\nHost: h');
    closeSync(fd);
    const notSocket = join(dir, 'file.sock');
    writeFileSync(notSocket, '');
    assert.throws(() => connect(join(dir, 'none.sock')), (e: Error & { code?: string; syscall?: string }) => e.code === 'ENOENT' && e.syscall === 'connect');
    assert.throws(() => connect(notSocket), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
    assert.throws(() => connect(join(dir, 'x'.repeat(120))), (e: Error & { code?: string }) => e.code === 'ENAMETOOLONG');
    assert.throws(() => connect(''), (e: Error & { code?: string }) => e.code === 'ENOENT');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.done();
  }
});

test('wire: with a synchronous connector each connection is made by it and a request is on the wire before the call returns; a failing connector changes nothing', opts, async (t) => {
  const connect = unixConnect();
  if (typeof connect === 'string') {
    t.skip(connect);
    return;
  }
  const s = await serve((req, sock, n) => {
    if (req.head.startsWith('POST /v1.44/containers/c1/attach')) {
      sock.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nraw');
      sock.end();
    } else sock.write(json('200 OK', { n }));
  });
  let calls = 0;
  const fds: number[] = [];
  const c = new Client({ host: `unix://${s.path}`, explicit: true }, (p) => {
    calls++;
    const fd = connect(p);
    fds.push(fd);
    return fd;
  });
  try {
    c.prewarm(2);
    assert.equal(calls, 2, 'spare connections through the connector');
    assert.deepEqual(await c.json('GET', '/info'), { n: 1 });
    assert.deepEqual(await c.json('GET', '/info'), { n: 2 });
    assert.equal(calls, 2, 'the spare connections served them');
    const up = await c.hijack('POST', '/containers/c1/attach');
    const rest = await new Promise<string>((r) => {
      let d = '';
      up.socket.on('data', (b: Buffer) => (d += b.toString()));
      up.socket.on('end', () => r(d));
    });
    assert.equal(up.head.toString() + rest, 'raw');
  } finally {
    c.close();
  }
  // Written before the call returned: a server in another process gets the request while this
  // one never returns to its event loop (libuv's own connect would hold the write for a loop turn).
  const dir0 = mkdtempSync(join(tmpdir(), 'hako-wire-'));
  const sockPath = join(dir0, 's.sock');
  const marker = join(dir0, 'got');
  const server = spawn(process.execPath, ['-e', `
    const fs = require('node:fs');
    require('node:net').createServer((s) => s.on('data', (d) => fs.writeFileSync(${JSON.stringify(marker)}, d))).listen(${JSON.stringify(sockPath)}, () => console.log('ready'));`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((r) => server.stdout.once('data', r));
    const blockUntil = (check: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!check() && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      return check();
    };
    const c2 = new Client({ host: `unix://${sockPath}`, explicit: true }, connect);
    try {
      void c2.json('GET', '/info').catch(() => undefined);
      assert.ok(blockUntil(() => existsSync(marker), 3000), 'the request reached the server while this process stayed in one synchronous turn');
    } finally {
      c2.close();
    }
  } finally {
    server.kill();
    await new Promise((r) => server.once('close', r));
    rmSync(dir0, { recursive: true, force: true });
  }
  // A connector that throws: the usual connect, and its errors as before.
  const dir = mkdtempSync(join(tmpdir(), 'hako-wire-'));
  try {
    const failing = new Client({ host: `unix://${s.path}`, explicit: true }, () => {
      throw Object.assign(new Error('connect: EAGAIN'), { code: 'EAGAIN' });
    });
    assert.deepEqual(await failing.json('GET', '/info'), { n: 4 }); // after n 1–3 above
    failing.close();
    // An fd the pipe handle cannot open (not one): a fresh handle connects the usual way.
    const badFd = new Client({ host: `unix://${s.path}`, explicit: true }, () => 0x7ffffff0);
    assert.deepEqual(await badFd.json('GET', '/info'), { n: 5 });
    badFd.close();
    const missing = join(dir, 'none.sock');
    const c1 = new Client({ host: `unix://${missing}`, explicit: true }, connect);
    await assert.rejects(c1.json('GET', '/info'), (e: Error) => e instanceof ConnectError && e.message === `Cannot connect to the hako daemon at unix://${missing}. Is the hako daemon running?`);
    c1.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.done();
  }
});

test('TCP hosts keep node:http: JSON answers and the hijack', opts, async () => {
  const { createServer: createHttpServer } = await import('node:http');
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.44');
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ url: req.url, body }));
    });
  });
  server.on('upgrade', (_req, sock: Socket, head: Buffer) => {
    sock.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello');
    sock.on('data', (d: Buffer) => sock.end(d));
    if (head.length) sock.end(head);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const c = new Client({ host: `tcp://127.0.0.1:${port}`, explicit: true });
  try {
    assert.deepEqual(await c.json('POST', '/containers/create', { body: { Image: 'x' } }), { url: '/v1.44/containers/create', body: '{"Image":"x"}' });
    const { socket, head } = await c.hijack('POST', '/containers/x/attach');
    const got: Buffer[] = [head];
    socket.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => socket.on('end', r));
    socket.write('echo');
    await ended;
    assert.equal(Buffer.concat(got).toString(), 'helloecho');
    socket.destroy();
  } finally {
    c.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('the bundled CLI runs `run --rm` over pipe handles: the order docker uses; the container\'s output goes to stdout and stderr pipes without node:net or node:stream', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const order: string[] = [];
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, '');
    order.push(line);
    if (line.startsWith('POST /v1.44/containers/create')) sock.write(json('201 Created', { Id: 'c1', Warnings: [] }));
    else if (line.startsWith('POST /v1.44/containers/c1/wait')) sock.write(json('200 OK', { StatusCode: 3 }));
    else if (line.startsWith('POST /v1.44/containers/c1/attach')) {
      sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      // the container's output once it was started, then its end
      const started = setInterval(() => {
        if (!order.some((l) => l.startsWith('POST /v1.44/containers/c1/start'))) return;
        clearInterval(started);
        sock.end(Buffer.concat([frame(1, 'hi\n'), frame(2, 'oops\n'), frame(1, 'bye\n')]));
      }, 5);
    } else if (line.startsWith('POST /v1.44/containers/c1/start')) sock.write('HTTP/1.1 204 No Content\r\nApi-Version: 1.44\r\n\r\n');
    else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-run-pipe-'));
  try {
    // What the command loaded goes to a file; its stdout and stderr are pipes to this process.
    const result = join(dir, 'result.json');
    const script = `
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'run', '--rm', 'busybox', 'true']).then((code) => {
        const loaded = ['net', 'stream'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
        require('node:fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, loaded }));
      });`;
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'hi\nbye\n');
    assert.equal(r.stderr, 'oops\n');
    assert.deepEqual(JSON.parse(readFileSync(result, 'utf8')), { code: 3, loaded: [] });
    assert.deepEqual(
      order.map((l) => l.replace(/\?.*/, '')),
      ['POST /v1.44/containers/create', 'POST /v1.44/containers/c1/wait', 'POST /v1.44/containers/c1/attach', 'POST /v1.44/containers/c1/start'],
    );
    assert.match(order[1]!, /condition=removed/);
  } finally {
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundled CLI\'s `run --rm` schedules no process.nextTick (its connections, adopted from the addon\'s connector, start reading when listened to)', opts, async (t) => {
  // A command's first process.nextTick compiles Node's tick queue (~0.15 ms of `hako run`'s
  // path): the connections' 'connect' goes out on a microtask, and a 'data' listener with nothing
  // held starts reading at once.
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!;
    if (line.startsWith('POST /v1.44/containers/create')) sock.write(json('201 Created', { Id: 'c1', Warnings: [] }));
    else if (line.startsWith('POST /v1.44/containers/c1/wait')) sock.write(json('200 OK', { StatusCode: 0 }));
    else if (line.startsWith('POST /v1.44/containers/c1/attach')) {
      sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      setTimeout(() => sock.end(), 50);
    } else if (line.startsWith('POST /v1.44/containers/c1/start')) sock.write('HTTP/1.1 204 No Content\r\nApi-Version: 1.44\r\n\r\n');
    else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-run-ticks-'));
  try {
    const result = join(dir, 'result.json');
    const addonPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', 'hako_native.node');
    const script = `
      const a = { exports: {} };
      process.dlopen(a, ${JSON.stringify(addonPath)});
      const tick = process.nextTick;
      const ticks = [];
      process.nextTick = function (...args) { ticks.push(new Error().stack.split('\\n')[2]); return tick.apply(this, args); };
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'run', '--rm', 'busybox', 'true'], { unixConnector: a.exports.unixConnect }).then((code) => {
        require('node:fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, ticks }));
      });`;
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(result, 'utf8')), { code: 0, ticks: [] });
  } finally {
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundled CLI\'s attached output into a non-blocking pipe that is full: write(2) until EAGAIN, then the rest through process.stdout; every byte arrives, in order', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  // ~1.3 MB of numbered lines on stdout (a pipe holds 64 KiB), cut into frames of assorted
  // sizes, with a stderr frame after every tenth.
  const text = Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join('');
  const frames: Buffer[] = [];
  let errText = '';
  let seed = 7;
  for (let at = 0, n = 0; at < text.length; n++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const size = 1 + (seed % 50_000);
    frames.push(frame(1, text.slice(at, at + size)));
    at += size;
    if (n % 10 === 9) {
      frames.push(frame(2, `e${n}\n`));
      errText += `e${n}\n`;
    }
  }
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!;
    if (line.startsWith('POST /v1.44/containers/create')) sock.write(json('201 Created', { Id: 'c1', Warnings: [] }));
    else if (line.startsWith('POST /v1.44/containers/c1/wait')) sock.write(json('200 OK', { StatusCode: 0 }));
    else if (line.startsWith('POST /v1.44/containers/c1/attach')) {
      sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      setTimeout(() => sock.end(Buffer.concat(frames)), 50);
    } else if (line.startsWith('POST /v1.44/containers/c1/start')) sock.write('HTTP/1.1 204 No Content\r\nApi-Version: 1.44\r\n\r\n');
    else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-run-nonblock-'));
  const fds = native().pipe();
  const open = new Set<number>(fds);
  const [r, w] = fds;
  let rn: number;
  try {
    // The child's fd 1 becomes a non-blocking file description of the pipe (a reopen through
    // /proc: spawn makes a child's stdio blocking), and it notes when process.stdout is made.
    // Nothing is read here before that: the pipe fills, so write(2) must meet EAGAIN.
    const marker = join(dir, 'stdout-made');
    const result = join(dir, 'result.json');
    const script = `
      const fs = require('node:fs');
      const { O_WRONLY, O_NONBLOCK } = fs.constants;
      const tmp = fs.openSync('/proc/self/fd/1', O_WRONLY | O_NONBLOCK);
      fs.closeSync(1);
      if (fs.openSync('/proc/self/fd/' + tmp, O_WRONLY | O_NONBLOCK) !== 1) throw new Error('fd 1 not reopened');
      fs.closeSync(tmp);
      const made = Object.getOwnPropertyDescriptor(process, 'stdout');
      Object.defineProperty(process, 'stdout', { configurable: true, get() {
        if (!fs.existsSync(${JSON.stringify(marker)})) fs.writeFileSync(${JSON.stringify(marker)}, '');
        return made.get.call(process);
      } });
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'run', '--rm', 'busybox', 'true']).then((code) => {
        fs.writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code }));
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', w, 'pipe'] });
    closeSync(w);
    open.delete(w);
    rn = openSync(`/proc/self/fd/${r}`, constants.O_RDONLY | constants.O_NONBLOCK);
    open.add(rn);
    closeSync(r);
    open.delete(r);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    while (!existsSync(marker) && child.exitCode === null) await sleep(5);
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      let n: number;
      try {
        n = readSync(rn, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await sleep(2);
        continue;
      }
      if (n === 0) break; // every writer closed: the child is gone
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    assert.equal(await exited, 0, stderr);
    assert.ok(existsSync(marker), 'process.stdout was never made: write(2) took 1.3 MB on a full non-blocking pipe?');
    const out = Buffer.concat(chunks).toString();
    assert.equal(out.length, text.length);
    assert.ok(out === text, 'stdout differs from what the container wrote');
    assert.equal(stderr, errText);
    assert.deepEqual(JSON.parse(readFileSync(result, 'utf8')), { code: 0 });
  } finally {
    for (const fd of open) closeSync(fd);
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundled CLI pulls with an empty X-Registry-Auth when there is no docker config, without loading the docker config code (node:fs/promises) or node:os', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const heads: string[] = [];
  const s = await serve((req, sock) => {
    heads.push(req.head);
    const lines = [{ status: 'Pulling from library/busybox', id: 'latest' }, { status: 'Status: Downloaded newer image for busybox:latest' }].map((m) => JSON.stringify(m) + '\r\n');
    const body = lines.map((l) => `${Buffer.byteLength(l).toString(16)}\r\n${l}\r\n`).join('') + '0\r\n\r\n';
    sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
  });
  const config = mkdtempSync(join(tmpdir(), 'hako-noconfig-'));
  try {
    // What the command loaded is read when its request reaches the server (the header is made
    // before it); stdout/stderr are replaced so that only the command's own modules count.
    const script = `
      const seen = [];
      const fake = { write: (s) => (seen.push(String(s)), true), isTTY: false, writableLength: 0, on() { return this; } };
      Object.defineProperty(process, 'stdout', { get: () => fake });
      Object.defineProperty(process, 'stderr', { get: () => fake });
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'pull', 'busybox']).then((code) => {
        const loaded = ['fs/promises', 'os'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
        require('node:fs').writeSync(1, JSON.stringify({ code, loaded }));
      });`;
    const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_CONFIG: config } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    assert.equal(r.status, 0, r.stderr);
    // (the command writes to the pipe itself, write(2) on fd 1, before the script's record)
    const at = r.stdout.lastIndexOf('{"code"');
    assert.deepEqual({ ...JSON.parse(r.stdout.slice(at)), out: r.stdout.slice(0, at) }, { code: 0, out: 'Using default tag: latest\nlatest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n', loaded: [] });
    assert.equal(heads.length, 1);
    assert.match(heads[0]!, /^POST \/v1\.44\/images\/create\?fromImage=busybox&tag=latest HTTP\/1\.1\r\n/);
    assert.match(heads[0]!, /\r\nX-Registry-Auth: e30\r\n/i); // base64url of {}
  } finally {
    await s.done();
    rmSync(config, { recursive: true, force: true });
  }
});

test('the bundled CLI\'s `pull` and `pull -q` write to a stdout pipe without making process.stdout (node:net not loaded) and read the answer without node:stream; an error message in it (split across reads, mid-character) fails it; without -q the progress lines, then the reference', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const chunk = (m: unknown) => {
    const l = Buffer.from(JSON.stringify(m) + '\r\n');
    return Buffer.concat([Buffer.from(`${l.length.toString(16)}\r\n`), l, Buffer.from('\r\n')]);
  };
  const s = await serve((req, sock) => {
    const head = 'HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    if (req.head.includes('fromImage=broken')) {
      // The error line reaches the CLI in two reads, cut inside the two bytes of `ü`.
      const body = Buffer.concat([Buffer.from(head), chunk({ status: 'Pulling from library/broken', id: 'latest' }), chunk({ errorDetail: { message: 'manifest für broken' }, error: 'manifest für broken' }), Buffer.from('0\r\n\r\n')]);
      const cut = body.indexOf(Buffer.from('ü')) + 1;
      sock.write(body.subarray(0, cut));
      setTimeout(() => sock.write(body.subarray(cut)), 30);
      return;
    }
    sock.write(Buffer.concat([Buffer.from(head), chunk({ status: 'Pulling from library/busybox', id: 'latest' }), chunk({ status: 'Status: Downloaded newer image for busybox:latest' }), Buffer.from('0\r\n\r\n')]));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-noconfig-'));
  try {
    const pull = async (args: string[]) => {
      // What the command loaded goes to a file; its stdout and stderr are pipes to this process.
      const result = join(dir, 'result.json');
      const script = `
        require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'pull', ...${JSON.stringify(args)}]).then((code) => {
          const loaded = (m) => process.moduleLoadList.includes('NativeModule ' + m);
          require('node:fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, net: loaded('net'), stream: loaded('stream') }));
        });`;
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCKER_CONFIG: join(dir, 'docker') } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      assert.equal(r.status, 0, r.stderr);
      return { ...r, result: JSON.parse(readFileSync(result, 'utf8')) as { code: number; net: boolean; stream: boolean } };
    };
    const quiet = await pull(['-q', 'busybox']);
    assert.equal(quiet.stdout, 'docker.io/library/busybox:latest\n');
    assert.deepEqual(quiet.result, { code: 0, net: false, stream: false });
    const broken = await pull(['-q', 'broken']);
    assert.equal(broken.stdout, '');
    assert.equal(broken.stderr, 'manifest für broken\n');
    assert.equal(broken.result.code, 1);
    const full = await pull(['busybox']);
    assert.equal(full.stdout, 'Using default tag: latest\nlatest: Pulling from library/busybox\nStatus: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n');
    assert.deepEqual(full.result, { code: 0, net: false, stream: false });
    const fullBroken = await pull(['broken:1']);
    assert.equal(fullBroken.stdout, 'latest: Pulling from library/broken\n');
    assert.equal(fullBroken.stderr, 'manifest für broken\n');
    assert.equal(fullBroken.result.code, 1);
  } finally {
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bundled CLI\'s images, volume ls, network ls, logs and events print into a stdout pipe without node:net or node:stream', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, '');
    if (line.startsWith('GET /v1.44/images/json')) sock.write(json('200 OK', [{ Id: `sha256:${'a'.repeat(64)}`, RepoTags: ['x:1'], Created: 0, Size: 1000 }]));
    else if (line.startsWith('GET /v1.44/volumes')) sock.write(json('200 OK', { Volumes: [{ Name: 'v2', Driver: 'local' }, { Name: 'v1', Driver: 'local' }], Warnings: null }));
    else if (line.startsWith('GET /v1.44/networks')) sock.write(json('200 OK', [{ Id: 'b'.repeat(64), Name: 'bridge', Driver: 'bridge', Scope: 'local' }]));
    else if (line.startsWith('GET /v1.44/containers/c1/json')) sock.write(json('200 OK', { Id: 'c1', Config: { Tty: false } }));
    else if (line.startsWith('GET /v1.44/containers/c1/logs')) {
      const body = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
      // chunked, in two pieces cut inside a frame's header
      sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nTransfer-Encoding: chunked\r\n\r\n${(17).toString(16)}\r\n`);
      sock.write(Buffer.concat([body.subarray(0, 17), Buffer.from(`\r\n${(body.length - 17).toString(16)}\r\n`), body.subarray(17), Buffer.from('\r\n0\r\n\r\n')]));
    } else if (line.startsWith('GET /v1.44/events')) {
      // chunked, cut inside an event and inside a multi-byte character (é: c3 a9)
      const body = Buffer.from(
        '{"Type":"container","Action":"create","Actor":{"ID":"c1","Attributes":{"name":"caf\u00e9","image":"x"}},"time":1700000000,"timeNano":1700000000123456789}\n' +
          '{"Type":"volume","Action":"create","Actor":{"ID":"v1","Attributes":{"driver":"local"}},"time":1700000001,"timeNano":1700000001000000001}\n',
      );
      const cut = body.indexOf(0xa9);
      sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${cut.toString(16)}\r\n`);
      sock.write(Buffer.concat([body.subarray(0, cut), Buffer.from(`\r\n${(body.length - cut).toString(16)}\r\n`), body.subarray(cut), Buffer.from('\r\n0\r\n\r\n')]));
    } else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-list-pipe-'));
  try {
    const cli = async (args: string[]) => {
      const result = join(dir, 'result.json');
      const script = `
        require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, ...${JSON.stringify(args)}]).then((code) => {
          const loaded = ['net', 'stream'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
          require('node:fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, loaded }));
        });`;
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
      assert.equal(r.status, 0, r.stderr);
      return { ...r, result: JSON.parse(readFileSync(result, 'utf8')) as { code: number; loaded: string[] } };
    };
    const images = await cli(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.deepEqual([images.stdout, images.result], [`x:1 ${'a'.repeat(12)}\n`, { code: 0, loaded: [] }]);
    const vols = await cli(['volume', 'ls']);
    assert.deepEqual([vols.stdout, vols.result], ['DRIVER    VOLUME NAME\nlocal     v1\nlocal     v2\n', { code: 0, loaded: [] }]);
    const quiet = await cli(['volume', 'ls', '-q']);
    assert.equal(quiet.stdout, 'v1\nv2\n');
    const nets = await cli(['network', 'ls', '-q', '--no-trunc']);
    assert.deepEqual([nets.stdout, nets.result], [`${'b'.repeat(64)}\n`, { code: 0, loaded: [] }]);
    const logs = await cli(['logs', 'c1']);
    assert.deepEqual([logs.stdout, logs.stderr, logs.result], ['out 1\nout 2\n', 'err 1\n', { code: 0, loaded: [] }]);
    const events = await cli(['events', '--since', '0', '--until', '1']);
    assert.deepEqual(
      [events.stdout, events.result],
      ['2023-11-14T22:13:20.123456789Z container create c1 (image=x, name=caf\u00e9)\n2023-11-14T22:13:21.000000001Z volume create v1 (driver=local)\n', { code: 0, loaded: [] }],
    );
    const formatted = await cli(['events', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    assert.equal(formatted.stdout, 'create caf\u00e9\ncreate <no value>\n');
  } finally {
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The bundled CLI's path (dist/bundle/hako.cjs), or undefined with the test skipped when it was not built. */
function bundledCliOrSkip(t: { skip(message: string): void }): string | undefined {
  const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bundle', 'hako.cjs');
  if (existsSync(bundle)) return bundle;
  t.skip('no bundle (esbuild not installed)');
  return undefined;
}

/**
 * Runs the bundled CLI into a full, slowly read pipe (bundledCliIntoSlowPipe) and checks it exits 0
 * with stdout exactly `text`, process.stdout never holding more than 512 KiB: a read of the socket
 * (64 KiB) and what it makes over the stream's high-water mark at most.
 */
async function assertSlowPipeGetsAll(bundle: string, socketPath: string, args: string[], readEveryMs: number, text: string, differs: string): Promise<void> {
  const { exit, stderr, out, res } = await bundledCliIntoSlowPipe(bundle, socketPath, args, readEveryMs);
  assert.equal(exit, 0, stderr);
  assert.equal(out.length, text.length);
  assert.ok(out === text, differs);
  assert.equal(res.code, 0);
  assert.ok(res.maxQueued <= 512 * 1024, `hako ${args.join(' ')}: process.stdout queued ${res.maxQueued} bytes of ${text.length}`);
}

/**
 * The bundled CLI run with `args` against `socketPath`, its stdout a full non-blocking pipe read
 * slowly (64 KiB every readEveryMs): what arrived, its exit, and the largest queue process.stdout
 * held (from a hook in the child).
 */
async function bundledCliIntoSlowPipe(bundle: string, socketPath: string, args: string[], readEveryMs: number): Promise<{ exit: number | null; stderr: string; out: string; res: { code: number; maxQueued: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-slow-pipe-'));
  const fds = native().pipe();
  const open = new Set<number>(fds);
  const [r, w] = fds;
  try {
    // fd 1 reopened non-blocking (as a terminal or another program may leave it); the largest
    // queue of process.stdout is noted.
    const marker = join(dir, 'stdout-made');
    const result = join(dir, 'result.json');
    const script = `
      const fs = require('node:fs');
      const { O_WRONLY, O_NONBLOCK } = fs.constants;
      const tmp = fs.openSync('/proc/self/fd/1', O_WRONLY | O_NONBLOCK);
      fs.closeSync(1);
      if (fs.openSync('/proc/self/fd/' + tmp, O_WRONLY | O_NONBLOCK) !== 1) throw new Error('fd 1 not reopened');
      fs.closeSync(tmp);
      let maxQueued = 0;
      const made = Object.getOwnPropertyDescriptor(process, 'stdout');
      Object.defineProperty(process, 'stdout', { configurable: true, get() {
        const out = made.get.call(process);
        if (!fs.existsSync(${JSON.stringify(marker)})) {
          fs.writeFileSync(${JSON.stringify(marker)}, '');
          const write = out.write;
          out.write = function (...a) {
            const ok = write.apply(this, a);
            maxQueued = Math.max(maxQueued, this.writableLength);
            return ok;
          };
        }
        return out;
      } });
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${socketPath}`)}, ...${JSON.stringify(args)}]).then((code) => {
        fs.writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, maxQueued }));
      });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', w, 'pipe'] });
    closeSync(w);
    open.delete(w);
    const rn = openSync(`/proc/self/fd/${r}`, constants.O_RDONLY | constants.O_NONBLOCK);
    open.add(rn);
    closeSync(r);
    open.delete(r);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    while (!existsSync(marker) && child.exitCode === null) await sleep(5);
    // A slow reader: 64 KiB every readEveryMs at most.
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(1 << 16);
    for (;;) {
      let n: number;
      try {
        n = readSync(rn, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        await sleep(1);
        continue;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
      await sleep(readEveryMs);
    }
    const exit = await exited;
    const out = Buffer.concat(chunks).toString();
    const res = exit === 0 ? (JSON.parse(readFileSync(result, 'utf8')) as { code: number; maxQueued: number }) : { code: -1, maxQueued: -1 };
    return { exit, stderr, out, res };
  } finally {
    for (const fd of open) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the bundled CLI\'s logs into a non-blocking pipe that is full: the rest through process.stdout, whose queue stays small (the answer is read as the pipe takes it); every byte arrives, in order', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  // ~24 MB of numbered lines in frames of up to 64 KiB.
  const text = Array.from({ length: 3_000_000 }, (_, i) => `${i + 1}\n`).join('');
  const frames: Buffer[] = [];
  for (let at = 0; at < text.length; at += 65_536) frames.push(frame(1, text.slice(at, at + 65_536)));
  const body = Buffer.concat(frames);
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!;
    if (line.startsWith('GET /v1.44/containers/c1/json')) sock.write(json('200 OK', { Id: 'c1', Config: { Tty: false } }));
    else if (line.startsWith('GET /v1.44/containers/c1/logs')) {
      sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body);
    } else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  try {
    await assertSlowPipeGetsAll(bundle, s.path, ['logs', 'c1'], 1, text, 'stdout differs from what the container wrote');
  } finally {
    await s.done();
  }
});

test('the bundled CLI\'s push (the progress reader of pull, push, load, import and build) into a non-blocking pipe that is full: the answer is read as the pipe takes it (process.stdout\'s queue stays small); every line arrives, in order, the bars left out', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  // 100000 status lines of 200 bytes (20 MB), a progress update after every tenth: not shown off a terminal.
  const count = 100_000;
  const pad = 'x'.repeat(192);
  let json = '';
  let text = '';
  for (let i = 1; i <= count; i++) {
    const status = `${String(i).padStart(7, '0')}${pad}`;
    json += `{"status":"${status}"}\n${i % 10 === 0 ? `{"status":"Pushing","progressDetail":{"current":${i},"total":${count}},"id":"abc"}\n` : ''}`;
    text += `${status}\n`;
  }
  const body = Buffer.from(json);
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!;
    if (line.startsWith('POST /v1.44/images/x/push')) {
      sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body);
    } else sock.write(Buffer.from(`HTTP/1.1 404 Not Found\r\nApi-Version: 1.44\r\nContent-Length: 0\r\n\r\n`));
  });
  try {
    // The reader: ~16 MB/s, slower than the CLI prints.
    await assertSlowPipeGetsAll(bundle, s.path, ['push', 'x'], 4, text, 'stdout differs from the status lines');
  } finally {
    await s.done();
  }
});

/** The bundled CLI in a child with `args` against `socketPath`; stdout a pipe read whole (or `stdoutFd`), stdin `stdinFile`. */
async function bundledCli(bundle: string, socketPath: string, args: string[], opts: { stdinFile?: string; stdoutFd?: number } = {}): Promise<{ status: number | null; stdout: Buffer; stderr: string; result: { code: number; loaded: string[]; stdoutMade: boolean } | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-cli-child-'));
  const result = join(dir, 'result.json');
  const script = `
    let stdoutMade = false;
    const made = Object.getOwnPropertyDescriptor(process, 'stdout');
    Object.defineProperty(process, 'stdout', { configurable: true, get() { stdoutMade = true; return made.get.call(process); } });
    require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${socketPath}`)}, ...${JSON.stringify(args)}]).then((code) => {
      const loaded = ['net', 'stream'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
      require('node:fs').writeFileSync(${JSON.stringify(result)}, JSON.stringify({ code, loaded, stdoutMade }));
    });`;
  const stdin = opts.stdinFile ? openSync(opts.stdinFile, 'r') : 'ignore';
  try {
    return await new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', script], { stdio: [stdin, opts.stdoutFd ?? 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr, result: existsSync(result) ? JSON.parse(readFileSync(result, 'utf8')) : null }));
    });
  } finally {
    if (typeof stdin === 'number') closeSync(stdin);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A unix-socket daemon that answers GET `path` with `body` (application/x-tar), and 404 otherwise. */
function tarAnswer(routes: Record<string, Buffer>): (req: Req, sock: Socket) => void {
  return (req, sock) => {
    const line = req.head.split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, '');
    const body = routes[line];
    if (body) {
      sock.write(`HTTP/1.1 200 OK\r\nApi-Version: 1.44\r\nContent-Type: application/x-tar\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body);
    } else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  };
}

test('the bundled CLI\'s save, export and cp to `-` write the archive into a stdout pipe through write(2) (no process.stdout, node:net or node:stream), byte for byte', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const tar = Buffer.alloc(3 * 1024 * 1024 + 517);
  for (let i = 0; i < tar.length; i++) tar[i] = (i * 7919) >>> 3;
  const s = await serve(tarAnswer({
    'GET /v1.44/images/get?names=x%3A1&names=y': tar,
    'GET /v1.44/containers/c1/export': tar,
    'GET /v1.44/containers/c1/archive?path=%2Fetc': tar,
  }));
  try {
    for (const args of [['save', 'x:1', 'y'], ['export', 'c1'], ['cp', 'c1:/etc', '-']]) {
      const r = await bundledCli(bundle, s.path, args);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.equals(tar), `hako ${args.join(' ')}: stdout differs from the archive (${r.stdout.length} of ${tar.length} bytes)`);
      assert.deepEqual(r.result, { code: 0, loaded: [], stdoutMade: false }, `hako ${args.join(' ')}`);
    }
  } finally {
    await s.done();
  }
});

test('the bundled CLI\'s save into a non-blocking pipe that is full: the archive is read as the pipe takes it (process.stdout\'s queue stays small); every byte arrives', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  // 24 MB of text (the helper compares strings)
  const text = Array.from({ length: 3_000_000 }, (_, i) => `${i + 1}\n`).join('');
  const s = await serve(tarAnswer({ 'GET /v1.44/images/get?names=x': Buffer.from(text) }));
  try {
    await assertSlowPipeGetsAll(bundle, s.path, ['save', 'x'], 1, text, 'stdout differs from the archive');
  } finally {
    await s.done();
  }
});

test('the bundled CLI\'s save into a pipe whose reader is gone ends as docker: `write /dev/stdout: broken pipe`, status 1', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const s = await serve(tarAnswer({ 'GET /v1.44/images/get?names=x': Buffer.alloc(4 * 1024 * 1024, 1) }));
  const [r, w] = native().pipe();
  closeSync(r);
  try {
    const got = await bundledCli(bundle, s.path, ['save', 'x'], { stdoutFd: w });
    assert.equal(got.stderr, 'write /dev/stdout: broken pipe\n');
    assert.equal(got.status, 0, 'the child ran to its end');
    assert.equal(got.result?.code, 1);
  } finally {
    closeSync(w);
    await s.done();
  }
});

test('the bundled CLI\'s prune prompts go to stdout through write(2) (no process.stdout made); y goes on, anything else stops', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const pruned: string[] = [];
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, '');
    if (line.startsWith('POST /v1.44/containers/prune')) {
      pruned.push('containers');
      sock.write(json('200 OK', { ContainersDeleted: ['c1'], SpaceReclaimed: 0 }));
    } else if (line.startsWith('POST /v1.44/images/prune')) {
      pruned.push('images');
      sock.write(json('200 OK', { ImagesDeleted: null, SpaceReclaimed: 0 }));
    } else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-prompt-'));
  try {
    const yes = join(dir, 'yes');
    writeFileSync(yes, 'y\n');
    const no = join(dir, 'no');
    writeFileSync(no, 'n\n');
    const c = await bundledCli(bundle, s.path, ['container', 'prune'], { stdinFile: yes });
    assert.equal(c.stdout.toString(), 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Deleted Containers:\nc1\n\nTotal reclaimed space: 0B\n', c.stderr);
    assert.deepEqual([c.result?.code, c.result?.stdoutMade], [0, false]);
    const i = await bundledCli(bundle, s.path, ['image', 'prune'], { stdinFile: no });
    assert.equal(i.stdout.toString(), 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ', i.stderr);
    assert.deepEqual([i.result?.code, i.result?.stdoutMade], [0, false]);
    assert.deepEqual(pruned, ['containers']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.done();
  }
});

test('the bundled CLI\'s streaming stats prints each round into a stdout pipe through write(2) (no process.stdout made)', opts, async (t) => {
  const bundle = bundledCliOrSkip(t);
  if (!bundle) return;
  const s = await serve((req, sock) => {
    const line = req.head.split('\r\n')[0]!.replace(/ HTTP\/1\.1$/, '');
    if (line.startsWith('GET /v1.44/containers/c1/stats')) sock.write(json('200 OK', { id: 'c1'.padEnd(64, '0'), name: '/web', pids_stats: { current: 3 } }));
    else sock.write(json('404 Not Found', { message: `unexpected ${line}` }));
  });
  const dir = mkdtempSync(join(tmpdir(), 'hako-stats-'));
  const marker = join(dir, 'stdout-made');
  try {
    // The child notes (synchronously) if process.stdout is made; it is killed after two rounds.
    const script = `
      const made = Object.getOwnPropertyDescriptor(process, 'stdout');
      Object.defineProperty(process, 'stdout', { configurable: true, get() { require('node:fs').writeFileSync(${JSON.stringify(marker)}, ''); return made.get.call(process); } });
      require(${JSON.stringify(bundle)}).main(['-H', ${JSON.stringify(`unix://${s.path}`)}, 'stats', '--format', '{{.Name}} {{.PIDs}}', 'c1']);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise((r) => child.on('close', r));
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').length > 2) resolve();
      });
      child.on('close', () => resolve());
    });
    child.kill('SIGKILL');
    await closed;
    assert.equal(out.split('\n').slice(0, 2).join('\n'), 'web 3\nweb 3', stderr);
    assert.equal(existsSync(marker), false, 'process.stdout was made');
  } finally {
    await s.done();
    rmSync(dir, { recursive: true, force: true });
  }
});
