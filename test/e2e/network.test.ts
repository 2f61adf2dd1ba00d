// NetworkManager against the real kernel, with namespaces this test makes ("containers" are
// `ip netns` namespaces running busybox httpd / a node UDP echo, started and killed by pid here).
// Unique table/bridge/veth names and a temp root, so a real hako on this host is never touched;
// the "outside world" is another namespace behind a veth of ours. Everything is removed at the end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { BUSYBOX, isRoot, tempDir } from '../helpers/fixtures.js';
import { NetworkManager } from '../../src/network/manager.js';
import { parsePortSpec } from '../../src/network/ports.js';
import { RtNetlink } from '../../src/network/rtnetlink.js';
import { cidrOverlaps, parseCidr } from '../../src/network/ipv4.js';
import { buildResponse, decodeMessage, TYPE, CLASS_IN, RCODE } from '../../src/network/dns-message.js';
import { failedIn, nsGet, nsResolve, nsResolveBlocked, nsReverse, nxdomain } from '../helpers/netns-client.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const run = promisify(execFile);
const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((d) => existsSync(d + t));
const skip = !isRoot ? 'needs root' : !tool('nft') ? 'nft missing' : !tool('ip') ? 'iproute2 missing' : !existsSync(BUSYBOX) ? 'busybox-static missing' : false;

const s = randomBytes(2).toString('hex');
const names = { table: `hkt${s}`, bridgePrefix: `hb${s}`, vethPrefix: `hv${s}`, defaultBridge: `hd${s}`, outVeth: `ho${s}` };
const ns = { a: `hkt${s}a`, b: `hkt${s}b`, c: `hkt${s}c`, d: `hkt${s}d`, out: `hkt${s}o` };
const procs: ChildProcess[] = [];
const netnsMade: string[] = [];
const etcNetnsExisted = existsSync('/etc/netns');
let root: { path: string; cleanup: () => void };
let mgr: NetworkManager;
let upstream: ReturnType<typeof createSocket>;
let upstreamPort = 0;
let outside = { host: '', peer: '' };
let spaceBefore: string[] = [];

async function addNetns(name: string, label: string): Promise<void> {
  recordNetns(name);
  execFileSync('ip', ['netns', 'add', name]);
  netnsMade.push(name);
  // `ip netns exec` bind-mounts /etc/netns/<name>/* over /etc/*: our resolv.conf for busybox.
  mkdirSync(`/etc/netns/${name}`, { recursive: true });
  writeFileSync(`/etc/netns/${name}/resolv.conf`, 'nameserver 127.0.0.11\noptions ndots:0\n');
  const www = `${root.path}/www-${label}`;
  mkdirSync(www, { recursive: true });
  writeFileSync(`${www}/index.html`, `hello from ${label}\n`);
}

function startIn(name: string, argv: string[]): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', name, ...argv], { stdio: 'ignore' });
  procs.push(p);
  return p;
}

async function inNs(name: string, argv: string[]): Promise<string> {
  const r = await run('ip', ['netns', 'exec', name, ...argv], { timeout: 30_000, encoding: 'utf8' });
  return r.stdout;
}

// The HTTP client inside a namespace (../helpers/netns-client.ts): its libc resolver reads the
// resolv.conf `ip netns exec` mounts (127.0.0.11, the embedded DNS).
const wget = nsGet;

/** Polls `fn` every 50 ms until it resolves (state that settles: a server starting). */
async function waitFor(fn: () => Promise<unknown>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await fn();
      return;
    } catch (err) {
      if (Date.now() > end) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

function hostAddress(): string {
  const nl = RtNetlink.open();
  try {
    const ours = new Set(nl.links().filter((l) => l.name === 'lo' || l.name.startsWith(`h`) && l.name.includes(s)).map((l) => l.index));
    const a = nl.addresses().find((x) => !ours.has(x.index) && !x.address.startsWith('127.'));
    return a?.address ?? '';
  } finally {
    nl.close();
  }
}

function newManager(): NetworkManager {
  return new NetworkManager({
    root: root.path + '/state', nftTable: names.table, bridgePrefix: names.bridgePrefix, vethPrefix: names.vethPrefix,
    defaultNetwork: { name: 'bridge', bridge: names.defaultBridge }, ipForward: 'bridge', iptables: false, upstreamDns: [`127.0.0.1:${upstreamPort}`],
  });
}

before(async () => {
  if (skip) return;
  root = tempDir('hako-net-');
  // A stand-in upstream resolver on loopback: outside.test → 198.51.100.7.
  upstream = createSocket('udp4');
  upstream.on('message', (msg, rinfo) => {
    const q = decodeMessage(msg);
    const known = q.questions[0]?.name.toLowerCase() === 'outside.test';
    upstream.send(buildResponse(q, known ? [{ name: q.questions[0]!.name, type: TYPE.A, class: CLASS_IN, ttl: 5, data: '198.51.100.7' }] : [], known ? RCODE.NOERROR : RCODE.NXDOMAIN), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  upstreamPort = upstream.address().port;
  for (const [k, v] of Object.entries(ns)) await addNetns(v, k);
  mgr = newManager();
  spaceBefore = mgr.hostAddressSpace();
  await mgr.init();
});

after(async () => {
  if (skip) return;
  const netnsLeft: string[] = [];
  for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  try {
    if (mgr) {
      for (const n of mgr.listNetworks()) for (const e of mgr.endpointsOf(n.id)) await mgr.releaseContainer(e.containerId);
      for (const n of mgr.listNetworks()) await mgr.removeNetwork(n.id);
    }
  } finally {
    mgr?.close();
    // The servers started in them were SIGKILLed above: reaped first, so nothing is left in a netns.
    await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    for (const n of netnsMade) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        netnsLeft.push(`ip netns del ${n}: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
      }
      rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    }
    try {
      execFileSync('ip', ['link', 'del', names.outVeth], { stdio: 'ignore' });
    } catch {
      // deleted with the outside netns
    }
    if (!etcNetnsExisted) rmSync('/etc/netns', { recursive: true, force: true });
    releaseNetnsDir();
    upstream?.close();
    root.cleanup();
  }
  // Nothing of ours may remain.
  assert.deepEqual(netnsLeft, [], 'every namespace made here is deleted, once');
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  assert.ok(!links.includes(s) || !new RegExp(`(hb|hv|hd|ho)${s}`).test(links), `links left behind:\n${links}`);
  assert.throws(() => execFileSync('nft', ['list', 'table', 'ip', names.table], { stdio: 'pipe' }), 'nft table left behind');
});

const ids = { a: `a${s}`.padEnd(64, '1'), b: `b${s}`.padEnd(64, '2'), c: `c${s}`.padEnd(64, '3'), d: `d${s}`.padEnd(64, '4') };
const nsPath = (n: string) => `/run/netns/${n}`;

test('default network: picked subnet avoids host routes, bridge up with the gateway', { skip }, async () => {
  const def = mgr.inspect('bridge');
  assert.equal(def.bridge, names.defaultBridge);
  const mine = parseCidr(def.subnet);
  const others = spaceBefore;
  assert.ok(others.length > 0);
  assert.ok(!others.some((c) => cidrOverlaps(mine, parseCidr(c.includes('/') ? c : `${c}/32`, 'x', false))), `${def.subnet} overlaps one of ${others.join(' ')}`);
  const out = execFileSync('ip', ['-j', 'addr', 'show', names.defaultBridge], { encoding: 'utf8' });
  assert.match(out, new RegExp(`"local":"${def.gateway.replace(/\./g, '\\.')}"`));
  assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${names.defaultBridge}/route_localnet`, 'utf8').trim(), '1');
});

test('user network: containers resolve each other by name, alias and id; outside names are forwarded', { skip }, async () => {
  await mgr.createNetwork({ name: `net${s}`, subnet: '10.231.0.0/24', labels: { test: 'yes' } });
  assert.throws(() => mgr.get(`nope${s}`), /not found/);
  await assert.rejects(mgr.createNetwork({ name: `net${s}` }), /already exists/);
  await assert.rejects(mgr.createNetwork({ name: `ovl${s}`, subnet: '10.231.0.128/25' }), /^HakoError: Pool overlaps with other one on this address space$/);
  const epA = await mgr.connect({ containerId: ids.a, containerName: 'web', netns: nsPath(ns.a), network: `net${s}`, aliases: ['www'] });
  const epB = await mgr.connect({ containerId: ids.b, containerName: 'client', netns: nsPath(ns.b), network: `net${s}`, ip: '10.231.0.77' });
  assert.equal(epA.ip, '10.231.0.2');
  assert.equal(epB.ip, '10.231.0.77');
  assert.equal(epA.mac, '02:42:0a:e7:00:02');
  const inside = await inNs(ns.a, ['ip', '-o', 'addr', 'show', 'eth0']);
  assert.match(inside, /10\.231\.0\.2\/24/);
  assert.match(await inNs(ns.a, ['ip', 'route']), /default via 10\.231\.0\.1 dev eth0/);
  assert.match(await inNs(ns.a, ['ip', 'link', 'show', 'eth0']), /mtu \d+ .*\n.*02:42:0a:e7:00:02/);
  startIn(ns.a, [BUSYBOX, 'httpd', '-f', '-p', '80', '-h', `${root.path}/www-a`]);
  await waitFor(() => wget(ns.b, 'http://10.231.0.2/'), 'httpd in a');
  assert.equal(await wget(ns.b, 'http://web/'), 'hello from a\n');
  assert.equal(await wget(ns.b, 'http://www/'), 'hello from a\n');
  assert.equal(await wget(ns.b, `http://${ids.a.slice(0, 12)}/`), 'hello from a\n');
  assert.deepEqual(await nsResolve(ns.b, 'www'), ['10.231.0.2']);
  assert.deepEqual(await nsResolve(ns.b, 'outside.test'), ['198.51.100.7']);
  await assert.rejects(nsResolve(ns.b, 'nosuchname.test'), nxdomain());
  assert.deepEqual(await nsReverse(ns.b, '10.231.0.2'), [`web.net${s}`]);
  const files = mgr.containerFiles(ids.b, { hostname: 'client', addHosts: ['gw:host-gateway'], dnsSearch: ['x.test'] });
  assert.match(files.resolvConf, /^search x\.test\nnameserver 127\.0\.0\.11\n/);
  assert.match(files.hosts, /10\.231\.0\.1\tgw\n10\.231\.0\.77\tclient\n/);
  assert.deepEqual(Object.keys(mgr.inspect(`net${s}`).containers).sort(), [ids.a, ids.b].sort());
  await assert.rejects(mgr.removeNetwork(`net${s}`), /active endpoints/);
});

test('the embedded DNS answers while the main loop is blocked (its own thread)', { skip }, async () => {
  assert.equal(mgr.dns.mode(), 'thread');
  // This thread runs the manager as hakod's main thread does; it stays blocked (sync polling)
  // from the client's start until the answer, which therefore came from another thread.
  assert.deepEqual(await nsResolveBlocked(ns.b, 'web'), ['10.231.0.2']);
});

test('published ports: host via 127.0.0.1 and its own address, hairpin, other "hosts", conflicts', { skip }, async () => {
  const [m] = await mgr.publish(ids.a, parsePortSpec('80'));
  assert.ok(m && m.hostPort > 0);
  assert.equal(await httpGet(`http://127.0.0.1:${m.hostPort}/`), 'hello from a\n');
  const addr = hostAddress();
  if (addr) assert.equal(await httpGet(`http://${addr}:${m.hostPort}/`), 'hello from a\n');
  // hairpin: a container reaching its own published port through the host (gateway address)
  assert.equal(await wget(ns.a, `http://10.231.0.1:${m.hostPort}/`), 'hello from a\n');
  // a port in use by a host process: the error names the port and the owner
  const busy: Server = createServer();
  await new Promise<void>((r) => busy.listen(0, '0.0.0.0', () => r()));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    await assert.rejects(mgr.publish(ids.a, parsePortSpec(`${busyPort}:80`)), (err: Error) => {
      assert.match(err.message, new RegExp(`${busyPort}/tcp.*address already in use.*node \\(pid ${process.pid}\\)`));
      return true;
    });
  } finally {
    busy.close();
  }
  await assert.rejects(mgr.publish(ids.b, parsePortSpec(`${m.hostPort}:80`)), /already allocated/);
  // a host process cannot take a published port either
  const thief = createServer();
  await assert.rejects(new Promise<void>((res, rej) => { thief.once('error', rej); thief.listen(m.hostPort, '0.0.0.0', () => res()); }), /EADDRINUSE/);
  thief.close();
});

test('outbound masquerade, access from another host, --internal blocks outbound', { skip }, async () => {
  // The "outside": a namespace behind a veth of ours (10.232.0.2), running httpd.
  execFileSync('ip', ['link', 'add', names.outVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.out]);
  execFileSync('ip', ['addr', 'add', '10.232.0.1/24', 'dev', names.outVeth]);
  execFileSync('ip', ['link', 'set', names.outVeth, 'up']);
  writeFileSync(`/proc/sys/net/ipv4/conf/${names.outVeth}/forwarding`, '1'); // our own interface only
  await inNs(ns.out, ['ip', 'addr', 'add', '10.232.0.2/24', 'dev', 'eth0']);
  await inNs(ns.out, ['ip', 'link', 'set', 'eth0', 'up']);
  await inNs(ns.out, ['ip', 'link', 'set', 'lo', 'up']);
  outside = { host: '10.232.0.1', peer: '10.232.0.2' };
  startIn(ns.out, [BUSYBOX, 'httpd', '-f', '-p', '80', '-h', `${root.path}/www-out`]);
  await waitFor(() => httpGet(`http://${outside.peer}/`), 'httpd outside');
  assert.equal(await wget(ns.b, `http://${outside.peer}/`), 'hello from out\n');
  // published port from the other host: DNAT in prerouting
  const port = mgr.endpointsOfContainer(ids.a).flatMap((e) => e.ports)[0]!.hostPort;
  assert.equal(await wget(ns.out, `http://${outside.host}:${port}/`), 'hello from a\n');
  await mgr.createNetwork({ name: `int${s}`, subnet: '10.233.0.0/24', internal: true });
  await mgr.connect({ containerId: ids.c, containerName: 'isolated', netns: nsPath(ns.c), network: `int${s}` });
  await assert.rejects(wget(ns.c, `http://${outside.peer}/`), failedIn('connect', /^ENETUNREACH$/), 'an internal network gives no default route');
  // even with a route added by hand inside, the firewall drops it
  await inNs(ns.c, ['ip', 'route', 'add', 'default', 'via', '10.233.0.1']);
  await assert.rejects(wget(ns.c, `http://${outside.peer}/`), failedIn('connect', /^timed out/));
  assert.match(execFileSync('nft', ['list', 'table', 'ip', names.table], { encoding: 'utf8' }), /iifname "hb\w+" oifname != "hb\w+" drop/);
});

test('UDP publish', { skip }, async () => {
  const echo = startIn(ns.a, [process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(5353)"]);
  assert.ok(echo.pid);
  const [m] = await mgr.publish(ids.a, parsePortSpec('5353/udp'));
  const client = createSocket('udp4');
  try {
    let reply = '';
    await waitFor(async () => {
      // One attempt per 300 ms until the echo server (node, starting in the netns) answers.
      const got = new Promise<string>((res, rej) => {
        const onMessage = (msg: Buffer) => { clearTimeout(t); res(msg.toString()); };
        const t = setTimeout(() => { client.off('message', onMessage); rej(new Error('no UDP reply')); }, 300);
        client.once('message', onMessage);
      });
      client.send('ping', m!.hostPort, '127.0.0.1');
      reply = await got;
    }, 'udp echo');
    assert.equal(reply, 'echo:ping');
  } finally {
    client.close();
  }
});

test('connect/disconnect while running; several networks per container', { skip }, async () => {
  await mgr.createNetwork({ name: `two${s}`, subnet: '10.234.0.0/24' });
  const ep = await mgr.connect({ containerId: ids.a, containerName: 'web', netns: nsPath(ns.a), network: `two${s}` });
  await mgr.connect({ containerId: ids.d, containerName: 'second', netns: nsPath(ns.d), network: `two${s}` });
  assert.equal(ep.ifName, 'eth1');
  assert.match(await inNs(ns.a, ['ip', '-o', 'addr', 'show', 'eth1']), /10\.234\.0\.2\/24/);
  // d sees web on two; b (only on net) does not see second
  assert.deepEqual(await nsResolve(ns.d, 'web'), ['10.234.0.2']);
  await assert.rejects(nsResolve(ns.b, 'second'), nxdomain());
  assert.equal(await wget(ns.d, 'http://web/'), 'hello from a\n');
  await mgr.disconnect(ids.a, `two${s}`);
  await assert.rejects(inNs(ns.a, ['ip', 'link', 'show', 'eth1']));
  assert.equal(mgr.get(`two${s}`).pool.allocated['10.234.0.2'], undefined);
  await assert.rejects(nsResolve(ns.d, 'web'), nxdomain());
  // a's first network is untouched
  assert.equal(await wget(ns.b, 'http://web/'), 'hello from a\n');
});

test('an endpoint made through another path to the netns records the one given; an exited container\'s release is saved on the next loop turn', { skip }, async () => {
  // A "container" in a netns of its own (unshare execs sleep: same pid).
  const p = spawn('unshare', ['-n', 'sleep', '600'], { stdio: 'ignore' });
  procs.push(p);
  const own = `/proc/${p.pid}/ns/net`;
  await waitFor(async () => assert.notEqual(statSync(own).ino, statSync('/proc/self/ns/net').ino), 'unshare -n');
  const id = `e${s}`.padEnd(64, '5');
  // The engine connects through an fd of the namespace made ahead, before the process entered it.
  const fd = openSync(own, 'r');
  try {
    await mgr.connect({ containerId: id, containerName: 'exits', netns: `/proc/self/fd/${fd}`, recordNetnsAs: own, network: 'bridge' });
  } finally {
    closeSync(fd);
  }
  const statePath = `${root.path}/state/network-state.json`;
  const saved = () => Object.values(JSON.parse(readFileSync(statePath, 'utf8')).endpoints as Record<string, { containerId: string; nsPath: string; nsIno: number }>).filter((e) => e.containerId === id);
  assert.deepEqual(saved().map((e) => [e.nsPath, e.nsIno]), [[own, statSync(own).ino]]);
  // It exits: its netns goes with it (and the kernel removes the veth pair).
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  const releasing = mgr.releaseContainer(id, { awaitLinks: false });
  assert.deepEqual(mgr.endpointsOfContainer(id), [], 'released at once in memory');
  assert.equal(saved().length, 1, 'the state file is rewritten after the caller goes on (the next loop turn)');
  await releasing;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(saved(), [], 'and then written');
  await mgr.linksSettled();
});

test('reconcile after a crash: dead endpoints dropped, orphans removed, mappings and DNS back', { skip }, async () => {
  const port = mgr.endpointsOfContainer(ids.a).flatMap((e) => e.ports).find((p) => p.proto === 'tcp')!.hostPort;
  const dIp = mgr.endpointsOfContainer(ids.d)[0]!.ip;
  mgr.close(); // the "crash": in-memory DNS servers and port holders are gone, kernel state stays
  execFileSync('ip', ['netns', 'del', ns.d]); // d died while the daemon was down
  netnsMade.splice(netnsMade.indexOf(ns.d), 1);
  rmSync(`/etc/netns/${ns.d}`, { recursive: true, force: true });
  execFileSync('ip', ['link', 'add', `${names.vethPrefix}deadbeef`, 'type', 'veth', 'peer', 'name', `hx${s}`]); // an orphan of ours
  execFileSync('nft', ['add', 'rule', 'ip', names.table, 'ports', 'tcp', 'dport', '1', 'drop']); // an orphan rule
  mgr = newManager();
  const report = await mgr.init();
  assert.deepEqual(report.endpointsDropped, [`second@two${s}`]);
  assert.deepEqual(report.linksDeleted, [`${names.vethPrefix}deadbeef`]);
  assert.deepEqual(report.dnsRestarted.sort(), ['client', 'isolated', 'web'].sort());
  assert.equal(mgr.get(`two${s}`).pool.allocated[dIp], undefined);
  assert.doesNotMatch(execFileSync('nft', ['list', 'table', 'ip', names.table], { encoding: 'utf8' }), /dport 1 drop/);
  assert.equal(await httpGet(`http://127.0.0.1:${port}/`), 'hello from a\n');
  assert.equal(await wget(ns.b, 'http://web/'), 'hello from a\n');
  // the IPAM state survived: a new endpoint does not get a taken address
  const again = await mgr.connect({ containerId: ids.d, containerName: 'second', netns: nsPath(ns.b), network: `net${s}` });
  assert.ok(!['10.231.0.2', '10.231.0.77'].includes(again.ip));
  await mgr.disconnect(ids.d, `net${s}`);
  assert.deepEqual(await mgr.pruneNetworks(), [`two${s}`]);
});
