// Reads the base chains of every nftables table (one NFT_MSG_GETCHAIN dump over netlink), so the
// daemon can tell when a chain it does not own drops forwarded traffic (e.g. iptables-nft's
// `table ip filter` chain FORWARD with policy drop) while it adds no iptables exception of its own.
import { HakoError } from '../../common/errors.js';
import { addonErrno } from '../../native/addon.js';
import { AF_NETLINK, SOCK_RAW, netNative } from '../native-net.js';
import { NETLINK_NETFILTER, NFNL_SUBSYS_NFTABLES, NFNETLINK_V0, NLMSG_DONE, NLMSG_ERROR, NLM_F, NFTA_CHAIN, NFTA_HOOK, NF_DROP } from './uapi.js';

const NFT_MSG_GETCHAIN = 4;
const NFT_MSG_NEWCHAIN = 3;
const NLM_F_DUMP = 0x300;
const FAMILY_NAME: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };

export interface BaseChainInfo {
  family: string;
  table: string;
  chain: string;
  hook: number;
  priority: number;
  policy: 'accept' | 'drop';
}

/** Attributes of one level: type → payload. */
function attrs(buf: Buffer, start: number, end: number): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = start;
  while (off + 4 <= end) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > end) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}

/** Decodes the NEWCHAIN messages of one receive buffer; returns whether the dump is done. */
export function decodeChains(buf: Buffer, out: BaseChainInfo[]): boolean {
  let off = 0;
  let done = false;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    const type = buf.readUInt16LE(off + 4);
    if (type === NLMSG_DONE) done = true;
    else if (type === NLMSG_ERROR) {
      const errno = -buf.readInt32LE(off + 16);
      if (errno !== 0) throw new HakoError({ step: 'list nftables chains', errno });
      done = true;
    } else if (type === ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN) && len >= 20) {
      const a = attrs(buf, off + 20, off + len);
      const hook = a.get(NFTA_CHAIN.HOOK);
      if (hook) {
        const h = attrs(hook, 0, hook.length);
        const str = (b: Buffer | undefined) => (b ? b.toString('utf8').replace(/\0+$/, '') : '');
        const fam = buf.readUInt8(off + 16);
        out.push({
          family: FAMILY_NAME[fam] ?? String(fam),
          table: str(a.get(NFTA_CHAIN.TABLE)),
          chain: str(a.get(NFTA_CHAIN.NAME)),
          hook: h.get(NFTA_HOOK.HOOKNUM)?.readUInt32BE(0) ?? -1,
          priority: h.get(NFTA_HOOK.PRIORITY)?.readInt32BE(0) ?? 0,
          policy: a.get(NFTA_CHAIN.POLICY)?.readUInt32BE(0) === NF_DROP ? 'drop' : 'accept',
        });
      }
    }
    off += (len + 3) & ~3;
  }
  return done;
}

/** Every base chain of every table in our netns. */
export function listBaseChains(): BaseChainInfo[] {
  const n = netNative();
  let fd: number;
  try {
    fd = n.netSocket(-1, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  } catch (err) {
    throw new HakoError({ step: 'open a netfilter netlink socket', errno: addonErrno(err), cause: err });
  }
  try {
    const req = Buffer.alloc(20);
    req.writeUInt32LE(20, 0);
    req.writeUInt16LE((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETCHAIN, 4);
    req.writeUInt16LE(NLM_F.REQUEST | NLM_F_DUMP, 6);
    req.writeUInt32LE(1, 8);
    req.writeUInt8(0, 16); // NFPROTO_UNSPEC: every family
    req.writeUInt8(NFNETLINK_V0, 17);
    n.sockSend(fd, req);
    const out: BaseChainInfo[] = [];
    const buf = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 100_000; i++) {
      const got = n.sockRecv(fd, buf, false);
      if (got <= 0) break;
      if (decodeChains(buf.subarray(0, got), out)) break;
    }
    return out;
  } catch (err) {
    if (err instanceof HakoError) throw err;
    throw new HakoError({ step: 'list nftables chains', errno: addonErrno(err), cause: err });
  } finally {
    n.close(fd);
  }
}

/** Base chains on the IPv4 forward hook (ip and inet tables) with policy drop, other than `ownTable`. */
export function forwardDropChains(ownTable?: string): BaseChainInfo[] {
  return listBaseChains().filter((c) => (c.family === 'ip' || c.family === 'inet') && c.hook === 2 && c.policy === 'drop' && !(c.family === 'ip' && c.table === ownTable));
}
