// Container archives (cp, export) carry Go's file-type bits in each header's mode field, as
// dockerd's do: GNU tar's stream is rewritten header by header (src/engine/fs/tar-type-bits.ts),
// whatever the chunks it arrives in; data, long-name entries and the end blocks pass untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tarTypeBits } from '../../src/engine/fs/tar-type-bits.js';
import { tarStream } from '../../src/engine/fs/ops.js';
import { tempDir } from '../helpers/fixtures.js';

async function through(tar: Buffer, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) parts.push(tar.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts).pipe(tarTypeBits())) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Each header of `tar`: its offset, name (GNU long names resolved), typeflag, mode, checksum check. */
function headers(tar: Buffer): { off: number; name: string; type: string; mode: number; sumOk: boolean }[] {
  const out = [];
  let long: string | undefined;
  for (let off = 0; off + 512 <= tar.length; ) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(h.toString('latin1', 124, 136), 8);
    const type = String.fromCharCode(h[156]!);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    const name = long ?? h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
    long = type === 'L' ? tar.toString('utf8', off + 512, off + 512 + size).replace(/\0.*$/s, '') : undefined;
    out.push({ off, name, type, mode: parseInt(h.toString('latin1', 100, 108), 8), sumOk: sum === parseInt(h.toString('latin1', 148, 156), 8) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

test('tarTypeBits: every entry type gets stat(2)’s type bits in its mode, checksums redone, data untouched, for any chunking', async () => {
  const t = tempDir('hako-tar-bits-');
  try {
    const root = join(t.path, 'r');
    mkdirSync(join(root, 'd', 'x'.repeat(90), 'y'.repeat(40)), { recursive: true });
    writeFileSync(join(root, 'd', 'file'), Buffer.alloc(1000, 7));
    writeFileSync(join(root, 'd', 'block'), Buffer.alloc(512, 1));
    writeFileSync(join(root, 'd', 'x'.repeat(90), 'y'.repeat(40), 'deep'), 'long name\n');
    writeFileSync(join(root, 'd', 'suid'), '#!/bin/sh\n');
    chmodSync(join(root, 'd', 'suid'), 0o4755);
    symlinkSync('file', join(root, 'd', 'link'));
    linkSync(join(root, 'd', 'file'), join(root, 'd', 'hard'));
    execFileSync('mkfifo', ['-m', '0640', join(root, 'd', 'fifo')]);
    const gnu = execFileSync('tar', ['--sort=name', '-C', root, '-cf', '-', 'd']);
    const before = headers(gnu);
    assert.ok(before.some((h) => h.type === 'L'), 'a GNU long-name entry is in the archive');
    assert.ok(before.some((h) => h.type === '1') && before.some((h) => h.type === '6'));
    assert.ok(before.every((h) => h.mode <= 0o7777), 'GNU tar writes permission bits only');

    const want = await through(gnu, gnu.length);
    for (const chunk of [1, 7, 511, 513, 4096]) assert.ok((await through(gnu, chunk)).equals(want), `chunks of ${chunk}`);
    assert.equal(want.length, gnu.length);
    const after = headers(want);
    assert.deepEqual(after.map((h) => [h.off, h.name, h.type]), before.map((h) => [h.off, h.name, h.type]));
    for (const h of after) {
      assert.ok(h.sumOk, `checksum of ${h.name}`);
      // A hard link is a regular file to Go; a long-name entry keeps GNU tar's mode.
      const expected = h.type === 'L' ? before.find((b) => b.off === h.off)!.mode : lstatSync(join(root, h.name)).mode;
      assert.equal(h.mode.toString(8), expected.toString(8), h.name);
    }
    // Only the mode and checksum fields of headers changed.
    const headerAt = new Set(after.map((h) => h.off));
    for (let i = 0; i < gnu.length; i++) {
      if (gnu[i] === want[i]) continue;
      const rel = i % 512;
      assert.ok(headerAt.has(i - rel) && ((rel >= 100 && rel < 108) || (rel >= 148 && rel < 156)), `byte ${i} changed`);
    }
    // GNU tar checks each header's checksum as it lists.
    assert.match(execFileSync('tar', ['-tvf', '-'], { input: want }).toString(), /^prw-r----- .* d\/fifo$/m);
    // tarStream (cp's archive, export) writes them so.
    const parts: Buffer[] = [];
    for await (const c of tarStream(root, 'd')) parts.push(c as Buffer);
    assert.equal(headers(Buffer.concat(parts)).find((h) => h.name === 'd/')?.mode.toString(8), lstatSync(join(root, 'd')).mode.toString(8));
  } finally {
    t.cleanup();
  }
});
