// The OCI runtime-spec `linux.seccomp` object (config-linux.json / defs-linux.json, v1.3.0).

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompOperator =
  | 'SCMP_CMP_NE'
  | 'SCMP_CMP_LT'
  | 'SCMP_CMP_LE'
  | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE'
  | 'SCMP_CMP_GT'
  | 'SCMP_CMP_MASKED_EQ';

/**
 * A uint64 argument value. JSON numbers above 2^53 lose precision, so a bigint or a decimal /
 * 0x-hex string is accepted too.
 */
export type SeccompValue = number | bigint | string;

export interface LinuxSeccompArg {
  index: number;
  value: SeccompValue;
  valueTwo?: SeccompValue;
  op: SeccompOperator | string;
}

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction | string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction | string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}
