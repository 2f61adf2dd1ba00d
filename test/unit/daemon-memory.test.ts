// The daemon's V8 flags (bin/daemon-v8-flags.cjs): defaults, the HAKOD_V8_FLAGS override, and
// flags node was started with are left alone. The idle trimmer (src/daemon/memory.ts) and its
// start-up collection (the addon's lowMemoryNotification).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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
  assert.deepEqual(daemonV8Flags({}, ['--opt']), ['--optimize-for-size', '--semi-space-growth-factor=1', '--heap-growing-percent=300']);
  assert.deepEqual(daemonV8Flags({ NODE_OPTIONS: '--semi_space_growth_factor=2 --no-warnings' }, ['--require', 'x.cjs']), ['--no-opt', '--optimize-for-size', '--heap-growing-percent=300']);
  assert.deepEqual(daemonV8Flags({}, ['--no-optimize-for-size', '--heap_growing_percent=50']), ['--no-opt', '--semi-space-growth-factor=1']);
});

test('idle trimmer: trims once, delayMs after the last activity; nothing after close', async () => {
  const { IdleTrimmer } = await import('../../src/daemon/memory.js');
  let trims = 0;
  // Margins wide enough for a loaded machine: the 100 ms sleeps would have to overrun by 200 ms
  // (each) to let a 300 ms quiet period end early; the trim itself is awaited by polling.
  const t = new IdleTrimmer(() => trims++, 300);
  t.activity();
  await new Promise((r) => setTimeout(r, 100));
  t.activity(); // restarts the quiet period
  await new Promise((r) => setTimeout(r, 100));
  t.activity(); // and again: 200 ms after the first activity, 300 ms would have ended it without the restarts
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(trims, 0);
  for (const deadline = Date.now() + 10_000; trims === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  assert.equal(trims, 1);
  t.activity();
  t.close();
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(trims, 1);
});

test('idle trimmer: collectOnce runs its collection once, before the trim of the next quiet period', async () => {
  const { IdleTrimmer } = await import('../../src/daemon/memory.js');
  const calls: string[] = [];
  const until = async (n: number): Promise<void> => {
    for (const deadline = Date.now() + 10_000; calls.length < n && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
  };
  const t = new IdleTrimmer(() => calls.push('trim'), 20);
  t.collectOnce(() => calls.push('collect'));
  t.activity(); // a request meanwhile: the collection still comes with the trim
  await until(2);
  assert.deepEqual(calls, ['collect', 'trim']);
  t.activity(); // the next quiet period trims only
  await until(3);
  assert.deepEqual(calls, ['collect', 'trim', 'trim']);
  t.collectOnce(() => calls.push('collect'));
  t.close(); // nothing after close
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(calls, ['collect', 'trim', 'trim']);
});

test('idle trimmer: an idle collection runs before the trim of a quiet period only when grown() says so; collectOnce takes its place', async () => {
  const { IdleTrimmer } = await import('../../src/daemon/memory.js');
  const calls: string[] = [];
  let grown = false;
  const until = async (n: number): Promise<void> => {
    for (const deadline = Date.now() + 10_000; calls.length < n && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
  };
  const t = new IdleTrimmer(() => calls.push('trim'), 20, { grown: () => grown, collect: () => calls.push('idle') });
  t.activity();
  await until(1);
  assert.deepEqual(calls, ['trim']);
  grown = true;
  t.activity();
  await until(3);
  assert.deepEqual(calls, ['trim', 'idle', 'trim']);
  t.collectOnce(() => calls.push('once')); // (it collects: no idle collection on top)
  await until(5);
  assert.deepEqual(calls, ['trim', 'idle', 'trim', 'once', 'trim']);
  t.close();
});

test('heap growth: grown() once the used size is `bytes` above the last mark()', async () => {
  const { HeapGrowth } = await import('../../src/daemon/memory.js');
  let used = 10_000;
  const g = new HeapGrowth(4096, () => used);
  assert.equal(g.grown(), false);
  used = 14_095;
  assert.equal(g.grown(), false);
  used = 14_096;
  assert.equal(g.grown(), true);
  used = 12_000; // a collection brought it down
  g.mark();
  assert.equal(g.grown(), false);
  used = 16_096;
  assert.equal(g.grown(), true);
});

test('addon lowMemoryNotification: V8 shrinks the young generation and collects old garbage', async (t) => {
  const { native } = await import('../../src/native/addon.js');
  let addon;
  try {
    addon = native();
  } catch (err) {
    t.skip(`no native addon: ${(err as Error).message}`);
    return;
  }
  const v8 = await import('node:v8');
  const space = (name: string) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name)!;
  const MB = 1024 * 1024;
  // Old-space garbage: objects (~18 MB) kept until V8 has promoted them, then dropped. An object
  // is promoted by its second scavenge, and how many scavenges an amount of allocation causes depends on
  // the young generation's size, which V8 grows and shrinks at run time (with survival, and with
  // the allocation rate it measures in time), and on how full it was when this test began (the
  // tests before it poll timers, so under load they allocate more or less). A fixed amount of
  // allocation (30 arrays) once left most of `keep` young: old space 5.6 MB -> 3.8 MB instead of
  // ~16 -> ~3. So young garbage is allocated until old space holds most of `keep`.
  const oldBase = space('old_space').space_used_size;
  let keep: object[] | undefined = [];
  for (let i = 0; i < 300_000; i++) keep.push({ i, s: `x${i}` });
  // (into a ring that escapes: a store to a local the optimizer can drop allocated nothing)
  const ring: unknown[] = new Array(1024);
  let rounds = 0;
  for (; space('old_space').space_used_size < oldBase + 14 * MB; rounds++) {
    if (rounds === 1000) assert.fail(`V8 promoted too little of ~18 MB after ~1.4 GB of young garbage: old space ${oldBase} -> ${space('old_space').space_used_size}`);
    for (let j = 0; j < 10_000; j++) ring[j & 1023] = [j, j, j, j, j, j, j, j, j, j, j, j]; // ~1.4 MB a round
  }
  const oldBefore = space('old_space').space_used_size;
  keep = undefined;
  // (nothing allocates between the two measurements but the call: a no-op would change neither)
  assert.equal(addon.lowMemoryNotification(), true);
  const oldAfter = space('old_space').space_used_size;
  t.diagnostic(`old space ${oldBase} -> ${oldBefore} (${rounds} rounds of young garbage) -> ${oldAfter}`);
  assert.ok(oldAfter < oldBefore - 12 * MB, `old space ${oldBefore} -> ${oldAfter}`);
  // memory-reducing mode: the young generation is left empty
  assert.ok(space('new_space').space_used_size < 64 * 1024, `new space used ${space('new_space').space_used_size}`);
});

test('hakod loads the builtins its bundle needs at start before it sets its V8 flags, so with Node\'s code cache', (t) => {
  // A V8 flag changes V8's flag hash, and Node's code cache of a builtin loaded after is rejected
  // (compiled from source): bin/hakod.cjs loads dist/bundle/hakod.builtins.txt's first.
  const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  let list: string[];
  try {
    list = readFileSync(join(repoRoot, 'dist', 'bundle', 'hakod.builtins.txt'), 'utf8').split('\n').filter(Boolean);
  } catch {
    t.skip('no hakod bundle (esbuild not installed)');
    return;
  }
  assert.ok(list.includes('node:http') && list.includes('node:zlib'), list.join(' '));
  const dir = mkdtempSync(join(tmpdir(), 'hakod-builtins-'));
  try {
    const probe = join(dir, 'probe.cjs');
    writeFileSync(probe, "process.on('exit', () => { const u = require('internal/test/binding').internalBinding('builtins').getCacheUsage(); process.stderr.write('PROBE ' + JSON.stringify({ withCache: [...u.compiledWithCache], without: [...u.compiledWithoutCache] }) + '\\n'); });\n");
    const env: NodeJS.ProcessEnv = { ...process.env, HAKOD_CODE_CACHE: 'off' };
    delete env.NODE_EXTRA_CA_CERTS;
    const r = spawnSync(process.execPath, ['--expose-internals', '--require', probe, join(repoRoot, 'bin', 'hakod.cjs'), '--version'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.startsWith('PROBE '));
    assert.ok(line, r.stderr);
    const usage = JSON.parse(line.slice('PROBE '.length)) as { withCache: string[]; without: string[] };
    // (fs, path, url… are in Node's start-up snapshot: compiled neither way here)
    for (const b of ['http', '_http_client', 'zlib', 'crypto', 'fs/promises', 'net', 'stream']) {
      assert.ok(usage.withCache.includes(b), `${b} with the cache: ${JSON.stringify(usage)}`);
    }
    assert.deepEqual(usage.without.filter((m) => list.includes(`node:${m}`)), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('heap growth at the fd limit: the quiet-period check reads the heap without a file (process.memoryUsage() threw EMFILE there)', () => {
  const memory = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'daemon', 'memory.js');
  // A child with 64 fds at most fills them, then constructs and asks a HeapGrowth.
  const script = `
    const fs = require('node:fs');
    import(${JSON.stringify(memory)}).then(({ HeapGrowth }) => {
      const fds = [];
      try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
      const g = new HeapGrowth(1 << 20);
      g.grown();
      g.mark();
      for (const fd of fds) fs.closeSync(fd);
      process.stdout.write('ok');
    });`;
  const r = spawnSync('prlimit', ['--nofile=64:64', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.equal(r.stderr.includes('EMFILE') ? r.stderr.split('\n').find((l) => l.includes('EMFILE')) : '', '', r.stderr);
  assert.equal(r.stdout, 'ok', r.stderr);
});
