import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkEnv, linkHostsEntry, linkLinesOf, updateHostsAddress, updateHostsEntry } from '../../src/engine/containers/legacy-links.js';

const child = { alias: 'web', name: 'web', hostname: 'abcdef012345', ip: '172.17.0.3', env: ['PATH=/bin', 'A=1=2', 'B', 'HOME=/root'], exposedPorts: [] as string[] };

test('linkHostsEntry: alias, hostname, then the name unless it is the alias (libnetwork buildSandboxOptions)', () => {
  assert.deepEqual(linkHostsEntry(child), { ip: '172.17.0.3', names: ['web', 'abcdef012345'] });
  assert.deepEqual(linkHostsEntry({ ...child, alias: 'w' }), { ip: '172.17.0.3', names: ['w', 'abcdef012345', 'web'] });
});

test('linkEnv: no ports → NAME and ENV_ (HOME, PATH and bare names left out); the alias upper-cased, - as _', () => {
  assert.deepEqual(linkEnv('/me', { ...child, alias: 'my-db' }), ['MY_DB_NAME=/me/my-db', 'MY_DB_ENV_A=1=2']);
});

test('linkEnv: the lowest port (tcp first) is ALIAS_PORT; runs of three or more consecutive ports get the _START/_END set', () => {
  const env = linkEnv('/me', { ...child, env: [], exposedPorts: ['8002/tcp', '8000/tcp', '8001/tcp', '53/udp', '53/tcp'] });
  const p = (port: number, proto: string) => [`WEB_PORT_${port}_${proto.toUpperCase()}=${proto}://172.17.0.3:${port}`, `WEB_PORT_${port}_${proto.toUpperCase()}_ADDR=172.17.0.3`, `WEB_PORT_${port}_${proto.toUpperCase()}_PORT=${port}`, `WEB_PORT_${port}_${proto.toUpperCase()}_PROTO=${proto}`];
  assert.deepEqual(env, [
    'WEB_PORT=tcp://172.17.0.3:53',
    'WEB_PORT_8000_TCP_START=tcp://172.17.0.3:8000',
    'WEB_PORT_8000_TCP_ADDR=172.17.0.3',
    'WEB_PORT_8000_TCP_PROTO=tcp',
    'WEB_PORT_8000_TCP_PORT_START=8000',
    'WEB_PORT_8000_TCP_END=tcp://172.17.0.3:8002',
    'WEB_PORT_8000_TCP_PORT_END=8002',
    ...p(53, 'tcp'),
    ...p(53, 'udp'),
    ...p(8000, 'tcp'),
    ...p(8001, 'tcp'),
    ...p(8002, 'tcp'),
    'WEB_NAME=/me/web',
  ]);
});

test('updateHostsAddress is libnetwork\'s etchosts.Update: the address before "\\t<alias>" then a blank or a dot, on every such line; the rest untouched', () => {
  const text = [
    '127.0.0.1\tlocalhost',
    '172.17.0.2\tdb 0123456789ab par-db',
    '192.0.2.9\tmine',
    '172.17.0.3\tdb.example other',
    '172.17.0.4\tdbx 111111111111 dbx',
    '10.0.0.1\tx db',
    '172.17.0.5\tweb',
    '',
  ].join('\n');
  assert.equal(updateHostsAddress(text, 'db', '172.17.0.9'), text.replace('172.17.0.2\tdb ', '172.17.0.9\tdb ').replace('172.17.0.3\tdb.', '172.17.0.9\tdb.'));
  // The alias is matched as it is (a dot in it is no wildcard); a stale address with no line: unchanged.
  assert.equal(updateHostsAddress('1.2.3.4\tmyxdb a\n', 'my.db', '5.6.7.8'), '1.2.3.4\tmyxdb a\n');
  assert.equal(updateHostsAddress('\tdb h db\n', 'db', '5.6.7.8'), '5.6.7.8\tdb h db\n', 'an empty address (a Refresh of a stopped one) is filled');
  assert.deepEqual(updateHostsEntry({ ip: '172.17.0.2', names: ['db', 'h', 'par-db'] }, 'db', '172.17.0.7'), { ip: '172.17.0.7', names: ['db', 'h', 'par-db'] });
  assert.deepEqual(updateHostsEntry({ ip: '172.17.0.2', names: ['one', 'h'] }, 'db', '172.17.0.7'), { ip: '172.17.0.2', names: ['one', 'h'] });
});

test('linkLinesOf: each alias\'s last link-shaped line (alias, hostname, maybe the name; an empty address too); --add-host and own lines left', () => {
  const text = [
    '127.0.0.1\tlocalhost',
    '192.0.2.1\tone',
    '10.0.0.2\tone h1 db1',
    '\ttwo h2',
    '10.0.0.9\tone h1 db1',
    '10.0.0.5\tthree a b c',
    '10.0.0.4\tmyhost',
    '',
  ].join('\n');
  assert.deepEqual([...linkLinesOf(text, ['one', 'two', 'three', 'four'])], [
    ['one', { ip: '10.0.0.9', names: ['one', 'h1', 'db1'] }],
    ['two', { ip: '', names: ['two', 'h2'] }],
  ]);
});
