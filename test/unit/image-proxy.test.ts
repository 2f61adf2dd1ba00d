import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyConfigured, proxyFor } from '../../src/image/proxy.js';

const p = (url: string, env: Record<string, string>): string | undefined => proxyFor(new URL(url), env)?.toString();

test('proxyFor: Go ProxyFromEnvironment rules (scheme, case, loopback, NO_PROXY forms)', () => {
  const env = { HTTP_PROXY: 'http://p:3128', HTTPS_PROXY: 'https://sp:443', http_proxy: 'http://lower:1' };
  assert.equal(p('http://example.org/x', env), 'http://p:3128/', 'upper case first');
  assert.equal(p('https://example.org/x', env), 'https://sp/');
  assert.equal(p('http://example.org/x', { http_proxy: 'lower:8080' }), 'http://lower:8080/', 'no scheme: http');
  assert.equal(p('https://example.org/x', { HTTP_PROXY: 'http://p:1' }), undefined, 'https needs HTTPS_PROXY');
  assert.equal(p('http://example.org/x', { HTTP_PROXY: 'http://p:1', REQUEST_METHOD: 'GET' }), undefined, 'CGI: HTTP_PROXY ignored');
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) assert.equal(p(`http://${host}:5000/x`, env), undefined, `${host} is never proxied`);
  const no = (noProxy: string, url: string): boolean => p(url, { ...env, NO_PROXY: noProxy }) === undefined;
  assert.ok(no('*', 'http://example.org/'));
  assert.ok(no('example.org', 'http://example.org/'));
  assert.ok(no('example.org', 'http://a.example.org/'), 'a domain covers its subdomains');
  assert.ok(!no('.example.org', 'http://example.org/'), '.domain: subdomains only');
  assert.ok(no('.example.org', 'http://a.example.org/'));
  assert.ok(no('*.example.org', 'http://b.example.org/'));
  assert.ok(!no('example.org', 'http://notexample.org/'));
  assert.ok(no('example.org:8080', 'http://example.org:8080/'));
  assert.ok(!no('example.org:8080', 'http://example.org/'), 'port 80 is not 8080');
  assert.ok(no('example.org:443', 'https://example.org/'));
  assert.ok(no('10.0.0.0/8', 'http://10.1.2.3/'));
  assert.ok(!no('10.0.0.0/8', 'http://11.1.2.3/'));
  assert.ok(no('192.0.2.7', 'http://192.0.2.7:9000/'));
  assert.ok(no(' other.net , example.org ', 'http://example.org/'), 'spaces around entries');
  assert.ok(no('EXAMPLE.ORG', 'http://Example.org/'));
  assert.equal(p('http://example.org/', { ...env, no_proxy: 'example.org' }), undefined);
  assert.throws(() => p('http://example.org/', { HTTP_PROXY: 'socks5://s:1080' }), /unsupported proxy scheme "socks5"/);
  assert.equal(proxyConfigured({}), false);
  assert.equal(proxyConfigured({ NO_PROXY: '*' }), false);
  assert.equal(proxyConfigured({ https_proxy: 'x:1' }), true);
});
