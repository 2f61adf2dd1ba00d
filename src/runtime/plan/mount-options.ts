// OCI mount options → mount(2) flags + data, the way runc parses them: known flag words set or
// clear MS_* bits, propagation words become separate mount calls, anything else is filesystem data
// (`mode=755`, `size=64m`, `newinstance`, ...) passed through comma-joined.
import { invalid } from '../../common/errors.js';
import { MS } from '../../native/plan.js';

/** Word → [clear?, flag]. `clear` words remove the flag (rw, suid, dev, exec, ...). */
const FLAG_OPTIONS: Readonly<Record<string, { clear: boolean; flag: number }>> = {
  defaults: { clear: false, flag: 0 },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  nosuid: { clear: false, flag: MS.NOSUID },
  suid: { clear: true, flag: MS.NOSUID },
  nodev: { clear: false, flag: MS.NODEV },
  dev: { clear: true, flag: MS.NODEV },
  noexec: { clear: false, flag: MS.NOEXEC },
  exec: { clear: true, flag: MS.NOEXEC },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
  async: { clear: true, flag: MS.SYNCHRONOUS },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  remount: { clear: false, flag: MS.REMOUNT },
  mand: { clear: false, flag: MS.MANDLOCK },
  nomand: { clear: true, flag: MS.MANDLOCK },
  atime: { clear: true, flag: MS.NOATIME },
  noatime: { clear: false, flag: MS.NOATIME },
  diratime: { clear: true, flag: MS.NODIRATIME },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  relatime: { clear: false, flag: MS.RELATIME },
  norelatime: { clear: true, flag: MS.RELATIME },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  symfollow: { clear: true, flag: MS.NOSYMFOLLOW },
  silent: { clear: false, flag: MS.SILENT },
  loud: { clear: true, flag: MS.SILENT },
  bind: { clear: false, flag: MS.BIND },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
};

const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Options understood by the runtime but not implemented yet: refused with a clear error. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  idmap: 'idmapped mounts are not supported yet',
  ridmap: 'idmapped mounts are not supported yet',
  tmpcopyup: 'tmpcopyup is not supported yet',
};

/** Recursive mount attributes (mount_setattr(2) with AT_RECURSIVE), e.g. `rro`: not supported yet. */
const RECURSIVE_ATTRS = new Set(['rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec', 'rnodiratime', 'rdiratime', 'rrelatime', 'rnorelatime', 'rnoatime', 'ratime', 'rstrictatime', 'rnostrictatime', 'rnosymfollow', 'rsymfollow']);

/** Every option word `features` lists (data options like mode= are not words, so not listed). */
export const MOUNT_OPTIONS: readonly string[] = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS)].sort();

export interface ParsedMountOptions {
  /** MS_* flags for the mount call (including MS_BIND / MS_REC for bind and rbind). */
  flags: number;
  /** Propagation changes, each a separate mount(NULL, target, NULL, flag) after the mount. */
  propagation: number[];
  /** Filesystem-specific data, comma-joined; null when none. */
  data: string | null;
}

/** Parses a mount's options. `where` names the mount in errors, e.g. `mounts[3] (/data)`. */
export function parseMountOptions(options: readonly string[] | undefined, where: string): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const raw of options ?? []) {
    const opt = raw.trim();
    if (opt === '') continue;
    const f = FLAG_OPTIONS[opt];
    if (f) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
      continue;
    }
    const p = PROPAGATION_OPTIONS[opt];
    if (p !== undefined) {
      propagation.push(p);
      continue;
    }
    const why = UNSUPPORTED[opt];
    if (why) throw invalid(`config.json: ${where}: mount option "${opt}": ${why}`);
    if (RECURSIVE_ATTRS.has(opt)) {
      throw invalid(`config.json: ${where}: mount option "${opt}": recursive mount attributes are not supported yet`, `use "${opt.slice(1)}" (applies to the mount itself only)`);
    }
    data.push(opt);
  }
  return { flags, propagation, data: data.length > 0 ? data.join(',') : null };
}

/** Flags a bind remount can change (everything but the bind/rec/remount mechanics). */
export const REMOUNT_FLAG_MASK =
  MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.SYNCHRONOUS | MS.MANDLOCK | MS.DIRSYNC | MS.NOSYMFOLLOW | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME | MS.LAZYTIME;
