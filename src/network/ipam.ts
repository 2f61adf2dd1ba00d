// IP address management for one network: the subnet, its gateway, the dynamic range and the
// addresses handed out. Pure data (serialised into the network state file), so a restart sees
// exactly the allocations it had and never hands an address out twice.
import { conflict, invalid } from '../common/errors.js';
import { type Cidr, cidrContains, cidrLast, cidrOverlaps, cidrSize, formatCidr, formatIp, parseCidr, parseIp } from './ipv4.js';

export interface PoolState {
  subnet: string;
  gateway: string;
  /** Dynamic allocations come from here (defaults to the subnet). */
  ipRange: string;
  /** ip → owner (an endpoint id). */
  allocated: Record<string, string>;
  /** The last dynamically allocated address, so addresses are not reused right away (as docker). */
  last?: string;
}

export interface PoolOptions {
  subnet: string;
  gateway?: string | undefined;
  ipRange?: string | undefined;
}

/** Validates the options and returns a fresh pool state. */
export function newPool(opts: PoolOptions): PoolState {
  const subnet = parseCidr(opts.subnet, 'subnet');
  if (subnet.prefix > 30) throw invalid(`invalid subnet "${opts.subnet}"`, 'the prefix must be /30 or shorter to leave room for a gateway and a container');
  let gateway: number;
  if (opts.gateway) {
    gateway = parseIp(opts.gateway, 'gateway');
    if (!cidrContains(subnet, gateway)) throw invalid(`gateway ${opts.gateway} is not in subnet ${formatCidr(subnet)}`);
    if (gateway === subnet.base || gateway === cidrLast(subnet)) throw invalid(`gateway ${opts.gateway} is the network or broadcast address of ${formatCidr(subnet)}`);
  } else {
    gateway = subnet.base + 1;
  }
  let range = subnet;
  if (opts.ipRange) {
    range = parseCidr(opts.ipRange, 'ip-range');
    if (!cidrContains(subnet, range.base) || !cidrContains(subnet, cidrLast(range))) {
      throw invalid(`ip-range ${opts.ipRange} is not inside subnet ${formatCidr(subnet)}`);
    }
  }
  return { subnet: formatCidr(subnet), gateway: formatIp(gateway), ipRange: formatCidr(range), allocated: {} };
}

function reserved(pool: PoolState, subnet: Cidr, ip: number): boolean {
  return ip === subnet.base || ip === cidrLast(subnet) || formatIp(ip) === pool.gateway;
}

/**
 * Allocates `fixed` (docker's --ip) or the next free address of the range after the last one
 * handed out. Mutates `pool`; the caller persists it.
 */
export function allocate(pool: PoolState, owner: string, fixed?: string): string {
  const subnet = parseCidr(pool.subnet);
  if (fixed) {
    const ip = parseIp(fixed, '--ip address');
    // dockerd's words (the subnet is the network's, which the user can see in network inspect).
    if (!cidrContains(subnet, ip)) throw invalid(`Invalid address ${fixed}: It does not belong to any of this network's subnets`);
    if (reserved(pool, subnet, ip)) throw invalid(`address ${fixed} is reserved in ${pool.subnet}`, 'the network, broadcast and gateway addresses cannot be assigned');
    const text = formatIp(ip);
    const holder = pool.allocated[text];
    if (holder !== undefined && holder !== owner) throw conflict(`address ${text} is already in use by ${holder}`);
    pool.allocated[text] = owner;
    return text;
  }
  const range = parseCidr(pool.ipRange);
  const size = cidrSize(range);
  const start = pool.last ? parseIp(pool.last) : range.base;
  const startOffset = cidrContains(range, start) ? start - range.base + 1 : 0;
  for (let i = 0; i < size; i++) {
    const ip = (range.base + ((startOffset + i) % size)) >>> 0;
    if (reserved(pool, subnet, ip)) continue;
    const text = formatIp(ip);
    if (pool.allocated[text] !== undefined) continue;
    pool.allocated[text] = owner;
    pool.last = text;
    return text;
  }
  throw conflict(`no free address left in ${pool.ipRange}`, 'remove containers from the network or create it with a larger --subnet/--ip-range');
}

/** Releases `ip` if `owner` holds it (or any holder when owner is omitted). */
export function release(pool: PoolState, ip: string, owner?: string): boolean {
  const holder = pool.allocated[ip];
  if (holder === undefined || (owner !== undefined && holder !== owner)) return false;
  delete pool.allocated[ip];
  return true;
}

/** Docker's default address pools, in order: 172.17-31.0.0/16, then 10.x.0.0/16. */
export function* defaultCandidates(): Generator<Cidr> {
  for (let b = 17; b <= 31; b++) yield { base: ((172 << 24) | (b << 16)) >>> 0, prefix: 16 };
  for (let b = 0; b <= 255; b++) yield { base: ((10 << 24) | (b << 16)) >>> 0, prefix: 16 };
}

/**
 * The first candidate that overlaps none of `inUse` (host routes except the default route, host
 * addresses, resolvers, other networks' subnets). A default route (0.0.0.0/0) is ignored, as it
 * overlaps everything.
 */
export function pickFreeSubnet(inUse: string[], candidates: Iterable<Cidr> = defaultCandidates()): string {
  const used = inUse
    .map((t) => (t.includes('/') ? parseCidr(t, 'route', false) : { base: parseIp(t), prefix: 32 }))
    .filter((c) => c.prefix > 0);
  for (const c of candidates) {
    if (!used.some((u) => cidrOverlaps(c, u))) return formatCidr(c);
  }
  throw conflict('no free subnet in the default pools (172.17-31.0.0/16, 10.0-255.0.0/16)', 'create the network with an explicit --subnet');
}
