import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpDate, isoTime, realtimeNs, rfc3339NanoUtc } from '../../src/common/time.js';
import { stringifyExactIntegers } from '../../src/common/json-ints.js';

test('isoTime formats exactly like Date#toISOString', () => {
  const samples = [0, 1, 9, 10, 99, 100, 999, 1000, 86_399_999, Date.UTC(2024, 1, 29, 23, 59, 59, 7), Date.UTC(1999, 11, 31, 0, 0, 0, 50), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(100, 0, 1), -1, -62_167_219_200_000];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
  for (const ms of samples) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  // outside four-digit years V8's own format is kept; an invalid time throws like toISOString
  assert.equal(isoTime(Date.UTC(10000, 0, 1)), new Date(Date.UTC(10000, 0, 1)).toISOString());
  assert.throws(() => isoTime(Number.NaN), RangeError);
  assert.match(isoTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('httpDate formats exactly like Date#toUTCString', () => {
  const samples = [0, 86_399_999, Date.UTC(2024, 1, 29, 23, 59, 59, 7), Date.UTC(1999, 11, 31), Date.UTC(9999, 11, 31, 23, 59, 59)];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4_102_444_800_000));
  for (const ms of samples) assert.equal(httpDate(ms), new Date(ms).toUTCString(), String(ms));
});

test('rfc3339NanoUtc writes Go\'s RFC3339Nano: nanoseconds, trailing zeros dropped, no fraction when 0', () => {
  const at = (ms: number, extra = 0n) => BigInt(ms) * 1_000_000n + extra;
  const t = Date.UTC(2026, 10, 24, 8, 4, 9);
  assert.equal(rfc3339NanoUtc(at(t)), '2026-11-24T08:04:09Z');
  assert.equal(rfc3339NanoUtc(at(t + 120)), '2026-11-24T08:04:09.12Z');
  assert.equal(rfc3339NanoUtc(at(t + 661, 264_016n)), '2026-11-24T08:04:09.661264016Z');
  assert.equal(rfc3339NanoUtc(at(t, 1n)), '2026-11-24T08:04:09.000000001Z');
  assert.equal(rfc3339NanoUtc(0n), '1970-01-01T00:00:00Z');
  assert.equal(rfc3339NanoUtc(-1n), '1969-12-31T23:59:59.999999999Z');
});

test('realtimeNs is the wall clock in ns: within a millisecond of Date.now(), never backwards between two reads', () => {
  for (let i = 0; i < 200; i++) {
    const before = BigInt(Date.now());
    const ns = realtimeNs();
    const next = realtimeNs();
    const after = BigInt(Date.now());
    assert.ok(ns / 1_000_000n >= before - 1n && ns / 1_000_000n <= after + 1n, `${ns} vs ${before}…${after} ms`);
    assert.ok(next >= ns);
  }
});

test('stringifyExactIntegers writes integers past 2^53 with every digit (Go\'s uint64), the rest as JSON.stringify', () => {
  const v = { a: 9223372036854771712, b: [1, 2.5, -9007199254740993 * 2], c: 'x\u0000y', d: null, e: { f: Number.MAX_SAFE_INTEGER } };
  assert.equal(stringifyExactIntegers(v), '{"a":9223372036854771712,"b":[1,2.5,-18014398509481984],"c":"x\\u0000y","d":null,"e":{"f":9007199254740991}}');
  assert.equal(stringifyExactIntegers({ s: 'plain' }), JSON.stringify({ s: 'plain' }));
});
