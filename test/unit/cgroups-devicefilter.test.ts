// The device eBPF program, run by a tiny eBPF interpreter written for this test. The interpreter
// knows the whole ALU/ALU64/JMP/JMP32 classes and 32-bit loads from the context, so it does not
// merely mirror the opcodes the generator happens to use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceProgram } from '../../src/runtime/cgroups/index.js';
import { decodeInsns } from '../../src/runtime/cgroups/devicefilter.js';
import type { LinuxDeviceCgroup } from '../../src/runtime/cgroups/types.js';

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;

function run(prog: Uint8Array, ctx: { type: number; access: number; major: number; minor: number }): number {
  const insns = decodeInsns(prog);
  const mem = new DataView(new ArrayBuffer(12));
  mem.setUint32(0, ((ctx.access << 16) | ctx.type) >>> 0, true);
  mem.setUint32(4, ctx.major >>> 0, true);
  mem.setUint32(8, ctx.minor >>> 0, true);
  const CTX = 0x1000n;
  const r = new Array<bigint>(11).fill(0n);
  r[1] = CTX;
  let pc = 0;
  let steps = 0;
  const initialized = new Set([1, 10]);
  for (;;) {
    if (++steps > 10000) throw new Error('loop');
    const i = insns[pc];
    if (!i) throw new Error(`pc ${pc} out of range`);
    const cls = i.op & 7;
    const src = (i.op & 8) !== 0 ? r[i.src]! : BigInt(i.imm) & M64;
    if (cls === 4 || cls === 7) {
      // ALU (32-bit) or ALU64
      const is32 = cls === 4;
      const mask = is32 ? M32 : M64;
      const a = r[i.dst]! & mask;
      const b = src & mask;
      if ((i.op & 8) !== 0 && !initialized.has(i.src)) throw new Error(`read of uninitialised r${i.src}`);
      let v: bigint;
      switch (i.op & 0xf0) {
        case 0x00: v = a + b; break;
        case 0x10: v = a - b; break;
        case 0x20: v = a * b; break;
        case 0x40: v = a | b; break;
        case 0x50: v = a & b; break;
        case 0x60: v = a << (b & (is32 ? 31n : 63n)); break;
        case 0x70: v = a >> (b & (is32 ? 31n : 63n)); break;
        case 0xa0: v = a ^ b; break;
        case 0xb0: v = b; break;
        default: throw new Error(`alu op ${i.op.toString(16)}`);
      }
      r[i.dst] = v & mask;
      initialized.add(i.dst);
      pc++;
    } else if (cls === 1) {
      // LDX
      if ((i.op & 0xe0) !== 0x60) throw new Error('only LDX MEM');
      if (r[i.src] !== CTX) throw new Error('load from non-ctx');
      const size = i.op & 0x18;
      if (size !== 0) throw new Error('only 32-bit ctx loads are allowed for device programs');
      r[i.dst] = BigInt(mem.getUint32(i.off, true));
      initialized.add(i.dst);
      pc++;
    } else if (cls === 5 || cls === 6) {
      const op = i.op & 0xf0;
      if (op === 0x90) {
        if (!initialized.has(0)) throw new Error('exit with r0 uninitialised');
        return Number(r[0]! & M32);
      }
      if (op === 0x00) {
        pc += 1 + i.off;
        continue;
      }
      const mask = cls === 6 ? M32 : M64;
      if (!initialized.has(i.dst)) throw new Error(`jump on uninitialised r${i.dst}`);
      const a = r[i.dst]! & mask;
      const b = src & mask;
      let take: boolean;
      switch (op) {
        case 0x10: take = a === b; break;
        case 0x50: take = a !== b; break;
        case 0x20: take = a > b; break;
        case 0x30: take = a >= b; break;
        case 0xa0: take = a < b; break;
        case 0xb0: take = a <= b; break;
        case 0x40: take = (a & b) !== 0n; break;
        default: throw new Error(`jmp op ${i.op.toString(16)}`);
      }
      if (i.off < 0) throw new Error('backward jump');
      pc += 1 + (take ? i.off : 0);
    } else {
      throw new Error(`class ${cls}`);
    }
  }
}

const C = 2, B = 1; // BPF_DEVCG_DEV_*
const R = 2, W = 4, MK = 1; // BPF_DEVCG_ACC_*
const dev = (type: number, major: number, minor: number, access: number) => ({ type, major, minor, access });

test('empty rules deny everything', () => {
  const p = deviceProgram([]);
  assert.equal(run(p, dev(C, 1, 3, R)), 0);
  assert.equal(run(p, dev(B, 8, 0, W)), 0);
});

test('a typical container list: deny all, allow a few char devices', () => {
  const rules: LinuxDeviceCgroup[] = [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
    { allow: true, type: 'c', major: 1, minor: 5, access: 'rw' }, // /dev/zero
    { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // pts
    { allow: true, type: 'c', major: null, minor: null, access: 'm' }, // mknod of any char dev
  ];
  const p = deviceProgram(rules);
  assert.equal(run(p, dev(C, 1, 3, R | W)), 1);
  assert.equal(run(p, dev(C, 1, 5, R)), 1);
  assert.equal(run(p, dev(C, 1, 5, MK)), 1, 'mknod allowed by the last rule');
  assert.equal(run(p, dev(C, 1, 5, R | MK)), 0, 'one request with read+mknod needs one rule with both');
  assert.equal(run(p, dev(C, 136, 7, W)), 1);
  assert.equal(run(p, dev(C, 1, 7, R)), 0);
  assert.equal(run(p, dev(B, 1, 3, R)), 0, 'block 1:3 is not char 1:3');
  assert.equal(run(p, dev(B, 8, 0, MK)), 0);
});

test('the last matching rule wins', () => {
  const p = deviceProgram([
    { allow: true, type: 'a', access: 'rwm' },
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
  ]);
  assert.equal(run(p, dev(C, 1, 3, W)), 0);
  assert.equal(run(p, dev(C, 1, 3, R)), 1);
  assert.equal(run(p, dev(B, 8, 0, R | W | MK)), 1);
  const q = deviceProgram([
    { allow: false, type: 'c', major: 1, minor: 3, access: 'w' },
    { allow: true, type: 'a' },
  ]);
  assert.equal(run(q, dev(C, 1, 3, W)), 1, 'allow-all last overrides the deny');
  assert.equal(decodeInsns(q).length, 8, 'rules before an unconditional one are dropped');
});

test('large device numbers and wildcards', () => {
  const p = deviceProgram([{ allow: true, type: 'b', major: 259, minor: 1048575, access: 'r' }]);
  assert.equal(run(p, dev(B, 259, 1048575, R)), 1);
  assert.equal(run(p, dev(B, 259, 1048574, R)), 0);
  assert.equal(run(p, dev(B, 259, 1048575, W)), 0);
  const w = deviceProgram([{ allow: true, type: 'b', major: 8, access: 'rw' }]);
  assert.equal(run(w, dev(B, 8, 17, R | W)), 1);
  assert.equal(run(w, dev(B, 9, 17, R)), 0);
});

test('invalid rules are refused', () => {
  assert.throws(() => deviceProgram([{ allow: true, type: 'x' }]), /invalid device cgroup type/);
  assert.throws(() => deviceProgram([{ allow: true, access: 'rwx' }]), /invalid device cgroup access/);
  assert.throws(() => deviceProgram([{ allow: true, major: -5 }]), /invalid device number/);
});

test('the loader fills bpf_attr as the kernel expects and replaces the old program', async () => {
  const { attachDeviceProgram, BPF_PROG_LOAD, BPF_PROG_ATTACH, BPF_PROG_QUERY, BPF_PROG_GET_FD_BY_ID } = await import('../../src/runtime/cgroups/bpf.js');
  const { openSync } = await import('node:fs');
  const { tempDir } = await import('../helpers/fixtures.js');
  const t = tempDir();
  const calls: { cmd: number; attr: Buffer; pointers: [number, Buffer][] }[] = [];
  // Fake fds are real ones (of /dev/null) so that the loader can close them.
  const fake = (attached: number[]) => (cmd: number, attr: Buffer, pointers: [number, Buffer][] = []): number => {
    calls.push({ cmd, attr: Buffer.from(attr), pointers });
    if (cmd === BPF_PROG_QUERY) {
      attr.writeUInt32LE(attached.length, 24);
      attached.forEach((id, i) => pointers[0]![1].writeUInt32LE(id, i * 4));
      return 0;
    }
    if (cmd === BPF_PROG_LOAD || cmd === BPF_PROG_GET_FD_BY_ID) return openSync('/dev/null', 'r');
    return 0;
  };
  try {
    const prog = deviceProgram([{ allow: true, type: 'c', major: 1, minor: 3 }]);
    attachDeviceProgram(fake([]), t.path, prog);
    const load = calls.find((c) => c.cmd === BPF_PROG_LOAD)!;
    assert.equal(load.attr.readUInt32LE(0), 15, 'BPF_PROG_TYPE_CGROUP_DEVICE');
    assert.equal(load.attr.readUInt32LE(4), prog.length / 8);
    assert.equal(load.attr.readUInt32LE(68), 6, 'expected_attach_type BPF_CGROUP_DEVICE');
    assert.deepEqual(load.pointers.map(([off]) => off), [8, 16, 32]);
    assert.deepEqual(new Uint8Array(load.pointers[0]![1]), prog);
    assert.equal(load.pointers[1]![1].toString(), 'GPL\0');
    const attach = calls.find((c) => c.cmd === BPF_PROG_ATTACH)!;
    assert.equal(attach.attr.readUInt32LE(8), 6);
    assert.equal(attach.attr.readUInt32LE(12), 2, 'BPF_F_ALLOW_MULTI, nothing to replace');
    calls.length = 0;
    attachDeviceProgram(fake([42]), t.path, prog);
    assert.equal(calls.find((c) => c.cmd === BPF_PROG_GET_FD_BY_ID)!.attr.readUInt32LE(0), 42);
    const replace = calls.find((c) => c.cmd === BPF_PROG_ATTACH)!;
    assert.equal(replace.attr.readUInt32LE(12), 2 | 4, 'BPF_F_ALLOW_MULTI | BPF_F_REPLACE');
    assert.ok(replace.attr.readUInt32LE(16) > 0, 'replace_bpf_fd is the old program');
  } finally {
    t.cleanup();
  }
});
