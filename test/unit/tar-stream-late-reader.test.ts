// A container archive (GET /archive, export) read only after the tar child has exited still holds
// every byte: Node resumes, and so drops, a child's stdout that nobody listens to when the child
// exits, and the routes await a pause or an HTTP head before they read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tarStream } from '../../src/engine/fs/ops.js';
import { tempDir } from '../helpers/fixtures.js';

test('tarStream: a reader that starts after tar has exited gets the whole archive', async () => {
  const t = tempDir('hako-tar-late-');
  try {
    writeFileSync(join(t.path, 'small'), 'hello\n');
    const out = tarStream(t.path, 'small');
    // Long enough for tar to finish a 6-byte file and for Node to see its exit.
    await new Promise((r) => setTimeout(r, 500));
    const parts: Buffer[] = [];
    for await (const c of out) parts.push(c as Buffer);
    const tar = Buffer.concat(parts);
    assert.ok(tar.length >= 1024, `the archive has ${tar.length} bytes`);
    assert.equal(execFileSync('tar', ['-tf', '-'], { input: tar }).toString(), 'small\n');
  } finally {
    t.cleanup();
  }
});
