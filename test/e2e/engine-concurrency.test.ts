// Many containers at once through a real hakod: 30 containers started concurrently by 6 API
// clients (all running together), 30 more created → attached → waited → started → removed by the
// same clients in parallel, then everything removed. No request may fail, and nothing may be left:
// no container, mount, monitor process, cgroup, runtime state, bundle, monitor dir or record.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { createConnection } from 'node:net';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasEngine, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { cgroupDirs, isRoot, mountsUnder } from '../helpers/fixtures.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : false;
let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let image: string;

interface Client {
  call(method: string, path: string, body?: unknown): Promise<unknown>;
  close(): void;
}

function client(socketPath: string): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    call: (method, path, body) =>
      new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const r = request({ socketPath, agent, method, path: `/v1.44${path}`, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {} }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path} → ${res.statusCode} ${text}`));
            else resolve(text && /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : text);
          });
        });
        r.on('error', reject);
        r.end(data);
      }),
    close: () => agent.destroy(),
  };
}

/** Attach (hijacked) before the start; resolves after the 101 with `done`: everything the container printed. */
function attachOutput(socketPath: string, id: string): Promise<{ done: Promise<Buffer> }> {
  return new Promise((resolveAttached, reject) => {
    const sock = createConnection(socketPath);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let resolveDone!: (b: Buffer) => void;
    const done = new Promise<Buffer>((r) => (resolveDone = r));
    sock.on('error', reject);
    sock.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (upgraded) return;
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      if (!buf.subarray(0, i).toString().startsWith('HTTP/1.1 101')) return reject(new Error(buf.toString()));
      upgraded = true;
      buf = buf.subarray(i + 4);
      resolveAttached({ done }); // not `done` itself: resolve() would adopt it and wait for the close
    });
    sock.on('close', () => resolveDone(buf));
    sock.write(`POST /v1.44/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  });
}

function monitorsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmd: string[];
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = cmd.indexOf('--dir');
    if (cmd[0]?.endsWith('hako-monitor') && i > 0 && cmd[i + 1]?.startsWith(dir)) out.push(Number(p));
  }
  return out;
}

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((e) => !e.startsWith('.')) : [];
}

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon({ pull: true });
  ({ d, image } = setup);
});

after(async () => {
  await setup?.stop({ noBugs: true });
});

test('30 containers by 6 concurrent clients, run-to-exit in parallel, then nothing left behind', { skip, timeout: 240_000 }, async () => {
  const clients = Array.from({ length: 6 }, () => client(d.socket));
  try {
    // 1. All running at once.
    const ids: string[] = [];
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 5; i++) {
          const { Id } = (await c.call('POST', `/containers/create?name=many-${k}-${i}`, { Image: image, Cmd: ['sleep', '120'], HostConfig: { NetworkMode: 'none' } })) as { Id: string };
          ids.push(Id);
          await c.call('POST', `/containers/${Id}/start`);
        }
      }),
    );
    const running = (await clients[0]!.call('GET', '/containers/json')) as Array<{ Id: string; State: string }>;
    assert.equal(running.length, 30);
    assert.ok(running.every((r) => r.State === 'running'));
    assert.equal(monitorsUnder(d.execRoot).length, 30, 'one monitor per running container');
    // 2. Meanwhile, short containers run to their exit with attach and wait, in parallel.
    await Promise.all(
      clients.map(async (c, k) => {
        for (let i = 0; i < 5; i++) {
          const { Id } = (await c.call('POST', '/containers/create', { Image: image, Cmd: ['echo', `out-${k}-${i}`], HostConfig: { NetworkMode: 'none' } })) as { Id: string };
          const { done: output } = await attachOutput(d.socket, Id);
          // wait on a connection of its own: the client's one connection is needed for the start
          const waited = d.request('POST', `/v1.44/containers/${Id}/wait?condition=next-exit`);
          await new Promise((r) => setTimeout(r, 20)); // the wait is registered before the start
          await c.call('POST', `/containers/${Id}/start`);
          const w = await waited;
          assert.equal(w.status, 200);
          assert.equal(JSON.parse(w.body.toString()).StatusCode, 0);
          assert.match((await output).toString('latin1'), new RegExp(`out-${k}-${i}\\n`));
          await c.call('DELETE', `/containers/${Id}`);
        }
      }),
    );
    // 3. Remove the 30 running ones, concurrently.
    await Promise.all(clients.map(async (c, k) => {
      for (const id of ids.filter((_, i) => i % 6 === k)) await c.call('DELETE', `/containers/${id}?force=1`);
    }));
    assert.deepEqual(await clients[0]!.call('GET', '/containers/json?all=1'), []);
  } finally {
    for (const c of clients) c.close();
  }
  // Nothing left: monitors exit right after their container, and a removed container's runtime
  // state, mounts, snapshot and monitor dir go right after the answer; give them a moment.
  const leftover = () => monitorsUnder(d.execRoot).length + mountsUnder(d.root).length + mountsUnder(d.execRoot).length + ['containers', 'monitors', 'runtime'].reduce((n, sub) => n + entries(join(d.execRoot, sub)).length, 0) + entries(join(d.root, 'snapshots', 'containers')).length;
  for (let i = 0; i < 50 && leftover() > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(monitorsUnder(d.execRoot), [], 'monitor processes');
  assert.deepEqual(mountsUnder(d.root).concat(mountsUnder(d.execRoot)), [], 'mounts');
  for (const sub of ['containers', 'monitors', 'runtime']) assert.deepEqual(entries(join(d.execRoot, sub)), [], `${sub} in the exec-root`);
  assert.deepEqual(entries(join(d.root, 'containers')), [], 'container records');
  assert.deepEqual(entries(join(d.root, 'snapshots', 'containers')), [], 'container snapshots');
  for (const dir of cgroupDirs(d.cgroupParent)) {
    assert.deepEqual(readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), [], `cgroups under ${dir}`);
  }
});
