// A network create's IPAM.Config checked as dockerd 20.10 checks it, in its order and words
// (seen in a private dockerd 20.10.24: the daemon parses every subnet first, then libnetwork
// takes the configs one by one: the gateway's syntax, the pool and its sub-pool, the pool's
// overlap with other networks, the gateway's allocation; the bridge driver refuses a second
// subnet last). Status 500 except the overlap and the second subnet (403).
//
// Stricter than dockerd 20.10, on purpose (it took these and handed out addresses outside the
// subnet or reserved ones): host bits set in a subnet or ip-range, an ip-range that is not inside
// its subnet. Those keep hako's 400s (newPool), at the point where dockerd requests the pool.
import { isIPv6 } from 'node:net';
import { HakoError } from '../common/errors.js';
import { cidrContains, cidrLast, cidrOverlaps, parseCidr, parseIp, type Cidr } from './ipv4.js';
import { newPool } from './ipam.js';

export interface IpamConfigRequest {
  subnet: string;
  gateway: string;
  ipRange: string;
}

const internal = (step: string) => new HakoError({ step, kind: 'internal' });
const forbidden = (step: string) => new HakoError({ step, kind: 'forbidden' });

/** Go's net.ParseCIDR on an IPv4 CIDR (dotted quad without leading zeros, /0–/32), host bits kept. */
function goParseCidr4(text: string): Cidr | undefined {
  try {
    return parseCidr(text, 'subnet', false);
  } catch {
    return undefined;
  }
}

function goParseIp4(text: string): number | undefined {
  try {
    // (parseIp trims; Go does not: " 10.0.0.1" is no address for it)
    return text.trim() === text ? parseIp(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Throws dockerd's error for the first thing wrong with `configs` (IPv4 ones; the caller refused
 * IPv6 subnets), given the subnets of the existing networks.
 */
export function checkIpamRequest(configs: IpamConfigRequest[], existing: string[]): void {
  // daemon/network.go getIpamConfig: net.ParseCIDR of every subnet, an absent one included.
  for (const c of configs) {
    if (!goParseCidr4(c.subnet)) throw internal(`Invalid subnet ${c.subnet} : invalid CIDR address: ${c.subnet}`);
  }
  const taken = existing.map((s) => parseCidr(s, 'subnet', false));
  for (const c of configs) {
    // IpamConf.Validate: the gateway must be an IP (either family).
    const gw4 = goParseIp4(c.gateway);
    if (c.gateway !== '' && gw4 === undefined && !isIPv6(c.gateway)) throw internal(`invalid gateway address ${c.gateway} in Ipam configuration`);
    // RequestPool: the sub-pool must be a CIDR; the pool must not overlap another one.
    if (c.ipRange !== '' && !goParseCidr4(c.ipRange)) {
      throw internal(`failed to parse pool request for address space "LocalDefault" pool "${c.subnet}" subpool "${c.ipRange}": Invalid Address SubPool`);
    }
    const pool = goParseCidr4(c.subnet)!;
    if (taken.some((t) => cidrOverlaps(t, pool))) throw forbidden('Pool overlaps with other one on this address space');
    // (hako's stricter checks, see above; the gateway's own are dockerd's, below)
    const none = pool.prefix > 30;
    parseCidr(c.subnet, 'subnet');
    if (!none) newPool({ subnet: c.subnet, ipRange: c.ipRange || undefined });
    taken.push(pool);
    // RequestAddress of the gateway: inside the pool, a pool with room (a /31 or /32 has none:
    // both addresses reserved), not the network or broadcast address (reserved: "in use").
    if (c.gateway !== '') {
      if (gw4 === undefined || !cidrContains(pool, gw4)) throw internal(`failed to allocate gateway (${c.gateway}): Requested address is out of range`);
      if (none) throw internal(`failed to allocate gateway (${c.gateway}): No available addresses on this pool`);
      if (gw4 === pool.base || gw4 === cidrLast(pool)) throw internal(`failed to allocate gateway (${c.gateway}): Address already in use`);
    } else if (none) {
      throw internal('failed to allocate gateway (): No available addresses on this pool');
    }
  }
  if (configs.length > 1) throw forbidden("bridge driver doesn't support multiple subnets");
}
