// The content store without a registry: verified ingest, resume, no partial leftovers, verify().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { existsSync, readdirSync, writeFileSync, mkdirSync, utimesSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ContentStore, PARTIAL_EXPIRY_MS, markRetryable } from '../../src/image/store/content.js';
import { MetadataStore } from '../../src/image/store/metadata.js';
import { spawnSync } from 'node:child_process';
import { DockerConfig } from '../../src/image/registry/credentials.js';
import { sha256 } from '../../src/image/digest.js';
import { tempDir } from '../helpers/fixtures.js';

test('ingest verifies, renames into place, and refuses a wrong digest leaving nothing', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const data = randomBytes(300_000);
    const digest = sha256(data);
    const res = await store.ingest({ digest, size: data.length, what: 'layer' }, async () => ({ body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]), start: 0 }));
    assert.equal(res.downloaded, true);
    assert.ok(store.has(digest));
    const bad = randomBytes(1000);
    const want = sha256(randomBytes(10));
    await assert.rejects(store.ingest({ digest: want, size: 1000, what: 'layer' }, async () => ({ body: Readable.from([bad]), start: 0 })), (err: Error) => {
      assert.equal(err.message, `digest mismatch for layer ${want}: expected ${want}, got ${sha256(bad)} (nothing was stored)`);
      return true;
    });
    await assert.rejects(store.ingest({ digest: want, size: 10 }, async () => ({ body: Readable.from([bad]), start: 0 })), /size mismatch.*got more/);
    assert.ok(!store.has(want));
    assert.deepEqual(readdirSync(store.ingestDir), []);
    assert.ok((await store.verify()).ok);
  } finally {
    t.cleanup();
  }
});

test('a broken body is resumed from where it stopped, with the tap seeing every byte once', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const data = randomBytes(200_000);
    const digest = sha256(data);
    const offsets: number[] = [];
    const fetch = async (offset: number) => {
      offsets.push(offset);
      if (offsets.length === 1) {
        const body = new Readable({ read() {} });
        body.push(data.subarray(0, 70_000));
        setImmediate(() => body.destroy(markRetryable(new Error('connection reset'))));
        return { body, start: 0 };
      }
      // The second server ignores Range: the store skips what it has.
      return { body: Readable.from([data]), start: 0 };
    };
    const tapped: Buffer[] = [];
    const { PassThrough } = await import('node:stream');
    const res = await store.ingest({ digest, size: data.length }, fetch, {
      tap: () => {
        const p = new PassThrough();
        p.on('data', (c: Buffer) => tapped.push(c));
        return p;
      },
    });
    assert.equal(res.tapped, true);
    assert.deepEqual(offsets, [0, 70_000]);
    assert.ok(Buffer.concat(tapped).equals(data));
    assert.ok(store.has(digest));
  } finally {
    t.cleanup();
  }
});

test('a partial file from an earlier run is re-hashed and continued', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    await store.init();
    const data = randomBytes(50_000);
    const digest = sha256(data);
    writeFileSync(join(store.ingestDir, `${digest.slice(7)}.partial`), data.subarray(0, 12_345));
    const res = await store.ingest({ digest, size: data.length }, async (offset) => ({ body: Readable.from([data.subarray(offset)]), start: offset }));
    assert.equal(res.resumedFrom, 12_345);
    assert.ok(store.has(digest));
    assert.deepEqual(readdirSync(store.ingestDir), []);
  } finally {
    t.cleanup();
  }
});

test('a partial file that is already whole (a crash before its rename) is stored without a request', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    await store.init();
    const data = randomBytes(20_000);
    const digest = sha256(data);
    writeFileSync(join(store.ingestDir, `${digest.slice(7)}.partial`), data);
    // A registry answers a Range from the blob's end with 416: no request may be made.
    const res = await store.ingest({ digest, size: data.length }, async () => {
      throw new Error('HTTP 416');
    });
    assert.equal(res.resumedFrom, data.length);
    assert.ok(store.has(digest));
    assert.deepEqual(readdirSync(store.ingestDir), []);
    // A whole one with the wrong bytes is refused and removed (the next pull starts afresh).
    const other = randomBytes(100);
    const want = sha256(randomBytes(100));
    writeFileSync(join(store.ingestDir, `${want.slice(7)}.partial`), other);
    await assert.rejects(store.ingest({ digest: want, size: 100 }, async () => ({ body: Readable.from([other]), start: 0 })), /digest mismatch/);
    assert.deepEqual(readdirSync(store.ingestDir), []);
  } finally {
    t.cleanup();
  }
});

test('leftovers lists staged blobs a crash left and partial downloads untouched for a day, not younger ones (a resume may come)', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    await store.init();
    writeFileSync(join(store.ingestDir, `${'a'.repeat(64)}.1234abcd.tmp`), 'x');
    writeFileSync(join(store.ingestDir, `${'b'.repeat(64)}.partial`), 'x');
    assert.deepEqual(store.leftovers(), [join(store.ingestDir, `${'a'.repeat(64)}.1234abcd.tmp`)]);
    // Last written to just over PARTIAL_EXPIRY_MS ago: swept (a hostile registry's claimed sizes
    // would otherwise hold the disk for good); one written to just under it stays.
    const old = join(store.ingestDir, `${'c'.repeat(64)}.partial`);
    writeFileSync(old, 'x');
    const now = Date.now();
    utimesSync(old, new Date(now - PARTIAL_EXPIRY_MS - 60_000), new Date(now - PARTIAL_EXPIRY_MS - 60_000));
    utimesSync(join(store.ingestDir, `${'b'.repeat(64)}.partial`), new Date(now - PARTIAL_EXPIRY_MS + 60_000), new Date(now - PARTIAL_EXPIRY_MS + 60_000));
    assert.deepEqual(store.leftovers(now).sort(), [join(store.ingestDir, `${'a'.repeat(64)}.1234abcd.tmp`), old].sort());
  } finally {
    t.cleanup();
  }
});

test('concurrent ingests of one digest fetch once', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const data = randomBytes(100_000);
    const digest = sha256(data);
    let fetches = 0;
    const fetch = async () => {
      fetches++;
      await new Promise((r) => setTimeout(r, 20));
      return { body: Readable.from([data]), start: 0 };
    };
    const results = await Promise.all([1, 2, 3].map(() => store.ingest({ digest, size: data.length }, fetch)));
    assert.equal(fetches, 1);
    assert.equal(results.filter((r) => r.downloaded).length, 1);
  } finally {
    t.cleanup();
  }
});

test('verify finds corrupt blobs, stray files and partial downloads', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    await store.init();
    const good = await store.putBlob(Buffer.from('hello'));
    assert.ok((await store.verify()).ok);
    writeFileSync(join(store.blobsDir, 'f'.repeat(64)), 'not f');
    writeFileSync(join(store.blobsDir, 'junk.tmp'), '');
    writeFileSync(join(store.ingestDir, `${'1'.repeat(64)}.partial`), 'x');
    const r = await store.verify();
    assert.equal(r.ok, false);
    assert.deepEqual(r.corrupt, [join(store.blobsDir, 'f'.repeat(64))]);
    assert.deepEqual(r.stray, [join(store.blobsDir, 'junk.tmp')]);
    assert.equal(r.partial.length, 1);
    assert.ok(existsSync(store.blobPath(good)));
  } finally {
    t.cleanup();
  }
});

test('docker config.json: read auth in its forms, write with mode 0600, remove', async () => {
  const t = tempDir();
  try {
    const p = join(t.path, 'd', 'config.json');
    mkdirSync(join(t.path, 'd'));
    writeFileSync(p, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('u:p:w').toString('base64') }, 'http://reg.example:5000/v2/': { username: 'a', password: 'b' } }, credHelpers: { 'elsewhere.example': 'x' } }));
    const cfg = new DockerConfig(p);
    // Helpers apply only where configured (they are run in test/e2e/registry-auth.test.ts).
    assert.equal(cfg.helperFor('elsewhere.example'), 'x');
    assert.equal(cfg.helperFor('reg.example:5000'), undefined);
    assert.deepEqual(await cfg.lookup('reg.example:5000'), { username: 'a', password: 'b', identityToken: undefined });
    assert.deepEqual(cfg.get('docker.io'), { username: 'u', password: 'p:w', identityToken: undefined });
    assert.equal(cfg.get('reg.example:5000')?.username, 'a');
    assert.equal(cfg.get('other'), undefined);
    await cfg.set('127.0.0.1:5000', { username: 'x', password: 'y' });
    assert.equal(cfg.get('127.0.0.1:5000')?.password, 'y');
    assert.equal(await cfg.remove('docker.io'), true);
    assert.equal(await cfg.remove('docker.io'), false);
    assert.equal(cfg.get('docker.io'), undefined);
  } finally {
    t.cleanup();
  }
});

test('stageFileAtomic: the target appears only at commit (replacing the old content at once); abort leaves nothing', async () => {
  const { stageFileAtomic } = await import('../../src/common/atomic-file.js');
  const { readFileSync } = await import('node:fs');
  const t = tempDir();
  try {
    const target = join(t.path, 'refs.json');
    writeFileSync(target, 'old');
    const a = await stageFileAtomic(target, 'new', { mode: 0o644 });
    const b = await stageFileAtomic(join(t.path, 'other.json'), 'x');
    assert.equal(readFileSync(target, 'utf8'), 'old', 'staged, not yet visible');
    assert.equal(readdirSync(t.path).filter((n) => n.endsWith('.tmp')).length, 2);
    await a.commit();
    assert.equal(readFileSync(target, 'utf8'), 'new');
    await b.abort();
    assert.deepEqual(readdirSync(t.path).sort(), ['refs.json']);
    await assert.rejects(stageFileAtomic(join(t.path, 'missing-dir', 'f'), 'x'), /write .*missing-dir\/f/);
    assert.deepEqual(readdirSync(t.path).sort(), ['refs.json']);
  } finally {
    t.cleanup();
  }
});

test('stageFileAtomicSync (a pull record and refs): written at once, fsynced in the pool before the commit renames it; abort and commit close the fd', async () => {
  const { stageFileAtomicSync } = await import('../../src/common/atomic-file.js');
  const { readFileSync } = await import('node:fs');
  const t = tempDir();
  const fds = (): number => readdirSync('/proc/self/fd').length;
  try {
    const target = join(t.path, 'refs.json');
    writeFileSync(target, 'old');
    const before = fds();
    const a = stageFileAtomicSync(target, 'new', { mode: 0o644 });
    const b = stageFileAtomicSync(join(t.path, 'other.json'), 'x');
    assert.equal(readFileSync(target, 'utf8'), 'old', 'staged, not yet visible');
    assert.equal(readdirSync(t.path).filter((n) => n.endsWith('.tmp')).length, 2);
    await a.commit();
    assert.equal(readFileSync(target, 'utf8'), 'new');
    await b.abort();
    assert.deepEqual(readdirSync(t.path).sort(), ['refs.json']);
    assert.equal(fds(), before, 'no fd left open');
    assert.throws(() => stageFileAtomicSync(join(t.path, 'missing-dir', 'f'), 'x'), /write .*missing-dir\/f/);
    assert.deepEqual(readdirSync(t.path).sort(), ['refs.json']);
  } finally {
    t.cleanup();
  }
});

test('stageFileAtomicSync: the temp file is fsynced before its rename, the directory after (strace)', { skip: spawnSync('strace', ['-V']).status !== 0 ? 'strace is not installed' : false }, () => {
  const t = tempDir();
  try {
    const mod = join(import.meta.dirname, '../../src/common/atomic-file.js');
    const target = join(t.path, 'refs.json');
    const script = `const { stageFileAtomicSync } = await import(${JSON.stringify(mod)}); const s = stageFileAtomicSync(${JSON.stringify(target)}, 'x', {}); await new Promise((r) => setTimeout(r, 50)); await s.commit();`;
    const r = spawnSync('strace', ['-f', '-y', '-e', 'trace=fsync,rename,renameat,renameat2', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n');
    // Calls on the thread pool may be split: `fsync(21</…tmp> <unfinished ...>` … `<... fsync resumed>) = 0`.
    const tmpSync = lines.findIndex((l) => /fsync\(\d+<[^>]*\.refs\.json\.[^>]*\.tmp>/.test(l));
    assert.ok(tmpSync >= 0, r.stderr);
    const tmpSyncDone = /unfinished/.test(lines[tmpSync]!) ? lines.findIndex((l, i) => i > tmpSync && /<\.\.\. fsync resumed>/.test(l)) : tmpSync;
    const rename = lines.findIndex((l) => /rename(at2?)?\(.*\.refs\.json\..*\.tmp.*refs\.json/.test(l));
    const dirSync = lines.findIndex((l, i) => i > rename && new RegExp(`fsync\\(\\d+<${t.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>`).test(l));
    assert.ok(tmpSyncDone >= 0 && rename > tmpSyncDone, `file fsync done before the rename:\n${r.stderr}`);
    assert.ok(dirSync > rename, `directory fsync after the rename:\n${r.stderr}`);
  } finally {
    t.cleanup();
  }
});

test('a commit gate holds a verified blob out of the store: released it is stored, refused nothing is kept', async () => {
  const t = tempDir();
  try {
    const store = new ContentStore(t.path);
    const data = randomBytes(5000);
    const digest = sha256(data);
    const fetch = async (): Promise<{ body: Readable; start: number }> => ({ body: Readable.from([data]), start: 0 });
    let release!: () => void;
    const held = store.ingest({ digest, size: data.length }, fetch, { deferDirSync: true, commitGate: new Promise<void>((r) => (release = r)) });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.has(digest), false, 'not in the store before the gate opens');
    release();
    assert.equal((await held).downloaded, true);
    assert.ok(store.has(digest));
    await store.syncNames();
    await store.syncNames(); // nothing left to sync: returns at once
    const other = randomBytes(5000);
    const od = sha256(other);
    const refused = Promise.reject(new Error('not needed after all'));
    refused.catch(() => undefined); // awaited by the ingest once the blob is verified
    await assert.rejects(
      store.ingest({ digest: od, size: other.length }, async () => ({ body: Readable.from([other]), start: 0 }), { commitGate: refused }),
      /not needed after all/,
    );
    assert.equal(store.has(od), false);
    assert.deepEqual(readdirSync(store.ingestDir), []);
  } finally {
    t.cleanup();
  }
});

test('metadata store: temp files of dead processes are removed once, at the first init; live ones stay', async () => {
  const t = tempDir();
  try {
    const dead = spawnSync('true').pid!;
    const dir = join(t.path, 'image');
    mkdirSync(join(dir, 'images'), { recursive: true });
    const deadRefs = `.refs.json.${dead}-abc123-ff00.tmp`;
    const deadRec = `.${'a'.repeat(64)}.json.${dead}-abc124-ff01.tmp`;
    const ours = `.refs.json.${process.pid}-abc125-ff02.tmp`;
    writeFileSync(join(dir, deadRefs), '{}');
    writeFileSync(join(dir, 'images', deadRec), '{}');
    writeFileSync(join(dir, ours), '{}');
    writeFileSync(join(dir, 'refs.json'), '{}');
    await new MetadataStore(t.path).init();
    assert.deepEqual(readdirSync(dir).sort(), [ours, 'images', 'leases', 'refs.json'].sort());
    assert.deepEqual(readdirSync(join(dir, 'images')), []);
  } finally {
    t.cleanup();
  }
});

test('ingest starts the writeback of every 8 MB written (sync_file_range on the pool), also after a resume, before the fsync (strace)', { skip: spawnSync('strace', ['-V']).status !== 0 ? 'strace is not installed' : false }, () => {
  const t = tempDir();
  try {
    const store = join(import.meta.dirname, '../../src/image/store/content.js');
    const digestMod = join(import.meta.dirname, '../../src/image/digest.js');
    // 20 MB in 1 MB chunks; the first body breaks after 10 MB, the second answers the Range.
    const script = `
      const { ContentStore } = await import(${JSON.stringify(store)});
      const { sha256 } = await import(${JSON.stringify(digestMod)});
      const { Readable } = await import('node:stream');
      const data = Buffer.alloc(20 << 20);
      for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
      const chunks = (from, to) => { const out = []; for (let o = from; o < to; o += 1 << 20) out.push(data.subarray(o, Math.min(o + (1 << 20), to))); return out; };
      let calls = 0;
      const fetch = async (offset) => {
        if (calls++ === 0) {
          const body = new Readable({ read() {} });
          for (const c of chunks(0, 10 << 20)) body.push(c);
          setTimeout(() => body.destroy(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })), 50);
          return { body, start: 0 };
        }
        return { body: Readable.from(chunks(offset, data.length)), start: offset };
      };
      const s = new ContentStore(${JSON.stringify(t.path)});
      await s.ingest({ digest: sha256(data), size: data.length }, fetch);
      if (!s.has(sha256(data))) throw new Error('not stored');`;
    const r = spawnSync('strace', ['-f', '-y', '-e', 'trace=sync_file_range,fsync', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n');
    const ranges = lines.map((l) => /sync_file_range\(\d+<[^>]*\.partial>, (\d+), (\d+), SYNC_FILE_RANGE_WRITE\) = 0/.exec(l)).filter((m) => m).map((m) => [Number(m![1]), Number(m![2])]);
    const MB = 1 << 20;
    // Contiguous from 0, each at least 8 MB (what was written since the last one), one starting
    // where the resumed download went on (10 MB), none past the end; the rest is fsynced only.
    assert.ok(ranges.length >= 2, r.stderr);
    ranges.forEach(([from, n], i) => {
      assert.equal(from, i === 0 ? 0 : ranges[i - 1]![0]! + ranges[i - 1]![1]!, r.stderr);
      assert.ok(n! >= 8 * MB && from! + n! <= 20 * MB, r.stderr);
    });
    assert.ok(ranges.some(([from]) => from === 10 * MB), r.stderr);
    const lastHint = lines.findLastIndex((l) => /sync_file_range\(.*= 0/.test(l) || /<\.\.\. sync_file_range resumed>/.test(l));
    const fsync = lines.findIndex((l) => /fsync\(\d+<[^>]*\.partial>/.test(l));
    assert.ok(fsync > lastHint, `the hints are done before the blob's fsync:\n${r.stderr}`);
  } finally {
    t.cleanup();
  }
});
