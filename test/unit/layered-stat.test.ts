// statInLayers: a path looked up in an overlay's layers as the merged mount would show it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statInLayers } from '../../src/engine/fs/layered.js';

function layers(n: number): { dirs: string[]; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'hako-layered-'));
  const dirs = Array.from({ length: n }, (_, i) => join(root, `l${i}`));
  for (const d of dirs) mkdirSync(d);
  return { dirs, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const kind = (s: ReturnType<typeof statInLayers>) => (s === undefined ? 'missing' : s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other');

test('the topmost layer holding a name wins; directories merge; symlinks are followed inside the root', () => {
  const { dirs: [top, mid, low], cleanup } = layers(3) as { dirs: [string, string, string]; cleanup: () => void };
  try {
    mkdirSync(join(low, 'etc'));
    writeFileSync(join(low, 'etc', 'passwd'), '');
    mkdirSync(join(mid, 'etc'));
    mkdirSync(join(mid, 'etc', 'passwd')); // a dir over the file
    mkdirSync(join(top, 'etc'));
    writeFileSync(join(top, 'etc', 'group'), '');
    symlinkSync('/etc/group', join(top, 'abs'));
    symlinkSync('../etc/./group', join(low, 'etc', 'rel'));
    symlinkSync('../../../../etc', join(mid, 'up'));
    symlinkSync('loop', join(top, 'loop'));
    const at = (p: string) => kind(statInLayers([top, mid, low], p));
    assert.equal(at('/'), 'dir');
    assert.equal(at('/etc/passwd'), 'dir');
    assert.equal(at('/etc/group'), 'file');
    assert.equal(at('/abs'), 'file');
    assert.equal(at('/etc/rel'), 'file', 'a relative link from a lower layer');
    assert.equal(at('/up/group'), 'file', '.. stops at the root');
    assert.equal(at('/etc/group/x'), 'missing', 'below a file');
    assert.equal(at('/loop'), 'missing');
    assert.equal(at('/nosuch/x'), 'missing');
    assert.equal(kind(statInLayers([low], '/etc/passwd')), 'file');
  } finally {
    cleanup();
  }
});

test('whiteouts hide a name below; an opaque directory hides the directories below it', { skip: process.getuid?.() !== 0 ? 'mknod and trusted.* xattrs need root' : false }, () => {
  const { dirs: [top, low], cleanup } = layers(2) as { dirs: [string, string]; cleanup: () => void };
  try {
    mkdirSync(join(low, 'w'));
    writeFileSync(join(low, 'w', 'f'), '');
    writeFileSync(join(low, 'gone'), '');
    mkdirSync(join(low, 'o'));
    writeFileSync(join(low, 'o', 'f'), '');
    mkdirSync(join(top, 'w'));
    execFileSync('mknod', [join(top, 'gone'), 'c', '0', '0']);
    mkdirSync(join(top, 'o'));
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(top, 'o')]);
    const at = (p: string) => kind(statInLayers([top, low], p));
    assert.equal(at('/w/f'), 'file', 'a plain directory merges');
    assert.equal(at('/gone'), 'missing');
    assert.equal(at('/o'), 'dir');
    assert.equal(at('/o/f'), 'missing');
  } finally {
    cleanup();
  }
});
