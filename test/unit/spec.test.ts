import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/fixtures.js';
import { validateSpec } from '../../src/runtime/spec/validate.js';
import { defaultSpec, DEFAULT_CAPABILITIES } from '../../src/runtime/spec/defaults.js';
import { features } from '../../src/runtime/spec/features.js';
import { HakoError } from '../../src/common/errors.js';

function withBundle(fn: (bundle: string) => void): void {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'rootfs'));
    fn(t.path);
  } finally {
    t.cleanup();
  }
}

function base(): any {
  return structuredClone(defaultSpec({ terminal: false, args: ['/bin/true'] }));
}

function expectError(raw: unknown, bundle: string, message: string): void {
  assert.throws(
    () => validateSpec(raw, bundle),
    (err: unknown) => {
      assert.ok(err instanceof HakoError, 'a HakoError');
      assert.equal(err.message, message);
      assert.equal(err.kind, 'invalid-argument');
      return true;
    },
  );
}

test('the default spec validates and round-trips unchanged', () => {
  withBundle((bundle) => {
    const raw = base();
    const spec = validateSpec(raw, bundle);
    assert.equal(spec, raw);
    assert.deepEqual(spec.process?.args, ['/bin/true']);
  });
});

test('bad specs give messages naming the JSON path', () => {
  withBundle((bundle) => {
    const cases: Array<[(s: any) => void, string]> = [
      [(s) => (s.process.args = []), 'config.json: process.args must be a non-empty array of strings'],
      [(s) => (s.process.args = ['sh', 3]), 'config.json: process.args must be a non-empty array of strings'],
      [(s) => s.linux.namespaces.splice(2, 0, { type: 'foo' }), 'config.json: linux.namespaces[2].type "foo" is not a namespace type (pid, network, mount, ipc, uts, user, cgroup, time)'],
      [(s) => s.linux.namespaces.push({ type: 'pid' }), 'config.json: linux.namespaces[6]: duplicate namespace type "pid"'],
      [(s) => s.linux.namespaces.push({ type: 'user' }), 'config.json: linux.uidMappings are required with a new user namespace'],
      [(s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]), 'config.json: linux.uidMappings need a user namespace (add {"type": "user"} to linux.namespaces)'],
      [(s) => (s.ociVersion = '2.0.0'), 'config.json: ociVersion "2.0.0" is not supported (hako accepts any 1.x)'],
      [(s) => delete s.ociVersion, 'config.json: ociVersion is required'],
      [(s) => delete s.root.path, 'config.json: root.path is required'],
      [(s) => (s.root.path = 'nope'), `config.json: root.path ${join(bundle, 'nope')}: no such directory`],
      [(s) => (s.mounts[0].destination = 'proc'), 'config.json: mounts[0].destination "proc" must be an absolute path'],
      [(s) => (s.linux.resources = { memory: { limit: -5 } }), 'config.json: linux.resources.memory.limit must not be negative (got -5; -1 means unlimited)'],
      [(s) => (s.process.user.uid = -1), 'config.json: process.user.uid must not be negative (got -1)'],
      [(s) => (s.process.cwd = 'tmp'), 'config.json: process.cwd "tmp" must be an absolute path'],
      [(s) => (s.process.env = ['PATH']), 'config.json: process.env[0] "PATH" must look like NAME=value'],
      [(s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }]), 'config.json: process.rlimits[0]: soft limit 10 is above the hard limit 5'],
      [(s) => (s.linux.rootfsPropagation = 'rshared'), 'config.json: linux.rootfsPropagation "rshared" must be one of private, shared, slave, unbindable'],
      [(s) => (s.linux.devices = [{ type: 'c', path: '/dev/fuse' }]), 'config.json: linux.devices[0]: major and minor are required for a "c" device'],
      [(s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } }), 'config.json: linux.timeOffsets need a time namespace (add {"type": "time"} to linux.namespaces)'],
      [(s) => (s.linux.maskedPaths = ['proc/kcore']), 'config.json: linux.maskedPaths[0] "proc/kcore" must be an absolute path'],
      [(s) => delete s.process, 'config.json: process is required'],
      [(s) => (s.hooks = { prestart: [{ path: 'rel' }] }), 'config.json: hooks.prestart[0].path "rel" must be an absolute path'],
    ];
    for (const [mutate, message] of cases) {
      const raw = base();
      mutate(raw);
      expectError(raw, bundle, message);
    }
    expectError('nope', bundle, 'config.json: must be a JSON object, not "nope"');
  });
});

test('any 1.x ociVersion is accepted and unknown fields are ignored', () => {
  withBundle((bundle) => {
    for (const v of ['1.0.0', '1.0.2-dev', '1.2.1', '1.3.0', '1.9.0-rc.1']) {
      const raw = base();
      raw.ociVersion = v;
      raw.somethingNew = { x: 1 };
      raw.linux.futureThing = true;
      assert.doesNotThrow(() => validateSpec(raw, bundle), v);
    }
  });
});

test('a user namespace with mappings and a time namespace with offsets validate', () => {
  withBundle((bundle) => {
    const raw = base();
    raw.linux.namespaces.push({ type: 'user' }, { type: 'time' });
    raw.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    raw.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    raw.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: -1, nanosecs: 5 } };
    validateSpec(raw, bundle);
    raw.linux.uidMappings.push({ containerID: 10, hostID: 5, size: 1 });
    expectError(raw, bundle, 'config.json: linux.uidMappings has overlapping container id ranges');
  });
});

test('defaultSpec matches runc spec: terminal, sh, 3 caps, read-only root, docker masks', () => {
  const s = defaultSpec();
  assert.equal(s.process?.terminal, true);
  assert.deepEqual(s.process?.args, ['sh']);
  assert.deepEqual(s.process?.capabilities?.bounding, DEFAULT_CAPABILITIES);
  assert.equal(s.root?.readonly, true);
  assert.ok(s.linux?.maskedPaths?.includes('/proc/kcore'));
  assert.ok(s.linux?.readonlyPaths?.includes('/proc/sys'));
  assert.deepEqual(s.linux?.namespaces?.map((n) => n.type), ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
  assert.equal(s.process?.noNewPrivileges, true);
});

test('defaultSpec rootless: user ns with the caller mapped, no net ns, /sys bound, no gid=, no resources', () => {
  const s = defaultSpec({ rootless: true, uid: 1000, gid: 1001 });
  const types = s.linux?.namespaces?.map((n) => n.type) ?? [];
  assert.ok(types.includes('user'));
  assert.ok(!types.includes('network'));
  assert.deepEqual(s.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(s.linux?.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  const sys = s.mounts?.find((m) => m.destination === '/sys');
  assert.deepEqual(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  const pts = s.mounts?.find((m) => m.destination === '/dev/pts');
  assert.ok(!pts?.options?.some((o) => o.startsWith('gid=')));
  assert.equal(s.linux?.resources, undefined);
});

test('features claims the namespaces, all capabilities, cgroup v1+v2, no systemd/apparmor/selinux', () => {
  const f = features();
  assert.equal(f.ociVersionMin, '1.0.0');
  assert.equal(f.linux.namespaces.length, 8);
  assert.ok(f.linux.capabilities.includes('CAP_CHECKPOINT_RESTORE'));
  assert.deepEqual(f.linux.cgroup, { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false });
  assert.equal(f.linux.apparmor.enabled, false);
  assert.ok(!f.linux.seccomp.actions.includes('SCMP_ACT_NOTIFY'));
  assert.ok(f.mountOptions.includes('rbind') && f.mountOptions.includes('nosymfollow'));
  assert.ok(!f.mountOptions.includes('idmap'));
});
