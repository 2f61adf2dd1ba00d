import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HakoError } from '../../src/common/errors.js';
import { formatIp, parseCidr, parseIp, cidrOverlaps } from '../../src/network/ipv4.js';
import { allocate, newPool, pickFreeSubnet, release } from '../../src/network/ipam.js';
import { macForIp, parseMac } from '../../src/network/mac.js';
import { parsePortSpec, publishAllSpecs } from '../../src/network/ports.js';
import { renderTransaction } from '../../src/network/nftables.js';
import { buildQuery, buildResponse, decodeMessage, encodeMessage, ipFromReverseName, reverseName, TYPE, CLASS_IN, RCODE } from '../../src/network/dns-message.js';
import { containerResolvConf, parseAddHost, parseResolvConf, renderHosts } from '../../src/network/hosts-files.js';

test('ipv4: parse/format and CIDR checks', () => {
  assert.equal(formatIp(parseIp('172.18.0.5')), '172.18.0.5');
  assert.equal(parseIp('255.255.255.255'), 0xffffffff);
  assert.throws(() => parseIp('256.1.1.1'), HakoError);
  assert.throws(() => parseIp('01.1.1.1'), HakoError);
  assert.throws(() => parseCidr('172.18.0.1/16'), /did you mean 172\.18\.0\.0\/16/);
  assert.deepEqual(parseCidr('10.1.2.3/8', 'route', false), { base: parseIp('10.0.0.0'), prefix: 8 });
  assert.ok(cidrOverlaps(parseCidr('172.16.0.0/12'), parseCidr('172.18.0.0/16')));
  assert.ok(!cidrOverlaps(parseCidr('172.17.0.0/16'), parseCidr('172.18.0.0/16')));
});

test('ipam: gateway, sequential allocation, fixed ip, exhaustion, release', () => {
  const pool = newPool({ subnet: '10.9.0.0/29' });
  assert.equal(pool.gateway, '10.9.0.1');
  const got = [1, 2, 3, 4, 5].map((i) => allocate(pool, `c${i}`));
  assert.deepEqual(got, ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  assert.throws(() => allocate(pool, 'c6'), /no free address left/);
  assert.ok(release(pool, '10.9.0.3', 'c2'));
  assert.ok(!release(pool, '10.9.0.4', 'someone-else'));
  assert.equal(allocate(pool, 'c7'), '10.9.0.3');
  // JSON round trip (persistence) keeps every allocation.
  const again = JSON.parse(JSON.stringify(pool));
  assert.throws(() => allocate(again, 'x', '10.9.0.4'), /already in use by c3/);
  assert.throws(() => allocate(again, 'x', '10.9.0.1'), /reserved/);
  assert.throws(() => allocate(again, 'x', '10.9.1.4'), /Invalid address 10\.9\.1\.4: It does not belong to any of this network's subnets/);
});

test('ipam: ip-range and gateway validation, no immediate reuse', () => {
  const pool = newPool({ subnet: '172.20.0.0/16', gateway: '172.20.0.254', ipRange: '172.20.5.0/24' });
  assert.equal(allocate(pool, 'a'), '172.20.5.1');
  assert.equal(allocate(pool, 'b'), '172.20.5.2');
  release(pool, '172.20.5.1');
  assert.equal(allocate(pool, 'c'), '172.20.5.3');
  assert.equal(allocate(pool, 'd', '172.20.9.9'), '172.20.9.9');
  assert.throws(() => newPool({ subnet: '172.20.0.0/16', gateway: '172.21.0.1' }), /not in subnet/);
  assert.throws(() => newPool({ subnet: '172.20.0.0/16', ipRange: '172.21.0.0/24' }), /not inside subnet/);
  assert.throws(() => newPool({ subnet: '172.20.0.0/16', gateway: '172.20.255.255' }), /broadcast/);
});

test('ipam: picks the first /16 overlapping no route, address or network', () => {
  assert.equal(pickFreeSubnet(['0.0.0.0/0', '192.0.2.0/24']), '172.17.0.0/16');
  assert.equal(pickFreeSubnet(['172.17.0.0/16', '172.18.5.0/24', '172.19.0.1']), '172.20.0.0/16');
  assert.equal(pickFreeSubnet(['172.16.0.0/12']), '10.0.0.0/16');
  assert.equal(pickFreeSubnet(['172.16.0.0/12', '10.0.0.0/15']), '10.2.0.0/16');
});

test('mac: derived from the address, validated', () => {
  assert.equal(macForIp('172.17.0.2'), '02:42:ac:11:00:02');
  assert.deepEqual([...parseMac('02:42:AC:11:00:02')], [2, 0x42, 0xac, 0x11, 0, 2]);
  assert.throws(() => parseMac('01:00:5e:00:00:01'), /multicast/);
  assert.throws(() => parseMac('02:42:ac:11:00'), HakoError);
});

test('ports: docker -p formats', () => {
  assert.deepEqual(parsePortSpec('80'), [{ hostIp: '0.0.0.0', hostPort: 0, hostPortEnd: 0, containerPort: 80, proto: 'tcp', dualStack: true }]);
  assert.deepEqual(parsePortSpec('8080:80/udp'), [{ hostIp: '0.0.0.0', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, proto: 'udp', dualStack: true }]);
  assert.deepEqual(parsePortSpec('0.0.0.0:8080:80'), [{ hostIp: '0.0.0.0', hostPort: 8080, hostPortEnd: 8080, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:9000:90'), [{ hostIp: '127.0.0.1', hostPort: 9000, hostPortEnd: 9000, containerPort: 90, proto: 'tcp' }]);
  const r = parsePortSpec('8000-8002:80-82');
  assert.deepEqual(r.map((x) => [x.hostPort, x.containerPort]), [[8000, 80], [8001, 81], [8002, 82]]);
  assert.deepEqual(parsePortSpec('8000-8009:80')[0], { hostIp: '0.0.0.0', hostPort: 8000, hostPortEnd: 8009, containerPort: 80, proto: 'tcp', dualStack: true });
  assert.equal(parsePortSpec('90-92').length, 3);
  assert.throws(() => parsePortSpec('8000-8001:80-82'), /host range has 2 ports but the container range has 3/);
  assert.throws(() => parsePortSpec('70000'), /1-65535/);
  assert.throws(() => parsePortSpec('80/icmp'), /tcp, udp or sctp/);
  assert.throws(() => parsePortSpec('1.2.3:80:80'), /invalid host IP/);
  assert.deepEqual(parsePortSpec('[::1]:80:80'), [{ hostIp: '::1', hostPort: 80, hostPortEnd: 80, containerPort: 80, proto: 'tcp' }]);
  assert.throws(() => parsePortSpec('[::g]:80:80'), /invalid host IP/);
  assert.deepEqual(publishAllSpecs(['80/tcp', '53/udp']).map((s) => `${s.containerPort}/${s.proto}:${s.hostPort}`), ['80/tcp:0', '53/udp:0']);
});

test('nftables: one atomic transaction per change; internal networks get no NAT', () => {
  const t = renderTransaction('hako', [
    { bridge: 'hk-a', subnet: '172.18.0.0/16', internal: false, masquerade: true, mappings: [{ hostIp: '0.0.0.0', hostPort: 8080, proto: 'tcp', containerIp: '172.18.0.2', containerPort: 80 }, { hostIp: '127.0.0.1', hostPort: 5353, proto: 'udp', containerIp: '172.18.0.3', containerPort: 53 }] },
    { bridge: 'hk-int', subnet: '172.19.0.0/16', internal: true, masquerade: true, mappings: [] },
  ]);
  assert.ok(t.startsWith('add table ip hako\ndelete table ip hako\ntable ip hako {'));
  assert.match(t, /\n {4}tcp dport 8080 dnat to 172\.18\.0\.2:80\n/);
  assert.match(t, /ip daddr 127\.0\.0\.1 udp dport 5353 dnat to 172\.18\.0\.3:53/);
  assert.match(t, /ip saddr 172\.18\.0\.0\/16 oifname != "hk-a" masquerade/);
  assert.doesNotMatch(t, /172\.19\.0\.0\/16 oifname != "hk-int" masquerade/);
  assert.match(t, /iifname "hk-int" oifname != "hk-int" drop/);
  assert.equal(renderTransaction('hako', []), 'add table ip hako\ndelete table ip hako\n');
});

test('dns: encode/decode round trip, compression pointers, malformed input', () => {
  const q = buildQuery(0x1234, 'Web.Example', TYPE.A);
  const m = decodeMessage(q);
  assert.deepEqual(m.questions, [{ name: 'Web.Example', type: TYPE.A, class: CLASS_IN }]);
  const resp = decodeMessage(buildResponse(m, [{ name: 'web.example', type: TYPE.A, class: CLASS_IN, ttl: 600, data: '172.18.0.2' }], RCODE.NOERROR));
  assert.equal(resp.id, 0x1234);
  assert.equal(resp.flags & 0x8000, 0x8000);
  assert.equal(resp.flags & 0x0100, 0x0100);
  assert.deepEqual(resp.answers.map((a) => a.data), ['172.18.0.2']);
  // A hand-made answer whose record name is a pointer to the question (offset 12).
  const hand = Buffer.concat([q.subarray(0, 6), Buffer.from([0, 1]), q.subarray(8), Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, 0x61, 0x62, 0x63, 0xc0, 12])]);
  const h = decodeMessage(hand);
  assert.deepEqual(h.answers[0], { name: 'Web.Example', type: TYPE.CNAME, class: 1, ttl: 60, data: 'abc.Web.Example' });
  assert.throws(() => decodeMessage(Buffer.alloc(5)), /shorter than a header/);
  assert.throws(() => decodeMessage(Buffer.concat([q.subarray(0, 12), Buffer.from([0xc0, 12])])), /compression loop|truncated/);
  assert.throws(() => decodeMessage(q.subarray(0, q.length - 2)), /truncated question/);
  assert.equal(reverseName('172.18.0.2'), '2.0.18.172.in-addr.arpa');
  assert.equal(ipFromReverseName('2.0.18.172.in-addr.arpa'), '172.18.0.2');
  assert.equal(encodeMessage(decodeMessage(q)).equals(q), true);
});

test('hosts and resolv.conf', () => {
  const host = parseResolvConf('# c\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch a.example b.example\noptions edns0 ndots:2\n');
  assert.deepEqual(host, { nameservers: ['127.0.0.53', '10.0.0.1'], search: ['a.example', 'b.example'], options: ['edns0', 'ndots:2'] });
  const emb = containerResolvConf({ host, embedded: true });
  // dockerd keeps an ndots the options set (here the host's) instead of adding ndots:0.
  assert.equal(emb.text, 'search a.example b.example\nnameserver 127.0.0.11\noptions edns0 ndots:2\n');
  assert.equal(containerResolvConf({ host: { ...host, options: ['edns0'] }, embedded: true }).text, 'search a.example b.example\nnameserver 127.0.0.11\noptions edns0 ndots:0\n');
  // Built from --dns*: every nameserver kept, loopback and IPv6 too; on a user network the IPv6 ones follow 127.0.0.11.
  assert.equal(containerResolvConf({ host: parseResolvConf('nameserver 127.0.0.53\nnameserver ::1\n'), embedded: false, dnsSearch: ['x.test'] }).text, 'search x.test\nnameserver 127.0.0.53\nnameserver ::1\n');
  assert.equal(containerResolvConf({ host: parseResolvConf('nameserver 127.0.0.53\nnameserver ::1\n'), embedded: true, dnsOptions: ['ndots:3'] }).text, 'nameserver 127.0.0.11\nnameserver ::1\noptions ndots:3\n');
  assert.deepEqual(emb.upstreams, ['127.0.0.53', '10.0.0.1']);
  assert.equal(containerResolvConf({ host, embedded: false }).text.split('\n')[0], 'nameserver 10.0.0.1');
  assert.match(containerResolvConf({ host, embedded: false, dns: ['9.9.9.9'], dnsSearch: ['x.test'] }).text, /^search x\.test\nnameserver 9\.9\.9\.9\n/);
  assert.deepEqual(parseAddHost('db:10.1.2.3'), { ip: '10.1.2.3', names: ['db'] });
  assert.deepEqual(parseAddHost('gw:host-gateway', '172.17.0.1'), { ip: '172.17.0.1', names: ['gw'] });
  assert.throws(() => parseAddHost('nohost'), /expected name:ip/);
  assert.match(renderHosts([{ ip: '172.18.0.2', names: ['abc123', 'web'] }], [{ ip: '10.1.2.3', names: ['db'] }]), /10\.1\.2\.3\tdb\n172\.18\.0\.2\tabc123 web\n$/);
});
