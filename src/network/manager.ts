// NetworkManager: docker's bridge networking as a library for the engine. Everything it creates
// is recorded in <root>/network-state.json (written atomically) BEFORE it is relied upon, so a
// crash leaves state that reconcile() can finish or undo. Kernel objects: one bridge per network
// (rtnetlink), one veth pair per endpoint (rtnetlink, the peer created directly in the container's
// netns), one nftables table for every rule (one netlink transaction per change), two per-bridge
// sysctls (forwarding, route_localnet). Attaching a container without published ports touches no
// firewall rule: masquerade and forwarding rules are per subnet/bridge.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HakoError, conflict, fromSystemError, invalid, notFound } from '../common/errors.js';
import { addonErrno } from '../native/addon.js';
import { EmbeddedDns } from './dns-server.js';
import { lookupName, ownUpstreams, reverseName } from './dns-names.js';
import { allocate, newPool, pickFreeSubnet, release, type PoolState } from './ipam.js';
import { parseCidr, formatIp, cidrLast } from './ipv4.js';
import { macForIp, parseMac } from './mac.js';
import { AF_INET, SOCK_DGRAM, SOCK_STREAM, netNative } from './native-net.js';
import { NftFirewall, isSafeName, type BridgeIsolation, type RulesetNetwork } from './nftables.js';
import { IptablesForward, type ForwardNetwork, type ForwardSyncResult } from './iptables-forward.js';
import { forwardDropChains } from './nft/list-chains.js';
import { portOwner, tcpPortHasOnlyConnections } from './port-owner.js';
import { isV6Mapping, type PortMapping, type PortSpec, type Proto } from './ports.js';
import { ipv6Enabled, startProxy, type UserlandProxy } from './userland-proxy.js';
import { containerResolvConf, parseAddHost, parseResolvConf, renderHosts, type HostsEntry } from './hosts-files.js';
import { RtNetlink, addAddress, addDefaultRoute, deleteLink, newBridge, newVeth, setBridgePort, setLinkMtu, setLinkUp } from './rtnetlink.js';
import { BRIDGE_NAME_OPTION, ICC_OPTION, parseBridgeOptions, storedBridgeOptions } from './bridge-options.js';
import { monotonicMs, nowRfc3339Nano } from '../common/time.js';

export { BRIDGE_NAME_OPTION, MASQUERADE_OPTION } from './bridge-options.js';

export interface NetworkRecord {
  id: string;
  name: string;
  driver: 'bridge';
  bridge: string;
  subnet: string;
  gateway: string;
  ipRange: string;
  internal: boolean;
  /** Shown in inspect as the client asked (swarm's flag: nothing changes on a local bridge). */
  attachable?: boolean;
  /** The default `bridge` network: no embedded DNS (docker's legacy behaviour). */
  isDefault: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string;
  mtu: number;
  pool: PoolState;
  /**
   * What inspect's IPAM shows as dockerd does, the request's own: its IPAM.Options (null when it
   * sent none), and the gateway only if given or the subnet was picked (a --subnet without
   * --gateway shows none). Absent (older records): Options null, the gateway shown.
   */
  ipamOptions?: Record<string, string> | null;
  gatewayShown?: boolean;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  containerId: string;
  containerName: string;
  /** Path of the container's netns (/proc/<pid>/ns/net or a bind mount) and its inode at connect. */
  nsPath: string;
  nsIno: number;
  ifName: string;
  hostVeth: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  aliases: string[];
  /** The container's hostname when not its short ID: the embedded DNS answers it (dns-names.ts). */
  hostname?: string | undefined;
  ports: PortMapping[];
  /** The container's own upstream resolvers for the embedded DNS (--dns); default: the daemon's. */
  dns?: string[] | undefined;
  /** --link on this network: `alias` resolves, for this container only, to container `name`. */
  links?: Array<{ name: string; alias: string }> | undefined;
  /**
   * Default bridge only: the containers (IDs) this one has legacy links to, and its own exposed
   * ports. Under --icc=false they open the linked containers' exposed ports to it (the rules
   * exist while both endpoints do).
   */
  legacyLinks?: string[] | undefined;
  exposed?: Array<{ port: number; proto: Proto }> | undefined;
}

export interface Endpoint {
  id: string;
  network: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifName: string;
  hostVeth: string;
}

export interface CreateNetworkOptions {
  name: string;
  subnet?: string | undefined;
  gateway?: string | undefined;
  ipRange?: string | undefined;
  internal?: boolean | undefined;
  attachable?: boolean | undefined;
  labels?: Record<string, string> | undefined;
  /**
   * -o options (src/network/bridge-options.ts, checked as dockerd does): bridge.name picks the
   * bridge device name, driver.mtu the MTU of the bridge and of both ends of every veth,
   * enable_icc=false isolates the containers from each other, enable_ip_masquerade=false
   * leaves outbound traffic unmasqueraded, host_binding_ipv4 is the host address of published
   * ports that name none.
   */
  options?: Record<string, string> | undefined;
  /** The MTU when the options give none (the default network: dockerd's --mtu); 0: 1500. */
  mtu?: number | undefined;
  /** Internal: marks the default `bridge` network. */
  isDefault?: boolean | undefined;
  /** The request's IPAM.Options (only shown by inspect: the default IPAM driver takes none). */
  ipamOptions?: Record<string, string> | null | undefined;
}

export interface ConnectOptions {
  containerId: string;
  containerName?: string | undefined;
  /** The container's netns: a path, or the pid of a process inside it. */
  netns: string | number;
  /**
   * The netns path the endpoint records (/proc/<pid>/ns/net) when `netns` is another way to the
   * same namespace (an fd of it, /proc/self/fd/<n>, while the container's process is still on
   * its way in): the work is done through `netns`, the record names this.
   */
  recordNetnsAs?: string;
  network: string;
  ip?: string | undefined;
  mac?: string | undefined;
  aliases?: string[] | undefined;
  /** See EndpointRecord.hostname. */
  hostname?: string | undefined;
  /** Upstream resolvers the embedded DNS uses for this container (docker's --dns on a user network). */
  dns?: string[] | undefined;
  /** Links on this network (see EndpointRecord.links). */
  links?: Array<{ name: string; alias: string }> | undefined;
  /** Legacy links and exposed ports (see EndpointRecord.legacyLinks); kept on the default network only. */
  legacyLinks?: string[] | undefined;
  exposed?: Array<{ port: number; proto: Proto }> | undefined;
}

export interface NetworkManagerOptions {
  /** State directory (network-state.json). */
  root: string;
  /** nftables table name (`table ip <name>`); default `hako`. */
  nftTable?: string | undefined;
  /** Prefix of user network bridges (`<prefix><id12>` unless -o bridge.name); default `hk-`. */
  bridgePrefix?: string | undefined;
  /** Prefix of host-side veth names (`<prefix><8 hex>`); default `hkv`. At most 6 characters. */
  vethPrefix?: string | undefined;
  /** Default network: name and bridge device; default `bridge` / `hako0`. null: none. */
  /**
   * `icc: false` (dockerd --icc=false): containers on it reach each other only through legacy
   * links' exposed ports (rules in `table bridge <nftTable>`); its Options say enable_icc=false.
   */
  defaultNetwork?: { name: string; bridge: string; subnet?: string | undefined; gateway?: string | undefined; mtu?: number | undefined; icc?: boolean | undefined } | null | undefined;
  /** The host resolv.conf (upstreams, search domains); default /etc/resolv.conf. */
  resolvConf?: string | undefined;
  /** Upstreams for the embedded DNS instead of the host's resolv.conf (`ip` or `ip:port`). */
  upstreamDns?: string[] | undefined;
  /**
   * 'global' sets net.ipv4.ip_forward=1 (as docker) and restores the old value when the last
   * network goes; 'bridge' only sets forwarding on our own bridges (enough for container→
   * container and outbound when the uplink already forwards). Default 'global'.
   */
  ipForward?: 'global' | 'bridge' | undefined;
  /** Hold published host ports with a bound socket so no host process can take them; default true. */
  holdPorts?: boolean | undefined;
  /**
   * Keep accept rules for hako's bridges in the host's iptables FORWARD chain (a chain of hako's
   * own and a jump to it; see iptables-forward.ts), like dockerd's --iptables. Default true.
   * false: hako adds nothing to iptables; its own nft table is unaffected.
   */
  iptables?: boolean | undefined;
  /**
   * dockerd's --userland-proxy (default true): IPv6 bindings (the [::] side of a binding without
   * a host address, IPv6 host addresses) are served by hakod's userland proxy. false, as dockerd
   * 20.10 without ip6tables and containers without IPv6 addresses: IPv4 only; a binding on an
   * IPv6 host address publishes nothing.
   */
  userlandProxy?: boolean | undefined;
  /** Where problems that do not fail an operation go (a stale iptables rule left behind). */
  warn?: ((msg: string) => void) | undefined;
  /** The engine's phase trace (profiling, and tests' crash points: src/engine/phase-trace.ts). */
  mark?: ((phase: string) => void) | undefined;
}

interface State {
  version: 1;
  networks: Record<string, NetworkRecord>;
  endpoints: Record<string, EndpointRecord>;
  /** The value of net.ipv4.ip_forward before we set it, restored with the last network. */
  savedIpForward?: string | undefined;
}

/** Timings of the last operations, in ms (benchmarks and the report). */
export interface Timings {
  [op: string]: number;
}

const PROC_CONF = '/proc/sys/net/ipv4/conf';
/** dockerd's DefaultNetworkMtu: networks without an MTU of their own, and --mtu 0. */
export const DEFAULT_MTU = 1500;

export class NetworkManager {
  readonly root: string;
  readonly table: string;
  readonly bridgePrefix: string;
  readonly vethPrefix: string;
  readonly timings: Timings = {};
  private readonly statePath: string;
  private state: State = { version: 1, networks: {}, endpoints: {} };
  private nl: RtNetlink | undefined;
  private readonly firewall: NftFirewall;
  private readonly holders = new Map<string, number>(); // "ip:port/proto" → fd
  /** The userland proxies of IPv6 mappings ("ip:port/proto" → proxy, or its start in progress). */
  private readonly proxies = new Map<string, Promise<UserlandProxy | undefined>>();
  /** hako's FORWARD exceptions; undefined with iptables: false or without an iptables binary. */
  readonly forward: IptablesForward | undefined;
  /** Why there are no FORWARD exceptions: 'disabled' (iptables: false) or 'missing' (no binary). */
  readonly forwardOff: 'disabled' | 'missing' | undefined;
  /** iptables syncs run one at a time, each from the state of its own moment. */
  private forwardQueue: Promise<unknown> = Promise.resolve();
  /** The sync started by init() (daemon start), running while the rest of the start-up goes on. */
  forwardStartup: Promise<ForwardSyncResult | undefined> = Promise.resolve(undefined);
  private closed = false;
  /** A saveSoon() to come (setImmediate handle). */
  private pendingSave: NodeJS.Immediate | undefined;
  private readonly linkWaits = new Set<Promise<void>>();
  readonly dns: EmbeddedDns;

  constructor(private readonly opts: NetworkManagerOptions) {
    this.root = opts.root;
    this.table = opts.nftTable ?? 'hako';
    this.bridgePrefix = opts.bridgePrefix ?? 'hk-';
    this.vethPrefix = opts.vethPrefix ?? 'hkv';
    if (!isSafeName(this.table)) throw invalid(`invalid nftables table name "${this.table}"`);
    this.firewall = new NftFirewall(this.table);
    const iptables = opts.iptables === false ? undefined : IptablesForward.find();
    this.forward = iptables ? new IptablesForward(this.table, iptables) : undefined;
    this.forwardOff = opts.iptables === false ? 'disabled' : iptables ? undefined : 'missing';
    if (this.vethPrefix.length > 6 || !isSafeName(this.vethPrefix)) throw invalid(`invalid veth prefix "${this.vethPrefix}"`, 'at most 6 characters of [A-Za-z0-9_.-]');
    this.statePath = join(this.root, 'network-state.json');
    this.dns = new EmbeddedDns({ table: () => this.state, upstreamDns: opts.upstreamDns, resolvConf: opts.resolvConf, warn: opts.warn });
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Loads the state and reconciles it with the kernel (after a clean stop or a crash). */
  async init(): Promise<ReconcileReport> {
    mkdirSync(this.root, { recursive: true });
    if (existsSync(this.statePath)) {
      try {
        this.state = JSON.parse(readFileSync(this.statePath, 'utf8')) as State;
      } catch (err) {
        throw new HakoError({ step: 'read the network state', path: this.statePath, hint: `${(err as Error).message}; move the file away to start from scratch`, kind: 'internal' });
      }
    }
    const report = await this.reconcile();
    const d = this.opts.defaultNetwork === undefined ? { name: 'bridge', bridge: 'hako0' } : this.opts.defaultNetwork;
    const iccOff: Record<string, string> = d?.icc === false ? { [ICC_OPTION]: 'false' } : {};
    if (d && !this.find(d.name)) {
      await this.createNetwork({ name: d.name, subnet: d.subnet, gateway: d.gateway, options: { [BRIDGE_NAME_OPTION]: d.bridge, ...iccOff }, mtu: d.mtu, isDefault: true }, { forward: false });
    } else if (d) {
      // dockerd makes its default network from the flags at every start: a changed --mtu applies
      // to the bridge and to containers connected from now on, a changed --icc at once (the
      // rules below are made from it).
      const net = this.find(d.name);
      if (net?.isDefault && d.mtu && net.mtu !== d.mtu) this.setNetworkMtu(net, d.mtu);
      if (net?.isDefault && (net.options[ICC_OPTION] === 'false') !== (d.icc === false)) {
        delete net.options[ICC_OPTION];
        Object.assign(net.options, iccOff);
        this.save();
        this.applyFirewall();
      }
    }
    // The iptables exceptions are reconciled (stale rules out, missing ones in, the jump back on
    // top) by child processes while the caller goes on with its start-up; forwardStartup says
    // when they are done. Network changes queue behind it.
    this.forwardStartup = this.syncForward(true);
    this.forwardStartup.catch(() => undefined);
    return report;
  }

  /** The networks as hako's FORWARD exceptions see them. */
  private forwardNetworks(): ForwardNetwork[] {
    return this.listNetworks().map((n) => ({ name: n.name, bridge: n.bridge, internal: n.internal }));
  }

  /** Makes hako's iptables chain match the networks of now (queued behind earlier syncs). */
  syncForward(top = false): Promise<ForwardSyncResult | undefined> {
    const fwd = this.forward;
    if (!fwd) return Promise.resolve(undefined);
    const next = this.forwardQueue.then(
      () => fwd.sync(this.forwardNetworks(), { top }),
      () => fwd.sync(this.forwardNetworks(), { top }),
    );
    this.forwardQueue = next.catch(() => undefined);
    return next.then((r) => {
      this.timings.iptablesSync = r.ms;
      return r;
    });
  }

  /**
   * Base chains of other tables that drop forwarded traffic while hako adds no exception there
   * (iptables: false, or no iptables binary): what the daemon warns about. iptables-legacy
   * chains are not visible here.
   */
  forwardBlockers(): string[] {
    if (this.forward) return [];
    try {
      return forwardDropChains(this.table).map((c) => `table ${c.family} ${c.table} chain ${c.chain} (hook forward, priority ${c.priority}, policy drop)`);
    } catch {
      return [];
    }
  }

  /** Waits for queued iptables syncs (daemon stop: no iptables process left behind). */
  async drain(): Promise<void> {
    await this.forwardQueue;
  }

  /** Stops the DNS servers and releases port holders and the netlink socket; kernel state stays. */
  close(): void {
    this.flushSave();
    this.closed = true;
    this.dns.stopAll();
    for (const fd of this.holders.values()) netNative().close(fd);
    this.holders.clear();
    for (const p of this.proxies.values()) void p.then((x) => x?.close());
    this.proxies.clear();
    this.nl?.close();
    this.nl = undefined;
    this.firewall.close();
  }

  private netlink(): RtNetlink {
    this.nl ??= RtNetlink.open();
    return this.nl;
  }

  private save(): void {
    this.pendingSave = undefined;
    const tmp = `${this.statePath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(this.state));
      renameSync(tmp, this.statePath);
    } catch (err) {
      // A full data root (ENOSPC, EDQUOT) fails the write after the temp file was created: it
      // goes, and the file on disk keeps the last state saved. The caller undoes its change.
      try {
        unlinkSync(tmp);
      } catch {
        // not created
      }
      throw fromSystemError(`write ${this.statePath}`, err, this.statePath);
    }
    // The DNS thread answers from a copy of the names: it gets the new one (when they changed).
    this.dns.tableChanged();
  }

  /**
   * save() of a change just made in memory; when it fails, `undo` takes the change back so the
   * daemon's view stays what the file holds (a network that the answer says failed must not be
   * listed, nor come back at the next start).
   */
  private saveOrUndo(undo: () => void): void {
    try {
      this.save();
    } catch (err) {
      undo();
      throw err;
    }
  }

  /**
   * save() while undoing a failed change: the first error is the one to report, and the undo's
   * other steps (links, DNS, rules) must still run. On a failure the file may still hold the
   * change: any later save() writes the state of then, and a start drops what names nothing real.
   */
  private saveQuietly(): void {
    try {
      this.save();
    } catch (err) {
      this.opts.warn?.(`network state not saved while undoing a failed change: ${(err as Error).message}`);
    }
  }

  /**
   * save() on the next loop turn, for releases only (an exited container's endpoints): the
   * write + rename makes a new inode on the data root, ~1 ms here (more under load), which the
   * exit's and the removal's answers need not wait for. Safe to lose: a state file that still
   * holds an endpoint of a container that is gone is cleaned up by the engine's start (sweep), and
   * any save() meanwhile writes the release too. The DNS table changes at once.
   */
  private saveSoon(): void {
    this.dns.tableChanged();
    this.pendingSave ??= setImmediate(() => {
      if (this.pendingSave) this.save();
    });
  }

  /** A saveSoon() not done yet, now. */
  private flushSave(): void {
    if (!this.pendingSave) return;
    clearImmediate(this.pendingSave);
    this.save();
  }

  // ---- networks -----------------------------------------------------------------------------

  listNetworks(): NetworkRecord[] {
    return Object.values(this.state.networks);
  }

  /** By exact id, exact name, or unique id prefix (docker's rules). */
  find(ref: string): NetworkRecord | undefined {
    const nets = this.listNetworks();
    const exact = nets.find((n) => n.id === ref) ?? nets.find((n) => n.name === ref);
    if (exact) return exact;
    const byPrefix = nets.filter((n) => n.id.startsWith(ref));
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  /** docker network inspect, roughly: the record plus its containers. */
  inspect(ref: string): NetworkRecord & { containers: Record<string, { name: string; ip: string; mac: string; endpointId: string }> } {
    const n = this.get(ref);
    const containers: Record<string, { name: string; ip: string; mac: string; endpointId: string }> = {};
    for (const e of this.endpointsOf(n.id)) containers[e.containerId] = { name: e.containerName, ip: `${e.ip}/${e.prefixLen}`, mac: e.mac, endpointId: e.id };
    return { ...n, containers };
  }

  /** Host routes, addresses and resolvers, plus our networks: what a new subnet must avoid. */
  hostAddressSpace(): string[] {
    const nl = this.netlink();
    const used: string[] = [];
    // The local table (255) only repeats the addresses (plus broadcast entries).
    for (const r of nl.routes()) if (r.dstLen > 0 && r.table !== 255) used.push(`${r.dst}/${r.dstLen}`);
    for (const a of nl.addresses()) used.push(`${a.address}/${a.prefixLen}`);
    for (const ns of this.hostResolv().nameservers) if (/^\d+\.\d+\.\d+\.\d+$/.test(ns)) used.push(ns);
    for (const n of this.listNetworks()) used.push(n.subnet);
    return used;
  }

  /** `how.forward: false`: leave the iptables exceptions to the caller (init's one sync). */
  async createNetwork(o: CreateNetworkOptions, how: { forward?: boolean } = {}): Promise<NetworkRecord> {
    const t0 = monotonicMs();
    // dockerd takes any name ("bad name!", "a/b", "ümlaut"): the name is never a device, file or
    // rule name here (bridges are named from the id; the iptables comment is sanitised).
    if (o.name.trim() === '') throw invalid('network name is required', 'pass a name: docker network create NAME');
    if (this.listNetworks().some((n) => n.name === o.name)) throw conflict(`network with name ${o.name} already exists`);
    if (['none', 'host'].includes(o.name) || (o.name === 'bridge' && !o.isDefault)) throw conflict(`network name ${o.name} is reserved`);
    const id = randomBytes(32).toString('hex');
    const options = { ...(o.options ?? {}) };
    const parsed = parseBridgeOptions(options);
    // dockerd 20.10: a network without -o driver.mtu gets 1500, whatever the uplink's MTU and
    // the daemon's --mtu (that one is the default bridge's: o.mtu).
    const mtu = parsed.mtu > 0 ? parsed.mtu : o.mtu && o.mtu > 0 ? o.mtu : DEFAULT_MTU;
    // The kernel's range (68–65535 for a bridge) is its own to check: EINVAL from the create.
    // Only what would not fit the netlink attribute is refused here, in the same words.
    if (mtu > 0x7fffffff) throw new HakoError({ step: `create bridge with MTU ${mtu}`, errno: 22 });
    const bridge = options[BRIDGE_NAME_OPTION] ?? `${this.bridgePrefix}${id.slice(0, 15 - this.bridgePrefix.length)}`;
    if (!isSafeName(bridge)) throw invalid(`invalid bridge name "${bridge}"`, 'at most 15 characters of [A-Za-z0-9_.-]');
    if (this.listNetworks().some((n) => n.bridge === bridge)) throw conflict(`bridge ${bridge} is already used by another network`);
    const nl = this.netlink();
    if (nl.link(bridge)) throw conflict(`a network interface named ${bridge} already exists on the host`, 'pick another -o com.docker.network.bridge.name');
    const used = this.hostAddressSpace();
    const subnet = o.subnet ?? pickFreeSubnet(used);
    if (o.subnet) {
      const c = parseCidr(o.subnet);
      const clash = this.listNetworks().find((n) => {
        const s = parseCidr(n.subnet);
        return c.base <= cidrLast(s) && s.base <= cidrLast(c);
      });
      // dockerd's (libnetwork's) words and status (403), naming no network.
      if (clash) throw new HakoError({ step: 'Pool overlaps with other one on this address space', kind: 'forbidden' });
    }
    const pool = newPool({ subnet, gateway: o.gateway, ipRange: o.ipRange });
    const net: NetworkRecord = {
      id,
      name: o.name,
      driver: 'bridge',
      bridge,
      subnet: pool.subnet,
      gateway: pool.gateway,
      ipRange: pool.ipRange,
      internal: !!o.internal,
      ...(o.attachable ? { attachable: true } : {}),
      isDefault: !!o.isDefault,
      labels: { ...(o.labels ?? {}) },
      options,
      // dockerd's Created: a time.Time in ns (Go's RFC3339Nano).
      created: nowRfc3339Nano(),
      mtu,
      ipamOptions: o.ipamOptions ?? null,
      gatewayShown: !!o.isDefault || o.subnet === undefined || o.gateway !== undefined,
      pool,
    };
    // Record first: a crash after this point leaves a network reconcile() re-creates or finishes.
    this.state.networks[id] = net;
    this.saveOrUndo(() => delete this.state.networks[id]);
    this.opts.mark?.('net.network-recorded');
    try {
      // iptables first, while no nft transaction of ours is settling: with the nft backend an
      // iptables process's exit (closing its netlink socket) waits for the release of what an
      // earlier transaction deleted (an RCU grace period, see NftFirewall); our table replace
      // right before it made a network create 4 ms → 33 ms here. A failure anywhere undoes the
      // network (the re-sync below removes the rules again).
      if (how.forward !== false) await this.syncForward();
      this.ensureBridge(net);
      this.enableForwarding();
      this.applyFirewall();
    } catch (err) {
      delete this.state.networks[id];
      this.saveQuietly();
      this.deleteLinkQuietly(bridge);
      try {
        this.applyFirewall();
      } catch {
        // the original error matters more
      }
      // A failed iptables change applied nothing; one that failed later than that is undone here.
      await this.syncForward().catch(() => undefined);
      this.restoreForwarding();
      throw err;
    }
    this.timings.createNetwork = monotonicMs() - t0;
    return net;
  }

  private ensureBridge(net: NetworkRecord): void {
    const nl = this.netlink();
    let link = nl.link(net.bridge);
    if (!link) {
      nl.exec([newBridge(net.bridge, net.mtu)]);
      link = nl.link(net.bridge);
      if (!link) throw new HakoError({ step: `create bridge ${net.bridge}`, hint: 'the bridge vanished right after creation', kind: 'internal' });
    } else if (link.kind !== 'bridge') {
      throw conflict(`interface ${net.bridge} exists and is not a bridge (${link.kind || 'unknown kind'})`);
    }
    const prefix = parseCidr(net.subnet).prefix;
    const broadcast = formatIp(cidrLast(parseCidr(net.subnet)));
    nl.exec([addAddress(link.index, net.gateway, prefix, broadcast, `add address ${net.gateway}/${prefix} to ${net.bridge}`), setLinkUp(link.index)], [17 /* EEXIST */]);
    // Per-bridge sysctls: forward what comes from the containers; accept 127.0.0.1-sourced
    // packets routed out of the bridge (published ports reached through localhost: DNAT on output).
    this.writeSysctl(`${PROC_CONF}/${net.bridge}/forwarding`, '1');
    this.writeSysctl(`${PROC_CONF}/${net.bridge}/route_localnet`, '1');
  }

  /** A new MTU for a network: recorded, then set on its bridge (veths made from now on get it). */
  private setNetworkMtu(net: NetworkRecord, mtu: number): void {
    if (mtu > 0x7fffffff) throw new HakoError({ step: `set MTU ${mtu} on bridge ${net.bridge}`, errno: 22 });
    const nl = this.netlink();
    const link = nl.link(net.bridge);
    if (link) nl.exec([setLinkMtu(link.index, mtu, `set MTU ${mtu} on bridge ${net.bridge}`)]);
    net.mtu = mtu;
    this.save();
  }

  private writeSysctl(path: string, value: string): void {
    try {
      writeFileSync(path, value);
    } catch (err) {
      throw new HakoError({ step: `write ${value} to ${path}`, path, errno: addonErrno(err) ?? Math.abs((err as NodeJS.ErrnoException).errno ?? 0), cause: err });
    }
  }

  private enableForwarding(): void {
    if ((this.opts.ipForward ?? 'global') !== 'global') return;
    const path = '/proc/sys/net/ipv4/ip_forward';
    const cur = readFileSync(path, 'utf8').trim();
    if (cur === '1') return;
    this.state.savedIpForward = cur;
    this.save();
    this.writeSysctl(path, '1');
  }

  private restoreForwarding(): void {
    if (this.state.savedIpForward === undefined || this.listNetworks().length > 0) return;
    this.writeSysctl('/proc/sys/net/ipv4/ip_forward', this.state.savedIpForward);
    this.state.savedIpForward = undefined;
    this.save();
  }

  async removeNetwork(ref: string): Promise<void> {
    const net = this.get(ref);
    const eps = this.endpointsOf(net.id);
    if (eps.length) throw conflict(`network ${net.name} has active endpoints (${eps.map((e) => e.containerName).join(', ')})`, 'disconnect or remove those containers first');
    delete this.state.networks[net.id];
    this.saveOrUndo(() => (this.state.networks[net.id] = net));
    this.opts.mark?.('net.network-unrecorded');
    // Started first: the iptables processes run while the bridge's deletion waits for the kernel.
    // The network is gone either way; a rule left behind (it names a bridge that no longer
    // exists) goes with the next sync or at the next daemon start.
    const forward = this.syncForward().catch((err: Error) => this.opts.warn?.(`network ${net.name} removed, but its iptables forward rules stay until the next change: ${err.message}`));
    this.deleteLinkQuietly(net.bridge);
    this.applyFirewall();
    this.restoreForwarding();
    await forward;
  }

  /** Removes every network without endpoints except the default one; returns their names. */
  async pruneNetworks(filter?: (n: NetworkRecord) => boolean): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.listNetworks()) {
      if (n.isDefault || this.endpointsOf(n.id).length || (filter && !filter(n))) continue;
      await this.removeNetwork(n.id);
      removed.push(n.name);
    }
    return removed;
  }

  private deleteLinkQuietly(name: string): void {
    try {
      this.netlink().exec([deleteLink(name)], [19 /* ENODEV */]);
    } catch {
      // already gone
    }
  }

  // ---- endpoints ----------------------------------------------------------------------------

  endpointsOf(networkId: string): EndpointRecord[] {
    return Object.values(this.state.endpoints).filter((e) => e.networkId === networkId);
  }

  endpointsOfContainer(containerId: string): EndpointRecord[] {
    return Object.values(this.state.endpoints).filter((e) => e.containerId === containerId);
  }

  /** Attaches a running container's netns to a network: veth, address, MAC, MTU, route, DNS. */
  async connect(o: ConnectOptions): Promise<Endpoint> {
    const t0 = monotonicMs();
    const net = this.get(o.network);
    if (this.endpointsOfContainer(o.containerId).some((e) => e.networkId === net.id)) throw conflict(`container ${o.containerId} is already connected to network ${net.name}`);
    const nsPath = typeof o.netns === 'number' ? `/proc/${o.netns}/ns/net` : o.netns;
    const containerName = o.containerName ?? o.containerId.slice(0, 12);
    const epId = randomBytes(32).toString('hex');
    const hostVeth = `${this.vethPrefix}${createHash('sha256').update(epId).digest('hex').slice(0, 8)}`;
    if (o.mac) parseMac(o.mac);
    const ip = allocate(net.pool, epId, o.ip);
    const prefixLen = parseCidr(net.subnet).prefix;
    const mac = o.mac ?? macForIp(ip);
    let nsFd = -1;
    let inner: RtNetlink | undefined;
    let dnsKey = '';
    let firewalled = false;
    if (!net.isDefault) this.dns.prepare();
    try {
      try {
        nsFd = openSync(nsPath, 'r');
      } catch (err) {
        throw new HakoError({ step: `open the network namespace of ${containerName}`, path: nsPath, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 2), hint: 'is the container running?' });
      }
      inner = RtNetlink.open({ nsFd });
      // The first free ethN inside the netns (a netns may be shared: --network container:<id>).
      const usedIf = new Set(inner.links().map((l) => l.name));
      let ifIndex = 0;
      while (usedIf.has(`eth${ifIndex}`)) ifIndex++;
      const ep: EndpointRecord = {
        id: epId, networkId: net.id, containerId: o.containerId, containerName, nsPath: o.recordNetnsAs ?? nsPath, nsIno: fstatSync(nsFd).ino,
        ifName: `eth${ifIndex}`, hostVeth, ip, prefixLen, gateway: net.gateway, mac, aliases: [...(o.aliases ?? [])], ports: [],
        ...(o.hostname ? { hostname: o.hostname } : {}),
        ...(o.dns && o.dns.length ? { dns: [...o.dns] } : {}),
        ...(o.links && o.links.length ? { links: o.links.map((l) => ({ ...l })) } : {}),
        ...(net.isDefault && o.legacyLinks?.length ? { legacyLinks: [...o.legacyLinks] } : {}),
        ...(net.isDefault && o.exposed?.length ? { exposed: o.exposed.map((p) => ({ ...p })) } : {}),
      };
      // Recorded (with the IP) before the kernel work; reconcile() cleans up a half-made one.
      this.state.endpoints[epId] = ep;
      this.save();
      this.opts.mark?.('net.endpoint-recorded');
      // --icc=false: the port's drop (and its links' accepts) are in place before the port
      // exists (nft matches interface names, present or not), so no frame passes in between.
      if (this.filtered(net)) {
        firewalled = true;
        this.applyFirewall();
      }
      const nl = this.netlink();
      const br = nl.link(net.bridge);
      if (!br) throw new HakoError({ step: `connect ${containerName} to ${net.name}`, hint: `bridge ${net.bridge} is missing; restart the daemon to reconcile`, kind: 'internal' });
      // enable_icc=false: the port is isolated, so the bridge forwards nothing between it and the
      // other (isolated) containers' ports, while traffic to and from the host (the bridge device
      // itself, routed: published ports, the gateway) is untouched. dockerd gets the same with an
      // iptables `-i br -o br -j DROP`, which needs br_netfilter and bridge-nf-call-iptables=1
      // for the whole host (bridged frames otherwise never reach iptables).
      // (The default bridge's enable_icc=false is hakod --icc=false: firewall rules instead, see
      // filtered(); port isolation would block its legacy links too.)
      const isolated = !net.isDefault && !storedBridgeOptions(net.options).icc;
      nl.exec([newVeth({ hostName: hostVeth, peerName: ep.ifName, peerNsFd: nsFd, peerMac: parseMac(mac), mtu: net.mtu, bridgeIndex: br.index }), setBridgePort(hostVeth, { hairpin: true, isolated })]);
      this.opts.mark?.('net.veth-made');
      if (isolated && !nl.link(hostVeth)?.isolated) {
        throw new HakoError({ step: `isolate bridge port ${hostVeth} (com.docker.network.bridge.enable_icc=false)`, hint: 'this kernel has no bridge port isolation (Linux 4.18 or later)', kind: 'internal' });
      }
      {
        const eth = inner.link(ep.ifName);
        if (!eth) throw new HakoError({ step: `find ${ep.ifName} in ${nsPath}`, kind: 'internal' });
        const reqs = [setLinkUp(1, 'set lo up'), setLinkUp(eth.index, `set ${ep.ifName} up`), addAddress(eth.index, ip, prefixLen, formatIp(cidrLast(parseCidr(net.subnet))))];
        // The first network gives the default route (docker: the first connected network that is
        // not internal); later ones only their subnet route.
        const hasDefault = inner.routes().some((r) => r.dstLen === 0 && r.table === 254);
        if (!net.internal && !hasDefault) reqs.push(addDefaultRoute(net.gateway, eth.index));
        inner.exec(reqs, [17 /* EEXIST */]);
      }
      this.opts.mark?.('net.addressed');
      dnsKey = String(this.state.endpoints[epId]!.nsIno);
      // Resolves once the DNS thread answers there with the names of now (this endpoint's too).
      if (!net.isDefault) await this.dns.start(dnsKey, nsPath);
      else await this.dns.synced();
      this.timings.connect = monotonicMs() - t0;
      return this.toEndpoint(ep, net);
    } catch (err) {
      delete this.state.endpoints[epId];
      release(net.pool, ip, epId);
      this.saveQuietly();
      this.deleteLinkQuietly(hostVeth);
      if (dnsKey) this.stopDnsIfUnused(dnsKey);
      if (firewalled) {
        try {
          this.applyFirewall();
        } catch {
          // the original error matters more; a rule naming a gone port matches nothing
        }
      }
      throw err;
    } finally {
      inner?.close();
      if (nsFd >= 0) closeSync(nsFd);
    }
  }

  /** Sets lo up inside a netns (docker's `--network none`: loopback only, but working). */
  loopbackUp(netns: string | number): void {
    const nsPath = typeof netns === 'number' ? `/proc/${netns}/ns/net` : netns;
    let nsFd = -1;
    let inner: RtNetlink | undefined;
    try {
      try {
        nsFd = openSync(nsPath, 'r');
      } catch (err) {
        throw new HakoError({ step: 'open the network namespace', path: nsPath, errno: Math.abs((err as NodeJS.ErrnoException).errno ?? 2), hint: 'is the container running?' });
      }
      inner = RtNetlink.open({ nsFd });
      inner.exec([setLinkUp(1, 'set lo up')]);
    } finally {
      inner?.close();
      if (nsFd >= 0) closeSync(nsFd);
    }
  }

  private toEndpoint(e: EndpointRecord, net: NetworkRecord): Endpoint {
    return { id: e.id, network: net.name, ip: e.ip, prefixLen: e.prefixLen, gateway: e.gateway, mac: e.mac, ifName: e.ifName, hostVeth: e.hostVeth };
  }

  /** Detaches: deletes the veth (both ends), releases the IP, ports and DNS names. */
  async disconnect(containerId: string, network: string): Promise<void> {
    const net = this.get(network);
    const ep = this.endpointsOfContainer(containerId).find((e) => e.networkId === net.id);
    if (!ep) throw notFound(`container ${containerId} is not connected to network ${net.name}`);
    this.dropEndpoint(ep);
    if (ep.ports.length || this.filtered(net)) this.applyFirewall();
    // Once this resolves the DNS thread no longer knows the endpoint.
    await this.dns.synced();
  }

  /**
   * Disconnects a container from everything (container removal / stop). When its netns is gone
   * (the container exited) the kernel removes the veth pair itself, asynchronously, once the netns
   * is destroyed; that is awaited instead of an RTM_DELLINK, which would block the event loop for
   * an RCU grace period (10–20 ms here) per veth. A pair still there after 1 s is deleted.
   */
  /**
   * `awaitLinks: false`: returns once the endpoints, addresses and ports are released; the host
   * ends of exited containers' veths, which the kernel removes with their netns, are awaited
   * (and deleted if they linger) in the background (linksSettled()). Addresses are handed out
   * serially (ipam.allocate), so the released one is not reused while its old link goes.
   */
  async releaseContainer(containerId: string, opts: { awaitLinks?: boolean } = {}): Promise<void> {
    const eps = this.endpointsOfContainer(containerId);
    const vanishing: string[] = [];
    for (const ep of eps) {
      const gone = !this.nsAlive(ep);
      this.dropEndpoint(ep, gone, gone);
      if (gone) vanishing.push(ep.hostVeth);
    }
    if (eps.some((e) => e.ports.length || this.filtered(this.state.networks[e.networkId]))) this.applyFirewall();
    if (eps.length) await this.dns.synced();
    if (!vanishing.length) return;
    if (opts.awaitLinks !== false) return this.awaitLinksGone(vanishing);
    const p: Promise<void> = this.awaitLinksGone(vanishing)
      .catch(() => undefined)
      .finally(() => this.linkWaits.delete(p));
    this.linkWaits.add(p);
  }

  /** The background link waits of releaseContainer({ awaitLinks: false }) are over. */
  async linksSettled(): Promise<void> {
    while (this.linkWaits.size > 0) await Promise.allSettled([...this.linkWaits]);
  }

  private nsAlive(ep: EndpointRecord): boolean {
    try {
      return statSync(ep.nsPath).ino === ep.nsIno;
    } catch {
      return false;
    }
  }

  private async awaitLinksGone(names: string[]): Promise<void> {
    const deadline = Date.now() + 1000;
    let left = names;
    while (left.length && Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 5));
      left = left.filter((n) => existsSync(`/sys/class/net/${n}`));
    }
    // Closed meanwhile (daemon shutdown): reconcile at the next start deletes any that remain.
    if (!this.closed) for (const n of left) this.deleteLinkQuietly(n);
  }

  /**
   * `keepLink`: the netns is gone and the kernel removes the pair (see releaseContainer).
   * `later`: its container's process is gone: saved on the next loop turn (saveSoon).
   */
  private dropEndpoint(ep: EndpointRecord, keepLink = false, later = false): void {
    const net = this.state.networks[ep.networkId];
    for (const p of ep.ports) this.releaseHolder(p);
    delete this.state.endpoints[ep.id];
    if (net) release(net.pool, ep.ip, ep.id);
    if (later) this.saveSoon();
    else this.save();
    // The DNS listener's socket holds a reference on the netns: close it first.
    this.stopDnsIfUnused(String(ep.nsIno));
    // Deleting the host end removes the pair.
    if (!keepLink) this.deleteLinkQuietly(ep.hostVeth);
  }

  /** The DNS listener of a netns (keyed by its inode) goes when no user-network endpoint uses it. */
  private stopDnsIfUnused(key: string): void {
    if (!this.askers(key).some((e) => !this.state.networks[e.networkId]?.isDefault)) this.dns.stop(key);
  }

  /** The endpoints answering for a DNS listener: every endpoint in that netns. */
  private askers(key: string): EndpointRecord[] {
    return Object.values(this.state.endpoints).filter((e) => String(e.nsIno) === key);
  }

  // ---- published ports ----------------------------------------------------------------------

  /**
   * Publishes ports of a connected container (on `network`, or its first non-internal network).
   * Host ports are chosen (random ones from ip_local_port_range), held with a bound socket, then
   * the firewall is replaced in one transaction. All-or-nothing.
   */
  async publish(containerId: string, specs: PortSpec[], network?: string): Promise<PortMapping[]> {
    const t0 = monotonicMs();
    const eps = this.endpointsOfContainer(containerId);
    const ep = network ? eps.find((e) => e.networkId === this.get(network).id) : eps.find((e) => !this.state.networks[e.networkId]?.internal);
    if (!ep) throw notFound(`container ${containerId} has no network to publish ports on`, 'connect it to a non-internal network first');
    if (this.state.networks[ep.networkId]?.internal) throw invalid(`cannot publish ports on internal network ${this.state.networks[ep.networkId]!.name}`);
    // -o host_binding_ipv4: the host address of the bindings that name none (dockerd's
    // DefaultBindingIP; 0.0.0.0, its default, keeps the usual 0.0.0.0 + [::] pair).
    const bindIp = storedBridgeOptions(this.state.networks[ep.networkId]?.options ?? {}).hostBindingIp;
    const chosen: PortMapping[] = [];
    try {
      for (const spec of specs) {
        const s = spec.dualStack && bindIp !== undefined && bindIp !== '0.0.0.0' ? { ...spec, hostIp: bindIp, dualStack: false } : spec;
        chosen.push(...(await this.choosePorts(s, ep.ip)));
      }
    } catch (err) {
      for (const m of chosen) this.releaseHolder(m);
      throw err;
    }
    ep.ports.push(...chosen);
    const unpublish = (): void => {
      ep.ports.splice(ep.ports.length - chosen.length, chosen.length);
      for (const m of chosen) this.releaseHolder(m);
    };
    this.saveOrUndo(unpublish);
    try {
      this.applyFirewall();
    } catch (err) {
      unpublish();
      this.saveQuietly();
      throw err;
    }
    this.timings.publish = monotonicMs() - t0;
    return chosen;
  }

  async unpublish(containerId: string): Promise<void> {
    let changed = false;
    for (const ep of this.endpointsOfContainer(containerId)) {
      for (const p of ep.ports) this.releaseHolder(p);
      if (ep.ports.length) changed = true;
      ep.ports = [];
    }
    if (!changed) return;
    this.save();
    this.applyFirewall();
  }

  private allMappings(): PortMapping[] {
    return Object.values(this.state.endpoints).flatMap((e) => e.ports);
  }

  private mappedBy(port: number, proto: Proto, hostIp: string): EndpointRecord | undefined {
    // Each address family on its own: 0.0.0.0 overlaps every IPv4 address, :: every IPv6 one.
    const v6 = hostIp.includes(':');
    const any = v6 ? '::' : '0.0.0.0';
    return Object.values(this.state.endpoints).find((e) =>
      e.ports.some((p) => p.hostPort === port && p.proto === proto && isV6Mapping(p) === v6 && (p.hostIp === hostIp || p.hostIp === any || hostIp === any)),
    );
  }

  /**
   * The mappings of one spec: its IPv4 one (or IPv6 one, for an IPv6 host address), and for a
   * spec without a host address, where IPv6 is enabled, the same host port on [::] through the
   * userland proxy (dockerd's default --userland-proxy=true; no ip6tables). A random port whose
   * [::] side is taken is given up for another one; an explicit one fails.
   */
  private async choosePorts(s: PortSpec, containerIp: string): Promise<PortMapping[]> {
    const proxied = this.opts.userlandProxy !== false;
    if (isV6Mapping(s)) {
      if (proxied) return [await this.chooseProxied(s, containerIp)];
      // dockerd (moby's allocatePortsInternal): no IPv6 address in the container and no proxy
      // to relay to its IPv4 one, so the binding is skipped (inspect shows the port unpublished).
      this.opts.warn?.(`port ${s.containerPort}/${s.proto} on [${s.hostIp}] not published: IPv6 bindings need the userland proxy (--userland-proxy=false)`);
      return [];
    }
    const dual = proxied && s.dualStack === true && s.proto !== 'sctp' && this.opts.holdPorts !== false && ipv6Enabled();
    if (!dual) return [this.choosePort(s)];
    const tried = new Set<number>();
    for (;;) {
      const v4 = this.choosePort(s, tried);
      const v6: PortMapping = { hostIp: '::', hostPort: v4.hostPort, containerPort: v4.containerPort, proto: v4.proto };
      try {
        await this.proxy(v6, containerIp);
        return [v4, v6];
      } catch (err) {
        this.releaseHolder(v4);
        tried.add(v4.hostPort);
        const range = s.hostPort === 0 ? Infinity : Math.max(s.hostPort, s.hostPortEnd) - s.hostPort + 1;
        if (!(err instanceof HakoError && err.kind === 'conflict') || tried.size >= Math.min(range, 64)) throw err;
      }
    }
  }

  /** A mapping on an IPv6 host address: the userland proxy holds (and serves) the port. */
  private async chooseProxied(s: PortSpec, containerIp: string): Promise<PortMapping> {
    const tried = new Set<number>();
    let lastErr: unknown;
    for (const port of this.candidatePorts(s)) {
      if (tried.size >= 64) break;
      tried.add(port);
      const m: PortMapping = { hostIp: s.hostIp, hostPort: port, containerPort: s.containerPort, proto: s.proto };
      const other = this.mappedBy(port, s.proto, s.hostIp);
      if (other) {
        lastErr = portTaken(s.hostIp, port, other.containerName);
        continue;
      }
      try {
        await this.proxy(m, containerIp);
        return m;
      } catch (err) {
        lastErr = err;
        if (!(err instanceof HakoError && err.kind === 'conflict')) break;
      }
    }
    throw lastErr ?? conflict(`no free host port for ${s.containerPort}/${s.proto}`);
  }

  private candidatePorts(s: PortSpec): number[] {
    const candidates: number[] = [];
    if (s.hostPort === 0) {
      const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
      const start = lo + Math.floor(Math.random() * (hi - lo + 1));
      for (let i = 0; i <= hi - lo && candidates.length < 64; i++) candidates.push(lo + ((start - lo + i) % (hi - lo + 1)));
    } else {
      for (let p = s.hostPort; p <= Math.max(s.hostPort, s.hostPortEnd); p++) candidates.push(p);
    }
    return candidates;
  }

  /** Starts the userland proxy of an IPv6 mapping (no-op without holding ports or for SCTP). */
  private async proxy(m: PortMapping, containerIp: string): Promise<void> {
    if (this.opts.holdPorts === false || m.proto === 'sctp' || this.proxies.has(this.holderKey(m))) return;
    const key = this.holderKey(m);
    const started = startProxy({ proto: m.proto, hostIp: m.hostIp, hostPort: m.hostPort, targetIp: containerIp, targetPort: m.containerPort });
    this.proxies.set(key, started.catch(() => undefined));
    try {
      await started;
    } catch (err) {
      if (this.proxies.get(key) !== undefined) this.proxies.delete(key);
      if (err instanceof HakoError && err.kind === 'conflict') {
        const owner = portOwner(m.hostPort, m.proto);
        throw new HakoError({ step: `bind host port [${m.hostIp}]:${m.hostPort}/${m.proto}`, errno: 98, hint: owner ? `it is in use by ${owner}` : 'another socket holds it', kind: 'conflict' });
      }
      throw err;
    }
  }

  private choosePort(s: PortSpec, exclude?: Set<number>): PortMapping {
    const candidates = this.candidatePorts(s).filter((p) => !exclude?.has(p));
    let lastErr: HakoError | undefined;
    for (const port of candidates) {
      const m: PortMapping = { hostIp: s.hostIp, hostPort: port, containerPort: s.containerPort, proto: s.proto };
      const other = this.mappedBy(port, s.proto, s.hostIp);
      if (other || this.allMappings().some((x) => x.hostPort === port && x.proto === s.proto && x.hostIp === s.hostIp)) {
        lastErr = portTaken(s.hostIp, port, other?.containerName);
        continue;
      }
      try {
        this.hold(m);
        return m;
      } catch (err) {
        lastErr = err as HakoError;
      }
    }
    throw lastErr ?? conflict(`no free host port for ${s.containerPort}/${s.proto}`);
  }

  private holderKey(m: PortMapping): string {
    return `${m.hostIp}:${m.hostPort}/${m.proto}`;
  }

  /** Binds (never listens on) the host port so no host process can take it while published. */
  private hold(m: PortMapping): void {
    if (this.opts.holdPorts === false || m.proto === 'sctp' || this.holders.has(this.holderKey(m))) return;
    const n = netNative();
    const fd = n.netSocket(-1, AF_INET, m.proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM, 0);
    try {
      // No SO_REUSEADDR: with it on both sides Linux lets a listener (node sets it) bind next
      // to a socket that is bound but not listening, and the hold would be void.
      try {
        n.bindInet(fd, m.hostIp, m.hostPort, false);
      } catch (err) {
        // Connections on the port (a TIME_WAIT left by a server that stopped a moment ago, for
        // 60 s) refuse that bind with EADDRINUSE; dockerd's holders (Go listeners, SO_REUSEADDR)
        // are not refused. Then the hold takes SO_REUSEADDR, which still fails next to any
        // listener or plain bound socket; it only guards less against a later SO_REUSEADDR
        // listener (see above).
        if (addonErrno(err) !== 98 || m.proto !== 'tcp' || !tcpPortHasOnlyConnections(m.hostPort)) throw err;
        n.bindInet(fd, m.hostIp, m.hostPort, true);
      }
    } catch (err) {
      n.close(fd);
      const errno = addonErrno(err);
      if (errno === 98 /* EADDRINUSE */) {
        const owner = portOwner(m.hostPort, m.proto);
        throw new HakoError({ step: `bind host port ${m.hostIp}:${m.hostPort}/${m.proto}`, errno, hint: owner ? `it is in use by ${owner}` : 'another socket holds it', kind: 'conflict' });
      }
      throw new HakoError({ step: `bind host port ${m.hostIp}:${m.hostPort}/${m.proto}`, errno, hint: errno === 99 ? `${m.hostIp} is not an address of this host` : undefined, cause: err });
    }
    this.holders.set(this.holderKey(m), fd);
  }

  private releaseHolder(m: PortMapping): void {
    if (isV6Mapping(m)) {
      const p = this.proxies.get(this.holderKey(m));
      this.proxies.delete(this.holderKey(m));
      void p?.then((x) => x?.close());
      return;
    }
    const fd = this.holders.get(this.holderKey(m));
    if (fd === undefined) return;
    this.holders.delete(this.holderKey(m));
    netNative().close(fd);
  }

  // ---- firewall -----------------------------------------------------------------------------

  rulesetNetworks(): RulesetNetwork[] {
    return this.listNetworks().map((n) => ({
      bridge: n.bridge,
      subnet: n.subnet,
      internal: n.internal,
      masquerade: storedBridgeOptions(n.options).masquerade,
      // IPv6 mappings are the userland proxy's: the `ip` table DNATs IPv4 only.
      mappings: this.endpointsOf(n.id).flatMap((e) => e.ports.filter((p) => !isV6Mapping(p)).map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, proto: p.proto, containerIp: e.ip, containerPort: p.containerPort }))),
      ...(this.filtered(n) ? { isolation: this.isolationOf(n) } : {}),
    }));
  }

  /** Whether inter-container traffic on `net` is filtered by rules: the default bridge under --icc=false. */
  private filtered(net: NetworkRecord | undefined): boolean {
    return !!net?.isDefault && !storedBridgeOptions(net.options).icc;
  }

  /**
   * The ports of the network and its legacy links as they are now: a link has rules while both
   * containers have endpoints here (dockerd: set up when either joins, removed when either
   * leaves), one pair per exposed port of the linked container.
   */
  private isolationOf(n: NetworkRecord): BridgeIsolation {
    const eps = this.endpointsOf(n.id);
    const byContainer = new Map(eps.map((e) => [e.containerId, e]));
    const links: BridgeIsolation['links'] = [];
    for (const parent of eps) {
      for (const childId of parent.legacyLinks ?? []) {
        const child = byContainer.get(childId);
        if (!child || child === parent) continue;
        for (const p of child.exposed ?? []) links.push({ parentPort: parent.hostVeth, parentIp: parent.ip, childPort: child.hostVeth, childIp: child.ip, port: p.port, proto: p.proto });
      }
    }
    return { ports: eps.map((e) => e.hostVeth), links };
  }

  /** Replaces hako's table in one nftables transaction (or deletes it when there are no networks). */
  applyFirewall(): void {
    const t0 = monotonicMs();
    this.firewall.apply(this.rulesetNetworks());
    this.timings.applyFirewall = monotonicMs() - t0;
  }

  // ---- DNS, /etc/hosts, resolv.conf ---------------------------------------------------------

  private hostResolv() {
    return parseResolvConf(this.hostResolvText());
  }

  private hostResolvText(): string {
    try {
      return readFileSync(this.opts.resolvConf ?? '/etc/resolv.conf', 'utf8');
    } catch {
      return '';
    }
  }

  /** The resolvers names are forwarded to: the asking netns's own (--dns), else the daemon's. */
  upstreams(askerKey?: string): string[] {
    const own = askerKey === undefined ? undefined : ownUpstreams(this.state, askerKey);
    return own ?? this.opts.upstreamDns ?? this.hostResolv().nameservers;
  }

  /** A renamed container answers to its new name (DNS, reverse lookups, inspect). */
  /** Resolves once the DNS thread answers to the new name (the state is saved before it returns). */
  renameContainer(containerId: string, name: string): Promise<void> {
    const eps = this.endpointsOfContainer(containerId);
    if (!eps.length) return Promise.resolve();
    const before = eps.map((e) => e.containerName);
    for (const e of eps) e.containerName = name;
    this.saveOrUndo(() => eps.forEach((e, i) => (e.containerName = before[i]!)));
    return this.dns.synced();
  }

  /**
   * Pins the hostname (EndpointRecord.hostname; undefined: the short ID) on the container's
   * endpoints. A record written before the field existed (session 12) has none for a custom
   * --hostname, so the embedded DNS did not answer it until a restart or reconnect. Returns
   * whether any endpoint changed (then resolves once the DNS answers with it).
   */
  async pinHostname(containerId: string, hostname: string | undefined): Promise<boolean> {
    const eps = this.endpointsOfContainer(containerId).filter((e) => e.hostname !== hostname);
    if (!eps.length) return false;
    for (const e of eps) {
      if (hostname) e.hostname = hostname;
      else delete e.hostname;
    }
    this.save();
    await this.dns.synced();
    return true;
  }

  /** Addresses of `name` (container name, alias, full id or 12-char id) on networks shared with the asker. */
  lookupName(askerKey: string, name: string): string[] | undefined {
    return lookupName(this.state, askerKey, name);
  }

  reverseName(askerKey: string, ip: string): string | undefined {
    return reverseName(this.state, askerKey, ip);
  }

  /** The texts of /etc/hosts, /etc/resolv.conf and /etc/hostname for a connected container. */
  containerFiles(containerId: string, o: { hostname?: string; dns?: string[]; dnsSearch?: string[]; dnsOptions?: string[]; addHosts?: string[] } = {}): { hosts: string; resolvConf: string; hostname: string } {
    const eps = this.endpointsOfContainer(containerId);
    const hostname = o.hostname ?? containerId.slice(0, 12);
    const embedded = eps.some((e) => !this.state.networks[e.networkId]?.isDefault);
    const gw = eps[0]?.gateway;
    const extra: HostsEntry[] = (o.addHosts ?? []).map((h) => parseAddHost(h, gw));
    const own: HostsEntry[] = eps.map((e) => ({ ip: e.ip, names: [hostname] }));
    const hostText = this.hostResolvText();
    const resolv = containerResolvConf({ host: parseResolvConf(hostText), hostText, embedded, dns: o.dns, dnsSearch: o.dnsSearch, dnsOptions: o.dnsOptions });
    return { hosts: renderHosts(own, extra), resolvConf: resolv.text, hostname: `${hostname}\n` };
  }

  // ---- reconcile ----------------------------------------------------------------------------

  /**
   * Makes the kernel match the state after a crash or restart: re-creates missing bridges, drops
   * endpoints whose netns is gone (or was replaced), deletes our veths/bridges that the state does
   * not know, re-holds published ports, restarts DNS servers, and rewrites the whole nft table
   * (which removes any orphan rule).
   */
  async reconcile(): Promise<ReconcileReport> {
    const report: ReconcileReport = { bridgesRecreated: [], endpointsDropped: [], linksDeleted: [], dnsRestarted: [] };
    const dnsStarts: Promise<void>[] = [];
    const nl = this.netlink();
    for (const net of this.listNetworks()) {
      if (!nl.link(net.bridge)) report.bridgesRecreated.push(net.bridge);
      this.ensureBridge(net);
    }
    const links = nl.links();
    for (const ep of Object.values(this.state.endpoints)) {
      let alive = false;
      try {
        alive = statSync(ep.nsPath).ino === ep.nsIno && links.some((l) => l.name === ep.hostVeth);
      } catch {
        alive = false;
      }
      if (!alive || !this.state.networks[ep.networkId]) {
        report.endpointsDropped.push(`${ep.containerName}@${this.state.networks[ep.networkId]?.name ?? ep.networkId}`);
        this.dropEndpoint(ep);
      }
    }
    const knownVeths = new Set(Object.values(this.state.endpoints).map((e) => e.hostVeth));
    const knownBridges = new Set(this.listNetworks().map((n) => n.bridge));
    for (const l of nl.links()) {
      const ours = (l.kind === 'veth' && new RegExp(`^${this.vethPrefix.replace(/[.]/g, '\\.')}[0-9a-f]{8}$`).test(l.name) && !knownVeths.has(l.name)) ||
        (l.kind === 'bridge' && l.name.startsWith(this.bridgePrefix) && l.name.length === 15 && !knownBridges.has(l.name));
      if (ours) {
        this.deleteLinkQuietly(l.name);
        report.linksDeleted.push(l.name);
      }
    }
    for (const ep of Object.values(this.state.endpoints)) {
      // A daemon started with --userland-proxy=false serves no IPv6 binding: those an earlier
      // daemon published are dropped (inspect and ps stop showing them).
      if (this.opts.userlandProxy === false) ep.ports = ep.ports.filter((p) => !isV6Mapping(p));
      for (const p of ep.ports) {
        if (isV6Mapping(p)) {
          // The proxies ended with the daemon that ran them: started again (in the background).
          this.proxy(p, ep.ip).catch((err: Error) => this.opts.warn?.(`publish [${p.hostIp}]:${p.hostPort}/${p.proto} again: ${err.message}`));
          continue;
        }
        try {
          this.hold(p);
        } catch {
          // Someone took the port while we were down: the DNAT still wins for new connections.
        }
      }
      if (!this.state.networks[ep.networkId]?.isDefault && !this.dns.running().includes(String(ep.nsIno))) {
        dnsStarts.push(this.dns.start(String(ep.nsIno), ep.nsPath).then(
          () => void report.dnsRestarted.push(ep.containerName),
          // reported by the container's own resolver failing; the endpoint itself is fine
          () => undefined,
        ));
      }
    }
    this.applyFirewall();
    this.save();
    await Promise.all(dnsStarts);
    return report;
  }
}

export interface ReconcileReport {
  bridgesRecreated: string[];
  endpointsDropped: string[];
  linksDeleted: string[];
  dnsRestarted: string[];
}

/** docker's --network values that are not networks. */
export type NetworkMode = { kind: 'none' } | { kind: 'host' } | { kind: 'container'; ref: string } | { kind: 'network'; name: string };

export function parseNetworkMode(value: string): NetworkMode {
  if (value === 'none') return { kind: 'none' };
  if (value === 'host') return { kind: 'host' };
  if (value.startsWith('container:')) {
    const ref = value.slice('container:'.length);
    if (!ref) throw invalid(`invalid --network "${value}"`, 'expected container:<name|id>');
    return { kind: 'container', ref };
  }
  if (value === 'default') return { kind: 'network', name: 'bridge' };
  return { kind: 'network', name: value };
}

/**
 * A host port another container of this daemon publishes, in dockerd's portallocator words
 * (`Bind for 0.0.0.0:8080 failed: port is already allocated`), naming that container.
 */
function portTaken(hostIp: string, port: number, by: string | undefined): HakoError {
  return conflict(`Bind for ${hostIp || '0.0.0.0'}:${port} failed: port is already allocated`, by ? `published by container ${by}` : undefined);
}
