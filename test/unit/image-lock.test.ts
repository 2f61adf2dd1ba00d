// The image store's lock file: its owner is a pid and that process's start time, so a lock left
// by a crashed daemon is taken over even when the new daemon got the same pid (pid 1 of a
// container after a restart), while a live owner's lock is waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileLock } from '../../src/image/store/lock.js';
import { tempDir } from '../helpers/fixtures.js';

const startTime = (pid: number | 'self'): string => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

test('a lock naming this pid but not this process (a predecessor with the same pid) is taken over', async () => {
  const t = tempDir();
  try {
    const path = join(t.path, '.lock');
    const lock = new FileLock(path);
    for (const stale of [String(process.pid), `${process.pid} 1`]) {
      writeFileSync(path, stale);
      const seen = await lock.run(async () => readFileSync(path, 'utf8'));
      assert.equal(seen, `${process.pid} ${startTime('self')}`, `taken over from "${stale}"`);
      assert.ok(!existsSync(path), 'released');
    }
  } finally {
    t.cleanup();
  }
});

test("a live owner's lock is waited for; one whose pid now names another process is not", async () => {
  const t = tempDir();
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    const pid = child.pid!;
    const path = join(t.path, '.lock');
    const lock = new FileLock(path);
    writeFileSync(path, `${pid} ${Number(startTime(pid)) + 1}`);
    await lock.run(async () => undefined);
    writeFileSync(path, `${pid} ${startTime(pid)}`);
    let got = false;
    const p = lock.run(async () => {
      got = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(got, false, 'waits while the owner lives');
    child.kill('SIGKILL');
    await p;
    assert.equal(got, true, 'taken once the owner died');
  } finally {
    child.kill('SIGKILL');
    t.cleanup();
  }
});

test('an empty lock file older than a second (its taker killed between the create and the pid write) is taken over; a fresh one is waited for', async () => {
  const t = tempDir();
  try {
    const path = join(t.path, '.lock');
    const lock = new FileLock(path);
    writeFileSync(path, '');
    utimesSync(path, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    const t0 = Date.now();
    const seen = await lock.run(async () => readFileSync(path, 'utf8'));
    assert.equal(seen, `${process.pid} ${startTime('self')}`);
    assert.ok(Date.now() - t0 < 2000, `taken over at once (${Date.now() - t0} ms)`);
    // A fresh empty file is a take under way: waited for until it is old.
    writeFileSync(path, '');
    let got = false;
    const p = lock.run(async () => {
      got = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(got, false, 'a fresh empty lock file is waited for');
    await p;
    assert.ok(got);
  } finally {
    t.cleanup();
  }
});
