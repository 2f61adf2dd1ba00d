// A NETLINK_NETFILTER socket (in our netns or another one) that commits nf_tables batches and
// turns the kernel's answers into HakoErrors naming the failing command in nft syntax.
import { HakoError } from '../../common/errors.js';
import { addonErrno } from '../../native/addon.js';
import { AF_NETLINK, SOCK_RAW, netNative } from '../native-net.js';
import { encodeBatch } from './batch.js';
import type { NftMessage } from './messages.js';
import { NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_NETFILTER, NLMSGERR_ATTR_MSG, NLMSG_ERROR, SOL_NETLINK, SOL_SOCKET, SO_SNDBUFFORCE, NFT_MSG } from './uapi.js';

const ENOENT = 2;
const EPERM = 1;
const ENOBUFS = 105;
const EOPNOTSUPP = 95;
const EPROTONOSUPPORT = 93;
const EMSGSIZE = 90;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;

/** One NLMSG_ERROR answer: errno 0 is an acknowledgement. */
export interface NlError {
  seq: number;
  errno: number;
  /** The kernel's extended-ack text, when it gave one. */
  message?: string | undefined;
}

/** Decodes the NLMSG_ERROR messages of a receive buffer (other message types are skipped). */
export function parseErrors(buf: Buffer): NlError[] {
  const out: NlError[] = [];
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16 || off + len > buf.length) break;
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && len >= 20) {
      const flags = buf.readUInt16LE(off + 6);
      const body = buf.subarray(off + 16, off + len);
      const e: NlError = { seq: buf.readUInt32LE(off + 8), errno: -body.readInt32LE(0) | 0 };
      if (flags & NLM_F_ACK_TLVS && body.length >= 20) {
        // struct nlmsgerr { int error; struct nlmsghdr msg; } then the original payload unless
        // capped, then the extended-ack attributes.
        const origLen = flags & NLM_F_CAPPED ? 16 : body.readUInt32LE(4);
        let a = 4 + ((origLen + 3) & ~3);
        while (a + 4 <= body.length) {
          const alen = body.readUInt16LE(a);
          if (alen < 4 || a + alen > body.length) break;
          if ((body.readUInt16LE(a + 2) & 0x3fff) === NLMSGERR_ATTR_MSG) e.message = body.toString('utf8', a + 4, a + alen).replace(/\0+$/, '');
          a += (alen + 3) & ~3;
        }
      }
      out.push(e);
    }
    off += (len + 3) & ~3;
  }
  return out;
}

/** The error for a failed command, with a hint where the errno usually means one thing. */
export function commandError(what: string, m: NftMessage | undefined, errno: number, kernelMessage?: string): HakoError {
  let hint: string | undefined;
  if (errno === EPERM) hint = 'changing nftables needs CAP_NET_ADMIN';
  else if (errno === ENOENT && m?.modules?.length) hint = `is the kernel support loaded? try: modprobe ${m.modules.join(' ')}`;
  else if (errno === EOPNOTSUPP && !m) hint = 'the kernel has no nf_tables; try: modprobe nf_tables';
  else if (errno === EOPNOTSUPP && m?.type === NFT_MSG.NEWRULE) hint = 'the kernel refuses an expression of this rule in this chain';
  if (kernelMessage) hint = hint ? `${kernelMessage}; ${hint}` : kernelMessage;
  return new HakoError({ step: `nft ${m ? m.what : what}`, errno, hint });
}

/** Above this size a batch needs a larger send buffer (netlink: EMSGSIZE past sk_sndbuf - 32). */
const DEFAULT_SNDBUF_ROOM = 64 * 1024;

export class NftSocket {
  private seq = Math.floor(Math.random() * 0x3fffffff);
  private readonly rbuf = Buffer.alloc(64 * 1024);
  /** Set when a send or receive failed: the socket may be out of step; open a new one. */
  broken = false;
  private constructor(readonly fd: number) {}

  /** Opens a NETLINK_NETFILTER socket, in the netns of `nsFd` when given. */
  static open(nsFd = -1): NftSocket {
    const n = netNative();
    let fd: number;
    try {
      fd = n.netSocket(nsFd, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
    } catch (err) {
      const errno = addonErrno(err);
      throw new HakoError({ step: 'open a netfilter netlink socket', errno, hint: errno === EPROTONOSUPPORT ? 'the kernel has no nfnetlink; try: modprobe nf_tables' : undefined, cause: err });
    }
    // Errors come back with the failing message's header only (not the whole rule) and with the
    // kernel's explanation when it has one. Both are niceties: kernels before 4.3 / 4.12 answer
    // ENOPROTOOPT and plain errors work the same.
    for (const opt of [NETLINK_CAP_ACK, NETLINK_EXT_ACK]) {
      try {
        n.sockSetInt(fd, SOL_NETLINK, opt, 1);
      } catch {
        // see above
      }
    }
    return new NftSocket(fd);
  }

  close(): void {
    netNative().close(this.fd);
  }

  /**
   * Sends the messages as one batch and waits for the kernel's verdict. On any failure the kernel
   * has applied nothing; the first failing command is thrown (`nft add rule …: … (EOPNOTSUPP)`).
   * `what` names the whole transaction for failures that belong to no single message.
   */
  commit(messages: NftMessage[], what: string): void {
    if (messages.length === 0) return;
    const n = netNative();
    const batch = encodeBatch(messages, this.seq, { ackLast: true });
    this.seq = (this.seq + messages.length + 2) & 0x3fffffff;
    if (batch.buf.length > DEFAULT_SNDBUF_ROOM) {
      try {
        n.sockSetInt(this.fd, SOL_SOCKET, SO_SNDBUFFORCE, batch.buf.length + 4096);
      } catch (err) {
        throw new HakoError({ step: `nft ${what}: raise the send buffer to ${batch.buf.length} bytes`, errno: addonErrno(err), cause: err });
      }
    }
    try {
      n.sockSend(this.fd, batch.buf);
    } catch (err) {
      this.broken = true;
      const errno = addonErrno(err);
      throw new HakoError({ step: `nft ${what} (send ${batch.buf.length} bytes)`, errno, hint: errno === EMSGSIZE ? 'the batch is larger than the socket send buffer' : undefined, cause: err });
    }
    const last = batch.seq + batch.count;
    const errors: NlError[] = [];
    let overflow = false;
    // Wait for the last message's ack (or error), or an error on the begin message (the batch as
    // a whole was refused, or its commit failed); then take what else is already queued.
    for (let done = false, wait = true; ; ) {
      const got = this.receive(wait);
      if (got === 'empty') break;
      if (got === 'overflow') {
        overflow = true;
        wait = false;
        continue;
      }
      for (const e of got) {
        if (e.seq < batch.seq || e.seq > last) continue;
        if (e.seq === last || (e.seq === batch.seq && e.errno !== 0)) done = true;
        if (e.errno !== 0) errors.push(e);
      }
      if (done) wait = false;
    }
    if (errors.length === 0 && !overflow) return;
    const first = errors.sort((a, b) => a.seq - b.seq)[0];
    if (!first) throw new HakoError({ step: `nft ${what}`, errno: ENOBUFS, hint: 'too many errors to receive; the kernel applied nothing' });
    throw commandError(what, first.seq === batch.seq ? undefined : messages[first.seq - batch.seq - 1], first.errno, first.message);
  }

  /** Messages queued on the socket; 'empty' when not waiting and nothing is queued. */
  private receive(wait: boolean): NlError[] | 'empty' | 'overflow' {
    let len: number;
    try {
      len = netNative().sockRecv(this.fd, this.rbuf, !wait);
    } catch (err) {
      // The kernel dropped answers because the receive queue was full (one per failing message).
      if (addonErrno(err) === ENOBUFS) return 'overflow';
      this.broken = true;
      throw new HakoError({ step: 'nft: receive the kernel answer', errno: addonErrno(err), cause: err });
    }
    if (len < 0) return 'empty';
    return parseErrors(this.rbuf.subarray(0, len));
  }
}
