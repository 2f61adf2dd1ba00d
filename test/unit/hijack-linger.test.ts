// A hijacked connection that ended (src/api/streams.ts endSock) is freed once it closes: the
// timer that destroys a socket whose client never closes is cleared at the close. It used to stay
// pending for 30 s, keeping the socket and all its listeners hold (an attach session, a monitor
// client) in memory after every attach and exec stream (bench/soak.mjs's heap snapshots: 17 attach
// sessions and 34 sockets held by 30 s timers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Socket } from 'node:net';
import { hijack, RAW_STREAM } from '../../src/api/streams.js';
import type { Ctx } from '../../src/api/http.js';
import { native } from '../../src/native/addon.js';

test('hijack: an ended stream whose client closed is collectable at once (no 30 s timer holds its socket)', { timeout: 20_000 }, async (t) => {
  let addon;
  try {
    addon = native();
  } catch (err) {
    t.skip(`no native addon: ${(err as Error).message}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'hako-linger-'));
  const path = join(dir, 's.sock');
  const refs: Array<WeakRef<Socket>> = [];
  let closedCount = 0;
  const srv = createServer((sock: Socket) => {
    refs.push(new WeakRef(sock));
    const conn = hijack({ upgraded: { socket: sock, head: Buffer.alloc(0) } } as unknown as Ctx, RAW_STREAM);
    // what an attach's listeners hold: a big buffer, so that a kept socket shows
    const session = { payload: Buffer.alloc(1 << 20) };
    conn.onClose(() => void session.payload.length);
    conn.write(Buffer.from('out\r\n'));
    conn.end();
    sock.once('close', () => closedCount++);
  });
  await new Promise<void>((r) => srv.listen(path, r));
  try {
    for (let i = 0; i < 5; i++) {
      const c = connect(path);
      c.resume();
      await new Promise((r) => c.once('end', r));
      c.end();
      await new Promise((r) => c.once('close', r));
    }
    for (let i = 0; i < 100 && closedCount < 5; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closedCount, 5, 'the server side closed');
    // (a WeakRef's target is kept to the end of the job that made or read it)
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(addon.lowMemoryNotification(), true);
    await new Promise((r) => setTimeout(r, 10));
    addon.lowMemoryNotification();
    const alive = refs.filter((w) => w.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of 5 closed hijacked sockets still in memory`);
  } finally {
    await new Promise<void>((r) => srv.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
