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

type Item =
  | { kind: 'insn'; code: number; k: number }
  | { kind: 'jcc'; code: number; k: number; jt: Label; jf: Label }
  | { kind: 'ja'; target: Label };

/** Builds a program with forward labels and resolves jump offsets (with trampolines) at the end. */
export class Assembler {
  private readonly items: Item[] = [];
  /** Label → index of the item it precedes. */
  private readonly labelAt: number[] = [];

  newLabel(): Label {
    this.labelAt.push(-1);
    return this.labelAt.length - 1;
  }

  bind(label: Label): void {
    if (this.labelAt[label] !== -1) throw new Error(`bpf assembler: label ${label} bound twice`);
    this.labelAt[label] = this.items.length;
  }

  /** A label bound at the current position. */
  here(): Label {
    const l = this.newLabel();
    this.bind(l);
    return l;
  }

  loadAbs(offset: number): void {
    this.items.push({ kind: 'insn', code: BPF.LD | BPF.W | BPF.ABS, k: offset });
  }

  aluAndK(k: number): void {
    this.items.push({ kind: 'insn', code: BPF.ALU | BPF.AND | BPF.K, k: k >>> 0 });
  }

  ret(k: number): void {
    this.items.push({ kind: 'insn', code: BPF.RET | BPF.K, k: k >>> 0 });
  }

  /**
   * Conditional jump on A against k. `'next'` means the instruction that follows.
   * op: BPF.JEQ / JGT / JGE / JSET.
   */
  jump(op: number, k: number, jt: Label | 'next', jf: Label | 'next'): void {
    let next: Label | undefined;
    const t = jt === 'next' ? (next = this.newLabel()) : jt;
    const f = jf === 'next' ? (next ??= this.newLabel()) : jf;
    this.items.push({ kind: 'jcc', code: BPF.JMP | op | BPF.K, k: k >>> 0, jt: t, jf: f });
    if (next !== undefined) this.bind(next);
  }

  ja(target: Label): void {
    this.items.push({ kind: 'ja', target });
  }

  get length(): number {
    return this.items.length;
  }

  /** Resolves labels; returns the instructions. */
  assemble(): Insn[] {
    const n = this.items.length;
    for (let i = 0; i < this.labelAt.length; i++) {
      if (this.labelAt[i] === -1) throw new Error(`bpf assembler: label ${i} never bound`);
    }
    // far[i]: bit 1 = jt needs a trampoline, bit 2 = jf needs one. Only ever grows, so this settles.
    const far = new Uint8Array(n);
    const pos = new Int32Array(n + 1);
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
        const it = this.items[i]!;
        if (it.kind !== 'jcc') continue;
        const f = far[i]!;
        if (!(f & 1) && pos[this.labelAt[it.jt]!]! - (pos[i]! + 1) > 255) { far[i] = far[i]! | 1; changed = true; }
        if (!(f & 2) && pos[this.labelAt[it.jf]!]! - (pos[i]! + 1) > 255) { far[i] = far[i]! | 2; changed = true; }
      }
      if (!changed) break;
    }
    const out: Insn[] = [];
    const target = (l: Label): number => pos[this.labelAt[l]!]!;
    const rel = (from: number, l: Label): number => {
      const d = target(l) - (from + 1);
      if (d < 0) throw new Error('bpf assembler: backward jump');
      return d;
    };
    for (let i = 0; i < n; i++) {
      const it = this.items[i]!;
      const p = pos[i]!;
      if (it.kind === 'insn') out.push({ code: it.code, jt: 0, jf: 0, k: it.k });
      else if (it.kind === 'ja') out.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: rel(p, it.target) });
      else {
        const f = far[i]!;
        if (f === 0) out.push({ code: it.code, jt: rel(p, it.jt), jf: rel(p, it.jf), k: it.k });
        else if (f === 1) {
          out.push({ code: it.code, jt: 0, jf: rel(p, it.jf), k: it.k });
          out.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: rel(p + 1, it.jt) });
        } else if (f === 2) {
          out.push({ code: it.code, jt: rel(p, it.jt), jf: 0, k: it.k });
          out.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: rel(p + 1, it.jf) });
        } else {
          out.push({ code: it.code, jt: 0, jf: 1, k: it.k });
          out.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: rel(p + 1, it.jt) });
          out.push({ code: BPF.JMP | BPF.JA, jt: 0, jf: 0, k: rel(p + 2, it.jf) });
        }
      }
    }
    for (const insn of out) {
      if (insn.jt > 255 || insn.jf > 255) throw new Error('bpf assembler: jump offset out of range');
    }
    return out;
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
