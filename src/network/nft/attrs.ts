// Netlink attributes (struct nlattr: u16 len, u16 type, payload padded to 4 bytes) as a tree, and
// a two-pass encoder (sizes, then one buffer) so a batch of thousands of rules is built without
// a Buffer.concat per nesting level. Header fields are host order (little-endian here).
export type Attr = [type: number, payload: Buffer | Attr[]];

export const NLA_F_NESTED = 0x8000;
const align4 = (n: number) => (n + 3) & ~3;

export function attrsSize(attrs: Attr[]): number {
  let n = 0;
  for (const [, p] of attrs) n += 4 + align4(Array.isArray(p) ? attrsSize(p) : p.length);
  return n;
}

/** Writes the attributes at `off` of a zero-filled buffer; returns the end offset. */
export function writeAttrs(attrs: Attr[], buf: Buffer, off: number): number {
  for (const [type, p] of attrs) {
    const start = off;
    if (Array.isArray(p)) {
      off = writeAttrs(p, buf, off + 4);
      buf.writeUInt16LE(off - start, start);
      buf.writeUInt16LE(type | NLA_F_NESTED, start + 2);
    } else {
      buf.writeUInt16LE(4 + p.length, start);
      buf.writeUInt16LE(type, start + 2);
      p.copy(buf, start + 4);
      off = start + 4 + align4(p.length);
    }
  }
  return off;
}

export function encodeAttrs(attrs: Attr[]): Buffer {
  const buf = Buffer.alloc(attrsSize(attrs));
  writeAttrs(attrs, buf, 0);
  return buf;
}
