// docker-py (Debian's python3-docker) against a real hakod: a Python script drives the image
// flows (and container flows once the engine is built) and prints a JSON verdict.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hasDockerPy, hasEngine, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry, type TestRegistry } from '../helpers/registry.js';
import type { BuiltImage } from '../helpers/images.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot } from '../helpers/fixtures.js';

const skip = !hasDockerPy ? 'docker-py is missing (apt-get install python3-docker)' : !hasRegistry ? 'docker-registry is not installed' : false;
const containers = hasEngine && isRoot;

let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let reg: TestRegistry;
let busybox: BuiltImage;

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon();
  ({ d, reg, img: busybox } = setup);
});

after(async () => {
  await setup?.stop();
});

const SCRIPT = String.raw`
import json, sys, docker
ref, containers = sys.argv[1], sys.argv[2] == '1'
c = docker.DockerClient(base_url=sys.argv[3])
out = {}
out['ping'] = c.ping()
out['api'] = c.version()['ApiVersion']
img = c.images.pull(ref, tag='latest')
out['id'] = img.id
out['tags'] = img.tags
img.tag('py/box', 'v1')
out['listed'] = sorted(t for i in c.images.list() for t in i.tags)
c.images.remove('py/box:v1')
try:
    c.images.get('nosuch:1')
    out['notfound'] = 'no error'
except docker.errors.ImageNotFound as e:
    out['notfound'] = 'ImageNotFound'
if containers:
    out['run'] = c.containers.run(ref + ':latest', ['sh', '-c', 'echo hi-from-py'], remove=True).decode()
    ct = c.containers.run(ref + ':latest', ['sleep', '30'], detach=True, name='pytest')
    out['status'] = c.containers.get('pytest').status
    r = ct.exec_run(['echo', 'exec-py'])
    out['exec'] = [r.exit_code, r.output.decode()]
    ct.stop(timeout=1)
    ct.remove()
print(json.dumps(out))
`;

test('docker-py: ping, version, pull, tag, list, remove (and containers with the engine)', { skip }, () => {
  const ref = `${reg.host}/test/busybox`;
  const r = spawnSync('python3', ['-c', SCRIPT, ref, containers ? '1' : '0', d.host], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stderr}\n${d.log().slice(-2000)}`);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ping, true);
  assert.equal(out.api, '1.44');
  assert.equal(out.id, busybox.manifests[0]!.config.digest);
  assert.deepEqual(out.tags, [`${ref}:latest`]);
  assert.deepEqual(out.listed, [`${ref}:latest`, 'py/box:v1']);
  assert.equal(out.notfound, 'ImageNotFound');
  if (containers) {
    assert.equal(out.run, 'hi-from-py\n');
    assert.equal(out.status, 'running');
    assert.deepEqual(out.exec, [0, 'exec-py\n']);
  }
});

// A docker-py script against the daemon: argv[1] the image, argv[2] the daemon's URL; prints JSON.
function py(script: string, image: string): Record<string, unknown> {
  const r = spawnSync('python3', ['-c', `import json, sys, io, tarfile, docker\nimage = sys.argv[1]\nc = docker.DockerClient(base_url=sys.argv[2])\n${script}`, image, d.host], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${r.stderr}\n${d.log().slice(-2000)}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

test('docker-py: get_archive of /etc/hostname, /etc/hosts, /etc/resolv.conf gives the files the container sees (not the empty mount targets)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
def get(ct, path):
    strm, stat = ct.get_archive(path)
    t = tarfile.open(fileobj=io.BytesIO(b''.join(strm)))
    m = t.getmembers()[0]
    return {'stat': [stat['name'], stat['size'], stat['mode'] & 0o777], 'member': [m.name, m.size], 'text': t.extractfile(m).read().decode()}
c.images.pull(image, tag='latest')
ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pyarch', hostname='pyhost')
out = {'running': {p: get(ct, p) for p in ('/etc/hostname', '/etc/hosts')}}
out['resolv'] = get(ct, '/etc/resolv.conf')['stat'][1] > 0
ct.stop(timeout=1)
out['stopped'] = get(ct, '/etc/hostname')
ct.remove()
print(json.dumps(out))
`, `${reg.host}/test/busybox`);
  const running = out.running as Record<string, { stat: [string, number, number]; member: [string, number]; text: string }>;
  assert.deepEqual(running['/etc/hostname'], { stat: ['hostname', 7, 0o644], member: ['hostname', 7], text: 'pyhost\n' });
  const hosts = running['/etc/hosts']!;
  assert.match(hosts.text, /\bpyhost\n/);
  assert.deepEqual([hosts.stat[1], hosts.member[1]], [hosts.text.length, hosts.text.length]);
  assert.equal(out.resolv, true);
  assert.deepEqual(out.stopped, running['/etc/hostname']);
});

test('docker-py: archive headers carry the file-type bits in their mode as Go writes them (get_archive, export, image save; TarInfo.mode)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
def modes(chunks, names):
    t = tarfile.open(fileobj=io.BytesIO(b''.join(chunks)))
    return {m.name: oct(m.mode) for m in t.getmembers() if m.name in names}
c.images.pull(image, tag='latest')
ct = c.containers.create(image + ':latest', ['true'], name='pymodes')
out = {'archive': modes(ct.get_archive('/etc')[0], ('etc', 'etc/group', 'etc/mtab')),
       'export': modes(ct.export(), ('.dockerenv', 'bin', 'bin/sh', 'etc/passwd'))}
ct.remove()
t = tarfile.open(fileobj=io.BytesIO(b''.join(c.images.get(image + ':latest').save())))
out['save'] = sorted({('dir' if m.isdir() else 'file', oct(m.mode)) for m in t.getmembers()})
print(json.dumps(out))
`, `${reg.host}/test/busybox`);
  // dockerd 20.10.24 lab (docker cp/export/save read with Python's tarfile): GNU tar's 0o755 was 0o40755 there.
  assert.deepEqual(out.archive, { etc: '0o40755', 'etc/group': '0o100644', 'etc/mtab': '0o120777' });
  assert.deepEqual(out.export, { '.dockerenv': '0o100755', bin: '0o40755', 'bin/sh': '0o120777', 'etc/passwd': '0o100644' });
  assert.deepEqual(out.save, [['dir', '0o40755'], ['file', '0o100644']]);
});

test('docker-py: an exec that fails to start (unknown user, missing workdir) has its exec_start event, no exec_die, as in dockerd', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
import time, datetime
c.images.pull(image, tag='latest')
ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pyexecev')
since = datetime.datetime.utcnow() - datetime.timedelta(seconds=1)
codes = [ct.exec_run(['id'], user='nosuchuser').exit_code, ct.exec_run(['pwd'], workdir='/nonexist').exit_code, ct.exec_run(['true']).exit_code]
time.sleep(0.3)
evs = c.events(decode=True, since=since, until=datetime.datetime.utcnow() + datetime.timedelta(seconds=1), filters={'container': 'pyexecev'})
actions = [e['Action'] for e in evs if e['Action'].startswith('exec_')]
ct.remove(force=True)
print(json.dumps({'codes': codes, 'actions': actions}))
`, `${reg.host}/test/busybox`);
  assert.deepEqual(out.codes, [126, 126, 0]);
  assert.deepEqual(out.actions, ['exec_create: id ', 'exec_start: id ', 'exec_create: pwd ', 'exec_start: pwd ', 'exec_create: true ', 'exec_start: true ', 'exec_die']);
});

test('docker-py: the error text of an exec that fails to start reaches exec_run every time (it came right behind the 101 and docker-py dropped what it read with the head)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
ct = c.containers.run(image + ':latest', ['sleep', '60'], detach=True, name='pyexectext')
res = []
for i in range(10):
    for kw in ({'user': 'nosuchuser'}, {'workdir': '/nonexistent'}):
        for stream in (False, True):
            r = ct.exec_run(['id'], stream=stream, **kw)
            text = b''.join(r.output).decode() if stream else r.output.decode()
            res.append([list(kw)[0], stream, r.exit_code, text])
ct.remove(force=True)
print(json.dumps({'res': res}))
`, `${reg.host}/test/busybox`);
  const res = out.res as Array<[string, boolean, number | null, string]>;
  assert.equal(res.length, 40);
  const lost = res.filter(([kw, stream, code, text]) => !(kw === 'user' ? /unable to find user nosuchuser/ : /\/nonexistent/).test(text) || (!stream && code !== 126));
  assert.deepEqual(lost, [], `${lost.length} of 40 lost their text`);
});

test('docker-py: a start that fails (missing program) logs the network connect before its disconnect, as dockerd', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
import datetime
c.images.pull(image, tag='latest')
since = datetime.datetime.utcnow() - datetime.timedelta(seconds=1)
ct = c.containers.create(image + ':latest', ['nosuchprogram'], name='pystartfail')
try:
    ct.start()
    err = None
except docker.errors.APIError as e:
    err = e.status_code
evs = c.events(decode=True, since=since, until=datetime.datetime.utcnow() + datetime.timedelta(seconds=1), filters={'type': 'network'})
actions = [(e['Action'], e['Actor']['Attributes']['name']) for e in evs if e['Actor']['Attributes'].get('container') == ct.id]
ct.remove()
print(json.dumps({'err': err, 'actions': actions}))
`, `${reg.host}/test/busybox`);
  assert.equal(out.err, 400);
  assert.deepEqual(out.actions, [['connect', 'bridge'], ['disconnect', 'bridge']]);
});

test('docker-py: commit(conf=…) merges the container\'s config into the given one as dockerd (Env, Labels, ports, volumes, Entrypoint kept)', { skip: skip || !containers }, async () => {
  // Expected values: dockerd 20.10.24 given the same calls.
  const out = py(String.raw`
c.images.pull(image, tag='latest')
ct = c.containers.create(image + ':latest', ['sleep', '9'], name='pycommit', environment={'X': '1', 'K': 'k'}, labels={'a': 'b', 'n': 'old'}, ports={'80/tcp': None}, working_dir='/tmp', user='nobody', entrypoint=['/bin/sh', '-c'], volumes=['/vv'])
out = {}
for name, conf, changes in [('body', {'Env': ['A=1', 'X=9'], 'Labels': {'n': '1'}, 'ExposedPorts': {'81/tcp': {}}, 'Cmd': ['echo']}, ['ENV Y=2']),
                            ('body2', {'Cmd': ['x'], 'Volumes': {'/w': {}}, 'Entrypoint': None}, []),
                            ('nobody', None, ['ENV Y=2'])]:
    img = ct.commit(repository='pycommit', tag=name, conf=conf, changes=changes)
    cfg = img.attrs['Config']
    out[name] = {k: cfg.get(k) for k in ('Env', 'Labels', 'ExposedPorts', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Volumes')}
    c.images.remove(img.id, force=True)
ct.remove()
print(json.dumps(out))
`, `${reg.host}/test/busybox`);
  const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const common = { Entrypoint: ['/bin/sh', '-c'], WorkingDir: '/tmp', User: 'nobody' };
  assert.deepEqual(out.body, { ...common, Cmd: ['echo'], Env: ['A=1', 'X=9', 'Y=2', 'K=k', PATH], ExposedPorts: { '80/tcp': {}, '81/tcp': {} }, Labels: { a: 'b', n: '1' }, Volumes: { '/vv': {} } });
  assert.deepEqual(out.body2, { ...common, Cmd: ['x'], Env: ['X=1', 'K=k', PATH], ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b', n: 'old' }, Volumes: { '/vv': {}, '/w': {} } });
  assert.deepEqual(out.nobody, { ...common, Cmd: ['sleep', '9'], Env: ['X=1', 'K=k', PATH, 'Y=2'], ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b', n: 'old' }, Volumes: { '/vv': {} } });
});

test('docker-py: images.load of a broken archive raises ImageLoadError (dockerd answers 200 with the error in the stream)', { skip }, async () => {
  const out = py(String.raw`
try:
    c.images.load(b'not an archive' * 400)
    r = 'loaded'
except docker.errors.ImageLoadError as e:
    r = ['ImageLoadError', str(e)]
except docker.errors.APIError as e:
    r = ['APIError', e.status_code]
print(json.dumps({'r': r}))
`, '');
  assert.deepEqual(out.r, ['ImageLoadError', 'read image archive: not a tar archive (bad header checksum)']);
});

test('docker-py: a container created without ports shows HostConfig.PortBindings null, as dockerd', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
a = c.containers.create(image + ':latest', ['true'], name='pyports0')
b = c.containers.create(image + ':latest', ['true'], name='pyports1', ports={'80/tcp': None})
out = {'none': a.attrs['HostConfig']['PortBindings'], 'some': b.attrs['HostConfig']['PortBindings']}
a.remove(); b.remove()
print(json.dumps(out))
`, `${reg.host}/test/busybox`);
  assert.equal(out.none, null);
  assert.deepEqual(out.some, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
});

test('docker-py: disconnecting a container from a network it is not on is a 500, as dockerd (running: "network", stopped: "the network")', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
n = c.networks.create('pynotconn')
ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pynotconn-c')
def disc():
    try:
        n.disconnect(ct)
        return 'ok'
    except docker.errors.APIError as e:
        return [e.status_code, e.explanation]
out = {'running': disc()}
ct.kill(); ct.wait()
out['stopped'] = disc()
ct.remove(); n.remove()
out['id'] = ct.id
print(json.dumps(out))
`, `${reg.host}/test/busybox`);
  assert.deepEqual(out.running, [500, `container ${out.id as string} is not connected to network pynotconn`]);
  assert.deepEqual(out.stopped, [500, `container ${out.id as string} is not connected to the network pynotconn`]);
});

test('docker-py: put_archive of something that is not a tar is a 500 "Error processing tar file", as dockerd (was 400)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
ct = c.containers.create(image + ':latest', ['true'], name='pybadtar')
try:
    ct.put_archive('/tmp', b'notatar' * 100)
    r = 'ok'
except docker.errors.APIError as e:
    r = [e.status_code, e.explanation]
ct.remove()
print(json.dumps({'r': r}))
`, `${reg.host}/test/busybox`);
  const [status, msg] = out.r as [number, string];
  assert.equal(status, 500);
  assert.match(msg, /^Error processing tar file\(exit status 2\): This does not look like a tar archive$/);
});

test('docker-py: kill (SIGKILL) answers once the container has exited, so kill then remove works, as dockerd; other signals answer at once', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
res = []
for i in range(3):
    ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pykill%d' % i)
    ct.kill(); ct.reload(); res.append(ct.status)
    ct.remove()
ct = c.containers.run(image + ':latest', ['sh', '-c', 'trap "sleep 1; exit 0" TERM; sleep 30 & wait'], detach=True, name='pykillterm')
import time; time.sleep(0.3)
ct.kill(signal='SIGTERM'); ct.reload(); res.append(ct.status)
ct.remove(force=True)
print(json.dumps({'res': res}))
`, `${reg.host}/test/busybox`);
  assert.deepEqual(out.res, ['exited', 'exited', 'exited', 'running']);
});

test('docker-py: removing a network a container is on is a 403 "has active endpoints", as dockerd (was 409)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
n = c.networks.create('pybusynet')
ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pybusynet-c', network='pybusynet')
try:
    n.remove()
    r = 'removed'
except docker.errors.APIError as e:
    r = [e.status_code, e.explanation]
ct.remove(force=True); n.remove()
print(json.dumps({'r': r, 'id': n.id}))
`, `${reg.host}/test/busybox`);
  const [status, msg] = out.r as [number, string];
  assert.equal(status, 403);
  assert.match(msg, new RegExp(`^error while removing network: network pybusynet id ${out.id as string} has active endpoints`));
});

test('docker-py: with host networking /etc/hostname holds the host\'s hostname (a bind mount, as dockerd), in the container and through get_archive', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
import socket
c.images.pull(image, tag='latest')
ran = c.containers.run(image + ':latest', ['cat', '/etc/hostname'], network_mode='host', remove=True).decode()
ct = c.containers.run(image + ':latest', ['sleep', '30'], network_mode='host', detach=True, name='pyhostnet')
strm, stat = ct.get_archive('/etc/hostname')
t = tarfile.open(fileobj=io.BytesIO(b''.join(strm)))
text = t.extractfile(t.getmembers()[0]).read().decode()
ct.remove(force=True)
print(json.dumps({'ran': ran, 'archived': text, 'host': socket.gethostname()}))
`, `${reg.host}/test/busybox`);
  assert.equal(out.ran, `${out.host as string}\n`);
  assert.equal(out.archived, `${out.host as string}\n`);
});

test('docker-py: images.list takes dangling=true/false only, refusing others in dockerd\'s words (dangling=[1])', { skip }, async () => {
  const out = py(String.raw`
def L(v):
    try:
        return len(c.images.list(filters={'dangling': v}))
    except docker.errors.APIError as e:
        return [e.status_code, e.explanation]
print(json.dumps({v: L(v) for v in ('true', 'false', '1', 'TRUE', 'maybe')}))
`, '');
  assert.equal(typeof out.true, 'number');
  assert.equal(typeof out.false, 'number');
  assert.deepEqual({ ...out, true: 0, false: 0 }, { true: 0, false: 0, '1': [400, "invalid filter 'dangling=[1]'"], TRUE: [400, "invalid filter 'dangling=[TRUE]'"], maybe: [400, "invalid filter 'dangling=[maybe]'"] });
});

test('docker-py: put_archive of a file onto /etc/hosts (a bind mount) fails with EBUSY as in dockerd (hako wrote through the mount)', { skip: skip || !containers }, async () => {
  const out = py(String.raw`
c.images.pull(image, tag='latest')
ct = c.containers.run(image + ':latest', ['sleep', '30'], detach=True, name='pyputhosts')
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w') as t:
    data = b'1.2.3.4 custom\n'
    ti = tarfile.TarInfo('hosts'); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
try:
    ct.put_archive('/etc', b.getvalue())
    r = 'ok'
except docker.errors.APIError as e:
    r = [e.status_code, e.explanation]
hosts = ct.exec_run(['cat', '/etc/hosts']).output.decode()
ct.remove(force=True)
print(json.dumps({'r': r, 'custom': 'custom' in hosts}))
`, `${reg.host}/test/busybox`);
  assert.deepEqual(out, { r: [500, 'Error processing tar file(exit status 1): unlinkat /etc/hosts: device or resource busy'], custom: false });
});

test('docker-py: get_registry_data (GET /distribution/<name>/json) gives the manifest’s descriptor and platforms as dockerd; a missing tag is NotFound in dockerd’s words (was 501)', { skip }, async () => {
  const { multiPlatformImage, pushLayout } = await import('../helpers/images.js');
  const multi = multiPlatformImage({ docker: true });
  try {
    await pushLayout(multi, reg.host, 'test/pymulti');
    const out = py(
      `out = {}
d = c.images.get_registry_data(image)
out['one'] = [d.id, d.attrs['Descriptor'], d.attrs['Platforms'], d.has_platform('linux/${process.arch === 'x64' ? 'amd64' : process.arch}')]
m = c.images.get_registry_data(image.replace('test/busybox', 'test/pymulti'))
out['multi'] = [m.id, m.attrs['Descriptor']['mediaType'], m.attrs['Platforms'], m.has_platform('linux/arm64/v8')]
try:
    c.images.get_registry_data(image.replace(':latest', ':nosuch'))
    out['missing'] = 'no error'
except docker.errors.NotFound as e:
    out['missing'] = [e.status_code, e.explanation]
print(json.dumps(out))`,
      `${reg.host}/test/busybox:latest`,
    );
    const top = busybox.top;
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    assert.deepEqual(out.one, [top.digest, { mediaType: top.mediaType, digest: top.digest, size: top.size }, [{ architecture: arch, os: 'linux' }], true]);
    const multiTop = multi.top;
    assert.deepEqual(out.multi, [multiTop.digest, multiTop.mediaType, multi.manifests.map((m) => ({ architecture: m.platform.architecture, os: m.platform.os, ...(m.platform.variant ? { variant: m.platform.variant } : {}) })), true]);
    assert.deepEqual(out.missing, [404, 'manifest unknown: manifest unknown']);
  } finally {
    multi.cleanup();
  }
});
