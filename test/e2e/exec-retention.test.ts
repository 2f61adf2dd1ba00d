// An exec that ended is forgotten after a while, as dockerd's exec GC does (dockerd: 5–10 min
// after its exit; hako: HAKOD_EXEC_RETENTION_MS, 5 min by default, 1.5 s here): `exec inspect`
// answers 404 `No such exec instance`, and its dir under the container's monitor dir (exec.json,
// monitor.json, exit.json) is gone. Before, every exec of a running container stayed in memory and
// in the exec-root until the container was removed: a container exec'd into periodically grew the
// daemon without bound (bench/soak.mjs found it). Also for an exec found again after a daemon
// crash (its exit record read from its monitor's dir), and a running exec is never forgotten. One
// created and never started is forgotten when its container stops (dockerd's Cleanup unregisters
// the execs the container still lists).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasEngine, requestJson, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
const RETENTION_MS = 1500;
const env = { ...process.env, HAKOD_EXEC_RETENTION_MS: String(RETENTION_MS) };
let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let image: string;

const json = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => requestJson(d, method, path, body);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon({ pull: true, daemonOptions: { env } });
  ({ d, image } = setup);
});

after(async () => {
  await setup?.stop();
});

async function execDetached(id: string, cmd: string[]): Promise<string> {
  const { status, body: e } = await json('POST', `/containers/${id}/exec`, { Cmd: cmd });
  assert.equal(status, 201, JSON.stringify(e));
  assert.equal((await json('POST', `/exec/${e.Id}/start`, { Detach: true })).status, 200);
  return e.Id as string;
}

async function waitEnded(execId: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const x = (await json('GET', `/exec/${execId}/json`)).body;
    if (x.Running === false && x.ExitCode !== null) return x.ExitCode as number;
    await sleep(25);
  }
  throw new Error(`exec ${execId} did not end`);
}

test('an ended exec is forgotten after the retention time (inspect 404, its dir gone); a running one is kept; also after a daemon crash', { skip, timeout: 90_000 }, async () => {
  const { body: c } = await json('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
  const id = c.Id as string;
  const execsDir = join(d.execRoot, 'monitors', id, 'execs');
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    const done = await execDetached(id, ['sh', '-c', 'exit 3']);
    const long = await execDetached(id, ['sleep', '60']);
    assert.equal(await waitEnded(done), 3);
    // Right after its end it is still known (a client reads its exit code then).
    assert.equal((await json('GET', `/exec/${done}/json`)).status, 200);
    assert.ok(existsSync(join(execsDir, done)), 'its dir is there while it is known');
    await sleep(RETENTION_MS + 1500);
    const gone = await json('GET', `/exec/${done}/json`);
    assert.equal(gone.status, 404, JSON.stringify(gone.body));
    assert.match(gone.body.message, new RegExp(`No such exec instance: ${done}`));
    assert.ok(!existsSync(join(execsDir, done)), 'its dir under the monitor dir is removed');
    // The running one stays (inspect, ExecIDs, its dir).
    const l = (await json('GET', `/exec/${long}/json`)).body;
    assert.equal(l.Running, true);
    assert.ok(((await json('GET', `/containers/${id}/json`)).body.ExecIDs as string[]).includes(long));
    assert.deepEqual(readdirSync(execsDir), [long]);

    // An exec that ends while the daemon is down is found again by the next daemon, with its exit
    // code, and forgotten after the retention time too.
    const whileDown = await execDetached(id, ['sh', '-c', 'sleep 0.5; exit 6']);
    await d.crash();
    await sleep(1000);
    await d.restart('SIGKILL', env);
    const x = (await json('GET', `/exec/${whileDown}/json`)).body;
    assert.equal(x.ExitCode, 6);
    await sleep(RETENTION_MS + 1500);
    assert.equal((await json('GET', `/exec/${whileDown}/json`)).status, 404);
    assert.deepEqual(readdirSync(execsDir), [long], 'only the running exec keeps its dir');

    // One created and never started is forgotten when the container stops (dockerd's Cleanup).
    const { body: unstarted } = await json('POST', `/containers/${id}/exec`, { Cmd: ['true'] });
    assert.equal((await json('GET', `/exec/${unstarted.Id}/json`)).status, 200);
    assert.equal((await json('POST', `/containers/${id}/stop?t=0`)).status, 204);
    assert.equal((await json('GET', `/exec/${unstarted.Id}/json`)).status, 404);
  } finally {
    await json('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
  }
});
