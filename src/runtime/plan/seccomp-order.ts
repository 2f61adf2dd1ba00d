// Where the seccomp filter goes in a create plan. Like runc, hako loads the filter before the exec
// fifo wait, so that a filter the kernel refuses fails the create, and everything but the execve
// happens before `start`. Then the filter also applies to the runtime's own last syscalls: the
// `notify` record (write), the fifo wait (openat /proc/self/fd/N O_WRONLY, write, close) and, when
// the filter comes before the user switch (no no_new_privs), the program look-up (statx,
// faccessat2 or faccessat). A profile that denies one of those would break the wait, not the
// program, so for such a profile the filter is loaded after the wait instead (runc has no such
// fallback: the create fails). Decided by running the compiled filter (the test interpreter, which
// models the kernel's checks) on those syscalls for the native architecture.
import { ARCHES, nativeScmpArch } from '../security/seccomp/arch.js';
import { describeSeccompRet, runBpf } from '../security/seccomp/bpf-interpreter.js';
import { SYSCALL_TABLES } from '../security/seccomp/syscall-tables.js';

const AT_FDCWD = BigInt.asUintN(64, -100n);
const O_WRONLY_CLOEXEC = 0o1 | 0o2000000;
const X_OK = 1n;
const AT_EACCESS = 0x200n;
const STATX_TYPE = 1n;
const ENOSYS = 38;

/** A syscall the runtime makes after the filter, with the arguments it passes (pointers as 0). */
interface RuntimeCall {
  name: string;
  args: bigint[];
}

const WAIT_CALLS: RuntimeCall[] = [
  { name: 'write', args: [] },
  { name: 'openat', args: [AT_FDCWD, 0n, BigInt(O_WRONLY_CLOEXEC), 0n] },
  { name: 'close', args: [] },
];
const LOOKUP_CALLS: RuntimeCall[] = [{ name: 'statx', args: [AT_FDCWD, 0n, 0n, STATX_TYPE] }];

type Verdict = 'allow' | 'enosys' | 'deny';

function verdict(filter: Uint8Array, arch: number, nr: number, args: bigint[]): Verdict {
  const v = describeSeccompRet(runBpf(filter, { nr, arch, args }));
  if (v.action === 'allow' || v.action === 'log') return 'allow';
  if (v.action === 'errno' && v.errno === ENOSYS) return 'enosys';
  return 'deny';
}

/**
 * The syscalls of the runtime's fifo wait (and, with `lookupAfterFilter`, of the program look-up)
 * that `filter` would not let through on the native architecture. Empty: the filter can be
 * loaded before the wait. Unknown architecture: everything counts as blocked (load it late).
 */
export function blockedRuntimeSyscalls(filter: Uint8Array, lookupAfterFilter: boolean, nodeArch: string = process.arch): string[] {
  const info = ARCHES[nativeScmpArch(nodeArch)];
  const table = info ? SYSCALL_TABLES[info.table] : undefined;
  if (!info || !table) return ['(unknown architecture)'];
  const blocked: string[] = [];
  const check = (c: RuntimeCall): Verdict => {
    const nr = table[c.name];
    if (nr === undefined) return 'deny';
    return verdict(filter, info.audit, nr, c.args);
  };
  for (const c of [...WAIT_CALLS, ...(lookupAfterFilter ? LOOKUP_CALLS : [])]) {
    if (check(c) !== 'allow') blocked.push(c.name);
  }
  if (lookupAfterFilter) {
    // faccessat2, or faccessat where it answers ENOSYS (kernels before 5.8, older profiles).
    const a2 = check({ name: 'faccessat2', args: [AT_FDCWD, 0n, X_OK, AT_EACCESS] });
    if (a2 === 'deny') blocked.push('faccessat2');
    else if (a2 === 'enosys' && check({ name: 'faccessat', args: [AT_FDCWD, 0n, X_OK] }) !== 'allow') blocked.push('faccessat');
  }
  return blocked;
}
