// DNS wire format (RFC 1035), just what the embedded server needs: parse a query, build an answer
// with A / AAAA / CNAME / PTR records, and read answers back (tests, forwarding sanity checks).
import { invalid } from '../common/errors.js';

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface Question {
  name: string; // as sent (case kept, so answers echo it: 0x20 randomisation), no trailing dot
  type: number;
  class: number;
}

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** A: dotted quad; AAAA: raw 16 bytes hex-free string via data; CNAME/PTR/NS: a name. Others: raw. */
  data: string | Buffer;
}

export interface Message {
  id: number;
  flags: number; // QR, opcode, AA, TC, RD, RA, rcode as in the header
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

export function isResponse(m: Message): boolean {
  return (m.flags & 0x8000) !== 0;
}
export function rcodeOf(m: Message): number {
  return m.flags & 0xf;
}
export function opcodeOf(m: Message): number {
  return (m.flags >> 11) & 0xf;
}

function fail(what: string): never {
  throw invalid(`malformed DNS message: ${what}`);
}

/** Reads a possibly compressed name at `off`; returns it and the offset after it (in place). */
function readName(buf: Buffer, off: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  let jumps = 0;
  for (;;) {
    if (off >= buf.length) fail('name runs past the end');
    const len = buf[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) fail('truncated compression pointer');
      if (++jumps > 32) fail('compression loop');
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (len & 0xc0) fail('bad label type');
    if (off + 1 + len > buf.length) fail('label runs past the end');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return [labels.join('.'), end >= 0 ? end : off];
}

function readRecord(buf: Buffer, off: number): [ResourceRecord, number] {
  const [name, o] = readName(buf, off);
  if (o + 10 > buf.length) fail('truncated record header');
  const type = buf.readUInt16BE(o);
  const klass = buf.readUInt16BE(o + 2);
  const ttl = buf.readUInt32BE(o + 4);
  const rdlen = buf.readUInt16BE(o + 8);
  const start = o + 10;
  if (start + rdlen > buf.length) fail('truncated record data');
  let data: string | Buffer;
  if (type === TYPE.A && rdlen === 4) data = Array.from(buf.subarray(start, start + 4)).join('.');
  else if (type === TYPE.CNAME || type === TYPE.PTR || type === TYPE.NS) data = readName(buf, start)[0];
  else data = Buffer.from(buf.subarray(start, start + rdlen));
  return [{ name, type, class: klass, ttl, data }, start + rdlen];
}

export function decodeMessage(buf: Buffer): Message {
  if (buf.length < 12) fail('shorter than a header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = 12;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const [name, o] = readName(buf, off);
    if (o + 4 > buf.length) fail('truncated question');
    questions.push({ name, type: buf.readUInt16BE(o), class: buf.readUInt16BE(o + 2) });
    off = o + 4;
  }
  const sections: ResourceRecord[][] = [[], [], []];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const [rr, o] = readRecord(buf, off);
      sections[s]!.push(rr);
      off = o;
    }
  }
  return { id, flags, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! };
}

/** `name` in wire form (its labels, then 0); throws for a label over 63 bytes. */
export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter((l) => l.length > 0)) {
    const b = Buffer.from(label, 'latin1');
    if (b.length > 63) throw invalid(`DNS label too long in "${name}"`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function encodeRdata(rr: ResourceRecord): Buffer {
  if (Buffer.isBuffer(rr.data)) return rr.data;
  if (rr.type === TYPE.A) return Buffer.from(rr.data.split('.').map(Number));
  if (rr.type === TYPE.CNAME || rr.type === TYPE.PTR || rr.type === TYPE.NS) return encodeName(rr.data);
  return Buffer.from(rr.data, 'latin1');
}

export function encodeMessage(m: Message): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(m.id, 0);
  header.writeUInt16BE(m.flags, 2);
  header.writeUInt16BE(m.questions.length, 4);
  header.writeUInt16BE(m.answers.length, 6);
  header.writeUInt16BE(m.authorities.length, 8);
  header.writeUInt16BE(m.additionals.length, 10);
  const parts: Buffer[] = [header];
  for (const qn of m.questions) {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(qn.type, 0);
    tail.writeUInt16BE(qn.class, 2);
    parts.push(encodeName(qn.name), tail);
  }
  for (const rr of [...m.answers, ...m.authorities, ...m.additionals]) parts.push(encodeName(rr.name), encodeRecordTail(rr));
  return Buffer.concat(parts);
}

/** A record as encodeMessage writes it, without its owner name: type, class, TTL, rdlength, rdata. */
export function encodeRecordTail(rr: ResourceRecord): Buffer {
  const rdata = encodeRdata(rr);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(rr.type, 0);
  head.writeUInt16BE(rr.class, 2);
  head.writeUInt32BE(rr.ttl, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([head, rdata]);
}

/** A query for `name` (RD set). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  return encodeMessage({ id, flags: 0x0100, questions: [{ name, type, class: CLASS_IN }], answers: [], authorities: [], additionals: [] });
}

/** A response to `query` with `answers` and `rcode`: QR, AA (we are authoritative for containers), RD copied, RA. */
export function buildResponse(query: Message, answers: ResourceRecord[], rcode: number): Buffer {
  const flags = 0x8000 | (query.flags & 0x7800) | 0x0400 | (query.flags & 0x0100) | 0x0080 | (rcode & 0xf);
  return encodeMessage({ id: query.id, flags, questions: query.questions, answers, authorities: [], additionals: [] });
}

/** `"172.18.0.2"` → `"2.0.18.172.in-addr.arpa"`, and back (undefined when not a v4 reverse name). */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}
export function ipFromReverseName(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  return m ? [m[4], m[3], m[2], m[1]].join('.') : undefined;
}
