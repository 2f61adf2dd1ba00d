// Architectures the seccomp compiler supports: the AUDIT_ARCH_* value the kernel puts in
// seccomp_data.arch, argument width and byte order (which half of a 64-bit argument sits at the
// lower offset), and how x32 shares x86_64's audit value.
import { arch as processArch } from 'node:process';

/** linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000). */
export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
  RISCV64: 0xc00000f3,
  PPC64LE: 0xc0000015,
  PPC64: 0x80000015,
  S390X: 0x80000016,
} as const;

export const AUDIT_ARCH_64BIT = 0x80000000;
export const AUDIT_ARCH_LE = 0x40000000;

/**
 * x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in the syscall number; an x86_64
 * filter that does not reject them would let x32 calls bypass it (the numbers never match).
 */
export const X32_SYSCALL_BIT = 0x40000000;

export interface ArchInfo {
  /** SCMP_ARCH_* name. */
  name: string;
  audit: number;
  /** Arguments are 64-bit (false: only the low 32 bits are compared, as libseccomp does). */
  wide: boolean;
  littleEndian: boolean;
  /** Which syscall-table to use (ppc64 big endian shares the ppc64le numbers). */
  table: string;
  /** For the x86_64 audit value: is this the x32 (syscall bit set) or the native half. */
  x32Half?: 'x32' | 'native';
}

export const ARCHES: Readonly<Record<string, ArchInfo>> = {
  SCMP_ARCH_X86_64: { name: 'SCMP_ARCH_X86_64', audit: AUDIT_ARCH.X86_64, wide: true, littleEndian: true, table: 'SCMP_ARCH_X86_64', x32Half: 'native' },
  SCMP_ARCH_X32: { name: 'SCMP_ARCH_X32', audit: AUDIT_ARCH.X86_64, wide: true, littleEndian: true, table: 'SCMP_ARCH_X32', x32Half: 'x32' },
  SCMP_ARCH_X86: { name: 'SCMP_ARCH_X86', audit: AUDIT_ARCH.I386, wide: false, littleEndian: true, table: 'SCMP_ARCH_X86' },
  SCMP_ARCH_AARCH64: { name: 'SCMP_ARCH_AARCH64', audit: AUDIT_ARCH.AARCH64, wide: true, littleEndian: true, table: 'SCMP_ARCH_AARCH64' },
  SCMP_ARCH_ARM: { name: 'SCMP_ARCH_ARM', audit: AUDIT_ARCH.ARM, wide: false, littleEndian: true, table: 'SCMP_ARCH_ARM' },
  SCMP_ARCH_RISCV64: { name: 'SCMP_ARCH_RISCV64', audit: AUDIT_ARCH.RISCV64, wide: true, littleEndian: true, table: 'SCMP_ARCH_RISCV64' },
  SCMP_ARCH_PPC64LE: { name: 'SCMP_ARCH_PPC64LE', audit: AUDIT_ARCH.PPC64LE, wide: true, littleEndian: true, table: 'SCMP_ARCH_PPC64LE' },
  SCMP_ARCH_PPC64: { name: 'SCMP_ARCH_PPC64', audit: AUDIT_ARCH.PPC64, wide: true, littleEndian: false, table: 'SCMP_ARCH_PPC64LE' },
  SCMP_ARCH_S390X: { name: 'SCMP_ARCH_S390X', audit: AUDIT_ARCH.S390X, wide: true, littleEndian: false, table: 'SCMP_ARCH_S390X' },
};

/** Every SCMP_ARCH_* the runtime spec names (defs-linux.json SeccompArch). */
export const SPEC_ARCHES: readonly string[] = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_M68K', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32',
  'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64',
  'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_SH', 'SCMP_ARCH_SHEB',
  'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
];

/** Sub-architectures a native arch can run (docker's archMap), native first. */
export const ARCH_FAMILY: Readonly<Record<string, readonly string[]>> = {
  SCMP_ARCH_X86_64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  SCMP_ARCH_AARCH64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  SCMP_ARCH_S390X: ['SCMP_ARCH_S390X'],
  SCMP_ARCH_RISCV64: ['SCMP_ARCH_RISCV64'],
  SCMP_ARCH_PPC64LE: ['SCMP_ARCH_PPC64LE'],
  SCMP_ARCH_X86: ['SCMP_ARCH_X86'],
  SCMP_ARCH_ARM: ['SCMP_ARCH_ARM'],
};

/** The SCMP_ARCH_* name of the machine Node runs on. */
export function nativeScmpArch(nodeArch: string = processArch): string {
  switch (nodeArch) {
    case 'x64': return 'SCMP_ARCH_X86_64';
    case 'ia32': return 'SCMP_ARCH_X86';
    case 'arm64': return 'SCMP_ARCH_AARCH64';
    case 'arm': return 'SCMP_ARCH_ARM';
    case 'riscv64': return 'SCMP_ARCH_RISCV64';
    case 'ppc64': return 'SCMP_ARCH_PPC64LE'; // Node on Linux ppc64 is little endian
    case 's390x': return 'SCMP_ARCH_S390X';
    default: return `unsupported (${nodeArch})`;
  }
}
