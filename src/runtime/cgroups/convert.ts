// Conversions from OCI (cgroup v1 flavoured) values to cgroup v2 files, with the same results as
// runc and crun so that a container behaves the same under either engine.
import { invalid } from '../../common/errors.js';

/**
 * cpu.shares (2..262144, default 1024) → cpu.weight (1..10000, default 100).
 * Linear map of [2, 262144] onto [1, 10000]; 0 means "not set" and stays 0.
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) → io.weight (1..10000); 0 stays 0. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * OCI memory.swap is memory+swap (v1's memsw). v2 has a separate swap limit, so
 * memory.swap.max = swap - limit. Returns undefined when nothing should be written,
 * -1 for 'max'.
 */
export function swapToV2(swap: number | undefined, limit: number | undefined): number | undefined {
  if (swap === undefined || swap === 0) {
    // No swap given: with an unlimited memory limit, swap becomes unlimited too (runc does so).
    return limit === -1 ? -1 : undefined;
  }
  if (swap === -1) return -1;
  if (swap < 0) throw invalid(`invalid memory swap limit ${swap}`, 'use -1 for unlimited');
  if (limit === undefined || limit === 0 || limit === -1) {
    throw invalid(`cannot set memory+swap limit ${swap} without a memory limit`, 'set memory.limit as well');
  }
  if (limit < 0) throw invalid(`invalid memory limit ${limit}`);
  if (swap < limit) {
    throw invalid(`memory+swap limit ${swap} is smaller than the memory limit ${limit}`, 'memory.swap is memory plus swap');
  }
  return swap - limit;
}

/** A v2 limit value: -1 (or any negative) → 'max'. */
export function v2Limit(n: number): string {
  return n < 0 ? 'max' : String(n);
}

/** The 'quota period' string for cpu.max; a quota <= 0 is 'max'. */
export function cpuMax(quota: number | undefined, period: number | undefined, current?: string): string | undefined {
  if (quota === undefined && period === undefined) return undefined;
  const [curQuota, curPeriod] = (current ?? 'max 100000').trim().split(/\s+/);
  const q = quota === undefined ? (curQuota ?? 'max') : quota <= 0 ? 'max' : String(quota);
  const p = period === undefined || period === 0 ? (curPeriod ?? '100000') : String(period);
  return `${q} ${p}`;
}

/** OCI page size '2MB' / '1GB' / '64KB' → the cgroup file infix ('2MB', '1GB', '64KB'). */
export function hugepageSizeName(pageSize: string): string {
  const m = /^(\d+)\s*([KMG])i?B?$/i.exec(pageSize);
  if (!m) throw invalid(`invalid hugepage size "${pageSize}"`, 'use e.g. 2MB or 1GB');
  return `${m[1]}${m[2]!.toUpperCase()}B`;
}
