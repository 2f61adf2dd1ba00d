import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpDate, isoTime } from '../../src/common/time.js';

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
