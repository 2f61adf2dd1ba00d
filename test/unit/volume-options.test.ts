// The local volume driver's options (src/engine/volume-options.ts): dockerd 20.10's validation
// and its mount option split.
import test from 'node:test';
import assert from 'node:assert/strict';
import { describeMountCall, resolveNetworkAddress, splitMountOptions, validateVolumeOptions, volumeMountCalls, volumeMountOptions } from '../../src/engine/volume-options.js';
import { MS } from '../../src/native/plan.js';

test('volume options: unknown keys, missing companions and a size without quota support are refused with dockerd\'s words', () => {
  assert.throws(() => validateVolumeOptions('v', { foo: 'bar' }), /^HakoError: create v: invalid option: "foo"$/m);
  assert.throws(() => validateVolumeOptions('v', { type: 'tmpfs' }), /create v: missing required option: "device"/);
  assert.throws(() => validateVolumeOptions('v', { o: 'size=1m', type: 'tmpfs' }), /create v: missing required option: "device"/);
  assert.throws(() => validateVolumeOptions('v', { device: 'tmpfs' }), /create v: missing required option: "type"/);
  assert.throws(() => validateVolumeOptions('v', { size: '10m' }), /create v: quota size requested but no quota support/);
  assert.throws(() => validateVolumeOptions('v', { size: 'abc' }), /create v: invalid size: 'abc'/);
  assert.throws(() => validateVolumeOptions('v', { size: '-1' }), /invalid size: '-1'/);
  validateVolumeOptions('v', {});
  validateVolumeOptions('v', { size: '0' });
  validateVolumeOptions('v', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' });
  validateVolumeOptions('v', { type: 'none', device: '/srv', o: 'bind' });
});

test('volume options: a mount only with a type or a device', () => {
  assert.equal(volumeMountOptions({}), undefined);
  assert.equal(volumeMountOptions({ size: '0' }), undefined);
  assert.deepEqual(volumeMountOptions({ type: 'tmpfs', device: 'tmpfs' }), { type: 'tmpfs', device: 'tmpfs', o: '' });
});

test('volume options: o splits into mount flags and data as dockerd\'s parser', () => {
  assert.deepEqual(splitMountOptions('size=1m,uid=1000'), { flags: 0, data: 'size=1m,uid=1000' });
  assert.deepEqual(splitMountOptions('bind,ro'), { flags: MS.BIND | MS.RDONLY, data: '' });
  assert.deepEqual(splitMountOptions('ro,rw,nosuid,nodev,noexec,size=2m'), { flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'size=2m' });
  assert.deepEqual(splitMountOptions('rbind,rprivate'), { flags: MS.BIND | MS.REC | MS.PRIVATE, data: '' });
  // Words dockerd's parser does not know are data (the kernel judges them).
  assert.deepEqual(splitMountOptions('lazytime,addr=10.0.0.1,,'), { flags: 0, data: 'lazytime,addr=10.0.0.1' });
});

test('volume options: the mount calls (mount, propagation, read-only bind remount) and their error words', () => {
  const tmpfs = volumeMountCalls({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m,bogus=1' });
  assert.deepEqual(tmpfs, [{ op: 'mount', source: 'tmpfs', fstype: 'tmpfs', flags: 0, data: 'size=1m,bogus=1' }]);
  assert.equal(describeMountCall(tmpfs[0]!, '/v/_data'), 'mount tmpfs:/v/_data, data: size=1m,bogus=1');
  const bind = volumeMountCalls({ type: 'none', device: '/srv', o: 'bind,ro,rshared' });
  assert.deepEqual(bind.map((c) => c.op), ['mount', 'remount', 'remount-ro']);
  assert.equal(bind[0]!.flags, MS.BIND | MS.RDONLY | MS.REC);
  assert.equal(bind[1]!.flags, MS.SHARED | MS.REC);
  assert.equal(bind[2]!.flags, MS.BIND | MS.RDONLY | MS.REC | MS.REMOUNT);
  assert.equal(describeMountCall(bind[0]!, '/v/_data'), 'mount /srv:/v/_data, flags: 0x5001');
  assert.equal(describeMountCall(volumeMountCalls({ type: 'none', device: '/nonexist', o: 'bind' })[0]!, '/v/_data'), 'mount /nonexist:/v/_data, flags: 0x1000');
  // A bare remount without data makes no mount call of its own.
  assert.deepEqual(volumeMountCalls({ type: 'tmpfs', device: 'tmpfs', o: 'remount' }), []);
});

test('volume options: nfs/cifs addr= host names are resolved (localhost, from /etc/hosts), addresses and other types kept', async () => {
  const nfs = await resolveNetworkAddress({ type: 'nfs', device: ':/export', o: 'vers=4,addr=localhost,rw' });
  assert.match(nfs, /^vers=4,addr=(127\.0\.0\.1|::1),rw$/);
  assert.equal(await resolveNetworkAddress({ type: 'cifs', device: '//h/s', o: 'addr=10.1.2.3,username=u' }), 'addr=10.1.2.3,username=u');
  assert.equal(await resolveNetworkAddress({ type: 'tmpfs', device: 'tmpfs', o: 'addr=localhost' }), 'addr=localhost');
  assert.equal(await resolveNetworkAddress({ type: 'nfs', device: ':/x', o: 'vers=4' }), 'vers=4');
});
