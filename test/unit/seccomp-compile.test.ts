import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSeccomp } from '../../src/runtime/security/seccomp/compile.js';
import { evaluateSeccomp, runBpf } from '../../src/runtime/security/seccomp/bpf-interpreter.js';
import { AUDIT_ARCH, X32_SYSCALL_BIT } from '../../src/runtime/security/seccomp/arch.js';
import { SECCOMP_RET, decodeProgram } from '../../src/runtime/security/seccomp/bpf.js';
import { SYSCALL_TABLES } from '../../src/runtime/security/seccomp/syscall-tables.js';
import type { LinuxSeccomp } from '../../src/runtime/security/seccomp/types.js';
import { HakoError } from '../../src/common/errors.js';

const X64 = SYSCALL_TABLES.SCMP_ARCH_X86_64!;
const X86 = SYSCALL_TABLES.SCMP_ARCH_X86!;
const X32 = SYSCALL_TABLES.SCMP_ARCH_X32!;
const A64 = SYSCALL_TABLES.SCMP_ARCH_AARCH64!;
const native = { nativeArch: 'SCMP_ARCH_X86_64' };

function run(filter: Uint8Array, nr: number, args: bigint[] = [], arch: number = AUDIT_ARCH.X86_64) {
  return evaluateSeccomp(filter, { nr, arch, args });
}

test('syscall tables: well-known numbers per architecture', () => {
  assert.equal(X64.read, 0);
  assert.equal(X64.mount, 165);
  assert.equal(X86.mount, 21);
  assert.equal(X86.socketcall, 102);
  assert.equal(X32.read, X32_SYSCALL_BIT + 0);
  assert.equal(X32.rt_sigaction, X32_SYSCALL_BIT + 512); // x32's own numbering
  assert.equal(A64.openat, 56);
  assert.equal(A64.open, undefined); // the generic table has no open(2)
  assert.equal(SYSCALL_TABLES.SCMP_ARCH_ARM!.cacheflush, 0x0f0002);
  assert.equal(SYSCALL_TABLES.SCMP_ARCH_RISCV64!.riscv_flush_icache, 259);
  assert.equal(X64.fchmodat2, 452); // newer than the headers, added by the generator
  assert.equal(X64.clone3, 435);
});

test('default action and errnoRet', () => {
  const { filter, flags, warnings } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 13,
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 0 },
        { names: ['getpid'], action: 'SCMP_ACT_TRACE', errnoRet: 77 },
        { names: ['getppid'], action: 'SCMP_ACT_TRAP' },
        { names: ['gettid'], action: 'SCMP_ACT_LOG' },
        { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['tkill'], action: 'SCMP_ACT_KILL' },
        { names: ['tgkill'], action: 'SCMP_ACT_KILL_THREAD' },
      ],
    },
    native,
  );
  assert.equal(flags, 0);
  assert.deepEqual(warnings, []);
  assert.deepEqual(run(filter, X64.read!), { action: 'allow' });
  assert.deepEqual(run(filter, X64.write!), { action: 'allow' });
  assert.deepEqual(run(filter, X64.open!), { action: 'errno', errno: 13 });
  assert.deepEqual(run(filter, X64.mkdir!), { action: 'errno', errno: 1 });
  assert.deepEqual(run(filter, X64.rmdir!), { action: 'errno', errno: 0 });
  assert.deepEqual(run(filter, X64.getpid!), { action: 'trace', data: 77 });
  assert.deepEqual(run(filter, X64.getppid!), { action: 'trap', data: 0 });
  assert.deepEqual(run(filter, X64.gettid!), { action: 'log' });
  assert.deepEqual(run(filter, X64.kill!), { action: 'kill_process' });
  assert.deepEqual(run(filter, X64.tkill!), { action: 'kill_thread' });
  assert.deepEqual(run(filter, X64.tgkill!), { action: 'kill_thread' });
  assert.equal(filter.length % 8, 0);
});

test('architectures: native always present, others by list, wrong arch killed', () => {
  const spec: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86'],
    syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
  };
  const { filter } = compileSeccomp(spec, native);
  assert.deepEqual(run(filter, X64.mount!), { action: 'errno', errno: 1 });
  assert.deepEqual(run(filter, X86.mount!, [], AUDIT_ARCH.I386), { action: 'errno', errno: 1 });
  // x86 "mount" is 21, which on x86_64 is access: numbers are per arch.
  assert.deepEqual(run(filter, 21), { action: 'allow' });
  assert.deepEqual(run(filter, X86.read!, [], AUDIT_ARCH.I386), { action: 'allow' });
  // aarch64 not listed → bad arch → kill
  assert.deepEqual(run(filter, A64.mount!, [], AUDIT_ARCH.AARCH64), { action: 'kill_thread' });
  // x32 syscalls through the x86_64 audit arch: not listed → kill (else they would bypass the filter)
  assert.deepEqual(run(filter, X32.mount!), { action: 'kill_thread' });
});

test('x32 and x86_64 are told apart by __X32_SYSCALL_BIT', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['rt_sigaction', 'read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 },
      ],
    },
    native,
  );
  assert.deepEqual(run(filter, X64.rt_sigaction!), { action: 'allow' });
  assert.deepEqual(run(filter, X32.rt_sigaction!), { action: 'allow' });
  // x32 number 13 | bit is not rt_sigaction on x32 (that's 512 | bit): default
  assert.deepEqual(run(filter, X32_SYSCALL_BIT + 13), { action: 'errno', errno: 1 });
  assert.deepEqual(run(filter, X32.write!), { action: 'errno', errno: 5 });
  assert.deepEqual(run(filter, X32.read!), { action: 'allow' });
  // only x32 (native aarch64): the x86_64 half is a bad arch
  const only32 = compileSeccomp(
    { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X32'] },
    { nativeArch: 'SCMP_ARCH_AARCH64' },
  ).filter;
  assert.deepEqual(run(only32, X32.read!), { action: 'allow' });
  assert.deepEqual(run(only32, X64.read!), { action: 'kill_thread' });
  assert.deepEqual(run(only32, A64.read!, [], AUDIT_ARCH.AARCH64), { action: 'allow' });
});

// Values at 64-bit boundaries, and the expected result of each operator.
const U64 = (1n << 64n) - 1n;
const probes = [0n, 1n, 0xfffffffen, 0xffffffffn, 0x100000000n, 0x100000001n, 0x1ffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, U64 - 1n, U64];
const ops: Record<string, (x: bigint, v: bigint) => boolean> = {
  SCMP_CMP_EQ: (x, v) => x === v,
  SCMP_CMP_NE: (x, v) => x !== v,
  SCMP_CMP_LT: (x, v) => x < v,
  SCMP_CMP_LE: (x, v) => x <= v,
  SCMP_CMP_GT: (x, v) => x > v,
  SCMP_CMP_GE: (x, v) => x >= v,
};

for (const [op, fn] of Object.entries(ops)) {
  test(`64-bit argument comparison ${op} at word boundaries`, () => {
    for (const v of probes) {
      for (const index of [0, 3, 5]) {
        const { filter } = compileSeccomp(
          {
            defaultAction: 'SCMP_ACT_ALLOW',
            syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index, value: v, op }] }],
          },
          native,
        );
        for (const x of probes) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n];
          args[index] = x;
          const got = run(filter, X64.ioctl!, args);
          const want = fn(x, v) ? { action: 'errno', errno: 22 } : { action: 'allow' };
          assert.deepEqual(got, want, `${op}: arg${index}=${x.toString(16)} vs ${v.toString(16)}`);
        }
      }
    }
  });
}

test('SCMP_CMP_MASKED_EQ on both halves', () => {
  const masks: Array<[bigint, bigint]> = [
    [0x7e020000n, 0n],
    [0xff00000000000000n, 0x0100000000000000n],
    [0xffffffff0000ffffn, 0x000000010000abcdn],
  ];
  for (const [mask, want] of masks) {
    const { filter } = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: mask, valueTwo: want, op: 'SCMP_CMP_MASKED_EQ' }] }],
      },
      native,
    );
    for (const x of [...probes, want, want | ~mask & U64, 0x10000000n, 0x0100000000000000n, 0x000000010000abcdn, 0x123400010000abcdn]) {
      const expect = (x & mask) === want ? 'allow' : 'errno';
      assert.equal(run(filter, X64.clone!, [x]).action, expect, `mask ${mask.toString(16)} x ${x.toString(16)}`);
    }
  }
});

test('32-bit architectures compare only the low word', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86'],
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 9, args: [{ index: 0, value: U64, op: 'SCMP_CMP_EQ' }] }],
    },
    native,
  );
  assert.deepEqual(run(filter, X86.personality!, [0xffffffffn], AUDIT_ARCH.I386), { action: 'errno', errno: 9 });
  assert.deepEqual(run(filter, X86.personality!, [0n], AUDIT_ARCH.I386), { action: 'allow' });
  // on x86_64 the full 64 bits count
  assert.deepEqual(run(filter, X64.personality!, [0xffffffffn]), { action: 'allow' });
  assert.deepEqual(run(filter, X64.personality!, [U64]), { action: 'errno', errno: 9 });
});

test('big-endian architectures load the argument halves from the right offsets', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_S390X'],
      syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 1, value: 0x100000002n, op: 'SCMP_CMP_EQ' }] }],
    },
    native,
  );
  const nr = SYSCALL_TABLES.SCMP_ARCH_S390X!.ioctl!;
  assert.deepEqual(run(filter, nr, [0n, 0x100000002n], AUDIT_ARCH.S390X), { action: 'errno', errno: 3 });
  assert.deepEqual(run(filter, nr, [0n, 0x200000001n], AUDIT_ARCH.S390X), { action: 'allow' });
});

test('conditions AND within a rule, rules for one syscall OR in order (first match wins)', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      syscalls: [
        {
          names: ['mmap'],
          action: 'SCMP_ACT_ALLOW',
          args: [
            { index: 2, value: 4, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 },
            { index: 3, value: 0x22, op: 'SCMP_CMP_EQ' },
          ],
        },
        { names: ['mmap'], action: 'SCMP_ACT_ERRNO', errnoRet: 12, args: [{ index: 1, value: 1n << 40n, op: 'SCMP_CMP_GT' }] },
        { names: ['mmap'], action: 'SCMP_ACT_LOG', args: [{ index: 1, value: 1n << 30n, op: 'SCMP_CMP_GE' }] },
        { names: ['mmap'], action: 'SCMP_ACT_TRAP' },
        { names: ['mmap'], action: 'SCMP_ACT_ALLOW' }, // unreachable: the previous rule always matches
      ],
    },
    native,
  );
  const mmap = X64.mmap!;
  assert.equal(run(filter, mmap, [0n, 4096n, 3n, 0x22n]).action, 'allow');
  assert.equal(run(filter, mmap, [0n, 4096n, 7n, 0x22n]).action, 'trap'); // PROT_EXEC: first rule fails
  assert.deepEqual(run(filter, mmap, [0n, (1n << 40n) + 1n, 7n, 0x22n]), { action: 'errno', errno: 12 });
  assert.equal(run(filter, mmap, [0n, (1n << 40n) + 1n, 3n, 0x22n]).action, 'allow'); // rule order
  assert.equal(run(filter, mmap, [0n, 1n << 30n, 7n, 0n]).action, 'log');
  assert.equal(run(filter, mmap, [0n, 1n, 7n, 0n]).action, 'trap');
  assert.deepEqual(run(filter, X64.read!), { action: 'errno', errno: 1 });
});

test('conditional rules without a catch-all fall back to the default action', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
        { names: ['write'], action: 'SCMP_ACT_ALLOW' },
      ],
    },
    native,
  );
  assert.equal(run(filter, X64.socket!, [2n]).action, 'allow');
  assert.deepEqual(run(filter, X64.socket!, [40n]), { action: 'errno', errno: 38 });
  assert.equal(run(filter, X64.write!).action, 'allow');
});

test('unknown syscall names are skipped with one debug notice per architecture, not a warning', () => {
  const { filter, warnings, notices } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      syscalls: [{ names: ['read', 'chown32', 'no_such_call', 'newfstatat'], action: 'SCMP_ACT_ALLOW' }],
    },
    native,
  );
  assert.deepEqual(warnings, [], 'expected findings must not reach a container log as warnings');
  assert.equal(notices.length, 2);
  assert.match(notices[0]!, /SCMP_ARCH_X86_64.*chown32, no_such_call/);
  assert.match(notices[1]!, /SCMP_ARCH_X86\b.*newfstatat, no_such_call/);
  assert.equal(run(filter, X64.newfstatat!).action, 'allow');
  assert.equal(run(filter, X86.chown32!, [], AUDIT_ARCH.I386).action, 'allow');
});

test('flags map to SECCOMP_FILTER_FLAG_* bits', () => {
  const c = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
    },
    native,
  );
  assert.equal(c.flags, 1 | 2 | 4 | 32);
});

test('bad input names the field', () => {
  const bad = (spec: unknown, re: RegExp): void => {
    assert.throws(() => compileSeccomp(spec as LinuxSeccomp, native), (e: unknown) => {
      assert.ok(e instanceof HakoError, String(e));
      assert.equal(e.kind, 'invalid-argument');
      assert.match(e.message, re);
      return true;
    });
  };
  bad({ defaultAction: 'SCMP_ACT_NOPE' }, /linux\.seccomp\.defaultAction.*SCMP_ACT_NOPE/);
  bad({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: -1 }, /defaultErrnoRet/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: 'read', action: 'SCMP_ACT_ALLOW' }] }, /syscalls\[0\]\.names/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'ALLOW' }] }, /syscalls\[0\]\.action/);
  bad(
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] },
    /syscalls\[0\]\.args\[0\]\.index/,
  );
  bad(
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_XX' }] }] },
    /args\[0\]\.op.*SCMP_CMP_XX/,
  );
  bad(
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: -1, op: 'SCMP_CMP_EQ' }] }] },
    /args\[0\]\.value/,
  );
  bad(
    { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }] },
    /args\[0\]\.value.*bigint/,
  );
  bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }, /architectures\[0\].*SCMP_ARCH_Z80/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_FAST'] }, /flags\[0\].*SECCOMP_FILTER_FLAG_FAST/);
  bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] }, /NOTIFY.*not supported/);
});

test('spec-valid but unsupported architectures warn and stay killed', () => {
  const { filter, warnings } = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_MIPS'] }, native);
  assert.match(warnings.join('\n'), /SCMP_ARCH_MIPS/);
  assert.equal(run(filter, 4000, [], 0x40000008).action, 'kill_thread');
});

test('values may be bigint or strings above 2^53', () => {
  const { filter } = compileSeccomp(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 4, args: [{ index: 1, value: '18446744073709551615', op: 'SCMP_CMP_EQ' }] },
        { names: ['ioctl'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 1, value: '0x8000000000000001', op: 'SCMP_CMP_EQ' }] },
      ],
    },
    native,
  );
  assert.deepEqual(run(filter, X64.ioctl!, [0n, U64]), { action: 'errno', errno: 4 });
  assert.deepEqual(run(filter, X64.ioctl!, [0n, 0x8000000000000001n]), { action: 'errno', errno: 5 });
  assert.equal(run(filter, X64.ioctl!, [0n, 0x8000000000000000n]).action, 'allow');
});

test('long programs: every syscall of every x86 table, with argument rules, beyond 8-bit jumps', () => {
  const names = [...new Set([...Object.keys(X64), ...Object.keys(X86), ...Object.keys(X32)])].sort();
  const spec: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_KILL_PROCESS',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: names.map((n, i) =>
      i % 7 === 0
        ? { names: [n], action: 'SCMP_ACT_ERRNO', errnoRet: (i % 4000) + 1, args: [{ index: i % 6, value: BigInt(i) << 33n, op: 'SCMP_CMP_GE' }] }
        : { names: [n], action: i % 3 === 0 ? 'SCMP_ACT_ALLOW' : 'SCMP_ACT_ERRNO', errnoRet: (i % 4000) + 1 },
    ),
  };
  const { filter } = compileSeccomp(spec, native);
  const insns = decodeProgram(filter);
  assert.ok(insns.length > 1000, `program has ${insns.length} instructions`);
  assert.ok(insns.length <= 4096);
  // A jump anywhere must land inside the program (the kernel's check).
  insns.forEach((insn, pc) => {
    if ((insn.code & 7) === 5) {
      const far = (insn.code & 0xf0) === 0 ? pc + 1 + insn.k : pc + 1 + Math.max(insn.jt, insn.jf);
      assert.ok(far < insns.length, `jump at ${pc} leaves the program`);
    }
  });
  const tables: Array<[Record<string, number>, number]> = [[X64, AUDIT_ARCH.X86_64], [X86, AUDIT_ARCH.I386], [X32, AUDIT_ARCH.X86_64]];
  names.forEach((n, i) => {
    for (const [table, arch] of tables) {
      const nr = table[n];
      if (nr === undefined) continue;
      const errno = (i % 4000) + 1;
      if (i % 7 === 0) {
        const idx = i % 6;
        const hit = [0n, 0n, 0n, 0n, 0n, 0n];
        hit[idx] = BigInt(i) << 33n;
        assert.deepEqual(run(filter, nr, hit, arch), { action: 'errno', errno }, n);
        if (i > 0 && arch !== AUDIT_ARCH.I386) assert.equal(run(filter, nr, [], arch).action, 'kill_process', n);
      } else {
        assert.deepEqual(run(filter, nr, [], arch), i % 3 === 0 ? { action: 'allow' } : { action: 'errno', errno }, n);
      }
    }
  });
  assert.equal(run(filter, 9999).action, 'kill_process');
});

test('output is deterministic', () => {
  const spec: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['write', 'read', 'close'], action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
    ],
  };
  const a = compileSeccomp(spec, native).filter;
  const b = compileSeccomp(structuredClone(spec), native).filter;
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
  assert.equal(runBpf(a, { nr: X64.read!, arch: AUDIT_ARCH.X86_64 }), SECCOMP_RET.ALLOW);
});

test('SeccompCache: one compile per profile, the same filter back, least recently used evicted', async () => {
  const { SeccompCache } = await import('../../src/runtime/plan/process.js');
  const cache = new SeccompCache(2);
  const a = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] } as never;
  const b = { defaultAction: 'SCMP_ACT_ERRNO' } as never;
  const c = { defaultAction: 'SCMP_ACT_KILL' } as never;
  const first = cache.compile(a);
  assert.equal(cache.compile(JSON.parse(JSON.stringify(a))), first, 'an equal profile hits');
  assert.deepEqual(first.filter, compileSeccomp(a).filter);
  const bFirst = cache.compile(b);
  cache.compile(a); // a is now the most recently used
  cache.compile(c); // evicts b
  assert.equal(cache.compile(a), first, 'a stayed');
  assert.notEqual(cache.compile(b), bFirst, 'b was evicted and compiled again');
});

test('SeccompCache: a deeply frozen profile is found by identity (its filter and blocked lists kept with it), equal to the JSON-keyed result', async () => {
  const { SeccompCache, deepFreeze } = await import('../../src/runtime/plan/process.js');
  const cache = new SeccompCache(2);
  const p = deepFreeze({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }) as never;
  assert.ok(Object.isFrozen((p as LinuxSeccomp).syscalls![0]!.names), 'nested arrays frozen too');
  const first = cache.compile(p);
  assert.equal(cache.compile(p), first);
  assert.deepEqual(first.filter, compileSeccomp(p).filter);
  assert.deepEqual(cache.blockedRuntimeSyscalls(p, true), cache.blockedRuntimeSyscalls(JSON.parse(JSON.stringify(p)) as never, true));
  assert.equal(cache.blockedRuntimeSyscalls(p, false), cache.blockedRuntimeSyscalls(p, false));
  // Evicted from the JSON-keyed entries, the frozen one still answers by identity.
  cache.compile({ defaultAction: 'SCMP_ACT_ERRNO' } as never);
  cache.compile({ defaultAction: 'SCMP_ACT_KILL' } as never);
  assert.equal(cache.compile(p), first);
});

test('tree dispatch: the same verdict as one jeq per syscall, for every number and arch of docker\'s profile; fewer instructions', async () => {
  const { defaultSeccompProfile, profileForCapabilities } = await import('../../src/runtime/security/seccomp/default-profile.js');
  const dockerCaps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];
  const profiles: Array<[string, LinuxSeccomp]> = [
    ['docker default, default caps', profileForCapabilities(defaultSeccompProfile(), dockerCaps, native)],
    ['docker default, CAP_SYS_ADMIN too', profileForCapabilities(defaultSeccompProfile(), [...dockerCaps, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'], native)],
    // Mixed actions in interleaved runs, a run starting at 0, a single number, a default of allow.
    ['mixed', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
      { names: ['read', 'write', 'open', 'close'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['stat'], action: 'SCMP_ACT_KILL' },
      { names: ['fstat', 'lstat', 'poll'], action: 'SCMP_ACT_ERRNO', errnoRet: 2 },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0, op: 'SCMP_CMP_EQ' }] },
    ] } as LinuxSeccomp],
  ];
  for (const [what, profile] of profiles) {
    const tree = compileSeccomp(profile, native).filter;
    const linear = compileSeccomp(profile, { ...native, dispatch: 'linear' }).filter;
    if (what.startsWith('docker')) assert.ok(tree.length < linear.length, `${what}: ${tree.length / 8} instructions, linear ${linear.length / 8}`);
    for (const arch of [AUDIT_ARCH.X86_64, AUDIT_ARCH.I386, AUDIT_ARCH.AARCH64]) {
      for (const base of arch === AUDIT_ARCH.X86_64 ? [0, X32_SYSCALL_BIT] : [0]) {
        for (let nr = base; nr < base + 1100; nr++) {
          for (const args of [[], [0n, 0n, 0n], [0x7e020000n, 1n, 0xffffffffn], [0x10000n, 0x3n, 2n]]) {
            assert.deepEqual(run(tree, nr, args, arch), run(linear, nr, args, arch), `${what}: arch ${arch.toString(16)} nr ${nr} args ${args}`);
          }
        }
      }
    }
  }
});
