// Pull benchmark (issue 3): busybox and a debian bookworm minbase image from a registry on
// 127.0.0.1, pulled by hako (download + verify + unpack), by `docker pull` when dockerd is
// installed, and by the floor: `skopeo copy` (download + verify) followed by `tar -xzf` of the
// layers, all on the same filesystem, in one run. Targets: hako ≤ 0.5× docker and ≤ 1.2× the
// floor; peak RSS of the pulling process ≤ 150 MB for debian.
// Rows: "hako pull (CLI → hakod)" is the like-for-like figure to `docker pull`: the installed
// `hako` command as `npm install` leaves it (bench/lib/common.mjs installedCopy: bin/hako.cjs pinned
// to this node, `#!<node> --no-rehash-snapshot`, no env(1) hop; executed as a file so that its
// shebang applies) against a hakod started fresh for each run, as dockerd is, with
// hakod's CPU and peak RSS (VmHWM since its start). "hako pull" is the pull inside a fresh process
// (bench/pull-worker.mjs: the engine's unpacker, modules loaded before the clock starts, cold JIT
// and connections), with that whole process (Node's start-up + module loading + pull) beside it.
// The floor's and docker's times include their processes' start (skopeo, tar; the docker CLI).
// Every command runs with a time limit. Each dockerd has its own data root, exec root (its own
// containerd beneath it), socket, pidfile, config file and key (not /etc/docker/key.json), no
// bridge, no iptables/ip6tables rules, no ip_forward or masquerading change; it is stopped and its
// mounts and directories removed after its run.
// --warm adds a second pass per run with daemons in the state a user's are in: a fresh hakod and a
// fresh dockerd that have each first served one unrelated small pull (bench/warmup, a tiny image
// of its own, pushed to the same registry) and settled before the timed pulls; its rows stand
// beside the fresh-daemon rows (the floor is timed again in that pass, so that all three take
// turns under the same load).
// Usage: node bench/pull.mjs [runs] [--dir /path/on/fs/to/test] [--fresh-ext4] [--delete-between-runs] [--phases]
//   [--warm] [--images busybox,debian] [--no-docker] [--hakod-cpu-prof DIR] [--hako-repo DIR]
// (root; skopeo, docker-registry, debootstrap installed; the debian rootfs is made once with
// debootstrap from Debian's mirror and cached in .tmp/bench-cache). Node commands run with
// NODE_EXTRA_CA_CERTS unset.
//
// Nothing that was extracted is deleted until every run is done (each docker run gets a dockerd
// with a fresh data root instead of `docker rmi`): on an ext4 without a journal (this machine
// kind's root filesystem) every inode freed in the last ~30 s is skipped, one inode-table lookup
// at a time, by the next inode allocations in its group (ext4's recently_deleted() check), so a
// run right after deleting the previous run's 6.6k files spends most of its time there — 60–70%
// of `tar -xf` in perf — whichever tool it is. --delete-between-runs measures that case.
// --phases adds the median time of each step of hako's pull (requests, progress) at the end.
// Within a run the three tools take turns at going first, after a fresh dockerd has settled.
// --fresh-ext4 runs everything on a new loop-mounted ext4 (with a journal, as mkfs.ext4 makes it)
// under the --dir, removed at the end.
import { spawnSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, debianRootfsTar, installedCopy, ociLayoutFromTar, settle } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const dirFlag = args.indexOf('--dir');
const baseDir = dirFlag >= 0 ? args[dirFlag + 1] : '/var/tmp';
const deleteBetween = args.includes('--delete-between-runs');
const freshExt4 = args.includes('--fresh-ext4');
const withPhases = args.includes('--phases');
const withWarm = args.includes('--warm');
const flagValue = (f) => (args.indexOf(f) >= 0 ? args[args.indexOf(f) + 1] : undefined);
const onlyImages = flagValue('--images')?.split(',');
const noDocker = args.includes('--no-docker');
// --hakod-cpu-prof DIR: every hakod runs with node's --cpu-prof; the profiles land in DIR.
const hakodProfDir = flagValue('--hakod-cpu-prof');
// --hako-repo DIR: the hako CLI and hakod of another checkout (built), e.g. to compare with a base commit.
const hakoRepo = flagValue('--hako-repo') ?? repo;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
if (process.getuid() !== 0) {
  console.error('bench/pull: needs root');
  process.exit(1);
}
const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
const { makeBusyboxRootfs, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
const { RegistryClient } = await import(join(repo, 'dist/src/image/registry/client.js')).catch(() => ({}));

let base = baseDir;
let freshFs;
if (freshExt4) {
  const img = join(baseDir, `hako-pull-bench-${process.pid}.ext4`);
  const mnt = join(baseDir, `hpb${process.pid}`); // short: dockerd's sockets live below it (sun_path ≤ 107)
  spawnSync('truncate', ['-s', '8G', img], { timeout: 30_000 });
  const mk = spawnSync('mkfs.ext4', ['-q', '-F', img], { encoding: 'utf8', timeout: 120_000 });
  mkdirSync(mnt);
  const mo = spawnSync('mount', ['-o', 'loop', img, mnt], { encoding: 'utf8', timeout: 30_000 });
  if (mk.status !== 0 || mo.status !== 0) {
    rmSync(img, { force: true });
    rmSync(mnt, { recursive: true, force: true });
    console.error(`bench/pull: cannot make a loop ext4: ${mk.stderr}${mo.stderr}`);
    process.exit(1);
  }
  freshFs = { img, mnt };
  base = mnt;
}
const work = mkdtempSync(join(base, 'hako-pull-bench-'));
// The hako command a user runs: the installed copy (a checkout's bin/hako.cjs keeps the env shebang).
const hakoCmd = join(installedCopy(hakoRepo, work), 'bin/hako.cjs');
const cache = join(repo, '.tmp', 'bench-cache');
mkdirSync(cache, { recursive: true });
// Every command has a time limit (SIGKILL after it): a hung dockerd or registry must not hang the bench.
const LIMIT = 120_000;
const sh = (cmd, a, opts = {}) => {
  const r = spawnSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, timeout: LIMIT, killSignal: 'SIGKILL', ...opts });
  if (r.error?.code === 'ETIMEDOUT') throw new Error(`${cmd} ${a.join(' ')}: no answer within ${(opts.timeout ?? LIMIT) / 1000} s`);
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** An OCI layout with one gzip layer made from `rootfsTar`. */
function layout(name, rootfsTar) {
  const dir = join(work, `layout-${name}`);
  return { dir, ...ociLayoutFromTar(dir, rootfsTar) };
}

const debianTar = () => debianRootfsTar(cache, work);

function busyboxTar() {
  const root = join(work, 'busybox-root');
  makeBusyboxRootfs(root);
  const out = join(work, 'busybox.tar');
  sh('tar', ['--numeric-owner', '-C', root, '-cf', out, '.']);
  return out;
}

function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Peak RSS (VmHWM) of a process so far, in MB: hakod's is since its start (one per run). */
function hwmOf(pid) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}


/** The daemon at env.DOCKER_HOST answers `docker version` (within 10 s). */
const ready = (e) => spawnSync('docker', ['version'], { env: e, stdio: 'ignore', timeout: 10_000, killSignal: 'SIGKILL' }).status === 0;

/** SIGTERM, then SIGKILL after 20 s; resolves when the process has exited. */
async function stopProcess(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/** A dockerd with its data root under `dir` (its sockets in a short /tmp dir), no networking changes on the host. */
async function startDockerd(dir, registryHost) {
  mkdirSync(dir, { recursive: true });
  const run = mkdtempSync('/tmp/hpb-docker-'); // containerd's sockets must fit sun_path
  const sock = join(run, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const fd = openSync(log, 'w');
  // Everything of this dockerd lives in `dir` and `run`: its own config file instead of
  // /etc/docker/daemon.json, its key instead of /etc/docker/key.json, its own containerd (started
  // under the exec root, there is no system one at /run/containerd/containerd.sock), and no bridge,
  // iptables, masquerading or ip_forward change on the host.
  const config = join(dir, 'daemon.json');
  // (20.10 takes the key's path only from the config file: the flag is not compiled in.)
  writeFileSync(config, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }) + '\n');
  const proc = spawn('dockerd', ['-H', `unix://${sock}`, '--config-file', config, '--data-root', join(dir, 'data'), '--exec-root', join(run, 'exec'), '--pidfile', join(run, 'pid'), '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--insecure-registry', registryHost], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const env2 = { ...env, DOCKER_HOST: `unix://${sock}` };
  for (let i = 0; i < 200 && proc.exitCode === null; i++) {
    if (existsSync(sock) && ready(env2)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (proc.exitCode !== null || !ready(env2)) {
    await stopProcess(proc);
    spawnSync('umount', ['-R', join(run, 'exec')], { stdio: 'ignore', timeout: 30_000 });
    spawnSync('umount', ['-R', join(dir, 'data')], { stdio: 'ignore', timeout: 30_000 });
    rmSync(run, { recursive: true, force: true });
    throw new Error(`dockerd ${proc.exitCode !== null ? `exited (${proc.exitCode})` : 'did not answer within 20 s'}: ${readFileSync(log, 'utf8').split('\n').slice(-5).join('\n')}`);
  }
  return {
    proc,
    env: env2,
    async stop() {
      await stopProcess(proc);
      spawnSync('umount', ['-R', join(run, 'exec')], { stdio: 'ignore', timeout: 30_000 });
      spawnSync('umount', ['-R', join(dir, 'data')], { stdio: 'ignore', timeout: 30_000 });
      rmSync(run, { recursive: true, force: true });
    },
  };
}

/**
 * A hakod with its data root under `dir`, as a user runs it (test network names, no iptables, a
 * cgroup beneath ours): `hako pull` through it is the like-for-like figure to `docker pull`
 * (a CLI process, a warm daemon that unpacks).
 */
async function startHakod(dir, registryHost) {
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'hako.sock');
  const net = testNet();
  const cgroup = testCgroupName('bench-pull');
  const log = join(dir, 'hakod.log');
  const fd = openSync(log, 'w');
  const prof = hakodProfDir ? ['--cpu-prof', '--cpu-prof-interval', '100', `--cpu-prof-dir=${hakodProfDir}`] : [];
  const traceFile = withPhases ? join(dir, 'phases.trace') : undefined;
  const proc = spawn(process.execPath, [...prof, join(hakoRepo, 'bin/hakod.cjs'), '-H', `unix://${sock}`, '--data-root', join(dir, 'root'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'hakod.pid'), '--cgroup-parent', cgroup, '--insecure-registry', registryHost, ...daemonNetFlags(net)], { env: traceFile ? { ...env, HAKO_PHASE_TRACE: traceFile } : env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const env2 = { ...env, DOCKER_HOST: `unix://${sock}` };
  for (let i = 0; i < 200 && proc.exitCode === null; i++) {
    if (existsSync(sock) && ready(env2)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = async () => {
    await stopProcess(proc);
    removeCgroupEverywhere(cgroup);
    cleanupNet(net);
  };
  if (proc.exitCode !== null || !ready(env2)) {
    await stop();
    throw new Error(`hakod ${proc.exitCode !== null ? `exited (${proc.exitCode})` : 'did not answer within 10 s'}: ${readFileSync(log, 'utf8').split('\n').slice(-5).join('\n')}`);
  }
  return { proc, env: env2, stop, traceFile };
}

/** hakod's phase marks (HAKO_PHASE_TRACE) between two CLOCK_MONOTONIC times, in ms since `from`. */
function hakodPhases(traceFile, from, to) {
  const out = {};
  if (!traceFile || !existsSync(traceFile)) return out;
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    const m = /^hako-phase (\S+) (\S+) ([\d.]+)(?: [\d.]+ [\d.]+)?$/.exec(line);
    if (!m || (m[1] !== 'pull' && m[1] !== '-')) continue;
    const t = Number(m[3]);
    if (t < from || t > to) continue;
    out[m[2]] ??= t - from;
  }
  return out;
}


const loadStart = readFileSync('/proc/loadavg', 'utf8').trim();
const results = [];
let registry;
let dockerd;
let hakod;
const hasDocker = !noDocker && (existsSync('/usr/bin/dockerd') || existsSync('/usr/sbin/dockerd'));

/** The warm-up image: two small files of random bytes, shared with no other image. */
function warmupTar() {
  const root = join(work, 'warmup-root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'warmup'), randomBytes(4096).toString('hex'));
  writeFileSync(join(root, 'warmup.bin'), randomBytes(16384));
  const out = join(work, 'warmup.tar');
  sh('tar', ['--numeric-owner', '-C', root, '-cf', out, '.']);
  return out;
}
try {
  registry = await startRegistry();
  const makers = { busybox: busyboxTar, debian: debianTar };
  const images = Object.fromEntries(Object.entries(makers).filter(([n]) => !onlyImages || onlyImages.includes(n)).map(([n, f]) => [n, layout(n, f())]));
  for (const [name, img] of Object.entries(images)) {
    sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${img.dir}:latest`, `docker://${registry.host}/bench/${name}:latest`]);
  }
  const warmRef = `${registry.host}/bench/warmup:latest`;
  if (withWarm) sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout('warmup', warmupTar()).dir}:latest`, `docker://${warmRef}`]);
  const modes = withWarm ? ['fresh', 'warm'] : ['fresh'];
  const m = Object.fromEntries(modes.map((mode) => [mode, Object.fromEntries(Object.keys(images).map((n) => [n, { hako: [], hakoCli: [], hakodCpu: [], hakodRss: [], phases: [], cliPhases: [], hakoProc: [], hakoCpu: [], rss: [], floor: [], docker: [], dockerCpu: [] }]))]));
  for (let i = 0; i < runs; i++) {
    for (const mode of modes) {
      const tag = `${mode}-${i}`;
      if (hasDocker) {
        dockerd = await startDockerd(join(work, `dockerd-${tag}`), registry.host);
        await settle(dockerd.proc.pid);
      }
      hakod = await startHakod(join(work, `hakod-${tag}`), registry.host);
      await settle(hakod.proc.pid);
      if (mode === 'warm') {
        // Each daemon serves one unrelated pull first, then idles as a user's would between pulls
        // (hakod trims its heap after 1 s idle).
        sh(hakoCmd, ['pull', '-q', warmRef], { env: hakod.env });
        if (dockerd) sh('docker', ['pull', '-q', warmRef], { env: dockerd.env });
        await new Promise((r) => setTimeout(r, 1500));
        await settle(hakod.proc.pid);
        if (dockerd) await settle(dockerd.proc.pid);
      }
      for (const name of Object.keys(images)) {
        const ref = `${registry.host}/bench/${name}:latest`;
        const r0 = m[mode][name];
        const hako = () => {
          const root = join(work, `hako-${name}-${tag}`);
          let r;
          const wall = timeIt(() => (r = spawnSync(process.execPath, [join(repo, 'bench/pull-worker.mjs'), root, ref, ...(withPhases ? ['--phases'] : [])], { env, encoding: 'utf8', timeout: LIMIT, killSignal: 'SIGKILL' })));
          if (r.status !== 0) throw new Error(`hako pull failed${r.error ? ` (${r.error.code})` : ''}: ${r.stderr}`);
          const out = JSON.parse(r.stdout.trim().split('\n').pop());
          r0.hako.push(out.ms);
          r0.hakoProc.push(wall);
          r0.hakoCpu.push(out.cpuS);
          r0.rss.push(out.maxRssMB);
          if (out.phases) r0.phases.push(out.phases);
          if (deleteBetween) rmSync(root, { recursive: true, force: true });
        };
        const floor = () => {
          const oci = join(work, `floor-${name}-${tag}`);
          const dest = join(work, `floor-x-${name}-${tag}`);
          r0.floor.push(
            timeIt(() => {
              sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${oci}:latest`]);
              mkdirSync(dest);
              const idx = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
              const man = JSON.parse(readFileSync(join(oci, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
              for (const l of man.layers) sh('tar', ['-xzf', join(oci, 'blobs/sha256', l.digest.slice(7)), '-C', dest]);
            }),
          );
          if (deleteBetween) {
            rmSync(oci, { recursive: true, force: true });
            rmSync(dest, { recursive: true, force: true });
          }
        };
        const hakoCli = () => {
          const c0 = cpuSeconds(hakod.proc.pid);
          const from = Number(process.hrtime.bigint()) / 1e6;
          r0.hakoCli.push(timeIt(() => sh(hakoCmd, ['pull', '-q', ref], { env: hakod.env })));
          if (withPhases) r0.cliPhases.push({ ...hakodPhases(hakod.traceFile, from, Number(process.hrtime.bigint()) / 1e6), 'CLI exited': r0.hakoCli[r0.hakoCli.length - 1] });
          r0.hakodCpu.push(cpuSeconds(hakod.proc.pid) - c0);
          r0.hakodRss.push(hwmOf(hakod.proc.pid));
        };
        const docker = () => {
          if (!dockerd) return;
          const c0 = cpuSeconds(dockerd.proc.pid);
          r0.docker.push(timeIt(() => sh('docker', ['pull', '-q', ref], { env: dockerd.env })));
          r0.dockerCpu.push(cpuSeconds(dockerd.proc.pid) - c0);
          if (deleteBetween) sh('docker', ['rmi', '-f', ref], { env: dockerd.env });
        };
        // Each run starts with another tool, so that none always goes first (or right after
        // dockerd's start-up, or always runs into the previous tool's writeback). The in-process
        // row is a fresh process whatever the daemons did: the warm pass leaves it out.
        const order = mode === 'warm' ? [hakoCli, floor, docker] : [hako, hakoCli, floor, docker];
        for (let k = 0; k < order.length; k++) order[(k + i) % order.length]();
      }
      if (dockerd) {
        await dockerd.stop();
        dockerd = undefined;
      }
      await hakod.stop();
      hakod = undefined;
    }
  }
  for (const mode of modes) {
    for (const [name, img] of Object.entries(images)) {
      const r0 = m[mode][name];
      const med = (xs) => (xs.length ? median(xs) : undefined);
      results.push({ mode, name, img, hakoCli: median(r0.hakoCli), hakodCpu: median(r0.hakodCpu), hako: med(r0.hako), hakoProc: med(r0.hakoProc), hakoCpu: med(r0.hakoCpu), rss: r0.rss.length ? Math.max(...r0.rss) : undefined, floor: median(r0.floor), docker: med(r0.docker), dockerCpu: med(r0.dockerCpu), all: r0 });
    }
  }
} finally {
  if (dockerd) await dockerd.stop();
  if (hakod) await hakod.stop();
  await registry?.stop();
  for (const d of existsSync(work) ? readdirSync(work) : []) if (d.startsWith('dockerd-')) spawnSync('umount', ['-R', join(work, d, 'data')], { stdio: 'ignore', timeout: 30_000 });
  rmSync(work, { recursive: true, force: true });
  if (freshFs) {
    spawnSync('umount', [freshFs.mnt], { stdio: 'ignore', timeout: 30_000 });
    rmSync(freshFs.mnt, { recursive: true, force: true });
    rmSync(freshFs.img, { force: true });
  }
}
const loadEnd = readFileSync('/proc/loadavg', 'utf8').trim();
const fsName = freshExt4 ? `a fresh loop-mounted ext4 under ${baseDir}` : baseDir;
console.log(`pull benchmark on ${fsName} (${runs} runs each, medians; ${deleteBetween ? 'each run deletes its output at once' : 'outputs deleted after the last run'}; NODE_EXTRA_CA_CERTS unset; load average at start ${loadStart}, at end ${loadEnd})`);
let shownMode;
for (const r of results) {
  const mb = (n) => (n / 1e6).toFixed(1) + ' MB';
  if (withWarm && r.mode !== shownMode) {
    shownMode = r.mode;
    console.log(r.mode === 'fresh' ? ' daemons started fresh for the run (nothing served before):' : ' warm daemons (each served one unrelated small pull, bench/warmup, then idled 1.5 s):');
  }
  const hakodName = r.mode === 'warm' ? 'warm hakod' : 'hakod';
  console.log(`  ${r.name} (${mb(r.img.gzBytes)} gz / ${mb(r.img.tarBytes)} tar)`);
  const paired = (xs) => median(xs.map((x, i) => r.all.hako[i] / x)).toFixed(2);
  if (r.hako !== undefined) {
    console.log(`    hako pull                 ${r.hako.toFixed(0)} ms   peak RSS ${r.rss.toFixed(0)} MB   CPU ${r.hakoCpu.toFixed(2)} s   [${r.all.hako.map((x) => x.toFixed(0)).join(' ')}]`);
    console.log(`      (whole process: node start-up + module loading + pull ${r.hakoProc.toFixed(0)} ms = ${(r.hakoProc / r.floor).toFixed(2)}× the floor${r.docker !== undefined ? `, ${(r.hakoProc / r.docker).toFixed(2)}× docker` : ''})   [${r.all.hakoProc.map((x) => x.toFixed(0)).join(' ')}]`);
  }
  const pairedCli = (xs) => median(xs.map((x, i) => r.all.hakoCli[i] / x)).toFixed(2);
  console.log(`    hako pull (CLI → ${hakodName})${r.mode === 'warm' ? ' ' : '   '}${r.hakoCli.toFixed(0)} ms   = ${(r.hakoCli / r.floor).toFixed(2)}× the floor (runs' own ${pairedCli(r.all.floor)}×)${r.docker !== undefined ? `, ${(r.hakoCli / r.docker).toFixed(2)}× docker (runs' own ${pairedCli(r.all.docker)}×)` : ''}   hakod CPU ${r.hakodCpu.toFixed(2)} s, hakod peak RSS ${Math.max(...r.all.hakodRss).toFixed(0)} MB   [${r.all.hakoCli.map((x) => x.toFixed(0)).join(' ')}]`);
  console.log(`    skopeo copy + tar -xzf    ${r.floor.toFixed(0)} ms${r.hako !== undefined ? `   → hako/floor ${(r.hako / r.floor).toFixed(2)}× (target ≤ 1.2×; median of the runs' own ratios ${paired(r.all.floor)}×)` : ''}   [${r.all.floor.map((x) => x.toFixed(0)).join(' ')}]`);
  if (r.docker !== undefined) console.log(`    docker pull${r.mode === 'warm' ? ' (warm dockerd)' : '               '}${r.mode === 'warm' ? ' ' : ''}${r.docker.toFixed(0)} ms${r.hako !== undefined ? `   → hako/docker ${(r.hako / r.docker).toFixed(2)}× (target ≤ 0.5×; runs' own ${paired(r.all.docker)}×)` : ''}   dockerd CPU ${r.dockerCpu.toFixed(2)} s   [${r.all.docker.map((x) => x.toFixed(0)).join(' ')}]`);
  else console.log(`    docker pull               (${noDocker ? '--no-docker' : 'dockerd not installed: apt-get install docker.io to compare'})`);
}
if (withPhases) {
  console.log('hako pull (CLI → hakod) phases (ms since the CLI was spawned, medians; hakod\'s HAKO_PHASE_TRACE):');
  for (const r of results) {
    if (!r.all.cliPhases.length) continue;
    const keys = [...new Set(r.all.cliPhases.flatMap((p) => Object.keys(p)))];
    const at = (k) => median(r.all.cliPhases.map((p) => p[k]).filter((x) => x !== undefined));
    console.log(`  ${r.name} (${r.mode} daemon)`);
    for (const k of keys.sort((a, b) => at(a) - at(b))) console.log(`    ${at(k).toFixed(1).padStart(8)}  ${k}`);
  }
  console.log('hako pull phases (ms since the pull started, medians; each request: sent, answered, body received):');
  for (const r of results) {
    if (!r.all.phases.length) continue;
    const keys = [...new Set(r.all.phases.flatMap((p) => Object.keys(p)))];
    const at = (k) => median(r.all.phases.map((p) => p[k]).filter((x) => x !== undefined));
    console.log(`  ${r.name}`);
    for (const k of keys.sort((a, b) => at(a) - at(b))) console.log(`    ${at(k).toFixed(1).padStart(8)}  ${k}`);
    console.log(`    ${r.hako.toFixed(1).padStart(8)}  done (record and references written)`);
  }
}
