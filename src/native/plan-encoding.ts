// Encodes a Plan into the executor's binary format, exactly as docs/executor-plan.md specifies
// (little-endian, no padding). Validation happens here, where errors can still name the op; the
// C decoder only re-checks bounds.
import { HakoError, invalid } from '../common/errors.js';
import { describeOp } from './describe-op.js';
import { execEndsForkChild, type Plan, type PlanOp } from './plan.js';

export const PLAN_MAGIC = 0x31504b48; // "HKP1"
const NULL_STR = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

export const OPCODES: Readonly<Record<PlanOp['op'], number>> = {
  syncWait: 1,
  notify: 2,
  setresid: 3,
  setgroups: 4,
  unshare: 5,
  setns: 6,
  clone: 7,
  openRoot: 8,
  mount: 9,
  remount: 10,
  mask: 11,
  mkdirs: 12,
  touch: 13,
  symlink: 14,
  mknod: 15,
  chown: 16,
  chmod: 17,
  pivotRoot: 18,
  moveRoot: 19,
  chroot: 20,
  sethostname: 21,
  setdomainname: 22,
  writeFile: 23,
  setrlimit: 24,
  chdir: 25,
  umask: 26,
  capBounding: 27,
  keepCaps: 28,
  capset: 29,
  ambient: 30,
  pdeathsig: 31,
  noNewPrivs: 32,
  seccomp: 33,
  setsid: 34,
  openPty: 35,
  waitFifo: 36,
  dup2: 37,
  closeFrom: 38,
  exec: 39,
  fork: 40,
  lookPath: 41,
  writeFd: 42,
  loopbackUp: 43,
};

/**
 * Growable little-endian writer. `what` names the field being written for error messages.
 * A DataView for the numbers; strings go through Buffer's utf8Write, the binding itself (C++, no
 * JavaScript wrapper to compile): a per-character copy loop in JavaScript cost hakod ~0.2 ms per
 * plan under its --no-opt (~6000 characters of paths, args and env per container).
 */
/** Buffer's own UTF-8 write (node's binding; not in @types/node): bytes written, no partial characters. */
type Utf8Writable = Buffer & { utf8Write(s: string, offset: number, length: number): number };

class Writer {
  private buf = Buffer.allocUnsafeSlow(4096) as Utf8Writable;
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private len = 0;
  constructor(public context: () => string) {}

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.len + n)) as Utf8Writable;
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  private fail(what: string, value: unknown, expected: string): never {
    throw new HakoError({ step: `encode plan: ${this.context()}`, hint: `${what} is ${String(value)}, expected ${expected}`, kind: 'invalid-argument' });
  }

  u32(what: string, v: number | boolean): void {
    const n = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) this.fail(what, v, 'an integer in 0..2^32-1');
    this.room(4);
    this.view.setUint32(this.len, n, true);
    this.len += 4;
  }

  i32(what: string, v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) this.fail(what, v, 'a 32-bit signed integer');
    this.room(4);
    this.view.setInt32(this.len, v, true);
    this.len += 4;
  }

  u64(what: string, v: number | bigint): void {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) this.fail(what, v, 'a non-negative safe integer');
      // Two u32 halves: no BigInt for the common case (flags).
      this.room(8);
      this.view.setUint32(this.len, v % 0x100000000, true);
      this.view.setUint32(this.len + 4, Math.floor(v / 0x100000000), true);
      this.len += 8;
      return;
    }
    const b = v;
    if (b < 0n || b > U64_MAX) this.fail(what, v, 'a value in 0..2^64-1');
    this.room(8);
    this.view.setBigUint64(this.len, b, true);
    this.len += 8;
  }

  str(what: string, s: string | null): void {
    if (s === null) {
      this.u32(what, NULL_STR);
      return;
    }
    if (typeof s !== 'string') this.fail(what, s, 'a string');
    if (s.indexOf('\0') >= 0) this.fail(what, JSON.stringify(s), 'a string without NUL bytes');
    // At most 3 bytes per UTF-16 unit (a lone surrogate becomes U+FFFD, 3 bytes); encoded after
    // the length slot, which is filled in once the size is known.
    this.room(4 + s.length * 3 + 1);
    const at = this.len + 4;
    const written = this.buf.utf8Write(s, at, this.buf.length - at);
    this.view.setUint32(this.len, written, true);
    this.buf[at + written] = 0;
    this.len = at + written + 1;
  }

  bytes(what: string, b: Uint8Array): void {
    this.u32(what, b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  strs(what: string, list: string[]): void {
    this.u32(`${what} count`, list.length);
    // The element's label is only built for an error message (hakod encodes a plan per start).
    for (let k = 0; k < list.length; k++) {
      const s = list[k]!;
      this.str(typeof s !== 'string' || s.includes('\0') ? `${what}[${k}]` : what, s);
    }
  }

  i32s(what: string, list: number[]): void {
    this.u32(`${what} count`, list.length);
    for (let k = 0; k < list.length; k++) {
      const v = list[k]!;
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) this.fail(`${what}[${k}]`, v, 'a 32-bit signed integer');
      this.i32(what, v);
    }
  }

  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function checkInternal(plan: Plan, index: number, step: number, op: PlanOp): void {
  if (!Number.isInteger(index) || index < 0 || index >= plan.internalFds.length) {
    throw new HakoError({
      step: `encode plan: op ${step} (${describeOp(op)})`,
      hint: `internal fd index ${index} is out of range (the plan has ${plan.internalFds.length} internal fds)`,
      kind: 'invalid-argument',
    });
  }
}

/** Encodes `plan` per docs/executor-plan.md. Throws an invalid-argument HakoError naming the bad op. */
export function encodePlan(plan: Plan): Buffer {
  const w = new Writer(() => 'header');
  writeHeader(w, plan);
  writeOps(w, plan);
  return w.result();
}

/**
 * encodePlan in two parts, header (the fds) and ops: encodePlan(plan) is their concatenation. A
 * launch template (src/runtime/lifecycle/launch-templates.ts) reuses the ops part of a launch.
 */
export function encodePlanHeader(plan: Plan): Buffer {
  const w = new Writer(() => 'header');
  writeHeader(w, plan);
  return w.result();
}

export function encodePlanOps(plan: Plan): Buffer {
  const w = new Writer(() => 'ops');
  writeOps(w, plan);
  return w.result();
}

function writeHeader(w: Writer, plan: Plan): void {
  w.u32('magic', PLAN_MAGIC);
  w.u64('cloneFlags', plan.cloneFlags);
  w.i32('cgroupFd', plan.cgroupFd);
  w.i32('pdeathsig', plan.pdeathsig);
  w.u32('fds count', plan.fds.length);
  for (const [k, { source, target }] of plan.fds.entries()) {
    if (source < 0 || target < 0) throw invalid(`encode plan: fds[${k}]`, `fd numbers must be >= 0 (got ${source} → ${target})`);
    w.i32(`fds[${k}].source`, source);
    w.i32(`fds[${k}].target`, target);
  }
  w.i32s('internalFds', plan.internalFds);
}

function writeOps(w: Writer, plan: Plan): void {
  // Where we are, for error messages only (describing every op up front would cost more than
  // encoding the plan).
  let current: { step: number; op: PlanOp } | undefined;
  const where = (): string => (current ? `op ${current.step} (${describeOp(current.op)})` : 'header');
  w.context = where;
  w.u32('ops count', plan.ops.length);
  plan.ops.forEach((op, step) => {
    current = { step, op };
    if (op.op === 'exec' && step !== plan.ops.length - 1 && !execEndsForkChild(plan.ops, step)) {
      throw invalid(`encode plan: ${where()}`, 'exec must be the last op');
    }
    const code = OPCODES[op.op];
    if (code === undefined) throw invalid(`encode plan: op ${step}`, `unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
    w.u32('opcode', code);
    encodeOp(w, plan, step, op);
  });
}

function encodeOp(w: Writer, plan: Plan, step: number, op: PlanOp): void {
  switch (op.op) {
    case 'syncWait':
    case 'noNewPrivs':
    case 'setsid':
    case 'loopbackUp':
      return;
    case 'notify':
      return w.i32('value', op.value);
    case 'setresid':
      w.u32('uid', op.uid);
      return w.u32('gid', op.gid);
    case 'setgroups':
      return w.i32s('gids', op.gids);
    case 'unshare':
      return w.u64('flags', op.flags);
    case 'setns':
      checkInternal(plan, op.fd, step, op);
      w.i32('fd', op.fd);
      return w.u32('nstype', op.nstype);
    case 'clone':
      return w.u64('flags', op.flags);
    case 'openRoot':
    case 'pivotRoot':
    case 'moveRoot':
    case 'chroot':
      return w.str('path', op.path);
    case 'chdir':
      w.str('path', op.path);
      return w.u32('attempt', op.attempt === 'first' ? 1 : op.attempt === 'retry' ? 2 : 0);
    case 'mount':
      w.str('source', op.source);
      w.str('target', op.target);
      w.str('fstype', op.fstype);
      w.u64('flags', op.flags);
      w.str('data', op.data);
      w.u32('inRoot', op.inRoot ?? false);
      return w.u32('optional', op.optional ?? false);
    case 'remount':
      w.str('target', op.target);
      w.u64('flags', op.flags);
      w.u32('inRoot', op.inRoot ?? false);
      return w.u32('optional', op.optional ?? false);
    case 'mask':
      w.str('path', op.path);
      return w.u32('inRoot', op.inRoot ?? false);
    case 'mkdirs':
    case 'touch':
    case 'chmod':
      w.str('path', op.path);
      w.u32('mode', op.mode);
      return w.u32('inRoot', op.inRoot ?? false);
    case 'symlink':
      w.str('target', op.target);
      w.str('path', op.path);
      w.u32('inRoot', op.inRoot ?? false);
      return w.u32('ignoreExisting', op.ignoreExisting ?? false);
    case 'mknod':
      w.str('path', op.path);
      w.u32('mode', op.mode);
      w.u32('major', op.major);
      w.u32('minor', op.minor);
      w.u32('uid', op.uid);
      w.u32('gid', op.gid);
      return w.u32('inRoot', op.inRoot ?? false);
    case 'chown':
      w.str('path', op.path);
      w.u32('uid', op.uid);
      w.u32('gid', op.gid);
      return w.u32('inRoot', op.inRoot ?? false);
    case 'sethostname':
    case 'setdomainname':
      return w.str('name', op.name);
    case 'writeFd':
      checkInternal(plan, op.fd, step, op);
      w.i32('fd', op.fd);
      return w.str('data', op.data);
    case 'writeFile':
      w.str('path', op.path);
      w.str('data', op.data);
      return w.u32('inRoot', op.inRoot ?? false);
    case 'setrlimit':
      w.u32('resource', op.resource);
      w.u64('soft', op.soft);
      return w.u64('hard', op.hard);
    case 'umask':
      return w.u32('mask', op.mask);
    case 'capBounding':
      return w.u64('keep', op.keep);
    case 'keepCaps':
      return w.u32('on', op.on);
    case 'capset':
      w.u64('effective', op.effective);
      w.u64('permitted', op.permitted);
      return w.u64('inheritable', op.inheritable);
    case 'ambient':
      return w.u64('raise', op.raise);
    case 'pdeathsig':
      return w.i32('signal', op.signal);
    case 'seccomp':
      if (op.filter.length === 0 || op.filter.length % 8 !== 0 || op.filter.length / 8 > 4096) {
        throw invalid(`encode plan: op ${step} (${describeOp(op)})`, `the filter must be 1..4096 BPF instructions of 8 bytes (got ${op.filter.length} bytes)`);
      }
      w.bytes('filter', op.filter);
      return w.u32('flags', op.flags);
    case 'openPty':
      checkInternal(plan, op.socket, step, op);
      w.i32('socket', op.socket);
      w.u32('rows', op.rows);
      return w.u32('cols', op.cols);
    case 'waitFifo':
      checkInternal(plan, op.fd, step, op);
      return w.i32('fd', op.fd);
    case 'dup2':
      checkInternal(plan, op.fd, step, op);
      if (!Number.isInteger(op.target) || op.target < 0) throw invalid(`encode plan: op ${step} (${describeOp(op)})`, `target fd must be >= 0`);
      w.i32('fd', op.fd);
      return w.i32('target', op.target);
    case 'closeFrom':
      return w.u32('from', op.from);
    case 'fork': {
      const at = op.parentContinuesAt;
      if (!Number.isInteger(at) || at <= step + 1 || at >= plan.ops.length || plan.ops[at - 1]?.op !== 'exec') {
        throw invalid(
          `encode plan: op ${step} (${describeOp(op)})`,
          `parentContinuesAt is ${at}: it must name a later op (after at least one child op) whose previous op is the child's exec`,
        );
      }
      const pidfd = op.pidfd ?? -1;
      if (!Number.isInteger(pidfd) || pidfd < -1 || pidfd > 65535) throw invalid(`encode plan: op ${step} (${describeOp(op)})`, `pidfd must be -1 or an fd number (got ${pidfd})`);
      if (op.cgroupFd !== undefined) checkInternal(plan, op.cgroupFd, step, op);
      w.u64('flags', op.flags);
      w.u32('parentContinuesAt', at);
      w.i32('pidfd', pidfd);
      return w.i32('cgroupFd', op.cgroupFd ?? -1);
    }
    case 'lookPath':
      w.str('file', op.file);
      return w.str('searchPath', op.searchPath);
    case 'exec':
      w.str('file', op.file);
      w.strs('argv', op.argv);
      w.strs('env', op.env);
      return w.str('searchPath', op.searchPath);
  }
}
