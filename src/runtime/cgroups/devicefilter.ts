// The cgroup v2 device controller is an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached
// to the cgroup: for every open/mknod of a device node the kernel runs it with a
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } and allows the access
// when it returns 1. access_type is (access << 16) | type, with
//   type:   BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2
//   access: BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4
// This module generates that program from OCI device rules: default deny, and like the v1
// devices controller (and runc's devicefilter) the *last* matching rule wins. We test the rules in
// reverse order and return at the first match.
import { invalid } from '../../common/errors.js';
import type { LinuxDeviceCgroup } from './types.js';

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;

// eBPF opcodes we use (see the kernel's Documentation/bpf/standardization/instruction-set.rst).
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_K: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  JNE32_K: 0x56, // BPF_JMP32 | BPF_JNE | BPF_K: if (u32)dst != imm goto pc + 1 + off
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

export interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function insn(op: number, dst: number, src: number, off: number, imm: number): Insn {
  return { op, dst, src, off, imm };
}

/** Registers: r1 = ctx; we load r2 = type, r3 = access, r4 = major, r5 = minor. */
const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

function accessMask(access: string | undefined): number {
  const a = access ?? 'rwm';
  let mask = 0;
  for (const ch of a) {
    if (ch === 'r') mask |= BPF_DEVCG_ACC_READ;
    else if (ch === 'w') mask |= BPF_DEVCG_ACC_WRITE;
    else if (ch === 'm') mask |= BPF_DEVCG_ACC_MKNOD;
    else throw invalid(`invalid device cgroup access "${a}"`, 'use a combination of r, w and m');
  }
  return mask;
}

function ruleBlock(rule: LinuxDeviceCgroup): Insn[] {
  const type = rule.type ?? 'a';
  const checks: Insn[] = [];
  // Each check jumps past the block when it fails; the offset is patched below.
  if (type === 'c' || type === 'b') {
    checks.push(insn(OP.JNE32_K, R2, 0, 0, type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
  } else if (type !== 'a') {
    throw invalid(`invalid device cgroup type "${type}"`, "use 'a', 'c' or 'b'");
  }
  const mask = accessMask(rule.access);
  if (mask !== 7) {
    // Matches when every requested bit is in the rule: (access & ~mask) == 0.
    checks.push(insn(OP.MOV32_X, R0, R3, 0, 0));
    checks.push(insn(OP.AND32_K, R0, 0, 0, ~mask & 0xffff));
    checks.push(insn(OP.JNE32_K, R0, 0, 0, 0));
  }
  const major = rule.major ?? -1;
  const minor = rule.minor ?? -1;
  if (major !== -1) checks.push(insn(OP.JNE32_K, R4, 0, 0, major));
  if (minor !== -1) checks.push(insn(OP.JNE32_K, R5, 0, 0, minor));
  const block = [...checks, insn(OP.MOV32_K, R0, 0, 0, rule.allow ? 1 : 0), insn(OP.EXIT, 0, 0, 0, 0)];
  for (let i = 0; i < block.length; i++) {
    const b = block[i]!;
    if (b.op === OP.JNE32_K) b.off = block.length - 1 - i;
  }
  return block;
}

/** The program as instruction objects (for tests and debugging). */
export function deviceProgramInsns(rules: LinuxDeviceCgroup[]): Insn[] {
  for (const r of rules) {
    for (const v of [r.major, r.minor]) {
      if (v !== undefined && v !== null && (!Number.isInteger(v) || v < -1 || v > 0xffffffff)) {
        throw invalid(`invalid device number ${v} in device cgroup rule`);
      }
    }
  }
  const prog: Insn[] = [
    insn(OP.LDXW, R2, R1, 0, 0),
    insn(OP.AND32_K, R2, 0, 0, 0xffff),
    insn(OP.LDXW, R3, R1, 0, 0),
    insn(OP.RSH32_K, R3, 0, 0, 16),
    insn(OP.LDXW, R4, R1, 4, 0),
    insn(OP.LDXW, R5, R1, 8, 0),
  ];
  for (let i = rules.length - 1; i >= 0; i--) {
    const block = ruleBlock(rules[i]!);
    prog.push(...block);
    // A rule without checks always matches: nothing before it can be reached, stop here.
    if (block.length === 2) return prog;
  }
  prog.push(insn(OP.MOV32_K, R0, 0, 0, 0), insn(OP.EXIT, 0, 0, 0, 0));
  return prog;
}

export function encodeInsns(insns: Insn[]): Uint8Array {
  const buf = new Uint8Array(insns.length * 8);
  const view = new DataView(buf.buffer);
  insns.forEach((i, n) => {
    view.setUint8(n * 8, i.op);
    view.setUint8(n * 8 + 1, (i.dst & 0xf) | ((i.src & 0xf) << 4));
    view.setInt16(n * 8 + 2, i.off, true);
    view.setInt32(n * 8 + 4, i.imm | 0, true);
  });
  return buf;
}

export function decodeInsns(buf: Uint8Array): Insn[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Insn[] = [];
  for (let n = 0; n + 8 <= buf.byteLength; n += 8) {
    const regs = view.getUint8(n + 1);
    out.push({ op: view.getUint8(n), dst: regs & 0xf, src: regs >> 4, off: view.getInt16(n + 2, true), imm: view.getInt32(n + 4, true) });
  }
  return out;
}

/** The device-cgroup eBPF program for OCI rules (default deny, last match wins), encoded. */
export function deviceProgram(rules: LinuxDeviceCgroup[]): Uint8Array {
  return encodeInsns(deviceProgramInsns(rules));
}
