// Linux capabilities: names ↔ numbers ↔ bigint masks (bit n = capability n), docker's default
// set, and docker's --cap-add / --cap-drop / --privileged rules.
import { readFileSync } from 'node:fs';
import { invalid } from '../../common/errors.js';

/** linux/capability.h, index = capability number. */
export const CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** The highest capability number hako knows by name (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_KNOWN = CAPABILITIES.length - 1;

const numbers = new Map<string, number>(CAPABILITIES.map((n, i) => [n, i]));

/** docker's default capability set (the 14 of moby's oci/caps DefaultCapabilities). */
export const DOCKER_DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

const PROC_CAP_LAST_CAP = '/proc/sys/kernel/cap_last_cap';
let kernelLastCap: number | undefined;

/**
 * The kernel's highest capability (/proc/sys/kernel/cap_last_cap); 40 (CAP_CHECKPOINT_RESTORE)
 * when it cannot be read. The kernel's own file is read once per process (it is fixed at build
 * time; a daemon read it twice per container start); another file, on each call.
 */
export function lastCap(procFile = PROC_CAP_LAST_CAP): number {
  if (procFile === PROC_CAP_LAST_CAP && kernelLastCap !== undefined) return kernelLastCap;
  let last = CAP_LAST_KNOWN;
  let read = false;
  try {
    const n = Number.parseInt(readFileSync(procFile, 'utf8').trim(), 10);
    read = true;
    if (Number.isInteger(n) && n >= 0 && n < 64) last = n;
  } catch {
    // not Linux or /proc not mounted
  }
  if (procFile === PROC_CAP_LAST_CAP && read) kernelLastCap = last;
  return last;
}

/** Every capability 0..last. */
export function allCapsMask(last: number = lastCap()): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}

/** `chown`, `CHOWN`, `cap_chown` → `CAP_CHOWN`; undefined when it is not a capability. */
export function normalizeCapName(name: string): string | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  return numbers.has(full) ? full : undefined;
}

/** Capability name → number (any accepted spelling); throws HakoError for unknown names. */
export function capNumber(name: string, what = 'capability'): number {
  const full = normalizeCapName(name);
  if (full === undefined) {
    throw invalid(`unknown ${what} ${JSON.stringify(name)}`, 'use a name such as CAP_NET_ADMIN or NET_ADMIN (see capabilities(7))');
  }
  return numbers.get(full)!;
}

export interface CapMaskOptions {
  /** For 'ALL'; default lastCap(). */
  last?: number;
  /** Names the field in errors, e.g. `--cap-add`. */
  what?: string;
}

/**
 * Names → mask. Accepts `CAP_X`, `X`, lowercase, and `ALL` (every capability the kernel has).
 * Unknown names throw a HakoError naming them.
 */
export function capMask(names: readonly string[], opts: CapMaskOptions = {}): bigint {
  let mask = 0n;
  for (const name of names) {
    if (typeof name !== 'string') throw invalid(`invalid ${opts.what ?? 'capability'} ${JSON.stringify(name)}: must be a string`);
    if (name.trim().toUpperCase() === 'ALL' || name.trim().toUpperCase() === 'CAP_ALL') {
      mask |= allCapsMask(opts.last ?? lastCap());
      continue;
    }
    mask |= 1n << BigInt(capNumber(name, opts.what));
  }
  return mask;
}

/** Mask → `CAP_*` names in number order (bits beyond the known list as `CAP_<n>`). */
export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) {
    if ((mask >> BigInt(i)) & 1n) out.push(CAPABILITIES[i] ?? `CAP_${i}`);
  }
  return out;
}

export function hasCap(mask: bigint, name: string): boolean {
  return ((mask >> BigInt(capNumber(name))) & 1n) === 1n;
}

export interface CapChanges {
  /** Starting set; default docker's 14. */
  base?: readonly string[] | bigint;
  add?: readonly string[];
  drop?: readonly string[];
  privileged?: boolean;
  /** Kernel's last capability; default lastCap(). */
  last?: number;
}

/**
 * docker's rules for the effective/bounding set: --privileged → everything; --cap-add ALL →
 * everything except --cap-drop; --cap-drop ALL → exactly --cap-add; otherwise (base − drop) + add,
 * so a capability both added and dropped ends up added. Unknown names → HakoError.
 */
export function applyCapChanges(changes: CapChanges = {}): bigint {
  const last = changes.last ?? lastCap();
  const all = allCapsMask(last);
  if (changes.privileged) return all;
  const isAll = (n: string): boolean => ['ALL', 'CAP_ALL'].includes(n.trim().toUpperCase());
  const addNames = changes.add ?? [];
  const dropNames = changes.drop ?? [];
  const add = capMask(addNames.filter((n) => !isAll(n)), { last, what: '--cap-add capability' });
  const drop = capMask(dropNames.filter((n) => !isAll(n)), { last, what: '--cap-drop capability' });
  const base = typeof changes.base === 'bigint' ? changes.base : capMask(changes.base ?? DOCKER_DEFAULT_CAPS, { last });
  if (addNames.some(isAll)) return all & ~drop;
  if (dropNames.some(isAll)) return add & all;
  return ((base & ~drop) | add) & all;
}
