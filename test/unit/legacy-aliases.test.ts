// Container inspect's Aliases by API version: current moby's rule (router/container/inspect.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUserDefinedNetworkName, withLegacyAliases } from '../../src/api/legacy-aliases.js';

const ID = '0123456789ab' + 'c'.repeat(52);

function sample(hostname: string): Record<string, unknown> {
  return {
    Id: ID,
    Config: { Hostname: hostname },
    NetworkSettings: {
      Networks: {
        bridge: { Aliases: null, DNSNames: null },
        app: { Aliases: ['web', 'db', 'web'], DNSNames: ['c1', 'web', 'db', ID.slice(0, 12), hostname] },
        other: { Aliases: null, DNSNames: null },
        sent: { Aliases: [], DNSNames: null },
      },
    },
  };
}

const aliases = (j: Record<string, unknown>) =>
  Object.fromEntries(Object.entries((j.NetworkSettings as { Networks: Record<string, { Aliases: unknown }> }).Networks).map(([k, v]) => [k, v.Aliases]));

test('below API 1.45 each user-defined network\'s Aliases gain the short ID and the hostname, each value once', () => {
  for (const v of ['1.24', '1.41', '1.44']) {
    assert.deepEqual(aliases(withLegacyAliases(sample('myhost'), v)), {
      bridge: null,
      // Go's Dedup: first occurrences, in order (a repeated alias the client sent goes too).
      app: ['web', 'db', ID.slice(0, 12), 'myhost'],
      other: [ID.slice(0, 12), 'myhost'],
      sent: [ID.slice(0, 12), 'myhost'],
    }, v);
  }
  // The default hostname is the short ID: once.
  assert.deepEqual(aliases(withLegacyAliases(sample(ID.slice(0, 12)), '1.41')).other, [ID.slice(0, 12)]);
  // DNSNames are left as they are.
  const j = withLegacyAliases(sample('myhost'), '1.41') as { NetworkSettings: { Networks: Record<string, { DNSNames: unknown }> } };
  assert.deepEqual(j.NetworkSettings.Networks.app!.DNSNames, ['c1', 'web', 'db', ID.slice(0, 12), 'myhost']);
});

test('from API 1.45 Aliases stay as the client sent them', () => {
  assert.deepEqual(aliases(withLegacyAliases(sample('myhost'), '1.45')), { bridge: null, app: ['web', 'db', 'web'], other: null, sent: [] });
  assert.deepEqual(aliases(withLegacyAliases(sample('myhost'), '1.47')).other, null);
});

test('user-defined network names as moby\'s NetworkMode.IsUserDefined (Linux)', () => {
  for (const n of ['bridge', 'host', 'none', 'default', 'container:abc']) assert.equal(isUserDefinedNetworkName(n), false, n);
  for (const n of ['app', 'my-bridge', 'bridge2', 'hostnet', 'containers']) assert.equal(isUserDefinedNetworkName(n), true, n);
  // Pseudo networks in an inspect (host/none mode) are left alone.
  const host = { Id: ID, Config: { Hostname: 'h' }, NetworkSettings: { Networks: { host: { Aliases: null } } } };
  assert.deepEqual(aliases(withLegacyAliases(host, '1.41')), { host: null });
  // No NetworkSettings (nothing to do) and a null endpoint do not throw.
  assert.deepEqual(withLegacyAliases({ Id: ID }, '1.41'), { Id: ID });
  assert.deepEqual(withLegacyAliases({ Id: ID, Config: {}, NetworkSettings: { Networks: { app: null } } }, '1.41'), { Id: ID, Config: {}, NetworkSettings: { Networks: { app: null } } });
});
