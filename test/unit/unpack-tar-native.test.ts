// The addon's tar header parser (native/addon_tar.c) and tar-reader.ts's own give the same
// entries and the same errors, for well-formed headers and for headers with every numeric field
// damaged in the ways parseNumber tells apart (base-256, negative, too large, non-octal digits,
// leading spaces and NULs), with right, signed-only and wrong checksums, and zero blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TarReader, useNativeTarHeader, type TarEntry } from '../../src/image/unpack/tar-reader.js';
import { makeTar } from '../helpers/tar.js';

const addon = join(import.meta.dirname, '..', '..', '..', 'build', 'hako_native.node');
const skip = existsSync(addon) ? false : `the native addon is not built (${addon})`;

/** What a TarReader makes of `tar`: its entries (with the data length) or its error. */
function outcome(tar: Buffer, native: boolean): string {
  useNativeTarHeader(native);
  const seen: Array<Omit<TarEntry, 'xattrs'> & { data: number; xattrs?: string[] }> = [];
  try {
    const r = new TarReader({
      entry: (e) => seen.push({ ...e, xattrs: e.xattrs ? [...e.xattrs.keys()] : undefined, data: 0 }),
      data: (c) => (seen[seen.length - 1]!.data += c.length),
      end: () => undefined,
    });
    // Fed in pieces, so that headers straddle two writes (the reader's staging path) too.
    for (let off = 0; off < tar.length; off += 700) r.write(tar.subarray(off, off + 700));
    r.finish();
    return JSON.stringify({ seen, done: r.done });
  } catch (e) {
    return JSON.stringify({ seen, error: (e as Error).message });
  } finally {
    useNativeTarHeader(true);
  }
}

/** The header's checksum field set from its bytes: unsigned sum, signed sum, or a wrong one. */
function resum(tar: Buffer, off: number, how: 'unsigned' | 'signed' | 'wrong'): void {
  tar.write('        ', off + 148, 8, 'latin1');
  let u = 0;
  let s = 0;
  for (let i = 0; i < 512; i++) {
    const c = tar[off + i]!;
    u += c;
    s += c > 127 ? c - 256 : c;
  }
  const v = how === 'unsigned' ? u : how === 'signed' ? s : u + 1;
  tar.write((v < 0 ? 0 : v).toString(8).padStart(6, '0') + '\0 ', off + 148, 8, 'latin1');
}

const FIELDS: Array<[number, number]> = [
  [100, 8], // mode
  [108, 8], // uid
  [116, 8], // gid
  [124, 12], // size
  [136, 12], // mtime
  [148, 8], // checksum
  [329, 8], // devmajor
  [337, 8], // devminor
];

/** A small deterministic PRNG (the cases must be the same on every run). */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** A field value of one of parseNumber's kinds. */
function damage(rand: () => number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const pick = (s: string): number => s.charCodeAt(Math.floor(rand() * s.length));
  switch (Math.floor(rand() * 8)) {
    case 0: // plain octal, NUL-terminated
      for (let i = 0; i < len - 1; i++) b[i] = pick('01234567');
      break;
    case 1: // leading spaces / NULs, then digits, then a space
      for (let i = 0; i < len; i++) b[i] = i < 2 ? pick(' \0') : i === len - 1 ? 0x20 : pick('01234567');
      break;
    case 2: // a non-octal digit somewhere
      for (let i = 0; i < len - 1; i++) b[i] = pick('01234567');
      b[Math.floor(rand() * (len - 1))] = pick('89x-+a\x7f');
      break;
    case 3: // base-256, small
      b[0] = 0x80;
      b[len - 1] = Math.floor(rand() * 256);
      b[len - 2] = Math.floor(rand() * 256);
      break;
    case 4: // base-256, any bytes (often beyond 2^53)
      b[0] = 0x80 | Math.floor(rand() * 128);
      for (let i = 1; i < len; i++) b[i] = Math.floor(rand() * 256);
      break;
    case 5: // base-256 negative
      b[0] = 0xff;
      for (let i = 1; i < len; i++) b[i] = Math.floor(rand() * 256);
      break;
    case 6: // empty (all NULs or spaces)
      b.fill(rand() < 0.5 ? 0 : 0x20);
      break;
    default: // digits then junk after the terminator (ignored)
      for (let i = 0; i < len; i++) b[i] = i < 3 ? pick('01234567') : i === 3 ? 0 : Math.floor(rand() * 256);
  }
  return b;
}

test('native and JS tar headers: the same entries for well-formed archives', { skip }, () => {
  const tar = makeTar([
    { name: 'dir/', type: 'dir', mode: 0o4755, uid: 1000, gid: 100, mtime: 1 },
    { name: 'dir/file', data: 'hello', mode: 0o600, uid: 0o7777777, gid: 5 },
    { name: 'dir/dev', type: 'char', devmajor: 1, devminor: 3 },
    { name: 'dir/blk', type: 'block', devmajor: 8, devminor: 0o7777777 },
    { name: 'dir/link', type: 'symlink', linkname: '../x' },
    { name: 'dir/hard', type: 'hardlink', linkname: 'dir/file' },
    { name: 'dir/' + 'n'.repeat(150), data: 'long', uid: 2 ** 30 },
    { name: 'dir/x', data: Buffer.alloc(3000, 1), xattrs: { 'user.a': 'b' } },
  ]);
  const n = outcome(tar, true);
  assert.equal(n, outcome(tar, false));
  assert.match(n, /"done":true/);
});

test('native and JS tar headers: the same entries or errors for damaged numeric fields and checksums', { skip }, () => {
  const base = makeTar([{ name: 'a', data: 'x' }, { name: 'b', type: 'char', devmajor: 4, devminor: 5 }, { name: 'c', type: 'symlink', linkname: 'a' }]);
  // The headers' offsets: a at 0 (its data block at 512), b at 1024, c at 1536, end at 2048.
  const heads = [0, 1024, 1536];
  const rand = prng(20261124);
  let errors = 0;
  let entries = 0;
  for (let k = 0; k < 3000; k++) {
    const tar = Buffer.from(base);
    const off = heads[Math.floor(rand() * heads.length)]!;
    const [foff, flen] = FIELDS[Math.floor(rand() * FIELDS.length)]!;
    damage(rand, flen).copy(tar, off + foff);
    const sum = rand();
    if (foff !== 148) resum(tar, off, sum < 0.7 ? 'unsigned' : sum < 0.85 ? 'signed' : 'wrong');
    if (rand() < 0.05) tar.fill(0, off, off + 512); // a zero block where a header was
    const n = outcome(tar, true);
    assert.equal(n, outcome(tar, false), `case ${k}: field at ${foff} of the header at ${off}: ${tar.subarray(off + foff, off + foff + flen).toString('hex')}`);
    if (n.includes('"error"')) errors++;
    else entries++;
  }
  // Both kinds of outcome were exercised.
  assert.ok(errors > 300 && entries > 300, `errors ${errors}, entries ${entries}`);
});
