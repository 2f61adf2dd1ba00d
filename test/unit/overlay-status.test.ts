// docker info's overlay2 status lines (Supports d_type, Using metacopy, Native Overlay Diff,
// userxattr) probed as dockerd's overlay2 driver probes them; before, only "Backing Filesystem".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { tempDir, isRoot, mountsUnder } from '../helpers/fixtures.js';
import { kernelAtLeast, overlayDriverStatus, probeNativeDiff, probeOverlay, probeUserxattr, runningInUserNamespace, hostProbe } from '../../src/engine/overlay-status.js';

const param = (name: string): string | undefined => {
  try {
    return readFileSync(`/sys/module/overlay/parameters/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

test('runningInUserNamespace: the initial namespace maps all 2^32 ids onto themselves', () => {
  assert.equal(runningInUserNamespace('         0          0 4294967295\n'), false);
  assert.equal(runningInUserNamespace('         0       1000          1\n'), true);
  assert.equal(runningInUserNamespace('0 100000 65536\n'), true);
  assert.equal(runningInUserNamespace('0 0 4294967295\n1 1 1\n'), true);
});

test('kernelAtLeast reads uname -r as dockerd reads it', () => {
  assert.equal(kernelAtLeast('5.11.0-1-amd64', 5, 11), true);
  assert.equal(kernelAtLeast('5.10.209', 5, 11), false);
  assert.equal(kernelAtLeast('6.1.0', 5, 11), true);
  assert.equal(kernelAtLeast('4.19.0', 5, 11), false);
  assert.equal(kernelAtLeast('garbage', 5, 11), false);
});

test('overlayDriverStatus: the five lines of API 1.44 in dockerd’s order', () => {
  const t = tempDir('hako-ovl-');
  try {
    const s = overlayDriverStatus(t.path, { supportsDType: true, usingMetacopy: false, nativeDiff: true, userxattr: false });
    assert.deepEqual(s.map(([k]) => k), ['Backing Filesystem', 'Supports d_type', 'Using metacopy', 'Native Overlay Diff', 'userxattr']);
    assert.deepEqual(s.slice(1).map(([, v]) => v), ['true', 'false', 'true', 'false']);
  } finally {
    t.cleanup();
  }
});

test('in a user namespace: no native diff (without a mount), userxattr on kernels ≥ 5.11', async () => {
  const t = tempDir('hako-ovl-');
  try {
    const host = { inUserNamespace: () => true, kernelRelease: () => '6.1.0' };
    assert.equal(await probeNativeDiff(t.path, host), 'running in a user namespace');
    assert.equal(await probeUserxattr(t.path, host), true);
    assert.equal(await probeUserxattr(t.path, { inUserNamespace: () => false, kernelRelease: () => '6.1.0' }), false);
    assert.deepEqual(readdirSync(t.path), [], 'nothing made');
  } finally {
    t.cleanup();
  }
});

const skip = !isRoot ? 'overlay mounts need root' : param('metacopy') === undefined ? 'no overlay module' : false;

test('probeOverlay on the host: the answers the overlay module’s parameters imply, nothing left behind', { skip }, async () => {
  const t = tempDir('hako-ovl-');
  try {
    const logs: string[] = [];
    const s = await probeOverlay(t.path, { ...hostProbe, debug: (m) => logs.push(m) });
    const userns = runningInUserNamespace();
    // d_type: every file system hako's roots live on in practice (ext4, xfs ftype=1, tmpfs, btrfs) has it
    assert.equal(s.supportsDType, true, logs.join('\n'));
    // the module's defaults (CONFIG_OVERLAY_FS_*) are what a mount without options gets
    assert.equal(s.usingMetacopy, param('metacopy') === 'Y', logs.join('\n'));
    assert.equal(s.nativeDiff, !userns && param('redirect_dir') !== 'Y', logs.join('\n'));
    assert.equal(s.userxattr, userns && kernelAtLeast(hostProbe.kernelRelease(), 5, 11));
    assert.deepEqual(readdirSync(`${t.path}/tmp`), [], 'the probes’ dirs are removed');
    assert.deepEqual(mountsUnder(t.path), []);
  } finally {
    t.cleanup();
  }
});
