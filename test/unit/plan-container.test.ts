import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planContainer, planExec, parseMountOptions, detectCgroupLayout, withContainerDirs, NOTIFY, RLIM_INFINITY, type PlanRequest, type CgroupLayout } from '../../src/runtime/plan/index.js';
import { defaultSpec } from '../../src/runtime/spec/defaults.js';
import { CLONE, MS, type PlanOp } from '../../src/native/plan.js';
import { capMask } from '../../src/runtime/security/capabilities.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import { HakoError } from '../../src/common/errors.js';
import { cleanPath } from '../../src/runtime/plan/mounts.js';
import { posix } from 'node:path';

const BUNDLE = '/b';
const ROOTFS = '/b/rootfs';
const V1: CgroupLayout = {
  version: 1,
  hierarchies: [
    { name: 'cpu,cpuacct', options: 'cpu,cpuacct', containerDir: '/sys/fs/cgroup/cpu,cpuacct/c1' },
    { name: 'memory', options: 'memory', containerDir: '/sys/fs/cgroup/memory/c1' },
    { name: 'systemd', options: 'none,name=systemd' },
  ],
};

function spec(mut?: (s: any) => void): Spec {
  const s: any = defaultSpec({ terminal: false, args: ['/bin/echo', 'hi'] });
  mut?.(s);
  return s as Spec;
}

function plan(s: Spec, over: Partial<PlanRequest> = {}) {
  return planContainer({
    spec: s,
    bundle: BUNDLE,
    mode: 'run',
    joinNamespaces: [],
    hooksBeforePivot: false,
    statSource: (p) => (p.endsWith('.conf') ? 'file' : p.includes('missing') ? 'missing' : 'dir'),
    cgroupLayout: { version: 2, containerDir: '/sys/fs/cgroup/c1' },
    rootless: false,
    ...over,
  });
}

const names = (ops: PlanOp[]) => ops.map((o) => o.op);
const idx = (ops: PlanOp[], pred: (o: PlanOp) => boolean) => ops.findIndex(pred);
function opsAt(ops: PlanOp[], target: string): PlanOp[] {
  return ops.filter((o) => 'target' in o && o.target === target);
}
function throwsMsg(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HakoError);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test('a runc-spec container: clone flags and the order of the ops', () => {
  const p = plan(spec());
  assert.equal(p.cloneFlags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  assert.equal(p.pidFromClone, false);
  assert.deepEqual(p.uidMappings, []);
  const o = p.ops;
  assert.deepEqual(o.slice(0, 6), [
    { op: 'syncWait' },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
    { op: 'mount', source: null, target: '/', fstype: null, flags: MS.SLAVE | MS.REC, data: null },
    { op: 'mount', source: ROOTFS, target: ROOTFS, fstype: null, flags: MS.BIND | MS.REC, data: null },
    { op: 'openRoot', path: ROOTFS },
    { op: 'mkdirs', path: '/proc', mode: 0o755, inRoot: true },
  ]);
  const order = ['openRoot', 'mknod', 'symlink', 'pivotRoot', 'sethostname', 'mask', 'setrlimit', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'noNewPrivs', 'exec'];
  const positions = order.map((n) => names(o).lastIndexOf(n as PlanOp['op']));
  positions.forEach((pos, i) => assert.ok(pos >= 0, `${order[i]} present`));
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, `order ${order.join(' < ')}`);
  // Every op before pivot that touches the container uses inRoot; after pivot none does.
  const pivot = names(o).indexOf('pivotRoot');
  for (const op of o.slice(names(o).indexOf('openRoot') + 1, pivot)) {
    if (op.op === 'umask' || op.op === 'notify' || op.op === 'syncWait') continue;
    assert.equal((op as { inRoot?: boolean }).inRoot, true, `${JSON.stringify(op)} is inRoot`);
  }
  for (const op of o.slice(pivot)) assert.ok(!(op as { inRoot?: boolean }).inRoot, `${op.op} after pivot is not inRoot`);
  assert.deepEqual(o.at(-1), { op: 'exec', file: '/bin/echo', argv: ['/bin/echo', 'hi'], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'], searchPath: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
  assert.ok(o.some((x) => x.op === 'sethostname' && x.name === 'hako'));
  assert.ok(o.some((x) => x.op === 'remount' && x.target === '/' && x.flags === MS.RDONLY), 'read-only root');
  assert.ok(!names(o).includes('waitFifo') && !names(o).includes('openPty') && !names(o).includes('notify'));
  assert.deepEqual(o.find((x) => x.op === 'setrlimit'), { op: 'setrlimit', resource: 7, soft: 1024n, hard: 1024n });
  const caps = capMask(['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  assert.deepEqual(o.find((x) => x.op === 'capset'), { op: 'capset', effective: caps, permitted: caps, inheritable: 0n });
  assert.deepEqual(o.find((x) => x.op === 'capBounding'), { op: 'capBounding', keep: caps });
  assert.deepEqual(o.find((x) => x.op === 'umask'), { op: 'umask', mask: 0 }, 'umask 0 before mknod');
  assert.deepEqual(o.filter((x) => x.op === 'umask').at(-1), { op: 'umask', mask: 0o022 });
});

test('default devices and /dev symlinks without a user ns', () => {
  const o = plan(spec(), { hostHasKcore: true }).ops;
  const nodes = o.filter((x) => x.op === 'mknod');
  assert.deepEqual(nodes.map((n) => n.op === 'mknod' && n.path), ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
  assert.deepEqual(nodes[0], { op: 'mknod', path: '/dev/null', mode: 0o020666, major: 1, minor: 3, uid: 0, gid: 0, inRoot: true });
  const links = o.filter((x) => x.op === 'symlink').map((x) => x.op === 'symlink' && [x.path, x.target]);
  assert.deepEqual(links, [
    ['/dev/fd', '/proc/self/fd'],
    ['/dev/stdin', '/proc/self/fd/0'],
    ['/dev/stdout', '/proc/self/fd/1'],
    ['/dev/stderr', '/proc/self/fd/2'],
    ['/dev/ptmx', 'pts/ptmx'],
    ['/dev/core', '/proc/kcore'],
  ]);
  const noPts = plan(spec((s) => (s.mounts = s.mounts.filter((m: any) => m.destination !== '/dev/pts' && m.destination !== '/proc'))), { hostHasKcore: true }).ops;
  assert.ok(!noPts.some((x) => x.op === 'symlink' && (x.path === '/dev/ptmx' || x.path === '/dev/core')));
  // A kernel without /proc/kcore (CONFIG_PROC_KCORE=n): no dangling /dev/core link (runc skips it too).
  const noKcore = plan(spec(), { hostHasKcore: false }).ops;
  assert.ok(!noKcore.some((x) => x.op === 'symlink' && x.path === '/dev/core'));
  assert.ok(noKcore.some((x) => x.op === 'symlink' && x.path === '/dev/ptmx'));
  // A spec device replaces the default with the same path, extra ones get their parent dir.
  const custom = plan(spec((s) => (s.linux.devices = [{ type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 }, { type: 'c', path: '/dev/net/tun', major: 10, minor: 200 }]))).ops;
  assert.deepEqual(custom.find((x) => x.op === 'mknod' && x.path === '/dev/null'), { op: 'mknod', path: '/dev/null', mode: 0o020600, major: 1, minor: 3, uid: 5, gid: 6, inRoot: true });
  const tun = idx(custom, (x) => x.op === 'mknod' && x.path === '/dev/net/tun');
  assert.deepEqual(custom[tun - 1], { op: 'mkdirs', path: '/dev/net', mode: 0o755, inRoot: true });
  // /dev bound from the host: no nodes, no links.
  const hostDev = plan(spec((s) => (s.mounts = [{ destination: '/dev', type: 'bind', source: '/dev', options: ['rbind'] }]))).ops;
  assert.ok(!hostDev.some((x) => x.op === 'mknod' || x.op === 'symlink'));
});

test('mount options → flags, propagation and data', () => {
  const cases: Array<[string[], number, number[], string | null]> = [
    [['nosuid', 'strictatime', 'mode=755', 'size=65536k'], MS.NOSUID | MS.STRICTATIME, [], 'mode=755,size=65536k'],
    [['ro', 'rw'], 0, [], null],
    [['rw', 'ro', 'nodev', 'noexec', 'sync', 'dirsync'], MS.RDONLY | MS.NODEV | MS.NOEXEC | MS.SYNCHRONOUS | MS.DIRSYNC, [], null],
    [['nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async'], 0, [], null],
    [['rbind', 'rprivate'], MS.BIND | MS.REC, [MS.PRIVATE | MS.REC], null],
    [['bind', 'shared', 'rslave', 'unbindable', 'runbindable', 'private', 'slave', 'rshared'], MS.BIND, [MS.SHARED, MS.SLAVE | MS.REC, MS.UNBINDABLE, MS.UNBINDABLE | MS.REC, MS.PRIVATE, MS.SLAVE, MS.SHARED | MS.REC], null],
    [['relatime', 'norelatime', 'noatime', 'nodiratime', 'mand', 'lazytime', 'nosymfollow', 'remount'], MS.NOATIME | MS.NODIRATIME | MS.MANDLOCK | MS.LAZYTIME | MS.NOSYMFOLLOW | MS.REMOUNT, [], null],
    [['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'], 0, [], 'newinstance,ptmxmode=0666,mode=0620,gid=5'],
    [['defaults'], 0, [], null],
  ];
  for (const [opts, flags, prop, data] of cases) {
    assert.deepEqual(parseMountOptions(opts, 'm'), { flags, propagation: prop, data }, opts.join(','));
  }
  throwsMsg(() => parseMountOptions(['idmap'], 'mounts[3] (/x)'), 'config.json: mounts[3] (/x): mount option "idmap": idmapped mounts are not supported yet');
  throwsMsg(() => parseMountOptions(['ridmap'], 'm'), /idmapped mounts are not supported yet/);
  throwsMsg(() => parseMountOptions(['tmpcopyup'], 'm'), /tmpcopyup is not supported yet/);
  throwsMsg(() => parseMountOptions(['rro'], 'm'), /recursive mount attributes are not supported yet/);
});

test('bind mounts: dir vs file target, ro needs a remount, propagation is a separate call', () => {
  const s = spec((s) => {
    s.mounts.push({ destination: '/data/', type: 'bind', source: 'vol', options: ['rbind', 'ro', 'nosuid', 'rprivate'] });
    s.mounts.push({ destination: '/etc/app.conf', type: 'none', source: '/host/app.conf', options: ['bind'] });
  });
  const o = plan(s).ops;
  assert.deepEqual(opsAt(o, '/data').concat(o.filter((x) => x.op === 'mkdirs' && x.path === '/data')), [
    { op: 'mount', source: '/b/vol', target: '/data', fstype: null, flags: MS.BIND | MS.REC, data: null, inRoot: true },
    { op: 'remount', target: '/data', flags: MS.RDONLY | MS.NOSUID, inRoot: true },
    { op: 'mount', source: null, target: '/data', fstype: null, flags: MS.PRIVATE | MS.REC, data: null, inRoot: true },
    { op: 'mkdirs', path: '/data', mode: 0o755, inRoot: true },
  ]);
  const conf = idx(o, (x) => x.op === 'mount' && x.target === '/etc/app.conf');
  assert.deepEqual(o[conf - 1], { op: 'touch', path: '/etc/app.conf', mode: 0o644, inRoot: true });
  assert.deepEqual(o[conf], { op: 'mount', source: '/host/app.conf', target: '/etc/app.conf', fstype: null, flags: MS.BIND, data: null, inRoot: true });
  assert.notEqual(o[conf + 1]?.op, 'remount', 'a plain bind needs no remount');
  throwsMsg(() => plan(spec((s) => s.mounts.push({ destination: '/x', type: 'bind', source: '/missing' }))), 'config.json: mounts[7]: bind source /missing: no such file or directory');
  throwsMsg(() => plan(spec((s) => s.mounts.push({ destination: '/x', source: 'foo' }))), 'config.json: mounts[7].type is required (except for bind mounts)');
  throwsMsg(() => plan(spec((s) => s.mounts.push({ destination: '/x', type: 'bind', source: '/x', uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }))), /idmapped mounts .* not supported yet/);
  // Spec mounts keep their order.
  const dests = o.filter((x) => x.op === 'mount' && x.inRoot && x.source !== null && x.fstype !== null).map((x) => x.op === 'mount' && x.target);
  assert.deepEqual(dests.slice(0, 5), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue']);
});

test('cgroup mounts: v2 with a cgroup ns, v1 tmpfs + hierarchies, binds without a cgroup ns', () => {
  const v2 = plan(spec()).ops;
  assert.deepEqual(opsAt(v2, '/sys/fs/cgroup'), [{ op: 'mount', source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.RDONLY, data: null, inRoot: true }]);
  const v1 = plan(spec(), { cgroupLayout: V1 }).ops;
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  assert.deepEqual(opsAt(v1, '/sys/fs/cgroup')[0], { op: 'mount', source: 'tmpfs', target: '/sys/fs/cgroup', fstype: 'tmpfs', flags: base | MS.RELATIME, data: 'mode=755', inRoot: true });
  assert.deepEqual(opsAt(v1, '/sys/fs/cgroup/cpu,cpuacct'), [{ op: 'mount', source: 'cgroup', target: '/sys/fs/cgroup/cpu,cpuacct', fstype: 'cgroup', flags: base | MS.RELATIME | MS.RDONLY, data: 'cpu,cpuacct', inRoot: true }]);
  assert.equal((opsAt(v1, '/sys/fs/cgroup/systemd')[0] as { data: string }).data, 'none,name=systemd');
  assert.ok(v1.some((x) => x.op === 'symlink' && x.path === '/sys/fs/cgroup/cpu' && x.target === 'cpu,cpuacct'));
  const last = opsAt(v1, '/sys/fs/cgroup').at(-1);
  assert.deepEqual(last, { op: 'remount', target: '/sys/fs/cgroup', flags: base | MS.RELATIME | MS.RDONLY, inRoot: true }, 'tmpfs made read-only after its sub-mounts');
  const noNs = (s: any) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'cgroup'));
  const v1bind = plan(spec(noNs), { cgroupLayout: V1 });
  assert.deepEqual(opsAt(v1bind.ops, '/sys/fs/cgroup/memory'), [
    { op: 'mount', source: '/sys/fs/cgroup/memory/c1', target: '/sys/fs/cgroup/memory', fstype: null, flags: MS.BIND, data: null, inRoot: true },
    { op: 'remount', target: '/sys/fs/cgroup/memory', flags: base | MS.RELATIME | MS.RDONLY, inRoot: true },
  ]);
  assert.equal(opsAt(v1bind.ops, '/sys/fs/cgroup/systemd').length, 0, 'hierarchies without a known dir are left out');
  assert.ok(!v1bind.ops.some((x) => x.op === 'unshare'));
  const v2bind = plan(spec(noNs)).ops;
  assert.equal((opsAt(v2bind, '/sys/fs/cgroup')[0] as { source: string }).source, '/sys/fs/cgroup/c1');
  const unknown = plan(spec(noNs), { cgroupLayout: { version: 2 } });
  assert.equal(opsAt(unknown.ops, '/sys/fs/cgroup').length, 0);
  assert.match(unknown.warnings.join('\n'), /cgroup mount on \/sys\/fs\/cgroup skipped/);
});

test('recorded cgroup paths fill in the container dirs the cgroup mount binds (v1 and pure v2)', () => {
  const noNs = (s: any) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'cgroup'));
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  // A hybrid host as recorded by the v1 manager: a combined cpu,cpuacct hierarchy, systemd, unified.
  const v1Paths = {
    cpu: '/sys/fs/cgroup/cpu,cpuacct/user/c1',
    cpuacct: '/sys/fs/cgroup/cpu,cpuacct/user/c1',
    memory: '/sys/fs/cgroup/memory/user/c1',
    'name=systemd': '/sys/fs/cgroup/systemd/user/c1',
    unified: '/sys/fs/cgroup/unified/user/c1',
  };
  const hostV1: CgroupLayout = {
    version: 1,
    hierarchies: [
      { name: 'cpu,cpuacct', options: 'cpu,cpuacct' },
      { name: 'memory', options: 'memory' },
      { name: 'systemd', options: 'none,name=systemd' },
      { name: 'net_cls', options: 'net_cls' },
    ],
  };
  assert.deepEqual(withContainerDirs(hostV1, v1Paths).hierarchies, [
    { name: 'cpu,cpuacct', options: 'cpu,cpuacct', containerDir: '/sys/fs/cgroup/cpu,cpuacct/user/c1' },
    { name: 'memory', options: 'memory', containerDir: '/sys/fs/cgroup/memory/user/c1' },
    { name: 'systemd', options: 'none,name=systemd', containerDir: '/sys/fs/cgroup/systemd/user/c1' },
    { name: 'net_cls', options: 'net_cls' },
  ]);
  const p = plan(spec(noNs), { cgroupLayout: hostV1, cgroupPaths: v1Paths });
  assert.deepEqual(p.warnings, []);
  assert.deepEqual(opsAt(p.ops, '/sys/fs/cgroup')[0], { op: 'mount', source: 'tmpfs', target: '/sys/fs/cgroup', fstype: 'tmpfs', flags: base | MS.RELATIME, data: 'mode=755', inRoot: true });
  for (const [name, dir] of [['cpu,cpuacct', v1Paths.cpu], ['memory', v1Paths.memory], ['systemd', v1Paths['name=systemd']]]) {
    assert.deepEqual(opsAt(p.ops, `/sys/fs/cgroup/${name}`), [
      { op: 'mount', source: dir, target: `/sys/fs/cgroup/${name}`, fstype: null, flags: MS.BIND, data: null, inRoot: true },
      { op: 'remount', target: `/sys/fs/cgroup/${name}`, flags: base | MS.RELATIME | MS.RDONLY, inRoot: true },
    ]);
  }
  assert.equal(opsAt(p.ops, '/sys/fs/cgroup/net_cls').length, 0, 'a hierarchy the container is not in is left out');
  for (const part of ['cpu', 'cpuacct']) assert.ok(p.ops.some((x) => x.op === 'symlink' && x.path === `/sys/fs/cgroup/${part}` && x.target === 'cpu,cpuacct'), `${part} -> cpu,cpuacct`);
  assert.deepEqual(opsAt(p.ops, '/sys/fs/cgroup').at(-1), { op: 'remount', target: '/sys/fs/cgroup', flags: base | MS.RELATIME | MS.RDONLY, inRoot: true });
  // A "rw" cgroup mount binds read-write.
  const rw = plan(spec((s) => {
    noNs(s);
    s.mounts.find((m: any) => m.type === 'cgroup').options = ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'];
  }), { cgroupLayout: hostV1, cgroupPaths: v1Paths });
  assert.deepEqual(opsAt(rw.ops, '/sys/fs/cgroup/memory').at(-1), { op: 'remount', target: '/sys/fs/cgroup/memory', flags: base | MS.RELATIME, inRoot: true });
  assert.ok(!opsAt(rw.ops, '/sys/fs/cgroup').some((o) => o.op === 'remount'), 'the tmpfs stays writable');
  // The same paths with a cgroup namespace: per-hierarchy cgroup mounts, no binds.
  const ns = plan(spec(), { cgroupLayout: hostV1, cgroupPaths: v1Paths }).ops;
  assert.deepEqual(opsAt(ns, '/sys/fs/cgroup/memory'), [{ op: 'mount', source: 'cgroup', target: '/sys/fs/cgroup/memory', fstype: 'cgroup', flags: base | MS.RELATIME | MS.RDONLY, data: 'memory', inRoot: true }]);
  assert.equal((opsAt(ns, '/sys/fs/cgroup/net_cls')[0] as { data: string }).data, 'net_cls', 'inside a cgroup ns every hierarchy is mounted');

  // A pure v2 host: the manager records only `unified`.
  const v2Paths = { unified: '/sys/fs/cgroup/user.slice/c1' };
  assert.deepEqual(withContainerDirs({ version: 2 }, v2Paths), { version: 2, containerDir: '/sys/fs/cgroup/user.slice/c1' });
  const v2bind = plan(spec(noNs), { cgroupLayout: { version: 2 }, cgroupPaths: v2Paths });
  assert.deepEqual(v2bind.warnings, []);
  assert.deepEqual(opsAt(v2bind.ops, '/sys/fs/cgroup'), [
    { op: 'mount', source: '/sys/fs/cgroup/user.slice/c1', target: '/sys/fs/cgroup', fstype: null, flags: MS.BIND, data: null, inRoot: true },
    { op: 'remount', target: '/sys/fs/cgroup', flags: base | MS.RELATIME | MS.RDONLY, inRoot: true },
  ]);
  const v2ns = plan(spec(), { cgroupLayout: { version: 2 }, cgroupPaths: v2Paths });
  assert.deepEqual(opsAt(v2ns.ops, '/sys/fs/cgroup'), [{ op: 'mount', source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: base | MS.RELATIME | MS.RDONLY, data: null, inRoot: true }]);
  const unshareAt = idx(v2ns.ops, (o) => o.op === 'unshare' && o.flags === CLONE.NEWCGROUP);
  assert.ok(unshareAt > 0 && unshareAt < idx(v2ns.ops, (o) => o.op === 'mount' && o.target === '/sys/fs/cgroup'), 'the cgroup ns exists before cgroup2 is mounted');
  assert.ok(unshareAt > idx(v2ns.ops, (o) => o.op === 'syncWait'), 'and is made after the parent placed the process in its cgroup');
  // Without recorded paths nothing changes.
  assert.equal(withContainerDirs(hostV1, undefined), hostV1);
});

test('the cgroup namespace comes right after the release (the process is in its cgroups by then); not after a clone into the cgroup', () => {
  const plain = plan(spec());
  assert.deepEqual(plain.ops.slice(0, 2), [{ op: 'syncWait' }, { op: 'unshare', flags: CLONE.NEWCGROUP }]);
  assert.equal(plain.ops.filter((o) => o.op === 'syncWait').length, 1);
  const into = plan(spec(), { cgroupV2IntoClone: true });
  assert.ok(!into.ops.some((o) => o.op === 'unshare'));
  assert.ok((into.cloneFlags & CLONE.NEWCGROUP) !== 0);
});

test('cgroup self-join (v1): "0" to each tasks fd first thing after the release, then the cgroup ns', () => {
  const join = [
    { fd: 3, path: '/sys/fs/cgroup/memory/c/tasks' },
    { fd: 4, path: '/sys/fs/cgroup/pids/c/tasks' },
  ];
  const p = plan(spec(), { cgroupSelfJoin: join });
  assert.deepEqual(p.ops.slice(0, 4), [
    { op: 'syncWait' },
    { op: 'writeFd', fd: 3, data: '0', path: '/sys/fs/cgroup/memory/c/tasks' },
    { op: 'writeFd', fd: 4, data: '0', path: '/sys/fs/cgroup/pids/c/tasks' },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
  ]);
  assert.equal(p.ops.filter((o) => o.op === 'syncWait').length, 1);
  // Before a setns and a clone op: the process the clone makes inherits the cgroups.
  const pidJoin = plan(spec((s) => (s.linux.namespaces = s.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path: '/proc/1/ns/pid' } : n)))), { cgroupSelfJoin: join, joinNamespaces: [{ type: 'pid', fd: 0 }] });
  assert.deepEqual(pidJoin.ops.slice(1, 3).map((o) => o.op), ['writeFd', 'writeFd']);
  assert.ok(idx(pidJoin.ops, (o) => o.op === 'clone') > 2);
});

test('detectCgroupLayout reads v1 hierarchies and v2 from mountinfo', () => {
  const hybrid = [
    '25 30 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
    '26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate',
    '27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd',
    '30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct',
  ].join('\n');
  assert.deepEqual(detectCgroupLayout(hybrid), {
    version: 1,
    hierarchies: [
      { name: 'systemd', options: 'none,name=systemd' },
      { name: 'cpu,cpuacct', options: 'cpu,cpuacct' },
    ],
  });
  assert.deepEqual(detectCgroupLayout('25 30 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw'), { version: 2 });
});

function userNs(s: any): void {
  s.linux.namespaces.push({ type: 'user' });
  s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
}

test('user namespace: mappings, setresid(0) first, devices bound, sysfs fallback without a net ns', () => {
  const p = plan(spec(userNs));
  assert.equal(p.cloneFlags & CLONE.NEWUSER, CLONE.NEWUSER);
  assert.deepEqual(p.uidMappings, [{ containerID: 0, hostID: 100000, size: 65536 }]);
  assert.equal(p.needsSetgroupsDeny, false);
  assert.equal(p.idMapsAtNotify, undefined);
  assert.deepEqual(p.ops.slice(0, 3), [{ op: 'syncWait' }, { op: 'setresid', uid: 0, gid: 0 }, { op: 'unshare', flags: CLONE.NEWCGROUP }]);
  assert.ok(!p.ops.some((x) => x.op === 'mknod'));
  const n = idx(p.ops, (x) => x.op === 'mount' && x.target === '/dev/null');
  assert.deepEqual(p.ops[n - 1], { op: 'touch', path: '/dev/null', mode: 0o644, inRoot: true });
  assert.deepEqual(p.ops[n], { op: 'mount', source: '/dev/null', target: '/dev/null', fstype: null, flags: MS.BIND, data: null, inRoot: true });
  // With a net ns sysfs mounts normally.
  assert.equal((opsAt(p.ops, '/sys')[0] as { fstype: string }).fstype, 'sysfs');
  const noNet = plan(spec((s) => {
    userNs(s);
    s.linux.namespaces = s.linux.namespaces.filter((x: any) => x.type !== 'network');
  }));
  assert.deepEqual(opsAt(noNet.ops, '/sys'), [
    { op: 'mount', source: '/sys', target: '/sys', fstype: null, flags: MS.BIND | MS.REC, data: null, inRoot: true },
    { op: 'remount', target: '/sys', flags: MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, inRoot: true },
  ]);
  assert.match(noNet.warnings.join('\n'), /sysfs needs a network namespace/);
  // gid=5 is mapped here; with a single-id mapping it is dropped with a warning.
  const single = plan(spec((s) => {
    userNs(s);
    s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  }), { rootless: true });
  assert.equal(single.needsSetgroupsDeny, true);
  assert.ok(!single.ops.some((x) => x.op === 'setgroups'), 'no setgroups when denied');
  assert.equal((opsAt(single.ops, '/dev/pts')[0] as { data: string }).data, 'newinstance,ptmxmode=0666,mode=0620');
  assert.match(single.warnings.join('\n'), /gid=5 dropped/);
});

test('rootless default spec plans with the /sys rbind', () => {
  const s = defaultSpec({ rootless: true, uid: 1000, gid: 1000, terminal: false });
  const p = plan(s, { rootless: true });
  assert.equal(p.cloneFlags & CLONE.NEWNET, 0);
  assert.equal(p.needsSetgroupsDeny, true);
  assert.deepEqual(opsAt(p.ops, '/sys')[0], { op: 'mount', source: '/sys', target: '/sys', fstype: null, flags: MS.BIND | MS.REC, data: null, inRoot: true });
});

test('masked and read-only paths after pivot, sysctls before them', () => {
  const s = spec((s) => {
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536', 'net/ipv4/conf/eth0.100/forwarding': '0' };
    s.process.oomScoreAdj = -500;
  });
  const o = plan(s).ops;
  const pivot = names(o).indexOf('pivotRoot');
  const sys = o.filter((x) => x.op === 'writeFile');
  assert.deepEqual(sys, [
    { op: 'writeFile', path: '/proc/sys/net/ipv4/ip_forward', data: '1' },
    { op: 'writeFile', path: '/proc/sys/kernel/shmmax', data: '65536' },
    { op: 'writeFile', path: '/proc/sys/net/ipv4/conf/eth0.100/forwarding', data: '0' },
    { op: 'writeFile', path: '/proc/self/oom_score_adj', data: '-500' },
  ]);
  const ro = idx(o, (x) => x.op === 'mount' && x.target === '/proc/sys');
  assert.ok(ro > pivot && ro > idx(o, (x) => x.op === 'writeFile' && x.path === '/proc/self/oom_score_adj'));
  assert.deepEqual(o.slice(ro, ro + 2), [
    { op: 'mount', source: '/proc/sys', target: '/proc/sys', fstype: null, flags: MS.BIND | MS.REC, data: null, optional: true },
    { op: 'remount', target: '/proc/sys', flags: MS.RDONLY, optional: true },
  ]);
  const masks = o.filter((x) => x.op === 'mask');
  assert.equal(masks.length, 12);
  assert.deepEqual(masks[0], { op: 'mask', path: '/proc/acpi' });
  assert.ok(idx(o, (x) => x.op === 'mask') > ro);
});

test('sysctl validation: only namespaced keys, with their namespace', () => {
  throwsMsg(() => plan(spec((s) => (s.linux.sysctl = { 'vm.swappiness': '10' }))), /^config.json: linux.sysctl "vm.swappiness" is not namespaced: setting it would change the host/);
  throwsMsg(() => plan(spec((s) => (s.linux.sysctl = { 'kernel.panic': '1' }))), /"kernel.panic" is not namespaced/);
  throwsMsg(() => plan(spec((s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'network');
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  })), /^config.json: linux.sysctl "net.ipv4.ip_forward" needs a network namespace/);
  throwsMsg(() => plan(spec((s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'ipc');
    s.linux.sysctl = { 'fs.mqueue.msg_max': '10' };
  })), /needs a ipc namespace/);
  throwsMsg(() => plan(spec((s) => (s.linux.sysctl = { 'net/../../x': '1' }))), /is not a valid sysctl name/);
  assert.doesNotThrow(() => plan(spec((s) => (s.linux.sysctl = { 'kernel.domainname': 'x', 'kernel.sem': '1 2 3 4' }))));
});

test('hostname without a uts namespace is an error', () => {
  throwsMsg(() => plan(spec((s) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'uts')))), /^config.json: hostname needs a UTS namespace/);
  assert.ok(plan(spec((s) => (s.domainname = 'ex.org'))).ops.some((x) => x.op === 'setdomainname' && x.name === 'ex.org'));
});

test('rlimits: names → numbers, infinity, unknown names', () => {
  const o = plan(spec((s) => (s.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 }, { type: 'RLIMIT_NPROC', soft: 100, hard: 200 }]))).ops;
  assert.deepEqual(o.filter((x) => x.op === 'setrlimit'), [
    { op: 'setrlimit', resource: 4, soft: 0n, hard: RLIM_INFINITY },
    { op: 'setrlimit', resource: 6, soft: 100n, hard: 200n },
  ]);
  throwsMsg(() => plan(spec((s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }]))), /^config.json: process.rlimits\[0\].type "RLIMIT_FOO" is not a known rlimit/);
});

test('capabilities: masks per set, ambient needs permitted+inheritable, unknown names are errors', () => {
  const o = plan(spec((s) => {
    s.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 10, 20], umask: 0o077 };
    s.process.capabilities = { bounding: ['CAP_NET_RAW', 'CAP_KILL'], permitted: ['CAP_NET_RAW', 'CAP_KILL'], effective: ['CAP_NET_RAW'], inheritable: ['CAP_NET_RAW'], ambient: ['CAP_NET_RAW', 'CAP_KILL'] };
  }));
  const raw = capMask(['CAP_NET_RAW']);
  const both = capMask(['CAP_NET_RAW', 'CAP_KILL']);
  assert.deepEqual(o.ops.find((x) => x.op === 'capset'), { op: 'capset', effective: raw, permitted: both, inheritable: raw });
  assert.deepEqual(o.ops.find((x) => x.op === 'ambient'), { op: 'ambient', raise: raw });
  assert.match(o.warnings.join('\n'), /ambient: capabilities not in both permitted and inheritable are ignored/);
  assert.deepEqual(o.ops.find((x) => x.op === 'setgroups'), { op: 'setgroups', gids: [10, 20] });
  assert.deepEqual(o.ops.find((x) => x.op === 'setresid' && x.uid !== 0), { op: 'setresid', uid: 1000, gid: 1000 });
  assert.deepEqual(o.ops.filter((x) => x.op === 'umask').at(-1), { op: 'umask', mask: 0o077 });
  throwsMsg(() => plan(spec((s) => (s.process.capabilities.bounding = ['CAP_FLY']))), /CAP_FLY/);
  const none = plan(spec((s) => delete s.process.capabilities)).ops;
  assert.deepEqual(none.find((x) => x.op === 'capBounding'), { op: 'capBounding', keep: 0n });
});

const SECCOMP = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chroot'], action: 'SCMP_ACT_ERRNO' }] };

/** The process tail of a plan: from its first rlimit (the default spec has one). */
function tail(ops: PlanOp[]): string[] {
  const n = names(ops);
  assert.ok(n.includes('setrlimit'));
  return n.slice(n.indexOf('setrlimit'));
}

test('run: the process tail, seccomp last with no_new_privs; no look-up, no fifo', () => {
  const withNnp = plan(spec((s) => (s.linux.seccomp = SECCOMP))).ops;
  assert.deepEqual(tail(withNnp), ['setrlimit', 'setsid', 'chdir', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'noNewPrivs', 'seccomp', 'exec']);
  const sc = withNnp.find((x) => x.op === 'seccomp');
  assert.ok(sc && sc.op === 'seccomp' && sc.filter.length > 0 && sc.filter.length % 8 === 0);
  const noNnp = plan(spec((s) => {
    s.linux.seccomp = SECCOMP;
    s.process.noNewPrivileges = false;
  })).ops;
  const m = names(noNnp);
  assert.ok(!m.includes('noNewPrivs') && !m.includes('lookPath') && !m.includes('waitFifo'));
  assert.equal(m.indexOf('seccomp') + 1, m.indexOf('chdir'));
  assert.ok(m.indexOf('seccomp') < m.indexOf('capBounding'));
});

test('create: everything but the execve comes before the fifo wait (caps, ids, cwd, look-up, seccomp)', () => {
  const c = plan(spec((s) => {
    s.process.args = ['sh', '-c', 'true'];
    s.process.env = ['PATH=/usr/bin:/bin', 'A=1'];
    s.process.cwd = '/work';
  }), { mode: 'create', fifo: 2 }).ops;
  const n = names(c);
  assert.deepEqual(c.slice(-2), [{ op: 'waitFifo', fd: 2 }, { op: 'exec', file: 'sh', argv: ['sh', '-c', 'true'], env: ['PATH=/usr/bin:/bin', 'A=1'], searchPath: '/usr/bin:/bin' }]);
  assert.deepEqual(c.filter((o) => o.op === 'chdir'), [{ op: 'chdir', path: '/work', attempt: 'first' }, { op: 'chdir', path: '/work', attempt: 'retry' }]);
  assert.deepEqual(c[n.indexOf('lookPath')], { op: 'lookPath', file: 'sh', searchPath: '/usr/bin:/bin' });
  assert.deepEqual(tail(c), ['setrlimit', 'setsid', 'chdir', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'noNewPrivs', 'lookPath', 'waitFifo', 'exec']);
  assert.ok(n.indexOf('waitFifo') > n.lastIndexOf('mask') && n.indexOf('waitFifo') > n.indexOf('setrlimit'));
  throwsMsg(() => plan(spec(), { mode: 'create' }), 'plan container: create mode needs the exec fifo');
  const t = plan(spec((s) => {
    s.process.terminal = true;
    s.process.consoleSize = { height: 40, width: 120 };
  }), { mode: 'create', fifo: 0, consoleSocket: 1 }).ops;
  const tn = names(t);
  assert.deepEqual(t[tn.indexOf('openPty')], { op: 'openPty', socket: 1, rows: 40, cols: 120 });
  assert.ok(tn.indexOf('openPty') < tn.indexOf('capBounding') && tn.indexOf('waitFifo') === tn.length - 2);
  throwsMsg(() => plan(spec((s) => (s.process.terminal = true))), /^process.terminal is true but no console socket was given/);
});

test('create with seccomp: the filter before the wait (after the look-up with no_new_privs, before the caps without)', () => {
  const nnp = tail(plan(spec((s) => (s.linux.seccomp = SECCOMP)), { mode: 'create', fifo: 0 }).ops);
  assert.deepEqual(nnp.slice(-5), ['noNewPrivs', 'lookPath', 'seccomp', 'waitFifo', 'exec']);
  const noNnp = tail(plan(spec((s) => {
    s.linux.seccomp = SECCOMP;
    s.process.noNewPrivileges = false;
  }), { mode: 'create', fifo: 0 }).ops);
  assert.deepEqual(noNnp, ['setrlimit', 'setsid', 'seccomp', 'chdir', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'lookPath', 'waitFifo', 'exec']);
});

test('create with a seccomp profile that blocks what the wait needs: the filter after the wait', () => {
  const blocksOpenat = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['openat'], action: 'SCMP_ACT_ERRNO' }] };
  const nnp = plan(spec((s) => (s.linux.seccomp = blocksOpenat)), { mode: 'create', fifo: 0 });
  // With no_new_privs only the filter moves: the caps, ids, cwd and look-up still fail the create.
  assert.deepEqual(tail(nnp.ops).slice(-5), ['noNewPrivs', 'lookPath', 'waitFifo', 'seccomp', 'exec']);
  assert.ok(nnp.notices?.some((m) => /linux\.seccomp blocks openat, which the wait for start needs: the filter are set up after the wait/.test(m)), String(nnp.notices));
  // Without it the filter needs CAP_SYS_ADMIN, so it and everything after it wait (as before).
  const noNnp = plan(spec((s) => {
    s.linux.seccomp = blocksOpenat;
    s.process.noNewPrivileges = false;
  }), { mode: 'create', fifo: 0 });
  assert.deepEqual(tail(noNnp.ops), ['setrlimit', 'setsid', 'waitFifo', 'seccomp', 'chdir', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'exec']);
  // The look-up runs under the filter without no_new_privs: statx blocked moves it too.
  const blocksStatx = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['statx'], action: 'SCMP_ACT_ERRNO' }] };
  assert.ok(tail(plan(spec((s) => (s.linux.seccomp = blocksStatx)), { mode: 'create', fifo: 0 }).ops).join() .endsWith('lookPath,seccomp,waitFifo,exec'));
  assert.ok(tail(plan(spec((s) => {
    s.linux.seccomp = blocksStatx;
    s.process.noNewPrivileges = false;
  }), { mode: 'create', fifo: 0 }).ops).join().startsWith('setrlimit,setsid,waitFifo,seccomp'));
});

test('hooksBeforePivot: notify(1) + syncWait right before pivot_root; noPivot uses moveRoot', () => {
  const o = plan(spec(), { hooksBeforePivot: true }).ops;
  const p = names(o).indexOf('pivotRoot');
  assert.deepEqual(o.slice(p - 2, p + 1), [{ op: 'notify', value: NOTIFY.BEFORE_PIVOT }, { op: 'syncWait' }, { op: 'pivotRoot', path: ROOTFS }]);
  const mv = plan(spec(), { noPivot: true }).ops;
  assert.ok(!names(mv).includes('pivotRoot'));
  assert.ok(mv.some((x) => x.op === 'moveRoot' && x.path === ROOTFS));
});

test('rootfs propagation', () => {
  const first = (prop?: string) => plan(spec((s) => prop && (s.linux.rootfsPropagation = prop)), { mountPointOf: () => '/b' }).ops.slice(2);
  assert.equal((first('private')[0] as { flags: number }).flags, MS.PRIVATE | MS.REC);
  const shared = first('shared');
  assert.deepEqual(shared.slice(0, 2), [
    { op: 'mount', source: null, target: '/', fstype: null, flags: MS.SHARED | MS.REC, data: null },
    { op: 'mount', source: null, target: '/b', fstype: null, flags: MS.PRIVATE, data: null },
  ]);
  // The root bind was made under a private parent: shared again once it is "/" (runtime-tools
  // linux_rootfs_propagation: a mount made under "/" must show in an rbind copy of "/").
  const sp = names(shared).indexOf('pivotRoot');
  assert.deepEqual(shared[sp + 1], { op: 'mount', source: null, target: '/', fstype: null, flags: MS.SHARED | MS.REC, data: null });
  assert.ok(!first('private').slice(names(first('private')).indexOf('pivotRoot') + 1).some((x) => x.op === 'mount' && x.target === '/'));
  const unb = first('unbindable');
  assert.equal((unb[0] as { flags: number }).flags, MS.SLAVE | MS.REC);
  const p = names(unb).indexOf('pivotRoot');
  assert.deepEqual(unb[p + 1], { op: 'mount', source: null, target: '/', fstype: null, flags: MS.UNBINDABLE | MS.REC, data: null });
});

test('joined namespaces become setns ops (not clone flags); a pid join adds a clone op', () => {
  const s = spec((s) => {
    s.linux.namespaces = s.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: '/proc/9/ns/net' } : n.type === 'pid' ? { type: 'pid', path: '/proc/9/ns/pid' } : n));
  });
  const p = plan(s, { joinNamespaces: [{ type: 'network', fd: 3 }, { type: 'pid', fd: 4 }] });
  assert.equal(p.cloneFlags, CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  assert.equal(p.pidFromClone, true);
  assert.deepEqual(p.ops.slice(0, 5), [
    { op: 'syncWait' },
    { op: 'setns', fd: 3, nstype: CLONE.NEWNET },
    { op: 'setns', fd: 4, nstype: CLONE.NEWPID },
    { op: 'clone', flags: 0 },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
  ]);
  throwsMsg(() => plan(s), 'plan container: no fd was given for the pid namespace at /proc/9/ns/pid');
});

test('a joined user ns comes first and every new namespace is unshared after it', () => {
  const s = spec((s) => s.linux.namespaces.push({ type: 'user', path: '/proc/9/ns/user' }));
  const p = plan(s, { joinNamespaces: [{ type: 'user', fd: 0 }] });
  assert.equal(p.cloneFlags, 0);
  assert.deepEqual(p.uidMappings, []);
  assert.deepEqual(p.ops.slice(0, 6), [
    { op: 'syncWait' },
    { op: 'setns', fd: 0, nstype: CLONE.NEWUSER },
    { op: 'setresid', uid: 0, gid: 0 },
    { op: 'unshare', flags: CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS },
    { op: 'clone', flags: 0 },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
  ]);
  assert.ok(!p.ops.some((x) => x.op === 'mknod'), 'devices are bound in a joined user ns');
});

test('a new user ns with joins is unshared after the joins; the maps are written on notify', () => {
  const s = spec((s) => {
    userNs(s);
    s.linux.namespaces = s.linux.namespaces.map((n: any) => (n.type === 'network' ? { type: 'network', path: '/run/netns/x' } : n));
  });
  const p = plan(s, { joinNamespaces: [{ type: 'network', fd: 5 }] });
  assert.equal(p.cloneFlags, 0);
  assert.equal(p.idMapsAtNotify, NOTIFY.USERNS);
  assert.equal(p.pidFromClone, true);
  assert.deepEqual(p.ops.slice(0, 9), [
    { op: 'syncWait' },
    { op: 'setns', fd: 5, nstype: CLONE.NEWNET },
    { op: 'unshare', flags: CLONE.NEWUSER },
    { op: 'notify', value: NOTIFY.USERNS },
    { op: 'syncWait' },
    { op: 'setresid', uid: 0, gid: 0 },
    { op: 'unshare', flags: CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS },
    { op: 'clone', flags: 0 },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
  ]);
  assert.equal(opsAt(p.ops, '/sys')[0]?.op, 'mount');
  assert.equal((opsAt(p.ops, '/sys')[0] as { source: string }).source, '/sys', 'sysfs falls back: the joined net ns is not ours');
});

test('time namespace: unshared with the pid ns, offsets written, then a clone op', () => {
  const p = plan(spec((s) => {
    s.linux.namespaces.push({ type: 'time' });
    s.linux.timeOffsets = { monotonic: { secs: 86400 }, boottime: { secs: -10, nanosecs: 5 } };
  }));
  assert.equal(p.cloneFlags, CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  assert.equal(p.pidFromClone, true);
  assert.deepEqual(p.ops.slice(0, 5), [
    { op: 'syncWait' },
    { op: 'unshare', flags: CLONE.NEWPID | CLONE.NEWTIME },
    { op: 'writeFile', path: '/proc/self/timens_offsets', data: 'monotonic 86400 0\nboottime -10 5\n' },
    { op: 'clone', flags: 0 },
    { op: 'unshare', flags: CLONE.NEWCGROUP },
  ]);
});

test('cgroupV2IntoClone puts CLONE_NEWCGROUP into the clone flags', () => {
  const p = plan(spec(), { cgroupV2IntoClone: true });
  assert.equal(p.cloneFlags & CLONE.NEWCGROUP, CLONE.NEWCGROUP);
  assert.ok(!p.ops.some((x) => x.op === 'unshare'));
});

test('no mount namespace: a private self-bind of the rootfs in ours, no propagation change, chroot; no exec into it', () => {
  const noMnt = (s: any) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'mount');
    delete s.linux.maskedPaths;
    delete s.linux.readonlyPaths;
  };
  const p = plan(spec((s) => {
    noMnt(s);
    s.linux.rootfsPropagation = 'shared';
  }));
  assert.equal(p.cloneFlags & CLONE.NEWNS, 0);
  assert.equal(p.hostRootfsMount, ROOTFS);
  assert.match(p.warnings.join('\n'), /rootfsPropagation ignored: the container has no mount namespace/);
  const o = p.ops;
  assert.deepEqual(opsAt(o, '/').filter((x) => x.op === 'mount'), [], 'the propagation of our / is left alone (the read-only remount after the chroot is of the self-bind)');
  const first = idx(o, (x) => x.op === 'mount');
  assert.deepEqual(o.slice(first, first + 3), [
    { op: 'mount', source: ROOTFS, target: ROOTFS, fstype: null, flags: MS.BIND | MS.REC, data: null },
    { op: 'mount', source: null, target: ROOTFS, fstype: null, flags: MS.PRIVATE | MS.REC, data: null },
    { op: 'openRoot', path: ROOTFS },
  ]);
  assert.ok(!names(o).includes('pivotRoot') && !names(o).includes('moveRoot'));
  const ch = idx(o, (x) => x.op === 'chroot');
  assert.deepEqual(o[ch], { op: 'chroot', path: ROOTFS });
  assert.ok(idx(o, (x) => x.op === 'mount' && x.target === '/proc') < ch, 'the spec mounts are made before the chroot');
  assert.equal(plan(spec()).hostRootfsMount, undefined);
  throwsMsg(() => plan(spec((s) => {
    noMnt(s);
    s.linux.maskedPaths = ['/proc/kcore'];
  })), /^config.json: linux.maskedPaths and linux.readonlyPaths need a mount namespace/);
  throwsMsg(() => planExec({ spec: spec(noMnt), process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } } as never, targetPidfd: 0 }), /^exec: the container has no mount namespace/);
});

test('unsupported features warn or fail clearly', () => {
  const w = plan(spec((s) => (s.process.apparmorProfile = 'docker-default'))).warnings;
  assert.match(w.join('\n'), /apparmorProfile "docker-default" ignored/);
  throwsMsg(() => plan(spec((s) => (s.linux.personality = { domain: 'LINUX32' }))), /LINUX32 is not supported yet/);
});

test('planExec: setns(pidfd, every ns) → clone → process part, container seccomp applies', () => {
  const s = spec((s) => {
    userNs(s);
    s.linux.seccomp = SECCOMP;
  });
  const proc = { args: ['ls', '-l'], cwd: '/tmp', env: ['PATH=/bin', 'A=1'], user: { uid: 1, gid: 2, additionalGids: [3] }, terminal: true, noNewPrivileges: true, capabilities: { bounding: ['CAP_KILL'] } };
  const p = planExec({ spec: s, process: proc, targetPidfd: 0, consoleSocket: 1, rootless: false });
  assert.equal(p.cloneFlags, 0);
  assert.equal(p.pidFromClone, true);
  const all = CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWCGROUP | CLONE.NEWUSER;
  assert.deepEqual(p.ops.slice(0, 4), [{ op: 'syncWait' }, { op: 'setns', fd: 0, nstype: all }, { op: 'clone', flags: 0 }, { op: 'openPty', socket: 1, rows: 0, cols: 0 }]);
  assert.deepEqual(names(p.ops).slice(4), ['chdir', 'capBounding', 'keepCaps', 'setgroups', 'setresid', 'capset', 'ambient', 'chdir', 'umask', 'noNewPrivs', 'seccomp', 'exec']);
  assert.deepEqual(p.ops.at(-1), { op: 'exec', file: 'ls', argv: ['ls', '-l'], env: ['PATH=/bin', 'A=1'], searchPath: '/bin' });
  assert.ok(!p.ops.some((x) => x.op === 'waitFifo' || x.op === 'mount' || x.op === 'pivotRoot'));
  throwsMsg(() => planExec({ spec: s, process: { ...proc, cwd: 'tmp' }, targetPidfd: 0, consoleSocket: 1 }), /must be an absolute path/);
  throwsMsg(() => planExec({ spec: s, process: { ...proc, consoleSize: undefined }, targetPidfd: 0 } as never), /no console socket/);
});

test('cleanPath: the fast path for clean paths agrees with path.normalize', () => {
  const slow = (p: string) => {
    const n = posix.normalize(posix.join('/', p));
    return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
  };
  for (const p of ['/', '', '/a', 'a', '/a/b', '/a/b/', '//a', '/a//b', '/./a', '/a/.', '/a/..', '/../a', '/a/../b', '/.a', '/..a', '/a.', '/a..', '/...', '/a/.b/..c/...', 'a/./b', '/a/b/../../..']) {
    assert.equal(cleanPath(p), slow(p), JSON.stringify(p));
  }
});

test('loopbackUp: after pivot and sysctls, before the capability drop; needs a new network namespace', () => {
  const o = plan(spec(), { loopbackUp: true }).ops;
  const at = names(o).indexOf('loopbackUp');
  assert.ok(at > names(o).indexOf('pivotRoot'), 'after pivot_root');
  assert.ok(at < names(o).indexOf('capBounding') && at < names(o).indexOf('setresid'), 'while the process still has CAP_NET_ADMIN');
  assert.equal(names(o).filter((n) => n === 'loopbackUp').length, 1);
  assert.ok(!names(plan(spec()).ops).includes('loopbackUp'), 'only when asked');
  const joined = spec((s) => {
    s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: '/proc/1/ns/net' } : n));
  });
  throwsMsg(() => plan(joined, { joinNamespaces: [{ type: 'network', fd: 0 }], loopbackUp: true }), /loopback up needs a new network namespace/);
});

test('premadeNetwork: entered with setns instead of CLONE_NEWNET; its lo up replaces the loopbackUp op', () => {
  const p = plan(spec(), { loopbackUp: true, premadeNetwork: { fd: 3, loopbackUp: true } });
  assert.equal(p.cloneFlags & CLONE.NEWNET, 0, 'no new network namespace at clone');
  assert.notEqual(p.cloneFlags & CLONE.NEWNS, 0, 'the other namespaces are still new');
  assert.equal(p.premadeNetworkUsed, true);
  const o = p.ops;
  const join = o.findIndex((x) => x.op === 'setns' && x.nstype === CLONE.NEWNET);
  assert.deepEqual(o[join], { op: 'setns', fd: 3, nstype: CLONE.NEWNET });
  assert.ok(join < names(o).indexOf('mount'), 'before any mount (sysfs shows the mounter\'s netns)');
  assert.ok(!names(o).includes('loopbackUp'), 'lo is up already');
  // lo not up in it: the loopbackUp op stays.
  const down = plan(spec(), { loopbackUp: true, premadeNetwork: { fd: 3, loopbackUp: false } });
  assert.equal(names(down.ops).filter((n) => n === 'loopbackUp').length, 1);
  assert.equal(down.cloneFlags & CLONE.NEWNET, 0);
  // Without it: unchanged.
  const plain = plan(spec(), { loopbackUp: true });
  assert.notEqual(plain.cloneFlags & CLONE.NEWNET, 0);
  assert.equal(plain.premadeNetworkUsed, undefined);
});

test('premadeNetwork: unused where the new network namespace must be owned by a user ns, or none is asked for', () => {
  const withUser = spec((s) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  const u = plan(withUser, { premadeNetwork: { fd: 3, loopbackUp: true } });
  assert.notEqual(u.cloneFlags & CLONE.NEWNET, 0, 'made at clone, in the new user ns');
  assert.equal(u.premadeNetworkUsed, undefined);
  assert.ok(!u.ops.some((x) => x.op === 'setns'));
  const hostNet = spec((s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
  });
  const h = plan(hostNet, { premadeNetwork: { fd: 3, loopbackUp: true } });
  assert.equal(h.premadeNetworkUsed, undefined);
  assert.ok(!h.ops.some((x) => x.op === 'setns'), 'the host network stays');
  const joined = spec((s) => {
    s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: '/proc/1/ns/net' } : n));
  });
  const j = plan(joined, { joinNamespaces: [{ type: 'network', fd: 0 }], premadeNetwork: { fd: 3, loopbackUp: true } });
  assert.equal(j.premadeNetworkUsed, undefined);
  assert.deepEqual(j.ops.filter((x) => x.op === 'setns'), [{ op: 'setns', fd: 0, nstype: CLONE.NEWNET }], 'the spec\'s path is joined');
});
