// The default bridge's flags, against dockerd 20.10, with the daemon inside a network namespace
// this test makes (nsenter --net), so no host table or bridge is touched:
// - hakod --icc=false: containers on the default bridge reach each other only through legacy
//   --link, on the linked container's exposed ports (both directions of those ports, as
//   libnetwork's link rules), by rules in hako's own `table bridge <nft-table>` that live and die
//   with the endpoints;
// - no --mtu: the default bridge and user networks get 1500 (dockerd's DefaultNetworkMtu), not
//   the uplink's (a dummy uplink with MTU 1400 and the default route in the namespace).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxImage, tarDir, type BuiltImage } from '../helpers/images.js';
import { isRoot } from '../helpers/fixtures.js';
import { netLeftovers, testNet, type TestNet } from '../helpers/network.js';
import { atExit } from '../helpers/exit-cleanup.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const pexec = promisify(execFile);
const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((p) => existsSync(p + t));
const skip = !isRoot ? 'needs root' : !hasEngine ? 'the engine is not built' : !tool('nft') ? 'nft missing' : !tool('ip') ? 'iproute2 missing' : !tool('nsenter') ? 'nsenter missing' : false;
const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');

let d: TestDaemon;
let net: TestNet;
let img: BuiltImage;
let imageId: string;
let ns = '';
let nsMade = false;
let dropExitCleanup: (() => void) | undefined;
const daemons: TestDaemon[] = [];

function removeNamespaceSync(): void {
  if (nsMade) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
  img?.cleanup();
}

async function hako(args: string[], ok = true): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await pexec(process.execPath, [HAKO, '-H', d.host, ...args], { env: d.env, timeout: 60_000, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const out = { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (ok) assert.fail(`hako ${args.join(' ')} → ${out.code}\n${out.stdout}${out.stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
    return out;
  }
}

async function daemon(extra: string[], after?: TestDaemon): Promise<TestDaemon> {
  const dd = await startDaemon(extra, { net, wrap: ['nsenter', `--net=/run/netns/${ns}`], ...(after ? { after } : {}) });
  daemons.push(dd);
  return dd;
}

async function ipOf(name: string): Promise<string> {
  return (await hako(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).stdout.trim();
}

/** Whether `from` gets an HTTP answer from ip:port (busybox nc; a dropped SYN: nc gives up after 2 s). */
async function reaches(from: string, ip: string, port: number): Promise<boolean> {
  const r = await hako(['exec', from, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} ${port}`], false);
  return r.code === 0 && r.stdout.includes('200 OK');
}

/** The daemon's `table bridge` in the namespace, or undefined when there is none. */
function bridgeTable(): string | undefined {
  try {
    return execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'bridge', net.table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
}

/** httpd on 80 (exposed) and 81 (not exposed). */
const servers = ['sh', '-c', 'mkdir -p /www && echo "hi from $(hostname)" > /www/index.html && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www'];

before(async () => {
  if (skip) return;
  img = busyboxImage();
  imageId = img.manifests[0]!.config.digest;
  net = testNet();
  ns = `${net.prefix}I`;
  dropExitCleanup = atExit(removeNamespaceSync);
  recordNetns(ns);
  execFileSync('ip', ['netns', 'add', ns]);
  nsMade = true;
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // An uplink of its own for the namespace with a smaller MTU: a veth pair with both ends in it
  // (nothing leaves the namespace; no dummy driver needed).
  execFileSync('ip', ['-n', ns, 'link', 'add', 'up0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'up0p', 'mtu', '1400']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', '192.0.2.10/24', 'dev', 'up0']);
  for (const l of ['up0', 'up0p']) execFileSync('ip', ['-n', ns, 'link', 'set', l, 'up']);
  execFileSync('ip', ['-n', ns, 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'up0']);
});

/** A link's MTU inside the namespace. */
function mtuIn(link: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${link}/mtu`], { encoding: 'utf8' }).trim();
}

after(async () => {
  if (skip) return;
  try {
    for (const dd of daemons) {
      if (dd.proc.exitCode !== null || dd.proc.signalCode !== null) continue;
      d = dd;
      const ids = (await hako(['ps', '-aq'], false)).stdout.split('\n').filter((x) => x);
      if (ids.length) await hako(['rm', '-f', ...ids], false);
      await dd.stop();
    }
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', ns]); // its bridges, veths and nft tables go with it
    } catch {
      // gone
    }
    nsMade = false;
    releaseNetnsDir();
    img?.cleanup();
    dropExitCleanup?.();
  }
  assert.deepEqual(netLeftovers(net), [], 'nothing of ours on the host');
});

test('no --mtu: 1500 for the default bridge and user networks (dockerd), not the uplink\'s 1400', { skip }, async () => {
  d = await daemon([]);
  const load = await d.request('POST', '/images/load?quiet=1', tarDir(img.dir), { 'Content-Type': 'application/x-tar' });
  assert.equal(load.status, 200, load.body.toString());
  assert.equal(mtuIn('up0'), '1400');
  assert.equal(mtuIn(net.bridge), '1500', 'the default bridge');
  const opts = JSON.parse((await hako(['network', 'inspect', '-f', '{{json .Options}}', 'bridge'])).stdout) as Record<string, string>;
  assert.equal(opts['com.docker.network.driver.mtu'], '1500');
  await hako(['network', 'create', '--subnet', '10.197.3.0/24', 'plain']);
  const id = (await hako(['network', 'inspect', '-f', '{{.Id}}', 'plain'])).stdout.trim();
  assert.equal(mtuIn(`${net.prefix}-${id.slice(0, 15 - net.prefix.length - 1)}`), '1500', 'a user network');
  await hako(['run', '-d', '--name', 'm1', imageId, 'sleep', '600']);
  await hako(['run', '-d', '--name', 'm2', '--network', 'plain', imageId, 'sleep', '600']);
  for (const c of ['m1', 'm2']) assert.equal((await hako(['exec', c, 'cat', '/sys/class/net/eth0/mtu'])).stdout.trim(), '1500', c);
  // A default bridge made by an earlier hako with the uplink's MTU gets 1500 at the next start
  // (dockerd re-applies its MTU at each start).
  await hako(['rm', '-f', 'm1', 'm2']);
  await hako(['network', 'rm', 'plain']);
  await d.crash();
  execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', net.bridge, 'mtu', '1400']);
  const state = join(d.root, 'network', 'network-state.json');
  const st = JSON.parse(readFileSync(state, 'utf8')) as { networks: Record<string, { isDefault: boolean; mtu: number }> };
  for (const n of Object.values(st.networks)) if (n.isDefault) n.mtu = 1400;
  writeFileSync(state, JSON.stringify(st));
  d = await daemon([], d);
  assert.equal(mtuIn(net.bridge), '1500', 'the old default bridge, after a restart without --mtu');
  // What a stopped daemon leaves by design (its bridge and table), so the next test starts afresh.
  await d.stop();
  for (const cmd of [['ip', 'link', 'del', net.bridge], ['nft', 'delete', 'table', 'ip', net.table]]) execFileSync('ip', ['netns', 'exec', ns, ...cmd]);
});

test('--icc=false: the default bridge\'s containers reach each other only through legacy links\' exposed ports; the rules go with the endpoints and with the flag', { skip }, async () => {
  d = await daemon(['--icc=false']);
  const load = await d.request('POST', '/images/load?quiet=1', tarDir(img.dir), { 'Content-Type': 'application/x-tar' });
  assert.equal(load.status, 200, load.body.toString());
  const opts = JSON.parse((await hako(['network', 'inspect', '-f', '{{json .Options}}', 'bridge'])).stdout) as Record<string, string>;
  assert.equal(opts['com.docker.network.bridge.enable_icc'], 'false', 'inspect shows the flag, as dockerd');

  await hako(['run', '-d', '--name', 'db', '--expose', '80', imageId, ...servers]);
  await hako(['run', '-d', '--name', 'web', '--link', 'db:db', imageId, ...servers]);
  await hako(['run', '-d', '--name', 'other', imageId, ...servers]);
  const [db, web, other] = [await ipOf('db'), await ipOf('web'), await ipOf('other')];
  // (the servers start with the containers; the linked pair's own port proves they listen)
  let up = false;
  for (let i = 0; i < 20 && !up; i++) up = await reaches('web', db, 80);
  assert.ok(up, 'the linker reaches the linked container\'s exposed port');
  // (each refused path waits out nc's 2 s: they are tried at once, not one after the other)
  const [closedPort, unlinked, backwards, between] = await Promise.all([reaches('web', db, 81), reaches('other', db, 80), reaches('db', web, 80), reaches('db', other, 80)]);
  assert.equal(closedPort, false, 'not a port the linked container does not expose');
  assert.equal(unlinked, false, 'a container without the link does not reach it');
  assert.equal(backwards, false, 'the link opens nothing the other way');
  assert.equal(between, false, 'nor between unlinked containers');
  const table = bridgeTable() ?? '';
  assert.match(table, new RegExp(`ip saddr ${web.replace(/\./g, '\\.')} ip daddr ${db.replace(/\./g, '\\.')} tcp dport 80 accept`));
  assert.match(table, new RegExp(`ip saddr ${db.replace(/\./g, '\\.')} ip daddr ${web.replace(/\./g, '\\.')} tcp sport 80 accept`));
  assert.equal(table.match(/ether type ip drop/g)?.length, 3, table);

  // The linked container stops: its port and the link's rules go; it starts again (maybe another
  // address): the rules come back for its new endpoint.
  await hako(['stop', '-t', '1', 'db']);
  const withoutDb = bridgeTable() ?? '';
  assert.doesNotMatch(withoutDb, /dport 80/, withoutDb);
  assert.equal(withoutDb.match(/ether type ip drop/g)?.length, 2, withoutDb);
  await hako(['start', 'db']);
  const db2 = await ipOf('db');
  up = false;
  for (let i = 0; i < 20 && !up; i++) up = await reaches('web', db2, 80);
  assert.ok(up, 'the link works again after the linked container\'s restart');
  assert.equal(await reaches('other', db2, 80), false);

  // A kill -9 and a start without --icc=false (dockerd's default): the table goes at once, the
  // running containers reach each other, inspect says true.
  await d.crash();
  d = await daemon([], d);
  assert.equal(bridgeTable(), undefined, 'no bridge table without --icc=false');
  let open = false;
  for (let i = 0; i < 20 && !open; i++) open = await reaches('other', db2, 81);
  assert.ok(open, 'with icc, any container reaches any port');
  const opts2 = JSON.parse((await hako(['network', 'inspect', '-f', '{{json .Options}}', 'bridge'])).stdout) as Record<string, string>;
  assert.equal(opts2['com.docker.network.bridge.enable_icc'], 'true');

  // Back to --icc=false with the containers still running: the rules are made from their endpoints.
  await d.crash();
  d = await daemon(['--icc=false'], d);
  assert.equal(bridgeTable()?.match(/ether type ip drop/g)?.length, 3, 'the running containers\' ports are filtered again');
  assert.equal(await reaches('other', db2, 81), false);
  assert.ok(await reaches('web', db2, 80));

  // Removing the containers removes every rule and the table itself.
  await hako(['rm', '-f', 'db', 'web', 'other']);
  assert.equal(bridgeTable(), undefined, 'the table goes with the last filtered port');
});
