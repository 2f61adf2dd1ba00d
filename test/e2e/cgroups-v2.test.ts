// The cgroup v2 driver on the real cgroup2 mount: /sys/fs/cgroup on a pure v2 host, or the
// controller-less /sys/fs/cgroup/unified of a hybrid host (freeze, kill, procs and BPF device
// programs work there). Relative paths only, so everything lands beneath our own v2 cgroup.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blkioWeightToIoWeight, cgroupManager, detectCgroupMode, isMissingPointerSupport, sharesToWeight, type CgroupManager } from '../../src/runtime/cgroups/index.js';
import { cgroupDirs, isRoot, ownCgroup, removeCgroupEverywhere, tempDir, testCgroupName, v2LimitDomain } from '../helpers/fixtures.js';

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
  // An absolute path where this process made itself a leaf (fixtures.v2LimitDomain), else beneath it.
  const full = rel.startsWith('/') ? rel : join(ownCgroup(''), rel);
  assert.equal(m.paths.unified, join(v2root, full));
  m.create();
  const fd = m.openForCloneInto();
  assert.ok(fd >= 0);
  assert.ok(fstatSync(fd).isDirectory());
  closeSync(fd);
  const a = spawnSleep(t);
  const b = spawnSleep(t);
  m.addProcess(a.pid);
  m.addProcess(b.pid);
  assert.match(readFileSync(`/proc/${a.pid}/cgroup`, 'utf8'), new RegExp(`^0::${full.replace(/\//g, '\\/')}$`, 'm'));
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

// ---- Limits and stats: only where the controllers are (a pure v2 host, or scripts/v2-guest.mjs). ----
//
// cgroup v2's "no internal processes" rule: limits need this process alone in its own cgroup, so
// that testCgroupName() can move it into a leaf and name sibling cgroups (fixtures.v2LimitDomain).
const limitsSkip: string | false = skip || (mode !== 'v2' ? 'limits need a pure cgroup v2 host (try scripts/v2-guest.mjs)' : false);

/** A v2 manager for testCgroupName(name), an absolute path beside this process's leaf. */
function limited(t: TestContext, name: string): { m: CgroupManager; dir: string } | undefined {
  if (v2LimitDomain() === undefined) {
    t.skip(`the limit tests need this process alone in its cgroup (${ownCgroup('')} has others): cgroup v2 allows controllers only below cgroups without processes; run the file by itself (node dist/test/e2e/cgroups-v2.test.js) or in scripts/v2-guest.mjs`);
    return undefined;
  }
  const abs = testCgroupName(name);
  const m = cgroupManager({ cgroupsPath: abs, containerId: name, driver: 'v2' });
  t.after(async () => {
    try {
      await m.killAll(9);
    } catch {
      /* the leak check below reports it */
    }
    await m.destroy();
    assert.equal(existsSync(join(v2root, abs)), false, `${abs} left behind`);
  });
  assert.equal(m.paths.unified, join(v2root, abs));
  return { m, dir: join(v2root, abs) };
}

const cg = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8').trim();

/** Runs `script` in sh inside the cgroup (placed before it starts, by a `read` gate); resolves to its output. */
async function runIn(m: CgroupManager, script: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn('sh', ['-c', `read x; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  m.addProcess(child.pid!);
  child.stdin.end('go\n');
  const r = await done;
  return { ...r, out, err };
}

test('v2 limits: memory.max, memory.low and memory.swap.max (OCI swap is memory+swap), usage stats', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'mem');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  m.apply({ memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 } });
  assert.equal(cg(dir, 'memory.max'), String(64 << 20));
  assert.equal(cg(dir, 'memory.low'), String(32 << 20));
  assert.equal(cg(dir, 'memory.swap.max'), String(32 << 20));
  // 16 MiB held by `tail` (it keeps its whole input), then measured from inside.
  const r = await runIn(m, 'head -c 16777216 /dev/zero | tail -c 16777216 | wc -c; cat /proc/self/cgroup');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^16777216$/m);
  const s = m.stats();
  assert.equal(s.version, 2);
  assert.equal(s.memory.limit, 64 << 20);
  assert.equal(s.memory.swapLimit, 32 << 20);
  // memory.peak (5.19+) saw the 16 MiB; memory.current is what is still charged (page cache).
  if (s.memory.maxUsage !== undefined) assert.ok(s.memory.maxUsage >= 16 << 20, `peak ${s.memory.maxUsage}`);
  assert.ok(s.memory.usage >= 0 && s.memory.usage <= 64 << 20, `usage ${s.memory.usage}`);
  assert.ok((s.memory.stats.anon ?? -1) >= 0 && s.memory.stats.file !== undefined, 'memory.stat parsed');
  // update: unlimited memory makes swap unlimited too (runc's rule); memory.low stays.
  m.update({ memory: { limit: -1 } });
  assert.equal(cg(dir, 'memory.max'), 'max');
  assert.equal(cg(dir, 'memory.swap.max'), 'max');
  assert.equal(cg(dir, 'memory.low'), String(32 << 20));
  assert.equal(m.stats().memory.limit, Number.MAX_SAFE_INTEGER);
});

test('v2 limits: a process over memory.max is OOM-killed and the stats count it', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'oom');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  // swap == limit: no swap at all for the cgroup (memory.swap.max 0), so it cannot page out.
  m.apply({ memory: { limit: 8 << 20, swap: 8 << 20 } });
  assert.equal(cg(dir, 'memory.swap.max'), '0');
  // tail keeps its whole 64 MiB input: it cannot finish; the OOM killer ends it or the shell
  // (which one it picks varies: both are in the cgroup).
  const r = await runIn(m, 'head -c 67108864 /dev/zero | tail -c 67108864 | wc -c; echo end');
  assert.doesNotMatch(r.out, /^67108864$/m, 'tail held 64 MiB under an 8 MiB limit');
  assert.ok(r.signal === 'SIGKILL' || /^end$/m.test(r.out), `sh: ${r.code ?? r.signal}, ${r.out}`);
  const s = m.stats();
  assert.ok((s.memory.oomKills ?? 0) >= 1, `oom_kill ${s.memory.oomKills} (${cg(dir, 'memory.events').replace(/\n/g, ', ')})`);
  assert.ok((s.memory.failcnt ?? 0) >= 1, 'memory.events max counted');
  assert.ok(s.memory.maxUsage === undefined || s.memory.maxUsage <= 8 << 20);
});

test('v2 limits: cpu.max and cpu.weight from quota/period/shares, throttling and usage in the stats', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'cpu');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  m.apply({ cpu: { shares: 512, quota: 20000, period: 100000 } });
  assert.equal(cg(dir, 'cpu.max'), '20000 100000');
  assert.equal(cg(dir, 'cpu.weight'), String(sharesToWeight(512)));
  // A busy loop for 1 s at 20% of a CPU: throttled in most periods.
  const r = await runIn(m, 'end=$(($(date +%s) + 2)); while [ "$(date +%s)" -lt "$end" ]; do :; done');
  assert.equal(r.code, 0, r.err);
  const s = m.stats();
  assert.ok(s.cpu.usageTotalNs > 0, 'cpu usage');
  assert.ok(s.cpu.usageUserNs + s.cpu.usageKernelNs > 0);
  assert.ok(s.cpu.periods > 0, 'nr_periods');
  assert.ok(s.cpu.throttledPeriods > 0, `nr_throttled ${s.cpu.throttledPeriods}`);
  assert.ok(s.cpu.throttledTimeNs > 0);
  // Used at most ~20% of the wall time (plus one period of slack each way).
  assert.ok(s.cpu.usageTotalNs < 0.2 * 3e9 + 2e8, `usage ${s.cpu.usageTotalNs} ns`);
  // update of the period alone keeps the quota; quota -1 is 'max' and keeps the period.
  m.update({ cpu: { period: 50000 } });
  assert.equal(cg(dir, 'cpu.max'), '20000 50000');
  m.update({ cpu: { quota: -1 } });
  assert.equal(cg(dir, 'cpu.max'), 'max 50000');
  m.update({ cpu: { shares: 2 } });
  assert.equal(cg(dir, 'cpu.weight'), '1');
  assert.throws(() => m.update({ cpu: { shares: 1 } }), /invalid cpu shares 1/);
});

test('v2 limits: pids.max stops forks and the stats show it', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'pids');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  m.apply({ pids: { limit: 4 } });
  assert.equal(cg(dir, 'pids.max'), '4');
  // This sh, an inner sh and two sleeps fill the 4; the inner sh's third fork fails (EAGAIN) and it
  // exits non-zero. The outer sh reports with builtins only.
  const r = await runIn(m, 'sh -c "for i in 1 2 3 4 5 6; do sleep 2 & done; wait"; echo inner=$?; read n < ' + join(dir, 'pids.peak') + ' 2>/dev/null; echo peak=$n');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^inner=[1-9]/m);
  assert.match(r.err, /fork|Resource temporarily unavailable/i);
  assert.match(cg(dir, 'pids.events'), /^max [1-9]/m);
  if (existsSync(join(dir, 'pids.peak'))) assert.match(r.out, /^peak=4$/m);
  const s = m.stats();
  assert.equal(s.pids.limit, 4);
  m.update({ pids: { limit: 0 } });
  assert.equal(cg(dir, 'pids.max'), 'max');
  assert.equal(m.stats().pids.limit, undefined);
});

test('v2 limits: io weight (io.weight, or io.bfq.weight unchanged) from the blkio weight', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'io');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  m.apply({ blockIO: { weight: 500 } });
  if (existsSync(join(dir, 'io.bfq.weight'))) assert.match(cg(dir, 'io.bfq.weight'), /^default 500$/m);
  else assert.match(cg(dir, 'io.weight'), new RegExp(`^default ${blkioWeightToIoWeight(500)}$`, 'm'));
  assert.deepEqual(m.stats().io.serviceBytes.filter((e) => e.value < 0), []);
});

test('v2: a cgroup without limits still gets every controller its parent has (as runc): stats show its memory and pids', { skip: limitsSkip }, async (t) => {
  const c = limited(t, 'nolimits');
  if (!c) return;
  const { m, dir } = c;
  m.create();
  // Every controller of the parent is there for it (docker stats reads memory.current, pids.current…).
  const parentAvail = cg(join(dir, '..'), 'cgroup.controllers').split(' ');
  assert.deepEqual(cg(dir, 'cgroup.controllers').split(' ').sort(), parentAvail.sort());
  const r = await runIn(m, 'x=$(head -c 4000000 /dev/zero | tr "\\0" a); sleep 0.3 & p=$!; read n < ' + join(dir, 'pids.current') + '; echo pids=$n; wait $p; echo ${#x}');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^pids=[2-9]$/m);
  assert.match(r.out, /^4000000$/m);
  const s = m.stats();
  assert.ok((s.memory.maxUsage ?? s.memory.usage) > 4_000_000, `memory ${s.memory.usage}, peak ${s.memory.maxUsage}`);
  assert.ok(s.cpu.usageTotalNs > 0);
  assert.match(cg(dir, 'pids.events'), /^max 0$/m);
});

test('v2 limits: io.max from the OCI throttle lists, io.stat read back as the stats (a loop device)', { skip: limitsSkip || (!existsSync('/dev/loop-control') ? 'no /dev/loop-control (modprobe loop)' : false) }, async (t) => {
  const c = limited(t, 'iomax');
  if (!c) return;
  const { m, dir } = c;
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const img = join(tmp.path, 'disk');
  writeFileSync(img, Buffer.alloc(8 << 20, 1));
  const loop = execFileSync('losetup', ['--find', '--show', img], { encoding: 'utf8' }).trim();
  t.after(() => execFileSync('losetup', ['-d', loop]));
  const rdev = statSync(loop).rdev;
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  m.create();
  m.apply({ blockIO: { throttleReadBpsDevice: [{ major, minor, rate: 64 << 20 }], throttleWriteIOPSDevice: [{ major, minor, rate: 100 }] } });
  assert.match(cg(dir, 'io.max'), new RegExp(`^${major}:${minor} rbps=${64 << 20} wbps=max riops=max wiops=100$`, 'm'));
  const r = await runIn(m, `dd if=${loop} of=/dev/null bs=1M count=4 iflag=direct 2>&1`);
  assert.equal(r.code, 0, r.out + r.err);
  const s = m.stats();
  const read = s.io.serviceBytes.find((e) => e.major === major && e.minor === minor && e.op === 'Read');
  assert.ok(read && read.value >= 4 << 20, `io.stat: ${cg(dir, 'io.stat')}`);
  const ios = s.io.serviceIOs.find((e) => e.major === major && e.minor === minor && e.op === 'Read');
  assert.ok(ios && ios.value >= 4, `io.stat: ${cg(dir, 'io.stat')}`);
  // A rate of 0 is no limit ("max"); with every one at max the kernel drops the device's line.
  m.update({ blockIO: { throttleReadBpsDevice: [{ major, minor, rate: 0 }], throttleWriteIOPSDevice: [{ major, minor, rate: 0 }] } });
  assert.doesNotMatch(cg(dir, 'io.max'), new RegExp(`^${major}:${minor} `, 'm'));
});

test('v2: a parent with processes of its own gets no controllers (a threaded one would make it a thread root and its children "domain invalid": clone3 EOPNOTSUPP); a limit there is a clear error', { skip: limitsSkip }, async (t) => {
  const p = limited(t, 'busyparent');
  if (!p) return;
  p.m.create();
  const sleeper = spawnSleep(t);
  p.m.addProcess(sleeper.pid);
  const childAbs = join(p.dir.slice(v2root.length), 'ctr');
  const m = cgroupManager({ cgroupsPath: childAbs, containerId: 'ctr', driver: 'v2' });
  t.after(async () => {
    await m.killAll(9).catch(() => {});
    await m.destroy();
  });
  m.create();
  assert.equal(cg(p.dir, 'cgroup.subtree_control'), '', 'nothing enabled where processes are');
  assert.equal(cg(p.dir, 'cgroup.type'), 'domain');
  assert.equal(cg(m.paths.unified!, 'cgroup.type'), 'domain', 'not "domain invalid"');
  // A process can go in (clone3 CLONE_INTO_CGROUP and cgroup.procs vet the same "valid domain").
  const r = await runIn(m, 'echo in');
  assert.match(r.out, /^in$/m);
  assert.throws(() => m.apply({ pids: { limit: 10 } }), /set pids limit: enable pids in .*busyparent\/cgroup\.subtree_control/);
  assert.equal(cg(p.dir, 'cgroup.type'), 'domain');
});
