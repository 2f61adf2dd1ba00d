// The test helpers' safety net: a test process that ends without stopping its hakod and registry
// (a test cancelled by --test-timeout, then --test-force-exit; or the runner's SIGTERM) still
// stops them and removes their dirs, cgroups and network, with a container running in the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hasEngine } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { cgroupDirs, isRoot } from '../helpers/fixtures.js';
import { netLeftovers } from '../helpers/network.js';
import { pidAlive } from '../helpers/exit-cleanup.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
const helpers = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers');
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// The child: a registry with busybox, a daemon that pulled it and runs `sleep`; then it reports
// what it made and either exits on its own (how --test-force-exit ends a file) or waits for SIGTERM.
const child = (how: 'exit' | 'sigterm'): string => `
import { startDaemon } from ${JSON.stringify(join(helpers, 'daemon.js'))};
import { startRegistry } from ${JSON.stringify(join(helpers, 'registry.js'))};
import { busyboxImage, pushLayout } from ${JSON.stringify(join(helpers, 'images.js'))};
const reg = await startRegistry();
const img = busyboxImage();
await pushLayout(img, reg.host, 'test/busybox');
img.cleanup();
const d = await startDaemon();
const image = reg.host + '/test/busybox:latest';
const call = async (m, p, b) => { const r = await d.request(m, '/v1.44' + p, b === undefined ? undefined : JSON.stringify(b), { 'Content-Type': 'application/json' }); if (r.status >= 300) throw new Error(p + ': ' + r.status + ' ' + r.body); return r.body.length ? JSON.parse(r.body) : {}; };
await d.request('POST', '/v1.44/images/create?fromImage=' + encodeURIComponent(image));
const c = await call('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
await call('POST', '/containers/' + c.Id + '/start');
const top = await call('GET', '/containers/' + c.Id + '/json');
process.stdout.write(JSON.stringify({ daemon: d.proc.pid, dir: d.dir.path, cgroupParent: d.cgroupParent, net: d.net, registry: reg.dir, container: top.State.Pid }) + '\\n');
${how === 'exit' ? 'process.exit(1);' : 'setInterval(() => {}, 1000);'}
`;

for (const how of ['exit', 'sigterm'] as const) {
  test(`a test process that ${how === 'exit' ? 'exits' : 'gets SIGTERM'} without stopping its daemon and registry leaves nothing running or behind`, { skip, timeout: 120_000 }, async () => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child(how)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (how === 'sigterm' && out.includes('\n')) p.kill('SIGTERM');
    });
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    const line = out.split('\n')[0];
    assert.ok(line, `the child reported nothing (exit ${code}): ${err}`);
    const made = JSON.parse(line!) as { daemon: number; dir: string; cgroupParent: string; net: Parameters<typeof netLeftovers>[0]; registry: string; container: number };
    assert.equal(code, how === 'exit' ? 1 : 143, err);
    assert.ok(made.container > 0);
    assert.equal(pidAlive(made.daemon), false, 'hakod still runs');
    assert.equal(pidAlive(made.container), false, 'the container still runs');
    assert.equal(existsSync(made.dir), false, 'the daemon dir is left');
    assert.equal(existsSync(made.registry), false, 'the registry dir is left');
    assert.deepEqual(cgroupDirs(made.cgroupParent), [], 'cgroups are left');
    assert.deepEqual(netLeftovers(made.net), [], 'network leftovers');
  });
}

// The in-process engine of the engine-* files (helpers/engine.ts engineFixture), with and without
// hako-monitor: a test process that gets SIGTERM with a container running kills it (without a
// monitor it is this process's child; with one, the monitor too) and removes mounts, cgroups,
// bridge, table and dirs. (It had no exit-time stopper: a CI run killed in engine-no-monitor left
// all of it.)
const engineChild = (monitor: boolean): string => `
import { engineFixture } from ${JSON.stringify(join(helpers, 'engine.js'))};
import { testCgroupName } from ${JSON.stringify(join(helpers, 'fixtures.js'))};
import { testNet } from ${JSON.stringify(join(helpers, 'network.js'))};
const net = testNet();
const cgroupParent = testCgroupName('exitfx');
const fx = await engineFixture({ dirPrefix: 'hako-exitfx-', cgroupParent, net, monitor: ${monitor} });
const { Id } = await fx.engine.createContainer('exitfx', { Image: fx.image, Cmd: ['sleep', '300'] });
await fx.engine.startContainer(Id);
const container = (await fx.engine.inspectContainer(Id)).State.Pid;
process.stdout.write(JSON.stringify({ dir: fx.dir.path, cgroupParent, net, container }) + '\\n');
setInterval(() => {}, 1000);
`;

for (const monitor of [false, true]) {
  test(`a test process with an in-process engine (${monitor ? 'with' : 'without'} hako-monitor) and a running container that gets SIGTERM leaves nothing running or behind`, { skip, timeout: 60_000 }, async () => {
    const env = { ...process.env };
    delete env.HAKO_TEST_LEDGER; // (what it leaves must show here, not be swept by this run's runner)
    const p = spawn(process.execPath, ['--input-type=module', '-e', engineChild(monitor)], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) p.kill('SIGTERM');
    });
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    const line = out.split('\n')[0];
    assert.ok(line, `the child reported nothing (exit ${code}): ${err}`);
    const made = JSON.parse(line!) as { dir: string; cgroupParent: string; net: Parameters<typeof netLeftovers>[0]; container: number };
    try {
      assert.equal(code, 143, err);
      assert.ok(made.container > 0);
      assert.equal(pidAlive(made.container), false, 'the container still runs');
      assert.deepEqual(procsNaming([made.dir]), [], 'processes naming the engine dir (monitors) still run');
      assert.deepEqual(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(made.dir + '/')), [], 'mounts are left');
      assert.equal(existsSync(made.dir), false, 'the engine dir is left');
      assert.deepEqual(cgroupDirs(made.cgroupParent), [], 'cgroups are left');
      assert.deepEqual(netLeftovers(made.net), [], 'network leftovers');
    } finally {
      // (a failure leaves nothing either: swept as a ledger naming them would be)
      const sweeper = (await import(pathToFileURL(join(repo, 'scripts', 'sweep-ledgers.mjs')).href)) as { sweepRecords(r: unknown, runStart: string): string[] };
      const did = sweeper.sweepRecords({ procs: [], dirs: [made.dir], cgroups: cgroupDirs(made.cgroupParent), nets: [made.net], netns: [], netnsDir: false }, '0');
      if (did.length) process.stderr.write(`in-process engine exit test: swept what the child left:\n  ${did.join('\n  ')}\n`);
    }
  });
}

// startBusyboxDaemon (the shared registry + busybox + daemon set-up of several e2e files) when it
// fails halfway: after the registry and the image (the daemon does not start), and after the
// daemon too (it dies in the pull). Run in a child with a TMPDIR of its own, which looks before
// it exits (its exit-time stoppers would hide a leak): no dir left, no child process running.
const failingSetup = (kind: 'daemon' | 'pull'): string => `
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startBusyboxDaemon } from ${JSON.stringify(join(helpers, 'busybox-daemon.js'))};
${kind === 'pull' ? "process.env.HAKOD_CRASH_AT = 'pull.manifest';" : ''}
let error = null;
try {
  await startBusyboxDaemon(${kind === 'daemon' ? "{ daemonArgs: ['--no-such-flag'] }" : '{ pull: true }'});
} catch (e) {
  error = e.message;
}
const children = [];
for (const p of readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
  try {
    const stat = readFileSync('/proc/' + p + '/stat', 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z') children.push(stat.slice(0, stat.lastIndexOf(')') + 1));
  } catch {}
}
process.stdout.write(JSON.stringify({ error, left: readdirSync(tmpdir()), children }) + '\\n');
process.exit(0); // (what a failed set-up left would otherwise keep this process alive)
`;

for (const kind of ['daemon', 'pull'] as const) {
  test(`the shared busybox set-up (startBusyboxDaemon) that fails ${kind === 'daemon' ? 'at the daemon\'s start' : 'in the pull (hakod dies)'} removes what it made before it throws`, { skip, timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hako-setup-fail-'));
    try {
      const p = spawn(process.execPath, ['--input-type=module', '-e', failingSetup(kind)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
      let out = '';
      let err = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      assert.equal(code, 0, err);
      const r = JSON.parse(out) as { error: string | null; left: string[]; children: string[] };
      assert.ok(r.error, 'the set-up did not fail');
      assert.match(r.error, kind === 'daemon' ? /hakod exited/ : /socket hang up|ECONNRESET|closed/i);
      assert.deepEqual(r.left, [], 'dirs left in TMPDIR');
      assert.deepEqual(r.children, [], 'processes left running');
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// A whole run (scripts/run-tests.mjs) cut short: a child run in a process group of its own runs
// test/e2e/fixtures/run-cut-short.ts (a registry; a hakod with a container on its bridge; an
// in-process engine without a monitor with a container; a netns) and is killed once all exist:
// SIGTERM to the group (a CI runner's kill, Ctrl-C's SIGINT alike), or SIGKILL to the group and then
// the next run's start sweeps the ledger. Nothing of it may remain: mounts, cgroups, links, nft
// tables, netns, processes, dirs (the host's state before and after, what the run made).
const runner = join(repo, 'scripts', 'run-tests.mjs');
const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'run-cut-short.js');

interface Made {
  testPid: number;
  tmp: string;
  pids: Record<string, number>;
  registryDir: string;
  /** The daemon's, the registry's, the image's and the engine's dirs. */
  dirs: string[];
  cgroupPrefix: string;
  nets: Array<{ prefix: string; table: string }>;
  netns: string;
}

function hostState(): { mounts: string[]; cgroups: string[]; links: string[]; tables: string[]; netns: string[] } {
  const cgroups: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      cgroups.push(join(dir, e.name));
      if (depth < 5) walk(join(dir, e.name), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  const out = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' });
    } catch {
      return '';
    }
  };
  return {
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m),
    cgroups,
    links: out('ip', ['-o', 'link', 'show']).split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '').filter((n) => n),
    tables: out('nft', ['list', 'tables']).split('\n').filter((l) => l.startsWith('table ')),
    netns: existsSync('/run/netns') ? readdirSync('/run/netns') : [],
  };
}

/** What of the run's in `now` and not in `before` (the run's: named by its dirs, cgroup prefix, network prefixes, netns). */
function leftOf(made: Made, before: ReturnType<typeof hostState>, now: ReturnType<typeof hostState>): string[] {
  const fresh = <T extends keyof ReturnType<typeof hostState>>(k: T) => now[k].filter((x) => !before[k].includes(x));
  const ours = (name: string) => made.nets.some((n) => name.startsWith(n.prefix)) || name.includes(made.netns);
  const dirs = runDirs(made);
  return [
    ...fresh('mounts').filter((m) => dirs.some((d) => m.startsWith(d + '/')) || m === `/run/netns/${made.netns}`).map((m) => `mount ${m}`),
    ...fresh('cgroups').filter((c) => c.includes(`/${made.cgroupPrefix}`)).map((c) => `cgroup ${c}`),
    ...fresh('links').filter(ours).map((l) => `link ${l}`),
    ...fresh('tables').filter((t) => made.nets.some((n) => t.endsWith(` ${n.table}`))).map((t) => `nft ${t}`),
    ...fresh('netns').filter((n) => n === made.netns).map((n) => `netns ${n}`),
  ];
}

/** The child run's dirs: those it reported, and its TMPDIR when the runner made one (hako-run-…; else it is the host's /tmp). */
function runDirs(made: Made): string[] {
  return [...made.dirs, ...(basename(made.tmp).startsWith('hako-run-') ? [made.tmp] : [])];
}

/** Live processes whose command line names one of `dirs` (or a path below): hako-monitor --dir, registry serve <config>, hakod --data-root. */
function procsNaming(dirs: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || !pidAlive(Number(name))) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => dirs.some((d) => a === d || a.startsWith(d + '/')))) out.push(`${name} ${argv.join(' ').slice(0, 200)}`);
    } catch {
      // gone
    }
  }
  return out;
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

for (const how of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  test(`a test run (run-tests.mjs) whose process group gets ${how}${how === 'SIGKILL' ? ', swept as the next run starts,' : ''} leaves no daemon, container, mount, cgroup, link, nft table, netns or dir`, { skip, timeout: 90_000 }, async () => {
    const work = mkdtempSync(join(tmpdir(), 'hako-cut-short-'));
    const ready = join(work, 'ready.json');
    const before = hostState();
    // (NODE_TEST_CONTEXT, set by node --test for its files, would make the child's node --test skip its files.)
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    delete env.HAKO_TEST_LEDGER; // (its runner's own, not this run's)
    const run = spawn(process.execPath, [runner, fixture], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, HAKO_SWEEP_READY: ready } });
    let log = '';
    run.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    run.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<number | null>((r) => run.once('exit', (code, sig) => r(code ?? (sig === 'SIGKILL' ? 137 : -1))));
    let starts: Record<string, string | undefined> = {};
    try {
      const deadline = Date.now() + 60_000;
      while (!existsSync(ready)) {
        assert.equal(run.exitCode, null, `the child run ended before it was ready: ${log}`);
        assert.ok(Date.now() < deadline, `the child run was not ready within 60 s: ${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const made = JSON.parse(readFileSync(ready, 'utf8')) as Made;
      starts = Object.fromEntries(Object.entries(made.pids).map(([k, pid]) => [k, startTicks(pid)]));
      // All there: the daemon and both containers run, their cgroups, bridges, table and netns exist.
      for (const [k, pid] of Object.entries(made.pids)) assert.equal(pidAlive(pid), true, `${k} does not run`);
      const madeState = leftOf(made, before, hostState());
      for (const kind of ['mount', 'cgroup', 'link', 'nft', 'netns']) assert.ok(madeState.some((l) => l.startsWith(kind + ' ')), `no ${kind} made: ${madeState.join(', ')}`);
      assert.ok(madeState.some((l) => l === `link ${made.nets[0]!.prefix}b0`), 'no bridge');

      process.kill(-run.pid!, how);
      const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 45_000))]);
      assert.notEqual(code, 'late', `the run did not end within 45 s of ${how}: ${log}`);
      if (how === 'SIGKILL') {
        // Killed: what it had stays until a run starts (this one only starts: nothing to make).
        assert.ok(Object.values(made.pids).some((pid, i) => pidAlive(pid) && startTicks(pid) === Object.values(starts)[i]), 'nothing outlived SIGKILL: the test would prove nothing');
        const next = spawnSync(process.execPath, [runner, fixture], { encoding: 'utf8', env: { ...env, HAKO_SWEEP_NOOP: '1' }, timeout: 60_000 });
        assert.equal(next.status, 0, next.stderr + next.stdout);
        assert.match(next.stderr, new RegExp(`swept the ledger of a run that is gone \\(runner ${run.pid}-\\d+\\)`), next.stderr);
      }
      const after = hostState();
      assert.deepEqual(leftOf(made, before, after), [], `left after ${how}; the run's output: ${log}`);
      for (const [k, pid] of Object.entries(made.pids)) assert.ok(!pidAlive(pid) || startTicks(pid) !== starts[k], `${k} (pid ${pid}) still runs`);
      assert.deepEqual(procsNaming(runDirs(made)), [], 'processes of the run (monitors, registries, daemons) still run');
      assert.deepEqual(made.dirs.filter((d) => existsSync(d)), [], 'dirs left');
      assert.match(basename(made.tmp), /^hako-run-/, 'the run had no TMPDIR of its own');
      assert.equal(existsSync(made.tmp), false, `the run's temp dir ${made.tmp} is left`);
      if (how !== 'SIGKILL') assert.equal(code, how === 'SIGTERM' ? 143 : 130, log);
      assert.deepEqual(existsSync('/run/hako-tests') ? readdirSync('/run/hako-tests').filter((n) => n.startsWith(`${run.pid}-`)) : [], [], 'the run\'s ledger is left');
    } finally {
      if (run.exitCode === null && run.signalCode === null) process.kill(-run.pid!, 'SIGKILL');
      // A failure (the sweep's or the runner's) must not leave it all on the host: what the child
      // reported is swept as a ledger naming it would be (its run dir only if it is one).
      if (existsSync(ready)) {
        const made = JSON.parse(readFileSync(ready, 'utf8')) as Made;
        const sweeper = (await import(pathToFileURL(join(repo, 'scripts', 'sweep-ledgers.mjs')).href)) as { sweepRecords(r: unknown, runStart: string): string[] };
        const dirs = runDirs(made);
        const cgroups = hostState().cgroups.filter((c) => basename(c).startsWith(made.cgroupPrefix));
        // (by the start times seen when it was ready: a pid in use again is someone else's)
        const procs = Object.entries(made.pids).flatMap(([k, pid]) => (starts[k] ? [{ pid, start: starts[k], what: `the child run's ${k}` }] : []));
        const did = sweeper.sweepRecords({ procs, dirs, cgroups, nets: made.nets, netns: [made.netns], netnsDir: false }, startTicks(run.pid!) ?? '0');
        if (did.length) process.stderr.write(`cut-short test (${how}): swept what the child run left:\n  ${did.join('\n  ')}\n`);
      }
      rmSync(work, { recursive: true, force: true });
    }
  });
}
