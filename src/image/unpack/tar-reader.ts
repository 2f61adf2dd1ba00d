// A push-style streaming tar reader: feed it chunks, it calls back synchronously with each
// entry's header, its data (as subarrays of the chunks fed, no copies) and its end.
//
// Formats: v7, ustar (prefix field), GNU (long names 'L'/'K', base-256 numbers, old sparse 'S'),
// POSIX.1-2001 PAX (local 'x' and global 'g' headers: path, linkpath, size, uid, gid, uname,
// gname, mtime, atime, SCHILY.xattr.*, GNU.sparse 1.0). PAX values are kept as bytes where they
// can be binary (xattr values): decoding them as UTF-8 would corrupt e.g. security.capability.

import { native } from '../../native/addon.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface SparseSegment {
  offset: number;
  length: number;
}

export interface TarEntry {
  /** The name as stored (after long-name and PAX overrides), not yet normalised. */
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow in the archive (for sparse files: the stored bytes only). */
  size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  mtime: number;
  atime: number | undefined;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** xattr name → raw value, from SCHILY.xattr.* PAX records. */
  xattrs: Map<string, Buffer> | undefined;
  /** For sparse files: the real size and the data segments (the stored data is their concatenation). */
  sparse: { realSize: number; map: SparseSegment[] } | undefined;
}

export interface TarHandlers {
  entry(e: TarEntry): void;
  data(chunk: Buffer): void;
  end(): void;
  /**
   * Asked with each entry before `entry()` gets it: true makes write() stop there and keep the
   * entry and the rest of its chunk (the reader is then `holding`) until resume(), which hands
   * the entry to `entry()` without asking again.
   */
  holdEntry?(e: TarEntry): boolean;
}

export class TarFormatError extends Error {}

const BLOCK = 512;
const MAX_META = 64 * 1024 * 1024;

const enum State {
  Header,
  Data,
  Padding,
  Meta,
  SparseMap, // PAX sparse 1.0: decimal map at the start of the data
  SparseExt, // old GNU: extension blocks after the header
  Done,
}

function parseNumber(buf: Buffer, off: number, len: number, field: string): number {
  const first = buf[off]!;
  if (first & 0x80) {
    // Base-256 (GNU): big-endian two's complement in the remaining bits.
    if (first === 0xff) throw new TarFormatError(`negative ${field} in tar header`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`${field} in tar header is too large`);
    return v;
  }
  let v = 0;
  let i = off;
  const end = off + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++; // leading spaces/NULs
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`invalid octal ${field} in tar header`);
    v = v * 8 + (c - 0x30);
  }
  return v;
}

function parseString(buf: Buffer, off: number, len: number): string {
  // indexOf is native: the daemon runs without V8's optimizing compiler, where a byte loop costs.
  const max = off + len;
  const nul = buf[off] === 0 ? off : buf.indexOf(0, off);
  // No encoding argument: toString then goes straight to the UTF-8 decoder; naming one looks it
  // up first (getEncodingOps), ~2 ms of a busybox layer's 270 headers in hakod (no TurboFan).
  return buf.toString(undefined, off, nul < 0 || nul > max ? max : nul);
}

/** The POSIX ustar magic ("ustar\0") at offset 257, compared byte by byte (no string made). */
function isUstar(buf: Buffer, off: number): boolean {
  const m = off + 257;
  return buf[m] === 0x75 && buf[m + 1] === 0x73 && buf[m + 2] === 0x74 && buf[m + 3] === 0x61 && buf[m + 4] === 0x72 && buf[m + 5] === 0;
}

function isZeroBlock(buf: Buffer, off: number): boolean {
  for (let i = off; i < off + BLOCK; i += 8) {
    if (buf.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

/** A header copied to a 4-byte aligned block, read as 128 words by checksumOk. */
const scratch = new Uint8Array(BLOCK);
const words = new Uint32Array(scratch.buffer);

/**
 * The header's checksum: the sum of its bytes with the checksum field counted as spaces, as
 * unsigned or (old tars) signed bytes. Summed four bytes at a time (two 16-bit lanes, which
 * cannot overflow over 128 words) with the bytes ≥ 0x80 counted alongside for the signed sum:
 * ~3× fewer steps than a byte loop, which matters without V8's optimizing compiler (hakod).
 */
export function headerChecksums(buf: Buffer, off: number): { unsigned: number; signed: number } {
  buf.copy(scratch, 0, off, off + BLOCK);
  let lanes = 0;
  let high = 0;
  for (let i = 0; i < BLOCK / 4; i++) {
    const w = words[i]!;
    lanes += (w & 0x00ff00ff) + ((w >>> 8) & 0x00ff00ff);
    high += (w >>> 7) & 0x01010101;
  }
  let unsigned = (lanes % 65536) + Math.floor(lanes / 65536);
  let negatives = (high & 0xff) + ((high >>> 8) & 0xff) + ((high >>> 16) & 0xff) + ((high >>> 24) & 0xff);
  for (let i = 148; i < 156; i++) {
    const c = scratch[i]!;
    unsigned += 0x20 - c;
    if (c > 127) negatives--;
  }
  return { unsigned, signed: unsigned - 256 * negatives };
}

/** The addon's tarHeader (native/addon_tar.c), when the addon is built. */
type TarHeaderFn = (buf: Uint8Array, off: number, out: Float64Array) => number;
let nativeHeader: TarHeaderFn | null | undefined;

function tarHeaderFn(): TarHeaderFn | null {
  if (nativeHeader === undefined) {
    try {
      const fn = (native() as unknown as { tarHeader?: TarHeaderFn }).tarHeader;
      nativeHeader = typeof fn === 'function' ? fn : null;
    } catch {
      nativeHeader = null; // not built (unit tests): the JS below
    }
  }
  return nativeHeader;
}

/** Uses (true) or not (false) the addon's header parser; for tests comparing the two. */
export function useNativeTarHeader(on: boolean): void {
  nativeHeader = on ? undefined : null;
}

/** The addon's header numbers: [size, mode, uid, gid, mtime, devmajor, devminor], NaN where parseNumber throws. */
const fields = new Float64Array(7);

/** A header's number: the addon's, or parseNumber's (which throws the error) where it gave NaN. */
function field(i: number, buf: Buffer, off: number, len: number, name: string): number {
  const v = fields[i]!;
  return v === v ? v : parseNumber(buf, off, len, name);
}

function checksumOk(buf: Buffer, off: number): boolean {
  let stored: number;
  try {
    stored = parseNumber(buf, off + 148, 8, 'checksum');
  } catch {
    return false;
  }
  const sums = headerChecksums(buf, off);
  return stored === sums.unsigned || stored === sums.signed;
}

interface PaxRecords {
  strings: Map<string, string>;
  xattrs: Map<string, Buffer> | undefined;
}

function parsePax(buf: Buffer): PaxRecords {
  const strings = new Map<string, string>();
  let xattrs: Map<string, Buffer> | undefined;
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break; // padding some writers leave
    const sp = buf.indexOf(0x20, pos);
    if (sp < 0) throw new TarFormatError('malformed PAX record');
    const len = Number(buf.toString('latin1', pos, sp));
    if (!Number.isInteger(len) || len <= sp - pos || pos + len > buf.length) throw new TarFormatError('malformed PAX record length');
    const rec = buf.subarray(sp + 1, pos + len);
    if (rec[rec.length - 1] !== 0x0a) throw new TarFormatError('malformed PAX record (no newline)');
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('malformed PAX record (no "=")');
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1, rec.length - 1);
    if (key.startsWith('SCHILY.xattr.')) {
      (xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), Buffer.from(value));
    } else {
      strings.set(key, value.toString('utf8'));
    }
    pos += len;
  }
  return { strings, xattrs };
}

function paxInt(v: string, key: string): number {
  if (!/^[0-9]+$/.test(v)) throw new TarFormatError(`invalid PAX ${key} "${v}"`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`PAX ${key} is too large`);
  return n;
}

function paxTime(v: string, key: string): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(v)) throw new TarFormatError(`invalid PAX ${key} "${v}"`);
  return Number(v);
}

export class TarReader {
  private state = State.Header;
  private readonly stage = Buffer.alloc(BLOCK);
  private staged = 0;
  private remaining = 0; // data bytes left in the current entry
  private padding = 0;
  private metaType = 0;
  private metaChunks: Buffer[] = [];
  private metaLen = 0;
  private longName: string | undefined;
  private longLink: string | undefined;
  private pax: PaxRecords | undefined;
  private globalPax = new Map<string, string>();
  private pending: TarEntry | undefined; // waiting for sparse map
  private sparseText = '';
  private zeroBlocks = 0;
  private sawEntry = false;

  /** The unparsed rest of a chunk while a handler holds the reader (see TarHandlers.holdEntry). */
  private held: Buffer | undefined;
  /** The entry held back (set by emit; write() then keeps the rest of its chunk in `held`). */
  private heldEntry: TarEntry | undefined;

  constructor(private readonly h: TarHandlers) {}

  /** True when write() stopped before a header because the handler asked to (see resume). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Hands over the held entry, then goes on with the input kept while holding (it may hold again). */
  resume(): void {
    const rest = this.held;
    if (rest === undefined) return;
    this.held = undefined;
    const e = this.heldEntry!;
    this.heldEntry = undefined;
    this.dispatch(e);
    this.write(rest);
  }

  /** True once the end-of-archive marker (or, leniently, EOF at a block boundary) was seen. */
  get done(): boolean {
    return this.state === State.Done;
  }

  write(chunk: Buffer): void {
    if (this.held !== undefined) throw new Error('TarReader.write while holding: call resume() first');
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      switch (this.state) {
        case State.Done:
          return; // trailing zeros or junk after the end marker: ignored (still hashed by the caller)
        case State.Header: {
          let block: Buffer;
          let boff: number;
          if (this.staged === 0 && len - pos >= BLOCK) {
            block = chunk;
            boff = pos;
            pos += BLOCK;
          } else {
            const n = Math.min(BLOCK - this.staged, len - pos);
            chunk.copy(this.stage, this.staged, pos, pos + n);
            this.staged += n;
            pos += n;
            if (this.staged < BLOCK) return;
            this.staged = 0;
            block = this.stage;
            boff = 0;
          }
          this.header(block, boff);
          if (this.heldEntry !== undefined) {
            this.held = chunk.subarray(pos);
            return;
          }
          break;
        }
        case State.Data: {
          const n = Math.min(this.remaining, len - pos);
          if (!this.skipping) this.h.data(chunk.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finishData();
          break;
        }
        case State.Padding: {
          const n = Math.min(this.padding, len - pos);
          pos += n;
          this.padding -= n;
          if (this.padding === 0) this.state = State.Header;
          break;
        }
        case State.Meta:
        case State.SparseExt: {
          const n = Math.min(this.remaining, len - pos);
          this.metaChunks.push(chunk.subarray(pos, pos + n));
          this.metaLen += n;
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            const buf = Buffer.concat(this.metaChunks, this.metaLen);
            this.metaChunks = [];
            this.metaLen = 0;
            if (this.state === State.Meta) this.meta(buf);
            else this.sparseExt(buf);
            if (this.heldEntry !== undefined) {
              this.held = chunk.subarray(pos);
              return;
            }
          }
          break;
        }
        case State.SparseMap: {
          // PAX sparse 1.0: decimal lines (count, then offset/length pairs) padded to whole blocks.
          const n = Math.min(BLOCK - this.staged, len - pos);
          chunk.copy(this.stage, this.staged, pos, pos + n);
          this.staged += n;
          pos += n;
          if (this.staged < BLOCK) break;
          this.staged = 0;
          this.remaining -= BLOCK;
          this.sparseText += this.stage.toString('latin1');
          this.trySparseMap();
          if (this.heldEntry !== undefined) {
            this.held = chunk.subarray(pos);
            return;
          }
          break;
        }
      }
    }
  }

  /** Call at end of input: throws if the archive was cut short. */
  finish(): void {
    if (this.held !== undefined) throw new Error('TarReader.finish while holding: call resume() first');
    if (this.state === State.Done) return;
    if (this.state === State.Header && this.staged === 0 && this.longName === undefined && this.longLink === undefined && this.pax === undefined) {
      // EOF at a block boundary without the two zero blocks: GNU tar accepts it (with a warning).
      this.state = State.Done;
      return;
    }
    throw new TarFormatError('unexpected end of tar archive (truncated layer?)');
  }

  private header(buf: Buffer, off: number): void {
    // The numbers and checksum come from the addon when it is built (the same rules, in C), else
    // from the JS here; `num` reads a field either way.
    const fast = tarHeaderFn();
    const status = fast ? fast(buf, off, fields) : isZeroBlock(buf, off) ? 0 : checksumOk(buf, off) ? 1 : 2;
    const num = fast ? field : (_i: number, b: Buffer, o: number, len: number, name: string): number => parseNumber(b, o, len, name);
    if (status === 0) {
      if (++this.zeroBlocks >= 2) this.state = State.Done;
      return;
    }
    if (this.zeroBlocks > 0) this.zeroBlocks = 0;
    if (status !== 1) throw new TarFormatError(this.sawEntry ? 'tar header checksum mismatch (corrupt layer?)' : 'not a tar archive (bad header checksum)');
    this.sawEntry = true;
    const typeflag = buf[off + 156]!;
    const size = num(0, buf, off + 124, 12, 'size');
    switch (typeflag) {
      case 0x78: // 'x' PAX extended header for the next entry
      case 0x67: // 'g' PAX global header
      case 0x4c: // 'L' GNU long name
      case 0x4b: // 'K' GNU long link
        if (size > MAX_META) throw new TarFormatError(`tar metadata header of ${size} bytes is too large`);
        this.metaType = typeflag;
        this.startData(size, State.Meta);
        return;
    }
    const pax = this.pax;
    const g = this.globalPax;
    const get = (k: string): string | undefined => pax?.strings.get(k) ?? g.get(k);
    let name: string;
    const paxPath = get('path');
    if (paxPath !== undefined) name = paxPath;
    else if (this.longName !== undefined) name = this.longName;
    else {
      name = parseString(buf, off + 0, 100);
      if (isUstar(buf, off)) {
        const prefix = parseString(buf, off + 345, 155);
        if (prefix) name = prefix + '/' + name;
      }
    }
    const linkname = get('linkpath') ?? this.longLink ?? parseString(buf, off + 157, 100);
    let type: EntryType;
    switch (typeflag) {
      case 0:
      case 0x30: // '0'
      case 0x37: // '7' contiguous
      case 0x53: // 'S' old GNU sparse
        type = 'file';
        break;
      case 0x31:
        type = 'hardlink';
        break;
      case 0x32:
        type = 'symlink';
        break;
      case 0x33:
        type = 'char';
        break;
      case 0x34:
        type = 'block';
        break;
      case 0x35:
        type = 'dir';
        break;
      case 0x36:
        type = 'fifo';
        break;
      default: {
        // 'D' dumpdir, 'V' volume label, 'N' old long names, vendor types: skip their data.
        if (typeflag === 0x4d) throw new TarFormatError('multi-volume tar archives are not supported');
        this.resetMeta();
        this.startData(size, State.Data, true);
        return;
      }
    }
    // Old v7 archives mark directories with a trailing slash on a regular-file entry.
    if (type === 'file' && typeflag === 0 && name.endsWith('/')) type = 'dir';
    const paxSize = get('size');
    const entry: TarEntry = {
      name,
      type,
      mode: num(1, buf, off + 100, 8, 'mode') & 0o7777,
      uid: get('uid') !== undefined ? paxInt(get('uid')!, 'uid') : num(2, buf, off + 108, 8, 'uid'),
      gid: get('gid') !== undefined ? paxInt(get('gid')!, 'gid') : num(3, buf, off + 116, 8, 'gid'),
      size: paxSize !== undefined ? paxInt(paxSize, 'size') : size,
      mtime: get('mtime') !== undefined ? paxTime(get('mtime')!, 'mtime') : num(4, buf, off + 136, 12, 'mtime'),
      atime: get('atime') !== undefined ? paxTime(get('atime')!, 'atime') : undefined,
      linkname,
      devmajor: type === 'char' || type === 'block' ? num(5, buf, off + 329, 8, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? num(6, buf, off + 337, 8, 'devminor') : 0,
      xattrs: pax?.xattrs,
      sparse: undefined,
    };
    const major = pax?.strings.get('GNU.sparse.major');
    if (typeflag === 0x53) {
      // Old GNU sparse: 4 (offset, numbytes) pairs at 386, isextended at 482, realsize at 483.
      const map: SparseSegment[] = [];
      for (let i = 0; i < 4; i++) {
        const o = off + 386 + i * 24;
        if (buf[o] === 0) break;
        map.push({ offset: parseNumber(buf, o, 12, 'sparse offset'), length: parseNumber(buf, o + 12, 12, 'sparse length') });
      }
      entry.sparse = { realSize: parseNumber(buf, off + 483, 12, 'sparse realsize'), map };
      entry.size = size;
      this.resetMeta();
      if (buf[off + 482]) {
        this.pending = entry;
        this.startData(BLOCK, State.SparseExt);
        return;
      }
      this.emit(entry);
      return;
    }
    if (major === '1' && type === 'file') {
      // PAX sparse 1.0: real name and size in PAX, the map at the start of the data.
      const realName = pax?.strings.get('GNU.sparse.name');
      if (realName !== undefined) entry.name = realName;
      const realSize = pax?.strings.get('GNU.sparse.realsize');
      entry.sparse = { realSize: realSize === undefined ? 0 : paxInt(realSize, 'GNU.sparse.realsize'), map: [] };
      this.resetMeta();
      if (entry.size < BLOCK) throw new TarFormatError('sparse file without a map');
      this.pending = entry;
      this.sparseText = '';
      this.remaining = entry.size;
      this.padding = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      this.state = State.SparseMap;
      return;
    }
    if (pax?.strings.has('GNU.sparse.map') || pax?.strings.has('GNU.sparse.offset')) {
      throw new TarFormatError(`entry "${name}": PAX sparse formats 0.0/0.1 are not supported (re-create the layer without --sparse)`);
    }
    this.resetMeta();
    this.emit(entry);
  }

  private emit(entry: TarEntry): void {
    if (this.h.holdEntry?.(entry)) {
      // write() stops after this step and keeps the rest of its chunk; resume() dispatches.
      this.heldEntry = entry;
      return;
    }
    this.dispatch(entry);
  }

  private dispatch(entry: TarEntry): void {
    this.h.entry(entry);
    // Like Go's archive/tar (which wrote most layers), only regular files carry data: links,
    // dirs, devices and fifos are header-only whatever their size field says.
    if (entry.type === 'file') this.startData(entry.size, State.Data, false);
    else {
      this.h.end();
      this.state = State.Header;
    }
  }

  private resetMeta(): void {
    this.longName = undefined;
    this.longLink = undefined;
    this.pax = undefined;
  }

  private startData(size: number, state: State, skip = false): void {
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.remaining = size;
    if (size === 0) {
      if (state === State.Data && !skip) this.h.end();
      this.state = State.Header;
      return;
    }
    this.state = state;
    this.skipping = skip;
  }

  private skipping = false;

  private finishData(): void {
    if (!this.skipping) this.h.end();
    this.skipping = false;
    this.state = this.padding > 0 ? State.Padding : State.Header;
  }

  private meta(buf: Buffer): void {
    this.state = this.padding > 0 ? State.Padding : State.Header;
    switch (this.metaType) {
      case 0x4c:
        this.longName = parseString(buf, 0, buf.length);
        break;
      case 0x4b:
        this.longLink = parseString(buf, 0, buf.length);
        break;
      case 0x78: {
        const p = parsePax(buf);
        if (this.pax) {
          for (const [k, v] of p.strings) this.pax.strings.set(k, v);
          if (p.xattrs) for (const [k, v] of p.xattrs) (this.pax.xattrs ??= new Map()).set(k, v);
        } else this.pax = p;
        break;
      }
      case 0x67: {
        const p = parsePax(buf);
        for (const [k, v] of p.strings) {
          if (k === 'path' || k === 'linkpath') continue; // meaningless as defaults
          this.globalPax.set(k, v);
        }
        break;
      }
    }
  }

  private sparseExt(buf: Buffer): void {
    const entry = this.pending!;
    for (let i = 0; i < 21; i++) {
      const o = i * 24;
      if (buf[o] === 0) break;
      entry.sparse!.map.push({ offset: parseNumber(buf, o, 12, 'sparse offset'), length: parseNumber(buf, o + 12, 12, 'sparse length') });
    }
    if (buf[504]) {
      this.startData(BLOCK, State.SparseExt);
      return;
    }
    this.pending = undefined;
    this.state = State.Header;
    this.emit(entry);
  }

  private trySparseMap(): void {
    const entry = this.pending!;
    const lines = this.sparseText.split('\n');
    lines.pop(); // the unterminated rest
    const count = lines.length > 0 ? Number(lines[0]) : NaN;
    if (lines.length > 0 && (!Number.isSafeInteger(count) || count < 0)) throw new TarFormatError('malformed sparse map');
    if (lines.length === 0 || lines.length < 1 + 2 * count) {
      if (this.remaining <= 0) throw new TarFormatError('malformed sparse map');
      return; // need another block
    }
    const map: SparseSegment[] = [];
    for (let i = 0; i < count; i++) map.push({ offset: paxInt(lines[1 + 2 * i]!, 'sparse offset'), length: paxInt(lines[2 + 2 * i]!, 'sparse length') });
    entry.sparse!.map = map;
    entry.size = this.remaining; // the segments' bytes follow the map's blocks
    this.pending = undefined;
    this.sparseText = '';
    this.emit(entry);
  }
}
