// decompress's gunzip without the CRC-32 (skipGzipCrc, pull's layers): the same bytes and the
// same refusals as zlib's gunzip for every member layout and chunking, except a wrong CRC-32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { decompress, gzipHeaderLength } from '../../src/image/unpack/decompress.js';

/** Inflates `blob` fed in `chunk`-byte pieces; the bytes read, the output, or the error. */
async function run(blob: Buffer, chunk: number, skipGzipCrc: boolean): Promise<{ out: Buffer; read: number }> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < blob.length; i += chunk) pieces.push(blob.subarray(i, i + chunk));
  const d = await decompress(Readable.from(pieces), undefined, { expect: 'gzip', gunzipChunk: 4096, skipGzipCrc });
  const out: Buffer[] = [];
  for await (const c of d.chunks) out.push(c);
  return { out: Buffer.concat(out), read: d.compressedBytes() };
}

/** A gzip member with every optional header field set (FEXTRA, FNAME, FCOMMENT, FHCRC). */
function fullHeaderMember(data: Buffer): Buffer {
  const head = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3]), Buffer.from([5, 0]), Buffer.from('extra'), Buffer.from('name.tar\0'), Buffer.from('a comment\0')]);
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(crc32(head) & 0xffff);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([head, hcrc, deflateRawSync(data), trailer]);
}

const text = Buffer.from('hako layer bytes '.repeat(20_000)); // compresses well: members end inside chunks
const noise = randomBytes(20_000); // stored blocks
const valid: Array<[string, Buffer, Buffer]> = [
  ['one member', gzipSync(text), text],
  ['every header field', fullHeaderMember(text), text],
  ['three members (as eStargz)', Buffer.concat([gzipSync(text), fullHeaderMember(noise), gzipSync(Buffer.alloc(0))]), Buffer.concat([text, noise])],
  ['zero padding after the member', Buffer.concat([gzipSync(noise), Buffer.alloc(5000)]), noise],
  ['an empty member', gzipSync(Buffer.alloc(0)), Buffer.alloc(0)],
];

for (const [what, blob, want] of valid) {
  test(`gunzip without CRC: ${what}: the bytes zlib's gunzip gives, all input read, any chunking`, async () => {
    for (const chunk of [1, 7, 1000, 65_536, blob.length]) {
      const checked = await run(blob, chunk, false);
      const unchecked = await run(blob, chunk, true);
      assert.ok(checked.out.equals(want), `checked, chunk ${chunk}`);
      assert.ok(unchecked.out.equals(want), `unchecked, chunk ${chunk}`);
      assert.equal(unchecked.read, blob.length, `chunk ${chunk}`);
    }
  });
}

test('gunzip without CRC: corrupt, truncated and odd input is refused as zlib refuses it (a Z_ code)', async () => {
  const gz = gzipSync(text);
  const badLength = Buffer.from(gz);
  badLength[badLength.length - 1] = badLength[badLength.length - 1]! ^ 1;
  const badDeflate = Buffer.from(gz);
  badDeflate[12] = 0xff; // an invalid block type
  const cases: Array<[string, Buffer]> = [
    ['truncated deflate data', gz.subarray(0, gz.length >> 1)],
    ['no trailer', gz.subarray(0, gz.length - 8)],
    ['half a trailer', gz.subarray(0, gz.length - 4)],
    ['a wrong length in the trailer', badLength],
    ['invalid deflate data', badDeflate],
    ['a header cut short', gz.subarray(0, 6)],
    ['an unknown method', Buffer.concat([gz.subarray(0, 2), Buffer.from([7]), gz.subarray(3)])],
    ['reserved flags', Buffer.concat([gz.subarray(0, 3), Buffer.from([0x20]), gz.subarray(4)])],
    ['garbage after the member', Buffer.concat([gz, Buffer.from('garbage')])],
    ['a second member cut short', Buffer.concat([gz, gzipSync(text).subarray(0, 100)])],
  ];
  for (const [what, blob] of cases) {
    for (const chunk of [1, 1000, blob.length]) {
      for (const skip of [false, true]) {
        await assert.rejects(run(blob, chunk, skip), (e: NodeJS.ErrnoException) => {
          assert.match(String(e.code), /^Z_/, `${what}, chunk ${chunk}, skip ${skip}: ${e.message}`);
          return true;
        });
      }
    }
  }
});

test('gunzip without CRC: a wrong CRC-32 is not checked (the caller verifies digest and diff ID); zlib gunzip refuses it', async () => {
  const gz = gzipSync(text);
  gz[gz.length - 8] = gz[gz.length - 8]! ^ 1;
  await assert.rejects(run(gz, 1000, false), /incorrect data check/);
  assert.ok((await run(gz, 1000, true)).out.equals(text));
});

test('gzipHeaderLength: 0 until the header is complete, then its length', () => {
  const m = fullHeaderMember(text);
  const full = 10 + 2 + 5 + 'name.tar\0'.length + 'a comment\0'.length + 2;
  for (let n = 0; n < full; n++) assert.equal(gzipHeaderLength(m.subarray(0, n)), 0, `${n} bytes`);
  assert.equal(gzipHeaderLength(m.subarray(0, full)), full);
  assert.equal(gzipHeaderLength(gzipSync(text)), 10);
  assert.throws(() => gzipHeaderLength(Buffer.from([0x1f, 0x8c])), /incorrect header check/);
});

test('gunzip without CRC: a consumer that stops early or a source that fails ends cleanly (no stray error)', async () => {
  const problems: unknown[] = [];
  const onProblem = (e: unknown): void => void problems.push(e);
  process.on('unhandledRejection', onProblem);
  process.on('uncaughtException', onProblem);
  try {
    const big = gzipSync(randomBytes(3 << 20));
    const pieces: Buffer[] = [];
    for (let i = 0; i < big.length; i += 65_536) pieces.push(big.subarray(i, i + 65_536));
    const d = await decompress(Readable.from(pieces), undefined, { expect: 'gzip', skipGzipCrc: true });
    for await (const c of d.chunks) {
      assert.ok(c.length > 0);
      break;
    }
    async function* failing(): AsyncGenerator<Buffer> {
      yield big.subarray(0, 100_000);
      throw new Error('connection reset');
    }
    const f = await decompress(Readable.from(failing()), undefined, { expect: 'gzip', skipGzipCrc: true });
    await assert.rejects((async () => {
      for await (const c of f.chunks) void c;
    })(), /connection reset/);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(problems, []);
  } finally {
    process.off('unhandledRejection', onProblem);
    process.off('uncaughtException', onProblem);
  }
});
