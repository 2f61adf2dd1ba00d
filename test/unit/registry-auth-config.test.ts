// X-Registry-Auth decoding (docker's AuthConfig as base64url JSON) and what credentials it carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialsFromAuthConfig, decodeRegistryAuth, decodeRegistryConfig, encodeRegistryAuth } from '../../src/image/registry/auth-config.js';

const enc = (o: unknown, how: 'base64' | 'base64url' = 'base64url'): string => Buffer.from(JSON.stringify(o)).toString(how);

test('no header, {} and secret-less objects carry no credentials', () => {
  assert.equal(credentialsFromAuthConfig(decodeRegistryAuth(undefined)), undefined);
  assert.equal(credentialsFromAuthConfig(decodeRegistryAuth('')), undefined);
  assert.equal(credentialsFromAuthConfig(decodeRegistryAuth(enc({}))), undefined);
  assert.equal(credentialsFromAuthConfig(decodeRegistryAuth(enc({ username: 'u', serveraddress: 'h:5000', email: '' }))), undefined);
});

test('username/password, auth, identitytoken and registrytoken', () => {
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(enc({ username: 'u', password: 'p?>', serveraddress: 'h' }))), { username: 'u', password: 'p?>' });
  // Standard base64 (older clients) as well as URL-safe; Go's case-insensitive field names.
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(enc({ Username: 'u', Password: 'p?>' }, 'base64'))), { username: 'u', password: 'p?>' });
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(enc({ auth: Buffer.from('u:p:q').toString('base64') }))), { username: 'u', password: 'p:q' });
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(enc({ username: 'u', identitytoken: 'r' }))), { username: 'u', password: '', identityToken: 'r' });
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(enc({ registrytoken: 't' }))), { username: '', password: '', registryToken: 't' });
});

test('malformed headers are 400s that name the header', () => {
  assert.throws(() => decodeRegistryAuth('!!!'), (e: Error & { kind?: string }) => e.kind === 'invalid-argument' && /invalid X-Registry-Auth header: not base64-encoded JSON/.test(e.message));
  assert.throws(() => decodeRegistryAuth(enc([1])), /not a JSON object/);
  assert.throws(() => decodeRegistryAuth(enc({ password: 5 })), /password must be a string/);
  assert.throws(() => credentialsFromAuthConfig(decodeRegistryAuth(enc({ auth: Buffer.from('nocolon').toString('base64') }))), /auth is not base64 of "username:password"/);
});

test('encode is what decode reads back', () => {
  const creds = { username: 'u', password: 'p', identityToken: 'i' };
  assert.deepEqual(credentialsFromAuthConfig(decodeRegistryAuth(encodeRegistryAuth(creds, 'h:1'))), creds);
  assert.deepEqual(decodeRegistryAuth(encodeRegistryAuth(undefined, 'h:1')), {});
});

test('X-Registry-Config (build): entries by registry domain whatever the key form; a bad header or entry gives no credentials', () => {
  const m = decodeRegistryConfig(enc({
    'https://index.docker.io/v1/': { username: 'hub', password: 'p1' },
    'http://127.0.0.1:5000/v2/': { Username: 'local', Password: 'p2' },
    'reg.example:443': { username: 5 },
  }));
  assert.deepEqual(credentialsFromAuthConfig(m.get('docker.io')), { username: 'hub', password: 'p1' });
  assert.deepEqual(credentialsFromAuthConfig(m.get('127.0.0.1:5000')), { username: 'local', password: 'p2' });
  assert.equal(m.has('reg.example:443'), false, 'an entry of the wrong shape is dropped');
  assert.equal(decodeRegistryConfig('not base64 json!').size, 0);
  assert.equal(decodeRegistryConfig(undefined).size, 0);
  assert.equal(decodeRegistryConfig(enc([1, 2])).size, 0);
});
