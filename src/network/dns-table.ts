// The answering thread's tables (native/addon_dns.c): for the askers of each DNS listener, every
// question the thread may answer on its own, with the answer already in wire form. The answers
// are localRecords' (dns-answerer.ts), the very function the main loop answers with, so the two
// cannot disagree; a question without an entry goes to the main loop, which answers or forwards
// it. Listeners whose netns sits on the same networks share one table.
//
// Which questions get an entry: for each endpoint the askers can see, its container name, aliases,
// full ID and 12-character ID, each bare and as `name.network`, and the reverse name of each
// address on their networks. Other forms localRecords also knows (an ID prefix of 13–63
// characters, names with non-ASCII bytes) are answered from the main loop: the thread hands over
// any name whose first label is 12 or more hex digits and has no entry, and never reads a
// non-ASCII name. Every other name without an entry is not ours, so the thread forwards it
// itself (when the table says it may: every ID of the table's endpoints is lowercase hex, so the
// hex rule covers their prefixes) to the listener's upstreams (upstreamSet).
//
// Table format (big-endian): u8 forward (1: names without an entry may be forwarded), u8 hexmin
// (the hex rule's length; 0: none), u32 entry count, then per entry: u8 name length, the name in
// wire form (lowercase labels, then 0), u16 type (0: every type without an entry of its own), u8
// kind (0: answer, 1: to the main loop, 2: forward), u8 rcode, u16 record count, u16 records'
// length, the records without their owner names (the thread writes the question's name as asked).
import { localRecords } from './dns-answerer.js';
import { CLASS_IN, RCODE, TYPE, encodeName, encodeRecordTail, reverseName as reverseOf, type ResourceRecord } from './dns-message.js';
import { isIP } from 'node:net';
import { sharedNetworks, type DnsTable } from './dns-names.js';

/** A type localRecords answers as it answers every type but A, ANY and PTR (the `0` entries). */
const OTHER_TYPE = TYPE.TXT;
/** An ID prefix is at least this long (dns-names.ts's lookupNameOn). */
const ID_PREFIX_MIN = 12;
const KIND = { answer: 0, mainLoop: 1, forward: 2 } as const;

export interface NativeTables {
  tables: Buffer[];
  /** A listener's key → its table's index in `tables`. */
  tableOf: Map<string, number>;
}

/** The tables for the listeners `keys`. */
export function nativeTables(t: DnsTable, keys: Iterable<string>): NativeTables {
  const tables: Buffer[] = [];
  const bySignature = new Map<string, number>();
  const tableOf = new Map<string, number>();
  for (const key of keys) {
    const shared = sharedNetworks(t, key);
    const signature = [...shared].sort().join('\n');
    let index = bySignature.get(signature);
    if (index === undefined) {
      index = tables.push(tableFor(t, shared)) - 1;
      bySignature.set(signature, index);
    }
    tableOf.set(key, index);
  }
  return { tables, tableOf };
}

/** The table for askers on the networks `shared`. */
export function tableFor(t: DnsTable, shared: Set<string>): Buffer {
  const names = new Set<string>();
  for (const e of Object.values(t.endpoints)) {
    if (!shared.has(e.networkId)) continue;
    names.add(reverseOf(e.ip));
    const net = t.networks[e.networkId];
    if (!net || net.isDefault) continue;
    for (const bare of [e.containerName, ...e.aliases, e.containerId, e.containerId.slice(0, 12)]) {
      const b = bare.toLowerCase();
      names.add(b);
      names.add(`${b}.${net.name.toLowerCase()}`);
    }
  }
  const parts: Buffer[] = [Buffer.alloc(6)];
  let count = 0;
  const add = (wire: Buffer, type: number, records: ResourceRecord[] | 'mainLoop' | 'forward') => {
    const kind = typeof records === 'string' ? KIND[records] : KIND.answer;
    let tails: Buffer;
    try {
      tails = Buffer.concat(typeof records === 'string' ? [] : records.map(encodeRecordTail));
    } catch {
      // (a PTR target with a label over 63 bytes: the main loop meets the same error)
      return add(wire, type, 'mainLoop');
    }
    const head = Buffer.alloc(1 + wire.length + 8);
    head[0] = wire.length;
    wire.copy(head, 1);
    const o = 1 + wire.length;
    head.writeUInt16BE(type, o);
    head[o + 2] = kind;
    head[o + 3] = RCODE.NOERROR;
    head.writeUInt16BE(typeof records === 'string' ? 0 : records.length, o + 4);
    head.writeUInt16BE(tails.length, o + 6);
    parts.push(head, tails);
    count++;
  };
  for (const name of names) {
    const wire = wireName(name);
    if (!wire) continue;
    const other = localRecords(t, shared, name, OTHER_TYPE, CLASS_IN);
    const ptr = localRecords(t, shared, name, TYPE.PTR, CLASS_IN);
    if (other) {
      add(wire, TYPE.A, localRecords(t, shared, name, TYPE.A, CLASS_IN)!);
      add(wire, TYPE.ANY, localRecords(t, shared, name, TYPE.ANY, CLASS_IN)!);
      add(wire, 0, other);
    }
    if (ptr) add(wire, TYPE.PTR, ptr);
    else if (other) add(wire, TYPE.PTR, 'forward'); // a container name's PTR is not ours
  }
  // The hex rule stands for the ID prefixes only if every ID the lookups compare is hex.
  const hexIds = Object.values(t.endpoints).every((e) => !shared.has(e.networkId) || /^[0-9a-f]*$/.test(e.containerId));
  parts[0]![0] = hexIds ? 1 : 0;
  parts[0]![1] = ID_PREFIX_MIN;
  parts[0]!.writeUInt32BE(count, 2);
  return Buffer.concat(parts);
}

/** At most this many upstreams per set (the addon's DNS_MAX_UPSTREAMS). */
const MAX_UPSTREAMS = 16;

/**
 * The upstream set the thread forwards with (format in native/addon_dns.c): `upstreams` as
 * dns-answerer.ts's forward reads them (`ip`, `ipv4:port`), or undefined when one of them is not
 * an address the thread can use (the main loop then forwards, as it always did).
 */
export function upstreamSet(upstreams: string[], timeoutMs: number): Buffer | undefined {
  if (upstreams.length > MAX_UPSTREAMS) return undefined;
  const b = Buffer.alloc(5 + 19 * upstreams.length);
  b.writeUInt32BE(timeoutMs, 0);
  b[4] = upstreams.length;
  for (const [i, up] of upstreams.entries()) {
    const [host, portText] = up.includes(':') && !up.includes('::') ? up.split(':') : [up, '53'];
    const port = Number(portText);
    const family = isIP(host!);
    // (a zone index, fe80::1%eth0, is not carried: the main loop forwards to those)
    if (!family || host!.includes('%') || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
    const o = 5 + 19 * i;
    b[o] = family;
    if (family === 4) Buffer.from(host!.split('.').map(Number)).copy(b, o + 1);
    else ipv6Bytes(host!).copy(b, o + 1);
    b.writeUInt16BE(port, o + 17);
  }
  return b;
}

/** The 16 bytes of an IPv6 address (isIP said it is one; an IPv4 tail is allowed). */
function ipv6Bytes(ip: string): Buffer {
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const n = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + `${((n[0]! << 8) | n[1]!).toString(16)}:${((n[2]! << 8) | n[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/**
 * `name` in wire form when the thread can match it: ASCII without empty labels or a trailing dot
 * (a question never has those), labels ≤ 63 bytes, ≤ 255 bytes in all; else undefined.
 */
function wireName(name: string): Buffer | undefined {
  // eslint-disable-next-line no-control-regex
  if (name === '' || !/^[\x00-\x7f]*$/.test(name) || name.split('.').some((l) => l === '')) return undefined;
  try {
    const wire = encodeName(name);
    return wire.length <= 255 ? wire : undefined;
  } catch {
    return undefined;
  }
}
