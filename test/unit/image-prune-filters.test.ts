import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelsMatch, parseImagePruneFilters, timestampMs } from '../../src/image/prune-filters.js';

test('until: docker GetTimestamp forms (durations from now, unix times, dates with and without zone)', () => {
  const now = Date.UTC(2026, 10, 23, 8, 30, 15, 250);
  const local = -new Date(now).getTimezoneOffset() * 60_000;
  assert.equal(timestampMs('10m', now), Math.floor((now - 600_000) / 1000) * 1000);
  assert.equal(timestampMs('1h30m', now), Math.floor((now - 5_400_000) / 1000) * 1000);
  assert.equal(timestampMs('-1h', now), Math.floor((now + 3_600_000) / 1000) * 1000, 'a negative duration is in the future');
  assert.equal(timestampMs('0', now), 0, '"0" is the unix time 0, not a duration');
  assert.equal(timestampMs('1700000000', now), 1_700_000_000_000);
  assert.equal(timestampMs('1700000000.123456789', now), 1_700_000_000_123);
  assert.equal(timestampMs('2024-01-02T03:04:05Z', now), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(timestampMs('2024-01-02T03:04:05.5Z', now), Date.UTC(2024, 0, 2, 3, 4, 5, 500));
  assert.equal(timestampMs('2024-01-02T03:04:05+02:00', now), Date.UTC(2024, 0, 2, 1, 4, 5));
  assert.equal(timestampMs('2024-01-02T03:04-01:30', now), Date.UTC(2024, 0, 2, 4, 34));
  assert.equal(timestampMs('2024-01-02T03Z', now), Date.UTC(2024, 0, 2, 3));
  assert.equal(timestampMs('2024-01-02+01:00', now), Date.UTC(2024, 0, 1, 23));
  // without a zone: the daemon's zone offset now
  assert.equal(timestampMs('2024-01-02', now), Date.UTC(2024, 0, 2) - local);
  assert.equal(timestampMs('2024-01-02T03:04', now), Date.UTC(2024, 0, 2, 3, 4) - local);
  assert.equal(timestampMs('2024-01-02T03:04:05.25', now), Date.UTC(2024, 0, 2, 3, 4, 5, 250) - local);
  assert.throws(() => timestampMs('yesterday', now), /failed to parse value as time or duration: "yesterday"/);
  assert.throws(() => timestampMs('2024-02-30', now), /parsing time "2024-02-30"/);
  assert.throws(() => timestampMs('12:00', now), /failed to parse value as time or duration/);
});

test('prune filters: names, dangling values, one until; label and label! as dockerd matches them', () => {
  assert.deepEqual(parseImagePruneFilters({}), { danglingOnly: true, until: undefined, label: [], notLabel: [] });
  assert.equal(parseImagePruneFilters({ dangling: ['0'] }).danglingOnly, false);
  assert.equal(parseImagePruneFilters({ dangling: ['TRUE'] }).danglingOnly, true);
  assert.throws(() => parseImagePruneFilters({ dangling: ['x'] }), /invalid filter 'dangling=\[x\]'/);
  assert.throws(() => parseImagePruneFilters({ before: ['x'] }), /invalid filter 'before'/);
  assert.throws(() => parseImagePruneFilters({ until: ['1h', '2h'] }), /more than one until filter specified/);
  const f = parseImagePruneFilters({ label: ['a', 'b=1'], 'label!': ['c', 'd=2'] });
  assert.equal(labelsMatch(f, { a: '', b: '1' }), true);
  assert.equal(labelsMatch(f, { a: '', b: '2' }), false, 'b=1 must hold');
  assert.equal(labelsMatch(f, { b: '1' }), false, 'a must exist');
  assert.equal(labelsMatch(f, null), false);
  assert.equal(labelsMatch(f, { a: '', b: '1', c: 'x' }), true, 'label! excludes only when all its entries match');
  assert.equal(labelsMatch(f, { a: '', b: '1', c: 'x', d: '2' }), false);
  const neg = parseImagePruneFilters({ 'label!': ['c'] });
  assert.equal(labelsMatch(neg, {}), true);
  assert.equal(labelsMatch(neg, { c: '' }), false);
});
