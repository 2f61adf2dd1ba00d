// /dev/shm by IPC mode through hakod with the docker CLI, as a private dockerd 20.10 did it:
// a shareable container's /dev/shm is a tmpfs on the host side (<exec-root>/shm/<id>: ShmSize,
// nosuid,nodev,noexec, mode 1777) bound in; a `container:<donor>` joiner binds the donor's (its
// files are the donor's, its own --shm-size plays no part); `host` binds the host's /dev/shm;
// `private` has a tmpfs of its own; `none` has no /dev/shm. The host-side mount goes when the run
// is over (stop, a failed start, rm; the joiner keeps its bind and the files), survives a hakod
// crash while the container runs, and a restarted hakod drops one whose container died meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, busyboxRootfsTar, tempDir } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !hasDocker ? `${DOCKER} is missing (the docker CLI is needed for this test)` : !hasEngine ? 'the container engine is not built' : !isRoot ? 'container flows need root' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;

let d: TestDaemon;
let tmp: { path: string; cleanup: () => void };

function docker(args: string[], opts: { ok?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(DOCKER, args, { env: d.env, timeout: 30_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
      if (e?.killed) assert.fail(`docker ${args.join(' ')} hung\nstdout: ${stdout}\nstderr: ${stderr}`);
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
      resolve({ code, stdout, stderr });
    });
  });
}

const id = async (name: string): Promise<string> => (await docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
const shmDir = (): string => join(d.execRoot, 'shm');
/** The host-side mount of a container's /dev/shm, as /proc/self/mountinfo shows it (hakod runs in this mount namespace). */
function hostShmMount(cid: string): { fstype: string; source: string; opts: string; superOpts: string } | undefined {
  const target = join(shmDir(), cid);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    const f = pre?.split(' ');
    if (!f || !post || f[4] !== target) continue;
    const [fstype, source, superOpts] = post.split(' ');
    return { fstype: fstype!, source: source!, opts: f[5]!, superOpts: superOpts! };
  }
  return undefined;
}
const shmLine = async (name: string): Promise<string> => (await docker(['exec', name, 'sh', '-c', 'grep " /dev/shm " /proc/mounts || true'])).stdout.trim();
const rmAll = (...names: string[]) => docker(['rm', '-f', ...names], { ok: false });

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-ipc-shm-');
  const tar = busyboxRootfsTar(tmp.path);
  d = await startDaemon();
  await docker(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
});

after(async () => {
  if (d) {
    await rmAll(...(await docker(['ps', '-aq'], { ok: false })).stdout.split('\n').filter(Boolean));
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  tmp?.cleanup();
});

test('a joiner sees the donor\'s /dev/shm (host-side tmpfs of the donor\'s --shm-size; the joiner\'s own is ignored)', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--shm-size', '8m', '--name', 'shm-don', 'busybox', 'sleep', '300']);
  try {
    const don = await id('shm-don');
    const m = hostShmMount(don);
    assert.ok(m, `no host-side mount at ${join(shmDir(), don)}`);
    assert.equal(m.fstype, 'tmpfs');
    assert.equal(m.source, 'shm');
    assert.match(m.opts, /^rw,nosuid,nodev,noexec\b/);
    assert.match(m.superOpts, /\bsize=8192k\b/);
    assert.equal((statSync(join(shmDir(), don)).mode & 0o7777).toString(8), '1777');
    assert.equal(await shmLine('shm-don'), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k 0 0');
    await docker(['exec', 'shm-don', 'sh', '-c', 'echo from-donor > /dev/shm/f']);
    await docker(['run', '-d', '--network', 'none', '--ipc', 'container:shm-don', '--shm-size', '4m', '--name', 'shm-join', 'busybox', 'sleep', '300']);
    assert.equal((await docker(['exec', 'shm-join', 'cat', '/dev/shm/f'])).stdout, 'from-donor\n');
    assert.equal(await shmLine('shm-join'), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k 0 0', 'the donor\'s tmpfs, not one of 4m');
    await docker(['exec', 'shm-join', 'sh', '-c', 'echo from-joiner > /dev/shm/g']);
    assert.equal((await docker(['exec', 'shm-don', 'cat', '/dev/shm/g'])).stdout, 'from-joiner\n');
    assert.equal(readFileSync(join(shmDir(), don, 'f'), 'utf8'), 'from-donor\n');
    // dockerd's inspect: the joiner's own ShmSize as given, no mount in Mounts.
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.ShmSize}} {{json .Mounts}}', 'shm-join'])).stdout.trim(), '4194304 []');
  } finally {
    await rmAll('shm-join', 'shm-don');
  }
});

test('/dev/shm per IPC mode and --shm-size: private and shareable sized, host the host\'s, none absent', { skip, timeout: 60_000 }, async () => {
  const run = async (mode: string, cmd: string) => (await docker(['run', '--rm', '--network', 'none', '--ipc', mode, '--shm-size', '4m', 'busybox', 'sh', '-c', cmd], { ok: false }));
  assert.equal((await run('private', 'grep " /dev/shm " /proc/mounts')).stdout.trim(), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=4096k 0 0');
  assert.equal((await run('shareable', 'grep " /dev/shm " /proc/mounts')).stdout.trim(), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=4096k 0 0');
  const none = await run('none', 'ls -d /dev/shm; grep -c " /dev/shm " /proc/mounts');
  assert.equal(none.stdout.trim(), '0');
  assert.match(none.stderr, /\/dev\/shm: No such file or directory/);
  // host: the host's /dev/shm itself (a file of the host's is there).
  const name = `hako-test-ipc-shm-${process.pid}`;
  writeFileSync(join('/dev/shm', name), 'host file\n');
  try {
    assert.equal((await run('host', `cat /dev/shm/${name}`)).stdout, 'host file\n');
  } finally {
    rmSync(join('/dev/shm', name), { force: true });
  }
  assert.deepEqual(existsSync(shmDir()) ? readdirSync(shmDir()) : [], [], 'no host-side mount left by the --rm runs');
});

test('donor stop, start and rm while a joiner runs: the host-side mount goes at stop (the joiner keeps the files), a start gets an empty one, rm leaves nothing', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--name', 'shm-don2', 'busybox', 'sleep', '300']);
  try {
    const don = await id('shm-don2');
    await docker(['exec', 'shm-don2', 'sh', '-c', 'echo one > /dev/shm/f']);
    await docker(['run', '-d', '--network', 'none', '--ipc', 'container:shm-don2', '--name', 'shm-join2', 'busybox', 'sleep', '300']);
    await docker(['stop', '-t', '0', 'shm-don2']);
    // The exit's cleanup runs right after the stop's answer (unmount, then the directory goes);
    // start and rm wait for it, a reader does not.
    for (let i = 0; i < 100 && (hostShmMount(don) || existsSync(join(shmDir(), don))); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(hostShmMount(don), undefined, 'the host-side mount of a stopped donor');
    assert.equal(existsSync(join(shmDir(), don)), false);
    assert.equal((await docker(['exec', 'shm-join2', 'cat', '/dev/shm/f'])).stdout, 'one\n', 'the joiner keeps its bind');
    await docker(['start', 'shm-don2']);
    assert.ok(hostShmMount(don));
    assert.equal((await docker(['exec', 'shm-don2', 'ls', '-A', '/dev/shm'])).stdout, '', 'a new, empty tmpfs');
    await docker(['rm', '-f', 'shm-don2']);
    for (let i = 0; i < 100 && existsSync(join(shmDir(), don)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(hostShmMount(don), undefined);
    assert.equal(existsSync(join(shmDir(), don)), false);
    assert.equal((await docker(['exec', 'shm-join2', 'cat', '/dev/shm/f'])).stdout, 'one\n');
    assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'shm-join2'])).stdout.trim(), 'true');
  } finally {
    await rmAll('shm-join2', 'shm-don2');
  }
});

test('a shareable start that fails after its /dev/shm was mounted leaves no mount; a user mount on /dev/shm makes the donor non-shareable (dockerd)', { skip, timeout: 60_000 }, async () => {
  const r = await docker(['run', '--network', 'none', '--ipc', 'shareable', '--name', 'shm-fail', 'busybox', '/no/such/program'], { ok: false });
  try {
    assert.equal(r.code, 127, r.stderr);
    const cid = await id('shm-fail');
    assert.equal(hostShmMount(cid), undefined);
    assert.equal(existsSync(join(shmDir(), cid)), false);
  } finally {
    await rmAll('shm-fail');
  }
  await docker(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--tmpfs', '/dev/shm:size=2m', '--name', 'shm-tdon', 'busybox', 'sleep', '300']);
  try {
    const tdon = await id('shm-tdon');
    assert.equal(hostShmMount(tdon), undefined, 'the user\'s tmpfs is its /dev/shm');
    const j = await docker(['run', '--network', 'none', '--ipc', 'container:shm-tdon', 'busybox', 'true'], { ok: false });
    assert.equal(j.code, 125);
    assert.match(j.stderr, new RegExp(`can't join IPC of container ${tdon}: non-shareable IPC \\(hint: use IpcMode:shareable for the donor container\\)`));
  } finally {
    await rmAll('shm-tdon');
    await rmAll(...(await docker(['ps', '-aq', '--filter', 'status=created'], { ok: false })).stdout.split('\n').filter(Boolean));
  }
});

test('hakod crashes: a running donor\'s /dev/shm stays (files and all) and new joiners get it; one whose donor died meanwhile is dropped at the restart', { skip, timeout: 120_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--name', 'shm-don3', 'busybox', 'sleep', '300']);
  await docker(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--name', 'shm-don4', 'busybox', 'sleep', '300']);
  try {
    const don3 = await id('shm-don3');
    const don4 = await id('shm-don4');
    await docker(['exec', 'shm-don3', 'sh', '-c', 'echo kept > /dev/shm/f']);
    await d.restart('SIGKILL');
    assert.ok(hostShmMount(don3), 'kept across the restart');
    await docker(['run', '-d', '--network', 'none', '--ipc', 'container:shm-don3', '--name', 'shm-join3', 'busybox', 'sleep', '300']);
    assert.equal((await docker(['exec', 'shm-join3', 'cat', '/dev/shm/f'])).stdout, 'kept\n');
    // Crash again, and don4's process dies while no hakod runs.
    const pid4 = Number((await docker(['inspect', '-f', '{{.State.Pid}}', 'shm-don4'])).stdout.trim());
    await d.crash();
    process.kill(pid4, 'SIGKILL');
    for (let i = 0; i < 100 && existsSync(`/proc/${pid4}`); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(hostShmMount(don4), 'still mounted while no hakod runs');
    d = await startDaemon([], { after: d });
    for (let i = 0; i < 100 && (hostShmMount(don4) || existsSync(join(shmDir(), don4))); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(hostShmMount(don4), undefined, 'dropped by the restarted hakod');
    assert.equal(existsSync(join(shmDir(), don4)), false);
    assert.equal((await docker(['inspect', '-f', '{{.State.Running}}', 'shm-don4'])).stdout.trim(), 'false');
    assert.ok(hostShmMount(don3));
    await docker(['rm', '-f', 'shm-join3', 'shm-don3', 'shm-don4']);
    for (let i = 0; i < 100 && existsSync(join(shmDir(), don3)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(hostShmMount(don3), undefined);
    assert.deepEqual(readdirSync(shmDir()), [], 'nothing left after rm');
  } finally {
    await rmAll('shm-join3', 'shm-don3', 'shm-don4');
  }
});

test('an unknown IPC mode is taken at create and refused at start, as dockerd: 500 "Invalid IPC mode: X" (container: without a name: "can\'t join IPC of container : …"), nothing mounted', { skip, timeout: 60_000 }, async () => {
  // `container:` without a name: taken at create, refused at start in dockerd's words.
  await docker(['create', '--network', 'none', '--ipc', 'container:', '--name', 'shm-noname', 'busybox', 'true']);
  try {
    assert.equal((await docker(['inspect', '-f', '{{.HostConfig.IpcMode}}', 'shm-noname'])).stdout.trim(), 'container:');
    const r = await d.request('POST', '/v1.44/containers/shm-noname/start');
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.body.toString()).message, 'can\'t join IPC of container : invalid name or ID supplied: ""');
    assert.equal((await docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'shm-noname'])).stdout.trim(), 'created 128');
  } finally {
    await rmAll('shm-noname');
  }
  for (const mode of ['bogus', 'Private', 'shareable:x']) {
    await docker(['create', '--network', 'none', '--ipc', mode, '--name', 'shm-bad', 'busybox', 'true']);
    try {
      assert.equal((await docker(['inspect', '-f', '{{.HostConfig.IpcMode}}', 'shm-bad'])).stdout.trim(), mode);
      const r = await d.request('POST', '/v1.44/containers/shm-bad/start');
      assert.equal(r.status, 500);
      assert.equal(JSON.parse(r.body.toString()).message, `Invalid IPC mode: ${mode}`);
      assert.equal((await docker(['inspect', '-f', '{{.State.Status}} {{.State.Error}}', 'shm-bad'])).stdout.trim(), `created Invalid IPC mode: ${mode}`);
    } finally {
      await rmAll('shm-bad');
    }
  }
  assert.deepEqual(existsSync(shmDir()) ? readdirSync(shmDir()) : [], []);
});

test('a donor on the host\'s IPC can be joined, as dockerd: the joiner gets the host\'s IPC namespace and /dev/shm; a private donor is refused', { skip, timeout: 60_000 }, async () => {
  await docker(['run', '-d', '--network', 'none', '--ipc', 'host', '--name', 'shm-hdon', 'busybox', 'sleep', '300']);
  await docker(['run', '-d', '--network', 'none', '--ipc', 'private', '--name', 'shm-pdon', 'busybox', 'sleep', '300']);
  const name = `hako-test-ipc-shm-${process.pid}-j`;
  writeFileSync(join('/dev/shm', name), 'host file\n');
  try {
    const r = await docker(['run', '--rm', '--network', 'none', '--ipc', 'container:shm-hdon', 'busybox', 'sh', '-c', `cat /dev/shm/${name}; readlink /proc/self/ns/ipc`]);
    assert.equal(r.stdout, `host file\n${readlinkSync('/proc/self/ns/ipc')}\n`);
    const pdon = await id('shm-pdon');
    const p = await docker(['run', '--rm', '--network', 'none', '--ipc', 'container:shm-pdon', 'busybox', 'true'], { ok: false });
    assert.equal(p.code, 125);
    assert.match(p.stderr, new RegExp(`can't join IPC of container ${pdon}: non-shareable IPC \\(hint: use IpcMode:shareable for the donor container\\)`));
  } finally {
    rmSync(join('/dev/shm', name), { force: true });
    await rmAll('shm-hdon', 'shm-pdon');
    await rmAll(...(await docker(['ps', '-aq', '--filter', 'status=created'], { ok: false })).stdout.split('\n').filter(Boolean));
  }
});

test('hakod --default-ipc-mode shareable --default-shm-size 16m: recorded at create for containers that set neither (dockerd 20.10), a joiner works; what the client sets wins', { skip, timeout: 90_000 }, async () => {
  const main = d;
  const other = await startDaemon(['--default-ipc-mode', 'shareable', '--default-shm-size', '16m']);
  d = other;
  try {
    const tar = join(tmp.path, 'busybox.tar');
    await docker(['import', '--change', 'CMD ["sh"]', tar, 'busybox:latest']);
    await docker(['create', '--network', 'none', '--name', 'dflt-a', 'busybox', 'sleep', '300']);
    await docker(['create', '--network', 'none', '--ipc', 'private', '--shm-size', '4m', '--name', 'dflt-b', 'busybox', 'sleep', '300']);
    assert.equal((await docker(['inspect', '-f', '{{.Name}} {{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}}', 'dflt-a', 'dflt-b'])).stdout, '/dflt-a shareable 16777216\n/dflt-b private 4194304\n');
    await docker(['start', 'dflt-a', 'dflt-b']);
    assert.equal(await shmLine('dflt-a'), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=16384k 0 0');
    assert.match(hostShmMount(await id('dflt-a'))?.superOpts ?? '', /\bsize=16384k\b/);
    assert.equal(await shmLine('dflt-b'), 'shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=4096k 0 0');
    await docker(['exec', 'dflt-a', 'sh', '-c', 'echo d > /dev/shm/f']);
    assert.equal((await docker(['run', '--rm', '--network', 'none', '--ipc', 'container:dflt-a', 'busybox', 'cat', '/dev/shm/f'])).stdout, 'd\n');
  } finally {
    await rmAll('dflt-a', 'dflt-b');
    d = main;
    assert.equal(await other.stop(), 0);
  }
});
