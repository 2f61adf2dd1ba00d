// docker's network-facing JSON, as pure functions (unit-tested without a kernel): the endpoint
// settings a container is created with (NetworkMode + NetworkingConfig.EndpointsConfig), the port
// specs its HostConfig.PortBindings / PublishAllPorts ask for, and the views docker clients read:
// NetworkSettings (inspect), Ports (container list) and network resources (GET /networks).
import { invalid, notFound } from '../../common/errors.js';
import { labelsMatchAll } from '../label-filter.js';
import { isIp } from '../../network/ipv4.js';
import { parseMac } from '../../network/mac.js';
import { parsePortSpec, type PortMapping, type PortSpec } from '../../network/ports.js';
import type { NetworkRecord, EndpointRecord } from '../../network/manager.js';
import type { Json } from '../api-types.js';
import { sortedKeys } from './config.js';

/** What the container asked for on one network (kept in its record, keyed by network name). */
export interface EndpointConfig {
  NetworkID: string;
  Aliases: string[];
  /** docker's --ip. */
  IPv4Address: string;
  /** docker's --mac-address. */
  MacAddress: string;
  /**
   * false until an endpoint was made for it (a start, or a connect while running): dockerd shows
   * NetworkID "" until then, and keeps it once made. Absent (older records): made.
   */
  Attached?: boolean;
  /**
   * dockerd keeps the endpoint settings as the client sent them: an IPAMConfig object (docker
   * network connect sends `{}`) is shown as `{}` even with no address, an Aliases array as `[]`
   * even when empty, DriverOpts as given; without them, null. Absent (older records): not sent.
   */
  IPAMGiven?: boolean;
  AliasesGiven?: boolean;
  DriverOpts?: Record<string, string>;
  /**
   * Links on a user network (`--link name[:alias]`, as given): the alias resolves, for this
   * container only, to the linked container's address there (dockerd keeps them per endpoint).
   */
  Links?: string[];
}

/** `name[:alias]` of a link (a leading `/` on the name dropped); the alias defaults to the name. */
export function parseLink(link: string): { name: string; alias: string } {
  const i = link.indexOf(':');
  const name = (i < 0 ? link : link.slice(0, i)).replace(/^\//, '');
  const alias = i < 0 ? name : link.slice(i + 1).replace(/^.*\//, '');
  if (name === '' || alias === '') throw invalid(`invalid link format: ${JSON.stringify(link)}`);
  return { name, alias };
}

/** The facts of a network these functions need (a NetworkRecord without its driver and IP pool). */
export type NetworkFacts = Omit<NetworkRecord, 'driver' | 'pool'>;

/** The facts of a live endpoint these functions need. */
export type EndpointFacts = Pick<EndpointRecord, 'id' | 'networkId' | 'containerId' | 'containerName' | 'ip' | 'prefixLen' | 'gateway' | 'mac' | 'aliases' | 'ports'>;

/** Whether a network mode gives the container endpoints of its own (bridge or a named network). */
export function ownsEndpoints(mode: string): boolean {
  return mode !== 'host' && mode !== 'none' && !mode.startsWith('container:');
}

/**
 * The networks a container is created on: its NetworkMode's network first, then any other entry
 * of EndpointsConfig (API ≥ 1.44 allows several). `find` resolves a name, id or id prefix;
 * `defaultNetwork` is the network `bridge` mode means (undefined: the daemon runs without one).
 */
export function planEndpoints(
  mode: string,
  endpointsConfig: Record<string, unknown> | null | undefined,
  opts: { find: (ref: string) => NetworkFacts | undefined; defaultNetwork: NetworkFacts | undefined; macAddress?: string | undefined },
): Record<string, EndpointConfig> {
  // The docker CLI keys the entry of its --network value, and `default` when none was given.
  const given = Object.entries(endpointsConfig ?? {})
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => [k === 'default' ? 'bridge' : k, v] as [string, unknown]);
  if (!ownsEndpoints(mode)) {
    const others = given.filter(([k]) => k !== mode);
    if (others.length) throw invalid(`conflicting options: container sharing network namespace with another container or host cannot be connected to any other network (${others.map(([k]) => k).join(', ')})`);
    // dockerd's validateNetMode (its words): host and container:<x> only; none takes one and ignores it.
    if (opts.macAddress && mode !== 'none') throw invalid('conflicting options: mac-address and the network mode');
    // dockerd refuses an address or aliases for the host and none networks too (20.10 at the
    // start, current moby at create; hako ignored them).
    const own = given.find(([k]) => k === mode)?.[1] as Json | undefined;
    if (own && (mode === 'none' || mode === 'host')) {
      const ipam = (own.IPAMConfig ?? {}) as Json;
      if ((typeof ipam.IPv4Address === 'string' && ipam.IPv4Address) || (typeof ipam.IPv6Address === 'string' && ipam.IPv6Address)) throw invalid('user specified IP address is supported on user defined networks only');
      if (Array.isArray(own.Aliases) && own.Aliases.length > 0) throw invalid('network-scoped alias is supported only for containers in user defined networks');
    }
    return {};
  }
  const out: Record<string, EndpointConfig> = {};
  const primary = mode === 'bridge' ? opts.defaultNetwork : opts.find(mode);
  if (mode !== 'bridge' && !primary) throw invalidNetwork(mode);
  const add = (net: NetworkFacts, raw: unknown, mac: string | undefined) => {
    if (out[net.name]) return;
    out[net.name] = { ...endpointConfig(net, (raw ?? {}) as Json, mac), Attached: false };
  };
  if (primary) {
    const raw = given.find(([k]) => k === mode || k === primary.name || k === primary.id)?.[1];
    add(primary, raw, opts.macAddress);
  }
  for (const [k, raw] of given) {
    if (primary && (k === mode || k === primary.name || k === primary.id)) continue;
    const net = k === 'bridge' ? opts.defaultNetwork : opts.find(k);
    if (!net) throw invalidNetwork(k);
    add(net, raw, undefined);
  }
  return out;
}

function invalidNetwork(name: string) {
  return notFound(`network ${name} not found`);
}

/** One EndpointsConfig entry, validated against its network (docker's messages). */
export function endpointConfig(net: NetworkFacts, raw: Json, macAddress?: string): EndpointConfig {
  const ipam = (raw.IPAMConfig ?? {}) as Json;
  const ip = typeof ipam.IPv4Address === 'string' ? ipam.IPv4Address : '';
  if (typeof ipam.IPv6Address === 'string' && ipam.IPv6Address) throw invalid(`invalid --ip6 "${ipam.IPv6Address}"`, 'IPv6 is not supported by hako yet');
  // dockerd keeps every alias as given: spaces, slashes, non-ASCII, 70 characters, "" (a name
  // DNS cannot ask for simply never resolves; the embedded DNS is given the non-empty ones).
  const aliases = Array.isArray(raw.Aliases) ? (raw.Aliases as unknown[]).map(String) : [];
  const mac = macAddress || (typeof raw.MacAddress === 'string' ? raw.MacAddress : '');
  if (net.isDefault) {
    if (ip) throw invalid('user specified IP address is supported on user defined networks only');
    if (aliases.length) throw invalid('network-scoped alias is supported only for containers in user defined networks');
  }
  if (ip && !isIp(ip)) throw invalid(`invalid IPv4 address: ${ip}`);
  if (mac) parseMac(mac);
  const out: EndpointConfig = { NetworkID: net.id, Aliases: aliases, IPv4Address: ip, MacAddress: mac };
  if (raw.IPAMConfig !== null && typeof raw.IPAMConfig === 'object') out.IPAMGiven = true;
  if (Array.isArray(raw.Aliases)) out.AliasesGiven = true;
  if (Array.isArray(raw.Links) && raw.Links.length > 0) {
    out.Links = (raw.Links as unknown[]).map(String);
    for (const l of out.Links) parseLink(l);
  }
  if (raw.DriverOpts !== undefined && raw.DriverOpts !== null) {
    if (typeof raw.DriverOpts !== 'object' || Array.isArray(raw.DriverOpts)) throw invalid('invalid DriverOpts: expected an object of strings');
    out.DriverOpts = {};
    for (const [k, v] of Object.entries(raw.DriverOpts as Json)) {
      if (typeof v !== 'string') throw invalid(`invalid DriverOpts: the value of ${k} is no string`);
      out.DriverOpts[k] = v;
    }
  }
  return out;
}

/**
 * The port specs of HostConfig.PortBindings (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`)
 * plus, with PublishAllPorts, a random host port for every other exposed port. An empty HostIp
 * means every IPv4 address and, where IPv6 is enabled, every IPv6 one (the userland proxy).
 */
export function portSpecsOf(hc: Json, cfg: Json): PortSpec[] {
  const out: PortSpec[] = [];
  const bindings = (hc.PortBindings ?? {}) as Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  if (typeof bindings !== 'object' || Array.isArray(bindings)) throw invalid('invalid PortBindings: expected an object');
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings)) {
    const { port, proto } = splitPortKey(key);
    bound.add(`${port}/${proto}`);
    for (const b of list && list.length ? list : [{}]) {
      const hostIp = b.HostIp ?? '';
      const hostPort = b.HostPort ?? '';
      if (hostPort !== '' && !/^\d+(-\d+)?$/.test(hostPort)) throw invalid(`invalid host port "${hostPort}" for ${key}`);
      // No HostIp: every IPv4 address, and [::] where IPv6 is enabled (dual-stack, as dockerd).
      const host = hostIp === '' ? '' : hostIp.includes(':') ? `[${hostIp}]:` : `${hostIp}:`;
      out.push(...parsePortSpec(host || hostPort ? `${host}${hostPort}:${port}/${proto}` : `${port}/${proto}`));
    }
  }
  if (hc.PublishAllPorts === true) {
    for (const key of Object.keys((cfg.ExposedPorts ?? {}) as Json)) {
      const { port, proto } = splitPortKey(key);
      if (bound.has(`${port}/${proto}`)) continue;
      out.push(...parsePortSpec(`${port}/${proto}`));
    }
  }
  return out;
}

function splitPortKey(key: string): { port: string; proto: string } {
  const [port = '', proto = 'tcp'] = key.split('/');
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw invalid(`invalid port "${key}" in PortBindings`, 'keys look like "80/tcp"');
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw invalid(`invalid protocol "${proto}" in "${key}"`, 'use tcp, udp or sctp');
  return { port, proto: proto.toLowerCase() };
}

function emptyEndpoint(): Json {
  return {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0,
    IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DriverOpts: null, DNSNames: null,
  };
}

export interface SettingsInput {
  id: string;
  /** Config.Hostname (the last of an endpoint's DNSNames). */
  hostname?: string | undefined;
  mode: string;
  /** `host`/`none` mode: its endpoint there while running; `none` left: off the none network. */
  pseudoEndpointId?: string | undefined;
  noneDisconnected?: boolean | undefined;
  /** Whether the container ever started (dockerd: a pseudo network's NetworkID from the first start). */
  started?: boolean | undefined;
  /** A `none` container that left the none network and may join others (dockerd allows it). */
  ownsEndpoints?: boolean | undefined;
  /** The sandbox (netns) of its last start: dockerd keeps showing both after the stop. */
  sandboxId?: string | undefined;
  sandboxKey?: string | undefined;
  pid: number;
  running: boolean;
  exposed: string[];
  configured: Record<string, EndpointConfig>;
  endpoints: EndpointFacts[];
  networkOf: (id: string) => NetworkFacts | undefined;
  pseudoId: (name: string) => string;
}

/** docker's NetworkSettings: one Networks entry per network, the default bridge's at top level. */
export function networkSettingsView(s: SettingsInput): Json {
  const networks: Json = {};
  let top: Json = emptyEndpoint();
  const owns = s.ownsEndpoints ?? ownsEndpoints(s.mode);
  if (!owns) {
    if (!s.mode.startsWith('container:') && !(s.mode === 'none' && s.noneDisconnected)) {
      networks[s.mode] = { ...emptyEndpoint(), NetworkID: s.started ? s.pseudoId(s.mode) : '', EndpointID: (s.running && s.pseudoEndpointId) || '' };
    }
  } else {
    for (const [name, c] of Object.entries(s.configured)) {
      const net = s.networkOf(c.NetworkID);
      const ep = s.running ? s.endpoints.find((e) => e.networkId === c.NetworkID) : undefined;
      const view: Json = {
        ...emptyEndpoint(),
        IPAMConfig: c.IPv4Address ? { IPv4Address: c.IPv4Address } : c.IPAMGiven ? {} : null,
        Aliases: c.Aliases.length || c.AliasesGiven ? [...c.Aliases] : null,
        DriverOpts: c.DriverOpts ? { ...c.DriverOpts } : null,
        Links: c.Links?.length ? [...c.Links] : null,
        MacAddress: ep?.mac ?? c.MacAddress,
        NetworkID: c.Attached === false ? '' : c.NetworkID,
      };
      if (ep) {
        Object.assign(view, { EndpointID: ep.id, Gateway: ep.gateway, IPAddress: ep.ip, IPPrefixLen: ep.prefixLen });
        // moby's buildEndpointDNSNames: the name, the aliases, the short ID, the hostname, each once.
        if (net && !net.isDefault) view.DNSNames = [...new Set([ep.containerName, ...ep.aliases, s.id.slice(0, 12), ...(s.hostname ? [s.hostname] : [])])];
        if (net?.isDefault) top = view;
      }
      networks[name] = view;
    }
  }
  return {
    // dockerd's order (NetworkSettingsBase, then DefaultNetworkSettings, then Networks).
    Bridge: '', SandboxID: s.sandboxId ?? '',
    HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, Ports: s.running && owns ? portsView(s.exposed, s.endpoints) : {},
    SandboxKey: s.sandboxKey ?? '', SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: top.EndpointID, Gateway: top.Gateway, GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPAddress: top.IPAddress, IPPrefixLen: top.IPPrefixLen,
    IPv6Gateway: '', MacAddress: top.MacAddress,
    Networks: networks,
  };
}

/** inspect's Ports: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": null}`. */
export function portsView(exposed: string[], endpoints: EndpointFacts[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const e of exposed) out[e.includes('/') ? e : `${e}/tcp`] = null;
  for (const ep of endpoints) {
    for (const p of ep.ports) {
      const key = `${p.containerPort}/${p.proto}`;
      const list = out[key] ?? [];
      list.push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
      out[key] = list;
    }
  }
  return out;
}

/** The container list's Ports: published mappings, then exposed ports nothing is published for. */
export function portSummary(exposed: string[], endpoints: EndpointFacts[]): Json[] {
  const out: Json[] = [];
  const published = new Set<string>();
  for (const ep of endpoints) {
    for (const p of ep.ports) {
      published.add(`${p.containerPort}/${p.proto}`);
      out.push({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
    }
  }
  for (const e of exposed) {
    const [port = '0', proto = 'tcp'] = e.split('/');
    if (!published.has(`${port}/${proto}`)) out.push({ PrivatePort: Number(port), Type: proto });
  }
  return out;
}

/** docker's network resource (GET /networks/{id}); `containers` only for inspect. */
export function networkView(n: NetworkFacts, containers: Json | undefined): Json {
  const ipamConfig: Json = { Subnet: n.subnet };
  if (n.gatewayShown !== false) ipamConfig.Gateway = n.gateway;
  if (n.ipRange && n.ipRange !== n.subnet) ipamConfig.IPRange = n.ipRange;
  const options: Record<string, string> = { ...n.options };
  if (n.isDefault) {
    Object.assign(options, {
      'com.docker.network.bridge.default_bridge': 'true',
      // hakod --icc=false stores "false" (dockerd shows the flag's value)
      'com.docker.network.bridge.enable_icc': options['com.docker.network.bridge.enable_icc'] ?? 'true',
      'com.docker.network.bridge.enable_ip_masquerade': options['com.docker.network.bridge.enable_ip_masquerade'] ?? 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': n.bridge,
      'com.docker.network.driver.mtu': String(n.mtu),
    });
  }
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: 'bridge', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: n.ipamOptions ? { ...n.ipamOptions } : null, Config: [ipamConfig] },
    Internal: n.internal, Attachable: n.attachable === true, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers ?? {}, Options: sortedKeys(options), Labels: sortedKeys(n.labels),
  };
}

/** The `host` and `none` pseudo networks as docker shows them. */
export function pseudoNetworkView(name: 'host' | 'none', id: string, created: string, containers: Json | undefined): Json {
  return {
    Name: name, Id: id, Created: created, Scope: 'local', Driver: name === 'host' ? 'host' : 'null', EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers ?? {}, Options: {}, Labels: {},
  };
}

const NETWORK_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'];

/** docker's network list filters on a network view; `inUse`: whether it has containers. */
export function networkMatches(view: Json, filters: Record<string, string[]>, inUse: boolean, builtin: boolean): boolean {
  for (const [key, values] of Object.entries(filters)) {
    if (!NETWORK_FILTERS.includes(key)) throw invalid(`invalid filter '${key}'`);
    if (values.length === 0) continue;
    if (key === 'label') {
      if (!labelsMatchAll(view.Labels as Record<string, string> | null, values)) return false;
      continue;
    }
    if (key === 'dangling') {
      // dockerd's words; exactly these four values.
      if (values.length > 1) throw invalid('got more than one value for filter key "dangling"');
      const v = values[0]!;
      if (!['true', '1', 'false', '0'].includes(v)) throw invalid(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`);
      if ((v === 'true' || v === '1') !== (!inUse && !builtin)) return false;
      continue;
    }
    const ok = values.some((v) => {
      switch (key) {
        case 'driver':
          return view.Driver === v;
        case 'id':
          return String(view.Id).startsWith(v);
        case 'name':
          return String(view.Name).includes(v);
        case 'scope':
          return v === 'local';
        case 'type':
          if (v !== 'custom' && v !== 'builtin') throw invalid(`invalid filter: 'type'='${v}'`);
          return (v === 'builtin') === builtin;
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}
