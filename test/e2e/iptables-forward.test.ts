// hako's FORWARD exceptions (src/network/iptables-forward.ts) against a host whose iptables
// FORWARD policy is DROP — inside network namespaces this test makes, never the host's chains:
// "host" A (the daemon runs there under nsenter --net; `iptables -P FORWARD DROP` is A's) and
// "outside" B (a busybox httpd), joined by a veth pair with private addresses.
// Proves: without the exceptions (--iptables=false) containers have no way out and the daemon
// names the dropping chain; with them the default bridge and a user network reach B, B reaches a
// published port through A's address, an --internal network still cannot reach B and B cannot
// reach an unpublished container address directly (the policy stays in hako's nft table);
// network rm removes its rules; kill -9 + a rule deleted by hand + a stale rule added by hand +
// the jump pushed down are put right at the next start; a second daemon (its own --nft-table)
// keeps its own chain and removes chain and jump with its last network; the same with the
// iptables-legacy backend. The host's `iptables -S` is the same before and after.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxImage, tarDir, type BuiltImage } from '../helpers/images.js';
import { BUSYBOX, isRoot, tempDir } from '../helpers/fixtures.js';
import { netLeftovers, testNet, type TestNet } from '../helpers/network.js';
import { forwardChainName } from '../../src/network/iptables-forward.js';
import { retryUntil } from '../helpers/retry.js';
import { failedIn, nsGet } from '../helpers/netns-client.js';
import { atExit } from '../helpers/exit-cleanup.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const pexec = promisify(execFile);
const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((p) => existsSync(p + t));
const skip = !isRoot ? 'needs root' : !hasEngine ? 'the engine is not built' : !tool('iptables') ? 'iptables missing' : !tool('ip') ? 'iproute2 missing' : !tool('nsenter') ? 'nsenter missing' : false;
const legacySkip = skip || (!tool('iptables-legacy') ? 'iptables-legacy missing' : false);
const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');

let d: TestDaemon;
let net: TestNet;
let img: BuiltImage;
let imageId: string;
let work: { path: string; cleanup: () => void };
let hostRulesBefore = '';
let nsA = '';
let nsB = '';
let aIp = '';
let bIp = '';
let srv: ChildProcess | undefined;
const netnsMade: string[] = [];
let dropExitCleanup: (() => void) | undefined;

/** What after() undoes, synchronously, for a run cut short (SIGTERM, a test timeout): the httpd in
 * B, the two namespaces (their veths, nft tables and iptables go with them) and the temp dirs. The
 * daemons have their own (test/helpers/daemon.ts). */
function removeNamespacesSync(): void {
  if (srv?.pid && srv.exitCode === null && srv.signalCode === null) {
    try {
      process.kill(srv.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const ns of netnsMade) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
  img?.cleanup();
  work?.cleanup();
}
const daemons: TestDaemon[] = [];

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function hako(args: string[], opts: { ok?: boolean; daemon?: TestDaemon } = {}): Promise<Out> {
  const dd = opts.daemon ?? d;
  try {
    const r = await pexec(process.execPath, [HAKO, '-H', dd.host, ...args], { env: dd.env, timeout: 60_000, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    const out = { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    if (opts.ok !== false) assert.fail(`hako ${args.join(' ')} → ${out.code}\n${out.stdout}${out.stderr}\ndaemon log:\n${dd.log().slice(-3000)}`);
    return out;
  }
}

/** iptables in namespace A (the test's "host"). */
function iptA(args: string[], bin = 'iptables'): string {
  return execFileSync('ip', ['netns', 'exec', nsA, bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function chainOf(n: TestNet): string {
  return forwardChainName(n.table);
}

/** The FORWARD rules of A, in order. */
function forwardRulesA(bin = 'iptables'): string[] {
  return iptA(['-S', 'FORWARD'], bin).split('\n').filter((l) => l.startsWith('-A '));
}

function chainRulesA(chain: string, bin = 'iptables'): string[] {
  try {
    return iptA(['-S', chain], bin).split('\n').filter((l) => l.startsWith('-A ')).map((l) => l.replace(/"/g, ''));
  } catch {
    return ['(no chain)'];
  }
}

/** An HTTP GET from inside a container (busybox nc: its wget crashes here). */
async function getFrom(container: string, host: string, port = 80): Promise<string> {
  const r = await hako(['exec', container, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${host} ${port}`], { ok: false });
  if (r.code !== 0 || !r.stdout.includes('200 OK')) throw new Error(`GET ${host}:${port} from ${container}: exit ${r.code} ${r.stdout}${r.stderr}`);
  return r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
}

/** An HTTP GET from namespace B (../helpers/netns-client.ts). */
async function getFromB(url: string): Promise<string> {
  return nsGet(nsB, url);
}

async function inspect(name: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse((await hako(['inspect', name])).stdout)[0];
}

/** A hakod inside namespace A with iptables exceptions on (unless `iptables` is false). */
async function daemonInA(n: TestNet, extra: string[], after?: TestDaemon): Promise<TestDaemon> {
  // The helper's flags say --iptables=false (every other test); a later flag wins.
  const dd = await startDaemon(['--iptables', ...extra], { net: n, wrap: ['nsenter', `--net=/run/netns/${nsA}`], ...(after ? { after } : {}) });
  daemons.push(dd);
  return dd;
}

async function loadImage(dd: TestDaemon): Promise<void> {
  const r = await dd.request('POST', '/images/load?quiet=1', tarDir(img.dir), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200, r.body.toString());
}

function httpd(): string[] {
  return [imageId, 'sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'];
}

/** Waits until the daemon's log says the start-up's iptables sync is over. */
async function forwardSynced(dd: TestDaemon): Promise<void> {
  await retryUntil(async () => {
    if (!/iptables \((nf_tables|legacy)\) forward rules|iptables forward rules could not/.test(dd.log())) throw new Error('not yet');
  }, `the start-up iptables sync (log: ${dd.log().slice(-3000)})`, 10_000);
}

before(() => {
  if (skip) return;
  hostRulesBefore = execFileSync('iptables', ['-S'], { encoding: 'utf8' });
  work = tempDir('hako-ipt-');
  dropExitCleanup = atExit(removeNamespacesSync);
  img = busyboxImage();
  imageId = img.manifests[0]!.config.digest;
  net = testNet();
  nsA = `${net.prefix}A`;
  nsB = `${net.prefix}B`;
  for (const ns of [nsA, nsB]) {
    recordNetns(ns);
    execFileSync('ip', ['netns', 'add', ns]);
    netnsMade.push(ns);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  // A private /24 between A and B that is not the daemon's default subnet.
  let sub = '';
  while (!sub || net.bip.startsWith(sub)) sub = `10.${randomInt(200, 250)}.${randomInt(0, 256)}.`;
  aIp = `${sub}1`;
  bIp = `${sub}2`;
  execFileSync('ip', ['-n', nsA, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsB]);
  execFileSync('ip', ['-n', nsA, 'addr', 'add', `${aIp}/24`, 'dev', 'up0']);
  execFileSync('ip', ['-n', nsA, 'link', 'set', 'up0', 'up']);
  execFileSync('ip', ['-n', nsB, 'addr', 'add', `${bIp}/24`, 'dev', 'eth0']);
  execFileSync('ip', ['-n', nsB, 'link', 'set', 'eth0', 'up']);
  // A forwards what comes in on its uplink (replies and published ports); the daemon runs with
  // --ip-forward=false (forwarding on its own bridges only). /proc/sys/net is per netns.
  execFileSync('ip', ['netns', 'exec', nsA, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/up0/forwarding']);
  // What dockerd leaves: FORWARD policy DROP (A's own iptables, nft backend like the host's).
  iptA(['-P', 'FORWARD', 'DROP']);
  mkdirSync(join(work.path, 'www'));
  writeFileSync(join(work.path, 'www', 'index.html'), 'hello from outside\n');
  srv = spawn('ip', ['netns', 'exec', nsB, BUSYBOX, 'httpd', '-f', '-p', '80', '-h', join(work.path, 'www')], { stdio: 'ignore' });
});

after(async () => {
  if (skip) return;
  try {
    for (const dd of daemons) {
      if (dd.proc.exitCode !== null || dd.proc.signalCode !== null) continue;
      const ids = (await hako(['ps', '-aq'], { ok: false, daemon: dd })).stdout.split('\n').filter((x) => x);
      if (ids.length) await hako(['rm', '-f', ...ids], { ok: false, daemon: dd });
      await dd.stop();
    }
    if (srv?.pid && srv.exitCode === null) {
      srv.kill('SIGKILL');
      await new Promise((r) => srv!.once('exit', r));
    }
  } finally {
    for (const ns of netnsMade) {
      try {
        execFileSync('ip', ['netns', 'del', ns]); // its interfaces, nft tables and iptables go with it
      } catch {
        // gone
      }
    }
    releaseNetnsDir();
    img?.cleanup();
    work?.cleanup();
    dropExitCleanup?.();
  }
  assert.equal(execFileSync('iptables', ['-S'], { encoding: 'utf8' }), hostRulesBefore, "the host's iptables rules are untouched");
  assert.deepEqual(netLeftovers(net), [], 'nothing of ours on the host');
  for (const ns of netnsMade) assert.ok(!existsSync(`/run/netns/${ns}`), `netns ${ns} deleted`);
});

test('FORWARD DROP: no way out with --iptables=false (and a warning naming the chain); hako\'s exceptions let bridges and published ports through, the policy stays hako\'s', { skip }, async () => {
  await retryUntil(() => getFromB(`http://${bIp}/`), 'httpd in B');
  // 1. --iptables=false: nothing in A's iptables, containers cannot reach B.
  d = await daemonInA(net, ['--iptables=false']);
  await loadImage(d);
  assert.match(d.log(), new RegExp(`forwarded container traffic is dropped by table ip filter chain FORWARD \\(hook forward, priority 0, policy drop\\): containers get no outbound`));
  const info = JSON.parse((await hako(['info', '--format', '{{json .Warnings}}'])).stdout) as string[];
  assert.ok(info.some((w) => /table ip filter chain FORWARD/.test(w)), `info warnings: ${info.join('; ')}`);
  assert.deepEqual(forwardRulesA(), [], '--iptables=false adds nothing');
  await hako(['run', '-d', '--name', 'plain', imageId, 'sleep', '600']);
  await assert.rejects(getFrom('plain', bIp), /exit/, 'FORWARD DROP drops the default bridge\'s outbound without the exceptions');
  await hako(['rm', '-f', 'plain']);

  // 2. A kill -9, then the same daemon with --iptables (the default): the start-up adds the chain and the jump.
  await d.crash();
  d = await daemonInA(net, [], d);
  await forwardSynced(d);
  const chain = chainOf(net);
  assert.equal(forwardRulesA()[0], `-A FORWARD -j ${chain}`, 'the jump is FORWARD\'s first rule');
  assert.deepEqual(chainRulesA(chain), [
    `-A ${chain} -i ${net.bridge} -m comment --comment hako:${net.table}:bridge -j ACCEPT`,
    `-A ${chain} -o ${net.bridge} -m comment --comment hako:${net.table}:bridge -j ACCEPT`,
  ]);
  await hako(['network', 'create', '--subnet', '10.199.7.0/24', 'opennet']);
  await hako(['network', 'create', '--internal', '--subnet', '10.199.8.0/24', 'closednet']);
  const rules = chainRulesA(chain);
  assert.equal(rules.length, 5, rules.join('\n'));
  assert.ok(rules.some((r) => r.includes('--comment hako:' + net.table + ':opennet')));
  assert.ok(rules.some((r) => /-i (\S+) -o \1 .*hako:\S+:closednet -j ACCEPT/.test(r)), 'internal: only between its own ports');
  await hako(['run', '-d', '--name', 'plain', imageId, 'sleep', '600']);
  await hako(['run', '-d', '--name', 'opener', '--network', 'opennet', imageId, 'sleep', '600']);
  await hako(['run', '-d', '--name', 'closed', '--network', 'closednet', imageId, 'sleep', '600']);
  await hako(['run', '-d', '--name', 'pubweb', '--network', 'opennet', '-p', '80', ...httpd()]);
  assert.equal(await getFrom('plain', bIp), 'hello from outside\n', 'default bridge → B');
  assert.equal(await getFrom('opener', bIp), 'hello from outside\n', 'user network → B');
  await assert.rejects(getFrom('closed', bIp), /exit/, 'an internal network has no way out');
  await hako(['exec', '--privileged', 'closed', 'ip', 'route', 'add', 'default', 'via', (await inspect('closed')).NetworkSettings.Networks.closednet.Gateway]);
  await assert.rejects(getFrom('closed', bIp), /exit/, 'not even with a default route added by hand: hako\'s nft table drops it');
  // B → a published port through A's address: DNAT, then forward (accepted by both chains).
  const pub = await inspect('pubweb');
  const port = pub.NetworkSettings.Ports['80/tcp'][0].HostPort;
  assert.equal(await retryUntil(() => getFromB(`http://${aIp}:${port}/`), 'the published port from B'), `hello from ${pub.Config.Hostname}\n`);
  // B → the container's own address (routed, not DNAT'd): dropped by hako's nft forward chain,
  // the iptables accept for `-o bridge` notwithstanding.
  execFileSync('ip', ['-n', nsB, 'route', 'add', '10.199.7.0/24', 'via', aIp]);
  const cip = pub.NetworkSettings.Networks.opennet.IPAddress;
  // Between networks: still isolated (opener on opennet → plain's httpd-less address is moot; pubweb from the default bridge).
  // (each dropped path waits out its client's 3 s: both are tried at once)
  await Promise.all([
    assert.rejects(getFromB(`http://${cip}/`), failedIn('connect', /^timed out/), 'a container address is not reachable from outside without a published port'),
    assert.rejects(getFrom('plain', cip), /exit/, 'the default bridge cannot reach opennet\'s containers directly'),
  ]);

  // 3. network rm removes its rules.
  await hako(['rm', '-f', 'closed']);
  await hako(['network', 'rm', 'closednet']);
  assert.ok(!chainRulesA(chain).some((r) => r.includes(':closednet')), chainRulesA(chain).join('\n'));
  assert.equal(chainRulesA(chain).length, 4);

  // 4. kill -9; meanwhile a rule of ours deleted by hand, a stale one of a gone network added by
  // hand, and someone else's rule inserted above our jump. The next start puts it right and
  // leaves the other rule alone; traffic flows again.
  await d.crash();
  iptA(['-D', chain, '-o', net.bridge, '-m', 'comment', '--comment', `hako:${net.table}:bridge`, '-j', 'ACCEPT']);
  iptA(['-A', chain, '-i', 'hk-gone', '-m', 'comment', '--comment', `hako:${net.table}:gone`, '-j', 'ACCEPT']);
  iptA(['-I', 'FORWARD', '1', '-i', 'up0', '-p', 'icmp', '-j', 'ACCEPT']);
  await assert.rejects(getFrom('plain', bIp), /exit/, 'replies into the bridge are dropped without its -o rule');
  d = await daemonInA(net, [], d);
  await forwardSynced(d);
  assert.match(d.log(), /forward rules in chain \S+: \+1 -1, jump moved/);
  assert.deepEqual(forwardRulesA(), [`-A FORWARD -j ${chain}`, '-A FORWARD -i up0 -p icmp -j ACCEPT'], 'our jump back on top, the other rule kept');
  const after4 = chainRulesA(chain);
  assert.equal(after4.length, 4, after4.join('\n'));
  assert.ok(!after4.some((r) => r.includes('hk-gone')), 'the stale rule is gone');
  assert.ok(after4.includes(`-A ${chain} -o ${net.bridge} -m comment --comment hako:${net.table}:bridge -j ACCEPT`), 'the deleted rule is back');
  assert.equal(await getFrom('plain', bIp), 'hello from outside\n');
  assert.equal(await getFrom('opener', bIp), 'hello from outside\n');
  assert.equal(await retryUntil(() => getFromB(`http://${aIp}:${port}/`), 'the published port from B after the restart'), `hello from ${pub.Config.Hostname}\n`);
  iptA(['-D', 'FORWARD', '-i', 'up0', '-p', 'icmp', '-j', 'ACCEPT']);

  // 5. A second daemon in A (its own table, no default network): its own chain beside ours; its
  // last network's removal takes its chain and jump, ours stay.
  const net2 = testNet();
  const d2 = await daemonInA(net2, ['--bridge', 'none']);
  await forwardSynced(d2);
  const chain2 = chainOf(net2);
  assert.deepEqual(chainRulesA(chain2), ['(no chain)'], 'no networks, no chain');
  await hako(['network', 'create', '--subnet', '10.199.9.0/24', 'other'], { daemon: d2 });
  assert.equal(chainRulesA(chain2).length, 2);
  assert.deepEqual(forwardRulesA().sort(), [`-A FORWARD -j ${chain}`, `-A FORWARD -j ${chain2}`].sort());
  await hako(['network', 'rm', 'other'], { daemon: d2 });
  assert.deepEqual(chainRulesA(chain2), ['(no chain)'], 'the last network took the chain');
  assert.deepEqual(forwardRulesA(), [`-A FORWARD -j ${chain}`], 'and its jump; ours stays');
  assert.equal(chainRulesA(chain).length, 4);
  await d2.stop();
  daemons.splice(daemons.indexOf(d2), 1);

  await hako(['rm', '-f', 'plain', 'opener', 'pubweb']);
  await hako(['network', 'rm', 'opennet']);
  assert.equal(chainRulesA(chain).length, 2, 'the default bridge\'s rules stay while it exists');
});

test('the iptables-legacy backend (the `iptables` in PATH decides, as for dockerd)', { skip: legacySkip }, async () => {
  // A PATH whose iptables is iptables-legacy (and its -save/-restore siblings), in front of the real one.
  const bin = join(work.path, 'legacy-bin');
  mkdirSync(bin);
  for (const [name, target] of [['iptables', 'iptables-legacy'], ['iptables-save', 'iptables-legacy-save'], ['iptables-restore', 'iptables-legacy-restore']] as const) {
    symlinkSync(execFileSync('sh', ['-c', `command -v ${target}`], { encoding: 'utf8' }).trim(), join(bin, name));
  }
  iptA(['-P', 'FORWARD', 'DROP'], 'iptables-legacy');
  // Only the legacy backend drops now: the nft backend's chains of the first test (hako's and
  // the DROP policy) are taken out of the way while the daemon is down.
  await d.crash();
  daemons.splice(daemons.indexOf(d), 1);
  iptA(['-F']);
  iptA(['-X']);
  iptA(['-P', 'FORWARD', 'ACCEPT']);
  d = await daemonInA(net, ['--iptables=false'], d);
  await hako(['run', '-d', '--name', 'legacyc', imageId, 'sleep', '600']);
  await assert.rejects(getFrom('legacyc', bIp), /exit/, 'iptables-legacy\'s FORWARD DROP drops it without the exceptions');
  await d.crash();
  daemons.splice(daemons.indexOf(d), 1);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const dd = await startDaemon(['--iptables'], { after: d, wrap: ['env', `PATH=${env.PATH}`, 'nsenter', `--net=/run/netns/${nsA}`] });
  d = dd;
  daemons.push(dd);
  await forwardSynced(dd);
  assert.match(dd.log(), /iptables \(legacy\) forward rules/);
  const chain = chainOf(net);
  assert.equal(forwardRulesA('iptables-legacy')[0], `-A FORWARD -j ${chain}`);
  assert.equal(chainRulesA(chain, 'iptables-legacy').length, 2);
  assert.deepEqual(forwardRulesA(), [], 'nothing in the nft backend');
  assert.equal(await getFrom('legacyc', bIp), 'hello from outside\n');
  await hako(['rm', '-f', 'legacyc']);
});
