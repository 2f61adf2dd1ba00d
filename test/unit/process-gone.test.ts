// processGone (src/engine/process-gone.ts): the end of a process that is not our child, seen
// through a pidfd at once; a /proc poll when pidfd_open is missing. Timers are mocked: the pidfd
// path must not need one to run (the 500 ms poll it replaces would never fire here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { processGone } from '../../src/engine/process-gone.js';
import { processStartTime } from '../../src/runtime/state/process-info.js';

async function sleeper(): Promise<ChildProcess & { pid: number }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await once(child, 'spawn');
  return child as ChildProcess & { pid: number };
}

const turn = () => new Promise((r) => setImmediate(r));

test('processGone: a process\'s end is seen through its pidfd, with no timer running', { timeout: 20_000 }, async (t) => {
  const child = await sleeper();
  const start = processStartTime(child.pid) ?? undefined;
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  let settled = false;
  const gone = processGone(child.pid, start).then(() => (settled = true));
  await turn();
  assert.equal(settled, false, 'the process runs');
  child.kill('SIGKILL');
  await gone; // timers never tick here: only the pidfd's readiness can settle it
  assert.equal(settled, true);
});

test('processGone: without pidfd_open (ENOSYS) /proc is polled; a pid that is gone or reused settles at once', { timeout: 20_000 }, async (t) => {
  const child = await sleeper();
  const start = processStartTime(child.pid) ?? undefined;
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  const enosys = (): number => {
    throw Object.assign(new Error('pidfd_open: function not implemented'), { errno: -38, code: 'ENOSYS' });
  };
  let settled = false;
  const gone = processGone(child.pid, start, { pidfdOpen: enosys, pollMs: 500 }).then(() => (settled = true));
  t.mock.timers.tick(500);
  await turn();
  assert.equal(settled, false, 'the process runs');
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited; // reaped: /proc has no such process now
  t.mock.timers.tick(500);
  await gone;
  // Gone already (pidfd_open: ESRCH), and a pid whose start time is not the recorded one.
  await processGone(child.pid, start);
  const other = await sleeper();
  try {
    await processGone(other.pid, 'not-its-start-time');
  } finally {
    other.kill('SIGKILL');
  }
});

test('processGone: an aborted wait never settles and lets the process run on', { timeout: 20_000 }, async () => {
  const child = await sleeper();
  try {
    const ac = new AbortController();
    let settled = false;
    void processGone(child.pid, processStartTime(child.pid) ?? undefined, { signal: ac.signal }).then(() => (settled = true));
    ac.abort();
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 50)); // a pidfd still watched would have fired by now
    assert.equal(settled, false);
  } finally {
    child.kill('SIGKILL');
  }
});
