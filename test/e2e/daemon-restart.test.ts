// hakod killed with SIGKILL and started again on the same roots, with execs in flight: the running
// container is adopted (monitor), the old execs are unknown to the new daemon (exec inspect
// answers 404 at once, ExecIDs is empty: no record claims a process nobody watches), an attached
// exec whose output pipe died with the daemon ends, a detached one keeps running inside the
// container (as with dockerd, whose exec records do not survive a restart either) and ends with
// it; no zombie is left, and new execs work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, pushLayout, type BuiltImage } from '../helpers/images.js';
import { isRoot } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let d: TestDaemon;
let reg: TestRegistry;
let img: BuiltImage;
let image: string;

const json = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
  const r = await d.request(method, `/v1.44${path}`, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'Content-Type': 'application/json' });
  const text = r.body.toString();
  return { status: r.status, body: text && /json/.test(String(r.headers['content-type'])) ? JSON.parse(text) : text };
};

function procState(pid: number): string | null {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  img = busyboxImage();
  await pushLayout(img, reg.host, 'test/busybox');
  image = `${reg.host}/test/busybox:latest`;
  d = await startDaemon();
  assert.equal((await d.request('POST', `/v1.44/images/create?fromImage=${encodeURIComponent(image)}`)).status, 200);
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  await reg?.stop();
  img?.cleanup();
});

test('execs across a daemon crash: no hung inspect, no stale records, no zombies', { skip, timeout: 120_000 }, async () => {
  const { body: c } = await json('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
  const id = c.Id as string;
  assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
  const oldDaemon = d.proc.pid!;
  // A: detached, silent.
  const { body: a } = await json('POST', `/containers/${id}/exec`, { Cmd: ['sleep', '200'] });
  assert.equal((await json('POST', `/exec/${a.Id}/start`, { Detach: true })).status, 200);
  // B: attached, writing all the time.
  const { body: b } = await json('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'], AttachStdout: true, AttachStderr: true });
  const sock = createConnection(d.socket);
  let out = '';
  sock.on('data', (x: Buffer) => (out += x.toString('latin1')));
  sock.on('error', () => undefined);
  const body = JSON.stringify({ Detach: false, Tty: false });
  sock.write(`POST /v1.44/exec/${b.Id}/start HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  for (let i = 0; i < 100 && (out.match(/tick/g) ?? []).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok((out.match(/tick/g) ?? []).length >= 3, out);
  const pidA = (await json('GET', `/exec/${a.Id}/json`)).body.Pid as number;
  const pidB = (await json('GET', `/exec/${b.Id}/json`)).body.Pid as number;
  assert.ok(pidA > 0 && pidB > 0);
  assert.deepEqual(((await json('GET', `/containers/${id}/json`)).body.ExecIDs as string[]).sort(), [a.Id, b.Id].sort());

  await d.restart('SIGKILL');
  sock.destroy();
  assert.notEqual(d.proc.pid, oldDaemon);
  const t0 = Date.now();
  for (const e of [a.Id, b.Id]) {
    const r = await json('GET', `/exec/${e}/json`);
    assert.equal(r.status, 404);
    assert.match(r.body.message, /No such exec instance/);
  }
  assert.ok(Date.now() - t0 < 2000, 'exec inspect answers at once');
  const ci = (await json('GET', `/containers/${id}/json`)).body;
  assert.equal(ci.State.Status, 'running', 'the container was adopted');
  assert.equal(ci.ExecIDs, null);
  // B lost its output pipe with the daemon: it ends (SIGPIPE) and is reaped by its new parent.
  for (let i = 0; i < 60 && procState(pidB) !== null && procState(pidB) !== 'Z'; i++) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 30 && procState(pidB) === 'Z'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(procState(pidB), null, 'the attached exec ended and was reaped');
  // A goes on inside the container (reparented away from the dead daemon), not a zombie.
  assert.equal(procState(pidA), 'S');
  const ppidA = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pidA}/status`, 'utf8'))![1]);
  assert.notEqual(ppidA, oldDaemon);
  // No zombie children of the new daemon.
  const zombies = (readFileSync(`/proc/${d.proc.pid}/task/${d.proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)).filter((p) => procState(Number(p)) === 'Z');
  assert.deepEqual(zombies, []);
  // New execs work.
  const { body: n } = await json('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'exit 4'] });
  assert.equal((await json('POST', `/exec/${n.Id}/start`, { Detach: true })).status, 200);
  for (let i = 0; i < 50 && (await json('GET', `/exec/${n.Id}/json`)).body.Running; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await json('GET', `/exec/${n.Id}/json`)).body.ExitCode, 4);
  // The leftover exec ends with its container.
  assert.equal((await json('DELETE', `/containers/${id}?force=1`)).status, 204);
  for (let i = 0; i < 50 && procState(pidA) !== null; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(procState(pidA), null);
  assert.ok(!existsSync(`/proc/${pidA}`));
});
