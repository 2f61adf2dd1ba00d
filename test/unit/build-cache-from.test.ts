// --cache-from's decisions (src/build/cache-from.ts), as dockerd 20.10's image cache makes them: pure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidConfig, isValidParent, layerForHistoryIndex, restoredConfig, type CacheImageConfig } from '../../src/build/cache-from.js';

const base: CacheImageConfig = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:l0'] }, history: [{ created: '2020-01-01T00:00:00Z', created_by: 'ADD rootfs' }] };
const source: CacheImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids: ['sha256:l0', 'sha256:l1', 'sha256:l2'] },
  history: [
    { created: '2020-01-01T00:00:00Z', created_by: 'ADD rootfs' },
    { created: '2021-01-01T00:00:01Z', created_by: '/bin/sh -c #(nop)  ENV X=1', empty_layer: true },
    { created: '2021-01-01T00:00:02Z', created_by: '/bin/sh -c echo a > /a' },
    { created: '2021-01-01T00:00:03Z', created_by: '/bin/sh -c #(nop) COPY file:abc in /f ' },
  ],
};

test('isValidParent: the parent\'s history and layers are a strict prefix of the source\'s', () => {
  assert.equal(isValidParent(source, base), true);
  assert.equal(isValidParent(source, undefined), true, 'FROM scratch: any source with history');
  assert.equal(isValidParent({ ...source, history: [] }, base), false);
  assert.equal(isValidParent(source, source), false, 'not a strict prefix');
  assert.equal(isValidParent(source, { ...base, history: [{ ...base.history![0]!, created: '2020-01-02T00:00:00Z' }] }), false, 'another base');
  assert.equal(isValidParent(source, { ...base, rootfs: { diff_ids: ['sha256:other'] } }), false);
  // Absent and zero fields are the same (Go's DeepEqual of the struct).
  assert.equal(isValidParent(source, { ...base, history: [{ ...base.history![0]!, empty_layer: false, comment: '' }] }), true);
});

test('isValidConfig: the step\'s Cmd joined with spaces is the entry\'s created_by', () => {
  assert.equal(isValidConfig(['/bin/sh', '-c', '#(nop) ', 'ENV X=1'], source.history![1]), true);
  assert.equal(isValidConfig(['/bin/sh', '-c', 'echo a > /a'], source.history![2]), true);
  assert.equal(isValidConfig(['/bin/sh', '-c', 'echo b > /a'], source.history![2]), false);
  assert.equal(isValidConfig(['x'], undefined), false);
});

test('layerForHistoryIndex skips empty-layer entries; restoredConfig appends one entry and its layer', () => {
  assert.equal(layerForHistoryIndex(source, 0), 'sha256:l0');
  assert.equal(layerForHistoryIndex(source, 1), undefined);
  assert.equal(layerForHistoryIndex(source, 2), 'sha256:l1');
  assert.equal(layerForHistoryIndex(source, 3), 'sha256:l2');
  const step = { Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV X=1'], Env: ['X=1'] };
  const one = restoredConfig(base, source, step);
  assert.deepEqual(one, { architecture: 'amd64', config: step, created: '2021-01-01T00:00:01Z', history: source.history!.slice(0, 2), os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:l0'] } });
  const two = restoredConfig(one as CacheImageConfig, source, { Cmd: ['/bin/sh', '-c', 'echo a > /a'] });
  assert.deepEqual((two.rootfs as { diff_ids: string[] }).diff_ids, ['sha256:l0', 'sha256:l1']);
  assert.equal(two.created, '2021-01-01T00:00:02Z');
});
