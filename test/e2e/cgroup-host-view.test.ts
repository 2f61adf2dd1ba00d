// A long-lived Runtime keeps its view of the host's cgroup mounts (src/runtime/cgroups/host.ts).
// When a hierarchy goes away after that, a launch finds its cgroup step failing, reads the mounts
// again and retries once. The hierarchy is unmounted in a private mount namespace of a child
// process only (unshare -m), so the host's mounts are untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, tempDir } from '../helpers/fixtures.js';

const pidsMounted = (): boolean => readMounts().some((l) => l.split(' ')[4] === '/sys/fs/cgroup/pids' && l.includes(' - cgroup '));
function readMounts(): string[] {
  try {
    return execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' }).split('\n');
  } catch {
    return [];
  }
}
const skip = !isRoot ? 'needs root' : !existsSync('/bin/busybox') ? 'needs busybox-static' : !pidsMounted() ? 'needs a cgroup v1 pids hierarchy' : false;

test('a kept cgroup view gone stale (a hierarchy unmounted): the launch reads the mounts again and retries once', { skip }, () => {
  const dir = tempDir();
  try {
    const url = (p: string) => new URL(p, import.meta.url).href;
    const script = join(dir.path, 'stale.mjs');
    writeFileSync(
      script,
      `
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
const { Runtime } = await import(${JSON.stringify(url('../../src/runtime/index.js'))});
const { defaultSpec } = await import(${JSON.stringify(url('../../src/runtime/spec/defaults.js'))});
const { makeBundle } = await import(${JSON.stringify(url('../helpers/fixtures.js'))});
const dir = ${JSON.stringify(dir.path)};
const rt = new Runtime({ root: join(dir, 'state') });
const kept = rt.ctx.cgroupHost.get();
execFileSync('umount', ['/sys/fs/cgroup/pids']);
const spec = defaultSpec({ args: ['true'], terminal: false });
spec.linux.cgroupsPath = 'hako-test-stale-' + process.pid; // beneath our own cgroup
const id = 'stale-' + process.pid;
const l = await rt.launch({ id, bundle: makeBundle(join(dir, 'bundle'), spec), stdio: [0, 1, 2] });
const exit = await l.process.exited;
await rt.delete(id, { force: true });
console.log(JSON.stringify({ keptPids: kept.mounts.some((m) => m.mountPoint === '/sys/fs/cgroup/pids'), refreshed: rt.ctx.cgroupHost.get() !== kept, paths: Object.keys(l.record.cgroupPaths), exit }));
`,
    );
    const out = execFileSync('unshare', ['-m', '--propagation', 'private', process.execPath, script], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { keptPids: boolean; refreshed: boolean; paths: string[]; exit: { code: number } };
    assert.equal(r.keptPids, true, 'the view was read before the unmount');
    assert.equal(r.refreshed, true, 'read again');
    assert.equal(r.paths.includes('pids'), false, 'placed without the hierarchy gone');
    assert.ok(r.paths.includes('memory'));
    assert.equal(r.exit.code, 0);
    assert.ok(pidsMounted(), 'our own mount namespace untouched');
  } finally {
    dir.cleanup();
  }
});
