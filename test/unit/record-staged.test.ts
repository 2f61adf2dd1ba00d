// A create answers once its record is written under a temp name (RecordStore.stageCreate); the
// fsync and rename follow. A daemon killed in between leaves the complete temp record: the next
// start-up commits it (the container whose create answered exists), while a torn one (a host
// crash) still makes the directory go as incomplete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordStore, type ContainerRecord } from '../../src/engine/containers/record.js';
import { tempDir } from '../helpers/fixtures.js';

const ID1 = 'a'.repeat(64);
const ID2 = 'b'.repeat(64);
const ID3 = 'c'.repeat(64);

test('loadAll commits a complete staged record left by a killed daemon; a torn or foreign one makes the dir go', () => {
  const t = tempDir('hako-record-staged-');
  try {
    const root = join(t.path, 'containers');
    const store = new RecordStore(root);
    const rec = (id: string) => ({ Id: id, Name: `/n-${id.slice(0, 4)}`, State: { Status: 'created' } }) as unknown as ContainerRecord;
    // Staged, never committed (the daemon was killed before commitSoon's rename).
    mkdirSync(store.containerDir(ID1), { recursive: true });
    store.stageCreateSync(rec(ID1));
    // Torn: a prefix of the JSON (a host crash before the data reached the disk).
    mkdirSync(store.containerDir(ID2), { recursive: true });
    writeFileSync(join(store.containerDir(ID2), '.config.v2.json.1-abc-def.tmp'), JSON.stringify(rec(ID2)).slice(0, 20));
    // Another container's record under this dir's name.
    mkdirSync(store.containerDir(ID3), { recursive: true });
    writeFileSync(join(store.containerDir(ID3), '.config.v2.json.1-abc-def.tmp'), JSON.stringify(rec(ID1)));
    const warnings: string[] = [];
    const loaded = new RecordStore(root).loadAll((m) => warnings.push(m));
    assert.deepEqual(loaded.map((r) => r.Id), [ID1]);
    assert.deepEqual(readdirSync(store.containerDir(ID1)), ['config.v2.json'], 'committed, temp gone');
    assert.equal(existsSync(store.containerDir(ID2)), false);
    assert.equal(existsSync(store.containerDir(ID3)), false);
    assert.equal(warnings.filter((w) => /committed now/.test(w)).length, 1);
    assert.equal(warnings.filter((w) => /removing incomplete/.test(w)).length, 2);
    // Loaded again: the committed record as any other.
    assert.deepEqual(new RecordStore(root).loadAll(() => undefined).map((r) => r.Id), [ID1]);
  } finally {
    t.cleanup();
  }
});
