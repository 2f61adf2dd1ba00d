// nf_tables expressions as netlink attributes (one NFTA_LIST_ELEM each), in the attribute order
// nft 1.0.6 uses, so our batches are byte-identical to nft's (test/unit/nft-golden.ts). Integer
// attributes are big-endian (NLA_BE32); register *contents* (ct state bits, fib results) are in
// host order, which is why those compare values are written little-endian here.
import { encodeAttrs, type Attr } from './attrs.js';
import {
  NFTA_BITWISE, NFTA_CMP, NFTA_CT, NFTA_DATA, NFTA_EXPR, NFTA_FIB, NFTA_IMMEDIATE, NFTA_LIST_ELEM, NFTA_META, NFTA_NAT, NFTA_PAYLOAD,
  NFTA_VERDICT, NFT_REG_VERDICT,
} from './uapi.js';

export type { Attr };
export { encodeAttrs };

// Buffers here are never written after creation (the encoder only copies them), so the small
// constants every rule repeats (registers, keys, operators, names) are made once.
const small32 = Array.from({ length: 256 }, (_, v) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v, 0);
  return b;
});
export const be32 = (v: number): Buffer => {
  if (v >= 0 && v < 256 && Number.isInteger(v)) return small32[v]!;
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(v | 0, 0);
  return b;
};
export const be16 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(2); // every byte is written
  b.writeUInt16BE(v, 0);
  return b;
};
/** A 32-bit register value in host order (x86_64 and arm64: little-endian). */
export const host32 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(4); // every byte is written
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
export const strz = (s: string): Buffer => Buffer.from(`${s}\0`);

const names = new Map<string, Buffer>();

/** One expression: NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }. */
export function expr(name: string, data: Attr[]): Attr {
  let n = names.get(name);
  if (!n) names.set(name, (n = strz(name)));
  return [NFTA_LIST_ELEM, [[NFTA_EXPR.NAME, n], [NFTA_EXPR.DATA, data]]];
}

/** `meta load <key> => reg` */
export const meta = (key: number, dreg: number): Attr => expr('meta', [[NFTA_META.KEY, be32(key)], [NFTA_META.DREG, be32(dreg)]]);

/** `payload load <len>b @ <base> header + <offset> => reg` */
export const payload = (base: number, offset: number, len: number, dreg: number): Attr =>
  expr('payload', [[NFTA_PAYLOAD.DREG, be32(dreg)], [NFTA_PAYLOAD.BASE, be32(base)], [NFTA_PAYLOAD.OFFSET, be32(offset)], [NFTA_PAYLOAD.LEN, be32(len)]]);

/** `cmp <op> reg <data>` */
export const cmp = (op: number, sreg: number, data: Buffer): Attr =>
  expr('cmp', [[NFTA_CMP.SREG, be32(sreg)], [NFTA_CMP.OP, be32(op)], [NFTA_CMP.DATA, [[NFTA_DATA.VALUE, data]]]]);

/** `bitwise reg = (reg & mask) ^ xor` over mask.length bytes. */
export const bitwise = (sreg: number, dreg: number, mask: Buffer, xor: Buffer): Attr =>
  expr('bitwise', [
    [NFTA_BITWISE.SREG, be32(sreg)],
    [NFTA_BITWISE.DREG, be32(dreg)],
    [NFTA_BITWISE.LEN, be32(mask.length)],
    [NFTA_BITWISE.MASK, [[NFTA_DATA.VALUE, mask]]],
    [NFTA_BITWISE.XOR, [[NFTA_DATA.VALUE, xor]]],
  ]);

/** `immediate reg <data>` */
export const immediate = (dreg: number, data: Buffer): Attr => expr('immediate', [[NFTA_IMMEDIATE.DREG, be32(dreg)], [NFTA_IMMEDIATE.DATA, [[NFTA_DATA.VALUE, data]]]]);

/** `immediate reg 0 <verdict> [-> chain]` (accept, drop, jump). */
export const verdict = (code: number, chain?: string): Attr => {
  const v: Attr[] = [[NFTA_VERDICT.CODE, be32(code)]];
  if (chain !== undefined) v.push([NFTA_VERDICT.CHAIN, strz(chain)]);
  return expr('immediate', [[NFTA_IMMEDIATE.DREG, be32(NFT_REG_VERDICT)], [NFTA_IMMEDIATE.DATA, [[NFTA_DATA.VERDICT, v]]]]);
};

/** `ct load <key> => reg` */
export const ct = (key: number, dreg: number): Attr => expr('ct', [[NFTA_CT.KEY, be32(key)], [NFTA_CT.DREG, be32(dreg)]]);

/** `fib <flags> <result> => reg` */
export const fib = (flags: number, result: number, dreg: number): Attr =>
  expr('fib', [[NFTA_FIB.FLAGS, be32(flags)], [NFTA_FIB.RESULT, be32(result)], [NFTA_FIB.DREG, be32(dreg)]]);

/** `nat <type> <family> addr_min reg proto_min reg flags` */
export const nat = (type: number, family: number, addrReg: number, protoReg: number, flags: number): Attr =>
  expr('nat', [
    [NFTA_NAT.TYPE, be32(type)],
    [NFTA_NAT.FAMILY, be32(family)],
    [NFTA_NAT.REG_ADDR_MIN, be32(addrReg)],
    [NFTA_NAT.REG_PROTO_MIN, be32(protoReg)],
    [NFTA_NAT.FLAGS, be32(flags)],
  ]);

/** `masq` (no options: an empty data attribute, as nft sends it). */
export const masq = (): Attr => expr('masq', []);
