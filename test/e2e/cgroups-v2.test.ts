// The cgroup v2 driver on the real cgroup2 mount: /sys/fs/cgroup on a pure v2 host, or the
// controller-less /sys/fs/cgroup/unified of a hybrid host (freeze, kill, procs and BPF device
// programs work there). Relative paths only, so everything lands beneath our own v2 cgroup.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupManager, detectCgroupMode, isMissingPointerSupport, type CgroupManager } from '../../src/runtime/cgroups/index.js';
import { cgroupDirs, isRoot, ownCgroup, removeCgroupEverywhere, testCgroupName } from '../helpers/fixtures.js';

const mode = isRoot ? detectCgroupMode() : 'v1';
const skip = !isRoot ? 'needs root' : mode === 'v1' ? 'no cgroup2 mount' : false;
const v2root = mode === 'v2' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function managed(t: TestContext, name: string): { m: CgroupManager; rel: string } {
  const rel = testCgroupName(`v2-${name}`);
  const m = cgroupManager({ cgroupsPath: rel, containerId: name, driver: 'v2' });
  t.after(async () => {
    try {
      await m.killAll(9);
    } catch {
      /* reported below */
    }
    await m.destroy();
    const left = cgroupDirs(rel);
    removeCgroupEverywhere(rel);
    assert.deepEqual(left, []);
  });
  return { m, rel };
}

function spawnSleep(t: TestContext): { pid: number; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, s) => r(s)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { pid: child.pid!, exited };
}

test('v2: placement, freeze/thaw via cgroup.freeze, killAll via cgroup.kill, destroy', { skip }, async (t) => {
  const { m, rel } = managed(t, 'basic');
  assert.equal(m.version, 2);
  assert.equal(m.paths.unified, join(v2root, ownCgroup(''), rel));
  m.create();
  const fd = m.openForCloneInto();
  assert.ok(fd >= 0);
  assert.ok(fstatSync(fd).isDirectory());
  closeSync(fd);
  const a = spawnSleep(t);
  const b = spawnSleep(t);
  m.addProcess(a.pid);
  m.addProcess(b.pid);
  assert.match(readFileSync(`/proc/${a.pid}/cgroup`, 'utf8'), new RegExp(`^0::${join(ownCgroup(''), rel).replace(/\//g, '\\/')}$`, 'm'));
  assert.deepEqual(m.pids().sort(), [a.pid, b.pid].sort());
  assert.equal(m.freezerState(), 'thawed');
  await m.freeze();
  assert.equal(m.freezerState(), 'frozen');
  assert.match(readFileSync(join(m.paths.unified!, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
  // A frozen task is in the freezer's stop state.
  assert.match(readFileSync(`/proc/${a.pid}/status`, 'utf8'), /^State:\s+[DST]/m);
  await m.thaw();
  assert.equal(m.freezerState(), 'thawed');
  // Thawed: sleeping again, or still running on its way back into the sleep (seen under load).
  assert.match(readFileSync(`/proc/${a.pid}/status`, 'utf8'), /^State:\s+[SR]/m);
  await m.killAll(9);
  assert.equal(await a.exited, 'SIGKILL');
  assert.equal(await b.exited, 'SIGKILL');
  assert.deepEqual(m.pids(), []);
});

test('v2: killAll with SIGTERM freezes, signals, thaws', { skip }, async (t) => {
  const { m } = managed(t, 'term');
  m.create();
  const a = spawnSleep(t);
  m.addProcess(a.pid);
  await m.killAll(15);
  assert.equal(await a.exited, 'SIGTERM');
  assert.equal(m.freezerState(), 'thawed');
});

test('v2: a limit whose controller is missing is a clear error and leaves nothing', { skip: skip || (mode === 'v2' ? 'pure v2 host has the controllers' : false) }, async () => {
  const rel = testCgroupName('v2-missing');
  const m = cgroupManager({ cgroupsPath: rel, containerId: 'missing', driver: 'v2' });
  try {
    m.create();
    assert.ok(existsSync(m.paths.unified!));
    assert.throws(() => m.apply({ memory: { limit: 1 << 24 } }), /set memory limit: the memory controller is not available in \/sys\/fs\/cgroup\/unified/);
    assert.equal(existsSync(m.paths.unified!), false);
    assert.deepEqual(cgroupDirs(rel), []);
  } finally {
    removeCgroupEverywhere(rel);
  }
});

test('v2: the device eBPF program denies /dev/null and allows /dev/zero', { skip }, async (t) => {
  const { m } = managed(t, 'devices');
  m.create();
  try {
    m.apply({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
      ],
    });
  } catch (err) {
    if (isMissingPointerSupport(err)) {
      t.skip('the native addon bpf() cannot pass user pointers yet');
      return;
    }
    throw err;
  }
  const child = spawn('sh', ['-c', 'read x; [ "$(head -c1 /dev/zero | wc -c)" = 1 ] && echo zero-ok; cat /dev/null && echo null-ok; true'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  m.addProcess(child.pid!);
  child.stdin.write('go\n');
  await done;
  assert.match(out, /zero-ok/);
  assert.doesNotMatch(out, /null-ok/);
  assert.match(err, /Operation not permitted/);
  // Outside the cgroup /dev/null still works.
  assert.equal(spawnSync('cat', ['/dev/null']).status, 0);
  // update replaces the program: now /dev/null is allowed too.
  m.update({ devices: [{ allow: true, type: 'a', access: 'rwm' }] });
  const c2 = spawn('sh', ['-c', 'read x; cat /dev/null && echo null-ok'], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out2 = '';
  c2.stdout.on('data', (d: Buffer) => (out2 += d.toString()));
  const done2 = new Promise<void>((r) => c2.on('exit', () => r()));
  m.addProcess(c2.pid!);
  c2.stdin.write('go\n');
  await done2;
  assert.match(out2, /null-ok/);
  await sleep(1);
});
