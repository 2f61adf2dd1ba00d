// A container without a mount namespace (runc allows it; runtime-tools' linux_ns_itype makes one
// with no namespace at all): it shares our mount namespace, its rootfs is set up there beneath a
// self-bind of the rootfs and entered with chroot, and delete (or a failed create) leaves no mount
// of it in our mount table.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { isRoot, BUSYBOX } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static (apt-get install busybox-static)' : false;

/** Our mounts at or beneath `dir`. */
function mountsBeneath(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function noMountNs(s: Spec): void {
  s.linux!.namespaces = [];
  delete s.linux!.maskedPaths;
  delete s.linux!.readonlyPaths;
  delete s.hostname;
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('runtime: a container without a mount namespace', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('hostmnt');
  });
  after(async () => {
    await h.cleanup();
  });

  test('shares our namespaces, runs chrooted in its rootfs with its mounts, and delete unmounts them all', async () => {
    const { path } = h.bundle('shared', noMountNs, ['/bin/sh', '-c', 'echo mnt=$(readlink /proc/self/ns/mnt); test -x /bin/busybox && echo root=busybox; grep -c " /dev/pts " /proc/self/mountinfo; sleep 30']);
    const io = h.stdio('shared');
    const launched = await h.runtime.launch({ id: 'shared', bundle: path, stdio: io.fds });
    try {
      await waitFor('the container output', () => /root=busybox/.test(io.read()));
      const out = io.read();
      assert.match(out, new RegExp(`^mnt=${readlinkSync('/proc/self/ns/mnt').replace(/[[\]]/g, '\\$&')}$`, 'm'), out);
      const rootfs = `${path}/rootfs`;
      const held = mountsBeneath(rootfs);
      assert.ok(held.includes(rootfs) && held.includes(`${rootfs}/proc`) && held.includes(`${rootfs}/dev`), `the container's mounts are in our table: ${held.join(', ')}`);
      await assert.rejects(h.runtime.exec('shared', { process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } } as never, stdio: io.fds }), /no mount namespace/);
    } finally {
      await h.runtime.delete('shared', { force: true });
      await launched.process.exited;
      io.close();
    }
    assert.deepEqual(mountsBeneath(path), [], 'delete left mounts behind');
  });

  test('masked and read-only paths need a mount namespace', async () => {
    const { path } = h.bundle('masked', (s) => {
      noMountNs(s);
      s.linux!.maskedPaths = ['/proc/kcore'];
    });
    const io = h.stdio('masked');
    await assert.rejects(h.runtime.create({ id: 'masked', bundle: path, stdio: io.fds }), /maskedPaths and linux\.readonlyPaths need a mount namespace/);
    io.close();
    assert.deepEqual(h.runtime.list(), []);
  });

  test('a create that fails after some mounts leaves none of them behind', async () => {
    const { path } = h.bundle('failing', (s) => {
      noMountNs(s);
      // proc, dev, … get mounted by the child, then the kernel refuses this one (EINVAL).
      s.mounts!.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['size=bogus'] });
    });
    const io = h.stdio('failing');
    await assert.rejects(h.runtime.create({ id: 'failing', bundle: path, stdio: io.fds }), /EINVAL|invalid argument/i);
    io.close();
    assert.deepEqual(mountsBeneath(path), [], 'the failed create left mounts behind');
    assert.deepEqual(h.runtime.list(), []);
  });
});
