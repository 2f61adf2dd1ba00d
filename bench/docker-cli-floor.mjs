// The docker CLI's own floor for `docker run --rm busybox true`: the CLI against a fake engine on
// a unix socket that answers every request of the run sequence at once (HEAD /_ping, create,
// attach → 101, wait → headers at once, start → 204, then the attach stream's EOF and the wait
// answer), timed in turns with `docker version` against the same fake. No container runs: what is
// left is the CLI's start, its work between requests (building the config, dialing the attach and
// start connections, goroutines) and its exit. An engine's `docker run` can be no faster than
// this; against a real engine the rest is the engine's time (bench/engine.mjs --phases has the
// CLI's requests on hakod's axis).
// Prints the medians, and each step between two events the fake saw (request arrivals,
// connections opened, half-closes by the CLI) with the CLI's spawn and exit on the same clock.
// --late=attach|wait: the fake ends the attach stream (or answers the wait) 20 ms after the other,
// to see which of the two the CLI waits for before it exits (docker CLI 28: both).
// --engine=<unix socket>: the same two commands against that engine too (it must have busybox:latest),
// in turns with the fake's, so the two are compared under the same load.
// Usage: node bench/docker-cli-floor.mjs [iterations=20] [--late=attach|wait] [--engine=<socket>]
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 20);
const engineSock = args.find((a) => a.startsWith('--engine='))?.slice('--engine='.length);
const late = args.find((a) => a.startsWith('--late='))?.slice('--late='.length);
const DOCKER = '/usr/local/bin/docker';
if (!existsSync(DOCKER)) {
  console.error(`bench/docker-cli-floor: needs the docker CLI (${DOCKER})`);
  process.exit(1);
}
const LATE_MS = 20;
const ID = 'a'.repeat(64);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = mkdtempSync(join(tmpdir(), 'hako-cli-floor-'));
const sock = join(dir, 'engine.sock');
// The fields hakod's answers start with (the CLI reads Api-Version, Ostype, Builder-Version…).
const common = () => `Date: ${new Date().toUTCString()}\r\nApi-Version: 1.44\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/0.1.0 (linux)\r\nBuilder-Version: 1\r\n`;
const answer = (status, type, body) => `HTTP/1.1 ${status}\r\n${common()}Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`;
const VERSION = JSON.stringify({ Version: '0.1.0', ApiVersion: '1.44', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', GitCommit: 'fake', GoVersion: 'none', KernelVersion: 'fake', BuildTime: '' });

let marks = [];
const mark = (what) => marks.push([what, now()]);
let attachSock;
let waitSock;

const server = createServer({ allowHalfOpen: true }, (c) => {
  mark('conn opened');
  let buf = '';
  c.on('error', () => {});
  c.on('end', () => {
    if (c === attachSock) mark('attach half-closed by the CLI');
    else {
      mark('conn ended by the CLI');
      c.end();
    }
  });
  c.on('data', (d) => {
    buf += d.toString('latin1');
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.slice(end + 4 + length);
      const [method, target] = head.split(' ');
      const path = target.replace(/^\/v[\d.]+/, '').split('?')[0];
      mark(`${method} ${path.replace(/[0-9a-f]{64}/, 'ID')}`);
      if (path === '/_ping') {
        c.write(method === 'HEAD' ? `HTTP/1.1 200 OK\r\n${common()}Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n` : answer('200 OK', 'text/plain; charset=utf-8', 'OK'));
      } else if (path === '/version') c.write(answer('200 OK', 'application/json', VERSION + '\n'));
      else if (path === '/containers/create') c.write(answer('201 Created', 'application/json', JSON.stringify({ Id: ID, Warnings: [] }) + '\n'));
      else if (path.endsWith('/attach')) {
        attachSock = c;
        c.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
        return; // the rest of this connection is the stream
      } else if (path.endsWith('/wait')) {
        waitSock = c;
        c.write(`HTTP/1.1 200 OK\r\n${common()}Content-Type: application/json\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n`);
      } else if (path.endsWith('/start')) {
        c.write(`HTTP/1.1 204 No Content\r\n${common()}Connection: keep-alive\r\n\r\n`);
        // The "container" has exited and is removed: the attach stream ends, the wait answers.
        const [a, w] = [attachSock, waitSock];
        attachSock = waitSock = undefined;
        const endAttach = () => a?.end();
        const body = '{"StatusCode":0}\n';
        const answerWait = () => w?.write(`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
        if (late === 'attach') {
          answerWait();
          setTimeout(endAttach, LATE_MS);
        } else if (late === 'wait') {
          endAttach();
          setTimeout(answerWait, LATE_MS);
        } else {
          endAttach();
          answerWait();
        }
      } else c.write(answer('404 Not Found', 'application/json', '{"message":"not in the fake engine"}\n'));
    }
  });
});

const env = { ...process.env, DOCKER_HOST: `unix://${sock}` };
delete env.NODE_EXTRA_CA_CERTS;
const engineEnv = { ...env, DOCKER_HOST: `unix://${engineSock}` };
const once = (argv, e = env) => new Promise((resolve) => {
  marks = [];
  mark('spawned');
  const t0 = now();
  const p = spawn(DOCKER, argv, { env: e, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.on('exit', (code) => {
    mark('exited');
    resolve({ ms: now() - t0, code, err, marks });
  });
});

try {
  await new Promise((r) => server.listen(sock, r));
  const loadAtStart = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const run = ['run', '--rm', '--network', 'none', 'busybox', 'true'];
  const kinds = { 'docker run --rm --network none busybox true': [run], 'docker version': [['version']] };
  if (engineSock) Object.assign(kinds, { 'docker run --rm --network none … → --engine': [run, engineEnv], 'docker version → --engine': [['version'], engineEnv] });
  const totals = new Map();
  const steps = new Map();
  for (let i = 0; i < N + 2; i++) {
    for (const [label, [argv, e]] of Object.entries(kinds)) {
      const r = await once(argv, e);
      if (r.code !== 0) throw new Error(`${label}: exit ${r.code}: ${r.err}`);
      if (i < 2) continue; // warm-up
      if (!totals.has(label)) totals.set(label, []);
      totals.get(label).push(r.ms);
      if (e) continue; // the fake's events only
      for (let k = 1; k < r.marks.length; k++) {
        const key = `${label.split(' ')[1]}: ${r.marks[k - 1][0]} → ${r.marks[k][0]}`;
        if (!steps.has(key)) steps.set(key, []);
        steps.get(key).push(r.marks[k][1] - r.marks[k - 1][1]);
      }
    }
  }
  const loadAtEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`docker CLI against a zero-cost fake engine, ${N} iterations${late ? ` (--late=${late}: ${LATE_MS} ms)` : ''}; load ${loadAtStart} at the start, ${loadAtEnd} at the end`);
  for (const [label, v] of totals) console.log(`  ${label.padEnd(48)} median ${median(v).toFixed(1)} ms`);
  console.log('  steps (median; those in at least half the runs, in the order first seen):');
  for (const [key, v] of steps) if (v.length >= N / 2) console.log(`    ${key.padEnd(72)} ${median(v).toFixed(2).padStart(6)} ms`);
} finally {
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
