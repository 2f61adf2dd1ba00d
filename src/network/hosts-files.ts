// The per-container /etc/hosts, /etc/resolv.conf and /etc/hostname contents (docker's rules):
// on user-defined networks the resolver is the embedded DNS at 127.0.0.11 and the host's servers
// become its upstreams; on the default bridge the host's resolv.conf is copied, minus loopback
// servers (unreachable from a container), falling back to public servers only if none remain
// (a file built from --dns* keeps every server: containerResolvConf).
import { invalid } from '../common/errors.js';
import { isIp } from './ipv4.js';

export const EMBEDDED_DNS = '127.0.0.11';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/**
 * `searchFirst`: dockerd's (libnetwork's) resolvconf.Build order, for a file it writes from
 * --dns* settings or for the embedded server; a copy of the host's keeps nameservers first.
 */
export function renderResolvConf(c: ResolvConf, searchFirst = false): string {
  let s = '';
  if (searchFirst && c.search.length) s += `search ${c.search.join(' ')}\n`;
  for (const n of c.nameservers) s += `nameserver ${n}\n`;
  if (!searchFirst && c.search.length) s += `search ${c.search.join(' ')}\n`;
  if (c.options.length) s += `options ${c.options.join(' ')}\n`;
  return s;
}

export interface ContainerDnsOptions {
  /** The host's resolv.conf, parsed. */
  host: ResolvConf;
  /** Its text: a container with no --dns* of its own off the embedded DNS gets a filtered copy. */
  hostText?: string | undefined;
  /** true when the container is on a user-defined network (embedded DNS). */
  embedded: boolean;
  dns?: string[] | undefined;
  dnsSearch?: string[] | undefined;
  dnsOptions?: string[] | undefined;
}

/**
 * The container's resolv.conf and, for the embedded server, its upstream resolvers. Loopback
 * upstreams are fine for the embedded server: it forwards from the daemon's network namespace.
 * dockerd 20.10 (libnetwork's setupDNS, then rebuildDNS on a user network): with any --dns* the
 * file is built from the given settings, the host's for the rest, nameservers unfiltered (a
 * loopback or IPv6 one too: the user or the host named it); with none, the host's file filtered.
 * The embedded server then takes the IPv4 nameservers' place (IPv6 ones stay after it), and
 * ndots:0 is added unless the options already set ndots.
 */
export function containerResolvConf(o: ContainerDnsOptions): { text: string; upstreams: string[] } {
  for (const d of o.dns ?? []) if (!isIp(d) && !d.includes(':')) throw invalid(`invalid --dns "${d}"`, 'expected an IP address');
  const servers = o.dns && o.dns.length ? o.dns : o.host.nameservers;
  const search = o.dnsSearch && o.dnsSearch.length ? o.dnsSearch.filter((s) => s !== '.') : o.host.search;
  const options = o.dnsOptions && o.dnsOptions.length ? o.dnsOptions : o.host.options;
  const built = Boolean(o.dns?.length || o.dnsSearch?.length || o.dnsOptions?.length);
  let own: ResolvConf;
  let text: string;
  if (built) {
    own = { nameservers: servers, search, options };
    text = renderResolvConf(own, true);
  } else if (o.hostText !== undefined) {
    text = filterHostResolvConf(o.hostText);
    own = parseResolvConf(text);
  } else {
    let usable = servers.filter((s) => !s.startsWith('127.') && s !== '::1' && !s.includes(':'));
    if (usable.length === 0) usable = ['8.8.8.8', '8.8.4.4'];
    own = { nameservers: usable, search, options };
    text = renderResolvConf(own);
  }
  if (!o.embedded) return { text, upstreams: [] };
  const ndotsSet = own.options.some((x) => /^ndots:\d+$/.test(x));
  const nameservers = [EMBEDDED_DNS, ...own.nameservers.filter((n) => n.includes(':'))];
  return { text: renderResolvConf({ nameservers, search: own.search, options: ndotsSet ? own.options : [...own.options, 'ndots:0'] }, true), upstreams: servers };
}

/**
 * dockerd's copy of the host's resolv.conf (libnetwork's FilterResolvDNS, IPv6 off): the text as it
 * is (order, comments, search before nameservers) minus the `nameserver` lines of loopback
 * resolvers (unreachable from the container's netns) and of IPv6 ones (no IPv6 network), each
 * with the blank lines after it; with no IPv4 nameserver left, Google's two are appended.
 */
export function filterHostResolvConf(text: string): string {
  const out = text
    .replace(/^nameserver\s+((127\.(\d{1,3}\.){2}\d{1,3})|::1$)\s*\n*/gm, '')
    .replace(/^nameserver\s+([0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(%\w+)?\s*\n*/gm, '');
  if (parseResolvConf(out).nameservers.some((n) => isIp(n))) return out;
  return `${out}\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n`;
}

export interface HostsEntry {
  ip: string;
  names: string[];
}

/** --add-host "name:ip" (docker also accepts name=ip); `host-gateway` becomes `gatewayIp`. */
export function parseAddHost(spec: string, gatewayIp?: string): HostsEntry {
  const m = /^([^:=]+)[:=](.+)$/.exec(spec);
  if (!m) throw invalid(`invalid --add-host "${spec}"`, 'expected name:ip');
  let ip = m[2]!.replace(/^\[(.*)\]$/, '$1');
  if (ip === 'host-gateway') {
    if (!gatewayIp) throw invalid(`--add-host "${spec}": no host gateway address is known`);
    ip = gatewayIp;
  }
  if (!isIp(ip) && !ip.includes(':')) throw invalid(`invalid --add-host "${spec}"`, `"${ip}" is not an IP address`);
  return { ip, names: [m[1]!] };
}

/** The container's /etc/hosts: localhost lines, its own addresses with hostname, then extra hosts. */
export function renderHosts(own: HostsEntry[], extra: HostsEntry[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of [...extra, ...own]) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  return lines.join('\n') + '\n';
}
