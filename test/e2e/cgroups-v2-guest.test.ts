// The cgroup v2 driver on a pure v2 kernel with every controller, whatever the host runs: a qemu
// guest (scripts/v2-guest.mjs: bookworm's kernel, the host's / read-only under a tmpfs overlay, no
// network device) runs the v2 tests there, each test file alone in a cgroup of its own so that its
// cgroups may have controllers. Skips, saying what to install, where qemu or busybox-static is missing
// (TCG: no /dev/kvm needed; HAKO_GUEST_ACCEL=kvm uses KVM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot } from '../helpers/fixtures.js';

// dist/test/e2e → the checkout.
const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(root, 'scripts', 'v2-guest.mjs');
// The compiled test files the guest runs (this file runs from dist/test/e2e as well).
const files = ['cgroups-v2.test.js', 'runtime-lifecycle.test.js', 'engine.test.js'].map((f) => join('dist', 'test', 'e2e', f));

interface Guest {
  guestUnavailable(): string | null;
  runInGuest(o: { commands: string[][]; cwd: string; timeoutMs: number; log?: (s: string) => void }): Promise<{ codes: number[]; code: number; output: string; bootSeconds: number | null; seconds: number }>;
}

const guest = existsSync(script) ? ((await import(script)) as Guest) : undefined;
const why = !isRoot ? 'needs root' : !guest ? `${script} is missing` : guest.guestUnavailable();

test('cgroup v2 guest: the v2 driver tests pass on a pure v2 kernel with every controller (limits, stats, OOM, throttling, pids; runtime limits; engine stats)', { skip: why ?? false, timeout: 540_000 }, async () => {
  for (const f of files) assert.ok(existsSync(join(root, f)), `${f} is missing: npm run build`);
  // TAP: one line per test, whose SKIP marker says whether the limit tests really ran.
  const r = await guest!.runInGuest({ commands: files.map((f) => ['node', '--test-reporter=tap', f]), cwd: root, timeoutMs: 480_000 });
  const out = r.output.replace(/\r/g, '');
  const failed = out.split('\n').filter((l) => /^\s*not ok \d+/.test(l));
  assert.deepEqual(r.codes, files.map(() => 0), `exit codes ${r.codes.join(' ')}; failed: ${failed.join('; ')}\n${out.slice(-6000)}`);
  assert.match(out, /hako-guest: up in [\d.]+s, .*cgroup2 controllers: .*\bcpu\b.*\bio\b.*\bmemory\b.*\bpids\b/);
  // Every limit test ran (not skipped for want of a controller or of a cgroup of its own).
  const limits = out.split('\n').filter((l) => /^\s*ok \d+ - v2 limits: /.test(l));
  assert.equal(limits.length, 6, `v2 limit tests that passed:\n${limits.join('\n')}\n${out.slice(-6000)}`);
  for (const l of limits) assert.doesNotMatch(l, /# SKIP/i, l);
  // The runtime's limits, and the engine's stats (pids_stats.current was 0 on v2: no pids controller
  // in a cgroup without limits).
  for (const name of ['memory limit: the container is OOM-killed', 'pids limit: fork fails inside the container', 'cpu quota: a busy loop is throttled', 'v2: a cgroup without limits still gets every controller', 'v2: a parent with processes of its own gets no controllers', 'stop, kill, pause, exec, top, stats, rm refusal']) {
    const line = out.split('\n').find((l) => /^\s*ok \d+ - /.test(l) && l.includes(name));
    assert.ok(line && !/# SKIP/i.test(line), `"${name}" did not pass in the guest`);
  }
  console.log(`v2 guest: booted in ${r.bootSeconds}s, ${r.seconds.toFixed(1)}s in all`);
});
