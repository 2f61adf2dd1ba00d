// Cost of one firewall change (hako replaces its whole nftables table in one transaction):
//   netlink        the batch encoded in TS, sent on a socket the manager keeps open (hako now)
//   netlink+close  the same with a new socket per change: closing a NETLINK_NETFILTER socket
//                  waits for the kernel to free what earlier transactions deleted (an RCU grace
//                  period), which is also what every `nft` process pays when it exits
//   nft -f -       one nft process per change (hako before)
// for a typical table (one network, two published ports), four networks, and 1000 ports.
// Run as root after `npm run build`: node bench/nftables.mjs [iterations]. Tables are removed.
// (No node child processes are spawned, so NODE_EXTRA_CA_CERTS does not matter here.)
import { spawnSync } from 'node:child_process';
import { NftFirewall, renderTransaction } from '../dist/src/network/nftables.js';
import { NftSocket } from '../dist/src/network/nft/socket.js';
import { transactionMessages } from '../dist/src/network/nftables.js';

const N = Number(process.argv[2] ?? 40);
const tag = Math.random().toString(16).slice(2, 6);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)].toFixed(2);
const net = (i, ports) => ({
  bridge: `hb${tag}${i}`, subnet: `10.${240 + i}.0.0/16`, internal: i === 3, masquerade: true,
  mappings: Array.from({ length: ports }, (_, k) => ({ hostIp: k % 3 === 2 ? '127.0.0.1' : '0.0.0.0', hostPort: 20000 + k, proto: k % 2 ? 'udp' : 'tcp', containerIp: `10.${240 + i}.${(k >> 8) & 255}.${(k & 255) + 2 > 255 ? 2 : (k & 255) + 2}`, containerPort: 80 })),
});
const cases = [
  ['1 network, 2 ports', [net(0, 2)]],
  ['4 networks, 6 ports', [net(0, 2), net(1, 2), net(2, 2), net(3, 0)]],
  ['1 network, 1000 ports', [net(0, 1000)]],
];
const tables = { nl: `hkb${tag}n`, close: `hkb${tag}c`, nft: `hkb${tag}f` };
const fw = new NftFirewall(tables.nl);
try {
  console.log(`nftables change cost, ${N} changes each (ms; load avg ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
  for (const [label, nets] of cases) {
    const nl = [], close = [], nft = [];
    const n = nets[0].mappings.length > 100 ? Math.max(5, N >> 3) : N;
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      fw.apply(nets);
      nl.push(performance.now() - t);
      t = performance.now();
      const s = NftSocket.open();
      s.commit(transactionMessages(tables.close, nets), 'bench');
      s.close();
      close.push(performance.now() - t);
      t = performance.now();
      const r = spawnSync('nft', ['-f', '-'], { input: renderTransaction(tables.nft, nets) });
      if (r.status !== 0) throw new Error(`nft -f failed: ${r.stderr}`);
      nft.push(performance.now() - t);
    }
    console.log(`${label.padEnd(22)} netlink p50 ${pct(nl, 0.5).padStart(6)} p90 ${pct(nl, 0.9).padStart(6)} | netlink+close p50 ${pct(close, 0.5).padStart(6)} p90 ${pct(close, 0.9).padStart(6)} | nft -f p50 ${pct(nft, 0.5).padStart(6)} p90 ${pct(nft, 0.9).padStart(6)} | ${(Number(pct(nft, 0.5)) / Number(pct(nl, 0.5))).toFixed(1)}x`);
  }
} finally {
  fw.apply([]);
  fw.close();
  const s = NftSocket.open();
  s.commit(transactionMessages(tables.close, []), 'cleanup');
  s.commit(transactionMessages(tables.nft, []), 'cleanup');
  s.close();
}
