// Local volumes with driver options against a real hakod and the docker CLI: the device is
// mounted on the volume's _data while containers use it (tmpfs, bind), shared by concurrent
// users, unmounted after the last one, by volume rm and at daemon start when nobody uses it, kept
// across a daemon crash for a running user; mount failures name the volume, device and errno.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { dockerSaveArchive } from '../helpers/images.js';
import { isRoot, mountsUnder, tempDir } from '../helpers/fixtures.js';

const skip = !hasDocker ? `${DOCKER} is missing (the docker CLI is needed for this test)` : !hasEngine ? 'the engine is not built' : !isRoot ? 'needs root (mounts, containers)' : false;

let d: TestDaemon;
let work: { path: string; cleanup: () => void };

function docker(args: string[], opts: { ok?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(DOCKER, args, { env: d.env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

const dataOf = (name: string): string => join(d.root, 'volumes', name, '_data');
const mountedAt = (path: string): number => mountsUnder(path).filter((m) => m === path).length;

/** Polls until `fn` holds (the release after an exit is deferred a little). */
async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}\ndaemon log:\n${d.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  if (skip) return;
  work = tempDir('hako-volopts-');
  d = await startDaemon(['--iptables=false']);
  await docker(['load', '-i', dockerSaveArchive(work.path, 'volume options test')]);
});

after(async () => {
  if (d) {
    const ids = (await docker(['ps', '-aq'], { ok: false })).stdout.trim().split('\n').filter(Boolean);
    if (ids.length > 0) await docker(['rm', '-f', ...ids], { ok: false });
    // Whatever a failed test left mounted under the daemon's roots or our temp dirs.
    const code = await d.stop();
    for (const m of [...mountsUnder(d.root), ...mountsUnder(work.path)].reverse()) spawnSync('umount', ['-l', m]);
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  work?.cleanup();
});

test('tmpfs volume: mounted with its size while used, shared by two containers at once, unmounted after the last stops', { skip, timeout: 120_000 }, async () => {
  await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'vo-tmpfs']);
  const data = dataOf('vo-tmpfs');
  assert.equal(mountedAt(data), 0, 'nothing is mounted before a container uses it');
  await docker(['run', '-d', '--name', 'vo-a', '-v', 'vo-tmpfs:/data', 'busybox', 'sleep', '1000']);
  assert.equal(mountedAt(data), 1);
  const inside = (await docker(['exec', 'vo-a', 'grep', ' /data ', '/proc/mounts'])).stdout;
  assert.match(inside, /^tmpfs \/data tmpfs .*size=1024k/);
  const opts = JSON.parse((await docker(['volume', 'inspect', 'vo-tmpfs'])).stdout) as Array<{ Options: Record<string, string>; Mountpoint: string }>;
  assert.deepEqual(opts[0]!.Options, { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  assert.equal(opts[0]!.Mountpoint, data);
  await docker(['run', '-d', '--name', 'vo-b', '-v', 'vo-tmpfs:/data', 'busybox', 'sh', '-c', 'echo shared > /data/f; sleep 1000']);
  await until('vo-b wrote /data/f', () => existsSync(join(data, 'f')));
  assert.equal((await docker(['exec', 'vo-a', 'cat', '/data/f'])).stdout, 'shared\n');
  assert.equal(mountedAt(data), 1, 'one mount for both users');
  await docker(['stop', '-t', '0', 'vo-a']);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(mountedAt(data), 1, 'still used by vo-b');
  assert.equal((await docker(['exec', 'vo-b', 'cat', '/data/f'])).stdout, 'shared\n');
  await docker(['stop', '-t', '0', 'vo-b']);
  await until('the last user stopped: unmounted', () => mountedAt(data) === 0);
  assert.deepEqual(readdirSync(data), [], 'the data lived in the tmpfs, not in _data');
  // Started again: a fresh tmpfs (as dockerd), and stopped: unmounted again.
  await docker(['start', 'vo-a']);
  assert.equal(mountedAt(data), 1);
  await docker(['rm', '-f', 'vo-a', 'vo-b']);
  await until('removed: unmounted', () => mountedAt(data) === 0);
  await docker(['volume', 'rm', 'vo-tmpfs']);
  assert.equal(existsSync(join(d.root, 'volumes', 'vo-tmpfs')), false);
});

test('a volume still mounted without a user (a leak) is unmounted by volume rm before its files go', { skip, timeout: 60_000 }, async () => {
  const host = join(work.path, 'keep');
  spawnSync('mkdir', ['-p', host]);
  spawnSync('sh', ['-c', `echo keep > ${host}/f`]);
  await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'vo-leak']);
  const data = dataOf('vo-leak');
  assert.equal(spawnSync('mount', ['--bind', host, data]).status, 0);
  await docker(['volume', 'rm', 'vo-leak']);
  assert.equal(mountedAt(data), 0);
  assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'keep\n', 'the bound directory\'s files are not deleted');
});

test('bind volume (type=none, o=bind): writes land in the device directory; ro makes it read-only', { skip, timeout: 60_000 }, async () => {
  const host = join(work.path, 'bind');
  spawnSync('mkdir', ['-p', host]);
  await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'vo-bind']);
  await docker(['run', '--rm', '-v', 'vo-bind:/data', 'busybox', 'sh', '-c', 'echo hello > /data/hello']);
  assert.equal(readFileSync(join(host, 'hello'), 'utf8'), 'hello\n');
  await until('unmounted after the run', () => mountedAt(dataOf('vo-bind')) === 0);
  assert.deepEqual(readdirSync(dataOf('vo-bind')), []);
  await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind,ro', '-o', `device=${host}`, 'vo-bind-ro']);
  const ro = await docker(['run', '--rm', '-v', 'vo-bind-ro:/data', 'busybox', 'sh', '-c', 'cat /data/hello; touch /data/x'], { ok: false });
  assert.equal(ro.stdout, 'hello\n');
  assert.match(ro.stderr, /Read-only file system/);
  assert.equal(existsSync(join(host, 'x')), false);
  await until('unmounted after the run', () => mountedAt(dataOf('vo-bind-ro')) === 0);
  await docker(['volume', 'rm', 'vo-bind', 'vo-bind-ro']);
  assert.equal(readFileSync(join(host, 'hello'), 'utf8'), 'hello\n', 'volume rm leaves the device directory alone');
});

test('copy-up of the image content into a new empty volume goes into the mounted tmpfs', { skip, timeout: 60_000 }, async () => {
  await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=2m', 'vo-copy']);
  const r = await docker(['run', '--name', 'vo-copy-c', '-v', 'vo-copy:/etc', 'busybox', 'sh', '-c', 'grep ^root: /etc/passwd; grep " /etc " /proc/mounts']);
  assert.match(r.stdout, /^root:x:0:0:/);
  assert.match(r.stdout, /tmpfs \/etc tmpfs/);
  await until('unmounted after the run', () => mountedAt(dataOf('vo-copy')) === 0);
  assert.deepEqual(readdirSync(dataOf('vo-copy')), [], 'copied into the tmpfs, not into _data');
  await docker(['rm', 'vo-copy-c']);
  await docker(['volume', 'rm', 'vo-copy']);
});

test('bad options: an unknown key is refused at create; a bad type or mount data fails the start, naming the volume, device and errno, nothing left mounted', { skip, timeout: 60_000 }, async () => {
  const unknown = await docker(['volume', 'create', '-o', 'foo=bar', 'vo-bad0'], { ok: false });
  assert.equal(unknown.stderr.trim(), 'Error response from daemon: create vo-bad0: invalid option: "foo"');
  await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m,bogus=1', 'vo-bad1']);
  const data1 = dataOf('vo-bad1');
  const r1 = await docker(['run', '--name', 'vo-bad1-c', '-v', 'vo-bad1:/data', 'busybox', 'true'], { ok: false });
  assert.equal(r1.code, 125);
  assert.match(r1.stderr, new RegExp(`Error response from daemon: error while mounting volume '${data1}': failed to mount local volume: mount tmpfs:${data1}, data: size=1m,bogus=1: invalid argument`));
  await docker(['volume', 'create', '-o', 'type=nosuchfs', '-o', 'device=x', '-o', 'o=nosuid,ro', 'vo-bad2']);
  const data2 = dataOf('vo-bad2');
  const r2 = await docker(['run', '--rm', '-v', 'vo-bad2:/data', 'busybox', 'true'], { ok: false });
  assert.match(r2.stderr, new RegExp(`error while mounting volume '${data2}': failed to mount local volume: mount x:${data2}, flags: 0x3: no such device`));
  const missing = join(work.path, 'nonexistent');
  await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${missing}`, 'vo-bad3']);
  const r3 = await docker(['run', '--rm', '-v', 'vo-bad3:/data', 'busybox', 'true'], { ok: false });
  assert.match(r3.stderr, new RegExp(`mount ${missing}:${dataOf('vo-bad3')}, flags: 0x1000: no such file or directory`));
  // The failed start left nothing mounted: no volume, no rootfs.
  assert.deepEqual(mountsUnder(d.root), []);
  const state = JSON.parse((await docker(['inspect', 'vo-bad1-c'])).stdout) as Array<{ State: { Status: string; Error: string } }>;
  assert.equal(state[0]!.State.Status, 'created');
  assert.match(state[0]!.State.Error, /failed to mount local volume/);
  await docker(['rm', 'vo-bad1-c']);
  await docker(['volume', 'rm', 'vo-bad1', 'vo-bad2', 'vo-bad3']);
});

test('daemon crash (kill -9) with a running user: the mount stays and its user is counted again; a mount nobody uses any more is undone at start-up', { skip, timeout: 120_000 }, async () => {
  await docker(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'vo-restart']);
  const data = dataOf('vo-restart');
  await docker(['run', '-d', '--name', 'vo-r1', '-v', 'vo-restart:/data', 'busybox', 'sh', '-c', 'echo before > /data/f; sleep 1000']);
  await until('vo-r1 wrote /data/f', () => existsSync(join(data, 'f')));
  await d.restart('SIGKILL');
  assert.equal(mountedAt(data), 1, 'kept mounted for the running container');
  // A new user shares the same tmpfs; its exit does not unmount it (vo-r1 still counts).
  assert.equal((await docker(['run', '--rm', '-v', 'vo-restart:/data', 'busybox', 'cat', '/data/f'])).stdout, 'before\n');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(mountedAt(data), 1);
  await docker(['stop', '-t', '0', 'vo-r1']);
  await until('the last user stopped: unmounted', () => mountedAt(data) === 0);
  // Mounted again, then the daemon dies and its user exits while it is away.
  await docker(['start', 'vo-r1']);
  assert.equal(mountedAt(data), 1);
  const pid = Number((await docker(['inspect', '-f', '{{.State.Pid}}', 'vo-r1'])).stdout.trim());
  await d.crash();
  process.kill(pid, 'SIGKILL');
  const again = await startDaemon(['--iptables=false'], { after: d });
  d = again;
  await until('unmounted at start-up', () => mountedAt(data) === 0);
  assert.equal((await docker(['inspect', '-f', '{{.State.Status}}', 'vo-r1'])).stdout.trim(), 'exited');
  await docker(['rm', 'vo-r1']);
  await docker(['volume', 'rm', 'vo-restart']);
  assert.deepEqual(mountsUnder(d.root), []);
});

test('--mount volume-opt=…: the volume the run makes gets those options (named and anonymous); a bad key fails the create', { skip, timeout: 60_000 }, async () => {
  const named = await docker(['run', '--rm', '--mount', 'type=volume,src=vo-mnt,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m', 'busybox', 'grep', ' /d ', '/proc/mounts']);
  assert.match(named.stdout, /^tmpfs \/d tmpfs .*size=1024k/);
  assert.equal((await docker(['volume', 'inspect', '-f', '{{json .Options}}', 'vo-mnt'])).stdout.trim(), '{"device":"tmpfs","o":"size=1m","type":"tmpfs"}');
  const anon = await docker(['run', '--rm', '--mount', 'type=volume,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs', 'busybox', 'grep', ' /d ', '/proc/mounts']);
  assert.match(anon.stdout, /^tmpfs \/d tmpfs /);
  const bad = await docker(['run', '--rm', '--mount', 'type=volume,src=vo-mnt2,dst=/d,volume-opt=foo=bar', 'busybox', 'true'], { ok: false });
  assert.match(bad.stderr, /Error response from daemon: create vo-mnt2: invalid option: "foo"/);
  assert.equal((await docker(['volume', 'ls', '-q', '--filter', 'name=vo-mnt2'])).stdout, '');
  await until('unmounted after the runs', () => mountsUnder(join(d.root, 'volumes')).length === 0);
  await docker(['volume', 'rm', 'vo-mnt']);
});

test('docker cp to and from a stopped container mounts its volumes for the copy (as dockerd), and unmounts them after', { skip, timeout: 60_000 }, async () => {
  const host = join(work.path, 'cp');
  spawnSync('mkdir', ['-p', host]);
  spawnSync('sh', ['-c', `echo from-host > ${host}/out`]);
  await docker(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${host}`, 'vo-cp']);
  await docker(['create', '--name', 'vo-cp-c', '-v', 'vo-cp:/data', 'busybox', 'true']);
  const src = join(work.path, 'cp-in');
  spawnSync('sh', ['-c', `echo from-cp > ${src}`]);
  await docker(['cp', src, 'vo-cp-c:/data/in']);
  assert.equal(readFileSync(join(host, 'in'), 'utf8'), 'from-cp\n', 'cp wrote through the mounted volume');
  const out = join(work.path, 'cp-out');
  await docker(['cp', 'vo-cp-c:/data/out', out]);
  assert.equal(readFileSync(out, 'utf8'), 'from-host\n');
  await until('unmounted after the copies', () => mountedAt(dataOf('vo-cp')) === 0);
  assert.deepEqual(readdirSync(dataOf('vo-cp')), []);
  await docker(['rm', 'vo-cp-c']);
  await docker(['volume', 'rm', 'vo-cp']);
});
