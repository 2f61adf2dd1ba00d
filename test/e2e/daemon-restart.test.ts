// hakod killed with SIGKILL and started again on the same roots, with execs in flight. As with
// dockerd (live-restore) and containerd's shim: the running container is adopted (monitor), and
// so are its execs, each under a monitor of its own: they keep running (in `top`, with their
// monitor as parent, not the dead daemon), `exec inspect` and ExecIDs list them, an attached
// exec's stream ends with the daemon, an exec that finished while the daemon was down reports
// its exit code, one that finishes after the restart too (with its exec_die event); no zombie is
// left, new execs work, and removing the container leaves no exec process or monitor behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasEngine, requestJson, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let image: string;

const json = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => requestJson(d, method, path, body);

function procState(pid: number): string | null {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon({ pull: true });
  ({ d, image } = setup);
});

after(async () => {
  await setup?.stop();
});

test('execs across a daemon crash: they keep running, are listed again, report their exit codes; nothing leaks', { skip, timeout: 120_000 }, async () => {
  const { body: c } = await json('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
  const id = c.Id as string;
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    const oldDaemon = d.proc.pid!;
    const execStart = async (cmd: string[], extra: Record<string, unknown> = {}) => {
      const { body: e } = await json('POST', `/containers/${id}/exec`, { Cmd: cmd, ...extra });
      assert.equal((await json('POST', `/exec/${e.Id}/start`, { Detach: true })).status, 200);
      return e.Id as string;
    };
    // A: detached, silent. C: finishes while the daemon is down. D: finishes after the restart.
    const a = await execStart(['sleep', '200']);
    const cId = await execStart(['sh', '-c', 'sleep 0.5; exit 7']);
    const dId = await execStart(['sh', '-c', 'sleep 4; exit 5']);
    // B: attached, writing all the time.
    const { body: b } = await json('POST', `/containers/${id}/exec`, { Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'], AttachStdout: true, AttachStderr: true });
    const sock = createConnection(d.socket);
    let out = '';
    let streamEnded = false;
    sock.on('data', (x: Buffer) => (out += x.toString('latin1')));
    sock.on('close', () => (streamEnded = true));
    sock.on('error', () => undefined);
    const body = JSON.stringify({ Detach: false, Tty: false });
    sock.write(`POST /v1.44/exec/${b.Id}/start HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    for (let i = 0; i < 100 && (out.match(/tick/g) ?? []).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok((out.match(/tick/g) ?? []).length >= 3, out);
    const pidA = (await json('GET', `/exec/${a}/json`)).body.Pid as number;
    const pidB = (await json('GET', `/exec/${b.Id}/json`)).body.Pid as number;
    assert.ok(pidA > 0 && pidB > 0);
    // ExecIDs: the execs that have not exited (moby drops one from the container's list at its exit).
    const execIds = (await json('GET', `/containers/${id}/json`)).body.ExecIDs as string[];
    for (const e of [a, b.Id, dId]) assert.ok(execIds.includes(e), `${e} is listed`);
    const execsDir = join(d.execRoot, 'monitors', id, 'execs');
    const monitorPids = readdirSync(execsDir).map((e) => (JSON.parse(readFileSync(join(execsDir, e, 'monitor.json'), 'utf8')) as { pid: number }).pid);
    assert.equal(monitorPids.length, 4);

    await d.crash();
    for (let i = 0; i < 50 && !streamEnded; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(streamEnded, "the attached exec's stream ended with the daemon");
    await new Promise((r) => setTimeout(r, 1000)); // C exits meanwhile
    await d.restart();
    assert.notEqual(d.proc.pid, oldDaemon);
    const events = await d.request('GET', `/v1.44/events?since=${Math.floor(Date.now() / 1000) - 1}&until=${Math.floor(Date.now() / 1000) + 7}&filters=${encodeURIComponent(JSON.stringify({ event: ['exec_die'] }))}`);
    const ci = (await json('GET', `/containers/${id}/json`)).body;
    assert.equal(ci.State.Status, 'running', 'the container was adopted');
    for (const e of [a, b.Id]) assert.ok((ci.ExecIDs as string[]).includes(e), 'its running execs too');
    assert.ok(!(ci.ExecIDs as string[]).includes(cId), 'not the one that exited');
    // A and B go on inside the container, children of their monitors (not zombies, not reparented to init).
    for (const [e, pid] of [[a, pidA], [b.Id, pidB]] as const) {
      const x = (await json('GET', `/exec/${e}/json`)).body;
      assert.equal(x.Running, true, e);
      assert.equal(x.Pid, pid);
      assert.match(procState(pid) ?? 'gone', /^[SR]$/);
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      assert.ok(monitorPids.includes(ppid), `exec ${pid}'s parent ${ppid} is its monitor`);
    }
    const top = (await json('GET', `/containers/${id}/top`)).body as { Titles: string[]; Processes: string[][] };
    const pidCol = top.Titles.indexOf('PID');
    const listed = top.Processes.map((p) => Number(p[pidCol]));
    assert.ok(listed.includes(pidA) && listed.includes(pidB), `top lists the execs: ${JSON.stringify(top.Processes)}`);
    // C finished while the daemon was down: its exit code is in its monitor's record.
    const xc = (await json('GET', `/exec/${cId}/json`)).body;
    assert.equal(xc.Running, false);
    assert.equal(xc.ExitCode, 7);
    // D finishes under the new daemon, which watches its monitor.
    for (let i = 0; i < 100 && (await json('GET', `/exec/${dId}/json`)).body.Running; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await json('GET', `/exec/${dId}/json`)).body.ExitCode, 5);
    assert.ok(!((await json('GET', `/containers/${id}/json`)).body.ExecIDs as string[]).includes(dId));
    assert.match(events.body.toString(), new RegExp(`"execID":"${dId}","exitCode":"5"`), 'exec_die of D');
    // No zombie children of the new daemon.
    const zombies = readFileSync(`/proc/${d.proc.pid}/task/${d.proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).filter((p) => procState(Number(p)) === 'Z');
    assert.deepEqual(zombies, []);
    // New execs work.
    const n = await execStart(['sh', '-c', 'exit 4']);
    for (let i = 0; i < 50 && (await json('GET', `/exec/${n}/json`)).body.Running; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await json('GET', `/exec/${n}/json`)).body.ExitCode, 4);
    // Removing the container ends the execs and their monitors, and their files go.
    assert.equal((await json('DELETE', `/containers/${id}?force=1`)).status, 204);
    for (const pid of [pidA, pidB, ...monitorPids]) {
      for (let i = 0; i < 50 && procState(pid) !== null; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(procState(pid), null, `process ${pid} is gone`);
    }
    for (let i = 0; i < 50 && existsSync(join(d.execRoot, 'monitors', id)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!existsSync(join(d.execRoot, 'monitors', id)), 'the monitor dir (with the execs\' dirs) is removed');
  } finally {
    await json('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
  }
});

test('a daemon restart resets a running container\'s health like dockerd\'s restore (starting, streak 0; the next failure reports unhealthy again)', { skip, timeout: 60_000 }, async () => {
  const { body: c } = await json('POST', '/containers/create', {
    Image: image,
    Cmd: ['sleep', '300'],
    Healthcheck: { Test: ['CMD', 'false'], Interval: 300_000_000, Retries: 1 },
    HostConfig: { NetworkMode: 'none' },
  });
  const id = c.Id as string;
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    const health = async () => (await json('GET', `/containers/${id}/json`)).body.State.Health as { Status: string; FailingStreak: number; Log: unknown[] };
    for (let i = 0; i < 100 && (await health()).FailingStreak < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const before = await health();
    assert.equal(before.Status, 'unhealthy');
    assert.ok(before.FailingStreak >= 2);
    await d.crash();
    const since = Math.floor(Date.now() / 1000);
    await d.restart();
    // The first probe after the restart fails: starting → unhealthy, so the event comes again.
    const events = await d.request('GET', `/v1.44/events?since=${since}&until=${since + 5}&filters=${encodeURIComponent(JSON.stringify({ container: [id], event: ['health_status'] }))}`);
    assert.match(events.body.toString(), /"status":"health_status: unhealthy"/);
    // (Without the reset the status stays unhealthy and no health_status event follows.)
    assert.equal((await health()).Status, 'unhealthy');
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
  }
});
