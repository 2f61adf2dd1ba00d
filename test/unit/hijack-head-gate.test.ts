// The upgraded hijack holds the first output until the client has read the 101 head
// (src/api/streams.ts headGate): docker-py reads the head with a buffered parser and drops the
// bytes that came in the same read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Socket } from 'node:net';
import { hijack, HEAD_READ_CAP_MS, RAW_STREAM } from '../../src/api/streams.js';
import type { Ctx } from '../../src/api/http.js';

/** A unix socket server whose connections are hijacked and written `out` at once, then ended. */
async function withServer(fn: (path: string, written: Promise<number>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'hako-headgate-'));
  const path = join(dir, 's.sock');
  let wrote!: (t: number) => void;
  const written = new Promise<number>((r) => (wrote = r));
  const srv = createServer((sock: Socket) => {
    const conn = hijack({ upgraded: { socket: sock, head: Buffer.alloc(0) } } as unknown as Ctx, RAW_STREAM);
    conn.write(Buffer.from('out\r\n'));
    conn.end();
    sock.once('finish', () => wrote(performance.now()));
  });
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    await fn(path, written);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Connects, reads nothing for `delayMs`, then returns each chunk read until the end. */
async function readAfter(path: string, delayMs: number): Promise<{ chunks: string[]; resumed: number }> {
  const c = connect(path);
  c.pause();
  await new Promise((r) => setTimeout(r, delayMs));
  const resumed = performance.now();
  const chunks: string[] = [];
  c.on('data', (d: Buffer) => chunks.push(d.toString()));
  c.resume();
  await new Promise((r) => c.once('end', r));
  c.destroy();
  return { chunks, resumed };
}

test('hijack: output written right behind the 101 reaches a client that reads the head late in a read of its own', { timeout: 10_000 }, async () => {
  await withServer(async (path) => {
    const { chunks } = await readAfter(path, 20);
    assert.match(chunks[0]!, /^HTTP\/1\.1 101 UPGRADED\r\n[^]*\r\n\r\n$/);
    assert.equal(chunks.slice(1).join(''), 'out\r\n');
  });
});

test(`hijack: a client that does not read the head holds the output at most ${HEAD_READ_CAP_MS} ms`, { timeout: 10_000 }, async () => {
  await withServer(async (path, written) => {
    const { chunks, resumed } = await readAfter(path, 300);
    assert.match(chunks.join(''), /^HTTP\/1\.1 101 UPGRADED\r\n[^]*\r\n\r\nout\r\n$/);
    // The output (and the end) went into the socket before the client read anything.
    assert.ok((await written) < resumed, 'output waited for the client beyond the cap');
  });
});
