// Compiles an OCI `linux.seccomp` object into a classic BPF program for seccomp(2).
//
// Program shape:
//   ld arch
//   per audit arch:  jeq AUDIT_ARCH_x → section, else next arch
//     section:  ld nr
//               (x86_64 audit value only) jge X32_SYSCALL_BIT → x32 half / native half / bad arch
//               unconditional syscalls, grouped by action: jeq nr₁..nrₖ → one shared ret
//               syscalls with argument rules: jeq nr → rule₁ … ruleₙ → ret default
//               ret default
//   bad arch: ret KILL_THREAD (libseccomp's default "bad arch" action)
//
// Semantics (as libseccomp/runc): the native architecture is always in the filter; a syscall name
// unknown on an architecture is skipped there (one warning per architecture); argument conditions
// of one rule are ANDed; several rules for one syscall are tried in profile order and the first
// whose conditions all hold decides; no match → the default action. 64-bit arguments are compared
// unsigned as two 32-bit halves; on 32-bit architectures only the low half is compared.
import { HakoError, invalid } from '../../../common/errors.js';
import { ARCHES, SPEC_ARCHES, X32_SYSCALL_BIT, nativeScmpArch, type ArchInfo } from './arch.js';
import { Assembler, BPF, SECCOMP_DATA, SECCOMP_RET, type Label } from './bpf.js';
import { SYSCALL_TABLES } from './syscall-tables.js';
import type { LinuxSeccomp, SeccompValue } from './types.js';

export interface CompileSeccompOptions {
  /** SCMP_ARCH_* of the machine; default: the one Node runs on. */
  nativeArch?: string;
  /**
   * How unconditional rules are dispatched: 'tree' (default), a binary search over runs of
   * consecutive syscall numbers with one action; 'linear', one jeq per syscall (the earlier
   * layout, kept as the reference the tree is tested against).
   */
  dispatch?: 'tree' | 'linear';
}

export interface CompiledSeccomp {
  /** Classic BPF, 8 bytes per instruction, host byte order. */
  filter: Uint8Array;
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(SECCOMP_SET_MODE_FILTER, flags, …). */
  flags: number;
  warnings: string[];
  /**
   * Expected, informational findings: syscall names a profile lists that do not exist on one of
   * its architectures (docker's and podman's profiles have dozens). runc logs these at debug
   * level; callers should too, or they end up in container logs under engines that read stderr.
   */
  notices: string[];
}

/** linux/seccomp.h SECCOMP_FILTER_FLAG_*. */
export const SECCOMP_FILTER_FLAG: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 8,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 16,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

const OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
];
const EPERM = 1;
const U64_MAX = (1n << 64n) - 1n;

type Op = 'NE' | 'LT' | 'LE' | 'EQ' | 'GE' | 'GT' | 'MASKED_EQ';

interface Cond {
  index: number;
  op: Op;
  /** EQ…GT: the datum; MASKED_EQ: the mask. */
  a: bigint;
  /** MASKED_EQ: the value the masked argument must equal. */
  b: bigint;
}

interface Rule {
  ret: number;
  conds: Cond[];
}

function where(path: string): string {
  return `linux.seccomp.${path}`;
}

/** Action name (+ errno/trace data) → SECCOMP_RET_* value. */
function actionValue(action: unknown, data: unknown, path: string, dataPath: string): number {
  if (typeof action !== 'string' || !ACTIONS.includes(action)) {
    throw invalid(`invalid ${where(path)}: ${JSON.stringify(action)} is not a seccomp action`, `use one of ${ACTIONS.join(', ')}`);
  }
  let n = EPERM;
  if (data !== undefined && data !== null) {
    if (typeof data !== 'number' || !Number.isInteger(data) || data < 0 || data > 0xffff) {
      throw invalid(`invalid ${where(dataPath)}: ${JSON.stringify(data)}`, 'it must be an integer from 0 to 65535');
    }
    n = data;
  }
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return (SECCOMP_RET.ERRNO | n) >>> 0;
    case 'SCMP_ACT_TRACE':
      return (SECCOMP_RET.TRACE | n) >>> 0;
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
    default: // SCMP_ACT_NOTIFY
      throw new HakoError({
        step: `unsupported ${where(path)}: SCMP_ACT_NOTIFY (seccomp user notification) is not supported yet`,
        hint: 'use SCMP_ACT_ERRNO or SCMP_ACT_TRACE instead',
        kind: 'invalid-argument',
      });
  }
}

function parseValue(v: unknown, path: string): bigint {
  let out: bigint | undefined;
  if (typeof v === 'bigint') out = v;
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) out = undefined;
    else if (!Number.isSafeInteger(v)) {
      throw invalid(`invalid ${where(path)}: ${v} cannot be represented exactly as a JSON number`, 'pass values above 2^53 as a bigint or a decimal string');
    } else out = BigInt(v);
  } else if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) out = BigInt(v);
  if (out === undefined || out < 0n || out > U64_MAX) {
    throw invalid(`invalid ${where(path)}: ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`, 'it must be an unsigned 64-bit integer');
  }
  return out;
}

function parseRules(seccomp: LinuxSeccomp): Array<{ names: string[]; rule: Rule }> {
  const syscalls: unknown = seccomp.syscalls ?? [];
  if (!Array.isArray(syscalls)) throw invalid(`invalid ${where('syscalls')}: must be an array`);
  return syscalls.map((sc: unknown, i) => {
    const p = `syscalls[${i}]`;
    if (typeof sc !== 'object' || sc === null) throw invalid(`invalid ${where(p)}: must be an object`);
    const s = sc as Record<string, unknown>;
    if (!Array.isArray(s.names) || s.names.some((n) => typeof n !== 'string' || n === '')) {
      throw invalid(`invalid ${where(`${p}.names`)}: must be an array of syscall names`);
    }
    const ret = actionValue(s.action, s.errnoRet, `${p}.action`, `${p}.errnoRet`);
    const args: unknown = s.args ?? [];
    if (!Array.isArray(args)) throw invalid(`invalid ${where(`${p}.args`)}: must be an array`);
    const conds = args.map((arg: unknown, j): Cond => {
      const ap = `${p}.args[${j}]`;
      if (typeof arg !== 'object' || arg === null) throw invalid(`invalid ${where(ap)}: must be an object`);
      const a = arg as Record<string, unknown>;
      if (typeof a.index !== 'number' || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
        throw invalid(`invalid ${where(`${ap}.index`)}: ${JSON.stringify(a.index)}`, 'syscalls have arguments 0 to 5');
      }
      if (typeof a.op !== 'string' || !OPERATORS.includes(a.op)) {
        throw invalid(`invalid ${where(`${ap}.op`)}: ${JSON.stringify(a.op)} is not a comparison`, `use one of ${OPERATORS.join(', ')}`);
      }
      const op = a.op.slice('SCMP_CMP_'.length) as Op;
      const value = parseValue(a.value, `${ap}.value`);
      const valueTwo = a.valueTwo === undefined || a.valueTwo === null ? 0n : parseValue(a.valueTwo, `${ap}.valueTwo`);
      return { index: a.index, op, a: value, b: valueTwo };
    });
    return { names: s.names as string[], rule: { ret, conds } };
  });
}

function parseFlags(flags: unknown): number {
  if (flags === undefined || flags === null) return 0;
  if (!Array.isArray(flags)) throw invalid(`invalid ${where('flags')}: must be an array`);
  let bits = 0;
  for (const [i, f] of flags.entries()) {
    const bit = typeof f === 'string' ? SECCOMP_FILTER_FLAG[f] : undefined;
    if (bit === undefined || f === 'SECCOMP_FILTER_FLAG_NEW_LISTENER') {
      throw invalid(`invalid ${where(`flags[${i}]`)}: unknown seccomp flag ${JSON.stringify(f)}`,
        'use SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW or SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV');
    }
    bits |= bit;
  }
  return bits;
}

function selectArches(seccomp: LinuxSeccomp, native: string, warnings: string[]): ArchInfo[] {
  const nativeInfo = ARCHES[native];
  if (!nativeInfo) throw invalid(`compile seccomp filter: native architecture ${native} is not supported`);
  const listed: unknown = seccomp.architectures ?? [];
  if (!Array.isArray(listed)) throw invalid(`invalid ${where('architectures')}: must be an array`);
  const out: ArchInfo[] = [nativeInfo];
  for (const [i, a] of listed.entries()) {
    if (typeof a !== 'string' || !SPEC_ARCHES.includes(a)) {
      throw invalid(`invalid ${where(`architectures[${i}]`)}: unknown architecture ${JSON.stringify(a)}`, 'use SCMP_ARCH_* names from the runtime spec');
    }
    const info = ARCHES[a];
    if (!info) {
      warnings.push(`seccomp: architecture ${a} is not supported by hako; its syscalls get the bad-arch action (kill)`);
      continue;
    }
    if (!out.includes(info)) out.push(info);
  }
  return out;
}

/** Emits the code for one condition: falls through when it holds, jumps to `fail` when not. */
function emitCond(asm: Assembler, c: Cond, arch: ArchInfo, fail: Label): void {
  const off = SECCOMP_DATA.ARGS + 8 * c.index;
  const loOff = arch.littleEndian ? off : off + 4;
  const hiOff = arch.littleEndian ? off + 4 : off;
  const lo = Number(c.a & 0xffffffffn);
  const hi = Number(c.a >> 32n);
  if (!arch.wide) {
    // 32-bit ABI: arguments are 32-bit registers; compare the low word only (libseccomp does the same).
    asm.loadAbs(loOff);
    switch (c.op) {
      case 'EQ': asm.jump(BPF.JEQ, lo, 'next', fail); break;
      case 'NE': asm.jump(BPF.JEQ, lo, fail, 'next'); break;
      case 'GT': asm.jump(BPF.JGT, lo, 'next', fail); break;
      case 'GE': asm.jump(BPF.JGE, lo, 'next', fail); break;
      case 'LT': asm.jump(BPF.JGE, lo, fail, 'next'); break;
      case 'LE': asm.jump(BPF.JGT, lo, fail, 'next'); break;
      case 'MASKED_EQ':
        asm.aluAndK(lo);
        asm.jump(BPF.JEQ, Number(c.b & 0xffffffffn), 'next', fail);
        break;
    }
    return;
  }
  const pass = asm.newLabel();
  asm.loadAbs(hiOff);
  switch (c.op) {
    case 'EQ':
      asm.jump(BPF.JEQ, hi, 'next', fail);
      asm.loadAbs(loOff);
      asm.jump(BPF.JEQ, lo, 'next', fail);
      break;
    case 'NE':
      asm.jump(BPF.JEQ, hi, 'next', pass);
      asm.loadAbs(loOff);
      asm.jump(BPF.JEQ, lo, fail, 'next');
      break;
    case 'GT':
      asm.jump(BPF.JGT, hi, pass, 'next');
      asm.jump(BPF.JEQ, hi, 'next', fail);
      asm.loadAbs(loOff);
      asm.jump(BPF.JGT, lo, 'next', fail);
      break;
    case 'GE':
      asm.jump(BPF.JGT, hi, pass, 'next');
      asm.jump(BPF.JEQ, hi, 'next', fail);
      asm.loadAbs(loOff);
      asm.jump(BPF.JGE, lo, 'next', fail);
      break;
    case 'LT':
      asm.jump(BPF.JGT, hi, fail, 'next');
      asm.jump(BPF.JEQ, hi, 'next', pass);
      asm.loadAbs(loOff);
      asm.jump(BPF.JGE, lo, fail, 'next');
      break;
    case 'LE':
      asm.jump(BPF.JGT, hi, fail, 'next');
      asm.jump(BPF.JEQ, hi, 'next', pass);
      asm.loadAbs(loOff);
      asm.jump(BPF.JGT, lo, fail, 'next');
      break;
    case 'MASKED_EQ':
      asm.aluAndK(hi);
      asm.jump(BPF.JEQ, Number(c.b >> 32n), 'next', fail);
      asm.loadAbs(loOff);
      asm.aluAndK(lo);
      asm.jump(BPF.JEQ, Number(c.b & 0xffffffffn), 'next', fail);
      break;
  }
  asm.bind(pass);
}

/** Longest run of `jeq` sharing one `ret`, kept well inside the 8-bit jump range. */
const RUN = 200;

/** One architecture's syscall dispatch; A holds seccomp_data.nr on entry; every path returns. */
/** From `start` to the next interval's start: an action, or 'miss' (the conditional rules). */
interface NrInterval {
  start: number;
  action: number | 'miss';
}

/**
 * Binary search over intervals that cover every syscall number (A = nr): each leaf is one
 * instruction (its action, or a jump to `miss`); no bound checks, no subtree falls into the next.
 */
function emitIntervalTree(asm: Assembler, intervals: readonly NrInterval[], miss: Label): void {
  if (intervals.length === 1) {
    const action = intervals[0]!.action;
    if (action === 'miss') asm.ja(miss);
    else asm.ret(action);
    return;
  }
  const mid = intervals.length >> 1;
  const right = asm.newLabel();
  asm.jump(BPF.JGE, intervals[mid]!.start, right, 'next');
  emitIntervalTree(asm, intervals.slice(0, mid), miss);
  asm.bind(right);
  emitIntervalTree(asm, intervals.slice(mid), miss);
}

function emitSection(
  asm: Assembler,
  arch: ArchInfo,
  parsed: ReadonlyArray<{ names: string[]; rule: Rule }>,
  defaultRet: number,
  notices: string[],
  dispatch: 'tree' | 'linear' = 'tree',
): void {
  const table = SYSCALL_TABLES[arch.table]!;
  const byNr = new Map<number, Rule[]>();
  const unknown = new Set<string>();
  for (const { names, rule } of parsed) {
    for (const name of names) {
      const nr = Object.hasOwn(table, name) ? table[name] : undefined;
      if (nr === undefined) { unknown.add(name); continue; }
      const rules = byNr.get(nr);
      if (rules) rules.push(rule);
      else byNr.set(nr, [rule]);
    }
  }
  if (unknown.size > 0) {
    const list = [...unknown].sort();
    notices.push(`seccomp: ${list.length} syscall name(s) unknown on ${arch.name}, skipped: ${list.join(', ')}`);
  }
  // Unconditional first rule → that action, whatever follows. Group those by return value.
  const simple = new Map<number, number[]>();
  const complex: Array<[number, Rule[]]> = [];
  for (const [nr, rules] of byNr) {
    const first = rules[0]!;
    if (first.conds.length === 0) {
      if (first.ret === defaultRet) continue; // same as falling through
      const list = simple.get(first.ret);
      if (list) list.push(nr);
      else simple.set(first.ret, [nr]);
    } else complex.push([nr, rules]);
  }
  if (dispatch === 'tree') {
    // The kernel emulates the filter once per syscall number when it loads it (to cache the
    // always-allowed ones): with one jeq per syscall that walk grew with the list, ~1 ms for
    // docker's profile at every container start. Runs of consecutive numbers with one action,
    // searched in O(log n), are also fewer instructions to JIT.
    const byNumber = [...simple].flatMap(([ret, nrs]) => nrs.map((nr) => [nr, ret] as const)).sort((a, b) => a[0] - b[0]);
    const conditional = complex.map(([nr]) => nr);
    // Numbers without an unconditional rule: the default, unless a conditional rule is among them.
    const gap = (lo: number, hi: number): number | 'miss' => (conditional.some((nr) => nr >= lo && nr <= hi) ? 'miss' : defaultRet);
    const intervals: NrInterval[] = [];
    const add = (start: number, action: number | 'miss'): void => {
      if (intervals.at(-1)?.action !== action) intervals.push({ start, action });
    };
    let next = 0;
    for (const [nr, ret] of byNumber) {
      if (nr > next) add(next, gap(next, nr - 1));
      add(nr, ret);
      next = nr + 1;
    }
    if (next <= 0xffffffff) add(next, gap(next, 0xffffffff));
    if (intervals.some((i) => i.action !== 'miss')) {
      const miss = asm.newLabel();
      emitIntervalTree(asm, intervals, miss);
      asm.bind(miss);
    }
  }
  // Most common action (usually ALLOW) first: fewer comparisons on the hot path.
  const groups = dispatch === 'tree' ? [] : [...simple].sort((a, b) => b[1].length - a[1].length || a[0] - b[0]);
  for (const [ret, nrs] of groups) {
    nrs.sort((a, b) => a - b);
    for (let start = 0; start < nrs.length; start += RUN) {
      const chunk = nrs.slice(start, start + RUN);
      const hit = asm.newLabel();
      const after = asm.newLabel();
      chunk.forEach((nr, i) => asm.jump(BPF.JEQ, nr, hit, i === chunk.length - 1 ? after : 'next'));
      asm.bind(hit);
      asm.ret(ret);
      asm.bind(after);
    }
  }
  complex.sort((a, b) => a[0] - b[0]);
  for (const [nr, rules] of complex) {
    const skip = asm.newLabel();
    asm.jump(BPF.JEQ, nr, 'next', skip);
    let returned = false;
    for (const rule of rules) {
      if (rule.conds.length === 0) {
        asm.ret(rule.ret); // later rules for this syscall can never match
        returned = true;
        break;
      }
      const nextRule = asm.newLabel();
      for (const c of rule.conds) emitCond(asm, c, arch, nextRule);
      asm.ret(rule.ret);
      asm.bind(nextRule);
    }
    // A was clobbered by argument loads: return directly rather than continuing the dispatch.
    if (!returned) asm.ret(defaultRet);
    asm.bind(skip);
  }
  asm.ret(defaultRet);
}

/** Compiles an OCI linux.seccomp object into a seccomp BPF program plus filter flags. */
export function compileSeccomp(seccomp: LinuxSeccomp, opts: CompileSeccompOptions = {}): CompiledSeccomp {
  if (typeof seccomp !== 'object' || seccomp === null) throw invalid(`invalid linux.seccomp: must be an object`);
  const warnings: string[] = [];
  const notices: string[] = [];
  const defaultRet = actionValue(seccomp.defaultAction, seccomp.defaultErrnoRet, 'defaultAction', 'defaultErrnoRet');
  const flags = parseFlags(seccomp.flags);
  const parsed = parseRules(seccomp);
  if (seccomp.listenerPath) warnings.push(`seccomp: listenerPath ${seccomp.listenerPath} ignored (SCMP_ACT_NOTIFY is not supported)`);
  const arches = selectArches(seccomp, opts.nativeArch ?? nativeScmpArch(), warnings);

  // Group by audit value (x86_64 and x32 share one), keeping first-appearance order.
  const groups = new Map<number, ArchInfo[]>();
  for (const a of arches) {
    const g = groups.get(a.audit);
    if (g) g.push(a);
    else groups.set(a.audit, [a]);
  }

  const asm = new Assembler();
  const badArch = asm.newLabel();
  asm.loadAbs(SECCOMP_DATA.ARCH);
  for (const [audit, members] of groups) {
    const nextArch = asm.newLabel();
    asm.jump(BPF.JEQ, audit, 'next', nextArch);
    asm.loadAbs(SECCOMP_DATA.NR);
    const native = members.find((m) => m.x32Half !== 'x32');
    const x32 = members.find((m) => m.x32Half === 'x32');
    if (x32 || native?.x32Half === 'native') {
      const x32Label = x32 ? asm.newLabel() : badArch;
      const nativeLabel = native ? asm.newLabel() : badArch;
      asm.jump(BPF.JGE, X32_SYSCALL_BIT, x32Label, nativeLabel);
      if (native) {
        asm.bind(nativeLabel);
        emitSection(asm, native, parsed, defaultRet, notices, opts.dispatch);
      }
      if (x32) {
        asm.bind(x32Label);
        emitSection(asm, x32, parsed, defaultRet, notices, opts.dispatch);
      }
    } else {
      emitSection(asm, members[0]!, parsed, defaultRet, notices, opts.dispatch);
    }
    asm.bind(nextArch);
  }
  asm.bind(badArch);
  asm.ret(SECCOMP_RET.KILL_THREAD);
  return { filter: asm.assemble(), flags, warnings, notices };
}
