// The embedded DNS's name table and local answers (what the DNS thread decides on its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnsTableOf, lookupName, ownUpstreams, reverseName, type DnsTable } from '../../src/network/dns-names.js';
import { answerLocally } from '../../src/network/dns-answerer.js';
import { buildQuery, decodeMessage, RCODE, TYPE } from '../../src/network/dns-message.js';

// Two netns (inodes 100 and 200; 300 is on the default bridge only). 100 is on app and the
// default bridge, 200 on app and db, with a --network container:<web> sharer (same netns 100).
const table: DnsTable = {
  networks: { app: { name: 'app', isDefault: false }, db: { name: 'db', isDefault: false }, br: { name: 'bridge', isDefault: true } },
  endpoints: {
    e1: { networkId: 'app', nsIno: 100, containerId: 'a'.repeat(64), containerName: 'web', aliases: ['www', 'Front'], ip: '10.1.0.2' },
    e2: { networkId: 'br', nsIno: 100, containerId: 'a'.repeat(64), containerName: 'web', aliases: [], ip: '172.17.0.2' },
    e3: { networkId: 'app', nsIno: 200, containerId: 'b'.repeat(64), containerName: 'api', aliases: ['www'], hostname: 'ApiHost', ip: '10.1.0.3', dns: ['9.9.9.9'] },
    e4: { networkId: 'db', nsIno: 200, containerId: 'b'.repeat(64), containerName: 'api', aliases: [], hostname: 'ApiHost', ip: '10.2.0.3' },
    e5: { networkId: 'br', nsIno: 300, containerId: 'c'.repeat(64), containerName: 'lonely', aliases: [], ip: '172.17.0.3' },
  },
};

test('dns names: names, aliases, ids and name.network on shared user networks only', () => {
  assert.deepEqual(lookupName(table, '100', 'api'), ['10.1.0.3']);
  assert.deepEqual(lookupName(table, '100', 'API.app'), ['10.1.0.3']);
  assert.deepEqual(lookupName(table, '100', 'www'), ['10.1.0.2', '10.1.0.3']); // an alias two share
  assert.deepEqual(lookupName(table, '100', 'front'), ['10.1.0.2']);
  assert.deepEqual(lookupName(table, '100', 'b'.repeat(12)), ['10.1.0.3']);
  assert.equal(lookupName(table, '100', 'b'.repeat(11)), undefined); // shorter than 12: not an id
  assert.deepEqual(lookupName(table, '200', 'api'), ['10.1.0.3', '10.2.0.3']);
  assert.equal(lookupName(table, '100', 'api.db'), undefined); // db is not shared with 100
  assert.equal(lookupName(table, '300', 'web'), undefined); // no names on the default bridge
  assert.equal(lookupName(table, '100', 'lonely'), undefined);
  assert.equal(lookupName(table, '999', 'web'), undefined); // an unknown asker shares nothing
  // a custom hostname, as current moby (its DNSNames end with it)
  assert.deepEqual(lookupName(table, '100', 'apihost'), ['10.1.0.3']);
  assert.deepEqual(lookupName(table, '100', 'APIHOST.app'), ['10.1.0.3']);
  assert.deepEqual(lookupName(table, '200', 'apihost'), ['10.1.0.3', '10.2.0.3']);
  assert.equal(lookupName(table, '100', 'apihost.db'), undefined);
  assert.equal(lookupName(table, '300', 'apihost'), undefined);
});

test('dns names: reverse on any shared network (the default bridge too), upstreams of the netns', () => {
  assert.equal(reverseName(table, '200', '10.1.0.2'), 'web.app');
  assert.equal(reverseName(table, '100', '172.17.0.3'), 'lonely.bridge');
  assert.equal(reverseName(table, '200', '172.17.0.2'), undefined);
  assert.deepEqual(ownUpstreams(table, '200'), ['9.9.9.9']);
  assert.equal(ownUpstreams(table, '100'), undefined);
});

test('dns names: the posted table keeps only what the DNS uses, in order', () => {
  const withExtra = { networks: { ...table.networks, app: { ...table.networks.app!, pool: { x: 1 } } }, endpoints: { ...table.endpoints, e1: { ...table.endpoints.e1!, mac: '02:42', ports: [] } } } as DnsTable;
  const t = dnsTableOf(withExtra);
  assert.deepEqual(t, table);
  assert.deepEqual(Object.keys(t.endpoints), ['e1', 'e2', 'e3', 'e4', 'e5']);
});

test('dns answers: A for ours, NOERROR without records for other types, PTR, undefined to forward', () => {
  const ask = (name: string, type: number) => answerLocally(table, '100', decodeMessage(buildQuery(7, name, type)));
  const a = decodeMessage(ask('api.', TYPE.A)!);
  assert.equal(a.id, 7);
  assert.equal(a.flags & 0xf, RCODE.NOERROR);
  assert.deepEqual(a.answers.map((r) => r.data), ['10.1.0.3']);
  const aaaa = decodeMessage(ask('api', TYPE.AAAA)!);
  assert.equal(aaaa.flags & 0xf, RCODE.NOERROR);
  assert.deepEqual(aaaa.answers, []);
  const ptr = decodeMessage(ask('3.0.1.10.in-addr.arpa', TYPE.PTR)!);
  assert.deepEqual(ptr.answers.map((r) => r.data), ['api.app']);
  assert.equal(ask('example.com', TYPE.A), undefined);
  assert.equal(ask('9.9.9.9.in-addr.arpa', TYPE.PTR), undefined);
});

test('dns names: a --link alias resolves for the linking container only, on the link\'s network, to the linked container there', () => {
  const linked: DnsTable = {
    networks: table.networks,
    endpoints: {
      ...table.endpoints,
      e1: { ...table.endpoints.e1!, links: [{ name: 'api', alias: 'backend' }, { name: 'nosuch', alias: 'ghost' }] },
    },
  };
  assert.deepEqual(lookupName(linked, '100', 'backend'), ['10.1.0.3']);
  assert.deepEqual(lookupName(linked, '100', 'BACKEND.app'), ['10.1.0.3']);
  assert.equal(lookupName(linked, '200', 'backend'), undefined, 'not for the others');
  assert.equal(lookupName(linked, '100', 'ghost'), undefined, 'a link to a container not on the network');
  assert.deepEqual(dnsTableOf(linked).endpoints.e1!.links, [{ name: 'api', alias: 'backend' }, { name: 'nosuch', alias: 'ghost' }], 'posted to the DNS thread');
});
