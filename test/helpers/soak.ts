// A soak of a test hakod (helpers/daemon.ts): batches of a realistic mix of docker CLI and API
// work, and a snapshot of everything the daemon holds or made after each batch (its fds by kind,
// RSS, threads, child processes, hako-monitors, mounts, cgroup dirs beneath its cgroup parent in
// every hierarchy, links of its interface prefix, its nft table's objects, files under its roots,
// IPAM allocations). bench/soak.mjs runs many batches and prints the growth per batch;
// test/e2e/soak-no-growth.test.ts runs a few and asserts that nothing grows.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { cgroupDirs } from './fixtures.js';
import { DOCKER, type TestDaemon } from './daemon.js';

export const IMAGE = 'busybox:latest';

/** What a daemon holds after a batch. Counts by kind; `details` lists the items for a diff. */
export interface Snapshot {
  pid: number;
  counts: Record<string, number>;
  details: Record<string, string[]>;
}

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Kinds of an fd target: socket, pipe, anon_inode:[eventfd], /dev/…, file. */
function fdKind(target: string): string {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target.startsWith('anon_inode:')) return target.replace(/^anon_inode:\[?([^\]]*)\]?$/, '$1');
  if (target.startsWith('/dev/')) return 'dev';
  return 'file';
}

function processes(): Array<{ pid: number; ppid: number; comm: string; argv: string[] }> {
  const out: Array<{ pid: number; ppid: number; comm: string; argv: string[] }> = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readProc(`/proc/${pid}/stat`);
    if (!stat) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') continue;
    out.push({ pid, ppid: Number(fields[1]), comm, argv: readProc(`/proc/${pid}/cmdline`).split('\0').filter(Boolean) });
  }
  return out;
}

/** Files and dirs below `dir` (not into other filesystems: running containers' rootfs mounts). */
function walkTree(dir: string, out: string[], dev?: number): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  if (dev !== undefined && st.dev !== dev) return;
  if (!st.isDirectory()) return;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e);
    out.push(p);
    walkTree(p, out, st.dev);
  }
}

/** Objects in nft table `table` (families ip and bridge): chains, rules, sets, maps, elements. */
function nftObjects(table: string): string[] {
  const out: string[] = [];
  for (const family of ['ip', 'bridge']) {
    let text: string;
    try {
      text = execFileSync('nft', ['-a', 'list', 'table', family, table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue;
    }
    let where = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line === '}') continue;
      const m = /^(chain|set|map|table)\s+(\S+)/.exec(line);
      if (m) {
        where = `${family} ${m[1]} ${m[2]}`;
        out.push(where);
        continue;
      }
      if (/^elements\s*=/.test(line) || (where.includes(' set ') || where.includes(' map ')) && /^[\d.:,\s-]/.test(line)) {
        // one element per comma-separated item
        for (const el of line.replace(/^elements\s*=\s*\{/, '').replace(/\}\s*$/, '').split(',')) if (el.trim()) out.push(`${where} element ${el.trim()}`);
        continue;
      }
      if (/^(type|flags|policy|hook|comment|size|timeout|gc-interval|counter)\b/.test(line)) continue;
      if (/# handle \d+$/.test(line)) out.push(`${where} rule ${line.replace(/\s*# handle \d+$/, '')}`);
    }
  }
  return out;
}

/** The daemon's network state: one entry per allocated address and per endpoint. */
function ipamEntries(path: string): string[] {
  const text = readProc(path);
  if (!text) return [];
  const state = JSON.parse(text) as { networks?: Record<string, { name?: string; ipam?: { pools?: Array<{ allocated?: Record<string, string> }> } & Record<string, unknown> }>; endpoints?: Record<string, unknown> };
  const out: string[] = [];
  for (const [id, n] of Object.entries(state.networks ?? {})) {
    // (the pools' shape is the manager's: any object with `allocated` beneath the network)
    const walk = (v: unknown): void => {
      if (!v || typeof v !== 'object') return;
      const o = v as Record<string, unknown>;
      if (o.allocated && typeof o.allocated === 'object') for (const [ip, owner] of Object.entries(o.allocated as Record<string, string>)) out.push(`${n.name ?? id} ${ip} ${owner}`);
      for (const [k, c] of Object.entries(o)) if (k !== 'allocated') walk(c);
    };
    walk(n);
    out.push(`network ${n.name ?? id}`);
  }
  for (const id of Object.keys(state.endpoints ?? {})) out.push(`endpoint ${id}`);
  return out;
}

/** Everything `d` holds now. */
export function snapshot(d: TestDaemon): Snapshot {
  const pid = d.proc.pid!;
  const details: Record<string, string[]> = {};
  const counts: Record<string, number> = {};
  // fds, by kind
  const fds: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed meanwhile
    }
  }
  details.fds = fds.map((t) => `${fdKind(t)} ${t}`).sort();
  counts.fds = fds.length;
  for (const t of fds) counts[`fd:${fdKind(t)}`] = (counts[`fd:${fdKind(t)}`] ?? 0) + 1;
  const status = readProc(`/proc/${pid}/status`);
  counts.rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  counts.threads = Number(/Threads:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // processes: the daemon's children; monitors (and anything else) naming the daemon's dir
  const procs = processes();
  details.children = procs.filter((p) => p.ppid === pid).map((p) => `${p.comm} ${p.argv.join(' ')}`).sort();
  counts.children = details.children.length;
  const dir = d.dir.path;
  const naming = procs.filter((p) => p.pid !== pid && p.argv.some((a) => a === dir || a.includes(dir + '/') || a.endsWith('=' + dir)));
  details.monitors = naming.filter((p) => p.comm === 'hako-monitor').map((p) => `${p.pid} ${p.argv.join(' ')}`).sort();
  counts.monitors = details.monitors.length;
  details.otherProcs = naming.filter((p) => p.comm !== 'hako-monitor').map((p) => `${p.comm} ${p.argv.join(' ')}`).sort();
  counts.otherProcs = details.otherProcs.length;
  // mounts: all lines, and those below the daemon's dir
  const mounts = readProc('/proc/mounts').split('\n').filter(Boolean);
  counts.mountsAll = mounts.length;
  details.mounts = mounts.filter((l) => l.includes(dir)).sort();
  counts.mounts = details.mounts.length;
  // cgroup dirs beneath its cgroup parent, in every hierarchy
  const cg: string[] = [];
  for (const top of cgroupDirs(d.cgroupParent)) {
    cg.push(top);
    const walk = (p: string): void => {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        cg.push(join(p, e.name));
        walk(join(p, e.name));
      }
    };
    walk(top);
  }
  details.cgroups = cg.sort();
  counts.cgroups = cg.length;
  // links of its interface prefix in the host netns (bridges, veths), and all links
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1]).filter((n): n is string => !!n);
  counts.linksAll = links.length;
  details.links = links.filter((n) => n.startsWith(d.net.prefix)).sort();
  counts.links = details.links.length;
  details.nft = nftObjects(d.net.table).sort();
  counts.nft = details.nft.length;
  // files and dirs under its roots (not into mounts), by top-level dir
  for (const [key, root] of [['dataRoot', d.root], ['execRoot', d.execRoot]] as const) {
    const files: string[] = [];
    walkTree(root, files);
    details[key] = files.sort();
    counts[key] = files.length;
  }
  details.ipam = [...(details.dataRoot ?? []), ...(details.execRoot ?? [])].filter((p) => p.endsWith('/network-state.json')).flatMap((p) => ipamEntries(p)).sort();
  counts.ipam = details.ipam.length;
  return { pid, counts, details };
}

/** Items of `b` not in `a` (a multiset difference), by category. */
export function added(a: Snapshot, b: Snapshot, keys: string[] = Object.keys(b.details)): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of keys) {
    const left = new Map<string, number>();
    for (const x of a.details[k] ?? []) left.set(x, (left.get(x) ?? 0) + 1);
    const extra: string[] = [];
    for (const x of b.details[k] ?? []) {
      const n = left.get(x) ?? 0;
      if (n > 0) left.set(x, n - 1);
      else extra.push(x);
    }
    if (extra.length) out[k] = extra;
  }
  return out;
}

// ---------------------------------------------------------------- the work

export interface SoakContext {
  d: TestDaemon;
  /** A scratch dir of the soak's (cp sources and targets). */
  work: string;
  /** Progress lines. */
  log?: (m: string) => void;
  /** A container that runs throughout (startSurvivor): each batch execs into it. */
  survivor?: string;
}

/** Runs the docker CLI against the daemon; throws (naming the command) on a non-zero exit. */
export function docker(ctx: SoakContext, args: string[], opts: { input?: string | Buffer; ok?: boolean; timeout?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(DOCKER, args, { env: ctx.d.env, input: opts.input ?? '', encoding: 'utf8', timeout: opts.timeout ?? 60_000, killSignal: 'SIGKILL' });
  if (r.error) throw new Error(`docker ${args.join(' ')}: ${r.error.message}`);
  if ((opts.ok ?? true) && r.status !== 0) throw new Error(`docker ${args.join(' ')} → ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function api(ctx: SoakContext, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await ctx.d.request(method, `/v1.44${path}`, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'Content-Type': 'application/json' });
  const text = r.body.toString();
  return { status: r.status, body: text && /json/.test(String(r.headers['content-type'])) ? JSON.parse(text) : text };
}

async function apiOk(ctx: SoakContext, method: string, path: string, body?: unknown, want?: number): Promise<any> {
  const r = await api(ctx, method, path, body);
  if (want !== undefined ? r.status !== want : r.status >= 400) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`soak: ${what}: not within ${ms / 1000} s`);
    await sleep(50);
  }
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: '/index.html', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(`${res.statusCode} ${Buffer.concat(chunks).toString()}`));
      res.on('error', reject);
    });
    r.setTimeout(5000, () => r.destroy(new Error('no answer within 5 s')));
    r.on('error', reject);
    r.end();
  });
}

/**
 * `docker attach --detach-keys ctrl-x,y` to a tty container (dockerd reads detach keys only on a
 * tty's stdin, and the CLI wants a terminal for it: script(1) gives it one), a command through it,
 * then the keys: the CLI must end and the container keep running.
 */
function attachAndDetach(ctx: SoakContext, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qfec', `${DOCKER} attach --detach-keys ctrl-x,y ${name}`, '/dev/null'], { env: ctx.d.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    // the command's output line (the terminal also echoes the command itself)
    const answered = (): boolean => /\nattached-ok\r?\n/.test(out);
    let detaching = false;
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (answered() && !detaching) {
        detaching = true;
        p.stdin.write('\x18y');
      }
    });
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`docker attach ${name}: did not detach within 20 s: ${JSON.stringify(out)}`));
    }, 20_000);
    // (the attach is up once its output flows: the command's answer comes back through it)
    const send = setInterval(() => {
      if (detaching || p.exitCode !== null) return clearInterval(send);
      p.stdin.write('echo attached-ok\r');
    }, 300);
    p.on('exit', (code) => {
      clearTimeout(timer);
      clearInterval(send);
      // (the docker CLI ends a detach with `read escape sequence` and exit 1, against dockerd too)
      if (!answered() || code !== 1 || !out.includes('read escape sequence')) reject(new Error(`docker attach ${name} → ${code}: ${JSON.stringify(out)}`));
      else resolve(out);
    });
  });
}

/**
 * One batch of the mix, with names unique to `tag`. Everything it makes is gone at its end (the
 * survivor of `startSurvivor` apart).
 */
export async function runBatch(ctx: SoakContext, tag: string): Promise<void> {
  const step = (m: string): void => ctx.log?.(`${tag}: ${m}`);
  const n = (s: string): string => `soak-${tag}-${s}`;
  // an exec into the long-running container (as a monitoring agent's)
  if (ctx.survivor && docker(ctx, ['exec', ctx.survivor, 'echo', 'survivor-ok']).stdout.trim() !== 'survivor-ok') throw new Error('exec into the survivor: no output');
  // run --rm, bridge and none
  step('run --rm');
  docker(ctx, ['run', '--rm', IMAGE, 'true']);
  if (docker(ctx, ['run', '--rm', '--network', 'none', IMAGE, 'echo', 'none-ok']).stdout.trim() !== 'none-ok') throw new Error('run --rm --network none: no output');
  // run -d, logs, exec, pause/unpause, stats, cp both ways, commit + rmi, stop, rm
  step('run -d');
  const c = n('d');
  docker(ctx, ['run', '-d', '--name', c, IMAGE, 'sh', '-c', 'echo started; exec sleep 1000']);
  await until('logs of ' + c, () => (docker(ctx, ['logs', c]).stdout.includes('started') ? true : undefined));
  if (docker(ctx, ['exec', c, 'echo', 'exec-ok']).stdout.trim() !== 'exec-ok') throw new Error('exec: no output');
  docker(ctx, ['pause', c]);
  docker(ctx, ['unpause', c]);
  docker(ctx, ['stats', '--no-stream', c]);
  const src = join(ctx.work, `${tag}-in.txt`);
  writeFileSync(src, `soak ${tag}\n`);
  docker(ctx, ['cp', src, `${c}:/tmp/in.txt`]);
  const outDir = join(ctx.work, `${tag}-out`);
  mkdirSync(outDir, { recursive: true });
  docker(ctx, ['cp', `${c}:/tmp/in.txt`, join(outDir, 'back.txt')]);
  if (readFileSync(join(outDir, 'back.txt'), 'utf8') !== `soak ${tag}\n`) throw new Error('cp: the file came back changed');
  docker(ctx, ['commit', c, `soak-img:${tag}`]);
  docker(ctx, ['rmi', `soak-img:${tag}`]);
  docker(ctx, ['stop', '-t', '1', c]);
  docker(ctx, ['rm', c]);
  // a user network, two containers that resolve each other by name
  step('network');
  const net = n('net');
  docker(ctx, ['network', 'create', net]);
  const a = n('a');
  const b = n('b');
  docker(ctx, ['run', '-d', '--network', net, '--name', a, IMAGE, 'sleep', '1000']);
  docker(ctx, ['run', '-d', '--network', net, '--name', b, IMAGE, 'sleep', '1000']);
  docker(ctx, ['exec', a, 'nslookup', b]);
  docker(ctx, ['exec', a, 'ping', '-c', '1', '-W', '5', b]);
  docker(ctx, ['exec', b, 'ping', '-c', '1', '-W', '5', a]);
  docker(ctx, ['rm', '-f', a, b]);
  docker(ctx, ['network', 'rm', net]);
  // volumes: named (create, mount, rm), anonymous with rm -v
  step('volumes');
  const v = n('vol');
  docker(ctx, ['volume', 'create', v]);
  docker(ctx, ['run', '--rm', '-v', `${v}:/data`, IMAGE, 'sh', '-c', 'echo x > /data/f']);
  if (docker(ctx, ['run', '--rm', '-v', `${v}:/data`, IMAGE, 'cat', '/data/f']).stdout.trim() !== 'x') throw new Error('volume: the file is not there');
  docker(ctx, ['volume', 'rm', v]);
  const anon = n('anon');
  docker(ctx, ['run', '--name', anon, '-v', '/anon', IMAGE, 'sh', '-c', 'echo y > /anon/f']);
  docker(ctx, ['rm', '-v', anon]);
  // a published port, busybox httpd, one request over loopback
  step('ports');
  const h = n('httpd');
  docker(ctx, ['run', '-d', '--name', h, '-p', '127.0.0.1::8080', IMAGE, 'sh', '-c', `mkdir -p /www && echo soak-${tag} > /www/index.html && exec httpd -f -p 8080 -h /www`]);
  const port = Number(/:(\d+)\s*$/m.exec(docker(ctx, ['port', h, '8080']).stdout)?.[1]);
  const body = await until('httpd answer', async () => {
    try {
      return await httpGet(port);
    } catch {
      return undefined;
    }
  });
  if (body.trim() !== `200 soak-${tag}`) throw new Error(`httpd: answer ${body}`);
  docker(ctx, ['rm', '-f', h]);
  // attach, then the detach keys
  step('attach');
  const at = n('attach');
  docker(ctx, ['run', '-dit', '--name', at, IMAGE, 'sh']);
  await attachAndDetach(ctx, at);
  if (docker(ctx, ['inspect', '-f', '{{.State.Running}}', at]).stdout.trim() !== 'true') throw new Error('attach: the container stopped on detach');
  docker(ctx, ['rm', '-f', at]);
  // --restart on-failure:2, a command that fails
  step('restart on-failure');
  const rf = n('restart');
  docker(ctx, ['run', '-d', '--name', rf, '--restart', 'on-failure:2', IMAGE, 'sh', '-c', 'exit 3']);
  await until('on-failure:2 giving up', () => {
    const s = docker(ctx, ['inspect', '-f', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}', rf]).stdout.trim();
    return s === '2 exited 3' ? s : undefined;
  }, 30_000);
  docker(ctx, ['rm', rf]);
  // the API: create, attach-less start, wait, logs, exec, delete
  step('api');
  const created = await apiOk(ctx, 'POST', `/containers/create?name=${n('api')}`, { Image: IMAGE, Cmd: ['sh', '-c', 'echo api-ok; sleep 1000'], HostConfig: { NetworkMode: 'bridge' } }, 201);
  const id = created.Id as string;
  await apiOk(ctx, 'POST', `/containers/${id}/start`, undefined, 204);
  const ex = await apiOk(ctx, 'POST', `/containers/${id}/exec`, { Cmd: ['true'] }, 201);
  await apiOk(ctx, 'POST', `/exec/${ex.Id}/start`, { Detach: false });
  await until('api exec exit', async () => ((await apiOk(ctx, 'GET', `/exec/${ex.Id}/json`)).Running === false ? true : undefined));
  await until('api logs', async () => ((await api(ctx, 'GET', `/containers/${id}/logs?stdout=1`)).body.toString().includes('api-ok') ? true : undefined));
  await apiOk(ctx, 'POST', `/containers/${id}/kill`, undefined, 204);
  await apiOk(ctx, 'POST', `/containers/${id}/wait`);
  await apiOk(ctx, 'DELETE', `/containers/${id}?v=1`, undefined, 204);
}

/** A container that runs through the whole soak (and the daemon's crash). */
export function startSurvivor(ctx: SoakContext): string {
  const name = 'soak-survivor';
  docker(ctx, ['run', '-d', '--name', name, IMAGE, 'sleep', '100000']);
  ctx.survivor = name;
  return name;
}

/** Whether the survivor still runs (inspect and an exec). */
export function survivorAlive(ctx: SoakContext, name: string): boolean {
  return docker(ctx, ['inspect', '-f', '{{.State.Running}}', name]).stdout.trim() === 'true' && docker(ctx, ['exec', name, 'true'], { ok: false }).status === 0;
}

/** `docker load` of a one-layer busybox (helpers/images.ts dockerSaveArchive) into the daemon. */
export async function loadBusybox(ctx: SoakContext): Promise<void> {
  const { dockerSaveArchive } = await import('./images.js');
  const dir = join(ctx.work, 'image');
  mkdirSync(dir, { recursive: true });
  const archive = dockerSaveArchive(dir, 'soak');
  docker(ctx, ['load', '-i', archive]);
}

/**
 * Snapshots `d` until `keys` count what `base` counted, and `atMost` no more than it, (the work an answer leaves to after it —
 * deleting a removed container's files, a CLI's connection closing — gets `ms` to end), and
 * returns the last one with what it has more than `base` (empty when it settled).
 */
export async function settledSnapshot(d: TestDaemon, base: Snapshot, keys: string[], ms = 5000, atMost: string[] = []): Promise<{ s: Snapshot; extra: Record<string, string[]>; grown: string[] }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = snapshot(d);
    const grown = [...keys.filter((k) => s.counts[k] !== base.counts[k]), ...atMost.filter((k) => (s.counts[k] ?? 0) > (base.counts[k] ?? 0))];
    if (grown.length === 0 || Date.now() > deadline) return { s, extra: added(base, s, grown), grown };
    await sleep(100);
  }
}
