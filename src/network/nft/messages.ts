// nf_tables objects (table, chains, rules) as netlink messages, plus their nft syntax for errors.
import { NLA_F_NESTED, encodeAttrs } from './attrs.js';
import { be32, strz, type Attr } from './expr.js';
import { ruleExprs, ruleModules, ruleText, type Rule } from './rule.js';
import { NFPROTO_BRIDGE, NFPROTO_IPV4, NFTA_CHAIN, NFTA_HOOK, NFTA_RULE, NFTA_TABLE, NFT_MSG, NF_ACCEPT, NF_DROP, NF_INET_HOOK, NLM_F, type HookName } from './uapi.js';

export interface BaseChain {
  type: 'nat' | 'filter';
  hook: HookName;
  priority: number;
  policy: 'accept' | 'drop';
}

export interface ChainSpec {
  name: string;
  /** Absent for a regular chain (reached by jump only). */
  base?: BaseChain | undefined;
  rules: Rule[];
}

/**
 * `table ip <name>` (routed IPv4), or `table bridge <name>` (frames a bridge forwards between its
 * own ports, which no `ip` table sees without br_netfilter).
 */
export type Family = 'ip' | 'bridge';

export interface TableSpec {
  family: Family;
  name: string;
  chains: ChainSpec[];
}

/** One message of a batch. `what` is its nft command line, for errors. */
export interface NftMessage {
  type: number;
  flags: number;
  family: number;
  attrs: Attr[];
  what: string;
  /** Kernel modules it needs beyond nf_tables (hint for ENOENT). */
  modules?: string[] | undefined;
}

const FAMILY = { ip: NFPROTO_IPV4, bridge: NFPROTO_BRIDGE } as const;

export function newTable(family: Family, name: string): NftMessage {
  return { type: NFT_MSG.NEWTABLE, flags: 0, family: FAMILY[family], attrs: [[NFTA_TABLE.NAME, strz(name)], [NFTA_TABLE.FLAGS, be32(0)]], what: `add table ${family} ${name}` };
}

export function delTable(family: Family, name: string): NftMessage {
  return { type: NFT_MSG.DELTABLE, flags: 0, family: FAMILY[family], attrs: [[NFTA_TABLE.NAME, strz(name)]], what: `delete table ${family} ${name}` };
}

/**
 * The priority as nft prints it in a chain declaration (its standard names where nft uses them;
 * the bridge family's names mean other numbers, `filter` is -200 there: numbers only).
 */
export function priorityText(c: BaseChain, family: Family = 'ip'): string {
  if (family !== 'ip') return String(c.priority);
  if (c.type === 'nat' && c.hook === 'prerouting' && c.priority === -100) return 'dstnat';
  if (c.type === 'nat' && c.hook === 'postrouting' && c.priority === 100) return 'srcnat';
  if (c.type === 'filter' && c.priority === 0) return 'filter';
  return String(c.priority);
}

export function chainHeaderText(c: BaseChain, family: Family = 'ip'): string {
  return `type ${c.type} hook ${c.hook} priority ${priorityText(c, family)}; policy ${c.policy};`;
}

export function newChain(family: Family, table: string, c: ChainSpec): NftMessage {
  const attrs: Attr[] = [
    [NFTA_CHAIN.TABLE, strz(table)],
    [NFTA_CHAIN.NAME, strz(c.name)],
  ];
  let what = `add chain ${family} ${table} ${c.name}`;
  if (c.base) {
    attrs.push(
      [NFTA_CHAIN.TYPE, strz(c.base.type)],
      [NFTA_CHAIN.POLICY, be32(c.base.policy === 'accept' ? NF_ACCEPT : NF_DROP)],
      [NFTA_CHAIN.HOOK, [[NFTA_HOOK.HOOKNUM, be32(NF_INET_HOOK[c.base.hook])], [NFTA_HOOK.PRIORITY, be32(c.base.priority)]]],
    );
    what += ` { ${chainHeaderText(c.base, family)} }`;
  }
  return { type: NFT_MSG.NEWCHAIN, flags: NLM_F.CREATE, family: FAMILY[family], attrs, what, modules: c.base?.type === 'nat' ? ['nft_chain_nat'] : undefined };
}

/**
 * Encoded expression lists by rule text (nft syntax determines the expressions), kept from one
 * batch to the next: a change re-encodes only the rules that are new. Without it, building a
 * rule costs ~20 µs of JS, about what the kernel spends on it.
 */
export class RuleCache {
  private last = new Map<string, Buffer>();
  private current = new Map<string, Buffer>();

  expressions(text: string, r: Rule): Buffer {
    let b = this.current.get(text) ?? this.last.get(text);
    if (!b) b = encodeAttrs(ruleExprs(r));
    this.current.set(text, b);
    return b;
  }

  /** Ends a batch: entries not used by it are dropped at the end of the next one. */
  rotate(): void {
    this.last = this.current;
    this.current = new Map();
  }
}

export function newRule(family: Family, table: string, chain: string, r: Rule, cache?: RuleCache): NftMessage {
  const text = ruleText(r);
  // A pre-encoded list keeps its NLA_F_NESTED flag in the type.
  const exprs: Attr = cache ? [NFTA_RULE.EXPRESSIONS | NLA_F_NESTED, cache.expressions(text, r)] : [NFTA_RULE.EXPRESSIONS, ruleExprs(r)];
  return {
    type: NFT_MSG.NEWRULE,
    flags: NLM_F.CREATE | NLM_F.APPEND,
    family: FAMILY[family],
    attrs: [[NFTA_RULE.TABLE, strz(table)], [NFTA_RULE.CHAIN, strz(chain)], exprs],
    what: `add rule ${family} ${table} ${chain} ${text}`,
    modules: ruleModules(r),
  };
}

/** The table with its chains and rules, in nft's order: the table, every chain, then the rules. */
export function createTable(t: TableSpec, cache?: RuleCache): NftMessage[] {
  return [
    newTable(t.family, t.name),
    ...t.chains.map((c) => newChain(t.family, t.name, c)),
    ...t.chains.flatMap((c) => c.rules.map((r) => newRule(t.family, t.name, c.name, r, cache))),
  ];
}

/**
 * Replaces the table in one transaction (or, with `t` null, removes it): `add table` first makes
 * the `delete table` valid when the table does not exist yet; deleting a table deletes its chains
 * and rules. The kernel applies the batch all or nothing.
 */
export function replaceTable(family: Family, name: string, t: TableSpec | null, cache?: RuleCache): NftMessage[] {
  return [newTable(family, name), delTable(family, name), ...(t ? createTable(t, cache) : [])];
}

/** The table in nft syntax (`nft -f` input; `nft list table` prints the same rules). */
export function tableText(t: TableSpec): string {
  const lines = [`table ${t.family} ${t.name} {`];
  for (const c of t.chains) {
    lines.push(`  chain ${c.name} {`);
    if (c.base) lines.push(`    ${chainHeaderText(c.base, t.family)}`);
    for (const r of c.rules) lines.push(`    ${ruleText(r)}`);
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}
