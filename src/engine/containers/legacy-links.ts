// Legacy links on the default bridge (`docker run --link name[:alias]` without a user network),
// as dockerd 20.10 makes them at start: a /etc/hosts line for each linked container and the
// environment variables of daemon/links (ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>…, ALIAS_NAME,
// ALIAS_ENV_<VAR>), which go between the daemon's PATH/HOSTNAME/TERM and the container's Env.
// (On a user network a link is a DNS alias instead: network-config.ts parseLink, dns-names.ts.)
import type { HostsEntry } from '../../network/hosts-files.js';

/** A running container linked from the starting one, as seen on the default bridge. */
export interface LinkedContainer {
  /** The link's alias (the name when none was given). */
  alias: string;
  /** Its name, without the leading `/`. */
  name: string;
  /** Config.Hostname (its short id unless set). */
  hostname: string;
  /** Its address on the default bridge. */
  ip: string;
  /** Its Config.Env. */
  env: readonly string[];
  /** The keys of its Config.ExposedPorts (`80/tcp`, `53/udp`, `8080`). */
  exposedPorts: readonly string[];
}

/**
 * The hosts line (libnetwork's OptionExtraHost from buildSandboxOptions): the alias, the linked
 * container's hostname, then its name unless the alias is the name. After the --add-host lines.
 */
export function linkHostsEntry(c: Pick<LinkedContainer, 'ip' | 'alias' | 'name' | 'hostname'>): HostsEntry {
  return { ip: c.ip, names: c.alias === c.name ? [c.alias, c.hostname] : [c.alias, c.hostname, c.name] };
}

/**
 * The link lines of a container's /etc/hosts, by alias: for each of `aliases`, the last line
 * whose first name is it and that has a link line's shape (the alias, the hostname, maybe the
 * name). The address may be empty (a linked container stopped).
 */
export function linkLinesOf(text: string, aliases: readonly string[]): Map<string, HostsEntry> {
  const want = new Set(aliases);
  const out = new Map<string, HostsEntry>();
  for (const line of text.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const names = line.slice(tab + 1).split(' ');
    if (names.length < 2 || names.length > 3 || !want.has(names[0]!) || names.some((n) => n === '')) continue;
    out.set(names[0]!, { ip: line.slice(0, tab), names });
  }
  return out;
}

interface Port {
  port: number;
  proto: string;
}

function parsePort(key: string): Port | undefined {
  const [p, proto] = key.split('/');
  const port = Number(p);
  if (!Number.isInteger(port) || port <= 0) return undefined;
  return { port, proto: (proto || 'tcp').toLowerCase() };
}

/** dockerd's order: by number, tcp before the other protocols of the same number. */
function byPort(a: Port, b: Port): number {
  if (a.port !== b.port) return a.port - b.port;
  if (a.proto === b.proto) return 0;
  if (a.proto === 'tcp') return -1;
  if (b.proto === 'tcp') return 1;
  return a.proto < b.proto ? -1 : 1;
}

/** The index of the last port of the run of consecutive numbers that starts at `i` (links.go nextContiguous). */
function runEnd(ports: Port[], i: number): number {
  let value = ports[i]!.port;
  for (let k = i + 1; k < ports.length; k++) {
    if (ports[k]!.port > value + 1) return k - 1;
    value++;
  }
  return ports.length - 1;
}

/**
 * The variables dockerd's Link.ToEnv gives the linking container `parentName` (its name with the
 * leading `/`) for one link. ALIAS is the alias upper-cased with `-` as `_`. Runs of three or more
 * consecutive ports also get the _START/_END set (with _ADDR and _PROTO of the first port twice,
 * as dockerd writes them). HOME and PATH of the linked container's env are left out.
 */
export function linkEnv(parentName: string, c: LinkedContainer): string[] {
  const a = c.alias.toUpperCase().replace(/-/g, '_');
  const ports = c.exposedPorts.map(parsePort).filter((p): p is Port => p !== undefined).sort(byPort);
  const env: string[] = [];
  const url = (p: Port) => `${p.proto}://${c.ip}:${p.port}`;
  const key = (p: Port) => `${a}_PORT_${p.port}_${p.proto.toUpperCase()}`;
  if (ports[0]) env.push(`${a}_PORT=${url(ports[0])}`);
  for (let i = 0; i < ports.length; ) {
    const p = ports[i]!;
    const j = runEnd(ports, i);
    if (j > i + 1) {
      const q = ports[j]!;
      const endKey = `${a}_PORT_${p.port}_${q.proto.toUpperCase()}`;
      env.push(`${key(p)}_START=${url(p)}`, `${key(p)}_ADDR=${c.ip}`, `${key(p)}_PROTO=${p.proto}`, `${key(p)}_PORT_START=${p.port}`);
      env.push(`${endKey}_END=${url(q)}`, `${endKey}_PORT_END=${q.port}`);
      i = j + 1;
    } else i++;
  }
  for (const p of ports) {
    env.push(`${key(p)}=${url(p)}`, `${key(p)}_ADDR=${c.ip}`, `${key(p)}_PORT=${p.port}`, `${key(p)}_PROTO=${p.proto}`);
  }
  env.push(`${a}_NAME=${parentName}/${c.alias}`);
  for (const e of c.env) {
    const eq = e.indexOf('=');
    if (eq < 0) continue;
    const k = e.slice(0, eq);
    if (k === 'HOME' || k === 'PATH') continue;
    env.push(`${a}_ENV_${k}=${e.slice(eq + 1)}`);
  }
  return env;
}

/**
 * libnetwork's etchosts.Update, which dockerd runs on the /etc/hosts of each running container
 * linked to one that starts (its ParentUpdate, with the new address): on every line where a tab,
 * the alias, then a blank or a dot follow a run of non-blanks, that run becomes `ip` (Go's `\s`
 * is [\t\n\f\r ]). The rest of the file is left as it is: lines added inside the container, and
 * the line of a linked container that is stopped, with its old address.
 */
export function updateHostsAddress(text: string, alias: string, ip: string): string {
  const quoted = alias.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  const re = new RegExp(`([^\\t\\n\\f\\r ]*)(\\t${quoted})([\\t\\n\\f\\r ]|\\.)`, 'g');
  return text.replace(re, (_m: string, _old: string, name: string, after: string) => `${ip}${name}${after}`);
}

/** updateHostsAddress on one hosts entry (a line of its own: only its address can change). */
export function updateHostsEntry(e: HostsEntry, alias: string, ip: string): HostsEntry {
  const line = updateHostsAddress(`${e.ip}\t${e.names.join(' ')}\n`, alias, ip);
  return { ip: line.slice(0, line.indexOf('\t')), names: e.names };
}

/** A legacy link's name `/<linker>/<alias>` (the leading slash optional) split, or undefined. */
export function parseLinkName(name: string): { linker: string; alias: string } | undefined {
  const m = /^\/?([^/]+)\/([^/]+)$/.exec(name);
  return m ? { linker: m[1]!, alias: m[2]! } : undefined;
}

/** The hostname a linked container's /etc/hosts line names: its own, or its short ID (the default). */
export function linkHostname(c: { Id: string; Config: Record<string, unknown> }): string {
  return (c.Config.Hostname as string | undefined) || c.Id.slice(0, 12);
}
