// A container record → the OCI spec handed to the runtime, with docker's defaults: its mounts
// (/proc, /dev, /dev/shm of ShmSize, …), the 14 default capabilities changed by CapAdd/CapDrop,
// the default seccomp profile for those capabilities, masked and read-only paths, resources
// from HostConfig, namespaces from the modes, and the user's mounts.
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync, existsSync, type Stats } from 'node:fs';
import { joinPath as join } from '../../common/join-path.js';
import { invalid } from '../../common/errors.js';
import { startRefusal } from '../start-errors.js';
import { logTag } from '../logs/attrs.js';
import { OCI_VERSION, type Mount, type Spec, type Namespace } from '../../runtime/spec/types.js';
import { DOCKER_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../runtime/spec/defaults.js';
import { applyCapChanges, capNames } from '../../runtime/security/capabilities.js';
import { defaultSeccompProfile, profileForCapabilities } from '../../runtime/security/seccomp/index.js';
import { deepFreeze } from '../../runtime/plan/process.js';
import type { ContainerRecord, MountPoint } from './record.js';
import type { ResolvedUser } from './user.js';
import type { ShmPlan } from '../shm-mounts.js';

type Obj = Record<string, unknown>;

export const INIT_PATH = '/sbin/docker-init';
/** dockerd's PATH for a process whose environment names none (system.DefaultPathEnv). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * dockerd's ReplaceOrAppendEnvValues: each `K=v` of `overrides` replaces K in `defaults` or is
 * appended; a bare `K` (docker run -e K with K unset in the client) removes K and is never passed on.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: Array<string | null> = [...defaults];
  const at = new Map<string, number>();
  out.forEach((e, i) => at.set(e!.split('=')[0]!, i));
  for (const e of overrides) {
    const eq = e.indexOf('=');
    const k = eq < 0 ? e : e.slice(0, eq);
    const i = at.get(k);
    if (eq < 0) {
      if (i !== undefined) out[i] = null;
      continue;
    }
    if (i !== undefined) out[i] = e;
    else {
      at.set(k, out.length);
      out.push(e);
    }
  }
  return out.filter((e): e is string => e !== null);
}

/**
 * dockerd's CreateDaemonEnvironment: PATH, HOSTNAME (and TERM with a terminal), then the legacy
 * links' variables (legacy-links.ts), under the container's Env.
 */
export function daemonEnv(hostname: string, tty: boolean, env: readonly string[], linkedEnv: readonly string[] = []): string[] {
  return replaceOrAppendEnv([`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname ?? ''}`, ...(tty ? ['TERM=xterm'] : []), ...linkedEnv], env);
}

export interface SpecInputs {
  rec: ContainerRecord;
  /** The mounted rootfs (absolute). */
  rootfs: string;
  user: ResolvedUser;
  /** Host path of hako-init when HostConfig.Init is set. */
  initBinary?: string;
  cgroupsPath: string;
  /** A network namespace to join (container:<id> mode). */
  netnsPath?: string;
  /** PID and IPC namespaces to join (--pid/--ipc container:<id>). */
  pidnsPath?: string | undefined;
  ipcnsPath?: string | undefined;
  /** What goes on /dev/shm (the engine's plan by IPC mode, shm-mounts.ts); a private tmpfs of ShmSize when absent. */
  shm?: ShmPlan | undefined;
  /** Resolved host paths for each MountPoint (volumes) by destination. */
  cgroupV2: boolean;
  /** The legacy links' variables (default bridge --link), legacy-links.ts linkEnv. */
  linkedEnv?: readonly string[] | undefined;
}

/** /dev/shm's mount for a plan ('user': the user's own mount replaces it below; 'none': nothing). */
function shmMount(shm: ShmPlan): Mount[] {
  switch (shm.kind) {
    case 'tmpfs':
      return [{ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shm.size}`] }];
    case 'bind':
      // dockerd's options: the bind keeps the source mount's flags (the host-side tmpfs is
      // nosuid,nodev,noexec; the host's /dev/shm has its own).
      return [{ destination: '/dev/shm', type: 'bind', source: shm.source, options: ['rbind', 'rprivate'] }];
    case 'user': // the user's mount on /dev/shm is added with the others
    case 'none':
      return [];
  }
}

function dockerMounts(shm: ShmPlan, privileged: boolean, cgroupV2: boolean): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro', ...(cgroupV2 ? [] : [])] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    ...shmMount(shm),
  ];
}

const RLIMITS: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS', memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE', nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME', sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};

/** The OCI rlimits of HostConfig.Ulimits (the container's process and its execs alike). */
export function rlimitsOf(hc: Obj): Array<{ type: string; soft: number; hard: number }> {
  return ((hc.Ulimits as Obj[] | null) ?? []).map((u) => {
    const type = RLIMITS[String(u.Name)];
    if (!type) throw invalid(`invalid ulimit type: ${String(u.Name)}`);
    // -1 is unlimited (docker's uint64 conversion makes it RLIM_INFINITY; the OCI field is
    // unsigned: 2^64, which the runtime caps to RLIM_INFINITY; -1 was refused as negative).
    // Other negative values dockerd passes on as huge unsigned ones (mostly EPERM).
    const limit = (v: number): number => {
      if (v < -1) throw startRefusal(`ulimit ${String(u.Name)}=${String(u.Soft)}:${String(u.Hard)}: a limit is -1 (unlimited) or a number from 0`);
      return v === -1 ? 2 ** 64 : v;
    };
    return { type, soft: limit(Number(u.Soft)), hard: limit(Number(u.Hard)) };
  });
}

// The mount flags dockerd's tmpfs options may name (moby/sys/mount's flag table) and the data
// options it passes on to tmpfs; anything else is refused at the start in its words.
const TMPFS_FLAGS = new Set(['defaults', 'ro', 'rw', 'suid', 'nosuid', 'dev', 'nodev', 'exec', 'noexec', 'sync', 'async', 'dirsync', 'remount', 'mand', 'nomand', 'atime', 'noatime', 'diratime', 'nodiratime', 'bind', 'rbind', 'unbindable', 'runbindable', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave', 'relatime', 'norelatime', 'strictatime', 'nostrictatime']);
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** dockerd's check of a --tmpfs option: `invalid tmpfs option ["bogus" "1"]` (Go's %q of the key=value split). */
export function checkTmpfsOption(o: string): void {
  if (TMPFS_FLAGS.has(o)) return;
  const i = o.indexOf('=');
  const kv = i < 0 ? [o] : [o.slice(0, i), o.slice(i + 1)];
  if (kv.length !== 2 || !TMPFS_DATA.has(kv[0]!)) throw startRefusal(`invalid tmpfs option [${kv.map((x) => JSON.stringify(x)).join(' ')}]`);
}

function mountOf(m: MountPoint): Mount {
  if (m.Type === 'tmpfs') {
    for (const o of m.TmpfsOptions ?? []) checkTmpfsOption(o);
    const opts = (m.TmpfsOptions ?? []).filter((o) => o !== 'ro' && o !== 'rw');
    return { destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...opts, m.RW ? 'rw' : 'ro'] };
  }
  const prop = m.Type === 'bind' ? m.Propagation || 'rprivate' : 'rprivate';
  return { destination: m.Destination, type: 'bind', source: m.Source, options: ['rbind', prop, m.RW ? 'rw' : 'ro'] };
}

/** Host devices for --privileged: every char/block device in /dev (not in subdirectories but pts/shm). */
function hostDevices(): NonNullable<NonNullable<Spec['linux']>['devices']> {
  const out: NonNullable<NonNullable<Spec['linux']>['devices']> = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (['/dev/pts', '/dev/shm', '/dev/mqueue', '/dev/console', '/dev/ptmx'].includes(p)) continue;
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory() && depth < 2) walk(p, depth + 1);
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const rdev = st.rdev;
        out.push({ type: st.isCharacterDevice() ? 'c' : 'b', path: p, major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00), fileMode: st.mode & 0o777, uid: 0, gid: 0 });
      }
    }
  };
  walk('/dev', 0);
  return out;
}

/** A block device's numbers, as dockerd reads them for the blkio settings at a start. */
function deviceNumbers(path: string): { major: number; minor: number } {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw invalid(`stat ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  const rdev = st.rdev;
  return { major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00) };
}

/** --blkio-weight, --blkio-weight-device and the --device-{read,write}-{bps,iops} limits. */
function blockIOOf(hc: Obj): NonNullable<NonNullable<Spec['linux']>['resources']>['blockIO'] | undefined {
  const out: Obj = {};
  if (Number(hc.BlkioWeight) > 0) out.weight = Number(hc.BlkioWeight);
  const weights = ((hc.BlkioWeightDevice as Obj[] | null) ?? []).filter((w) => Number(w.Weight) > 0);
  if (weights.length) out.weightDevice = weights.map((w) => ({ ...deviceNumbers(String(w.Path)), weight: Number(w.Weight) }));
  for (const [key, field] of [
    ['BlkioDeviceReadBps', 'throttleReadBpsDevice'],
    ['BlkioDeviceWriteBps', 'throttleWriteBpsDevice'],
    ['BlkioDeviceReadIOps', 'throttleReadIOPSDevice'],
    ['BlkioDeviceWriteIOps', 'throttleWriteIOPSDevice'],
  ] as const) {
    const list = (hc[key] as Obj[] | null) ?? [];
    if (list.length) out[field] = list.map((t) => ({ ...deviceNumbers(String(t.Path)), rate: Number(t.Rate) }));
  }
  return Object.keys(out).length ? (out as never) : undefined;
}

type SpecDevice = NonNullable<NonNullable<Spec['linux']>['devices']>[number];

function specDevice(st: Stats, path: string): SpecDevice {
  const rdev = st.rdev;
  return { type: st.isCharacterDevice() ? 'c' : 'b', path, major: Math.floor(rdev / 256) & 0xfff, minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00), fileMode: st.mode & 0o777, uid: 0, gid: 0 };
}

/**
 * The devices of one --device, as dockerd's DevicesFromPath: a device node (through a symlink
 * too), or a directory whose device nodes are all added, each at its place below the container
 * path (symlinks inside are not followed); the same permissions for each.
 */
function userDevices(d: Obj): Array<{ dev: SpecDevice; access: string }> {
  const host = d.PathOnHost as string;
  const inCt = (d.PathInContainer as string | undefined) || host;
  const access = (d.CgroupPermissions as string | undefined) || 'rwm';
  let st;
  try {
    st = statSync(host);
  } catch {
    throw invalid(`error gathering device information while adding custom device "${host}": no such file or directory`);
  }
  if (st.isCharacterDevice() || st.isBlockDevice()) return [{ dev: specDevice(st, inCt), access }];
  const out: Array<{ dev: SpecDevice; access: string }> = [];
  if (st.isDirectory()) {
    const root = realpathSync(host);
    const walk = (dir: string) => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const n of names) {
        const p = `${dir}/${n}`;
        let ls;
        try {
          ls = lstatSync(p);
        } catch {
          continue;
        }
        if (ls.isDirectory()) walk(p);
        else if (ls.isCharacterDevice() || ls.isBlockDevice()) out.push({ dev: specDevice(ls, inCt + p.slice(root.length)), access });
      }
    };
    walk(root);
  }
  if (out.length === 0) throw invalid(`error gathering device information while adding custom device "${host}": not a device node`);
  return out;
}

/**
 * One --device-cgroup-rule, `<a|b|c> <major|*>:<minor|*> <rwm…>`, read as dockerd does (refused
 * at the start, in its words, as dockerd only reads them when it builds the spec).
 */
export function deviceCgroupRule(rule: string): { allow: true; type: 'a' | 'b' | 'c'; major: number; minor: number; access: string } {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(String(rule));
  if (!m) throw startRefusal(`invalid device cgroup rule format: '${String(rule)}'`);
  return { allow: true, type: m[1] as 'a' | 'b' | 'c', major: m[2] === '*' ? -1 : Number(m[2]), minor: m[3] === '*' ? -1 : Number(m[3]), access: m[4]! };
}

function seccompFor(hc: Obj, caps: bigint): unknown {
  if (hc.Privileged === true) return undefined;
  for (const o of (hc.SecurityOpt as string[] | null) ?? []) {
    const [k, v] = o.includes('=') ? [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)] : o.split(':');
    if (k !== 'seccomp' || v === undefined) continue;
    if (v === 'unconfined') return undefined;
    let profile: unknown;
    try {
      profile = JSON.parse(v.trimStart().startsWith('{') ? v : readFileSync(v, 'utf8'));
    } catch (err) {
      throw invalid(`invalid seccomp profile: ${(err as Error).message}`);
    }
    return profileForCapabilities(profile as never, caps);
  }
  return defaultProfileFor(caps);
}

/**
 * The default profile resolved for a capability set: one deeply frozen object per set, shared by
 * every start with it (built ~0.1 ms each time before; the runtime's SeccompCache finds a frozen
 * one by identity instead of by its JSON). Only the last few sets are kept.
 */
const defaultProfiles = new Map<bigint, unknown>();
function defaultProfileFor(caps: bigint): unknown {
  let p = defaultProfiles.get(caps);
  if (p === undefined) {
    p = deepFreeze(profileForCapabilities(defaultSeccompProfile(), caps));
    defaultProfiles.set(caps, p);
    if (defaultProfiles.size > 8) defaultProfiles.delete(defaultProfiles.keys().next().value as bigint);
  }
  return p;
}

export function securityOpts(hc: Obj): { noNewPrivileges: boolean } {
  let nnp = false;
  for (const o of (hc.SecurityOpt as string[] | null) ?? []) {
    const [k, v] = o.split(/[=:]/, 2);
    if (k === 'no-new-privileges') nnp = v === undefined || v === 'true';
    else if (k === 'seccomp' || k === 'apparmor' || k === 'label') continue;
    else throw invalid(`Invalid --security-opt: ${JSON.stringify(o)}`);
  }
  return { noNewPrivileges: nnp };
}

/** Our own bounding set: a container cannot get a capability the engine itself lacks (capset: EPERM). */
export function ownBoundingSet(): bigint {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : ~0n;
  } catch {
    return ~0n;
  }
}

/** docker's capability set for a HostConfig (CapAdd/CapDrop/Privileged), within our own bounding set. */
export function containerCaps(hc: Obj, privileged = hc.Privileged === true): bigint {
  return applyCapChanges({ add: (hc.CapAdd as string[] | null) ?? [], drop: (hc.CapDrop as string[] | null) ?? [], privileged }) & ownBoundingSet();
}

export function buildSpec(inp: SpecInputs): Spec {
  const { rec } = inp;
  const cfg = rec.Config as Obj;
  const hc = rec.HostConfig as Obj;
  const privileged = hc.Privileged === true;
  const caps = containerCaps(hc);
  const capList = capNames(caps);
  const env = daemonEnv(cfg.Hostname as string, cfg.Tty === true, (cfg.Env as string[] | null) ?? [], inp.linkedEnv);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${inp.user.home || '/'}`);
  let args = [rec.Path, ...rec.Args];
  const mounts = dockerMounts(inp.shm ?? { kind: 'tmpfs', size: Number(hc.ShmSize) }, privileged, inp.cgroupV2);
  if (hc.Init === true) {
    if (!inp.initBinary || !existsSync(inp.initBinary)) throw invalid('--init: the init binary (build/hako-init) is missing', 'run npm run build:native');
    mounts.push({ destination: INIT_PATH, type: 'bind', source: inp.initBinary, options: ['bind', 'ro'] });
    args = [INIT_PATH, '--', ...args];
  }
  const netMode = hc.NetworkMode as string;
  // /etc files, whatever the network mode: with host networking they hold the host's texts (its
  // hosts, resolv.conf and hostname), as dockerd writes and mounts them (the image's own
  // /etc/hostname, or the empty mount target, is not what a container sees there).
  mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: rec.ResolvConfPath, options: ['rbind', 'rprivate'] });
  mounts.push({ destination: '/etc/hostname', type: 'bind', source: rec.HostnamePath, options: ['rbind', 'rprivate'] });
  mounts.push({ destination: '/etc/hosts', type: 'bind', source: rec.HostsPath, options: ['rbind', 'rprivate'] });
  const userMounts = [...rec.MountPoints].sort((a, b) => a.Destination.split('/').length - b.Destination.split('/').length);
  for (const m of userMounts) {
    const existing = mounts.findIndex((x) => x.destination === m.Destination);
    if (existing >= 0) mounts.splice(existing, 1);
    mounts.push(mountOf(m));
  }
  const namespaces: Namespace[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (netMode.startsWith('container:')) {
    if (!inp.netnsPath) throw invalid(`network mode ${netMode}: the container is not running`);
    namespaces.push({ type: 'network', path: inp.netnsPath });
  } else if (netMode !== 'host') {
    // 'bridge' (the default): until the networking issue lands this is a private network
    // namespace with only lo — no veth, no address (NetworkSettings shows empty addresses).
    namespaces.push({ type: 'network' });
  }
  if (hc.PidMode === 'host') namespaces.splice(namespaces.findIndex((n) => n.type === 'pid'), 1);
  else if (inp.pidnsPath) namespaces.splice(namespaces.findIndex((n) => n.type === 'pid'), 1, { type: 'pid', path: inp.pidnsPath });
  if (hc.IpcMode === 'host') namespaces.splice(namespaces.findIndex((n) => n.type === 'ipc'), 1);
  else if (inp.ipcnsPath) namespaces.splice(namespaces.findIndex((n) => n.type === 'ipc'), 1, { type: 'ipc', path: inp.ipcnsPath });
  // docker: host networking shares the host's UTS namespace too (the host's hostname).
  if (hc.UTSMode === 'host' || (netMode === 'host' && hc.UTSMode !== 'private')) namespaces.splice(namespaces.findIndex((n) => n.type === 'uts'), 1);
  if (hc.CgroupnsMode === 'private') namespaces.push({ type: 'cgroup' });

  const resources: NonNullable<NonNullable<Spec['linux']>['resources']> = { devices: [{ allow: false, access: 'rwm' }] };
  const memory: Obj = {};
  if (Number(hc.Memory) > 0) memory.limit = Number(hc.Memory);
  if (Number(hc.MemorySwap) !== 0) memory.swap = Number(hc.MemorySwap);
  else if (Number(hc.Memory) > 0) memory.swap = Number(hc.Memory) * 2; // docker: swap defaults to twice the memory
  if (Number(hc.MemoryReservation) > 0) memory.reservation = Number(hc.MemoryReservation);
  if (hc.OomKillDisable === true) memory.disableOOMKiller = true;
  // -1 (or null): the kernel's (the parent cgroup's) swappiness.
  if (hc.MemorySwappiness !== null && hc.MemorySwappiness !== undefined && Number(hc.MemorySwappiness) >= 0) memory.swappiness = Number(hc.MemorySwappiness);
  if (Object.keys(memory).length > 0) resources.memory = memory as never;
  const cpu: Obj = {};
  if (Number(hc.CpuShares) > 0) cpu.shares = Number(hc.CpuShares);
  // dockerd 20.10 records a negative CpuShares at create; its start fails with these words (500;
  // State.Error, exit code 128), the value being a uint64 in the OCI spec.
  if (Number(hc.CpuShares) < 0) throw startRefusal('shares: invalid argument');
  if (Number(hc.NanoCpus) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.round((Number(hc.NanoCpus) * 100000) / 1e9);
  }
  if (Number(hc.CpuQuota) > 0) cpu.quota = Number(hc.CpuQuota);
  if (Number(hc.CpuPeriod) > 0) cpu.period = Number(hc.CpuPeriod);
  // --cpu-rt-period/--cpu-rt-runtime (cgroup v1's cpu.rt_*; the runtime refuses them on v2).
  if (Number(hc.CpuRealtimePeriod) > 0) cpu.realtimePeriod = Number(hc.CpuRealtimePeriod);
  if (Number(hc.CpuRealtimeRuntime) > 0) cpu.realtimeRuntime = Number(hc.CpuRealtimeRuntime);
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length > 0) resources.cpu = cpu as never;
  if (hc.PidsLimit !== null && hc.PidsLimit !== undefined && Number(hc.PidsLimit) !== 0) resources.pids = { limit: Number(hc.PidsLimit) > 0 ? Number(hc.PidsLimit) : -1 };
  const blockIO = blockIOOf(hc);
  if (blockIO) resources.blockIO = blockIO;

  const devices: NonNullable<NonNullable<Spec['linux']>['devices']> = [];
  if (privileged) {
    devices.push(...hostDevices());
    resources.devices = [{ allow: true, access: 'rwm' }];
  }
  for (const d of (hc.Devices as Obj[] | null) ?? []) {
    for (const { dev, access } of userDevices(d)) {
      devices.push(dev);
      resources.devices!.push({ allow: true, type: dev.type as 'c' | 'b', major: dev.major, minor: dev.minor, access });
    }
  }
  // --device-cgroup-rule, after the devices' rules (dockerd's order; the last match wins).
  for (const rule of (hc.DeviceCgroupRules as string[] | null) ?? []) resources.devices!.push(deviceCgroupRule(rule));

  // dockerd, for a network namespace of the container's own: unprivileged ICMP echo sockets
  // (ping without CAP_NET_RAW) and ports below 1024 without CAP_NET_BIND_SERVICE; --sysctl wins.
  const sysctl: Record<string, string> = {};
  if (netMode !== 'host' && !netMode.startsWith('container:')) {
    if (existsSync('/proc/sys/net/ipv4/ping_group_range')) sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
    // dockerd 20.10 turns IPv6 off in a namespace with no IPv6 network (hako has none yet): no ::1
    // on lo, no link-local address on eth0. Writing `all` sets `default` and every interface there.
    if (existsSync('/proc/sys/net/ipv6/conf/all/disable_ipv6')) sysctl['net.ipv6.conf.all.disable_ipv6'] = '1';
  }
  // runc's checks, in its words (the runtime's own said to add a namespace to config.json).
  for (const k of Object.keys((hc.Sysctls as Record<string, string> | null) ?? {})) {
    if (netMode === 'host' && k.startsWith('net.')) throw startRefusal(`sysctl "${k}" not allowed in host network namespace`, 'leave out the --sysctl or give the container a network namespace of its own');
    if (hc.IpcMode === 'host' && (k.startsWith('fs.mqueue.') || /^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(k))) throw startRefusal(`sysctl "${k}" is not allowed in the hosts ipc namespace`, 'leave out the --sysctl or drop --ipc host');
  }
  Object.assign(sysctl, (hc.Sysctls as Record<string, string> | null) ?? {});
  // json-file expands a --log-opt tag when the start opens the log (dockerd refuses a bad one then).
  const logConfig = (hc.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined) ?? {};
  if ((logConfig.Type ?? 'json-file') === 'json-file' && logConfig.Config?.tag) {
    try {
      logTag(rec, logConfig.Config.tag);
    } catch (err) {
      throw startRefusal(`failed to initialize logging driver: ${(err as Error).message}`);
    }
  }
  const rlimits = rlimitsOf(hc);
  const sec = securityOpts(hc);
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.Tty === true,
      user: { uid: inp.user.uid, gid: inp.user.gid, ...(inp.user.additionalGids.length > 0 ? { additionalGids: inp.user.additionalGids } : {}) },
      args,
      env,
      cwd: (cfg.WorkingDir as string) || '/',
      capabilities: { bounding: [...capList], effective: [...capList], permitted: [...capList] },
      ...(rlimits.length > 0 ? { rlimits } : {}),
      noNewPrivileges: sec.noNewPrivileges,
      ...(Number(hc.OomScoreAdj) !== 0 ? { oomScoreAdj: Number(hc.OomScoreAdj) } : {}),
    },
    root: { path: inp.rootfs, readonly: hc.ReadonlyRootfs === true },
    hostname: cfg.Hostname as string,
    ...(cfg.Domainname ? { domainname: cfg.Domainname as string } : {}),
    mounts,
    linux: {
      namespaces,
      cgroupsPath: inp.cgroupsPath,
      resources,
      ...(devices.length > 0 ? { devices } : {}),
      ...(Object.keys(sysctl).length ? { sysctl } : {}),
      ...(privileged ? {} : { maskedPaths: (hc.MaskedPaths as string[] | undefined) ?? [...DOCKER_MASKED_PATHS], readonlyPaths: (hc.ReadonlyPaths as string[] | undefined) ?? [...DEFAULT_READONLY_PATHS] }),
    },
  };
  const seccomp = seccompFor(hc, caps);
  if (seccomp) spec.linux!.seccomp = seccomp as never;
  // Without a UTS namespace of its own (host networking, --uts host) the container has the host's
  // hostname: none to set (dockerd; Config.Hostname still names it in /etc/hostname and HOSTNAME).
  if (!namespaces.some((n) => n.type === 'uts')) {
    delete spec.hostname;
    delete spec.domainname;
  }
  return spec;
}

const seccompJson = new WeakMap<object, string>();

/**
 * JSON.stringify(spec), the same text, with a shared (deeply frozen) seccomp profile's JSON made
 * once: docker's default profile is ~6 KB of the ~10 KB each start serialises for config.json and
 * the runtime's state. buildSpec puts linux last in the spec and seccomp last in linux; a spec
 * shaped otherwise is stringified whole.
 */
export function specToJson(spec: Spec): string {
  const linux = spec.linux as Record<string, unknown> | undefined;
  const seccomp = linux?.seccomp;
  if (!linux || typeof seccomp !== 'object' || seccomp === null || !Object.isFrozen(seccomp)) return JSON.stringify(spec);
  const specKeys = Object.keys(spec);
  const linuxKeys = Object.keys(linux);
  if (specKeys[specKeys.length - 1] !== 'linux' || linuxKeys[linuxKeys.length - 1] !== 'seccomp') return JSON.stringify(spec);
  let profile = seccompJson.get(seccomp);
  if (profile === undefined) seccompJson.set(seccomp, (profile = JSON.stringify(seccomp)));
  let rest: string;
  linux.seccomp = undefined; // (left out by JSON.stringify, its place kept)
  try {
    rest = JSON.stringify(spec);
  } finally {
    linux.seccomp = seccomp;
  }
  // `rest` ends with linux's closing brace and the spec's.
  return `${rest.slice(0, -2)}${rest[rest.length - 3] === '{' ? '' : ','}"seccomp":${profile}}}`;
}
