// Issue #4 ("a Docker user should change nothing but DOCKER_HOST"): behaviours where hakod, seen
// through the real docker CLI (28.x), differed from dockerd. Each test pins dockerd's answer as it
// was observed against Debian's dockerd 20.10 / moby ≥ 25 (exit codes, messages, JSON fields).
// dockerd itself is not needed: the expectations are written down here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, busyboxRootfsTar, tempDir } from '../helpers/fixtures.js';

const skip = !hasDocker ? `${DOCKER} is missing (the docker CLI is needed for this test)` : !hasEngine ? 'the container engine is not built' : !isRoot ? 'container flows need root' : false;

let d: TestDaemon;
let tmp: { path: string; cleanup: () => void };

function docker(args: string[], opts: { ok?: boolean; timeout?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // SIGKILL: `docker run` forwards SIGTERM to the container instead of exiting, so a hang would outlive the test.
    execFile(DOCKER, args, { env: d.env, timeout: opts.timeout ?? 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) assert.fail(`docker ${args.join(' ')} hung (killed after ${opts.timeout ?? 30_000} ms)\nstdout: ${stdout}\nstderr: ${stderr}`);
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
      resolve({ code, stdout, stderr });
    });
  });
}

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');

function hako(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [HAKO, ...args], { env: { ...d.env, HAKO_HOST: d.host }, timeout: 30_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

async function containerNames(): Promise<string[]> {
  return (await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
}

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-compat-');
  const tar = busyboxRootfsTar(tmp.path);
  d = await startDaemon();
  await docker(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
    assert.doesNotMatch(d.log(), /BUG: /);
  }
  tmp?.cleanup();
});

test('docker run --rm of a missing program exits 127 and removes the container (it used to hang)', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--rm', '--name', 'rm-missing', 'busybox', 'nosuchcmd'], { ok: false, timeout: 20_000 });
  assert.equal(r.code, 127, r.stderr);
  assert.match(r.stderr, /nosuchcmd/);
  assert.ok(!(await containerNames()).includes('rm-missing'), 'the --rm container is gone');
  const notExec = await docker(['run', '--rm', '--name', 'rm-noexec', 'busybox', '/etc/passwd'], { ok: false, timeout: 20_000 });
  assert.equal(notExec.code, 126, notExec.stderr);
  assert.ok(!(await containerNames()).includes('rm-noexec'));
});

test('a start that fails to exec records exit code 127 (missing) / 126 (not executable) like dockerd', { skip, timeout: 60_000 }, async () => {
  await docker(['create', '--name', 'start-missing', 'busybox', 'nosuchcmd']);
  const s = await docker(['start', 'start-missing'], { ok: false });
  assert.notEqual(s.code, 0);
  const state = JSON.parse((await docker(['inspect', '-f', '{{json .State}}', 'start-missing'])).stdout) as { Status: string; ExitCode: number; Error: string };
  assert.equal(state.Status, 'created');
  assert.equal(state.ExitCode, 127);
  assert.match(state.Error, /nosuchcmd/);
  await docker(['create', '--name', 'start-noexec', 'busybox', '/etc']);
  await docker(['start', 'start-noexec'], { ok: false });
  assert.equal((await docker(['inspect', '-f', '{{.State.ExitCode}}', 'start-noexec'])).stdout.trim(), '126');
  await docker(['rm', 'start-missing', 'start-noexec']);
});

test('docker exec of a missing program exits 126 with the error on stdout (not "Unrecognized input header")', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'exec-missing', 'busybox', 'sleep', '1000']);
  try {
    const r = await docker(['exec', 'exec-missing', 'nosuch'], { ok: false });
    assert.equal(r.code, 126, `stdout: ${r.stdout} stderr: ${r.stderr}`);
    assert.match(r.stdout, /nosuch/);
    assert.doesNotMatch(r.stdout + r.stderr, /Unrecognized input header/);
    const user = await docker(['exec', '-u', 'nosuchuser', 'exec-missing', 'true'], { ok: false });
    assert.equal(user.code, 126, `stdout: ${user.stdout} stderr: ${user.stderr}`);
    assert.match(user.stdout, /unable to find user nosuchuser/);
    // The container is unharmed and a good exec still works.
    assert.equal((await docker(['exec', 'exec-missing', 'echo', 'ok'])).stdout, 'ok\n');
  } finally {
    await docker(['rm', '-f', 'exec-missing']);
  }
});

test('docker cp copies directories both ways; a missing path names the container', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'cp-dirs', 'busybox', 'sh', '-c', 'mkdir -p /d/sub && echo a > /d/sub/f && sleep 1000']);
  try {
    // wait for the shell to have written the file
    for (let i = 0; i < 50 && (await docker(['exec', 'cp-dirs', 'test', '-f', '/d/sub/f'], { ok: false })).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const out = join(tmp.path, 'cp-out');
    mkdirSync(out);
    await docker(['cp', 'cp-dirs:/d', out]);
    assert.ok(statSync(join(out, 'd', 'sub')).isDirectory());
    assert.equal(readFileSync(join(out, 'd', 'sub', 'f'), 'utf8'), 'a\n');
    await docker(['cp', '-a', 'cp-dirs:/d', join(out, 'da')]);
    assert.deepEqual(readdirSync(join(out, 'da', 'sub')), ['f']);
    writeFileSync(join(out, 'd', 'sub', 'g'), 'b\n');
    await docker(['cp', join(out, 'd'), 'cp-dirs:/new']);
    assert.equal((await docker(['exec', 'cp-dirs', 'cat', '/new/sub/f', '/new/sub/g'])).stdout, 'a\nb\n');
    const stat = (await d.request('HEAD', '/containers/cp-dirs/archive?path=/d')).headers['x-docker-container-path-stat'] as string;
    const mode = (JSON.parse(Buffer.from(stat, 'base64').toString()) as { mode: number }).mode;
    assert.ok(mode > 0 && mode >= 2 ** 31, `directory mode has Go's ModeDir bit and is not negative: ${mode}`);
    const missing = await docker(['cp', 'cp-dirs:/nosuch', out], { ok: false });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Could not find the file \/nosuch in container cp-dirs/);
  } finally {
    await docker(['rm', '-f', 'cp-dirs']);
  }
});

test('diff, size and commit leave out the empty mount targets of /etc/hostname, hosts, resolv.conf', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'diff-clean', 'busybox', 'sleep', '1000']);
  try {
    assert.equal((await docker(['diff', 'diff-clean'])).stdout, '');
    // like dockerd's init layer: an empty /.dockerenv that diff does not show
    assert.equal((await docker(['exec', 'diff-clean', 'stat', '-c', '%s %a', '/.dockerenv'])).stdout, '0 755\n');
    assert.equal((await docker(['ps', '-s', '--filter', 'name=diff-clean', '--format', '{{.Size}}'])).stdout.trim().split(' ')[0], '0B');
    await docker(['exec', 'diff-clean', 'sh', '-c', 'echo x > /tmp/f']);
    assert.deepEqual((await docker(['diff', 'diff-clean'])).stdout.trim().split('\n'), ['C /tmp', 'A /tmp/f']);
    await docker(['commit', 'diff-clean', 'compat-committed:1']);
    // dockerd's history names the container's command as CREATED BY
    assert.equal((await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'compat-committed:1'])).stdout.split('\n')[0], 'sleep 1000');
    const saved = join(tmp.path, 'committed');
    mkdirSync(saved);
    execFileSync('sh', ['-c', `"${DOCKER}" save compat-committed:1 | tar -C "${saved}" -xf -`], { env: d.env });
    const manifest = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
    const top = manifest[0]!.Layers.at(-1)!;
    const entries = execFileSync('tar', ['-tf', join(saved, top)], { encoding: 'utf8' }).split('\n').filter(Boolean).map((e) => e.replace(/^\.\//, '').replace(/\/$/, ''));
    assert.ok(entries.includes('tmp/f'), entries.join(' '));
    for (const e of ['.dockerenv', 'etc', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf']) assert.ok(!entries.includes(e), `${e} is not in the committed layer: ${entries.join(' ')}`);
  } finally {
    await docker(['rm', '-f', 'diff-clean']);
    await docker(['rmi', 'compat-committed:1'], { ok: false });
  }
});

test('a negative --cpu-shares as dockerd 20.10: recorded at create and in an update of a stopped container, the start fails (500 "shares: invalid argument", Error and exit code 128 recorded, still created), an update of a running one fails', { skip, timeout: 60_000 }, async () => {
  try {
    const id = (await docker(['create', '--name', 'neg-shares', '--cpu-shares', '-1', 'busybox', 'sleep', '100'])).stdout.trim();
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.CpuShares}} {{.State.Status}}', 'neg-shares'])).stdout.trim(), '-1 created');
    const start = await docker(['start', 'neg-shares'], { ok: false });
    assert.equal(start.code, 1);
    assert.equal(start.stderr.replace(/^WARNING: .*\n/gm, ''), 'Error response from daemon: shares: invalid argument\nError: failed to start containers: neg-shares\n');
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.CpuShares}} {{.State.Status}} {{.State.ExitCode}} {{.State.Error}}', 'neg-shares'])).stdout.trim(), '-1 created 128 shares: invalid argument');
    // a stopped container's update records it too
    await docker(['update', '--cpu-shares', '-5', 'neg-shares']);
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.CpuShares}}', 'neg-shares'])).stdout.trim(), '-5');
    await docker(['update', '--cpu-shares', '512', 'neg-shares']);
    await docker(['start', 'neg-shares']);
    const upd = await docker(['update', '--cpu-shares', '-1', 'neg-shares'], { ok: false });
    assert.equal(upd.code, 1);
    assert.match(upd.stderr, new RegExp(`^Error response from daemon: Cannot update container ${id}: .*the maximum allowed cpu-shares is 262144`, 'm'));
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.CpuShares}} {{.State.Status}}', 'neg-shares'])).stdout.trim(), '512 running');
  } finally {
    await docker(['rm', '-f', 'neg-shares'], { ok: false });
  }
});

test('--cpus beyond the CPUs and unknown capabilities are refused at create/update like dockerd; a negative --cpu-shares fails the start', { skip, timeout: 60_000 }, async () => {
  const n = availableParallelism();
  const before = await containerNames();
  const cpus = await docker(['run', '--rm', '--cpus', String(n + 1), 'busybox', 'true'], { ok: false });
  assert.equal(cpus.code, 125);
  assert.match(cpus.stderr, new RegExp(`Range of CPUs is from 0\\.01 to ${n}\\.00, as there are only ${n} CPUs available`));
  // dockerd 20.10 records a negative --cpu-shares and fails the start (500; --rm removes it).
  const shares = await docker(['run', '--rm', '--cpu-shares', '-1', 'busybox', 'true'], { ok: false });
  assert.equal(shares.code, 125);
  assert.match(shares.stderr, /docker: Error response from daemon: shares: invalid argument\n/);
  const cap = await docker(['run', '--rm', '--cap-add', 'bogus', 'busybox', 'true'], { ok: false });
  assert.equal(cap.code, 125);
  assert.match(cap.stderr, /invalid CapAdd: unknown capability: "CAP_BOGUS"/);
  const drop = await docker(['create', '--cap-drop', 'CAP_NOPE', 'busybox', 'true'], { ok: false });
  assert.match(drop.stderr, /invalid CapDrop: unknown capability: "CAP_NOPE"/);
  assert.deepEqual(await containerNames(), before, 'nothing was created');
  // Lower case and ALL are fine, as with dockerd.
  await docker(['run', '--rm', '--cap-drop', 'all', '--cap-add', 'net_admin', 'busybox', 'true']);
  await docker(['run', '-d', '--name', 'upd-cpus', 'busybox', 'sleep', '1000']);
  try {
    const upd = await docker(['update', '--cpus', String(n + 1), 'upd-cpus'], { ok: false });
    assert.equal(upd.code, 1);
    assert.match(upd.stderr, /Range of CPUs/);
    await docker(['update', '--cpus', '0.5', 'upd-cpus']);
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.NanoCpus}}', 'upd-cpus'])).stdout.trim(), '500000000');
  } finally {
    await docker(['rm', '-f', 'upd-cpus']);
  }
});

test('system df counts a layer shared by two images once (LayersSize, SharedSize)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '--name', 'df-base', 'busybox', 'sh', '-c', 'echo x > /tmp/x']);
  await docker(['commit', 'df-base', 'compat-df:1']);
  await docker(['rm', 'df-base']);
  try {
    const df = JSON.parse((await d.request('GET', '/system/df')).body.toString()) as { LayersSize: number; Images: Array<{ RepoTags: string[]; Size: number; SharedSize: number }> };
    const base = df.Images.find((i) => i.RepoTags.includes('busybox:latest'))!;
    const child = df.Images.find((i) => i.RepoTags.includes('compat-df:1'))!;
    assert.ok(base.SharedSize > 0 && base.SharedSize <= base.Size, JSON.stringify(base));
    assert.equal(child.SharedSize, base.SharedSize);
    const sum = df.Images.reduce((s, i) => s + i.Size, 0);
    assert.ok(df.LayersSize < sum, `LayersSize ${df.LayersSize} < sum of image sizes ${sum}`);
    assert.ok(df.LayersSize >= child.Size, `LayersSize ${df.LayersSize} ≥ the larger image ${child.Size}`);
  } finally {
    await docker(['rmi', 'compat-df:1']);
  }
});

test('the hako CLI prints what the docker CLI prints: top with ps options, rename and port errors, system df (-v)', { skip, timeout: 90_000 }, async () => {
  await docker(['volume', 'create', 'compat-df-vol']);
  await docker(['run', '-d', '--name', 'cli-same', '-v', 'compat-df-vol:/data', 'busybox', 'sh', '-c', 'head -c 5000 /dev/zero > /data/z; sleep 1000']);
  await docker(['run', '--name', 'cli-same-2', 'busybox', 'sh', '-c', 'echo x > /tmp/x']);
  await docker(['commit', 'cli-same-2', 'compat-cli:1']);
  try {
    for (let i = 0; i < 50 && (await docker(['exec', 'cli-same', 'test', '-s', '/data/z'], { ok: false })).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    const cases = [
      ['top', 'cli-same', '-o', 'pid,comm'],
      ['rename', 'cli-same', 'cli-same'],
      ['port', 'cli-same', '80'],
      ['system', 'df'],
      ['system', 'df', '-v'],
    ];
    for (const args of cases) {
      const want = await docker(args, { ok: false });
      const got = await hako(args);
      assert.equal(got.code, want.code, `exit code of ${args.join(' ')}: ${got.stderr}`);
      // CREATED columns may tick between the two runs
      const norm = (t: string) => t.replace(/(\d+ seconds?|Less than a second|About a minute)/g, 'T').replace(/ +/g, ' ');
      assert.equal(norm(got.stdout), norm(want.stdout), `stdout of ${args.join(' ')}`);
      assert.equal(got.stderr, want.stderr, `stderr of ${args.join(' ')}`);
    }
    assert.match((await hako(['system', 'df', '-v'])).stdout, /Images space usage:[\s\S]*compat-cli[\s\S]*Containers space usage:[\s\S]*cli-same[\s\S]*Local Volumes space usage:[\s\S]*compat-df-vol +1 +5kB\n[\s\S]*Build cache usage: 0B/);
  } finally {
    await docker(['rm', '-f', 'cli-same', 'cli-same-2']);
    await docker(['rmi', 'compat-cli:1'], { ok: false });
    await docker(['volume', 'rm', 'compat-df-vol'], { ok: false });
  }
});

test('the container process has its primary group among its supplementary groups, like dockerd (`id` shows groups=…)', { skip, timeout: 60_000 }, async () => {
  assert.equal((await docker(['run', '--rm', 'busybox', 'id'])).stdout, 'uid=0(root) gid=0(root) groups=0(root)\n');
  assert.equal((await docker(['run', '--rm', '-u', '65534', 'busybox', 'id'])).stdout, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
  assert.equal((await docker(['run', '--rm', '--group-add', '65534', 'busybox', 'id'])).stdout, 'uid=0(root) gid=0(root) groups=0(root),65534(nogroup)\n');
  await docker(['run', '-d', '--name', 'groups-exec', 'busybox', 'sleep', '1000']);
  try {
    assert.equal((await docker(['exec', '-u', '65534', 'groups-exec', 'id'])).stdout, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
  } finally {
    await docker(['rm', '-f', 'groups-exec']);
  }
});

test('a -v bind source removed after create is created again on start (like dockerd); a --mount bind source is not', { skip, timeout: 60_000 }, async () => {
  const src = join(tmp.path, 'bind-src', 'sub');
  await docker(['create', '--name', 'bind-recreate', '-v', `${src}:/x`, 'busybox', 'ls', '-d', '/x']);
  const { rmSync } = await import('node:fs');
  try {
    rmSync(join(tmp.path, 'bind-src'), { recursive: true, force: true });
    assert.equal((await docker(['start', '-a', 'bind-recreate'])).stdout, '/x\n');
    assert.ok(statSync(src).isDirectory());
    mkdirSync(join(tmp.path, 'mount-src'));
    await docker(['create', '--name', 'mount-gone', '--mount', `type=bind,src=${join(tmp.path, 'mount-src')},dst=/x`, 'busybox', 'true']);
    rmSync(join(tmp.path, 'mount-src'), { recursive: true });
    const r = await docker(['start', 'mount-gone'], { ok: false });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bind source path does not exist/);
  } finally {
    await docker(['rm', '-f', 'bind-recreate', 'mount-gone'], { ok: false });
  }
});

test('exec events name the program and its arguments like dockerd ("exec_create: id " with the trailing space)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'exec-events', 'busybox', 'sleep', '1000']);
  try {
    const since = String(Date.now() / 1000 - 1);
    await docker(['exec', 'exec-events', 'true']);
    await docker(['exec', 'exec-events', 'echo', 'a', 'b']);
    const ev = await docker(['events', '--since', since, '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=exec-events', '--format', '{{.Action}}|']);
    const actions = ev.stdout.split('|\n').filter(Boolean);
    assert.ok(actions.includes('exec_create: true '), JSON.stringify(actions));
    assert.ok(actions.includes('exec_start: true '), JSON.stringify(actions));
    assert.ok(actions.includes('exec_create: echo a b'), JSON.stringify(actions));
  } finally {
    await docker(['rm', '-f', 'exec-events']);
  }
});

test('unknown or bad --log-opt values are refused at create, leaving no container (dockerd: "unknown log opt")', { skip, timeout: 60_000 }, async () => {
  const before = await containerNames();
  const unknown = await docker(['run', '--rm', '--log-opt', 'bogus=1', 'busybox', 'true'], { ok: false });
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /unknown log opt 'bogus' for json-file log driver/);
  const files = await docker(['run', '--rm', '--log-opt', 'max-file=x', 'busybox', 'true'], { ok: false });
  assert.equal(files.code, 125);
  assert.match(files.stderr, /max-file/);
  const size = await docker(['create', '--log-opt', 'max-size=bogus', 'busybox', 'true'], { ok: false });
  assert.match(size.stderr, /max-size/);
  assert.deepEqual(await containerNames(), before);
  assert.equal((await docker(['run', '--rm', '--log-opt', 'max-file=2', '--log-opt', 'max-size=1k', '--log-opt', 'tag=x', 'busybox', 'echo', 'ok'])).stdout, 'ok\n');
  await docker(['run', '-d', '--name', 'paused-exec', 'busybox', 'sleep', '1000']);
  try {
    await docker(['pause', 'paused-exec']);
    const r = await docker(['exec', 'paused-exec', 'true'], { ok: false });
    assert.match(r.stderr, /Container paused-exec is paused, unpause the container before exec/);
  } finally {
    await docker(['rm', '-f', 'paused-exec']);
  }
});

test('stats: network counters per interface (eth0, not lo) and the host memory as the limit of an unlimited container', { skip, timeout: 60_000 }, async () => {
  const { totalmem } = await import('node:os');
  await docker(['run', '-d', '--name', 'stats-net', 'busybox', 'sleep', '1000']);
  await docker(['run', '-d', '--name', 'stats-none', '--network', 'none', '--memory', '64m', 'busybox', 'sleep', '1000']);
  try {
    const get = async (name: string) => JSON.parse((await d.request('GET', `/containers/${name}/stats?stream=false&one-shot=true`)).body.toString()) as { networks?: Record<string, { rx_bytes: number; tx_bytes: number }>; memory_stats: { limit: number } };
    const s = await get('stats-net');
    assert.ok(s.networks?.eth0, JSON.stringify(s.networks));
    assert.equal(s.networks!.lo, undefined);
    assert.equal(typeof s.networks!.eth0!.rx_bytes, 'number');
    assert.ok(s.memory_stats.limit <= totalmem(), `limit ${s.memory_stats.limit} ≤ host memory ${totalmem()}`);
    const none = await get('stats-none');
    assert.equal(none.networks, undefined);
    assert.equal(none.memory_stats.limit, 64 * 1024 * 1024);
    const line = (await docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'stats-net'])).stdout;
    assert.doesNotMatch(line, /EiB/);
  } finally {
    await docker(['rm', '-f', 'stats-net', 'stats-none']);
  }
});

test('info: a stable engine ID (UUID in <data-root>/engine-id), docker.io and loopback registries; hako info prints what docker info prints', { skip, timeout: 60_000 }, async () => {
  const id = (await docker(['info', '--format', '{{.ID}}'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(readFileSync(join(d.root, 'engine-id'), 'utf8').trim(), id);
  assert.equal((await docker(['info', '--format', '{{.ID}}'])).stdout.trim(), id);
  const rc = JSON.parse((await docker(['info', '--format', '{{json .RegistryConfig}}'])).stdout) as { IndexConfigs: Record<string, { Secure: boolean; Official: boolean }>; InsecureRegistryCIDRs: string[] };
  assert.deepEqual(rc.IndexConfigs['docker.io'], { Name: 'docker.io', Mirrors: [], Secure: true, Official: true });
  assert.ok(rc.InsecureRegistryCIDRs.includes('127.0.0.0/8'));
  const want = await docker(['info']);
  const got = await hako(['info']);
  // The docker CLI prints the runtimes in Go's map order, which is random: compared sorted.
  const sortRuntimes = (t: string) => t.replace(/^ Runtimes: (.*)$/m, (_l, names: string) => ` Runtimes: ${names.split(' ').sort().join(' ')}`);
  const strip = (t: string) => sortRuntimes(t.replace(/^ Version: .*\n/m, '').replace(/^  (Running|Stopped|Paused): \d+\n/gm, '').replace(/^ Containers: \d+\n/m, ''));
  assert.equal(strip(got.stdout), strip(want.stdout));
  assert.match(got.stdout, /\n Plugins:\n  Volume: local\n/);
  assert.match(got.stdout, /\n Security Options:\n  seccomp\n   Profile: builtin\n/);
  assert.match(got.stdout, /\n Insecure Registries:\n(  .*\n)*  127\.0\.0\.0\/8\n/);
  // dockerd's overlay2 lines (API 1.44), probed: what the overlay module's defaults give a mount
  // without options (hako listed only the backing file system).
  const param = (n: string) => readFileSync(`/sys/module/overlay/parameters/${n}`, 'utf8').trim();
  const storage = `\n Storage Driver: overlay2\n  Backing Filesystem: extfs\n  Supports d_type: true\n  Using metacopy: ${param('metacopy') === 'Y'}\n  Native Overlay Diff: ${param('redirect_dir') !== 'Y'}\n  userxattr: false\n Logging Driver: json-file\n`;
  if (execFileSync('stat', ['-f', '-c', '%t', d.root], { encoding: 'utf8' }).trim() === 'ef53') assert.ok(want.stdout.includes(storage), want.stdout);
  assert.match(want.stdout, /\n Storage Driver: overlay2\n  Backing Filesystem: .*\n  Supports d_type: true\n  Using metacopy: (true|false)\n  Native Overlay Diff: (true|false)\n  userxattr: (true|false)\n Logging Driver: json-file\n/);
});

test('hako events prints the exact nanosecond timestamps docker prints; hako start sums up the failures like docker', { skip, timeout: 60_000 }, async () => {
  await docker(['create', '--name', 'cli-events', 'busybox', 'true']);
  try {
    const until = String(Math.ceil(Date.now() / 1000) + 1);
    const args = ['events', '--since', '1m', '--until', until, '--filter', 'container=cli-events'];
    const want = await docker(args);
    const got = await hako(args);
    assert.match(want.stdout, /container create/);
    assert.equal(got.stdout, want.stdout);
    const startArgs = ['start', 'cli-events', 'cli-events-nosuch'];
    const w = await docker(startArgs, { ok: false });
    const g = await hako(startArgs);
    assert.equal(g.code, w.code);
    assert.equal(g.stderr, w.stderr);
    assert.match(g.stderr, /Error: failed to start containers: cli-events-nosuch\n$/);
  } finally {
    await docker(['rm', '-f', 'cli-events']);
  }
});

test('create refuses like dockerd: a missing network (400, so the CLI does not go pulling), cpusets the host lacks, bad stop signals, unknown mount types', { skip, timeout: 60_000 }, async () => {
  const before = await containerNames();
  // The API answer itself: a 404 would make `docker run` pull the image (from the internet).
  for (const hc of [{ NetworkMode: 'compat-nosuch-net' }, { NetworkMode: 'container:compat-nosuch' }]) {
    const r = await d.request('POST', '/containers/create', JSON.stringify({ Image: 'busybox', HostConfig: hc }), { 'Content-Type': 'application/json' });
    assert.equal(r.status, 400, r.body.toString());
  }
  const net = await docker(['run', '--pull', 'never', '--rm', '--network', 'compat-nosuch-net', 'busybox', 'true'], { ok: false });
  assert.equal(net.code, 125);
  assert.match(net.stderr, /network compat-nosuch-net not found/);
  assert.doesNotMatch(net.stderr, /Unable to find image/);
  const online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const cpus = await docker(['run', '--rm', '--cpuset-cpus', '4095', 'busybox', 'true'], { ok: false });
  assert.equal(cpus.code, 125);
  assert.match(cpus.stderr, new RegExp(`Requested CPUs are not available - requested 4095, available: ${online}`));
  assert.match((await docker(['run', '--rm', '--cpuset-cpus', 'x', 'busybox', 'true'], { ok: false })).stderr, /Invalid value x for cpuset cpus/);
  const sig = await docker(['run', '--rm', '--stop-signal', 'BOGUS', 'busybox', 'true'], { ok: false });
  assert.equal(sig.code, 125);
  assert.match(sig.stderr, /Invalid signal: BOGUS/);
  const mount = await docker(['run', '--rm', '--mount', 'type=bogus,dst=/x', 'busybox', 'true'], { ok: false });
  assert.match(mount.stderr, /invalid mount config for type "bogus": mount type unknown/);
  assert.deepEqual(await containerNames(), before, 'nothing was created');
  await docker(['run', '--rm', '--cpuset-cpus', online.split(/[-,]/)[0]!, '--stop-signal', 'RTMIN+3', 'busybox', 'true']);
});

test('--memory without --memory-swap: inspect shows dockerd\'s default swap (2 × memory); update keeps dockerd\'s rule for it', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'mem-swap', '--memory', '64m', 'busybox', 'sleep', '1000']);
  try {
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', 'mem-swap'])).stdout.trim(), `${64 << 20} ${128 << 20}`);
    const up = await docker(['update', '--memory', '256m', 'mem-swap'], { ok: false });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/);
    await docker(['update', '--memory', '100m', 'mem-swap']);
    await docker(['update', '--memory', '512m', '--memory-swap', '1g', 'mem-swap']);
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}', 'mem-swap'])).stdout.trim(), `${512 << 20} ${1 << 30}`);
  } finally {
    await docker(['rm', '-f', 'mem-swap']);
  }
});

test('docker system prune works (no build cache to prune: /build/prune answers nothing deleted)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '--name', 'sys-prune', 'busybox', 'true']);
  const r = await docker(['system', 'prune', '-f']);
  assert.match(r.stdout, /Deleted Containers:\n[0-9a-f]{64}\n/);
  assert.match(r.stdout, /Total reclaimed space: /);
  assert.ok(!(await containerNames()).includes('sys-prune'));
  const b = JSON.parse((await d.request('POST', '/build/prune')).body.toString());
  assert.deepEqual(b, { CachesDeleted: null, SpaceReclaimed: 0 });
  assert.equal((await d.request('POST', '/build/prune?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D')).status, 400);
  // images are untouched by a plain system prune (only dangling ones would go)
  assert.match((await docker(['images', '--format', '{{.Repository}}'])).stdout, /busybox/);
});

test('an --rm container is removed after docker stop (like dockerd), but survives docker restart', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--rm', '--name', 'rm-restart', 'busybox', 'sleep', '1000']);
  await docker(['restart', '-t', '1', 'rm-restart']);
  assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'rm-restart'])).stdout.trim(), 'true');
  await docker(['stop', '-t', '1', 'rm-restart']);
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    gone = !(await containerNames()).includes('rm-restart');
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(gone, 'the --rm container was removed after docker stop');
  await docker(['run', '-d', '--rm', '--name', 'rm-kill', 'busybox', 'sleep', '1000']);
  await docker(['kill', 'rm-kill']);
  gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    gone = !(await containerNames()).includes('rm-kill');
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(gone, 'the --rm container was removed after docker kill');
});

test('/dev/core links to /proc/kcore only when the kernel has it (runc skips the link, so no dangling one)', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'if [ -L /dev/core ]; then readlink /dev/core; else echo none; fi']);
  assert.equal(r.stdout.trim(), existsSync('/proc/kcore') ? '/proc/kcore' : 'none');
});

test('history of committed images names each image of the parent chain with its tags (dockerd), inspect has Parent and ContainerConfig', { skip, timeout: 60_000 }, async () => {
  const id = async (ref: string) => (await docker(['image', 'inspect', '-f', '{{.Id}}', ref])).stdout.trim();
  await docker(['run', '--name', 'hist-1', 'busybox', 'sh', '-c', 'echo 1 > /one']);
  await docker(['commit', 'hist-1', 'compat-hist:1']);
  await docker(['run', '--name', 'hist-2', 'compat-hist:1', 'sh', '-c', 'echo 2 > /two']);
  await docker(['commit', 'hist-2', 'compat-hist:2']);
  try {
    const [base, one, two] = [await id('busybox'), await id('compat-hist:1'), await id('compat-hist:2')];
    // One row per history entry, top first; the IDs walk the parent chain (busybox is imported: one row).
    const rows = (await docker(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', 'compat-hist:2'])).stdout.trim().split('\n');
    assert.deepEqual(rows, [`${two}|sh -c echo 2 > /two`, `${one}|sh -c echo 1 > /one`, `${base}|`]);
    const api = JSON.parse((await d.request('GET', '/v1.44/images/compat-hist:2/history')).body.toString()) as Array<{ Id: string; Tags: string[] | null }>;
    assert.deepEqual(api.map((r) => [r.Id, r.Tags]), [[two, ['compat-hist:2']], [one, ['compat-hist:1']], [base, ['busybox:latest']]]);
    const insp = JSON.parse((await docker(['image', 'inspect', 'compat-hist:2'])).stdout)[0] as { Parent: string; Container: string; ContainerConfig: { Cmd: string[]; Image: string } };
    assert.equal(insp.Parent, one);
    assert.deepEqual(insp.ContainerConfig.Cmd, ['sh', '-c', 'echo 2 > /two']);
    assert.equal(insp.ContainerConfig.Image, 'compat-hist:1');
    assert.equal(insp.Container, (await docker(['inspect', '-f', '{{.Id}}', 'hist-2'])).stdout.trim());
    // A pulled/imported image has no parent.
    assert.equal((await docker(['image', 'inspect', '-f', '{{.Parent}}', 'busybox'])).stdout.trim(), '');
  } finally {
    await docker(['rm', '-f', 'hist-1', 'hist-2']);
    await docker(['rmi', 'compat-hist:2', 'compat-hist:1'], { ok: false });
  }
});

test('docker exec under its own monitor: stdin (-i), exit codes, -d, stderr, and the process\'s parent is the exec\'s monitor', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--name', 'exec-mon', 'busybox', 'sleep', '1000']);
  try {
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const p = execFile(DOCKER, ['exec', '-i', 'exec-mon', 'sh', '-c', 'cat; echo err >&2'], { env: d.env, timeout: 20_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: stdout + '|' + stderr }));
      p.stdin!.end('hello through stdin\n');
    });
    assert.deepEqual(out, { code: 0, stdout: 'hello through stdin\n|err\n' });
    assert.equal((await docker(['exec', 'exec-mon', 'sh', '-c', 'exit 3'], { ok: false })).code, 3);
    await docker(['exec', '-d', 'exec-mon', 'sleep', '77']);
    const top = (await docker(['top', 'exec-mon', '-o', 'pid,ppid,args'])).stdout.split('\n').filter((l) => /sleep 77$/.test(l));
    assert.equal(top.length, 1, 'the detached exec is in top');
    const ppid = Number(top[0]!.trim().split(/\s+/)[1]);
    assert.match(readFileSync(`/proc/${ppid}/cmdline`, 'utf8'), /hako-monitor\0--dir\0[^\0]*\/execs\//, 'its parent is its monitor, not hakod');
    assert.doesNotMatch(readFileSync(`/proc/${ppid}/cmdline`, 'utf8'), /--client-fd/, 'a detached exec has no client');
    // An attached exec's client is handed to its monitor at the launch (no connect after it).
    const attached = execFile(DOCKER, ['exec', 'exec-mon', 'sleep', '78'], { env: d.env, timeout: 20_000 });
    try {
      let line: string | undefined;
      for (let i = 0; i < 200 && !line; i++) {
        line = (await docker(['top', 'exec-mon', '-o', 'pid,ppid,args'])).stdout.split('\n').find((l) => /sleep 78$/.test(l));
        if (!line) await new Promise((r) => setTimeout(r, 25));
      }
      assert.ok(line, 'the attached exec is in top');
      assert.match(readFileSync(`/proc/${Number(line.trim().split(/\s+/)[1])}/cmdline`, 'utf8'), /\0--client-fd\0\d+/, 'its monitor got the client at its launch');
    } finally {
      attached.kill('SIGKILL');
    }
  } finally {
    await docker(['rm', '-f', 'exec-mon']);
  }
});
