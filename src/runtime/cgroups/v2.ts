// The cgroup v2 driver: one hierarchy, the container's cgroup is one directory. Works on a pure v2
// host (/sys/fs/cgroup) and on the cgroup2 mount of a hybrid host (/sys/fs/cgroup/unified, where
// usually no controller is available: freeze, kill, cgroup.procs and BPF device programs still
// work there, limits give a clear "controller not available" error).
import { existsSync, openSync, constants as fsConstants } from 'node:fs';
import { relative, sep } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { fromSystemError, HakoError, invalid } from '../../common/errors.js';
import { addonBpf, attachDeviceProgram, type BpfSyscall } from './bpf.js';
import { blkioWeightToIoWeight, cpuMax, hugepageSizeName, sharesToWeight, swapToV2, v2Limit } from './convert.js';
import { deviceProgram } from './devicefilter.js';
import {
  missingController,
  mkdirTracked,
  procsRecursive,
  readNumber,
  readOptional,
  removeCgroupDir,
  removeMadeDirs,
  writeCgroupFile,
} from './fsutil.js';
import { killProcesses, waitUntil } from './signals.js';
import { parseFlatKeyed, parseIoStat } from './stats.js';
import type { CgroupManager, CgroupResources, CgroupStats, FreezerState } from './types.js';

const O_PATH = 0o10000000;

/** A write to one file of the leaf, with the controller it needs ('' for core files). */
interface V2Write {
  what: string;
  file: string;
  value: string;
  controller: string;
}

/** Turns OCI resources into the v2 file writes, in order. Pure, so it is unit-tested. */
export function v2Writes(r: CgroupResources, current: (file: string) => string | undefined): V2Write[] {
  const out: V2Write[] = [];
  const w = (what: string, controller: string, file: string, value: string | number): void => {
    out.push({ what, controller, file, value: String(value) });
  };
  if (r.cpu) {
    const c = r.cpu;
    if (c.cpus) w('set cpuset cpus', 'cpuset', 'cpuset.cpus', c.cpus);
    if (c.mems) w('set cpuset mems', 'cpuset', 'cpuset.mems', c.mems);
    if (c.shares !== undefined && c.shares !== 0) {
      if (c.shares < 2 || c.shares > 262144) throw invalid(`invalid cpu shares ${c.shares}`, 'shares must be between 2 and 262144');
      w('set cpu weight', 'cpu', 'cpu.weight', sharesToWeight(c.shares));
    }
    const max = cpuMax(c.quota === 0 ? undefined : c.quota, c.period === 0 ? undefined : c.period, current('cpu.max'));
    if (max !== undefined) w('set cpu quota', 'cpu', 'cpu.max', max);
    if (c.burst !== undefined) w('set cpu burst', 'cpu', 'cpu.max.burst', c.burst);
    if (c.idle !== undefined) w('set cpu idle', 'cpu', 'cpu.idle', c.idle);
    if ((c.realtimeRuntime ?? 0) !== 0 || (c.realtimePeriod ?? 0) !== 0) {
      throw invalid('realtime cpu limits are not supported on cgroup v2', 'remove cpu.realtimeRuntime/realtimePeriod');
    }
  }
  if (r.memory) {
    const m = r.memory;
    const limit = m.limit === undefined || m.limit === 0 ? undefined : m.limit;
    if (m.reservation !== undefined && m.reservation !== 0) w('set memory reservation', 'memory', 'memory.low', v2Limit(m.reservation));
    // OCI swap is memory+swap (v1's memsw); v2 limits swap alone.
    const swapMax = swapToV2(m.swap, limit);
    if (swapMax !== undefined) w('set swap limit', 'memory', 'memory.swap.max', v2Limit(swapMax));
    if (limit !== undefined) w('set memory limit', 'memory', 'memory.max', v2Limit(limit));
    if (m.swappiness !== undefined && m.swappiness !== null && m.swappiness >= 0) {
      throw invalid('memory swappiness is not supported on cgroup v2', 'remove memory.swappiness');
    }
    // disableOOMKiller has no v2 equivalent; runc ignores it and so do we. Kernel memory is
    // accounted together with user memory on v2.
  }
  if (r.pids) w('set pids limit', 'pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  if (r.blockIO) {
    const b = r.blockIO;
    // BFQ takes the blkio weight unchanged (io.bfq.weight, 1..1000); otherwise io.weight.
    const bfq = current('io.bfq.weight') !== undefined;
    if (b.weight !== undefined && b.weight !== 0) {
      if (bfq) w('set io weight', 'io', 'io.bfq.weight', b.weight);
      else w('set io weight', 'io', 'io.weight', `default ${blkioWeightToIoWeight(b.weight)}`);
    }
    for (const d of b.weightDevice ?? []) {
      if (d.weight === undefined) continue;
      if (bfq) w('set io device weight', 'io', 'io.bfq.weight', `${d.major}:${d.minor} ${d.weight}`);
      else w('set io device weight', 'io', 'io.weight', `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}`);
    }
    const throttles: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ];
    for (const [key, name] of throttles) {
      for (const t of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? []) {
        w('set io limit', 'io', 'io.max', `${t.major}:${t.minor} ${name}=${t.rate === 0 ? 'max' : t.rate}`);
      }
    }
  }
  for (const h of r.hugepageLimits ?? []) {
    const size = hugepageSizeName(h.pageSize);
    w(`set hugetlb ${size} limit`, 'hugetlb', `hugetlb.${size}.max`, v2Limit(h.limit));
  }
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const parts = [dev];
    if (lim.hcaHandles !== undefined) parts.push(`hca_handle=${lim.hcaHandles}`);
    if (lim.hcaObjects !== undefined) parts.push(`hca_object=${lim.hcaObjects}`);
    w('set rdma limit', 'rdma', 'rdma.max', parts.join(' '));
  }
  if (r.network && (r.network.classID !== undefined || (r.network.priorities ?? []).length > 0)) {
    throw invalid('network class id and priorities are cgroup v1 features', 'use tc or a BPF program on v2');
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    if (key.includes('/') || key.includes('..') || key === '' || key.startsWith('.')) {
      throw invalid(`invalid unified cgroup key "${key}"`, 'a key is a file name in the cgroup directory');
    }
    const dot = key.indexOf('.');
    if (dot <= 0) throw invalid(`invalid unified cgroup key "${key}"`, 'expected controller.file');
    const controller = key.slice(0, dot);
    w(`set ${key}`, controller === 'cgroup' ? '' : controller, key, value);
  }
  return out;
}

export interface V2Options {
  /** The cgroup2 mount point, e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified. */
  mountPoint: string;
  /** The container's directory. */
  dir: string;
  /** bpf(2) for the device program; defaults to the native addon's. */
  bpf?: BpfSyscall | undefined;
}

export class CgroupV2Manager implements CgroupManager {
  readonly version = 2 as const;
  readonly paths: Record<string, string>;
  private readonly made: string[] = [];
  private readonly mountPoint: string;
  private readonly dir: string;
  private readonly bpf: BpfSyscall | undefined;

  constructor(opts: V2Options) {
    this.mountPoint = opts.mountPoint;
    this.dir = opts.dir;
    this.bpf = opts.bpf;
    this.paths = { unified: opts.dir };
  }

  create(madeAhead: string[] = []): void {
    const before = this.made.length;
    this.made.push(...madeAhead);
    try {
      mkdirTracked(this.dir, this.made);
    } catch (err) {
      removeMadeDirs(this.made.splice(before));
      throw err;
    }
    this.enableAvailableControllers();
  }

  /**
   * Best effort, as runc's v2 manager: every controller an ancestor has available is enabled for
   * its children, so that the leaf has memory.current, pids.current, io.stat… even without a limit
   * (docker stats reads them: without this a container without limits showed 0 memory and 0 pids).
   * A refusal is not an error here: EBUSY where an ancestor has processes of its own (the "no
   * internal processes" rule), EACCES/EPERM where it is not ours; a limit that needs the controller
   * says so in apply().
   */
  private enableAvailableControllers(): void {
    for (const d of this.ancestors()) {
      const avail = readOptional(d, 'cgroup.controllers');
      if (avail === undefined) return; // a fake tree (unit tests)
      if (this.hasOwnProcesses(d)) return;
      const enabled = new Set((readOptional(d, 'cgroup.subtree_control') ?? '').trim().split(/\s+/).map((c) => c.replace(/^\+/, '')));
      const missing = avail.trim().split(/\s+/).filter((c) => c !== '' && !enabled.has(c));
      if (missing.length === 0) continue;
      try {
        writeCgroupFile('enable cgroup controllers', d, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
      } catch {
        // The kernel applies all or none of one write: try each, keeping what it takes.
        for (const c of missing) {
          try {
            writeCgroupFile('enable cgroup controllers', d, 'cgroup.subtree_control', `+${c}`);
          } catch {
            /* see above */
          }
        }
      }
    }
  }

  apply(resources: CgroupResources): void {
    try {
      this.set(resources);
    } catch (err) {
      removeMadeDirs(this.made.splice(0));
      throw err;
    }
  }

  update(resources: CgroupResources): void {
    this.set(resources);
  }

  private set(r: CgroupResources): void {
    const writes = v2Writes(r, (f) => readOptional(this.dir, f));
    const needed = [...new Set(writes.map((w) => w.controller).filter((c) => c !== ''))];
    this.enableControllers(needed, writes[0]?.what ?? 'set limits');
    // A kernel without swap accounting (CONFIG_SWAP=n, or swapaccount=0 before 6.1) has
    // memory.current but no memory.swap.max: "no swap limit" and "no swap" (max, 0) need no write
    // there (runc skips them too); a real swap limit cannot be kept. Decided before any write, so a
    // refusal leaves the other limits as they were.
    const swapless = writes.some((w) => w.file === 'memory.swap.max') && !this.hasSwapAccounting();
    const kept = swapless ? writes.filter((w) => w.file !== 'memory.swap.max' || !(w.value === 'max' || w.value === '0')) : writes;
    const refused = swapless ? kept.find((w) => w.file === 'memory.swap.max') : undefined;
    if (refused) {
      throw new HakoError({ step: `${refused.what} ${refused.value}: ${join(this.dir, 'memory.swap.max')} does not exist (the kernel has no swap accounting)`, hint: 'do not set memory.swap beyond memory.limit, or use a kernel with swap accounting', kind: 'invalid-argument' });
    }
    for (const w of kept) writeCgroupFile(w.what, this.dir, w.file, w.value);
    if (r.devices !== undefined && r.devices.length > 0) this.setDevices(r.devices);
  }

  /** memory.swap.max is there, or the memory controller is not (a fake tree: nothing to tell). */
  private hasSwapAccounting(): boolean {
    return existsSync(join(this.dir, 'memory.swap.max')) || !existsSync(join(this.dir, 'memory.current'));
  }

  /**
   * Whether non-root cgroup `d` has processes of its own. Controllers must not be enabled there: the
   * domain ones are refused (EBUSY), but the threaded ones (cpu, cpuset, pids) are taken and turn
   * it into a thread root, whose child cgroups become "domain invalid": a clone3 into them then
   * fails with EOPNOTSUPP (seen with a relative cgroupsPath beneath a daemon's own cgroup).
   */
  private hasOwnProcesses(d: string): boolean {
    if (d === this.mountPoint) return false; // the root is exempt
    const procs = readOptional(d, 'cgroup.procs');
    return procs !== undefined && procs.trim() !== '';
  }

  /** The directories from the mount root down to the leaf's parent, outermost first. */
  private ancestors(): string[] {
    const rel = relative(this.mountPoint, this.dir);
    if (rel.startsWith('..')) throw invalid(`cgroup ${this.dir} is not under ${this.mountPoint}`);
    const out = [this.mountPoint];
    let cur = this.mountPoint;
    const parts = rel === '' ? [] : rel.split(sep);
    for (const p of parts.slice(0, -1)) {
      cur = join(cur, p);
      out.push(cur);
    }
    return out;
  }

  /**
   * Makes `controllers` available in the leaf: each ancestor must list it in
   * cgroup.subtree_control, which is only possible where it is in cgroup.controllers. A
   * non-root cgroup with processes of its own refuses to enable controllers for its children
   * (EBUSY, the "no internal processes" rule).
   */
  enableControllers(controllers: string[], what: string): void {
    if (controllers.length === 0) return;
    let inherited: Set<string> | undefined;
    for (const d of this.ancestors()) {
      const avail = readOptional(d, 'cgroup.controllers');
      // A directory of a fake tree (unit tests) has no cgroup.controllers: the kernel would show
      // what the parent's subtree_control enables.
      const available = avail !== undefined ? new Set(avail.trim().split(/\s+/).filter(Boolean)) : (inherited ?? new Set<string>());
      const enabled = new Set(
        (readOptional(d, 'cgroup.subtree_control') ?? '')
          .trim()
          .split(/\s+/)
          .filter(Boolean)
          .map((c) => c.replace(/^\+/, '')),
      );
      const missing = controllers.filter((c) => !enabled.has(c));
      for (const c of missing) if (!available.has(c)) throw missingController(c, d, what);
      if (missing.length > 0 && this.hasOwnProcesses(d)) {
        throw new HakoError({ step: `${what}: enable ${missing.join(', ')} in ${join(d, 'cgroup.subtree_control')}`, path: d, hint: `${d} has processes of its own; cgroup v2 allows controllers only for cgroups without them (move them into a child cgroup)`, kind: 'invalid-argument' });
      }
      if (missing.length > 0) {
        try {
          writeCgroupFile('enable cgroup controllers', d, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
        } catch (err) {
          if (err instanceof HakoError && err.code === 'EBUSY') {
            throw new HakoError({ step: err.step, path: err.path, errno: err.errno, hint: `${d} has processes of its own; cgroup v2 allows controllers only for cgroups without them (move them into a child cgroup)`, cause: err });
          }
          throw err;
        }
        for (const c of missing) enabled.add(c);
      }
      inherited = enabled;
    }
  }

  private setDevices(rules: NonNullable<CgroupResources['devices']>): void {
    const program = deviceProgram(rules);
    attachDeviceProgram(this.bpf ?? addonBpf(), this.dir, program);
  }

  addProcess(pid: number): void {
    writeCgroupFile(`add process ${pid} to cgroup`, this.dir, 'cgroup.procs', pid);
  }

  openSelfJoin(): undefined {
    return undefined;
  }

  openForCloneInto(): number {
    try {
      return openSync(this.dir, O_PATH | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      throw fromSystemError(`open cgroup ${this.dir} for CLONE_INTO_CGROUP`, err, this.dir);
    }
  }

  private events(): Record<string, number> {
    return parseFlatKeyed(readOptional(this.dir, 'cgroup.events') ?? '');
  }

  freezerState(): FreezerState {
    const f = readOptional(this.dir, 'cgroup.freeze');
    if (f === undefined) return 'unknown';
    if (f.trim() === '0') return 'thawed';
    return this.events().frozen === 1 ? 'frozen' : 'freezing';
  }

  async freeze(): Promise<void> {
    writeCgroupFile('freeze cgroup', this.dir, 'cgroup.freeze', 1);
    // cgroup.events says 'frozen 1' once every task is stopped.
    if (!(await waitUntil(() => this.events().frozen === 1, 5000))) {
      writeCgroupFile('thaw cgroup after a failed freeze', this.dir, 'cgroup.freeze', 0);
      throw new HakoError({ step: `freeze ${this.dir}: not frozen after 5 s`, path: this.dir, kind: 'internal' });
    }
  }

  async thaw(): Promise<void> {
    writeCgroupFile('thaw cgroup', this.dir, 'cgroup.freeze', 0);
    await waitUntil(() => this.events().frozen !== 1, 5000);
  }

  pids(): number[] {
    return [...new Set(procsRecursive(this.dir))];
  }

  async killAll(signal: number): Promise<void> {
    if (signal === 9 && existsSync(join(this.dir, 'cgroup.kill'))) {
      // cgroup.kill (5.14+) SIGKILLs the whole subtree atomically, forks in flight included.
      writeCgroupFile('kill every process in the cgroup', this.dir, 'cgroup.kill', 1);
    } else {
      const canFreeze = existsSync(join(this.dir, 'cgroup.freeze'));
      if (canFreeze) await this.freeze();
      try {
        killProcesses(this.pids(), signal);
      } finally {
        if (canFreeze) await this.thaw();
      }
    }
    if (signal === 9) {
      const empty = await waitUntil(() => this.events().populated === 0 || this.pids().length === 0, 5000);
      if (!empty) throw new HakoError({ step: `kill every process in ${this.dir}: some are still there after 5 s`, kind: 'internal' });
    }
  }

  stats(): CgroupStats {
    const d = this.dir;
    const cpu = parseFlatKeyed(readOptional(d, 'cpu.stat') ?? '');
    const mstat = parseFlatKeyed(readOptional(d, 'memory.stat') ?? '');
    const mevents = parseFlatKeyed(readOptional(d, 'memory.events') ?? '');
    const s: CgroupStats = {
      version: 2,
      cpu: {
        usageTotalNs: (cpu.usage_usec ?? 0) * 1000,
        usageUserNs: (cpu.user_usec ?? 0) * 1000,
        usageKernelNs: (cpu.system_usec ?? 0) * 1000,
        periods: cpu.nr_periods ?? 0,
        throttledPeriods: cpu.nr_throttled ?? 0,
        throttledTimeNs: (cpu.throttled_usec ?? 0) * 1000,
      },
      memory: {
        usage: readNumber(d, 'memory.current') ?? 0,
        limit: readNumber(d, 'memory.max') ?? Number.MAX_SAFE_INTEGER,
        cache: mstat.file ?? 0,
        rss: mstat.anon ?? 0,
        stats: mstat,
      },
      pids: { current: readNumber(d, 'pids.current') ?? 0 },
      io: parseIoStat(readOptional(d, 'io.stat') ?? ''),
    };
    const peak = readNumber(d, 'memory.peak');
    if (peak !== undefined) s.memory.maxUsage = peak;
    const swap = readNumber(d, 'memory.swap.current');
    if (swap !== undefined) s.memory.swapUsage = swap;
    const swapMax = readNumber(d, 'memory.swap.max');
    if (swapMax !== undefined) s.memory.swapLimit = swapMax;
    if (mevents.max !== undefined) s.memory.failcnt = mevents.max;
    if (mevents.oom !== undefined) s.memory.oomEvents = mevents.oom;
    if (mevents.oom_kill !== undefined) s.memory.oomKills = mevents.oom_kill;
    const pmax = readNumber(d, 'pids.max');
    if (pmax !== undefined && pmax !== Number.MAX_SAFE_INTEGER) s.pids.limit = pmax;
    return s;
  }

  async destroy(): Promise<void> {
    await removeCgroupDir(this.dir);
    removeMadeDirs(this.made.splice(0));
  }

  exists(): boolean {
    return existsSync(this.dir);
  }
}

