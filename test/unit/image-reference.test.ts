import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarString, formatReference, parseReference } from '../../src/image/reference.js';

const ok: [string, string, string][] = [
  // input, normalized, familiar
  ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
  ['library/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
  ['index.docker.io/user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
  ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
  ['user/team/app', 'docker.io/user/team/app:latest', 'user/team/app:latest'],
  ['localhost/app', 'localhost/app:latest', 'localhost/app:latest'],
  ['localhost:5000/app:1', 'localhost:5000/app:1', 'localhost:5000/app:1'],
  ['127.0.0.1:5000/a/b', '127.0.0.1:5000/a/b:latest', '127.0.0.1:5000/a/b:latest'],
  ['quay.io/coreos/etcd', 'quay.io/coreos/etcd:latest', 'quay.io/coreos/etcd:latest'],
  ['Example.COM/app', 'Example.COM/app:latest', 'Example.COM/app:latest'],
  ['Registry/app', 'Registry/app:latest', 'Registry/app:latest'],
  ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
  ['a-b_c__d/e-f.g', 'docker.io/a-b_c__d/e-f.g:latest', 'a-b_c__d/e-f.g:latest'],
  ['my-registry.local:443/x', 'my-registry.local:443/x:latest', 'my-registry.local:443/x:latest'],
  ['my-app_1.2', 'docker.io/library/my-app_1.2:latest', 'my-app_1.2:latest'],
  ['a---b', 'docker.io/library/a---b:latest', 'a---b:latest'],
  ['app:TAG_with.dots-1', 'docker.io/library/app:TAG_with.dots-1', 'app:TAG_with.dots-1'],
  [`app@sha256:${'a'.repeat(64)}`, `docker.io/library/app@sha256:${'a'.repeat(64)}`, `app@sha256:${'a'.repeat(64)}`],
  [`app:1@sha256:${'b'.repeat(64)}`, `docker.io/library/app:1@sha256:${'b'.repeat(64)}`, `app:1@sha256:${'b'.repeat(64)}`],
  [`host:5000/app@sha256:${'c'.repeat(64)}`, `host:5000/app@sha256:${'c'.repeat(64)}`, `host:5000/app@sha256:${'c'.repeat(64)}`],
];

test('references normalize like docker', () => {
  for (const [input, full, familiar] of ok) {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), full, input);
    assert.equal(familiarString(ref), familiar, input);
  }
});

test('parts: domain, path, tag, digest', () => {
  const r = parseReference('localhost:5000/a/b:c');
  assert.deepEqual({ ...r }, { domain: 'localhost:5000', path: 'a/b', tag: 'c', digest: undefined });
  assert.equal(parseReference(`x@sha256:${'a'.repeat(64)}`).tag, undefined);
  assert.equal(parseReference('x', { defaultTag: false }).tag, undefined);
});

const bad: [string, RegExp][] = [
  ['', /empty reference/],
  ['Busybox', /repository name must be lowercase/],
  ['docker.io/Library/busybox', /must be lowercase/],
  ['user/App', /must be lowercase/],
  ['a'.repeat(64), /image ID/],
  ['app:', /invalid tag/],
  ['app:-x', /invalid tag/],
  [`app:${'t'.repeat(129)}`, /invalid tag/],
  ['app@sha256:abc', /invalid digest/],
  [`app@sha512:${'a'.repeat(128)}`, /unsupported digest/],
  [`app@sha256:${'A'.repeat(64)}`, /unsupported digest/],
  ['-app', /invalid repository name/],
  ['app-', /invalid repository name/],
  ['a//b', /invalid repository name/],
  ['a/b/', /invalid repository name/],
  ['_app', /invalid repository name/],
  ['a..b', /invalid repository name/],
  ['a___b', /invalid repository name/],
  ['host:port/app', /invalid/],
  ['-host.com/app', /invalid registry host/],
  ['a.b_c/app', /invalid registry host/],
  ['app name', /invalid/],
  [`${'a'.repeat(250)}/${'b'.repeat(10)}`, /longer than 255/],
  [':tag', /missing repository name/],
];

test('invalid references are refused with the reason', () => {
  for (const [input, re] of bad) {
    assert.throws(() => parseReference(input), (err: Error) => {
      // dockerd's words in the message, hako's reason in the cause.
      assert.match(err.message, /^(invalid reference format(: repository name must be lowercase)?|repository name must not be more than 255 characters)$/, input);
      assert.match(String((err.cause as Error | undefined)?.message), re, input);
      return true;
    });
  }
});
