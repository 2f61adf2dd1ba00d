// Runs the compiled tests with node's built-in runner: `node scripts/run-tests.mjs [unit|e2e|FILTER...]`.
// Unit tests need no root; e2e tests use the real kernel and skip themselves when not root.
//
// A run cut short leaves nothing on the host: each run keeps a ledger (test/helpers/ledger.ts) of
// what its test processes make that outlives a process, under /run/hako-tests/<pid>-<start time>/,
// and gives its test processes a temp dir of their own (TMPDIR). On SIGTERM/SIGINT (a CI runner
// killing the process group, Ctrl-C) it waits for its test processes' own exit cleanups, then sweeps
// what its ledger still names; a run killed by SIGKILL is swept by the next run as it starts
// (scripts/sweep-ledgers.mjs: only ledgers whose runner is gone, only what they name).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join, dirname, relative, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEDGER_ROOT, readLedger, running, startTime, sweepDeadLedgers, sweepLedger } from './sweep-ledgers.mjs';

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
// (An absolute path to a .js file runs that file: the e2e test of this runner runs a fixture so.)
const paths = filters.filter((x) => isAbsolute(x) && x.endsWith('.js') && existsSync(x));
if (filters.length) files = [...paths, ...files.filter((f) => filters.some((x) => !paths.includes(x) && relative(root, f).includes(x)))];
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

// The ledger (root only: the e2e tests that make host state need root anyway).
const isRoot = process.getuid?.() === 0;
let ledger;
let runTmp;
if (isRoot) {
  try {
    sweepDeadLedgers();
  } catch (err) {
    console.error(`run-tests: sweeping the ledgers of runs that are gone (${LEDGER_ROOT}) failed: ${err.stack}`);
  }
  try {
    ledger = join(LEDGER_ROOT, `${process.pid}-${startTime(process.pid)}`);
    mkdirSync(ledger, { recursive: true, mode: 0o700 });
    runTmp = mkdtempSync(join(tmpdir(), 'hako-run-'));
    // The tests' /tmp: mode 1777 as /tmp's (mkdtemp's 0700 kept a user-namespace container's
    // unprivileged root from reaching its bundle below it: EACCES on the rootfs bind mount).
    chmodSync(runTmp, 0o1777);
    appendFileSync(join(ledger, 'runner'), `dir\t${runTmp}\n${netnsMountedBefore ? '' : 'netns-dir\n'}`);
  } catch (err) {
    // (the tests run all the same, without a ledger: a run cut short by SIGKILL is not swept)
    console.error(`run-tests: no ledger for this run (${err.message}): a run cut short by SIGKILL would leave what it made`);
    if (runTmp) rmSync(runTmp, { recursive: true, force: true });
    if (ledger) rmSync(ledger, { recursive: true, force: true });
    ledger = runTmp = undefined;
  }
}

// A test that hangs fails after 5 minutes; a file whose tests are done exits even if a failed
// test left a handle open (the failure itself is reported), so CI can never stall on one file.
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=300000', '--test-force-exit', ...files], {
  stdio: 'inherit',
  env: { ...process.env, HAKO_TEST: '1', ...(ledger ? { HAKO_TEST_LEDGER: ledger, TMPDIR: runTmp } : {}) },
});
// SIGTERM/SIGINT: passed on to the test runner (a group kill has reached it already; a kill of
// this pid alone has not), then this process sweeps once it has ended.
let signalled;
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => {
    if (signalled) return;
    signalled = sig;
    try {
      child.kill(sig);
    } catch {
      // gone
    }
  });
}
const status = await new Promise((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 128 + (constants.signals[sig] ?? 0) : 1))));

if (ledger) {
  // The test processes (each recorded itself) run their own exit cleanups after a signal: stopping
  // their daemons takes a few seconds. What they have not removed after 20 s is swept (them too).
  const tests = readLedger(ledger).procs.filter((p) => p.what.startsWith('test '));
  for (const deadline = Date.now() + 20_000; tests.some((p) => startTime(p.pid) === p.start && running(p.pid)) && Date.now() < deadline; ) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  const did = sweepLedger(ledger).filter((l) => l !== `removed dir ${runTmp}`);
  if (did.length) console.error(`run-tests: swept what this run's tests left${signalled ? ` (cut short by ${signalled})` : ''}:\n  ${did.join('\n  ')}`);
}
if (!netnsMountedBefore && isMountPoint(netnsDir) && readdirSync(netnsDir).length === 0) {
  const u = spawnSync('umount', [netnsDir], { stdio: 'inherit' });
  if (u.status !== 0) console.error(`run-tests: could not unmount ${netnsDir} (made by this run's ip netns add)`);
}
process.exit(signalled ? 128 + (constants.signals[signalled] ?? 0) : status);

