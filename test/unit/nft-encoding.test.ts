// nf_tables netlink encoding (src/network/nft). Two kinds of expectation: bytes written out by
// hand from the uapi headers (linux/netlink.h, netfilter/nfnetlink.h, netfilter/nf_tables.h),
// and the batch nft 1.0.6 itself sends for a sample ruleset (test/unit/nft-golden.ts, captured
// by scripts/nft-golden.mjs), so the encoder is checked against nft rather than against itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatch } from '../../src/network/nft/batch.js';
import { encodeAttrs, meta, verdict, masq } from '../../src/network/nft/expr.js';
import { RuleCache, newRule, newTable, replaceTable, type NftMessage } from '../../src/network/nft/messages.js';
import { ruleExprs, ruleText, type Rule } from '../../src/network/nft/rule.js';
import { commandError, parseErrors } from '../../src/network/nft/socket.js';
import { renderTable, renderTransaction, rulesetTable, transactionMessages } from '../../src/network/nftables.js';
import { goldenApplyHex, goldenClearBridgeHex, goldenIsolatedHex, goldenIsolatedNetworks, goldenNetworks, goldenRemoveHex, goldenTable } from './nft-golden.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+|\|/g, ''), 'hex');

test('nft: the batch for a sample ruleset is byte-identical to what nft -f sends', () => {
  const applied = encodeBatch(transactionMessages(goldenTable, goldenNetworks), 0).buf;
  assert.equal(applied.toString('hex'), goldenApplyHex);
  const removed = encodeBatch(transactionMessages(goldenTable, []), 0).buf;
  assert.equal(removed.toString('hex'), goldenRemoveHex);
  // With the rule cache (pre-encoded expression lists), cold and warm: the same bytes.
  const cache = new RuleCache();
  for (let i = 0; i < 2; i++) {
    assert.equal(encodeBatch(transactionMessages(goldenTable, goldenNetworks, cache), 0).buf.toString('hex'), goldenApplyHex);
    cache.rotate();
  }
});

test('nft: the bridge table of --icc=false (ports dropped, a legacy link\'s ports accepted both ways) is byte-identical to nft\'s', () => {
  assert.equal(encodeBatch(transactionMessages(goldenTable, goldenIsolatedNetworks), 0).buf.toString('hex'), goldenIsolatedHex);
  const cache = new RuleCache();
  for (let i = 0; i < 2; i++) {
    assert.equal(encodeBatch(transactionMessages(goldenTable, goldenIsolatedNetworks, cache), 0).buf.toString('hex'), goldenIsolatedHex);
    cache.rotate();
  }
  // Removing everything, the bridge table included (a daemon start does not know whether one is left).
  assert.equal(encodeBatch(transactionMessages(goldenTable, [], undefined, { clearBridge: true }), 0).buf.toString('hex'), goldenClearBridgeHex);
  // Without isolation and without clearBridge: no bridge table message at all (the usual change).
  assert.ok(transactionMessages(goldenTable, goldenNetworks).every((m) => m.family === 2));
  // The same ruleset with its ports gone: only the clear remains, never an empty base chain.
  const empty = goldenIsolatedNetworks.map((n) => (n.isolation ? { ...n, isolation: { ports: [], links: [] } } : n));
  assert.ok(transactionMessages(goldenTable, empty).every((m) => m.family === 2));
  const text = renderTransaction(goldenTable, goldenIsolatedNetworks);
  assert.match(text, /chain forward \{\n {4}type filter hook forward priority 0; policy accept;/, 'the bridge family\'s priority as a number (its `filter` is -200)');
  assert.match(text, /iifname "hbv00000002" oifname "hbv00000001" ether type ip ip saddr 10\.235\.0\.3 ip daddr 10\.235\.0\.2 tcp dport 80 accept/);
  assert.match(text, /iifname "hbv00000001" oifname "hbv00000002" ether type ip ip saddr 10\.235\.0\.2 ip daddr 10\.235\.0\.3 udp sport 53 accept/);
});

test('nft: batch framing from the headers (begin/end carry res_id NFNL_SUBSYS_NFTABLES)', () => {
  const { buf, seq, count } = encodeBatch([newTable('ip', 'ab')], 7, { ackLast: true });
  assert.equal(seq, 7);
  assert.equal(count, 1);
  assert.deepEqual(
    buf,
    hex(`
      14000000 1000 0100 07000000 00000000 | 00 00 000a
      24000000 000a 0500 08000000 00000000 | 02 00 0000
        0700 0100 616200 00
        0800 0200 00000000
      14000000 1100 0100 09000000 00000000 | 00 00 000a`),
    // nlmsghdr {len, type, flags, seq, pid} | nfgenmsg {family, version, be16 res_id}:
    // BATCH_BEGIN=16; NEWTABLE = NFNL_SUBSYS_NFTABLES(10) << 8 | 0 with REQUEST|ACK (the last
    // message asks for the ack), family NFPROTO_IPV4=2, NFTA_TABLE_NAME "ab", NFTA_TABLE_FLAGS 0;
    // BATCH_END=17.
  );
  // Without ackLast no message asks for an ack (nft's own batches look like that).
  assert.equal(encodeBatch([newTable('ip', 'ab')], 7).buf.readUInt16LE(20 + 6), 0x1);
  // Only the last message carries NLM_F_ACK.
  const two = encodeBatch([newTable('ip', 'ab'), newTable('ip', 'ab')], 0, { ackLast: true }).buf;
  assert.equal(two.readUInt16LE(20 + 6), 0x1);
  assert.equal(two.readUInt16LE(20 + 36 + 6), 0x5);
});

test('nft: expressions as nested attributes (NLA_F_NESTED, 4-byte padding, big-endian values)', () => {
  // meta load oifname => reg 1: LIST_ELEM{ EXPR_NAME "meta", EXPR_DATA{ META_KEY=7, META_DREG=1 } }
  assert.deepEqual(
    encodeAttrs([meta(7, 1)]),
    hex(`2400 0180  0900 0100 6d657461 00 000000  1400 0280  0800 0200 00000007  0800 0100 00000001`),
  );
  // immediate reg 0 jump -> ports: DATA{ VERDICT{ CODE=NFT_JUMP(-3), CHAIN "ports" } }
  assert.deepEqual(
    encodeAttrs([verdict(-3, 'ports')]),
    hex(`3c00 0180  0e00 0100 696d6d6564696174650000 00  2800 0280  0800 0100 00000000
         1c00 0280  1800 0280  0800 0100 fffffffd  0a00 0200 706f72747300 0000`),
  );
  // masq with no options: an empty nested data attribute
  assert.deepEqual(encodeAttrs([masq()]), hex(`1400 0180  0900 0100 6d61737100 000000  0400 0280`));
});

test('nft: address prefixes follow nft (whole bytes: short load; otherwise load, mask, compare)', () => {
  const exprsOf = (addr: string) => encodeAttrs(ruleExprs({ matches: [{ kind: 'ip', field: 'saddr', addr }], action: { kind: 'accept' } }));
  // /24: payload 3 bytes at network header + 12, cmp eq 0a e7 00
  const p24 = exprsOf('10.231.0.0/24');
  assert.ok(p24.includes(hex('0800 0300 0000000c 0800 0400 00000003')));
  assert.ok(p24.includes(hex('0700 0100 0ae700 00')));
  assert.ok(!p24.includes(Buffer.from('bitwise')));
  // /20: 4 bytes, bitwise mask ff ff f0 00, cmp eq 0a e9 10 00
  const p20 = exprsOf('10.233.16.0/20');
  assert.ok(p20.includes(hex('0800 0400 00000004')));
  assert.ok(p20.includes(hex('0800 0100 fffff000')));
  assert.ok(p20.includes(hex('0800 0100 0ae91000')));
  // a bare address is a /32: 4 bytes, no mask
  const p32 = exprsOf('127.0.0.1');
  assert.ok(p32.includes(hex('0800 0100 7f000001')) && !p32.includes(Buffer.from('bitwise')));
  assert.throws(() => exprsOf('10.1.0.1/16'), /host bits/);
});

test('nft: rule text is nft syntax; names longer than IFNAMSIZ-1 are refused', () => {
  const r: Rule = { matches: [{ kind: 'ifname', dir: 'oif', op: 'eq', name: 'br0' }, { kind: 'ip', field: 'saddr', addr: '10.0.0.0/8' }, { kind: 'ctStatusDnat' }], action: { kind: 'masquerade' } };
  assert.equal(ruleText(r), 'oifname "br0" ip saddr 10.0.0.0/8 ct status dnat masquerade');
  assert.equal(newRule('ip', 'hako', 'postrouting', r).what, 'add rule ip hako postrouting oifname "br0" ip saddr 10.0.0.0/8 ct status dnat masquerade');
  assert.throws(() => ruleExprs({ matches: [{ kind: 'ifname', dir: 'iif', op: 'eq', name: 'a'.repeat(16) }], action: { kind: 'drop' } }), /longer than 15/);
});

test('nft: the transaction replaces the table (add, delete, create) or only removes it', () => {
  const kinds = (m: NftMessage[]) => m.map((x) => x.what.split(' ').slice(0, 2).join(' '));
  assert.deepEqual(kinds(replaceTable('ip', 't', null)), ['add table', 'delete table']);
  const full = transactionMessages('t', goldenNetworks);
  assert.deepEqual(kinds(full).slice(0, 8), ['add table', 'delete table', 'add table', 'add chain', 'add chain', 'add chain', 'add chain', 'add chain']);
  const t = rulesetTable('t', goldenNetworks);
  assert.equal(full.length, 3 + t.chains.length + t.chains.reduce((n, c) => n + c.rules.length, 0));
  assert.match(full[4]!.what, /^add chain ip t prerouting \{ type nat hook prerouting priority dstnat; policy accept; \}$/);
  assert.match(renderTable('t', goldenNetworks), /chain output \{\n {4}type nat hook output priority -100; policy accept;\n {4}fib daddr type local jump ports\n/);
});

test('nft: kernel answers are decoded (acks, errors, extended-ack text) and named in nft syntax', () => {
  // NLMSG_ERROR (2) with NLM_F_CAPPED|NLM_F_ACK_TLVS: error -95, the original header, then
  // NLMSGERR_ATTR_MSG "no nat here".
  const err = hex(`
    34000000 0200 0003 05000000 00000000
    a1ffffff
    14000000 060a 0504 05000000 00000000
    1000 0100 6e6f206e61742068657265 00`);
  const ack = hex(`24000000 0200 0001 06000000 00000000 00000000 14000000 060a 0504 06000000 00000000`);
  assert.deepEqual(parseErrors(Buffer.concat([err, ack])), [
    { seq: 5, errno: 95, message: 'no nat here' },
    { seq: 6, errno: 0 },
  ]);
  const rule = newRule('ip', 'hako', 'forward', { matches: [], action: { kind: 'masquerade' } });
  const e = commandError('replace table ip hako', rule, 95, 'no nat here');
  assert.equal(e.message, 'nft add rule ip hako forward masquerade: operation not supported (EOPNOTSUPP) (no nat here; the kernel refuses an expression of this rule in this chain)');
  assert.equal(e.errno, 95);
  assert.match(commandError('x', rule, 2).message, /no such file or directory \(ENOENT\) \(is the kernel support loaded\? try: modprobe nft_masq\)/);
  assert.match(commandError('replace table ip hako', undefined, 95).message, /^nft replace table ip hako: operation not supported \(EOPNOTSUPP\) \(the kernel has no nf_tables; try: modprobe nf_tables\)$/);
  assert.match(commandError('x', rule, 1).message, /operation not permitted \(EPERM\) \(changing nftables needs CAP_NET_ADMIN\)/);
});
