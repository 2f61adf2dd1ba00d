// What the embedded DNS knows: the names, addresses and upstreams of the endpoints, as a plain
// table (from which dns-table.ts computes the answering thread's tables), and the lookups on it. The network
// manager answers the same questions from its own state through these functions, so the thread
// and the manager cannot disagree on what a name means.

/** An endpoint as the DNS sees it (a projection of the manager's EndpointRecord). */
export interface DnsEndpoint {
  networkId: string;
  /** The inode of the endpoint's netns: the key of the DNS listener that netns asks through. */
  nsIno: number;
  containerId: string;
  containerName: string;
  aliases: string[];
  /**
   * The container's own hostname (Config.Hostname) when it is not its short ID: current moby's
   * DNSNames end with it and its embedded DNS answers every DNS name; dockerd 20.10 answered it
   * too (it added the hostname and short ID to a user-network endpoint's aliases: seen in a lab).
   * Not the domainname (neither answers `host.domain`).
   */
  hostname?: string | undefined;
  ip: string;
  /** The container's own upstreams (--dns), when it has some. */
  dns?: string[] | undefined;
  /** Its --link aliases on this network: resolved for it only (dockerd). */
  links?: Array<{ name: string; alias: string }> | undefined;
}

export interface DnsNetwork {
  name: string;
  isDefault: boolean;
}

/** Endpoints in the manager's order (lookups answer in it; reverse takes the first match). */
export interface DnsTable {
  networks: Record<string, DnsNetwork>;
  endpoints: Record<string, DnsEndpoint>;
}

/** The table with only what the DNS uses (what is posted to the DNS thread). */
export function dnsTableOf(state: DnsTable): DnsTable {
  const networks: Record<string, DnsNetwork> = {};
  for (const [id, n] of Object.entries(state.networks)) networks[id] = { name: n.name, isDefault: n.isDefault };
  const endpoints: Record<string, DnsEndpoint> = {};
  for (const [id, e] of Object.entries(state.endpoints)) {
    endpoints[id] = { networkId: e.networkId, nsIno: e.nsIno, containerId: e.containerId, containerName: e.containerName, aliases: e.aliases, ...(e.hostname ? { hostname: e.hostname } : {}), ip: e.ip, ...(e.dns ? { dns: e.dns } : {}), ...(e.links?.length ? { links: e.links } : {}) };
  }
  return { networks, endpoints };
}

/** The endpoints answering for a DNS listener: every endpoint in that netns. */
export function askersOf(t: DnsTable, key: string): DnsEndpoint[] {
  return Object.values(t.endpoints).filter((e) => String(e.nsIno) === key);
}

/** The networks of the endpoints in the asker's netns (default ones too: reverse lookups use them). */
export function sharedNetworks(t: DnsTable, askerKey: string): Set<string> {
  return new Set(askersOf(t, askerKey).map((e) => e.networkId));
}

/**
 * Addresses of `name` (container name, alias, full id or 12-char id) on networks shared with the
 * asker, after those of the asker's own --link aliases (on the network of the link).
 */
export function lookupName(t: DnsTable, askerKey: string, name: string): string[] | undefined {
  const links = linkAddresses(t, askerKey, name);
  const rest = lookupNameOn(t, sharedNetworks(t, askerKey), name);
  return links.length ? [...new Set([...links, ...(rest ?? [])])] : rest;
}

/** Addresses of the asker's --link aliases named `name` (bare or `alias.<network>`): the linked container on the link's network (dockerd: for the linking container only). */
export function linkAddresses(t: DnsTable, askerKey: string, name: string): string[] {
  const ips: string[] = [];
  const n = name.toLowerCase();
  for (const a of askersOf(t, askerKey)) {
    const net = t.networks[a.networkId];
    if (!a.links?.length || !net || net.isDefault) continue;
    const bare = n.endsWith(`.${net.name.toLowerCase()}`) ? n.slice(0, -net.name.length - 1) : n;
    for (const l of a.links) {
      if (l.alias.toLowerCase() !== bare) continue;
      for (const e of Object.values(t.endpoints)) if (e.networkId === a.networkId && e.containerName.toLowerCase() === l.name.toLowerCase()) ips.push(e.ip);
    }
  }
  return ips;
}

/** The names the asker's --link aliases answer to (lowercase: each alias bare and as `alias.<network>`). */
export function linkNames(t: DnsTable, askerKey: string): string[] {
  const names: string[] = [];
  for (const a of askersOf(t, askerKey)) {
    const net = t.networks[a.networkId];
    if (!a.links?.length || !net || net.isDefault) continue;
    for (const l of a.links) names.push(l.alias.toLowerCase(), `${l.alias.toLowerCase()}.${net.name.toLowerCase()}`);
  }
  return names;
}

/** The names an endpoint answers to besides its IDs: its container name, aliases and hostname. */
export function namesOf(e: DnsEndpoint): string[] {
  return e.hostname ? [e.containerName, ...e.aliases, e.hostname] : [e.containerName, ...e.aliases];
}

/** lookupName for an asker on the networks `shared`, without --link aliases. */
export function lookupNameOn(t: DnsTable, shared: Set<string>, name: string): string[] | undefined {
  const ips: string[] = [];
  const n = name.toLowerCase();
  for (const e of Object.values(t.endpoints)) {
    if (!shared.has(e.networkId) || t.networks[e.networkId]?.isDefault) continue;
    const net = t.networks[e.networkId]!;
    const bare = n.endsWith(`.${net.name.toLowerCase()}`) ? n.slice(0, -net.name.length - 1) : n;
    if (namesOf(e).some((a) => a.toLowerCase() === bare) || e.containerId === bare || (bare.length >= 12 && e.containerId.startsWith(bare))) ips.push(e.ip);
  }
  return ips.length ? [...new Set(ips)] : undefined;
}

/** `name.network` of the endpoint with address `ip` on a network shared with the asker. */
export function reverseName(t: DnsTable, askerKey: string, ip: string): string | undefined {
  return reverseNameOn(t, sharedNetworks(t, askerKey), ip);
}

/** reverseName for an asker on the networks `shared`. */
export function reverseNameOn(t: DnsTable, shared: Set<string>, ip: string): string | undefined {
  const e = Object.values(t.endpoints).find((x) => x.ip === ip && shared.has(x.networkId));
  return e ? `${e.containerName}.${t.networks[e.networkId]!.name}` : undefined;
}

/** The asking netns's own upstreams (--dns of one of its endpoints), if any. */
export function ownUpstreams(t: DnsTable, askerKey: string): string[] | undefined {
  return askersOf(t, askerKey).find((e) => e.dns?.length)?.dns;
}
