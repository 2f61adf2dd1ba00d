import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WholeLines } from '../../src/cli/whole-lines.js';

test('WholeLines: text only up to the last newline, a character split across chunks kept whole, the rest at the end', () => {
  const bytes = Buffer.from('a\nü\nlast é', 'utf8');
  const lines = new WholeLines();
  const cut = bytes.indexOf(0xc3); // inside ü: its first byte ends the first chunk
  assert.equal(lines.take(bytes.subarray(0, cut + 1)), 'a\n');
  assert.equal(lines.take(bytes.subarray(cut + 1, cut + 2)), '');
  assert.equal(lines.take(bytes.subarray(cut + 2)), 'ü\n');
  assert.equal(lines.rest(), 'last é');
  assert.equal(new WholeLines().rest(), '');
});
