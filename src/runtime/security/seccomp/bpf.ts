// Classic BPF as seccomp uses it: opcodes, return values, and a tiny assembler with symbolic
// labels. Conditional jumps in classic BPF have 8-bit offsets (at most 255 instructions forward),
// so the assembler turns any conditional jump whose target is further away into a jump to an
// adjacent `ja` trampoline (whose offset is 32-bit). Offsets are only ever forward.
import { endianness } from 'node:os';
import { HakoError } from '../../../common/errors.js';

export const BPF = {
  LD: 0x00, LDX: 0x01, ST: 0x02, STX: 0x03, ALU: 0x04, JMP: 0x05, RET: 0x06, MISC: 0x07,
  W: 0x00, H: 0x08, B: 0x10,
  IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, LEN: 0x80, MSH: 0xa0,
  ADD: 0x00, SUB: 0x10, MUL: 0x20, DIV: 0x30, OR: 0x40, AND: 0x50, LSH: 0x60, RSH: 0x70, NEG: 0x80, MOD: 0x90, XOR: 0xa0,
  JA: 0x00, JEQ: 0x10, JGT: 0x20, JGE: 0x30, JSET: 0x40,
  K: 0x00, X: 0x08, A: 0x10,
  TAX: 0x00, TXA: 0x80,
} as const;

/** The kernel refuses longer programs (BPF_MAXINSNS) with EINVAL. */
export const BPF_MAXINSNS = 4096;

/** linux/seccomp.h SECCOMP_RET_* (action in the high 16 bits, data in the low 16). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
  ACTION_FULL: 0xffff0000,
  DATA: 0x0000ffff,
} as const;

/** Offsets in struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }. */
export const SECCOMP_DATA = { NR: 0, ARCH: 4, IP: 8, ARGS: 16, SIZE: 64 } as const;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export type Label = number;

/** Jump target meaning "the instruction that follows". */
const NEXT = -1;
const K_INSN = 0;
const K_JCC = 1;
const K_JA = 2;

/**
 * Builds a program with forward labels and resolves jump offsets (with trampolines) at the end.
 * Items are kept as parallel arrays of numbers: this runs on the container start path, often in a
 * fresh process where V8 has not optimised anything yet, so it avoids per-instruction objects.
 */
export class Assembler {
  private readonly kind: number[] = [];
  private readonly code: number[] = [];
  private readonly kv: number[] = [];
  /** jcc: label or NEXT for true/false; ja: target label in jt. */
  private readonly jt: number[] = [];
  private readonly jf: number[] = [];
  /** Label → index of the item it precedes. */
  private readonly labelAt: number[] = [];

  newLabel(): Label {
    this.labelAt.push(-1);
    return this.labelAt.length - 1;
  }

  bind(label: Label): void {
    if (this.labelAt[label] !== -1) throw new Error(`bpf assembler: label ${label} bound twice`);
    this.labelAt[label] = this.kind.length;
  }

  private push(kind: number, code: number, k: number, jt: number, jf: number): void {
    this.kind.push(kind);
    this.code.push(code);
    this.kv.push(k >>> 0);
    this.jt.push(jt);
    this.jf.push(jf);
  }

  loadAbs(offset: number): void {
    this.push(K_INSN, BPF.LD | BPF.W | BPF.ABS, offset, 0, 0);
  }

  aluAndK(k: number): void {
    this.push(K_INSN, BPF.ALU | BPF.AND | BPF.K, k, 0, 0);
  }

  ret(k: number): void {
    this.push(K_INSN, BPF.RET | BPF.K, k, 0, 0);
  }

  /** Conditional jump on A against k (op: BPF.JEQ / JGT / JGE / JSET); `'next'` = the following instruction. */
  jump(op: number, k: number, jt: Label | 'next', jf: Label | 'next'): void {
    this.push(K_JCC, BPF.JMP | op | BPF.K, k, jt === 'next' ? NEXT : jt, jf === 'next' ? NEXT : jf);
  }

  ja(target: Label): void {
    this.push(K_JA, BPF.JMP | BPF.JA, 0, target, 0);
  }

  get length(): number {
    return this.kind.length;
  }

  /** Resolves labels; returns the program as struct sock_filter bytes (host byte order). */
  assemble(littleEndian = endianness() === 'LE'): Uint8Array {
    const n = this.kind.length;
    const { kind, code, kv, jt, jf, labelAt } = this;
    for (let i = 0; i < labelAt.length; i++) {
      if (labelAt[i] === -1) throw new Error(`bpf assembler: label ${i} never bound`);
    }
    // far[i]: bit 1 = jt needs a trampoline, bit 2 = jf needs one. Only ever grows, so this settles.
    const far = new Uint8Array(n);
    const pos = new Int32Array(n + 1);
    const posOf = (target: number, i: number): number => (target === NEXT ? pos[i + 1]! : pos[labelAt[target]!]!);
    for (;;) {
      let p = 0;
      for (let i = 0; i < n; i++) {
        pos[i] = p;
        const f = far[i]!;
        p += 1 + (f & 1) + ((f >> 1) & 1);
      }
      pos[n] = p;
      let changed = false;
      for (let i = 0; i < n; i++) {
        if (kind[i] !== K_JCC) continue;
        const f = far[i]!;
        const from = pos[i]! + 1;
        if (!(f & 1) && posOf(jt[i]!, i) - from > 255) { far[i] = far[i]! | 1; changed = true; }
        if (!(f & 2) && posOf(jf[i]!, i) - from > 255) { far[i] = far[i]! | 2; changed = true; }
      }
      if (!changed) break;
    }
    const total = pos[n]!;
    if (total > BPF_MAXINSNS) {
      throw new HakoError({
        step: `compile seccomp filter: program has ${total} instructions, the kernel accepts at most ${BPF_MAXINSNS}`,
        hint: 'list fewer architectures or fewer argument rules',
        kind: 'invalid-argument',
      });
    }
    const buf = new Uint8Array(total * 8);
    const dv = new DataView(buf.buffer);
    let o = 0;
    const emit = (c: number, t: number, f: number, k: number): void => {
      if (t < 0 || f < 0 || t > 255 || f > 255 || k < 0) throw new Error('bpf assembler: jump offset out of range');
      dv.setUint16(o, c, littleEndian);
      buf[o + 2] = t;
      buf[o + 3] = f;
      dv.setUint32(o + 4, k >>> 0, littleEndian);
      o += 8;
    };
    const JA = BPF.JMP | BPF.JA;
    for (let i = 0; i < n; i++) {
      const p = pos[i]!;
      const k = kind[i]!;
      if (k === K_INSN) emit(code[i]!, 0, 0, kv[i]!);
      else if (k === K_JA) emit(JA, 0, 0, posOf(jt[i]!, i) - (p + 1));
      else {
        const f = far[i]!;
        const t = posOf(jt[i]!, i);
        const e = posOf(jf[i]!, i);
        if (f === 0) emit(code[i]!, t - (p + 1), e - (p + 1), kv[i]!);
        else if (f === 1) {
          emit(code[i]!, 0, e - (p + 1), kv[i]!);
          emit(JA, 0, 0, t - (p + 2));
        } else if (f === 2) {
          emit(code[i]!, t - (p + 1), 0, kv[i]!);
          emit(JA, 0, 0, e - (p + 2));
        } else {
          emit(code[i]!, 0, 1, kv[i]!);
          emit(JA, 0, 0, t - (p + 2));
          emit(JA, 0, 0, e - (p + 3));
        }
      }
    }
    return buf;
  }
}

/** struct sock_filter[] in host byte order (the kernel reads it as native structs). */
export function encodeProgram(insns: readonly Insn[], littleEndian = endianness() === 'LE'): Uint8Array {
  if (insns.length > BPF_MAXINSNS) {
    throw new HakoError({
      step: `compile seccomp filter: program has ${insns.length} instructions, the kernel accepts at most ${BPF_MAXINSNS}`,
      hint: 'list fewer architectures or fewer argument rules',
      kind: 'invalid-argument',
    });
  }
  const buf = new Uint8Array(insns.length * 8);
  const dv = new DataView(buf.buffer);
  insns.forEach((insn, i) => {
    dv.setUint16(i * 8, insn.code, littleEndian);
    dv.setUint8(i * 8 + 2, insn.jt);
    dv.setUint8(i * 8 + 3, insn.jf);
    dv.setUint32(i * 8 + 4, insn.k >>> 0, littleEndian);
  });
  return buf;
}

export function decodeProgram(filter: Uint8Array, littleEndian = endianness() === 'LE'): Insn[] {
  if (filter.length % 8 !== 0) throw new Error(`bpf: program length ${filter.length} is not a multiple of 8`);
  const dv = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const out: Insn[] = [];
  for (let i = 0; i < filter.length; i += 8) {
    out.push({ code: dv.getUint16(i, littleEndian), jt: dv.getUint8(i + 2), jf: dv.getUint8(i + 3), k: dv.getUint32(i + 4, littleEndian) });
  }
  return out;
}
