// docker info's "Backing Filesystem": statfs(2)'s f_type named as moby's graphdriver names it
// (it was a constant `extfs` whatever the data root was on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { backingFsName } from '../../src/engine/backing-fs.js';

test('backingFsName: tmpfs, the file system of /tmp as stat -f sees it, <unknown> for one moby does not name', () => {
  const type = (p: string) => execFileSync('stat', ['-f', '-c', '%t', p], { encoding: 'utf8' }).trim();
  if (type('/dev/shm') === '1021994') assert.equal(backingFsName('/dev/shm'), 'tmpfs');
  const named: Record<string, string> = { ef53: 'extfs', '58465342': 'xfs', '1021994': 'tmpfs', '9123683e': 'btrfs', '794c7630': 'overlayfs' };
  const tmp = type('/tmp');
  if (named[tmp]) assert.equal(backingFsName('/tmp'), named[tmp]);
  // proc (0x9fa0) is not in moby's table
  assert.equal(backingFsName('/proc'), '<unknown>');
  assert.equal(backingFsName('/nonexistent/path'), '<unknown>');
});
