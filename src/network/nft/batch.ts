// nfnetlink batches: NFNL_MSG_BATCH_BEGIN, the nf_tables messages, NFNL_MSG_BATCH_END, in one
// buffer (one sendmsg). The kernel applies the messages in between as one transaction.
import { encodeAttrs } from './expr.js';
import type { NftMessage } from './messages.js';
import { NFNETLINK_V0, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NLM_F } from './uapi.js';

const NLMSG_HDRLEN = 16;
const NFGENMSG_LEN = 4;

function nlmsg(type: number, flags: number, seq: number, family: number, resId: number, attrs: Buffer): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + NFGENMSG_LEN);
  b.writeUInt32LE(b.length + attrs.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags | NLM_F.REQUEST, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  // nlmsg_pid 0: the kernel. struct nfgenmsg { u8 family; u8 version; be16 res_id; }
  b.writeUInt8(family, 16);
  b.writeUInt8(NFNETLINK_V0, 17);
  b.writeUInt16BE(resId, 18);
  return Buffer.concat([b, attrs]);
}

export interface EncodedBatch {
  buf: Buffer;
  /** Sequence number of the begin message; message i has seq + 1 + i; the end message follows. */
  seq: number;
  count: number;
}

/**
 * Encodes a batch. With `ackLast`, the last message asks for an acknowledgement: the kernel
 * always reports errors, so that one ack tells the caller the whole batch has been answered
 * (acking every message would queue one skb per rule and overflow the receive buffer: ENOBUFS).
 */
export function encodeBatch(messages: NftMessage[], seq: number, opts: { ackLast?: boolean } = {}): EncodedBatch {
  const parts = [nlmsg(NFNL_MSG_BATCH_BEGIN, 0, seq, 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0))];
  messages.forEach((m, i) => {
    const ack = opts.ackLast && i === messages.length - 1 ? NLM_F.ACK : 0;
    parts.push(nlmsg((NFNL_SUBSYS_NFTABLES << 8) | m.type, m.flags | ack, seq + 1 + i, m.family, 0, encodeAttrs(m.attrs)));
  });
  parts.push(nlmsg(NFNL_MSG_BATCH_END, 0, seq + 1 + messages.length, 0, NFNL_SUBSYS_NFTABLES, Buffer.alloc(0)));
  return { buf: Buffer.concat(parts), seq, count: messages.length };
}
