// Pure parts of the engine: names, create-time config merging, bind/mount parsing, /etc files,
// status texts and list filters, the json-file log, path resolution in a root, events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NameRegistry, normalizeName, randomName } from '../../src/engine/names.js';
import { checkNetworkModeConflicts, mergeConfig, mergeEnv, normalizeHostConfig, parseBind, parseVolumesFrom, collectMounts } from '../../src/engine/containers/config.js';
import { resolvConf, hostsFile } from '../../src/engine/containers/etc-files.js';
import { humanDuration, statusText, containerMatches } from '../../src/engine/containers/view.js';
import { initialState, type ContainerRecord } from '../../src/engine/containers/record.js';
import { JsonFileWriter, parseLogSize } from '../../src/engine/logs/json-file.js';
import { readLogs } from '../../src/engine/monitor/logs.js';
import { resolveInRoot } from '../../src/engine/fs/paths.js';
import { parsePasswd, resolveUser } from '../../src/engine/containers/user.js';
import { EventBus } from '../../src/engine/events.js';
import { applyChanges } from '../../src/engine/commit.js';
import { tempDir } from '../helpers/fixtures.js';
import { VolumeStore } from '../../src/engine/volumes.js';

const ID = 'a'.repeat(64);

test('names: docker validation, slash prefix, conflicts with docker’s text, generated names', () => {
  assert.equal(normalizeName('web'), '/web');
  assert.equal(normalizeName('/web.1_x-y'), '/web.1_x-y');
  for (const bad of ['a', '-x', 'a b', 'ü', '/']) assert.throws(() => normalizeName(bad), /Invalid container name/);
  const r = new NameRegistry();
  r.reserve('/web', ID);
  assert.throws(() => r.reserve('/web', 'b'.repeat(64)), (e: Error & { kind?: string }) => e.kind === 'conflict' && e.message === `Conflict. The container name "/web" is already in use by container "${ID}". You have to remove (or rename) that container to be able to reuse that name.`);
  assert.equal(r.get('web'), ID);
  r.release('/web', ID);
  assert.equal(r.get('web'), undefined);
  assert.match(randomName(), /^[a-z]+_[a-z]+$/);
  assert.match(r.generate(ID), /^\/[a-z]+_[a-z]+\d?$/);
});

test('config: Env by key, Entrypoint/Cmd rules, defaults, errors', () => {
  // dockerd's order: the container's entries first, then the image's it does not name.
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B']), ['A=2', 'B', 'PATH=/bin']);
  assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], []), ['PATH=/bin', 'A=1']);
  const img = { Env: ['PATH=/bin'], Entrypoint: ['/ep'], Cmd: ['def'], WorkingDir: '/w', User: 'u', Labels: { l: '1' }, Volumes: { '/v': {} }, ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT' };
  let m = mergeConfig({ Image: 'x' }, img, ID);
  assert.equal(m.Path, '/ep');
  assert.deepEqual(m.Args, ['def']);
  assert.equal(m.Config.Hostname, ID.slice(0, 12));
  assert.equal(m.Config.WorkingDir, '/w');
  assert.equal(m.Config.User, 'u');
  assert.equal(m.Config.StopSignal, 'SIGQUIT');
  assert.deepEqual(m.Config.Volumes, { '/v': {} });
  m = mergeConfig({ Image: 'x', Cmd: ['c'] }, img, ID);
  assert.deepEqual([m.Path, ...m.Args], ['/ep', 'c']);
  m = mergeConfig({ Image: 'x', Entrypoint: ['e2'] }, img, ID);
  assert.deepEqual([m.Path, ...m.Args], ['e2'], 'a user entrypoint drops the image Cmd');
  m = mergeConfig({ Image: 'x', Entrypoint: [''], Cmd: ['sh'] }, img, ID);
  assert.deepEqual([m.Path, ...m.Args], ['sh']);
  assert.equal(m.Config.Entrypoint, null);
  assert.throws(() => mergeConfig({ Image: 'x' }, {}, ID), /No command specified/);
  assert.throws(() => mergeConfig({ Image: 'x', Cmd: ['a'], WorkingDir: 'rel' }, {}, ID), /absolute path/);
  assert.throws(() => mergeConfig({ Image: 'x', Cmd: ['a'], HostConfig: { RestartPolicy: { Name: 'sometimes' } } }, {}, ID), /invalid restart policy/);
  assert.throws(() => mergeConfig({ Image: 'x', Cmd: ['a'], HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }, {}, ID), { message: "can't create 'AutoRemove' container with restart policy" });
  const hc = mergeConfig({ Image: 'x', Cmd: ['a'] }, {}, ID).HostConfig;
  assert.equal(hc.NetworkMode, 'bridge');
  assert.equal(hc.ShmSize, 64 * 1024 * 1024);
  assert.deepEqual(hc.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
});

test('mounts: -v forms, --mount, tmpfs, image volumes, duplicates', () => {
  assert.deepEqual(parseBind('/h:/c:ro'), { Type: 'bind', Source: '/h', Destination: '/c', Mode: 'ro', RW: false, Propagation: 'rprivate' });
  assert.equal(parseBind('vol:/c').Name, 'vol');
  assert.equal(parseBind('/c').Anonymous, true);
  assert.throws(() => parseBind('/h:rel:ro'), /invalid volume specification/);
  // dockerd reads `/h:rel` as src:dst (rel is no mode), and refuses the relative destination.
  assert.throws(() => parseBind('/h:rel'), /invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute/);
  assert.throws(() => parseBind('/h:/c:bogus'), /invalid mode/);
  // dockerd's linux parser (lab dockerd 20.10): Docker Desktop's consistency modes are taken (a
  // compose file's `.:/app:cached`), one mode of each kind, the whole mode named when refused;
  // `dst:mode` is no volume; nocopy is for volumes and a propagation for binds.
  assert.equal(parseBind('vol:/c:cached').Name, 'vol');
  assert.deepEqual([parseBind('/h:/c:ro,cached,z').RW, parseBind('/h:/c:ro,cached,z').Mode], [false, 'ro,cached,z']);
  for (const mode of ['ro,rw', 'z,Z', 'nocopy,nocopy', 'shared,slave', 'cached,delegated']) assert.throws(() => parseBind(`vol:/c:${mode}`), { message: `invalid mode: ${mode}` });
  for (const spec of ['/c:ro', '/c:cached', '/c:nocopy']) assert.throws(() => parseBind(spec), { message: `invalid volume specification: '${spec}'` });
  assert.throws(() => parseBind('/h:/c:nocopy'), { message: `invalid volume specification: '/h:/c:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified` });
  assert.throws(() => parseBind('vol:/c:shared'), { message: `invalid volume specification: 'vol:/c:shared': invalid mount config for type "volume": field BindOptions must not be specified` });
  const ms = collectMounts({ Volumes: { '/data': {}, '/x': {} } }, { Binds: ['/h:/data'], Tmpfs: { '/t': 'size=1m' }, Mounts: [{ Type: 'volume', Source: 'n', Target: '/n' }] });
  assert.deepEqual(ms.map((m) => `${m.Type}:${m.Destination}`).sort(), ['bind:/data', 'tmpfs:/t', 'volume:/n', 'volume:/x']);
  assert.throws(() => collectMounts({}, { Binds: ['/a:/d', '/b:/d'] }), /Duplicate mount point/);
});

test('/etc files: loopback nameservers filtered, Dns overrides, hosts entries', () => {
  assert.equal(resolvConf('nameserver 127.0.0.53\nnameserver 10.0.0.1\nsearch a b\noptions ndots:2\n', [], [], []), 'nameserver 10.0.0.1\nsearch a b\noptions ndots:2\n');
  // dockerd's bytes: its two servers appended after a newline.
  assert.equal(resolvConf('nameserver 127.0.0.1\n', [], [], []), '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  // A host file is copied as it is (comments, order, search first) minus loopback and IPv6
  // nameservers (dockerd 20.10 with a host-like resolv.conf).
  const host = '# host-like resolv.conf\nsearch example.com corp.local\nnameserver 127.0.0.53\noptions edns0 trust-ad\nnameserver 10.255.255.53\nnameserver ::1\nnameserver fe80::1\nnameserver 192.0.2.7\n';
  assert.equal(resolvConf(host, [], [], []), '# host-like resolv.conf\nsearch example.com corp.local\noptions edns0 trust-ad\nnameserver 10.255.255.53\nnameserver 192.0.2.7\n');
  assert.equal(resolvConf('nameserver 127.0.0.53\noptions edns0\n', [], [], []), 'options edns0\n\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(resolvConf('# c\nnameserver 127.0.0.1\nnameserver 10.1.1.1', [], [], []), '# c\nnameserver 10.1.1.1');
  assert.equal(resolvConf('nameserver 10.0.0.1\n', ['1.1.1.1'], ['x'], []), 'search x\nnameserver 1.1.1.1\n');
  assert.match(hostsFile('h', '', ['db:10.1.1.1']), /10\.1\.1\.1\tdb\n/);
});

test('status texts and list filters', () => {
  assert.equal(humanDuration(0.5), 'Less than a second');
  assert.equal(humanDuration(5), '5 seconds');
  // go-units counts whole seconds: 1.5 s is "1 second" (it printed "Up 1 seconds").
  assert.equal(humanDuration(1.5), '1 second');
  assert.equal(humanDuration(59.9), '59 seconds');
  assert.equal(humanDuration(90), 'About a minute');
  assert.equal(humanDuration(3 * 3600), '3 hours');
  const rec = { Id: ID, Name: '/web', Created: new Date().toISOString(), Config: { Labels: { a: 'b' } }, HostConfig: { NetworkMode: 'bridge' }, State: initialState(), MountPoints: [], Image: 'sha256:x' } as unknown as ContainerRecord;
  assert.equal(statusText(rec), 'Created');
  Object.assign(rec.State, { Status: 'exited', ExitCode: 3, FinishedAt: new Date(Date.now() - 5000).toISOString() });
  assert.equal(statusText(rec), 'Exited (3) 5 seconds ago');
  const ctx = { ancestorIds: new Map<string, Set<string>>(), createdOf: () => undefined, ports: () => [] };
  assert.equal(containerMatches(rec, { label: ['a=b'], status: ['exited'], exited: ['3'], name: ['we'] }, ctx), true);
  assert.equal(containerMatches(rec, { label: ['a=c'] }, ctx), false);
  assert.equal(containerMatches(rec, { id: [ID.slice(0, 5)] }, ctx), true);
  assert.throws(() => containerMatches(rec, { bogus: ['x'] }, ctx), /invalid filter/);
  assert.throws(() => containerMatches(rec, { status: ['sleeping'] }, ctx), /invalid filter/);
  const listed = { ...ctx, ports: () => [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }] };
  assert.equal(containerMatches(rec, { publish: ['8080'] }, listed), true);
  assert.equal(containerMatches(rec, { publish: ['80'] }, listed), false);
  assert.equal(containerMatches(rec, { publish: ['80'], expose: ['80'] }, listed), true, 'publish or expose (dockerd checks them together)');
  assert.equal(containerMatches(rec, { expose: ['80'], label: ['a=c'] }, listed), false);
});

test('create: network-mode conflicts in dockerd\'s words, before the image is looked at', () => {
  const donor = `container:${'d'.repeat(64)}`;
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, string]> = [
    [{}, { NetworkMode: 'container:' }, 'Invalid network mode: invalid container format container:<name|id>'],
    [{}, { NetworkMode: 'container' }, 'Invalid network mode: invalid container format container:<name|id>'],
    [{ Hostname: 'h' }, { NetworkMode: donor }, 'conflicting options: hostname and the network mode'],
    [{}, { NetworkMode: donor, Links: ['a:b'] }, "conflicting options: container type network can't be used with links. This would result in undefined behavior"],
    [{}, { NetworkMode: donor, Dns: ['1.1.1.1'] }, 'conflicting options: dns and the network mode'],
    [{}, { NetworkMode: donor, ExtraHosts: ['a:1.2.3.4'] }, 'conflicting options: custom host-to-IP mapping and the network mode'],
    [{}, { NetworkMode: donor, PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }, 'conflicting options: port publishing and the container type network mode'],
    [{}, { NetworkMode: donor, PublishAllPorts: true }, 'conflicting options: port publishing and the container type network mode'],
    [{ ExposedPorts: { '80/tcp': {} } }, { NetworkMode: donor }, 'conflicting options: port exposing and the container type network mode'],
    [{ Hostname: 'h' }, { UTSMode: 'host' }, 'conflicting options: hostname and the UTS mode'],
    [{}, { NetworkMode: 'host', Links: ['a:b'] }, "conflicting options: host type networking can't be used with links. This would result in undefined behavior"],
  ];
  for (const [config, hc, message] of cases) assert.throws(() => checkNetworkModeConflicts(config, hc), { message }, JSON.stringify([config, hc]));
  // What dockerd lets through: empty values, DNS search/options with container:, the same settings elsewhere.
  for (const [config, hc] of [
    [{ Hostname: '', ExposedPorts: {} }, { NetworkMode: donor, Links: [], Dns: [], ExtraHosts: null, PortBindings: {}, DnsSearch: ['x'], DnsOptions: ['ndots:2'] }],
    [{ Hostname: 'h', ExposedPorts: { '80/tcp': {} } }, { NetworkMode: 'host', Dns: ['1.1.1.1'], ExtraHosts: ['a:1.2.3.4'] }],
    [{ Hostname: 'h' }, { NetworkMode: 'none', Links: ['a:b'], Dns: ['1.1.1.1'] }],
  ] as Array<[Record<string, unknown>, Record<string, unknown>]>) checkNetworkModeConflicts(config, hc);
});

test('json-file log: lines split, rotation by max-size, tail, stream filter', async () => {
  const t = tempDir('hako-engine-log-');
  try {
    assert.equal(parseLogSize('10k'), 10240);
    assert.equal(parseLogSize('1m'), 1048576);
    const path = join(t.path, 'c-json.log');
    const w = new JsonFileWriter(path, 300, 3);
    for (let i = 0; i < 20; i++) w.write(i % 2 ? 'stderr' : 'stdout', Buffer.from(`line ${i}\n`));
    w.write('stdout', Buffer.from('a\nb'));
    w.close();
    const all: string[] = [];
    for await (const e of readLogs(path, { follow: false, stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: 'all', maxFiles: 3 })) all.push(e.data.toString());
    assert.ok(all.length < 22, 'older entries were rotated away');
    assert.deepEqual(all.slice(-2), ['a\n', 'b']);
    const tail: string[] = [];
    for await (const e of readLogs(path, { follow: false, stdout: false, stderr: true, since: 0, until: 0, timestamps: false, tail: 2, maxFiles: 3 })) tail.push(e.data.toString());
    assert.deepEqual(tail, ['line 17\n', 'line 19\n']);
    // dockerd's rotation: a file is rotated once it has reached max-size, so each rotated file
    // is at or over it by less than its last entry (dockerd 20.10: 1034 and 1035 bytes for 1k).
    for (const f of [`${path}.1`, `${path}.2`]) {
      const text = readFileSync(f, 'utf8');
      const last = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
      assert.ok(text.length >= 300 && text.length - last.length < 300, `${f}: ${text.length} bytes, its last entry ${last.length}`);
    }
  } finally {
    t.cleanup();
  }
});

test('paths in a root: absolute and relative symlinks and .. never leave it; users from /etc/passwd', () => {
  const t = tempDir('hako-engine-root-');
  try {
    const r = t.path;
    mkdirSync(join(r, 'etc'));
    symlinkSync('/', join(r, 'up'));
    symlinkSync('../../../..', join(r, 'etc/rel'));
    symlinkSync('/etc', join(r, 'e'));
    assert.equal(resolveInRoot(r, '/up/etc/passwd'), join(r, 'etc/passwd'));
    assert.equal(resolveInRoot(r, '/etc/rel/etc'), join(r, 'etc'));
    assert.equal(resolveInRoot(r, '/../../x'), join(r, 'x'));
    assert.equal(resolveInRoot(r, '/e', { followLast: false }), join(r, 'e'));
    writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(join(r, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
    assert.equal(parsePasswd(['a:x:1:2::/h:/s'])[0]!.home, '/h');
    // dockerd's supplementary groups start with the primary group
    assert.deepEqual(resolveUser(r, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 2000], home: '/home/app' });
    assert.deepEqual(resolveUser(r, '5:extra'), { uid: 5, gid: 2000, additionalGids: [2000], home: '/' });
    assert.deepEqual(resolveUser(r, ''), { uid: 0, gid: 0, additionalGids: [0], home: '/root' });
    assert.throws(() => resolveUser(r, 'ghost'), /unable to find user ghost/);
  } finally {
    t.cleanup();
  }
});

test('events: history replay with since/until and filters', async () => {
  const bus = new EventBus();
  const t0 = Date.now() / 1000 - 1;
  bus.emit('container', 'create', ID, { name: 'web', image: 'busybox' });
  bus.emit('container', 'die', ID, { name: 'web', image: 'busybox', exitCode: '3' });
  bus.emit('volume', 'create', 'v', {});
  const got: string[] = [];
  for await (const e of bus.stream({ since: t0, until: Date.now() / 1000 + 0.001, filters: { type: ['container'], event: ['die'] } })) got.push(`${e.Action}:${e.Actor.Attributes.exitCode}:${e.status}:${e.from}`);
  assert.deepEqual(got, ['die:3:die:busybox']);
  const ac = new AbortController();
  const live: string[] = [];
  const done = (async () => {
    for await (const e of bus.stream({ signal: ac.signal, filters: { container: ['web'] } })) live.push(e.Action);
  })();
  await new Promise((r) => setTimeout(r, 5));
  bus.emit('container', 'start', ID, { name: 'web' });
  await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await done;
  assert.deepEqual(live, ['start']);
});

test('commit --change instructions', () => {
  const cfg: Record<string, unknown> = { Env: ['A=1'] };
  applyChanges(cfg, ['CMD ["a", "b"]', 'ENV A=2 B=3', 'EXPOSE 80', 'LABEL x=y', 'WORKDIR /w', 'ENTRYPOINT run it']);
  assert.deepEqual(cfg.Cmd, ['a', 'b']);
  assert.deepEqual(cfg.Env, ['A=2', 'B=3']);
  assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {} });
  assert.deepEqual(cfg.Labels, { x: 'y' });
  assert.equal(cfg.WorkingDir, '/w');
  assert.deepEqual(cfg.Entrypoint, ['/bin/sh', '-c', 'run it']);
  assert.deepEqual(cfg.Cmd, ['a', 'b'], 'a CMD in the same changes survives ENTRYPOINT');
  assert.throws(() => applyChanges(cfg, ['FROM x']), /not a valid change command/);
});

test('create: resource and setting checks in dockerd\'s words (verifyPlatformContainerResources/Settings, validateIsolation, overlay2 storage options)', () => {
  const MB = 1024 * 1024;
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ MemorySwap: 64 * MB }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
    [{ MemoryReservation: MB }, 'Minimum memory reservation allowed is 6MB'],
    [{ Memory: 10 * MB, MemoryReservation: 20 * MB }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
    [{ NanoCpus: 1e9, CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
    [{ NanoCpus: 1e9, CpuQuota: 5000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
    [{ CpuPeriod: 500 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    [{ CpuPeriod: 2000000 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    [{ CpuQuota: 500 }, 'CPU cfs quota can not be less than 1ms (i.e. 1000)'],
    [{ OomScoreAdj: -2000 }, 'Invalid value -2000, range for oom score adj is [-1000, 1000]'],
    [{ Isolation: 'hyperv' }, 'Invalid isolation: "hyperv" - linux only supports \'default\''],
    [{ StorageOpt: { size: '1g' } }, "--storage-opt is supported only for overlay over xfs with 'pquota' mount option"],
  ];
  for (const [hc, message] of cases) assert.throws(() => normalizeHostConfig(hc, []), { message }, JSON.stringify(hc));
  // Allowed: -1 swap (unlimited), quota -1, the limits themselves, an update setting swap alone.
  for (const hc of [{ MemorySwap: -1 }, { CpuQuota: -1, CpuPeriod: 1000 }, { CpuPeriod: 1000000, CpuQuota: 1000 }, { OomScoreAdj: 1000 }, { Isolation: 'default' }, { StorageOpt: {} }, { Memory: 6 * MB, MemoryReservation: 6 * MB }]) normalizeHostConfig(hc, []);
  normalizeHostConfig({ MemorySwap: 64 * MB }, [], { update: true });
});

test('--volumes-from: container[:mode] as dockerd parses it; inherited mounts go over the image\'s volumes and under the container\'s own', () => {
  assert.deepEqual(parseVolumesFrom('db'), { ref: 'db', readOnly: false });
  assert.deepEqual(parseVolumesFrom('db:ro'), { ref: 'db', readOnly: true });
  assert.deepEqual(parseVolumesFrom('db:z'), { ref: 'db', readOnly: false });
  assert.deepEqual(parseVolumesFrom('db:ro,Z'), { ref: 'db', readOnly: true });
  assert.throws(() => parseVolumesFrom(''), { message: 'volumes-from specification cannot be an empty string' });
  for (const bad of ['rw,nocopy', 'rshared', 'ro,rw', 'z,Z', 'bogus', '']) assert.throws(() => parseVolumesFrom(`db:${bad}`), { message: `invalid mode: ${bad}` });
  const inherited = [
    { Type: 'volume' as const, Name: 'v', Source: '/s/v', Destination: '/data', Mode: '', RW: false, Propagation: '' },
    { Type: 'bind' as const, Source: '/h', Destination: '/own', Mode: '', RW: true, Propagation: 'rprivate' },
  ];
  const m = collectMounts({ Volumes: { '/data': {} } }, { Binds: ['/mine:/own'] }, inherited);
  assert.deepEqual(m.map((x) => [x.Destination, x.Source]), [['/data', '/s/v'], ['/own', '/mine']]);
});

test('events: the legacy id is left out when the Actor has none (prune events), as dockerd (omitempty)', () => {
  const bus = new EventBus();
  const prune = bus.emit('container', 'prune', '', { reclaimed: '0' });
  assert.equal('id' in prune, false);
  assert.equal(prune.status, 'prune');
  const img = bus.emit('image', 'prune', '', { reclaimed: '0' });
  assert.equal('id' in img, false);
  const start = bus.emit('container', 'start', 'abc', { image: 'busybox', name: 'x' });
  assert.deepEqual([start.id, start.status, start.from], ['abc', 'start', 'busybox']);
});

test('volume names: a one-character name in dockerd’s own words, then the characters', () => {
  const t = tempDir('hako-vol-names-');
  try {
    const v = new VolumeStore(t.path);
    assert.throws(() => v.create({ name: 'x' }), { message: 'create x: volume name is too short, names should be at least two alphanumeric characters' });
    assert.throws(() => v.create({ name: 'a b' }), /create a b: "a b" includes invalid characters for a local volume name/);
    assert.equal(v.create({ name: 'ab' }).created, true);
  } finally {
    t.cleanup();
  }
});
