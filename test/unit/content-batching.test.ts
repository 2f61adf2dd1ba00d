// Content store details of the faster pull: downloads written to the partial file in batches
// (a broken download must still keep every byte it received, for the resume), and small blobs
// stored together (all or none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ContentStore, markRetryable } from '../../src/image/store/content.js';
import { sha256 } from '../../src/image/digest.js';
import { tempDir } from '../helpers/fixtures.js';

test('a download that breaks off keeps exactly the bytes received in its partial file, batches or not', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const digest = sha256(data);
    const cut = 1024 * 1024 + 512 * 1024 + 7; // one full 1 MiB batch and a pending rest
    const fetch = async () => {
      // 64 KiB chunks, one per turn of the event loop (pushed at once, a Readable would hand
      // them over as one 1.5 MiB read, flushed whole).
      const body = new Readable({ read() {} });
      let off = 0;
      const next = (): void => {
        if (off >= cut) {
          body.destroy(markRetryable(new Error('connection reset')));
          return;
        }
        body.push(data.subarray(off, Math.min(cut, off + 64 * 1024)));
        off += 64 * 1024;
        setTimeout(next, 1);
      };
      next();
      return { body, start: 0 };
    };
    await assert.rejects(store.ingest({ digest, size: data.length }, fetch, { attempts: 1 }), /connection reset/);
    const partial = join(store.ingestDir, `${digest.slice(7)}.partial`);
    assert.ok(readFileSync(partial).equals(data.subarray(0, cut)), 'the partial file holds every received byte, in order');
    // And the resume continues from there.
    const res = await store.ingest({ digest, size: data.length }, async (offset) => ({ body: Readable.from([data.subarray(offset)]), start: offset }));
    assert.equal(res.resumedFrom, cut);
    assert.ok(readFileSync(store.blobPath(digest)).equals(data));
    assert.deepEqual(readdirSync(store.ingestDir), []);
  } finally {
    t.cleanup();
  }
});

test('putBlobs stores several blobs at once (duplicates once); one bad digest stores none of them', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const a = Buffer.from('{"a":1}');
    const b = Buffer.from('{"b":2}');
    const got = await store.putBlobs([{ data: a, expected: { digest: sha256(a), size: a.length, what: 'config' } }, { data: b }, { data: a }]);
    assert.deepEqual(got, [sha256(a), sha256(b), sha256(a)]);
    assert.ok(readFileSync(store.blobPath(sha256(a))).equals(a));
    assert.ok(readFileSync(store.blobPath(sha256(b))).equals(b));

    const c = Buffer.from('{"c":3}');
    await assert.rejects(
      store.putBlobs([
        { data: c },
        { data: b, expected: { digest: sha256(a), size: b.length, what: 'manifest' } },
      ]),
      /digest mismatch for manifest sha256:/,
    );
    assert.equal(store.has(sha256(c)), false, 'nothing of a failed batch is stored');
    assert.deepEqual(readdirSync(store.ingestDir), []);
  } finally {
    t.cleanup();
  }
});
