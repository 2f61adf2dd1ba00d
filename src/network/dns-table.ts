// The answering thread's tables (native/addon_dns.c): for the askers of each DNS listener, every
// question the thread may answer on its own, with the answer already in wire form. The answers
// are recordsOf's (dns-answerer.ts), the function the main loop answers with, over an index of
// the same lookups (test/unit/dns-table.test.ts compares every answer with the main loop's); a question without an entry goes to the main loop, which answers or forwards
// it. Listeners whose netns sits on the same networks share one table.
//
// Which questions get an entry: for each endpoint the askers can see, its container name, aliases,
// hostname, full ID and 12-character ID, each bare and as `name.network`, and the reverse name of each
// address on their networks. Other forms the main loop also knows (an ID prefix of 13–63
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
import { recordsOf, type LocalNames } from './dns-answerer.js';
import { CLASS_IN, RCODE, TYPE, encodeRecordTail, reverseName as reverseOf, type ResourceRecord } from './dns-message.js';
import { isIP } from 'node:net';
import { linkAddresses, linkNames, lookupNameOn, namesOf, reverseNameOn, type DnsTable } from './dns-names.js';

/** An ID prefix is at least this long (dns-names.ts's lookupNameOn). */
const ID_PREFIX_MIN = 12;
const KIND = { answer: 0, mainLoop: 1, forward: 2 } as const;

export interface NativeTables {
  tables: Buffer[];
  /** A listener's key → its table's index in `tables`. */
  tableOf: Map<string, number>;
}

/**
 * What a server's table pushes keep for the next (give the same object to each push): each
 * table with what it was made from, and each name's entries with what they were made from (the
 * addresses and PTR target), so a push writes again only what changed.
 */
export interface TableCache {
  tables: Map<string, { from: string; table: Buffer; names: string[] }>;
  names: Map<string, { from: string; bytes: Buffer; count: number }>;
}

export function newTableCache(): TableCache {
  return { tables: new Map(), names: new Map() };
}

/** The tables for the listeners `keys`. */
export function nativeTables(t: DnsTable, keys: Iterable<string>, cache: TableCache = newTableCache()): NativeTables {
  // each netns's networks (dns-names.ts's sharedNetworks, for all keys in one pass)
  const networksOf = new Map<string, Set<string>>();
  const withLinks = new Set<string>(); // netns with --link aliases
  for (const e of Object.values(t.endpoints)) {
    const key = String(e.nsIno);
    let set = networksOf.get(key);
    if (!set) networksOf.set(key, (set = new Set()));
    set.add(e.networkId);
    if (e.links?.length) withLinks.add(key);
  }
  const next: TableCache = newTableCache();
  const tables: Buffer[] = [];
  const bySignature = new Map<string, number>();
  const tableOf = new Map<string, number>();
  for (const key of keys) {
    const shared = networksOf.get(key) ?? new Set<string>();
    // A netns with --link aliases gets a table of its own (they resolve for it only).
    const linkKey = withLinks.has(key) && linkNames(t, key).length ? key : undefined;
    const signature = [...shared].sort().join('\n') + (linkKey !== undefined ? `\nlinks of ${linkKey}` : '');
    let index = bySignature.get(signature);
    if (index === undefined) {
      // everything tableFor reads
      const from = JSON.stringify([
        [...shared].map((id) => t.networks[id]),
        Object.values(t.endpoints).filter((e) => shared.has(e.networkId)).map((e) => [e.networkId, e.ip, e.containerName, e.aliases, e.hostname, e.containerId, ...(linkKey !== undefined && String(e.nsIno) === linkKey ? [e.links] : [])]),
      ]);
      let made = cache.tables.get(signature);
      if (made && made.from === from) {
        for (const name of made.names) next.names.set(name, cache.names.get(name)!);
      } else {
        const names: string[] = [];
        made = { from, table: tableFor(t, shared, { old: cache.names, next: next.names, used: names }, linkKey), names };
      }
      next.tables.set(signature, made);
      index = tables.push(made.table) - 1;
      bySignature.set(signature, index);
    }
    tableOf.set(key, index);
  }
  cache.tables = next.tables;
  cache.names = next.names;
  return { tables, tableOf };
}

interface IndexedEndpoint {
  order: number;
  ip: string;
  id: string;
  /** Its network's name, lowercase. */
  net: string;
}

/**
 * dns-names.ts's lookupNameOn and reverseNameOn for askers on `shared`, indexed (a name costs a
 * few map lookups instead of a pass over every endpoint: a table has ~10 names an endpoint).
 * Undefined for a table where the index could differ from them (a network missing, a network
 * name whose lowercase has another length): the plain functions are used then.
 */
export function indexedNames(t: DnsTable, shared: Set<string>): LocalNames | undefined {
  const forms = new Map<string, IndexedEndpoint[]>(); // names, aliases, hostnames (lowercase), IDs
  const byPrefix = new Map<string, IndexedEndpoint[]>(); // an ID's first 12 characters
  const nets = new Set<string>();
  const reverse = new Map<string, string>();
  const add = (m: Map<string, IndexedEndpoint[]>, k: string, e: IndexedEndpoint) => {
    const list = m.get(k);
    if (list) list.push(e);
    else m.set(k, [e]);
  };
  let order = 0;
  for (const e of Object.values(t.endpoints)) {
    if (!shared.has(e.networkId)) continue;
    const network = t.networks[e.networkId];
    if (!network) return undefined;
    if (!reverse.has(e.ip)) reverse.set(e.ip, `${e.containerName}.${network.name}`);
    if (network.isDefault) continue;
    const net = network.name.toLowerCase();
    if (net.length !== network.name.length) return undefined;
    nets.add(net);
    const ep: IndexedEndpoint = { order: order++, ip: e.ip, id: e.containerId, net };
    for (const f of new Set([...namesOf(e).map((a) => a.toLowerCase()), e.containerId])) add(forms, f, ep);
    add(byPrefix, e.containerId.slice(0, ID_PREFIX_MIN), ep);
  }
  // An endpoint compares the name without `.<its network>` when it ends so, else the name.
  const bareFor = (n: string, net: string) => (n.endsWith(`.${net}`) ? n.slice(0, -net.length - 1) : n);
  return {
    ips(n) {
      const found: IndexedEndpoint[] = [];
      const look = (bare: string) => {
        for (const ep of forms.get(bare) ?? []) if (bareFor(n, ep.net) === bare) found.push(ep);
        if (bare.length < ID_PREFIX_MIN) return;
        for (const ep of byPrefix.get(bare.slice(0, ID_PREFIX_MIN)) ?? []) if (ep.id.startsWith(bare) && bareFor(n, ep.net) === bare) found.push(ep);
      };
      look(n);
      for (const net of nets) if (n.endsWith(`.${net}`)) look(n.slice(0, -net.length - 1));
      if (found.length <= 1) return found.length ? [found[0]!.ip] : undefined;
      found.sort((a, b) => a.order - b.order);
      return [...new Set(found.map((ep) => ep.ip))];
    },
    ptr: (ip) => reverse.get(ip),
  };
}

/** The table for askers on the networks `shared`. */
export function tableFor(t: DnsTable, shared: Set<string>, cache?: { old: TableCache['names']; next: TableCache['names']; used: string[] }, linksOf?: string): Buffer {
  const names = new Set<string>(linksOf !== undefined ? linkNames(t, linksOf) : []);
  for (const e of Object.values(t.endpoints)) {
    if (!shared.has(e.networkId)) continue;
    names.add(reverseOf(e.ip));
    const net = t.networks[e.networkId];
    if (!net || net.isDefault) continue;
    // (not the full ID: 64 characters cannot be one label of a question)
    for (const bare of [...namesOf(e), e.containerId.slice(0, ID_PREFIX_MIN)]) {
      const b = bare.toLowerCase();
      names.add(b);
      names.add(`${b}.${net.name.toLowerCase()}`);
    }
  }
  const plain = indexedNames(t, shared) ?? { ips: (n: string) => lookupNameOn(t, shared, n), ptr: (ip: string) => reverseNameOn(t, shared, ip) };
  // (the asker's --link aliases first, as dns-names.ts's lookupName)
  const lookups: LocalNames = linksOf === undefined ? plain : {
    ips(n) {
      const via = linkAddresses(t, linksOf, n);
      const rest = plain.ips(n);
      return via.length ? [...new Set([...via, ...(rest ?? [])])] : rest;
    },
    ptr: plain.ptr,
  };
  const w = new TableWriter();
  for (const name of names) {
    // recordsOf answers A and ANY alike, every other type but PTR with `other`, and PTR only for
    // reverse names (test/unit/dns-table.test.ts checks the table against it for every type)
    const ips = lookups.ips(name);
    const reverse = name.endsWith('.in-addr.arpa');
    const ptr = reverse ? recordsOf(name, TYPE.PTR, CLASS_IN, lookups) : undefined;
    if (!ips && !ptr) continue;
    const from = `${ips ? ips.join(' ') : ''}/${ptr ? String(ptr[0]!.data) : ''}`;
    const hit = cache?.old.get(name) ?? cache?.next.get(name);
    if (hit && hit.from === from) {
      w.append(hit.bytes, hit.count);
      cache!.next.set(name, hit);
      cache!.used.push(name);
      continue;
    }
    const start = w.mark();
    if (!w.name(name)) continue;
    if (ips) {
      const a = recordsOf(name, TYPE.A, CLASS_IN, { ips: () => ips, ptr: lookups.ptr })!;
      w.entry(TYPE.A, a);
      w.entry(TYPE.ANY, a);
      w.entry(0, []);
    }
    if (ptr) w.entry(TYPE.PTR, ptr);
    else w.entry(TYPE.PTR, 'forward'); // a container name's PTR is not ours
    cache?.next.set(name, { from, ...w.since(start) });
    cache?.used.push(name);
  }
  // The hex rule stands for the ID prefixes only if every ID the lookups compare is hex.
  const hexIds = Object.values(t.endpoints).every((e) => !shared.has(e.networkId) || /^[0-9a-f]*$/.test(e.containerId));
  return w.finish(hexIds, ID_PREFIX_MIN);
}

/** Writes a table (format above) into one growing buffer; the records' encodings are reused. */
class TableWriter {
  private buf = Buffer.allocUnsafe(8192);
  private off = 6;
  private count = 0;
  /** The current name's wire form: buf[nameAt, nameAt + nameLen). */
  private nameAt = 0;
  private nameLen = 0;
  private readonly tails = new Map<string, Buffer>();

  /** Where the entries written next start. */
  mark(): { off: number; count: number } {
    return { off: this.off, count: this.count };
  }

  /** The entries written since `m` (a copy). */
  since(m: { off: number; count: number }): { bytes: Buffer; count: number } {
    return { bytes: Buffer.from(this.buf.subarray(m.off, this.off)), count: this.count - m.count };
  }

  /** Entries written before (since()). */
  append(bytes: Buffer, count: number): void {
    this.room(bytes.length + 512);
    this.off += bytes.copy(this.buf, this.off);
    this.count += count;
  }

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger, 0, 0, this.off);
    this.buf = bigger;
  }

  /**
   * Makes `name` the name of the next entries (its wire form kept aside at the buffer's end);
   * false when the thread could not match it: not ASCII, an empty label, a label over 63 bytes,
   * over 255 bytes in all (a question never has those).
   */
  name(name: string): boolean {
    const len = name.length + 2;
    if (name === '' || len > 255) return false;
    this.room(2 * (len + 9));
    // written after the entries so far; each entry copies it to its place
    const at = this.buf.length - len;
    let labelAt = at;
    for (let i = 0; i <= name.length; i++) {
      const c = i < name.length ? name.charCodeAt(i) : 0x2e;
      if (c > 0x7f) return false;
      if (c === 0x2e) {
        const l = at + 1 + i - labelAt - 1;
        if (l === 0 || l > 63) return false;
        this.buf[labelAt] = l;
        labelAt = at + 1 + i;
      } else {
        this.buf[at + 1 + i] = c;
      }
    }
    this.buf[at + len - 1] = 0;
    this.nameAt = at;
    this.nameLen = len;
    return true;
  }

  /** An entry for the current name. */
  entry(type: number, records: ResourceRecord[] | 'mainLoop' | 'forward'): void {
    let tails: Buffer[] = [];
    if (typeof records !== 'string') {
      try {
        tails = records.map((rr) => this.tail(rr));
      } catch {
        // (a PTR target with a label over 63 bytes: the main loop meets the same error)
        return this.entry(type, 'mainLoop');
      }
    }
    const tailLen = tails.reduce((n, b) => n + b.length, 0);
    // (room() may move the buffer: the name is copied to the new one's end first)
    const need = 1 + this.nameLen + 8 + tailLen;
    if (this.off + need > this.nameAt) {
      const name = Buffer.from(this.buf.subarray(this.nameAt, this.nameAt + this.nameLen));
      this.room(need + name.length + this.buf.length);
      this.nameAt = this.buf.length - name.length;
      name.copy(this.buf, this.nameAt);
    }
    const b = this.buf;
    let o = this.off;
    b[o++] = this.nameLen;
    b.copy(b, o, this.nameAt, this.nameAt + this.nameLen);
    o += this.nameLen;
    b.writeUInt16BE(type, o);
    b[o + 2] = typeof records === 'string' ? KIND[records] : KIND.answer;
    b[o + 3] = RCODE.NOERROR;
    b.writeUInt16BE(typeof records === 'string' ? 0 : records.length, o + 4);
    b.writeUInt16BE(tailLen, o + 6);
    o += 8;
    for (const tail of tails) o += tail.copy(b, o);
    this.off = o;
    this.count++;
  }

  private tail(rr: ResourceRecord): Buffer {
    const key = typeof rr.data === 'string' ? `${rr.type} ${rr.class} ${rr.ttl} ${rr.data}` : '';
    if (!key) return encodeRecordTail(rr);
    let b = this.tails.get(key);
    if (!b) this.tails.set(key, (b = encodeRecordTail(rr)));
    return b;
  }

  finish(forward: boolean, hexmin: number): Buffer {
    this.buf[0] = forward ? 1 : 0;
    this.buf[1] = hexmin;
    this.buf.writeUInt32BE(this.count, 2);
    return Buffer.from(this.buf.subarray(0, this.off));
  }
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
