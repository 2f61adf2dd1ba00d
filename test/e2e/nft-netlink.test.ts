// hako's nftables table written over netlink (src/network/nft) against the real kernel: it lists
// the same ruleset as the `nft -f` script hako used before, a failing batch changes nothing,
// large batches and floods of errors work, and a socket can act inside another netns. Tables have
// unique names and are removed at the end; nft(8) is only used to read them back.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isRoot } from '../helpers/fixtures.js';
import { NftFirewall, renderTable, renderTransaction, transactionMessages, type RulesetNetwork } from '../../src/network/nftables.js';
import { newRule } from '../../src/network/nft/messages.js';
import { NftSocket } from '../../src/network/nft/socket.js';
import { goldenNetworks } from '../unit/nft-golden.js';
import { releaseNetnsDir } from '../helpers/netns-dir.js';
import { recordNetns } from '../helpers/ledger.js';

const tool = (t: string) => ['/usr/sbin/', '/usr/bin/', '/sbin/', '/bin/'].some((d) => existsSync(d + t));
const skip = !isRoot ? 'needs root' : !tool('nft') ? 'nft missing (used to read tables back)' : !tool('ip') ? 'iproute2 missing' : false;

const s = randomBytes(2).toString('hex');
const tables: string[] = [];
const netnsMade: string[] = [];
const name = (suffix: string) => {
  const t = `hkn${s}${suffix}`;
  tables.push(t);
  return t;
};

function nft(...args: string[]): string {
  return execFileSync('nft', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function exists(table: string): boolean {
  try {
    nft('list', 'table', 'ip', table);
    return true;
  } catch {
    return false;
  }
}
/** `nft -j list table`, without handles and metainfo, the table name replaced by T. */
function listJson(table: string, netns?: string): unknown {
  const text = netns ? execFileSync('ip', ['netns', 'exec', netns, 'nft', '-j', 'list', 'table', 'ip', table], { encoding: 'utf8' }) : nft('-j', 'list', 'table', 'ip', table);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'handle').map(([k, x]) => [k, strip(x)]));
    return v === table ? 'T' : v;
  };
  return strip((JSON.parse(text) as { nftables: object[] }).nftables.filter((o) => !('metainfo' in o)));
}

const badRule = (table: string) => newRule('ip', table, 'forward', { matches: [], action: { kind: 'masquerade' } });

after(() => {
  if (skip) return;
  for (const t of tables) if (exists(t)) nft('delete', 'table', 'ip', t);
  for (const n of netnsMade) execFileSync('ip', ['netns', 'del', n]);
  releaseNetnsDir();
  const left = nft('list', 'tables');
  assert.ok(!left.includes(`hkn${s}`), `tables left behind:\n${left}`);
});

test('the netlink path builds exactly the table the nft -f script built', { skip }, () => {
  const viaNetlink = name('a');
  const viaNft = name('b');
  const fw = new NftFirewall(viaNetlink);
  try {
    fw.apply(goldenNetworks);
    fw.apply(goldenNetworks); // a second replace gives the same table, not a doubled one
    execFileSync('nft', ['-f', '-'], { input: renderTransaction(viaNft, goldenNetworks) });
    assert.deepEqual(listJson(viaNetlink), listJson(viaNft));
    const listed = nft('list', 'table', 'ip', viaNetlink);
    assert.equal(listed, nft('list', 'table', 'ip', viaNft).replaceAll(viaNft, viaNetlink));
    // Every rule hako means is there, as nft prints it.
    const want = renderTable(viaNetlink, goldenNetworks).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('chain') && !l.startsWith('table') && l !== '}');
    const got = new Set(listed.split('\n').map((l) => l.trim()));
    for (const line of want) assert.ok(got.has(line), `missing from nft list: ${line}\n${listed}`);
    assert.equal(listed.split('\n').filter((l) => /^\t\t(?!type )\S/.test(l)).length, want.filter((l) => !l.startsWith('type ')).length);
    // No networks: the table goes, with everything in it.
    fw.apply([]);
    assert.equal(exists(viaNetlink), false);
    fw.apply([]); // removing an absent table is fine too
  } finally {
    fw.close();
  }
});

test('a failing batch leaves nothing behind and keeps the previous ruleset', { skip }, () => {
  const t = name('c');
  const sock = NftSocket.open();
  const fw = new NftFirewall(t);
  try {
    // First creation failing on its last rule: no table at all afterwards.
    assert.throws(
      () => sock.commit([...transactionMessages(t, goldenNetworks), badRule(t)], `replace table ip ${t}`),
      (e: Error) => {
        assert.equal(e.message, `nft add rule ip ${t} forward masquerade: operation not supported (EOPNOTSUPP) (the kernel refuses an expression of this rule in this chain)`);
        return true;
      },
    );
    assert.equal(exists(t), false);
    // A replacement failing halfway: the old table stays exactly as it was.
    const before: RulesetNetwork[] = [goldenNetworks[0]!];
    fw.apply(before);
    const snapshot = listJson(t);
    const other: RulesetNetwork[] = [{ ...goldenNetworks[0]!, mappings: [{ hostIp: '0.0.0.0', hostPort: 1234, proto: 'tcp', containerIp: '10.231.0.9', containerPort: 1 }] }];
    assert.throws(() => sock.commit([...transactionMessages(t, other), badRule(t)], `replace table ip ${t}`), /EOPNOTSUPP/);
    assert.deepEqual(listJson(t), snapshot);
    // A rule for a chain that is not there names the rule and the errno.
    assert.throws(() => sock.commit([newRule('ip', t, 'nochain', { matches: [], action: { kind: 'accept' } })], 'x'), /nft add rule ip \S+ nochain accept: no such file or directory \(ENOENT\)$/);
    assert.deepEqual(listJson(t), snapshot);
    // Both sockets still work after refusals.
    fw.apply(other);
    assert.match(nft('list', 'chain', 'ip', t, 'ports'), /tcp dport 1234 dnat to 10\.231\.0\.9:1/);
    sock.commit(transactionMessages(t, []), 'remove');
    assert.equal(exists(t), false);
  } finally {
    fw.close();
    sock.close();
  }
});

test('large batches (past the default socket buffer) and floods of errors', { skip }, () => {
  const t = name('d');
  const many: RulesetNetwork[] = [{
    ...goldenNetworks[0]!,
    mappings: Array.from({ length: 3000 }, (_, i) => ({ hostIp: '0.0.0.0', hostPort: 20000 + i, proto: i % 2 ? 'udp' : 'tcp', containerIp: `10.231.${1 + (i >> 8)}.${i & 255}`, containerPort: 80 })),
  }];
  const sock = NftSocket.open();
  try {
    const msgs = transactionMessages(t, many);
    sock.commit(msgs, 'big');
    assert.equal(nft('list', 'chain', 'ip', t, 'ports').split('\n').filter((l) => l.includes('dnat to')).length, 3000);
    // 3000 refused messages: more error replies than the receive buffer holds (ENOBUFS); the
    // first error is still reported and nothing changes.
    const bad = Array.from({ length: 3000 }, () => newRule('ip', t, 'nochain', { matches: [], action: { kind: 'accept' } }));
    assert.throws(() => sock.commit([...msgs, ...bad], 'flood'), /nft add rule ip \S+ nochain accept: no such file or directory \(ENOENT\)|ENOBUFS/);
    assert.equal(nft('list', 'chain', 'ip', t, 'ports').split('\n').filter((l) => l.includes('dnat to')).length, 3000);
    sock.commit(transactionMessages(t, []), 'remove');
    assert.equal(exists(t), false);
  } finally {
    sock.close();
  }
});

test('a firewall inside another network namespace leaves the host alone', { skip }, () => {
  const t = name('e');
  const ns = `hkn${s}ns`;
  recordNetns(ns);
  execFileSync('ip', ['netns', 'add', ns]);
  netnsMade.push(ns);
  const fd = openSync(`/run/netns/${ns}`, 'r');
  const fw = new NftFirewall(t, fd);
  try {
    fw.apply(goldenNetworks);
    assert.equal(exists(t), false);
    const inNs = listJson(t, ns);
    const host = name('f');
    const hostFw = new NftFirewall(host);
    try {
      hostFw.apply(goldenNetworks);
      assert.deepEqual(inNs, listJson(host));
      hostFw.apply([]);
    } finally {
      hostFw.close();
    }
    fw.apply([]);
    assert.throws(() => execFileSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'ip', t], { stdio: 'pipe' }));
  } finally {
    fw.close();
    closeSync(fd);
  }
});
