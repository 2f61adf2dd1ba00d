// The daemon's V8 flags (bin/daemon-v8-flags.cjs): defaults, the HAKOD_V8_FLAGS override, and
// flags node was started with are left alone. The idle trimmer (src/daemon/memory.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const flagsModule = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'daemon-v8-flags.cjs');
const { DAEMON_V8_FLAGS, daemonV8Flags } = createRequire(import.meta.url)(flagsModule) as {
  DAEMON_V8_FLAGS: string[];
  daemonV8Flags(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string[];
};

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
