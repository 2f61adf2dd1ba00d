// Generates src/runtime/security/seccomp/syscall-tables.ts: syscall name → number for each
// architecture hako's seccomp compiler knows, taken from kernel uapi headers via the C
// preprocessor (`cc -E -dM`), so #ifdef'd entries of asm-generic/unistd.h resolve exactly as
// they do for that architecture.
//
// Needs: cc, linux-libc-dev (x86 tables) and the cross header packages
//   apt-get install linux-libc-dev-armhf-cross linux-libc-dev-arm64-cross \
//     linux-libc-dev-riscv64-cross linux-libc-dev-ppc64el-cross linux-libc-dev-s390x-cross
// Syscalls newer than the installed headers (Debian 12 ships 6.1) are added from
// LATE_SYSCALLS below: since 5.1 (424) every architecture uses the same numbers for new syscalls.
//
// Usage: node scripts/gen-syscall-tables.mjs   (rewrites the TS file; commit the result)
import { execFileSync } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/runtime/security/seccomp/syscall-tables.ts');

/** Each table: which header to include, with which include dir and predefined macros. */
const TABLES = [
  { arch: 'SCMP_ARCH_X86_64', inc: '/usr/include/x86_64-linux-gnu', header: 'asm/unistd_64.h', defs: ['__x86_64__', '__LP64__'] },
  { arch: 'SCMP_ARCH_X86', inc: '/usr/include/x86_64-linux-gnu', header: 'asm/unistd_32.h', defs: ['__i386__'] },
  {
    arch: 'SCMP_ARCH_X32',
    inc: '/usr/include/x86_64-linux-gnu',
    header: 'asm/unistd_x32.h',
    defs: ['__x86_64__', '__ILP32__', '__X32_SYSCALL_BIT=0x40000000'],
  },
  { arch: 'SCMP_ARCH_AARCH64', inc: '/usr/aarch64-linux-gnu/include', header: 'asm/unistd.h', defs: ['__aarch64__', '__LP64__'] },
  { arch: 'SCMP_ARCH_ARM', inc: '/usr/arm-linux-gnueabihf/include', header: 'asm/unistd.h', defs: ['__arm__', '__ARM_EABI__'] },
  {
    arch: 'SCMP_ARCH_RISCV64',
    inc: '/usr/riscv64-linux-gnu/include',
    header: 'asm/unistd.h',
    defs: ['__riscv', '__riscv_xlen=64', '__LP64__'],
  },
  {
    arch: 'SCMP_ARCH_PPC64LE',
    inc: '/usr/powerpc64le-linux-gnu/include',
    header: 'asm/unistd.h',
    defs: ['__powerpc64__', '__powerpc__', '__LP64__', '__LITTLE_ENDIAN__'],
  },
  { arch: 'SCMP_ARCH_S390X', inc: '/usr/s390x-linux-gnu/include', header: 'asm/unistd.h', defs: ['__s390x__', '__s390__', '__LP64__'] },
];

/** Syscalls added after the 6.1 headers, with the tables that have them (common = all). */
const LATE_SYSCALLS = [
  ['cachestat', 451],
  ['fchmodat2', 452],
  ['map_shadow_stack', 453, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_RISCV64']],
  ['futex_wake', 454],
  ['futex_wait', 455],
  ['futex_requeue', 456],
  ['statmount', 457],
  ['listmount', 458],
  ['lsm_get_self_attr', 459],
  ['lsm_set_self_attr', 460],
  ['lsm_list_modules', 461],
  ['mseal', 462],
  ['setxattrat', 463],
  ['getxattrat', 464],
  ['listxattrat', 465],
  ['removexattrat', 466],
  ['open_tree_attr', 467],
  ['file_getattr', 468],
  ['file_setattr', 469],
  ['listns', 470],
];

function evaluate(name, defines, seen = new Set()) {
  if (seen.has(name)) throw new Error(`recursive macro ${name}`);
  seen.add(name);
  const body = defines.get(name);
  if (body === undefined) return undefined;
  const expr = body.replace(/\b[A-Za-z_][A-Za-z0-9_]*\b/g, (id) => {
    const v = evaluate(id, defines, new Set(seen));
    if (v === undefined) throw new Error(`undefined macro ${id} in ${name}`);
    return `(${v})`;
  });
  const cleaned = expr.replace(/\b(0x[0-9a-fA-F]+|\d+)[uUlL]*\b/g, '$1');
  if (!/^[\s0-9a-fA-Fx()+\-*|&<>]*$/.test(cleaned)) throw new Error(`cannot evaluate ${name}: ${body}`);
  return Function(`"use strict"; return (${cleaned});`)();
}

function table({ arch, inc, header, defs }) {
  if (!existsSync(join(inc, header))) throw new Error(`${arch}: ${join(inc, header)} is missing (see the header of this script)`);
  const args = ['-E', '-dM', '-undef', '-nostdinc', '-I', inc, ...defs.map((d) => `-D${d}`), '-x', 'c', '-'];
  const text = execFileSync('cc', args, { input: `#include <${header}>\n`, encoding: 'utf8' });
  const defines = new Map();
  for (const line of text.split('\n')) {
    const m = /^#define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.*)$/.exec(line);
    if (m) defines.set(m[1], m[2].trim());
  }
  const entries = new Map();
  for (const name of defines.keys()) {
    const m = /^__(?:NR|ARM_NR)_([a-z_][a-z0-9_]*)$/.exec(name);
    if (!m || name.startsWith('__NR3264_')) continue;
    const sys = m[1];
    if (sys === 'syscalls' || sys === 'arch_specific_syscall' || sys === 'BASE' || sys === 'base') continue;
    const nr = evaluate(name, defines);
    if (typeof nr !== 'number' || !Number.isInteger(nr) || nr < 0) continue;
    entries.set(sys, nr >>> 0);
  }
  const bit = arch === 'SCMP_ARCH_X32' ? 0x40000000 : 0;
  for (const [sys, nr, only] of LATE_SYSCALLS) {
    if (only && !only.includes(arch)) continue;
    if (!entries.has(sys)) entries.set(sys, (nr + bit) >>> 0);
  }
  return [...entries].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
}

let ts = `// GENERATED by scripts/gen-syscall-tables.mjs from the kernel uapi headers — do not edit.
// Syscall name → number for each architecture the seccomp compiler supports. x32 numbers
// include __X32_SYSCALL_BIT (0x40000000), exactly as the kernel sees them in seccomp_data.nr.

/** Syscall numbers per SCMP_ARCH_* name, each table built on its first use (see lazyTables). */
export const SYSCALL_TABLES: Readonly<Record<string, Readonly<Record<string, number>>>> = lazyTables({
`;
for (const t of TABLES) {
  const rows = table(t);
  ts += `  ${t.arch}: () => ({\n`;
  for (const [sys, nr] of rows) ts += `    ${sys}: ${nr >= 0x10000 ? '0x' + nr.toString(16) : nr},\n`;
  ts += `  }),\n`;
  console.log(`${t.arch}: ${rows.length} syscalls`);
}
ts += `});
`;
ts += `
/**
 * Getters that build each table once, when first read: this module loads with every container
 * start, and creating all eight tables (~3,000 properties) cost ~2 ms of a \`run\` that needs one
 * architecture's table, or none without a seccomp profile.
 */
function lazyTables(builders: Record<string, () => Record<string, number>>): Readonly<Record<string, Readonly<Record<string, number>>>> {
  const tables: Record<string, Readonly<Record<string, number>>> = {};
  for (const [arch, build] of Object.entries(builders)) {
    let table: Readonly<Record<string, number>> | undefined;
    Object.defineProperty(tables, arch, { enumerable: true, get: () => (table ??= Object.freeze(build())) });
  }
  return Object.freeze(tables);
}
`;
writeFileSync(out, ts);
console.log(`wrote ${out}`);
