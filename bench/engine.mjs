// Engine benchmark, in one run (root; docker CLI at /usr/local/bin/docker, docker-registry; dockerd
// from Debian's docker.io for the comparison):
//   1. `docker run --rm busybox true` with the docker CLI against hakod and against a private
//      dockerd 20.10, twice: on each engine's default network (a bridge) and with --network none.
//      dockerd gets its own --data-root/--exec-root/-H/--pidfile/--cgroup-parent/containerd
//      namespace and, as its bridge, one the bench makes (-b <bench bridge>, with an address of a
//      free test /24) with --iptables=false --ip-forward=false --ip-masq=false: it adds no iptables
//      rule and no docker0, like hakod, which runs with its own test bridge and --iptables=false
//      (hakod still writes its own nft table: that is part of its bridge mode). busybox is loaded
//      with `docker load` of an archive made here (nothing is pulled from the internet).
//      Target: against hakod ≥ 12× faster than against dockerd.
//      `docker version` against each engine is timed alongside: the docker CLI's own fixed cost
//      (start, config, _ping, one request, exit), which bounds the ratio any engine can reach.
//   2. `hako run --rm --network none busybox true` (target: within 1.3× of the docker CLI against hakod),
//      as npm installs it (bench/lib/common.mjs installedCopy: its shebang runs this node directly).
//   3. create → attach → wait → start → (output, exit) → remove through the API from an in-process
//      client (target ≤ 15 ms median), with two clients taking turns: hako's own client library
//      (raw HTTP/1.1 over a unix-socket pool, connections opened ahead as `hako run` does; the
//      target's row) and node:http (an Agent, a new connection each for attach and wait).
//   4. 100 containers started concurrently by 10 clients, all running at once, then removed: no
//      error, nothing left (containers, monitors, mounts, cgroups, state dirs).
//   5. hakod idle RSS (target ≤ 50 MB) and hako-monitor RSS per running container (target ≤ 1.5 MB).
// The three `run` commands are timed in turns (docker → hakod, hako → hakod, docker → dockerd;
// the first two swap places every other round, so that each CLI follows the other's container as
// often as it follows no container), so load from other work on the machine weighs on each alike. Exec-roots are tmpfs mounts of the
// bench's own (as /run is on a normal host; --exec-root-on-disk keeps them on the disk).
// Node commands run with NODE_EXTRA_CA_CERTS unset (this machine sets it globally: it adds ~70 ms
// to every Node start, and a user's machine normally has it unset). Ctrl-C cleans up too.
// --phases: hakod runs with HAKO_PHASE_TRACE (src/engine/phase-trace.ts) and the API sequence is
// broken down by the engine's phase marks and the client's own timestamps (one clock: CLOCK_MONOTONIC);
// the CLI runs also get the API server's arrival and answer of each request (`req.<METHOD>:<path>`).
// --api-only: only the API sequence (no CLI runs, no 100 containers), for iterating on the engine.
// --gap=<ms>: an idle gap before each API sequence, so the work a sequence leaves to after its
// answers (cleanup, file deletion) is over before the next one begins: one sequence's latency on
// an idle engine. Without it (the default), sequences follow back to back and each one also
// pays, on 2 CPUs, for the background work of the one before.
// --versus=<checkout>: a second hakod, from another built checkout of hako (e.g. a worktree of the
// base commit), runs beside the first; the API sequence takes turns between the two daemons,
// sequence by sequence, both with hako's own client (rows `hako client` and `versus <checkout>`;
// no node:http rows). Load from other work then weighs on both alike: the way to compare two
// builds on a shared machine, where medians drift by 2× over minutes. Without --api-only, each
// `docker run` (bridge, none) against hakod is also run against the versus hakod in the same
// round (by turns, first or after), with rows of the per-round differences.
// --cpu-prof=<dir>: hakod runs with node's --cpu-prof, the profile lands in <dir> when it stops.
// --v8-flags=<flags>: the first hakod (not the --versus one) runs with HAKOD_V8_FLAGS=<flags>
// (src/daemon/memory.ts; "" = V8's defaults), e.g. to weigh the daemon's V8 flags with --versus=<this checkout>.
// Every command and request has a time limit (--cmd-timeout=<s>, default 60): a hang is reported
// with the command, and the daemon's log tail, instead of stalling the bench. A dockerd that
// times out is dropped from the rest of the run (noted) and the other rows still come out.
// --fresh-ext4: the data roots (and everything else of the run) on a new loop-mounted ext4 with a
// journal under /var/tmp, as a user's /var/lib normally is. This machine's root fs has no journal:
// each new inode skips every inode freed in the last ~30 s (ext4's recently_deleted()), so each
// file or directory a create makes costs 0.4–0.8 ms there instead of tens of µs (both engines
// pay it; see docs/NOTES.md).
// Usage: node bench/engine.mjs [iterations=20] [--no-dockerd] [--phases] [--api-only] [--versus=<checkout>] [--gap=<ms>] [--api-network=<mode>] [--exec-root-on-disk] [--fresh-ext4] [--cpu-prof=<dir>] [--v8-flags=<flags>] [--cmd-timeout=<s>]
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { createConnection } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installedCopy, stopChild } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const phases = args.includes('--phases');
const apiOnly = args.includes('--api-only');
const withDockerd = !args.includes('--no-dockerd') && !apiOnly;
const versusDir = args.find((a) => a.startsWith('--versus='))?.slice('--versus='.length);
const cpuProfDir = args.find((a) => a.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length);
const v8Flags = args.find((a) => a.startsWith('--v8-flags='))?.slice('--v8-flags='.length);
// --api-network=<mode>: the API sequences' NetworkMode (default none; e.g. bridge, the docker CLI's default).
const apiNetwork = args.find((a) => a.startsWith('--api-network='))?.slice('--api-network='.length) ?? 'none';
const gapMs = Number(args.find((a) => a.startsWith('--gap='))?.slice('--gap='.length) ?? 0);
const cmdTimeoutMs = 1000 * Number(args.find((a) => a.startsWith('--cmd-timeout='))?.slice('--cmd-timeout='.length) ?? 60);
const DOCKER = '/usr/local/bin/docker';
if (process.getuid() !== 0) {
  console.error('bench/engine: needs root');
  process.exit(1);
}
for (const [what, path] of [['the docker CLI', DOCKER], ['docker-registry', '/usr/bin/docker-registry']]) {
  if (!existsSync(path)) {
    console.error(`bench/engine: needs ${what} (${path})`);
    process.exit(1);
  }
}
const { makeBusyboxRootfs, tempDir, testCgroupName, removeCgroupEverywhere, cgroupDirs, mountsUnder } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
const { Client: HakoClient, readAll: readAllBody } = await import(join(repo, 'dist/src/cli/client.js'));
const { busyboxImage, pushLayout, dockerSaveArchive } = await import(join(repo, 'dist/test/helpers/images.js'));
// Unique bridge/table/interface names and --iptables=false: never hako0 or the host's FORWARD chain.
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
const hakodNet = testNet();
const versusNet = testNet(); // the --versus daemon's
const dockerdNet = testNet(); // only its bridge name and /24: dockerd's -b bridge, made by the bench

const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const sleep = (n) => new Promise((r) => setTimeout(r, n));
const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
const results = [];
const notes = [];
const progress = (m) => process.stderr.write(`bench/engine: ${m}\n`);
const row = (what, times, cpu) => results.push({ what, median: median(times), p90: pct(times, 0.9), ...(cpu ? { cpuMain: median(cpu.main), cpuAll: median(cpu.all) } : {}) });

/** A command that ran past its time limit (killed with SIGKILL). */
class CommandTimeout extends Error {}

/** spawnSync with the bench's time limit; a hang or a failure throws with the command named. */
function runChecked(argv, cmdEnv, timeout = cmdTimeoutMs) {
  const r = spawnSync(argv[0], argv.slice(1), { env: cmdEnv, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
  if (r.error?.code === 'ETIMEDOUT' || (r.signal === 'SIGKILL' && r.status === null)) throw new CommandTimeout(`${argv.join(' ')}: no answer within ${timeout / 1000} s (killed; --cmd-timeout=<s> changes the limit)`);
  if (r.error) throw new Error(`${argv.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} → ${r.status ?? r.signal}: ${r.stderr}`);
  return r;
}

function timeCommand(argv, cmdEnv, n, warm = 2) {
  const times = [];
  for (let i = 0; i < n + warm; i++) {
    const t0 = process.hrtime.bigint();
    runChecked(argv, cmdEnv);
    const t = ms(t0);
    if (i >= warm) times.push(t);
  }
  return times;
}

// ---------------------------------------------------------------- a small API client

function apiClient(socketPath) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const r = request({ socketPath, agent, method, path: `/v1.44${path}`, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode >= 400) reject(new Error(`${method} ${path} → ${res.statusCode} ${text}`));
          else if (!text) resolve(undefined);
          else if (/json/.test(res.headers['content-type'] ?? '')) resolve(JSON.parse(text));
          else resolve(text);
        });
      });
      r.setTimeout(cmdTimeoutMs, () => r.destroy(new Error(`${method} ${path}: no answer within ${cmdTimeoutMs / 1000} s`)));
      r.on('error', reject);
      r.end(data);
    });
  /** A request whose answer headers come first and body later (wait). */
  const pending = (method, path) =>
    new Promise((resolveHead, reject) => {
      const r = request({ socketPath, method, path: `/v1.44${path}`, agent: false }, (res) => {
        const chunks = [];
        const body = new Promise((resolve) => {
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
        });
        resolveHead({ body }); // not the promise itself: resolve() would adopt it
      });
      r.setTimeout(cmdTimeoutMs, () => r.destroy(new Error(`${method} ${path}: no answer within ${cmdTimeoutMs / 1000} s`)));
      r.on('error', reject);
      r.end();
    });
  /** Hijacked attach: resolves after the 101; `done` resolves with the output when the stream ends. */
  const attach = (id) =>
    new Promise((resolve, reject) => {
      const sock = createConnection(socketPath);
      sock.setTimeout(cmdTimeoutMs, () => sock.destroy(new Error(`attach ${id}: no end of stream within ${cmdTimeoutMs / 1000} s`)));
      let buf = Buffer.alloc(0);
      let head = false;
      let resolveDone;
      const done = new Promise((r) => (resolveDone = r));
      sock.on('error', reject);
      sock.on('data', (b) => {
        buf = Buffer.concat([buf, b]);
        if (!head) {
          const i = buf.indexOf('\r\n\r\n');
          if (i < 0) return;
          head = true;
          if (!buf.subarray(0, 12).toString().includes('101')) return reject(new Error(buf.toString()));
          buf = buf.subarray(i + 4);
          resolve({ done });
        }
      });
      sock.on('close', () => resolveDone(buf));
      sock.write(`POST /v1.44/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    });
  return { call, pending, attach, close: () => agent.destroy() };
}

/**
 * The same calls through hako's own client library (dist/src/cli/client.js: a raw HTTP/1.1 client
 * on a pool of unix-socket connections; `prewarm(n)` opens connections ahead, as `hako run` does).
 */
function hakoApiClient(socketPath) {
  const client = new HakoClient({ host: `unix://${socketPath}`, explicit: true });
  const split = (path) => {
    const [p, q] = path.split('?');
    return { p, query: q ? Object.fromEntries(new URLSearchParams(q)) : undefined };
  };
  const limit = (what, p) => {
    let timer;
    const t = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${cmdTimeoutMs / 1000} s`)), cmdTimeoutMs)));
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  };
  const call = (method, path, body) => {
    const { p, query } = split(path);
    return limit(`${method} ${path}`, client.json(method, p, { ...(query ? { query } : {}), ...(body === undefined ? {} : { body }) }).then((v) => v ?? undefined));
  };
  const pending = async (method, path) => {
    const { p, query } = split(path);
    const res = await limit(`${method} ${path}`, client.raw(method, p, { ...(query ? { query } : {}) }));
    return { body: limit(`${method} ${path} (body)`, readAllBody(res).then((b) => JSON.parse(b.toString()))) };
  };
  const attach = async (id) => {
    const { socket, head } = await limit(`attach ${id}`, client.hijack('POST', `/containers/${id}/attach`, { query: { stream: '1', stdout: '1', stderr: '1' } }));
    const chunks = [head];
    const done = limit(`attach ${id} (end of stream)`, new Promise((resolve) => {
      socket.on('data', (b) => chunks.push(b));
      socket.on('error', () => resolve(Buffer.concat(chunks)));
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('end', () => resolve(Buffer.concat(chunks)));
    }));
    return { done };
  };
  return { call, pending, attach, prewarm: (n) => client.prewarm(n), close: () => client.close() };
}

// ---------------------------------------------------------------- daemons

/**
 * Exec-roots on a tmpfs of our own, as /run is on a normal host (here /run is on the disk):
 * runtime state, bundles and monitor dirs live there, and their fsyncs are free on tmpfs. Both
 * engines get one. --exec-root-on-disk keeps them on the disk.
 */
const onDisk = args.includes('--exec-root-on-disk');
function execRootDir(path) {
  mkdirSync(path, { recursive: true, mode: 0o711 });
  if (!onDisk) {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=0711,size=1g', 'tmpfs', path]);
    if (r.status !== 0) throw new Error(`mount tmpfs on ${path}: ${r.stderr}`);
  }
  return path;
}

async function startHakod(work, checkout = repo, net = hakodNet) {
  mkdirSync(work, { recursive: true });
  const sock = join(work, 'hako.sock');
  execRootDir(join(work, 'run'));
  const cgroupParent = testCgroupName(checkout === repo ? 'bench-engine' : 'bench-engine-versus');
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const logFile = join(work, 'hakod.log');
  const proc = spawn(process.execPath, [...nodeArgs, join(checkout, 'bin/hakod.cjs'), '-H', `unix://${sock}`, '--data-root', join(work, 'root'), '--exec-root', join(work, 'run'), '--pidfile', join(work, 'hakod.pid'), '--cgroup-parent', cgroupParent, ...daemonNetFlags(net)], { env: { ...env, ...(phases ? { HAKO_PHASE_TRACE: join(work, 'phases.log') } : {}), ...(v8Flags !== undefined && checkout === repo && net === hakodNet ? { HAKOD_V8_FLAGS: v8Flags } : {}) }, stdio: ['ignore', 'ignore', logTo(logFile)] });
  closeLogFds();
  const log = () => readIf(logFile);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`hakod exited: ${log()}`);
    if (existsSync(sock) && spawnSync(DOCKER, ['version'], { env: { ...env, DOCKER_HOST: `unix://${sock}` }, timeout: 5000 }).status === 0) break;
    if (Date.now() > deadline) throw new Error(`hakod did not come up: ${log()}`);
    await sleep(50);
  }
  const stop = async () => {
    if (proc.exitCode !== null) {
      cleanupNet(net);
      return;
    }
    await stopChild(proc);
    removeCgroupEverywhere(cgroupParent);
    cleanupNet(net);
  };
  return { sock, proc, log, phaseLog: join(work, 'phases.log'), stop, cgroupParent, root: join(work, 'root'), execRoot: join(work, 'run') };
}

async function startDockerd(work) {
  const root = join(work, 'dockerd');
  mkdirSync(root, { recursive: true });
  const sock = join(root, 'docker.sock');
  const cgroupParent = `hako-bench-dockerd-${process.pid}`;
  execRootDir(join(root, 'exec'));
  // dockerd's default network on a bridge of ours (dockerd would otherwise make docker0 and, with
  // iptables on, its chains): the bench deletes it at the end (cleanupNet).
  for (const a of [['link', 'add', dockerdNet.bridge, 'type', 'bridge'], ['addr', 'add', dockerdNet.bip, 'dev', dockerdNet.bridge], ['link', 'set', dockerdNet.bridge, 'up']]) runChecked(['ip', ...a], env, 10_000);
  const logFile = join(root, 'dockerd.log');
  const proc = spawn('dockerd', ['--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge', dockerdNet.bridge, '--data-root', join(root, 'data'), '--exec-root', join(root, 'exec'), '--pidfile', join(root, 'dockerd.pid'), '-H', `unix://${sock}`, '--containerd-namespace', 'hako-bench', '--containerd-plugins-namespace', 'hako-bench-plugins', '--cgroup-parent', `/${cgroupParent}`], { stdio: ['ignore', 'ignore', logTo(logFile)] });
  closeLogFds();
  const log = () => readIf(logFile);
  const denv = { ...env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(root, 'cli') };
  const deadline = Date.now() + 60_000;
  while (spawnSync(DOCKER, ['version'], { env: denv, timeout: 5000 }).status !== 0) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      throw new Error(`dockerd did not come up: ${log().slice(-1500)}`);
    }
    await sleep(200);
  }
  const stop = async () => {
    try {
      await stopDaemon();
    } finally {
      cleanupNet(dockerdNet);
    }
  };
  const stopDaemon = async () => {
    const containerdPid = Number(readIf(join(root, 'exec', 'containerd', 'containerd.pid')));
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    if (containerdPid > 0 && alive(containerdPid)) process.kill(containerdPid, 'SIGKILL');
    for (const m of mountsUnder(root).reverse()) spawnSync('umount', ['-l', m]);
    for (const d of cgroupDirsAbs(cgroupParent)) spawnSync('rmdir', [d]);
  };
  return { env: denv, stop, log };
}

/**
 * A daemon's stderr goes to a file, never to a pipe of ours: the bench blocks its event loop in
 * spawnSync for minutes, nobody would drain the pipe, and a daemon writing its log into a full
 * pipe blocks (dockerd holds its log mutex there, and then answers nothing: that was the
 * "docker run against dockerd hangs" of session 3; containerd's log goes through dockerd's).
 */
const logFds = [];
function logTo(path) {
  logFds.push(openSync(path, 'a', 0o600));
  return logFds.at(-1);
}
/** Our copies, once the daemon has its own. */
function closeLogFds() {
  for (const fd of logFds.splice(0)) closeSync(fd);
}

function readIf(p) {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '';
  }
}
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
/** /<name> in every cgroup hierarchy (dockerd's --cgroup-parent is absolute). */
function cgroupDirsAbs(name) {
  const out = [];
  const base = '/sys/fs/cgroup';
  const walk = (d, depth) => {
    if (existsSync(join(d, name))) out.push(join(d, name));
    if (depth === 0) return;
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && !existsSync(join(d, 'cgroup.procs'))) walk(join(d, e.name), depth - 1);
  };
  if (existsSync(base)) walk(base, 1);
  return out;
}

// ---------------------------------------------------------------- leftovers

function monitorsUnder(execRoot) {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = readIf(`/proc/${p}/cmdline`).split('\0');
    if (cmd[0]?.endsWith('hako-monitor') && cmd.includes('--dir') && cmd[cmd.indexOf('--dir') + 1]?.startsWith(execRoot)) out.push(Number(p));
  }
  return out;
}

function leftovers(h, client) {
  const found = [];
  const mounts = mountsUnder(h.root).concat(mountsUnder(h.execRoot)).filter((m) => m !== h.execRoot); // the exec-root's own tmpfs is ours
  if (mounts.length) found.push(`mounts: ${mounts.join(', ')}`);
  const mons = monitorsUnder(h.execRoot);
  if (mons.length) found.push(`monitors: ${mons.join(', ')}`);
  for (const d of ['containers', 'monitors']) {
    const p = join(h.execRoot, d);
    if (existsSync(p) && readdirSync(p).length) found.push(`${p}: ${readdirSync(p).length} entries`);
  }
  const rt = join(h.execRoot, 'runtime');
  if (existsSync(rt) && readdirSync(rt).filter((e) => !e.startsWith('.')).length) found.push(`${rt}: ${readdirSync(rt).join(', ')}`);
  const recs = join(h.root, 'containers');
  if (existsSync(recs) && readdirSync(recs).length) found.push(`${recs}: ${readdirSync(recs).length} records`);
  for (const d of cgroupDirs(h.cgroupParent)) {
    const kids = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory());
    if (kids.length) found.push(`cgroups under ${d}: ${kids.length}`);
  }
  return found;
}

// ---------------------------------------------------------------- --phases

function traceSize() {
  try {
    return readFileSync(hakod.phaseLog).length;
  } catch {
    return 0;
  }
}

/** hakod's phase marks by container id, and the offset of each id's first mark in the file. */
function readTrace() {
  const byId = new Map();
  const firstAt = new Map();
  const text = readIf(hakod.phaseLog);
  let off = 0;
  for (const line of text.split('\n')) {
    // (marks made at the time carry hakod's main-thread and whole-process CPU ms: phase-trace.ts)
    const m = /^hako-phase (\S+) (\S+) ([\d.]+)(?: ([\d.]+) ([\d.]+))?$/.exec(line);
    if (m) {
      if (!byId.has(m[1])) {
        byId.set(m[1], []);
        firstAt.set(m[1], off);
      }
      byId.get(m[1]).push([m[2], Number(m[3]), ...(m[4] === undefined ? [] : [Number(m[4]), Number(m[5])])]);
    }
    off += Buffer.byteLength(line) + 1;
  }
  return { byId, firstAt };
}

/**
 * The engine's marks and the client's, per container, in time order; the median of each step
 * (from the mark before it), in the order of the first container's steps.
 */
function breakdown(title, runs, byId) {
  const steps = new Map();
  for (const { id, marks } of runs) {
    // The API server's per-request marks (id "-": _ping, create, …) within the run's span, with
    // container IDs in their paths shortened to "ID".
    const from = marks[0][1];
    const to = marks.at(-1)[1];
    const requests = (byId.get('-') ?? []).filter(([, t]) => t >= from && t <= to).map(([p, t]) => [p.replace(/[0-9a-f]{64}/g, 'ID'), t]);
    const all = [...marks, ...(byId.get(id) ?? []), ...requests].sort((a, b) => a[1] - b[1]);
    // hakod's CPU from its last mark that carries it (the client's and the executor's do not).
    let lastCpu;
    for (let k = 1; k < all.length; k++) {
      const key = `${all[k - 1][0]} → ${all[k][0]}`;
      if (!steps.has(key)) steps.set(key, { t: [], main: [], all: [] });
      const s = steps.get(key);
      s.t.push(all[k][1] - all[k - 1][1]);
      if (all[k].length > 2) {
        if (lastCpu) {
          s.main.push(all[k][2] - lastCpu[2]);
          s.all.push(all[k][3] - lastCpu[3]);
        }
        lastCpu = all[k];
      }
    }
  }
  results.push({ what: title, heading: true });
  for (const [key, { t: v, main, all }] of steps) {
    if (v.length < runs.length / 2) continue;
    // The executor's per-op marks (op.<i>.…): only the steps that cost something.
    if (/^op\.\d+\..* → op\.\d+\./.test(key) && median(v) < 0.1 && pct(v, 0.9) < 0.2) continue;
    row(`    ${key}`, v, main.length >= v.length / 2 ? { main, all } : undefined);
  }
}

/**
 * One run's critical path at a glance: each mark's median offset from the run's first mark (the
 * CLI's spawn), in the order of those medians (a mark seen in fewer than half the runs is left out;
 * a mark made more than once counts at its first time).
 */
function timeline(title, runs, byId) {
  const at = new Map();
  for (const { id, marks } of runs) {
    const from = marks[0][1];
    const to = marks.at(-1)[1];
    const requests = (byId.get('-') ?? []).filter(([, t]) => t >= from && t <= to).map(([p, t]) => [p.replace(/[0-9a-f]{64}/g, 'ID'), t]);
    const seen = new Set();
    for (const [name, t] of [...marks, ...(byId.get(id) ?? []), ...requests].sort((a, b) => a[1] - b[1])) {
      if (seen.has(name)) continue;
      seen.add(name);
      if (!at.has(name)) at.set(name, []);
      at.get(name).push(t - from);
    }
  }
  results.push({ what: title, heading: true });
  const rows = [...at].filter(([, v]) => v.length >= runs.length / 2).map(([name, v]) => [name, median(v), pct(v, 0.9)]).sort((a, b) => a[1] - b[1]);
  let last = 0;
  for (const [name, m, p90] of rows) {
    if (/^op\.\d+\./.test(name) && !/^op\.(1|121)\./.test(name)) continue;
    results.push({ what: `    +${m.toFixed(1).padStart(5)} ms (Δ${(m - last).toFixed(1).padStart(4)}, p90 +${p90.toFixed(1)})  ${name}`, text: true });
    last = m;
  }
}

// ---------------------------------------------------------------- the run

const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const freshExt4 = args.includes('--fresh-ext4');
let freshFs;
if (freshExt4) {
  const img = `/var/tmp/hako-engine-bench-${process.pid}.ext4`;
  const mnt = `/var/tmp/hbe${process.pid}`; // short: dockerd's sockets live below it (sun_path ≤ 107)
  spawnSync('truncate', ['-s', '4G', img], { timeout: 30_000 });
  const mk = spawnSync('mkfs.ext4', ['-q', '-F', img], { encoding: 'utf8', timeout: 120_000 });
  mkdirSync(mnt);
  const mo = spawnSync('mount', ['-o', 'loop', img, mnt], { encoding: 'utf8', timeout: 30_000 });
  if (mk.status !== 0 || mo.status !== 0) {
    if (mo.status === 0) spawnSync('umount', [mnt]);
    rmSync(img, { force: true });
    rmSync(mnt, { recursive: true, force: true });
    console.error(`bench/engine: cannot make a loop ext4: ${mk.stderr}${mo.stderr}`);
    process.exit(1);
  }
  freshFs = { img, mnt };
}
const work = freshFs
  ? { path: mkdtempSync(join(freshFs.mnt, 'e-')), cleanup: () => {
        if (spawnSync('umount', [freshFs.mnt], { stdio: 'ignore', timeout: 30_000 }).status !== 0) spawnSync('umount', ['-l', freshFs.mnt], { stdio: 'ignore', timeout: 30_000 });
        rmSync(freshFs.mnt, { recursive: true, force: true });
        rmSync(freshFs.img, { force: true });
      } }
  : tempDir('hako-bench-engine-');
let hakod;
let versus;
let venv; // the docker CLI's environment for the --versus hakod
let dockerd;
let reg;
let img;
let cleanedUp = false;
const bail = (why) => {
  console.error(`bench/engine: ${why}: cleaning up`);
  void cleanup().finally(() => process.exit(1));
};
process.on('SIGINT', () => bail('interrupted'));
process.on('SIGTERM', () => bail('terminated'));
process.on('uncaughtException', (e) => bail(e.stack ?? String(e)));
try {
  // The image: the test busybox, pushed to a local registry, pulled into hakod as busybox:latest.
  progress('registry + image');
  reg = await startRegistry();
  img = busyboxImage();
  await pushLayout(img, reg.host, 'bench/busybox');
  progress('starting hakod');
  hakod = await startHakod(work.path);
  // Idle: started, answered a few requests, nothing pulled or run yet. Sampled 1.5 s after the
  // last answer, as bench/hakod-rss.mjs does: hakod's idle upkeep (malloc_trim; once, the start-up
  // collection) runs after 1 s without requests, and a sample at 1 s fell on either side of it.
  {
    const c = apiClient(hakod.sock);
    for (const p of ['/_ping', '/version', '/info', '/images/json', '/containers/json']) await c.call('GET', p).catch(() => undefined);
    c.close();
    await sleep(1500);
  }
  const idleRss = rssKb(hakod.proc.pid);
  const henv = { ...env, DOCKER_HOST: `unix://${hakod.sock}`, HAKO_HOST: `unix://${hakod.sock}`, DOCKER_CONFIG: join(work.path, 'cli') };
  const ok = (argv, e = henv) => runChecked(argv, e).stdout;
  ok([DOCKER, 'pull', '-q', `${reg.host}/bench/busybox`]);
  ok([DOCKER, 'tag', `${reg.host}/bench/busybox`, 'busybox:latest']);
  if (versusDir) {
    progress(`starting the versus hakod (${versusDir})`);
    versus = await startHakod(join(work.path, 'versus'), versusDir, versusNet);
    venv = { ...henv, DOCKER_HOST: `unix://${versus.sock}` };
    ok([DOCKER, 'pull', '-q', `${reg.host}/bench/busybox`], venv);
    ok([DOCKER, 'tag', `${reg.host}/bench/busybox`, 'busybox:latest'], venv);
  }
  await sleep(500);
  const pulledRss = rssKb(hakod.proc.pid);

  // dockerd next, so the three commands can be timed in turns: whatever else loads the machine
  // then weighs on each of them alike (this machine kind is shared; medians drift by 2× over minutes).
  progress('dockerd');
  const denvOk = async () => {
    if (!withDockerd) {
      notes.push('dockerd skipped (--no-dockerd)');
      return undefined;
    }
    try {
      dockerd = await startDockerd(work.path);
      ok([DOCKER, 'load', '-q', '-i', dockerSaveArchive(work.path, 'bench/engine.mjs')], dockerd.env);
      return dockerd.env;
    } catch (err) {
      notes.push(`dockerd skipped: ${err.message.split('\n')[0]}`);
      if (dockerd) notes.push(`dockerd log tail: ${dockerd.log().slice(-800)}`);
      return undefined;
    }
  };
  let denv = await denvOk();
  progress('docker CLI → hakod (bridge, none), hako CLI → hakod, docker CLI → dockerd (bridge, none), in turns');
  const runArgs = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
  const runArgsDefault = ['run', '--rm', 'busybox', 'true'];
  const dockerHako = [];
  const hakoCli = [];
  const dockerdTimes = [];
  const dockerHakoDefault = [];
  const dockerdDefault = [];
  const versionHako = [];
  const versionDockerd = [];
  const versusDefault = []; // --versus: the docker CLI's two runs against the versus hakod too
  const versusNone = [];
  /** A dockerd run; a hang drops dockerd from the rest of the run with a note (the other rows go on). */
  const dockerdRun = (argv) => {
    if (!denv) return undefined;
    try {
      return timeCommand(argv, denv, 1, 0)[0];
    } catch (err) {
      notes.push(`dockerd dropped: ${err.message.split('\n')[0]}`);
      const saved = `/tmp/hako-bench-engine-dockerd-${process.pid}.log`;
      writeFileSync(saved, dockerd.log());
      notes.push(`dockerd's whole log: ${saved}; its tail: ${dockerd.log().slice(-600)}`);
      denv = undefined;
      return undefined;
    }
  };
  // The hako CLI as npm installs it: pinned to this node (scripts/pin-node.mjs), the checkout's
  // tracked launcher goes through env(1) (~1.5 ms more per run).
  const installed = installedCopy(repo, work.path);
  const cliRuns = { docker: [], hako: [], 'docker-bridge': [] }; // --phases: each run's span in the trace file and its client marks
  const traced = (kind, argv, e) => {
    const from = phases ? traceSize() : 0;
    const t0 = Number(process.hrtime.bigint()) / 1e6;
    const t = timeCommand(argv, e, 1, 0)[0];
    if (phases) cliRuns[kind].push({ from, to: traceSize(), marks: [['cli.spawned', t0], ['cli.exited', t0 + t]] });
    return t;
  };
  for (let i = 0; i < (apiOnly ? 0 : N + 2); i++) {
    const keep = i >= 2; // two warm-up rounds
    // The two CLIs against hakod take turns at going first. A run right after another one's
    // `run --rm` meets hakod still cleaning up that container (its snapshot and files go after the
    // removed answer): the docker CLI, whose requests start ~15 ms after its spawn, pays ~4–5 ms
    // for it, the hako CLI (~30 ms) hardly anything (load 3–5, 30 rounds: docker 40.6 ms after
    // `docker version`, 45.2 after hako's run; hako 58.2 / 57.7). In a fixed order, docker first
    // after `docker version`, the docker CLI never paid it: hako/docker 1.42× that way round,
    // 1.29× the other, where bench/startup.mjs (every run follows another's run) gave 1.24×.
    const runDocker = () => traced('docker', [DOCKER, ...runArgs], henv);
    const runHako = () => traced('hako', [join(installed, 'bin/hako.cjs'), ...runArgs], henv); // exec'd as installed (installedCopy): its shebang's node and flags apply
    // --versus: each docker run right before or after (by turns) the same run against the versus hakod.
    const vs = (argv) => (venv ? timeCommand(argv, venv, 1, 0)[0] : undefined);
    let a;
    let b;
    let vn;
    if (i % 2 === 0) {
      vn = vs([DOCKER, ...runArgs]);
      a = runDocker();
      b = runHako();
    } else {
      b = runHako();
      a = runDocker();
      vn = vs([DOCKER, ...runArgs]);
    }
    const c = dockerdRun([DOCKER, ...runArgs]);
    let d;
    let vd;
    if (i % 2 === 0) {
      d = traced('docker-bridge', [DOCKER, ...runArgsDefault], henv);
      vd = vs([DOCKER, ...runArgsDefault]);
    } else {
      vd = vs([DOCKER, ...runArgsDefault]);
      d = traced('docker-bridge', [DOCKER, ...runArgsDefault], henv);
    }
    const e = dockerdRun([DOCKER, ...runArgsDefault]);
    // The docker CLI's own fixed cost (start, config, _ping, one small request, exit).
    const f = timeCommand([DOCKER, 'version'], henv, 1, 0)[0];
    const g = dockerdRun([DOCKER, 'version']);
    if (!keep) {
      cliRuns.docker.pop();
      cliRuns.hako.pop();
      cliRuns['docker-bridge'].pop();
      continue;
    }
    dockerHako.push(a);
    hakoCli.push(b);
    if (vd !== undefined) versusDefault.push(vd);
    if (vn !== undefined) versusNone.push(vn);
    dockerHakoDefault.push(d);
    if (c !== undefined) dockerdTimes.push(c);
    if (e !== undefined) dockerdDefault.push(e);
    versionHako.push(f);
    if (g !== undefined) versionDockerd.push(g);
  }
  if (!apiOnly) row('docker run --rm busybox true (bridge) → hakod', dockerHakoDefault);
  if (dockerdDefault.length) row('docker run --rm busybox true (bridge) → dockerd 20.10', dockerdDefault);
  if (!apiOnly) row('docker run --rm --network none busybox true → hakod', dockerHako);
  if (dockerdTimes.length) row('docker run --rm --network none … → dockerd 20.10', dockerdTimes);
  if (versusDefault.length) row(`docker run --rm busybox true (bridge) → versus ${versusDir}`, versusDefault);
  if (versusNone.length) row(`docker run --rm --network none busybox true → versus ${versusDir}`, versusNone);
  // Round by round (the two runs were next to each other): hakod's time minus the versus's.
  if (versusDefault.length) row('  bridge, hakod − versus (paired by round)', dockerHakoDefault.map((t, k) => t - versusDefault[k]));
  if (versusNone.length) row('  none, hakod − versus (paired by round)', dockerHako.map((t, k) => t - versusNone[k]));
  if (!apiOnly) row('hako run --rm --network none busybox true → hakod', hakoCli);
  if (!apiOnly) row('docker version → hakod (the CLI\'s fixed cost)', versionHako);
  if (versionDockerd.length) row('docker version → dockerd 20.10', versionDockerd);

  progress('API sequence');
  // 3. API sequence from an in-process client, twice: with hako's own client library (its raw
  // HTTP/1.1 client over a unix-socket pool, src/cli/wire.ts, with connections opened ahead as
  // `hako run` does) and with node:http (an Agent for the plain calls, a new connection for the
  // attach and for the wait). Both run all six steps in the same order and check the output.
  const apiClients = [
    { label: 'hako client', api: hakoApiClient(hakod.sock) },
    versus ? { label: `versus ${versusDir}`, api: hakoApiClient(versus.sock) } : { label: 'node:http', api: apiClient(hakod.sock) },
  ];
  // CPU time of each daemon over the API sequences (user+sys of hakod, its threads and its reaped
  // children: monitors, and through them the containers): unlike latency, barely moved by load
  // from other work, so a change's cost shows in a noisy run too.
  const daemonOf = { 'hako client': hakod, ...(versus ? { [`versus ${versusDir}`]: versus } : {}) };
  const statFields = (path) => {
    const stat = readFileSync(path, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // [11..14]: utime stime cutime cstime
  };
  const cpuMs = (pid) => {
    const all = statFields(`/proc/${pid}/stat`);
    const main = statFields(`/proc/${pid}/task/${pid}/stat`);
    const t = (x) => (x * 1000) / clockTicks;
    return { total: t(all[11] + all[12] + all[13] + all[14]), main: t(main[11] + main[12]), threads: t(all[11] + all[12] - main[11] - main[12]), children: t(all[13] + all[14]) };
  };
  const cpuBefore = Object.fromEntries(Object.entries(daemonOf).map(([k, d]) => [k, cpuMs(d.proc.pid)]));
  const apiRuns = {}; // label → { times, laps, marks, autoTimes, autoLaps }
  for (const { label } of apiClients) apiRuns[label] = { times: [], laps: { create: [], attach: [], wait: [], start: [], exit: [], remove: [] }, marks: [], autoTimes: [], autoLaps: { create: [], attach: [], wait: [], start: [], 'exit+removed': [] } };
  // The clients take turns, iteration by iteration, so load from other work weighs on both alike.
  // With --versus the two daemons swap places every other iteration (each follows the other's
  // sequence, and its background work, as often as it leads).
  const inTurn = (i) => (versus && i % 2 === 1 ? [...apiClients].reverse() : apiClients);
  for (let i = 0; i < N + 3; i++) {
    for (const { label, api } of inTurn(i)) {
      if (gapMs) await sleep(gapMs);
      const r = apiRuns[label];
      let t = process.hrtime.bigint();
      const marks = [['client.create-sent', Number(t) / 1e6]];
      const lap = (k) => {
        const now = process.hrtime.bigint();
        if (i >= 3) r.laps[k].push(Number(now - t) / 1e6);
        marks.push([`client.${k}-answered`, Number(now) / 1e6]);
        t = now;
      };
      const t0 = process.hrtime.bigint();
      api.prewarm?.(3);
      const { Id } = await api.call('POST', '/containers/create', { Image: 'busybox', Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true, HostConfig: { NetworkMode: apiNetwork } });
      lap('create');
      const att = await api.attach(Id);
      lap('attach');
      const { body: waited } = await api.pending('POST', `/containers/${Id}/wait?condition=next-exit`);
      lap('wait');
      await api.call('POST', `/containers/${Id}/start`);
      lap('start');
      const [out, w] = await Promise.all([att.done, waited]);
      lap('exit');
      if (w.StatusCode !== 0 || !out.toString().includes('hi')) throw new Error(`API run (${label}): ${JSON.stringify(w)} ${out}`);
      await api.call('DELETE', `/containers/${Id}`);
      lap('remove');
      if (i >= 3) r.times.push(ms(t0));
      if (i >= 3) r.marks.push({ id: Id, marks });
    }
  }
  // The same with the docker CLI's own calls for `docker run --rm` (its API trace: create with
  // HostConfig.AutoRemove, attach, wait?condition=removed, start; the engine removes the container
  // and the wait answers once it is gone).
  for (let i = 0; i < N + 3; i++) {
    for (const { label, api } of inTurn(i)) {
      if (gapMs) await sleep(gapMs);
      const r = apiRuns[label];
      const t0 = process.hrtime.bigint();
      let t = t0;
      const lap = (k) => {
        const now = process.hrtime.bigint();
        if (i >= 3) r.autoLaps[k].push(Number(now - t) / 1e6);
        t = now;
      };
      api.prewarm?.(3);
      const { Id } = await api.call('POST', '/containers/create', { Image: 'busybox', Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true, HostConfig: { NetworkMode: apiNetwork, AutoRemove: true } });
      lap('create');
      const att = await api.attach(Id);
      lap('attach');
      const { body: waited } = await api.pending('POST', `/containers/${Id}/wait?condition=removed`);
      lap('wait');
      await api.call('POST', `/containers/${Id}/start`);
      lap('start');
      const [out, w] = await Promise.all([att.done, waited]);
      lap('exit+removed');
      if (w.StatusCode !== 0 || !out.toString().includes('hi')) throw new Error(`API run (AutoRemove, ${label}): ${JSON.stringify(w)} ${out}`);
      if (i >= 3) r.autoTimes.push(ms(t0));
    }
  }
  for (const { api } of apiClients) api.close();
  await sleep(300); // the background cleanup of the last sequences
  const cpuPerSequence = Object.fromEntries(Object.entries(daemonOf).map(([k, d]) => {
    const now = cpuMs(d.proc.pid);
    // Each client ran N+3 sequences of each form; without --versus both clients used hakod.
    const sequences = 2 * (N + 3) * (versus ? 1 : apiClients.length);
    return [k, Object.fromEntries(Object.keys(now).map((f) => [f, (now[f] - cpuBefore[k][f]) / sequences]))];
  }));
  for (const { label } of apiClients) {
    const r = apiRuns[label];
    row(`API create→attach→wait→start→exit→remove (${label})`, r.times);
    for (const [k, v] of Object.entries(r.laps)) row(`  ${k}`, v);
  }
  for (const { label } of apiClients) {
    const r = apiRuns[label];
    row(`API as docker run --rm (AutoRemove, wait=removed; ${label})`, r.autoTimes);
    for (const [k, v] of Object.entries(r.autoLaps)) row(`  ${k}`, v);
  }
  if (versus) {
    // Iteration by iteration (the two sequences ran next to each other): hakod's minus the versus's.
    const [a, b] = apiClients.map(({ label }) => apiRuns[label]);
    row('  API sequence, hakod − versus (paired by iteration)', a.times.map((t, k) => t - b.times[k]));
    for (const k of Object.keys(a.laps)) row(`    ${k}, hakod − versus`, a.laps[k].map((t, j) => t - b.laps[k][j]));
    row('  API as docker run --rm, hakod − versus (paired by iteration)', a.autoTimes.map((t, k) => t - b.autoTimes[k]));
  }
  for (const [k, v] of Object.entries(cpuPerSequence)) results.push({ what: `daemon CPU per API sequence (${k})`, cpu: v });
  const apiTimes = apiRuns['hako client'].times;
  if (phases) {
    await sleep(200);
    const { byId, firstAt } = readTrace();
    if (!apiOnly) {
      // The CLI runs: the container whose first mark falls in a run's span of the trace file.
      for (const [kind, runs] of Object.entries(cliRuns)) {
        const withIds = runs.map((r) => ({ ...r, id: [...firstAt].find(([id, off]) => id !== '-' && off >= r.from && off < r.to)?.[0] })).filter((r) => r.id);
        breakdown(`${kind} run --rm, by phase`, withIds, byId);
        timeline(`${kind} run --rm, timeline`, withIds, byId);
      }
    }
    for (const { label } of apiClients) if (!label.startsWith('versus ')) breakdown(`API sequence (${label}), by phase`, apiRuns[label].marks, byId); // (the phase trace is the first daemon's)
  }

  if (apiOnly) throw Object.assign(new Error('api-only'), { apiOnly: true });
  progress('100 containers');
  // 4. 100 containers by 10 clients, all running at once, then removed.
  const clients = Array.from({ length: 10 }, () => apiClient(hakod.sock));
  const errors = [];
  const ids = [];
  const t100 = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (c, k) => {
      for (let i = 0; i < 10; i++) {
        try {
          const { Id } = await c.call('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' }, Labels: { bench: `${k}` } });
          ids.push(Id);
          await c.call('POST', `/containers/${Id}/start`);
        } catch (err) {
          errors.push(err.message);
        }
      }
    }),
  );
  const started = ms(t100);
  const running = (await clients[0].call('GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ label: ['bench'] })))).length;
  const mons = monitorsUnder(hakod.execRoot);
  const monRss = mons.map(rssKb);
  const t100r = process.hrtime.bigint();
  await Promise.all(
    clients.map(async (c, k) => {
      for (const id of ids.filter((_, i) => i % 10 === k)) await c.call('DELETE', `/containers/${id}?force=1`).catch((e) => errors.push(e.message));
    }),
  );
  const removed = ms(t100r);
  for (const c of clients) c.close();
  // What goes after the answers (retired records and snapshots, mounts, cgroups, monitor dirs)
  // is deleted in the background: wait for it (up to 10 s) rather than a fixed pause, which a
  // loaded machine outran (12 retired records still there after 300 ms at load 7).
  const tClean = process.hrtime.bigint();
  let left = leftovers(hakod, null);
  while (left.length && ms(tClean) < 10_000) {
    await sleep(50);
    left = leftovers(hakod, null);
  }
  const cleanedIn = ms(tClean);
  const busyRss = rssKb(hakod.proc.pid);
  results.push({ what: '100 containers (10 clients × 10): create+start all', total: started, extra: `${running} running, ${errors.length} errors` });
  results.push({ what: '100 containers: remove -f all', total: removed, extra: left.length ? `LEFTOVERS after 10 s: ${left.join('; ')}` : `nothing left behind (background cleanup done ${cleanedIn.toFixed(0)} ms after the last answer)` });
  if (errors.length) notes.push(`errors: ${[...new Set(errors)].slice(0, 5).join(' | ')}`);
  results.push({ what: 'hakod idle RSS (started, a few requests)', kb: idleRss });
  results.push({ what: 'hakod RSS after the image pull', kb: pulledRss });
  results.push({ what: 'hakod RSS after the 100-container run', kb: busyRss });
  if (monRss.length) results.push({ what: `hako-monitor RSS per running container (${monRss.length})`, kb: median(monRss), extra: `max ${(Math.max(...monRss) / 1024).toFixed(2)} MB` });

  const ratio = (what, r, target) => results.push({ what, ratio: r, target });
  if (dockerdDefault.length) ratio('docker CLI, bridge: dockerd / hakod (target ≥ 12×)', median(dockerdDefault) / median(dockerHakoDefault), (r) => r >= 12);
  if (dockerdTimes.length) ratio('docker CLI, --network none: dockerd / hakod (target ≥ 12×)', median(dockerdTimes) / median(dockerHako), (r) => r >= 12);
  ratio('hako CLI / docker CLI, both → hakod (target ≤ 1.3×)', median(hakoCli) / median(dockerHako), (r) => r <= 1.3);
  results.push({ what: 'API sequence median, hako client (target ≤ 15 ms)', check: median(apiTimes) <= 15 });
  results.push({ what: 'hakod idle RSS (target ≤ 50 MB)', check: idleRss <= 50 * 1024 });
  if (monRss.length) results.push({ what: 'monitor RSS (target ≤ 1.5 MB)', check: median(monRss) <= 1.5 * 1024 });
  results.push({ what: '100 concurrent: no error, nothing left', check: errors.length === 0 && left.length === 0 && running === 100 });
} catch (err) {
  if (!err.apiOnly) throw err;
} finally {
  await cleanup();
}

/** Stops what we started and removes what we made (also on SIGINT/SIGTERM and uncaught errors). */
async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  if (phases && hakod && existsSync(hakod.phaseLog)) {
    const kept = `/tmp/hako-bench-engine-phases-${process.pid}.log`;
    writeFileSync(kept, readFileSync(hakod.phaseLog));
    notes.push(`phase trace kept in ${kept}`);
  }
  await dockerd?.stop().catch((e) => console.error(`stopping dockerd: ${e.message}`));
  await hakod?.stop().catch((e) => console.error(`stopping hakod: ${e.message}`));
  await versus?.stop().catch((e) => console.error(`stopping the versus hakod: ${e.message}`));
  cleanupNet(versusNet);
  cleanupNet(hakodNet);
  cleanupNet(dockerdNet);
  await reg?.stop().catch(() => undefined);
  img?.cleanup();
  for (const m of mountsUnder(work.path).reverse()) spawnSync('umount', ['-l', m]);
  work.cleanup();
}

console.log(`load average ${loadAtStart} at the start, ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end`);
console.log(`engine benchmark, ${N} iterations each${gapMs ? ` (API sequences ${gapMs} ms apart)` : ''}; NODE_EXTRA_CA_CERTS unset for Node commands (hakod, hako); exec-roots ${onDisk ? 'on the disk' : 'on tmpfs (as /run normally is)'}, data-roots ${freshFs ? 'on a fresh loop-mounted ext4 with a journal' : 'on the disk'}`);
for (const r of results) {
  const w = r.what.padEnd(58);
  if (r.heading || r.text) console.log(`  ${r.what}`);
  else if (r.ratio !== undefined) console.log(`  ${w} ${r.ratio.toFixed(2)}×  ${r.target(r.ratio) ? 'met' : 'NOT met'}`);
  else if (r.check !== undefined) console.log(`  ${w} ${r.check ? 'met' : 'NOT met'}`);
  else if (r.kb !== undefined) console.log(`  ${w} ${(r.kb / 1024).toFixed(2)} MB${r.extra ? `  (${r.extra})` : ''}`);
  else if (r.total !== undefined) console.log(`  ${w} ${r.total.toFixed(0)} ms  (${r.extra})`);
  else if (r.cpu !== undefined) console.log(`  ${w} ${r.cpu.total.toFixed(2)} ms  (user+sys: main thread ${r.cpu.main.toFixed(2)}, other threads ${r.cpu.threads.toFixed(2)}, reaped children ${r.cpu.children.toFixed(2)})`);
  else console.log(`  ${w} median ${r.median.toFixed(1)} ms   p90 ${r.p90.toFixed(1)} ms${r.cpuMain === undefined ? '' : `   hakod CPU since its last mark: main ${r.cpuMain.toFixed(2)}, all ${r.cpuAll.toFixed(2)} ms`}`);
}
for (const n of notes) console.log(`  note: ${n}`);
