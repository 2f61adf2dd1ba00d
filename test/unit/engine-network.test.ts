// Pure parts of the engine's networking: endpoint planning from NetworkMode/EndpointsConfig,
// PortBindings/-P → port specs, the NetworkSettings/Ports/network views and filters, the /etc
// files per network mode, the CLI's IPAM flags and hakod's network flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  planEndpoints, portSpecsOf, networkSettingsView, portsView, portSummary, networkView, pseudoNetworkView, networkMatches, parseLink, type NetworkFacts, type EndpointFacts,
} from '../../src/engine/containers/network-config.js';
import { etcFiles, hostsFile, resolvConf } from '../../src/engine/containers/etc-files.js';
import { parsePortFilter, portsMatch } from '../../src/engine/containers/view.js';
import { ipamConfig } from '../../src/cli/commands/network.js';
import { parseFlags } from '../../src/daemon/flags.js';
import { HakoError } from '../../src/common/errors.js';
import { goAtoi, goParseBool, parseBridgeOptions } from '../../src/network/bridge-options.js';

const ID = 'c'.repeat(64);
const net = (name: string, extra: Partial<NetworkFacts> = {}): NetworkFacts => ({
  id: `${name[0]}`.repeat(64), name, bridge: `br-${name}`, subnet: '10.1.0.0/24', gateway: '10.1.0.1', ipRange: '10.1.0.0/24', internal: false, isDefault: false,
  labels: {}, options: {}, created: '2026-01-01T00:00:00.000Z', mtu: 1500, ...extra,
});
const bridge = net('bridge', { isDefault: true, subnet: '172.17.0.0/16', gateway: '172.17.0.1', ipRange: '172.17.0.0/16', bridge: 'hako0' });
const app = net('app');
const db = net('db', { subnet: '10.2.0.0/24', gateway: '10.2.0.1' });
const find = (r: string) => [bridge, app, db].find((n) => n.name === r || n.id === r || (r.length >= 3 && n.id.startsWith(r)));
const opts = { find, defaultNetwork: bridge };

test('planEndpoints: the mode’s network first, docker’s `default` key, extra networks, validation', () => {
  assert.deepEqual(planEndpoints('bridge', { default: { MacAddress: '' } }, opts), { bridge: { NetworkID: bridge.id, Aliases: [], IPv4Address: '', MacAddress: '', Attached: false } });
  assert.deepEqual(Object.keys(planEndpoints('app', { app: { Aliases: ['web'] }, db: {} }, opts)), ['app', 'db']);
  const p = planEndpoints('app', { app: { Aliases: ['web'], IPAMConfig: { IPv4Address: '10.1.0.9' } } }, { ...opts, macAddress: '02:42:00:00:00:09' });
  assert.deepEqual(p.app, { NetworkID: app.id, Aliases: ['web'], IPv4Address: '10.1.0.9', MacAddress: '02:42:00:00:00:09', Attached: false, IPAMGiven: true, AliasesGiven: true });
  // What the client sent is remembered for inspect's shapes (dockerd: IPAMConfig {}, Aliases [], DriverOpts as given).
  assert.deepEqual(planEndpoints('app', { app: { IPAMConfig: {}, Aliases: [], DriverOpts: { k: 'v' } } }, opts).app, { NetworkID: app.id, Aliases: [], IPv4Address: '', MacAddress: '', Attached: false, IPAMGiven: true, AliasesGiven: true, DriverOpts: { k: 'v' } });
  assert.throws(() => planEndpoints('app', { app: { DriverOpts: { k: 1 } } }, opts), /DriverOpts/);
  // by id or prefix
  assert.deepEqual(Object.keys(planEndpoints(app.id.slice(0, 5), {}, opts)), ['app']);
  assert.deepEqual(planEndpoints('none', { none: {} }, opts), {});
  assert.deepEqual(planEndpoints('host', {}, opts), {});
  assert.deepEqual(planEndpoints('bridge', {}, { find, defaultNetwork: undefined }), {}, 'no default network: no endpoint');
  assert.throws(() => planEndpoints('nope', {}, opts), (e: Error & { kind?: string }) => e.kind === 'not-found' && e.message === 'network nope not found');
  assert.throws(() => planEndpoints('app', { ghost: {} }, opts), /network ghost not found/);
  assert.throws(() => planEndpoints('host', { app: {} }, opts), /cannot be connected to any other network/);
  assert.throws(() => planEndpoints('bridge', { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } }, opts), (e: Error) => e.message === 'user specified IP address is supported on user defined networks only');
  assert.throws(() => planEndpoints('bridge', { bridge: { Aliases: ['x'] } }, opts), (e: Error) => e.message === 'network-scoped alias is supported only for containers in user defined networks');
  assert.throws(() => planEndpoints('app', { app: { IPAMConfig: { IPv4Address: '10.1.0' } } }, opts), /invalid IPv4 address/);
  assert.throws(() => planEndpoints('app', {}, { ...opts, macAddress: '01:00:5e:00:00:01' }), /multicast/);
  assert.throws(() => planEndpoints('app', { app: { IPAMConfig: { IPv6Address: 'fd00::2' } } }, opts), /IPv6 is not supported/);
});

test('portSpecsOf: bindings, ranges, host IPs, -P for the other exposed ports; no host IP is dual-stack, an IPv6 one IPv6-only', () => {
  const specs = portSpecsOf(
    { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostIp: '', HostPort: '5300-5310' }], '443/tcp': null }, PublishAllPorts: true },
    { ExposedPorts: { '80/tcp': {}, '9000/tcp': {}, '53/udp': {} } },
  );
  assert.deepEqual(specs, [
    { hostIp: '0.0.0.0', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, proto: 'tcp', dualStack: true },
    { hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0, containerPort: 80, proto: 'tcp' },
    { hostIp: '0.0.0.0', hostPort: 5300, hostPortEnd: 5310, containerPort: 53, proto: 'udp', dualStack: true },
    { hostIp: '0.0.0.0', hostPort: 0, hostPortEnd: 0, containerPort: 443, proto: 'tcp', dualStack: true },
    { hostIp: '0.0.0.0', hostPort: 0, hostPortEnd: 0, containerPort: 9000, proto: 'tcp', dualStack: true },
  ]);
  // dockerd: an explicit host address is one family only; 0.0.0.0 is not dual-stack.
  assert.deepEqual(portSpecsOf({ PortBindings: { '80/tcp': [{ HostIp: '::', HostPort: '80' }] } }, {}), [{ hostIp: '::', hostPort: 80, hostPortEnd: 80, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(portSpecsOf({ PortBindings: { '80/tcp': [{ HostIp: '::1', HostPort: '' }] } }, {}), [{ hostIp: '::1', hostPort: 0, hostPortEnd: 0, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(portSpecsOf({ PortBindings: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '80' }] } }, {}), [{ hostIp: '0.0.0.0', hostPort: 80, hostPortEnd: 80, containerPort: 80, proto: 'tcp' }]);
  assert.throws(() => portSpecsOf({ PortBindings: { 'x/tcp': [] } }, {}), /invalid port "x\/tcp"/);
  assert.throws(() => portSpecsOf({ PortBindings: { '80/icmp': [] } }, {}), /invalid protocol/);
  assert.throws(() => portSpecsOf({ PortBindings: { '80/tcp': [{ HostPort: 'abc' }] } }, {}), /invalid host port "abc"/);
  assert.throws(() => portSpecsOf({ PortBindings: { '80/tcp': [{ HostIp: 'localhost', HostPort: '1' }] } }, {}), /invalid host IP/);
});

test('NetworkSettings, Ports and the list summary look like docker’s', () => {
  const ep: EndpointFacts = { id: 'e'.repeat(64), networkId: bridge.id, containerId: ID, containerName: 'web', ip: '172.17.0.2', prefixLen: 16, gateway: '172.17.0.1', mac: '02:42:ac:11:00:02', aliases: [], ports: [{ hostIp: '0.0.0.0', hostPort: 8080, containerPort: 80, proto: 'tcp' }] };
  const ep2: EndpointFacts = { ...ep, id: 'f'.repeat(64), networkId: app.id, ip: '10.1.0.5', prefixLen: 24, gateway: '10.1.0.1', mac: '02:42:0a:01:00:05', aliases: ['www'], ports: [] };
  const sandboxId = 'a'.repeat(64);
  const base = { id: ID, mode: 'bridge', pid: 42, running: true, started: true, sandboxId, sandboxKey: '/run/x/netns/aaaaaaaaaaaa', exposed: ['80/tcp', '443/tcp'], networkOf: find, pseudoId: (n: string) => `${n}-id` };
  const configured = { bridge: { NetworkID: bridge.id, Aliases: [], IPv4Address: '', MacAddress: '' }, app: { NetworkID: app.id, Aliases: ['www'], IPv4Address: '', MacAddress: '' } };
  const s = networkSettingsView({ ...base, configured, endpoints: [ep, ep2] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(s.IPAddress, '172.17.0.2');
  assert.equal(s.Gateway, '172.17.0.1');
  assert.equal(s.MacAddress, '02:42:ac:11:00:02');
  assert.equal(s.SandboxKey, '/run/x/netns/aaaaaaaaaaaa');
  assert.equal(s.SandboxID, sandboxId, 'the sandbox ID, not the container ID (dockerd)');
  assert.deepEqual(s.Ports, { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
  assert.equal(s.Networks.bridge.DNSNames, null, 'no embedded DNS on the default bridge');
  // moby's order: name, aliases, short ID, hostname (deduplicated).
  assert.deepEqual(s.Networks.app.DNSNames, ['web', 'www', ID.slice(0, 12)]);
  const named = networkSettingsView({ ...base, hostname: 'box', configured, endpoints: [ep, { ...ep2, aliases: ['www', ID.slice(0, 12), 'web'] }] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(named.Networks.app.DNSNames, ['web', 'www', ID.slice(0, 12), 'box']);
  assert.deepEqual(s.Networks.app.Aliases, ['www']);
  assert.equal(s.Networks.app.IPPrefixLen, 24);
  const stopped = networkSettingsView({ ...base, running: false, configured, endpoints: [] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(stopped.Networks.app.IPAddress, '');
  assert.equal(stopped.Networks.app.NetworkID, app.id);
  assert.deepEqual(stopped.Ports, {});
  for (const mode of ['host', 'none', `container:${'c'.repeat(64)}`]) {
    const own = networkSettingsView({ ...base, mode, configured: {}, endpoints: [] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(own.Ports, {}, `${mode}: no ports while running (dockerd), whatever is exposed`);
  }
  assert.equal(stopped.SandboxKey, '/run/x/netns/aaaaaaaaaaaa', 'dockerd keeps the last start’s sandbox after the stop');
  assert.deepEqual([stopped.Networks.app.IPAMConfig, stopped.Networks.bridge.Aliases, stopped.Networks.app.DriverOpts], [null, null, null], 'not sent: null');
  const sent = networkSettingsView({ ...base, configured: { app: { ...configured.app, Aliases: [], IPAMGiven: true, AliasesGiven: true, DriverOpts: {} } }, endpoints: [ep2] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual([sent.Networks.app.IPAMConfig, sent.Networks.app.Aliases, sent.Networks.app.DriverOpts], [{}, [], {}], 'sent empty (docker network connect): {} [] {}');
  // Created (never attached): dockerd shows NetworkID "" (a pseudo network's too) and no sandbox.
  const created = networkSettingsView({ ...base, running: false, started: false, sandboxId: undefined, sandboxKey: undefined, configured: { app: { ...configured.app, Attached: false } }, endpoints: [] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(created.Networks.app.NetworkID, '');
  assert.equal(created.SandboxID, '');
  assert.equal(created.SandboxKey, '');
  assert.equal((networkSettingsView({ ...base, mode: 'none', running: false, started: false, configured: {}, endpoints: [] }) as any).Networks.none.NetworkID, ''); // eslint-disable-line @typescript-eslint/no-explicit-any
  const host = networkSettingsView({ ...base, mode: 'host', configured: {}, endpoints: [] }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(Object.keys(host.Networks), ['host']);
  assert.equal(host.Networks.host.NetworkID, 'host-id');
  assert.deepEqual(networkSettingsView({ ...base, mode: 'container:x', configured: {}, endpoints: [] }).Networks, {});
  assert.deepEqual(portsView([], [ep, { ...ep, ports: [{ hostIp: '127.0.0.1', hostPort: 9090, containerPort: 80, proto: 'tcp' }] }])['80/tcp'], [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '9090' }]);
  assert.deepEqual(portSummary(['80/tcp', '53/udp'], [ep]), [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }]);
});

test('network views and list filters', () => {
  const v = networkView({ ...app, ipRange: '10.1.0.128/25', labels: { a: 'b' } }, undefined) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(v.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.1', IPRange: '10.1.0.128/25' }] });
  assert.deepEqual(v.Containers, {});
  assert.equal(v.Scope, 'local');
  const b = networkView(bridge, { x: {} }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(b.Options['com.docker.network.bridge.default_bridge'], 'true');
  assert.equal(b.Options['com.docker.network.bridge.name'], 'hako0');
  assert.deepEqual(b.IPAM.Config, [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }]);
  assert.equal(pseudoNetworkView('none', 'n-id', 'now', undefined).Driver, 'null');
  assert.ok(networkMatches(v, { name: ['ap'], driver: ['bridge'], label: ['a=b'], type: ['custom'], scope: ['local'] }, false, false));
  assert.ok(!networkMatches(v, { label: ['a=c'] }, false, false));
  assert.ok(networkMatches(v, { dangling: ['true'] }, false, false));
  assert.ok(!networkMatches(v, { dangling: ['true'] }, true, false));
  assert.ok(!networkMatches(b, { dangling: ['true'] }, false, true), 'predefined networks are never dangling');
  assert.ok(networkMatches(b, { dangling: ['0'] }, false, true));
  assert.throws(() => networkMatches(v, { dangling: ['maybe'] }, false, false), { message: 'invalid value for filter \'dangling\', must be "true" (or "1"), or "false" (or "0")' });
  assert.throws(() => networkMatches(v, { dangling: ['TRUE'] }, false, false), /invalid value for filter 'dangling'/, 'dockerd takes exactly true/1/false/0');
  assert.throws(() => networkMatches(v, { dangling: ['true', 'false'] }, false, false), { message: 'got more than one value for filter key "dangling"' });
  assert.ok(networkMatches(b, { type: ['builtin'], id: [bridge.id.slice(0, 6)] }, false, true));
  assert.throws(() => networkMatches(v, { type: ['odd'] }, false, false), /invalid filter/);
  assert.throws(() => networkMatches(v, { bogus: ['x'] }, false, false), /invalid filter 'bogus'/);
});

test('/etc files per network mode', () => {
  const base = {
    mode: 'bridge', hostname: 'box', domainname: '', extraHosts: ['db:10.9.9.9', 'gw:host-gateway'], dns: [], dnsSearch: [], dnsOptions: [],
    hostResolv: 'nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch corp\n', hostHosts: '127.0.0.1 localhost\n10.0.0.5 hostbox\n', hostHostname: 'hostbox',
    ips: ['172.17.0.2'], embeddedDns: false, hostGateway: '172.17.0.1',
  };
  const b = etcFiles(base);
  assert.match(b.hosts, /^127\.0\.0\.1\tlocalhost\n/);
  assert.match(b.hosts, /10\.9\.9\.9\tdb\n172\.17\.0\.1\tgw\n172\.17\.0\.2\tbox\n$/);
  assert.equal(b.resolv, 'nameserver 10.0.0.1\nsearch corp\n', 'the host file minus its loopback nameserver, order kept');
  assert.equal(b.hostname, 'box\n');
  const u = etcFiles({ ...base, embeddedDns: true, ips: ['10.1.0.2', '10.2.0.2'], domainname: 'example.test', dns: ['9.9.9.9'] });
  assert.equal(u.resolv, 'search corp\nnameserver 127.0.0.11\noptions ndots:0\n');
  assert.match(u.hosts, /10\.1\.0\.2\tbox\.example\.test box\n10\.2\.0\.2\tbox\.example\.test box\n$/);
  const h = etcFiles({ ...base, mode: 'host' });
  assert.equal(h.hosts, '127.0.0.1 localhost\n10.0.0.5 hostbox\n10.9.9.9\tdb\n172.17.0.1\tgw\n');
  assert.equal(h.resolv, base.hostResolv, 'host mode keeps loopback resolvers: same netns');
  assert.equal(h.hostname, 'hostbox\n');
  assert.equal(etcFiles({ ...base, mode: 'host', dns: ['1.1.1.1'] }).resolv, 'search corp\nnameserver 1.1.1.1\n');
  const n = etcFiles({ ...base, mode: 'none', ips: [], extraHosts: [] });
  assert.doesNotMatch(n.hosts, /box/);
  assert.throws(() => etcFiles({ ...base, hostGateway: undefined }), /no host gateway address is known/);
  assert.throws(() => etcFiles({ ...base, extraHosts: ['bad'] }), /invalid --add-host "bad"/);
  // the older helpers still behave
  assert.equal(resolvConf('nameserver 127.0.0.1\n', [], [], []), '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.match(hostsFile('h', 'd.test', [], '10.0.0.2'), /10\.0\.0\.2\th\.d\.test h\n$/);
});

test('publish/expose list filters as dockerd: publish matches the host port, expose the container port, either one lists; its parse errors', () => {
  const ports = [{ IP: '127.0.0.1', PrivatePort: 80, PublicPort: 18080, Type: 'tcp' }, { PrivatePort: 9000, Type: 'tcp' }, { IP: '0.0.0.0', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }];
  assert.ok(portsMatch(ports, ['18080'], []));
  assert.ok(!portsMatch(ports, ['80'], []), 'publish= is the host port');
  assert.ok(portsMatch(ports, [], ['80']));
  assert.ok(portsMatch(ports, [], ['9000/tcp']));
  assert.ok(!portsMatch(ports, [], ['53']), 'tcp by default');
  assert.ok(portsMatch(ports, ['5000-6000/udp'], []));
  assert.ok(portsMatch(ports, ['1'], ['9000']), 'publish and expose: either one');
  assert.ok(portsMatch(ports, ['0'], []), 'an exposed-only port has host port 0 (dockerd builds "0/tcp")');
  assert.ok(!portsMatch([], ['0-65535'], ['0-65535']));
  assert.deepEqual(parsePortFilter('publish', '80/'), { lo: 80, hi: 80, proto: 'tcp' });
  assert.throws(() => parsePortFilter('publish', 'abc'), { message: 'error while looking up for publish abc: strconv.ParseUint: parsing "abc": invalid syntax' });
  assert.throws(() => parsePortFilter('expose', '70000/udp'), { message: 'error while looking up for expose 70000: strconv.ParseUint: parsing "70000": value out of range' });
  assert.throws(() => parsePortFilter('expose', '90-80'), { message: 'error while looking up for expose 90-80: invalid range specified for port: 90-80' });
  assert.throws(() => parsePortFilter('publish', '/tcp'), { message: 'error while looking up for publish : empty string specified for ports' });
  assert.throws(() => parsePortFilter('publish', '127.0.0.1:80'), { message: "filter for 'publish' should not contain ':': 127.0.0.1:80" });
});

test('CLI: --subnet/--gateway/--ip-range/--aux-address pair up by subnet', () => {
  assert.deepEqual(ipamConfig([], [], [], {}), []);
  assert.deepEqual(ipamConfig(['10.1.0.0/16'], ['10.1.0.254'], ['10.1.5.0/24'], { host1: '10.1.0.5' }), [
    { Subnet: '10.1.0.0/16', IPRange: '10.1.5.0/24', Gateway: '10.1.0.254', AuxiliaryAddresses: { host1: '10.1.0.5' } },
  ]);
  assert.deepEqual(ipamConfig(['10.1.0.0/24', '10.2.0.0/24'], ['10.2.0.1'], [], {}), [{ Subnet: '10.1.0.0/24' }, { Subnet: '10.2.0.0/24', Gateway: '10.2.0.1' }]);
  assert.throws(() => ipamConfig([], ['10.1.0.1'], [], {}), /every ip-range or gateway must have a corresponding subnet/);
  assert.throws(() => ipamConfig(['10.1.0.0/24', '10.2.0.0/24'], ['10.3.0.1'], [], {}), /no matching subnet for gateway 10\.3\.0\.1/);
  assert.throws(() => ipamConfig(['10.1.0.0/24'], ['10.1.0.1', '10.1.0.2'], [], {}), /cannot configure multiple gateways/);
});

test('hakod network flags', () => {
  const f = parseFlags(['-b', 'br0', '--bip=172.30.0.1/16', '--nft-table', 't1', '--iface-prefix', 'hx', '--ip-forward=false', '--dns', '10.0.0.1', '--dns=127.0.0.1:5353,1.1.1.1']);
  assert.equal(f.bridge, 'br0');
  assert.equal(f.bip, '172.30.0.1/16');
  assert.equal(f.nftTable, 't1');
  assert.equal(f.ifacePrefix, 'hx');
  assert.equal(f.ipForward, false);
  assert.deepEqual(f.dns, ['10.0.0.1', '127.0.0.1:5353', '1.1.1.1']);
  const d = parseFlags([]);
  assert.equal(d.ipForward, true);
  assert.equal(d.iptables, true, 'dockerd --iptables defaults to true');
  assert.equal(parseFlags(['--iptables=false']).iptables, false);
  assert.equal(parseFlags(['--iptables']).iptables, true);
  assert.equal(d.bridge, undefined);
  assert.throws(() => parseFlags(['--bridge', 'a-name-far-too-long']), /invalid --bridge/);
  assert.throws(() => parseFlags(['--dns', 'dns.example']), /invalid --dns "dns\.example"/);
  assert.equal(d.mtu, 0, 'no --mtu: 1500 (dockerd’s default)');
  assert.equal(parseFlags(['--mtu', '1420']).mtu, 1420);
  assert.equal(parseFlags(['--mtu=+9000']).mtu, 9000, 'a Go int: a sign is fine');
  assert.throws(() => parseFlags(['--mtu', 'abc']), (e: Error) => e.message.startsWith('invalid argument "abc" for "--mtu" flag: strconv.ParseInt: parsing "abc": invalid syntax'));
  assert.throws(() => parseFlags(['--mtu', '-1']), /invalid MTU number: -1/);
  assert.equal(d.icc, true, 'dockerd --icc defaults to true');
  assert.equal(parseFlags(['--icc=false']).icc, false);
  assert.equal(parseFlags(['--icc']).icc, true);
});

// The texts are dockerd 20.10.24's answers (a private dockerd, --iptables=false), status 500.
test('bridge driver options: read and refused as dockerd 20.10', () => {
  const refused = (o: Record<string, string>, message: string) => {
    assert.throws(() => parseBridgeOptions(o), (e: unknown) => e instanceof HakoError && e.message === message && e.kind === 'internal', message);
  };
  refused({ 'com.docker.network.driver.mtu': 'abc' }, 'failed to parse com.docker.network.driver.mtu value: abc (strconv.Atoi: parsing "abc": invalid syntax)');
  refused({ 'com.docker.network.driver.mtu': ' 1400' }, 'failed to parse com.docker.network.driver.mtu value:  1400 (strconv.Atoi: parsing " 1400": invalid syntax)');
  refused({ 'com.docker.network.driver.mtu': '99999999999999999999' }, 'failed to parse com.docker.network.driver.mtu value: 99999999999999999999 (strconv.Atoi: parsing "99999999999999999999": value out of range)');
  refused({ 'com.docker.network.driver.mtu': '-1' }, 'invalid MTU number: -1');
  refused({ 'com.docker.network.bridge.enable_icc': 'maybe' }, 'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)');
  refused({ 'com.docker.network.bridge.enable_icc': '' }, 'failed to parse com.docker.network.bridge.enable_icc value:  (strconv.ParseBool: parsing "": invalid syntax)');
  refused({ 'com.docker.network.bridge.enable_ip_masquerade': 'nope' }, 'failed to parse com.docker.network.bridge.enable_ip_masquerade value: nope (strconv.ParseBool: parsing "nope": invalid syntax)');
  refused({ 'com.docker.network.bridge.host_binding_ipv4': 'bad' }, 'failed to parse com.docker.network.bridge.host_binding_ipv4 value: bad (nil ip)');
  refused({ 'com.docker.network.bridge.host_binding_ipv4': '' }, 'failed to parse com.docker.network.bridge.host_binding_ipv4 value:  (nil ip)');
  const dflt = parseBridgeOptions({ foo: 'bar' });
  assert.deepEqual(dflt, { mtu: 0, icc: true, masquerade: true, hostBindingIp: undefined, defaultBridge: false, enableIpv6: false }, 'unknown keys do nothing (dockerd keeps them, silently)');
  const o = parseBridgeOptions({ 'com.docker.network.driver.mtu': '+1400', 'com.docker.network.bridge.enable_icc': 'F', 'com.docker.network.bridge.enable_ip_masquerade': '0', 'com.docker.network.bridge.host_binding_ipv4': '::1' });
  assert.deepEqual(o, { mtu: 1400, icc: false, masquerade: false, hostBindingIp: '::1', defaultBridge: false, enableIpv6: false });
  assert.equal(parseBridgeOptions({ 'com.docker.network.driver.mtu': '0' }).mtu, 0, 'dockerd takes 0: the MTU is left alone');
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(goParseBool(t), true, t);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(goParseBool(f), false, f);
  for (const x of ['yes', 'tRue', ' true', '']) assert.equal(goParseBool(x), undefined, x);
  assert.deepEqual(goAtoi('-0012'), { n: -12 });
  assert.deepEqual(goAtoi('1_000'), { err: 'invalid syntax' });
  assert.deepEqual(goAtoi('9223372036854775808'), { err: 'value out of range' });
});

test('links: name[:alias] as docker gives them (a leading / and a path on the alias dropped)', () => {
  assert.deepEqual(parseLink('db:database'), { name: 'db', alias: 'database' });
  assert.deepEqual(parseLink('db'), { name: 'db', alias: 'db' });
  assert.deepEqual(parseLink('/db:/web/database'), { name: 'db', alias: 'database' });
  assert.throws(() => parseLink(':x'), /invalid link format/);
});
