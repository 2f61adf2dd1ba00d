// The /dev/shm plan by IPC mode (src/engine/shm-mounts.ts), as dockerd 20.10: no mounts made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/fixtures.js';
import { ShmMounts, userShmMount } from '../../src/engine/shm-mounts.js';
import { HakoError } from '../../src/common/errors.js';

const rec = (IpcMode: string, extra: { ShmSize?: number; mounts?: string[]; id?: string } = {}) => ({
  Id: extra.id ?? 'a'.repeat(64),
  HostConfig: { IpcMode, ShmSize: extra.ShmSize ?? 64 * 1024 * 1024 },
  MountPoints: (extra.mounts ?? []).map((Destination) => ({ Destination })),
});

test('shm plan: private and "" a tmpfs of ShmSize, shareable a bind of its host-side path, host the host\'s /dev/shm, none nothing, a user mount wins', () => {
  const t = tempDir();
  try {
    const shm = new ShmMounts(join(t.path, 'shm'));
    assert.deepEqual(shm.plan(rec('private', { ShmSize: 4 << 20 })), { kind: 'tmpfs', size: 4 << 20 });
    assert.deepEqual(shm.plan(rec('')), { kind: 'tmpfs', size: 64 << 20 });
    assert.deepEqual(shm.plan(rec('shareable')), { kind: 'bind', source: join(t.path, 'shm', 'a'.repeat(64)) });
    assert.deepEqual(shm.plan(rec('none')), { kind: 'none' });
    const hostShm = join(t.path, 'host-shm');
    mkdirSync(hostShm);
    assert.deepEqual(shm.plan(rec('host'), undefined, hostShm), { kind: 'bind', source: hostShm });
    assert.throws(() => shm.plan(rec('host'), undefined, join(t.path, 'nope')), /\/dev\/shm is not mounted, but must be for --ipc=host/);
    for (const mode of ['private', 'shareable', 'host', 'none']) assert.deepEqual(shm.plan(rec(mode, { mounts: ['/dev/shm/'] })), { kind: 'user' });
    assert.equal(userShmMount(rec('private', { mounts: ['/dev/shmx', '/dev'] })), false);
  } finally {
    t.cleanup();
  }
});

test('shm plan: a joiner binds the donor\'s host-side tmpfs (the host\'s /dev/shm for a donor on the host\'s IPC); a shareable donor with a user mount on /dev/shm, or none mounted, is refused', () => {
  const t = tempDir();
  try {
    const shm = new ShmMounts(join(t.path, 'shm'));
    const donorId = 'b'.repeat(64);
    const joiner = rec(`container:${donorId}`);
    // 'internal' (500): dockerd answers a spec that cannot be built at start as a system error.
    const refused = (donor: ReturnType<typeof rec>, re: RegExp) =>
      assert.throws(() => shm.plan(joiner, donor), (e: unknown) => e instanceof HakoError && e.kind === 'internal' && re.test(e.message));
    refused(rec('shareable', { id: donorId, mounts: ['/dev/shm'] }), new RegExp(`^can't join IPC of container ${donorId}: non-shareable IPC \\(hint: use IpcMode:shareable for the donor container\\)`));
    // Shareable, but nothing is mounted at its host-side path (started by an older hakod).
    refused(rec('shareable', { id: donorId }), /its \/dev\/shm is not on the host/);
    // A donor on the host's IPC (its own user mount on /dev/shm notwithstanding): the host's /dev/shm.
    const hostShm = join(t.path, 'host-shm');
    mkdirSync(hostShm);
    assert.deepEqual(shm.plan(joiner, rec('host', { id: donorId, mounts: ['/dev/shm'] }), hostShm), { kind: 'bind', source: hostShm });
  } finally {
    t.cleanup();
  }
});
