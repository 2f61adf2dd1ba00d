// network create's IPAM.Config refusals: the messages and statuses are a private dockerd
// 20.10.24's answers to the same POST /networks/create bodies (its --bridge=none lab); the
// stricter refusals are hako's own (dockerd 20.10 took those configs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HakoError } from '../../src/common/errors.js';
import { checkIpamRequest, type IpamConfigRequest } from '../../src/network/ipam-request.js';

const cfg = (subnet: string, gateway = '', ipRange = ''): IpamConfigRequest => ({ subnet, gateway, ipRange });

function refusal(configs: IpamConfigRequest[], existing: string[] = []): [string, string] | undefined {
  try {
    checkIpamRequest(configs, existing);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof HakoError);
    return [err.kind, err.message];
  }
}

test('ipam request: dockerd 20.10\'s words, statuses (internal = 500, forbidden = 403) and order', () => {
  const cases: Array<[IpamConfigRequest[], string[], [string, string]]> = [
    [[cfg('10.98.0.0/24', '10.97.0.1')], [], ['internal', 'failed to allocate gateway (10.97.0.1): Requested address is out of range']],
    [[cfg('10.98.0.0/24', '10.98.0.0')], [], ['internal', 'failed to allocate gateway (10.98.0.0): Address already in use']],
    [[cfg('10.98.0.0/24', '10.98.0.255')], [], ['internal', 'failed to allocate gateway (10.98.0.255): Address already in use']],
    [[cfg('10.98.0.0/24', '::1')], [], ['internal', 'failed to allocate gateway (::1): Requested address is out of range']],
    [[cfg('10.98.0.0/24', 'bad')], [], ['internal', 'invalid gateway address bad in Ipam configuration']],
    [[cfg('10.98.0.0/24', '10.98.0.1/24')], [], ['internal', 'invalid gateway address 10.98.0.1/24 in Ipam configuration']],
    [[cfg('10.98.0.0/24', '10.98.0.300')], [], ['internal', 'invalid gateway address 10.98.0.300 in Ipam configuration']],
    [[cfg('10.98.0.0/24', ' 10.98.0.1')], [], ['internal', 'invalid gateway address  10.98.0.1 in Ipam configuration']],
    [[cfg('10.98.0.0/24', '010.98.0.1')], [], ['internal', 'invalid gateway address 010.98.0.1 in Ipam configuration']],
    [[cfg('10.98.0.0/24', 'bad', 'bad')], [], ['internal', 'invalid gateway address bad in Ipam configuration']],
    [[cfg('10.98.0.0/24', '', 'bad')], [], ['internal', 'failed to parse pool request for address space "LocalDefault" pool "10.98.0.0/24" subpool "bad": Invalid Address SubPool']],
    [[cfg('10.98.0.0/24', '', '10.98.0.0/33')], [], ['internal', 'failed to parse pool request for address space "LocalDefault" pool "10.98.0.0/24" subpool "10.98.0.0/33": Invalid Address SubPool']],
    [[cfg('10.98.0.0/24', '', '10.98.0.0')], [], ['internal', 'failed to parse pool request for address space "LocalDefault" pool "10.98.0.0/24" subpool "10.98.0.0": Invalid Address SubPool']],
    [[cfg('', '10.98.0.1')], [], ['internal', 'Invalid subnet  : invalid CIDR address: ']],
    [[cfg('', '', '10.98.0.0/25')], [], ['internal', 'Invalid subnet  : invalid CIDR address: ']],
    [[cfg('bad')], [], ['internal', 'Invalid subnet bad : invalid CIDR address: bad']],
    [[cfg('10.98.0.0/33')], [], ['internal', 'Invalid subnet 10.98.0.0/33 : invalid CIDR address: 10.98.0.0/33']],
    [[cfg('010.98.0.0/24')], [], ['internal', 'Invalid subnet 010.98.0.0/24 : invalid CIDR address: 010.98.0.0/24']],
    [[cfg('10.98.0.0/31')], [], ['internal', 'failed to allocate gateway (): No available addresses on this pool']],
    [[cfg('10.98.0.0/32')], [], ['internal', 'failed to allocate gateway (): No available addresses on this pool']],
    [[cfg('10.98.0.0/31', '10.98.0.1')], [], ['internal', 'failed to allocate gateway (10.98.0.1): No available addresses on this pool']],
    [[cfg('10.98.0.0/31', '10.98.0.0')], [], ['internal', 'failed to allocate gateway (10.98.0.0): No available addresses on this pool']],
    [[cfg('10.98.0.0/31', '10.1.1.1')], [], ['internal', 'failed to allocate gateway (10.1.1.1): Requested address is out of range']],
    [[cfg('10.98.0.0/31', '', 'bad')], [], ['internal', 'failed to parse pool request for address space "LocalDefault" pool "10.98.0.0/31" subpool "bad": Invalid Address SubPool']],
    [[cfg('10.99.0.0/24')], ['10.99.0.0/24'], ['forbidden', 'Pool overlaps with other one on this address space']],
    [[cfg('10.99.0.128/25')], ['10.99.0.0/24'], ['forbidden', 'Pool overlaps with other one on this address space']],
    [[cfg('10.96.0.0/16'), cfg('10.96.0.0/24')], [], ['forbidden', 'Pool overlaps with other one on this address space']],
    [[cfg('10.96.0.0/16'), cfg('10.95.0.0/24')], [], ['forbidden', "bridge driver doesn't support multiple subnets"]],
    // every subnet is parsed before the first config's gateway is looked at; then config by config
    [[cfg('10.96.0.0/16', '10.1.1.1'), cfg('bad')], [], ['internal', 'Invalid subnet bad : invalid CIDR address: bad']],
    [[cfg('10.96.0.0/16', '10.1.1.1'), cfg('10.96.0.0/24')], [], ['internal', 'failed to allocate gateway (10.1.1.1): Requested address is out of range']],
    [[cfg('10.96.0.0/16'), cfg('10.95.0.0/24', '10.1.1.1')], [], ['internal', 'failed to allocate gateway (10.1.1.1): Requested address is out of range']],
  ];
  for (const [configs, existing, want] of cases) assert.deepEqual(refusal(configs, existing), want, JSON.stringify(configs));
  // What dockerd 20.10 took, and hako takes too.
  for (const ok of [[cfg('10.98.0.0/24', '10.98.0.1', '10.98.0.128/25')], [cfg('10.98.0.0/24', '', '10.98.0.0/24')], [cfg('10.98.0.0/30', '10.98.0.2')], [cfg('10.98.0.0/24', '10.98.0.1', '10.98.0.0/31')], []]) {
    assert.equal(refusal(ok, ['10.99.0.0/24']), undefined, JSON.stringify(ok));
  }
});

test('ipam request: hako stays stricter than dockerd 20.10 where that one handed out addresses outside the subnet', () => {
  // dockerd 20.10 created all three (201).
  assert.match(refusal([cfg('10.98.0.5/24')])![1], /host bits are set/);
  assert.match(refusal([cfg('10.98.0.0/24', '', '10.97.0.0/25')])![1], /ip-range 10\.97\.0\.0\/25 is not inside subnet/);
  assert.match(refusal([cfg('10.98.0.0/24', '', '10.98.0.0/16')])![1], /is not inside subnet/);
  assert.equal(refusal([cfg('10.98.0.0/24', '', '10.98.0.7/25')])![0], 'invalid-argument');
});
