// The device cgroup rules a container gets (runtime) and the engine's reading of
// --device-cgroup-rule and --tmpfs options, as dockerd reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceCgroupRules } from '../../src/runtime/lifecycle/device-rules.js';
import { checkTmpfsOption, deviceCgroupRule } from '../../src/engine/containers/spec.js';
import type { Spec } from '../../src/runtime/spec/types.js';

function spec(devices: NonNullable<NonNullable<Spec['linux']>['devices']>, rules: Array<Record<string, unknown>>): Spec {
  return { ociVersion: '1.0.2', root: { path: '/' }, linux: { devices, resources: { devices: rules } } } as unknown as Spec;
}

test('a listed device gets rwm only when no spec rule names it: the spec\'s rule decides its access (docker\'s --device …:r)', () => {
  const dev = { type: 'c' as const, path: '/dev/lc', major: 10, minor: 237 };
  const named = deviceCgroupRules(spec([dev], [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 237, access: 'r' }]));
  assert.deepEqual(named.filter((r) => r.major === 10 && r.minor === 237), [{ allow: true, type: 'c', major: 10, minor: 237, access: 'r' }]);
  const unnamed = deviceCgroupRules(spec([dev], [{ allow: false, access: 'rwm' }]));
  assert.deepEqual(unnamed.at(-1), { allow: true, type: 'c', major: 10, minor: 237, access: 'rwm' });
  // A wildcard rule does not name the device: the listed device's rule still follows it.
  const wild = deviceCgroupRules(spec([dev], [{ allow: true, type: 'c', major: 10, minor: -1, access: 'r' }]));
  assert.deepEqual(wild.at(-1), { allow: true, type: 'c', major: 10, minor: 237, access: 'rwm' });
});

test('--device-cgroup-rule as moby\'s regexp reads it; anything else in its words', () => {
  assert.deepEqual(deviceCgroupRule('c 10:237 r'), { allow: true, type: 'c', major: 10, minor: 237, access: 'r' });
  assert.deepEqual(deviceCgroupRule('a *:* rwm'), { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' });
  assert.deepEqual(deviceCgroupRule('b 8:* mw'), { allow: true, type: 'b', major: 8, minor: -1, access: 'mw' });
  for (const bad of ['x 1:2 r', 'c 1:2', 'c 1 r', 'c 1:2 rx', ' c 1:2 r', 'c 1:2 rwmr']) {
    assert.throws(() => deviceCgroupRule(bad), { message: `invalid device cgroup rule format: '${bad}'` });
  }
});

test('--tmpfs options: mount flags and tmpfs data keys pass, others are dockerd\'s "invalid tmpfs option [..]"', () => {
  for (const ok of ['ro', 'rw', 'noexec', 'exec', 'defaults', 'rprivate', 'strictatime', 'size=1m', 'mode=1777', 'uid=5', 'gid=5', 'nr_inodes=9', 'nr_blocks=9', 'mpol=default', '=x']) checkTmpfsOption(ok);
  assert.throws(() => checkTmpfsOption('bogus=1'), { message: 'invalid tmpfs option ["bogus" "1"]' });
  assert.throws(() => checkTmpfsOption('bogus'), { message: 'invalid tmpfs option ["bogus"]' });
  assert.throws(() => checkTmpfsOption('size'), { message: 'invalid tmpfs option ["size"]' });
  assert.throws(() => checkTmpfsOption('a=b=c'), { message: 'invalid tmpfs option ["a" "b=c"]' });
});
