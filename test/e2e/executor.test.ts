// The native executor against the real kernel: containers made from plans, their errors, the
// clone op, ptys and fd hygiene. Root only; every test kills/reaps what it started and removes
// its temp dirs (the mounts live in the children's mount namespaces and vanish with them).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, createReadStream, mkdirSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ReadStream } from 'node:tty';
import { HakoError } from '../../src/common/errors.js';
import { MKDIRS, native } from '../../src/native/addon.js';
import { spawnPlan, waitUntilExecOrFailure, type ExitStatus, type SpawnedProcess } from '../../src/native/executor.js';
import { encodePlan } from '../../src/native/plan-encoding.js';
import { CLONE, MS, type Plan, type PlanOp } from '../../src/native/plan.js';
import { isRoot, makeBusyboxRootfs, ownCgroup, tempDir, testCgroupName } from '../helpers/fixtures.js';

const skip = !isRoot ? 'needs root' : !existsSync('/bin/busybox') ? 'needs busybox-static' : false;
const SIGKILL = 9;
const S_IFCHR = 0o020000;
const ENV = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root'];

/** Reads a pipe's read end to EOF (closes it). */
function readAll(fd: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    createReadStream('', { fd })
      .on('data', (c) => chunks.push(c as Buffer))
      .on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      .on('error', reject);
  });
}

interface Run {
  proc: SpawnedProcess;
  output: Promise<string>;
}

/** Spawns `plan` with stdin=/dev/null and stdout+stderr into a pipe we read. */
function start(plan: Omit<Plan, 'fds'> & { fds?: Plan['fds'] }): Run {
  const [r, w] = native().pipe();
  const nul = openSync('/dev/null', 'r');
  let proc: SpawnedProcess;
  try {
    proc = spawnPlan({ ...plan, fds: [{ source: nul, target: 0 }, { source: w, target: 1 }, { source: w, target: 2 }, ...(plan.fds ?? [])] });
  } finally {
    native().close(w);
    closeSync(nul);
  }
  return { proc, output: readAll(r) };
}

/** Runs to exec and exit: returns the output and status. Kills the process if anything throws. */
async function run(plan: Omit<Plan, 'fds'> & { fds?: Plan['fds'] }, beforeRelease?: (proc: SpawnedProcess) => void): Promise<{ out: string; status: ExitStatus; proc: SpawnedProcess }> {
  const { proc, output } = start(plan);
  try {
    beforeRelease?.(proc);
    if (plan.ops.some((o) => o.op === 'syncWait')) proc.release();
    await waitUntilExecOrFailure(proc);
  } catch (err) {
    proc.abort();
    await proc.exited;
    await output;
    throw err;
  }
  const [out, status] = await Promise.all([output, proc.exited]);
  return { out, status, proc };
}

function exec(file: string, argv: string[]): PlanOp {
  return { op: 'exec', file, argv, env: ENV, searchPath: '/usr/sbin:/usr/bin:/sbin:/bin' };
}

/** The container ops: private propagation, bind rootfs, proc, /dev tmpfs + devices, pivot. */
function containerOps(rootfs: string, opts: { mknod: boolean; beforePivot?: PlanOp[] }): PlanOp[] {
  const devices: PlanOp[] = [];
  for (const [name, minor] of [['null', 3], ['zero', 5], ['urandom', 9]] as const) {
    if (opts.mknod) devices.push({ op: 'mknod', path: `/dev/${name}`, mode: S_IFCHR | 0o666, major: 1, minor, uid: 0, gid: 0, inRoot: true });
    else {
      devices.push({ op: 'touch', path: `/dev/${name}`, mode: 0o666, inRoot: true });
      devices.push({ op: 'mount', source: `/dev/${name}`, target: `/dev/${name}`, fstype: null, flags: MS.BIND, data: null, inRoot: true });
    }
  }
  return [
    { op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null },
    { op: 'mount', source: rootfs, target: rootfs, fstype: null, flags: MS.BIND | MS.REC, data: null },
    { op: 'openRoot', path: rootfs },
    { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: null, inRoot: true },
    { op: 'mount', source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: MS.NOSUID, data: 'mode=755,size=1m', inRoot: true },
    { op: 'umask', mask: 0 },
    ...devices,
    { op: 'umask', mask: 0o022 },
    ...(opts.beforePivot ?? []),
    { op: 'pivotRoot', path: rootfs },
  ];
}

/** Classic BPF: chroot(2) fails with ENOMSG, everything else allowed (x86_64 syscall numbers). */
function chrootEnomsgFilter(): Uint8Array {
  const insn = (code: number, jt: number, jf: number, k: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(code, 0);
    b[2] = jt;
    b[3] = jf;
    b.writeUInt32LE(k >>> 0, 4);
    return b;
  };
  const AUDIT_ARCH_X86_64 = 0xc000003e;
  return Buffer.concat([
    insn(0x20, 0, 0, 4), // ld arch
    insn(0x15, 1, 0, AUDIT_ARCH_X86_64), // jeq x86_64 → check nr
    insn(0x06, 0, 0, 0x7fff0000), // other arch: allow (test only)
    insn(0x20, 0, 0, 0), // ld nr
    insn(0x15, 0, 1, 161), // jeq chroot
    insn(0x06, 0, 0, 0x00050000 | 42), // SECCOMP_RET_ERRNO | ENOMSG
    insn(0x06, 0, 0, 0x7fff0000), // SECCOMP_RET_ALLOW
  ]);
}

// CAP_CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID, SETUID, NET_BIND_SERVICE, SYS_CHROOT
const REDUCED_CAPS = [0, 1, 3, 5, 6, 7, 10, 18].reduce((m, c) => m | (1n << BigInt(c)), 0n);

function busybox(): { dir: string; rootfs: string; cleanup: () => void } {
  const t = tempDir();
  const rootfs = join(t.path, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  return { dir: t.path, rootfs, cleanup: t.cleanup };
}

function fullContainerPlan(rootfs: string, script: string): Plan {
  return {
    cloneFlags: CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET,
    cgroupFd: -1,
    fds: [],
    internalFds: [],
    pdeathsig: SIGKILL,
    ops: [
      { op: 'syncWait' },
      ...containerOps(rootfs, { mknod: true }),
      { op: 'sethostname', name: 'hako-test' },
      { op: 'capBounding', keep: REDUCED_CAPS },
      { op: 'capset', effective: REDUCED_CAPS, permitted: REDUCED_CAPS, inheritable: 0n },
      { op: 'noNewPrivs' },
      { op: 'seccomp', filter: chrootEnomsgFilter(), flags: 0 },
      exec('/bin/sh', ['sh', '-c', script]),
    ],
  };
}

test('a plan without namespaces runs /bin/true', { skip }, async () => {
  const { out, status } = await run({
    cloneFlags: 0,
    cgroupFd: -1,
    internalFds: [],
    pdeathsig: SIGKILL,
    ops: [{ op: 'syncWait' }, exec('true', ['true'])],
  });
  assert.equal(out, '');
  assert.deepEqual(status, { code: 0, signal: null });
});

test('loopbackUp sets lo of a new network namespace up (and a plain new one has it down)', { skip }, async () => {
  const show = exec('ip', ['ip', '-o', 'link', 'show', 'lo']);
  const up = await run({ cloneFlags: CLONE.NEWNET, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, { op: 'loopbackUp' }, show] });
  assert.deepEqual(up.status, { code: 0, signal: null }, up.out);
  assert.match(up.out, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
  const down = await run({ cloneFlags: CLONE.NEWNET, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, show] });
  assert.deepEqual(down.status, { code: 0, signal: null }, down.out);
  assert.match(down.out, /^1: lo: <LOOPBACK>/);
});

test('netnsBegin/netnsTake make a new network namespace (lo up when asked) that a setns op enters', { skip }, async () => {
  const hostNs = readlinkSync('/proc/self/ns/net');
  const made = async (loopbackUp: boolean): Promise<number> => {
    const h = native().netnsBegin(loopbackUp);
    for (let i = 0; i < 500; i++) {
      const fd = native().netnsTake(h);
      if (fd >= 0) return fd;
      // Not made yet: this handle is spent (its thread closes the late fd); begin another.
      await new Promise((r) => setTimeout(r, 2 * i));
      return made(loopbackUp);
    }
    throw new Error('never made');
  };
  const up = await made(true);
  const down = await made(false);
  try {
    const upNs = readlinkSync(`/proc/self/fd/${up}`);
    const downNs = readlinkSync(`/proc/self/fd/${down}`);
    assert.match(upNs, /^net:\[\d+\]$/);
    assert.notEqual(upNs, hostNs, 'not ours');
    assert.notEqual(upNs, downNs, 'a new one each time');
    assert.equal(readlinkSync('/proc/self/ns/net'), hostNs, 'this process stays where it was');
    const script = 'readlink /proc/self/ns/net; ip -o link show; echo fds=$(ls /proc/self/fd | tr "\\n" " ")';
    const enter = (fd: number) => run({ cloneFlags: 0, cgroupFd: -1, internalFds: [fd], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, { op: 'setns', fd: 0, nstype: CLONE.NEWNET }, { op: 'closeFrom', from: 3 }, exec('sh', ['sh', '-c', script])] });
    const a = await enter(up);
    assert.deepEqual(a.status, { code: 0, signal: null }, a.out);
    const [nsA, ...linksA] = a.out.trim().split('\n');
    assert.equal(nsA, upNs);
    assert.equal(linksA.length, 2, `only lo: ${a.out}`);
    assert.match(linksA[0]!, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    assert.match(linksA[1]!, /^fds=0 1 2 3\s*$/, 'no namespace fd reaches the program (3 is ls\'s own)');
    const b = await enter(down);
    assert.deepEqual(b.status, { code: 0, signal: null }, b.out);
    assert.equal(b.out.split('\n')[0], downNs);
    assert.match(b.out.split('\n')[1]!, /^1: lo: <LOOPBACK>/);
  } finally {
    closeSync(up);
    closeSync(down);
  }
  // A handle gives its fd once; one taken before it is made, or never taken, leaves no fd behind.
  const netnsFds = () => readdirSync('/proc/self/fd').filter((n) => {
    try {
      return readlinkSync(`/proc/self/fd/${n}`).startsWith('net:[');
    } catch {
      return false; // the readdir's own fd, closed meanwhile
    }
  }).length;
  const fdsBefore = netnsFds();
  const h = native().netnsBegin(true);
  await new Promise((r) => setTimeout(r, 50));
  const fd = native().netnsTake(h);
  assert.ok(fd >= 0);
  assert.equal(native().netnsTake(h), -1, 'taken once');
  closeSync(fd);
  const late = native().netnsTake(native().netnsBegin(true)); // at once: most likely not made yet
  if (late >= 0) closeSync(late);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(netnsFds(), fdsBefore, 'late namespaces are closed by their thread');
  assert.throws(() => native().netnsBegin('yes' as never), /netnsBegin/);
  assert.throws(() => native().netnsTake({} as never), /netnsTake/);
});

test('mkdirsBegin/mkdirsEnd: one mkdir per path on a thread; the made ones are returned, or removed with undo', { skip }, () => {
  const dir = tempDir('mkdirs');
  try {
    mkdirSync(join(dir.path, 'there'));
    const paths = [join(dir.path, 'a'), join(dir.path, 'there'), join(dir.path, 'no', 'parent'), join(dir.path, 'b')];
    const h = native().mkdirsBegin(paths, 0o750);
    assert.deepEqual(native().mkdirsEnd(h, false), [paths[0], paths[3]], 'not an existing one, nor one without its parent');
    assert.equal(statSync(paths[0]!).mode & 0o777, 0o750 & ~process.umask());
    assert.deepEqual(native().mkdirsEnd(h, false), [], 'ended once');
    const c = [join(dir.path, 'c'), join(dir.path, 'c', 'd')];
    const undo = native().mkdirsBegin(c, 0o755);
    assert.deepEqual(native().mkdirsEnd(undo, true), []);
    assert.equal(existsSync(c[0]!), false, 'removed again, last first');
    assert.ok(existsSync(paths[0]!) && existsSync(join(dir.path, 'there')));
    assert.throws(() => native().mkdirsBegin([], 0o755), /mkdirsBegin/);
    assert.throws(() => native().mkdirsEnd({} as never, false), /mkdirsEnd/);
  } finally {
    dir.cleanup();
  }
});

test('mkdirsBegin flags: a new v1 cpuset cgroup gets its parent\'s cpus and mems (one it cannot give them is removed again); tasks files opened for mkdirsEnd', { skip: skip || (!existsSync('/sys/fs/cgroup/cpuset/cpuset.cpus') && 'no v1 cpuset hierarchy') }, () => {
  const parent = join('/sys/fs/cgroup/cpuset', ownCgroup('cpuset'));
  const leaf = join(parent, testCgroupName('mkdirs-cpuset'));
  const dir = tempDir('mkdirs-cpuset');
  const fdCount = () => readdirSync('/proc/self/fd').length;
  const fdsBefore = fdCount();
  try {
    const plain = join(dir.path, 'not-a-cgroup'); // no cpuset.cpus to read: the copy fails
    const a = join(dir.path, 'a');
    const h = native().mkdirsBegin([a, leaf, plain], 0o755, [MKDIRS.TASKS, MKDIRS.CPUSET | MKDIRS.TASKS, MKDIRS.CPUSET]);
    const fds: number[] = [];
    assert.deepEqual(native().mkdirsEnd(h, false, fds), [a, leaf]);
    assert.equal(existsSync(plain), false, 'removed again');
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const want = readFileSync(join(parent, f), 'utf8').trim();
      assert.ok(want !== '', `${f} of ${parent}`);
      assert.equal(readFileSync(join(leaf, f), 'utf8').trim(), want, f);
    }
    assert.equal(fds[0], -2, 'a plain directory has no tasks file: -ENOENT');
    assert.equal(fds[2], undefined, 'not asked');
    const fd = fds[1]!;
    assert.ok(fd >= 0);
    assert.equal(readlinkSync(`/proc/self/fd/${fd}`), join(leaf, 'tasks'));
    const flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    assert.equal(flags & 0o3, 0o1, 'O_WRONLY');
    assert.ok(flags & 0o2000000, 'O_CLOEXEC');
    closeSync(fd);
    // Something can join it (an empty cpuset refuses with ENOSPC).
    assert.match(execFileSync('/bin/sh', ['-c', `echo $$ > ${leaf}/cgroup.procs && echo $$`], { encoding: 'utf8' }).trim(), /^\d+$/);
    // Fds nobody takes are closed: without an fds array, and with undo.
    const again = join(dir.path, 'b');
    native().mkdirsEnd(native().mkdirsBegin([leaf], 0o755, [MKDIRS.TASKS]), false);
    native().mkdirsEnd(native().mkdirsBegin([again], 0o755, [MKDIRS.TASKS]), true, fds);
    assert.equal(existsSync(again), false);
    assert.equal(fdCount(), fdsBefore, 'no fd left open');
    assert.throws(() => native().mkdirsBegin([leaf], 0o755, [1, 0]), /flags/);
    assert.throws(() => native().mkdirsBegin([leaf], 0o755, [4]), /flags/);
  } finally {
    dir.cleanup();
    for (let i = 0; i < 50 && existsSync(leaf); i++) {
      try {
        rmdirSync(leaf);
      } catch {
        execFileSync('sleep', ['0.05']);
      }
    }
  }
});

test('mkdirsBegin: one thread for the process serves every job, in order; handles end in any order', { skip }, () => {
  const dir = tempDir('mkdirs-queue');
  const threads = () => readdirSync('/proc/self/task').length;
  try {
    native().mkdirsEnd(native().mkdirsBegin([join(dir.path, 'first')], 0o755), false); // (the thread is up)
    const before = threads();
    const jobs = Array.from({ length: 20 }, (_, k) => {
      const p = [join(dir.path, `j${k}`), join(dir.path, `j${k}`, 'sub')];
      return { p, h: native().mkdirsBegin(p, 0o755) };
    });
    assert.equal(threads(), before, 'no thread per job');
    for (const { p, h } of jobs.reverse()) assert.deepEqual(native().mkdirsEnd(h, false), p, 'parent before child: the job ran in order');
    assert.equal(threads(), before);
  } finally {
    dir.cleanup();
  }
});

test('a full container: pid 1, hostname, fds, caps, no_new_privs, seccomp, only lo', { skip }, async () => {
  const fx = busybox();
  try {
    const script = [
      'echo "pid=$$"',
      'echo "host=$(hostname)"',
      'echo "fds=$(ls /proc/self/fd | tr "\\n" " ")"',
      "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
      'echo "dev=$(ls /dev | tr "\\n" " ")"',
      'chroot / true; echo "chroot=$?"',
      'ip link',
    ].join('; ');
    const { out, status } = await run(fullContainerPlan(fx.rootfs, script));
    assert.deepEqual(status, { code: 0, signal: null }, out);
    assert.match(out, /^pid=1$/m);
    assert.match(out, /^host=hako-test$/m);
    // 0 1 2 and the directory ls itself is reading: nothing of Node's leaked in.
    assert.match(out, /^fds=0 1 2 3\s*$/m);
    assert.match(out, new RegExp(`^CapEff:\\s+${REDUCED_CAPS.toString(16).padStart(16, '0')}$`, 'm'));
    assert.match(out, /^NoNewPrivs:\s+1$/m);
    assert.match(out, /^Seccomp:\s+2$/m);
    assert.match(out, /^dev=null urandom zero $/m);
    assert.match(out, /No message of desired type/);
    assert.match(out, /^chroot=1$/m);
    const links = [...out.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1]);
    assert.deepEqual(links, ['lo']);
  } finally {
    fx.cleanup();
  }
});

test('a user-namespace container (0 100000 65536)', { skip }, async () => {
  const fx = busybox();
  try {
    chmodSync(fx.dir, 0o755); // the mapped root must be able to walk to the rootfs
    execFileSync('chown', ['-R', '100000:100000', fx.rootfs]);
    const plan: Plan = {
      cloneFlags: CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET,
      cgroupFd: -1,
      fds: [],
      internalFds: [],
      pdeathsig: SIGKILL,
      ops: [
        { op: 'syncWait' },
        { op: 'setresid', uid: 0, gid: 0 },
        ...containerOps(fx.rootfs, { mknod: false }),
        { op: 'sethostname', name: 'userns' },
        exec('/bin/sh', ['sh', '-c', 'cat /proc/self/uid_map; echo "id=$(id -u):$(id -g)"; hostname; touch /tmp/f && ls -ln /tmp/f; echo x > /dev/null && echo devnull-ok']),
      ],
    };
    const { out, status } = await run(plan, (proc) => {
      writeFileSync(`/proc/${proc.pid}/uid_map`, '0 100000 65536');
      writeFileSync(`/proc/${proc.pid}/gid_map`, '0 100000 65536');
    });
    assert.deepEqual(status, { code: 0, signal: null }, out);
    assert.match(out, /^\s*0\s+100000\s+65536$/m);
    assert.match(out, /^id=0:0$/m);
    assert.match(out, /^userns$/m);
    assert.match(out, /^-rw-r--r--\s+1 0\s+0\s+0 .* \/tmp\/f$/m);
    assert.match(out, /^devnull-ok$/m);
  } finally {
    fx.cleanup();
  }
});

test('user ns: remount keeps the flags the kernel locked; mask hides files and directories', { skip }, async (t) => {
  const fx = busybox();
  const locked = join(fx.dir, 'locked');
  mkdirSync(locked);
  // A host mount with nosuid,nodev,noexec,noatime: bound into a user ns these flags are locked.
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,noatime,size=64k', 'hako-locked', locked]);
  try {
    chmodSync(fx.dir, 0o755);
    execFileSync('chown', ['-R', '100000:100000', fx.rootfs]);
    writeFileSync(join(fx.rootfs, 'home', 'secret'), 'x');
    mkdirSync(join(fx.rootfs, 'mnt'));
    const plan = (remount: PlanOp): Plan => ({
      cloneFlags: CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWPID,
      cgroupFd: -1,
      fds: [],
      internalFds: [],
      pdeathsig: SIGKILL,
      ops: [
        { op: 'syncWait' },
        { op: 'setresid', uid: 0, gid: 0 },
        ...containerOps(fx.rootfs, {
          mknod: false,
          beforePivot: [{ op: 'mount', source: locked, target: '/mnt', fstype: null, flags: MS.BIND, data: null, inRoot: true }, remount],
        }),
        { op: 'mask', path: '/home', inRoot: true },
        { op: 'mask', path: '/etc/group', inRoot: true },
        { op: 'mask', path: '/no/such/thing', inRoot: true },
        exec('/bin/sh', ['sh', '-c', 'grep " /mnt " /proc/self/mounts; touch /mnt/x 2>&1; echo "home=$(ls -A /home)"; echo "group=$(wc -c < /etc/group)"; touch /home/y 2>&1; true']),
      ],
    });
    const maps = (proc: SpawnedProcess) => {
      writeFileSync(`/proc/${proc.pid}/uid_map`, '0 100000 65536');
      writeFileSync(`/proc/${proc.pid}/gid_map`, '0 100000 65536');
    };
    const { out, status } = await run(plan({ op: 'remount', target: '/mnt', flags: MS.RDONLY, inRoot: true }), maps);
    assert.deepEqual(status, { code: 0, signal: null }, out);
    assert.match(out, /^hako-locked \/mnt tmpfs ro,nosuid,nodev,noexec,noatime/m);
    assert.match(out, /touch: \/mnt\/x: Read-only file system/);
    assert.match(out, /^home=$/m);
    assert.match(out, /^group=0$/m);
    assert.match(out, /touch: \/home\/y: Read-only file system/);
    // The same remount as a plain mount op, without the locked flags, is refused: EPERM.
    await assert.rejects(
      run(plan({ op: 'mount', source: null, target: '/mnt', fstype: null, flags: MS.REMOUNT | MS.BIND | MS.RDONLY, data: null, inRoot: true }), maps),
      (err: unknown) => err instanceof HakoError && err.step === 'remount /mnt' && err.code === 'EPERM',
    );
  } finally {
    execFileSync('umount', [locked]);
    fx.cleanup();
  }
});

test('a failing child whose error pipe is closed reports on its fd 2', { skip }, async () => {
  const { proc, output } = start({ cloneFlags: 0, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, exec('/bin/nope', ['nope'])] });
  proc.closeErrPipe();
  proc.release();
  assert.deepEqual(await proc.exited, { code: 127, signal: null });
  assert.equal(await output, 'hako-exec: op 1 failed: errno 2\n');
});

test('abort: a child waiting at syncWait is killed and reaped', { skip }, async () => {
  const { proc, output } = start({ cloneFlags: CLONE.NEWPID, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, exec('/bin/true', ['true'])] });
  proc.abort();
  const status = await proc.exited;
  // Either the SIGKILL or the sync pipe's EOF (exit 126) got there first.
  assert.ok(status.signal === 'SIGKILL' || status.code === 126, JSON.stringify(status));
  assert.equal(await output, '');
  assert.equal(proc.kill('SIGTERM'), false);
});

test('errors: exec of a missing file names the step and errno', { skip }, async () => {
  const plan: Plan = { cloneFlags: 0, cgroupFd: -1, fds: [], internalFds: [], pdeathsig: SIGKILL, ops: [exec('/bin/nope', ['nope'])] };
  const proc = spawnPlan(plan);
  await assert.rejects(waitUntilExecOrFailure(proc), (err: unknown) => {
    assert.ok(err instanceof HakoError);
    assert.equal(err.step, 'exec /bin/nope');
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.path, '/bin/nope');
    assert.match(err.message, /^exec \/bin\/nope: no such file or directory \(ENOENT\)/);
    return true;
  });
  assert.deepEqual(await proc.exited, { code: 127, signal: null });
});

test('writeFd writes to an fd the parent opened; a failing write names the file', { skip }, async () => {
  const [r, w] = native().pipe();
  try {
    const { status } = await run({ cloneFlags: 0, cgroupFd: -1, internalFds: [w], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, { op: 'writeFd', fd: 0, data: 'hello' }, exec('true', ['true'])] });
    assert.deepEqual(status, { code: 0, signal: null });
    native().close(w);
    assert.equal(readFileSync(`/proc/self/fd/${r}`, 'utf8'), 'hello');
  } finally {
    native().close(r);
  }
  const [r2, w2] = native().pipe();
  try {
    // The read end: write(2) fails with EBADF.
    const proc = spawnPlan({ cloneFlags: 0, cgroupFd: -1, fds: [], internalFds: [r2], pdeathsig: SIGKILL, ops: [{ op: 'writeFd', fd: 0, data: '0', path: '/sys/fs/cgroup/x/tasks' }, exec('true', ['true'])] });
    await assert.rejects(waitUntilExecOrFailure(proc), (err: unknown) => {
      assert.ok(err instanceof HakoError);
      assert.equal(err.path, '/sys/fs/cgroup/x/tasks');
      assert.match(err.message, /^write "0" to \/sys\/fs\/cgroup\/x\/tasks: .*\(EBADF\)/);
      return true;
    });
    await proc.exited;
  } finally {
    native().close(r2);
    native().close(w2);
  }
});

test('errors: an optional mount onto a missing target is a no-op; a required one fails', { skip }, async () => {
  const fx = busybox();
  try {
    const ops = (optional: boolean): PlanOp[] => [
      { op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null },
      { op: 'openRoot', path: fx.rootfs },
      { op: 'mount', source: 'tmpfs', target: '/no/such/dir', fstype: 'tmpfs', flags: 0, data: null, inRoot: true, optional },
      exec('/bin/true', ['true']),
    ];
    const ok = await run({ cloneFlags: CLONE.NEWNS, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: ops(true) });
    assert.deepEqual(ok.status, { code: 0, signal: null });
    await assert.rejects(
      run({ cloneFlags: CLONE.NEWNS, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: ops(false) }),
      (err: unknown) => err instanceof HakoError && err.step === 'mount tmpfs on /no/such/dir' && err.code === 'ENOENT',
    );
  } finally {
    fx.cleanup();
  }
});

test('errors: a symlink pointing out of the rootfs keeps the mount inside it', { skip }, async () => {
  const fx = busybox();
  const name = `hako-outside-${process.pid}`;
  const outside = join('/tmp', name);
  mkdirSync(outside, { recursive: true });
  try {
    mkdirSync(join(fx.rootfs, 'tmp', name));
    symlinkSync(`/../../../../../../../tmp/${name}`, join(fx.rootfs, 'escape'));
    const { out, status } = await run({
      cloneFlags: CLONE.NEWNS,
      cgroupFd: -1,
      internalFds: [],
      pdeathsig: SIGKILL,
      ops: [
        { op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null },
        { op: 'openRoot', path: fx.rootfs },
        { op: 'mount', source: 'tmpfs', target: '/escape', fstype: 'tmpfs', flags: 0, data: 'size=64k', inRoot: true },
        { op: 'exec', file: '/bin/cat', argv: ['cat', '/proc/self/mountinfo'], env: [], searchPath: null },
      ],
    });
    assert.deepEqual(status, { code: 0, signal: null });
    const mountpoints = out.split('\n').map((l) => l.split(' ')[4]);
    assert.ok(mountpoints.includes(join(fx.rootfs, 'tmp', name)), `the tmpfs is on the rootfs' /tmp/${name}`);
    assert.ok(!mountpoints.includes(outside), `nothing was mounted on the host's ${outside}`);
  } finally {
    rmSync(outside, { recursive: true, force: true });
    fx.cleanup();
  }
});

test('the clone op: join a container via its pidfd and exec inside; Node reaps the real process', { skip }, async () => {
  const fx = busybox();
  const plan = fullContainerPlan(fx.rootfs, 'exec sleep 30');
  plan.ops[plan.ops.length - 1] = exec('/bin/sleep', ['sleep', '30']);
  const { proc: container, output: containerOut } = start(plan);
  try {
    container.release();
    await waitUntilExecOrFailure(container);
    const joiner = start({
      cloneFlags: 0,
      cgroupFd: -1,
      internalFds: [container.pidfd],
      pdeathsig: SIGKILL,
      ops: [
        { op: 'setns', fd: 0, nstype: CLONE.NEWNS | CLONE.NEWPID | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET },
        { op: 'clone', flags: 0 },
        { op: 'pdeathsig', signal: SIGKILL },
        exec('/bin/sh', ['sh', '-c', 'echo "pid=$$ host=$(hostname)"']),
      ],
    });
    const intermediate = joiner.proc.pid;
    const events = [];
    for await (const ev of joiner.proc.events()) events.push(ev);
    assert.equal(events.length, 2);
    assert.equal(events[0]?.type, 'pid');
    assert.deepEqual(events[1], { type: 'exec' });
    assert.notEqual(joiner.proc.pid, intermediate);
    assert.equal(events[0]?.type === 'pid' && events[0].pid, joiner.proc.pid);
    const [out, status] = await Promise.all([joiner.output, joiner.proc.exited]);
    assert.deepEqual(status, { code: 0, signal: null });
    assert.equal(out.trim(), 'pid=2 host=hako-test');
    // Both the intermediate and the real process were reaped by us: neither is left as a zombie.
    assert.ok(!existsSync(`/proc/${intermediate}`), existsSync(`/proc/${intermediate}`) ? execFileSync("cat", [`/proc/${intermediate}/status`], { encoding: "utf8" }) : "");
    assert.ok(!existsSync(`/proc/${joiner.proc.pid}`));
  } finally {
    container.abort();
    assert.deepEqual(await container.exited, { code: null, signal: 'SIGKILL' });
    await containerOut;
    fx.cleanup();
  }
});

test('openPty: the master comes back over SCM_RIGHTS and reads the container output', { skip }, async () => {
  const fx = busybox();
  const [mine, theirs] = native().socketPair();
  let master = -1;
  try {
    const { proc, output } = start({
      cloneFlags: CLONE.NEWNS | CLONE.NEWPID,
      cgroupFd: -1,
      internalFds: [theirs],
      pdeathsig: SIGKILL,
      ops: [
        { op: 'syncWait' },
        { op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null },
        { op: 'mount', source: fx.rootfs, target: fx.rootfs, fstype: null, flags: MS.BIND | MS.REC, data: null },
        { op: 'openRoot', path: fx.rootfs },
        { op: 'mount', source: 'proc', target: '/proc', fstype: 'proc', flags: 0, data: null, inRoot: true },
        { op: 'mount', source: 'tmpfs', target: '/dev', fstype: 'tmpfs', flags: MS.NOSUID, data: 'mode=755', inRoot: true },
        { op: 'mkdirs', path: '/dev/pts', mode: 0o755, inRoot: true },
        { op: 'mount', source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: 'newinstance,ptmxmode=0666,mode=0620', inRoot: true },
        { op: 'symlink', target: 'pts/ptmx', path: '/dev/ptmx', inRoot: true },
        { op: 'pivotRoot', path: fx.rootfs },
        { op: 'openPty', socket: 0, rows: 24, cols: 80 },
        exec('/bin/sh', ['sh', '-c', 'tty; stty size; echo hello']),
      ],
    });
    native().close(theirs);
    proc.release();
    const got = native().recvFd(mine);
    assert.ok(got && got.fd >= 0, 'received the master');
    master = got.fd;
    assert.equal(got.data, '/dev/pts/0');
    assert.deepEqual(native().getWinsize(master), { rows: 24, cols: 80 });
    await waitUntilExecOrFailure(proc);
    const text = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const stream = new ReadStream(master);
      master = -1; // the stream owns it now
      const done = () => { stream.destroy(); resolve(Buffer.concat(chunks).toString('utf8')); };
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', done);
      // After the last slave fd closes, reading the master fails with EIO: that is EOF.
      stream.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EIO' ? done() : reject(err)));
    });
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    assert.equal(await output, '', 'stdio went to the pty, not the pipe');
    assert.match(text, /^\/dev\/pts\/0\r?$/m);
    assert.match(text, /^24 80\r?$/m);
    assert.match(text, /^hello\r?$/m);
  } finally {
    if (master >= 0) native().close(master);
    native().close(mine);
    fx.cleanup();
  }
});

test('mkdirs: the missing part is made from its deepest existing ancestor; symlinks resolve inside the root', { skip }, async () => {
  const fx = busybox();
  try {
    mkdirSync(join(fx.rootfs, 'm/a'), { recursive: true });
    symlinkSync('/m/a', join(fx.rootfs, 'm/abs')); // absolute: the root's /m/a, not the host's
    symlinkSync('../../../../../../../../m/a', join(fx.rootfs, 'm/up')); // climbs: stops at the root
    writeFileSync(join(fx.rootfs, 'm/file'), '');
    const mk = (path: string): PlanOp => ({ op: 'mkdirs', path, mode: 0o750, inRoot: true });
    const { status } = await run({ cloneFlags: 0, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'openRoot', path: fx.rootfs }, mk('/m/x/y/z'), mk('/m/a/b'), mk('/m/abs/c/d'), mk('/m/up/e'), exec('/bin/true', ['true'])] });
    assert.deepEqual(status, { code: 0, signal: null });
    for (const d of ['m/x/y/z', 'm/a/b', 'm/a/c/d']) assert.ok(existsSync(join(fx.rootfs, d)), d);
    assert.ok(existsSync(join(fx.rootfs, 'm/a/e')), 'the climbing symlink resolved inside the root');
    assert.equal(existsSync('/m/a/e'), false, 'nothing made on the host');
    // A file on the way fails as before (ENOTDIR), naming the op.
    const bad = await run({ cloneFlags: 0, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'openRoot', path: fx.rootfs }, mk('/m/file/q/r'), exec('/bin/true', ['true'])] }).then(() => undefined, (e: unknown) => e);
    assert.ok(bad instanceof HakoError && /ENOTDIR/.test(bad.message), String(bad));
  } finally {
    fx.cleanup();
  }
});

test('trace (profiling): the completion time of each op on CLOCK_MONOTONIC, in order, between the spawn and the exec', { skip }, async () => {
  const ops: PlanOp[] = [{ op: 'umask', mask: 0o22 }, { op: 'chdir', path: '/' }, { op: 'setsid' }, exec('/bin/true', ['true'])];
  const trace = new BigUint64Array(ops.length + 1);
  const before = process.hrtime.bigint();
  const [r, w] = native().pipe();
  const proc = spawnPlan({ cloneFlags: 0, cgroupFd: -1, internalFds: [], pdeathsig: SIGKILL, fds: [{ source: w, target: 1 }, { source: w, target: 2 }], ops }, trace);
  native().close(w);
  try {
    await waitUntilExecOrFailure(proc);
    const after = process.hrtime.bigint();
    const times = [trace[ops.length]!, ...ops.map((_, k) => trace[k]!)];
    assert.ok(times.every((t) => t >= before && t <= after), `times within the spawn: ${times.join(' ')} (${before}…${after})`);
    for (let k = 1; k < times.length; k++) assert.ok(times[k]! >= times[k - 1]!, `in order: ${times.join(' ')}`);
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    // A trace array of the wrong kind is refused before anything runs.
    assert.throws(() => native().spawn(Buffer.alloc(0), new Float64Array(3) as unknown as BigUint64Array), /BigUint64Array/);
  } finally {
    native().close(r);
  }
});

test('no host fd leaks into the child, even one without CLOEXEC', { skip }, async () => {
  const leaky = openSync('/etc/hostname', 'r');
  try {
    native().setCloexec(leaky, false); // Node opens everything CLOEXEC: make it a real leak candidate
    const { out, status } = await run({
      cloneFlags: 0,
      cgroupFd: -1,
      fds: [{ source: leaky, target: 7 }],
      internalFds: [],
      pdeathsig: SIGKILL,
      ops: [exec('/bin/ls', ['ls', '/proc/self/fd'])],
    });
    assert.deepEqual(status, { code: 0, signal: null });
    const fds = out.trim().split('\n').map(Number).sort((a, b) => a - b);
    // 0-2 and 7 as the plan says, plus the directory fd ls is reading; the leaky original is gone.
    assert.deepEqual(fds.filter((fd) => fd !== 3), [0, 1, 2, 7]);
    assert.ok(!fds.includes(leaky) || leaky === 3 || leaky === 7);
    assert.ok(leaky > 7, 'the leak candidate is above the plan targets');
  } finally {
    closeSync(leaky);
  }
});

const UNIFIED = '/sys/fs/cgroup/unified';
const v2 = existsSync(join(UNIFIED, 'cgroup.procs')) ? UNIFIED : existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : undefined;

test('cgroupFd: the child starts inside the cgroup (CLONE_INTO_CGROUP)', { skip: skip || (!v2 && 'no cgroup v2 hierarchy') }, async () => {
  const rel = join(ownCgroup(''), testCgroupName('into'));
  const dir = join(v2 as string, rel);
  mkdirSync(dir);
  const fd = openSync(dir, 'r');
  try {
    const { out, status } = await run({
      cloneFlags: 0,
      cgroupFd: fd,
      internalFds: [],
      pdeathsig: SIGKILL,
      ops: [{ op: 'exec', file: '/bin/cat', argv: ['cat', '/proc/self/cgroup'], env: [], searchPath: null }],
    });
    assert.deepEqual(status, { code: 0, signal: null });
    assert.match(out, new RegExp(`^0::${rel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  } finally {
    closeSync(fd);
    rmdirSync(dir);
  }
});

test('spawn rejects malformed plans before cloning (every truncation, bad magic, trailing bytes)', { skip: !existsSync(new URL('../../../build/hako_native.node', import.meta.url)) && 'addon not built' }, () => {
  const full = encodePlan({
    cloneFlags: CLONE.NEWNS,
    cgroupFd: -1,
    fds: [{ source: 1, target: 1 }],
    internalFds: [1],
    pdeathsig: SIGKILL,
    ops: [
      { op: 'syncWait' },
      { op: 'mount', source: null, target: '/', fstype: null, flags: MS.REC | MS.PRIVATE, data: null },
      { op: 'seccomp', filter: new Uint8Array(8), flags: 0 },
      { op: 'setgroups', gids: [1, 2] },
      exec('/bin/true', ['true']),
    ],
  });
  const isEinval = (err: unknown) => (err as { code?: string; syscall?: string }).code === 'EINVAL' && (err as { syscall?: string }).syscall === 'decode plan';
  for (let n = 0; n < full.length; n++) assert.throws(() => native().spawn(full.subarray(0, n)), isEinval, `prefix of ${n} bytes`);
  assert.throws(() => native().spawn(Buffer.concat([full, Buffer.from([0])])), isEinval);
  const badMagic = Buffer.from(full);
  badMagic[0] = 0;
  assert.throws(() => native().spawn(badMagic), isEinval);
});

test('bpf(): pointer fields are filled from [offset, buffer] pairs (BPF_PROG_LOAD of a trivial program)', { skip }, () => {
  const insns = Buffer.from([0xb7, 0, 0, 0, 1, 0, 0, 0, /* r0 = 1 */ 0x95, 0, 0, 0, 0, 0, 0, 0 /* exit */]);
  const license = Buffer.from('GPL\0');
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(15, 0); // BPF_PROG_TYPE_CGROUP_DEVICE
  attr.writeUInt32LE(2, 4); // insn_cnt
  // Without the pointers the kernel reads address 0: EFAULT.
  assert.throws(() => native().bpf(5, Buffer.from(attr)), (err: unknown) => (err as { code?: string }).code === 'EFAULT');
  const fd = native().bpf(5, attr, [[8, insns], [16, license]]);
  assert.ok(fd > 2);
  native().close(fd);
  assert.throws(() => native().bpf(5, attr, [[124, insns]]), (err: unknown) => (err as { code?: string }).code === 'EINVAL');
});

/** The child's /proc/PID/maps equals ours read right after it (a few tries: our maps move too). */
function sharesOurMaps(pid: number): boolean {
  for (let i = 0; i < 20; i++) {
    const theirs = readFileSync(`/proc/${pid}/maps`, 'utf8');
    if (theirs === readFileSync('/proc/self/maps', 'utf8')) return true;
  }
  return false;
}

test('the child shares our memory until its exec (CLONE_VM), except with a time namespace (fork-like copy)', { skip }, async () => {
  const devnull = openSync('/dev/null', 'r+');
  const plan = (ops: PlanOp[]): Plan => ({ cloneFlags: 0, cgroupFd: -1, fds: [{ source: devnull, target: 0 }, { source: devnull, target: 1 }, { source: devnull, target: 2 }], internalFds: [], pdeathsig: SIGKILL, ops });
  try {
    for (const [what, ops, shared] of [
      ['plain', [{ op: 'syncWait' }, exec('/bin/true', ['true'])], true],
      ['time ns', [{ op: 'syncWait' }, { op: 'unshare', flags: CLONE.NEWTIME }, { op: 'clone', flags: 0 }, exec('/bin/true', ['true'])], false],
    ] as Array<[string, PlanOp[], boolean]>) {
      const proc = spawnPlan(plan(ops));
      // A new mapping of ours after the clone: in a shared address space the child sees it too.
      const big = Buffer.alloc(32 * 1024 * 1024, 1);
      assert.equal(sharesOurMaps(proc.pid), shared, `${what}: address space ${shared ? 'shared' : 'copied'}`);
      big.fill(2);
      proc.release();
      await waitUntilExecOrFailure(proc);
      assert.deepEqual(await proc.exited, { code: 0, signal: null }, what);
    }
  } finally {
    closeSync(devnull);
  }
});

test("a spawn's stacks and plan copy are released once its processes exec", { skip }, async () => {
  const devnull = openSync('/dev/null', 'r+');
  const stackMaps = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /^\S+ ---p 00000000 00:00 0 *$/.test(l)).length;
  try {
    const before = stackMaps();
    for (let i = 0; i < 40; i++) {
      const proc = spawnPlan({ cloneFlags: 0, cgroupFd: -1, fds: [{ source: devnull, target: 0 }, { source: devnull, target: 1 }, { source: devnull, target: 2 }], internalFds: [], pdeathsig: SIGKILL, ops: [{ op: 'syncWait' }, exec('/bin/true', ['true'])] });
      proc.release();
      await proc.exited;
    }
    // Each outstanding spawn has one guard page (---p) per stack; the next spawn frees the done ones
    // (not freed: +40; Node itself may add a few of its own meanwhile).
    assert.ok(stackMaps() - before <= 10, `guard pages grew from ${before} to ${stackMaps()} (40 spawns)`);
  } finally {
    closeSync(devnull);
  }
});
