// Networking through a real hakod (bin/hakod.js with unique bridge/table/interface names, see
// test/helpers/network.ts) and the hako CLI: the default bridge, published TCP/UDP ports from the
// host (127.0.0.1 and its own address) and hairpin, DNS between containers on a user network,
// --internal (against an "outside" namespace this test makes, never a real outside address),
// connect/disconnect while running, a kill -9 of the daemon keeping every mapping, and the docker
// CLI's network commands. Everything it makes is removed; the last test checks nothing is left.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { hasDocker, hasEngine, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { BUSYBOX, isRoot, tempDir } from '../helpers/fixtures.js';
import { netLeftovers } from '../helpers/network.js';
import { buildResponse, decodeMessage, TYPE, CLASS_IN, RCODE } from '../../src/network/dns-message.js';
import { retryUntil, waitForExitOf } from '../helpers/retry.js';
import { nsGet } from '../helpers/netns-client.js';
import { readMonitorInfo } from '../../src/engine/monitor/index.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const pexec = promisify(execFile);
const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((p) => existsSync(p + t));
const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !tool('nft') ? 'nft missing' : !tool('ip') ? 'iproute2 missing' : !tool('nsenter') ? 'nsenter missing' : false;
const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');

let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let ref: string;
let upstream: ReturnType<typeof createSocket>;
const DEFAULT_MTU = 1420;
let work: { path: string; cleanup: () => void };
const procs: ChildProcess[] = [];
const netnsMade: string[] = [];
const etcNetnsExisted = existsSync('/etc/netns');

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** The hako CLI against the test daemon; fails the test on a non-zero exit unless ok: false. */
async function hako(args: string[], opts: { ok?: boolean; timeout?: number } = {}): Promise<Out> {
  try {
    const r = await pexec(process.execPath, [HAKO, '-H', d.host, ...args], { env: d.env, timeout: opts.timeout ?? 60_000, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const out = { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (opts.ok !== false) assert.fail(`hako ${args.join(' ')} → ${out.code}\n${out.stdout}${out.stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
    return out;
  }
}

async function docker(args: string[], opts: { ok?: boolean } = {}): Promise<Out> {
  try {
    const r = await pexec(DOCKER, args, { env: d.env, timeout: 60_000, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const out = { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (opts.ok !== false) assert.fail(`docker ${args.join(' ')} → ${out.code}\n${out.stdout}${out.stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
    return out;
  }
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await d.request(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'Content-Type': 'application/json' });
  const text = r.body.toString();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function inspect(name: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await api('GET', `/containers/${name}/json`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

/** An HTTP GET from inside a container (busybox nc: its wget crashes here). */
async function getFrom(container: string, host: string, port = 80): Promise<string> {
  const r = await hako(['exec', container, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`], { ok: false });
  if (r.code !== 0 || !r.stdout.includes('200 OK')) throw new Error(`GET ${host}:${port} from ${container}: exit ${r.code} ${r.stdout}${r.stderr}`);
  return r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
}

/**
 * Runs a short-lived container to its end and returns its output from the log. (Not `run --rm`:
 * attach replays the log, then follows live output, and what a container writes between the two
 * is lost — the embedded DNS answers fast enough to land there.)
 */
async function runOnce(args: string[]): Promise<string> {
  const id = (await hako(['run', '-d', ...args])).stdout.trim();
  try {
    await hako(['wait', id]);
    return (await hako(['logs', id])).stdout;
  } finally {
    await hako(['rm', '-f', id], { ok: false });
  }
}

/** A busybox httpd container serving "hello from <hostname>". */
function httpd(): string[] {
  return [ref, 'sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'];
}

function usedAddresses(): string {
  return execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
}

/** A /24 no route or address of this host overlaps. */
function freeSubnet(): string {
  const used = usedAddresses();
  for (;;) {
    const a = randomInt(200, 250);
    const b = randomInt(0, 256);
    if (!used.includes(`10.${a}.${b}.`)) return `10.${a}.${b}.0/24`;
  }
}

/** busybox nslookup of `name` at the embedded DNS, from inside `container`: what it printed. */
async function lookupFrom(container: string, name: string): Promise<string> {
  const r = await hako(['exec', container, 'nslookup', name, '127.0.0.11'], { ok: false });
  return `${r.stdout}${r.stderr}`;
}

/** busybox nslookup's answer for a name the embedded DNS (and its upstream) do not know. */
const NXDOMAIN = (name: string) => new RegExp(`\\*\\* server can't find ${name}: NXDOMAIN`);

/** The host's own non-loopback address (not one of ours). */
function hostAddress(): string {
  for (const line of execFileSync('ip', ['-4', '-o', 'addr', 'show', 'scope', 'global'], { encoding: 'utf8' }).split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(line);
    if (m && !m[1]!.startsWith(d.net.prefix)) return m[2]!;
  }
  return '';
}

function ourVeths(): string[] {
  return netLeftovers(d.net).filter((n) => n.startsWith(`${d.net.prefix}v`));
}

/**
 * Waits until `n` veths of ours exist. The host end of an exited container's veth goes with its
 * netns, which the kernel destroys asynchronously after the answer (the daemon deletes one still
 * there after 1 s: src/network/manager.ts releaseContainer), so a count right after an rm or an
 * exit is polled for.
 */
async function vethsAre(n: number, what: string): Promise<void> {
  await retryUntil(async () => assert.equal(ourVeths().length, n, ourVeths().join(' ')), what);
}

before(async () => {
  if (skip) return;
  work = tempDir('hako-engnet-');
  // A stand-in upstream resolver on loopback: outside.test → 198.51.100.7, the rest NXDOMAIN.
  upstream = createSocket('udp4');
  upstream.on('message', (msg, rinfo) => {
    const q = decodeMessage(msg);
    const known = q.questions[0]?.name.toLowerCase() === 'outside.test';
    upstream.send(buildResponse(q, known ? [{ name: q.questions[0]!.name, type: TYPE.A, class: CLASS_IN, ttl: 5, data: '198.51.100.7' }] : [], known ? RCODE.NOERROR : RCODE.NXDOMAIN), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
  // --mtu: the default bridge's MTU (dockerd's flag), unlike the uplink's (1400 on CI machines).
  setup = await startBusyboxDaemon({ daemonArgs: ['--dns', `127.0.0.1:${upstream.address().port}`, '--mtu', String(DEFAULT_MTU)] });
  d = setup.d;
  ref = `${setup.reg.host}/test/busybox`;
  await hako(['pull', '-q', ref]);
});

after(async () => {
  if (skip) return;
  for (const p of procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
  try {
    if (setup) {
      const ids = (await hako(['ps', '-aq'], { ok: false })).stdout.split('\n').filter((x) => x);
      if (ids.length) await hako(['rm', '-f', ...ids], { ok: false });
      // the daemon (its exit code, no BUG: line), the registry and the image's dir
      await setup.stop({ noBugs: true });
      assert.deepEqual(netLeftovers(setup.d.net), [], 'the daemon helper removes the bridge and table a stopped daemon keeps');
    }
  } finally {
    for (const n of netnsMade) {
      try {
        execFileSync('ip', ['netns', 'del', n]);
      } catch {
        // gone
      }
      rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    }
    if (!etcNetnsExisted) rmSync('/etc/netns', { recursive: true, force: true });
    releaseNetnsDir();
    upstream?.close();
    await setup?.stop().catch(() => undefined); // (when a step above threw first)
    work?.cleanup();
  }
});

test('default bridge: the --bip subnet, eth0 and the bridge with the --mtu MTU, default route, stable MAC, docker-like /etc files', { skip }, async () => {
  const br = await api('GET', '/networks/bridge');
  assert.equal(br.status, 200);
  const [gw, bits] = d.net.bip.split('/') as [string, string];
  assert.deepEqual(br.json.IPAM.Config, [{ Subnet: `${gw.replace(/\.1$/, '.0')}/${bits}`, Gateway: gw }]);
  assert.equal(br.json.Options['com.docker.network.bridge.name'], d.net.bridge);
  assert.equal(br.json.Options['com.docker.network.bridge.default_bridge'], 'true');
  assert.equal(br.json.Options['com.docker.network.driver.mtu'], String(DEFAULT_MTU));
  assert.equal(readFileSync(`/sys/class/net/${d.net.bridge}/mtu`, 'utf8').trim(), String(DEFAULT_MTU));
  await hako(['run', '-d', '--name', 'plain', '--hostname', 'plainhost', '--add-host', 'db:10.9.9.9', ref, 'sleep', '300']);
  const j = await inspect('plain');
  const ns = j.NetworkSettings;
  assert.match(ns.IPAddress, new RegExp(`^${gw.replace(/\.1$/, '').replace(/\./g, '\\.')}\\.\\d+$`));
  assert.equal(ns.Gateway, gw);
  assert.equal(ns.IPPrefixLen, Number(bits));
  const bytes = ns.IPAddress.split('.').map((x: string) => Number(x).toString(16).padStart(2, '0'));
  assert.equal(ns.MacAddress, `02:42:${bytes.join(':')}`);
  assert.equal(ns.Networks.bridge.IPAddress, ns.IPAddress);
  assert.equal(ns.Networks.bridge.NetworkID, br.json.Id);
  assert.match(ns.Networks.bridge.EndpointID, /^[0-9a-f]{64}$/);
  // dockerd's shape: the netns bind-mounted at <exec-root>/netns/<12 hex of the sandbox ID>, the same namespace as the process's.
  assert.match(ns.SandboxKey, new RegExp(`/netns/${ns.SandboxID.slice(0, 12)}$`));
  assert.equal(statSync(ns.SandboxKey).ino, statSync(`/proc/${j.State.Pid}/ns/net`).ino);
  const inside = (await hako(['exec', 'plain', 'sh', '-c', 'ip -o link show eth0; ip route; cat /etc/hosts; echo ---; cat /etc/resolv.conf'])).stdout;
  const uplink = /dev (\S+)/.exec(execFileSync('ip', ['route', 'show', 'default'], { encoding: 'utf8' }))?.[1];
  assert.match(inside, new RegExp(`eth0@\\S+ <[^>]*UP[^>]*> mtu ${DEFAULT_MTU} `));
  assert.match(inside, new RegExp(`link/ether ${ns.MacAddress}`));
  assert.match(inside, new RegExp(`default via ${gw.replace(/\./g, '\\.')} dev eth0`));
  assert.match(inside, /10\.9\.9\.9\tdb\n/);
  assert.match(inside, new RegExp(`${ns.IPAddress.replace(/\./g, '\\.')}\\tplainhost\\n`));
  // No embedded DNS on the default bridge: the host's resolvers minus loopback ones.
  const resolv = inside.split('---\n')[1]!;
  assert.doesNotMatch(resolv, /127\.0\.0\.11/);
  assert.doesNotMatch(resolv, /nameserver 127\./);
  const veth = ourVeths();
  assert.equal(veth.length, 1, `one veth for one container: ${veth.join(' ')}`);
  assert.equal(readFileSync(`/sys/class/net/${veth[0]}/mtu`, 'utf8').trim(), String(DEFAULT_MTU), 'the host end has the MTU too');
  await hako(['rm', '-f', 'plain']);
  await vethsAre(0, 'rm removes the veth');
  // A start that fails after the networks were connected (no such program) leaves no endpoint.
  const bad = await hako(['run', '-d', '--name', 'badcmd', '-p', '80', ref, '/no/such/program'], { ok: false });
  assert.notEqual(bad.code, 0);
  await vethsAre(0, 'a failed start leaves no veth');
  assert.deepEqual((await api('GET', '/networks/bridge')).json.Containers, {});
  await hako(['rm', '-f', 'badcmd']);
  // --network none: loopback only, and up
  const none = await runOnce(['--network', 'none', ref, 'ip', '-o', 'link']);
  assert.deepEqual(none.trim().split('\n').map((l) => l.split(':')[1]!.trim()), ['lo']);
  assert.match(none, /lo: <LOOPBACK,UP/);
  // Its own network namespace, made by the engine alongside the start (../../src/engine/netns-ahead.ts).
  const again = await runOnce(['--network', 'none', ref, 'sh', '-c', 'readlink /proc/self/ns/net; ip -o link']);
  const [againNs, ...againLinks] = again.trim().split('\n');
  assert.match(againNs!, /^net:\[\d+\]$/);
  assert.notEqual(againNs, readlinkSync('/proc/self/ns/net'));
  assert.deepEqual(againLinks.map((l) => l.split(':')[1]!.trim()), ['lo']);
  assert.match(againLinks[0]!, /lo: <LOOPBACK,UP/);
  // --network host: the host's interfaces, hostname and /etc/hosts
  const hostLink = uplink ?? 'lo';
  const host = await runOnce(['--network', 'host', '--add-host', 'extra:10.8.8.8', ref, 'sh', '-c', `hostname; ip -o link | grep -c ": lo:"; ip -o link show ${hostLink} | wc -l; tail -1 /etc/hosts`]);
  const [hn, loCount, uplinkSeen, lastHost] = host.trim().split('\n');
  assert.equal(hn, execFileSync('hostname', { encoding: 'utf8' }).trim());
  assert.equal(loCount, '1');
  assert.equal(uplinkSeen, '1', `the host’s ${hostLink}`);
  assert.equal(lastHost, '10.8.8.8\textra');
  assert.deepEqual(Object.keys((await api('GET', '/networks/host')).json.Containers), []);
});

test('published ports: httpd via 127.0.0.1, [::1] and the host address, 127.0.0.1-only binding, hairpin, ps/port/list, busy ports named', { skip }, async () => {
  await hako(['run', '-d', '--name', 'web1', '-p', '80', '-p', '127.0.0.1::80', ...httpd()]);
  const ports = (await inspect('web1')).NetworkSettings.Ports['80/tcp'] as Array<{ HostIp: string; HostPort: string }>;
  const all = ports.find((p) => p.HostIp === '0.0.0.0')!;
  const lo = ports.find((p) => p.HostIp === '127.0.0.1')!;
  assert.ok(all && lo, JSON.stringify(ports));
  // dockerd (userland proxy, IPv6 enabled): a binding without a host address is on [::] too, same port.
  const v6 = existsSync('/proc/net/if_inet6');
  assert.deepEqual(ports.map((p) => p.HostIp), v6 ? ['0.0.0.0', '::', '127.0.0.1'] : ['0.0.0.0', '127.0.0.1']);
  if (v6) assert.equal(ports[1]!.HostPort, all.HostPort);
  const hostname = (await inspect('web1')).Config.Hostname;
  const body = await retryUntil(() => httpGet(`http://127.0.0.1:${all.HostPort}/`), 'httpd via 127.0.0.1');
  assert.equal(body, `hello from ${hostname}\n`);
  assert.equal(await httpGet(`http://127.0.0.1:${lo.HostPort}/`), `hello from ${hostname}\n`);
  if (v6) assert.equal(await httpGet(`http://[::1]:${all.HostPort}/`), `hello from ${hostname}\n`, 'through the IPv6 userland proxy');
  await assert.rejects(httpGet(`http://[::1]:${lo.HostPort}/`), 'a 127.0.0.1 binding is IPv4 only');
  const addr = hostAddress();
  assert.ok(addr, 'the host has a non-loopback address');
  assert.equal(await httpGet(`http://${addr}:${all.HostPort}/`), `hello from ${hostname}\n`);
  await assert.rejects(httpGet(`http://${addr}:${lo.HostPort}/`), 'a 127.0.0.1 binding is not reachable on other addresses');
  // hairpin: the container reaches its own published port through the host's address
  assert.equal(await getFrom('web1', addr, Number(all.HostPort)), `hello from ${hostname}\n`);
  // docker's displays
  const ps = (await hako(['ps', '--filter', 'name=web1', '--format', '{{.Ports}}'])).stdout.trim();
  assert.equal(ps, `0.0.0.0:${all.HostPort}->80/tcp, 127.0.0.1:${lo.HostPort}->80/tcp${v6 ? `, [::]:${all.HostPort}->80/tcp` : ''}`);
  const port = (await hako(['port', 'web1'])).stdout;
  assert.match(port, new RegExp(`^80/tcp -> 0\\.0\\.0\\.0:${all.HostPort}$`, 'm'));
  if (v6) assert.match(port, new RegExp(`^80/tcp -> \\[::\\]:${all.HostPort}$`, 'm'));
  assert.match(port, new RegExp(`^80/tcp -> 127\\.0\\.0\\.1:${lo.HostPort}$`, 'm'));
  assert.equal((await hako(['port', 'web1', '80/tcp'])).stdout.split('\n')[0], `0.0.0.0:${all.HostPort}`);
  const list = await api('GET', '/containers/json?filters=' + encodeURIComponent(JSON.stringify({ name: ['web1'] })));
  assert.deepEqual(list.json[0].Ports.sort((a: { IP: string }, b: { IP: string }) => (a.IP < b.IP ? -1 : 1)), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: Number(all.HostPort), Type: 'tcp' },
    { IP: '127.0.0.1', PrivatePort: 80, PublicPort: Number(lo.HostPort), Type: 'tcp' },
    ...(v6 ? [{ IP: '::', PrivatePort: 80, PublicPort: Number(all.HostPort), Type: 'tcp' }] : []),
  ]);
  // The [::] side is held too: a host process cannot listen there.
  if (v6) {
    const squatter = createServer();
    await assert.rejects(new Promise<void>((res, rej) => {
      squatter.once('error', rej);
      squatter.listen({ port: Number(all.HostPort), host: '::', ipv6Only: true }, () => res());
    }), /EADDRINUSE/);
    squatter.close();
  }
  assert.ok(list.json[0].NetworkSettings.Networks.bridge.IPAddress);
  // A host port another container publishes, and one a host process listens on.
  const taken = await hako(['run', '-d', '--name', 'web1b', '-p', `${all.HostPort}:80`, ...httpd()], { ok: false });
  assert.equal(taken.code, 125);
  // dockerd's words and status (500, a system error; it was hako's 409 `host port N/tcp is already allocated`)
  assert.match(taken.stderr, new RegExp(`driver failed programming external connectivity on endpoint web1b \\([0-9a-f]+\\): Bind for 0\\.0\\.0\\.0:${all.HostPort} failed: port is already allocated \\(published by container web1\\)`));
  const takenStart = await api('POST', '/containers/web1b/start');
  assert.equal(takenStart.status, 500, JSON.stringify(takenStart.json));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '0.0.0.0', () => r()));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    const r = await hako(['run', '-d', '--name', 'web1c', '-p', `${busyPort}:80`, ...httpd()], { ok: false });
    assert.equal(r.code, 125);
    assert.match(r.stderr, new RegExp(`${busyPort}/tcp: address already in use \\(EADDRINUSE\\) \\(it is in use by node \\(pid ${process.pid}\\)\\)`));
  } finally {
    busy.close();
  }
  // The failed starts left no endpoint behind (web1 keeps its one veth) and the containers exist, created.
  await vethsAre(1, 'web1 keeps its one veth');
  assert.equal((await inspect('web1c')).State.Status, 'created');
  await hako(['rm', '-f', 'web1', 'web1b', 'web1c']);
  await vethsAre(0, 'rm removes the veth');
  const thief = createServer();
  await new Promise<void>((res, rej) => {
    thief.once('error', rej);
    thief.listen(Number(all.HostPort), '0.0.0.0', () => res());
  });
  thief.close();
});

test('user network: containers reach each other by name, alias and short id; other names are forwarded; not from the default bridge', { skip }, async () => {
  const subnet = freeSubnet();
  const created = await api('POST', '/networks/create', { Name: 'appnet', IPAM: { Config: [{ Subnet: subnet }] }, Labels: { role: 'test' } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.match(created.json.Id, /^[0-9a-f]{64}$/);
  assert.equal((await api('POST', '/networks/create', { Name: 'appnet' })).status, 409);
  await hako(['run', '-d', '--name', 'web2', '--network', 'appnet', '--network-alias', 'www', ...httpd()]);
  const j = await inspect('web2');
  const ep = j.NetworkSettings.Networks.appnet;
  assert.equal(ep.NetworkID, created.json.Id);
  // API 1.44 (unversioned): current moby adds the short ID and the hostname to Aliases below 1.45.
  assert.deepEqual(ep.Aliases, ['www', j.Id.slice(0, 12)]);
  assert.deepEqual(ep.DNSNames, ['web2', 'www', j.Id.slice(0, 12)]);
  assert.equal(j.NetworkSettings.IPAddress, '', 'top-level addresses are the default bridge’s');
  const shortId = j.Id.slice(0, 12);
  const script = [
    'cat /etc/resolv.conf',
    `nslookup web2 127.0.0.11 | tail -n +3`,
    `for h in web2 www ${shortId}; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $h 80 | tail -1; done`,
    'nslookup outside.test 127.0.0.11 | tail -n +3',
    'nslookup nosuchname.test 127.0.0.11 2>&1 | tail -n +3',
  ].join('; echo ---; ');
  // web2's httpd may not listen yet: the client runs again until all three names answer.
  const hello = `hello from ${j.Config.Hostname}\n`;
  const out = await retryUntil(async () => {
    const r = await runOnce(['--network', 'appnet', ref, 'sh', '-c', script]);
    if (r.split('---\n')[2] !== hello.repeat(3)) throw new Error(r);
    return r;
  }, 'client on appnet');
  const [resolv, lookup, gets, outside, unknown] = out.split('---\n') as [string, string, string, string, string];
  assert.match(resolv, /^nameserver 127\.0\.0\.11\n/);
  assert.match(lookup, new RegExp(`Address: ${ep.IPAddress.replace(/\./g, '\\.')}`));
  assert.equal(gets, hello.repeat(3));
  assert.match(outside, /Address: 198\.51\.100\.7/);
  assert.match(unknown, NXDOMAIN('nosuchname.test'));
  // The default bridge has no embedded DNS: web2's name means nothing there.
  const fromBridge = await runOnce([ref, 'sh', '-c', 'timeout 3 nslookup web2 127.0.0.11 >/dev/null 2>&1 && echo resolved || echo no']);
  assert.equal(fromBridge.trim(), 'no');
  // Network views and removal rules.
  const ins = await api('GET', '/networks/appnet');
  assert.equal(ins.json.Containers[j.Id].Name, 'web2');
  assert.equal(ins.json.Containers[j.Id].IPv4Address, `${ep.IPAddress}/24`);
  assert.deepEqual(ins.json.Labels, { role: 'test' });
  const custom = await api('GET', '/networks?filters=' + encodeURIComponent(JSON.stringify({ type: ['custom'] })));
  assert.deepEqual(custom.json.map((n: { Name: string }) => n.Name), ['appnet']);
  const rm = await api('DELETE', '/networks/appnet');
  assert.equal(rm.status, 403);
  assert.match(rm.json.message, /^error while removing network: network appnet id [0-9a-f]{64} has active endpoints/);
  assert.equal((await api('DELETE', '/networks/bridge')).status, 403);
  assert.equal((await api('DELETE', '/networks/nosuchnet')).status, 404);
  await hako(['rm', '-f', 'web2']);
  assert.equal((await api('DELETE', '/networks/appnet')).status, 204);
  await vethsAre(0, "web2's veth goes with its netns");
  assert.deepEqual(netLeftovers(d.net).sort(), [d.net.bridge, `nft table ip ${d.net.table}`].sort(), 'the user bridge went with its network');
});

// dockerd 20.10.24's answers to the same requests (a private lab): its IPAM refusals (500, the
// overlap and a second subnet 403), and network-scoped aliases kept exactly as given.
test('network create: IPAM refusals in dockerd’s words and statuses; aliases with spaces, slashes, non-ASCII or empty are kept', { skip }, async () => {
  const subnet = freeSubnet();
  const base = subnet.replace(/0\/24$/, '');
  const refusals: Array<[Record<string, string>[], number, string]> = [
    [[{ Subnet: subnet, Gateway: '10.1.1.1' }], 500, 'failed to allocate gateway (10.1.1.1): Requested address is out of range'],
    [[{ Subnet: subnet, Gateway: `${base}0` }], 500, `failed to allocate gateway (${base}0): Address already in use`],
    [[{ Subnet: subnet, Gateway: `${base}255` }], 500, `failed to allocate gateway (${base}255): Address already in use`],
    [[{ Subnet: subnet, Gateway: 'bad' }], 500, 'invalid gateway address bad in Ipam configuration'],
    [[{ Subnet: subnet, IPRange: 'bad' }], 500, `failed to parse pool request for address space "LocalDefault" pool "${subnet}" subpool "bad": Invalid Address SubPool`],
    [[{ Gateway: `${base}1` }], 500, 'Invalid subnet  : invalid CIDR address: '],
    [[{ IPRange: `${base}0/25` }], 500, 'Invalid subnet  : invalid CIDR address: '],
    [[{ Subnet: `${base}0/31` }], 500, 'failed to allocate gateway (): No available addresses on this pool'],
    [[{ Subnet: subnet }, { Subnet: `${base}0/25` }], 403, 'Pool overlaps with other one on this address space'],
    [[{ Subnet: subnet }, { Subnet: freeSubnet() }], 403, "bridge driver doesn't support multiple subnets"],
  ];
  for (const [configs, status, message] of refusals) {
    const r = await api('POST', '/networks/create', { Name: 'ipamnet', IPAM: { Config: configs } });
    assert.deepEqual([r.status, r.json.message], [status, message], JSON.stringify(configs));
  }
  assert.equal((await api('GET', '/networks/ipamnet')).status, 404, 'none of them made a network');
  // Aliases: dockerd takes any string, "" included, and shows them as given.
  await hako(['network', 'create', '--subnet', subnet, 'aliasnet']);
  try {
    const odd = ['a b', 'x/ü', '-lead', ''];
    await hako(['run', '-d', '--name', 'oddalias', '--network', 'aliasnet', ...odd.map((a) => `--network-alias=${a}`), ...httpd()]);
    const j = await inspect('oddalias');
    assert.deepEqual(j.NetworkSettings.Networks.aliasnet.Aliases, [...odd, j.Id.slice(0, 12)], 'as given, then (API < 1.45) the short ID');
    // moby's buildEndpointDNSNames order: the name, the aliases, the short ID (also the hostname: once).
    assert.deepEqual(j.NetworkSettings.Networks.aliasnet.DNSNames, ['oddalias', 'a b', 'x/ü', '-lead', j.Id.slice(0, 12)]);
    const second = freeSubnet();
    await hako(['network', 'create', '--subnet', second, 'aliasnet2']);
    try {
      await hako(['network', 'connect', '--alias=c d', '--alias=e;f', 'aliasnet2', 'oddalias']);
      assert.deepEqual((await inspect('oddalias')).NetworkSettings.Networks.aliasnet2.Aliases, ['c d', 'e;f', j.Id.slice(0, 12)]);
      // The embedded DNS still answers the container's name next to names no question can carry.
      const lookup = await retryUntil(async () => {
        const out = await runOnce(['--network', 'aliasnet', ref, 'sh', '-c', 'nslookup oddalias 127.0.0.11 | tail -n +3']);
        if (!/Address: /.test(out)) throw new Error(out);
        return out;
      }, 'oddalias resolves');
      assert.match(lookup, new RegExp(`Address: ${j.NetworkSettings.Networks.aliasnet.IPAddress.replace(/\./g, '\\.')}`));
    } finally {
      await hako(['rm', '-f', 'oddalias'], { ok: false });
      await hako(['network', 'rm', 'aliasnet2'], { ok: false });
    }
  } finally {
    await hako(['rm', '-f', 'oddalias'], { ok: false });
    await hako(['network', 'rm', 'aliasnet']);
  }
});

test('--internal: no way out; a normal user network reaches the "outside" namespace through masquerade; published ports from there', { skip }, async () => {
  // The outside: a namespace behind a veth of ours, with an httpd.
  const outNs = `${d.net.prefix}o`;
  const outVeth = `${d.net.prefix}o`;
  const outNet = freeSubnet().replace(/\.0\/24$/, '');
  recordNetns(outNs);
  execFileSync('ip', ['netns', 'add', outNs]);
  netnsMade.push(outNs);
  mkdirSync(join(work.path, 'www'), { recursive: true });
  writeFileSync(join(work.path, 'www', 'index.html'), 'hello from outside\n');
  execFileSync('ip', ['link', 'add', outVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outNs]);
  execFileSync('ip', ['addr', 'add', `${outNet}.1/24`, 'dev', outVeth]);
  execFileSync('ip', ['link', 'set', outVeth, 'up']);
  writeFileSync(`/proc/sys/net/ipv4/conf/${outVeth}/forwarding`, '1'); // our own interface only
  execFileSync('ip', ['-n', outNs, 'addr', 'add', `${outNet}.2/24`, 'dev', 'eth0']);
  execFileSync('ip', ['-n', outNs, 'link', 'set', 'eth0', 'up']);
  execFileSync('ip', ['-n', outNs, 'link', 'set', 'lo', 'up']);
  const srv = spawn('ip', ['netns', 'exec', outNs, BUSYBOX, 'httpd', '-f', '-p', '80', '-h', join(work.path, 'www')], { stdio: 'ignore' });
  procs.push(srv);
  await retryUntil(() => httpGet(`http://${outNet}.2/`), 'httpd outside');
  await hako(['network', 'create', '--subnet', freeSubnet(), 'opennet']);
  await hako(['network', 'create', '--internal', '--subnet', freeSubnet(), 'closednet']);
  await hako(['run', '-d', '--name', 'opener', '--network', 'opennet', ref, 'sleep', '300']);
  await hako(['run', '-d', '--name', 'closed', '--network', 'closednet', ref, 'sleep', '300']);
  assert.equal(await getFrom('opener', `${outNet}.2`), 'hello from outside\n');
  await assert.rejects(getFrom('closed', `${outNet}.2`), /exit/);
  const routes = (await hako(['exec', 'closed', 'ip', 'route'])).stdout;
  assert.doesNotMatch(routes, /default/, 'an internal network gives no default route');
  // even with a route added by hand (as root in the container), the firewall drops it
  await hako(['exec', '--privileged', 'closed', 'ip', 'route', 'add', 'default', 'via', (await inspect('closed')).NetworkSettings.Networks.closednet.Gateway]);
  await assert.rejects(getFrom('closed', `${outNet}.2`), /exit/);
  assert.equal((await api('GET', '/networks/closednet')).json.Internal, true);
  // Published ports from "another host" (the outside namespace): DNAT in prerouting.
  await hako(['run', '-d', '--name', 'pubweb', '--network', 'opennet', '-p', '80', ...httpd()]);
  const pub = await inspect('pubweb');
  const port = pub.NetworkSettings.Ports['80/tcp'][0].HostPort;
  const fromOutside = await retryUntil(() => nsGet(outNs, `http://${outNet}.1:${port}/`), 'the published port from outside');
  assert.equal(fromOutside, `hello from ${pub.Config.Hostname}\n`);
  await hako(['rm', '-f', 'opener', 'closed', 'pubweb']);
  await hako(['network', 'rm', 'opennet', 'closednet']);
  srv.kill('SIGKILL');
  await new Promise((r) => srv.once('exit', r));
  execFileSync('ip', ['netns', 'del', outNs]); // takes the veth pair with it
  netnsMade.splice(netnsMade.indexOf(outNs), 1);
  rmSync(`/etc/netns/${outNs}`, { recursive: true, force: true });
});

/** One datagram to host:port and the reply, or a rejection after 300 ms (the caller retries: UDP). */
function udpExchange(sock: ReturnType<typeof createSocket>, text: string, port: number, host: string): Promise<string> {
  return new Promise<string>((res, rej) => {
    const onMessage = (msg: Buffer) => {
      clearTimeout(t);
      res(msg.toString());
    };
    const t = setTimeout(() => {
      sock.off('message', onMessage);
      rej(new Error(`no UDP reply from ${host}:${port}`));
    }, 300);
    sock.once('message', onMessage);
    sock.send(text, port, host);
  });
}

test('UDP publish', { skip }, async () => {
  await hako(['run', '-d', '--name', 'udp1', '-p', '5353/udp', ref, 'sleep', '300']);
  const j = await inspect('udp1');
  const hostPort = Number(j.NetworkSettings.Ports['5353/udp'][0].HostPort);
  // The echo server runs in the container's netns (busybox here has no UDP server applet).
  const echo = spawn('nsenter', [`--net=/proc/${j.State.Pid}/ns/net`, process.execPath, '-e', "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(5353)"], { stdio: 'ignore' });
  procs.push(echo);
  const client = createSocket('udp4');
  try {
    const reply = await retryUntil(() => udpExchange(client, 'ping', hostPort, '127.0.0.1'), 'udp echo through the published port');
    assert.equal(reply, 'echo:ping');
    if (existsSync('/proc/net/if_inet6')) {
      assert.deepEqual(j.NetworkSettings.Ports['5353/udp'], [{ HostIp: '0.0.0.0', HostPort: String(hostPort) }, { HostIp: '::', HostPort: String(hostPort) }]);
      const client6 = createSocket('udp6');
      try {
        assert.equal(await retryUntil(() => udpExchange(client6, 'ping6', hostPort, '::1'), 'udp echo through the IPv6 userland proxy'), 'echo:ping6');
      } finally {
        client6.close();
      }
    }
  } finally {
    client.close();
    echo.kill('SIGKILL');
  }
  await hako(['rm', '-f', 'udp1']);
});

test('connect/disconnect while running, and connecting a stopped container; network events', { skip }, async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await hako(['network', 'create', '--subnet', freeSubnet(), 'joinnet']);
  await hako(['run', '-d', '--name', 'mover', ...httpd()]);
  await hako(['run', '-d', '--name', 'peer', '--network', 'joinnet', ref, 'sleep', '300']);
  assert.match(await lookupFrom('peer', 'mover'), NXDOMAIN('mover'));
  await assert.rejects(getFrom('peer', 'mover'), /bad address 'mover'/);
  await hako(['network', 'connect', '--alias', 'mv', 'joinnet', 'mover']);
  const j = await inspect('mover');
  const ip = j.NetworkSettings.Networks.joinnet.IPAddress;
  assert.ok(ip);
  assert.ok(j.NetworkSettings.Networks.bridge.IPAddress, 'still on the default bridge');
  assert.match((await hako(['exec', 'mover', 'ip', '-o', '-4', 'addr', 'show', 'eth1'])).stdout, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/`));
  assert.match((await hako(['exec', 'mover', 'cat', '/etc/hosts'])).stdout, new RegExp(`${ip.replace(/\./g, '\\.')}\\t`));
  // The name answers as soon as the connect has returned (no retry: registration is part of it).
  assert.match(await lookupFrom('peer', 'mover'), new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\n`));
  assert.equal(await retryUntil(() => getFrom('peer', 'mover'), 'peer → mover'), `hello from ${j.Config.Hostname}\n`);
  assert.equal(await getFrom('peer', 'mv'), `hello from ${j.Config.Hostname}\n`);
  const again = await api('POST', '/networks/joinnet/connect', { Container: 'mover' });
  assert.equal(again.status, 403);
  await hako(['network', 'disconnect', 'joinnet', 'mover']);
  assert.equal((await hako(['exec', 'mover', 'ip', 'link', 'show', 'eth1'], { ok: false })).code !== 0, true, 'eth1 is gone');
  assert.match(await lookupFrom('peer', 'mover'), NXDOMAIN('mover'));
  await assert.rejects(getFrom('peer', 'mover'), /bad address 'mover'/);
  assert.equal((await inspect('mover')).NetworkSettings.Networks.joinnet, undefined);
  assert.equal((await api('GET', '/networks/joinnet')).json.Containers[j.Id], undefined);
  // a stopped container: recorded now, connected at its next start
  await hako(['stop', '-t', '0', 'mover']);
  await hako(['network', 'connect', 'joinnet', 'mover']);
  assert.equal((await inspect('mover')).NetworkSettings.Networks.joinnet.IPAddress, '');
  await hako(['start', 'mover']);
  const restartedIp = (await inspect('mover')).NetworkSettings.Networks.joinnet.IPAddress;
  assert.ok(restartedIp);
  assert.match(await lookupFrom('peer', 'mover'), new RegExp(`Address: ${restartedIp.replace(/\./g, '\\.')}\n`));
  assert.equal(await retryUntil(() => getFrom('peer', 'mover'), 'peer → restarted mover'), `hello from ${j.Config.Hostname}\n`);
  await hako(['rm', '-f', 'mover', 'peer']);
  await hako(['network', 'rm', 'joinnet']);
  await vethsAre(0, 'rm removes the veths');
  const until = Math.floor(Date.now() / 1000) + 1;
  const ev = await d.request('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['network'], network: ['joinnet'] }))}`);
  const actions = ev.body.toString().split('\n').filter((l) => l).map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } });
  const seen = actions.map((e) => `${e.Action}${e.Actor.Attributes.container === j.Id ? ':mover' : ''}`);
  // live connect, live disconnect, (connect while stopped: no endpoint yet), start, rm
  assert.deepEqual(seen.filter((x) => x.endsWith(':mover') || x === 'create' || x === 'destroy'), ['create', 'connect:mover', 'disconnect:mover', 'connect:mover', 'disconnect:mover', 'destroy'], seen.join(' '));
});

// docker isolates networks from each other: the forward chain must list every network's
// "oifname X … drop" before any "iifname X accept" (src/network/nftables.ts, rulesetTable).
test('networks are isolated from each other', { skip }, async () => {
  await hako(['network', 'create', '--subnet', freeSubnet(), 'isoa']);
  await hako(['network', 'create', '--subnet', freeSubnet(), 'isob']);
  try {
    await hako(['run', '-d', '--name', 'isoweb', '--network', 'isob', ...httpd()]);
    await hako(['run', '-d', '--name', 'isobr', ...httpd()]);
    await hako(['run', '-d', '--name', 'isocli', '--network', 'isoa', ref, 'sleep', '300']);
    const webIp = (await inspect('isoweb')).NetworkSettings.Networks.isob.IPAddress;
    const brIp = (await inspect('isobr')).NetworkSettings.Networks.bridge.IPAddress;
    await retryUntil(() => getFrom('isoweb', webIp), 'isoweb up');
    const cliIp = (await inspect('isocli')).NetworkSettings.Networks.isoa.IPAddress;
    // (each blocked path waits out nc's 3 s: they are tried at once, not one after the other)
    await Promise.all([
      assert.rejects(getFrom('isocli', webIp), 'isoa → isob must be blocked'),
      assert.rejects(getFrom('isocli', brIp), 'isoa → the default bridge must be blocked'),
      assert.rejects(getFrom('isobr', cliIp), 'bridge → isoa must be blocked'),
    ]);
  } finally {
    await hako(['rm', '-f', 'isoweb', 'isobr', 'isocli'], { ok: false });
    await hako(['network', 'rm', 'isoa', 'isob'], { ok: false });
  }
});

/** The bridge ports (host ends of veths) of `bridge` and their MTUs. */
function bridgePorts(bridge: string): Array<{ name: string; mtu: string }> {
  return readdirSync(`/sys/class/net/${bridge}/brif`).map((name) => ({ name, mtu: readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim() }));
}

// dockerd 20.10's bridge driver options: bad values refused in its words (500), the MTU on the
// bridge and both ends of each veth, enable_icc=false cutting container↔container traffic on
// the bridge (the host↔container path stays), host_binding_ipv4 as the default host address of
// published ports. The uplink here has MTU 1400, so the test's 1360 cannot be the default.
test('network -o driver.mtu / enable_icc=false / host_binding_ipv4: refused in dockerd’s words, applied, gone with the network; 1500 without it', { skip }, async () => {
  const refusals: Array<[string, string, string]> = [
    ['com.docker.network.driver.mtu', 'abc', 'failed to parse com.docker.network.driver.mtu value: abc (strconv.Atoi: parsing "abc": invalid syntax)'],
    ['com.docker.network.driver.mtu', '-1', 'invalid MTU number: -1'],
    ['com.docker.network.bridge.enable_icc', 'maybe', 'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)'],
    ['com.docker.network.bridge.host_binding_ipv4', 'bad', 'failed to parse com.docker.network.bridge.host_binding_ipv4 value: bad (nil ip)'],
  ];
  for (const [k, v, message] of refusals) {
    const r = await api('POST', '/networks/create', { Name: 'badopts', Options: { [k]: v } });
    assert.deepEqual([r.status, r.json.message], [500, message], `${k}=${v}`);
  }
  assert.equal((await api('GET', '/networks/badopts')).status, 404);
  // Out of the kernel's range: refused at create (dockerd 20.10 takes it and fails every start
  // with "failed to set MTU on host interface …: invalid argument"; later moby refuses it too).
  const big = await api('POST', '/networks/create', { Name: 'bigmtu', Options: { 'com.docker.network.driver.mtu': '100000' } });
  assert.equal(big.status, 500);
  assert.match(big.json.message, /with MTU 100000: invalid argument \(EINVAL\)$/);
  assert.equal((await api('GET', '/networks/bigmtu')).status, 404);
  const opts = { 'com.docker.network.driver.mtu': '1360', 'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1', 'x.custom': 'kept' };
  const subnet = freeSubnet();
  await hako(['network', 'create', '--subnet', subnet, ...Object.entries(opts).flatMap(([k, v]) => ['-o', `${k}=${v}`]), 'iccnet']);
  const net = (await api('GET', '/networks/iccnet')).json;
  assert.deepEqual(net.Options, opts, 'inspect shows the options as given (dockerd)');
  const bridge = `${d.net.prefix}-${net.Id.slice(0, 15 - d.net.prefix.length - 1)}`;
  const gw = subnet.replace(/0\/24$/, '1');
  assert.equal(readFileSync(`/sys/class/net/${bridge}/mtu`, 'utf8').trim(), '1360', 'the bridge has the MTU before any container');
  // A host server on the network's gateway address: the container → host path.
  const hostServer = createServer((c) => c.end('from the host\n'));
  await new Promise<void>((r) => hostServer.listen(0, gw, () => r()));
  let checked = false;
  try {
    await hako(['run', '-d', '--name', 'iccweb', '--network', 'iccnet', '-p', '80', ...httpd()]);
    await hako(['run', '-d', '--name', 'iccweb2', '--network', 'iccnet', ...httpd()]);
    const webIp = (await inspect('iccweb')).NetworkSettings.Networks.iccnet.IPAddress as string;
    const web2Ip = (await inspect('iccweb2')).NetworkSettings.Networks.iccnet.IPAddress as string;
    for (const c of ['iccweb', 'iccweb2']) assert.equal((await hako(['exec', c, 'cat', '/sys/class/net/eth0/mtu'])).stdout.trim(), '1360', `${c}'s eth0`);
    const ports = bridgePorts(bridge);
    assert.deepEqual(ports.map((p) => p.mtu), ['1360', '1360'], `host ends: ${JSON.stringify(ports)}`);
    // host → container, straight and through the published port (bound on 127.0.0.1 only)
    await retryUntil(async () => assert.match(await httpGet(`http://${webIp}/`), /hello from/), 'iccweb up');
    await retryUntil(async () => assert.match(await httpGet(`http://${web2Ip}/`), /hello from/), 'iccweb2 up');
    const binding = (await inspect('iccweb')).NetworkSettings.Ports['80/tcp'];
    assert.equal(binding.length, 1, JSON.stringify(binding));
    assert.equal(binding[0].HostIp, '127.0.0.1', 'host_binding_ipv4 is the default host address');
    assert.match(await httpGet(`http://127.0.0.1:${binding[0].HostPort}/`), /hello from/);
    // container → host
    const fromHost = await hako(['exec', 'iccweb2', 'sh', '-c', `nc -w 3 ${gw} ${(hostServer.address() as { port: number }).port} </dev/null`]);
    assert.equal(fromHost.stdout, 'from the host\n');
    // container ↔ container on the bridge: cut, both ways
    await Promise.all([
      assert.rejects(getFrom('iccweb2', webIp), 'iccweb2 → iccweb must be blocked (enable_icc=false)'),
      assert.rejects(getFrom('iccweb', web2Ip), 'iccweb → iccweb2 must be blocked (enable_icc=false)'),
    ]);
    checked = true;
  } finally {
    hostServer.close();
    await hako(['rm', '-f', 'iccweb', 'iccweb2'], { ok: false });
    if (!checked) await hako(['network', 'rm', 'iccnet'], { ok: false }); // (checked below otherwise)
  }
  await vethsAre(0, 'rm removes the veths');
  await hako(['network', 'rm', 'iccnet']);
  assert.equal(existsSync(`/sys/class/net/${bridge}`), false, 'the bridge goes with the network');
  assert.doesNotMatch(execFileSync('nft', ['list', 'table', 'ip', d.net.table], { encoding: 'utf8' }), new RegExp(bridge), 'no rule names the bridge');
  // Without -o driver.mtu a user network gets 1500, as dockerd 20.10 (not the uplink's: 1400 on
  // CI machines; nor the daemon's --mtu, 1420 here, which is the default bridge's): the bridge,
  // both veth ends, and inspect shows no option.
  await hako(['network', 'create', '--subnet', freeSubnet(), 'plainmtu']);
  try {
    const plain = (await api('GET', '/networks/plainmtu')).json;
    assert.deepEqual(plain.Options, {});
    const plainBridge = `${d.net.prefix}-${plain.Id.slice(0, 15 - d.net.prefix.length - 1)}`;
    assert.equal(readFileSync(`/sys/class/net/${plainBridge}/mtu`, 'utf8').trim(), '1500');
    await hako(['run', '-d', '--name', 'plainmtu1', '--network', 'plainmtu', ...httpd()]);
    assert.equal((await hako(['exec', 'plainmtu1', 'cat', '/sys/class/net/eth0/mtu'])).stdout.trim(), '1500');
    assert.deepEqual(bridgePorts(plainBridge).map((p) => p.mtu), ['1500']);
  } finally {
    await hako(['rm', '-f', 'plainmtu1'], { ok: false });
    await hako(['network', 'rm', 'plainmtu']);
  }
});

test('daemon kill -9 and restart: published ports and names keep working, exited containers are released, no double allocation', { skip }, async () => {
  await hako(['network', 'create', '--subnet', freeSubnet(), 'keepnet']);
  await hako(['run', '-d', '--name', 'keeper', '--network', 'keepnet', '-p', '80', ...httpd()]);
  await hako(['run', '-d', '--name', 'client', '--network', 'keepnet', ref, 'sleep', '300']);
  const briefId = (await hako(['run', '-d', '--name', 'brief', '--network', 'keepnet', ref, 'sleep', '300'])).stdout.trim();
  const keeper = await inspect('keeper');
  const port = Number(keeper.NetworkSettings.Ports['80/tcp'][0].HostPort);
  const keeperIp = keeper.NetworkSettings.Networks.keepnet.IPAddress;
  const briefIp = (await inspect('brief')).NetworkSettings.Networks.keepnet.IPAddress;
  const hello = `hello from ${keeper.Config.Hostname}\n`;
  assert.equal(await retryUntil(() => httpGet(`http://127.0.0.1:${port}/`), 'keeper'), hello);
  await vethsAre(3, 'one veth per running container (those of earlier tests gone)');
  await d.crash();
  // While no daemon runs the kernel keeps forwarding.
  assert.equal(await httpGet(`http://127.0.0.1:${port}/`), hello);
  // "brief" exits meanwhile (killed here: a timed exit could come before the crash on a loaded
  // machine); its monitor writes the exit record, then exits: awaited by its pid.
  const briefMonitor = readMonitorInfo(join(d.execRoot, 'monitors', briefId));
  assert.ok(briefMonitor, `brief's monitor.json in ${d.execRoot}/monitors`);
  process.kill(briefMonitor.containerPid, 'SIGKILL');
  await waitForExitOf(briefMonitor.pid, "brief's monitor", briefMonitor.startTime);
  d = await setup!.restart(['--dns', `127.0.0.1:${upstream.address().port}`]);
  const k2 = await inspect('keeper');
  assert.equal(k2.State.Status, 'running');
  assert.equal(k2.NetworkSettings.Networks.keepnet.IPAddress, keeperIp);
  assert.equal(await httpGet(`http://127.0.0.1:${port}/`), hello);
  assert.equal(await httpGet(`http://${hostAddress()}:${port}/`), hello);
  if (existsSync('/proc/net/if_inet6')) assert.equal(await retryUntil(() => httpGet(`http://[::1]:${port}/`), 'the IPv6 proxy after the restart'), hello);
  assert.equal(await retryUntil(() => getFrom('client', 'keeper'), 'DNS after the restart'), hello);
  // The port is held again: a host process cannot take it.
  const thief = createServer();
  await assert.rejects(new Promise<void>((res, rej) => {
    thief.once('error', rej);
    thief.listen(port, '0.0.0.0', () => res());
  }), /EADDRINUSE/);
  thief.close();
  // "brief" exited while the daemon was down: its endpoint, veth and address are gone.
  assert.equal((await inspect('brief')).State.Status, 'exited');
  await vethsAre(2, "brief's veth goes with its netns");
  const net = (await api('GET', '/networks/keepnet')).json;
  assert.deepEqual(Object.values(net.Containers).map((c) => (c as { Name: string }).Name).sort(), ['client', 'keeper']);
  // Its address is free again; the ones in use are not handed out twice.
  await hako(['run', '-d', '--name', 'reuse', '--network', 'keepnet', '--ip', briefIp, ref, 'sleep', '300']);
  const dup = await hako(['run', '-d', '--name', 'dup', '--network', 'keepnet', '--ip', keeperIp, ref, 'sleep', '300'], { ok: false });
  assert.equal(dup.code, 125);
  assert.match(dup.stderr, new RegExp(`address ${keeperIp.replace(/\./g, '\\.')} is already in use`));
  await hako(['run', '-d', '--name', 'fresh', '--network', 'keepnet', ref, 'sleep', '300']);
  const freshIp = (await inspect('fresh')).NetworkSettings.Networks.keepnet.IPAddress;
  assert.ok(![keeperIp, briefIp].includes(freshIp));
  const rules = execFileSync('nft', ['list', 'table', 'ip', d.net.table], { encoding: 'utf8' });
  assert.match(rules, new RegExp(`dport ${port} dnat to ${keeperIp.replace(/\./g, '\\.')}:80`));
  await hako(['rm', '-f', 'keeper', 'client', 'brief', 'reuse', 'dup', 'fresh']);
  assert.doesNotMatch(execFileSync('nft', ['list', 'table', 'ip', d.net.table], { encoding: 'utf8' }), /dnat to/, 'no rule outlives its container');
  await hako(['network', 'rm', 'keepnet']);
});

test('restart policy restarts reconnect; --network container:<id> shares the netns and its files; -P', { skip }, async () => {
  await hako(['network', 'create', '--subnet', freeSubnet(), 'rpnet']);
  const flaky = (await hako(['run', '-d', '--name', 'flaky', '--network', 'rpnet', '--restart', 'on-failure:1', ref, 'sh', '-c', 'ip -o -4 addr show eth0; ip route | grep default; exit 1'])).stdout.trim();
  await retryUntil(async () => {
    const j = await inspect(flaky);
    if (j.RestartCount !== 1 || j.State.Running || j.State.Restarting) throw new Error(`restart count ${j.RestartCount}, ${j.State.Status}`);
  }, 'the restart', 15_000);
  const logs = (await hako(['logs', 'flaky'])).stdout;
  assert.equal(logs.match(/inet 10\.\d+\.\d+\.\d+\/24/g)?.length, 2, `connected on both runs:
${logs}`);
  assert.equal(logs.match(/default via/g)?.length, 2);
  assert.equal((await api('GET', '/networks/rpnet')).json.Containers[flaky], undefined, 'released after the last exit');
  await hako(['run', '-d', '--name', 'owner', '--network', 'rpnet', '-P', '--expose', '7000', ...httpd()]);
  const owner = await inspect('owner');
  assert.ok(Number(owner.NetworkSettings.Ports['7000/tcp'][0].HostPort) > 0, '-P publishes every exposed port');
  await hako(['run', '-d', '--name', 'sidecar', '--network', 'container:owner', ref, 'sleep', '300']);
  const side = await inspect('sidecar');
  assert.deepEqual(side.NetworkSettings.Networks, {});
  assert.match((await hako(['exec', 'sidecar', 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout, new RegExp(`inet ${owner.NetworkSettings.Networks.rpnet.IPAddress.replace(/\./g, '\\.')}/`));
  assert.equal((await hako(['exec', 'sidecar', 'cat', '/etc/hosts'])).stdout, (await hako(['exec', 'owner', 'cat', '/etc/hosts'])).stdout);
  assert.match(await getFrom('sidecar', '127.0.0.1'), /^hello from /, 'the owner’s httpd on the shared loopback');
  assert.equal((await hako(['exec', 'sidecar', 'hostname'])).stdout, `${owner.Config.Hostname}\n`, "docker: the owner's hostname too");
  assert.equal((await inspect('sidecar')).Config.Hostname, owner.Config.Hostname);
  await hako(['rm', '-f', 'sidecar', 'owner', 'flaky']);
  await hako(['network', 'rm', 'rpnet']);
  await vethsAre(0, 'rm removes the veths');
});

test('docker CLI: network create/ls/inspect/rm, run -d -p, port', { skip: skip || (!hasDocker && `${DOCKER} is missing`) }, async () => {
  const subnet = freeSubnet();
  const id = (await docker(['network', 'create', '--subnet', subnet, '--label', 'k=v', 'dnet'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  const ls = (await docker(['network', 'ls'])).stdout;
  assert.match(ls, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/m);
  assert.match(ls, new RegExp(`^${id.slice(0, 12)}\\s+dnet\\s+bridge\\s+local$`, 'm'));
  assert.match(ls, /\sbridge\s+bridge\s+local$/m);
  assert.match(ls, /\shost\s+host\s+local$/m);
  assert.match(ls, /\snone\s+null\s+local$/m);
  const ins = JSON.parse((await docker(['network', 'inspect', 'dnet'])).stdout);
  assert.equal(ins[0].IPAM.Config[0].Subnet, subnet);
  assert.equal(ins[0].Labels.k, 'v');
  assert.equal((await docker(['network', 'inspect', '-f', '{{.Driver}} {{.Internal}}', 'dnet'])).stdout.trim(), 'bridge false');
  const cid = (await docker(['run', '-d', '--name', 'dweb', '--network', 'dnet', '-p', '127.0.0.1::80', ...httpd()])).stdout.trim();
  const port = (await docker(['port', 'dweb', '80'])).stdout.trim();
  assert.match(port, /^127\.0\.0\.1:\d+$/);
  assert.equal(await retryUntil(() => httpGet(`http://${port}/`), 'dweb'), `hello from ${cid.slice(0, 12)}\n`);
  assert.match((await docker(['ps', '--format', '{{.Ports}}', '--filter', 'name=dweb'])).stdout, new RegExp(`^${port.replace(/\./g, '\\.')}->80/tcp$`, 'm'));
  // docker CLI 28's display of a binding without a host address (dockerd 20.10+: both families).
  await docker(['run', '-d', '--name', 'dweb2', '--network', 'dnet', '-p', '80', ...httpd()]);
  const p2 = (await docker(['port', 'dweb2', '80'])).stdout.trim().split('\n');
  const hp = p2[0]!.split(':').at(-1);
  if (existsSync('/proc/net/if_inet6')) {
    assert.deepEqual(p2, [`0.0.0.0:${hp}`, `[::]:${hp}`]);
    assert.equal((await docker(['ps', '--format', '{{.Ports}}', '--filter', 'name=dweb2'])).stdout.trim(), `0.0.0.0:${hp}->80/tcp, [::]:${hp}->80/tcp`);
  }
  await docker(['rm', '-f', 'dweb2']);
  const busy = await docker(['network', 'rm', 'dnet'], { ok: false });
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /has active endpoints/);
  await docker(['rm', '-f', 'dweb']);
  assert.equal((await docker(['network', 'rm', 'dnet'])).stdout.trim(), 'dnet');
  const gone = await docker(['network', 'inspect', 'dnet'], { ok: false });
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /network dnet not found/);
});

test('network prune, and nothing is left behind but the running daemon’s bridge and table', { skip }, async () => {
  await hako(['network', 'create', '--subnet', freeSubnet(), 'unused1']);
  await hako(['network', 'create', '--subnet', freeSubnet(), '--label', 'keep=yes', 'unused2']);
  const pruned = (await hako(['network', 'prune', '-f', '--filter', 'label!=keep=yes'])).stdout;
  assert.match(pruned, /^Deleted Networks:\nunused1\n/);
  await hako(['network', 'rm', 'unused2']);
  assert.deepEqual((await api('GET', '/networks')).json.map((n: { Name: string }) => n.Name).sort(), ['bridge', 'host', 'none']);
  await vethsAre(0, 'no veth of an earlier test is left');
  assert.deepEqual(netLeftovers(d.net).sort(), [d.net.bridge, `nft table ip ${d.net.table}`].sort());
  const table = execFileSync('nft', ['list', 'table', 'ip', d.net.table], { encoding: 'utf8' });
  assert.doesNotMatch(table, /dnat to/);
});
