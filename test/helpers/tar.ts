// A small tar writer for tests: ustar headers, PAX records (long names, xattrs, big ids),
// GNU long names, every entry type, whiteouts. Enough to craft malicious and odd layers.

export interface TarTestEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** SCHILY.xattr.* PAX records. */
  xattrs?: Record<string, string | Buffer>;
  /** Extra PAX records (e.g. { path: '…' }). */
  pax?: Record<string, string>;
  /** Encode a name longer than 100 bytes as a GNU 'L' entry instead of PAX. */
  gnuLongName?: boolean;
}

const typeFlags = { file: '0', hardlink: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' } as const;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new Error(`value ${value} does not fit in ${len} octal bytes`);
  buf.write(s, off, len - 1, 'latin1');
  buf[off + len - 1] = 0;
}

function header(name: string, flag: string, size: number, e: Partial<TarTestEntry>, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode ?? (flag === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, Math.min(e.uid ?? 0, 0o7777777));
  octal(h, 116, 8, Math.min(e.gid ?? 0, 0o7777777));
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 1700000000);
  h.write('        ', 148, 8, 'latin1');
  h.write(flag, 156, 1, 'latin1');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write('root', 265, 32, 'latin1');
  h.write('root', 297, 32, 'latin1');
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const c of h) sum += c;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

function pad(data: Buffer): Buffer[] {
  const rest = (512 - (data.length % 512)) % 512;
  return rest ? [data, Buffer.alloc(rest)] : [data];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Serialises entries into a complete tar (with the two zero blocks at the end). */
export function makeTar(entries: TarTestEntry[], opts: { end?: boolean } = {}): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const flag = typeFlags[type];
    const data = type === 'file' ? (Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '')) : Buffer.alloc(0);
    const records: Buffer[] = [];
    let name = e.name;
    let linkname = e.linkname ?? '';
    const nameBytes = Buffer.byteLength(name);
    if (nameBytes > 100) {
      if (e.gnuLongName) {
        const ln = Buffer.from(name + '\0');
        out.push(header('././@LongLink', 'L', ln.length, {}), ...pad(ln));
      } else records.push(paxRecord('path', Buffer.from(name)));
      name = Buffer.from(name).subarray(0, 99).toString('latin1');
    }
    if (Buffer.byteLength(linkname) > 100) {
      if (e.gnuLongName) {
        const ll = Buffer.from(linkname + '\0');
        out.push(header('././@LongLink', 'K', ll.length, {}), ...pad(ll));
      } else records.push(paxRecord('linkpath', Buffer.from(linkname)));
      linkname = linkname.slice(0, 99);
    }
    if ((e.uid ?? 0) > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(e.uid))));
    if ((e.gid ?? 0) > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(e.gid))));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.isBuffer(v) ? v : Buffer.from(v)));
    for (const [k, v] of Object.entries(e.pax ?? {})) records.push(paxRecord(k, Buffer.from(v)));
    if (records.length > 0) {
      const body = Buffer.concat(records);
      out.push(header('PaxHeaders/' + name.slice(0, 80), 'x', body.length, {}), ...pad(body));
    }
    out.push(header(name, flag, data.length, e, linkname));
    if (data.length) out.push(...pad(data));
  }
  if (opts.end !== false) out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

/** A whiteout entry hiding `path` in lower layers. */
export function whiteout(path: string): TarTestEntry {
  const i = path.lastIndexOf('/');
  return { name: i < 0 ? `.wh.${path}` : `${path.slice(0, i)}/.wh.${path.slice(i + 1)}`, data: '' };
}

/** An opaque-directory marker for `dir`. */
export function opaque(dir: string): TarTestEntry {
  return { name: `${dir.replace(/\/$/, '')}/.wh..wh..opq`, data: '' };
}
