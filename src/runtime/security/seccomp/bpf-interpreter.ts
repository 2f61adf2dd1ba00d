// A small classic-BPF interpreter over struct seccomp_data, for tests: it runs a compiled filter
// exactly as the kernel would (same checks on loads and jumps) and returns the SECCOMP_RET value.
import { AUDIT_ARCH_LE } from './arch.js';
import { BPF, SECCOMP_DATA, SECCOMP_RET, decodeProgram, type Insn } from './bpf.js';

export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  /** Up to six arguments, as unsigned 64-bit values (missing ones are 0). */
  args?: readonly bigint[];
}

/** struct seccomp_data bytes; argument words in the byte order of `arch` (AUDIT_ARCH_LE bit). */
export function encodeSeccompData(d: SeccompData): DataView {
  const le = (d.arch & AUDIT_ARCH_LE) !== 0;
  const dv = new DataView(new ArrayBuffer(SECCOMP_DATA.SIZE));
  // The kernel fills nr/arch as native ints; the filter loads 32-bit words in host order, which is
  // what we model: loads below read with the same order the fields were written.
  dv.setUint32(SECCOMP_DATA.NR, d.nr >>> 0, le);
  dv.setUint32(SECCOMP_DATA.ARCH, d.arch >>> 0, le);
  dv.setBigUint64(SECCOMP_DATA.IP, BigInt.asUintN(64, d.instructionPointer ?? 0n), le);
  for (let i = 0; i < 6; i++) {
    dv.setBigUint64(SECCOMP_DATA.ARGS + 8 * i, BigInt.asUintN(64, d.args?.[i] ?? 0n), le);
  }
  return dv;
}

export class BpfError extends Error {}

/** Runs `program` (bytes or decoded) against `data`; returns the 32-bit return value. */
export function runBpf(program: Uint8Array | readonly Insn[], data: SeccompData): number {
  const insns = program instanceof Uint8Array ? decodeProgram(program) : program;
  const le = (data.arch & AUDIT_ARCH_LE) !== 0;
  const mem = encodeSeccompData(data);
  const scratch = new Uint32Array(16);
  let A = 0;
  let X = 0;
  let pc = 0;
  let steps = 0;
  while (pc < insns.length) {
    if (++steps > 1_000_000) throw new BpfError('bpf: too many steps');
    const { code, jt, jf, k } = insns[pc]!;
    const cls = code & 0x07;
    switch (cls) {
      case BPF.LD: {
        const mode = code & 0xe0;
        if (mode === BPF.ABS) {
          if ((code & 0x18) !== BPF.W) throw new BpfError(`bpf: seccomp allows only 32-bit loads (pc ${pc})`);
          if (k % 4 !== 0 || k + 4 > SECCOMP_DATA.SIZE) throw new BpfError(`bpf: load outside seccomp_data at ${k} (pc ${pc})`);
          A = mem.getUint32(k, le);
        } else if (mode === BPF.IMM) A = k >>> 0;
        else if (mode === BPF.MEM) A = scratch[k & 15]!;
        else if (mode === BPF.LEN) A = SECCOMP_DATA.SIZE;
        else throw new BpfError(`bpf: unsupported load 0x${code.toString(16)} (pc ${pc})`);
        pc++;
        break;
      }
      case BPF.LDX: {
        const mode = code & 0xe0;
        if (mode === BPF.IMM) X = k >>> 0;
        else if (mode === BPF.MEM) X = scratch[k & 15]!;
        else if (mode === BPF.LEN) X = SECCOMP_DATA.SIZE;
        else throw new BpfError(`bpf: unsupported ldx 0x${code.toString(16)} (pc ${pc})`);
        pc++;
        break;
      }
      case BPF.ST: scratch[k & 15] = A; pc++; break;
      case BPF.STX: scratch[k & 15] = X; pc++; break;
      case BPF.ALU: {
        const src = (code & BPF.X) ? X : k >>> 0;
        switch (code & 0xf0) {
          case BPF.ADD: A = (A + src) >>> 0; break;
          case BPF.SUB: A = (A - src) >>> 0; break;
          case BPF.MUL: A = Math.imul(A, src) >>> 0; break;
          case BPF.DIV: if (src === 0) return SECCOMP_RET.KILL_THREAD; A = Math.floor(A / src) >>> 0; break;
          case BPF.MOD: if (src === 0) return SECCOMP_RET.KILL_THREAD; A = (A % src) >>> 0; break;
          case BPF.OR: A = (A | src) >>> 0; break;
          case BPF.AND: A = (A & src) >>> 0; break;
          case BPF.XOR: A = (A ^ src) >>> 0; break;
          case BPF.LSH: A = src >= 32 ? 0 : (A << src) >>> 0; break;
          case BPF.RSH: A = src >= 32 ? 0 : A >>> src; break;
          case BPF.NEG: A = -A >>> 0; break;
          default: throw new BpfError(`bpf: bad alu op 0x${code.toString(16)} (pc ${pc})`);
        }
        pc++;
        break;
      }
      case BPF.JMP: {
        const op = code & 0xf0;
        if (op === BPF.JA) {
          pc += 1 + (k >>> 0);
          break;
        }
        const src = (code & BPF.X) ? X : k >>> 0;
        let taken: boolean;
        if (op === BPF.JEQ) taken = A === src;
        else if (op === BPF.JGT) taken = A > src;
        else if (op === BPF.JGE) taken = A >= src;
        else if (op === BPF.JSET) taken = (A & src) !== 0;
        else throw new BpfError(`bpf: bad jump 0x${code.toString(16)} (pc ${pc})`);
        pc += 1 + (taken ? jt : jf);
        break;
      }
      case BPF.RET:
        return ((code & 0x18) === BPF.A ? A : k) >>> 0;
      case BPF.MISC:
        if ((code & 0xf8) === BPF.TXA) A = X;
        else X = A;
        pc++;
        break;
    }
  }
  throw new BpfError('bpf: ran off the end of the program (the kernel rejects such filters)');
}

export type SeccompVerdict =
  | { action: 'kill_process' }
  | { action: 'kill_thread' }
  | { action: 'trap'; data: number }
  | { action: 'errno'; errno: number }
  | { action: 'user_notif' }
  | { action: 'trace'; data: number }
  | { action: 'log' }
  | { action: 'allow' };

/** SECCOMP_RET value → what the kernel does (unknown actions behave as kill_process, as in the kernel). */
export function describeSeccompRet(ret: number): SeccompVerdict {
  const action = (ret & SECCOMP_RET.ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET.DATA;
  switch (action) {
    case SECCOMP_RET.KILL_THREAD: return { action: 'kill_thread' };
    case SECCOMP_RET.TRAP: return { action: 'trap', data };
    case SECCOMP_RET.ERRNO: return { action: 'errno', errno: data };
    case SECCOMP_RET.USER_NOTIF: return { action: 'user_notif' };
    case SECCOMP_RET.TRACE: return { action: 'trace', data };
    case SECCOMP_RET.LOG: return { action: 'log' };
    case SECCOMP_RET.ALLOW: return { action: 'allow' };
    default: return { action: 'kill_process' };
  }
}

/** Convenience for tests: run and describe. */
export function evaluateSeccomp(program: Uint8Array, data: SeccompData): SeccompVerdict {
  return describeSeccompRet(runBpf(program, data));
}
