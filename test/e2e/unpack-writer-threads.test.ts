// The unpacker's writer threads (src/image/unpack/file-writers.ts) run in hakod as installed: the
// daemon is one bundle (dist/bundle/hakod.cjs), and the worker's file must be found from there.
// They start only with 4+ CPUs by default (this machine has 2), so HAKO_UNPACK_WRITERS forces them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot } from '../helpers/fixtures.js';
import { hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { manyFilesImage, tarDir, type BuiltImage } from '../helpers/images.js';

const skip = !isRoot ? 'needs root' : !hasEngine ? 'engine not built' : false;
let dd: TestDaemon | undefined;
let img: BuiltImage | undefined;

before(async () => {
  if (skip) return;
  img = manyFilesImage(200);
  dd = await startDaemon([], { env: { ...process.env, HAKO_UNPACK_WRITERS: '2' } });
});

after(async () => {
  await dd?.stop();
  img?.cleanup();
});

test('hakod unpacks a layer of 200 files with writer threads (HAKO_UNPACK_WRITERS=2)', { skip, timeout: 120_000 }, async () => {
  const r = await dd!.request('POST', '/images/load?quiet=1', tarDir(img!.dir), { 'Content-Type': 'application/x-tar' });
  const body = r.body.toString();
  assert.equal(r.status, 200, body);
  assert.doesNotMatch(body, /error/i);
  // Every file is in the layer's snapshot with its content.
  const found = execFileSync('find', [dd!.root, '-path', '*/many/f*', '-type', 'f'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  assert.equal(found.length, 200, found.slice(0, 5).join('\n'));
  const f150 = found.find((f) => f.endsWith('/many/f150'))!;
  assert.equal(readFileSync(join(f150), 'utf8'), 'f150\n');
});
