// The local volume driver's options, as dockerd 20.10 reads them: `type`, `device` and `o` say
// what is mounted on the volume's _data while a container uses it (`mount -t type -o o device
// _data`), `size` asks for an xfs project quota. Validation and messages follow dockerd's; `o`
// is split as dockerd's mount helper splits it (flag words → MS_* bits, the rest → data).
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import { HakoError, invalid } from '../common/errors.js';
import { MS } from '../native/plan.js';

const VALID_KEYS = ['type', 'o', 'device', 'size'];
/** An option present needs these present too (dockerd's mandatoryOpts). */
const COMPANIONS: ReadonlyArray<[string, string[]]> = [
  ['device', ['type']],
  ['type', ['device']],
  ['o', ['device']],
];

export interface VolumeMountOptions {
  type: string;
  device: string;
  o: string;
}

/**
 * Checks a new volume's options; throws dockerd's errors (`invalid option: "foo"`, `missing
 * required option: "device"`, `quota size requested but no quota support`). hako has no quota
 * support (neither has dockerd off xfs with pquota): a size above zero is refused.
 */
export function validateVolumeOptions(name: string, opts: Record<string, string>): void {
  const keys = Object.keys(opts);
  if (keys.length === 0) return;
  for (const k of keys) if (!VALID_KEYS.includes(k)) throw invalid(`create ${name}: invalid option: "${k}"`);
  for (const [key, needs] of COMPANIONS) {
    if (!(key in opts)) continue;
    for (const need of needs) if (!(need in opts)) throw invalid(`create ${name}: missing required option: "${need}"`);
  }
  const size = opts.size;
  if (size !== undefined) {
    const bytes = ramInBytes(size);
    if (bytes === null) throw invalid(`create ${name}: invalid size: '${size}'`);
    if (bytes > 0) throw invalid(`create ${name}: quota size requested but no quota support`);
  }
}

/** `100m` → 104857600: binary multiples, optional `i`/`b` (docker's RAMInBytes); null when invalid. */
function ramInBytes(text: string): number | null {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!m) return null;
  const n = Number.parseFloat(m[1]!);
  if (!Number.isFinite(n)) return null;
  const power = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(n * 1024 ** power);
}

/** The mount a volume's options ask for, or undefined when none (no type and no device). */
export function volumeMountOptions(opts: Record<string, string>): VolumeMountOptions | undefined {
  const type = opts.type ?? '';
  const device = opts.device ?? '';
  if (type === '' && device === '') return undefined;
  return { type, device, o: opts.o ?? '' };
}

/** Flag words of dockerd's mount option parser → [clears the bit?, MS_* bits]; every other word is data. */
const FLAGS: Readonly<Record<string, readonly [boolean, number]>> = {
  defaults: [false, 0],
  ro: [false, MS.RDONLY],
  rw: [true, MS.RDONLY],
  suid: [true, MS.NOSUID],
  nosuid: [false, MS.NOSUID],
  dev: [true, MS.NODEV],
  nodev: [false, MS.NODEV],
  exec: [true, MS.NOEXEC],
  noexec: [false, MS.NOEXEC],
  sync: [false, MS.SYNCHRONOUS],
  async: [true, MS.SYNCHRONOUS],
  dirsync: [false, MS.DIRSYNC],
  remount: [false, MS.REMOUNT],
  mand: [false, MS.MANDLOCK],
  nomand: [true, MS.MANDLOCK],
  atime: [true, MS.NOATIME],
  noatime: [false, MS.NOATIME],
  diratime: [true, MS.NODIRATIME],
  nodiratime: [false, MS.NODIRATIME],
  bind: [false, MS.BIND],
  rbind: [false, MS.BIND | MS.REC],
  unbindable: [false, MS.UNBINDABLE],
  runbindable: [false, MS.UNBINDABLE | MS.REC],
  private: [false, MS.PRIVATE],
  rprivate: [false, MS.PRIVATE | MS.REC],
  shared: [false, MS.SHARED],
  rshared: [false, MS.SHARED | MS.REC],
  slave: [false, MS.SLAVE],
  rslave: [false, MS.SLAVE | MS.REC],
  relatime: [false, MS.RELATIME],
  norelatime: [true, MS.RELATIME],
  strictatime: [false, MS.STRICTATIME],
  nostrictatime: [true, MS.STRICTATIME],
};

/** Propagation bits: applied by a mount call of their own after the mount. */
export const PROPAGATION = MS.SHARED | MS.PRIVATE | MS.SLAVE | MS.UNBINDABLE;

export interface MountCall {
  /** 'mount' (the device), 'remount' (propagation) or 'remount-ro' (a read-only bind). */
  op: 'mount' | 'remount' | 'remount-ro';
  source: string | null;
  fstype: string | null;
  flags: number;
  data: string | null;
}

/** `o` → flags and data (`bind,ro` → MS_BIND|MS_RDONLY; `size=1m,uid=1000` → data). */
export function splitMountOptions(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const word of o.split(',')) {
    const f = FLAGS[word];
    if (f) flags = f[0] ? flags & ~f[1] : flags | f[1];
    else if (word !== '') data.push(word);
  }
  return { flags, data: data.join(',') };
}

/**
 * The mount(2) calls for a volume's options, in dockerd's order: the mount itself with every
 * non-propagation flag (skipped for a bare remount without data), the propagation change, and
 * for a read-only bind the remount that makes it read-only (the kernel ignores MS_RDONLY on a
 * new bind).
 */
export function volumeMountCalls(m: VolumeMountOptions, o = m.o): MountCall[] {
  const { flags, data } = splitMountOptions(o);
  const calls: MountCall[] = [];
  const own = flags & ~PROPAGATION;
  if (!(flags & MS.REMOUNT) || data !== '') calls.push({ op: 'mount', source: m.device, fstype: m.type, flags: own, data: data === '' ? null : data });
  if (flags & PROPAGATION) calls.push({ op: 'remount', source: null, fstype: null, flags: flags & (PROPAGATION | MS.REC | MS.SILENT), data: null });
  if ((own & (MS.BIND | MS.RDONLY)) === (MS.BIND | MS.RDONLY)) calls.push({ op: 'remount-ro', source: null, fstype: null, flags: own | MS.REMOUNT, data: null });
  return calls;
}

/** dockerd's words for a failed call: `mount tmpfs:/…/_data, flags: 0x1000, data: size=1m`. */
export function describeMountCall(c: MountCall, target: string): string {
  let out = `${c.op} ${c.source ? `${c.source}:${target}` : target}`;
  if (c.flags !== 0) out += `, flags: 0x${c.flags.toString(16)}`;
  if (c.data) out += `, data: ${c.data}`;
  return out;
}

/**
 * For nfs and cifs, dockerd resolves a host name given as `addr=` to an address (the kernel
 * wants one): the first `addr=<name>` in `o` becomes `addr=<address>`. An IPv4 address is kept.
 */
export async function resolveNetworkAddress(m: VolumeMountOptions): Promise<string> {
  if (m.type !== 'nfs' && m.type !== 'cifs') return m.o;
  const addr = m.o.split(',').find((w) => w.startsWith('addr='))?.slice('addr='.length) ?? '';
  if (addr === '' || isIPv4(addr)) return m.o;
  let address: string;
  try {
    address = (await lookup(addr)).address;
  } catch (err) {
    throw new HakoError({ step: `error resolving passed in network volume address: lookup ${addr}`, hint: (err as Error).message, kind: 'internal', cause: err });
  }
  return m.o.replace(`addr=${addr}`, `addr=${address}`);
}
