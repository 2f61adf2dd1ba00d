// hako's rules as data: a few match and action kinds, each rendered two ways from the same value:
// as nft syntax (what `nft list` shows, used in error messages and by the `nft -f` path that the
// tests compare against) and as the nf_tables expressions the kernel runs. The expressions are
// the ones nft 1.0.6 generates for that syntax, so both paths build the same ruleset.
import { parseCidr, parseIp } from '../ipv4.js';
import type { Proto } from '../ports.js';
import { be16, be32, bitwise, cmp, ct, fib, host32, immediate, masq, meta, nat, payload, verdict, type Attr } from './expr.js';
import {
  CT_STATE, ETH_P_IP, IFNAMSIZ, IPPROTO, IPS_DST_NAT, NFPROTO_IPV4, NFTA_FIB_F_DADDR, NFT_CMP, NFT_CT, NFT_FIB_RESULT_ADDRTYPE, NFT_JUMP, NFT_META, NFT_NAT, NFT_PAYLOAD,
  NFT_REG_1, NFT_REG_2, NF_ACCEPT, NF_DROP, NF_NAT_RANGE, RTN_LOCAL,
} from './uapi.js';

export type Match =
  /** `iifname "br"`, `oifname != "br"` */
  | { kind: 'ifname'; dir: 'iif' | 'oif'; op: 'eq' | 'neq'; name: string }
  /** `ip saddr 10.0.0.0/24`, `ip daddr 127.0.0.1` (an address alone is a /32) */
  | { kind: 'ip'; field: 'saddr' | 'daddr'; addr: string }
  /** `tcp dport 8080` */
  | { kind: 'dport'; proto: Proto; port: number }
  /** `tcp sport 8080` */
  | { kind: 'sport'; proto: Proto; port: number }
  /** `ether type ip` (bridge family: an IPv4 frame; nft's dependency for `ip …` there) */
  | { kind: 'etherTypeIp' }
  /** `ct state established,related` */
  | { kind: 'ctState'; states: Array<keyof typeof CT_STATE> }
  /** `ct status dnat` */
  | { kind: 'ctStatusDnat' }
  /** `fib daddr type local` */
  | { kind: 'fibDaddrLocal' };

export type Action =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'jump'; chain: string }
  | { kind: 'masquerade' }
  /** `dnat to 10.0.0.2:80` */
  | { kind: 'dnat'; ip: string; port: number };

export interface Rule {
  matches: Match[];
  action: Action;
}

// ---- nft syntax ---------------------------------------------------------------------------

function matchText(m: Match): string {
  switch (m.kind) {
    case 'ifname':
      // Interface names are validated where they are made (no quotes, no spaces).
      return `${m.dir}name ${m.op === 'neq' ? '!= ' : ''}"${m.name}"`;
    case 'ip':
      return `ip ${m.field} ${m.addr}`;
    case 'dport':
    case 'sport':
      return `${m.proto} ${m.kind} ${m.port}`;
    case 'etherTypeIp':
      return 'ether type ip';
    case 'ctState':
      return `ct state ${m.states.join(',')}`;
    case 'ctStatusDnat':
      return 'ct status dnat';
    case 'fibDaddrLocal':
      return 'fib daddr type local';
  }
}

function actionText(a: Action): string {
  switch (a.kind) {
    case 'accept':
    case 'drop':
      return a.kind;
    case 'jump':
      return `jump ${a.chain}`;
    case 'masquerade':
      return 'masquerade';
    case 'dnat':
      return `dnat to ${a.ip}:${a.port}`;
  }
}

export function ruleText(r: Rule): string {
  return [...r.matches.map(matchText), actionText(r.action)].join(' ');
}

// ---- nf_tables expressions ----------------------------------------------------------------

const ipBytes = (n: number): Buffer => be32(n);

function ifnameBytes(name: string): Buffer {
  const b = Buffer.alloc(IFNAMSIZ);
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new RangeError(`interface name "${name}" is longer than ${IFNAMSIZ - 1} bytes`);
  b.write(name, 'latin1');
  return b;
}

/** The IPv4 header offsets of saddr and daddr. */
const IP_OFFSET = { saddr: 12, daddr: 16 } as const;

function ipMatch(field: 'saddr' | 'daddr', addr: string): Attr[] {
  const { base, prefix } = addr.includes('/') ? parseCidr(addr, 'address') : { base: parseIp(addr), prefix: 32 };
  const off = IP_OFFSET[field];
  const value = ipBytes(base);
  // Like nft: a whole-byte prefix loads only those bytes; any other prefix loads the address and
  // masks it (so does /0).
  if (prefix > 0 && prefix % 8 === 0) {
    const n = prefix / 8;
    return [payload(NFT_PAYLOAD.NETWORK_HEADER, off, n, NFT_REG_1), cmp(NFT_CMP.EQ, NFT_REG_1, value.subarray(0, n))];
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [
    payload(NFT_PAYLOAD.NETWORK_HEADER, off, 4, NFT_REG_1),
    bitwise(NFT_REG_1, NFT_REG_1, ipBytes(mask), Buffer.alloc(4)),
    cmp(NFT_CMP.EQ, NFT_REG_1, value),
  ];
}

/** `reg & bits != 0` on a host-order 32-bit ct field. */
function ctBits(key: number, bits: number): Attr[] {
  return [ct(key, NFT_REG_1), bitwise(NFT_REG_1, NFT_REG_1, host32(bits), host32(0)), cmp(NFT_CMP.NEQ, NFT_REG_1, host32(0))];
}

function matchExprs(m: Match): Attr[] {
  switch (m.kind) {
    case 'ifname':
      return [meta(m.dir === 'iif' ? NFT_META.IIFNAME : NFT_META.OIFNAME, NFT_REG_1), cmp(m.op === 'eq' ? NFT_CMP.EQ : NFT_CMP.NEQ, NFT_REG_1, ifnameBytes(m.name))];
    case 'ip':
      return ipMatch(m.field, m.addr);
    case 'dport':
    case 'sport':
      return [
        meta(NFT_META.L4PROTO, NFT_REG_1),
        cmp(NFT_CMP.EQ, NFT_REG_1, Buffer.from([IPPROTO[m.proto]])),
        // tcp/udp/sctp: sport at offset 0, dport at 2
        payload(NFT_PAYLOAD.TRANSPORT_HEADER, m.kind === 'dport' ? 2 : 0, 2, NFT_REG_1),
        cmp(NFT_CMP.EQ, NFT_REG_1, be16(m.port)),
      ];
    case 'etherTypeIp':
      return [payload(NFT_PAYLOAD.LINK_HEADER, 12, 2, NFT_REG_1), cmp(NFT_CMP.EQ, NFT_REG_1, be16(ETH_P_IP))];
    case 'ctState':
      return ctBits(NFT_CT.STATE, m.states.reduce((acc, s) => acc | CT_STATE[s], 0));
    case 'ctStatusDnat':
      return ctBits(NFT_CT.STATUS, IPS_DST_NAT);
    case 'fibDaddrLocal':
      return [fib(NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE, NFT_REG_1), cmp(NFT_CMP.EQ, NFT_REG_1, host32(RTN_LOCAL))];
  }
}

function actionExprs(a: Action): Attr[] {
  switch (a.kind) {
    case 'accept':
      return [verdict(NF_ACCEPT)];
    case 'drop':
      return [verdict(NF_DROP)];
    case 'jump':
      return [verdict(NFT_JUMP, a.chain)];
    case 'masquerade':
      return [masq()];
    case 'dnat':
      return [
        immediate(NFT_REG_1, ipBytes(parseIp(a.ip))),
        immediate(NFT_REG_2, be16(a.port)),
        nat(NFT_NAT.DNAT, NFPROTO_IPV4, NFT_REG_1, NFT_REG_2, NF_NAT_RANGE.PROTO_SPECIFIED),
      ];
  }
}

export function ruleExprs(r: Rule): Attr[] {
  return [...r.matches.flatMap(matchExprs), ...actionExprs(r.action)];
}

/** Kernel modules behind a rule's expressions (for the hint when the kernel lacks one: ENOENT). */
export function ruleModules(r: Rule): string[] {
  const mods = new Set<string>();
  for (const m of r.matches) {
    if (m.kind === 'ctState' || m.kind === 'ctStatusDnat') mods.add('nft_ct');
    if (m.kind === 'fibDaddrLocal') mods.add('nft_fib_ipv4');
  }
  if (r.action.kind === 'masquerade') mods.add('nft_masq');
  if (r.action.kind === 'dnat') mods.add('nft_nat');
  return [...mods];
}
