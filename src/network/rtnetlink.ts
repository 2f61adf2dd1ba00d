// rtnetlink (NETLINK_ROUTE) in TypeScript: messages are encoded here and written to a netlink
// socket made by the addon (optionally inside a container's netns: the socket keeps that netns).
// Requests are batched: several messages go out in one send(2) and the kernel processes them in
// order, acknowledging each (NLM_F_ACK), so a veth + address + route setup is one or two syscalls.
import { openSync, closeSync } from 'node:fs';
import { HakoError } from '../common/errors.js';
import { addonErrno } from '../native/addon.js';
import { AF_INET, AF_NETLINK, NETLINK_ROUTE, SOCK_RAW, netNative } from './native-net.js';
import { parseIp } from './ipv4.js';

export const RTM = { NEWLINK: 16, DELLINK: 17, GETLINK: 18, NEWADDR: 20, DELADDR: 21, GETADDR: 22, NEWROUTE: 24, DELROUTE: 25, GETROUTE: 26 } as const;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
export const NLM_F = { REQUEST: 1, MULTI: 2, ACK: 4, ROOT: 0x100, MATCH: 0x200, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const;
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, LINKINFO: 18, NET_NS_FD: 28 } as const;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_INFO_SLAVE_KIND = 4;
const IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1;
const IFLA_BRPORT_MODE = 4; // hairpin
const IFLA_BRPORT_ISOLATED = 33; // Linux ≥ 4.18
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
export const IFF_UP = 1;

// ---- encoding -------------------------------------------------------------------------------

const align4 = (n: number) => (n + 3) & ~3;

export type Attr = [type: number, payload: Buffer | Attr[]];

function encodeAttrs(attrs: Attr[]): Buffer {
  const parts: Buffer[] = [];
  for (const [type, payload] of attrs) {
    const nested = Array.isArray(payload);
    const body = nested ? encodeAttrs(payload) : payload;
    const head = Buffer.alloc(4);
    head.writeUInt16LE(4 + body.length, 0);
    head.writeUInt16LE(nested ? type | 0x8000 : type, 2); // NLA_F_NESTED
    parts.push(head, body, Buffer.alloc(align4(body.length) - body.length));
  }
  return Buffer.concat(parts);
}

export const u8 = (v: number) => Buffer.from([v]);
export const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
export const str = (s: string) => Buffer.from(`${s}\0`);
export const ip4 = (s: string) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIp(s), 0);
  return b;
};

export function ifinfomsg(index = 0, flags = 0, change = 0, family = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

function ifaddrmsg(family: number, prefixLen: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return b;
}

function rtmsg(dstLen: number, scope = 0, family = AF_INET): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(254, 4); // RT_TABLE_MAIN
  b.writeUInt8(3, 5); // RTPROT_BOOT (what `ip route add` uses)
  b.writeUInt8(scope, 6);
  b.writeUInt8(1, 7); // RTN_UNICAST
  return b;
}

export interface Request {
  type: number;
  flags: number;
  header: Buffer;
  attrs?: Attr[];
  /** For error messages: what this request does, e.g. `create bridge hk-a`. */
  what: string;
}

// ---- decoding -------------------------------------------------------------------------------

export interface Reply {
  type: number;
  flags: number;
  seq: number;
  /** The fixed header after nlmsghdr (ifinfomsg/ifaddrmsg/rtmsg), then attrs. */
  body: Buffer;
}

export function parseAttrs(buf: Buffer, offset = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = offset;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff;
    if (len < 4 || off + len > buf.length) break;
    if (!out.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export const cstr = (b: Buffer | undefined) => (b ? b.toString('utf8', 0, b.indexOf(0) >= 0 ? b.indexOf(0) : b.length) : '');
export const ipOf = (b: Buffer | undefined) => (b && b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : '');

// ---- the socket -----------------------------------------------------------------------------

/** A NETLINK_ROUTE socket, in our netns or (nsPath / nsFd) in another one. */
export class RtNetlink {
  readonly fd: number;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly rbuf = Buffer.alloc(256 * 1024);

  private constructor(fd: number) {
    this.fd = fd;
  }

  static open(target?: { nsPath?: string; nsFd?: number }): RtNetlink {
    let nsFd = target?.nsFd ?? -1;
    let opened = -1;
    try {
      if (target?.nsPath) {
        try {
          opened = nsFd = openSync(target.nsPath, 'r');
        } catch (err) {
          throw new HakoError({ step: `open network namespace ${target.nsPath}`, path: target.nsPath, errno: addonErrno(err) ?? 2, hint: 'is the container still running?' });
        }
      }
      try {
        return new RtNetlink(netNative().netSocket(nsFd, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE));
      } catch (err) {
        throw new HakoError({ step: `open a netlink socket${target?.nsPath ? ` in ${target.nsPath}` : ''}`, path: target?.nsPath, errno: addonErrno(err), cause: err });
      }
    } finally {
      if (opened >= 0) closeSync(opened);
    }
  }

  close(): void {
    netNative().close(this.fd);
  }

  private encode(r: Request, seq: number): Buffer {
    const payload = Buffer.concat([r.header, encodeAttrs(r.attrs ?? [])]);
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + payload.length, 0);
    hdr.writeUInt16LE(r.type, 4);
    hdr.writeUInt16LE(r.flags | NLM_F.REQUEST, 6);
    hdr.writeUInt32LE(seq, 8);
    return Buffer.concat([hdr, payload]);
  }

  /**
   * Sends the requests in one batch (each with NLM_F_ACK) and waits for every ack. Failures are
   * collected; the first one is thrown as a HakoError naming the request, after all acks are in,
   * so the socket stays in sync. `tolerate` lists errnos that count as success (e.g. EEXIST).
   */
  exec(requests: Request[], tolerate: number[] = []): void {
    if (requests.length === 0) return;
    const base = this.seq;
    this.seq += requests.length;
    const out = Buffer.concat(requests.map((r, i) => this.encode({ ...r, flags: r.flags | NLM_F.ACK }, base + i)));
    this.send(out, requests[0]!.what);
    let pending = requests.length;
    let failure: HakoError | undefined;
    while (pending > 0) {
      for (const m of this.receive()) {
        if (m.type !== NLMSG_ERROR || m.seq < base || m.seq >= base + requests.length) continue;
        pending--;
        const errno = -m.body.readInt32LE(0);
        if (errno !== 0 && !tolerate.includes(errno) && !failure) {
          failure = new HakoError({ step: requests[m.seq - base]!.what, errno });
        }
      }
    }
    if (failure) throw failure;
  }

  /** A dump request (NLM_F_DUMP): every reply message of `type` until NLMSG_DONE. */
  dump(type: number, header: Buffer, what: string): Reply[] {
    const seq = this.seq++;
    this.send(this.encode({ type, flags: NLM_F.DUMP, header, what }, seq), what);
    const out: Reply[] = [];
    for (;;) {
      for (const m of this.receive()) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_DONE) return out;
        if (m.type === NLMSG_ERROR) {
          const errno = -m.body.readInt32LE(0);
          if (errno !== 0) throw new HakoError({ step: what, errno });
          continue;
        }
        out.push(m);
      }
    }
  }

  private send(buf: Buffer, what: string): void {
    try {
      netNative().sockSend(this.fd, buf);
    } catch (err) {
      throw new HakoError({ step: `${what} (netlink send)`, errno: addonErrno(err), cause: err });
    }
  }

  private receive(): Reply[] {
    let n: number;
    try {
      n = netNative().sockRecv(this.fd, this.rbuf);
    } catch (err) {
      throw new HakoError({ step: 'netlink receive', errno: addonErrno(err), cause: err });
    }
    const out: Reply[] = [];
    let off = 0;
    while (off + 16 <= n) {
      const len = this.rbuf.readUInt32LE(off);
      if (len < 16 || off + len > n) break;
      out.push({
        type: this.rbuf.readUInt16LE(off + 4),
        flags: this.rbuf.readUInt16LE(off + 6),
        seq: this.rbuf.readUInt32LE(off + 8),
        body: Buffer.from(this.rbuf.subarray(off + 16, off + len)),
      });
      off += align4(len);
    }
    return out;
  }

  // ---- queries ------------------------------------------------------------------------------

  links(): LinkInfo[] {
    return this.dump(RTM.GETLINK, ifinfomsg(), 'list network links').map(linkInfo);
  }

  /** One link by name (a GETLINK for it, not a dump: the cost does not grow with the host's links). */
  link(name: string): LinkInfo | undefined {
    const seq = this.seq++;
    const what = `look up link ${name}`;
    this.send(this.encode({ type: RTM.GETLINK, flags: 0, header: ifinfomsg(), attrs: [[IFLA.IFNAME, str(name)]], what }, seq), what);
    for (;;) {
      for (const m of this.receive()) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const errno = -m.body.readInt32LE(0);
          if (errno === 19 /* ENODEV */) return undefined;
          if (errno !== 0) throw new HakoError({ step: what, errno });
          continue;
        }
        if (m.type === RTM.NEWLINK) return linkInfo(m);
      }
    }
  }

  addresses(): AddrInfo[] {
    return this.dump(RTM.GETADDR, ifaddrmsg(AF_INET, 0, 0), 'list IPv4 addresses').map((m) => {
      const a = parseAttrs(m.body, 8);
      return { index: m.body.readUInt32LE(4), prefixLen: m.body.readUInt8(1), address: ipOf(a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS)) };
    });
  }

  routes(): RouteInfo[] {
    return this.dump(RTM.GETROUTE, rtmsg(0), 'list IPv4 routes').map((m) => {
      const a = parseAttrs(m.body, 12);
      const table = a.get(RTA_TABLE)?.readUInt32LE(0) ?? m.body.readUInt8(4);
      return { dst: a.has(RTA_DST) ? ipOf(a.get(RTA_DST)) : '0.0.0.0', dstLen: m.body.readUInt8(1), gateway: ipOf(a.get(RTA_GATEWAY)), oif: a.get(RTA_OIF)?.readUInt32LE(0) ?? 0, table, type: m.body.readUInt8(7) };
    });
  }
}

function linkInfo(m: Reply): LinkInfo {
  const a = parseAttrs(m.body, 16);
  const linkinfo = a.get(IFLA.LINKINFO);
  const info = linkinfo ? parseAttrs(linkinfo) : undefined;
  const slave = info?.get(IFLA_INFO_SLAVE_DATA);
  const isolated = slave ? parseAttrs(slave).get(IFLA_BRPORT_ISOLATED) : undefined;
  return {
    index: m.body.readInt32LE(4),
    flags: m.body.readUInt32LE(8),
    name: cstr(a.get(IFLA.IFNAME)),
    mtu: a.get(IFLA.MTU)?.readUInt32LE(0) ?? 0,
    master: a.get(IFLA.MASTER)?.readUInt32LE(0) ?? 0,
    kind: info ? cstr(info.get(IFLA_INFO_KIND)) : '',
    isolated: isolated !== undefined && isolated.length > 0 && isolated[0] === 1,
  };
}

export interface LinkInfo {
  index: number;
  flags: number;
  name: string;
  mtu: number;
  master: number;
  kind: string;
  /** A bridge port that is isolated (IFLA_BRPORT_ISOLATED). */
  isolated: boolean;
}
export interface AddrInfo {
  index: number;
  prefixLen: number;
  address: string;
}
export interface RouteInfo {
  dst: string;
  dstLen: number;
  gateway: string;
  oif: number;
  table: number;
  type: number;
}

// ---- request builders -----------------------------------------------------------------------

export function newBridge(name: string, mtu?: number): Request {
  const attrs: Attr[] = [[IFLA.IFNAME, str(name)], [IFLA.LINKINFO, [[IFLA_INFO_KIND, str('bridge')]]]];
  if (mtu) attrs.push([IFLA.MTU, u32(mtu)]);
  // An MTU given at creation pins the bridge's (the kernel otherwise follows its ports' lowest).
  return { type: RTM.NEWLINK, flags: NLM_F.CREATE | NLM_F.EXCL, header: ifinfomsg(0, IFF_UP, IFF_UP), attrs, what: `create bridge ${name}${mtu ? ` with MTU ${mtu}` : ''}` };
}

export interface VethSpec {
  hostName: string;
  peerName: string;
  /** The peer is created directly inside this netns (fd), so its name never clashes on the host. */
  peerNsFd: number;
  peerMac: Buffer;
  mtu: number;
  bridgeIndex: number;
}

/** One message: the veth pair, host end up and enslaved to the bridge, peer (down) in the netns. */
export function newVeth(v: VethSpec): Request {
  // The peer cannot be created up: veth_open() of the peer runs before the pair is linked and
  // fails with ENOTCONN. It is brought up from inside its netns, with its address.
  const peer = Buffer.concat([
    ifinfomsg(),
    encodeAttrs([
      [IFLA.IFNAME, str(v.peerName)],
      [IFLA.ADDRESS, v.peerMac],
      [IFLA.MTU, u32(v.mtu)],
      [IFLA.NET_NS_FD, u32(v.peerNsFd)],
    ]),
  ]);
  return {
    type: RTM.NEWLINK,
    flags: NLM_F.CREATE | NLM_F.EXCL,
    header: ifinfomsg(0, IFF_UP, IFF_UP),
    attrs: [
      [IFLA.IFNAME, str(v.hostName)],
      [IFLA.MTU, u32(v.mtu)],
      [IFLA.MASTER, u32(v.bridgeIndex)],
      [IFLA.LINKINFO, [[IFLA_INFO_KIND, str('veth')], [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]]]],
    ],
    what: `create veth ${v.hostName} (peer ${v.peerName})`,
  };
}

/**
 * Bridge port flags. Hairpin mode lets a container reach its own published ports via the host.
 * An isolated port exchanges nothing with other isolated ports of its bridge (frames to and from
 * the bridge device itself still pass). The kernel ignores an attribute it does not know
 * (before 4.18: ISOLATED), so isolation is read back by the caller where it matters.
 */
export function setBridgePort(portName: string, flags: { hairpin: boolean; isolated?: boolean | undefined }): Request {
  const data: Attr[] = [[IFLA_BRPORT_MODE, u8(flags.hairpin ? 1 : 0)]];
  if (flags.isolated) data.push([IFLA_BRPORT_ISOLATED, u8(1)]);
  return {
    type: RTM.NEWLINK,
    flags: 0,
    header: ifinfomsg(),
    attrs: [[IFLA.IFNAME, str(portName)], [IFLA.LINKINFO, [[IFLA_INFO_SLAVE_KIND, str('bridge')], [IFLA_INFO_SLAVE_DATA, data]]]],
    what: `set ${[flags.hairpin ? 'hairpin mode' : '', flags.isolated ? 'isolation' : ''].filter((x) => x).join(' and ') || 'flags'} on bridge port ${portName}`,
  };
}

export function setLinkMtu(index: number, mtu: number, what = `set MTU ${mtu} on link ${index}`): Request {
  return { type: RTM.NEWLINK, flags: 0, header: ifinfomsg(index), attrs: [[IFLA.MTU, u32(mtu)]], what };
}

export function deleteLink(name: string): Request {
  return { type: RTM.DELLINK, flags: 0, header: ifinfomsg(), attrs: [[IFLA.IFNAME, str(name)]], what: `delete link ${name}` };
}

export function setLinkUp(index: number, what = `set link ${index} up`): Request {
  return { type: RTM.NEWLINK, flags: 0, header: ifinfomsg(index, IFF_UP, IFF_UP), what };
}

export function addAddress(index: number, ip: string, prefixLen: number, broadcast?: string, what = `add address ${ip}/${prefixLen}`): Request {
  const attrs: Attr[] = [[IFA_LOCAL, ip4(ip)], [IFA_ADDRESS, ip4(ip)]];
  if (broadcast) attrs.push([IFA_BROADCAST, ip4(broadcast)]);
  return { type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.EXCL, header: ifaddrmsg(AF_INET, prefixLen, index), attrs, what };
}

export function addDefaultRoute(gateway: string, oif: number, metric?: number): Request {
  const attrs: Attr[] = [[RTA_GATEWAY, ip4(gateway)], [RTA_OIF, u32(oif)]];
  if (metric) attrs.push([6 /* RTA_PRIORITY */, u32(metric)]);
  return { type: RTM.NEWROUTE, flags: NLM_F.CREATE | NLM_F.EXCL, header: rtmsg(0), attrs, what: `add default route via ${gateway}` };
}
