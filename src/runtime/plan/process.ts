// The process half of a plan, shared by a new container and exec: rlimits, the tty, capabilities,
// ids, no_new_privs, seccomp, cwd, umask and the exec itself.
import { invalid } from '../../common/errors.js';
import type { PlanOp } from '../../native/plan.js';
import { capMask } from '../security/capabilities.js';
import { compileSeccomp, type CompiledSeccomp } from '../security/seccomp/index.js';
import type { LinuxSeccomp, Process } from '../spec/types.js';
import { DEFAULT_PATH } from '../spec/defaults.js';
import { blockedRuntimeSyscalls } from './seccomp-order.js';

/** linux/resource.h RLIMIT_* numbers (the same on every architecture Linux containers run on). */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export const RLIM_INFINITY = 0xffffffffffffffffn;

/** A JSON uint64 as bigint; 2^64-1 arrives as the double 2^64, so anything that large is infinity. */
function rlimValue(n: number): bigint {
  const b = BigInt(n);
  return b >= RLIM_INFINITY ? RLIM_INFINITY : b;
}

export function rlimitOps(proc: Process): PlanOp[] {
  const ops: PlanOp[] = [];
  (proc.rlimits ?? []).forEach((r, i) => {
    const resource = RLIMITS[r.type];
    if (resource === undefined) {
      throw invalid(`config.json: process.rlimits[${i}].type ${JSON.stringify(r.type)} is not a known rlimit`, `one of ${Object.keys(RLIMITS).join(', ')}`);
    }
    ops.push({ op: 'setrlimit', resource, soft: rlimValue(r.soft), hard: rlimValue(r.hard) });
  });
  return ops;
}

export interface ProcessTailOptions {
  /** Internal fd index of the console socket (process.terminal). */
  consoleSocket?: number | undefined;
  /** Internal fd index of the exec fifo (create mode only). */
  fifo?: number | undefined;
  seccomp?: LinuxSeccomp | undefined;
  /** The user namespace denies setgroups(2): no setgroups op. */
  setgroupsDenied: boolean;
  warnings: string[];
  /** Debug-level findings (e.g. seccomp names unknown on an architecture). */
  notices?: string[];
  /** Prefix for field names in errors: `process` (config.json) or `process` of an exec. */
  where: string;
  /** Compiled filters by profile (JSON), reused across containers with the same profile. */
  seccompCache?: SeccompCache;
}

/** A small cache of compiled seccomp filters: compiling docker's default profile takes ~0.7 ms. */
export class SeccompCache {
  private readonly entries = new Map<string, CompiledSeccomp>();
  private readonly blocked = new Map<string, string[]>();
  /**
   * Frozen profiles by identity (an embedding engine shares one deeply frozen object per
   * profile, see deepFreeze): no JSON of the profile (~6 KB, twice per plan) to find them.
   */
  private readonly byObject = new WeakMap<object, { compiled?: CompiledSeccomp; blocked: Array<string[] | undefined> }>();
  constructor(private readonly capacity = 16) {}

  /** blockedRuntimeSyscalls (./seccomp-order.ts) of the profile's filter, cached with it. */
  blockedRuntimeSyscalls(seccomp: LinuxSeccomp, lookupAfterFilter: boolean): string[] {
    const own = this.frozenEntry(seccomp);
    const at = lookupAfterFilter ? 1 : 0;
    const known = own?.blocked[at];
    if (known) return known;
    const key = `${lookupAfterFilter ? 'L' : 'W'}${JSON.stringify(seccomp)}`;
    let hit = this.blocked.get(key);
    if (!hit) {
      hit = blockedRuntimeSyscalls(this.compile(seccomp).filter, lookupAfterFilter);
      this.blocked.set(key, hit);
      if (this.blocked.size > this.capacity) this.blocked.delete(this.blocked.keys().next().value as string);
    }
    if (own) own.blocked[at] = hit;
    return hit;
  }

  compile(seccomp: LinuxSeccomp): CompiledSeccomp {
    const own = this.frozenEntry(seccomp);
    if (own?.compiled) return own.compiled;
    const key = JSON.stringify(seccomp);
    let hit = this.entries.get(key);
    if (hit) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
    } else {
      hit = compileSeccomp(seccomp as never);
      this.entries.set(key, hit);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }
    if (own) own.compiled = hit;
    return hit;
  }

  private frozenEntry(seccomp: LinuxSeccomp): { compiled?: CompiledSeccomp; blocked: Array<string[] | undefined> } | undefined {
    if (!Object.isFrozen(seccomp)) return undefined;
    let e = this.byObject.get(seccomp);
    if (!e) this.byObject.set(seccomp, (e = { blocked: [] }));
    return e;
  }
}

/** Freezes `value` and everything in it (a profile shared by reference: see SeccompCache). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

function caps(proc: Process, set: 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', where: string): bigint {
  return capMask(proc.capabilities?.[set] ?? [], { what: `capability in ${where}.capabilities.${set}` });
}

/**
 * rlimits → openPty or setsid → [seccomp, when no_new_privs is off: loading a filter then needs
 * CAP_SYS_ADMIN, which is about to be dropped] → chdir (first try) → bounding set → keepcaps →
 * setgroups → setresid → capset → ambient → chdir (retry, if the first was denied) → umask → [no_new_privs] → [lookPath] → [seccomp, with no_new_privs:
 * as late as possible] → [waitFifo] → exec.
 *
 * With the exec fifo (create), everything but the execve happens before the wait, as in runc: a
 * capability the host lacks, a user or cwd the kernel refuses, a missing program (lookPath) or a
 * filter the kernel rejects fails the create, and `start` only execs. The fifo stays openable
 * with no capability left: the runtime makes it 0622 and the wait reopens it via /proc/self/fd.
 * Exception: a seccomp profile that blocks the syscalls of the wait itself (./seccomp-order.ts)
 * gets the order the wait needs: the filter (and, without no_new_privs, everything after it)
 * comes after the wait, and such failures show at `start`.
 */
export function processTailOps(proc: Process, opts: ProcessTailOptions): PlanOp[] {
  const ops: PlanOp[] = [];
  const where = opts.where;
  ops.push(...rlimitOps(proc));

  if (proc.terminal) {
    if (opts.consoleSocket === undefined) {
      throw invalid(`${where}.terminal is true but no console socket was given`, 'pass --console-socket, or set process.terminal to false');
    }
    ops.push({ op: 'openPty', socket: opts.consoleSocket, rows: proc.consoleSize?.height ?? 0, cols: proc.consoleSize?.width ?? 0 });
  } else {
    // A session of its own without a terminal too, as runc's nsexec gives every container
    // process (init and exec): `ps` shows it as a session leader (STAT `Ss`), and it shares no
    // session or process group with the runtime or the monitor.
    ops.push({ op: 'setsid' });
  }
  const args = proc.args ?? [];
  if (args.length === 0 || !args[0]) throw invalid(`config.json: ${where}.args must be a non-empty array of strings`);
  const env = proc.env ?? [];
  const pathVar = env.filter((e) => e.startsWith('PATH=')).pop();
  const searchPath = pathVar !== undefined ? pathVar.slice(5) : DEFAULT_PATH;
  const wait: PlanOp | undefined = opts.fifo !== undefined ? { op: 'waitFifo', fd: opts.fifo } : undefined;

  let seccompOp: PlanOp | undefined;
  const nnp = proc.noNewPrivileges === true;
  // Whether the filter can come before the wait (always, without a wait).
  let filterBeforeWait = true;
  if (opts.seccomp) {
    const compiled = opts.seccompCache ? opts.seccompCache.compile(opts.seccomp) : compileSeccomp(opts.seccomp as never);
    opts.warnings.push(...compiled.warnings);
    opts.notices?.push(...compiled.notices);
    seccompOp = { op: 'seccomp', filter: compiled.filter, flags: compiled.flags };
    if (wait) {
      const blocked = opts.seccompCache ? opts.seccompCache.blockedRuntimeSyscalls(opts.seccomp, !nnp) : blockedRuntimeSyscalls(compiled.filter, !nnp);
      if (blocked.length > 0) {
        filterBeforeWait = false;
        opts.notices?.push(`linux.seccomp blocks ${blocked.join(', ')}, which the wait for start needs: the filter${nnp ? '' : ', the capabilities, user and cwd'} are set up after the wait, and their errors show at start`);
      }
    }
  }
  if (wait && !filterBeforeWait && !nnp) ops.push(wait);
  if (seccompOp && !nnp) ops.push(seccompOp);

  const bounding = caps(proc, 'bounding', where);
  const effective = caps(proc, 'effective', where);
  const permitted = caps(proc, 'permitted', where);
  const inheritable = caps(proc, 'inheritable', where);
  let ambient = caps(proc, 'ambient', where);
  // The kernel refuses to raise an ambient capability that is not both permitted and
  // inheritable (EPERM); runc drops those with a warning too.
  const notAllowed = ambient & ~(permitted & inheritable);
  if (notAllowed !== 0n) {
    opts.warnings.push(`${where}.capabilities.ambient: capabilities not in both permitted and inheritable are ignored (mask 0x${notAllowed.toString(16)})`);
    ambient &= permitted & inheritable;
  }
  if ((effective & ~permitted) !== 0n) {
    throw invalid(`config.json: ${where}.capabilities.effective has capabilities that are not in permitted`, 'an effective capability must also be permitted');
  }

  // runc's two tries: as root first (a cwd only root may enter), then, if that was denied, as
  // the container user (a cwd root may not enter, e.g. root-squashed NFS).
  ops.push({ op: 'chdir', path: proc.cwd, attempt: 'first' });
  ops.push({ op: 'capBounding', keep: bounding });
  ops.push({ op: 'keepCaps', on: true });
  const user = proc.user ?? { uid: 0, gid: 0 };
  const groups = [...new Set(user.additionalGids ?? [])];
  if (opts.setgroupsDenied) {
    if (groups.length > 0) opts.warnings.push(`${where}.user.additionalGids ignored: setgroups is denied in this user namespace`);
  } else {
    ops.push({ op: 'setgroups', gids: groups });
  }
  ops.push({ op: 'setresid', uid: user.uid, gid: user.gid });
  ops.push({ op: 'capset', effective, permitted, inheritable });
  ops.push({ op: 'ambient', raise: ambient });
  ops.push({ op: 'chdir', path: proc.cwd, attempt: 'retry' });
  ops.push({ op: 'umask', mask: user.umask ?? 0o022 });
  if (nnp) ops.push({ op: 'noNewPrivs' });
  // Only when exec comes later (start): otherwise exec's own search reports the same errors.
  if (wait && (filterBeforeWait || nnp)) ops.push({ op: 'lookPath', file: args[0], searchPath });
  if (seccompOp && nnp && filterBeforeWait) ops.push(seccompOp);
  if (wait && (filterBeforeWait || nnp)) ops.push(wait);
  if (seccompOp && nnp && !filterBeforeWait) ops.push(seccompOp);
  ops.push({ op: 'exec', file: args[0], argv: [...args], env: [...env], searchPath });
  return ops;
}
