// docker exec starts from the container's OCI process: its ulimits and GroupAdd apply to execs
// too (docker-compose exec into a service with `ulimits:` / `group_add:`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execProcessSpec } from '../../src/engine/exec-process.js';
import type { ContainerRecord } from '../../src/engine/containers/record.js';
import { tempDir } from '../helpers/fixtures.js';

test('exec process: the container ulimits and GroupAdd, exec user and env on top', () => {
  const t = tempDir('hako-exec-spec-');
  try {
    mkdirSync(join(t.path, 'etc'));
    writeFileSync(join(t.path, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(join(t.path, 'etc/group'), 'root:x:0:\napp:x:1000:\nusers:x:100:\n');
    const rec = {
      Config: { User: '1000:1000', Env: ['A=1', 'B=2'], WorkingDir: '/tmp' },
      HostConfig: { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'nproc', Soft: 512, Hard: 512 }], GroupAdd: ['100'] },
    } as unknown as ContainerRecord;
    const p = execProcessSpec(rec, t.path, { Cmd: ['id'], Env: ['B=3'] }, false) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }, { type: 'RLIMIT_NPROC', soft: 512, hard: 512 }]);
    assert.deepEqual(p.user, { uid: 1000, gid: 1000, additionalGids: [1000, 100] });
    // dockerd's daemon defaults first (PATH, HOSTNAME), the container's env over them, the exec's on top.
    assert.deepEqual(p.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=', 'A=1', 'B=3', 'HOME=/home/app']);
    const own = execProcessSpec({ ...rec, Config: { Hostname: 'h1', Env: ['PATH=/bin'] } } as unknown as ContainerRecord, t.path, { Cmd: ['sh'] }, true) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(own.env, ['PATH=/bin', 'HOSTNAME=h1', 'TERM=xterm', 'HOME=/root']);
    assert.equal(p.cwd, '/tmp');
    const root = execProcessSpec({ Config: {}, HostConfig: {} } as unknown as ContainerRecord, t.path, { Cmd: ['sh'], User: 'root' }, true) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(root.rlimits, undefined);
    assert.deepEqual(root.user, { uid: 0, gid: 0, additionalGids: [0] });
    assert.throws(() => execProcessSpec({ Config: {}, HostConfig: { Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] } } as unknown as ContainerRecord, t.path, { Cmd: ['sh'] }, false), /invalid ulimit type: bogus/);
  } finally {
    t.cleanup();
  }
});

test('dockerd env rules: a bare KEY removes KEY (never passed on as "KEY"), K=v replaces in place or appends', async () => {
  const { replaceOrAppendEnv, daemonEnv } = await import('../../src/engine/containers/spec.js');
  assert.deepEqual(replaceOrAppendEnv(['PATH=/p', 'HOSTNAME=h'], ['FOO', 'HOSTNAME', 'A=1', 'PATH=/q']), ['PATH=/q', 'A=1']);
  assert.deepEqual(daemonEnv('h', true, ['TERM=dumb', 'X=1']), ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'TERM=dumb', 'X=1']);
});
