import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedRuntimeSyscalls } from '../../src/runtime/plan/seccomp-order.js';
import { compileSeccomp, defaultSeccompProfile } from '../../src/runtime/security/seccomp/index.js';
import type { LinuxSeccomp } from '../../src/runtime/security/seccomp/index.js';

const filter = (p: unknown, arch = 'SCMP_ARCH_X86_64') => compileSeccomp(p as LinuxSeccomp, { nativeArch: arch }).filter;

test("docker's default profile lets the runtime's wait and look-up through", () => {
  for (const [arch, node] of [['SCMP_ARCH_X86_64', 'x64'], ['SCMP_ARCH_AARCH64', 'arm64']] as const) {
    const f = filter(defaultSeccompProfile() as never, arch);
    assert.deepEqual(blockedRuntimeSyscalls(f, true, node), [], arch);
  }
});

test('a profile that denies the wait or look-up syscalls is named', () => {
  const deny = (names: string[], action = 'SCMP_ACT_ERRNO', extra: object = {}) => filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action, ...extra }] });
  assert.deepEqual(blockedRuntimeSyscalls(deny(['write', 'close']), false, 'x64'), ['write', 'close']);
  assert.deepEqual(blockedRuntimeSyscalls(deny(['openat'], 'SCMP_ACT_KILL'), false, 'x64'), ['openat']);
  // Only the fifo's open flags matter: denying O_CREAT opens leaves the wait alone.
  const creat = deny(['openat'], 'SCMP_ACT_ERRNO');
  const creatOnly = filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['openat'], action: 'SCMP_ACT_ERRNO', args: [{ index: 2, value: 0o100, valueTwo: 0o100, op: 'SCMP_CMP_MASKED_EQ' }] }] });
  assert.deepEqual(blockedRuntimeSyscalls(creat, false, 'x64'), ['openat']);
  assert.deepEqual(blockedRuntimeSyscalls(creatOnly, false, 'x64'), []);
  // The look-up counts only when it runs under the filter.
  assert.deepEqual(blockedRuntimeSyscalls(deny(['statx']), false, 'x64'), []);
  assert.deepEqual(blockedRuntimeSyscalls(deny(['statx']), true, 'x64'), ['statx']);
  // faccessat2 answering ENOSYS is fine when faccessat (the fallback) is allowed.
  assert.deepEqual(blockedRuntimeSyscalls(deny(['faccessat2'], 'SCMP_ACT_ERRNO', { errnoRet: 38 }), true, 'x64'), []);
  assert.deepEqual(blockedRuntimeSyscalls(filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['faccessat2'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }, { names: ['faccessat'], action: 'SCMP_ACT_ERRNO' }] }), true, 'x64'), ['faccessat']);
  assert.deepEqual(blockedRuntimeSyscalls(deny(['faccessat2']), true, 'x64'), ['faccessat2']);
  // An allow-list profile without them blocks them all.
  assert.deepEqual(blockedRuntimeSyscalls(filter({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['execve', 'exit_group'], action: 'SCMP_ACT_ALLOW' }] }), true, 'x64'), ['write', 'openat', 'close', 'statx', 'faccessat2']);
  assert.deepEqual(blockedRuntimeSyscalls(deny(['write']), false, 'sparc'), ['(unknown architecture)']);
});
