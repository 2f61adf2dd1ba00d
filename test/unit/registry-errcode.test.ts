import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HakoError } from '../../src/common/errors.js';
import { parseReference } from '../../src/image/reference.js';
import { bearerChallengeWords, pullError, pushError, registryErrorWords, requestWords, withDockerWords } from '../../src/image/registry/errcode.js';
import { parseWwwAuthenticate } from '../../src/image/registry/www-authenticate.js';

const body = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

test('registry error bodies read as dockerd prints them: `<code words>: <message>`', () => {
  assert.equal(registryErrorWords(404, body({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } }] }))?.text, 'manifest unknown: manifest unknown');
  assert.equal(registryErrorWords(404, body({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }))?.text, 'name unknown: repository name not known to registry');
  // The first error only; a code distribution does not know is `unknown`; no message → the code's own.
  assert.equal(registryErrorWords(400, body({ errors: [{ code: 'WEIRD', message: 'odd' }, { code: 'DENIED', message: 'no' }] }))?.text, 'unknown: odd');
  assert.equal(registryErrorWords(403, body({ errors: [{ code: 'DENIED' }] }))?.text, 'denied: requested access to the resource is denied');
  assert.equal(registryErrorWords(429, body({ errors: [{ code: 'TOOMANYREQUESTS', message: 'You have reached your pull rate limit.' }] }))?.text, 'toomanyrequests: You have reached your pull rate limit.');
  // The old `details` form; a 401 without a readable body (a HEAD's).
  assert.equal(registryErrorWords(401, body({ details: 'bad token' }))?.text, 'unauthorized: bad token');
  assert.equal(registryErrorWords(404, body({ details: 'gone' }))?.text, 'unknown: gone');
  assert.equal(registryErrorWords(401, Buffer.alloc(0))?.text, 'unauthorized: authentication required');
  // Not an errcode answer, or a 5xx: no docker words (hako's text stands).
  assert.equal(registryErrorWords(404, Buffer.from('<html>')), undefined);
  assert.equal(registryErrorWords(404, body({ errors: [] })), undefined);
  assert.equal(registryErrorWords(500, body({ errors: [{ code: 'UNAVAILABLE', message: 'x' }] })), undefined);
});

test('Go request text: `Get "url": why`, and the bare why', () => {
  assert.deepEqual(requestWords('HEAD', new URL('http://127.0.0.1:5000/v2/x/manifests/1'), 'no basic auth credentials'), { text: 'Head "http://127.0.0.1:5000/v2/x/manifests/1": no basic auth credentials', bare: 'no basic auth credentials' });
});

test('pullError: missing manifest / repository / access denied are 404s naming the reference (familiar form); others the text alone', () => {
  const e = (code: string, text: string): HakoError => withDockerWords(new HakoError({ step: 'hako words', kind: 'not-found' }), { text, code });
  const tagged = parseReference('busybox:nope');
  let r = pullError(e('MANIFEST_UNKNOWN', 'manifest unknown: manifest unknown'), tagged)!;
  assert.equal(r.message, 'manifest for busybox:nope not found: manifest unknown: manifest unknown');
  assert.equal(r.kind, 'not-found');
  r = pullError(e('NAME_UNKNOWN', 'name unknown: x'), parseReference('127.0.0.1:5000/a/b', { defaultTag: false }))!;
  assert.equal(r.message, 'repository 127.0.0.1:5000/a/b not found: name unknown: x');
  r = pullError(e('DENIED', 'denied: requested access to the resource is denied'), parseReference('someone/private:1'))!;
  assert.equal(r.message, "pull access denied for someone/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied");
  assert.equal(r.kind, 'not-found');
  r = pullError(e('TOOMANYREQUESTS', 'toomanyrequests: slow down'), tagged)!;
  assert.equal(r.message, 'toomanyrequests: slow down');
  assert.equal(r.kind, 'internal');
  const auth = withDockerWords(new HakoError({ step: 'authentication required for x', kind: 'unauthorized' }), requestWords('GET', new URL('http://r/v2/'), 'no basic auth credentials'));
  assert.equal(pullError(auth, tagged)!.message, 'Get "http://r/v2/": no basic auth credentials');
  assert.equal(pullError(auth, tagged)!.kind, 'unauthorized');
  assert.equal(pushError(auth)!.message, 'no basic auth credentials');
  // Without docker words (or only on a cause): hako's message stands.
  assert.equal(pullError(new HakoError({ step: 'x', kind: 'internal', cause: auth }), tagged), undefined);
  assert.equal(pushError(new Error('x')), undefined);
});

test('a 401\'s Bearer challenge with an error: insufficient_scope is denied, invalid_token unauthorized (error_description as the message)', () => {
  const w = (h: string) => bearerChallengeWords(parseWwwAuthenticate(h));
  assert.deepEqual(w('Bearer realm="http://t/token",service="r",scope="repository:p/b:pull",error="insufficient_scope"'), { text: 'denied: requested access to the resource is denied', bare: 'denied: requested access to the resource is denied', code: 'DENIED' });
  assert.equal(w('Bearer realm="http://t/token",error="invalid_token",error_description="token expired"')?.text, 'unauthorized: token expired');
  assert.equal(w('Bearer realm="http://t/token",service="r"'), undefined);
  assert.equal(w('Basic realm="x"'), undefined);
});

test('a name no server knows: Go\'s resolver names the server that said so (dockerd 20.10.24 lab: `lookup nosuchhost.invalid on 10.255.255.53:53: no such host`)', async () => {
  const { lookupFailureText } = await import('../../src/image/registry/http.js');
  assert.equal(lookupFailureText('nosuchhost.invalid', '# x\nsearch lan\nnameserver 10.255.255.53\nnameserver 1.1.1.1\n'), 'dial tcp: lookup nosuchhost.invalid on 10.255.255.53:53: no such host');
  assert.equal(lookupFailureText('r.invalid', 'nameserver fe80::1%eth0\n'), 'dial tcp: lookup r.invalid on [fe80::1]:53: no such host');
  // no nameserver: Go asks 127.0.0.1:53
  assert.equal(lookupFailureText('r.invalid', ''), 'dial tcp: lookup r.invalid on 127.0.0.1:53: no such host');
});
