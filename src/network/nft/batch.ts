// nfnetlink batches: NFNL_MSG_BATCH_BEGIN, the nf_tables messages, NFNL_MSG_BATCH_END, in one
// buffer (one sendmsg). The kernel applies the messages in between as one transaction.
import { attrsSize, writeAttrs } from './attrs.js';
import type { NftMessage } from './messages.js';
import { NFNETLINK_V0, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NLM_F } from './uapi.js';

/** struct nlmsghdr (16 bytes) + struct nfgenmsg (4 bytes). */
const HEADER = 20;

/** Writes the two headers at `off`; the attributes follow. */
function writeHeader(buf: Buffer, off: number, len: number, type: number, flags: number, seq: number, family: number, resId: number): void {
  buf.writeUInt32LE(len, off);
  buf.writeUInt16LE(type, off + 4);
  buf.writeUInt16LE(flags | NLM_F.REQUEST, off + 6);
  buf.writeUInt32LE(seq >>> 0, off + 8);
  // nlmsg_pid 0 (the kernel) stays zero. struct nfgenmsg { u8 family; u8 version; be16 res_id; }
  buf.writeUInt8(family, off + 16);
  buf.writeUInt8(NFNETLINK_V0, off + 17);
  buf.writeUInt16BE(resId, off + 18);
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
  const sizes = messages.map((m) => HEADER + attrsSize(m.attrs));
  const buf = Buffer.alloc(sizes.reduce((a, b) => a + b, 2 * HEADER));
  writeHeader(buf, 0, HEADER, NFNL_MSG_BATCH_BEGIN, 0, seq, 0, NFNL_SUBSYS_NFTABLES);
  let off = HEADER;
  messages.forEach((m, i) => {
    const ack = opts.ackLast && i === messages.length - 1 ? NLM_F.ACK : 0;
    writeHeader(buf, off, sizes[i]!, (NFNL_SUBSYS_NFTABLES << 8) | m.type, m.flags | ack, seq + 1 + i, m.family, 0);
    off = writeAttrs(m.attrs, buf, off + HEADER);
  });
  writeHeader(buf, off, HEADER, NFNL_MSG_BATCH_END, 0, seq + 1 + messages.length, 0, NFNL_SUBSYS_NFTABLES);
  return { buf, seq, count: messages.length };
}
