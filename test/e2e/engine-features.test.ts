// Health checks, attach-before-start and detach keys in the engine, with real busybox containers:
// a probe that passes, one that fails, one that times out (and is killed), the start period, the
// image's HEALTHCHECK, NONE, validation, probing resumed by a new engine on the same roots; and
// attachments made before a start getting that start's output from its first byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';
import type { EngineEvent, Json } from '../../src/engine/api-types.js';
import { HakoError } from '../../src/common/errors.js';
import { isRoot, testCgroupName } from '../helpers/fixtures.js';
import { hasRegistry } from '../helpers/registry.js';
import { testNet } from '../helpers/network.js';
import { engineFixture, type EngineFixture } from '../helpers/engine.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : false;
let dir: { path: string; cleanup: () => void };
let engine: Engine;
let fx: EngineFixture | undefined;
let IMAGE: string;
const cgroupParent = testCgroupName('engine-health');
// Unique bridge/table names: never the host's hako0 or `hako` table.
const net = testNet();
const ms = (n: number) => n * 1_000_000;

function newEngine(): Engine {
  return fx!.newEngine();
}

before(async () => {
  if (skip) return;
  fx = await engineFixture({ dirPrefix: 'hako-health-', cgroupParent, net });
  ({ engine, image: IMAGE, dir } = fx);
});

after(async () => {
  await fx?.close(engine);
});

async function health(id: string): Promise<{ Status: string; FailingStreak: number; Log: Json[] } | undefined> {
  return ((await engine.inspectContainer(id)).State as Json).Health as never;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function collectEvents(): { events: EngineEvent[]; stop: () => void } {
  const ac = new AbortController();
  const events: EngineEvent[] = [];
  void (async () => {
    for await (const e of engine.events({ signal: ac.signal })) events.push(e);
  })();
  return { events, stop: () => ac.abort() };
}

test('a passing probe: starting → healthy, Log entries, health_status event, ps status and filter', { skip }, async () => {
  const ev = collectEvents();
  const { Id } = await engine.createContainer('hc-pass', { Image: IMAGE, Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD-SHELL', 'echo probe-ok; exit 0'], Interval: ms(150), Timeout: ms(5000) } });
  assert.equal(await health(Id), undefined, 'no Health before the first start');
  await engine.startContainer(Id);
  const first = await health(Id);
  assert.equal(first?.Status, 'starting');
  assert.equal(first?.FailingStreak, 0);
  const [row] = await engine.listContainers({ filters: { health: ['starting'] } });
  assert.equal(row?.Id, Id);
  assert.match(row?.Status as string, /^Up .* \(health: starting\)$/);
  const h = await waitFor('healthy', async () => ((await health(Id))?.Status === 'healthy' ? health(Id) : undefined));
  assert.equal(h.FailingStreak, 0);
  const entry = h.Log[0]!;
  assert.equal(entry.ExitCode, 0);
  assert.equal(entry.Output, 'probe-ok\n');
  assert.ok(Date.parse(entry.Start as string) <= Date.parse(entry.End as string));
  const [listed] = await engine.listContainers({ filters: { health: ['healthy'] } });
  assert.equal(listed?.Id, Id);
  assert.match(listed?.Status as string, /^Up .* \(healthy\)$/);
  assert.deepEqual(await engine.listContainers({ filters: { health: ['unhealthy'] } }), []);
  await assert.rejects(engine.listContainers({ filters: { health: ['fine'] } }), /Unrecognised filter value for health: fine/);
  // The Log keeps the last 5 results.
  await waitFor('5 probes', async () => (await health(Id))!.Log.length === 5);
  const fifth = (await health(Id))!.Log[4]!.Start;
  await waitFor('a 6th probe', async () => (await health(Id))!.Log[3]!.Start === fifth);
  assert.equal((await health(Id))!.Log.length, 5);
  // Paused: probing stops and the status is `unhealthy` (dockerd's CloseMonitorChannel, no
  // event); after the unpause the first good probe makes it healthy again, with an event.
  await engine.pauseContainer(Id);
  assert.equal((await health(Id))!.Status, 'unhealthy');
  assert.equal((await health(Id))!.FailingStreak, 0);
  await engine.unpauseContainer(Id);
  assert.equal((await health(Id))!.Status, 'unhealthy');
  await waitFor('healthy after the unpause', async () => (await health(Id))?.Status === 'healthy');
  ev.stop();
  const actions = ev.events.filter((e) => e.Actor.ID === Id).map((e) => e.Action);
  assert.deepEqual(actions.filter((a) => a.startsWith('health_status') || a === 'pause' || a === 'unpause'), ['health_status: healthy', 'pause', 'unpause', 'health_status: healthy']);
  assert.ok(actions.some((a) => a.startsWith('exec_create: /bin/sh -c echo probe-ok')));
  // Stopped: probing stops and the status is `unhealthy` too (dockerd), the Log stays.
  await engine.stopContainer(Id, { timeoutSeconds: 0 });
  const after = (await health(Id))!;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await health(Id))!.Log.length, after.Log.length);
  assert.equal(after.Status, 'unhealthy');
  // A new start resets the status to starting (the Log stays).
  await engine.startContainer(Id);
  assert.equal((await health(Id))?.Status, 'starting');
  assert.equal((await health(Id))?.Log.length, 5);
  await engine.removeContainer(Id, { force: true });
});

test('a failing probe: FailingStreak counts to Retries → unhealthy, with the output and exit code', { skip }, async () => {
  const { Id } = await engine.createContainer('hc-fail', { Image: IMAGE, Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD', 'sh', '-c', 'echo broken >&2; exit 3'], Interval: ms(100), Retries: 2 } });
  await engine.startContainer(Id);
  const h = await waitFor('unhealthy', async () => ((await health(Id))?.Status === 'unhealthy' ? health(Id) : undefined));
  assert.ok(h.FailingStreak >= 2);
  assert.equal(h.Log[0]!.ExitCode, 3);
  assert.equal(h.Log[0]!.Output, 'broken\n');
  const [row] = await engine.listContainers({ filters: { health: ['unhealthy'] } });
  assert.match(row?.Status as string, /\(unhealthy\)$/);
  // Paused: no probes.
  await engine.pauseContainer(Id);
  const n = (await health(Id))!.FailingStreak;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal((await health(Id))!.FailingStreak, n);
  await engine.unpauseContainer(Id);
  await waitFor('probing again', async () => (await health(Id))!.FailingStreak > n);
  await engine.removeContainer(Id, { force: true });
});

test('a probe over its timeout is killed and logged with ExitCode -1; the start period does not count failures', { skip }, async () => {
  const { Id } = await engine.createContainer('hc-timeout', { Image: IMAGE, Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD', 'sleep', '30'], Interval: ms(100), Timeout: ms(300), Retries: 1 } });
  await engine.startContainer(Id);
  const h = await waitFor('unhealthy', async () => ((await health(Id))?.Status === 'unhealthy' ? health(Id) : undefined));
  assert.equal(h.Log[0]!.ExitCode, -1);
  assert.equal(h.Log[0]!.Output, 'Health check exceeded timeout (300ms)');
  const took = Date.parse(h.Log[0]!.End as string) - Date.parse(h.Log[0]!.Start as string);
  assert.ok(took >= 290 && took < 3000, `probe took ${took} ms`);
  // The killed probes do not pile up: at most the one in flight is left in the container.
  const top = await engine.topContainer(Id);
  const sleeps = (top.Processes as string[][]).filter((p) => p[p.length - 1] === 'sleep 30');
  assert.ok(sleeps.length <= 1, JSON.stringify(top.Processes));
  await engine.removeContainer(Id, { force: true });

  const sp = await engine.createContainer('hc-start-period', { Image: IMAGE, Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD', 'false'], Interval: ms(100), StartPeriod: ms(60_000), StartInterval: ms(100), Retries: 1 } });
  await engine.startContainer(sp.Id);
  await waitFor('3 failed probes', async () => ((await health(sp.Id))!.Log.length >= 3 ? true : undefined));
  const s = (await health(sp.Id))!;
  assert.equal(s.Status, 'starting');
  assert.equal(s.FailingStreak, 0);
  await engine.removeContainer(sp.Id, { force: true });
});

test('the image HEALTHCHECK applies and merges with the container’s; NONE disables; bad configs are refused', { skip }, async () => {
  const base = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  const { Id: imageId } = await engine.commitContainer(base.Id, { repo: 'hc-image', tag: 'v1', config: { Healthcheck: { Test: ['CMD-SHELL', 'echo from-image'], Interval: ms(100), Retries: 7 } } });
  await engine.removeContainer(base.Id);
  assert.match(imageId, /^sha256:/);
  const inherit = await engine.createContainer(undefined, { Image: 'hc-image:v1', Cmd: ['sleep', '60'] });
  assert.deepEqual((((await engine.inspectContainer(inherit.Id)).Config as Json).Healthcheck as Json).Test, ['CMD-SHELL', 'echo from-image']);
  await engine.startContainer(inherit.Id);
  const h = await waitFor('healthy', async () => ((await health(inherit.Id))?.Status === 'healthy' ? health(inherit.Id) : undefined));
  assert.equal(h.Log[0]!.Output, 'from-image\n');
  await engine.removeContainer(inherit.Id, { force: true });
  // Fields the container leaves unset come from the image.
  const merged = await engine.createContainer(undefined, { Image: 'hc-image:v1', Cmd: ['true'], Healthcheck: { Test: ['CMD', 'true'] } });
  const mh = ((await engine.inspectContainer(merged.Id)).Config as Json).Healthcheck as Json;
  assert.deepEqual(mh.Test, ['CMD', 'true']);
  assert.equal(mh.Retries, 7);
  assert.equal(mh.Interval, ms(100));
  await engine.removeContainer(merged.Id);
  const none = await engine.createContainer(undefined, { Image: 'hc-image:v1', Cmd: ['sleep', '60'], Healthcheck: { Test: ['NONE'] } });
  await engine.startContainer(none.Id);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await health(none.Id), undefined);
  assert.match((await engine.listContainers({ filters: { id: [none.Id] } }))[0]!.Status as string, /^Up [^(]*$/);
  await engine.removeContainer(none.Id, { force: true });
  const bad = async (hc: Json, re: RegExp) => {
    const before = (await engine.listContainers({ all: true })).length;
    await assert.rejects(engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'], Healthcheck: hc }), (e: unknown) => e instanceof HakoError && e.kind === 'invalid-argument' && re.test(e.message));
    assert.equal((await engine.listContainers({ all: true })).length, before, 'nothing left behind');
  };
  await bad({ Test: ['CMD', 'true'], Interval: 10 }, /Interval in Healthcheck cannot be less than 1ms/);
  await bad({ Test: ['CMD', 'true'], Timeout: 999 }, /Timeout in Healthcheck cannot be less than 1ms/);
  await bad({ Test: ['CMD', 'true'], Retries: -1 }, /Retries in Healthcheck cannot be negative/);
  await bad({ Test: ['HTTP', 'x'] }, /unknown Healthcheck type 'HTTP'/);
  await bad({ Test: ['CMD-SHELL'] }, /Healthcheck CMD-SHELL has no command/);
  await engine.images.remove('hc-image:v1').catch(() => undefined);
});

test('probing resumes in a new engine for a container that kept running; its health restarts as starting (dockerd\'s restore)', { skip: skip || (!monitorAvailable() && 'build/hako-monitor is not built') }, async () => {
  const { Id } = await engine.createContainer('hc-restart', { Image: IMAGE, Cmd: ['sleep', '60'], Healthcheck: { Test: ['CMD', 'true'], Interval: ms(500) } });
  await engine.startContainer(Id);
  await waitFor('healthy', async () => (await health(Id))?.Status === 'healthy');
  const before = (await health(Id))!;
  await engine.close();
  engine = newEngine();
  const h0 = (await health(Id))!;
  // moby's restore calls initHealthMonitor: starting, streak 0, the log kept.
  assert.equal(h0.Status, 'starting', 'the health restarts as starting');
  assert.equal(h0.FailingStreak, 0);
  assert.deepEqual(h0.Log, before.Log, 'the log is kept');
  const last = h0.Log[h0.Log.length - 1]!.End as string;
  await waitFor('a probe by the new engine', async () => {
    const h = (await health(Id))!;
    return Date.parse(h.Log[h.Log.length - 1]!.End as string) > Date.parse(last) && h.Status === 'healthy';
  });
  await engine.removeContainer(Id, { force: true });
});

async function readAll(att: { output: NodeJS.ReadableStream }): Promise<string> {
  let out = '';
  for await (const c of att.output as AsyncIterable<{ data: Buffer }>) out += c.data.toString();
  return out;
}

test('attach before start: every start’s output from the first byte, only that start’s', { skip }, async () => {
  const { Id } = await engine.createContainer('early', { Image: IMAGE, Cmd: ['sh', '-c', 'echo hi; echo err >&2'] });
  for (let i = 0; i < 5; i++) {
    const att = await engine.attachContainer(Id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false });
    const text = readAll(att);
    await engine.startContainer(Id);
    assert.equal(await text, 'hi\nerr\n', `start ${i + 1}`);
    assert.equal((await engine.waitContainer(Id)).StatusCode, 0);
  }
  // A client that goes away before the start holds nothing up.
  const gone = await engine.attachContainer(Id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false });
  gone.close();
  const t0 = Date.now();
  await engine.startContainer(Id);
  await engine.waitContainer(Id);
  assert.ok(Date.now() - t0 < 3000, 'no output hold for a closed attachment');
  // stdin written before the start reaches the container.
  const cat = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['cat'], OpenStdin: true, StdinOnce: true });
  const att = await engine.attachContainer(cat.Id, { stdin: true, stdout: true, stderr: true, stream: true, logs: false });
  const text = readAll(att);
  att.input!.end('early input\n');
  await engine.startContainer(cat.Id);
  assert.equal(await text, 'early input\n');
  assert.equal((await engine.waitContainer(cat.Id)).StatusCode, 0);
  await engine.removeContainer(cat.Id);
  await engine.removeContainer(Id);
});

test('detach keys end a TTY attachment and leave the container running; bad keys are refused', { skip }, async () => {
  const { Id } = await engine.createContainer('tty', { Image: IMAGE, Cmd: ['sh'], Tty: true, OpenStdin: true, StdinOnce: true });
  await engine.startContainer(Id);
  await assert.rejects(engine.attachContainer(Id, { stdin: true, stdout: true, stderr: true, stream: true, logs: false, detachKeys: 'ctrl-1' }), /Invalid detach keys \(ctrl-1\) provided/);
  for (const [keys, seq] of [[undefined, '\x10\x11'], ['ctrl-a,x', '\x01x']] as const) {
    const att = await engine.attachContainer(Id, { stdin: true, stdout: true, stderr: true, stream: true, logs: false, ...(keys ? { detachKeys: keys } : {}) });
    let out = '';
    const ended = new Promise<void>((resolve) => {
      att.output.on('data', (c: { data: Buffer }) => (out += c.data.toString()));
      att.output.on('end', () => resolve());
    });
    att.input!.write('echo al""ive\r');
    await waitFor('echo', async () => out.includes('alive'));
    att.input!.write(seq);
    await ended;
    assert.equal(((await engine.inspectContainer(Id)).State as Json).Running, true, 'still running after the detach');
  }
  // The shell still answers; the held prefix of a broken sequence goes through.
  const att = await engine.attachContainer(Id, { stdin: true, stdout: true, stderr: true, stream: true, logs: false, detachKeys: 'q,z' });
  let out = '';
  att.output.on('data', (c: { data: Buffer }) => (out += c.data.toString()));
  att.input!.write('echo aq');
  att.input!.write('b\r');
  await waitFor('the shell', async () => /\r\naqb\r\n/.test(out));
  att.input!.write('exit 7\r');
  assert.equal((await engine.waitContainer(Id)).StatusCode, 7);
  att.close();
  await engine.removeContainer(Id);
});

test('a state save lost in a crash: a new engine trusts the monitor (running) and its exit record', { skip: skip || (!monitorAvailable() && 'build/hako-monitor is not built') }, async () => {
  const { existsSync, readFileSync, writeFileSync } = await import('node:fs');
  const recPath = (id: string) => join(dir.path, 'root', 'containers', id, 'config.v2.json');
  // Create answers before its record is fsync'd and renamed into place (start waits for that).
  const createdRecord = async (id: string) => {
    await waitFor('the created record on disk', async () => existsSync(recPath(id)));
    return readFileSync(recPath(id), 'utf8');
  };
  const runs = await engine.createContainer('lost-start', { Image: IMAGE, Cmd: ['sleep', '60'] });
  const created = await createdRecord(runs.Id);
  await engine.startContainer(runs.Id);
  const exits = await engine.createContainer('lost-exit', { Image: IMAGE, Cmd: ['sh', '-c', 'exit 9'] });
  const createdToo = await createdRecord(exits.Id);
  await engine.startContainer(exits.Id);
  await engine.waitContainer(exits.Id);
  await engine.close();
  // As if the start's saves never reached the disk: both still "created" on disk.
  writeFileSync(recPath(runs.Id), created);
  writeFileSync(recPath(exits.Id), createdToo);
  engine = newEngine();
  const a = (await engine.inspectContainer(runs.Id)).State as Json;
  assert.equal(a.Status, 'running');
  assert.ok((a.Pid as number) > 0);
  const b = (await engine.inspectContainer(exits.Id)).State as Json;
  assert.equal(b.Status, 'exited');
  assert.equal(b.ExitCode, 9);
  await engine.removeContainer(runs.Id, { force: true });
  await engine.removeContainer(exits.Id);
});

test('remove: the record dir leaves first; what a crash mid-remove or mid-create leaves is swept by a new engine', { skip }, async () => {
  const { existsSync, readdirSync, renameSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const root = join(dir.path, 'root');
  const snapshotOf = (id: string) => join(root, 'snapshots', 'containers', id);
  const hidden = (d: string) => readdirSync(d).filter((n) => n.startsWith('.removed-'));
  // A plain remove: the record and the image lease are gone at the answer (the record renamed
  // away), the snapshot right after it, and their files soon after.
  const plain = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  await engine.startContainer(plain.Id);
  await engine.waitContainer(plain.Id);
  await engine.removeContainer(plain.Id);
  assert.equal(existsSync(join(root, 'containers', plain.Id)), false, 'record dir');
  assert.equal((await engine.images.leases()).some((l) => l.owner === plain.Id), false, 'image lease');
  await assert.rejects(engine.inspectContainer(plain.Id), (e: unknown) => e instanceof HakoError && e.kind === 'not-found');
  await waitFor('the snapshot dir to go', async () => !existsSync(snapshotOf(plain.Id)));
  // A crash right after the record's rename (snapshot still there), and one mid-create (a
  // snapshot and a bundle dir without a record): a new engine removes both, and retired dirs.
  const mid = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  const kept = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['true'] });
  const imageId = (await engine.images.inspect(IMAGE)).id;
  // A lease someone else holds (not named like a container) is none of the sweep's business.
  await engine.images.addLease('build-cache', imageId);
  await engine.close();
  // The crash point: the record is renamed away, the image lease not yet deleted.
  renameSync(join(root, 'containers', mid.Id), join(root, 'containers', `.removed-${mid.Id}-0`));
  // Leases are not fsync'd at create: a crash may lose the one of a container that exists.
  rmSync(join(root, 'image', 'leases', `${kept.Id}.json`));
  assert.ok((await engine.images.leases()).some((l) => l.owner === mid.Id), 'the lease outlived the record');
  const orphan = 'f'.repeat(64);
  mkdirSync(join(snapshotOf(orphan), 'upper'), { recursive: true });
  writeFileSync(join(snapshotOf(orphan), 'lower'), 'empty\n');
  mkdirSync(join(dir.path, 'run', 'containers', orphan, 'rootfs'), { recursive: true });
  engine = newEngine();
  assert.deepEqual((await engine.listContainers({ all: true })).filter((c) => c.Id === mid.Id), [], 'a retired record is not loaded');
  assert.equal(existsSync(snapshotOf(mid.Id)), false, 'snapshot of the retired record');
  assert.equal(existsSync(snapshotOf(orphan)), false, 'snapshot without a record');
  assert.equal(existsSync(join(dir.path, 'run', 'containers', orphan)), false, 'bundle without a record');
  const owners = (await engine.images.leases()).map((l) => l.owner).sort();
  assert.deepEqual(owners, [kept.Id, 'build-cache'].sort(), 'the removed container’s lease is swept; the living container’s is restored and the foreign one stays');
  assert.deepEqual((await engine.images.inspect(IMAGE)).usedBy.sort(), owners);
  await engine.images.removeLease('build-cache');
  await engine.removeContainer(kept.Id);
  assert.deepEqual(await engine.images.leases(), []);
  for (let i = 0; i < 100 && hidden(join(root, 'containers')).length + hidden(join(root, 'snapshots', 'containers')).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(hidden(join(root, 'containers')), [], 'retired record dirs');
  assert.deepEqual(hidden(join(root, 'snapshots', 'containers')), [], 'retired snapshot dirs');
});

test('detach keys end a TTY exec attachment; the exec keeps running', { skip }, async () => {
  const { Id } = await engine.createContainer(undefined, { Image: IMAGE, Cmd: ['sleep', '60'] });
  await engine.startContainer(Id);
  const ex = await engine.createExec(Id, { Cmd: ['sh'], Tty: true, AttachStdin: true, AttachStdout: true, AttachStderr: true, DetachKeys: 'ctrl-x' });
  const att = (await engine.startExec(ex.Id, { detach: false, tty: true }))!;
  let out = '';
  const ended = new Promise<void>((resolve) => {
    att.output.on('data', (c: { data: Buffer }) => (out += c.data.toString()));
    att.output.on('end', () => resolve());
  });
  att.input!.write('echo ex""ec\r');
  await waitFor('the exec shell', async () => out.includes('exec'));
  att.input!.write('\x18');
  await ended;
  const info = await engine.inspectExec(ex.Id);
  assert.equal(info.Running, true, 'the exec still runs after the detach');
  await engine.removeContainer(Id, { force: true });
});
