// The /etc/hosts, /etc/hostname and /etc/resolv.conf a container gets, written in its directory
// and bind-mounted in (docker-style). Rewritten in place (same inode: the bind mount follows) when
// its addresses change: at start once its networks are connected, on network connect/disconnect.
//   bridge/user networks: localhost lines, --add-host entries, legacy links' lines (default
//     bridge --link: "<ip> <alias> <hostname> <name>"), then "<ip> <hostname>" per address;
//     resolv.conf is 127.0.0.11 (embedded DNS) on a user-defined network, else the host's file
//     minus loopback and IPv6 nameservers (unreachable from the container's netns), order kept.
//   host: the host's /etc/hosts and resolv.conf (same netns: loopback resolvers work).
//   none: localhost lines and --add-host entries only.
import { readFileSync, writeFileSync } from 'node:fs';
import { fromSystemError } from '../../common/errors.js';
import { writeFilesIfChangedPooled } from '../../native/fs.js';
import { containerResolvConf, parseAddHost, parseResolvConf, renderHosts, type HostsEntry } from '../../network/hosts-files.js';

export interface EtcInput {
  /** HostConfig.NetworkMode (container:<id> is handled by copying the other container's files). */
  mode: string;
  hostname: string;
  domainname: string;
  extraHosts: string[];
  /** The legacy links' lines (default bridge --link), after the --add-host ones. */
  links?: HostsEntry[] | undefined;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  /** The host's resolv.conf and /etc/hosts texts, and its hostname. */
  hostResolv: string;
  hostHosts: string;
  hostHostname: string;
  /** The container's addresses (one per connected network). */
  ips: string[];
  /** On a user-defined network: resolv.conf points at the embedded DNS. */
  embeddedDns: boolean;
  /** What --add-host name:host-gateway means (the default bridge's gateway), if known. */
  hostGateway?: string | undefined;
}

export interface EtcTexts {
  hosts: string;
  resolv: string;
  hostname: string;
}

export function etcFiles(i: EtcInput): EtcTexts {
  const extra: HostsEntry[] = [...i.extraHosts.map((h) => parseAddHost(h, i.hostGateway)), ...(i.links ?? [])];
  if (i.mode === 'host') {
    let hosts = i.hostHosts;
    if (hosts && !hosts.endsWith('\n')) hosts += '\n';
    for (const e of extra) hosts += `${e.ip}\t${e.names.join(' ')}\n`;
    const custom = i.dns.length || i.dnsSearch.length || i.dnsOptions.length;
    return { hosts, resolv: custom ? resolvConf(i.hostResolv, i.dns, i.dnsSearch, i.dnsOptions, false) : i.hostResolv, hostname: `${i.hostHostname}\n` };
  }
  const names = i.domainname ? [`${i.hostname}.${i.domainname}`, i.hostname] : [i.hostname];
  const own: HostsEntry[] = i.ips.map((ip) => ({ ip, names }));
  return {
    hosts: renderHosts(own, extra),
    resolv: resolvConf(i.hostResolv, i.dns, i.dnsSearch, i.dnsOptions, i.embeddedDns),
    hostname: `${i.hostname}\n`,
  };
}

/** resolv.conf from the host's text: `embedded` → 127.0.0.11, else a copy of the host's minus loopback (and IPv6) servers. */
export function resolvConf(hostText: string, dns: string[], search: string[], options: string[], embedded = false): string {
  return containerResolvConf({ host: parseResolvConf(hostText), hostText, embedded, dns, dnsSearch: search, dnsOptions: options }).text;
}

/** The hosts file of a container with at most one address (tests and simple callers). */
export function hostsFile(hostname: string, domainname: string, extraHosts: string[], ip?: string): string {
  const names = domainname ? [`${hostname}.${domainname}`, hostname] : [hostname];
  return renderHosts(ip ? [{ ip, names }] : [], extraHosts.map((h) => parseAddHost(h)));
}

/**
 * Writes the three files in place (truncate + write keeps the inode a bind mount refers to),
 * each only when its text changed: a start rewrites what create wrote, and on the data-root's
 * fs a truncate + write costs far more than the read that tells it is the same.
 */
export function writeEtcFiles(paths: { hosts: string; hostname: string; resolv: string }, t: EtcTexts): void {
  writeIfChanged(paths.hostname, t.hostname);
  writeIfChanged(paths.resolv, t.resolv);
  writeIfChanged(paths.hosts, t.hosts);
}

/**
 * writeEtcFiles on the libuv pool, in one job (native/addon_files.c): for a start, which makes
 * them (new inodes on the data root: the event loop waited 0.1–0.8 ms for each on ext4) while the
 * pool also mounts the rootfs. Without the addon function, writeEtcFiles.
 */
export async function writeEtcFilesPooled(paths: { hosts: string; hostname: string; resolv: string }, t: EtcTexts): Promise<void> {
  const files = [paths.hostname, paths.resolv, paths.hosts];
  const written = writeFilesIfChangedPooled(files, [t.hostname, t.resolv, t.hosts], 0o644);
  if (written === undefined) return writeEtcFiles(paths, t);
  try {
    await written;
  } catch (err) {
    const path = (err as { path?: string }).path;
    throw fromSystemError(`write ${path ?? files.join(', ')}`, err, path);
  }
}

function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    /* not there yet */
  }
  writeFileSync(path, text, { mode: 0o644 });
}
