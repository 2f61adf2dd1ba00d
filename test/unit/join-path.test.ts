// joinPath (src/common/join-path.ts) returns what path.join returns, for clean parts (its
// concatenation fast path) and for every kind of unclean one (its fallback).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { joinPath } from '../../src/common/join-path.js';

const pieces = ['', '/', '//', '.', '..', '...', '.a', '..a', 'a.', 'a..', 'a', 'bc', 'a/b', 'a//b', 'a/', '/a', './a', '../a', 'a/.', 'a/..', 'a/./b', 'a/../b', '/a/b', '/a/b/', '/./a', '/../a', 'ä b', 'x:y', '-'];

test('joinPath: equal to path.join for every combination of 2 and 3 parts from a set of clean and unclean pieces', () => {
  for (const a of pieces) {
    for (const b of pieces) {
      assert.equal(joinPath(a, b), join(a, b), JSON.stringify([a, b]));
      for (const c of pieces) assert.equal(joinPath(a, b, c), join(a, b, c), JSON.stringify([a, b, c]));
    }
  }
});

test('joinPath: 4 parts, random paths built from the pieces, and the daemon’s own shapes', () => {
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const path = () => Array.from({ length: 1 + rnd(4) }, () => pieces[rnd(pieces.length)]).join(rnd(3) === 0 ? '//' : '/');
  for (let i = 0; i < 20000; i++) {
    const [a, b, c, d] = [path(), path(), path(), path()];
    assert.equal(joinPath(a, b, c, d), join(a, b, c, d), JSON.stringify([a, b, c, d]));
  }
  const id = 'e'.repeat(64);
  assert.equal(joinPath('/var/lib/hako/containers', id), `/var/lib/hako/containers/${id}`);
  assert.equal(joinPath('/run/hako', 'containers', id, 'rootfs'), `/run/hako/containers/${id}/rootfs`);
  assert.throws(() => joinPath('/a', undefined as unknown as string), TypeError);
});
