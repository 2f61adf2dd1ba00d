// Container and network prune filters (dockerd's daemon/prune.go), and top's ps output filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePruneFilters, pruneMatches } from '../../src/engine/prune-filters.js';
import { filterPsOutput } from '../../src/runtime/lifecycle/ps.js';

test('prune filters: only until/label/label!, one until, read as a duration, a unix time or a date', () => {
  const now = Date.parse('2026-11-24T12:00:00.500Z');
  assert.throws(() => parsePruneFilters({ name: ['x'] }, now), /^HakoError: invalid filter 'name'$/);
  assert.throws(() => parsePruneFilters({ until: ['1h', '2h'] }, now), /more than one until filter specified/);
  assert.throws(() => parsePruneFilters({ until: ['bogus'] }, now), /failed to parse value as time or duration: "bogus"/);
  assert.equal(parsePruneFilters({ until: ['1h'] }, now).until, Date.parse('2026-11-24T11:00:00Z'), 'whole seconds, as Go');
  assert.equal(parsePruneFilters({ until: ['1700000000'] }, now).until, 1700000000_000);
  assert.equal(parsePruneFilters({ until: ['2026-11-24T10:00:00Z'] }, now).until, Date.parse('2026-11-24T10:00:00Z'));
});

test('prune matches: created before until; every label; dropped from the prune only when every label! matches', () => {
  const f = parsePruneFilters({ until: ['1700000000'], label: ['a', 'b=2'] });
  assert.equal(pruneMatches(1699999999_000, { a: '', b: '2' }, f), true);
  assert.equal(pruneMatches(1700000000_000, { a: '', b: '2' }, f), false, 'not before until');
  assert.equal(pruneMatches(1, { a: '' }, f), false, 'b=2 missing');
  const not = parsePruneFilters({ 'label!': ['keep', 'x=1'] });
  assert.equal(pruneMatches(1, { keep: '' }, not), true, 'one of two label! is not enough to keep it');
  assert.equal(pruneMatches(1, { keep: '', x: '1' }, not), false);
  assert.equal(pruneMatches(1, null, parsePruneFilters({})), true);
});

test('top\'s ps output: the header, the container\'s rows, thread rows ("-" PID) after one of them; a PID that is no number is an error', () => {
  const out = ['  PID TTY      STAT   TIME COMMAND', '    7 ?        -      0:00 sleep 1', '    - -        Ss     0:00 -', '    9 ?        -      0:00 other', '    - -        S      0:00 -', ''].join('\n');
  assert.equal(filterPsOutput(out, [7]), ['  PID TTY      STAT   TIME COMMAND', '    7 ?        -      0:00 sleep 1', '    - -        Ss     0:00 -', ''].join('\n'));
  assert.throws(() => filterPsOutput('COMMAND\nsleep\n', [1]), /^HakoError: Couldn't find PID field in ps output$/);
  assert.throws(() => filterPsOutput('PID CMD\nx y\n', [1]), /Unexpected pid 'x'/);
});
