// The answering thread's tables (native/addon_dns.c): for the askers of each DNS listener, every
// question the thread may answer on its own, with the answer already in wire form. The answers
// are localRecords' (dns-answerer.ts), the very function the main loop answers with, so the two
// cannot disagree; a question without an entry goes to the main loop, which answers or forwards
// it. Listeners whose netns sits on the same networks share one table.
//
// Which questions get an entry: for each endpoint the askers can see, its container name, aliases,
// full ID and 12-character ID, each bare and as `name.network`, and the reverse name of each
// address on their networks. Other forms localRecords also knows (an ID prefix of 13–63
// characters, names with non-ASCII bytes) are answered from the main loop.
//
// Table format (big-endian): u32 entry count, then per entry: u8 name length, the name in wire form
// (lowercase labels, then 0), u16 type (0: every type without an entry of its own), u8 defer (1:
// to the main loop), u8 rcode, u16 record count, u16 records' length, the records without their
// owner names (the thread writes the question's name as asked).
import { localRecords } from './dns-answerer.js';
import { CLASS_IN, RCODE, TYPE, encodeName, encodeRecordTail, reverseName as reverseOf, type ResourceRecord } from './dns-message.js';
import { sharedNetworks, type DnsTable } from './dns-names.js';

/** A type localRecords answers as it answers every type but A, ANY and PTR (the `0` entries). */
const OTHER_TYPE = TYPE.TXT;

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
  const parts: Buffer[] = [Buffer.alloc(4)];
  let count = 0;
  const add = (wire: Buffer, type: number, records: ResourceRecord[] | 'defer') => {
    const defer = records === 'defer';
    let tails: Buffer;
    try {
      tails = Buffer.concat(defer ? [] : records.map(encodeRecordTail));
    } catch {
      // (a PTR target with a label over 63 bytes: the main loop meets the same error)
      return add(wire, type, 'defer');
    }
    const head = Buffer.alloc(1 + wire.length + 8);
    head[0] = wire.length;
    wire.copy(head, 1);
    let o = 1 + wire.length;
    head.writeUInt16BE(type, o);
    head[o + 2] = defer ? 1 : 0;
    head[o + 3] = RCODE.NOERROR;
    head.writeUInt16BE(defer ? 0 : records.length, o + 4);
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
    else if (other) add(wire, TYPE.PTR, 'defer');
  }
  parts[0]!.writeUInt32BE(count, 0);
  return Buffer.concat(parts);
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
