// The engine's networking: one NetworkManager (src/network, state in <root>/network) and the glue
// between it and the container lifecycle:
//   create   → planEndpoints: which networks (by id), --ip/--mac/aliases validated, ports parsed
//   start    → attach (the runtime's in-process prestart: namespaces exist, the program has not
//              run yet): connect each network via /proc/<pid>/ns/net, publish ports, write /etc files
//   exit/rm  → release: veths, addresses, rules, DNS names and held ports go
//   restart of the daemon → NetworkManager.init() reconciles the kernel with the state; the engine
//              then releases the endpoints of containers that are no longer running.
// Plus the network objects of the API (create/list/inspect/remove/prune, connect/disconnect).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as hostHostname } from 'node:os';
import { HakoError, conflict, invalid, notFound } from '../common/errors.js';
import { DEFAULT_MTU, NetworkManager, type NetworkRecord } from '../network/manager.js';
import { DEFAULT_BRIDGE_OPTION, parseBridgeOptions } from '../network/bridge-options.js';
import { formatCidr, parseCidr } from '../network/ipv4.js';
import { checkIpamRequest } from '../network/ipam-request.js';
import type { Filters, Json } from './api-types.js';
import type { ContainerRecord } from './containers/record.js';
import { etcFiles, writeEtcFiles, writeEtcFilesPooled, type EtcTexts } from './containers/etc-files.js';
import {
  networkMatches, networkSettingsView, networkView, ownsEndpoints, parseLink, planEndpoints, portSpecsOf, portSummary, pseudoNetworkView, endpointConfig,
  type EndpointConfig,
} from './containers/network-config.js';
import { nowRfc3339Nano } from '../common/time.js';
import type { HostsEntry } from '../network/hosts-files.js';
import { parsePruneFilters, pruneMatches } from './prune-filters.js';

export interface NetworkingOptions {
  /** Device of the default `bridge` network (dockerd -b/--bridge); 'none' runs without one. Default hako0. */
  bridge?: string | undefined;
  /** The default bridge's gateway address and prefix (dockerd --bip), e.g. 172.18.0.1/16. Default: a free /16. */
  bip?: string | undefined;
  /** hako's nftables table (`table ip <name>`). Default hako. */
  nftTable?: string | undefined;
  /** Prefix of hako's interfaces: user bridges <p>-<id>, veths <p>v<hash>; ≤ 5 characters. Default hk. */
  ifacePrefix?: string | undefined;
  /** Set net.ipv4.ip_forward=1 like dockerd (default); false only enables forwarding on hako's bridges. */
  ipForward?: boolean | undefined;
  /** The containers' default resolvers (dockerd --dns). */
  dns?: string[] | undefined;
  /** The host's resolv.conf. Default /etc/resolv.conf. */
  resolvConf?: string | undefined;
  /**
   * Accept rules for hako's bridges in the host's iptables FORWARD chain (dockerd --iptables),
   * default true; false: nothing is added to iptables (hako's own nft table is unaffected).
   */
  iptables?: boolean | undefined;
  /** dockerd --userland-proxy (default true); false: published ports on IPv4 only. */
  userlandProxy?: boolean | undefined;
  /** The default bridge's MTU (dockerd --mtu); 0 or absent: 1500 (dockerd's default). */
  mtu?: number | undefined;
  /**
   * dockerd --icc (default true); false: containers on the default bridge reach each other only
   * through legacy links, on the linked container's exposed ports.
   */
  icc?: boolean | undefined;
}

interface Logger {
  warn(msg: string): void;
  info?(msg: string): void;
}

const PSEUDO = ['host', 'none'] as const;

/**
 * Whether the container has endpoints of its own: bridge and named networks, and a `none`
 * container that left the none network (dockerd then lets it join others, NetworkMode unchanged).
 */
export function hasEndpoints(rec: ContainerRecord): boolean {
  const mode = rec.HostConfig.NetworkMode as string;
  return ownsEndpoints(mode) || (mode === 'none' && rec.NoneDisconnected === true);
}

/**
 * The hostname the embedded DNS answers for the container (current moby resolves an endpoint's
 * DNSNames, which end with Config.Hostname): only when it is not the short ID, which resolves anyway.
 */
function customHostname(rec: ContainerRecord): string | undefined {
  const h = rec.Config.Hostname as string | undefined;
  return h && h !== rec.Id.slice(0, 12) ? h : undefined;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class EngineNetworking {
  readonly mgr: NetworkManager;
  private initError: Error | undefined;
  /** Why forwarded container traffic may be dropped by someone else's chain (info().Warnings). */
  private forwardWarning: string | undefined;
  private readonly created = nowRfc3339Nano();
  /** The /etc/hosts lines of a container's legacy links (set by the engine, which knows the containers). */
  linkedHosts: (rec: ContainerRecord) => HostsEntry[] = () => [];

  constructor(
    private readonly root: string,
    private readonly opts: NetworkingOptions,
    private readonly log: Logger,
    mark?: (phase: string) => void,
  ) {
    const p = opts.ifacePrefix;
    if (p !== undefined && !/^[A-Za-z][A-Za-z0-9]{0,4}$/.test(p)) throw invalid(`invalid interface prefix "${p}"`, 'at most 5 letters and digits, starting with a letter');
    const bridge = opts.bridge ?? 'hako0';
    let defaultNetwork: { name: string; bridge: string; subnet?: string; gateway?: string; mtu?: number; icc?: boolean } | null = null;
    if (bridge !== 'none') {
      // dockerd sets the default bridge's MTU from --mtu at every start, 1500 without it (its
      // DefaultNetworkMtu, never the uplink's).
      defaultNetwork = { name: 'bridge', bridge, mtu: opts.mtu || DEFAULT_MTU };
      if (opts.icc === false) defaultNetwork.icc = false;
      if (opts.bip) {
        const c = parseCidr(opts.bip, '--bip', false);
        const gateway = opts.bip.slice(0, opts.bip.indexOf('/'));
        defaultNetwork.subnet = formatCidr(c);
        defaultNetwork.gateway = gateway;
      }
    }
    this.mgr = new NetworkManager({
      root,
      nftTable: opts.nftTable,
      ...(p ? { bridgePrefix: `${p}-`, vethPrefix: `${p}v` } : {}),
      defaultNetwork,
      resolvConf: opts.resolvConf,
      upstreamDns: opts.dns && opts.dns.length ? opts.dns : undefined,
      ipForward: opts.ipForward === false ? 'bridge' : 'global',
      iptables: opts.iptables,
      userlandProxy: opts.userlandProxy,
      warn: (m) => this.log.warn(m),
      mark,
    });
  }

  /** Loads the network state and reconciles it with the kernel; a failure leaves networking off (and says why). */
  async init(): Promise<void> {
    try {
      const r = await this.mgr.init();
      const parts = [
        r.bridgesRecreated.length ? `bridges re-created: ${r.bridgesRecreated.join(', ')}` : '',
        r.endpointsDropped.length ? `endpoints of gone containers dropped: ${r.endpointsDropped.join(', ')}` : '',
        r.linksDeleted.length ? `orphan interfaces deleted: ${r.linksDeleted.join(', ')}` : '',
      ].filter((x) => x);
      if (parts.length) this.log.info?.(`network reconcile: ${parts.join('; ')}`);
      this.watchForwardStartup();
      const d = this.defaultNetwork();
      if (d && this.opts.bip) {
        const want = formatCidr(parseCidr(this.opts.bip, '--bip', false));
        if (d.subnet !== want) this.log.warn(`the default bridge network keeps its subnet ${d.subnet}: --bip ${this.opts.bip} applies when it is created (remove ${this.root}/network-state.json with no containers running to re-create it)`);
      }
    } catch (err) {
      this.initError = err as Error;
      this.log.warn(`networking is unavailable: ${(err as Error).message}`);
    }
  }

  /**
   * Reports the start-up's iptables sync when it ends (it runs beside the rest of the start-up),
   * or, when hako adds no iptables rule, which chain of someone else drops forwarded traffic.
   */
  private watchForwardStartup(): void {
    const off = this.mgr.forwardOff;
    if (off) {
      const blockers = this.mgr.forwardBlockers();
      if (blockers.length) {
        const fix = off === 'disabled'
          ? 'containers get no outbound traffic and published ports are unreachable from other hosts; add accept rules for hako\'s bridges there yourself, or run hakod without --iptables=false'
          : 'the iptables binary is missing, so hako cannot add its forward exceptions: install iptables (then restart hakod), or add accept rules for hako\'s bridges (iifname/oifname) to that chain';
        this.forwardWarning = `forwarded container traffic is dropped by ${blockers.join(', ')}: ${fix}`;
        this.log.warn(this.forwardWarning);
      } else if (off === 'missing') {
        this.log.info?.('no iptables binary: hako adds no iptables FORWARD exceptions (nothing drops forwarded traffic now)');
      }
      return;
    }
    this.mgr.forwardStartup.then(
      (r) => {
        if (r) this.log.info?.(`iptables (${r.backend}) forward rules in chain ${this.mgr.forward!.chain}: ${r.changed ? `+${r.rulesAdded} -${r.rulesRemoved}, jump ${r.jump}` : 'up to date'} (${r.ms.toFixed(1)} ms)`);
      },
      (err: Error) => {
        this.forwardWarning = `hako's iptables forward rules could not be set up: ${err.message}`;
        this.log.warn(this.forwardWarning);
      },
    );
  }

  async close(): Promise<void> {
    await this.mgr.drain().catch(() => undefined);
    await this.mgr.linksSettled();
    this.mgr.close();
  }

  warnings(): string[] {
    if (this.initError) return [`networking is unavailable: ${this.initError.message}`];
    return this.forwardWarning ? [this.forwardWarning] : [];
  }

  private ready(): void {
    if (this.initError) throw new HakoError({ step: 'networking is unavailable', hint: this.initError.message, kind: 'internal' });
  }

  defaultNetwork(): NetworkRecord | undefined {
    return this.initError ? undefined : this.mgr.listNetworks().find((n) => n.isDefault);
  }

  pseudoId(name: string): string {
    return createHash('sha256').update(`hako-${name}-network:${this.root}`).digest('hex');
  }

  // ---- containers --------------------------------------------------------------------------

  /** Validates a create request's networking; returns the endpoints to keep in the record. */
  plan(hc: Json, cfg: Json, endpointsConfig: Record<string, unknown> | null | undefined, macAddress: string | undefined): { networks: Record<string, EndpointConfig>; warnings: string[] } {
    const mode = hc.NetworkMode as string;
    const warnings: string[] = [];
    portSpecsOf(hc, cfg); // parse errors are the create's 400
    if (ownsEndpoints(mode)) this.ready();
    if (mode === 'host' && Object.keys((hc.PortBindings ?? {}) as Json).length) warnings.push('Published ports are discarded when using host network mode');
    // dockerd's warning, read at each create: without forwarding, only loopback and the bridge's
    // own hosts are reached (hakod enables it unless --ip-forward=false).
    if (mode !== 'host' && mode !== 'none' && !this.ipForwarding()) warnings.push('IPv4 forwarding is disabled. Networking will not work.');
    const networks = planEndpoints(mode, endpointsConfig, { find: (r) => this.mgr.find(r), defaultNetwork: this.defaultNetwork(), macAddress });
    // On a user network dockerd keeps --link with the endpoint (HostConfig.Links becomes null).
    const links = (hc.Links as string[] | null | undefined) ?? [];
    const primary = Object.values(networks)[0];
    if (links.length && ownsEndpoints(mode) && mode !== 'bridge' && primary) {
      for (const l of links) parseLink(l);
      // The docker CLI sends them in both places: kept once.
      primary.Links = [...new Set([...(primary.Links ?? []), ...links])];
      hc.Links = null;
    }
    if (mode === 'bridge' && !this.defaultNetwork()) warnings.push('the default bridge network is disabled (hakod --bridge none): the container gets no network but loopback');
    return { networks, warnings };
  }

  /** Records made before networking existed get their mode's network. */
  networksOf(rec: ContainerRecord): Record<string, EndpointConfig> {
    if (rec.Networks) return rec.Networks;
    const mode = rec.HostConfig.NetworkMode as string;
    if (!ownsEndpoints(mode) || this.initError) return {};
    try {
      rec.Networks = planEndpoints(mode, {}, { find: (r) => this.mgr.find(r), defaultNetwork: this.defaultNetwork() });
    } catch {
      rec.Networks = {};
    }
    return rec.Networks;
  }

  /** The texts of the container's /etc files for its current endpoints. */
  etcTexts(rec: ContainerRecord): EtcTexts {
    const hc = rec.HostConfig;
    const cfg = rec.Config;
    const mode = hc.NetworkMode as string;
    const eps = this.mgr.endpointsOfContainer(rec.Id);
    const configured = Object.values(this.networksOf(rec));
    const embedded = configured.some((c) => {
      const n = this.mgr.find(c.NetworkID);
      return n !== undefined && !n.isDefault;
    });
    const ownDns = (hc.Dns as string[] | undefined) ?? [];
    return etcFiles({
      mode,
      hostname: cfg.Hostname as string,
      domainname: (cfg.Domainname as string | undefined) ?? '',
      extraHosts: (hc.ExtraHosts as string[] | null) ?? [],
      links: mode === 'host' ? [] : this.linkedHosts(rec),
      // The daemon's --dns are the embedded server's upstreams; a container without it gets the
      // plain IP ones (a loopback resolver or an ip:port one means nothing in its netns).
      dns: ownDns.length ? ownDns : embedded ? [] : (this.opts.dns ?? []).filter((x) => /^\d+\.\d+\.\d+\.\d+$/.test(x) && !x.startsWith('127.')),
      dnsSearch: (hc.DnsSearch as string[] | undefined) ?? [],
      dnsOptions: (hc.DnsOptions as string[] | undefined) ?? [],
      hostResolv: readText(this.opts.resolvConf ?? '/etc/resolv.conf'),
      hostHosts: mode === 'host' ? readText('/etc/hosts') : '',
      hostHostname: hostHostname(),
      ips: eps.map((e) => e.ip),
      embeddedDns: embedded,
      hostGateway: this.defaultNetwork()?.gateway ?? eps[0]?.gateway,
    });
  }

  /** (Re)writes /etc/hosts, /etc/hostname, /etc/resolv.conf; `shared`: the container whose netns it joins. */
  writeFiles(rec: ContainerRecord, shared?: ContainerRecord): void {
    const paths = { hosts: rec.HostsPath, hostname: rec.HostnamePath, resolv: rec.ResolvConfPath };
    if (shared) {
      const t = this.etcTexts(shared);
      writeEtcFiles(paths, { hosts: readText(shared.HostsPath) || t.hosts, resolv: readText(shared.ResolvConfPath) || t.resolv, hostname: `${rec.Config.Hostname as string}\n` });
      return;
    }
    writeEtcFiles(paths, this.etcTexts(rec));
  }

  /** writeFiles (not for a container on another's network) in one job on the libuv pool. */
  writeFilesPooled(rec: ContainerRecord): Promise<void> {
    return writeEtcFilesPooled({ hosts: rec.HostsPath, hostname: rec.HostnamePath, resolv: rec.ResolvConfPath }, this.etcTexts(rec));
  }

  /**
   * Connects a starting container (its namespaces exist, its program has not run) to its
   * networks, publishes its ports and writes its /etc files. All or nothing.
   * `via`: another path to the container's netns (/proc/self/fd/<n>), for a process that has not
   * entered it yet (see Engine's early connect); the endpoints record /proc/<pid>/ns/net.
   */
  async attach(rec: ContainerRecord, pid: number, via?: string): Promise<Array<{ id: string; name: string }>> {
    const mode = rec.HostConfig.NetworkMode as string;
    const networks = this.networksOf(rec);
    if (!hasEndpoints(rec) || Object.keys(networks).length === 0) {
      // `none` (or bridge mode without a default network): loopback only, but up.
      if (mode !== 'host' && !mode.startsWith('container:')) this.mgr.loopbackUp(via ?? pid);
      await this.writeFilesPooled(rec);
      return [];
    }
    this.ready();
    const hc = rec.HostConfig;
    try {
      // A container restarted by its policy while the daemon was busy may still hold endpoints.
      await this.mgr.releaseContainer(rec.Id);
      for (const [name, c] of Object.entries(networks)) {
        const net = this.mgr.find(c.NetworkID);
        if (!net) throw notFound(`network ${name} not found`, `it was removed; docker network disconnect the container from it, or create it again`);
        await this.mgr.connect({
          containerId: rec.Id,
          containerName: rec.Name.replace(/^\//, ''),
          netns: via ?? pid,
          ...(via === undefined ? {} : { recordNetnsAs: `/proc/${pid}/ns/net` }),
          network: net.id,
          ip: c.IPv4Address || undefined,
          mac: c.MacAddress || undefined,
          aliases: c.Aliases.filter((a) => a !== ''),
          hostname: customHostname(rec),
          links: (c.Links ?? []).map(parseLink),
          dns: ((hc.Dns as string[] | undefined) ?? []).length ? (hc.Dns as string[]) : undefined,
          ...this.legacyOf(rec, net),
        });
        c.Attached = true;
      }
      const specs = portSpecsOf(hc, rec.Config);
      if (specs.length) {
        const open = this.mgr.endpointsOfContainer(rec.Id).some((e) => !this.mgr.find(e.networkId)?.internal);
        if (open) {
          try {
            await this.mgr.publish(rec.Id, specs);
          } catch (err) {
            // dockerd: a port that cannot be had fails the start as a system error (500), in
            // its bridge driver's words naming the endpoint (hako's own 409 inside the manager
            // picks another random port).
            if (!(err instanceof HakoError) || err.kind !== 'conflict') throw err;
            const ep = this.mgr.endpointsOfContainer(rec.Id).find((e) => !this.mgr.find(e.networkId)?.internal);
            throw new HakoError({ step: `driver failed programming external connectivity on endpoint ${rec.Name.replace(/^\//, '')} (${ep?.id ?? ''}): ${err.message}`, kind: 'internal', cause: err });
          }
        } else this.log.warn(`container ${rec.Id.slice(0, 12)}: ports are not published: it is only on internal networks`);
      }
      // (On the pool: the start wrote them moments ago; hosts gains the addresses.)
      await this.writeFilesPooled(rec);
      return this.mgr.endpointsOfContainer(rec.Id).map((e) => ({ id: e.networkId, name: this.mgr.find(e.networkId)?.name ?? e.networkId }));
    } catch (err) {
      await this.mgr.releaseContainer(rec.Id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * On the default bridge: the containers `rec` has legacy links to and its exposed ports (the
   * --icc=false rules are made from them while both ends are connected).
   */
  private legacyOf(rec: ContainerRecord, net: NetworkRecord): { legacyLinks?: string[]; exposed?: Array<{ port: number; proto: 'tcp' | 'udp' | 'sctp' }> } {
    if (!net.isDefault) return {};
    const exposed: Array<{ port: number; proto: 'tcp' | 'udp' | 'sctp' }> = [];
    for (const key of Object.keys((rec.Config.ExposedPorts ?? {}) as Json)) {
      const [port = '', proto = 'tcp'] = key.split('/');
      const n = Number(port);
      if (Number.isInteger(n) && n > 0 && n < 65536 && (proto === 'tcp' || proto === 'udp' || proto === 'sctp')) exposed.push({ port: n, proto });
    }
    const links = (rec.LegacyLinks ?? []).map((l) => l.Id);
    return { ...(links.length ? { legacyLinks: links } : {}), ...(exposed.length ? { exposed } : {}) };
  }

  /**
   * Drops the container's endpoints (veths, addresses, rules, DNS names, held ports); returns their
   * networks. Never throws. The veths of an exited container vanish with its netns: that is
   * awaited in the background (10–20 ms here), not before the exit or removal is answered.
   */
  async release(containerId: string): Promise<Array<{ id: string; name: string }>> {
    if (this.initError) return [];
    const nets = this.mgr.endpointsOfContainer(containerId).map((e) => ({ id: e.networkId, name: this.mgr.find(e.networkId)?.name ?? e.networkId }));
    try {
      await this.mgr.releaseContainer(containerId, { awaitLinks: false });
    } catch (err) {
      this.log.warn(`release the network endpoints of ${containerId}: ${(err as Error).message}`);
    }
    return nets;
  }

  /** After a daemon restart: endpoints of containers that are not running (or unknown) go. */
  async sweep(running: Set<string>): Promise<void> {
    if (this.initError) return;
    const owners = new Set(this.mgr.listNetworks().flatMap((n) => this.mgr.endpointsOf(n.id).map((e) => e.containerId)));
    for (const id of owners) if (!running.has(id)) await this.release(id);
  }

  /**
   * After a daemon restart, for a running container: its record's networks made to match its
   * endpoints (what its namespace holds). A crash between a connect's or a disconnect's kernel
   * work and its record's save leaves them apart (the client got no answer): an endpoint the
   * record lacks is a connect cut short, undone; a network without its endpoint is a disconnect
   * cut short, finished. Endpoints without the container's hostname get it. Returns whether
   * the record changed (its /etc files are rewritten then).
   */
  async reconcileRecord(rec: ContainerRecord): Promise<boolean> {
    if (this.initError || !hasEndpoints(rec)) return false;
    const networks = this.networksOf(rec);
    const eps = this.mgr.endpointsOfContainer(rec.Id);
    let changed = false;
    for (const e of eps) {
      if (Object.values(networks).some((c) => c.NetworkID === e.networkId)) continue;
      await this.mgr.disconnect(rec.Id, e.networkId);
      changed = true;
    }
    for (const [name, c] of Object.entries(networks)) {
      if (eps.some((e) => e.networkId === c.NetworkID)) continue;
      delete networks[name];
      changed = true;
    }
    if (changed) {
      rec.Networks = networks;
      this.writeFiles(rec);
    }
    // Endpoints an older daemon recorded lack the hostname the embedded DNS answers (the record's
    // own Config.Hostname does not change while it runs: this only fills in what is missing).
    if (await this.mgr.pinHostname(rec.Id, customHostname(rec))) this.log.info?.(`container ${rec.Id.slice(0, 12)}: its hostname ${customHostname(rec) ?? '(short ID)'} recorded on its endpoints`);
    return changed;
  }

  /** Resolves once the embedded DNS answers to the new name. */
  rename(containerId: string, name: string): Promise<void> {
    return this.initError ? Promise.resolve() : this.mgr.renameContainer(containerId, name.replace(/^\//, ''));
  }

  /** The pseudo network (`host`, `none`) `ref` names (by name or ID), if it names one. */
  pseudoOf(ref: string): 'host' | 'none' | undefined {
    return PSEUDO.find((p) => ref === p || ref === this.pseudoId(p));
  }

  /** docker network connect: live when `pid` is given, else only recorded for the next start. */
  async connect(rec: ContainerRecord, ref: string, body: Json, pid: number | undefined): Promise<NetworkRecord> {
    this.ready();
    const mode = rec.HostConfig.NetworkMode as string;
    if (PSEUDO.includes(ref as 'host') || ref === this.pseudoId('host') || ref === this.pseudoId('none')) throw new HakoError({ step: `container cannot be disconnected from host network or connected to host network`, kind: 'forbidden' });
    const net = this.mgr.find(ref);
    if (!net) throw notFound(`network ${ref} not found`);
    // dockerd's runconfig errors (validation errors: 400): a --network none container is on the private
    // "none" network, which allows no other; host and container: modes share a namespace.
    // One that left the none network may join others (dockerd), and keeps its NetworkMode.
    if (mode === 'none' && !rec.NoneDisconnected) throw invalid('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (!hasEndpoints(rec)) throw invalid('container sharing network namespace with another container or host cannot be connected to any other network');
    const networks = this.networksOf(rec);
    if (Object.values(networks).some((c) => c.NetworkID === net.id)) throw new HakoError({ step: `endpoint with name ${rec.Name.replace(/^\//, '')} already exists in network ${net.name}`, kind: 'forbidden' });
    const cfg: EndpointConfig = { ...endpointConfig(net, ((body.EndpointConfig ?? {}) as Json)), Attached: pid !== undefined };
    if (pid !== undefined) {
      await this.mgr.connect({
        containerId: rec.Id, containerName: rec.Name.replace(/^\//, ''), netns: pid, network: net.id,
        ip: cfg.IPv4Address || undefined, mac: cfg.MacAddress || undefined, aliases: cfg.Aliases.filter((a) => a !== ''), hostname: customHostname(rec), links: (cfg.Links ?? []).map(parseLink),
        dns: ((rec.HostConfig.Dns as string[] | undefined) ?? []).length ? (rec.HostConfig.Dns as string[]) : undefined,
        ...this.legacyOf(rec, net),
      });
    }
    networks[net.name] = cfg;
    rec.Networks = networks;
    if (pid !== undefined) this.writeFiles(rec);
    return net;
  }

  /** docker network disconnect (live when running). `force`: also when the network is gone. */
  async disconnect(rec: ContainerRecord, ref: string, running: boolean, force: boolean): Promise<{ id: string; name: string; found: boolean }> {
    const networks = this.networksOf(rec);
    const net = this.initError ? undefined : this.mgr.find(ref);
    const entry = Object.entries(networks).find(([name, c]) => (net ? c.NetworkID === net.id : name === ref || c.NetworkID === ref));
    if (!net && !(force && entry)) {
      if (PSEUDO.includes(ref as 'host')) throw new HakoError({ step: `container cannot be disconnected from host network or connected to host network`, kind: 'forbidden' });
      throw notFound(`network ${ref} not found`);
    }
    // dockerd: "the network" when the container is not running; a plain error there: 500.
    if (!entry) throw new HakoError({ step: `container ${rec.Id} is not connected to ${running ? '' : 'the '}network ${net?.name ?? ref}`, kind: 'internal' });
    if (net && running && this.mgr.endpointsOfContainer(rec.Id).some((e) => e.networkId === net.id)) await this.mgr.disconnect(rec.Id, net.id);
    delete networks[entry[0]];
    rec.Networks = networks;
    if (running) this.writeFiles(rec);
    return { id: net?.id ?? entry[1].NetworkID, name: net?.name ?? entry[0], found: net !== undefined };
  }

  // ---- views -------------------------------------------------------------------------------

  /** `sandboxKey`: the path of its netns's bind mount (of the last start, as dockerd). */
  settings(rec: ContainerRecord, sandboxKey?: string): Json {
    const running = rec.State.Running || rec.State.Paused;
    return networkSettingsView({
      id: rec.Id,
      hostname: rec.Config.Hostname as string | undefined,
      mode: rec.HostConfig.NetworkMode as string,
      pseudoEndpointId: rec.PseudoEndpointID,
      noneDisconnected: rec.NoneDisconnected,
      started: rec.HasBeenStartedBefore,
      ownsEndpoints: hasEndpoints(rec),
      sandboxId: rec.SandboxID,
      sandboxKey,
      pid: rec.State.Pid,
      running,
      exposed: Object.keys((rec.Config.ExposedPorts ?? {}) as Json),
      configured: this.networksOf(rec),
      endpoints: running && !this.initError ? this.mgr.endpointsOfContainer(rec.Id) : [],
      networkOf: (id) => (this.initError ? undefined : this.mgr.find(id)),
      pseudoId: (n) => this.pseudoId(n),
    });
  }

  /** The list's Ports: none for a container without endpoints of its own (host, none, container:), as dockerd. */
  ports(rec: ContainerRecord): Json[] {
    if (!(rec.State.Running || rec.State.Paused) || !hasEndpoints(rec)) return [];
    return portSummary(Object.keys((rec.Config.ExposedPorts ?? {}) as Json), this.initError ? [] : this.mgr.endpointsOfContainer(rec.Id));
  }

  /** Networks (for GET /networks and inspect); `members(mode)`: running containers of a pseudo network. */
  private views(withContainers: boolean, members: (mode: 'host' | 'none') => Array<{ id: string; name: string; endpointId?: string | undefined }>): Array<{ view: Json; builtin: boolean; inUse: boolean }> {
    const out: Array<{ view: Json; builtin: boolean; inUse: boolean }> = [];
    if (!this.initError) {
      for (const n of this.mgr.listNetworks()) {
        const eps = this.mgr.endpointsOf(n.id);
        const containers: Json = {};
        for (const e of eps) containers[e.containerId] = { Name: e.containerName, EndpointID: e.id, MacAddress: e.mac, IPv4Address: `${e.ip}/${e.prefixLen}`, IPv6Address: '' };
        out.push({ view: networkView(n, withContainers ? containers : undefined), builtin: n.isDefault, inUse: eps.length > 0 });
      }
    }
    for (const p of PSEUDO) {
      const m = members(p);
      const containers: Json = {};
      for (const c of m) containers[c.id] = { Name: c.name, EndpointID: c.endpointId ?? '', MacAddress: '', IPv4Address: '', IPv6Address: '' };
      out.push({ view: pseudoNetworkView(p, this.pseudoId(p), this.created, withContainers ? containers : undefined), builtin: true, inUse: m.length > 0 });
    }
    return out;
  }

  list(filters: Filters, members: (mode: 'host' | 'none') => Array<{ id: string; name: string; endpointId?: string | undefined }>): Json[] {
    return this.views(false, members).filter((v) => networkMatches(v.view, filters, v.inUse, v.builtin)).map((v) => v.view);
  }

  inspect(ref: string, members: (mode: 'host' | 'none') => Array<{ id: string; name: string; endpointId?: string | undefined }>): Json {
    const all = this.views(true, members);
    const exact = all.find((v) => v.view.Id === ref) ?? all.find((v) => v.view.Name === ref);
    if (exact) return exact.view;
    const byPrefix = all.filter((v) => String(v.view.Id).startsWith(ref));
    if (byPrefix.length === 1) return byPrefix[0]!.view;
    if (byPrefix.length > 1) throw invalid(`network ${ref} is ambiguous (${byPrefix.length} matches found on id)`);
    throw notFound(`network ${ref} not found`);
  }

  /** POST /networks/create. */
  async create(body: Json): Promise<{ Id: string; Warning: string; name: string }> {
    this.ready();
    const name = body.Name;
    if (typeof name !== 'string') throw invalid('network name is required', 'pass a name: docker network create NAME');
    // dockerd 20.10 (libnetwork's name check): an empty or all-blank name is a 500 in these words.
    if (name.trim() === '') throw new HakoError({ step: `invalid name: ${name}`, kind: 'internal' });
    const driver = (body.Driver as string | undefined) || 'bridge';
    if (driver === 'host' || driver === 'null') throw new HakoError({ step: `only one instance of "${driver}" network is allowed`, kind: 'forbidden' });
    // dockerd's answers: overlay networks need swarm mode (hako has none: the same words), other
    // drivers are plugins (hako has the bridge driver only).
    if (driver === 'overlay') throw new HakoError({ step: 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.', kind: 'internal' });
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    // dockerd's words (403) for its predefined names, "default" included (a network mode alias).
    if (PSEUDO.includes(name as 'host') || name === 'bridge' || name === 'default') throw new HakoError({ step: `operation is not permitted on predefined ${name} network`, kind: 'forbidden' });
    if (body.EnableIPv6 === true) throw invalid('IPv6 networks are not supported by hako yet');
    // Swarm's kinds, refused as by a dockerd that is no swarm node (lab dockerd 20.10: its words
    // and statuses; a scope other than local or swarm goes to the cluster, which is not there).
    if (body.Ingress === true) throw new HakoError({ step: 'Ingress network can only be global scope network', kind: 'forbidden' });
    const scope = (body.Scope as string | undefined) ?? '';
    if (scope === 'swarm') throw new HakoError({ step: 'cannot create a swarm scoped network when swarm is not active', kind: 'forbidden' });
    if (scope !== '' && scope !== 'local') throw new HakoError({ step: 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.', kind: 'internal' });
    if (body.ConfigOnly === true || ((body.ConfigFrom as Json | undefined)?.Network ?? '') !== '') throw invalid('config-only networks (--config-only/--config-from) are not supported by hako');
    const ipam = (body.IPAM ?? {}) as Json;
    const ipamDriver = (ipam.Driver as string | undefined) || 'default';
    if (ipamDriver !== 'default') throw notFound(`plugin "${ipamDriver}" not found`, 'hako has the default IPAM driver only');
    const configs = ((ipam.Config as Json[] | null | undefined) ?? []).filter((c) => c && Object.keys(c).length);
    if (configs.some((c) => String(c.Subnet ?? '').includes(':'))) throw invalid('IPv6 subnets are not supported by hako yet');
    // dockerd's checks, order and words (src/network/ipam-request.ts), after its name check.
    if (this.mgr.listNetworks().some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`);
    checkIpamRequest(
      configs.map((x) => ({ subnet: String(x.Subnet ?? ''), gateway: String(x.Gateway ?? ''), ipRange: String(x.IPRange ?? '') })),
      this.mgr.listNetworks().map((n) => n.subnet),
    );
    const c = configs[0] ?? {};
    const subnet = (c.Subnet as string | undefined) || undefined;
    const gateway = (c.Gateway as string | undefined) || undefined;
    const ipRange = (c.IPRange as string | undefined) || undefined;
    if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses as Json).length) throw invalid('--aux-address is not supported by hako');
    const options = { ...((body.Options ?? {}) as Record<string, string>) };
    if (Object.values(options).some((v) => typeof v !== 'string')) throw invalid('invalid Options: expected an object of strings');
    // Checked in dockerd's words; kept as given (inspect shows them, unknown keys too, as dockerd).
    const parsed = parseBridgeOptions(options);
    if (parsed.enableIpv6) throw invalid('IPv6 networks are not supported by hako yet');
    const ignored = parsed.defaultBridge ? [DEFAULT_BRIDGE_OPTION] : [];
    let ipamOptions: Record<string, string> | null = null;
    if (ipam.Options !== undefined && ipam.Options !== null) {
      if (typeof ipam.Options !== 'object' || Array.isArray(ipam.Options) || Object.values(ipam.Options as Json).some((v) => typeof v !== 'string')) throw invalid('invalid IPAM.Options: expected an object of strings');
      ipamOptions = { ...(ipam.Options as Record<string, string>) };
    }
    const net = await this.mgr.createNetwork({
      name, subnet, gateway, ipRange, internal: body.Internal === true, attachable: body.Attachable === true, labels: (body.Labels ?? {}) as Record<string, string>, options, ipamOptions,
    });
    return { Id: net.id, Warning: ignored.length ? `driver options ignored (not supported by hako): ${ignored.join(', ')}` : '', name: net.name };
  }

  /** DELETE /networks/{id}. */
  async remove(ref: string): Promise<{ id: string; name: string }> {
    // `DELETE /networks/`: an empty ID prefix matches every network, host and none included (dockerd).
    if (ref === '') throw invalid(`network  is ambiguous (${(this.initError ? 0 : this.mgr.listNetworks().length) + PSEUDO.length} matches found based on ID prefix)`);
    if (PSEUDO.includes(ref as 'host') || ref === this.pseudoId('host') || ref === this.pseudoId('none')) throw new HakoError({ step: `${PSEUDO.find((p) => p === ref || this.pseudoId(p) === ref)} is a pre-defined network and cannot be removed`, kind: 'forbidden' });
    this.ready();
    const net = this.mgr.find(ref);
    if (!net) throw notFound(`network ${ref} not found`);
    if (net.isDefault) throw new HakoError({ step: `${net.name} is a pre-defined network and cannot be removed`, kind: 'forbidden' });
    const eps = this.mgr.endpointsOf(net.id);
    // 403 as dockerd (libnetwork's ActiveEndpointsError is a Forbidden error; dockerd 20.10 lab).
    if (eps.length) throw new HakoError({ step: `error while removing network: network ${net.name} id ${net.id} has active endpoints`, hint: `in use by ${eps.map((e) => e.containerName).join(', ')}`, kind: 'forbidden' });
    await this.mgr.removeNetwork(net.id);
    return { id: net.id, name: net.name };
  }

  /** POST /networks/prune: user networks without endpoints, filtered by until/label (prune-filters.ts). */
  async prune(filters: Filters): Promise<Array<{ id: string; name: string }>> {
    // Read up front like dockerd (nothing to prune refuses a bad filter too).
    const f = parsePruneFilters(filters);
    if (this.initError) return [];
    const removed: Array<{ id: string; name: string }> = [];
    for (const n of this.mgr.listNetworks()) {
      if (n.isDefault || this.mgr.endpointsOf(n.id).length) continue;
      if (!pruneMatches(Date.parse(n.created), n.labels, f)) continue;
      await this.mgr.removeNetwork(n.id);
      removed.push({ id: n.id, name: n.name });
    }
    return removed;
  }

  /** For `info`. */
  ipForwarding(): boolean {
    return readText('/proc/sys/net/ipv4/ip_forward').trim() === '1';
  }
}


