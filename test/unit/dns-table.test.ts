// The answering thread's tables (src/network/dns-table.ts) and its answers (native/addon_dns.c,
// through dnsAnswer, the thread's own function): whatever the thread answers must be byte for byte
// the main loop's answer (answerLocally); what it cannot answer it hands over (null).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeTables, newTableCache, tableFor, upstreamSet } from '../../src/network/dns-table.js';
import { dnsNative } from '../../src/network/dns-native.js';
import { answerLocally } from '../../src/network/dns-answerer.js';
import { sharedNetworks, type DnsTable } from '../../src/network/dns-names.js';
import { buildQuery, decodeMessage, encodeMessage, reverseName, CLASS_IN, TYPE } from '../../src/network/dns-message.js';

// As test/unit/dns-names.test.ts: netns 100 on app and the default bridge, 200 on app and db,
// 300 on the bridge only, 400 on app only. A full ID (64 characters) cannot be asked: a label has ≤ 63.
const table: DnsTable = {
  networks: { app: { name: 'app', isDefault: false }, db: { name: 'DB', isDefault: false }, br: { name: 'bridge', isDefault: true } },
  endpoints: {
    e1: { networkId: 'app', nsIno: 100, containerId: 'a'.repeat(64), containerName: 'web', aliases: ['www', 'Front', 'x.app', 'ümlaut', 'p'.repeat(64)], ip: '10.1.0.2' },
    e2: { networkId: 'br', nsIno: 100, containerId: 'a'.repeat(64), containerName: 'web', aliases: [], ip: '172.17.0.2' },
    e3: { networkId: 'app', nsIno: 200, containerId: 'b'.repeat(64), containerName: 'api', aliases: ['www', '5.0.1.10.in-addr.arpa'], hostname: 'ApiHost', ip: '10.1.0.3' },
    e4: { networkId: 'db', nsIno: 200, containerId: 'b'.repeat(64), containerName: 'api', aliases: [], hostname: 'ApiHost', ip: '10.2.0.3' },
    e5: { networkId: 'br', nsIno: 300, containerId: 'c'.repeat(64), containerName: 'lonely', aliases: [], ip: '172.17.0.3' },
    e6: { networkId: 'app', nsIno: 400, containerId: 'd'.repeat(64), containerName: 'q'.repeat(63), aliases: [], hostname: 'host.example', ip: '10.1.0.4' },
    // a hex name, an alias that is another container's 13-character ID prefix
    e9: { networkId: 'app', nsIno: 600, containerId: '9'.repeat(64), containerName: '0123456789abcdef', aliases: ['b'.repeat(13)], ip: '10.1.0.6' },
  },
};

const names = [
  'web', 'WEB', 'wEb.App', 'www', 'www.app', 'front', 'FRONT.APP', 'x.app', 'x.app.app', 'x', 'api', 'api.db', 'API.db', 'api.app',
  'a'.repeat(12), 'A'.repeat(12), 'a'.repeat(13), 'a'.repeat(63), `${'b'.repeat(12)}.db`, 'b'.repeat(11), 'lonely', 'lonely.bridge',
  'q'.repeat(63), `${'q'.repeat(63)}.app`, 'ümlaut', 'p'.repeat(63), 'nosuch', 'outside.example', '', 'web.', '5.0.1.10.in-addr.arpa',
  reverseName('10.1.0.2'), reverseName('10.1.0.3'), reverseName('10.2.0.3'), reverseName('172.17.0.2'), reverseName('172.17.0.3'),
  reverseName('10.1.0.4'), reverseName('10.9.9.9'), '0123456789abcdef', '0123456789ABCDEF.app', 'b'.repeat(13), `${'b'.repeat(13)}.app`, '9'.repeat(12), reverseName('10.1.0.2').toUpperCase(), 'in-addr.arpa',
  'apihost', 'APIHOST.app', 'apihost.db', 'host.example', 'Host.Example.app', 'host', 'example',
];
const types = [TYPE.A, TYPE.AAAA, TYPE.ANY, TYPE.PTR, TYPE.MX, TYPE.TXT, TYPE.CNAME, 0, 65535];

/** A query for `name` with `mutate` applied to its bytes. */
function query(name: string, type: number, mutate?: (b: Buffer) => Buffer): Buffer {
  const b = buildQuery(0x1234, name, type);
  return mutate ? mutate(b) : b;
}

/** Checks one query for the asker `key`; returns what the thread did with it. */
function verdict(key: string, q: Buffer): 'answer' | 'forward' | 'main loop' {
  const { tables, tableOf } = nativeTables(table, [key]);
  const got = dnsNative().dnsAnswer(tables[tableOf.get(key)!]!, q);
  if (got === null) return 'main loop';
  const want = answerLocally(table, key, decodeMessage(q));
  if (got === 'forward') {
    assert.equal(want, undefined, `the thread forwards a name of ours: ${q.toString('hex')}`);
    return 'forward';
  }
  assert.ok(want, `the thread answered what the main loop forwards: ${q.toString('hex')}`);
  assert.equal(got.toString('hex'), want.toString('hex'), `answer to ${q.toString('hex')}`);
  return 'answer';
}

/** Whether the thread answered the query itself. */
function check(key: string, q: Buffer): boolean {
  return verdict(key, q) === 'answer';
}

test('dns table: every answer of the thread is the main loop’s, byte for byte; it forwards only names not ours', () => {
  let answered = 0;
  let ours = 0;
  for (const key of ['100', '200', '300', '400', '999']) {
    for (const name of names) {
      for (const type of types) {
        const q = query(name, type);
        if (answerLocally(table, key, decodeMessage(q))) ours++;
        if (check(key, q)) answered++;
        // RD off, an EDNS OPT record, class CH: as the main loop, or handed over
        check(key, query(name, type, (b) => (b.writeUInt16BE(0, 2), b)));
        const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        check(key, query(name, type, (b) => (b.writeUInt16BE(1, 10), Buffer.concat([b, opt]))));
        assert.equal(check(key, query(name, type, (b) => (b.writeUInt16BE(3, b.length - 2), b))), false);
      }
    }
  }
  // most names of ours are the thread's (not everything handed over)
  assert.ok(answered > ours * 0.75, `${answered} of ${ours}`);
  for (const [key, name] of [['100', 'apihost'], ['200', 'ApiHost.db'], ['100', 'host.example.app'], ['100', 'web'], ['100', 'Front.app'], ['200', 'api.DB'], ['100', 'A'.repeat(12)], ['200', `${'a'.repeat(12)}.app`], ['100', reverseName('172.17.0.3')]] as const) {
    assert.equal(check(key, query(name, TYPE.A)) || check(key, query(name, TYPE.PTR)), true, `${key} ${name}`);
  }
  // to the main loop: an ID prefix of 13 characters (bare or .network), any name starting with 12+ hex digits, non-ASCII
  assert.equal(verdict('100', query('a'.repeat(13), TYPE.A)), 'main loop');
  assert.equal(verdict('200', query(`${'a'.repeat(20)}.app`, TYPE.A)), 'main loop');
  assert.equal(verdict('100', query('0123456789ab.example', TYPE.A)), 'main loop');
  assert.equal(verdict('100', query('ümlaut', TYPE.A)), 'main loop');
  // forwarded by the thread: unknown names, a container name's PTR, a reverse name not ours
  assert.equal(verdict('100', query('nosuch', TYPE.A)), 'forward');
  assert.equal(verdict('100', query('Outside.Example', TYPE.AAAA)), 'forward');
  assert.equal(verdict('100', query('web', TYPE.PTR)), 'forward');
  assert.equal(verdict('100', query(reverseName('10.9.9.9'), TYPE.PTR)), 'forward');
  assert.equal(verdict('100', query('0123456789a.example', TYPE.A)), 'forward');
  // a table with an ID that is not hex: the hex rule would not cover its prefixes, nothing is forwarded
  const odd: DnsTable = { ...table, endpoints: { ...table.endpoints, e7: { networkId: 'app', nsIno: 100, containerId: 'z'.repeat(64), containerName: 'zed', aliases: [], ip: '10.1.0.7' } } };
  assert.equal(dnsNative().dnsAnswer(tableFor(odd, sharedNetworks(odd, '100')), query('nosuch', TYPE.A)), null);
  assert.ok(Buffer.isBuffer(dnsNative().dnsAnswer(tableFor(odd, sharedNetworks(odd, '100')), query('zed', TYPE.A))));
});

test('dns table: a PTR target that cannot be encoded (a label over 63 bytes) goes to the main loop', () => {
  const long: DnsTable = { networks: { big: { name: 'n'.repeat(70), isDefault: false } }, endpoints: { e1: { networkId: 'big', nsIno: 1, containerId: 'a'.repeat(64), containerName: 'web', aliases: [], ip: '10.5.0.2' } } };
  const t = tableFor(long, new Set(['big']));
  assert.equal(dnsNative().dnsAnswer(t, query(reverseName('10.5.0.2'), TYPE.PTR)), null);
  assert.ok(Buffer.isBuffer(dnsNative().dnsAnswer(t, query('web', TYPE.A))));
});

test('dns table: odd queries go to the main loop', () => {
  const { tables } = nativeTables(table, ['100']);
  const t = tables[0]!;
  const a = dnsNative().dnsAnswer;
  const q = query('web', TYPE.A);
  assert.ok(a(t, q));
  const two = encodeMessage({ id: 1, flags: 0x0100, questions: [{ name: 'web', type: TYPE.A, class: CLASS_IN }, { name: 'www', type: TYPE.A, class: CLASS_IN }], answers: [], authorities: [], additionals: [] });
  const compressed = Buffer.concat([q.subarray(0, 12), Buffer.from([0xc0, 12]), q.subarray(q.length - 4)]);
  const dotted = Buffer.concat([q.subarray(0, 12), Buffer.from([5]), Buffer.from('we.b1'), Buffer.from([0]), q.subarray(q.length - 4)]);
  const withAnswer = encodeMessage({ ...decodeMessage(q), answers: [{ name: 'web', type: TYPE.A, class: CLASS_IN, ttl: 1, data: '1.2.3.4' }] });
  for (const [what, b] of [
    ['a response', Buffer.concat([q.subarray(0, 2), Buffer.from([0x81, 0x80]), q.subarray(4)])],
    ['opcode 2', Buffer.concat([q.subarray(0, 2), Buffer.from([0x11, 0x00]), q.subarray(4)])],
    ['two questions', two],
    ['a compressed name', compressed],
    ['a dot inside a label', dotted],
    ['an answer record', withAnswer],
    ['a truncated question', q.subarray(0, q.length - 1)],
    ['a header only', q.subarray(0, 12)],
    ['an OPT record past the end', Buffer.concat([Buffer.from(q).fill(0, 10, 11).fill(1, 11, 12), Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 9])])],
    ['an additional record that is not the root', Buffer.concat([Buffer.from(q).fill(1, 11, 12), Buffer.from([1, 0x61, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])])],
  ] as const) {
    assert.equal(a(t, b), null, what);
  }
});

test('dns table: upstream sets as the main loop reads the upstreams, or none the thread can use', () => {
  const set = upstreamSet(['10.0.0.1', '127.0.0.53:5353', '2001:db8::1', '::ffff:10.1.2.3'], 2000)!;
  assert.equal(set.toString('hex'), [
    '000007d0', '04',
    '04', '0a000001', '00'.repeat(12), '0035',
    '04', '7f000035', '00'.repeat(12), '14e9',
    '06', '20010db8000000000000000000000001', '0035',
    '06', '00000000000000000000ffff0a010203', '0035',
  ].join(''));
  assert.equal(upstreamSet([], 100)!.toString('hex'), '0000006400');
  for (const bad of [['dns.example'], ['10.0.0.1:0'], ['10.0.0.1:x'], ['fe80::1%eth0'], ['fe80:1:2:3:4:5:6:7'], Array<string>(17).fill('10.0.0.1')]) {
    assert.equal(upstreamSet(bad, 2000), undefined, bad.join(' '));
  }
});

test('dns table: listeners on the same networks share a table; a malformed table is refused', () => {
  const t2: DnsTable = { ...table, endpoints: { ...table.endpoints, e7: { networkId: 'app', nsIno: 500, containerId: 'e'.repeat(64), containerName: 'twin', aliases: [], ip: '10.1.0.5' } } };
  const { tables, tableOf } = nativeTables(t2, ['400', '500', '200']);
  assert.equal(tables.length, 2);
  assert.equal(tableOf.get('400'), tableOf.get('500'));
  assert.notEqual(tableOf.get('400'), tableOf.get('200'));
  const good = tableFor(t2, sharedNetworks(t2, '400'));
  assert.throws(() => dnsNative().dnsAnswer(good.subarray(0, good.length - 1), query('web', TYPE.A)), /EINVAL/);
  assert.throws(() => dnsNative().dnsAnswer(Buffer.concat([good, Buffer.from([0])]), query('web', TYPE.A)), /EINVAL/);
});

test('dns table: pushes with a cache give the tables a push without one gives, as the names change', () => {
  const cache = newTableCache();
  let t: DnsTable = table;
  const keys = ['100', '200', '300', '400'];
  const steps: ((x: DnsTable) => DnsTable)[] = [
    (x) => x,
    (x) => ({ ...x, endpoints: { ...x.endpoints, e1: { ...x.endpoints.e1!, ip: '10.1.0.9' } } }),
    (x) => ({ ...x, endpoints: { ...x.endpoints, e8: { networkId: 'app', nsIno: 100, containerId: 'f'.repeat(64), containerName: 'new', aliases: ['www'], ip: '10.1.0.8' } } }),
    (x) => ({ ...x, networks: { ...x.networks, app: { name: 'App2', isDefault: false } } }),
    (x) => ({ ...x, endpoints: Object.fromEntries(Object.entries(x.endpoints).filter(([id]) => id !== 'e3')) }),
    (x) => x,
  ];
  for (const step of steps) {
    t = step(t);
    const plain = nativeTables(t, keys);
    const cached = nativeTables(t, keys, cache);
    assert.deepEqual(cached.tableOf, plain.tableOf);
    assert.deepEqual(cached.tables.map((b) => b.toString('hex')), plain.tables.map((b) => b.toString('hex')));
  }
  // only what the last push used is kept
  assert.equal(cache.tables.size, new Set(nativeTables(t, keys).tableOf.values()).size);
});

test('dns table: --link aliases resolve for the linking netns only, in a table of its own, as the main loop answers them', () => {
  // netns 700 on app links `api` as `backend` and `web` as `www` (an alias web's netns also has); 800 on app has no links
  const linked: DnsTable = {
    ...table,
    endpoints: {
      ...table.endpoints,
      e10: { networkId: 'app', nsIno: 700, containerId: '7'.repeat(64), containerName: 'client', aliases: [], ip: '10.1.0.70', links: [{ name: 'api', alias: 'backend' }, { name: 'web', alias: 'www' }] },
      e11: { networkId: 'app', nsIno: 800, containerId: '8'.repeat(64), containerName: 'other', aliases: [], ip: '10.1.0.80' },
    },
  };
  const { tables, tableOf } = nativeTables(linked, ['700', '800', '400']);
  // 400 and 800 are on the same networks without links: one table; 700 has its own
  assert.equal(tableOf.get('400'), tableOf.get('800'));
  assert.notEqual(tableOf.get('700'), tableOf.get('800'));
  const ask = (key: string, name: string) => {
    const q = buildQuery(0x4321, name, TYPE.A);
    const got = dnsNative().dnsAnswer(tables[tableOf.get(key)!]!, q);
    const want = answerLocally(linked, key, decodeMessage(q));
    if (Buffer.isBuffer(got)) assert.equal(got.toString('hex'), want?.toString('hex'), `${key} ${name}`);
    else if (got === 'forward') assert.equal(want, undefined, `${key} ${name} forwarded`);
    return want ? decodeMessage(want).answers.map((a) => String(a.data)) : got;
  };
  assert.deepEqual(ask('700', 'backend'), ['10.1.0.3']);
  assert.deepEqual(ask('700', 'BACKEND.app'), ['10.1.0.3']);
  // the link's target first, then the names that match otherwise (web's and api's alias www)
  assert.deepEqual(ask('700', 'www'), ['10.1.0.2', '10.1.0.3']);
  assert.equal(ask('800', 'backend'), 'forward');
  assert.deepEqual(ask('800', 'www'), ['10.1.0.2', '10.1.0.3']);
});
