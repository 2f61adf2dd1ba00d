// The tar header checksum summed four bytes at a time equals the plain byte sum (unsigned and
// signed, checksum field as spaces) for any block at any offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { headerChecksums } from '../../src/image/unpack/tar-reader.js';

function plain(buf: Buffer, off: number): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : buf[off + i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return { unsigned, signed };
}

test('headerChecksums matches the byte-by-byte sums', () => {
  const big = randomBytes(512 * 300 + 3);
  for (let k = 0; k < 300; k++) assert.deepEqual(headerChecksums(big, 3 + k * 512), plain(big, 3 + k * 512), `block ${k}`);
  for (const fill of [0x00, 0x7f, 0x80, 0xff]) {
    const b = Buffer.alloc(515, fill);
    assert.deepEqual(headerChecksums(b, 1), plain(b, 1), `all 0x${fill.toString(16)}`);
  }
});
