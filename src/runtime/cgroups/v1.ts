// The cgroup v1 driver (also used in hybrid mode). Each controller has its own hierarchy; we find
// them in /proc/self/mountinfo and put the container's cgroup at the same relative place in each.
//
// Placement: the process joins every controller hierarchy, the named `name=systemd` hierarchy
// (no limits there, but tools like systemd-cgls and `ps -o cgroup` then show the container where
// it belongs, as runc does) and, in hybrid mode, the cgroup2 hierarchy at /sys/fs/cgroup/unified
// (no controllers there, but it gives cgroup.events/cgroup.kill a view of the container).
// Other named hierarchies are left alone.
//
// Attach cost, measured on this kernel (6.18, 2 cores) by writing a fresh `sleep`'s pid into
// cgroup.procs of three v1 hierarchies: 4.6–15 ms (typically 6) when the previous attach was
// 100 ms earlier, 0.08–0.18 ms when it was a few ms earlier. A single write to the cgroup2
// (unified) cgroup.procs costs the same 4.4–7.4 ms after a gap: moving a task waits for an RCU
// grace period when it takes cgroup_threadgroup_rwsem for writing, on v1 and v2 alike. The cures
// are mounting with `favordynmods` (kernel >= 6.0; we never remount the host's hierarchies) or
// not migrating at all: on v2, launch and exec clone the child into its cgroup
// (CLONE_INTO_CGROUP with openForCloneInto()'s fd).
//
// On v1 there is a third: a thread that moves *itself* by writing "0" to a v1 `tasks` file skips
// that lock (the kernel's cgroup_procs_write_start: a single thread that is `current` cannot exit
// or exec under it). Measured here after an idle gap: "0" to tasks 0.17–0.22 ms, our pid to
// cgroup.procs or to tasks 5–16 ms. The container's process is single-threaded until its exec, so
// moving its one thread moves the process: launch and exec have it write "0" to each hierarchy's
// `tasks` through fds we open (openSelfJoin(); the kernel checks the opener's credentials, so this
// works from inside a new user namespace too) and clone it into the unified hierarchy of a hybrid
// host (cgroup2 does not move single threads across domain cgroups: EOPNOTSUPP). Under a monitor
// the same goes for the monitor's fork of the container. addProcess() remains for other callers.
import { closeSync, existsSync, openSync, writeSync, constants as fsConstants } from 'node:fs';
import { joinPath as join } from '../../common/join-path.js';
import { rmdirs } from '../../native/fs.js';
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import { fromSystemError, HakoError, invalid } from '../../common/errors.js';
import { hugepageSizeName } from './convert.js';
import {
  cgroupFile,
  missingController,
  mkdirTracked,
  parseCgroupNumber,
  procsRecursive,
  readCgroupFile,
  readNumber,
  readOptional,
  removeCgroupDir,
  removeMadeDirs,
  sleep,
  writeCgroupFile,
} from './fsutil.js';
import { dirOnMount, resolveInHierarchy, type CgroupMount, type ProcCgroupEntry } from './paths.js';
import { parseBlkio, parseFlatKeyed, parseOomControl, parsePercpu, ticksToNs } from './stats.js';
import { killProcesses, waitUntil } from './signals.js';
import type { CgroupManager, CgroupResources, CgroupStats, FreezerState, LinuxDeviceCgroup, SelfJoinFds } from './types.js';

const O_PATH = 0o10000000;

function openCgroupFile(path: string, flags: number, what: string): number {
  try {
    return openSync(path, flags);
  } catch (err) {
    throw fromSystemError(`open ${path} ${what}`, err, path);
  }
}

export interface V1Hierarchy {
  /** e.g. ['cpu'], ['cpu','cpuacct'], ['name=systemd'] */
  controllers: string[];
  /** The container's directory in this hierarchy. */
  dir: string;
}

export function v1Hierarchies(
  mounts: readonly CgroupMount[],
  own: ProcCgroupEntry[],
  normalizedPath: string,
  unifiedMountPoint?: string,
): { hierarchies: V1Hierarchy[]; unifiedDir: string | undefined } {
  const hierarchies: V1Hierarchy[] = [];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (m.fsType !== 'cgroup' || m.controllers.length === 0) continue;
    const named = m.controllers.filter((c) => c.startsWith('name='));
    if (named.length > 0 && !named.includes('name=systemd')) continue;
    const key = [...m.controllers].sort().join(',');
    if (seen.has(key)) continue; // the same hierarchy mounted twice
    seen.add(key);
    const entry = own.find((e) => e.controllers.some((c) => m.controllers.includes(c)));
    const cgPath = resolveInHierarchy(normalizedPath, entry?.path ?? '/');
    hierarchies.push({ controllers: m.controllers, dir: dirOnMount(m, cgPath) });
  }
  let unifiedDir: string | undefined;
  if (unifiedMountPoint !== undefined) {
    const m2 = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === unifiedMountPoint) ?? {
      mountPoint: unifiedMountPoint,
      root: '/',
    };
    const entry = own.find((e) => e.id === 0 && e.controllers.length === 0);
    unifiedDir = dirOnMount(m2, resolveInHierarchy(normalizedPath, entry?.path ?? '/'));
  }
  return { hierarchies, unifiedDir };
}

function deviceRuleString(r: LinuxDeviceCgroup): string {
  const type = r.type ?? 'a';
  if (!['a', 'b', 'c'].includes(type)) throw invalid(`invalid device cgroup type "${type}"`, "use 'a', 'c' or 'b'");
  const num = (n: number | null | undefined): string => (n === undefined || n === null || n === -1 ? '*' : String(n));
  const access = r.access ?? 'rwm';
  if (!/^[rwm]+$/.test(access)) throw invalid(`invalid device cgroup access "${access}"`, 'use a combination of r, w and m');
  return `${type} ${num(r.major)}:${num(r.minor)} ${access}`;
}

export class CgroupV1Manager implements CgroupManager {
  readonly version = 1 as const;
  readonly paths: Record<string, string>;
  private readonly made: string[] = [];

  constructor(
    private readonly hierarchies: V1Hierarchy[],
    private readonly unifiedDir: string | undefined,
  ) {
    const paths: Record<string, string> = {};
    for (const h of hierarchies) for (const c of h.controllers) paths[c] = h.dir;
    if (unifiedDir !== undefined) paths.unified = unifiedDir;
    this.paths = paths;
  }

  /** The directory for a controller, or undefined when that hierarchy is not mounted. */
  dirOf(controller: string): string | undefined {
    return this.hierarchies.find((h) => h.controllers.includes(controller))?.dir;
  }

  private need(controller: string, what: string): string {
    const d = this.dirOf(controller);
    if (d === undefined) throw missingController(controller, '/proc/self/mountinfo', what);
    return d;
  }

  private allDirs(): string[] {
    const dirs = this.hierarchies.map((h) => h.dir);
    if (this.unifiedDir !== undefined) dirs.push(this.unifiedDir);
    return dirs;
  }

  dirsAhead(): string[] {
    return [...this.hierarchies.filter((h) => !h.controllers.includes('cpuset')).map((h) => h.dir), ...(this.unifiedDir === undefined ? [] : [this.unifiedDir])];
  }

  cpusetDirsAhead(): string[] {
    return this.hierarchies.filter((h) => h.controllers.includes('cpuset')).map((h) => h.dir);
  }

  create(madeAhead: string[] = []): void {
    const before = this.made.length;
    // Theirs first: removed last, after anything made here beneath or beside them.
    this.made.push(...madeAhead);
    const ahead = new Set(madeAhead);
    try {
      for (const h of this.hierarchies) {
        if (ahead.has(h.dir)) continue; // made (a cpuset one with its cpus and mems: cpusetDirsAhead)
        const made: string[] = [];
        mkdirTracked(h.dir, made);
        this.made.push(...made);
        // A new cpuset cgroup starts with empty cpuset.cpus/mems, and no task can join it
        // (ENOSPC on cgroup.procs) until they are set. Copy them down from the parent, outermost
        // first, unless the hierarchy has cgroup.clone_children (then the kernel did it).
        // One that existed may be such an empty one too: made ahead (cgroups-ahead.ts) by a daemon
        // that died before it copied them.
        if (h.controllers.includes('cpuset')) for (const d of made.length ? made : [h.dir]) this.inheritCpuset(d);
      }
      if (this.unifiedDir !== undefined && !ahead.has(this.unifiedDir)) {
        const made: string[] = [];
        mkdirTracked(this.unifiedDir, made);
        this.made.push(...made);
      }
    } catch (err) {
      removeMadeDirs(this.made.splice(before));
      throw err;
    }
  }

  private inheritCpuset(dir: string): void {
    const parent = join(dir, '..');
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const cur = (readOptional(dir, f) ?? '').trim();
      if (cur !== '') continue;
      const value = readCgroupFile(parent, f).trim();
      writeCgroupFile(`inherit ${f} from ${parent}`, dir, f, value);
    }
  }

  apply(resources: CgroupResources): void {
    try {
      this.set(resources);
    } catch (err) {
      // A container that failed to start leaves nothing behind (only what we made; rmdir fails
      // on a cgroup with tasks, which is then the caller's to destroy).
      removeMadeDirs(this.made.splice(0));
      throw err;
    }
  }

  update(resources: CgroupResources): void {
    this.set(resources);
  }

  private set(r: CgroupResources): void {
    if (r.cpu) {
      const c = r.cpu;
      if (c.cpus !== undefined && c.cpus !== '') writeCgroupFile('set cpuset cpus', this.need('cpuset', 'set cpus'), 'cpuset.cpus', c.cpus);
      if (c.mems !== undefined && c.mems !== '') writeCgroupFile('set cpuset mems', this.need('cpuset', 'set mems'), 'cpuset.mems', c.mems);
    }
    if (r.memory) this.setMemory(r.memory);
    if (r.cpu) {
      const c = r.cpu;
      const needCpu = (): string => this.need('cpu', 'set cpu limits');
      if (c.shares !== undefined && c.shares !== 0) {
        const d = needCpu();
        writeCgroupFile('set cpu shares', d, 'cpu.shares', c.shares);
        // The kernel clamps silently to [2, 262144]; tell the user instead.
        const got = readNumber(d, 'cpu.shares');
        if (got !== c.shares) throw invalid(`set cpu shares: the kernel set ${got} instead of ${c.shares}`, 'shares must be between 2 and 262144');
      }
      // The rt period must be set before the runtime (runtime <= period).
      if (c.realtimePeriod !== undefined && c.realtimePeriod !== 0) writeCgroupFile('set cpu rt period', needCpu(), 'cpu.rt_period_us', c.realtimePeriod);
      if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) {
        const d = needCpu();
        try {
          writeCgroupFile('set cpu rt runtime', d, 'cpu.rt_runtime_us', c.realtimeRuntime);
        } catch (err) {
          // EINVAL when the runtime does not fit in what the parent cgroup has left: a parent
          // without a real-time budget (cpu.rt_runtime_us 0, the default below the root) has none.
          if (!(err instanceof HakoError) || err.code !== 'EINVAL') throw err;
          const parent = posix.dirname(d);
          const budget = readOptional(parent, 'cpu.rt_runtime_us')?.trim() ?? '?';
          throw new HakoError({ step: err.step, path: err.path, errno: err.errno, cause: err, hint: `the parent cgroup ${parent} has cpu.rt_runtime_us ${budget}: give it a real-time budget first, or leave out the real-time runtime` });
        }
      }
      // Period first: the quota is checked against it.
      if (c.period !== undefined && c.period !== 0) writeCgroupFile('set cpu period', needCpu(), 'cpu.cfs_period_us', c.period);
      if (c.quota !== undefined && c.quota !== 0) writeCgroupFile('set cpu quota', needCpu(), 'cpu.cfs_quota_us', c.quota < 0 ? -1 : c.quota);
      if (c.burst !== undefined) writeCgroupFile('set cpu burst', needCpu(), 'cpu.cfs_burst_us', c.burst);
      if (c.idle !== undefined) writeCgroupFile('set cpu idle', needCpu(), 'cpu.idle', c.idle);
    }
    if (r.pids) {
      writeCgroupFile('set pids limit', this.need('pids', 'set pids limit'), 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
    }
    if (r.blockIO) this.setBlkio(r.blockIO);
    if (r.hugepageLimits) {
      for (const h of r.hugepageLimits) {
        const size = hugepageSizeName(h.pageSize);
        writeCgroupFile(`set hugetlb ${size} limit`, this.need('hugetlb', 'set hugepage limits'), `hugetlb.${size}.limit_in_bytes`, h.limit);
      }
    }
    if (r.network) {
      if (r.network.classID !== undefined) writeCgroupFile('set net_cls classid', this.need('net_cls', 'set network class id'), 'net_cls.classid', r.network.classID);
      for (const p of r.network.priorities ?? []) {
        writeCgroupFile('set net_prio priority', this.need('net_prio', 'set network priorities'), 'net_prio.ifpriomap', `${p.name} ${p.priority}`);
      }
    }
    if (r.rdma) {
      for (const [dev, lim] of Object.entries(r.rdma)) {
        const parts = [dev];
        if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
        if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
        writeCgroupFile('set rdma limit', this.need('rdma', 'set rdma limits'), 'rdma.max', parts.join(' '));
      }
    }
    if (r.devices && r.devices.length > 0) {
      const d = this.need('devices', 'set device rules');
      // Start from deny-all, then apply the rules in order, so that (as on v2) later rules win and
      // anything not allowed is denied. A running container may see a short deny-all window here.
      // Each rule is one write(2) (the kernel takes one rule per write), on one open file per
      // list: a start's ~13 rules cost 2 opens instead of 13.
      const lines = r.devices.map(deviceRuleString);
      const fds: { allow?: number; deny?: number } = {};
      try {
        const write = (what: string, allow: boolean, line: string) => {
          const file = allow ? 'devices.allow' : 'devices.deny';
          const path = cgroupFile(d, file);
          try {
            const fd = (fds[allow ? 'allow' : 'deny'] ??= openSync(path, fsConstants.O_WRONLY));
            writeSync(fd, line);
          } catch (err) {
            throw fromSystemError(`${what}: write ${JSON.stringify(line).slice(1, -1)} to ${path}`, err, path);
          }
        };
        write('deny all devices', false, 'a');
        r.devices.forEach((rule, i) => write(`${rule.allow ? 'allow' : 'deny'} device`, rule.allow, lines[i]!));
      } finally {
        if (fds.allow !== undefined) closeSync(fds.allow);
        if (fds.deny !== undefined) closeSync(fds.deny);
      }
    }
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw invalid('the "unified" cgroup resources need cgroup v2', 'this host runs cgroup v1');
    }
  }

  private setMemory(m: NonNullable<CgroupResources['memory']>): void {
    const needMem = (): string => this.need('memory', 'set memory limits');
    const limit = m.limit !== undefined && m.limit !== 0 ? (m.limit < 0 ? -1 : m.limit) : undefined;
    const swap = m.swap !== undefined && m.swap !== 0 ? (m.swap < 0 ? -1 : m.swap) : undefined;
    if (limit !== undefined || swap !== undefined) {
      const d = needMem();
      if (swap !== undefined && !existsSync(join(d, 'memory.memsw.limit_in_bytes'))) {
        if (swap !== -1) {
          throw new HakoError({ step: `set memory+swap limit ${swap}: ${join(d, 'memory.memsw.limit_in_bytes')} does not exist`, hint: 'boot with swapaccount=1 or do not set memory.swap', kind: 'invalid-argument' });
        }
      }
      const hasMemsw = swap !== undefined && existsSync(join(d, 'memory.memsw.limit_in_bytes'));
      if (limit !== undefined && swap !== undefined && swap !== -1 && limit !== -1 && swap < limit) {
        throw invalid(`memory+swap limit ${swap} is smaller than the memory limit ${limit}`, 'memory.swap is memory plus swap');
      }
      // The kernel keeps memory.limit <= memsw.limit and refuses (EINVAL) a write that breaks it,
      // so the order matters: memsw goes first when the new memsw is not below the *current*
      // limit (raising both); otherwise the limit goes first (lowering, or from unlimited).
      const curLimit = parseCgroupNumber(readCgroupFile(d, 'memory.limit_in_bytes').trim());
      const big = (n: number): number => (n === -1 || n >= 2 ** 62 ? Number.MAX_SAFE_INTEGER : n);
      const swapFirst = hasMemsw && swap !== undefined && big(swap) >= big(curLimit);
      const writeSwap = (): void => {
        if (hasMemsw && swap !== undefined) writeCgroupFile('set memory+swap limit', d, 'memory.memsw.limit_in_bytes', swap);
      };
      if (swapFirst) writeSwap();
      if (limit !== undefined) writeCgroupFile('set memory limit', d, 'memory.limit_in_bytes', limit);
      if (!swapFirst) writeSwap();
    }
    if (m.reservation !== undefined && m.reservation !== 0) {
      writeCgroupFile('set memory reservation', needMem(), 'memory.soft_limit_in_bytes', m.reservation < 0 ? -1 : m.reservation);
    }
    if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness >= 0) {
      if (m.swappiness > 100) throw invalid(`invalid memory swappiness ${m.swappiness}`, 'use 0 to 100');
      writeCgroupFile('set memory swappiness', needMem(), 'memory.swappiness', m.swappiness);
    }
    if (m.disableOOMKiller !== undefined) {
      writeCgroupFile('set memory oom_control', needMem(), 'memory.oom_control', m.disableOOMKiller ? 1 : 0);
    }
    // memory.kernel / kernelTCP: kernel memory limits are deprecated (and a no-op or EOPNOTSUPP on
    // current kernels); like runc we ignore them.
  }

  private setBlkio(b: NonNullable<CgroupResources['blockIO']>): void {
    const d = this.need('blkio', 'set block IO limits');
    // CFQ's blkio.weight is gone with the legacy block layer; BFQ offers blkio.bfq.weight.
    const weightFile = existsSync(join(d, 'blkio.weight')) ? 'blkio.weight' : 'blkio.bfq.weight';
    if (b.weight !== undefined && b.weight !== 0) writeCgroupFile('set blkio weight', d, weightFile, b.weight);
    if (b.leafWeight !== undefined && b.leafWeight !== 0) writeCgroupFile('set blkio leaf weight', d, 'blkio.leaf_weight', b.leafWeight);
    for (const w of b.weightDevice ?? []) {
      if (w.weight !== undefined) writeCgroupFile('set blkio device weight', d, `${weightFile}_device`, `${w.major}:${w.minor} ${w.weight}`);
      if (w.leafWeight !== undefined) writeCgroupFile('set blkio device leaf weight', d, 'blkio.leaf_weight_device', `${w.major}:${w.minor} ${w.leafWeight}`);
    }
    const throttles: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ];
    for (const [key, file] of throttles) {
      for (const t of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
        writeCgroupFile('set blkio throttle', d, file, `${t.major}:${t.minor} ${t.rate}`);
      }
    }
  }

  addProcess(pid: number): void {
    for (const d of this.allDirs()) writeCgroupFile(`add process ${pid} to cgroup`, d, 'cgroup.procs', pid);
  }

  openForCloneInto(): number {
    return -1;
  }

  openSelfJoin(opened?: Map<string, number>): SelfJoinFds {
    const tasks: SelfJoinFds['tasks'] = [];
    let cloneInto = -1;
    try {
      for (const h of this.hierarchies) {
        const path = cgroupFile(h.dir, 'tasks');
        const ready = opened?.get(h.dir);
        if (ready !== undefined) {
          opened!.delete(h.dir);
          tasks.push({ fd: ready, path });
          continue;
        }
        // (Node opens every fd O_CLOEXEC.)
        tasks.push({ fd: openCgroupFile(path, fsConstants.O_WRONLY, 'for the container to join'), path });
      }
      if (this.unifiedDir !== undefined) {
        cloneInto = openCgroupFile(this.unifiedDir, O_PATH | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW, 'for CLONE_INTO_CGROUP');
      }
    } catch (err) {
      for (const t of tasks) closeSync(t.fd);
      throw err;
    }
    return { tasks, cloneInto };
  }

  freezerState(): FreezerState {
    const d = this.dirOf('freezer');
    if (d === undefined) return 'unknown';
    const s = readOptional(d, 'freezer.state')?.trim();
    if (s === 'FROZEN') return 'frozen';
    if (s === 'THAWED') return 'thawed';
    if (s === 'FREEZING') return 'freezing';
    return 'unknown';
  }

  async freeze(): Promise<void> {
    const d = this.need('freezer', 'freeze');
    // Writing FROZEN starts freezing; freezer.state reads FREEZING until every task is stopped.
    // A task in an uninterruptible sleep can hold it there, so rewrite FROZEN while polling.
    const ok = await waitUntil(() => {
      writeCgroupFile('freeze cgroup', d, 'freezer.state', 'FROZEN');
      return this.freezerState() === 'frozen';
    }, 5000);
    if (!ok) {
      writeCgroupFile('thaw cgroup after a failed freeze', d, 'freezer.state', 'THAWED');
      throw new HakoError({ step: `freeze ${d}: still FREEZING after 5 s`, path: d, hint: 'a task is stuck in an uninterruptible sleep', kind: 'internal' });
    }
  }

  async thaw(): Promise<void> {
    const d = this.need('freezer', 'thaw');
    writeCgroupFile('thaw cgroup', d, 'freezer.state', 'THAWED');
    await waitUntil(() => this.freezerState() === 'thawed', 5000);
  }

  pids(): number[] {
    // Every hierarchy has the same tasks; the pids hierarchy (or any) will do.
    const d = this.dirOf('pids') ?? this.dirOf('freezer') ?? this.hierarchies[0]?.dir;
    return d === undefined ? [] : [...new Set(procsRecursive(d))];
  }

  async killAll(signal: number): Promise<void> {
    const freezer = this.dirOf('freezer');
    const canFreeze = freezer !== undefined && existsSync(freezer);
    // Freezing first stops the tasks from forking new ones between our reading of the pid list
    // and the kill; a frozen task still receives SIGKILL once thawed.
    if (canFreeze) await this.freeze();
    try {
      killProcesses(this.pids(), signal);
    } finally {
      if (canFreeze) await this.thaw();
    }
    if (signal === 9) {
      const empty = await waitUntil(() => {
        const left = this.pids();
        if (left.length > 0) killProcesses(left, 9);
        return left.length === 0;
      }, 5000);
      if (!empty) throw new HakoError({ step: `kill every process in ${this.paths.pids ?? freezer}: some are still there after 5 s`, kind: 'internal' });
    }
  }

  stats(): CgroupStats {
    const cpuacct = this.dirOf('cpuacct');
    const cpu = this.dirOf('cpu');
    const mem = this.dirOf('memory');
    const pidsDir = this.dirOf('pids');
    const blkio = this.dirOf('blkio');
    const s: CgroupStats = {
      version: 1,
      cpu: { usageTotalNs: 0, usageUserNs: 0, usageKernelNs: 0, periods: 0, throttledPeriods: 0, throttledTimeNs: 0 },
      memory: { usage: 0, limit: 0, cache: 0, stats: {} },
      pids: { current: 0 },
      io: { serviceBytes: [], serviceIOs: [], cfq: { queued: [], serviceTime: [], waitTime: [], merged: [], time: [], sectors: [] } },
    };
    if (cpuacct) {
      s.cpu.usageTotalNs = readNumber(cpuacct, 'cpuacct.usage') ?? 0;
      const user = readNumber(cpuacct, 'cpuacct.usage_user');
      const sys = readNumber(cpuacct, 'cpuacct.usage_sys');
      if (user !== undefined && sys !== undefined) {
        s.cpu.usageUserNs = user;
        s.cpu.usageKernelNs = sys;
      } else {
        const st = parseFlatKeyed(readOptional(cpuacct, 'cpuacct.stat') ?? '');
        s.cpu.usageUserNs = ticksToNs(st.user ?? 0);
        s.cpu.usageKernelNs = ticksToNs(st.system ?? 0);
      }
      const percpu = readOptional(cpuacct, 'cpuacct.usage_percpu');
      if (percpu !== undefined) s.cpu.percpuUsageNs = parsePercpu(percpu);
    }
    if (cpu) {
      const st = parseFlatKeyed(readOptional(cpu, 'cpu.stat') ?? '');
      s.cpu.periods = st.nr_periods ?? 0;
      s.cpu.throttledPeriods = st.nr_throttled ?? 0;
      s.cpu.throttledTimeNs = st.throttled_time ?? 0;
    }
    if (mem) {
      const st = parseFlatKeyed(readOptional(mem, 'memory.stat') ?? '');
      s.memory.stats = st;
      s.memory.usage = readNumber(mem, 'memory.usage_in_bytes') ?? 0;
      s.memory.limit = readNumber(mem, 'memory.limit_in_bytes') ?? 0;
      s.memory.maxUsage = readNumber(mem, 'memory.max_usage_in_bytes') ?? 0;
      s.memory.failcnt = readNumber(mem, 'memory.failcnt') ?? 0;
      s.memory.cache = st.total_cache ?? st.cache ?? 0;
      s.memory.rss = st.total_rss ?? st.rss ?? 0;
      const memsw = readNumber(mem, 'memory.memsw.usage_in_bytes');
      if (memsw !== undefined) s.memory.swapUsage = Math.max(0, memsw - s.memory.usage);
      const swLimit = readNumber(mem, 'memory.memsw.limit_in_bytes');
      if (swLimit !== undefined) s.memory.swapLimit = swLimit;
      const oom = readOptional(mem, 'memory.oom_control');
      if (oom !== undefined) s.memory.oomKills = parseOomControl(oom).oomKill;
    }
    if (pidsDir) {
      s.pids.current = readNumber(pidsDir, 'pids.current') ?? 0;
      const max = readNumber(pidsDir, 'pids.max');
      if (max !== undefined && max !== Number.MAX_SAFE_INTEGER) s.pids.limit = max;
    }
    if (blkio) {
      // The throttle files count every IO on the legacy and blk-mq paths; the CFQ/BFQ ones only
      // with that scheduler.
      s.io.serviceBytes = parseBlkio(readOptional(blkio, 'blkio.throttle.io_service_bytes_recursive') ?? readOptional(blkio, 'blkio.throttle.io_service_bytes') ?? '');
      s.io.serviceIOs = parseBlkio(readOptional(blkio, 'blkio.throttle.io_serviced_recursive') ?? readOptional(blkio, 'blkio.throttle.io_serviced') ?? '');
    }
    const hugetlb = this.dirOf('hugetlb');
    if (hugetlb) {
      s.hugetlb = {};
      for (const size of ['2MB', '1GB', '64KB', '32MB', '16GB']) {
        const usage = readNumber(hugetlb, `hugetlb.${size}.usage_in_bytes`);
        if (usage === undefined) continue;
        s.hugetlb[size] = {
          usage,
          maxUsage: readNumber(hugetlb, `hugetlb.${size}.max_usage_in_bytes`) ?? 0,
          failcnt: readNumber(hugetlb, `hugetlb.${size}.failcnt`) ?? 0,
        };
      }
    }
    return s;
  }

  async destroy(): Promise<void> {
    const errors: unknown[] = [];
    // One rmdir per hierarchy, all in one thread-pool job (each a pool round trip of its own
    // cost the event loop ~50 µs); what that left (EBUSY: tasks still exiting, sub-cgroups) is
    // retried by removeCgroupDir, the hierarchies at once.
    const dirs = this.allDirs();
    const errnos = await rmdirs(dirs);
    const left = errnos === undefined ? dirs : dirs.filter((_, k) => errnos[k] !== 0 && errnos[k] !== osConstants.errno.ENOENT);
    const settled = await Promise.allSettled(left.map((d) => removeCgroupDir(d)));
    for (const r of settled) if (r.status === 'rejected') errors.push(r.reason);
    // Parents that this manager made (e.g. /hako for the default path) go too when empty.
    removeMadeDirs(this.made.splice(0));
    if (errors.length > 0) throw errors[0];
  }

  exists(): boolean {
    return this.allDirs().some((d) => existsSync(d));
  }
}
