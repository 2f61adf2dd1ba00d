// The /etc/hosts, /etc/hostname and /etc/resolv.conf a container gets, written in its directory
// and bind-mounted in (docker-style). resolv.conf is the host's without loopback nameservers
// (they would point into the container's own network namespace).
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';

export function resolvConf(hostText: string, dns: string[], search: string[], options: string[]): string {
  const lines = hostText.split('\n');
  let nameservers = lines.map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
  let searches = lines.map((l) => /^\s*search\s+(.+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined).flatMap((s) => s.trim().split(/\s+/));
  let opts = lines.map((l) => /^\s*options\s+(.+)/.exec(l)?.[1]).filter((x): x is string => x !== undefined).flatMap((s) => s.trim().split(/\s+/));
  nameservers = nameservers.filter((n) => !/^127\./.test(n) && n !== '::1');
  if (dns.length > 0) nameservers = dns;
  // docker's fallback when nothing is left: Google's public DNS.
  if (nameservers.length === 0) nameservers = ['8.8.8.8', '8.8.4.4'];
  if (search.length > 0) searches = search.filter((s) => s !== '.');
  if (options.length > 0) opts = options;
  let out = '';
  for (const n of nameservers) out += `nameserver ${n}\n`;
  if (searches.length > 0) out += `search ${searches.join(' ')}\n`;
  if (opts.length > 0) out += `options ${opts.join(' ')}\n`;
  return out;
}

export function hostsFile(hostname: string, domainname: string, extraHosts: string[], ip?: string): string {
  let out = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';
  for (const e of extraHosts) {
    const i = e.indexOf(':');
    if (i < 0) continue;
    const name = e.slice(0, i);
    const addr = e.slice(i + 1);
    out += `${addr === 'host-gateway' ? '127.0.0.1' : addr}\t${name}\n`;
  }
  if (ip) out += `${ip}\t${domainname ? `${hostname}.${domainname} ` : ''}${hostname}\n`;
  return out;
}

export function writeEtcFiles(paths: { hosts: string; hostname: string; resolv: string }, cfg: Record<string, unknown>, hc: Record<string, unknown>): void {
  const hostMode = hc.NetworkMode === 'host';
  const hostname = hostMode ? hostHostname() : (cfg.Hostname as string);
  writeFileSync(paths.hostname, `${hostname}\n`, { mode: 0o644 });
  let hostResolv = '';
  try {
    hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    /* none */
  }
  const resolv = hostMode && ((hc.Dns as string[]) ?? []).length === 0 ? hostResolv : resolvConf(hostResolv, (hc.Dns as string[]) ?? [], (hc.DnsSearch as string[]) ?? [], (hc.DnsOptions as string[]) ?? []);
  writeFileSync(paths.resolv, resolv, { mode: 0o644 });
  let hosts: string;
  if (hostMode) {
    try {
      hosts = readFileSync('/etc/hosts', 'utf8');
    } catch {
      hosts = hostsFile(hostname, '', []);
    }
    for (const e of (hc.ExtraHosts as string[] | null) ?? []) {
      const i = e.indexOf(':');
      if (i > 0) hosts += `${e.slice(i + 1)}\t${e.slice(0, i)}\n`;
    }
  } else {
    // No container IP yet (no bridge networking): the hostname maps to loopback-free nothing; docker
    // writes "<ip> <hostname>" — we add the hostname on 127.0.1.1 so it resolves inside.
    hosts = hostsFile(hostname, (cfg.Domainname as string) ?? '', (hc.ExtraHosts as string[] | null) ?? []);
    hosts += `127.0.1.1\t${cfg.Domainname ? `${hostname}.${cfg.Domainname as string} ` : ''}${hostname}\n`;
  }
  writeFileSync(paths.hosts, hosts, { mode: 0o644 });
}
