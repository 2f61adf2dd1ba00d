// Runtime benchmark: the same busybox bundle started with hako and with runc in one run.
//   1. in-process create → start → exit → delete through the TypeScript API (target ≤ 8 ms median)
//   2. the `hako-runtime run` command vs `runc run` (target ≤ 1.0× runc)
// The commands run interleaved (hako, runc, hako, runc, …) so that load from other work on the
// machine falls on both alike; the ratio is of the medians. Node commands run with
// NODE_EXTRA_CA_CERTS unset (this machine sets it globally; alone it adds ~70 ms to every Node
// start, and a user's machine normally has it unset).
// Usage: node bench/runtime.mjs [iterations] [--gap MS] [--baseline DIR]
//   (root; busybox-static and runc installed)
//   --gap MS: sleep MS between API iterations (an idle gap: the first cgroup attach after one
//   waits for an RCU grace period when a process is moved; hako's containers join v1 cgroups
//   themselves, see src/runtime/cgroups/v1.ts)
//   --baseline DIR: another built checkout of hako (e.g. `git archive <rev> | tar -x -C DIR`,
//   node_modules linked, `npm run build`), measured in the same run, interleaved with this one:
//   before/after numbers under the same load.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const gapAt = args.indexOf('--gap');
const gap = gapAt >= 0 ? Number(args.splice(gapAt, 2)[1]) : 0;
const baseAt = args.indexOf('--baseline');
const baseline = baseAt >= 0 ? args.splice(baseAt, 2)[1] : undefined;
const N = Number(args[0] ?? 50);
if (process.getuid() !== 0) {
  console.error('bench/runtime: needs root');
  process.exit(1);
}
// The command runs its bundle only while that is newer than the last tsc build (else it falls
// back to dist/, ~40 ms slower): measure what is installed, not a stale fallback.
for (const tree of [repo, ...(baseline ? [baseline] : [])]) {
  const mtime = (p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs;
  const bundled = mtime(join(tree, 'dist/bundle/hako-runtime.cjs'));
  const built = mtime(join(tree, 'dist/.tsbuildinfo'));
  if (bundled === undefined || (built !== undefined && built > bundled)) {
    console.error(`bench/runtime: ${tree}: the hako-runtime bundle is missing or older than the last tsc build: run \`npm run build:ts\` there first`);
    process.exit(1);
  }
}
const { makeBusyboxRootfs, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { Runtime } = await import(join(repo, 'dist/src/runtime/index.js'));
const BaseRuntime = baseline ? (await import(join(baseline, 'dist/src/runtime/index.js'))).Runtime : undefined;
const { defaultSpec } = await import(join(repo, 'dist/src/runtime/spec/defaults.js'));

const work = mkdtempSync(join(tmpdir(), 'hako-bench-'));
// The runtimes' state (hako's and runc's alike) goes on tmpfs, as on a usual host where both
// default to /run; on ext4 under other load every state-file create can wait on the journal.
const stateBase = ['/run', '/dev/shm'].find((d) => isTmpfs(d));
const stateRoot = stateBase ? mkdtempSync(join(stateBase, 'hako-bench-state-')) : join(work, 'state');
const cgName = testCgroupName('bench');
function isTmpfs(dir) {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir && l.split(' - ')[1]?.startsWith('tmpfs '));
  } catch {
    return false;
  }
}
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const pct = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function bundle(name, { netns }) {
  const dir = join(work, name);
  makeBusyboxRootfs(join(dir, 'rootfs'));
  const spec = defaultSpec({ args: ['/bin/true'], terminal: false });
  spec.root = { path: 'rootfs', readonly: true };
  spec.linux.cgroupsPath = `${cgName}/${name}`;
  if (!netns) spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

function timeOnce(argv, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const t1 = process.hrtime.bigint();
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return Number(t1 - t0) / 1e6;
}

/** Runs the commands in turn, n rounds; returns one list of times per command. */
function timeInterleaved(commands, env, n) {
  const times = commands.map(() => []);
  for (let i = 0; i < n; i++) commands.forEach((argv, k) => times[k].push(timeOnce(argv, env)));
  return times;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const loadBefore = loadavg();
const results = [];
const row = (what, xs) => results.push({ what, median: median(xs), p90: pct(xs, 0.9), min: sorted(xs)[0] });
try {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const devnull = openSync('/dev/null', 'r+');
  for (const netns of [false, true]) {
    const label = netns ? 'with netns' : 'no netns';
    const b = bundle(`b-${netns ? 'net' : 'nonet'}`, { netns });
    // 1. in-process API (with --baseline: the two alternate, one iteration each)
    const runtimes = [{ name: 'hako', rt: new Runtime({ root: join(stateRoot, 'api') }), times: [] }];
    if (BaseRuntime) runtimes.push({ name: 'baseline', rt: new BaseRuntime({ root: join(stateRoot, 'api-base') }), times: [] });
    for (let i = 0; i < N + 5; i++) {
      for (const r of runtimes) {
        if (gap) await sleep(gap);
        const id = `api${i}`;
        const t0 = process.hrtime.bigint();
        const c = await r.rt.create({ id, bundle: b, stdio: [devnull, devnull, devnull] });
        await r.rt.start(id);
        await c.process.exited;
        await r.rt.delete(id);
        const t1 = process.hrtime.bigint();
        if (i >= 5) r.times.push(Number(t1 - t0) / 1e6);
      }
    }
    for (const r of runtimes) row(`${r.name === 'hako' ? '' : 'baseline: '}API create→start→exit→delete (${label}${gap ? `, ${gap} ms gaps` : ''})`, r.times);
    // 2. commands. bin/hako-runtime.cjs is the installed command (bundle + code cache, see
    // scripts/bundle.mjs), exec'd as a user runs it, so its shebang's node flags apply (see the
    // file); the first run writes the code cache, so it is not timed.
    const hakoRoot = join(stateRoot, 'cli');
    const runcRoot = join(stateRoot, 'runc');
    const hako = [join(repo, 'bin/hako-runtime.cjs'), '--root', hakoRoot, 'run', '--bundle', b, 'bench'];
    const runc = ['runc', '--root', runcRoot, 'run', '--bundle', b, 'bench'];
    const commands = [hako, runc];
    if (baseline) commands.push([join(baseline, 'bin/hako-runtime.cjs'), '--root', join(stateRoot, 'cli-base'), 'run', '--bundle', b, 'bench']);
    for (const c of commands) timeOnce(c, env);
    const [h, r, base] = timeInterleaved(commands, env, N);
    row(`hako-runtime run (${label})`, h);
    if (base) row(`baseline: hako-runtime run (${label})`, base);
    row(`runc run (${label})`, r);
    results.push({ what: `ratio hako-runtime run / runc run (${label})`, ratio: median(h) / median(r) });
    if (base) results.push({ what: `baseline: ratio hako-runtime run / runc run (${label})`, ratio: median(base) / median(r) });
  }
  closeSync(devnull);
  const [node0] = timeInterleaved([[process.execPath, '-e', '0']], env, 20);
  row('node -e 0 (start-up floor)', node0);
} finally {
  removeCgroupEverywhere(cgName);
  rmSync(work, { recursive: true, force: true });
  rmSync(stateRoot, { recursive: true, force: true });
}
console.log(`runtime benchmark, ${N} iterations each, NODE_EXTRA_CA_CERTS unset for Node commands, state in ${stateBase ?? tmpdir()} (${stateBase ? 'tmpfs' : 'not tmpfs'}); load average ${loadBefore} before, ${loadavg()} after`);
for (const r of results) {
  if (r.ratio !== undefined) console.log(`  ${r.what.padEnd(56)} ${r.ratio.toFixed(2)}×`);
  else console.log(`  ${r.what.padEnd(56)} median ${r.median.toFixed(1).padStart(5)} ms   p90 ${r.p90.toFixed(1).padStart(5)} ms   min ${r.min.toFixed(1).padStart(5)} ms`);
}
