// The OCI runtime on the real kernel: namespaces isolate, limits are enforced, the lifecycle
// states are real, security settings take effect, and failures leave nothing behind.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isRoot, BUSYBOX } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';
import { HakoError } from '../../src/common/errors.js';
import { detectCgroupLayout } from '../../src/runtime/plan/index.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import { detectCgroupMode } from '../../src/runtime/cgroups/index.js';
import type { CgroupsAhead } from '../../src/runtime/lifecycle/cgroups-ahead.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static (apt-get install busybox-static)' : false;

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('runtime: isolation', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('iso');
  });
  after(async () => {
    await h.cleanup();
  });

  test('pid 1, own hostname, only lo, and a namespace of its own of every kind', async () => {
    const kinds = ['pid', 'net', 'ipc', 'uts', 'mnt', 'cgroup'];
    const r = await h.run(
      'ns',
      ['/bin/sh', '-c', `echo pid=$$; echo host=$(hostname); echo links=$(ls /sys/class/net); echo cg=$(grep -c ":/$" /proc/self/cgroup); for k in ${kinds.join(' ')}; do echo ns-$k=$(readlink /proc/self/ns/$k); done`],
      (s) => {
        s.hostname = 'box1';
        s.linux!.namespaces = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
      },
    );
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^pid=1$/m);
    assert.match(r.out, /^host=box1$/m);
    assert.match(r.out, /^links=lo$/m);
    const total = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').length;
    assert.match(r.out, new RegExp(`^cg=${total}$`, 'm'), 'every hierarchy shows / inside a cgroup namespace');
    for (const k of kinds) {
      const inside = new RegExp(`^ns-${k}=(.*)$`, 'm').exec(r.out)?.[1];
      assert.ok(inside, `no ${k} namespace seen: ${r.out}`);
      assert.notEqual(inside, readlinkSync(`/proc/self/ns/${k}`), `${k} namespace is not the host's`);
    }
  });

  test('the exit status is passed through', async () => {
    const r = await h.run('exit3', ['/bin/sh', '-c', 'exit 3']);
    assert.equal(r.code, 3);
  });

  test('default capabilities, no_new_privs, and no host fd leaks', async () => {
    const r = await h.run('caps', ['/bin/sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; ls /proc/self/fd | tr "\\n" " "']);
    assert.equal(r.code, 0, r.out);
    // runc's default set: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10)
    assert.match(r.out, /CapEff:\s+0000000020000420/);
    assert.match(r.out, /CapBnd:\s+0000000020000420/);
    assert.match(r.out, /NoNewPrivs:\s+1/);
    // ls lists 0 1 2 and the fd of the directory it reads; nothing inherited from us.
    const fds = r.out.trim().split('\n').pop()!.trim().split(/\s+/).map(Number);
    assert.deepEqual(fds.filter((fd) => fd > 3), [], `unexpected fds in the container: ${fds}`);
  });

  test('seccomp: a denied syscall returns the configured errno', async () => {
    const r = await h.run('seccomp', ['/bin/sh', '-c', 'mkdir /tmp/x && echo made || echo denied'], (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      };
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Operation not permitted/);
    assert.match(r.out, /denied/);
  });

  test('read-only root and masked paths', async () => {
    const r = await h.run('ro', ['/bin/sh', '-c', 'touch /x 2>&1; echo keys=$(wc -c < /proc/keys); echo 1 2>&1 > /proc/sys/vm/drop_caches; ls /sys/firmware | wc -l; true'], (s) => {
      s.root = { path: 'rootfs', readonly: true };
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /touch: \/x: Read-only file system/);
    assert.match(r.out, /keys=0/, 'masked /proc/keys reads as empty');
    assert.match(r.out, /drop_caches: Read-only file system/, '/proc/sys is read-only');
    assert.match(r.out, /^0$/m, 'masked /sys/firmware is an empty directory');
  });

  test('a user-namespace container maps root to an unprivileged host id', async () => {
    const { path } = h.bundle('userns', (s) => {
      s.process!.args = ['/bin/sh', '-c', 'cat /proc/self/uid_map; id -u; touch /tmp/file && stat -c %u /tmp/file'];
      s.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }, { type: 'network' }];
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    execFileSync('chown', ['-R', '100000:100000', join(path, 'rootfs')]);
    // The mapped root (host uid 100000) must be able to reach the bundle through the temp dir.
    chmodSync(h.dir, 0o711);
    chmodSync(path, 0o711);
    const io = h.stdio('userns');
    const launched = await h.runtime.launch({ id: 'userns', bundle: path, stdio: io.fds });
    const { code } = await launched.process.exited;
    await h.runtime.delete('userns', { force: true });
    io.close();
    const out = io.read();
    assert.equal(code, 0, out);
    assert.match(out, /^\s*0\s+100000\s+65536$/m);
    assert.match(out, /^0$/m);
    const owner = readFileSync(join(path, 'rootfs/tmp/file')) && execFileSync('stat', ['-c', '%u', join(path, 'rootfs/tmp/file')], { encoding: 'utf8' }).trim();
    assert.equal(owner, '100000', 'files made by container root belong to the mapped host id');
  });
});

describe('runtime: lifecycle and limits', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('life');
  });
  after(async () => {
    await h.cleanup();
  });

  test('create → created → start → running → kill → stopped → delete', async () => {
    const { path } = h.bundle('cycle', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('cycle');
    const launched = await h.runtime.create({ id: 'cycle', bundle: path, stdio: io.fds });
    assert.equal(h.runtime.status('cycle'), 'created');
    const st = h.runtime.state('cycle');
    assert.ok(st.pid > 0);
    // Created for real: the process exists, in its own pid namespace, but has not exec'd sleep.
    assert.notEqual(readFileSync(`/proc/${st.pid}/comm`, 'utf8').trim(), 'sleep');
    await h.runtime.start('cycle');
    assert.equal(h.runtime.status('cycle'), 'running');
    await waitFor('sleep to exec', () => readFileSync(`/proc/${st.pid}/comm`, 'utf8').trim() === 'sleep');
    await h.runtime.kill('cycle', 'KILL');
    const ended = await launched.process.exited;
    assert.equal(ended.signal, 'SIGKILL');
    assert.equal(h.runtime.status('cycle'), 'stopped');
    await h.runtime.delete('cycle');
    assert.throws(() => h.runtime.state('cycle'), /does not exist/);
    io.close();
  });

  // On v1 the process joins its cgroups itself ("0" to each `tasks` file, then cloned into the
  // unified hierarchy): it must be in the container's cgroup in every hierarchy, also when it runs
  // as a user namespace's root, and when a clone op makes the real process (a pid ns join).
  test('v1: the process is in its cgroup in every hierarchy (plain, user namespace, clone op)', { skip: detectCgroupLayout().version !== 1 && 'not a cgroup v1 host' }, async () => {
    const { path: hostBundle } = h.bundle('cghost', undefined, ['/bin/sleep', '30']);
    const hostIo = h.stdio('cghost');
    const host = await h.runtime.launch({ id: 'cghost', bundle: hostBundle, stdio: hostIo.fds });
    try {
      const variants: Array<[string, (s: Spec) => void]> = [
        ['cgplain', () => {}],
        [
          'cguserns',
          (s) => {
            s.linux!.namespaces!.push({ type: 'user' });
            s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
            s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          },
        ],
        ['cgclone', (s) => s.linux!.namespaces!.forEach((n) => n.type === 'pid' && (n.path = `/proc/${host.record.pid}/ns/pid`))],
      ];
      for (const [name, mutate] of variants) {
        let cgPath = '';
        const { path } = h.bundle(name, (s) => {
          cgPath = s.linux!.cgroupsPath!;
          // Without a cgroup namespace /proc/self/cgroup shows the paths from the host's root.
          s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
          mutate(s);
        }, ['/bin/cat', '/proc/self/cgroup']);
        if (name === 'cguserns') {
          execFileSync('chown', ['-R', '100000:100000', join(path, 'rootfs')]);
          chmodSync(h.dir, 0o711);
          chmodSync(path, 0o711);
        }
        const io = h.stdio(name);
        const launched = await h.runtime.launch({ id: name, bundle: path, stdio: io.fds });
        const { code } = await launched.process.exited;
        await h.runtime.delete(name, { force: true });
        io.close();
        const lines = io.read().trim().split('\n');
        assert.equal(code, 0, io.read());
        assert.ok(lines.length >= 2, io.read());
        for (const l of lines) assert.ok(l.endsWith(`/${cgPath}`), `${name}: ${l} is not the container's cgroup ${cgPath}`);
      }
    } finally {
      await h.runtime.delete('cghost', { force: true });
      await host.process.exited;
      hostIo.close();
    }
  });

  test('a running container cannot be deleted without force', async () => {
    const { path } = h.bundle('busy', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('busy');
    const launched = await h.runtime.launch({ id: 'busy', bundle: path, stdio: io.fds });
    await assert.rejects(h.runtime.delete('busy'), /not stopped: running/);
    await h.runtime.delete('busy', { force: true });
    assert.equal((await launched.process.exited).signal, 'SIGKILL');
    io.close();
  });

  test('memory limit: the container is OOM-killed, nothing else', async () => {
    const r = await h.run('oom', ['/bin/dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], (s) => {
      s.linux!.resources = { memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
    });
    assert.equal(r.code, 137, `expected SIGKILL by the OOM killer, got ${r.code}: ${r.out}`);
  });

  test('pids limit: fork fails inside the container', async () => {
    const r = await h.run('pids', ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done 2>&1; wait; echo done'], (s) => {
      s.linux!.resources = { pids: { limit: 4 } };
    });
    assert.match(r.out, /can't fork|Resource temporarily unavailable/i, r.out);
  });

  test('cpu quota: a busy loop is throttled and stats show it', async () => {
    const { path } = h.bundle('cpu', (s) => {
      s.linux!.resources = { cpu: { quota: 10000, period: 100000 } };
    }, ['/bin/sh', '-c', 'while :; do :; done']);
    const io = h.stdio('cpu');
    const launched = await h.runtime.launch({ id: 'cpu', bundle: path, stdio: io.fds });
    await new Promise((r) => setTimeout(r, 700));
    const stats = h.runtime.stats('cpu');
    assert.ok(stats.cpu.throttledPeriods > 0, `throttled periods: ${JSON.stringify(stats.cpu)}`);
    assert.ok(stats.cpu.usageTotalNs > 0);
    await h.runtime.delete('cpu', { force: true });
    await launched.process.exited;
    io.close();
  });

  // /sys/fs/cgroup in the container: with a cgroup namespace a cgroup fs per v1 hierarchy (or
  // cgroup2) rooted at the container's cgroup; without one, binds of the container's own dirs.
  for (const cgroupNs of [true, false]) {
    test(`/sys/fs/cgroup shows the container's own cgroup ${cgroupNs ? 'with a cgroup namespace (cgroup fs mounts)' : 'without a cgroup namespace (read-only binds)'}`, async () => {
      const name = cgroupNs ? 'cgns' : 'nocgns';
      const v1 = detectCgroupLayout().version === 1;
      const script = [
        'echo dirs=$(ls /sys/fs/cgroup)',
        v1 ? 'echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)' : 'echo procs=$(cat /sys/fs/cgroup/cgroup.procs)',
        `echo 1 2>&1 > /sys/fs/cgroup/${v1 ? 'memory/' : ''}cgroup.procs`,
        'grep " /sys/fs/cgroup" /proc/self/mountinfo',
        'cat /proc/self/cgroup',
      ].join('; ');
      let cgPath = '';
      const r = await h.run(name, ['/bin/sh', '-c', script], (s) => {
        cgPath = s.linux!.cgroupsPath!;
        s.linux!.resources = { memory: { limit: 48 * 1024 * 1024 } };
        if (!cgroupNs) s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
      });
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(h.warnings.filter((w) => /cgroup/.test(w)), []);
      assert.match(r.out, /cgroup\.procs: Read-only file system/, 'read-only as the spec mount asks');
      const mounts = r.out.split('\n').filter((l) => / \/sys\/fs\/cgroup/.test(l)).map((l) => ({ root: l.split(' ')[3], point: l.split(' ')[4], fstype: l.split(' - ')[1]?.split(' ')[0] }));
      if (!v1) {
        assert.match(r.out, /^procs=1\b/m, "only the container's processes");
        return;
      }
      assert.match(r.out, /^limit=50331648$/m, "the memory hierarchy shows the container's limit");
      const dirs = /^dirs=(.*)$/m.exec(r.out)![1]!.split(' ');
      for (const d of ['memory', 'pids', 'devices', 'freezer']) assert.ok(dirs.includes(d), `${d} in /sys/fs/cgroup: ${dirs}`);
      assert.equal(mounts.find((m) => m.point === '/sys/fs/cgroup')?.fstype, 'tmpfs');
      const mem = mounts.find((m) => m.point === '/sys/fs/cgroup/memory');
      assert.equal(mem?.fstype, 'cgroup', r.out);
      if (cgroupNs) {
        assert.equal(mem.root, '/', "the cgroup namespace's root is the container's cgroup");
        assert.match(r.out, /^\d+:memory:\/$/m);
      } else {
        assert.ok(mem.root!.endsWith(`/${cgPath}`), `the bind shows the container's own dir: ${mem.root}`);
        assert.ok(r.out.split('\n').some((l) => /^\d+:memory:/.test(l) && l.endsWith(`/${cgPath}`)), r.out);
      }
    });
  }

  test("joining another container's pid namespace (a clone op): the joiner is pid 2 there and its exit status comes through", async () => {
    const { path } = h.bundle('pidhost', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('pidhost');
    const host = await h.runtime.launch({ id: 'pidhost', bundle: path, stdio: io.fds });
    try {
      const hostPid = host.record.pid;
      const r = await h.run('pidjoin', ['/bin/sh', '-c', 'echo me=$$; echo ns=$(readlink /proc/self/ns/pid); ls /proc | grep -c "^[0-9]"; exit 4'], (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${hostPid}/ns/pid` } : n));
      });
      assert.equal(r.code, 4, r.out);
      assert.match(r.out, /^me=[2-9]\d*$/m, 'not pid 1: the sleeper is');
      assert.match(r.out, new RegExp(`^ns=${readlinkSync(`/proc/${hostPid}/ns/pid`).replace(/[[\]]/g, '\\$&')}$`, 'm'));
    } finally {
      await h.runtime.delete('pidhost', { force: true });
      await host.process.exited;
      io.close();
    }
  });

  test('a new time namespace: the boottime offset shows in /proc/uptime, the clock is unchanged', async () => {
    const offset = 10 * 365 * 86400;
    const r = await h.run('timens', ['/bin/sh', '-c', 'cat /proc/uptime; echo ns=$(readlink /proc/self/ns/time); date +%s'], (s) => {
      s.linux!.namespaces!.push({ type: 'time' });
      s.linux!.timeOffsets = { boottime: { secs: offset, nanosecs: 0 }, monotonic: { secs: 7, nanosecs: 0 } };
    });
    assert.equal(r.code, 0, r.out);
    const uptime = Number(r.out.split(' ')[0]);
    const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    assert.ok(uptime >= offset && uptime - offset <= hostUptime + 5, `uptime ${uptime} = host ${hostUptime} + ${offset}`);
    assert.doesNotMatch(r.out, new RegExp(`ns=${readlinkSync('/proc/self/ns/time').replace(/[[\]]/g, '\\$&')}`));
    const wall = Number(r.out.trim().split('\n').pop());
    assert.ok(Math.abs(wall - Date.now() / 1000) < 60, 'CLOCK_REALTIME has no offset');
  });

  test('pause freezes every process, resume thaws', async () => {
    const { path } = h.bundle('frz', undefined, ['/bin/sh', '-c', 'while :; do sleep 0.05; done']);
    const io = h.stdio('frz');
    const launched = await h.runtime.launch({ id: 'frz', bundle: path, stdio: io.fds });
    await h.runtime.pause('frz');
    assert.equal(h.runtime.status('frz'), 'paused');
    const pid = h.runtime.state('frz').pid;
    const before = readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[13];
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[13], before, 'no cpu time while frozen');
    await assert.rejects(h.runtime.exec('frz', { process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } } as never, stdio: io.fds }), /paused/);
    await h.runtime.resume('frz');
    assert.equal(h.runtime.status('frz'), 'running');
    await h.runtime.delete('frz', { force: true });
    await launched.process.exited;
    io.close();
  });

  test('exec runs a process inside the running container', async () => {
    const { path, spec } = h.bundle('ex', (s) => {
      s.hostname = 'exhost';
    }, ['/bin/sleep', '30']);
    const io = h.stdio('ex');
    const launched = await h.runtime.launch({ id: 'ex', bundle: path, stdio: io.fds });
    const code = await h.runtime.exec('ex', { process: { ...spec.process!, args: ['/bin/sh', '-c', 'echo exec-host=$(hostname) exec-pid=$$; cat /proc/self/cgroup; exit 7'] }, stdio: io.fds });
    assert.equal(code, 7);
    assert.match(io.read(), /exec-host=exhost exec-pid=\d+/);
    // In the container's cgroup in every hierarchy: the root of its cgroup namespace.
    const cgLines = io.read().split('\n').filter((l) => /^\d+:[^:]*:/.test(l));
    assert.ok(cgLines.length > 0 && cgLines.every((l) => l.endsWith(':/')), io.read());
    assert.doesNotMatch(io.read(), /exec-pid=1\b/);
    await h.runtime.delete('ex', { force: true });
    await launched.process.exited;
    io.close();
  });
});

// The v2 driver: on a pure v2 host the default, on a hybrid one the controller-less cgroup2 mount
// at /sys/fs/cgroup/unified. The process is cloned into its cgroup (CLONE_INTO_CGROUP, no
// migration) together with its cgroup namespace, whose root must then be that cgroup.
const v2Mount = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '/sys/fs/cgroup' : existsSync('/sys/fs/cgroup/unified/cgroup.controllers') ? '/sys/fs/cgroup/unified' : undefined;
describe('runtime: cgroup v2 driver', { skip: skip || (!v2Mount && 'no cgroup2 mount') }, () => {
  let h: Harness;
  before(() => {
    h = harness('v2', { cgroupDriver: 'v2' });
  });
  after(async () => {
    await h.cleanup();
  });

  test('the process starts in its cgroup with its cgroup namespace rooted there; exec joins it too', async () => {
    let cgPath = '';
    const { path } = h.bundle('intocg', (s) => {
      cgPath = s.linux!.cgroupsPath!;
    }, ['/bin/sh', '-c', 'cat /proc/self/cgroup; sleep 30']);
    const io = h.stdio('intocg');
    const launched = await h.runtime.launch({ id: 'intocg', bundle: path, stdio: io.fds });
    try {
      const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
      // An absolute cgroupsPath on a pure v2 host (fixtures.v2LimitDomain), else beneath our own cgroup.
      const expected = cgPath.startsWith('/') ? cgPath : `${own === '/' ? '' : own}/${cgPath}`;
      const v2Line = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
      assert.equal(v2Line(launched.record.pid), `0::${expected}`);
      assert.deepEqual(h.runtime.state('intocg').pid, launched.record.pid);
      assert.ok(readFileSync(join(v2Mount!, expected, 'cgroup.procs'), 'utf8').split('\n').includes(String(launched.record.pid)));
      await waitFor('the output', () => /^0::/m.test(io.read()));
      assert.match(io.read(), /^0::\/$/m, 'inside, the cgroup namespace root is the container\'s cgroup');
      const code = await h.runtime.exec('intocg', { process: { args: ['/bin/sh', '-c', 'grep "^0::" /proc/self/cgroup; exit 4'], cwd: '/', user: { uid: 0, gid: 0 } } as never, stdio: io.fds });
      assert.equal(code, 4);
      assert.equal(io.read().split('\n').filter((l) => l === '0::/').length, 2, 'the exec\'d process is in the container\'s cgroup (and namespace)');
    } finally {
      await h.runtime.delete('intocg', { force: true });
      await launched.process.exited;
      io.close();
    }
  });

  for (const cgroupNs of [true, false]) {
    test(`/sys/fs/cgroup is the container's cgroup2 ${cgroupNs ? '(cgroup2 mounted in its cgroup namespace)' : '(a read-only bind of its cgroup dir)'}`, async () => {
      const name = cgroupNs ? 'v2ns' : 'v2bind';
      let cgPath = '';
      const r = await h.run(name, ['/bin/sh', '-c', 'grep " /sys/fs/cgroup " /proc/self/mountinfo; echo procs=$(cat /sys/fs/cgroup/cgroup.procs); echo x 2>&1 > /sys/fs/cgroup/cgroup.procs; true'], (s) => {
        cgPath = s.linux!.cgroupsPath!;
        if (!cgroupNs) s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
      });
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(h.warnings.filter((w) => /cgroup/.test(w)), []);
      const line = r.out.split('\n').find((l) => l.split(' ')[4] === '/sys/fs/cgroup');
      assert.ok(line, r.out);
      assert.equal(line.split(' - ')[1]!.split(' ')[0], 'cgroup2');
      if (cgroupNs) assert.equal(line.split(' ')[3], '/', "the namespace's root is the container's cgroup");
      else assert.ok(line.split(' ')[3]!.endsWith(cgPath.startsWith('/') ? cgPath : `/${cgPath}`), line);
      assert.match(r.out, /^procs=1( \d+)*$/m, "only the container's processes");
      assert.match(r.out, /Read-only file system/);
    });
  }
});

describe('runtime: hooks and failures', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('fail');
  });
  after(async () => {
    await h.cleanup();
  });

  test('prestart hooks get the state on stdin; poststop runs on delete', async () => {
    const log = join(h.dir, 'hook.log');
    const hook = join(h.dir, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\necho "$1 $(cat)" >> ${log}\n`);
    chmodSync(hook, 0o755);
    const r = await h.run('hooks', ['/bin/true'], (s) => {
      s.hooks = { prestart: [{ path: hook, args: ['hook.sh', 'prestart'] }], poststop: [{ path: hook, args: ['hook.sh', 'poststop'] }] };
    });
    assert.equal(r.code, 0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0]!, /^prestart \{.*"id":"hooks".*"pid":\d+/);
    assert.match(lines[1]!, /^poststop \{.*"status":"stopped"/);
  });

  test('startContainer hooks run inside the container after start, before the program', async () => {
    const { path } = h.bundle('starthook', (s) => {
      s.hostname = 'inside';
      s.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "hook on $(hostname) pid-ns-init=$(cat /proc/1/comm) $(cat | grep -o \'"status":"created"\')" > /tmp/hook.out'] }] };
    }, ['/bin/sh', '-c', 'cat /tmp/hook.out; echo program ran']);
    const io = h.stdio('starthook');
    const c = await h.runtime.create({ id: 'starthook', bundle: path, stdio: io.fds });
    await h.runtime.start('starthook');
    assert.equal((await c.process.exited).code, 0);
    await h.runtime.delete('starthook');
    io.close();
    // The hook saw the container's hostname and the state on stdin, and ran before the program.
    assert.match(io.read(), /^hook on inside pid-ns-init=\S+ "status":"created"\nprogram ran\n$/);
  });

  test('a failing startContainer hook stops the container before its program runs', async () => {
    const { path } = h.bundle('badstart', (s) => {
      s.hooks = { startContainer: [{ path: '/bin/false' }] };
    }, ['/bin/sh', '-c', 'echo program ran']);
    const io = h.stdio('badstart');
    const c = await h.runtime.create({ id: 'badstart', bundle: path, stdio: io.fds });
    await assert.rejects(h.runtime.start('badstart'), /startContainer hook #0 \(\/bin\/false\).*exit status 1/);
    assert.equal((await c.process.exited).signal, 'SIGKILL');
    await h.runtime.delete('badstart');
    io.close();
    assert.doesNotMatch(io.read(), /program ran/);
  });

  test('a failing prestart hook aborts create and leaves nothing behind', async () => {
    const { path } = h.bundle('badhook', (s) => {
      s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo nope >&2; exit 4'] }] };
    });
    const io = h.stdio('badhook');
    await assert.rejects(h.runtime.create({ id: 'badhook', bundle: path, stdio: io.fds }), /prestart hook #0 \(\/bin\/sh\).*exit status 4: nope/);
    assert.deepEqual(h.runtime.list(), []);
    io.close();
  });

  test('a mount that fails while the parent moves the process into its cgroups names the mount (not the move)', async () => {
    const { path } = h.bundle('badmount', (s) => {
      s.mounts!.unshift({ destination: '/x', type: 'nosuchfs', source: 'none' });
    });
    const io = h.stdio('badmount');
    await assert.rejects(h.runtime.launch({ id: 'badmount', bundle: path, stdio: io.fds }), (err: unknown) => {
      assert.ok(err instanceof HakoError, String(err));
      assert.match(err.message, /nosuchfs.*\/x.*\(ENODEV\)/);
      return true;
    });
    io.close();
    assert.deepEqual(h.runtime.list(), []);
  });

  test('exec of a missing binary names the step and errno, and cleans up', async () => {
    const { path } = h.bundle('nope', undefined, ['/bin/nope']);
    const io = h.stdio('nope');
    await assert.rejects(h.runtime.launch({ id: 'nope', bundle: path, stdio: io.fds }), (err: unknown) => {
      assert.ok(err instanceof HakoError, String(err));
      assert.match(err.message, /exec \/bin\/nope: no such file or directory \(ENOENT\)/);
      return true;
    });
    assert.deepEqual(h.runtime.list(), []);
    io.close();
  });

  test('bad bundles get clear errors', async () => {
    const io = h.stdio('bad');
    const { path } = h.bundle('badjson');
    writeFileSync(join(path, 'config.json'), '{ not json');
    await assert.rejects(h.runtime.create({ id: 'badjson', bundle: path, stdio: io.fds }), /config\.json is not valid JSON/);
    const b2 = h.bundle('nort', (s) => {
      s.root = { path: 'missing-rootfs' };
    });
    await assert.rejects(h.runtime.create({ id: 'nort', bundle: b2.path, stdio: io.fds }), /missing-rootfs/);
    const b3 = h.bundle('badns', (s) => {
      s.linux!.namespaces = [{ type: 'bogus' as never }];
    });
    await assert.rejects(h.runtime.create({ id: 'badns', bundle: b3.path, stdio: io.fds }), /"bogus" is not a namespace type/);
    await assert.rejects(h.runtime.create({ id: 'bad/id', bundle: b3.path, stdio: io.fds }), /invalid container id/);
    assert.throws(() => h.runtime.state('ghost'), /container "ghost" does not exist/);
    assert.deepEqual(h.runtime.list(), []);
    io.close();
  });

  test('a second create with the same id is refused and keeps the first', async () => {
    const { path } = h.bundle('dup', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('dup');
    const first = await h.runtime.create({ id: 'dup', bundle: path, stdio: io.fds });
    await assert.rejects(h.runtime.create({ id: 'dup', bundle: path, stdio: io.fds }), /already exists/);
    assert.equal(h.runtime.status('dup'), 'created');
    await h.runtime.delete('dup');
    await first.process.exited;
    io.close();
  });
});

describe('runtime: cgroup dirs made ahead (cgroup v1 hosts)', { skip: skip || (detectCgroupMode() === 'v2' ? 'a cgroup v2 host has one dir: nothing is made ahead' : false) }, () => {
  let h: Harness;
  before(() => {
    h = harness('ahead');
  });
  after(async () => {
    await h.cleanup();
  });
  const dirsOf = (ahead: CgroupsAhead) => Object.values(ahead.manager.paths);

  test('a launch adopts them: the container is in them, delete removes them', async () => {
    let cgPath = '';
    const { path } = h.bundle('adopt', (s) => {
      cgPath = s.linux!.cgroupsPath!;
    }, ['/bin/sh', '-c', 'cat /proc/self/cgroup; sleep 30']);
    const ahead = h.runtime.cgroupsAhead('adopt', cgPath);
    assert.ok(ahead, 'made ahead on a v1 host');
    const dirs = dirsOf(ahead);
    assert.ok(dirs.length >= 2, dirs.join(' '));
    const io = h.stdio('adopt');
    const launched = await h.runtime.launch({ id: 'adopt', bundle: path, stdio: io.fds, cgroupsAhead: ahead });
    try {
      assert.deepEqual(launched.cgroups.paths, ahead.manager.paths);
      for (const d of dirs) assert.ok(readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').includes(String(launched.record.pid)), `in ${d}`);
      assert.deepEqual(ahead.adopt(), { made: [], tasks: new Map() }, 'adopted once');
    } finally {
      await h.runtime.delete('adopt', { force: true });
      await launched.process.exited;
      io.close();
    }
    for (const d of dirs) assert.equal(existsSync(d), false, `${d} removed`);
  });

  test('dropped, or a launch that fails or has another cgroupsPath: nothing is left', async () => {
    const drop = h.runtime.cgroupsAhead('drop', h.cgroupName('drop'))!;
    const dropDirs = dirsOf(drop);
    drop.drop();
    drop.drop();
    for (const d of dropDirs) assert.equal(existsSync(d), false, `${d} removed`);

    let cgPath = '';
    const { path } = h.bundle('aheadfail', (s) => {
      cgPath = s.linux!.cgroupsPath!;
    }, ['/bin/nope']);
    const failing = h.runtime.cgroupsAhead('aheadfail', cgPath)!;
    const failDirs = dirsOf(failing);
    const io = h.stdio('aheadfail');
    await assert.rejects(h.runtime.launch({ id: 'aheadfail', bundle: path, stdio: io.fds, cgroupsAhead: failing }), /exec \/bin\/nope/);
    io.close();
    for (const d of failDirs) assert.equal(existsSync(d), false, `${d} removed after the failed launch`);
    assert.deepEqual(h.runtime.list(), []);

    const other = h.runtime.cgroupsAhead('other', h.cgroupName('other-path'))!;
    const otherDirs = dirsOf(other);
    const r = h.bundle('other', undefined, ['/bin/true']);
    const io2 = h.stdio('other');
    const launched = await h.runtime.launch({ id: 'other', bundle: r.path, stdio: io2.fds, cgroupsAhead: other });
    await launched.process.exited;
    await h.runtime.delete('other', { force: true });
    io2.close();
    for (const d of otherDirs) assert.equal(existsSync(d), false, `${d} (another cgroupsPath) dropped`);
  });
});
