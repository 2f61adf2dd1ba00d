// specToJson (src/engine/containers/spec.ts): the text of JSON.stringify(spec), with a shared
// frozen seccomp profile's JSON made once; other shapes stringified whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specToJson } from '../../src/engine/containers/spec.js';
import type { Spec } from '../../src/runtime/spec/types.js';

const deepFreeze = <T>(o: T): T => {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
};

test('specToJson gives JSON.stringify’s text, before and after its profile is cached', () => {
  const profile = deepFreeze({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] }] });
  const shapes: unknown[] = [
    { ociVersion: '1.0.2', process: { args: ['sh', 'a"b\\\\'] }, linux: { namespaces: [{ type: 'pid' }], seccomp: profile } },
    { ociVersion: '1.0.2', linux: { seccomp: profile } },
    { ociVersion: '1.0.2', linux: { namespaces: [], maskedPaths: undefined, seccomp: profile } },
    { ociVersion: '1.0.2', linux: { seccomp: profile, namespaces: [] } }, // seccomp not last
    { linux: { seccomp: profile }, ociVersion: '1.0.2' }, // linux not last
    { ociVersion: '1.0.2', linux: { seccomp: { ...profile } } }, // not frozen
    { ociVersion: '1.0.2', linux: { namespaces: [] } },
    { ociVersion: '1.0.2' },
  ];
  for (let round = 0; round < 2; round++) {
    for (const s of shapes) {
      const spec = s as Spec;
      const linux = spec.linux as { seccomp?: unknown } | undefined;
      const before = linux?.seccomp;
      assert.equal(specToJson(spec), JSON.stringify(spec));
      assert.equal(linux?.seccomp, before, 'the profile is put back');
    }
  }
});
