// The test helpers' safety net: a test process that ends without stopping its hakod and registry
// (a test cancelled by --test-timeout, then --test-force-exit; or the runner's SIGTERM) still
// stops them and removes their dirs, cgroups and network, with a container running in the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasEngine } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { cgroupDirs, isRoot } from '../helpers/fixtures.js';
import { netLeftovers } from '../helpers/network.js';
import { pidAlive } from '../helpers/exit-cleanup.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
const helpers = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers');

// The child: a registry with busybox, a daemon that pulled it and runs `sleep`; then it reports
// what it made and either exits on its own (how --test-force-exit ends a file) or waits for SIGTERM.
const child = (how: 'exit' | 'sigterm'): string => `
import { startDaemon } from ${JSON.stringify(join(helpers, 'daemon.js'))};
import { startRegistry } from ${JSON.stringify(join(helpers, 'registry.js'))};
import { busyboxImage, pushLayout } from ${JSON.stringify(join(helpers, 'images.js'))};
const reg = await startRegistry();
const img = busyboxImage();
await pushLayout(img, reg.host, 'test/busybox');
img.cleanup();
const d = await startDaemon();
const image = reg.host + '/test/busybox:latest';
const call = async (m, p, b) => { const r = await d.request(m, '/v1.44' + p, b === undefined ? undefined : JSON.stringify(b), { 'Content-Type': 'application/json' }); if (r.status >= 300) throw new Error(p + ': ' + r.status + ' ' + r.body); return r.body.length ? JSON.parse(r.body) : {}; };
await d.request('POST', '/v1.44/images/create?fromImage=' + encodeURIComponent(image));
const c = await call('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
await call('POST', '/containers/' + c.Id + '/start');
const top = await call('GET', '/containers/' + c.Id + '/json');
process.stdout.write(JSON.stringify({ daemon: d.proc.pid, dir: d.dir.path, cgroupParent: d.cgroupParent, net: d.net, registry: reg.dir, container: top.State.Pid }) + '\\n');
${how === 'exit' ? 'process.exit(1);' : 'setInterval(() => {}, 1000);'}
`;

for (const how of ['exit', 'sigterm'] as const) {
  test(`a test process that ${how === 'exit' ? 'exits' : 'gets SIGTERM'} without stopping its daemon and registry leaves nothing running or behind`, { skip, timeout: 120_000 }, async () => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', child(how)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (how === 'sigterm' && out.includes('\n')) p.kill('SIGTERM');
    });
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    const line = out.split('\n')[0];
    assert.ok(line, `the child reported nothing (exit ${code}): ${err}`);
    const made = JSON.parse(line!) as { daemon: number; dir: string; cgroupParent: string; net: Parameters<typeof netLeftovers>[0]; registry: string; container: number };
    assert.equal(code, how === 'exit' ? 1 : 143, err);
    assert.ok(made.container > 0);
    assert.equal(pidAlive(made.daemon), false, 'hakod still runs');
    assert.equal(pidAlive(made.container), false, 'the container still runs');
    assert.equal(existsSync(made.dir), false, 'the daemon dir is left');
    assert.equal(existsSync(made.registry), false, 'the registry dir is left');
    assert.deepEqual(cgroupDirs(made.cgroupParent), [], 'cgroups are left');
    assert.deepEqual(netLeftovers(made.net), [], 'network leftovers');
  });
}

// startBusyboxDaemon (the shared registry + busybox + daemon set-up of several e2e files) when it
// fails halfway: after the registry and the image (the daemon does not start), and after the
// daemon too (it dies in the pull). Run in a child with a TMPDIR of its own, which looks before
// it exits (its exit-time stoppers would hide a leak): no dir left, no child process running.
const failingSetup = (kind: 'daemon' | 'pull'): string => `
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startBusyboxDaemon } from ${JSON.stringify(join(helpers, 'busybox-daemon.js'))};
${kind === 'pull' ? "process.env.HAKOD_CRASH_AT = 'pull.manifest';" : ''}
let error = null;
try {
  await startBusyboxDaemon(${kind === 'daemon' ? "{ daemonArgs: ['--no-such-flag'] }" : '{ pull: true }'});
} catch (e) {
  error = e.message;
}
const children = [];
for (const p of readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
  try {
    const stat = readFileSync('/proc/' + p + '/stat', 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z') children.push(stat.slice(0, stat.lastIndexOf(')') + 1));
  } catch {}
}
process.stdout.write(JSON.stringify({ error, left: readdirSync(tmpdir()), children }) + '\\n');
process.exit(0); // (what a failed set-up left would otherwise keep this process alive)
`;

for (const kind of ['daemon', 'pull'] as const) {
  test(`the shared busybox set-up (startBusyboxDaemon) that fails ${kind === 'daemon' ? 'at the daemon\'s start' : 'in the pull (hakod dies)'} removes what it made before it throws`, { skip, timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hako-setup-fail-'));
    try {
      const p = spawn(process.execPath, ['--input-type=module', '-e', failingSetup(kind)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } });
      let out = '';
      let err = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
      assert.equal(code, 0, err);
      const r = JSON.parse(out) as { error: string | null; left: string[]; children: string[] };
      assert.ok(r.error, 'the set-up did not fail');
      assert.match(r.error, kind === 'daemon' ? /hakod exited/ : /socket hang up|ECONNRESET|closed/i);
      assert.deepEqual(r.left, [], 'dirs left in TMPDIR');
      assert.deepEqual(r.children, [], 'processes left running');
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
