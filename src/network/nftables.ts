// hako's firewall: one nftables table (`table ip <name>`, default `hako`) regenerated as a whole
// and applied as ONE transaction (an nfnetlink batch: add table + delete table + the new table),
// so a reader never sees half a ruleset, a failing change leaves the old ruleset in place, and
// removing the last network leaves no table behind. The messages are encoded in TypeScript
// (src/network/nft/) and sent on a netlink socket: no nft process per change.
//
// Base chains of our own table only ever ACCEPT or DNAT/masquerade our own traffic; an accept here
// cannot override a DROP in another table at the same hook (every base chain runs), so a host
// whose iptables FORWARD policy is DROP needs a forward exception there: iptables-forward.ts adds
// hako's own (per-bridge accepts); the policy itself stays here.
import { RuleCache, replaceTable, tableText, type ChainSpec, type NftMessage, type TableSpec } from './nft/messages.js';
import type { Rule } from './nft/rule.js';
import { NftSocket } from './nft/socket.js';
import type { Proto } from './ports.js';

export interface RulesetMapping {
  hostIp: string; // 0.0.0.0 = every local address
  hostPort: number;
  proto: Proto;
  containerIp: string;
  containerPort: number;
}

export interface RulesetNetwork {
  bridge: string;
  subnet: string;
  internal: boolean;
  /** Outbound masquerade (com.docker.network.bridge.enable_ip_masquerade); default true. */
  masquerade: boolean;
  mappings: RulesetMapping[];
  /**
   * Inter-container traffic filtered on the bridge itself (the default bridge under hakod
   * --icc=false): IPv4 frames from these ports to other ports of the bridge are dropped, except
   * the legacy links' exposed ports. Absent: the bridge forwards everything between its ports.
   */
  isolation?: BridgeIsolation | undefined;
}

export interface BridgeIsolation {
  /** The host ends of the containers' veths (the bridge's ports). */
  ports: string[];
  links: LinkRule[];
}

/**
 * A legacy link under --icc=false (dockerd's two ACCEPT rules per exposed port of the linked
 * container): the linker reaches the port, the linked container answers from it.
 */
export interface LinkRule {
  parentPort: string;
  parentIp: string;
  childPort: string;
  childIp: string;
  port: number;
  proto: Proto;
}

const oif = (name: string, op: 'eq' | 'neq' = 'eq') => ({ kind: 'ifname', dir: 'oif', op, name }) as const;
const iif = (name: string, op: 'eq' | 'neq' = 'eq') => ({ kind: 'ifname', dir: 'iif', op, name }) as const;
const saddr = (addr: string) => ({ kind: 'ip', field: 'saddr', addr }) as const;
const ACCEPT = { kind: 'accept' } as const;
const DROP = { kind: 'drop' } as const;
const ETHER_IP = { kind: 'etherTypeIp' } as const;
const daddr = (addr: string) => ({ kind: 'ip', field: 'daddr', addr }) as const;
const MASQ = { kind: 'masquerade' } as const;

/** hako's table for these networks. */
export function rulesetTable(table: string, networks: RulesetNetwork[]): TableSpec {
  const dnat: Rule[] = [];
  const post: Rule[] = [];
  // Forward rules in two passes: every network's rules for traffic INTO its bridge (drops
  // included) come before any network's `iifname <bridge> accept`. Interleaved per network, the
  // first network's accept would let its containers reach every later network's bridge.
  const fwdIn: Rule[] = [];
  const fwdOut: Rule[] = [];
  for (const n of networks) {
    const br = n.bridge;
    if (n.internal) {
      // --internal: nothing leaves or enters the bridge except between its own ports.
      fwdIn.push({ matches: [iif(br), oif(br, 'neq')], action: DROP }, { matches: [oif(br), iif(br, 'neq')], action: DROP });
      continue;
    }
    for (const m of n.mappings) {
      // Traffic a container sends to its own network's published port is hairpinned back onto
      // the bridge; skipping the DNAT for it would bypass the mapping, so DNAT from everywhere.
      dnat.push({
        matches: [...(m.hostIp === '0.0.0.0' ? [] : [{ kind: 'ip', field: 'daddr', addr: m.hostIp } as const]), { kind: 'dport', proto: m.proto, port: m.hostPort }],
        action: { kind: 'dnat', ip: m.containerIp, port: m.containerPort },
      });
    }
    if (n.masquerade) post.push({ matches: [saddr(n.subnet), oif(br, 'neq')], action: MASQ });
    // Published ports reached through 127.0.0.1 (DNAT on output, route_localnet on the bridge):
    // the container cannot answer 127.0.0.1, so the source becomes the gateway address.
    post.push({ matches: [oif(br), saddr('127.0.0.0/8')], action: MASQ });
    // Hairpin: a container reaching a published port of its own network via a host address.
    post.push({ matches: [oif(br), saddr(n.subnet), { kind: 'ctStatusDnat' }], action: MASQ });
    fwdIn.push(
      { matches: [oif(br), { kind: 'ctState', states: ['established', 'related'] }], action: ACCEPT },
      { matches: [oif(br), { kind: 'ctStatusDnat' }], action: ACCEPT },
      { matches: [oif(br), iif(br, 'neq')], action: DROP },
    );
    fwdOut.push({ matches: [iif(br)], action: ACCEPT });
  }
  const toPorts: Rule[] = [{ matches: [{ kind: 'fibDaddrLocal' }], action: { kind: 'jump', chain: 'ports' } }];
  const chains: ChainSpec[] = [
    { name: 'ports', rules: dnat },
    { name: 'prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept' }, rules: toPorts },
    { name: 'output', base: { type: 'nat', hook: 'output', priority: -100, policy: 'accept' }, rules: toPorts },
    { name: 'postrouting', base: { type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' }, rules: post },
    { name: 'forward', base: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' }, rules: [...fwdIn, ...fwdOut] },
  ];
  return { family: 'ip', name: table, chains };
}

/**
 * `table bridge <table>`: its forward hook sees the frames a bridge forwards between two of its
 * ports, which routed (`ip`) hooks never see unless br_netfilter hands them over, for the whole
 * host (bridge-nf-call-iptables). dockerd's `-i docker0 -o docker0 -j DROP` relies on that; here
 * the drop is per port (an isolated bridge's ports), and a link's accepts come first. ARP and
 * other non-IPv4 frames pass, as with dockerd's rules. null: no bridge is filtered.
 */
export function bridgeTable(table: string, networks: RulesetNetwork[]): TableSpec | null {
  const rules: Rule[] = [];
  const drops: Rule[] = [];
  for (const n of networks) {
    if (!n.isolation) continue;
    for (const l of n.isolation.links) {
      rules.push(
        { matches: [iif(l.parentPort), oif(l.childPort), ETHER_IP, saddr(l.parentIp), daddr(l.childIp), { kind: 'dport', proto: l.proto, port: l.port }], action: ACCEPT },
        { matches: [iif(l.childPort), oif(l.parentPort), ETHER_IP, saddr(l.childIp), daddr(l.parentIp), { kind: 'sport', proto: l.proto, port: l.port }], action: ACCEPT },
      );
    }
    for (const p of n.isolation.ports) drops.push({ matches: [iif(p), ETHER_IP], action: DROP });
  }
  if (!rules.length && !drops.length) return null;
  return {
    family: 'bridge',
    name: table,
    chains: [{ name: 'forward', base: { type: 'filter', hook: 'forward', priority: 0, policy: 'accept' }, rules: [...rules, ...drops] }],
  };
}

/** The rules of `table ip <table>` in nft syntax (the table body, no transaction wrapper). */
export function renderTable(table: string, networks: RulesetNetwork[]): string {
  return tableText(rulesetTable(table, networks));
}

/**
 * The same transaction as `nft -f` input (what hako ran before it spoke netlink; kept for tests
 * that compare both paths, and for reading). `add table` first makes `delete table` valid when
 * the table does not exist yet.
 */
export function renderTransaction(table: string, networks: RulesetNetwork[], o: { clearBridge?: boolean } = {}): string {
  let out = `add table ip ${table}\ndelete table ip ${table}\n`;
  if (networks.length > 0) out += renderTable(table, networks);
  const br = bridgeTable(table, networks);
  if (br || o.clearBridge) out += `add table bridge ${table}\ndelete table bridge ${table}\n`;
  if (br) out += tableText(br);
  return out;
}

/**
 * The netlink messages of that transaction (one batch). The bridge table is replaced along with
 * the ip table when some network has isolation rules; `clearBridge`: also removed when none has
 * (it may exist: a daemon start, or the last isolated port just went).
 */
export function transactionMessages(table: string, networks: RulesetNetwork[], cache?: RuleCache, o: { clearBridge?: boolean } = {}): NftMessage[] {
  const msgs = replaceTable('ip', table, networks.length > 0 ? rulesetTable(table, networks) : null, cache);
  const br = bridgeTable(table, networks);
  if (br || o.clearBridge) msgs.push(...replaceTable('bridge', table, br, cache));
  return msgs;
}

/**
 * hako's table in one network namespace, changed through one long-lived netfilter netlink socket.
 *
 * The socket stays open on purpose: closing a NETLINK_NETFILTER socket makes the kernel wait for
 * the release of objects deleted by earlier transactions (nft_rcv_nl_event → flush_work →
 * synchronize_rcu), 5-25 ms here. That wait, not parsing, is most of what one `nft -f` costs.
 */
export class NftFirewall {
  private sock: NftSocket | undefined;
  private readonly cache = new RuleCache();
  /** Whether `table bridge <table>` may exist: unknown (true) until the first apply. */
  private bridgeMaybe = true;

  /** `nsFd`: the netns to work in (default: ours); only read when the socket is first opened. */
  constructor(
    readonly table: string,
    private readonly nsFd = -1,
  ) {}

  /**
   * Replaces the table with the ruleset for these networks in one kernel transaction (or removes
   * it when there are none). All or nothing: on error the previous table stays as it was.
   */
  apply(networks: RulesetNetwork[]): void {
    this.sock ??= NftSocket.open(this.nsFd);
    try {
      const bridge = networks.some((n) => n.isolation?.ports.length);
      try {
        this.sock.commit(transactionMessages(this.table, networks, this.cache, { clearBridge: this.bridgeMaybe }), `replace table ip ${this.table}`);
      } catch (err) {
        // Only clearing a bridge table that cannot exist (a kernel without the bridge family,
        // CONFIG_NF_TABLES_BRIDGE) must not fail the ip table's change: once more without it.
        if (bridge || !this.bridgeMaybe || this.sock.broken) throw err;
        this.sock.commit(transactionMessages(this.table, networks, this.cache), `replace table ip ${this.table}`);
      }
      this.bridgeMaybe = bridge;
    } finally {
      this.cache.rotate();
      // A kernel refusal leaves the socket usable; a failed send or receive does not.
      if (this.sock.broken) this.close();
    }
  }

  /** Closes the socket (may wait for the kernel, see above); apply() opens a new one. */
  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }
}

/** Valid nft table / interface name characters (what we generate names from). */
export function isSafeName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}
