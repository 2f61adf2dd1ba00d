// The process half of a plan, shared by a new container and exec: rlimits, the tty, capabilities,
// ids, no_new_privs, seccomp, cwd, umask and the exec itself.
import { invalid } from '../../common/errors.js';
import type { PlanOp } from '../../native/plan.js';
import { capMask } from '../security/capabilities.js';
import { compileSeccomp, type CompiledSeccomp } from '../security/seccomp/index.js';
import type { LinuxSeccomp, Process } from '../spec/types.js';
import { DEFAULT_PATH } from '../spec/defaults.js';

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
  constructor(private readonly capacity = 16) {}

  compile(seccomp: LinuxSeccomp): CompiledSeccomp {
    const key = JSON.stringify(seccomp);
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const compiled = compileSeccomp(seccomp as never);
    this.entries.set(key, compiled);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return compiled;
  }
}

function caps(proc: Process, set: 'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', where: string): bigint {
  return capMask(proc.capabilities?.[set] ?? [], { what: `capability in ${where}.capabilities.${set}` });
}

/**
 * rlimits → [openPty] → [waitFifo] → [seccomp, when no_new_privs is off: loading a filter then
 * needs CAP_SYS_ADMIN, which is about to be dropped] → bounding set → keepcaps → setgroups →
 * setresid → capset → ambient → chdir → umask → [no_new_privs → seccomp] → exec.
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
  }
  if (opts.fifo !== undefined) ops.push({ op: 'waitFifo', fd: opts.fifo });

  let seccompOp: PlanOp | undefined;
  if (opts.seccomp) {
    const compiled = opts.seccompCache ? opts.seccompCache.compile(opts.seccomp) : compileSeccomp(opts.seccomp as never);
    opts.warnings.push(...compiled.warnings);
    opts.notices?.push(...compiled.notices);
    seccompOp = { op: 'seccomp', filter: compiled.filter, flags: compiled.flags };
  }
  const nnp = proc.noNewPrivileges === true;
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
  ops.push({ op: 'chdir', path: proc.cwd });
  ops.push({ op: 'umask', mask: user.umask ?? 0o022 });
  if (nnp) ops.push({ op: 'noNewPrivs' });
  if (seccompOp && nnp) ops.push(seccompOp);

  const args = proc.args ?? [];
  if (args.length === 0 || !args[0]) throw invalid(`config.json: ${where}.args must be a non-empty array of strings`);
  const env = proc.env ?? [];
  const pathVar = env.filter((e) => e.startsWith('PATH=')).pop();
  ops.push({ op: 'exec', file: args[0], argv: [...args], env: [...env], searchPath: pathVar !== undefined ? pathVar.slice(5) : DEFAULT_PATH });
  return ops;
}
