// Parsers for the cgroup files that stats() reads. Pure functions over file contents, so they are
// tested on samples without a kernel.
import type { BlkioEntry } from './types.js';

/** 'key value' lines (memory.stat, cpu.stat, cpuacct.stat) → numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = v === 'max' ? Number.MAX_SAFE_INTEGER : Number(v);
    if (Number.isFinite(n)) out[k] = n;
  }
  return out;
}

/** cpuacct.usage_percpu: space-separated nanoseconds. */
export function parsePercpu(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
}

/** v1 blkio.*: '8:0 Read 4096' lines (and a 'Total N' line, skipped). */
export function parseBlkio(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2) continue;
    const dev = /^(\d+):(\d+)$/.exec(parts[0]!);
    if (!dev) continue;
    // blkio.throttle.io_service_bytes has 'maj:min Op value'; blkio.sectors has 'maj:min value'.
    const op = parts.length >= 3 ? parts[1]! : '';
    const value = Number(parts[parts.length - 1]);
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op, value });
  }
  return out;
}

/** v2 io.stat: '8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0' → runc-style entries. */
export function parseIoStat(text: string): { serviceBytes: BlkioEntry[]; serviceIOs: BlkioEntry[] } {
  const serviceBytes: BlkioEntry[] = [];
  const serviceIOs: BlkioEntry[] = [];
  const names: Record<string, [BlkioEntry[], string]> = {
    rbytes: [serviceBytes, 'Read'],
    wbytes: [serviceBytes, 'Write'],
    dbytes: [serviceBytes, 'Discard'],
    rios: [serviceIOs, 'Read'],
    wios: [serviceIOs, 'Write'],
    dios: [serviceIOs, 'Discard'],
  };
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(parts[0] ?? '');
    if (!dev) continue;
    for (const kv of parts.slice(1)) {
      const [k, v] = kv.split('=');
      const target = k === undefined ? undefined : names[k];
      if (!target || v === undefined) continue;
      target[0].push({ major: Number(dev[1]), minor: Number(dev[2]), op: target[1], value: Number(v) });
    }
  }
  return { serviceBytes, serviceIOs };
}

/** v1 memory.oom_control: 'oom_kill_disable 0\nunder_oom 0\noom_kill 3'. */
export function parseOomControl(text: string): { oomKillDisable: boolean; underOom: boolean; oomKill: number } {
  const kv = parseFlatKeyed(text);
  return { oomKillDisable: kv.oom_kill_disable === 1, underOom: kv.under_oom === 1, oomKill: kv.oom_kill ?? 0 };
}

/** v1 cpuacct.stat is in USER_HZ ticks (100 on every architecture Linux exports to userspace). */
export const USER_HZ = 100;
export function ticksToNs(ticks: number): number {
  return Math.round((ticks * 1e9) / USER_HZ);
}
