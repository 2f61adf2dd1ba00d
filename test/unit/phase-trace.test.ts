// The phase trace's crash points (HAKOD_CRASH_AT, for the crash-consistency e2e test): parsed
// once, the n-th mark of the named phase SIGKILLs the process, other marks do nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhaseTrace, parseCrashAt } from '../../src/engine/phase-trace.js';

const TRACE_JS = fileURLToPath(new URL('../../src/engine/phase-trace.js', import.meta.url));

test('HAKOD_CRASH_AT parses as <phase>[:<n>]', () => {
  assert.equal(parseCrashAt(undefined), undefined);
  assert.equal(parseCrashAt(''), undefined);
  assert.deepEqual(parseCrashAt('create.saved'), { phase: 'create.saved', nth: 1 });
  assert.deepEqual(parseCrashAt('start.done:2'), { phase: 'start.done', nth: 2 });
  assert.deepEqual(parseCrashAt('req.POST:/x'), { phase: 'req.POST:/x', nth: 1 });
  assert.equal(parseCrashAt('start.done:0'), undefined);
  assert.equal(PhaseTrace.fromEnv({}).enabled, false, 'off without either variable');
  assert.equal(PhaseTrace.fromEnv({ HAKOD_CRASH_AT: 'a' }).enabled, true);
});

test('the n-th mark of the phase kills the process with SIGKILL; others do not', () => {
  const script = `
    import { PhaseTrace } from ${JSON.stringify(TRACE_JS)};
    const t = PhaseTrace.fromEnv();
    t.mark('x', 'other');
    t.mark('x', 'b.c');
    process.stdout.write('after first\\n');
    t.mark('x', 'b.c');
    process.stdout.write('after second\\n');`;
  const run = (at: string) => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, HAKOD_CRASH_AT: at } });
  const second = run('b.c:2');
  assert.equal(second.signal, 'SIGKILL');
  assert.equal(second.stdout, 'after first\n');
  const never = run('b.c:3');
  assert.equal(never.status, 0);
  assert.equal(never.stdout, 'after first\nafter second\n');
});

test('close() ends the trace file: marks after it are not written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-trace-'));
  try {
    const file = join(dir, 'trace');
    const t = PhaseTrace.fromEnv({ HAKO_PHASE_TRACE: file });
    t.mark('gc', 'gc.begin');
    t.close();
    t.mark('gc', 'gc.collected');
    t.close();
    assert.equal(t.enabled, false);
    assert.deepEqual(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 3).join(' ')), ['hako-phase gc gc.begin']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
