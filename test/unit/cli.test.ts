// Pure parts of the hako CLI: flag parsing, run/create config, units, templates, tables,
// stdcopy demultiplexing and progress rendering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, checkArgs, Flags, UsageError } from '../../src/cli/flags.js';
import { specs } from '../../src/cli/specs.js';
import { parseBytes, parseDuration, humanSize, humanDuration, ago, bytesSize, goTimeString, timestampArg } from '../../src/cli/units.js';
import { Template, TemplateError } from '../../src/cli/template.js';
import { renderList, tabwrite, ellipsis, FormatError } from '../../src/cli/format.js';
import { buildCreate, parsePortSpec, parseMount, parseUlimit, parseEnvFile, parseVolume, parseDevice, parseRestart, ConfigError } from '../../src/cli/run-config.js';
import { Demuxer, frame, demuxAll } from '../../src/cli/stdcopy.js';
import { ProgressRenderer, progressBar, progressLine, ProgressError } from '../../src/cli/progress.js';
import { encodeQuery, minVersion, resolveHost } from '../../src/cli/client.js';
import { formatPorts, containerContext, cp, export_ } from '../../src/cli/commands/container.js';
import { save } from '../../src/cli/commands/image.js';
import { ExitError, withLoginHint, type Ctx } from '../../src/cli/main.js';
import { imageRows } from '../../src/cli/commands/image.js';
import { splitReference, filtersQuery } from '../../src/cli/commands/common.js';

const runSpec = specs.run!;
const parseRun = (argv: string[]) => {
  const p = parseFlags(runSpec, argv, false);
  return { f: new Flags(p, runSpec.flags), args: p.args };
};

test('flags: combined short booleans, attached values, = forms, stop at the image', () => {
  const { f, args } = parseRun(['-it', '--rm', '-p8080:80', '-e=A=1', '--env', 'B=2', '--name=web', '-v', '/d', 'busybox', 'sh', '-c', 'echo -n hi']);
  assert.equal(f.bool('interactive'), true);
  assert.equal(f.bool('tty'), true);
  assert.equal(f.bool('rm'), true);
  assert.deepEqual(f.list('publish'), ['8080:80']);
  assert.deepEqual(f.list('env'), ['A=1', 'B=2']);
  assert.equal(f.str('name'), 'web');
  assert.deepEqual(args, ['busybox', 'sh', '-c', 'echo -n hi']);
});

test('flags: interspersed commands accept flags after arguments; -- ends flags', () => {
  const rm = specs.rm!;
  const p = parseFlags(rm, ['a', '-f', 'b', '--', '-v']);
  assert.deepEqual(p.args, ['a', 'b', '-v']);
  assert.equal(p.values.get('force'), true);
});

test('flags: errors read like pflag', () => {
  assert.throws(() => parseFlags(runSpec, ['--foo']), (e: UsageError) => e.message === 'unknown flag: --foo' && e.exitCode === 125);
  assert.throws(() => parseFlags(specs.ps!, ['-z']), /unknown shorthand flag: 'z' in -z/);
  assert.throws(() => parseFlags(runSpec, ['--name']), /flag needs an argument: --name/);
  assert.throws(() => parseFlags(runSpec, ['-m', 'abc', 'x']), /invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'/);
  assert.throws(() => parseFlags(specs.ps!, ['-n', 'x']), /invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax/);
  assert.throws(() => parseFlags(runSpec, ['--health-interval', '5x', 'i']), /time: invalid duration "5x"/);
});

test('flags: typed values and defaults', () => {
  const { f } = parseRun(['-m', '512m', '--memory-swap', '-1', '--cpus', '1.5', '--health-interval', '1m30s', '--pids-limit', '100', 'img']);
  assert.equal(f.num('memory'), 512 * 1024 * 1024);
  assert.equal(f.num('memory-swap'), -1);
  assert.equal(f.num('cpus'), 1.5);
  assert.equal(f.num('health-interval'), 90e9);
  assert.equal(f.num('pids-limit'), 100);
  const ps = parseFlags(specs.ps!, []);
  assert.equal(new Flags(ps, specs.ps!.flags).num('last'), -1);
  const help = parseFlags(runSpec, ['--help']);
  assert.equal(help.help, true);
  assert.equal(parseFlags(specs.ps!, ['-h']).help, true);
});

test('argument counts use docker texts', () => {
  assert.equal(checkArgs('rm', [1, -1], 0)?.message, "'hako rm' requires at least 1 argument");
  assert.equal(checkArgs('rename', [2, 2], 1)?.message, "'hako rename' requires 2 arguments");
  assert.equal(checkArgs('logs', [1, 1], 0)?.message, "'hako logs' requires 1 argument");
  assert.equal(checkArgs('ps', [0, 0], 1)?.message, "'hako ps' accepts no arguments");
  assert.equal(checkArgs('commit', [1, 2], 3)?.message, "'hako commit' requires at least 1 and at most 2 arguments");
  assert.equal(checkArgs('volume create', [0, 1], 2)?.message, "'hako volume create' requires at most 1 argument");
  assert.equal(checkArgs('rm', [1, -1], 2), null);
});

test('every command in the brief has a spec with the docker flags it needs', () => {
  const want: Record<string, string[]> = {
    run: ['detach', 'interactive', 'tty', 'rm', 'name', 'env', 'env-file', 'workdir', 'user', 'hostname', 'entrypoint', 'label', 'label-file', 'volume', 'mount', 'tmpfs', 'read-only', 'memory', 'memory-swap', 'memory-reservation', 'cpus', 'cpu-shares', 'cpu-quota', 'cpu-period', 'cpuset-cpus', 'pids-limit', 'ulimit', 'cap-add', 'cap-drop', 'privileged', 'security-opt', 'init', 'restart', 'stop-signal', 'stop-timeout', 'health-cmd', 'health-interval', 'health-timeout', 'health-retries', 'health-start-period', 'no-healthcheck', 'log-driver', 'log-opt', 'network', 'dns', 'dns-search', 'add-host', 'publish', 'publish-all', 'expose', 'platform', 'pull', 'shm-size', 'sysctl', 'device', 'oom-score-adj', 'detach-keys', 'attach', 'sig-proxy'],
    ps: ['all', 'quiet', 'last', 'latest', 'size', 'filter', 'format', 'no-trunc'],
    logs: ['follow', 'since', 'until', 'tail', 'timestamps', 'details'],
    exec: ['interactive', 'tty', 'env', 'user', 'workdir', 'detach', 'privileged', 'env-file'],
    images: ['all', 'quiet', 'filter', 'format', 'digests', 'no-trunc'],
    commit: ['message', 'author', 'change', 'pause'],
    login: ['username', 'password', 'password-stdin'],
  };
  for (const [cmd, flags] of Object.entries(want)) {
    const names = new Set(specs[cmd]!.flags.map((r) => r[0]));
    for (const fl of flags) assert.ok(names.has(fl), `${cmd} --${fl}`);
  }
});

test('-p specs (nat.ParsePortSpec)', () => {
  assert.deepEqual(parsePortSpec('8080:80'), { exposed: ['80/tcp'], bindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
  assert.deepEqual(parsePortSpec('127.0.0.1:53:53/udp').bindings, { '53/udp': [{ HostIp: '127.0.0.1', HostPort: '53' }] });
  assert.deepEqual(parsePortSpec('80').bindings, { '80/tcp': [{ HostIp: '', HostPort: '' }] });
  assert.deepEqual(parsePortSpec('127.0.0.1::80').bindings, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  assert.deepEqual(parsePortSpec('[::1]:8080:80').bindings, { '80/tcp': [{ HostIp: '::1', HostPort: '8080' }] });
  assert.deepEqual(parsePortSpec('8000-8001:80-81').bindings, { '80/tcp': [{ HostIp: '', HostPort: '8000' }], '81/tcp': [{ HostIp: '', HostPort: '8001' }] });
  assert.deepEqual(parsePortSpec('8000-8010:80').bindings, { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
  assert.throws(() => parsePortSpec('80/xyz'), /invalid proto/);
  assert.throws(() => parsePortSpec('8000-8002:80-81'), /invalid ranges/);
  assert.throws(() => parsePortSpec('abc'), ConfigError);
});

test('--mount specs', () => {
  assert.deepEqual(parseMount('type=bind,source=/src,target=/dst,readonly'), { Type: 'bind', Source: '/src', Target: '/dst', ReadOnly: true });
  assert.deepEqual(parseMount('type=volume,src=data,dst=/data,volume-nocopy'), { Type: 'volume', Source: 'data', Target: '/data', VolumeOptions: { NoCopy: true } });
  assert.deepEqual(parseMount('type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770'), { Type: 'tmpfs', Target: '/run', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1770 } });
  assert.deepEqual(parseMount('type=bind,src=/a,dst=/b,bind-propagation=rshared').BindOptions, { Propagation: 'rshared' });
  assert.throws(() => parseMount('type=bind,target=/x'), /source is required/);
  assert.throws(() => parseMount('type=foo,target=/x'), /invalid mount type/);
  assert.throws(() => parseMount('source=/x'), /target is required/);
  assert.throws(() => parseMount('type=bind,src=/a,dst=/b,bogus=1'), /unexpected key 'bogus'/);
});

test('--ulimit, -v, --device, --restart', () => {
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=100'), { Name: 'nproc', Soft: 100, Hard: 100 });
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit/);
  assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit type/);
  assert.deepEqual(parseVolume('/data'), { anonymous: '/data' });
  assert.deepEqual(parseVolume('vol:/data:ro'), { bind: 'vol:/data:ro' });
  assert.throws(() => parseVolume('a:b'), /invalid/);
  assert.deepEqual(parseDevice('/dev/fuse'), { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/a:/dev/b:r'), { PathOnHost: '/dev/a', PathInContainer: '/dev/b', CgroupPermissions: 'r' });
  assert.deepEqual(parseRestart('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.throws(() => parseRestart('always:3'), /maximum retry count/);
});

test('env files', () => {
  const env = { FROM_HOST: 'yes' };
  assert.deepEqual(parseEnvFile('# c\nA=1\n\n  B=two words\nFROM_HOST\nMISSING\nC=\n', env), ['A=1', 'B=two words', 'FROM_HOST=yes', 'C=']);
  assert.throws(() => parseEnvFile('BAD KEY=1\n', env), /whitespaces/);
});

test('run flags → create body', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-cli-'));
  try {
    writeFileSync(join(dir, 'env'), 'X=1\n');
    const { f, args } = parseRun([
      '-d', '--name', 'web', '--env-file', join(dir, 'env'), '-e', 'Y=2', '-l', 'a=b', '-p', '8080:80', '--expose', '9000', '-v', '/anon', '-v', '/h:/c:ro',
      '--tmpfs', '/run:size=1m', '--read-only', '-m', '1g', '--cpus', '0.5', '--ulimit', 'nofile=10:20', '--cap-add', 'NET_ADMIN', '--restart', 'on-failure:2',
      '--health-cmd', 'true', '--health-interval', '5s', '--init', '--stop-signal', 'SIGINT', '--stop-timeout', '3', '--entrypoint', '', '-w', '/w', '-u', '1:1',
      '--sysctl', 'net.ipv4.ip_forward=1', '--add-host', 'h=1.2.3.4', '--dns', '8.8.8.8', '--network', 'none', '--shm-size', '64m', '--oom-score-adj', '5',
      'busybox', 'sleep', '1',
    ]);
    const r = buildCreate(f, args, true, {});
    const b = r.body as Record<string, any>;
    assert.equal(r.name, 'web');
    assert.equal(b.Image, 'busybox');
    assert.deepEqual(b.Cmd, ['sleep', '1']);
    assert.deepEqual(b.Env, ['X=1', 'Y=2']);
    assert.deepEqual(b.Labels, { a: 'b' });
    assert.deepEqual(b.ExposedPorts, { '80/tcp': {}, '9000/tcp': {} });
    assert.deepEqual(b.Volumes, { '/anon': {} });
    assert.deepEqual(b.Entrypoint, ['']);
    assert.equal(b.WorkingDir, '/w');
    assert.equal(b.User, '1:1');
    assert.equal(b.StopSignal, 'SIGINT');
    assert.equal(b.StopTimeout, 3);
    assert.deepEqual(b.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5e9 });
    assert.equal(b.AttachStdout, false);
    const h = b.HostConfig;
    assert.deepEqual(h.Binds, ['/h:/c:ro']);
    assert.deepEqual(h.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    assert.deepEqual(h.Tmpfs, { '/run': 'size=1m' });
    assert.equal(h.ReadonlyRootfs, true);
    assert.equal(h.Memory, 1024 ** 3);
    assert.equal(h.NanoCpus, 5e8);
    assert.deepEqual(h.Ulimits, [{ Name: 'nofile', Soft: 10, Hard: 20 }]);
    assert.deepEqual(h.CapAdd, ['NET_ADMIN']);
    assert.deepEqual(h.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
    assert.equal(h.Init, true);
    assert.deepEqual(h.Sysctls, { 'net.ipv4.ip_forward': '1' });
    assert.deepEqual(h.ExtraHosts, ['h:1.2.3.4']);
    assert.equal(h.NetworkMode, 'none');
    assert.equal(h.ShmSize, 64 * 1024 * 1024);
    assert.equal(h.OomScoreAdj, 5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const it = parseRun(['-it', 'busybox']);
  const r2 = buildCreate(it.f, it.args, false, {});
  assert.equal(r2.body.OpenStdin, true);
  assert.equal(r2.body.StdinOnce, true);
  assert.equal(r2.body.Tty, true);
  assert.deepEqual(r2.attach, { stdin: true, stdout: true, stderr: true });
  const bad = parseRun(['--rm', '--restart', 'always', 'x']);
  assert.throws(() => buildCreate(bad.f, bad.args, false, {}), /Conflicting options: --restart and --rm/);
  const nh = parseRun(['--no-healthcheck', 'x']);
  assert.deepEqual(buildCreate(nh.f, nh.args, false, {}).body.Healthcheck, { Test: ['NONE'] });
});

test('sizes and durations', () => {
  assert.equal(parseBytes('1g'), 1024 ** 3);
  assert.equal(parseBytes('64m'), 64 * 1024 ** 2);
  assert.equal(parseBytes('100'), 100);
  assert.equal(parseBytes('1.5k'), 1536);
  assert.equal(parseBytes('10MiB'), 10 * 1024 ** 2);
  assert.equal(parseBytes('abc'), null);
  assert.equal(parseDuration('1m30s'), 90e9);
  assert.equal(parseDuration('500ms'), 5e8);
  assert.equal(parseDuration('1.5h'), 5400e9);
  assert.equal(parseDuration('10'), null);
  assert.equal(humanSize(1240000, 3), '1.24MB');
  assert.equal(humanSize(4261000, 3), '4.26MB');
  assert.equal(humanSize(0, 3), '0B');
  assert.equal(humanSize(999), '999B');
  assert.equal(humanSize(1000), '1kB');
  assert.equal(humanSize(123456789), '123.5MB');
  assert.equal(bytesSize(1536), '1.5KiB');
  assert.equal(bytesSize(2 * 1024 ** 3), '2GiB');
});

test('relative times like go-units HumanDuration', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(5000), '5 seconds');
  assert.equal(humanDuration(65000), 'About a minute');
  assert.equal(humanDuration(10 * 60000), '10 minutes');
  assert.equal(humanDuration(3600000), 'About an hour');
  assert.equal(humanDuration(5 * 3600000), '5 hours');
  assert.equal(humanDuration(3 * 86400000), '3 days');
  assert.equal(humanDuration(21 * 86400000), '3 weeks');
  assert.equal(humanDuration(90 * 86400000), '3 months');
  assert.equal(humanDuration(800 * 86400000), '2 years');
  assert.equal(ago(1000, 1000 * 1000 + 5000), '5 seconds ago');
  assert.equal(goTimeString(0), '1970-01-01 00:00:00 +0000 UTC');
  assert.equal(timestampArg('1700000000'), '1700000000');
  assert.equal(timestampArg('10s', 20000), '10');
  assert.equal(timestampArg('2024-01-02T03:04:05Z'), String(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000));
});

test('templates: fields, json, functions, control flow', () => {
  const data = { State: { Status: 'running', Pid: 42 }, Names: ['a', 'b'], Labels: { k: 'v', 'com.x': 'y' }, Name: 'Web', Empty: '', N: 3.5, Nil: null };
  const t = (s: string, d: unknown = data) => Template.parse(s).execute(d);
  assert.equal(t('{{.State.Status}}'), 'running');
  assert.equal(t('{{.State.Pid}}'), '42');
  assert.equal(t('{{json .State}}'), '{"Status":"running","Pid":42}');
  assert.equal(t('{{.Names}}'), '[a b]');
  assert.equal(t('{{join .Names ","}}'), 'a,b');
  assert.equal(t('{{index .Labels "com.x"}}'), 'y');
  assert.equal(t('{{lower .Name}} {{upper .Name}} {{title "hello world"}}'), 'web WEB Hello World');
  assert.equal(t('{{println "x"}}'), 'x\n');
  assert.equal(t('{{if .Empty}}yes{{else}}no{{end}}'), 'no');
  assert.equal(t('{{if eq .State.Status "running"}}up{{else if eq .State.Status "exited"}}down{{else}}?{{end}}'), 'up');
  assert.equal(t('{{range .Names}}[{{.}}]{{end}}'), '[a][b]');
  assert.equal(t('{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}'), 'com.x=y;k=v;');
  assert.equal(t('{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}'), '0:a 1:b ');
  assert.equal(t('{{with .State}}{{.Pid}}{{end}}'), '42');
  assert.equal(t('{{.Missing}}'), '<no value>');
  assert.equal(t('{{.Nil}}'), '<nil>');
  assert.equal(t('{{.N}}'), '3.5');
  assert.equal(t('{{.Labels}}'), 'map[com.x:y k:v]');
  assert.equal(t('{{.Name | lower}}'), 'web');
  assert.equal(t('{{len .Names}} {{printf "%s-%d" .Name 7}}'), '2 Web-7');
  assert.equal(t('{{$x := .Name}}{{$x}}'), 'Web');
  assert.equal(t('{{- "a" -}}  {{ "b" }}'), 'ab');
  assert.equal(t('{{split "a:b" ":"}}'), '[a b]');
  assert.equal(t('{{if and .Name (not .Empty)}}ok{{end}}'), 'ok');
  assert.equal(t('{{.Label "x"}}', { Label: (k: string) => `L${k}` }), 'Lx');
  assert.throws(() => Template.parse('{{foo .}}'), (e: TemplateError) => e.message === 'template: :1: function "foo" not defined');
  assert.throws(() => Template.parse('{{.ID'), /template: :1: unclosed action/);
  assert.throws(() => Template.parse('{{if .A}}x'), /unexpected EOF/);
  assert.throws(() => Template.parse('{{end}}'), /unexpected \{\{end\}\}/);
});

test('tables: tabwriter layout like docker (minwidth 10, padding 3)', () => {
  assert.equal(tabwrite('CONTAINER ID\tIMAGE\tNAMES\n'), 'CONTAINER ID   IMAGE     NAMES\n');
  assert.equal(tabwrite('a\tbb\tc\nlonger-cell-here\tx\ty\n'), 'a                  bb        c\nlonger-cell-here   x         y\n');
  const out = renderList(undefined, '{{.ID}}\t{{.Name}}', [{ ID: 'abc', Name: 'n1' }], { ID: 'ID', Name: 'NAME' });
  assert.equal(out, 'ID        NAME\nabc       n1\n');
  assert.equal(renderList('{{.Name}}', '', [{ Name: 'x' }, { Name: 'y' }], {}), 'x\ny\n');
  assert.equal(renderList('table {{.Name}}\\t{{.ID}}', '', [{ Name: 'x', ID: '1' }], { Name: 'NAME', ID: 'ID' }), 'NAME      ID\nx         1\n');
  assert.equal(renderList('json', '', [{ A: 1 }], {}), '{"A":1}\n');
  assert.throws(() => renderList('{{nope}}', '', [], {}), (e: FormatError) => e.message === 'failed to parse template: template: :1: function "nope" not defined');
  assert.equal(ellipsis('sh -c while true; do sleep 1; done', 20), 'sh -c while true; d…');
});

test('ps rows: truncated id, quoted command, names, ports, relative time', () => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 10);
  const c = containerContext(
    {
      Id: 'a'.repeat(64), Names: ['/web', '/other/link'], Image: 'busybox', Command: 'sleep 1000000000000000000', Created: now / 1000 - 5, Status: 'Up 3 seconds', State: 'running',
      Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 443, Type: 'tcp' }], Labels: { a: 'b' },
    },
    true,
    now,
  );
  assert.equal(c.ID, 'aaaaaaaaaaaa');
  assert.equal(c.Command, '"sleep 1000000000000…"');
  assert.equal(c.Names, 'web');
  assert.equal(c.RunningFor, '5 seconds ago');
  assert.equal(c.Ports, '0.0.0.0:8080->80/tcp, 443/tcp');
  assert.equal(c.Label('a'), 'b');
  assert.equal(formatPorts([{ IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]), '[::]:8080->80/tcp');
  assert.equal(JSON.parse(Template.parse('{{json .}}').execute(c)).Names, 'web');
});

test('image rows: tags, <none>, digests', () => {
  const rows = imageRows(
    [
      { Id: `sha256:${'b'.repeat(64)}`, RepoTags: ['busybox:latest', 'busybox:1'], RepoDigests: ['busybox@sha256:cc'], Created: 0, Size: 4261000 },
      { Id: `sha256:${'c'.repeat(64)}`, RepoTags: null, RepoDigests: null, Created: 0, Size: 10 },
    ],
    { trunc: true, digests: true },
  );
  assert.equal(rows.length, 3);
  assert.deepEqual([rows[0]!.Repository, rows[0]!.Tag, rows[0]!.ID, rows[0]!.Size, rows[0]!.Digest], ['busybox', 'latest', 'bbbbbbbbbbbb', '4.26MB', 'sha256:cc']);
  assert.deepEqual([rows[2]!.Repository, rows[2]!.Tag], ['<none>', '<none>']);
});

test('stdcopy demux across chunk boundaries; system error frames', async () => {
  const out = new PassThrough();
  const err = new PassThrough();
  const sys: string[] = [];
  const d = new Demuxer(out, err, (m) => sys.push(m));
  const bytes = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world'), frame(3, 'boom')]);
  for (let i = 0; i < bytes.length; i += 3) d.write(bytes.subarray(i, i + 3));
  await new Promise((r) => d.end(r));
  assert.equal(out.read()?.toString(), 'hello world');
  assert.equal(err.read()?.toString(), 'oops');
  assert.deepEqual(sys, ['boom']);
  assert.deepEqual(demuxAll(frame(2, 'x')).map(([s, b]) => [s, b.toString()]), [[2, 'x']]);
  const bad = new Demuxer(out, err);
  bad.on('error', () => {});
  await assert.rejects(new Promise((resolve, reject) => bad.write(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]), (e) => (e ? reject(e) : resolve(null)))), /Unrecognized input header: 9/);
});

test('progress: plain lines off a TTY, redrawn per-layer lines with bars on a TTY', () => {
  let plain = '';
  const p = new ProgressRenderer((s) => (plain += s), false);
  p.feed('{"status":"Pulling from library/busybox","id":"latest"}\n{"status":"Pulling fs layer","id":"abc"}\n{"status":"Downloading","id":"abc","progressDetail":{"current":5,"total":10}}\n');
  p.feed('{"status":"Pull complete","id":"abc"}\n{"status":"Digest: sha256:x"}\n');
  assert.equal(plain, 'latest: Pulling from library/busybox\nabc: Pulling fs layer\nabc: Pull complete\nDigest: sha256:x\n');
  let tty = '';
  const t = new ProgressRenderer((s) => (tty += s), true, 120);
  t.write({ status: 'Pulling fs layer', id: 'abc' });
  t.write({ status: 'Pulling fs layer', id: 'def' });
  t.write({ status: 'Downloading', id: 'abc', progressDetail: { current: 500000, total: 1000000 } });
  // docker's bar where the terminal has room for it (its JSONProgress.String at > 110 columns)
  assert.ok(tty.includes(`\x1b[2A\x1b[2K\rabc: Downloading ${progressBar({ current: 500000, total: 1000000 }, 120)}\r\x1b[2B`), JSON.stringify(tty));
  assert.ok(tty.includes('abc: Downloading [=========================>                         ]    500kB/1MB'));
  assert.equal(progressBar({ current: 1, total: 2 }, 80), '      1B/2B');
  // The speed appears once the same transfer was seen for half a second or more.
  let clock = 0;
  let fast = '';
  const f = new ProgressRenderer((s) => (fast += s), true, 80, () => clock);
  f.write({ status: 'Downloading', id: 'l1', progressDetail: { current: 1_000_000, total: 49_100_000 } });
  clock = 2000;
  f.write({ status: 'Downloading', id: 'l1', progressDetail: { current: 12_300_000, total: 49_100_000 } });
  assert.equal(fast, 'l1: Downloading [>                                 ]      1MB/49.1MB\n\x1b[1A\x1b[2K\rl1: Downloading [========>                         ]   12.3MB/49.1MB  5.65MB/s\r\x1b[1B');
  assert.ok(fast.split('\n').every((l) => l.replace(/\x1b\[[0-9]*[A-Z]|\r/g, '').length < 80), 'fits the terminal');
  // Narrow terminals drop the bar, never the counts; a finished transfer shows no speed.
  assert.equal(progressLine({ current: 5, total: 10 }, 20), '      5B/10B');
  assert.equal(progressLine({ current: 10, total: 10 }, 40, 1000), '[=============>]      10B/10B'); // full: docker's `=…=>`
  assert.equal(progressLine({ current: 0, total: 0 }, 80), '');
  assert.throws(() => t.write({ error: 'x', errorDetail: { message: 'manifest unknown' } }), (e: ProgressError) => e.message === 'manifest unknown');
  assert.throws(() => t.write({ error: 'x', errorDetail: { message: 'step failed', code: 7 } }), (e: ProgressError) => e.code === 7);
});

test('progress on a terminal: the width is asked at each line (a resize is followed), a line is cut to it, and a line that is no layer\'s ends the redrawing above it (pull -a)', () => {
  let out = '';
  let width = 120;
  const r = new ProgressRenderer((s) => (out += s), true, () => width);
  const visible = (s: string) => s.replace(/\x1b\[[0-9]*[A-Z]|\r/g, '');
  r.write({ status: 'Downloading', id: 'abc', progressDetail: { current: 500000, total: 1000000 } });
  assert.equal(out, `abc: Downloading [=========================>${' '.repeat(25)}]    500kB/1MB\n`);
  out = '';
  width = 60; // resized
  r.write({ status: 'Downloading', id: 'abc', progressDetail: { current: 600000, total: 1000000 } });
  assert.equal(out, `\x1b[1A\x1b[2K\rabc: Downloading [=========>${' '.repeat(6)}]    600kB/1MB\r\x1b[1B`);
  assert.ok(visible(out).length < 60);
  out = '';
  width = 30; // narrower than the line: cut, so that it does not wrap (the cursor moves count one row per line)
  r.write({ status: 'Downloading', id: 'abc', progressDetail: { current: 700000, total: 1000000 } });
  assert.equal(visible(out), 'abc: Downloading    700kB/1MB');
  assert.equal(visible(out).length, 29);
  // A status line without id: the layers above are not redrawn any more; the same id after it
  // gets a new line (docker's CLI: pull -a, the next tag's layers).
  width = 120;
  r.write({ status: 'Digest: sha256:x' });
  out = '';
  r.write({ status: 'Already exists', id: 'abc', progressDetail: {} });
  assert.equal(out, 'abc: Already exists\n');
  out = '';
  r.write({ status: 'Pull complete', id: 'abc', progressDetail: {} });
  assert.equal(out, '\x1b[1A\x1b[2K\rabc: Pull complete\r\x1b[1B');
});

test('client helpers: query encoding, version negotiation, host resolution', () => {
  assert.equal(encodeQuery({ stdout: true, stderr: true, stream: true }), '?stderr=1&stdout=1&stream=1');
  assert.equal(encodeQuery({ fromImage: '127.0.0.1:5000/busybox', tag: 'latest' }), '?fromImage=127.0.0.1%3A5000%2Fbusybox&tag=latest');
  assert.equal(encodeQuery({ a: undefined }), '');
  assert.equal(minVersion('1.44', '1.41'), '1.41');
  assert.equal(minVersion('1.44', '1.45'), '1.44');
  assert.equal(minVersion('1.44', '1.9'), '1.9');
  const g = { hosts: [], tls: false, tlsverify: false };
  assert.deepEqual(resolveHost(g, {}), { host: 'unix:///run/hako.sock', explicit: false, tls: undefined });
  assert.equal(resolveHost(g, { DOCKER_HOST: 'unix:///x.sock' }).host, 'unix:///x.sock');
  assert.equal(resolveHost(g, { HAKO_HOST: 'tcp://1.2.3.4:2375', DOCKER_HOST: 'unix:///x' }).host, 'tcp://1.2.3.4:2375');
  assert.equal(resolveHost({ ...g, hosts: ['/y.sock'] }, { HAKO_HOST: 'unix:///z' }).host, 'unix:///y.sock');
  assert.equal(resolveHost({ ...g, hosts: ['/y.sock'] }, {}).explicit, true);
  assert.deepEqual(splitReference('127.0.0.1:5000/busybox'), { name: '127.0.0.1:5000/busybox', tag: 'latest' });
  assert.deepEqual(splitReference('busybox:1.36'), { name: 'busybox', tag: '1.36' });
  assert.deepEqual(splitReference('busybox@sha256:abc'), { name: 'busybox', tag: 'sha256:abc' });
  assert.equal(filtersQuery(['status=running', 'label=a=b']), '{"status":{"running":true},"label":{"a=b":true}}');
});

test('cp CONTAINER:PATH - writes the tar to a terminal as docker\'s cp does; save and export to a terminal are refused in docker\'s words', async () => {
  const tar = Buffer.from('a tar of /etc');
  const asked: string[] = [];
  const printed: Buffer[] = [];
  const client = {
    collected: async (method: string, path: string, opts: { query?: Record<string, unknown>; onBody?: (b: Buffer) => unknown }) => {
      asked.push(`${method} ${path} ${JSON.stringify(opts.query ?? {})}`);
      await opts.onBody?.(tar);
      return { body: Promise.resolve(Buffer.alloc(0)) };
    },
  };
  const ctx = (args: string[]) =>
    ({
      args,
      flags: new Flags(parseFlags(specs.save!, []), specs.save!.flags),
      client: async () => client,
      print: (b: string | Uint8Array) => printed.push(Buffer.from(b)),
      printErr: () => undefined,
      backlog: () => null,
      terminalColumns: () => 80, // stdout is a terminal
    }) as unknown as Ctx;
  assert.equal(await cp(ctx(['c1:/etc', '-'])), 0);
  assert.deepEqual(asked, ['GET /containers/c1/archive {"path":"/etc"}']);
  assert.deepEqual(Buffer.concat(printed), tar);
  for (const [handler, args] of [[save, ['x']], [export_, ['c1']]] as const) {
    await assert.rejects(handler(ctx([...args])), (e: ExitError) => e.code === 1 && e.message === 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
  assert.equal(asked.length, 1, 'nothing asked of the daemon for a refused save or export');
});

test('a registry refusing credentials (dockerd\'s words from hakod) gets hako\'s hint naming the fix and the registry; other errors are left as they are', () => {
  assert.equal(withLoginHint('Error response from daemon: Get "http://127.0.0.1:5001/v2/hw/manifests/1": no basic auth credentials'),
    'Error response from daemon: Get "http://127.0.0.1:5001/v2/hw/manifests/1": no basic auth credentials (run hako login 127.0.0.1:5001)');
  assert.equal(withLoginHint('Error response from daemon: unauthorized: authentication required'), 'Error response from daemon: unauthorized: authentication required (run hako login)');
  assert.equal(withLoginHint('no basic auth credentials'), 'no basic auth credentials (run hako login)');
  assert.equal(withLoginHint("Error response from daemon: pull access denied for reg.example:5000/private/bb, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"),
    "Error response from daemon: pull access denied for reg.example:5000/private/bb, repository does not exist or may require 'docker login': denied: requested access to the resource is denied (run hako login reg.example:5000)");
  assert.match(withLoginHint("Error response from daemon: pull access denied for busybox, repository does not exist or may require 'docker login': denied: x"), /\(run hako login\)$/);
  const plain = 'Error response from daemon: manifest for 127.0.0.1:5000/nope:latest not found: manifest unknown: manifest unknown';
  assert.equal(withLoginHint(plain), plain);
});
