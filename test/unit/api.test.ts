// Pure parts of the API server: stdcopy framing, version parsing, error mapping, filters,
// query conventions, daemon flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAll, encodeFrame, FrameDecoder } from '../../src/api/stdcopy.js';
import { splitVersion, compareVersions } from '../../src/api/version.js';
import { decodeFilters, errorStatus, HttpError, qBool, qInt, type Ctx } from '../../src/api/http.js';
import { HakoError, conflict, invalid, notFound } from '../../src/common/errors.js';
import { checkTls, parseFlags, parseHost } from '../../src/daemon/flags.js';
import { matchRoute, routeMatcher, allRoutes, parseTarget } from '../../src/api/server.js';
import { route } from '../../src/api/deps.js';
import { progressMessage } from '../../src/api/streams.js';
import { registryDomain } from '../../src/api/routes/system.js';

test('stdcopy: header layout, round trip, split across chunks, big payloads split', () => {
  const f = encodeFrame(2, Buffer.from('oops\n'));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(f.subarray(8).toString(), 'oops\n');
  const stream = Buffer.concat([encodeFrame(1, Buffer.from('a')), encodeFrame(2, Buffer.from('bc')), encodeFrame(1, Buffer.alloc(0))]);
  const frames = decodeAll(stream);
  assert.deepEqual(frames.map((x) => [x.stream, x.data.toString()]), [[1, 'a'], [2, 'bc'], [1, '']]);
  // Byte by byte through the incremental decoder.
  const d = new FrameDecoder();
  const got: string[] = [];
  for (const b of stream) for (const fr of d.push(Buffer.from([b]))) got.push(`${fr.stream}:${fr.data}`);
  assert.deepEqual(got, ['1:a', '2:bc', '1:']);
  assert.equal(d.pending, 0);
  const big = Buffer.alloc((1 << 20) * 2 + 5, 7);
  const bigFrames = decodeAll(encodeFrame(1, big));
  assert.equal(bigFrames.length, 3);
  assert.deepEqual(Buffer.concat(bigFrames.map((x) => x.data)), big);
  // 2^32-1 length field is read unsigned.
  const hdr = Buffer.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(new FrameDecoder().push(hdr), []);
});

test('stdcopy: garbage and truncation are rejected', () => {
  assert.throws(() => decodeAll(Buffer.from('hello world!')), /bad frame header/);
  assert.throws(() => decodeAll(Buffer.from([1, 0, 0, 0, 0, 0, 0, 5, 65])), /truncated/);
  assert.throws(() => decodeAll(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0])), /bad frame header/);
});

test('version prefix: accepted range, unversioned, too new and too old with docker messages', () => {
  assert.deepEqual(splitVersion('/v1.41/containers/json'), { version: '1.41', path: '/containers/json' });
  assert.deepEqual(splitVersion('/v1.24/_ping'), { version: '1.24', path: '/_ping' });
  assert.deepEqual(splitVersion('/v1.44'), { version: '1.44', path: '/' });
  assert.deepEqual(splitVersion('/containers/json'), { version: '1.44', path: '/containers/json' });
  assert.deepEqual(splitVersion('/volumes/v1.50'), { version: '1.44', path: '/volumes/v1.50' });
  assert.throws(() => splitVersion('/v1.45/version'), (e: unknown) => e instanceof HakoError && e.kind === 'invalid-argument' && e.message === 'client version 1.45 is too new. Maximum supported API version is 1.44');
  assert.throws(() => splitVersion('/v1.12/version'), /client version 1.12 is too old. Minimum supported API version is 1.24/);
  assert.throws(() => splitVersion('/v2/version'), /too new/);
  assert.equal(compareVersions('1.9', '1.10'), -1);
  assert.equal(compareVersions('1.44', '1.44.0'), 0);
});

test('errors: HakoError kinds map to docker status codes; unknown errors are 500 and flagged', () => {
  assert.deepEqual(errorStatus(invalid('bad')), { status: 400, message: 'bad', unexpected: false });
  assert.equal(errorStatus(notFound('No such container: x')).status, 404);
  assert.equal(errorStatus(conflict('in use')).status, 409);
  assert.equal(errorStatus(new HakoError({ step: 'no', kind: 'forbidden' })).status, 403);
  assert.equal(errorStatus(new HakoError({ step: 'no', kind: 'unauthorized' })).status, 401);
  assert.equal(errorStatus(new HakoError({ step: 'mount', errno: 1 })).status, 500);
  assert.deepEqual(errorStatus(new HttpError(501, 'build is not implemented yet')), { status: 501, message: 'build is not implemented yet', unexpected: false });
  const e = errorStatus(new TypeError('x is undefined'));
  assert.equal(e.status, 500);
  assert.equal(e.unexpected, true);
  assert.equal(errorStatus('weird').message, 'weird');
});

test('filters: both encodings, empty, and bad input as 400', () => {
  assert.deepEqual(decodeFilters('{"status":["running"],"label":["a=b","c"]}'), { status: ['running'], label: ['a=b', 'c'] });
  assert.deepEqual(decodeFilters('{"dangling":{"true":true,"false":false}}'), { dangling: ['true'] });
  assert.deepEqual(decodeFilters(''), {});
  assert.deepEqual(decodeFilters(null), {});
  assert.deepEqual(decodeFilters('null'), {});
  for (const bad of ['{', '[1]', '"x"', '{"a":1}', '{"a":[1]}', '5']) {
    assert.throws(() => decodeFilters(bad), (err: unknown) => err instanceof HakoError && err.kind === 'invalid-argument', bad);
  }
});

test('query conventions: docker booleans and bounded integers', () => {
  const ctx = (q: string): Ctx => ({ query: new URLSearchParams(q) }) as Ctx;
  for (const v of ['1', 'true', 'True', 'yes', 'x']) assert.equal(qBool(ctx(`a=${v}`), 'a'), true, v);
  for (const v of ['', '0', 'false', 'no', 'none']) assert.equal(qBool(ctx(`a=${v}`), 'a'), false, v);
  assert.equal(qBool(ctx(''), 'a', true), true);
  assert.equal(qInt(ctx('t=5'), 't', undefined, 0, 10), 5);
  assert.equal(qInt(ctx(''), 't', 3), 3);
  assert.throws(() => qInt(ctx('t=abc'), 't', 0), /not an integer/);
  assert.throws(() => qInt(ctx('t=99999999999999999999'), 't', 0), /out of range/);
  assert.throws(() => qInt(ctx('t=-5'), 't', 0, 0, 10), /out of range/);
});

test('request targets: the plain-target shortcut gives what WHATWG URL parsing gives', () => {
  const targets = ['/_ping', '/v1.44/version', '/v1.44/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D', "/containers/a'b/json?x='1'&y=\"2\"", '/images/127.0.0.1:5000/a/b:c/json', '/a?', '/a?b', '/a?b=c+d&e=%20&f=<g>', '/a?x#frag', '/a/%2e%2e/b', '/a//b', '/a/./b', '/a/../b', '/a/.hidden', 'rel/path?x=1', '/a b', '/ä?ü=1', '/a?ü=ö', '/a\\b', '/a|b?c|d', '/%41?%41=%42', '/a?a=1&a=2&b'];
  for (const t of targets) {
    const u = new URL(t.startsWith('/') ? t : `/${t}`, 'http://hako');
    const p = parseTarget(t);
    assert.equal(p.pathname, u.pathname, t);
    assert.equal(p.searchParams.toString(), u.searchParams.toString(), t);
    assert.deepEqual([...p.searchParams], [...u.searchParams], t);
  }
});

test('routes: the indexed matcher picks the same route and params as a scan of the table', () => {
  const match = routeMatcher(allRoutes);
  const paths = new Set<string>(['/', '/nope', '/images/', '/containers/', '/v1.44/_ping', '/images/a%2Fb/push', '/images/127.0.0.1:5000/x/y:z/json', '/containers/json/', '/_ping/x']);
  for (const r of allRoutes) {
    // Each pattern with its parameters filled in a few ways (plain, with a slash, empty).
    const src = r.path.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\\\//g, '/').replace(/\\\./g, '.');
    for (const fill of ['abc', 'a/b', '', 'json']) paths.add(src.replace(/\([^)]*\)/g, fill));
  }
  let checked = 0;
  for (const path of paths) {
    for (const method of ['GET', 'POST', 'DELETE', 'PUT', 'HEAD']) {
      const a = matchRoute(allRoutes, method, path);
      const b = match(method, path);
      assert.equal(b?.route, a?.route, `${method} ${path}`);
      assert.deepEqual(b?.params, a?.params, `${method} ${path}`);
      if (a) checked++;
    }
  }
  assert.ok(checked > allRoutes.length / 2, `only ${checked} matches checked`);
  // A route whose first segment is a parameter is tried for every path, in table order.
  const h = async (): Promise<void> => undefined;
  const table = [route('GET', '/a/x', h), route('GET', '/{p}/x', h), route('GET', '/a/{q}', h), route('GET', '/b/{q}', h)];
  const m2 = routeMatcher(table);
  assert.equal(m2('GET', '/a/x')?.route, table[0]);
  assert.equal(m2('GET', '/b/x')?.route, table[1]);
  assert.equal(m2('GET', '/a/y')?.route, table[2]);
  assert.equal(m2('GET', '/c/x')?.route, table[1]);
  assert.equal(m2('GET', '/c/y'), undefined);
});

test('routes: image names with slashes and ports, containers, unknown paths', () => {
  const m = matchRoute(allRoutes, 'GET', '/images/127.0.0.1:5000/test/busybox:latest/json');
  assert.deepEqual(m?.params, ['127.0.0.1:5000/test/busybox:latest']);
  assert.equal(matchRoute(allRoutes, 'DELETE', '/images/a/b:c')?.params[0], 'a/b:c');
  assert.equal(matchRoute(allRoutes, 'POST', '/images/a%2Fb/push')?.params[0], 'a/b');
  assert.deepEqual(matchRoute(allRoutes, 'POST', '/containers/abc/attach')?.params, ['abc']);
  assert.equal(matchRoute(allRoutes, 'POST', '/containers/abc/attach')?.route.hijack, true);
  assert.equal(matchRoute(allRoutes, 'GET', '/containers/json')?.params.length, 0);
  assert.equal(matchRoute(allRoutes, 'GET', '/nope'), undefined);
  assert.equal(matchRoute(allRoutes, 'PUT', '/_ping'), undefined);
  assert.throws(() => matchRoute(allRoutes, 'GET', '/containers/%E0%A4%A/json'), /invalid escape/);
  // moby's {name:.*} routes: an empty name (a trailing slash) reaches the handler, slashes too.
  assert.deepEqual(matchRoute(allRoutes, 'DELETE', '/images/')?.params, ['']);
  assert.deepEqual(matchRoute(allRoutes, 'DELETE', '/containers/')?.params, ['']);
  assert.deepEqual(matchRoute(allRoutes, 'DELETE', '/containers/a/b')?.params, ['a/b']);
  assert.deepEqual(matchRoute(allRoutes, 'GET', '/volumes/')?.params, ['']);
  assert.deepEqual(matchRoute(allRoutes, 'DELETE', '/volumes/')?.params, ['']);
  assert.deepEqual(matchRoute(allRoutes, 'DELETE', '/networks/')?.params, ['']);
  assert.equal(matchRoute(allRoutes, 'GET', '/networks/')?.params.length, 0, 'GET /networks/ lists, as moby');
  assert.equal(matchRoute(allRoutes, 'GET', '/images/'), undefined);
  assert.equal(matchRoute(allRoutes, 'GET', '/containers/'), undefined);
  assert.equal(matchRoute(allRoutes, 'POST', '/containers//start'), undefined);
});

test('progress lines and registry addresses', () => {
  assert.deepEqual(progressMessage('0123456789ab: Pulling fs layer'), { status: 'Pulling fs layer', progressDetail: {}, id: '0123456789ab' });
  assert.deepEqual(progressMessage('Digest: sha256:00'), { status: 'Digest: sha256:00' });
  assert.equal(registryDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(registryDomain(undefined), 'docker.io');
  assert.equal(registryDomain('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
  assert.equal(registryDomain('reg.example:443'), 'reg.example:443');
});

test('daemon flags: dockerd spellings, repeatable hosts, tcp refused without mutual TLS', () => {
  const f = parseFlags(['-H', 'unix:///tmp/a.sock', '--host=unix:///tmp/b.sock', '--data-root', '/d', '--exec-root=/e', '-p', '/p.pid', '--insecure-registry', 'r:5000', '--cgroup-parent', 'x', '-D']);
  assert.deepEqual(f.hosts, ['unix:///tmp/a.sock', 'unix:///tmp/b.sock']);
  assert.equal(f.dataRoot, '/d');
  assert.equal(f.execRoot, '/e');
  assert.equal(f.pidfile, '/p.pid');
  assert.deepEqual(f.insecureRegistries, ['r:5000']);
  assert.equal(f.cgroupParent, 'x');
  assert.equal(f.logLevel, 'debug');
  const def = parseFlags([]);
  assert.deepEqual(def.hosts, ['unix:///run/hako.sock']);
  assert.equal(def.dataRoot, '/var/lib/hako');
  assert.equal(def.execRoot, '/run/hako');
  assert.equal(def.pidfile, '/run/hako.pid');
  assert.equal(def.userlandProxy, true);
  const ulp = parseFlags(['--userland-proxy=false', '--userland-proxy-path', '/usr/bin/docker-proxy']);
  assert.deepEqual([ulp.userlandProxy, ulp.userlandProxyPath], [false, '/usr/bin/docker-proxy']);
  assert.equal(parseFlags(['--userland-proxy']).userlandProxy, true);
  assert.throws(() => parseFlags(['--bogus']), /unknown flag: --bogus/);
  assert.throws(() => parseFlags(['-H']), /needs an argument/);
  assert.throws(() => parseFlags(['--log-level', 'loud']), /invalid --log-level/);
  assert.deepEqual(parseHost('tcp://0.0.0.0:2376'), { kind: 'tcp', host: '0.0.0.0', port: 2376 });
  assert.deepEqual(parseHost('/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  assert.throws(() => parseHost('unix://rel.sock'), /absolute/);
  assert.throws(() => parseHost('fd://'), /not supported/);
  assert.throws(() => checkTls(parseFlags(['-H', 'tcp://127.0.0.1:2376'])), /refusing to listen on tcp:\/\/127.0.0.1:2376 without TLS client verification/);
  assert.throws(() => checkTls(parseFlags(['-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscacert', 'ca'])), /refusing/);
  checkTls(parseFlags(['-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscacert', 'a', '--tlscert', 'b', '--tlskey', 'c']));
});

test('daemon flags: --default-ipc-mode and --default-shm-size as dockerd 20.10 reads them, with its words', () => {
  const def = parseFlags([]);
  assert.deepEqual([def.defaultIpcMode, def.defaultShmSize], ['private', 64 * 1024 * 1024]);
  const f = parseFlags(['--default-ipc-mode', 'shareable', '--default-shm-size=16m']);
  assert.deepEqual([f.defaultIpcMode, f.defaultShmSize], ['shareable', 16 * 1024 * 1024]);
  assert.equal(parseFlags(['--default-shm-size', '0']).defaultShmSize, 0);
  assert.equal(parseFlags(['--default-shm-size', '1GiB']).defaultShmSize, 1024 ** 3);
  assert.throws(() => parseFlags(['--default-ipc-mode', 'bogus']), /default IPC mode setting \(bogus\) is invalid; use "shareable" or "private"/);
  for (const m of ['host', 'none', 'container:x']) assert.throws(() => parseFlags(['--default-ipc-mode', m]), new RegExp(`IPC mode "${m}" is not supported as default value; use "shareable" or "private"`));
  assert.throws(() => parseFlags(['--default-shm-size', 'abc']), /invalid argument "abc" for "--default-shm-size" flag: invalid size: 'abc'/);
});

test('image inspect: Container/ContainerConfig up to API 1.44 (docker-compose 1.29 reads them), VirtualSize below 1.44', async () => {
  const { inspectJson } = await import('../../src/api/routes/images.js');
  const base = { id: 'sha256:' + 'a'.repeat(64), repoTags: ['x:1'], repoDigests: [], created: '2024-01-01T00:00:00Z', size: 5, record: {}, usedBy: [] };
  const bare = inspectJson({ ...base, config: { architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [] } } } as never, '1.44');
  assert.equal(bare.Container, '');
  assert.deepEqual((bare.ContainerConfig as Record<string, unknown>).Volumes, null);
  assert.equal((bare.ContainerConfig as Record<string, unknown>).Hostname, '');
  assert.equal('VirtualSize' in bare, false);
  const built = inspectJson({ ...base, config: { architecture: 'amd64', os: 'linux', container: 'c0ffee', container_config: { Volumes: { '/data': {} }, Cmd: ['/bin/sh', '-c', '#(nop) VOLUME /data'] }, rootfs: { type: 'layers', diff_ids: [] } } } as never, '1.44');
  assert.equal(built.Container, 'c0ffee');
  assert.deepEqual((built.ContainerConfig as Record<string, unknown>).Volumes, { '/data': {} });
  assert.equal(inspectJson({ ...base, config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } } as never, '1.43').VirtualSize, 5);
});
