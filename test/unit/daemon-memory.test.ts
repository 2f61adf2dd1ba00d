// The daemon's V8 flags (src/daemon/memory.ts): defaults, the HAKOD_V8_FLAGS override, and
// flags node was started with are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAEMON_V8_FLAGS, daemonV8Flags } from '../../src/daemon/memory.js';

test('daemon V8 flags: the defaults when nothing is given', () => {
  assert.deepEqual(daemonV8Flags({}, []), DAEMON_V8_FLAGS);
  assert.ok(DAEMON_V8_FLAGS.includes('--no-opt'));
});

test('daemon V8 flags: HAKOD_V8_FLAGS replaces the defaults; empty means none', () => {
  assert.deepEqual(daemonV8Flags({ HAKOD_V8_FLAGS: '' }, []), []);
  assert.deepEqual(daemonV8Flags({ HAKOD_V8_FLAGS: ' --max-lazy  --no-opt ' }, []), ['--max-lazy', '--no-opt']);
});

test('daemon V8 flags: a flag given on the command line or in NODE_OPTIONS wins, in any spelling', () => {
  assert.deepEqual(daemonV8Flags({}, ['--opt']), ['--optimize-for-size', '--semi-space-growth-factor=1']);
  assert.deepEqual(daemonV8Flags({ NODE_OPTIONS: '--semi_space_growth_factor=2 --no-warnings' }, ['--require', 'x.cjs']), ['--no-opt', '--optimize-for-size']);
  assert.deepEqual(daemonV8Flags({}, ['--no-optimize-for-size']), ['--no-opt', '--semi-space-growth-factor=1']);
});

test('idle trimmer: trims once, delayMs after the last activity; nothing after close', async () => {
  const { IdleTrimmer } = await import('../../src/daemon/memory.js');
  let trims = 0;
  const t = new IdleTrimmer(() => trims++, 40);
  t.activity();
  await new Promise((r) => setTimeout(r, 25));
  t.activity(); // restarts the quiet period
  await new Promise((r) => setTimeout(r, 25));
  assert.equal(trims, 0);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(trims, 1);
  t.activity();
  t.close();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(trims, 1);
});
