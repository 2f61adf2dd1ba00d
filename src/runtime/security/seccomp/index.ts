// Seccomp: OCI linux.seccomp → classic BPF for the executor's `seccomp` op.
export { compileSeccomp, SECCOMP_FILTER_FLAG, type CompiledSeccomp, type CompileSeccompOptions } from './compile.js';
export { defaultSeccompProfile, profileForCapabilities, type SeccompProfile, type ProfileSyscall, type ResolveProfileOptions } from './default-profile.js';
export { ARCHES, AUDIT_ARCH, X32_SYSCALL_BIT, nativeScmpArch } from './arch.js';
export { SECCOMP_RET } from './bpf.js';
export { SYSCALL_TABLES } from './syscall-tables.js';
export type { LinuxSeccomp, LinuxSyscall, LinuxSeccompArg, SeccompAction, SeccompOperator } from './types.js';
