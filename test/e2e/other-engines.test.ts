// Other engines driving hako-runtime as their OCI runtime (issue 2): dockerd with
// `--add-runtime hako=…`, through containerd-shim-runc-v2, which calls
//   --root R --log F --log-format json create --bundle B --pid-file P [--console-socket S]
//   start / state / kill / delete [--force] / exec --process F --detach --pid-file P / ps / pause / resume
// The daemon is private to the test: its own data-root, exec-root and socket under a temp dir,
// no bridge, no iptables, no ip forwarding/masquerade, so it touches no host networking. The image
// is a busybox rootfs imported with `docker import` (no registry). Skips, saying why, when not
// root or when dockerd/containerd/the docker CLI are missing (Debian: apt-get install docker.io;
// ~17 s on this machine kind).
//
// The first suite needs no engine: the command-line behaviours the shim relies on.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, chmodSync, readdirSync, rmdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, BUSYBOX, tempDir, makeBusyboxRootfs, mountsUnder } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'bin', 'hako-runtime.cjs');

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const baseSkip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static' : false;

describe('hako-runtime as containerd-shim-runc-v2 calls it', { skip: baseSkip }, () => {
  let h: Harness;
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, '--root', h.root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  before(() => {
    h = harness('engines');
  });
  after(async () => {
    await h.cleanup();
  });

  test('delete --force of a container that is already gone succeeds (the shim repeats it on cleanup)', () => {
    const r = cli('delete', '--force', 'gone');
    assert.equal(r.code, 0, r.err);
    const plain = cli('delete', 'gone');
    assert.equal(plain.code, 1);
    assert.match(plain.err, /container "gone" does not exist/);
  });

  test('with --log, warnings go to the log as JSON and not to stderr (stderr is the container\'s)', () => {
    const { path } = h.bundle('w1', undefined, ['/bin/true']);
    // A spec warning: an AppArmor profile, which hako ignores and says so. (Unknown seccomp syscall
    // names are only debug notices, as with runc.)
    const cfg = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8'));
    cfg.process.apparmorProfile = 'hako-test-profile';
    writeFileSync(join(path, 'config.json'), JSON.stringify(cfg));
    const log = join(h.dir, 'w1.log');
    const r = cli('--log', log, '--log-format', 'json', 'run', '--bundle', path, 'w1');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '', 'nothing on stderr');
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
    assert.ok(lines.some((l) => l.level === 'warning' && /apparmorProfile "hako-test-profile" ignored/.test(l.msg)), JSON.stringify(lines));
    assert.ok(lines.every((l) => typeof l.time === 'string'));
  });
});

const dockerSkip = baseSkip || (!onPath('dockerd') ? 'needs dockerd (Debian: apt-get install docker.io)' : !onPath('containerd') ? 'needs containerd' : !onPath('docker') ? 'needs the docker CLI' : false);

describe('dockerd --add-runtime hako', { skip: dockerSkip, timeout: 240_000 }, () => {
  let tmp: { path: string; cleanup: () => void };
  let daemon: ChildProcess | undefined;
  let sock = '';
  const cgroupParent = `hako-test-dockerd-${process.pid}`;
  const docker = (args: string[], opts: { input?: string; timeout?: number } = {}) => {
    const r = spawnSync('docker', args, {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
      input: opts.input ?? '',
      timeout: opts.timeout ?? 60_000,
    });
    return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
  };
  const ok = (args: string[]) => {
    const r = docker(args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
    return r.out;
  };

  before(async () => {
    tmp = tempDir('hako-dockerd-');
    const root = tmp.path;
    sock = join(root, 'docker.sock');
    const wrapper = join(root, 'hako-runtime');
    // dockerd wants one executable path; NODE_EXTRA_CA_CERTS only slows Node's start.
    writeFileSync(wrapper, `#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec '${process.execPath}' '${bin}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    daemon = spawn(
      'dockerd',
      [
        '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
        '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'dockerd.pid'),
        '-H', `unix://${sock}`, '--add-runtime', `hako=${wrapper}`,
        '--containerd-namespace', 'hako-test', '--containerd-plugins-namespace', 'hako-test-plugins',
        // Not docker's default /docker: a cgroup of our own, removed afterwards.
        '--cgroup-parent', `/${cgroupParent}`,
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    const deadline = Date.now() + 30_000;
    while (docker(['version'], { timeout: 5000 }).code !== 0) {
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error('dockerd did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
    const rootfs = join(root, 'rootfs');
    makeBusyboxRootfs(rootfs);
    const tar = join(root, 'busybox.tar');
    assert.equal(spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']).status, 0);
    ok(['import', tar, 'hako-busybox:test']);
  });

  after(async () => {
    if (daemon && daemon.exitCode === null) {
      docker(['rm', '-f', ...docker(['ps', '-aq']).out.split('\n').filter(Boolean)]);
      const containerdPid = Number(readIf(join(tmp.path, 'exec', 'containerd', 'containerd.pid')));
      const exited = new Promise((r) => daemon!.once('exit', r));
      process.kill(daemon.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (daemon.exitCode === null && daemon.signalCode === null) process.kill(daemon.pid!, 'SIGKILL');
      // dockerd stops the containerd it started; make sure, by its recorded pid.
      if (containerdPid > 0 && isAlive(containerdPid)) process.kill(containerdPid, 'SIGKILL');
    }
    if (tmp) {
      // dockerd bind-mounts its data-root on itself and unmounts it on a clean shutdown.
      for (const m of mountsUnder(tmp.path).reverse()) spawnSync('umount', ['-l', m]);
      tmp.cleanup();
    }
    removeCgroupTree(cgroupParent);
  });

  test('run --rm prints and passes the exit status', () => {
    assert.equal(ok(['run', '--rm', '--runtime', 'hako', '--network', 'none', 'hako-busybox:test', 'echo', 'hi']), 'hi\n');
    const r = docker(['run', '--rm', '--runtime', 'hako', '--network', 'none', 'hako-busybox:test', 'sh', '-c', 'exit 7']);
    assert.equal(r.code, 7, r.err);
  });

  test('run -i passes stdin', () => {
    const r = docker(['run', '--rm', '-i', '--runtime', 'hako', '--network', 'none', 'hako-busybox:test', 'cat'], { input: 'through stdin\n' });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'through stdin\n');
  });

  test('-d, exec, logs, top, stats, pause/unpause, stop, rm', async () => {
    const id = ok(['run', '-d', '--runtime', 'hako', '--network', 'none', 'hako-busybox:test', 'sh', '-c', 'echo started; trap "echo got-term; exit 3" TERM; while true; do sleep 0.1; done']).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(ok(['exec', id, 'echo', 'exec-ok']), 'exec-ok\n');
    assert.equal(docker(['exec', id, 'sh', '-c', 'exit 6']).code, 6);
    assert.equal(ok(['exec', '-e', 'FOO=bar', '-w', '/tmp', '-u', '1000:1000', id, 'sh', '-c', 'echo $FOO $(pwd) $(id -u):$(id -g)']), 'bar /tmp 1000:1000\n');
    assert.match(ok(['top', id]), /while true/);
    assert.match(ok(['stats', '--no-stream', '--format', '{{.PIDs}}', id]).trim(), /^[1-9]\d*$/);
    ok(['pause', id]);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'paused');
    ok(['unpause', id]);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
    ok(['stop', '-t', '5', id]);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]).trim(), 'exited 3');
    assert.match(ok(['logs', id]), /started\n(.|\n)*got-term/);
    ok(['rm', id]);
  });

  test('-it through a pty (script): a terminal inside, exit status through', (t) => {
    if (!onPath('script')) return t.skip('needs script (bsdutils)');
    const r = spawnSync('script', ['-qec', 'docker run --rm -it --runtime hako --network none hako-busybox:test sh -c "tty; exit 5"', '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
      timeout: 60_000,
    });
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/0/);
  });

  test('exec -it through a pty', (t) => {
    if (!onPath('script')) return t.skip('needs script (bsdutils)');
    const id = ok(['run', '-d', '--runtime', 'hako', '--network', 'none', 'hako-busybox:test', 'sleep', '60']).trim();
    try {
      const r = spawnSync('script', ['-qec', `docker exec -it ${id} sh -c "tty; exit 4"`, '/dev/null'], {
        encoding: 'utf8',
        env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
        timeout: 60_000,
      });
      assert.equal(r.status, 4, r.stderr);
      assert.match(r.stdout, /\/dev\/pts\/\d+/);
    } finally {
      ok(['rm', '-f', id]);
    }
  });
});

/** rmdir <hierarchy>/<name> and everything below it, deepest first, in every cgroup hierarchy. */
function removeCgroupTree(name: string): void {
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((h) => join(base, h));
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {
      /* still busy: left for the cgroup's owner */
    }
  };
  for (const h of hierarchies) if (existsSync(join(h, name))) walk(join(h, name));
}

function readIf(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

