import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError } from '../../src/common/errors.js';
import {
  blkioWeightToIoWeight,
  cgroupManager,
  cgroupManagerFromPaths,
  cpuMax,
  detectCgroupMode,
  expandSlice,
  normalizeCgroupsPath,
  parseCgroupMounts,
  parseProcCgroup,
  sharesToWeight,
  swapToV2,
  systemdPathToCgroupfs,
  v2Writes,
  CgroupV1Manager,
  readCgroupHostView,
  CgroupV2Manager,
} from '../../src/runtime/cgroups/index.js';
import { parseBlkio, parseFlatKeyed, parseIoStat, parseOomControl, parsePercpu } from '../../src/runtime/cgroups/stats.js';
import { tempDir } from '../helpers/fixtures.js';
import { dockerStats } from '../../src/engine/stats.js';
import { totalmem } from 'node:os';

const hybridMountinfo = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '36 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '37 31 0:36 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
  '42 31 0:39 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio',
  '43 31 0:40 / /sys/fs/cgroup/other rw - cgroup cgroup rw,name=other',
  '50 23 0:50 / /mnt/x rw - ext4 /dev/sda rw',
].join('\n');
const hybridSelf = '9:name=systemd:/user.slice\n8:pids:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/acct\n1:cpu:/\n10:net_cls,net_prio:/\n0::/unified-own\n';

test('parseProcCgroup and parseCgroupMounts', () => {
  const self = parseProcCgroup(hybridSelf);
  assert.deepEqual(self[2], { id: 4, controllers: ['memory'], path: '/process_api/abc' });
  assert.deepEqual(self.at(-1), { id: 0, controllers: [], path: '/unified-own' });
  const mounts = parseCgroupMounts(hybridMountinfo);
  assert.equal(mounts.length, 10);
  assert.deepEqual(mounts.find((m) => m.mountPoint.endsWith('systemd'))?.controllers, ['name=systemd']);
  assert.deepEqual(mounts.find((m) => m.fsType === 'cgroup2'), { mountPoint: '/sys/fs/cgroup/unified', root: '/', fsType: 'cgroup2', controllers: [] });
  assert.deepEqual(mounts.find((m) => m.mountPoint.includes('net_cls'))?.controllers, ['net_cls', 'net_prio']);
});

test('systemd slices and cgroupsPath normalisation', () => {
  assert.equal(expandSlice('a-b-c.slice'), '/a.slice/a-b.slice/a-b-c.slice');
  assert.equal(expandSlice('-.slice'), '/');
  assert.throws(() => expandSlice('a--b.slice'), HakoError);
  assert.throws(() => expandSlice('nope'), HakoError);
  assert.equal(systemdPathToCgroupfs('system.slice:hako:abc'), '/system.slice/hako-abc.scope');
  assert.equal(systemdPathToCgroupfs('user-1000.slice:docker:x'), '/user.slice/user-1000.slice/docker-x.scope');
  assert.equal(systemdPathToCgroupfs(':hako:abc'), '/system.slice/hako-abc.scope');
  assert.equal(normalizeCgroupsPath(undefined, 'c1'), 'c1', 'like runc: beneath our own cgroup');
  assert.equal(normalizeCgroupsPath('', 'c1'), 'c1');
  assert.equal(normalizeCgroupsPath('/a//b/', 'c1'), '/a/b');
  assert.equal(normalizeCgroupsPath('a/b', 'c1'), 'a/b');
  assert.equal(normalizeCgroupsPath('./a', 'c1'), 'a');
  assert.equal(normalizeCgroupsPath('machine.slice:libpod:f00', 'c1'), '/machine.slice/libpod-f00.scope');
  assert.throws(() => normalizeCgroupsPath('a/../../b', 'c1'), /must not contain/);
});

test('v1 paths: absolute from each root, relative from our own cgroup per controller', () => {
  const mk = (cgroupsPath: string | undefined): CgroupV1Manager => {
    const m = cgroupManager({ cgroupsPath, containerId: 'cid', root: '/nonexistent-root', procSelfCgroup: hybridSelf, mountinfo: hybridMountinfo });
    assert.ok(m instanceof CgroupV1Manager);
    return m;
  };
  const rel = mk('t1');
  assert.equal(rel.version, 1);
  assert.equal(rel.paths.memory, '/sys/fs/cgroup/memory/process_api/abc/t1');
  assert.equal(rel.paths.cpu, '/sys/fs/cgroup/cpu/t1');
  assert.equal(rel.paths.cpuacct, '/sys/fs/cgroup/cpuacct/acct/t1');
  assert.equal(rel.paths['name=systemd'], '/sys/fs/cgroup/systemd/user.slice/t1');
  assert.equal(rel.paths.net_prio, '/sys/fs/cgroup/net_cls,net_prio/t1');
  assert.equal(rel.paths['name=other'], undefined, 'other named hierarchies are skipped');
  assert.equal(rel.paths.unified, undefined, 'no unified dir when the root is not hybrid');
  const abs = mk('/x/y');
  assert.equal(abs.paths.memory, '/sys/fs/cgroup/memory/x/y');
  assert.equal(abs.paths.cpuacct, '/sys/fs/cgroup/cpuacct/x/y');
  assert.equal(mk(undefined).paths.pids, '/sys/fs/cgroup/pids/cid');
  assert.equal(mk(undefined).paths.memory, '/sys/fs/cgroup/memory/process_api/abc/cid');
  assert.equal(mk('system.slice:hako:cid').paths.freezer, '/sys/fs/cgroup/freezer/system.slice/hako-cid.scope');
});

test('a host view read once places containers as the mountinfo text does, for any number of them', () => {
  const host = readCgroupHostView('/nonexistent-root', hybridMountinfo);
  assert.equal(host.mode, 'v1');
  for (const cgroupsPath of ['t1', '/x/y', undefined, 'system.slice:hako:cid']) {
    const fromText = cgroupManager({ cgroupsPath, containerId: 'cid', root: '/nonexistent-root', procSelfCgroup: hybridSelf, mountinfo: hybridMountinfo });
    const fromView = cgroupManager({ cgroupsPath, containerId: 'cid', procSelfCgroup: hybridSelf, host });
    assert.deepEqual(fromView.paths, fromText.paths, String(cgroupsPath));
  }
  // A view of other mounts gives other places: the view, not the live mountinfo, decides.
  const moved = readCgroupHostView('/nonexistent-root', hybridMountinfo.replaceAll('/sys/fs/cgroup/', '/cg2/'));
  assert.equal(cgroupManager({ cgroupsPath: '/x', containerId: 'c', procSelfCgroup: hybridSelf, host: moved }).paths.pids, '/cg2/pids/x');
});

test('v1 paths: co-mounted cpu,cpuacct and a mount whose root is not /', () => {
  const mi = '1 0 0:1 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n2 0 0:2 /ctr /cg/memory rw - cgroup cgroup rw,memory\n';
  const self = '2:cpu,cpuacct:/a\n1:memory:/ctr/inner\n';
  const m = cgroupManager({ cgroupsPath: 'k', containerId: 'c', root: '/nonexistent', procSelfCgroup: self, mountinfo: mi });
  assert.equal(m.paths.cpu, '/cg/cpu,cpuacct/a/k');
  assert.equal(m.paths.cpuacct, '/cg/cpu,cpuacct/a/k');
  assert.equal(m.paths.memory, '/cg/memory/inner/k');
  // Recreated from the recorded paths, the hierarchy grouping is the same.
  const again = cgroupManagerFromPaths(m.paths);
  assert.ok(again instanceof CgroupV1Manager);
  assert.deepEqual(again.paths, m.paths);
});

test('mode detection on fake trees', () => {
  const t = tempDir();
  try {
    assert.equal(detectCgroupMode(t.path), 'v1');
    mkdirSync(join(t.path, 'unified'));
    writeFileSync(join(t.path, 'unified/cgroup.controllers'), '');
    assert.equal(detectCgroupMode(t.path), 'hybrid');
    writeFileSync(join(t.path, 'cgroup.controllers'), 'cpu memory');
    assert.equal(detectCgroupMode(t.path), 'v2');
  } finally {
    t.cleanup();
  }
});

test('shares → weight, blkio weight → io.weight, swap conversion, cpu.max', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(0), 0);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
  assert.equal(blkioWeightToIoWeight(500), 4950);
  assert.equal(swapToV2(200, 100), 100);
  assert.equal(swapToV2(100, 100), 0);
  assert.equal(swapToV2(-1, 100), -1);
  assert.equal(swapToV2(undefined, 100), undefined);
  assert.equal(swapToV2(undefined, -1), -1);
  assert.throws(() => swapToV2(50, 100), /smaller than the memory limit/);
  assert.throws(() => swapToV2(200, undefined), /without a memory limit/);
  assert.equal(cpuMax(50000, 100000), '50000 100000');
  assert.equal(cpuMax(-1, undefined, 'max 20000\n'), 'max 20000');
  assert.equal(cpuMax(undefined, 50000, '25000 100000'), '25000 50000');
  assert.equal(cpuMax(undefined, undefined), undefined);
});

test('v2Writes maps OCI resources to files and rejects bad unified keys', () => {
  const w = v2Writes(
    {
      memory: { limit: 1 << 20, swap: 3 << 20, reservation: 1 << 19 },
      cpu: { shares: 1024, quota: 20000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 0 },
      hugepageLimits: [{ pageSize: '2MB', limit: -1 }],
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
      unified: { 'memory.high': '2000000', 'cgroup.max.descendants': '5' },
    },
    () => undefined,
  );
  const files = Object.fromEntries(w.map((x) => [x.file, x.value]));
  assert.deepEqual(files, {
    'cpuset.cpus': '0',
    'cpuset.mems': '0',
    'cpu.weight': '39',
    'cpu.max': '20000 100000',
    'memory.low': String(1 << 19),
    'memory.swap.max': String(2 << 20),
    'memory.max': String(1 << 20),
    'pids.max': 'max',
    'io.weight': 'default 4950',
    'io.max': '8:0 rbps=1000',
    'hugetlb.2MB.max': 'max',
    'memory.high': '2000000',
    'cgroup.max.descendants': '5',
  });
  assert.equal(w.find((x) => x.file === 'cgroup.max.descendants')?.controller, '');
  for (const bad of ['../x', 'a/b', 'memory..x/..', '']) {
    assert.throws(() => v2Writes({ unified: { [bad]: '1' } }, () => undefined), /invalid unified cgroup key/);
  }
  assert.throws(() => v2Writes({ cpu: { realtimeRuntime: 5 } }, () => undefined), /realtime/);
});

/** A fake v2 tree: root with all controllers, our own cgroup at /own with some enabled. */
function fakeV2(): { root: string; cleanup: () => void } {
  const t = tempDir('hako-cg-fake-');
  const root = t.path;
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
  writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory\n');
  mkdirSync(join(root, 'own'));
  writeFileSync(join(root, 'own/cgroup.controllers'), 'cpu memory\n');
  writeFileSync(join(root, 'own/cgroup.subtree_control'), '');
  return { root, cleanup: t.cleanup };
}

test('v2 driver on a fake tree: create, apply, subtree_control, update', async () => {
  const f = fakeV2();
  try {
    const m = cgroupManager({ cgroupsPath: 'ctr/leaf', containerId: 'x', root: f.root, procSelfCgroup: '0::/own\n', mountinfo: '' });
    assert.ok(m instanceof CgroupV2Manager);
    assert.equal(m.version, 2);
    const leaf = join(f.root, 'own/ctr/leaf');
    assert.deepEqual(m.paths, { unified: leaf });
    assert.equal(m.exists(), false);
    m.create();
    // create() enables, as runc, every controller the root has for its children (what was missing,
    // in one write); the fake's own/ has no cgroup.controllers, so it stops there. The kernel would
    // then list all five: so does the fake from here on.
    assert.equal(readFileSync(join(f.root, 'cgroup.subtree_control'), 'utf8'), '+cpuset +io +pids');
    writeFileSync(join(f.root, 'cgroup.subtree_control'), 'cpuset cpu io memory pids\n');
    m.create(); // idempotent
    assert.equal(readFileSync(join(f.root, 'cgroup.subtree_control'), 'utf8'), 'cpuset cpu io memory pids\n', 'nothing written when all are on');
    assert.ok(m.exists());
    m.apply({ memory: { limit: 4096 * 1024, swap: -1 }, cpu: { shares: 512, quota: 50000 } });
    assert.equal(readFileSync(join(leaf, 'memory.max'), 'utf8'), String(4096 * 1024));
    assert.equal(readFileSync(join(leaf, 'memory.swap.max'), 'utf8'), 'max');
    assert.equal(readFileSync(join(leaf, 'cpu.weight'), 'utf8'), String(sharesToWeight(512)));
    assert.equal(readFileSync(join(leaf, 'cpu.max'), 'utf8'), '50000 100000');
    // The root had cpu and memory on already; own and own/ctr needed them.
    assert.equal(readFileSync(join(f.root, 'cgroup.subtree_control'), 'utf8'), 'cpuset cpu io memory pids\n');
    assert.equal(readFileSync(join(f.root, 'own/cgroup.subtree_control'), 'utf8'), '+cpu +memory');
    assert.equal(readFileSync(join(f.root, 'own/ctr/cgroup.subtree_control'), 'utf8'), '+cpu +memory');
    // update changes only what is given; the quota is kept when only the period changes.
    m.update({ cpu: { period: 200000 } });
    assert.equal(readFileSync(join(leaf, 'cpu.max'), 'utf8'), '50000 200000');
    assert.equal(readFileSync(join(leaf, 'memory.max'), 'utf8'), String(4096 * 1024));
    // pids is available at the root but not in own: a clear error naming the controller.
    assert.throws(
      () => m.update({ pids: { limit: 10 } }),
      (e: unknown) => e instanceof HakoError && /the pids controller is not available in .*\/own$/.test(e.step),
    );
    // Recorded paths give a working manager.
    const again = cgroupManagerFromPaths(m.paths, { mountinfo: `1 0 0:1 / ${f.root} rw - cgroup2 cgroup2 rw\n` });
    assert.ok(again instanceof CgroupV2Manager);
    again.update({ memory: { limit: 8192 } });
    assert.equal(readFileSync(join(leaf, 'memory.max'), 'utf8'), '8192');
    assert.equal(m.freezerState(), 'unknown');
  } finally {
    f.cleanup();
  }
});

test('v2 driver on a fake tree: without swap accounting (memory.current, no memory.swap.max) "max" and 0 are skipped, a swap limit refused (runc)', () => {
  const f = fakeV2();
  try {
    const m = cgroupManager({ cgroupsPath: '/noswap', containerId: 'x', root: f.root, procSelfCgroup: '0::/own\n', mountinfo: '' });
    m.create();
    const leaf = join(f.root, 'noswap');
    writeFileSync(join(leaf, 'memory.current'), '0\n');
    m.apply({ memory: { limit: 1 << 24, swap: -1 } });
    m.update({ memory: { limit: 1 << 24, swap: 1 << 24 } }); // swap == limit: no swap, memory.swap.max 0
    assert.equal(readFileSync(join(leaf, 'memory.max'), 'utf8'), String(1 << 24));
    assert.equal(existsSync(join(leaf, 'memory.swap.max')), false, 'nothing written where the kernel has no file');
    assert.throws(() => m.update({ memory: { limit: 1 << 24, swap: 1 << 25 } }), (e: unknown) => e instanceof HakoError && /set swap limit 16777216: .*memory\.swap\.max does not exist \(the kernel has no swap accounting\)/.test(e.step));
    // refused before any write: the reservation of the same update (written before the swap) is not half applied
    assert.throws(() => m.update({ memory: { limit: 1 << 25, swap: 1 << 26, reservation: 1 << 23 } }), /no swap accounting/);
    assert.equal(existsSync(join(leaf, 'memory.low')), false, 'memory.low written by a refused update');
    assert.equal(readFileSync(join(leaf, 'memory.max'), 'utf8'), String(1 << 24));
  } finally {
    f.cleanup();
  }
});

test('v2 driver on a fake tree: a failing apply leaves no directory behind', () => {
  const f = fakeV2();
  try {
    const m = cgroupManager({ cgroupsPath: 'a/b', containerId: 'x', root: f.root, procSelfCgroup: '0::/own\n', mountinfo: '' });
    m.create();
    assert.ok(existsSync(join(f.root, 'own/a/b')));
    assert.throws(() => m.apply({ pids: { limit: 5 } }), /pids controller is not available/);
    assert.equal(existsSync(join(f.root, 'own/a')), false);
  } finally {
    f.cleanup();
  }
});

test('v2 freezer state from cgroup.freeze and cgroup.events', () => {
  const f = fakeV2();
  try {
    const m = cgroupManager({ cgroupsPath: '/abs', containerId: 'x', root: f.root, procSelfCgroup: '0::/own\n', mountinfo: '' });
    m.create();
    const d = join(f.root, 'abs');
    assert.equal(m.paths.unified, d);
    writeFileSync(join(d, 'cgroup.freeze'), '0\n');
    assert.equal(m.freezerState(), 'thawed');
    writeFileSync(join(d, 'cgroup.freeze'), '1\n');
    writeFileSync(join(d, 'cgroup.events'), 'populated 1\nfrozen 0\n');
    assert.equal(m.freezerState(), 'freezing');
    writeFileSync(join(d, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    assert.equal(m.freezerState(), 'frozen');
    writeFileSync(join(d, 'cgroup.procs'), '12\n34\n');
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'sub/cgroup.procs'), '56\n');
    assert.deepEqual(m.pids(), [12, 34, 56]);
  } finally {
    f.cleanup();
  }
});

test('v2 stats from sample files', () => {
  const f = fakeV2();
  try {
    const m = cgroupManager({ cgroupsPath: 's', containerId: 'x', root: f.root, procSelfCgroup: '0::/own\n', mountinfo: '' });
    m.create();
    const d = m.paths.unified!;
    writeFileSync(join(d, 'cpu.stat'), 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 4\nthrottled_usec 2000\n');
    writeFileSync(join(d, 'memory.current'), '8192\n');
    writeFileSync(join(d, 'memory.max'), 'max\n');
    writeFileSync(join(d, 'memory.stat'), 'anon 4096\nfile 2048\n');
    writeFileSync(join(d, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n');
    writeFileSync(join(d, 'pids.current'), '3\n');
    writeFileSync(join(d, 'pids.max'), '10\n');
    writeFileSync(join(d, 'io.stat'), '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n');
    const s = m.stats();
    assert.deepEqual(s.cpu, { usageTotalNs: 1500000, usageUserNs: 1000000, usageKernelNs: 500000, periods: 10, throttledPeriods: 4, throttledTimeNs: 2000000 });
    assert.equal(s.memory.usage, 8192);
    assert.equal(s.memory.limit, Number.MAX_SAFE_INTEGER);
    assert.equal(s.memory.cache, 2048);
    assert.equal(s.memory.rss, 4096);
    assert.equal(s.memory.failcnt, 7);
    assert.equal(s.memory.oomKills, 1);
    assert.deepEqual(s.pids, { current: 3, limit: 10 });
    assert.deepEqual(s.io.serviceBytes.slice(0, 2), [
      { major: 8, minor: 0, op: 'Read', value: 100 },
      { major: 8, minor: 0, op: 'Write', value: 200 },
    ]);
    // The engine's stats JSON converts them as dockerd's statsV2: read/write in lower case, the
    // other blkio lists null, a fixed set of memory.stat keys, failcnt = memory.events' oom, no
    // max_usage, no percpu_usage, the host's memory as the limit of an unlimited cgroup.
    const j = dockerStats(s, undefined, { id: 'x', name: '/x' }) as Record<string, Record<string, unknown>>;
    assert.deepEqual(j.blkio_stats, {
      io_service_bytes_recursive: [
        { major: 8, minor: 0, op: 'read', value: 100 },
        { major: 8, minor: 0, op: 'write', value: 200 },
      ],
      io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null,
      io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    });
    const mem = j.memory_stats as { usage: number; stats: Record<string, number>; failcnt?: number; limit: number; max_usage?: number };
    assert.deepEqual(Object.keys(mem), ['usage', 'stats', 'failcnt', 'limit']);
    assert.deepEqual([mem.usage, mem.failcnt, mem.limit], [8192, 2, totalmem()]);
    assert.deepEqual([mem.stats.anon, mem.stats.file, mem.stats.inactive_file, Object.keys(mem.stats).length], [4096, 2048, 0, 31]);
    assert.equal((j.cpu_stats?.cpu_usage as Record<string, unknown>).percpu_usage, undefined);
    assert.deepEqual(j.pids_stats, { current: 3, limit: 10 });
    writeFileSync(join(d, 'io.stat'), '');
    writeFileSync(join(d, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 0\noom_kill 0\n');
    const quiet = dockerStats(m.stats(), undefined, { id: 'x', name: '/x' }) as Record<string, Record<string, unknown>>;
    assert.equal(quiet.blkio_stats?.io_service_bytes_recursive, null);
    assert.equal(quiet.memory_stats?.failcnt, undefined);
  } finally {
    f.cleanup();
  }
});

test('stats parsers on v1 samples', () => {
  assert.deepEqual(parseFlatKeyed('cache 4096\nrss 8192\ntotal_rss 8192\nhierarchical_memory_limit 9223372036854771712\n').rss, 8192);
  assert.deepEqual(parsePercpu('100 200 \n'), [100, 200]);
  assert.deepEqual(parseBlkio('8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n'), [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 0 },
    { major: 8, minor: 0, op: 'Total', value: 4096 },
  ]);
  assert.deepEqual(parseOomControl('oom_kill_disable 0\nunder_oom 1\noom_kill 3\n'), { oomKillDisable: false, underOom: true, oomKill: 3 });
  assert.deepEqual(parseIoStat('').serviceIOs, []);
});

test('v1 stats as dockerd\'s statsV1: its 32 memory.stat keys sorted, usage/max_usage/failcnt omitted when 0, keys in StatsJSON order, read in ns', () => {
  const s = {
    version: 1 as const,
    cpu: { usageTotalNs: 10, usageUserNs: 0, usageKernelNs: 10, percpuUsageNs: [4, 6], periods: 0, throttledPeriods: 0, throttledTimeNs: 0 },
    memory: { usage: 8192, limit: 9223372036854771712, maxUsage: 0, failcnt: 0, cache: 4096, stats: { cache: 4096, rss: 4096, shmem: 0, swap: 0, workingset_refault_file: 3, hierarchical_memory_limit: 9223372036854771712 } },
    pids: { current: 1 },
    io: { serviceBytes: [], serviceIOs: [] },
  };
  const j = dockerStats(s, undefined, { id: 'x', name: '/x' }, 1_764_000_000_123_456_789n, { eth0: { rx_bytes: 1 } });
  assert.deepEqual(Object.keys(j), ['read', 'preread', 'pids_stats', 'blkio_stats', 'num_procs', 'storage_stats', 'cpu_stats', 'precpu_stats', 'memory_stats', 'name', 'id', 'networks']);
  assert.equal(j.read, '2025-11-24T16:00:00.123456789Z');
  assert.equal(j.preread, '0001-01-01T00:00:00Z');
  const mem = j.memory_stats as { stats: Record<string, number> };
  assert.deepEqual(Object.keys(mem), ['usage', 'stats', 'limit']);
  const keys = Object.keys(mem.stats);
  assert.equal(keys.length, 32);
  assert.deepEqual(keys, [...keys].sort());
  assert.deepEqual([mem.stats.cache, mem.stats.rss, mem.stats.total_rss, mem.stats.shmem, mem.stats.hierarchical_memory_limit], [4096, 4096, 0, undefined, 9223372036854771712]);
  const busy = dockerStats({ ...s, memory: { ...s.memory, maxUsage: 16384, failcnt: 39 } }, j, { id: 'x', name: '/x' }, 1_764_000_001_000_000_000n);
  assert.deepEqual(Object.keys(busy.memory_stats as object), ['usage', 'max_usage', 'stats', 'failcnt', 'limit']);
  assert.equal((busy.memory_stats as { failcnt: number }).failcnt, 39);
  assert.equal(busy.read, '2025-11-24T16:00:01Z');
  assert.equal(busy.preread, j.read);
});
