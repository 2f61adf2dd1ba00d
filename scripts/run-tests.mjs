// Runs the compiled tests with node's built-in runner: `node scripts/run-tests.mjs [unit|e2e|FILTER...]`.
// Unit tests need no root; e2e tests use the real kernel and skip themselves when not root.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testRoot = join(root, 'dist', 'test');
if (!existsSync(testRoot)) {
  console.error('run-tests: dist/test is missing: run `npm run build` first');
  process.exit(1);
}
function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (e.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
let files = walk(testRoot).sort();
// Filters match the path below the checkout (dist/test/…): a checkout whose own path holds the word
// (a worktree /work/wt-pull and the filter `pull`) would otherwise match every file.
if (filters.length) files = files.filter((f) => filters.some((x) => relative(root, f).includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
// The first `ip netns add` of a run (tests make client namespaces with it) turns /run/netns into a
// bind mount of itself (iproute2 does, so that namespaces are seen across mount namespaces), and
// nothing undoes it. If this run made it and left no namespace in it, it is unmounted at the end.
const netnsDir = '/run/netns';
const isMountPoint = (p) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);
const netnsMountedBefore = isMountPoint(netnsDir);

// A test that hangs fails after 5 minutes; a file whose tests are done exits even if a failed
// test left a handle open (the failure itself is reported), so CI can never stall on one file.
const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=300000', '--test-force-exit', ...files], {
  stdio: 'inherit',
  env: { ...process.env, HAKO_TEST: '1' },
});
if (!netnsMountedBefore && isMountPoint(netnsDir) && readdirSync(netnsDir).length === 0) {
  const u = spawnSync('umount', [netnsDir], { stdio: 'inherit' });
  if (u.status !== 0) console.error(`run-tests: could not unmount ${netnsDir} (made by this run's ip netns add)`);
}
process.exit(res.status ?? 1);
