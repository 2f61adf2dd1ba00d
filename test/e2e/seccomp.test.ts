// Runs real processes under filters compiled by compileSeccomp, through the native executor:
// a denied syscall must fail with the configured errno, and the default profile must refuse
// namespace creation without CAP_SYS_ADMIN while letting a shell run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, tempDir } from '../helpers/fixtures.js';
import { compileSeccomp } from '../../src/runtime/security/seccomp/compile.js';
import { defaultSeccompProfile, profileForCapabilities } from '../../src/runtime/security/seccomp/default-profile.js';
import { DOCKER_DEFAULT_CAPS } from '../../src/runtime/security/capabilities.js';
import type { LinuxSeccomp } from '../../src/runtime/security/seccomp/types.js';

async function loadExecutor(): Promise<typeof import('../../src/native/executor.js') | string> {
  try {
    const mod = await import('../../src/native/executor.js');
    const addon = await import('../../src/native/addon.js');
    addon.native(); // throws when the addon is not built
    return mod;
  } catch (err) {
    return `native executor unavailable: ${(err as Error).message}`;
  }
}

/** Runs `busybox sh -c script` under `seccomp` with no new privileges; returns exit code and output. */
async function runFiltered(seccomp: LinuxSeccomp, script: string, dir: string) {
  const ex = await loadExecutor();
  if (typeof ex === 'string') throw new Error(ex);
  const { filter, flags } = compileSeccomp(seccomp);
  const outPath = join(dir, `out-${Math.random().toString(36).slice(2)}`);
  const out = openSync(outPath, 'w');
  try {
    const proc = ex.spawnPlan({
      cloneFlags: 0,
      cgroupFd: -1,
      fds: [{ source: out, target: 1 }, { source: out, target: 2 }],
      internalFds: [],
      pdeathsig: 9,
      ops: [
        { op: 'noNewPrivs' },
        { op: 'seccomp', filter, flags },
        { op: 'exec', file: BUSYBOX, argv: ['sh', '-c', script], env: ['PATH=/bin:/usr/bin'], searchPath: null },
      ],
    });
    await ex.waitUntilExecOrFailure(proc);
    const status = await proc.exited;
    return { status, output: readFileSync(outPath, 'utf8') };
  } finally {
    closeSync(out);
  }
}

test('a denied syscall fails with the configured errno', async (t) => {
  const ex = await loadExecutor();
  if (typeof ex === 'string') return t.skip(ex);
  if (!existsSync(BUSYBOX)) return t.skip('busybox-static is not installed');
  const tmp = tempDir();
  try {
    const target = join(tmp.path, 'made-by-mkdir');
    const { status, output } = await runFiltered(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
      },
      `mkdir ${target}; echo "rc=$?"; echo ok > ${join(tmp.path, 'file')} && echo wrote`,
      tmp.path,
    );
    assert.equal(status.code, 0, output);
    assert.match(output, /Function not implemented/); // ENOSYS, not the kernel's own answer
    assert.match(output, /rc=1/);
    assert.match(output, /wrote/); // everything else still works
    assert.equal(existsSync(target), false);
  } finally {
    tmp.cleanup();
  }
});

test('argument rules are enforced by the kernel (64-bit compare on arg 0)', async (t) => {
  const ex = await loadExecutor();
  if (typeof ex === 'string') return t.skip(ex);
  if (!existsSync(BUSYBOX)) return t.skip('busybox-static is not installed');
  const tmp = tempDir();
  try {
    // kill(pid, sig): any pid > 1 fails with ESRCH (3) from the filter; kill -0 1 still reaches the kernel.
    const { output } = await runFiltered(
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 3, args: [{ index: 0, value: 1, op: 'SCMP_CMP_GT' }] }],
      },
      'kill -0 $$; echo "self=$?"; kill -0 1; echo "init=$?"',
      tmp.path,
    );
    assert.match(output, /self=1/);
    assert.match(output, /init=0/);
  } finally {
    tmp.cleanup();
  }
});

test('default profile: a shell runs, unshare is refused without CAP_SYS_ADMIN', async (t) => {
  const ex = await loadExecutor();
  if (typeof ex === 'string') return t.skip(ex);
  if (!existsSync(BUSYBOX)) return t.skip('busybox-static is not installed');
  if (process.getuid?.() !== 0) return t.skip('needs root: unshare would fail with EPERM anyway');
  const tmp = tempDir();
  try {
    const profile = profileForCapabilities(defaultSeccompProfile(), DOCKER_DEFAULT_CAPS);
    const { status, output } = await runFiltered(profile, 'echo hello; unshare -m true; echo "unshare=$?"; ls / >/dev/null && echo listed', tmp.path);
    assert.equal(status.code, 0, output);
    assert.match(output, /hello/);
    assert.match(output, /Operation not permitted/);
    assert.match(output, /unshare=1/);
    assert.match(output, /listed/);
  } finally {
    tmp.cleanup();
  }
});
