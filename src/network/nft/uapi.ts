// Numbers from the kernel's uapi headers (linux/netfilter/nfnetlink.h, nf_tables.h, netfilter.h,
// nf_nat.h, nf_conntrack_common.h), for the nf_tables messages hako sends. Values checked against
// linux-libc-dev 6.1 and against the bytes nft 1.0.6 sends (test/unit/nft-golden.ts).

export const NETLINK_NETFILTER = 12;

/** nfnetlink: message type = subsystem << 8 | message; batches are framed by these two. */
export const NFNL_SUBSYS_NFTABLES = 10;
export const NFNL_MSG_BATCH_BEGIN = 16;
export const NFNL_MSG_BATCH_END = 17;
export const NFNETLINK_V0 = 0;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLM_F = { REQUEST: 0x1, ACK: 0x4, EXCL: 0x200, CREATE: 0x400, APPEND: 0x800 } as const;
/** setsockopt level and options of netlink sockets (linux/netlink.h). */
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
/** Attributes after struct nlmsgerr when NETLINK_EXT_ACK is on. */
export const NLMSGERR_ATTR_MSG = 1;
export const SOL_SOCKET = 1;
export const SO_SNDBUFFORCE = 32;

/** enum nf_tables_msg_types */
export const NFT_MSG = { NEWTABLE: 0, DELTABLE: 2, NEWCHAIN: 3, NEWRULE: 6, DELRULE: 8 } as const;

/** NFPROTO_*: the nfgenmsg family of a table. */
export const NFPROTO_IPV4 = 2;
/** NFPROTO_BRIDGE: tables whose base chains see frames bridged between a bridge's ports. */
export const NFPROTO_BRIDGE = 7;

export const NFTA_TABLE = { NAME: 1, FLAGS: 2 } as const;
export const NFTA_CHAIN = { TABLE: 1, NAME: 3, HOOK: 4, POLICY: 5, TYPE: 7 } as const;
export const NFTA_HOOK = { HOOKNUM: 1, PRIORITY: 2 } as const;
export const NFTA_RULE = { TABLE: 1, CHAIN: 2, EXPRESSIONS: 4 } as const;
export const NFTA_LIST_ELEM = 1;
export const NFTA_EXPR = { NAME: 1, DATA: 2 } as const;
export const NFTA_DATA = { VALUE: 1, VERDICT: 2 } as const;
export const NFTA_VERDICT = { CODE: 1, CHAIN: 2 } as const;

/** enum nf_inet_hooks (the bridge family's NF_BR_* hooks have the same numbers) */
export const NF_INET_HOOK = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;
export type HookName = keyof typeof NF_INET_HOOK;

/** Verdicts: NF_DROP, NF_ACCEPT (netfilter.h), NFT_JUMP (nf_tables.h, negative). */
export const NF_DROP = 0;
export const NF_ACCEPT = 1;
export const NFT_JUMP = -3;

/** Registers: 0 is the verdict register; 1..4 are the 16-byte data registers nft uses. */
export const NFT_REG_VERDICT = 0;
export const NFT_REG_1 = 1;
export const NFT_REG_2 = 2;

export const NFTA_META = { DREG: 1, KEY: 2 } as const;
export const NFT_META = { IIFNAME: 6, OIFNAME: 7, L4PROTO: 16 } as const;

export const NFTA_CMP = { SREG: 1, OP: 2, DATA: 3 } as const;
export const NFT_CMP = { EQ: 0, NEQ: 1 } as const;

export const NFTA_PAYLOAD = { DREG: 1, BASE: 2, OFFSET: 3, LEN: 4 } as const;
export const NFT_PAYLOAD = { LINK_HEADER: 0, NETWORK_HEADER: 1, TRANSPORT_HEADER: 2 } as const;
/** ETH_P_IP (if_ether.h): `ether type ip`. */
export const ETH_P_IP = 0x0800;

export const NFTA_BITWISE = { SREG: 1, DREG: 2, LEN: 3, MASK: 4, XOR: 5 } as const;

export const NFTA_IMMEDIATE = { DREG: 1, DATA: 2 } as const;

export const NFTA_NAT = { TYPE: 1, FAMILY: 2, REG_ADDR_MIN: 3, REG_ADDR_MAX: 4, REG_PROTO_MIN: 5, REG_PROTO_MAX: 6, FLAGS: 7 } as const;
export const NFT_NAT = { SNAT: 0, DNAT: 1 } as const;
/** nf_nat.h range flags. */
export const NF_NAT_RANGE = { MAP_IPS: 0x1, PROTO_SPECIFIED: 0x2 } as const;

export const NFTA_CT = { DREG: 1, KEY: 2 } as const;
export const NFT_CT = { STATE: 0, STATUS: 2 } as const;
/** ct state bits (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) = 2, RELATED = 4) and IPS_DST_NAT. */
export const CT_STATE = { established: 0x2, related: 0x4 } as const;
export const IPS_DST_NAT = 0x20;

export const NFTA_FIB = { DREG: 1, RESULT: 2, FLAGS: 3 } as const;
export const NFT_FIB_RESULT_ADDRTYPE = 3;
export const NFTA_FIB_F_DADDR = 0x2;
/** RTN_LOCAL (rtnetlink.h): what `fib daddr type local` compares with. */
export const RTN_LOCAL = 2;

/** IP protocol numbers for `meta l4proto`. */
export const IPPROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
/** Interface names are compared as IFNAMSIZ bytes, zero-padded. */
export const IFNAMSIZ = 16;
