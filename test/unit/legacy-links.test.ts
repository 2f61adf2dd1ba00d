import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkEnv, linkHostsEntry } from '../../src/engine/containers/legacy-links.js';

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
