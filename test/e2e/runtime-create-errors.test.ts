// create fails, as runc's does, when the container cannot be set up as configured: everything
// but the execve happens before the exec fifo wait (capabilities, user, cwd, the program look-up,
// seccomp), so such errors come from create (and leave nothing behind), not from start.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, BUSYBOX, mountsUnder } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';
import { HakoError } from '../../src/common/errors.js';
import { CAPABILITIES } from '../../src/runtime/security/capabilities.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static (apt-get install busybox-static)' : false;

/** A capability the host's bounding set lacks (runc then fails create with EPERM), if any. */
function capMissingOnHost(): string | undefined {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
  const bnd = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  const last = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  const bit = CAPABILITIES.findIndex((_, i) => i <= last && (bnd & (1n << BigInt(i))) === 0n);
  return bit < 0 ? undefined : CAPABILITIES[bit];
}

describe('runtime: create fails for what it cannot set up', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('createerr');
  });
  after(async () => {
    await h.cleanup();
  });

  /** create must reject with `pattern` and leave no container, state dir, fifo or mount. */
  async function createFails(id: string, mutate: (s: Spec) => void, args: string[], pattern: RegExp): Promise<void> {
    const { path } = h.bundle(id, mutate, args);
    const io = h.stdio(id);
    await assert.rejects(h.runtime.create({ id, bundle: path, stdio: io.fds }), (err: unknown) => {
      assert.ok(err instanceof HakoError, String(err));
      assert.match(err.message, pattern);
      return true;
    });
    io.close();
    assert.deepEqual(h.runtime.list(), []);
    assert.ok(!existsSync(join(h.root, id)), 'state dir (and exec fifo) removed');
    assert.deepEqual(mountsUnder(path), []);
    assert.equal(io.read(), '', 'the program never ran');
  }

  /** create succeeds, start runs the program; returns its output. */
  async function createStart(id: string, mutate: (s: Spec) => void, args: string[]): Promise<string> {
    const { path } = h.bundle(id, mutate, args);
    const io = h.stdio(id);
    const c = await h.runtime.create({ id, bundle: path, stdio: io.fds });
    assert.equal(h.runtime.state(id).status, 'created');
    await h.runtime.start(id);
    assert.equal((await c.process.exited).code, 0);
    await h.runtime.delete(id);
    io.close();
    return io.read();
  }

  test('a program not on PATH: create fails like runc ("executable file not found in $PATH")', async () => {
    await createFails('nope', () => undefined, ['nope'], /^exec: "nope": executable file not found in \$PATH: no such file or directory \(ENOENT\) \(PATH is \/usr\/local\/sbin:/);
    await createFails('abs', () => undefined, ['/bin/nope'], /^exec: "\/bin\/nope": no such file or directory \(ENOENT\)/);
    // Found on PATH but not executable by the container user.
    await createFails('noexec', (s) => (s.process!.user = { uid: 1000, gid: 1000 }), ['/etc/passwd'], /^exec: "\/etc\/passwd": permission denied \(EACCES\)/);
  });

  test('a capability the host bounding set lacks: create fails (set capabilities: EPERM)', async (t) => {
    const cap = capMissingOnHost();
    if (!cap) return t.skip('the host bounding set has every capability this kernel knows');
    await createFails('cap', (s) => {
      s.process!.capabilities!.bounding!.push(cap);
      s.process!.capabilities!.permitted!.push(cap);
    }, ['/bin/true'], /^set capabilities: operation not permitted \(EPERM\)/);
  });

  test('cwd: made when missing (as runc does); a file there fails create', async () => {
    const out = await createStart('cwdnew', (s) => (s.process!.cwd = '/new/dir'), ['/bin/sh', '-c', 'pwd']);
    assert.equal(out, '/new/dir\n');
    await createFails('cwdfile', (s) => (s.process!.cwd = '/bin/sh'), ['/bin/true'], /^mkdir \/bin\/sh: not a directory \(ENOTDIR\)/);
  });

  test('a non-root user with no capabilities still gets through the fifo wait; a cwd only root may enter works (runc chdirs before the user switch)', async () => {
    const out = await createStart('user', (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.cwd = '/secret';
      s.process!.capabilities = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
      const root = join(h.dir, 'bundle-user', 'rootfs');
      mkdirSync(join(root, 'secret'), { recursive: true });
      chmodSync(join(root, 'secret'), 0o700);
    }, ['/bin/sh', '-c', 'pwd; id -u; grep CapEff /proc/self/status']);
    assert.equal(out, '/secret\n1000\nCapEff:\t0000000000000000\n');
  });
});
