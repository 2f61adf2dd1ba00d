// Pull A/B (issue 3): `hako pull` of busybox (or --image=debian) through the CLI against a freshly started hakod, this
// checkout against another built one (--versus=<checkout>, e.g. a copy of main's bin/, dist/ and
// build/), pull by pull in turns (the order swaps every round), on a fresh loop-mounted ext4 with
// the registry of bench/pull.mjs. On this shared 2-CPU machine the load from other work moves a
// fresh pull's wall time by ±30% from one minute to the next: bench/pull.mjs's separate runs of the
// tools could not tell changes of a few ms apart, pairs of pulls a second apart can.
// --image=debian pulls bench/pull.mjs's debian bookworm minbase (one 49 MB gzip layer, 121 MB of
// tar; made once with debootstrap and cached in .tmp/bench-cache, shared with bench/pull.mjs).
// Printed: each side's median wall time (CLI spawned → exited) and the median of the pairs' ratios;
// hakod's whole-process CPU time for the pull (every thread's schedstat: the event loop, zlib
// and addon jobs on the libuv pool) and the median of the pairs' ratios;
// hakod's main-thread CPU time for the pull (/proc/PID/schedstat of the event loop's thread: less
// sensitive to load than the wall time) and the median of the pairs' differences; with --phases,
// per step of the pull (hakod's HAKO_PHASE_TRACE, the CLI's HAKO_CLI_TRACE as cli:…) each side's
// median and the pairs' difference. --phases=hakod: hakod's steps only, timed from the request's
// arrival at hakod (leaves the CLI's start-up, the noisiest part under load, out of the pairs'
// differences); --phases=cpu: hakod's steps at hakod's main-thread CPU time since the request's
// arrival (the trace's CPU column: where a change moves the work of the event loop).
// Each hakod runs as in bench/pull.mjs (test network names, --iptables=false, a cgroup beneath
// ours) and is stopped after its pull; its data root is left until the end. Node commands run with
// NODE_EXTRA_CA_CERTS unset.
// --env=K=V / --versus-env=K=V (repeatable) set an environment variable for this checkout's /
// the other side's hakod only, and --node-args='…' / --versus-node-args='…' add node options to its
// command line: with --versus=. one build compares two settings (e.g. HAKOD_V8_FLAGS). --cpu-prof=DIR
// writes a V8 CPU profile of each hakod (its start-up included) to DIR/<pair>-<side>.cpuprofile
// (with --phases, its phase trace beside it: DIR/<pair>-<side>.trace, in the profile's clock);
// --perf=DIR records hakod's main thread during the pull only with perf(1) (DIR/<pair>-<side>.data).
// --strace=DIR: strace -f -tt -T of hakod (attached before the timed pull) and of the CLI, as
// DIR/<pair>-<side>.hakod and .cli (the times then say where the syscalls go, not how long a pull takes).
// --warm / --versus-warm: that side's hakod first pulls an unrelated tiny image (bench/warmup, as
// bench/pull.mjs --warm) and idles 1.5 s before the timed pull (with --versus=. --versus-warm: what a
// fresh daemon's first pull costs more than a later one's).
// --traces=DIR keeps each pull's phase trace (with --phases) as DIR/<pair>-<side>.trace: one pull's
// timeline, CLI and hakod on one clock (printed by bench/pull-timeline.mjs).
// The CLI is each side's installed copy (bench/lib/common.mjs installedCopy: bin/hako.cjs pinned to
// this node as `npm install` leaves it, no env(1) hop), as bench/pull.mjs and bench/engine.mjs run it.
// --logs=DIR keeps each hakod's stdout and stderr as DIR/<pair>-<side>.log, the timed pull marked in
// it (e.g. with --env=HAKOD_V8_FLAGS='… --trace-gc': which GCs a fresh daemon's start-up and pull run;
// set at run time, not with --node-args: any V8 flag on node's command line makes Node compile its
// builtins from source). --idle=MS: each hakod idles MS after start-up (and its warm-up pull) before
// the timed pull: V8's memory reducer runs its first mark-compacts ~8 s after start-up.
// --rss-after=MS[,MS…]: hakod's VmRSS sampled that many ms after the timed pull ended (each side's
// median and the pairs' median difference, per delay): what a pull leaves resident, e.g. before
// and after the daemon's quiet-second trim and V8's memory reducer (~8 s).
// Usage: node bench/pull-versus.mjs [pairs=20] --versus=<checkout> [--image=busybox|debian] [--phases[=hakod|cpu]] [--dir /var/tmp]
//          [--env=K=V] [--versus-env=K=V] [--node-args=…] [--versus-node-args=…] [--cpu-prof=DIR] [--perf=DIR] [--strace=DIR] [--perf-trace=DIR]
//          [--logs=DIR] [--traces=DIR] [--idle=MS] [--rss-after=MS,…]
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianRootfsTar, installedCopy, ociLayoutFromTar, settle } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const pairs = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const versus = args.find((a) => a.startsWith('--versus='))?.slice('--versus='.length);
const phasesArg = args.find((a) => a === '--phases' || a.startsWith('--phases='));
const withPhases = phasesArg !== undefined;
const phaseMode = phasesArg?.slice('--phases='.length) || 'cli'; // cli | hakod | cpu
if (!['cli', 'hakod', 'cpu'].includes(phaseMode)) throw new Error(`--phases=${phaseMode}: cli, hakod or cpu`);
const baseDir = args.includes('--dir') ? args[args.indexOf('--dir') + 1] : '/var/tmp';
const opts = (name) => args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
const envOf = (name) => Object.fromEntries(opts(name).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const nodeArgsOf = (name) => opts(name).flatMap((a) => a.split(/\s+/)).filter((a) => a);
const cpuProfDir = opts('cpu-prof')[0];
const perfDir = opts('perf')[0];
const straceDir = opts('strace')[0];
const perfTraceDir = opts('perf-trace')[0];
const logsDir = opts('logs')[0];
const tracesDir = opts('traces')[0];
const idleMs = Number(opts('idle')[0] ?? 0);
const rssAfter = (opts('rss-after')[0] ?? '').split(',').filter((x) => x).map(Number);
const image = opts('image')[0] ?? 'busybox';
if (!['busybox', 'debian'].includes(image)) throw new Error(`--image=${image}: busybox or debian`);
if (!versus || !existsSync(join(versus, 'bin/hakod.cjs'))) {
  console.error('usage: node bench/pull-versus.mjs [pairs] --versus=<built checkout> [--phases] [--dir DIR]');
  process.exit(2);
}
if (process.getuid() !== 0) {
  console.error('bench/pull-versus: needs root');
  process.exit(1);
}
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
const { makeBusyboxRootfs, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));

const LIMIT = 120_000;
const sh = (cmd, a, opts = {}) => {
  const r = spawnSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, timeout: LIMIT, killSignal: 'SIGKILL', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.error?.code ?? ''} ${r.stderr}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sides = [
  { name: `versus ${versus}`, dir: resolve(versus), env: envOf('versus-env'), nodeArgs: nodeArgsOf('versus-node-args'), warm: args.includes('--versus-warm'), times: [], cpu: [], procCpu: [], phases: [], rss: [] },
  { name: 'this checkout', dir: repo, env: envOf('env'), nodeArgs: nodeArgsOf('node-args'), warm: args.includes('--warm'), times: [], cpu: [], procCpu: [], phases: [], rss: [] },
];

const img = join(baseDir, `hako-pull-versus-${process.pid}.ext4`);
const mnt = join(baseDir, `hpv${process.pid}`);
// Every daemon's data root stays until the end: debian's pulls keep ~170 MB each (blob and tree).
sh('truncate', ['-s', image === 'debian' ? `${Math.max(8, Math.ceil(pairs * 2 * 0.2) + 2)}G` : '4G', img]);
sh('mkfs.ext4', ['-q', '-F', img]);
mkdirSync(mnt);
sh('mount', ['-o', 'loop', img, mnt]);
const work = mkdtempSync(join(mnt, 'w-'));
sides.forEach((s, i) => (s.installed = installedCopy(s.dir, mkdtempSync(join(work, `inst${i}-`)))));

/** busybox as an OCI layout (one gzip layer), as bench/pull.mjs makes it. */
function busyboxLayout() {
  const root = join(work, 'busybox-root');
  makeBusyboxRootfs(root);
  const tarFile = join(work, 'busybox.tar');
  sh('tar', ['--numeric-owner', '-C', root, '-cf', tarFile, '.']);
  const dir = join(work, 'layout');
  ociLayoutFromTar(dir, tarFile);
  return dir;
}

/** debian bookworm minbase as an OCI layout (one gzip layer), as bench/pull.mjs makes it. */
function debianLayout() {
  const dir = join(work, 'layout');
  ociLayoutFromTar(dir, debianRootfsTar(join(repo, '.tmp', 'bench-cache'), baseDir));
  return dir;
}

/** A tiny image shared with nothing else (--warm): two small files of random bytes. */
function warmupLayout() {
  const root = join(work, 'warmup-root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'warmup'), randomBytes(4096).toString('hex'));
  writeFileSync(join(root, 'warmup.bin'), randomBytes(16384));
  const tarFile = join(work, 'warmup.tar');
  sh('tar', ['--numeric-owner', '-C', root, '-cf', tarFile, '.']);
  const dir = join(work, 'warmup-layout');
  ociLayoutFromTar(dir, tarFile);
  return dir;
}

/**
 * CPU time of all the process's threads, ms (each thread's /proc schedstat, in ns: utime+stime
 * count 10 ms ticks, too coarse for a busybox pull's ~40 ms). Threads that ended are not counted
 * (libuv's pool and V8's platform threads live as long as the process).
 */
const threadsCpuMs = (pid) => {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* ended meanwhile */
    }
  }
  return ns / 1e6;
};

/** CPU time of the process's main thread (the event loop), ms. */
const mainThreadMs = (pid) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;

/** One fresh hakod of `side`, one timed `hako pull`, the daemon stopped. */
async function pullOnce(side, tag, registry, ref) {
  const d = join(work, tag);
  mkdirSync(d);
  const sock = join(d, 'hako.sock');
  const net = testNet();
  const cgroup = testCgroupName('pull-versus');
  const trace = join(d, 'phases.trace');
  const fd = openSync(join(d, 'hakod.log'), 'a'); // O_APPEND: --logs marks the timed pull in it
  // The same options for every daemon (node's own file name, renamed after): hakod's code cache
  // is kept per command line (bin/bundle-loader.cjs), and a name per daemon would give each its own.
  const prof = cpuProfDir ? ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${resolve(cpuProfDir)}`] : [];
  const proc = spawn(process.execPath, [...side.nodeArgs, ...prof, join(side.dir, 'bin/hakod.cjs'), '-H', `unix://${sock}`, '--data-root', join(d, 'root'), '--exec-root', join(d, 'run'), '--pidfile', join(d, 'hakod.pid'), '--cgroup-parent', cgroup, '--insecure-registry', registry.host, ...daemonNetFlags(net)], { env: { ...env, ...side.env, ...(withPhases ? { HAKO_PHASE_TRACE: trace } : {}) }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const cenv = { ...env, DOCKER_HOST: `unix://${sock}` };
  try {
    // (killed by a signal, a process has exitCode null and signalCode set)
    const running = () => proc.exitCode === null && proc.signalCode === null;
    for (let k = 0; k < 200 && running(); k++) {
      if (existsSync(sock) && spawnSync('docker', ['version'], { env: cenv, stdio: 'ignore', timeout: 10_000 }).status === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!running()) throw new Error(`hakod exited (${proc.exitCode ?? proc.signalCode}): ${readFileSync(join(d, 'hakod.log'), 'utf8')}`);
    if (side.warm) {
      sh(join(side.installed, 'bin/hako.cjs'), ['pull', '-q', warmRef], { env: cenv });
      await new Promise((r) => setTimeout(r, 1500));
    }
    if (idleMs) await new Promise((r) => setTimeout(r, idleMs));
    await settle(proc.pid);
    let perf;
    if (perfDir) {
      perf = spawn('perf', ['record', '-q', '-F', '10000', '-g', '-t', String(proc.pid), '-o', join(resolve(perfDir), `${tag}.data`)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 300)); // perf attaches
    }
    let strace;
    if (straceDir) {
      strace = spawn('strace', ['-f', '-tt', '-T', '-p', String(proc.pid), '-o', join(resolve(straceDir), `${tag}.hakod`)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500)); // strace attaches to every thread
    }
    if (perfTraceDir) {
      strace = spawn('perf', ['trace', '-T', '-p', String(proc.pid), '-o', join(resolve(perfTraceDir), `${tag}.perf-trace`)], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500));
    }
    if (logsDir) appendFileSync(join(d, 'hakod.log'), '=== pull-versus: timed pull starts\n');
    const c0 = mainThreadMs(proc.pid);
    const p0 = threadsCpuMs(proc.pid);
    const from = Number(process.hrtime.bigint()) / 1e6;
    const cli = [join(side.installed, 'bin/hako.cjs'), 'pull', '-q', ref];
    const cliEnv = withPhases ? { ...cenv, HAKO_CLI_TRACE: trace } : cenv;
    if (straceDir) sh('strace', ['-f', '-tt', '-T', '-o', join(resolve(straceDir), `${tag}.cli`), ...cli], { env: cliEnv });
    else sh(cli[0], cli.slice(1), { env: cliEnv });
    const ms = Number(process.hrtime.bigint()) / 1e6 - from;
    side.times.push(ms);
    side.cpu.push(mainThreadMs(proc.pid) - c0);
    side.procCpu.push(threadsCpuMs(proc.pid) - p0);
    if (logsDir) appendFileSync(join(d, 'hakod.log'), '=== pull-versus: timed pull ended\n');
    const rss = [];
    for (const at of rssAfter) {
      await new Promise((r) => setTimeout(r, Math.max(0, at - (Number(process.hrtime.bigint()) / 1e6 - from - ms))));
      rss.push(Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))[1]) / 1024);
    }
    side.rss.push(rss);
    if (strace && strace.exitCode === null && strace.signalCode === null) {
      const done = new Promise((r) => strace.once('exit', r));
      strace.kill('SIGINT');
      await done;
    }
    if (perf) {
      const done = new Promise((r) => perf.once('exit', r));
      perf.kill('SIGINT');
      await done;
    }
    const ph = phaseMode === 'cli' ? { 'CLI exited': ms } : {};
    if (withPhases && existsSync(trace)) {
      let t0; // hakod's mark for the request's arrival: time and main-thread CPU
      for (const line of readFileSync(trace, 'utf8').split('\n')) {
        const m = /^hako-phase (\S+) (\S+) ([\d.]+)(?: ([\d.]+) [\d.]+)?$/.exec(line);
        if (!m || Number(m[3]) < from) continue;
        if (phaseMode === 'cli') {
          if (m[1] === 'pull' || m[1] === '-' || m[1] === 'cli') ph[m[1] === 'cli' ? `cli:${m[2]}` : m[2]] ??= Number(m[3]) - from;
        } else if ((m[1] === 'pull' || m[1] === '-') && m[4] !== undefined) {
          t0 ??= { t: Number(m[3]), cpu: Number(m[4]) };
          ph[m[2]] ??= phaseMode === 'cpu' ? Number(m[4]) - t0.cpu : Number(m[3]) - t0.t;
        }
      }
    }
    side.phases.push(ph);
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    if (cpuProfDir) {
      const made = readdirSync(cpuProfDir).find((f) => f.startsWith('CPU.') && f.includes(`.${proc.pid}.`));
      if (made) renameSync(join(cpuProfDir, made), join(cpuProfDir, `${tag}.cpuprofile`));
      if (existsSync(trace)) copyFileSync(trace, join(cpuProfDir, `${tag}.trace`)); // to window the profile
    }
    if (logsDir) copyFileSync(join(d, 'hakod.log'), join(resolve(logsDir), `${tag}.log`));
    if (tracesDir && existsSync(trace)) copyFileSync(trace, join(resolve(tracesDir), `${tag}.trace`));
    removeCgroupEverywhere(cgroup);
    cleanupNet(net);
  }
}

const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
let registry;
let warmRef;
try {
  registry = await startRegistry();
  const ref = `${registry.host}/bench/${image}:latest`;
  sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${image === 'debian' ? debianLayout() : busyboxLayout()}:latest`, `docker://${ref}`]);
  if (sides.some((s) => s.warm)) {
    warmRef = `${registry.host}/bench/warmup:latest`;
    sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${warmupLayout()}:latest`, `docker://${warmRef}`]);
  }
  for (let i = 0; i < pairs; i++) {
    for (const side of i % 2 ? [...sides].reverse() : sides) await pullOnce(side, `${i}-${sides.indexOf(side)}`, registry, ref);
  }
} finally {
  await registry?.stop();
  spawnSync('umount', [mnt], { stdio: 'ignore', timeout: 30_000 });
  rmSync(mnt, { recursive: true, force: true });
  rmSync(img, { force: true });
}
const [a, b] = sides;
const pairedRatio = median(b.times.map((t, i) => t / a.times[i]));
const pairedCpu = median(b.cpu.map((c, i) => c - a.cpu[i]));
const pairedProcCpu = median(b.procCpu.map((c, i) => c / a.procCpu[i]));
console.log(`hako pull ${image} (CLI → fresh hakod), ${pairs} pairs; load ${load0} → ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const label = (s) => [s.name, ...(s.warm ? ['(warm)'] : []), ...Object.entries(s.env).map(([k, v]) => `${k}=${v}`), ...s.nodeArgs].join(' ');
for (const s of sides) console.log(`  ${label(s).padEnd(40)} ${median(s.times).toFixed(1)} ms   hakod main thread ${median(s.cpu).toFixed(1)} ms CPU, process ${median(s.procCpu).toFixed(1)} ms CPU   [${s.times.map((x) => x.toFixed(0)).join(' ')}]`);
console.log(`  this checkout / versus: pairs' median ratio ${pairedRatio.toFixed(3)}, main-thread CPU difference ${pairedCpu >= 0 ? '+' : ''}${pairedCpu.toFixed(1)} ms, process CPU ratio ${pairedProcCpu.toFixed(3)}`);
rssAfter.forEach((at, j) => {
  const d = median(b.rss.map((r, i) => r[j] - a.rss[i][j]));
  console.log(`  VmRSS ${at} ms after the pull: versus ${median(a.rss.map((r) => r[j])).toFixed(1)} MB, this ${median(b.rss.map((r) => r[j])).toFixed(1)} MB, pairs' difference ${d >= 0 ? '+' : ''}${d.toFixed(1)} MB`);
});
if (withPhases) {
  // Blob steps are named by digest prefix (blob-<12 hex>-sent…): every pull here names the same two.
  const keys = [...new Set(sides.flatMap((s) => s.phases.flatMap((p) => Object.keys(p))))];
  const at = (s, k) => median(s.phases.map((p) => p[k]).filter((x) => x !== undefined)) ?? NaN; // NaN: a step one side does not mark
  const pos = (k) => (Number.isNaN(at(a, k)) ? at(b, k) : at(a, k));
  keys.sort((x, y) => pos(x) - pos(y));
  const since = { cli: 'ms since the CLI was spawned', hakod: 'ms since the request reached hakod', cpu: "hakod main-thread CPU ms since the request's arrival" }[phaseMode];
  console.log(`  phases (${since}; medians, versus / this, pairs' difference):`);
  for (const k of keys) {
    const d = median(b.phases.map((p, i) => p[k] - a.phases[i]?.[k]).filter((x) => !Number.isNaN(x))) ?? NaN;
    console.log(`    ${at(a, k).toFixed(1).padStart(8)} ${at(b, k).toFixed(1).padStart(8)} ${(d >= 0 ? '+' : '') + d.toFixed(1).padStart(6)}  ${k}`);
  }
}
