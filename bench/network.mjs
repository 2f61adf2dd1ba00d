// Network benchmark: the cost bridge networking adds to a container start (connect via rtnetlink
// vs the same with `ip` commands spawned), an nft transaction, and published-port HTTP throughput
// on localhost vs direct. Uses its own netns/bridge/table names and removes everything.
// Run as root after `npm run build`: node bench/network.mjs [iterations]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../dist/src/network/manager.js';
import { parsePortSpec } from '../dist/src/network/ports.js';

const N = Number(process.argv[2] ?? 30);
const tag = Math.random().toString(16).slice(2, 6);
const root = mkdtempSync(join(tmpdir(), 'hako-netbench-'));
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: 'pipe' });
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)].toFixed(2);
const mgr = new NetworkManager({ root, nftTable: `hkb${tag}`, bridgePrefix: `hb${tag}`, vethPrefix: `hv${tag}`, defaultNetwork: null, ipForward: 'bridge', upstreamDns: [] });
const nets = [];
let server;
try {
  await mgr.init();
  await mgr.createNetwork({ name: 'bench', subnet: '10.239.0.0/24' });
  const br = mgr.get('bench').bridge;
  // 1. connect+disconnect through rtnetlink vs the same steps with ip(8)
  const viaNl = [], viaIp = [], nsOnly = [];
  for (let i = 0; i < N; i++) {
    const ns = `hkb${tag}${i}`;
    let t = performance.now();
    sh('ip', 'netns', 'add', ns);
    nsOnly.push(performance.now() - t);
    nets.push(ns);
    t = performance.now();
    await mgr.connect({ containerId: `c${i}`.padEnd(64, '0'), netns: `/run/netns/${ns}`, network: 'bench' });
    viaNl.push(performance.now() - t);
    await mgr.releaseContainer(`c${i}`.padEnd(64, '0'));
    t = performance.now();
    const v = `hx${tag}${i}`;
    sh('ip', 'link', 'add', v, 'mtu', '1500', 'master', br, 'up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'address', '02:42:0a:ef:00:09', 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', ns, 'addr', 'add', '10.239.0.9/24', 'dev', 'eth0');
    sh('ip', '-n', ns, 'route', 'add', 'default', 'via', '10.239.0.1');
    viaIp.push(performance.now() - t);
    sh('ip', 'link', 'del', v);
    sh('ip', 'netns', 'del', ns);
    nets.pop();
  }
  console.log(`connect (veth+addr+route+DNS listener) via rtnetlink: p50 ${pct(viaNl, 0.5)} ms p90 ${pct(viaNl, 0.9)} ms`);
  console.log(`same steps spawning ip(8) x5:                       p50 ${pct(viaIp, 0.5)} ms p90 ${pct(viaIp, 0.9)} ms`);
  console.log(`(for scale: ip netns add: p50 ${pct(nsOnly, 0.5)} ms)`);
  const nft = [];
  for (let i = 0; i < Math.min(N, 20); i++) {
    mgr.applyFirewall();
    nft.push(mgr.timings.applyFirewall);
  }
  console.log(`firewall change (whole table, netlink):              p50 ${pct(nft, 0.5)} ms p90 ${pct(nft, 0.9)} ms`);

  // 2. throughput: a node HTTP server inside a netns, fetched directly and via the published port
  const ns = `hkb${tag}s`;
  sh('ip', 'netns', 'add', ns);
  nets.push(ns);
  await mgr.connect({ containerId: 's'.padEnd(64, '0'), netns: `/run/netns/${ns}`, network: 'bench' });
  const ep = mgr.endpointsOfContainer('s'.padEnd(64, '0'))[0];
  server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', "const b=Buffer.alloc(1<<20,120);require('http').createServer((q,r)=>{r.end(b)}).listen(8080)"], { stdio: 'ignore' });
  const [m] = await mgr.publish('s'.padEnd(64, '0'), parsePortSpec('8080'));
  const get = (host, port) => new Promise((res, rej) => {
    const req = request({ host, port, agent: false }, (r) => { let n = 0; r.on('data', (d) => (n += d.length)); r.on('end', () => res(n)); });
    req.on('error', rej);
    req.end();
  });
  for (let i = 0; i < 50; i++) { try { await get(ep.ip, 8080); break; } catch { await new Promise((r) => setTimeout(r, 50)); } }
  const rate = async (host, port) => {
    const t = performance.now();
    let bytes = 0;
    for (let i = 0; i < 200; i++) bytes += await get(host, port);
    return bytes / 1048576 / ((performance.now() - t) / 1000);
  };
  for (let round = 0; round < 2; round++) {
    const direct = await rate(ep.ip, 8080);
    const pub = await rate('127.0.0.1', m.hostPort);
    console.log(`HTTP 1 MiB x200: direct ${direct.toFixed(0)} MiB/s, published 127.0.0.1:${m.hostPort} ${pub.toFixed(0)} MiB/s (${((pub / direct) * 100).toFixed(0)} %)`);
  }
} finally {
  if (server?.pid) server.kill('SIGKILL');
  for (const n of mgr.listNetworks()) for (const e of mgr.endpointsOf(n.id)) await mgr.releaseContainer(e.containerId);
  for (const n of mgr.listNetworks()) await mgr.removeNetwork(n.id);
  mgr.close();
  for (const n of nets) try { sh('ip', 'netns', 'del', n); } catch {}
  rmSync(root, { recursive: true, force: true });
}
