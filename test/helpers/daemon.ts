// A real hakod for tests: started from bin/hakod.js on a temp unix socket with temp data/exec
// roots and pidfile, containers' cgroups beneath the test's own cgroup. Stopped by pid (SIGTERM,
// then SIGKILL), its temp dirs removed. Networking gets unique names (test/helpers/network.ts):
// never hako0 or the `hako` table; what the daemon leaves by design (bridges, table) is removed on stop.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, testCgroupName, removeCgroupEverywhere, killCgroupProcs, unmountUnder } from './fixtures.js';
import { cleanupNet, daemonNetFlags, testNet, type TestNet } from './network.js';
import { atExit, killSync } from './exit-cleanup.js';
import { recordProc } from './ledger.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const HAKOD = join(repoRoot, 'bin', 'hakod.cjs');
export const DOCKER = '/usr/local/bin/docker';
export const hasDocker = existsSync(DOCKER);
/** Whether python3 has the docker module (docker-py: Debian's python3-docker). */
export const hasDockerPy = ((): boolean => {
  try {
    execFileSync('python3', ['-c', 'import docker'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** Whether the engine is built in (container flows are tested only then). */
export const hasEngine = existsSync(join(repoRoot, 'dist', 'src', 'engine', 'engine.js'));

export interface TestDaemon {
  socket: string;
  /** `unix:///…/hako.sock` for DOCKER_HOST. */
  host: string;
  root: string;
  execRoot: string;
  pidfile: string;
  /** The daemon's --cgroup-parent (relative: beneath this process's cgroup in each hierarchy). */
  cgroupParent: string;
  /** Its networking names (bridge, table, interface prefix, default subnet). */
  net: TestNet;
  proc: ChildProcess;
  /** stderr so far (of every daemon process started on these roots). */
  log(): string;
  /**
   * Stops the daemon with `signal` (SIGKILL: a crash) and starts a new one on the same roots and
   * socket; `env`: the new one's environment (default: startDaemon's).
   */
  restart(signal?: NodeJS.Signals, env?: NodeJS.ProcessEnv): Promise<void>;
  /** SIGKILLs the daemon and leaves everything (dirs, containers, network) for `startDaemon(…, { after })`. */
  crash(): Promise<void>;
  /** The command it runs under (startDaemon's `wrap`). */
  wrap: string[];
  /** Internal: the temp dir a successor takes over. */
  dir: { path: string; cleanup: () => void };
  /** Internal: forgets the exit-time stopper (a successor registers its own). */
  dropExitCleanup: () => void;
  /** env with DOCKER_HOST set and a temp DOCKER_CONFIG. */
  env: NodeJS.ProcessEnv;
  /** Sends one request over the socket. */
  request(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  stop(): Promise<number | null>;
}

let daemons = 0;

/**
 * `after`: a crashed daemon whose socket, roots, cgroup parent and network names this one takes over (with other flags).
 * `net`: these network names instead of fresh ones. `wrap`: a command the daemon runs under, e.g.
 * ['nsenter', '--net=/run/netns/X'] (it must exec hakod in place, so the pid stays the daemon's).
 */
export async function startDaemon(extra: string[] = [], opts: { after?: TestDaemon; net?: TestNet; wrap?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<TestDaemon> {
  const dir = opts.after?.dir ?? tempDir('hakod-');
  const net = opts.after?.net ?? opts.net ?? testNet();
  const wrap = opts.wrap ?? opts.after?.wrap ?? [];
  // Each daemon's containers get a cgroup parent of their own beneath this process's cgroups,
  // removed (with anything a failed test left in it) when the daemon is stopped.
  const cgroupParent = opts.after?.cgroupParent ?? testCgroupName(`hakod-${++daemons}`);
  const socket = join(dir.path, 'hako.sock');
  const root = join(dir.path, 'root');
  const execRoot = join(dir.path, 'run');
  const pidfile = join(dir.path, 'hako.pid');
  const args = [HAKOD, '-H', `unix://${socket}`, '--data-root', root, '--exec-root', execRoot, '--pidfile', pidfile, '--log-level', 'debug', '--cgroup-parent', cgroupParent, ...daemonNetFlags(net), ...extra];
  let log = '';
  const launch = (env: NodeJS.ProcessEnv = opts.env ?? process.env): ChildProcess => {
    const p = wrap.length ? spawn(wrap[0]!, [...wrap.slice(1), process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    recordProc(p.pid, `hakod ${dir.path}`);
    p.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    return p;
  };
  // A predecessor's exit-time stopper would remove the dirs this daemon now uses.
  opts.after?.dropExitCleanup();
  let proc = launch();
  // Everything the daemon had, each step whatever the one before did: containers it left running
  // (killed through their cgroups), their rootfs mounts, its dirs, cgroups and network. The errors.
  const removeAll = (): Error[] => {
    const errors: Error[] = [];
    for (const step of [() => killCgroupProcs(cgroupParent), () => unmountUnder(dir.path), () => dir.cleanup(), () => removeCgroupEverywhere(cgroupParent), () => cleanupNet(net)]) {
      try {
        step();
      } catch (err) {
        errors.push(err as Error);
      }
    }
    return errors;
  };
  // If this process exits (a test timed out, then force-exit) before stop(), the daemon is
  // stopped and everything it had is removed all the same (helpers/exit-cleanup.ts).
  // hakod leaves its containers running when it stops (they outlive it), so they are killed
  // through their cgroups and their rootfs mounts detached before the dirs go.
  const dropExitCleanup = atExit(() => {
    // Only while not reaped: a reaped pid may belong to someone else by now.
    if (proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null) killSync(proc.pid, 'SIGTERM', 10_000);
    for (const err of removeAll()) process.stderr.write(`test daemon ${dir.path}: exit cleanup: ${err.message}\n`);
  });
  const req: TestDaemon['request'] = (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const r = request({ socketPath: socket, method, path, headers: { ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      r.on('error', reject);
      r.end(body);
    });
  const waitUp = async (): Promise<void> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`hakod exited with ${proc.exitCode ?? proc.signalCode}: ${log}`);
      if (existsSync(socket)) {
        // (A daemon that accepts but never answers must not hold this loop past its deadline.)
        const ok = await Promise.race([req('GET', '/_ping').then((r) => r.status === 200, () => false), new Promise<false>((r) => setTimeout(() => r(false), 2000).unref())]);
        if (ok) return;
      }
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`hakod did not come up: ${log}`);
      }
      // (5 ms: a start takes 0.2–1 s and a test file restarts hakod up to ~400 times; a check is a stat)
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    await waitUp();
  } catch (err) {
    dropExitCleanup();
    dir.cleanup();
    cleanupNet(net);
    throw err;
  }
  const cfg = join(dir.path, 'docker-config');
  const td: TestDaemon = {
    socket,
    host: `unix://${socket}`,
    root,
    execRoot,
    pidfile,
    cgroupParent,
    net,
    wrap,
    dir,
    dropExitCleanup,
    proc,
    log: () => log,
    restart: async (signal: NodeJS.Signals = 'SIGTERM', env?: NodeJS.ProcessEnv) => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill(signal);
        // A daemon that does not stop within 20 s is killed, and the restart fails saying so.
        let timer: NodeJS.Timeout | undefined;
        const late = await Promise.race([exited.then(() => false), new Promise<true>((r) => (timer = setTimeout(() => r(true), 20_000)))]);
        clearTimeout(timer);
        if (late) {
          proc.kill('SIGKILL');
          await exited;
          throw new Error(`restart: hakod did not exit within 20 s of ${signal} (killed): ${log.slice(-2000)}`);
        }
      }
      proc = launch(env);
      td.proc = proc; // (also when it does not come up)
      await waitUp();
    },
    env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: cfg, DOCKER_CLI_HINTS: 'false' },
    request: req,
    async crash() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await exited;
    },
    async stop() {
      dropExitCleanup();
      let code: number | null = proc.exitCode;
      if (code === null) {
        const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        code = await exited;
        clearTimeout(t);
      }
      // A test that left a container running fails here, but leaves nothing behind (a mounted
      // rootfs made dir.cleanup throw EBUSY, and the cgroups and network stayed).
      const errors = removeAll();
      if (errors.length) throw errors[0];
      return code;
    },
  };
  return td;
}

/** The daemon's pid from its pidfile. */
export function daemonPid(d: TestDaemon): number {
  return Number(readFileSync(d.pidfile, 'utf8'));
}

/**
 * One API request (v1.44) with an optional JSON body; the answer's body parsed when it is JSON,
 * else its text.
 */
export async function requestJson(d: TestDaemon, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await d.request(method, `/v1.44${path}`, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'Content-Type': 'application/json' });
  const text = r.body.toString();
  return { status: r.status, body: text && /json/.test(String(r.headers['content-type'])) ? JSON.parse(text) : text };
}
