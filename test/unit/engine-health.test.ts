// Pure parts of health checks and detach keys: config merge/validation, probe settings and
// defaults, docker's status transitions, Go duration text, output limit, key parsing and scanning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyProbeResult, goDuration, HealthChecker, LimitedOutput, mergeHealthcheck, probeSettings, validateHealthcheck, type HealthState } from '../../src/engine/health.js';
import { DetachScanner, parseDetachKeys } from '../../src/engine/detach-keys.js';

const ms = (n: number) => n * 1_000_000;

test('mergeHealthcheck: container fields win, unset ones come from the image', () => {
  assert.equal(mergeHealthcheck(undefined, undefined), undefined);
  assert.deepEqual(mergeHealthcheck(undefined, { Test: ['CMD', 'a'] }), { Test: ['CMD', 'a'] });
  assert.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, { Test: ['CMD', 'a'], Interval: 5 }), { Test: ['NONE'], Interval: 5 });
  assert.deepEqual(mergeHealthcheck({ Interval: ms(2) }, { Test: ['CMD', 'a'], Interval: ms(9), Retries: 4 }), { Test: ['CMD', 'a'], Interval: ms(2), Retries: 4 });
});

test('validateHealthcheck: docker’s messages', () => {
  validateHealthcheck(undefined);
  validateHealthcheck({ Test: ['CMD', 'true'], Interval: ms(1), Timeout: 0, Retries: 0 });
  validateHealthcheck({ Test: [] });
  validateHealthcheck({ Test: ['NONE'] });
  assert.throws(() => validateHealthcheck({ Interval: 999_999 }), /Interval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ StartPeriod: 1 }), /StartPeriod in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ StartInterval: 1 }), /StartInterval in Healthcheck cannot be less than 1ms/);
  assert.throws(() => validateHealthcheck({ Retries: -2 }), /Retries in Healthcheck cannot be negative/);
  assert.throws(() => validateHealthcheck({ Test: ['CMD'] }), /has no command/);
  assert.throws(() => validateHealthcheck({ Test: ['SHELL', 'x'] }), /unknown Healthcheck type 'SHELL'/);
  assert.throws(() => validateHealthcheck({ Test: 'true' }), /Test must be a list of strings/);
});

test('probeSettings: CMD, CMD-SHELL with the image shell, defaults, none', () => {
  assert.equal(probeSettings({}), null);
  assert.equal(probeSettings({ Healthcheck: { Test: ['NONE'] } }), null);
  assert.deepEqual(probeSettings({ Healthcheck: { Test: ['CMD', 'a', 'b'] } }), { argv: ['a', 'b'], intervalMs: 30_000, timeoutMs: 30_000, startPeriodMs: 0, startIntervalMs: 5_000, retries: 3 });
  assert.deepEqual(probeSettings({ Healthcheck: { Test: ['CMD-SHELL', 'x y'], Interval: ms(250), Retries: 1 } })?.argv, ['/bin/sh', '-c', 'x y']);
  assert.deepEqual(probeSettings({ Shell: ['/bin/bash', '-ec'], Healthcheck: { Test: ['CMD-SHELL', 'x'] } })?.argv, ['/bin/bash', '-ec', 'x']);
  assert.equal(probeSettings({ Healthcheck: { Test: ['CMD-SHELL', 'x'], Interval: ms(250) } })?.intervalMs, 250);
});

test('applyProbeResult: healthy, failures to Retries, start period, last 5 entries', () => {
  const s = probeSettings({ Healthcheck: { Test: ['CMD', 'x'], Retries: 2, StartPeriod: ms(1000) } })!;
  const started = '2026-01-01T00:00:00.000Z';
  const at = (msAfter: number, code: number) => ({ Start: new Date(Date.parse(started) + msAfter).toISOString(), End: new Date(Date.parse(started) + msAfter + 1).toISOString(), ExitCode: code, Output: '' });
  const h: HealthState = { Status: 'starting', FailingStreak: 0, Log: [] };
  assert.equal(applyProbeResult(h, at(100, 1), s, started), undefined);
  assert.equal(h.FailingStreak, 0, 'a failure inside the start period does not count');
  assert.equal(applyProbeResult(h, at(1100, 1), s, started), undefined);
  assert.equal(h.FailingStreak, 1);
  assert.equal(applyProbeResult(h, at(1200, -1), s, started), 'unhealthy');
  assert.equal(applyProbeResult(h, at(1300, 0), s, started), 'healthy');
  assert.equal(h.FailingStreak, 0);
  assert.equal(applyProbeResult(h, at(1400, 2), s, started), undefined, 'healthy stays healthy until Retries failures');
  assert.equal(h.Status, 'healthy');
  for (let i = 0; i < 5; i++) applyProbeResult(h, at(2000 + i, 0), s, started);
  assert.equal(h.Log.length, 5);
  assert.equal(h.Log[4]!.Start, at(2004, 0).Start);
});

test('HealthChecker.nextDelay: StartInterval while starting in the start period (moby getInterval, not cut at its end)', () => {
  const now = Date.parse('2026-01-01T00:00:10.000Z');
  const state = { Running: true, Paused: false, StartedAt: '2026-01-01T00:00:00.000Z', Health: { Status: 'starting', FailingStreak: 0, Log: [] } };
  const mk = (hc: Record<string, unknown>) => new HealthChecker(probeSettings({ Healthcheck: { Test: ['CMD', 'x'], ...hc } })!, { state: () => state, probe: async () => ({ exitCode: 0, output: '' }), recorded: () => undefined, warn: () => undefined });
  assert.equal(mk({ Interval: ms(30_000) }).nextDelay(now), 30_000);
  assert.equal(mk({ Interval: ms(30_000), StartPeriod: ms(60_000), StartInterval: ms(2_000) }).nextDelay(now), 2_000);
  assert.equal(mk({ Interval: ms(30_000), StartPeriod: ms(15_000) }).nextDelay(now), 5_000);
  // 5 s of the start period left: moby waits StartInterval (8 s) or Interval, it does not cut either short.
  assert.equal(mk({ Interval: ms(30_000), StartPeriod: ms(15_000), StartInterval: ms(8_000) }).nextDelay(now), 8_000);
  assert.equal(mk({ Interval: ms(30_000), StartPeriod: ms(10_000) }).nextDelay(now - 10_000), 5_000, 'the first probe: StartInterval, not the end of the start period');
  state.Health.Status = 'healthy';
  assert.equal(mk({ Interval: ms(30_000), StartPeriod: ms(15_000) }).nextDelay(now), 30_000);
  assert.equal(mk({ Interval: ms(1_000), StartPeriod: ms(60_000), StartInterval: ms(2_000) }).nextDelay(now), 1_000);
});

test('goDuration prints like Go', () => {
  assert.equal(goDuration(300), '300ms');
  assert.equal(goDuration(1000), '1s');
  assert.equal(goDuration(1500), '1.5s');
  assert.equal(goDuration(90_000), '1m30s');
  assert.equal(goDuration(3_600_000), '1h0m0s');
  assert.equal(goDuration(0.5), '500µs');
});

test('LimitedOutput keeps 4096 bytes and marks the cut', () => {
  const o = new LimitedOutput();
  o.write(Buffer.alloc(4000, 'a'));
  o.write(Buffer.alloc(200, 'b'));
  const s = o.toString();
  assert.equal(s.length, 4099);
  assert.ok(s.endsWith('b...'));
});

test('detach keys: docker’s syntax, scanner passes broken prefixes through', () => {
  assert.deepEqual([...parseDetachKeys(undefined)], [16, 17]);
  assert.deepEqual([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-_')], [1, 120, 0, 31]);
  assert.throws(() => parseDetachKeys('ctrl-1'), /Invalid detach keys \(ctrl-1\) provided/);
  assert.throws(() => parseDetachKeys('ab'), /Invalid detach keys/);
  assert.throws(() => parseDetachKeys('a,,b'), /Invalid detach keys/);
  const sc = new DetachScanner(parseDetachKeys('ctrl-p,ctrl-q'));
  assert.deepEqual(sc.push(Buffer.from('ab\x10')), { pass: Buffer.from('ab'), detach: false });
  assert.deepEqual(sc.push(Buffer.from('c')), { pass: Buffer.from('\x10c'), detach: false });
  assert.deepEqual(sc.push(Buffer.from('\x10\x10')), { pass: Buffer.from('\x10'), detach: false });
  assert.deepEqual(sc.push(Buffer.from('\x11tail')), { pass: Buffer.alloc(0), detach: true });
  const one = new DetachScanner(Buffer.from('q'));
  assert.deepEqual(one.push(Buffer.from('aqz')), { pass: Buffer.from('a'), detach: true });
});
