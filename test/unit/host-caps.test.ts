// The kernel's resource controls as dockerd's sysinfo reads them (a fake cgroup tree), docker
// info's warnings, and the create-time discards with dockerd's warnings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discardUnsupported, infoWarnings, readHostCaps, type HostCaps } from '../../src/engine/host-caps.js';
import { tempDir } from '../helpers/fixtures.js';

function v1Tree(root: string, files: Record<string, string[]>): string {
  const lines: string[] = [];
  let n = 30;
  for (const [ctl, names] of Object.entries(files)) {
    const dir = join(root, ctl);
    mkdirSync(dir, { recursive: true });
    for (const f of names) writeFileSync(join(dir, f), '');
    lines.push(`${n} 25 0:${n} / ${dir} rw,nosuid,nodev,noexec,relatime shared:${n} - cgroup cgroup rw,${ctl}`);
    n++;
  }
  return lines.join('\n') + '\n';
}

test('cgroup v1: each flag from its controller file; blkio weight from blkio.weight or BFQ\'s blkio.bfq.weight', () => {
  const t = tempDir('hako-caps-');
  try {
    const mountinfo = v1Tree(t.path, {
      memory: ['memory.limit_in_bytes', 'memory.swappiness', 'memory.oom_control'], // no memsw: no swap limit
      cpu: ['cpu.shares', 'cpu.cfs_period_us', 'cpu.cfs_quota_us'],
      cpuset: ['cpuset.cpus'],
      pids: ['pids.max'],
      blkio: ['blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device', 'blkio.bfq.io_serviced'], // no weight files
    });
    const caps = readHostCaps({ mountinfo, root: t.path });
    assert.deepEqual(caps, {
      cgroupVersion: '1', memoryLimit: true, swapLimit: false, memorySwappiness: true, oomKillDisable: true, cpuCfsPeriod: true, cpuCfsQuota: true, cpuShares: true, cpuSet: true, pidsLimit: true,
      blkioWeight: false, blkioWeightDevice: false, blkioReadBpsDevice: true, blkioWriteBpsDevice: true, blkioReadIOpsDevice: false, blkioWriteIOpsDevice: false,
    });
    assert.deepEqual(infoWarnings(caps, false), ['WARNING: No swap limit support', 'WARNING: IPv4 forwarding is disabled']);
    writeFileSync(join(t.path, 'blkio', 'blkio.bfq.weight'), '');
    assert.equal(readHostCaps({ mountinfo, root: t.path }).blkioWeight, true);
  } finally {
    t.cleanup();
  }
});

test('cgroup v2: the root\'s controllers; no swappiness and no oom kill disable (no warning for that on v2)', () => {
  const t = tempDir('hako-caps-');
  try {
    writeFileSync(join(t.path, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    const caps = readHostCaps({ root: t.path, mountinfo: '' });
    assert.equal(caps.cgroupVersion, '2');
    assert.equal(caps.memorySwappiness, false);
    assert.equal(caps.oomKillDisable, false);
    assert.equal(caps.blkioWeight, true);
    assert.deepEqual(infoWarnings(caps, true), []);
    writeFileSync(join(t.path, 'cgroup.controllers'), 'memory pids\n');
    assert.deepEqual(infoWarnings(readHostCaps({ root: t.path, mountinfo: '' }), true), ['WARNING: No cpu cfs quota support', 'WARNING: No cpu cfs period support', 'WARNING: No cpu shares support', 'WARNING: No cpuset support']);
  } finally {
    t.cleanup();
  }
});

test('create: what the kernel cannot apply is discarded with dockerd\'s warning; what it can is kept', () => {
  const none: HostCaps = {
    cgroupVersion: '1', memoryLimit: true, swapLimit: false, memorySwappiness: false, oomKillDisable: false, cpuCfsPeriod: true, cpuCfsQuota: true, cpuShares: true, cpuSet: true, pidsLimit: true,
    blkioWeight: false, blkioWeightDevice: false, blkioReadBpsDevice: false, blkioWriteBpsDevice: true, blkioReadIOpsDevice: false, blkioWriteIOpsDevice: false,
  };
  const dev = [{ Path: '/dev/vda', Rate: 1 }];
  const hc: Record<string, unknown> = { Memory: 1 << 20, MemorySwap: 2 << 20, MemorySwappiness: 10, OomKillDisable: true, BlkioWeight: 300, BlkioWeightDevice: [{ Path: '/dev/vda', Weight: 10 }], BlkioDeviceReadBps: dev, BlkioDeviceWriteBps: dev, BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: null };
  assert.deepEqual(discardUnsupported(hc, none), [
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
    'Your kernel does not support OomKillDisable. OomKillDisable discarded.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
    'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.',
    'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.',
  ]);
  assert.deepEqual(hc, { Memory: 1 << 20, MemorySwap: -1, MemorySwappiness: null, OomKillDisable: false, BlkioWeight: 0, BlkioWeightDevice: [], BlkioDeviceReadBps: [], BlkioDeviceWriteBps: dev, BlkioDeviceReadIOps: [], BlkioDeviceWriteIOps: null });
  const all = Object.fromEntries(Object.entries(none).map(([k, v]) => [k, typeof v === 'boolean' ? true : v])) as unknown as HostCaps;
  const kept: Record<string, unknown> = { MemorySwap: 2 << 20, MemorySwappiness: 10, BlkioWeight: 300 };
  assert.deepEqual(discardUnsupported(kept, all), []);
  assert.deepEqual(discardUnsupported({ MemorySwappiness: -1 }, none), [], '-1 is "not set"');
  const oom = 'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.';
  assert.deepEqual(discardUnsupported({ OomKillDisable: true }, all), [oom], 'dockerd warns when nothing limits the memory');
  assert.deepEqual(discardUnsupported({ OomKillDisable: true, Memory: 64 << 20 }, all), []);
  assert.deepEqual(discardUnsupported({ OomKillDisable: true }, none), ['Your kernel does not support OomKillDisable. OomKillDisable discarded.'], 'discarded: no second warning');
});
