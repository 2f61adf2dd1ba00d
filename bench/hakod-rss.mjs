// hakod memory benchmark (root): resident memory of an idle daemon, right after start (a few
// read-only requests answered) and after it served a user's first minutes (hello-world loaded,
// four containers run with --rm, two on the default bridge and two with --network none, `ps -a`,
// `images`). "Idle" means no running container in both. A third sample follows a container run
// with --rm on a user-defined network: its embedded DNS thread is then still there (it ends 30 s
// after the last listener closed), so that sample is the daemon with the DNS thread (the addon's
// since session 12; a worker_threads Worker cost ~10 MB before). Target (issue #4): ≤ 50 MB VmRSS.
// Each round starts a fresh daemon (temp root, unique socket, test network names, cgroup beneath
// ours); the medians of the rounds are printed with /proc/<pid>/smaps_rollup's split (anonymous
// vs file-backed: the node binary's touched pages are ~34 MB of a bare `node`'s ~40 MB).
// --breakdown: hakod runs with a small --require probe that, on SIGUSR2, writes
// process.memoryUsage() and V8's heap spaces (the probe's own cost is ~0.3 MB); without it the
// daemon runs exactly as installed.
// Node runs with NODE_EXTRA_CA_CERTS unset (set on this machine; it costs start-up time and memory).
// --runs=N: N container runs instead of four in the second sample (half on the default bridge,
// half with --network none): what a longer stretch of work leaves resident (V8's old generation
// keeps its garbage until its next full GC).
// Usage: node bench/hakod-rss.mjs [rounds=3] [--breakdown] [--esm] [--runs=N]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const breakdown = args.includes('--breakdown');
const esm = args.includes('--esm'); // dist/ modules instead of the bundle (comparison)
// --node=FLAG (repeatable): extra node/V8 flags for hakod, to compare. --entry=PATH: another
// build's bin/hakod.cjs (e.g. a copy of main's bin/, dist/ and build/), to compare.
const entryFlag = args.find((a) => a.startsWith('--entry='))?.slice(8);
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 4);
const nodeFlags = args.filter((a) => a.startsWith('--node=')).map((a) => a.slice(7));
const DOCKER = '/usr/local/bin/docker';
if (process.getuid() !== 0) {
  console.error('bench/hakod-rss: needs root');
  process.exit(1);
}
const { tempDir, testCgroupName, removeCgroupEverywhere } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const sleep = (n) => new Promise((r) => setTimeout(r, n));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function kbOf(text, key) {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}
function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rss: kbOf(status, 'VmRSS'), anon: kbOf(status, 'RssAnon'), file: kbOf(status, 'RssFile'), privateDirty: kbOf(roll, 'Private_Dirty') };
}

const probeDir = tempDir('hakod-rss-probe-');
process.on('exit', () => probeDir.cleanup());
const probe = join(probeDir.path, 'probe.cjs');
writeFileSync(
  probe,
  `'use strict';
process.on('SIGUSR2', () => {
  const v8 = require('node:v8');
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_used_size / 1024) + '/' + Math.round(s.space_size / 1024)]));
  const h = v8.getHeapStatistics();
  require('node:fs').writeFileSync(process.env.HAKO_MEMPROBE_OUT, JSON.stringify({ mem: process.memoryUsage(), spaces, malloced: h.malloced_memory, peakMalloced: h.peak_malloced_memory, external: h.external_memory }));
});
`,
);

const esmEntry = join(dirname(probe), 'hakod-esm.mjs');
// (the daemon's V8 flags set after the modules are loaded, as bin/hakod.cjs does on this path)
writeFileSync(esmEntry, `import { createRequire } from 'node:module';\nimport { main } from ${JSON.stringify(join(repo, 'dist/src/daemon/main.js'))};\ncreateRequire(import.meta.url)(${JSON.stringify(join(repo, 'bin/daemon-v8-flags.cjs'))}).applyDaemonV8Flags();\nmain(process.argv.slice(2));\n`);

async function round() {
  const work = tempDir('hakod-rss-');
  const sock = join(work.path, 'hako.sock');
  const net = testNet();
  const cgroupParent = testCgroupName(`rss-${Math.random().toString(16).slice(2, 8)}`);
  const probeOut = join(work.path, 'probe.json');
  const entry = esm ? esmEntry : (entryFlag ?? join(repo, 'bin/hakod.cjs'));
  const nodeArgs = [...nodeFlags, ...(breakdown ? ['--require', probe] : [])];
  const hakodEnv = { ...env, HAKO_MEMPROBE_OUT: probeOut };
  const proc = spawn(process.execPath, [...nodeArgs, entry, '-H', `unix://${sock}`, '--data-root', join(work.path, 'root'), '--exec-root', join(work.path, 'run'), '--pidfile', join(work.path, 'hakod.pid'), '--cgroup-parent', cgroupParent, ...daemonNetFlags(net)], { env: hakodEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => (log += d));
  const denv = { ...env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(work.path, 'cli') };
  const docker = (...a) => {
    const r = spawnSync(DOCKER, a, { env: denv, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`docker ${a.join(' ')}: ${r.stderr}\n${log}`);
    return r.stdout;
  };
  const probeNow = async () => {
    if (!breakdown) return undefined;
    rmSync(probeOut, { force: true });
    proc.kill('SIGUSR2');
    for (let i = 0; i < 100 && !existsSync(probeOut); i++) await sleep(20);
    await sleep(20);
    return JSON.parse(readFileSync(probeOut, 'utf8'));
  };
  try {
    const deadline = Date.now() + 20_000;
    while (!(existsSync(sock) && spawnSync(DOCKER, ['version'], { env: denv }).status === 0)) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`hakod did not come up: ${log}`);
      await sleep(50);
    }
    docker('info');
    docker('images');
    docker('ps', '-a');
    await sleep(1500);
    const idle = { ...sample(proc.pid), probe: await probeNow() };
    docker('load', '-q', '-i', join(repo, 'build/hello-world.tar'));
    for (let i = 0; i < runs; i++) docker('run', '--rm', '--network', i % 2 ? 'none' : 'bridge', 'hello-world');
    docker('ps', '-a');
    docker('images');
    await sleep(1500);
    const served = { ...sample(proc.pid), probe: await probeNow(), threads: readdirSync(`/proc/${proc.pid}/task`).length };
    docker('network', 'create', 'rssnet');
    docker('run', '--rm', '--network', 'rssnet', 'hello-world');
    await sleep(1500);
    const dns = { ...sample(proc.pid), probe: await probeNow(), threads: readdirSync(`/proc/${proc.pid}/task`).length };
    if (/DNS thread/.test(log)) throw new Error(`the DNS thread failed: ${log}`);
    return { idle, served, dns };
  } finally {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    removeCgroupEverywhere(cgroupParent);
    cleanupNet(net);
    spawnSync('umount', ['-R', join(work.path, 'run')], { stdio: 'ignore' });
    work.cleanup();
  }
}

const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const results = [];
for (let i = 0; i < rounds; i++) results.push(await round());
const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
console.log(`hakod RSS, ${rounds} fresh daemons (${esm ? 'ESM dist/' : 'bundle'}${breakdown ? ', with the memory probe' : ''}${nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : ''}${entryFlag ? `, ${entryFlag}` : ''}); NODE_EXTRA_CA_CERTS unset; load ${load0} → ${load1}`);
for (const when of ['idle', 'served', 'dns']) {
  const xs = results.map((r) => r[when]);
  const m = (k) => median(xs.map((x) => x[k]));
  console.log(`  ${{ idle: 'idle after start    ', served: `idle after ${runs} runs`.padEnd(20), dns: '+ user-network run  ' }[when]} VmRSS ${mb(m('rss'))} (runs: ${xs.map((x) => (x.rss / 1024).toFixed(1)).join(', ')})  anon ${mb(m('anon'))}  file ${mb(m('file'))}  private dirty ${mb(m('privateDirty'))}${when === 'idle' ? '' : `  threads ${m('threads')}`}`);
  if (breakdown) {
    const p = xs[Math.floor(xs.length / 2)].probe;
    const f = (b) => (b / 1048576).toFixed(1);
    console.log(`      memoryUsage: rss ${f(p.mem.rss)} heapTotal ${f(p.mem.heapTotal)} heapUsed ${f(p.mem.heapUsed)} external ${f(p.mem.external)} arrayBuffers ${f(p.mem.arrayBuffers)} MB; malloced ${f(p.malloced)} (peak ${f(p.peakMalloced)}) MB`);
    console.log(`      heap spaces used/committed (KB): ${Object.entries(p.spaces).map(([k, v]) => `${k.replace('_space', '')} ${v}`).join(', ')}`);
  }
}
