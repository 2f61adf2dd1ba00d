// The cgroup attach prewarm targets exactly this process's own cgroup (anything else would move
// the process), or nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ownProcsFile, startAttachPrewarm } from '../../src/runtime/cgroups/prewarm.js';

const v1Mountinfo = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
  '33 31 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
  '34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '35 31 0:32 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');

test('v1: the first controller hierarchy (not a named one) at our own path', () => {
  const procSelfCgroup = '5:name=systemd:/user.slice\n4:cpu,cpuacct:/user.slice/app\n3:memory:/user.slice/app\n0::/user.slice\n';
  assert.equal(ownProcsFile({ procSelfCgroup, mountinfo: v1Mountinfo }), '/sys/fs/cgroup/cpu,cpuacct/user.slice/app/cgroup.procs');
});

test('a hierarchy mounted at a sub-cgroup (a container view): the path below the mount root', () => {
  const mountinfo = '40 31 0:31 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory';
  assert.equal(ownProcsFile({ procSelfCgroup: '3:memory:/outer/inner\n', mountinfo }), '/sys/fs/cgroup/memory/inner/cgroup.procs');
  // Our cgroup is not under that mount's root: the mount does not show it, so nothing.
  assert.equal(ownProcsFile({ procSelfCgroup: '3:memory:/elsewhere\n', mountinfo }), undefined);
});

test('pure v2, and v2 paths outside our cgroup namespace ("..") are never used', () => {
  const mountinfo = '25 30 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate';
  assert.equal(ownProcsFile({ procSelfCgroup: '0::/system.slice/hakod.service\n', mountinfo }), '/sys/fs/cgroup/system.slice/hakod.service/cgroup.procs');
  assert.equal(ownProcsFile({ procSelfCgroup: '0::/../../elsewhere\n', mountinfo }), undefined);
  assert.equal(ownProcsFile({ procSelfCgroup: '0::/\n', mountinfo: '' }), undefined, 'no cgroup mount at all');
});

test('startAttachPrewarm writes our pid there and never throws', () => {
  const writes: Array<[string, string]> = [];
  startAttachPrewarm((p, d) => writes.push([p, d]), { procSelfCgroup: '3:memory:/a\n', mountinfo: v1Mountinfo });
  assert.deepEqual(writes, [['/sys/fs/cgroup/memory/a/cgroup.procs', String(process.pid)]]);
  assert.doesNotThrow(() =>
    startAttachPrewarm(() => {
      throw new Error('EACCES');
    }, { procSelfCgroup: '3:memory:/a\n', mountinfo: v1Mountinfo }),
  );
});
