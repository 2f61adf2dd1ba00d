import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HakoError } from '../../src/common/errors.js';
import { describeOp } from '../../src/native/describe-op.js';
import { PLAN_MAGIC, encodePlan } from '../../src/native/plan-encoding.js';
import { CLONE, MS, type Plan, type PlanOp } from '../../src/native/plan.js';

function plan(ops: PlanOp[], extra: Partial<Plan> = {}): Plan {
  return { cloneFlags: 0, cgroupFd: -1, fds: [], internalFds: [], pdeathsig: 0, ops, ...extra };
}

/** Little-endian byte builders mirroring docs/executor-plan.md. */
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
const str = (s: string | null) => (s === null ? u32(0xffffffff) : Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s), Buffer.from([0])]));

function header(p: Plan): Buffer {
  return Buffer.concat([
    u32(PLAN_MAGIC),
    u64(BigInt(p.cloneFlags)),
    i32(p.cgroupFd),
    i32(p.pdeathsig),
    u32(p.fds.length),
    ...p.fds.flatMap((f) => [i32(f.source), i32(f.target)]),
    u32(p.internalFds.length),
    ...p.internalFds.map(i32),
    u32(p.ops.length),
  ]);
}

test('header: magic, 64-bit clone flags, fds pairs, internal fds', () => {
  const p = plan([], {
    // `+`, not `|`: JS bitwise operators truncate to 32 bits and would drop INTO_CGROUP.
    cloneFlags: CLONE.NEWNS + CLONE.NEWPID + CLONE.INTO_CGROUP,
    cgroupFd: 7,
    pdeathsig: 9,
    fds: [{ source: 5, target: 0 }, { source: 6, target: 1 }],
    internalFds: [10, 11],
  });
  const buf = encodePlan(p);
  assert.deepEqual(buf, header(p));
  assert.equal(buf.readUInt32LE(0), 0x31504b48);
  assert.equal(buf.subarray(0, 4).toString('latin1'), 'HKP1');
  assert.equal(buf.readBigUInt64LE(4), 0x220020000n);
});

test('mount op: null strings, u64 flags, booleans as u32', () => {
  const op: PlanOp = { op: 'mount', source: null, target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV, data: null, inRoot: true };
  const p = plan([op]);
  const expected = Buffer.concat([
    header(p),
    u32(9),
    str(null),
    str('/proc'),
    str('proc'),
    u64(BigInt(MS.NOSUID | MS.NODEV)),
    str(null),
    u32(1),
    u32(0),
  ]);
  assert.deepEqual(encodePlan(p), expected);
  // A null string is exactly 0xFFFFFFFF with no bytes and no NUL; an empty one is length 0 + NUL.
  assert.deepEqual(str(null), Buffer.from([0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(str(''), Buffer.from([0, 0, 0, 0, 0]));
});

test('UTF-8 strings are byte-counted', () => {
  const p = plan([{ op: 'sethostname', name: 'héllo' }]);
  const buf = encodePlan(p);
  const body = buf.subarray(header(p).length);
  assert.deepEqual(body, Buffer.concat([u32(21), u32(6), Buffer.from('héllo'), Buffer.from([0])]));
});

test('bigint masks and rlimits are u64, RLIM_INFINITY included', () => {
  const inf = (1n << 64n) - 1n;
  const p = plan([
    { op: 'capset', effective: 0xa80425fbn, permitted: 1n << 40n, inheritable: 0n },
    { op: 'setrlimit', resource: 7, soft: 1024n, hard: inf },
    { op: 'capBounding', keep: (1n << 41n) - 1n },
  ]);
  const body = encodePlan(p).subarray(header(p).length);
  assert.deepEqual(
    body,
    Buffer.concat([
      u32(29), u64(0xa80425fbn), u64(1n << 40n), u64(0n),
      u32(24), u32(7), u64(1024n), u64(inf),
      u32(27), u64((1n << 41n) - 1n),
    ]),
  );
});

test('exec: strs, env and a null searchPath; seccomp bytes', () => {
  const filter = new Uint8Array([6, 0, 0, 0, 0, 0, 0xff, 0x7f]); // RET ALLOW
  const p = plan([
    { op: 'seccomp', filter, flags: 0 },
    { op: 'exec', file: 'sh', argv: ['sh', '-c', 'true'], env: ['A=1'], searchPath: null },
  ]);
  const body = encodePlan(p).subarray(header(p).length);
  assert.deepEqual(
    body,
    Buffer.concat([
      u32(33), u32(8), Buffer.from(filter), u32(0),
      u32(39), str('sh'), u32(3), str('sh'), str('-c'), str('true'), u32(1), str('A=1'), str(null),
    ]),
  );
});

test('lookPath (file, searchPath?) and chdir (path, attempt)', () => {
  const p = plan([
    { op: 'chdir', path: '/w', attempt: 'first' },
    { op: 'chdir', path: '/w' },
    { op: 'chdir', path: '/w', attempt: 'retry' },
    { op: 'lookPath', file: 'sh', searchPath: '/bin:/usr/bin' },
    { op: 'lookPath', file: '/bin/sh', searchPath: null },
  ]);
  const body = encodePlan(p).subarray(header(p).length);
  assert.deepEqual(
    body,
    Buffer.concat([
      u32(25), str('/w'), u32(1),
      u32(25), str('/w'), u32(0),
      u32(25), str('/w'), u32(2),
      u32(41), str('sh'), str('/bin:/usr/bin'),
      u32(41), str('/bin/sh'), str(null),
    ]),
  );
  assert.equal(describeOp({ op: 'lookPath', file: 'sh', searchPath: '/bin' }), 'look up the executable "sh" in $PATH');
  assert.equal(describeOp({ op: 'lookPath', file: '/bin/sh', searchPath: '/bin' }), 'look up the executable "/bin/sh"');
});

test('internal fd ops encode the index, not the fd', () => {
  const p = plan([{ op: 'setns', fd: 1, nstype: 0 }, { op: 'dup2', fd: 0, target: 3 }, { op: 'writeFd', fd: 1, data: '0', path: '/sys/fs/cgroup/pids/c/tasks' }], { internalFds: [40, 41] });
  const body = encodePlan(p).subarray(header(p).length);
  assert.deepEqual(body, Buffer.concat([u32(6), i32(1), u32(0), u32(37), i32(0), i32(3), u32(42), i32(1), str('0')]));
  assert.equal(describeOp(p.ops[2]!), 'write "0" to /sys/fs/cgroup/pids/c/tasks');
  assert.throws(() => encodePlan(plan([{ op: 'writeFd', fd: 2, data: '0' }], { internalFds: [40, 41] })), /internal fd index 2 is out of range/);
});

test('validation: NUL inside a string names the op', () => {
  assert.throws(
    () => encodePlan(plan([{ op: 'mkdirs', path: '/a\0b', mode: 0o755, inRoot: true }])),
    (err: unknown) => err instanceof HakoError && err.kind === 'invalid-argument' && /op 0 \(mkdir \/a/.test(err.message) && /NUL/.test(err.message),
  );
});

test('validation: exec must be the last op', () => {
  const exec: PlanOp = { op: 'exec', file: '/bin/true', argv: ['true'], env: [], searchPath: null };
  assert.throws(() => encodePlan(plan([exec, { op: 'noNewPrivs' }])), (err: unknown) => err instanceof HakoError && /exec must be the last op/.test(err.message));
});

test('validation: internal fd indexes must be in range', () => {
  assert.throws(() => encodePlan(plan([{ op: 'setns', fd: 0, nstype: 0 }])), /internal fd index 0 is out of range/);
  assert.throws(() => encodePlan(plan([{ op: 'openPty', socket: 2, rows: 0, cols: 0 }], { internalFds: [5, 6] })), /out of range/);
  assert.throws(() => encodePlan(plan([{ op: 'waitFifo', fd: -1 }], { internalFds: [5] })), /out of range/);
  assert.throws(() => encodePlan(plan([{ op: 'dup2', fd: 0, target: -1 }], { internalFds: [5] })), /target fd must be >= 0/);
});

test('validation: out-of-range integers and bad seccomp filters', () => {
  assert.throws(() => encodePlan(plan([{ op: 'setresid', uid: -1, gid: 0 }])), /uid is -1/);
  assert.throws(() => encodePlan(plan([{ op: 'capBounding', keep: 1n << 64n }])), /keep/);
  assert.throws(() => encodePlan(plan([{ op: 'seccomp', filter: new Uint8Array(7), flags: 0 }])), /BPF instructions/);
});

test('describeOp gives the step names errors use', () => {
  assert.equal(describeOp({ op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: 0, data: null, inRoot: true }), 'mount proc on /proc');
  assert.equal(describeOp({ op: 'mount', source: '/src', target: '/dst', fstype: null, flags: MS.BIND | MS.REC, data: null }), 'bind mount /src on /dst');
  assert.equal(describeOp({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.PRIVATE | MS.REC, data: null }), 'make / rprivate');
  assert.equal(describeOp({ op: 'mkdirs', path: '/x', mode: 0o755 }), 'mkdir /x');
  assert.equal(describeOp({ op: 'pivotRoot', path: '/bundle/rootfs' }), 'pivot_root to /bundle/rootfs');
  assert.equal(describeOp({ op: 'exec', file: '/bin/nope', argv: [], env: [], searchPath: null }), 'exec /bin/nope');
  assert.equal(describeOp({ op: 'seccomp', filter: new Uint8Array(8), flags: 0 }), 'load seccomp filter');
  assert.equal(describeOp({ op: 'sethostname', name: 'c1' }), 'set hostname');
  assert.match(describeOp({ op: 'setresid', uid: 1000, gid: 1000 }), /^setresuid\(1000\)/);
});
