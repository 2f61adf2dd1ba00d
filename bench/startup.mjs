// Start-up benchmark of the short Node commands, each against its Go peer in the same run:
//   1. `hako run --rm --network none busybox true` vs the docker CLI, both against one hakod
//      (issue #4 target: hako within 1.3× of docker)
//   2. `hako-runtime run` of a busybox bundle vs `runc run` (issue #2 target: ≤ 1.0× runc)
//   3. the floors: `node -e 0`, `docker --version`, `hako --version`
// The hako commands run the way they are installed: an installed copy's bin file (bench/lib/
// common.mjs installedCopy: pinned to this node as `npm install` does, `#!<node> --no-rehash-snapshot`)
// is exec'd, so its shebang applies. The "node bin/…" rows run the same
// file through `node` without flags, as bench/engine.mjs, bench/runtime.mjs and the tests do.
// All commands run interleaved (a, b, c, a, b, c, …) so that load from other work on the machine
// falls on each alike; ratios are of medians. NODE_EXTRA_CA_CERTS is unset for every command
// (this machine sets it globally: ~70 ms per Node start; a user's machine normally has it unset).
// Each row also gives the median CPU time (user + sys of the command and its children, from
// wait4), which the load on this shared machine moves less than the wall time.
// Usage: node bench/startup.mjs [iterations=30] [--baseline DIR] [--no-cli] [--no-runtime] [--phases]
//   (root; busybox-static, runc and the docker CLI at /usr/local/bin/docker)
//   --baseline DIR: another built checkout of hako measured in the same run (its bin files exec'd
//   the same way): before/after numbers under the same load.
//   --phases: where each CLI's `run --rm` goes, in ms from its spawn (medians): hakod runs with
//   HAKO_PHASE_TRACE (each request's arrival and answer at the daemon) and hako with
//   HAKO_CLI_TRACE (its first line of JS, bundle loaded, arguments parsed, each request sent and
//   its answer's head in, exit), on one clock. The tracing costs hakod a little (the CLI rows
//   then include it, for both CLIs alike).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedCopy, stopChild } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (f) => {
  const i = args.indexOf(f);
  return i >= 0 ? args.splice(i, 1).length > 0 : false;
};
const baseAt = args.indexOf('--baseline');
const baseline = baseAt >= 0 ? args.splice(baseAt, 2)[1] : undefined;
const withCli = !flag('--no-cli');
const withRuntime = !flag('--no-runtime');
const withPhases = flag('--phases');
const N = Number(args[0] ?? 30);
const DOCKER = '/usr/local/bin/docker';
if (process.getuid() !== 0) {
  console.error('bench/startup: needs root');
  process.exit(1);
}
for (const tree of [repo, ...(baseline ? [baseline] : [])]) {
  const mtime = (p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs;
  const built = mtime(join(tree, 'dist/.tsbuildinfo'));
  for (const b of ['hako-runtime', 'hako']) {
    const bundled = mtime(join(tree, `dist/bundle/${b}.cjs`));
    if (bundled === undefined || (built !== undefined && built > bundled)) {
      console.error(`bench/startup: ${tree}: the ${b} bundle is missing or older than the last tsc build: run \`npm run build:ts\` there first`);
      process.exit(1);
    }
  }
}
if (withCli && !existsSync(DOCKER)) {
  console.error(`bench/startup: needs the docker CLI (${DOCKER}); --no-cli skips the CLI rows`);
  process.exit(1);
}

const { makeBusyboxRootfs, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { defaultSpec } = await import(join(repo, 'dist/src/runtime/spec/defaults.js'));
const { dockerSaveArchive } = await import(join(repo, 'dist/test/helpers/images.js'));
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const progress = (m) => process.stderr.write(`bench/startup: ${m}\n`);

// Wall and CPU time of one command. spawnSync reports no rusage, and a wrapper (time(1), a
// script) would add its own start-up; so the CPU time is this process's waited-for children's
// utime + stime from /proc/self/stat before and after each command.
function cpuChildren() {
  // Fields 16/17 (cutime, cstime), in clock ticks of 10 ms: too coarse for one run, so the rows
  // report the sum over all rounds divided by the rounds.
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}
function timeOnce(argv, cmdEnv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env: cmdEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} → ${r.status ?? r.signal}: ${r.stderr}`);
  return t;
}
/** rows: [{ what, argv, env }]; each gets .times (wall, ms) and .cpu (mean CPU ms per run). */
function interleaved(rows, n, warm = 2) {
  for (const r of rows) {
    r.times = [];
    r.cpuTotal = 0;
  }
  for (let i = 0; i < n + warm; i++) {
    for (const r of rows) {
      const c0 = cpuChildren();
      const t = timeOnce(r.argv, r.env ?? env);
      if (i >= warm) {
        r.times.push(t);
        r.cpuTotal += cpuChildren() - c0;
      }
    }
  }
  for (const r of rows) r.cpu = r.cpuTotal / n;
  return rows;
}

const work = mkdtempSync(join(tmpdir(), 'hako-bench-startup-'));
// The commands as npm installs them (pinned to this node, no env(1): scripts/pin-node.mjs); the
// "node bin/…" rows run the checkout's files.
const inst = installedCopy(repo, work);
const instBase = baseline ? installedCopy(baseline, mkdtempSync(join(work, 'base-'))) : undefined;
const stateBase = ['/run', '/dev/shm'].find((d) => existsSync(d));
const stateRoot = mkdtempSync(join(stateBase ?? work, 'hako-bench-startup-state-'));
const cgName = testCgroupName('bench-startup');
const net = testNet();
const phaseLog = join(work, 'phases.log');
let hakod;
const loadBefore = loadavg();
const out = [];
const report = (title, rows, ratios) => {
  out.push(title);
  for (const r of rows) out.push(`  ${r.what.padEnd(58)} median ${median(r.times).toFixed(1).padStart(6)} ms   min ${sorted(r.times)[0].toFixed(1).padStart(6)} ms   cpu ${r.cpu.toFixed(1).padStart(5)} ms`);
  for (const [what, a, b] of ratios) out.push(`  ${`ratio ${what}`.padEnd(58)} ${(median(a.times) / median(b.times)).toFixed(2)}×  (cpu ${(a.cpu / b.cpu).toFixed(2)}×)`);
};

/**
 * --phases: each row's median time from spawn to each request's arrival/answer at hakod and to
 * each of the CLI's own marks (HAKO_CLI_TRACE), in time order. Marks of one name are numbered
 * (#2, …) when a run has several; container IDs read `ID`.
 */
function phaseRounds(rows, n) {
  const byRow = rows.map(() => new Map());
  for (let i = 0; i < n; i++) {
    rows.forEach((r, k) => {
      writeFileSync(phaseLog, '');
      const t0 = Number(process.hrtime.bigint()) / 1e6;
      const t = timeOnce(r.argv, { ...r.env, HAKO_CLI_TRACE: phaseLog });
      const marks = readFileSync(phaseLog, 'utf8')
        .split('\n')
        .map((l) => /^hako-phase (\S+) (\S+) ([\d.]+)(?: [\d.]+ [\d.]+)?$/.exec(l))
        .filter((m) => m && (m[1] === '-' || m[1] === 'cli'))
        .map((m) => [m[2].replace(/[0-9a-f]{64}/g, 'ID'), Number(m[3]) - t0]);
      marks.push(['exited (reaped)', t]);
      marks.sort((a, b) => a[1] - b[1]);
      const seen = new Map();
      for (const [p, at] of marks) {
        const c = (seen.get(p) ?? 0) + 1;
        seen.set(p, c);
        const key = c > 1 ? `${p} #${c}` : p;
        if (!byRow[k].has(key)) byRow[k].set(key, []);
        byRow[k].get(key).push(at);
      }
    });
  }
  rows.forEach((r, k) => {
    out.push(`  ${r.what}: ms from spawn (median of ${n})`);
    const steps = [...byRow[k]].filter(([, v]) => v.length >= n / 2).map(([p, v]) => [p, median(v)]);
    steps.sort((a, b) => a[1] - b[1]);
    for (const [p, at] of steps) out.push(`    ${p.padEnd(56)} ${at.toFixed(1).padStart(6)}`);
  });
}

async function startHakod() {
  const sock = join(work, 'hako.sock');
  const denv = withPhases ? { ...env, HAKO_PHASE_TRACE: phaseLog } : env;
  const proc = spawn(process.execPath, [join(repo, 'bin/hakod.cjs'), '-H', `unix://${sock}`, '--data-root', join(work, 'root'), '--exec-root', join(stateRoot, 'hakod-run'), '--pidfile', join(work, 'hakod.pid'), '--cgroup-parent', `${cgName}-d`, ...daemonNetFlags(net)], { env: denv, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  const henv = { ...env, DOCKER_HOST: `unix://${sock}`, HAKO_HOST: `unix://${sock}`, DOCKER_CONFIG: join(work, 'docker-cli') };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`hakod exited: ${log}`);
    if (existsSync(sock) && spawnSync(DOCKER, ['version'], { env: henv }).status === 0) break;
    if (Date.now() > deadline) throw new Error(`hakod did not come up: ${log}`);
    await sleep(50);
  }
  const stop = async () => {
    await stopChild(proc);
    removeCgroupEverywhere(`${cgName}-d`);
    cleanupNet(net);
  };
  return { env: henv, stop };
}

try {
  if (withCli) {
    progress('hakod + busybox image');
    hakod = await startHakod();
    const load = spawnSync(DOCKER, ['load', '-q', '-i', dockerSaveArchive(work, 'bench/startup.mjs')], { env: hakod.env, encoding: 'utf8' });
    if (load.status !== 0) throw new Error(`docker load: ${load.stderr}`);
    const runArgs = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
    const rows = [
      { what: 'docker run --rm busybox true → hakod', argv: [DOCKER, ...runArgs], env: hakod.env },
      { what: 'hako run --rm busybox true (installed: bin/hako.cjs)', argv: [join(inst, 'bin/hako.cjs'), ...runArgs], env: hakod.env },
      { what: 'node bin/hako.cjs run --rm busybox true', argv: [process.execPath, join(repo, 'bin/hako.cjs'), ...runArgs], env: hakod.env },
      { what: 'hako run --rm (checkout: bin/hako.cjs, env -S)', argv: [join(repo, 'bin/hako.cjs'), ...runArgs], env: hakod.env },
    ];
    if (baseline) rows.push({ what: 'baseline: hako run --rm (installed)', argv: [join(instBase, 'bin/hako.cjs'), ...runArgs], env: hakod.env });
    progress(`CLI rows, ${N} rounds`);
    interleaved(rows, N);
    const ratios = [['hako (installed) / docker', rows[1], rows[0]], ['node bin/hako.cjs / docker', rows[2], rows[0]], ['hako (checkout, env -S) / docker', rows[3], rows[0]]];
    if (baseline) ratios.push(['baseline hako (installed) / docker', rows[4], rows[0]]);
    report(`CLI → one hakod (load ${loadavg()})`, rows, ratios);
    if (withPhases) {
      progress(`phases, ${N} rounds`);
      out.push(`phases: run --rm --network none busybox true (load ${loadavg()})`);
      phaseRounds([rows[0], rows[1], ...(baseline ? [rows[4]] : [])], N);
    }
  }
  if (withRuntime) {
    const b = join(work, 'bundle');
    makeBusyboxRootfs(join(b, 'rootfs'));
    const spec = defaultSpec({ args: ['/bin/true'], terminal: false });
    spec.root = { path: 'rootfs', readonly: true };
    spec.linux.cgroupsPath = `${cgName}/c`;
    spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== 'network');
    writeFileSync(join(b, 'config.json'), JSON.stringify(spec));
    const run = (root) => ['--root', join(stateRoot, root), 'run', '--bundle', b, 'bench'];
    const rows = [
      { what: 'runc run', argv: ['runc', ...run('runc')] },
      { what: 'hako-runtime run (installed: bin/hako-runtime.cjs)', argv: [join(inst, 'bin/hako-runtime.cjs'), ...run('hako')] },
      { what: 'node bin/hako-runtime.cjs run', argv: [process.execPath, join(repo, 'bin/hako-runtime.cjs'), ...run('hako-node')] },
    ];
    if (baseline) rows.push({ what: 'baseline: hako-runtime run (installed)', argv: [join(instBase, 'bin/hako-runtime.cjs'), ...run('base')] });
    progress(`runtime rows, ${N} rounds`);
    interleaved(rows, N);
    const ratios = [['hako-runtime (installed) / runc', rows[1], rows[0]], ['node bin/hako-runtime.cjs / runc', rows[2], rows[0]]];
    if (baseline) ratios.push(['baseline hako-runtime (installed) / runc', rows[3], rows[0]]);
    report(`runtime, busybox bundle without netns (load ${loadavg()})`, rows, ratios);
  }
  progress('floors');
  const floors = [
    { what: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { what: 'node --no-rehash-snapshot -e 0', argv: [process.execPath, '--no-rehash-snapshot', '-e', '0'] },
    { what: 'docker --version', argv: [DOCKER, '--version'] },
    { what: 'hako --version (installed)', argv: [join(inst, 'bin/hako.cjs'), '--version'] },
  ].filter((r) => withCli || !r.argv.includes(DOCKER));
  interleaved(floors, N);
  report('floors', floors, []);
} finally {
  await hakod?.stop();
  removeCgroupEverywhere(cgName);
  rmSync(stateRoot, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
console.log(`start-up benchmark, ${N} rounds, commands interleaved, NODE_EXTRA_CA_CERTS unset for every command; load average ${loadBefore} before, ${loadavg()} after`);
for (const l of out) console.log(l);
