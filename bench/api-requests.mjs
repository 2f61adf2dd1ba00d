// API request cost: hakod's main-thread CPU per request for cheap endpoints, against a bare
// node:http server answering the same bytes (the floor: what node:http itself costs).
// Each target gets one keep-alive connection over its unix socket and answers N requests of each
// endpoint one at a time, in blocks that take turns between the targets (load from other work on
// the machine weighs on each alike). CPU is the daemon's main thread's run time from
// /proc/<pid>/task/<pid>/schedstat (ns), read before and after each block.
// Endpoints: GET /_ping, GET /v1.44/version, GET /v1.44/containers/json, GET
// /v1.44/containers/<id>/json and POST /v1.44/containers/<id>/wait of an exited container.
// Root; the docker CLI loads busybox (made here) into each hakod. Temp roots, test network names,
// --iptables=false.
// Usage: node bench/api-requests.mjs [N=2000] [--versus=<checkout>] [--cpu-prof=<dir>] [--blocks=10]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 2000);
const BLOCKS = Number(args.find((a) => a.startsWith('--blocks='))?.slice(9) ?? 10);
const versusDir = args.find((a) => a.startsWith('--versus='))?.slice('--versus='.length);
const cpuProfDir = args.find((a) => a.startsWith('--cpu-prof='))?.slice('--cpu-prof='.length);
const DOCKER = '/usr/local/bin/docker';
if (process.getuid() !== 0 || !existsSync(DOCKER)) {
  console.error('bench/api-requests: needs root and the docker CLI');
  process.exit(1);
}
const { tempDir, testCgroupName, removeCgroupEverywhere, unmountUnder } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { DAEMON_V8_FLAGS } = createRequire(import.meta.url)(join(repo, 'bin/daemon-v8-flags.cjs'));
const { dockerSaveArchive } = await import(join(repo, 'dist/test/helpers/images.js'));
const { testNet, daemonNetFlags, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const sleep = (n) => new Promise((r) => setTimeout(r, n));
const progress = (m) => process.stderr.write(`bench/api-requests: ${m}\n`);

/** The main thread's CPU time so far, ns (schedstat: time on CPU). */
const threadNs = (pid) => Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);

/** One keep-alive HTTP/1.1 connection; answers are read by Content-Length or chunked framing. */
function connect(sock) {
  return new Promise((resolve, reject) => {
    const s = createConnection(sock);
    let buf = Buffer.alloc(0);
    let pending;
    const tryParse = () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      let body;
      let total;
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (cl) {
        total = end + 4 + Number(cl[1]);
        if (buf.length < total) return;
        body = buf.subarray(end + 4, total);
      } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
        const parts = [];
        let at = end + 4;
        for (;;) {
          const le = buf.indexOf('\r\n', at);
          if (le < 0) return;
          const size = parseInt(buf.subarray(at, le).toString('latin1'), 16);
          if (buf.length < le + 2 + size + 2) return;
          if (size === 0) {
            total = le + 4;
            break;
          }
          parts.push(buf.subarray(le + 2, le + 2 + size));
          at = le + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      } else {
        total = end + 4;
        body = Buffer.alloc(0);
      }
      const raw = buf.subarray(0, total);
      buf = buf.subarray(total);
      const p = pending;
      pending = undefined;
      p.resolve({ head, body, raw });
    };
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (pending) tryParse();
    });
    s.on('error', (e) => (pending ? pending.reject(e) : reject(e)));
    s.once('connect', () =>
      resolve({
        call(method, path, body) {
          return new Promise((res, rej) => {
            pending = { resolve: res, reject: rej };
            const b = body === undefined ? '' : body;
            s.write(`${method} ${path} HTTP/1.1\r\nHost: api\r\nUser-Agent: bench\r\n${body !== undefined ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n` : ''}\r\n${b}`);
          });
        },
        close: () => s.destroy(),
      }),
    );
  });
}

async function waitSocket(sock, proc, log) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`exited: ${log()}`);
    if (existsSync(sock)) {
      try {
        const c = await connect(sock);
        await c.call('GET', '/_ping');
        c.close();
        return;
      } catch {
        // not yet
      }
    }
    if (Date.now() > deadline) throw new Error(`did not come up: ${log()}`);
    await sleep(50);
  }
}

async function startHakod(work, checkout, label) {
  mkdirSync(work, { recursive: true });
  const net = testNet();
  const sock = join(work, 'hako.sock');
  const cgroupParent = testCgroupName(`bench-api-req-${label}`);
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=hakod-${label}-${process.pid}.cpuprofile`] : [];
  let log = '';
  const proc = spawn(process.execPath, [...nodeArgs, join(checkout, 'bin/hakod.cjs'), '-H', `unix://${sock}`, '--data-root', join(work, 'root'), '--exec-root', join(work, 'run'), '--pidfile', join(work, 'hakod.pid'), '--cgroup-parent', cgroupParent, ...daemonNetFlags(net)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  await waitSocket(sock, proc, () => log);
  const stop = async () => {
    await stopChild(proc);
    removeCgroupEverywhere(cgroupParent);
    cleanupNet(net);
  };
  return { label, sock, pid: proc.pid, stop };
}

/** A bare node:http server answering each (method, path) with the bytes hakod gave. */
const FLOOR = `
const http = require('node:http');
const answers = JSON.parse(process.argv[2]);
const s = http.createServer((req, res) => {
  const a = answers[req.method + ' ' + req.url];
  if (!a) { res.writeHead(404); res.end(); return; }
  req.resume();
  res.writeHead(a.status, a.headers);
  res.end(Buffer.from(a.body, 'base64'));
});
s.keepAliveTimeout = 60000;
s.listen(process.argv[1]);
`;

const work = tempDir('hako-bench-api-req-');
const targets = [];
let floorProc;
let floorProc2;
try {
  targets.push(await startHakod(join(work.path, 'a'), repo, 'this'));
  if (versusDir) targets.push(await startHakod(join(work.path, 'b'), versusDir, 'versus'));
  const archive = dockerSaveArchive(work.path, 'bench/api-requests.mjs');
  const endpointsOf = new Map();
  for (const t of targets) {
    const denv = { ...env, DOCKER_HOST: `unix://${t.sock}`, DOCKER_CONFIG: join(work.path, `cli-${t.label}`) };
    const r = spawnSync(DOCKER, ['load', '-q', '-i', archive], { env: denv, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`docker load: ${r.stderr}`);
    const tag = /Loaded image(?: ID)?: (\S+)/.exec(r.stdout)?.[1];
    const c = await connect(t.sock);
    const created = await c.call('POST', '/v1.44/containers/create', JSON.stringify({ Image: tag, Cmd: ['true'] }));
    const id = JSON.parse(created.body.toString()).Id;
    if (!id) throw new Error(`create: ${created.head} ${created.body}`);
    await c.call('POST', `/v1.44/containers/${id}/start`, '');
    await c.call('POST', `/v1.44/containers/${id}/wait`, '');
    c.close();
    t.id = id;
    endpointsOf.set(t, [
      ['GET', '/_ping'],
      ['GET', '/v1.44/version'],
      ['GET', '/v1.44/containers/json'],
      ['GET', `/v1.44/containers/${id}/json`],
      ['POST', `/v1.44/containers/${id}/wait`],
    ]);
  }
  // --show-answers: each hakod's answers (Date dropped, ids as <id>), to compare two checkouts' bytes.
  if (args.includes('--show-answers')) {
    for (const t of targets) {
      const c = await connect(t.sock);
      for (const [m, p] of endpointsOf.get(t)) {
        const r = await c.call(m, p, m === 'POST' ? '' : undefined);
        const text = r.raw.toString('latin1').replace(/\r\nDate: [^\r]*/, '').replaceAll(t.id, '<id>').replace(/\r\n\r\n/, '\r\n\r\n<body>');
        console.log(`--- ${t.label} ${m} ${p.replace(t.id, '<id>')}\n${text}`);
      }
      c.close();
    }
  }
  // The floor answers what the first hakod answered (the same header fields and body).
  const answers = {};
  {
    const t = targets[0];
    const c = await connect(t.sock);
    for (const [m, p] of endpointsOf.get(t)) {
      const r = await c.call(m, p, m === 'POST' ? '' : undefined);
      const lines = r.head.split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const headers = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        const k = l.slice(0, i);
        if (/^(date|connection|keep-alive|transfer-encoding|content-length)$/i.test(k)) continue;
        headers[k] = l.slice(i + 1).trim();
      }
      headers['Content-Length'] = r.body.length;
      answers[`${m} ${p}`] = { status, headers, body: r.body.toString('base64') };
    }
    c.close();
  }
  const floorSock = join(work.path, 'floor.sock');
  floorProc = spawn(process.execPath, ['-e', FLOOR, floorSock, JSON.stringify(answers)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitSocket(floorSock, floorProc, () => '');
  const floor = { label: 'node:http floor', sock: floorSock, pid: floorProc.pid };
  endpointsOf.set(floor, endpointsOf.get(targets[0]));
  // The same server under hakod's V8 flags (src/daemon/memory.ts: no TurboFan, smaller heap).
  const floorSock2 = join(work.path, 'floor2.sock');
  floorProc2 = spawn(process.execPath, [...DAEMON_V8_FLAGS, '-e', FLOOR, floorSock2, JSON.stringify(answers)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitSocket(floorSock2, floorProc2, () => '');
  const floor2 = { label: 'floor, hakod V8 flags', sock: floorSock2, pid: floorProc2.pid };
  endpointsOf.set(floor2, endpointsOf.get(targets[0]));
  const all = [...targets, floor, floor2];
  const conns = new Map();
  for (const t of all) conns.set(t, await connect(t.sock));
  // Warm-up: JIT and caches.
  for (const t of all) for (const [m, p] of endpointsOf.get(t)) for (let i = 0; i < 200; i++) await conns.get(t).call(m, p, m === 'POST' ? '' : undefined);
  const cpu = new Map(all.map((t) => [t, [0, 0, 0, 0, 0]]));
  const wall = new Map(all.map((t) => [t, [0, 0, 0, 0, 0]]));
  const per = Math.ceil(N / BLOCKS);
  progress(`${all.length} targets × 5 endpoints × ${BLOCKS} blocks of ${per} requests`);
  for (let b = 0; b < BLOCKS; b++) {
    const order = b % 2 ? [...all].reverse() : all;
    for (let e = 0; e < 5; e++) {
      for (const t of order) {
        const [m, p] = endpointsOf.get(t)[e];
        const c = conns.get(t);
        const c0 = threadNs(t.pid);
        const w0 = process.hrtime.bigint();
        for (let i = 0; i < per; i++) await c.call(m, p, m === 'POST' ? '' : undefined);
        wall.get(t)[e] += Number(process.hrtime.bigint() - w0);
        cpu.get(t)[e] += threadNs(t.pid) - c0;
      }
    }
  }
  for (const c of conns.values()) c.close();
  const names = ['GET /_ping', 'GET /version', 'GET /containers/json', 'GET /containers/<id>/json', 'POST /containers/<id>/wait'];
  const n = per * BLOCKS;
  console.log(`main-thread CPU per request, µs (N=${n} each, keep-alive, one at a time; wall µs in brackets)`);
  console.log(['endpoint'.padEnd(28), ...all.map((t) => (t.label === 'this' ? 'hakod' : t.label === 'versus' ? `versus` : t.label).padStart(22))].join(''));
  for (let e = 0; e < 5; e++) console.log([names[e].padEnd(28), ...all.map((t) => `${(cpu.get(t)[e] / n / 1000).toFixed(1)} [${(wall.get(t)[e] / n / 1000).toFixed(0)}]`.padStart(22))].join(''));
  if (versusDir) console.log(`versus: ${versusDir}`);
} finally {
  for (const t of targets) await t.stop().catch((e) => console.error(`stop ${t.label}: ${e.message}`));
  for (const p of [floorProc, floorProc2]) if (p && p.exitCode === null) p.kill('SIGTERM');
  await sleep(200);
  unmountUnder(work.path);
  work.cleanup();
}
