// hako-runtime as other engines call it: separate processes for create, start, state, kill,
// delete, as runc's command line works, plus spec/features and error exits.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, BUSYBOX } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static' : false;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(repo, 'bin', 'hako-runtime.js');

describe('hako-runtime command line', { skip }, () => {
  let h: Harness;
  const cli = (...args: string[]) => {
    // A created container inherits the command's stdio (as with runc): give `create` files, or
    // spawnSync would wait for the container to close our pipes.
    if (args[0] === 'create') {
      const io = h.stdio(`cli-${args[args.length - 1]}`);
      const r = spawnSync(process.execPath, [bin, '--root', h.root, ...args], { stdio: [io.fds[0], io.fds[1], io.fds[2]], timeout: 30_000 });
      io.close();
      return { code: r.status, out: '', err: io.read() };
    }
    const r = spawnSync(process.execPath, [bin, '--root', h.root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  before(() => {
    h = harness('cli');
  });
  after(async () => {
    await h.cleanup();
  });

  test('create, state, start, kill, delete as separate commands', async () => {
    const { path } = h.bundle('c1', undefined, ['/bin/sleep', '30']);
    const pidFile = join(h.dir, 'c1.pid');
    let r = cli('create', '--bundle', path, '--pid-file', pidFile, 'c1');
    assert.equal(r.code, 0, r.err);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    r = cli('state', 'c1');
    assert.equal(r.code, 0, r.err);
    const st = JSON.parse(r.out);
    assert.equal(st.status, 'created');
    assert.equal(st.pid, pid);
    assert.equal(st.bundle, path);
    r = cli('start', 'c1');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(cli('state', 'c1').out).status, 'running');
    r = cli('list', '--format', 'json');
    assert.equal(JSON.parse(r.out)[0].id, 'c1');
    r = cli('ps', '--format', 'json', 'c1');
    assert.deepEqual(JSON.parse(r.out), [pid]);
    r = cli('delete', 'c1');
    assert.equal(r.code, 1);
    assert.match(r.err, /not stopped: running/);
    r = cli('kill', 'c1', 'KILL');
    assert.equal(r.code, 0, r.err);
    const end = Date.now() + 5000;
    while (JSON.parse(cli('state', 'c1').out).status !== 'stopped') {
      assert.ok(Date.now() < end, 'container did not stop');
      await new Promise((res) => setTimeout(res, 20));
    }
    r = cli('delete', 'c1');
    assert.equal(r.code, 0, r.err);
    r = cli('state', 'c1');
    assert.equal(r.code, 1);
    assert.match(r.err, /container "c1" does not exist/);
  });

  test('run passes the exit status through', () => {
    const { path } = h.bundle('r1', undefined, ['/bin/sh', '-c', 'echo hi; exit 5']);
    const r = cli('run', '--bundle', path, 'r1');
    assert.equal(r.code, 5, r.err);
    assert.equal(r.out, 'hi\n');
  });

  test('seccomp syscall names unknown on an architecture are debug-level: silent by default, shown with --debug', () => {
    const { path } = h.bundle('sc1', (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [{ names: ['chown32', 'no_such_call', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      };
    }, ['/bin/sh', '-c', 'echo out']);
    const r = cli('run', '--bundle', path, 'sc1');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'out\n');
    assert.equal(r.err, '', 'nothing on stderr, which is the container\'s own stderr under podman');
    const d = cli('--debug', 'run', '--bundle', path, 'sc1');
    assert.equal(d.code, 0, d.err);
    assert.match(d.err, /hako-runtime: seccomp: 2 syscall name\(s\) unknown on SCMP_ARCH_X86_64, skipped: chown32, no_such_call/);
  });

  test('run with hooks and a terminal: the parts of the command loaded on demand (hook processes, pty relay)', () => {
    const log = join(h.dir, 'hooks.log');
    const hook = (what: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${what} >> ${log}`] });
    const { path } = h.bundle('lazy1', (s) => {
      s.process!.terminal = true;
      s.hooks = { prestart: [hook('prestart')], poststart: [hook('poststart')], poststop: [hook('poststop')] };
    }, ['/bin/sh', '-c', 'echo tty=$(tty); exit 3']);
    const r = cli('run', '--bundle', path, 'lazy1');
    assert.equal(r.code, 3, r.err);
    assert.match(r.out, /tty=\/dev\/pts\/0/);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['prestart', 'poststart', 'poststop']);
  });

  test('spec writes a default config once; features is JSON', () => {
    const dir = join(h.dir, 'specdir');
    mkdirSync(dir);
    assert.equal(cli('spec', '--bundle', dir).code, 0);
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(spec.process.args, ['sh']);
    const again = cli('spec', '--bundle', dir);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists/);
    const f = JSON.parse(cli('features').out);
    assert.ok(f.linux.namespaces.includes('pid'));
  });

  test('usage errors exit non-zero with a clear message', () => {
    let r = cli('start');
    assert.equal(r.code, 1);
    assert.match(r.err, /start: a container id is required/);
    r = cli('kill', 'nosuch');
    assert.equal(r.code, 1);
    assert.match(r.err, /container "nosuch" does not exist/);
    r = cli('frobnicate');
    assert.match(r.err, /unknown command "frobnicate"/);
    r = cli('kill', '--bogus', 'x');
    assert.match(r.err, /unknown flag --bogus/);
  });
});
