// Embedded DNS latency while the daemon's main loop is blocked (root). A NetworkManager runs
// in-process, as in hakod; a client in a network namespace of ours asks the embedded DNS for a
// container name every 20 ms for 3 s (each query 3 s timeout) while this process's main thread
// blocks (sync wait) for 1.5 s in the middle, as a slow sync fs call on hakod's loop would.
// Prints the client's round-trip times per checkout. With --versus=<checkout> (its dist/ built)
// the two alternate, one child process per round.
// --block-ms=N blocks N ms instead (0: the round trips of an idle daemon).
// Usage: node bench/dns-blocked.mjs [rounds=3] [--versus=/path/to/other/checkout] [--block-ms=1500] [--name=web] [--upstream]
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const blockMs = Number(args.find((a) => a.startsWith('--block-ms='))?.slice(11) ?? 1500);
// --name=LABEL: the name asked (one label; default the container's, `web`); another name is
// forwarded, here to no upstream at all, so it is answered SERVFAIL by whoever decides to forward.
const askName = args.find((a) => a.startsWith('--name='))?.slice(7) ?? 'web';
// --upstream: forwarded names go to a stand-in upstream on loopback, in a process of its own
// (answers at once with 198.51.100.1), instead of to none.
const withUpstream = args.includes('--upstream');
const UPSTREAM = String.raw`
const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => {
  let o = 12;
  while (m[o]) o += m[o] + 1;
  const q = m.subarray(12, o + 5);
  const a = Buffer.concat([m.subarray(0, 2), Buffer.from([0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), q, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 198, 51, 100, 1])]);
  s.send(a, r.port, r.address);
});
s.bind(0, '127.0.0.1', () => process.stdout.write(s.address().port + '\n'));
`;

const CLIENT = String.raw`
const dgram = require('dgram');
const s = dgram.createSocket('udp4');
const sent = new Map();
const rtts = [];
let lost = 0, id = 1;
const q = (i) => {
  const label = process.argv[1] || 'web';
  const name = Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1'), Buffer.from([0])]);
  const b = Buffer.alloc(12 + name.length + 4);
  b.writeUInt16BE(i, 0); b.writeUInt16BE(0x0100, 2); b.writeUInt16BE(1, 4);
  name.copy(b, 12); b.writeUInt16BE(1, 12 + name.length); b.writeUInt16BE(1, 14 + name.length);
  return b;
};
s.on('message', (m) => { const i = m.readUInt16BE(0); const t = sent.get(i); if (t !== undefined) { rtts.push(Number(process.hrtime.bigint() - t) / 1e6); sent.delete(i); } });
s.bind(0, '127.0.0.1', () => {
  process.stdout.write('ready\n');
  const end = Date.now() + 3000;
  const tick = setInterval(() => {
    if (Date.now() > end) {
      clearInterval(tick);
      setTimeout(() => { lost = sent.size; process.stdout.write(JSON.stringify({ rtts, lost }) + '\n'); process.exit(0); }, 3000);
      return;
    }
    const i = id++;
    sent.set(i, process.hrtime.bigint());
    s.send(q(i), 53, '127.0.0.11');
  }, 20);
});
`;

async function child(checkout) {
  const { NetworkManager } = await import(join(checkout, 'dist/src/network/manager.js'));
  const { testNet, cleanupNet } = await import(join(repo, 'dist/test/helpers/network.js'));
  const net = testNet();
  const ns = `${net.prefix}ns`;
  const root = mkdtempSync(join(tmpdir(), 'hako-dnsb-'));
  execFileSync('ip', ['netns', 'add', ns]);
  let upstream;
  const upstreamDns = [];
  if (withUpstream) {
    upstream = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
    let port = '';
    upstream.stdout.on('data', (d) => (port += d));
    while (!port.endsWith('\n')) await new Promise((r) => setTimeout(r, 10));
    upstreamDns.push(`127.0.0.1:${port.trim()}`);
  }
  const mgr = new NetworkManager({ root, nftTable: net.table, bridgePrefix: `${net.prefix}-`, vethPrefix: `${net.prefix}v`, defaultNetwork: { name: 'bridge', bridge: net.bridge }, ipForward: 'bridge', iptables: false, upstreamDns });
  try {
    await mgr.init();
    await mgr.createNetwork({ name: 'dnsbench' });
    await mgr.connect({ containerId: 'b'.repeat(64), containerName: 'web', netns: `/run/netns/${ns}`, network: 'dnsbench' });
    const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, askName], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    while (!out.includes('ready\n')) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 700));
    if (blockMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockMs); // the blocked loop
    await new Promise((r) => c.once('exit', r));
    const res = JSON.parse(out.split('\n').find((l) => l.startsWith('{')));
    await mgr.releaseContainer('b'.repeat(64));
    process.stdout.write(JSON.stringify(res) + '\n');
  } finally {
    for (const n of mgr.listNetworks()) await mgr.removeNetwork(n.id).catch(() => undefined);
    mgr.close();
    upstream?.kill('SIGKILL');
    execFileSync('ip', ['netns', 'del', ns]);
    cleanupNet(net);
    rmSync(root, { recursive: true, force: true });
  }
}

const runArg = args.find((a) => a.startsWith('--run='));
if (runArg) {
  await child(runArg.slice(6));
  process.exit(0);
}
if (process.getuid() !== 0) {
  console.error('bench/dns-blocked: needs root');
  process.exit(1);
}
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const versus = args.find((a) => a.startsWith('--versus='))?.slice(9);
const checkouts = versus ? [repo, versus] : [repo];
const results = new Map(checkouts.map((c) => [c, []]));
for (let i = 0; i < rounds; i++) {
  for (const c of checkouts) {
    const out = await new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [fileURLToPath(import.meta.url), `--run=${c}`, `--block-ms=${blockMs}`, `--name=${askName}`, ...(withUpstream ? ['--upstream'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
      let o = '';
      p.stdout.on('data', (d) => (o += d));
      p.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`round for ${c} exited ${code}: ${o}`))));
    });
    results.get(c).push(JSON.parse(out.trim().split('\n').at(-1)));
  }
}
const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ');
console.log(`embedded DNS round trips for ${askName}${withUpstream ? ' (upstream on loopback)' : ''}, queries every 20 ms for 3 s, main loop blocked ${blockMs} ms; ${rounds} rounds; load ${load}`);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
for (const c of checkouts) {
  const rs = results.get(c);
  const all = rs.flatMap((r) => r.rtts);
  const lost = rs.reduce((n, r) => n + r.lost, 0);
  console.log(`  ${c}: ${all.length} answered, ${lost} lost; p50 ${pct(all, 50).toFixed(2)} ms, p90 ${pct(all, 90).toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms; > 100 ms: ${all.filter((x) => x > 100).length}`);
}
