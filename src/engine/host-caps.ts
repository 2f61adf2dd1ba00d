// What this host's kernel offers for container limits, read as dockerd's sysinfo reads it: the
// files of each cgroup v1 controller's hierarchy (v2: the controllers the root enables). `docker
// info` shows these flags and dockerd's warnings for what is missing; a create warns about and
// discards the settings the kernel cannot apply (as dockerd's verifyPlatformContainerResources).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectCgroupMode, parseCgroupMounts } from '../runtime/cgroups/index.js';
import type { Json } from './api-types.js';

export interface HostCaps {
  cgroupVersion: '1' | '2';
  memoryLimit: boolean;
  swapLimit: boolean;
  memorySwappiness: boolean;
  oomKillDisable: boolean;
  cpuCfsPeriod: boolean;
  cpuCfsQuota: boolean;
  cpuShares: boolean;
  cpuSet: boolean;
  pidsLimit: boolean;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioReadBpsDevice: boolean;
  blkioWriteBpsDevice: boolean;
  blkioReadIOpsDevice: boolean;
  blkioWriteIOpsDevice: boolean;
}

function readText(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** Reads the host's capabilities (`mountinfo` and `root` for tests). */
export function readHostCaps(opts: { mountinfo?: string; root?: string } = {}): HostCaps {
  const root = opts.root ?? '/sys/fs/cgroup';
  if (detectCgroupMode(root) === 'v2') {
    const ctl = new Set(readText(join(root, 'cgroup.controllers')).trim().split(/\s+/));
    const io = ctl.has('io');
    return {
      cgroupVersion: '2',
      memoryLimit: ctl.has('memory'),
      swapLimit: ctl.has('memory'),
      memorySwappiness: false, // v2 has no swappiness knob
      oomKillDisable: false,
      cpuCfsPeriod: ctl.has('cpu'),
      cpuCfsQuota: ctl.has('cpu'),
      cpuShares: ctl.has('cpu'),
      cpuSet: ctl.has('cpuset'),
      pidsLimit: ctl.has('pids'),
      blkioWeight: io,
      blkioWeightDevice: io,
      blkioReadBpsDevice: io,
      blkioWriteBpsDevice: io,
      blkioReadIOpsDevice: io,
      blkioWriteIOpsDevice: io,
    };
  }
  const mounts = parseCgroupMounts(opts.mountinfo ?? readText('/proc/self/mountinfo')).filter((m) => m.fsType === 'cgroup');
  const has = (controller: string, file: string) => mounts.some((m) => m.controllers.includes(controller) && existsSync(join(m.mountPoint, file)));
  // CFQ's blkio.weight went with the legacy block layer; BFQ has blkio.bfq.weight (the runtime
  // writes whichever is there).
  const weight = has('blkio', 'blkio.weight') || has('blkio', 'blkio.bfq.weight');
  const weightDevice = has('blkio', 'blkio.weight_device') || has('blkio', 'blkio.bfq.weight_device');
  return {
    cgroupVersion: '1',
    memoryLimit: has('memory', 'memory.limit_in_bytes'),
    swapLimit: has('memory', 'memory.memsw.limit_in_bytes'),
    memorySwappiness: has('memory', 'memory.swappiness'),
    oomKillDisable: has('memory', 'memory.oom_control'),
    cpuCfsPeriod: has('cpu', 'cpu.cfs_period_us'),
    cpuCfsQuota: has('cpu', 'cpu.cfs_quota_us'),
    cpuShares: has('cpu', 'cpu.shares'),
    cpuSet: has('cpuset', 'cpuset.cpus'),
    pidsLimit: has('pids', 'pids.max') || mounts.some((m) => m.controllers.includes('pids')),
    blkioWeight: weight,
    blkioWeightDevice: weightDevice,
    blkioReadBpsDevice: has('blkio', 'blkio.throttle.read_bps_device'),
    blkioWriteBpsDevice: has('blkio', 'blkio.throttle.write_bps_device'),
    blkioReadIOpsDevice: has('blkio', 'blkio.throttle.read_iops_device'),
    blkioWriteIOpsDevice: has('blkio', 'blkio.throttle.write_iops_device'),
  };
}

/** `docker info`'s warnings for what the kernel lacks, in dockerd 20.10's words and order. */
export function infoWarnings(caps: HostCaps, ipv4Forwarding: boolean): string[] {
  const out: string[] = [];
  if (!caps.memoryLimit) out.push('WARNING: No memory limit support');
  if (!caps.swapLimit) out.push('WARNING: No swap limit support');
  if (!caps.oomKillDisable && caps.cgroupVersion === '1') out.push('WARNING: No oom kill disable support');
  if (!caps.cpuCfsQuota) out.push('WARNING: No cpu cfs quota support');
  if (!caps.cpuCfsPeriod) out.push('WARNING: No cpu cfs period support');
  if (!caps.cpuShares) out.push('WARNING: No cpu shares support');
  if (!caps.cpuSet) out.push('WARNING: No cpuset support');
  if (!ipv4Forwarding) out.push('WARNING: IPv4 forwarding is disabled');
  // (dockerd's bridge-nf-call-iptables warnings are left out: hako's rules do not depend on
  // br_netfilter; `docker info` still shows the sysctls.)
  return out;
}

const isSet = (v: unknown) => Array.isArray(v) && v.length > 0;

/**
 * dockerd's create-time warnings for resources this kernel cannot apply; the setting is dropped
 * from `hc` (inspect shows it discarded, as dockerd's does).
 */
export function discardUnsupported(hc: Json, caps: HostCaps): string[] {
  const out: string[] = [];
  if (Number(hc.MemorySwap ?? 0) > 0 && !caps.swapLimit) {
    out.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    hc.MemorySwap = -1;
  }
  if (hc.MemorySwappiness !== null && hc.MemorySwappiness !== undefined && Number(hc.MemorySwappiness) !== -1 && !caps.memorySwappiness) {
    out.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
    hc.MemorySwappiness = null;
  }
  if (hc.OomKillDisable === true && !caps.oomKillDisable) {
    out.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
    hc.OomKillDisable = false;
  }
  if (hc.OomKillDisable === true && !(Number(hc.Memory ?? 0) > 0)) out.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  if (Number(hc.BlkioWeight ?? 0) > 0 && !caps.blkioWeight) {
    out.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    hc.BlkioWeight = 0;
  }
  if (isSet(hc.BlkioWeightDevice) && !caps.blkioWeightDevice) {
    out.push('Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.');
    hc.BlkioWeightDevice = [];
  }
  const throttles: Array<[string, keyof HostCaps, string]> = [
    ['BlkioDeviceReadBps', 'blkioReadBpsDevice', 'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.'],
    ['BlkioDeviceWriteBps', 'blkioWriteBpsDevice', 'Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. Block I/O BPS write limit discarded.'],
    ['BlkioDeviceReadIOps', 'blkioReadIOpsDevice', 'Your kernel does not support IOPS Block read limit or the cgroup is not mounted. Block I/O IOPS read limit discarded.'],
    ['BlkioDeviceWriteIOps', 'blkioWriteIOpsDevice', 'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.'],
  ];
  for (const [key, cap, text] of throttles) {
    if (isSet(hc[key]) && !caps[cap]) {
      out.push(text);
      hc[key] = [];
    }
  }
  return out;
}
