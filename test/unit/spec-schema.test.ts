// Cross-check: configs our hand-written validator accepts (and the specs/features we generate)
// also satisfy the real OCI runtime-spec v1.3.0 JSON schema (ajv, a devDependency only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { tempDir } from '../helpers/fixtures.js';
import { validateSpec } from '../../src/runtime/spec/validate.js';
import { defaultSpec } from '../../src/runtime/spec/defaults.js';
import { features } from '../../src/runtime/spec/features.js';

const SCHEMA_DIR = '/work/shared/specs/oci-runtime-spec-v1.3.0';
const require = createRequire(import.meta.url);

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

function loadValidators(): { config: Validate; features: Validate; state: Validate } | undefined {
  if (!existsSync(SCHEMA_DIR)) return undefined;
  const AjvMod = require('ajv');
  const Ajv = AjvMod.default ?? AjvMod;
  // The schemas say draft-04; nothing in them differs under ajv's default draft-07 semantics.
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const file of readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'))) {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'));
    delete schema.$schema;
    schema.$id = file;
    ajv.addSchema(schema);
  }
  // Platforms we have no schema file for (the config schema references them).
  for (const p of ['solaris', 'windows', 'vm', 'zos', 'freebsd']) ajv.addSchema({ $id: `config-${p}.json`, [p]: {} });
  return { config: ajv.getSchema('config-schema.json'), features: ajv.getSchema('features-schema.json'), state: ajv.getSchema('state-schema.json') };
}

const validators = loadValidators();

function validConfigs(): Array<[string, any]> {
  const out: Array<[string, any]> = [];
  out.push(['default', defaultSpec()]);
  out.push(['rootless', defaultSpec({ rootless: true, uid: 1000, gid: 1000 })]);
  const full: any = defaultSpec({ terminal: false, args: ['/bin/sh', '-c', 'true'] });
  full.hooks = { createRuntime: [{ path: '/usr/bin/true', args: ['true'], timeout: 5 }], poststop: [{ path: '/bin/echo' }] };
  full.annotations = { 'org.example': 'x' };
  full.domainname = 'example.org';
  full.process.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 10] };
  full.process.capabilities.ambient = ['CAP_KILL'];
  full.process.capabilities.inheritable = ['CAP_KILL'];
  full.process.oomScoreAdj = 100;
  full.process.consoleSize = { height: 24, width: 80 };
  full.linux.namespaces.push({ type: 'user' }, { type: 'time' });
  full.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  full.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  full.linux.timeOffsets = { monotonic: { secs: 100, nanosecs: 0 } };
  full.linux.devices = [{ type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 }];
  full.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536' };
  full.linux.rootfsPropagation = 'private';
  full.linux.cgroupsPath = 'hako/test';
  full.linux.resources = { memory: { limit: 33554432, swap: -1 }, pids: { limit: 64 }, cpu: { shares: 512, quota: 50000, period: 100000 } };
  full.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] }],
  };
  full.mounts.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', 'ro', 'rprivate'] });
  out.push(['full', full]);
  const joined: any = defaultSpec({ terminal: false });
  joined.linux.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'network', path: '/proc/1/ns/net' }];
  out.push(['joined', joined]);
  return out;
}

test('configs the validator accepts also pass the OCI JSON schema', (t) => {
  if (!validators) return t.skip(`${SCHEMA_DIR} is missing`);
  const dir = tempDir();
  try {
    mkdirSync(join(dir.path, 'rootfs'));
    for (const [name, config] of validConfigs()) {
      validateSpec(config, dir.path);
      const ok = validators.config(config);
      assert.ok(ok, `${name}: ${JSON.stringify(validators.config.errors)}`);
    }
  } finally {
    dir.cleanup();
  }
});

test('features() passes the features schema', (t) => {
  if (!validators) return t.skip(`${SCHEMA_DIR} is missing`);
  const ok = validators.features(features());
  assert.ok(ok, JSON.stringify(validators.features.errors));
});

test('a state object passes the state schema', (t) => {
  if (!validators) return t.skip(`${SCHEMA_DIR} is missing`);
  const state = { ociVersion: '1.3.0', id: 'c1', status: 'running', pid: 42, bundle: '/b', annotations: {} };
  assert.ok(validators.state(state), JSON.stringify(validators.state.errors));
  assert.ok(!validators.state({ ...state, status: 'paused' }), 'schema rejects unknown statuses');
});

test('the schema and our validator agree on a few invalid configs', (t) => {
  if (!validators) return t.skip(`${SCHEMA_DIR} is missing`);
  const dir = tempDir();
  try {
    mkdirSync(join(dir.path, 'rootfs'));
    const bad: Array<(s: any) => void> = [
      (s) => (s.linux.namespaces[0].type = 'foo'),
      (s) => (s.process.user.uid = -1),
      (s) => (s.linux.rootfsPropagation = 'rshared'),
      (s) => delete s.ociVersion,
      (s) => (s.process.rlimits[0].type = 'NOFILE'),
      (s) => delete s.mounts[0].destination,
    ];
    for (const mutate of bad) {
      const s: any = defaultSpec();
      mutate(s);
      assert.equal(validators.config(s), false, `schema rejects ${mutate.toString()}`);
      assert.throws(() => validateSpec(s, dir.path), /config\.json: /, `validator rejects ${mutate.toString()}`);
    }
  } finally {
    dir.cleanup();
  }
});
