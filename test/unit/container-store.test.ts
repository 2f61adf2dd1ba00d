import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerStore, recordJson, type ContainerRecord } from '../../src/runtime/state/container-store.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import { tempDir } from '../helpers/fixtures.js';

const spec = {
  ociVersion: '1.0.2',
  root: { path: 'rootfs' },
  process: { args: ['sh', '-c', 'echo "quoted" \\ back'], cwd: '/', env: ['A=ü'] },
  annotations: { config: '0', k: '"config":{}' },
} as unknown as Spec;

const record = (): ContainerRecord => ({
  ociVersion: '1.0.2',
  id: 'c1',
  bundle: '/b',
  rootfs: '/b/rootfs',
  created: '2026-01-01T00:00:00Z',
  owner: 'root',
  status: 'created',
  pid: 42,
  annotations: { config: '0' },
  cgroupsPath: undefined,
  config: spec,
  cgroupPaths: { memory: '/sys/fs/cgroup/memory/x' },
});

test('a state record saved with its config serialised before reads back as the record itself', () => {
  const rec = record();
  assert.deepEqual(JSON.parse(recordJson(rec, JSON.stringify(rec.config))), JSON.parse(JSON.stringify(rec)));
  const dir = tempDir();
  try {
    const store = new ContainerStore(dir.path);
    store.reserve('c1');
    store.save(rec, JSON.stringify(spec));
    assert.deepEqual(store.load('c1'), JSON.parse(JSON.stringify(rec)));
    const withOwn = readFileSync(join(dir.path, 'c1', 'state.json'), 'utf8');
    store.save(rec);
    assert.deepEqual(JSON.parse(readFileSync(join(dir.path, 'c1', 'state.json'), 'utf8')), JSON.parse(withOwn), 'the same record either way');
  } finally {
    dir.cleanup();
  }
});
