import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CAPABILITIES, DOCKER_DEFAULT_CAPS, allCapsMask, applyCapChanges, capMask, capNames, capNumber, hasCap, lastCap, normalizeCapName,
} from '../../src/runtime/security/capabilities.js';
import { HakoError } from '../../src/common/errors.js';

test('capability numbers follow linux/capability.h', () => {
  assert.equal(CAPABILITIES.length, 41);
  assert.equal(capNumber('CAP_CHOWN'), 0);
  assert.equal(capNumber('CAP_NET_ADMIN'), 12);
  assert.equal(capNumber('CAP_SYS_ADMIN'), 21);
  assert.equal(capNumber('CAP_SETFCAP'), 31);
  assert.equal(capNumber('CAP_SYSLOG'), 34);
  assert.equal(capNumber('CAP_BPF'), 39);
  assert.equal(capNumber('CAP_CHECKPOINT_RESTORE'), 40);
});

test('capMask accepts CAP_X, X, lowercase and ALL', () => {
  assert.equal(capMask(['CAP_CHOWN', 'kill', 'Net_Admin', 'cap_sys_admin']), (1n << 0n) | (1n << 5n) | (1n << 12n) | (1n << 21n));
  assert.equal(capMask([]), 0n);
  assert.equal(capMask(['ALL'], { last: 40 }), (1n << 41n) - 1n);
  assert.equal(capMask(['all'], { last: 37 }), (1n << 38n) - 1n);
  assert.equal(normalizeCapName('sys_ptrace'), 'CAP_SYS_PTRACE');
  assert.equal(normalizeCapName('CAP_NOPE'), undefined);
});

test('unknown capability → HakoError naming it', () => {
  assert.throws(() => capMask(['CAP_CHOWN', 'NET_ADMINN']), (e: unknown) => {
    assert.ok(e instanceof HakoError);
    assert.equal(e.kind, 'invalid-argument');
    assert.match(e.message, /unknown capability "NET_ADMINN"/);
    return true;
  });
  assert.throws(() => applyCapChanges({ add: ['FLY'], last: 40 }), /--cap-add capability "FLY"/);
});

test('capNames is the inverse of capMask, in number order', () => {
  assert.deepEqual(capNames(capMask(['SYS_ADMIN', 'CHOWN', 'BPF'])), ['CAP_CHOWN', 'CAP_SYS_ADMIN', 'CAP_BPF']);
  assert.deepEqual(capNames(allCapsMask(40)), CAPABILITIES);
  assert.deepEqual(capNames(1n << 45n), ['CAP_45']);
  assert.ok(hasCap(capMask(['KILL']), 'kill'));
  assert.ok(!hasCap(capMask(['KILL']), 'CAP_CHOWN'));
});

test('docker default capabilities', () => {
  assert.equal(DOCKER_DEFAULT_CAPS.length, 14);
  const m = capMask(DOCKER_DEFAULT_CAPS);
  assert.equal(m, 0xa80425fbn); // the well-known CapBnd of a default docker container
  assert.ok(!hasCap(m, 'SYS_ADMIN'));
  assert.ok(!hasCap(m, 'NET_ADMIN'));
});

test('lastCap reads the kernel value, falls back to 40', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-caps-'));
  try {
    const f = join(dir, 'cap_last_cap');
    writeFileSync(f, '37\n');
    assert.equal(lastCap(f), 37);
    writeFileSync(f, 'garbage');
    assert.equal(lastCap(f), 40);
    assert.equal(lastCap(join(dir, 'missing')), 40);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const real = lastCap();
  assert.ok(real >= 36 && real < 64);
});

test('docker --cap-add/--cap-drop/--privileged semantics', () => {
  const base = capMask(DOCKER_DEFAULT_CAPS);
  const all = allCapsMask(40);
  assert.equal(applyCapChanges({ last: 40 }), base);
  assert.equal(applyCapChanges({ privileged: true, drop: ['ALL'], last: 40 }), all);
  assert.equal(applyCapChanges({ add: ['NET_ADMIN'], drop: ['mknod'], last: 40 }), (base | capMask(['NET_ADMIN'])) & ~capMask(['MKNOD']));
  assert.equal(applyCapChanges({ add: ['ALL'], drop: ['SYS_ADMIN'], last: 40 }), all & ~capMask(['SYS_ADMIN']));
  assert.equal(applyCapChanges({ drop: ['ALL'], add: ['chown', 'KILL'], last: 40 }), capMask(['CHOWN', 'KILL']));
  // added and dropped: the add wins (drops are applied first)
  assert.equal(applyCapChanges({ add: ['NET_RAW'], drop: ['NET_RAW'], last: 40 }), base);
  // kernel with fewer capabilities: nothing beyond its last
  assert.equal(applyCapChanges({ add: ['ALL'], last: 37 }), allCapsMask(37));
  assert.equal(applyCapChanges({ base: 0n, add: ['SYS_ADMIN'], last: 40 }), capMask(['SYS_ADMIN']));
});
