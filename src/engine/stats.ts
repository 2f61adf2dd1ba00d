// cgroup statistics → docker's stats JSON (cpu_stats/precpu_stats/memory_stats/pids_stats/
// blkio_stats/read/preread/name/id; num_procs 0 and storage_stats {} as docker on Linux).
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { BlkioEntry, CgroupStats } from '../runtime/cgroups/types.js';
import type { Json } from './api-types.js';
import { realtimeNs, rfc3339NanoUtc } from '../common/time.js';

/** Host CPU time in nanoseconds (the sum of /proc/stat's first line, in USER_HZ ticks). */
export function systemCpuUsageNs(): number {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const ticks = first.trim().split(/\s+/).slice(1, 8).reduce((n, x) => n + Number(x), 0);
    return ticks * (1e9 / 100);
  } catch {
    return 0;
  }
}

/**
 * docker's `networks` stats: the counters of each interface in the container's network namespace
 * (from /proc/<pid>/net/dev), loopback left out; undefined when there are none (host, none).
 */
export function netDevStats(pid: number, procRoot = '/proc'): Json | undefined {
  let text: string;
  try {
    text = readFileSync(`${procRoot}/${pid}/net/dev`, 'utf8');
  } catch {
    return undefined;
  }
  const out: Json = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = { rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3], tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11] };
  }
  return Object.keys(out).length ? out : undefined;
}

export function emptyCpuStats(): Json {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/**
 * `now` (ns since the epoch) null: dockerd's frame for a container that does not run (Go's zero
 * time as `read`). Keys in dockerd's order (types.StatsJSON: the stats, then name, id, networks);
 * times as Go writes them (RFC3339Nano, ns).
 */
export function dockerStats(s: CgroupStats | undefined, prev: Json | undefined, who: { id: string; name: string }, now: bigint | null = realtimeNs(), networks?: Json): Json {
  const cpu: Json = s
    ? {
        cpu_usage: {
          total_usage: s.cpu.usageTotalNs,
          ...(s.cpu.percpuUsageNs ? { percpu_usage: s.cpu.percpuUsageNs } : {}),
          usage_in_kernelmode: s.cpu.usageKernelNs,
          usage_in_usermode: s.cpu.usageUserNs,
        },
        system_cpu_usage: systemCpuUsageNs(),
        online_cpus: cpus().length,
        throttling_data: { periods: s.cpu.periods, throttled_periods: s.cpu.throttledPeriods, throttled_time: s.cpu.throttledTimeNs },
      }
    : emptyCpuStats();
  return {
    read: now !== null ? rfc3339NanoUtc(now) : '0001-01-01T00:00:00Z',
    preread: (prev?.read as string | undefined) ?? '0001-01-01T00:00:00Z',
    pids_stats: s ? { current: s.pids.current, ...(s.pids.limit !== undefined ? { limit: s.pids.limit } : {}) } : {},
    blkio_stats: blkioStats(s),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: (prev?.cpu_stats as Json | undefined) ?? emptyCpuStats(),
    memory_stats: s ? memoryStats(s) : {},
    name: who.name,
    id: who.id,
    ...(networks ? { networks } : {}),
  };
}

const NULL_BLKIO: Json = { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null };

function blkioStats(s: CgroupStats | undefined): Json {
  if (!s) return { ...NULL_BLKIO };
  const blk = (e: BlkioEntry[]) => e.map((x) => ({ major: x.major, minor: x.minor, op: x.op, value: x.value }));
  if (s.version === 2) {
    // dockerd's statsV2: io.stat's rbytes/wbytes as ops "read"/"write" (lower case; the docker CLI
    // takes either), every other list unsupported (null); discards are not shown.
    const rw = s.io.serviceBytes
      .filter((x) => x.op === 'Read' || x.op === 'Write')
      .map((x) => ({ major: x.major, minor: x.minor, op: x.op.toLowerCase(), value: x.value }));
    return { ...NULL_BLKIO, io_service_bytes_recursive: rw.length ? rw : null };
  }
  const cfq = s.io.cfq;
  return {
    io_service_bytes_recursive: blk(s.io.serviceBytes),
    io_serviced_recursive: blk(s.io.serviceIOs),
    // cgroup v1: dockerd copies each list ([] when empty).
    io_queue_recursive: cfq ? blk(cfq.queued) : null,
    io_service_time_recursive: cfq ? blk(cfq.serviceTime) : null,
    io_wait_time_recursive: cfq ? blk(cfq.waitTime) : null,
    io_merged_recursive: cfq ? blk(cfq.merged) : null,
    io_time_recursive: cfq ? blk(cfq.time) : null,
    sectors_recursive: cfq ? blk(cfq.sectors) : null,
  };
}

/** The memory.stat keys dockerd shows on cgroup v2 (containerd's v2 metrics; 0 when the kernel lacks one). */
const V2_MEMORY_KEYS = [
  'anon', 'file', 'kernel_stack', 'slab', 'sock', 'shmem', 'file_mapped', 'file_dirty', 'file_writeback', 'anon_thp',
  'inactive_anon', 'active_anon', 'inactive_file', 'active_file', 'unevictable', 'slab_reclaimable', 'slab_unreclaimable',
  'pgfault', 'pgmajfault', 'workingset_refault', 'workingset_activate', 'workingset_nodereclaim', 'pgrefill', 'pgscan',
  'pgsteal', 'pgactivate', 'pgdeactivate', 'pglazyfree', 'pglazyfreed', 'thp_fault_alloc', 'thp_collapse_alloc',
] as const;

function memoryStats(s: CgroupStats): Json {
  // dockerd: without a memory limit (v1's huge number, v2's "max") the limit shown is the host's memory.
  const machine = totalmem();
  const limit = s.memory.limit > machine && machine > 0 ? machine : s.memory.limit;
  if (s.version === 2) {
    // dockerd's statsV2: a fixed set of memory.stat keys, no max_usage, failcnt = memory.events' oom
    // (both omitted when 0, as Go's omitempty).
    const stats: Record<string, number> = {};
    for (const k of V2_MEMORY_KEYS) stats[k] = s.memory.stats[k] ?? 0;
    return { usage: s.memory.usage, stats, ...(s.memory.oomEvents ? { failcnt: s.memory.oomEvents } : {}), limit };
  }
  // dockerd's statsV1: the 32 memory.stat keys containerd's v1 metrics carry (0 when the kernel
  // lacks one), in Go's map order (sorted); usage, max_usage (memory.max_usage_in_bytes) and
  // failcnt (memory.failcnt) omitted when 0.
  const stats: Record<string, number> = {};
  for (const k of V1_MEMORY_KEYS) stats[k] = s.memory.stats[k] ?? 0;
  return { ...(s.memory.usage ? { usage: s.memory.usage } : {}), ...(s.memory.maxUsage ? { max_usage: s.memory.maxUsage } : {}), stats, ...(s.memory.failcnt ? { failcnt: s.memory.failcnt } : {}), ...(limit ? { limit } : {}) };
}

const V1_MEMORY_KEYS = [
  'active_anon', 'active_file', 'cache', 'dirty', 'hierarchical_memory_limit', 'hierarchical_memsw_limit', 'inactive_anon',
  'inactive_file', 'mapped_file', 'pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'rss', 'rss_huge', 'total_active_anon',
  'total_active_file', 'total_cache', 'total_dirty', 'total_inactive_anon', 'total_inactive_file', 'total_mapped_file',
  'total_pgfault', 'total_pgmajfault', 'total_pgpgin', 'total_pgpgout', 'total_rss', 'total_rss_huge', 'total_unevictable',
  'total_writeback', 'unevictable', 'writeback',
] as const;
