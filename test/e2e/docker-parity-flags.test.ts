// Issue #4, session 15's sweep of the less-common `docker run`/`create` flags and verbs: the real
// docker CLI (28.x) against hakod and a private dockerd 20.10 lab (Debian docker.io, no bridge),
// busybox loaded into both. Each test pins what dockerd answered where hakod differed (exit
// code, error text, inspect fields, what the container sees); the lab itself is not needed here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, hostname } from 'node:os';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, busyboxRootfsTar, tempDir } from '../helpers/fixtures.js';
import { detectCgroupMode } from '../../src/runtime/cgroups/index.js';

const skip = !hasDocker ? `${DOCKER} is missing (the docker CLI is needed for this test)` : !hasEngine ? 'the container engine is not built' : !isRoot ? 'container flows need root' : false;

let d: TestDaemon;
let tmp: { path: string; cleanup: () => void };

function docker(args: string[], opts: { ok?: boolean; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(DOCKER, args, { env: d.env, timeout: 30_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) assert.fail(`docker ${args.join(' ')} hung\nstdout: ${stdout}\nstderr: ${stderr}`);
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
      resolve({ code, stdout, stderr });
    });
    p.stdin?.end(opts.input ?? '');
  });
}

/** The daemon's error line of a failed docker command (run's "docker: " prefix dropped). */
function daemonError(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.includes('Error response from daemon: ')) ?? stderr;
  return line.slice(line.indexOf('Error response from daemon: ') + 'Error response from daemon: '.length).trim();
}

async function names(prefix: string): Promise<string[]> {
  return (await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter((n) => n.startsWith(prefix));
}

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-parity-flags-');
  d = await startDaemon();
  await docker(['import', '--change', 'CMD ["sh"]', busyboxRootfsTar(tmp.path), 'busybox:latest']);
});

after(async () => {
  if (d) {
    await docker(['rm', '-f', ...(await docker(['ps', '-aq'], { ok: false })).stdout.split('\n').filter(Boolean)], { ok: false });
    await docker(['network', 'rm', 'pf-net'], { ok: false });
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
    assert.doesNotMatch(d.log(), /BUG: /);
  }
  tmp?.cleanup();
});

const LOOP_CONTROL = '/dev/loop-control'; // c 10:237, not among the devices every container gets
const hasLoopControl = existsSync(LOOP_CONTROL) && statSync(LOOP_CONTROL).isCharacterDevice();

test('--device with :r permissions is read-only in the container (the runtime allowed every listed device rwm after the spec\'s own rule); --device-cgroup-rule is applied (it was ignored), a malformed one refused at the start in dockerd\'s words (500)', { skip: skip || (hasLoopControl ? false : `${LOOP_CONTROL} is missing (a character device outside the default set is needed)`), timeout: 60_000 }, async () => {
  const probe = 'exec 3</dev/lc && echo read; exec 4>/dev/lc && echo write';
  const dev = await docker(['run', '--rm', '--network', 'none', '--device', `${LOOP_CONTROL}:/dev/lc:r`, 'busybox', 'sh', '-c', probe], { ok: false });
  assert.equal(dev.stdout, 'read\n');
  assert.match(dev.stderr, /can't create \/dev\/lc: Operation not permitted/);
  assert.equal(dev.code, 1);
  const full = await docker(['run', '--rm', '--network', 'none', '--device', `${LOOP_CONTROL}:/dev/lc`, 'busybox', 'sh', '-c', probe]);
  assert.equal(full.stdout, 'read\nwrite\n');
  // A rule alone: the node made with mknod (any device may be made: "c *:* m") can be read only.
  const rule = await docker(['run', '--rm', '--network', 'none', '--device-cgroup-rule', 'c 10:237 r', 'busybox', 'sh', '-c', `mknod /dev/lc c 10 237; ${probe}`], { ok: false });
  assert.equal(rule.stdout, 'read\n');
  assert.match(rule.stderr, /can't create \/dev\/lc: Operation not permitted/);
  const none = await docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', `mknod /dev/lc c 10 237; ${probe}`], { ok: false });
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /can't open \/dev\/lc: Operation not permitted/);
  if (detectCgroupMode() !== 'v2') {
    const all = await docker(['run', '--rm', '--network', 'none', '--device-cgroup-rule', 'a *:* rwm', 'busybox', 'head', '-1', '/sys/fs/cgroup/devices/devices.list']);
    assert.equal(all.stdout, 'a *:* rwm\n');
  }
  // The docker CLI checks the format; through the API dockerd refuses it when the start builds the spec.
  const json = { 'Content-Type': 'application/json' };
  const c = await d.request('POST', '/v1.41/containers/create?name=pf-devrule', JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { NetworkMode: 'none', DeviceCgroupRules: ['x 1:2 r'] } }), json);
  assert.equal(c.status, 201);
  try {
    const s = await d.request('POST', '/v1.41/containers/pf-devrule/start');
    assert.equal(s.status, 500);
    assert.equal(JSON.parse(s.body.toString()).message, "invalid device cgroup rule format: 'x 1:2 r'");
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.DeviceCgroupRules}}', 'pf-devrule'])).stdout.trim(), '["x 1:2 r"]');
  } finally {
    await docker(['rm', '-f', 'pf-devrule'], { ok: false });
  }
});

test('--device of a directory adds every device node below it at its place under the container path, with the same permissions; a directory without one is "not a device node" (dockerd\'s DevicesFromPath; hako refused any directory)', { skip, timeout: 60_000 }, async () => {
  const dir = join(tmp.path, 'devdir');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
  execFileSync('mknod', [join(dir, 'sub', 'zero'), 'c', '1', '5']);
  symlinkSync('/dev/null', join(dir, 'link'));
  writeFileSync(join(dir, 'file'), '');
  const r = await docker(['run', '--rm', '--network', 'none', '--device', `${dir}:/dev/mine`, 'busybox', 'sh', '-c', 'cd /dev/mine && find . | sort && stat -c "%t:%T" null sub/zero && head -c 3 sub/zero | wc -c']);
  assert.equal(r.stdout, '.\n./null\n./sub\n./sub/zero\n1:3\n1:5\n3\n');
  assert.equal((await docker(['run', '--rm', '--network', 'none', '--device', dir, 'busybox', 'ls', `${dir}/sub`])).stdout, 'zero\n');
  mkdirSync(join(tmp.path, 'emptydir'));
  const empty = await docker(['run', '--rm', '--network', 'none', '--device', join(tmp.path, 'emptydir'), 'busybox', 'true'], { ok: false });
  assert.equal(empty.code, 125);
  assert.equal(daemonError(empty.stderr), `error gathering device information while adding custom device "${join(tmp.path, 'emptydir')}": not a device node`);
});

test('--group-add: names and gids from the container\'s /etc/group; an unknown name in dockerd\'s words ("Unable …", capitalised unlike -u\'s)', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--rm', '--network', 'none', '--group-add', 'nogroup', '--group-add', '1234', 'busybox', 'id']);
  assert.equal(r.stdout, 'uid=0(root) gid=0(root) groups=0(root),1234,65534(nogroup)\n');
  const bad = await docker(['run', '--rm', '--network', 'none', '--group-add', 'nosuchgrp', 'busybox', 'true'], { ok: false });
  assert.equal(bad.code, 125);
  assert.equal(daemonError(bad.stderr), 'Unable to find group nosuchgrp: no matching entries in group file');
});

test('--uts host runs with the host\'s hostname (it failed: "hostname needs a UTS namespace"); /etc/hostname keeps Config.Hostname (dockerd)', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--rm', '--network', 'none', '--uts', 'host', '--name', 'pf-uts', 'busybox', 'sh', '-c', 'hostname; cat /etc/hostname']);
  const [live, file] = r.stdout.trim().split('\n');
  assert.equal(live, hostname());
  assert.match(file ?? '', /^[0-9a-f]{12}$/);
});

test('--tmpfs: "/" and a relative destination refused at create in dockerd\'s words, nothing made (a tmpfs on / hid the rootfs); an unknown option refused at the start as dockerd ("invalid tmpfs option [..]", was the mount\'s EINVAL); known flags and data options work', { skip, timeout: 60_000 }, async () => {
  for (const [spec, message] of [
    ['/', "invalid specification: destination can't be '/'"],
    ['/:size=1m', "invalid specification: destination can't be '/'"],
    ['rel', "invalid mount path: 'rel' mount path must be absolute"],
  ] as const) {
    const r = await docker(['create', '--network', 'none', '--name', 'pf-tmpfs', '--tmpfs', spec, 'busybox', 'true'], { ok: false });
    assert.equal(r.code, 1, spec);
    assert.equal(daemonError(r.stderr), message, spec);
  }
  assert.deepEqual(await names('pf-tmpfs'), []);
  for (const [spec, message] of [
    ['/t:bogus=1', 'invalid tmpfs option ["bogus" "1"]'],
    ['/t:bogus', 'invalid tmpfs option ["bogus"]'],
    ['/t:size', 'invalid tmpfs option ["size"]'],
  ] as const) {
    const r = await docker(['run', '--rm', '--network', 'none', '--tmpfs', spec, 'busybox', 'true'], { ok: false });
    assert.equal(r.code, 125, spec);
    assert.equal(daemonError(r.stderr), message, spec);
  }
  const ok = await docker(['run', '--rm', '--network', 'none', '--tmpfs', '/t:ro,nr_inodes=100,exec,noatime,size=1m,size=2m', 'busybox', 'grep', ' /t ', '/proc/mounts']);
  // A kernel built with CONFIG_TMPFS_INODE64 (Debian's) shows inode64 as well, whatever the options.
  assert.equal(ok.stdout.replace(/,inode(64|32)\b/, ''), 'tmpfs /t tmpfs ro,nosuid,nodev,noatime,size=2048k,nr_inodes=100 0 0\n');
});

test('--sysctl that needs a namespace the container shares with the host: runc\'s words, at the start (was the runtime\'s "add {\\"type\\": \\"network\\"} to linux.namespaces")', { skip, timeout: 60_000 }, async () => {
  const net = await docker(['run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'], { ok: false });
  assert.equal(net.code, 125);
  assert.match(daemonError(net.stderr), /^sysctl "net\.ipv4\.ip_forward" not allowed in host network namespace/);
  const ipc = await docker(['run', '--rm', '--network', 'none', '--ipc', 'host', '--sysctl', 'kernel.msgmax=4096', 'busybox', 'true'], { ok: false });
  assert.equal(ipc.code, 125);
  assert.match(daemonError(ipc.stderr), /^sysctl "kernel\.msgmax" is not allowed in the hosts ipc namespace/);
  const own = await docker(['run', '--rm', '--network', 'none', '--sysctl', 'kernel.msgmax=4096', '--sysctl', 'fs.mqueue.msg_max=20', 'busybox', 'cat', '/proc/sys/kernel/msgmax', '/proc/sys/fs/mqueue/msg_max']);
  assert.equal(own.stdout, '4096\n20\n');
});

test('--cpu-rt-runtime/--cpu-rt-period: a runtime above the period refused at create in dockerd\'s words; set, they reach the cgroup (they were recorded and dropped): on v1 a parent without a real-time budget refuses it, naming that parent', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['create', '--network', 'none', '--name', 'pf-rt', '--cpu-rt-runtime', '2000', '--cpu-rt-period', '1000', 'busybox', 'true'], { ok: false });
  assert.equal(r.code, 1);
  assert.equal(daemonError(r.stderr), 'cpu real-time runtime cannot be higher than cpu real-time period');
  assert.deepEqual(await names('pf-rt'), []);
  const run = await docker(['run', '--rm', '--network', 'none', '--cpu-rt-runtime', '100', 'busybox', 'true'], { ok: false });
  if (detectCgroupMode() === 'v2') {
    assert.equal(run.code, 125);
    assert.match(daemonError(run.stderr), /realtime cpu limits are not supported on cgroup v2/);
    return;
  }
  // The test daemon's cgroup parent is made by it, with cpu.rt_runtime_us 0 (the kernel's default below the root).
  assert.equal(run.code, 125, run.stderr);
  assert.match(daemonError(run.stderr), /^set cpu rt runtime: write 100 to \S+\/cpu\.rt_runtime_us: invalid argument \(EINVAL\) \(the parent cgroup \S+ has cpu\.rt_runtime_us 0: /);
});

const PIDS_MAX = 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max';

test('--pids-limit -1 (or 0) is "not set" at create: inspect null (was -1); update --pids-limit -1 records 0 and lifts the limit (dockerd)', { skip, timeout: 60_000 }, async () => {
  await docker(['create', '--network', 'none', '--name', 'pf-pids', '--pids-limit', '-1', 'busybox', 'true']);
  try {
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.PidsLimit}}', 'pf-pids'])).stdout.trim(), 'null');
  } finally {
    await docker(['rm', '-f', 'pf-pids']);
  }
  await docker(['run', '-d', '--network', 'none', '--name', 'pf-pids2', 'busybox', 'sleep', '300']);
  try {
    await docker(['update', '--pids-limit', '50', 'pf-pids2']);
    assert.equal((await docker(['exec', 'pf-pids2', 'sh', '-c', PIDS_MAX])).stdout.trim(), '50');
    await docker(['update', '--pids-limit', '-1', 'pf-pids2']);
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.PidsLimit}}', 'pf-pids2'])).stdout.trim(), '0');
    assert.equal((await docker(['exec', 'pf-pids2', 'sh', '-c', PIDS_MAX])).stdout.trim(), 'max');
  } finally {
    await docker(['rm', '-f', 'pf-pids2']);
  }
});

test('update keeps the restart policy when --restart is not given (the CLI sends {Name: ""} with every update: it was reset to "no"); the update\'s own values are checked first as at create (a memory below 6MB, the CPU range: 400s without the "Cannot update" prefix), then the conflicts (dockerd)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--name', 'pf-upd', 'busybox', 'sleep', '300']);
  try {
    await docker(['update', '--restart', 'on-failure:3', 'pf-upd']);
    await docker(['update', '--cpu-shares', '100', 'pf-upd']);
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.RestartPolicy}}', 'pf-upd'])).stdout.trim(), '{"Name":"on-failure","MaximumRetryCount":3}');
    await docker(['update', '--restart', 'no', 'pf-upd']);
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', 'pf-upd'])).stdout.trim(), 'no');
    const small = await docker(['update', '-m', '4m', 'pf-upd'], { ok: false });
    assert.equal(small.code, 1);
    assert.equal(small.stderr.trim(), 'Error response from daemon: Minimum memory limit allowed is 6MB');
    // The update's own values are checked before any conflict with the recorded ones.
    await docker(['update', '--cpu-period', '100000', 'pf-upd']);
    const ncpu = availableParallelism();
    const many = await docker(['update', '--cpus', String(ncpu + 3), 'pf-upd'], { ok: false });
    assert.equal(many.stderr.trim(), `Error response from daemon: Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`);
    // A reservation above the recorded memory limit is taken (checked only within the update's values).
    await docker(['update', '-m', '64m', '--memory-swap', '128m', 'pf-upd']);
    await docker(['update', '--memory-reservation', '100m', 'pf-upd']);
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.MemoryReservation}}', 'pf-upd'])).stdout.trim(), String(100 << 20));
    const both = await docker(['update', '-m', '64m', '--memory-reservation', '100m', 'pf-upd'], { ok: false });
    assert.equal(both.stderr.trim(), 'Error response from daemon: Minimum memory limit can not be less than memory reservation limit, see usage');
    const conflict = await docker(['update', '--cpus', '0.5', 'pf-upd'], { ok: false });
    assert.match(conflict.stderr, /Cannot update container [0-9a-f]{64}: Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set/);
  } finally {
    await docker(['rm', '-f', 'pf-upd']);
  }
});

test('--ip and aliases with --network none or host: refused at create in dockerd\'s words, nothing made (they were ignored); an --ip outside the subnet in dockerd\'s words', { skip, timeout: 60_000 }, async () => {
  for (const mode of ['none', 'host']) {
    const r = await docker(['create', '--network', mode, '--ip', '10.1.2.3', '--name', 'pf-ip', 'busybox', 'true'], { ok: false });
    assert.equal(r.code, 1, mode);
    assert.equal(daemonError(r.stderr), 'user specified IP address is supported on user defined networks only', mode);
  }
  // The docker CLI refuses --network-alias there itself; through the API:
  const json = { 'Content-Type': 'application/json' };
  const c = await d.request('POST', '/v1.41/containers/create?name=pf-ip', JSON.stringify({ Image: 'busybox', HostConfig: { NetworkMode: 'none' }, NetworkingConfig: { EndpointsConfig: { none: { Aliases: ['x'] } } } }), json);
  assert.equal(c.status, 400);
  assert.equal(JSON.parse(c.body.toString()).message, 'network-scoped alias is supported only for containers in user defined networks');
  assert.deepEqual(await names('pf-ip'), []);
  // A container-wide MacAddress (API < 1.44): host refused in dockerd's words, none takes it (and ignores it).
  const mac = async (mode: string) => d.request('POST', `/v1.41/containers/create?name=pf-mac-${mode}`, JSON.stringify({ Image: 'busybox', MacAddress: '02:42:ac:11:00:99', HostConfig: { NetworkMode: mode } }), json);
  const host = await mac('host');
  assert.equal(host.status, 400);
  assert.equal(JSON.parse(host.body.toString()).message, 'conflicting options: mac-address and the network mode');
  assert.equal((await mac('none')).status, 201);
  await docker(['rm', '-f', 'pf-mac-none']);
  const subnet = (await docker(['network', 'create', 'pf-net'])) && (await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', 'pf-net'])).stdout.trim();
  const outside = subnet.startsWith('10.') ? '192.168.255.77' : '10.255.255.77';
  const r = await docker(['run', '--rm', '--network', 'pf-net', '--ip', outside, 'busybox', 'true'], { ok: false });
  assert.equal(r.code, 125);
  assert.equal(daemonError(r.stderr), `Invalid address ${outside}: It does not belong to any of this network's subnets`);
});

test('detach keys are read even when they cannot apply (no tty): attach refuses malformed ones with 400 "Invalid detach keys (…) provided", exec create with "Invalid escape keys (…) provided" (dockerd; both were ignored)', { skip, timeout: 60_000 }, async () => {
  const run = await docker(['run', '-i', '--rm', '--network', 'none', '--detach-keys', 'bogus-key', 'busybox', 'cat'], { ok: false, input: 'ab' });
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /unable to upgrade to tcp, received 400/);
  await docker(['run', '-d', '--network', 'none', '--name', 'pf-dk', 'busybox', 'sleep', '300']);
  try {
    const a = await d.request('POST', '/v1.41/containers/pf-dk/attach?stream=1&stdout=1&detachKeys=bogus-key', undefined, { Connection: 'Upgrade', Upgrade: 'tcp' });
    assert.equal(a.status, 400);
    assert.match(JSON.parse(a.body.toString()).message, /^Invalid detach keys \(bogus-key\) provided/);
    const e = await docker(['exec', '--detach-keys', 'bogus-key', 'pf-dk', 'echo', 'x'], { ok: false });
    assert.equal(e.code, 1);
    assert.equal(e.stderr.trim(), 'Error response from daemon: Invalid escape keys (bogus-key) provided');
    assert.equal((await docker(['exec', '--detach-keys', 'ctrl-a,x', 'pf-dk', 'echo', 'x'])).stdout, 'x\n');
  } finally {
    await docker(['rm', '-f', 'pf-dk', ...(await names('pf-dk'))], { ok: false });
  }
});

test('inspect and logs as dockerd: SecurityOpt gains "label=disable" with --ipc host, --pid host or --privileged unless a label option was given; LogPath empty until the first start and always with the local driver; the local driver\'s unknown option in its words', { skip, timeout: 60_000 }, async () => {
  const cases: Array<[string[], string]> = [
    [['--privileged'], '["label=disable"]'],
    [['--pid', 'host'], '["label=disable"]'],
    [['--ipc', 'host', '--security-opt', 'no-new-privileges'], '["no-new-privileges","label=disable"]'],
    [['--ipc', 'host', '--security-opt', 'label=level:s0'], '["label=level:s0"]'],
    [['--uts', 'host'], 'null'],
  ];
  for (const [args, want] of cases) {
    await docker(['create', '--network', 'none', '--name', 'pf-sec', ...args, 'busybox', 'true']);
    try {
      assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.SecurityOpt}}', 'pf-sec'])).stdout.trim(), want, args.join(' '));
    } finally {
      await docker(['rm', '-f', 'pf-sec']);
    }
  }
  await docker(['run', '--rm', '--network', 'none', '--privileged', 'busybox', 'true']);
  const logPath = () => docker(['inspect', '-f', '{{.LogPath}}', 'pf-log']).then((r) => r.stdout.trim());
  for (const driver of ['json-file', 'local']) {
    await docker(['create', '--network', 'none', '--name', 'pf-log', '--log-driver', driver, 'busybox', 'echo', 'hi']);
    try {
      assert.equal(await logPath(), '', `${driver}, created`);
      await docker(['start', '-a', 'pf-log']);
      if (driver === 'local') assert.equal(await logPath(), '', 'local, started');
      else assert.match(await logPath(), /\/[0-9a-f]{64}-json\.log$/);
      assert.equal((await docker(['logs', 'pf-log'])).stdout, 'hi\n', driver);
    } finally {
      await docker(['rm', '-f', 'pf-log']);
    }
  }
  const local = await docker(['run', '--rm', '--network', 'none', '--log-driver', 'local', '--log-opt', 'bogus=1', 'busybox', 'true'], { ok: false });
  assert.equal(local.code, 125);
  assert.equal(daemonError(local.stderr), "unknown log opt 'bogus' for log driver local");
});

test('json-file --log-opt tag: logs --details shows it expanded over logger.Info (ImageID is the first 12 characters of "sha256:…", as dockerd), Go\'s template language and moby\'s functions too; a bad template refuses the start in Go\'s words', { skip, timeout: 60_000 }, async () => {
  const tag = 'tag={{.ID}}|{{.FullID}}|{{ .Name }}|{{.ImageID}}|{{.ImageFullID}}|{{.ImageName}}|{{.DaemonName}}|{{.Command}}';
  await docker(['run', '--name', 'pf-tag', '--network', 'none', '--label', 'a=b', '--log-opt', 'labels=a', '--log-opt', tag, 'busybox', 'echo', 'hi']);
  try {
    const [id, image] = (await docker(['inspect', '-f', '{{.Id}} {{.Image}}', 'pf-tag'])).stdout.trim().split(' ') as [string, string];
    const want = [id.slice(0, 12), id, 'pf-tag', image.slice(0, 12), image, 'busybox', 'docker', 'echo hi'].join('|');
    const q = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    assert.equal((await docker(['logs', '--details', 'pf-tag'])).stdout, `a=b,tag=${q(want)} hi\n`);
  } finally {
    await docker(['rm', '-f', 'pf-tag']);
  }
  // Go's template language and moby's functions (dockerd 20.10 in the lab gave these).
  await docker(['run', '--name', 'pf-tag2', '--network', 'none', '--label', 'a=b', '--label', 'c=d', '--log-opt', 'tag={{if eq .Name "pf-tag2"}}{{upper .Name}}{{else}}no{{end}}|{{json .ContainerLabels}}|{{join .ContainerArgs ","}}|{{truncate .ID 4}}|[{{pad .Name 1 1}}]|{{printf "%s-%d" .ContainerName 5}}|{{index .ContainerLabels "c"}}|{{len .ContainerArgs}}|{{range .ContainerArgs}}<{{.}}>{{end}}|{{split "a:b" ":"}}|{{title "x y"}}', 'busybox', 'echo', 'hi', 'there']);
  try {
    const id = (await docker(['inspect', '-f', '{{.Id}}', 'pf-tag2'])).stdout.trim();
    const want = `PF-TAG2|{"a":"b","c":"d"}|hi,there|${id.slice(0, 4)}|[ pf-tag2 ]|/pf-tag2-5|d|2|<hi><there>|[a b]|X Y`;
    const q = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
    assert.equal((await docker(['logs', '--details', 'pf-tag2'])).stdout, `tag=${q(want)} hi there\n`);
  } finally {
    await docker(['rm', '-f', 'pf-tag2']);
  }
  for (const [t, message] of [
    ['{{.Nosuch}}', 'failed to initialize logging driver: template: log-tag:1:2: executing "log-tag" at <.Nosuch>: can\'t evaluate field Nosuch in type *logger.Info'],
    ['{{.Name', 'failed to initialize logging driver: template: log-tag:1: unclosed action'],
    ['{{nosuch .Name}}', 'failed to initialize logging driver: template: log-tag:1: function "nosuch" not defined'],
    ['{{truncate .Name "x"}}', 'failed to initialize logging driver: template: log-tag:1:17: executing "log-tag" at <"x">: expected integer; found "x"'],
    ['{{pad .Name}}', 'failed to initialize logging driver: template: log-tag:1:2: executing "log-tag" at <pad>: wrong number of args for pad: want 3 got 1'],
    ['{{.Name.Foo}}', 'failed to initialize logging driver: template: log-tag:1:7: executing "log-tag" at <.Name.Foo>: can\'t evaluate field Foo in type string'],
  ]) {
    const r = await docker(['run', '--rm', '--network', 'none', '--log-opt', `tag=${t}`, 'busybox', 'true'], { ok: false });
    assert.equal(r.code, 125, t);
    assert.equal(daemonError(r.stderr), message, t);
  }
});

test('log options dockerd refuses: mode and max-buffer-size at create in its words; compress that is no bool or cannot apply, a bad labels-regex: dockerd refuses them when the start opens the log, hako at create (hako took them all)', { skip, timeout: 60_000 }, async () => {
  const cases: Array<[string[], string | RegExp]> = [
    [['--log-opt', 'mode=bogus'], 'logger: logging mode not supported: bogus'],
    [['--log-opt', 'max-buffer-size=1m'], "logger: max-buffer-size option is only supported with 'mode=non-blocking'"],
    [['--log-opt', 'mode=non-blocking', '--log-opt', 'max-buffer-size=1x'], "error parsing option max-buffer-size: invalid size: '1x'"],
    [['--log-opt', 'compress=maybe'], /^strconv\.ParseBool: parsing "maybe": invalid syntax/],
    [['--log-opt', 'compress=true'], 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    [['--log-opt', 'compress=true', '--log-opt', 'max-file=2'], 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    [['--log-driver', 'local', '--log-opt', 'max-file=1'], 'compression cannot be enabled when max file count is 1'],
    [['--log-driver', 'local', '--log-opt', 'compress=maybe'], /^error reading compress log option: strconv\.ParseBool: parsing "maybe": invalid syntax/],
    [['--log-opt', 'labels-regex=('], /^invalid labels-regex "\(": /],
  ];
  for (const [args, message] of cases) {
    const r = await docker(['create', '--network', 'none', '--name', 'pf-logopt', ...args, 'busybox', 'true'], { ok: false });
    assert.equal(r.code, 1, args.join(' '));
    if (typeof message === 'string') assert.equal(daemonError(r.stderr), message, args.join(' '));
    else assert.match(daemonError(r.stderr), message, args.join(' '));
  }
  assert.deepEqual(await names('pf-logopt'), []);
  for (const args of [['--log-opt', 'mode=non-blocking', '--log-opt', 'max-buffer-size=1m'], ['--log-opt', 'compress=T', '--log-opt', 'max-file=2', '--log-opt', 'max-size=1m'], ['--log-driver', 'local', '--log-opt', 'compress=false', '--log-opt', 'max-file=1']]) {
    assert.equal((await docker(['run', '--rm', '--network', 'none', ...args, 'busybox', 'echo', 'ok'])).stdout, 'ok\n', args.join(' '));
  }
});

test('--stop-signal takes any number but 0 (moby\'s ParseSignal; 99 was refused); kill with a number Linux has no signal for is dockerd\'s 500 "The linux daemon does not support signal N"; a stop with such a stop signal waits out the timeout and kills (137)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--name', 'pf-sig', '--stop-signal', '99', 'busybox', 'sleep', '300']);
  try {
    assert.equal((await docker(['inspect', '-f', '{{.Config.StopSignal}}', 'pf-sig'])).stdout.trim(), '99');
    for (const sig of ['99', '32', '-3']) {
      const r = await d.request('POST', `/v1.41/containers/pf-sig/kill?signal=${sig}`);
      assert.equal(r.status, 500, sig);
      assert.equal(JSON.parse(r.body.toString()).message, `Cannot kill container: pf-sig: The linux daemon does not support signal ${sig === '-3' ? '18446744073709551613' : sig}`);
    }
    // Real-time signals by moby's names (PID 1 ignores them: sleep has no handler).
    const t0 = String(Math.floor(Date.now() / 1000) - 1);
    for (const sig of ['SIGRTMIN+3', 'RTMAX-2', 'rtmin', '50']) await docker(['kill', '-s', sig, 'pf-sig']);
    const rtBad = await docker(['kill', '-s', 'RTMIN+16', 'pf-sig'], { ok: false });
    assert.equal(rtBad.stderr.trim(), 'Error response from daemon: Invalid signal: RTMIN+16');
    const since = await docker(['events', '--since', t0, '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=pf-sig', '--filter', 'event=kill', '--format', '{{.Actor.Attributes.signal}}']);
    assert.deepEqual(since.stdout.trim().split('\n'), ['37', '62', '34', '50']);
    assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'pf-sig'])).stdout.trim(), 'true');
    await docker(['stop', '-t', '1', 'pf-sig']);
    assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', 'pf-sig'])).stdout.trim(), '137');
    const zero = await docker(['create', '--network', 'none', '--stop-signal', '0', 'busybox', 'true'], { ok: false });
    assert.equal(zero.stderr.trim(), 'Error response from daemon: Invalid signal: 0');
  } finally {
    await docker(['rm', '-f', 'pf-sig']);
  }
});

test('--ulimit X=-1 is unlimited, in the container and its execs (the runtime refused it: "config.json: process.rlimits[0].soft must not be negative"); other negative limits refused at the start naming the ulimit', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--rm', '--network', 'none', '--ulimit', 'core=-1', '--ulimit', 'fsize=1048576:-1', 'busybox', 'sh', '-c', 'ulimit -c; ulimit -Hc; ulimit -f; ulimit -Hf']);
  assert.equal(r.stdout, 'unlimited\nunlimited\n2048\nunlimited\n'); // busybox counts 512-byte blocks
  await docker(['run', '-d', '--network', 'none', '--name', 'pf-ulim', '--ulimit', 'core=-1', 'busybox', 'sleep', '300']);
  try {
    assert.equal((await docker(['exec', 'pf-ulim', 'sh', '-c', 'ulimit -c'])).stdout, 'unlimited\n');
    assert.equal((await docker(['inspect', '-f', '{{json .HostConfig.Ulimits}}', 'pf-ulim'])).stdout.trim(), '[{"Name":"core","Hard":-1,"Soft":-1}]');
  } finally {
    await docker(['rm', '-f', 'pf-ulim']);
  }
  const bad = await docker(['run', '--rm', '--network', 'none', '--ulimit', 'core=-5:-5', 'busybox', 'true'], { ok: false });
  assert.equal(bad.code, 125);
  assert.equal(daemonError(bad.stderr), 'ulimit core=-5:-5: a limit is -1 (unlimited) or a number from 0');
});
