// Image build from Dockerfiles (the classic builder) through a real hakod: POST /build with a
// context tar, a busybox base image made locally (test/helpers/images.ts), the layer cache, multi-stage
// COPY --from, a failing RUN, .dockerignore, a malicious context; the docker CLI (classic and
// default builder) and docker-py when they are installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DOCKER, hasDocker, hasDockerPy, hasEngine, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxImage, tarDir, type BuiltImage } from '../helpers/images.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { retryUntil } from '../helpers/retry.js';
import { makeTar } from '../helpers/tar.js';
import { nextWholeSecond } from '../helpers/clock.js';
import { hasHtpasswd, hasRegistry, startRegistry } from '../helpers/registry.js';
import { pushLayout } from '../helpers/images.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import { request } from 'node:http';

const hasGit = (() => {
  try {
    execFileSync('git', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

const skip = !isRoot ? 'builds run containers: root is needed' : !hasEngine ? 'the container engine is not built' : false;

let d: TestDaemon;
let busybox: BuiltImage;
const temps: Array<{ cleanup(): void }> = [];

before(async () => {
  if (skip) return;
  busybox = busyboxImage();
  d = await startDaemon();
  const r = await d.request('POST', '/images/load?quiet=1', tarDir(busybox.dir), { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200, r.body.toString());
  const id = busybox.manifests[0]!.config.digest;
  const t = await d.request('POST', `/images/${id}/tag?repo=busybox&tag=latest`);
  assert.equal(t.status, 201, t.body.toString());
});

after(async () => {
  try {
    if (d) {
      const code = await d.stop();
      assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
      assert.doesNotMatch(d.log(), /BUG: /);
    }
  } finally {
    busybox?.cleanup();
    for (const t of temps) t.cleanup();
  }
});

/** A context directory with these files (a Buffer/string each; `dir/` keys make directories). */
function context(files: Record<string, string>): string {
  const t = tempDir('hako-build-ctx-');
  temps.push(t);
  for (const [name, body] of Object.entries(files)) {
    const p = join(t.path, name);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, body);
  }
  return t.path;
}

interface BuildResult {
  status: number;
  lines: Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  error?: string;
  id?: string;
}

async function build(dir: string, query = '', opts: { gzip?: boolean; xz?: boolean } = {}): Promise<BuildResult> {
  const tar = tarDir(dir);
  const body = opts.gzip ? gzipSync(tar) : opts.xz ? execFileSync('xz', ['-c'], { input: tar }) : tar;
  const r = await d.request('POST', `/build?${query}`, body, { 'Content-Type': 'application/x-tar' });
  const lines = r.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const text = lines.map((l) => l.stream ?? '').join('');
  // An error before any output is an HTTP error ({"message"}), as dockerd's.
  const err = r.status === 200 ? lines.find((l) => l.error) : { error: lines[0]?.message };
  const aux = lines.filter((l) => l.aux).pop();
  return { status: r.status, lines, text, ...(err ? { error: err.error } : {}), ...(aux ? { id: aux.aux.ID } : {}) };
}

async function containers(): Promise<string[]> {
  const r = await d.request('GET', '/containers/json?all=1');
  return JSON.parse(r.body.toString()).map((c: { Id: string }) => c.Id);
}

async function run(image: string, cmd: string): Promise<string> {
  const c = await d.request('POST', '/containers/create', JSON.stringify({ Image: image, Cmd: ['sh', '-c', cmd] }), { 'Content-Type': 'application/json' });
  assert.equal(c.status, 201, c.body.toString());
  const id = JSON.parse(c.body.toString()).Id;
  await d.request('POST', `/containers/${id}/start`);
  await d.request('POST', `/containers/${id}/wait`);
  const logs = await d.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
  await d.request('DELETE', `/containers/${id}?force=1`);
  // Strip the 8-byte stdcopy headers.
  let out = '';
  const b = logs.body;
  for (let i = 0; i + 8 <= b.length; ) {
    const n = b.readUInt32BE(i + 4);
    out += b.subarray(i + 8, i + 8 + n).toString();
    i += 8 + n;
  }
  return out;
}

async function inspectImage(ref: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await d.request('GET', `/images/${ref}/json`);
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString());
}

/** The first steps of the app Dockerfile two tests build (the second adds every other instruction). */
const APP_STEPS = [
  'FROM busybox',
  'ARG GREETING=hello',
  'ENV APP=/app \\',
  '    MODE="two words"',
  'WORKDIR $APP',
  'COPY a.txt sub/ ./',
  'RUN echo "$GREETING from $(pwd)" > out.txt && echo to-stderr >&2',
  'LABEL version=1 "quoted key"=x',
  'EXPOSE 8080/tcp',
];

test('a multi-step build: docker\'s lines, config, history, layers; the rebuild uses the cache; a changed file does not', { skip }, async () => {
  const dir = context({
    Dockerfile: [
      ...APP_STEPS,
      'CMD ["cat", "out.txt"]',
      '',
    ].join('\n'),
    'a.txt': 'A\n',
    'sub/b.txt': 'B\n',
  });
  const r = await build(dir, 't=built:v1&buildargs=' + encodeURIComponent(JSON.stringify({ GREETING: 'hi' })));
  assert.equal(r.status, 200);
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /^Step 1\/9 : FROM busybox\n ---> [0-9a-f]{12}\nStep 2\/9 : ARG GREETING=hello\n ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12}\n/);
  assert.match(r.text, /Step 4\/9 : WORKDIR \$APP\n/);
  assert.match(r.text, /Step 5\/9 : COPY a.txt sub\/ .\/\n ---> [0-9a-f]{12}\nStep 6/, 'COPY shows no container');
  assert.ok(r.lines.some((l) => l.stream === '\u001b[91mto-stderr\n\u001b[0m'), 'stderr in red');
  assert.deepEqual(r.lines.slice(0, 2), [{ stream: 'Step 1/9 : FROM busybox' }, { stream: '\n' }], 'the step and its newline apart, as dockerd');
  assert.match(r.text, /Successfully built ([0-9a-f]{12})\nSuccessfully tagged built:v1\n$/);
  assert.ok(r.id?.startsWith('sha256:'));
  assert.equal(r.text.match(/Successfully built (\w+)/)![1], r.id!.slice(7, 19));
  const img = await inspectImage('built:v1');
  assert.equal(img.Id, r.id);
  assert.deepEqual(img.Config.Cmd, ['cat', 'out.txt']);
  assert.equal(img.Config.WorkingDir, '/app');
  assert.ok(img.Config.Env.includes('MODE=two words'));
  assert.deepEqual(img.Config.Labels, { version: '1', 'quoted key': 'x' });
  assert.deepEqual(Object.keys(img.Config.ExposedPorts), ['8080/tcp']);
  // busybox's layer, then WORKDIR (mkdir /app), COPY and RUN: three layers more.
  assert.equal(img.RootFS.Layers.length, 4);
  assert.equal(await run('built:v1', 'cat out.txt a.txt b.txt; stat -c %u:%g a.txt'), 'hi from /app\nA\nB\n0:0\n');
  const hist = JSON.parse((await d.request('GET', '/images/built:v1/history')).body.toString());
  assert.equal(hist[0].CreatedBy, '/bin/sh -c #(nop)  CMD ["cat" "out.txt"]');
  assert.match(hist.find((h: { CreatedBy: string }) => h.CreatedBy.includes('RUN') || h.CreatedBy.includes('GREETING=hi')).CreatedBy, /^\|1 GREETING=hi \/bin\/sh -c echo/);
  assert.match(hist.find((h: { CreatedBy: string }) => h.CreatedBy.includes('COPY')).CreatedBy, /^\/bin\/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in \.\/ $/);
  assert.deepEqual(await containers(), [], 'intermediate containers removed');

  // The same build again: every step from the cache, the same image.
  const again = await build(dir, 't=built:v2&buildargs=' + encodeURIComponent(JSON.stringify({ GREETING: 'hi' })));
  assert.equal(again.error, undefined, again.text);
  assert.equal(again.id, r.id);
  assert.equal(again.text.match(/ ---> Using cache\n/g)?.length, 8, again.text);
  assert.doesNotMatch(again.text, /Running in/);
  // A context file changes: COPY and what follows run again; what comes before is cached.
  writeFileSync(join(dir, 'sub', 'b.txt'), 'B2\n');
  const changed = await build(dir, 'buildargs=' + encodeURIComponent(JSON.stringify({ GREETING: 'hi' })));
  assert.equal(changed.error, undefined, changed.text);
  assert.notEqual(changed.id, r.id);
  assert.equal(changed.text.match(/ ---> Using cache\n/g)?.length, 3, changed.text);
  assert.match(changed.text, /Step 5\/9 : COPY a.txt sub\/ .\/\n ---> [0-9a-f]{12}\n/);
  // --no-cache: nothing from the cache.
  const nocache = await build(dir, 'nocache=1&q=1');
  assert.equal(nocache.lines.length, 1, JSON.stringify(nocache.lines));
  assert.match(nocache.lines[0]!.stream, /^sha256:[0-9a-f]{64}\n$/);
  assert.deepEqual(await containers(), []);
});

test('COPY and ADD stage their files under <root>/builder, not the host\'s temp dir: a daemon whose TMPDIR does not exist builds them', { skip }, async () => {
  // (staged in the host's /tmp, a COPY cut short by a crash stayed there for good; start-up wipes
  // <root>/builder)
  const tmp = tempDir('hako-build-tmp-');
  temps.push(tmp);
  const missing = join(tmp.path, 'missing');
  const d2 = await startDaemon([], { env: { ...process.env, TMPDIR: missing } });
  try {
    const r = await d2.request('POST', '/images/load?quiet=1', tarDir(busybox.dir), { 'Content-Type': 'application/x-tar' });
    assert.equal(r.status, 200, r.body.toString());
    const dir = context({ 'Dockerfile': `FROM ${busybox.manifests[0]!.config.digest}\nCOPY a.txt /a.txt\nADD b.txt /b/\n`, 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const b = await d2.request('POST', '/build?t=staged:1', tarDir(dir), { 'Content-Type': 'application/x-tar' });
    const lines = b.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { error?: string; aux?: { ID: string } });
    assert.equal(b.status, 200, b.body.toString());
    assert.equal(lines.find((l) => l.error)?.error, undefined, b.body.toString());
    assert.ok(lines.some((l) => l.aux?.ID), b.body.toString());
    assert.ok(!existsSync(missing));
    // Nothing staged stays beneath the builder's dir either.
    const left = existsSync(join(d2.root, 'builder')) ? readdirSync(join(d2.root, 'builder')) : [];
    assert.deepEqual(left, []);
  } finally {
    assert.equal(await d2.stop(), 0);
  }
});

test('multi-stage: COPY --from a named stage and by index, --target, a gzip context', { skip }, async () => {
  const dir = context({
    Dockerfile: [
      'ARG BASE=busybox',
      'FROM ${BASE} AS builder',
      'RUN mkdir -p /out && echo built > /out/artifact && ln -s artifact /out/link',
      'FROM $BASE',
      'COPY --from=builder /out/artifact /usr/share/',
      'COPY --from=0 /out /copied',
      'COPY --from=builder /out/link /bin/busybox /via/',
      'COPY --from=busybox /etc/pass* /fromimage/',
      'FROM busybox AS unused',
      'RUN false',
    ].join('\n'),
  });
  const r = await build(dir, 't=multi&target=' + encodeURIComponent(''), { gzip: true });
  assert.equal(r.error, 'The command \'/bin/sh -c false\' returned a non-zero code: 1', 'without --target the last stage runs');
  const ok = await build(context({ Dockerfile: readDf(dir).replace(/FROM busybox AS unused\nRUN false/, '') }), 't=multi', { gzip: true });
  assert.equal(ok.error, undefined, ok.text);
  assert.equal(ok.lines.filter((l) => l.aux).length, 2, 'an aux ID per stage');
  assert.equal(await run('multi', 'cat /usr/share/artifact /copied/artifact /via/link /fromimage/passwd | head -4; readlink /copied/link; test -x /via/busybox && echo bin-copied'), 'built\nbuilt\nbuilt\nroot:x:0:0:root:/root:/bin/sh\nartifact\nbin-copied\n');
  const t = await build(dir, 'target=builder&t=onlybuilder', { xz: true }); // an xz context, as dockerd's DecompressStream takes
  assert.equal(t.error, undefined, t.text);
  assert.match(t.text, /^Step 1\/3 : ARG BASE=busybox\nStep 2\/3 : FROM \$\{BASE\} AS builder\n/, 'ARGs before FROM are steps, as dockerd counts them');
  // The failed RUN above left its container, as dockerd's --rm (not --force-rm) does.
  const left = await containers();
  assert.equal(left.length, 1);
  await d.request('DELETE', `/containers/${left[0]}?force=1`);
});

function readDf(dir: string): string {
  return execFileSync('cat', [join(dir, 'Dockerfile')]).toString();
}

test('a failing RUN: docker\'s error with the exit code; --force-rm leaves no container', { skip }, async () => {
  // (The first RUN writes one character in two writes: it arrives whole.)
  const dir = context({ Dockerfile: "FROM busybox\nRUN printf '\\303'; sleep 0.2; printf '\\251\\n'\nRUN exit 3\nRUN echo never\n" });
  const r = await build(dir, 'forcerm=1&t=never');
  assert.equal(r.status, 200);
  assert.match(r.text, /\n\u00e9\n/);
  assert.equal(r.error, "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
  const err = r.lines.find((l) => l.error)!;
  assert.deepEqual(err.errorDetail, { code: 3, message: r.error });
  assert.doesNotMatch(r.text, /never/);
  assert.deepEqual(await containers(), []);
  assert.equal((await d.request('GET', '/images/never/json')).status, 404);
  // Errors that name the line, before anything runs: 400, as dockerd.
  const bad = await build(context({ Dockerfile: 'FROM busybox\n\nFOO bar\n' }));
  assert.equal(bad.status, 400);
  assert.equal(bad.error, 'dockerfile parse error line 3: unknown instruction: FOO');
  const target = await build(context({ Dockerfile: 'FROM busybox\n' }), 'target=zz');
  assert.deepEqual([target.status, target.error], [400, 'failed to reach build target zz in Dockerfile']);
  const nodf = await build(context({ Dockerfile: 'FROM busybox\n' }), 'dockerfile=nosuch');
  assert.deepEqual([nodf.status, nodf.error], [500, 'Cannot locate specified Dockerfile: nosuch']);
  const q = await build(context({ Dockerfile: 'FROM busybox\nRUN false\n' }), 'q=1&forcerm=1');
  assert.match(q.text, /Step 2\/2 : RUN false/, 'q: the held-back output comes with the error');
});

test('.dockerignore, ADD of a local tar, a malicious context', { skip }, async () => {
  const dir = context({
    Dockerfile: 'FROM busybox\nCOPY . /ctx/\nADD files.tar /unpacked/\n',
    '.dockerignore': '# comment\nsecret*\n**/*.log\n!keep.log\n',
    'secret.txt': 'no',
    'a/b/debug.log': 'no',
    'keep.log': 'yes',
    'ok.txt': 'ok',
  });
  const inner = tempDir('hako-build-tar-');
  temps.push(inner);
  writeFileSync(join(inner.path, 'inside.txt'), 'inside\n');
  writeFileSync(join(dir, 'files.tar'), tarDir(inner.path));
  const r = await build(dir, 't=ignored');
  assert.equal(r.error, undefined, r.text);
  assert.equal(await run('ignored', 'cd /ctx && find . -type f | sort; cat /unpacked/inside.txt'), './.dockerignore\n./Dockerfile\n./files.tar\n./keep.log\n./ok.txt\ninside\n');

  const esc = context({ Dockerfile: 'FROM busybox\nCOPY ../../etc/passwd /x\n' });
  const e1 = await build(esc);
  assert.equal(e1.error, 'COPY failed: forbidden path outside the build context: ../../etc/passwd ()');
  const link = context({ Dockerfile: 'FROM busybox\nCOPY link /x\n' });
  symlinkSync('/etc/shadow', join(link, 'link'));
  const e2 = await build(link);
  // The link resolves inside the context (dockerd's FollowSymlinkInScope), where /etc/shadow is not.
  assert.equal(e2.error, 'COPY failed: file not found in build context or excluded by .dockerignore: stat link: file does not exist');
  // A Dockerfile that links out reads inside the context.
  const dflink = context({});
  symlinkSync('/etc/hostname', join(dflink, 'Dockerfile'));
  const e3 = await build(dflink);
  assert.deepEqual([e3.status, e3.error], [500, 'Cannot locate specified Dockerfile: Dockerfile']);
  const badTag = await build(context({ Dockerfile: 'FROM busybox\n' }), 't=' + encodeURIComponent('Bad:Tag:x'));
  assert.equal(badTag.status, 400);
  // A context tar that writes through its own symlinks, up and out: nothing lands outside.
  const outside = tempDir('hako-build-outside-');
  temps.push(outside);
  const evil = makeTar([
    { name: 'Dockerfile', data: 'FROM busybox\nCOPY . /ctx/\n' },
    { name: 'evil', type: 'symlink', linkname: outside.path },
    { name: 'evil/pwned', data: 'x' },
    { name: 'rel', type: 'symlink', linkname: `../../../../../../../..${outside.path}` },
    { name: 'rel/pwned', data: 'x' },
    { name: '../up', data: 'x' },
  ]);
  const ev = await d.request('POST', '/build', evil, { 'Content-Type': 'application/x-tar' });
  assert.equal(ev.status, 400);
  assert.match(JSON.parse(ev.body.toString()).message, /^unpack the build context \(.*Not a directory/s);
  assert.deepEqual(execFileSync('ls', ['-A', outside.path]).toString(), '');
  assert.deepEqual(await containers(), []);
  assert.deepEqual(readdirSync(join(d.root, 'builder')), [], 'no context or staging dir is left');
});

test('ARG scoping, build args, ENV shadowing, ONBUILD triggers: the lines dockerd 20.10 prints', { skip }, async () => {
  const dir = context({
    Dockerfile: [
      'ARG TAG=latest',
      'ARG UNUSEDMETA=m',
      'FROM busybox:${TAG} AS base',
      'ARG TAG',
      'ARG V1',
      'ARG V2=default2',
      'ENV V2=fromenv E1=${V1:-none} E2=${V1:+set}',
      'RUN echo "tag=$TAG v1=$V1 v2=$V2 e1=$E1 e2=$E2 http=$HTTP_PROXY"',
      'ONBUILD RUN echo "trigger ran"',
      'ONBUILD ENV TRIG=1',
      'FROM base',
      'RUN echo "child TRIG=$TRIG"',
    ].join('\n'),
  });
  const r = await build(dir, 'nocache=1&buildargs=' + encodeURIComponent(JSON.stringify({ V1: 'one', HTTP_PROXY: 'http://p', NOPE: 'x' })));
  assert.equal(r.error, undefined, r.text);
  // dockerd 20.10.24's output for the same build, IDs replaced by X.
  const want = `Step 1/12 : ARG TAG=latest
Step 2/12 : ARG UNUSEDMETA=m
Step 3/12 : FROM busybox:\${TAG} AS base
 ---> X
Step 4/12 : ARG TAG
 ---> Running in X
Removing intermediate container X
 ---> X
Step 5/12 : ARG V1
 ---> Running in X
Removing intermediate container X
 ---> X
Step 6/12 : ARG V2=default2
 ---> Running in X
Removing intermediate container X
 ---> X
Step 7/12 : ENV V2=fromenv E1=\${V1:-none} E2=\${V1:+set}
 ---> Running in X
Removing intermediate container X
 ---> X
Step 8/12 : RUN echo "tag=$TAG v1=$V1 v2=$V2 e1=$E1 e2=$E2 http=$HTTP_PROXY"
 ---> Running in X
tag=latest v1=one v2=fromenv e1=one e2=set http=http://p
Removing intermediate container X
 ---> X
Step 9/12 : ONBUILD RUN echo "trigger ran"
 ---> Running in X
Removing intermediate container X
 ---> X
Step 10/12 : ONBUILD ENV TRIG=1
 ---> Running in X
Removing intermediate container X
 ---> X
Step 11/12 : FROM base
# Executing 2 build triggers
 ---> Running in X
trigger ran
Removing intermediate container X
 ---> Running in X
Removing intermediate container X
 ---> X
Step 12/12 : RUN echo "child TRIG=$TRIG"
 ---> Running in X
child TRIG=1
Removing intermediate container X
 ---> X
[Warning] One or more build-args [NOPE] were not consumed
Successfully built X
`;
  assert.equal(r.text.replace(/\b[0-9a-f]{12}\b/g, 'X'), want);
  const hist = JSON.parse((await d.request('GET', `/images/${r.id}/history`)).body.toString()).map((h: { CreatedBy: string }) => h.CreatedBy);
  assert.deepEqual(hist.slice(0, 8), [
    '|0 /bin/sh -c echo "child TRIG=$TRIG"',
    '/bin/sh -c #(nop)  ENV TRIG=1',
    '|0 /bin/sh -c echo "trigger ran"',
    '/bin/sh -c #(nop)  ONBUILD ENV TRIG=1',
    '/bin/sh -c #(nop)  ONBUILD RUN echo "trigger ran"',
    '|2 TAG=latest V1=one /bin/sh -c echo "tag=$TAG v1=$V1 v2=$V2 e1=$E1 e2=$E2 http=$HTTP_PROXY"',
    '/bin/sh -c #(nop)  ENV V2=fromenv E1=one E2=set',
    '/bin/sh -c #(nop)  ARG V2=default2',
  ]);
  // Several in one ARG (dockerd 20.10 takes them): its history and the RUN's prefix as dockerd records them.
  const multi = await build(context({ Dockerfile: 'FROM busybox\nARG A=1 B\nRUN echo "a=$A b=$B"\n' }), 'buildargs=' + encodeURIComponent(JSON.stringify({ B: '2' })));
  assert.match(multi.text, /\na=1 b=2\n/);
  const mh = JSON.parse((await d.request('GET', `/images/${multi.id}/history`)).body.toString()).map((h: { CreatedBy: string }) => h.CreatedBy);
  assert.deepEqual(mh.slice(0, 2), ['|2 A=1 B=2 /bin/sh -c echo "a=$A b=$B"', '/bin/sh -c #(nop)  ARG A=1 B']);
  const chmod = await build(context({ Dockerfile: 'FROM busybox\nCOPY --chmod=755 Dockerfile /x\n' }));
  assert.equal(chmod.error, 'the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled');
});

test('every instruction: the config and history dockerd 20.10 records for the same Dockerfile', { skip }, async () => {
  const dir = context({
    'a.txt': 'A\n',
    'sub/b.txt': 'B\n',
    Dockerfile: [
      ...APP_STEPS,
      'HEALTHCHECK --interval=5s CMD true',
      'SHELL ["/bin/sh", "-xc"]',
      'VOLUME /data',
      'USER 1:1',
      'STOPSIGNAL SIGINT',
      'ONBUILD RUN echo onbuild',
      'ENTRYPOINT ["echo"]',
      'CMD ["cat", "out.txt"]',
    ].join('\n'),
  });
  const r = await build(dir, 'labels=' + encodeURIComponent(JSON.stringify({ lab: 'v' })) + '&buildargs=' + encodeURIComponent(JSON.stringify({ GREETING: 'hi' })));
  assert.equal(r.error, undefined, r.text);
  const img = await inspectImage(r.id!);
  // dockerd 20.10.24's image config for this build (PATH from the base).
  assert.deepEqual(img.Config.User, '1:1');
  assert.deepEqual(img.Config.ExposedPorts, { '8080/tcp': {} });
  assert.deepEqual(img.Config.Env.slice(1), ['APP=/app', 'MODE=two words']);
  assert.deepEqual(img.Config.Entrypoint, ['echo']);
  assert.deepEqual(img.Config.Cmd, ['cat', 'out.txt']);
  assert.deepEqual(img.Config.Volumes, { '/data': {} });
  assert.equal(img.Config.WorkingDir, '/app');
  assert.deepEqual(img.Config.Labels, { lab: 'v', 'quoted key': 'x', version: '1' });
  assert.equal(img.Config.StopSignal, 'SIGINT');
  assert.deepEqual(img.Config.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 5000000000 });
  assert.deepEqual(img.Config.OnBuild, ['RUN echo onbuild']);
  assert.deepEqual(img.Config.Shell, ['/bin/sh', '-xc']);
  assert.deepEqual(img.ContainerConfig.Cmd, ['/bin/sh', '-xc', '#(nop) ', 'LABEL lab=v']);
  assert.equal(img.RootFS.Layers.length, 4);
  const hist = JSON.parse((await d.request('GET', `/images/${r.id}/history`)).body.toString()).map((h: { CreatedBy: string }) => h.CreatedBy);
  assert.deepEqual(hist.slice(0, 16).map((h: string) => h.replace(/multi:[0-9a-f]{64}/, 'multi:X')), [
    '/bin/sh -xc #(nop)  LABEL lab=v',
    '/bin/sh -xc #(nop)  CMD ["cat" "out.txt"]',
    '/bin/sh -xc #(nop)  ENTRYPOINT ["echo"]',
    '/bin/sh -xc #(nop)  ONBUILD RUN echo onbuild',
    '/bin/sh -xc #(nop)  STOPSIGNAL SIGINT',
    '/bin/sh -xc #(nop)  USER 1:1',
    '/bin/sh -xc #(nop)  VOLUME [/data]',
    '/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]',
    '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x00\'}',
    '/bin/sh -c #(nop)  EXPOSE 8080/tcp',
    '/bin/sh -c #(nop)  LABEL version=1 quoted key=x',
    '|1 GREETING=hi /bin/sh -c echo "$GREETING from $(pwd)" > out.txt && echo to-stderr >&2',
    '/bin/sh -c #(nop) COPY multi:X in ./ ',
    '/bin/sh -c #(nop) WORKDIR /app',
    '/bin/sh -c #(nop)  ENV APP=/app MODE=two words',
    '/bin/sh -c #(nop)  ARG GREETING=hello',
  ]);
});

test('COPY destinations, modes, owners and --chown as dockerd 20.10 lays them down', { skip }, async () => {
  const dir = context({ f1: 'f1\n', f2: 'f2\n', 'd/e/x': 'de\n' });
  execFileSync('chmod', ['751', join(dir, 'd', 'e')]);
  execFileSync('chmod', ['755', join(dir, 'd')]);
  symlinkSync('f1', join(dir, 'lnk'));
  writeFileSync(
    join(dir, 'Dockerfile'),
    [
      'FROM busybox',
      'COPY f1 /newfile',
      'COPY f1 /newdir/',
      'COPY d /dcopy',
      'COPY d /usr/',
      'COPY f* /multi/',
      'COPY lnk /lnkcopy',
      'COPY --chown=5:6 d /chowned',
      'COPY --chown=nobody:nogroup f1 /named',
      'WORKDIR /w',
      'COPY f1 rel',
      'COPY f1 /tmp',
      "RUN cd / && find newfile newdir dcopy usr/e multi lnkcopy chowned named w tmp -exec stat -c '%n %F %a %u:%g' {} \\; | sort; stat -c '%n %a %u:%g' /usr",
    ].join('\n'),
  );
  const r = await build(dir);
  assert.equal(r.error, undefined, r.text);
  // What dockerd 20.10.24 printed for the same context and Dockerfile.
  const expected = [
    'chowned directory 755 5:6', 'chowned/e directory 751 5:6', 'chowned/e/x regular file 644 5:6',
    'dcopy directory 755 0:0', 'dcopy/e directory 751 0:0', 'dcopy/e/x regular file 644 0:0',
    'lnkcopy regular file 644 0:0', 'multi directory 755 0:0', 'multi/f1 regular file 644 0:0', 'multi/f2 regular file 644 0:0',
    'named regular file 644 65534:65534', 'newdir directory 755 0:0', 'newdir/f1 regular file 644 0:0', 'newfile regular file 644 0:0',
    'tmp directory 1777 0:0', 'tmp/f1 regular file 644 0:0', 'usr/e directory 751 0:0', 'usr/e/x regular file 644 0:0',
    'w directory 755 0:0', 'w/rel regular file 644 0:0', '/usr 755 0:0',
  ];
  const out = r.text.split('\n').filter((l) => expected.some((e) => e.split(' ')[0] === l.split(' ')[0]));
  assert.deepEqual(out, expected);
  const bad = await build(context({ Dockerfile: 'FROM busybox\nCOPY --chown=nobody Dockerfile /x\n' }));
  assert.equal(bad.error, "unable to convert uid/gid chown string to host mapping: can't find gid for group nobody: no such group: nobody");
  // Intermediate images are hidden from the list unless all=1, as dockerd's.
  const list = JSON.parse((await d.request('GET', '/images/json')).body.toString()) as Array<{ Id: string; RepoTags: string[] }>;
  const all = JSON.parse((await d.request('GET', '/images/json?all=1')).body.toString()) as Array<{ Id: string }>;
  assert.ok(all.length > list.length + 5, `${all.length} vs ${list.length}`);
  assert.ok(list.some((i) => i.Id === r.id), 'the build result (no children) is listed');
  assert.deepEqual(await containers(), []);
});

test('FROM scratch: COPY and config steps without a container, then RUN on the result', { skip }, async () => {
  const dir = context({ Dockerfile: 'FROM busybox AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /bin/\nENV A=b\nWORKDIR /w\nRUN ["/bin/busybox", "sh", "-c", "echo $A > /w/out"]\nCMD ["/bin/busybox", "cat", "/w/out"]\n' });
  const r = await build(dir, 't=fromscratch');
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /Step 2\/7 : FROM scratch\n ---> \nStep 3\/7 : COPY/);
  const img = await inspectImage('fromscratch');
  assert.deepEqual(img.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=b']);
  assert.equal(img.RootFS.Layers.length, 3, 'COPY, WORKDIR and RUN');
  assert.equal(await run('fromscratch', 'x'), '');
  const c = await d.request('POST', '/containers/create', JSON.stringify({ Image: 'fromscratch' }), { 'Content-Type': 'application/json' });
  const id = JSON.parse(c.body.toString()).Id;
  await d.request('POST', `/containers/${id}/start`);
  await d.request('POST', `/containers/${id}/wait`);
  const logs = await d.request('GET', `/containers/${id}/logs?stdout=1`);
  assert.equal(logs.body.subarray(8).toString(), 'b\n');
  await d.request('DELETE', `/containers/${id}?force=1`);
  const again = await build(dir);
  assert.equal(again.id, r.id, 'scratch steps come from the cache too');
  const empty = await build(context({ Dockerfile: 'FROM scratch\n' }));
  assert.equal(empty.error, 'No image was generated. Is your Dockerfile empty?');
  assert.deepEqual(await containers(), []);
});

test('a client that goes away stops the build: the running step is killed and (with forcerm) removed', { skip }, async () => {
  const tar = tarDir(context({ Dockerfile: 'FROM busybox\nRUN echo started; sleep 600\nRUN echo never\n' }));
  await new Promise<void>((resolve, reject) => {
    const req = request({ socketPath: d.socket, method: 'POST', path: '/build?forcerm=1&t=cancelled', headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(tar.length) } }, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (c: string) => {
        text += c;
        // Once the step's output is there, hang up.
        if (text.includes('"started\\n"')) {
          req.destroy();
          resolve();
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (e) => (e.message.includes('socket hang up') || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(tar);
  });
  await retryUntil(async () => {
    const left = await containers();
    if (left.length) throw new Error(`still there: ${left.join(' ')}`);
  }, 'the cancelled build\'s container to go');
  assert.equal((await d.request('GET', '/images/cancelled/json')).status, 404);
});

function docker(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(DOCKER, args, { env, cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('docker build (the real CLI) against hakod: classic and default builder', { skip: skip || (!hasDocker ? `${DOCKER} is missing` : false) }, async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nARG X\nRUN echo "x=$X"\nCOPY f /f\n', f: 'file\n' });
  for (const env of [{ ...d.env, DOCKER_BUILDKIT: '0' }, { ...d.env }]) {
    const r = await docker(['build', '--build-arg', 'X=1', '-t', 'cli:1', '-t', 'cli:2', '--label', 'l=v', dir], env);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${d.log().slice(-2000)}`);
    assert.match(r.stdout, /Sending build context to Docker daemon/);
    assert.match(r.stdout, /Step 5\/5 : LABEL l=v\n/);
    assert.match(r.stdout, /Successfully tagged cli:1\nSuccessfully tagged cli:2\n/);
  }
  const bad = context({ Dockerfile: 'FROM busybox\nRUN exit 2\n' });
  const rb = await docker(['build', '--force-rm', bad], { ...d.env, DOCKER_BUILDKIT: '0' });
  assert.equal(rb.code, 2, rb.stderr);
  assert.match(rb.stderr, /The command '\/bin\/sh -c exit 2' returned a non-zero code: 2/);
  const q = await docker(['build', '-q', dir], { ...d.env, DOCKER_BUILDKIT: '0' });
  assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
});

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');

function hako(args: string[], opts: { cwd?: string; input?: Buffer | string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(process.execPath, [HAKO, ...args], { env: { ...d.env, HAKO_HOST: d.host }, cwd: opts.cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    p.stdin!.end(opts.input ?? '');
  });
}

test('hako build: flags, .dockerignore on the client, -f outside the context, - for a tar or a Dockerfile on stdin, exit codes', { skip }, async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nARG X\nCOPY . /c/\nRUN ls -A /c | tr "\\n" " "; echo "x=$X"\n', '.dockerignore': 'skip.txt\nDockerfile\n', 'skip.txt': 's', 'keep.txt': 'k' });
  const r = await hako(['build', '--build-arg', 'X=7', '-t', 'hb:1', '--label', 'k2=a "b" $c', '--label', 'a=b', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Sending build context to Docker daemon  \d+(\.\d+)?kB\r\r\nStep 1\/5 : FROM busybox\n/);
  // The CLI sends the Dockerfile even when .dockerignore names it; the daemon reads it and then
  // leaves it out of the context, as dockerd's removeDockerfile.
  assert.match(r.stdout, /\n\.dockerignore keep\.txt x=7\n/);
  assert.match(r.stdout, /Step 5\/5 : LABEL a=b k2=a "b" \$c\n/, 'one LABEL step, sorted, as dockerd');
  assert.match(r.stdout, /Successfully tagged hb:1\n$/);
  assert.deepEqual((await inspectImage('hb:1')).Config.Labels, { a: 'b', k2: 'a "b" $c' });
  const other = context({ 'my.Dockerfile': 'FROM busybox\nCMD ["echo", "elsewhere"]\n' });
  const f = await hako(['build', '-q', '-f', join(other, 'my.Dockerfile'), dir]);
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const stdinDf = await hako(['build', '-t', 'hb:stdin', '-'], { input: 'FROM busybox\nRUN echo from-stdin\n' });
  assert.equal(stdinDf.code, 0, stdinDf.stderr);
  assert.match(stdinDf.stdout, /from-stdin\n/);
  const stdinTar = await hako(['build', '-t', 'hb:tar', '-'], { input: tarDir(dir) });
  assert.equal(stdinTar.code, 0, stdinTar.stderr);
  const fail = await hako(['build', '--force-rm', '-'], { input: 'FROM busybox\nRUN exit 4\n' });
  assert.equal(fail.code, 4);
  assert.match(fail.stderr, /The command '\/bin\/sh -c exit 4' returned a non-zero code: 4/);
  // The RUN containers' limits and hosts; --iidfile.
  const iid = join(other, 'iid');
  const lim = await hako(['build', '--no-cache', '--memory', '64m', '--shm-size', '2m', '--add-host', 'buildhost:10.9.8.7', '--ulimit', 'nofile=100:200', '--iidfile', iid, '-'], {
    input: 'FROM busybox\nRUN grep buildhost /etc/hosts; ulimit -n; df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes\n',
  });
  assert.equal(lim.code, 0, lim.stderr);
  assert.match(lim.stdout, /10\.9\.8\.7\s+buildhost\n100\n2048\n67108864\n/);
  assert.match(execFileSync('cat', [iid]).toString(), /^sha256:[0-9a-f]{64}$/);
  assert.equal(execFileSync('cat', [iid]).toString(), (await inspectImage(execFileSync('cat', [iid]).toString())).Id);
  const bad = await hako(['build', '-'], { input: 'FROM busybox\nBOGUS x\n' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /dockerfile parse error line 2: unknown instruction: BOGUS/);
  assert.deepEqual(await containers(), [], (await d.request('GET', '/containers/json?all=1')).body.toString());
});


test('FROM an image that is not here: pulled, with the credentials the docker CLI sends in X-Registry-Config', { skip: skip || (!hasDocker ? `${DOCKER} is missing` : !hasRegistry ? 'docker-registry is not installed' : !hasHtpasswd ? 'htpasswd is missing (apt-get install apache2-utils)' : false) }, async () => {
  const reg = await startRegistry({ basic: { user: 'builder', password: 'pw-123' } });
  try {
    const authed = new RegistryClient({ domain: reg.host, credentials: () => ({ username: 'builder', password: 'pw-123' }) });
    await pushLayout(busybox, reg.host, 'private/base', 'latest', authed);
    await pushLayout(busybox, reg.host, 'private/base2', 'latest', authed);
    authed.close();
    const dir = context({ Dockerfile: `FROM ${reg.host}/private/base\nRUN echo pulled-base\n` });
    const env = { ...d.env, DOCKER_BUILDKIT: '0' };
    const denied = await docker(['build', dir], env);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /no basic auth credentials/);
    const login = await new Promise<number>((resolve) => {
      const p = execFile(DOCKER, ['login', '-u', 'builder', '--password-stdin', reg.host], { env }, (err) => resolve(err ? 1 : 0));
      p.stdin!.end('pw-123\n');
    });
    assert.equal(login, 0);
    const r = await docker(['build', '-t', 'frompulled', dir], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Step 1\/2 : FROM 127\.0\.0\.1:\d+\/private\/base\nlatest: Pulling from private\/base\n[0-9a-f]{12}: (Already exists|Pull complete)\nDigest: sha256:[0-9a-f]{64}\nStatus: Downloaded newer image for 127\.0\.0\.1:\d+\/private\/base:latest\n ---> [0-9a-f]{12}\n/);
    assert.match(r.stdout, /pulled-base\n/);
    // hako build sends the same credentials (from the config docker login wrote).
    const h = await hako(['build', '-t', 'frompulled2', '-'], { input: `FROM ${reg.host}/private/base2\nRUN echo pulled-base2\n` });
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /latest: Pulling from private\/base2\n[\s\S]*pulled-base2\n/);
  } finally {
    await reg.stop();
  }
});

test('what a build cut short by a crash left in <root>/builder goes when hakod starts', { skip }, async () => {
  mkdirSync(join(d.root, 'builder', 'context-left'), { recursive: true });
  writeFileSync(join(d.root, 'builder', 'context-left', 'Dockerfile'), 'FROM busybox\n');
  // What a COPY step (no container: a private overlay) leaves when hakod dies in it: the mount,
  // its snapshot, its image lease.
  const step = `build-${'ab'.repeat(16)}`;
  const target = join(d.execRoot, 'build', step);
  mkdirSync(target, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'left', target]);
  mkdirSync(join(d.root, 'snapshots', 'containers', step, 'upper'), { recursive: true });
  const busyboxId = busybox.manifests[0]!.config.digest;
  writeFileSync(join(d.root, 'image', 'leases', `${step}.json`), JSON.stringify({ owner: step, image: busyboxId }));
  try {
    await d.restart('SIGKILL');
  } finally {
    // Had hakod not done it, the test does (nothing left mounted either way).
    if (existsSync(target)) {
      try {
        execFileSync('umount', [target], { stdio: 'ignore' });
      } catch {
        /* not mounted */
      }
    }
  }
  assert.equal(existsSync(join(d.root, 'builder')), false);
  // The engine sweeps at its start, which the first container request awaits.
  assert.deepEqual(await containers(), []);
  assert.equal(existsSync(target), false, 'the overlay is unmounted and its dir removed');
  assert.equal(existsSync(join(d.root, 'snapshots', 'containers', step)), false);
  assert.equal(existsSync(join(d.root, 'image', 'leases', `${step}.json`)), false);
});

const COMPOSE = '/usr/bin/docker-compose';

test('docker-compose build (compose 1.29 through docker-py, and through the docker CLI)', { skip: skip || (!existsSync(COMPOSE) ? `${COMPOSE} is missing (apt-get install docker-compose)` : false) }, async () => {
  const dir = context({
    Dockerfile: 'FROM busybox\nARG MSG\nRUN echo "$MSG" > /msg\nCMD ["cat", "/msg"]\n',
    'docker-compose.yml': JSON.stringify({ version: '3.7', services: { app: { build: { context: '.', args: { MSG: 'from-compose' }, labels: { 'com.example.x': 'y' } }, image: 'composed:1' } } }),
  });
  for (const viaCli of ['0', '1']) {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(COMPOSE, ['-p', 'hakobuild', '--ansi', 'never', 'build', '--no-cache'], { cwd: dir, env: { ...d.env, COMPOSE_DOCKER_CLI_BUILD: viaCli, DOCKER_BUILDKIT: '0' }, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      });
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Successfully tagged composed:1/);
    assert.equal(await run('composed:1', 'cat /msg'), 'from-compose\n');
    assert.equal((await inspectImage('composed:1')).Config.Labels['com.example.x'], 'y');
  }
});

test('docker-py images.build against hakod', { skip: skip || (!hasDockerPy ? 'docker-py is missing (apt-get install python3-docker)' : false) }, async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nRUN echo py > /py\nCMD ["cat", "/py"]\n' });
  const script = String.raw`
import json, sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
img, logs = c.images.build(path=sys.argv[2], tag='py:built', rm=True)
out = {'id': img.id, 'tags': img.tags, 'logs': [l.get('stream', '') for l in logs]}
try:
    c.images.build(path=sys.argv[2], dockerfile='nosuch')
except docker.errors.APIError as e:
    out['error'] = str(e)
print(json.dumps(out))
`;
  const r = execFileSync('python3', ['-c', script, `unix://${d.socket}`, dir], { encoding: 'utf8', timeout: 120_000 });
  const out = JSON.parse(r);
  assert.deepEqual(out.tags, ['py:built:latest'.replace(':built:latest', ':built')]);
  assert.ok(out.logs.join('').includes('Successfully built'));
  assert.match(out.error, /Cannot locate specified Dockerfile: nosuch/);
  assert.equal(await run('py:built', 'cat /py'), 'py\n');
});

/** A loopback HTTP server answering `routes` (path → status, headers, body); counts requests per path. */
async function httpServer(routes: Record<string, { status?: number; headers?: Record<string, string>; body: Buffer | string } | (() => { status?: number; headers?: Record<string, string>; body: Buffer | string })>, staticDir?: string): Promise<{ url: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const r = routes[path];
    if (r) {
      const a = typeof r === 'function' ? r() : r;
      res.writeHead(a.status ?? 200, a.headers ?? {});
      res.end(a.body);
      return;
    }
    // A dumb git server: the files of a bare repository.
    if (staticDir) {
      const file = join(staticDir, posix.normalize(path).replace(/^\/+/, ''));
      if (file.startsWith(staticDir) && existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(readFileSync(file));
        return;
      }
    }
    res.writeHead(404);
    res.end('not here\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** What the builder left in its work dir (nothing, after a build, failed or not). */
function builderLeftovers(): string[] {
  const dir = join(d.root, 'builder');
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('ADD <url>: downloaded (0600, Last-Modified as mtime, named from the URL, Content-Disposition or the destination, never extracted), checksum in the cache key; errors in dockerd\'s words', { skip }, async () => {
  let body = 'hello from http\n';
  const gz = gzipSync(tarDir(context({ 'in.txt': 'inside\n' })));
  const srv = await httpServer({
    '/files/hello.txt': () => ({ headers: { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT', 'Content-Type': 'text/plain' }, body }),
    '/nolm.bin': { body: 'no last modified\n' },
    '/': { body: 'root\n' },
    '/cd/': { headers: { 'Content-Disposition': 'attachment; filename="fromcd.txt"' }, body: 'cd\n' },
    '/a.tar.gz': { headers: { 'Content-Type': 'application/gzip' }, body: gz },
    '/missing': { status: 404, body: 'nope here\n' },
    '/moved': { status: 302, headers: { Location: '/files/hello.txt' }, body: '' },
  });
  try {
    const u = srv.url;
    // The same Dockerfile dockerd 20.10.24 built (the listing below is what it printed).
    const df = [
      'FROM busybox',
      `ADD ${u}/files/hello.txt /d1/`,
      `ADD ${u}/files/hello.txt /d2/named`,
      `ADD ${u}/nolm.bin?x=1 /d3/`,
      `ADD ${u}/a.tar.gz /d4/`,
      `ADD ${u}/ /d5/file`,
      `ADD ${u}/cd/ /d6/`,
      `ADD ${u}/files/hello.txt ${u}/nolm.bin /d7/`,
      `ADD --chown=1:2 ${u}/files/hello.txt /d8/`,
      `ADD ${u}/moved /d9/`,
      'RUN cd / && for f in d1/hello.txt d2/named d3/nolm.bin d4/a.tar.gz d5/file d6/fromcd.txt d7/hello.txt d7/nolm.bin d8 d8/hello.txt d9/moved; do stat -c "%n %a %u:%g %Y %s" $f; done',
    ].join('\n');
    const dir = context({ Dockerfile: df });
    const r = await build(dir, 't=addurl:1');
    assert.equal(r.error, undefined, r.text);
    const t = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT') / 1000;
    assert.match(r.text, new RegExp([
      `d1/hello.txt 600 0:0 ${t} 16`, `d2/named 600 0:0 ${t} 16`, 'd3/nolm.bin 600 0:0 0 17', `d4/a.tar.gz 600 0:0 0 ${gz.length}`, 'd5/file 600 0:0 0 5',
      'd6/fromcd.txt 600 0:0 0 3', `d7/hello.txt 600 0:0 ${t} 16`, 'd7/nolm.bin 600 0:0 0 17', 'd8 755 1:2 \\d+ \\d+', `d8/hello.txt 600 1:2 ${t} 16`, `d9/moved 600 0:0 ${t} 16`,
    ].join('\n')));
    // dockerd's progress for a download (no id) and the blank line after it.
    const dl = r.lines.findIndex((l) => l.status === 'Downloading');
    assert.ok(dl > 0, JSON.stringify(r.lines.slice(0, 8)));
    assert.deepEqual(r.lines[dl]!.progressDetail.current, 16);
    assert.equal(r.lines[dl + 1]!.stream, '\n');
    // The history names the download by its checksum without dockerd's `file:` (which local files have).
    const hist = JSON.parse((await d.request('GET', `/images/${r.id}/history`)).body.toString()) as Array<{ CreatedBy: string }>;
    const adds = hist.map((h) => h.CreatedBy).filter((c) => c.includes('#(nop) ADD')).reverse();
    assert.match(adds[0]!, /^\/bin\/sh -c #\(nop\) ADD [0-9a-f]{64} in \/d1\/ $/);
    assert.equal(adds[0]!.split(' ')[4], adds[1]!.split(' ')[4], 'the same content, the same checksum');
    assert.match(adds[6]!, /ADD multi:[0-9a-f]{64} in \/d7\/ $/);
    assert.match(adds[7]!, /ADD --chown=1:2[0-9a-f]{64} in \/d8\/ $/, 'dockerd writes the chown and the checksum together');
    // Rebuilt: downloaded again (dockerd fetches at every build) and the cache used; a changed body is a new layer.
    const before = srv.hits.get('/files/hello.txt')!;
    const again = await build(dir, '');
    assert.equal(again.id, r.id);
    assert.ok(srv.hits.get('/files/hello.txt')! > before);
    assert.equal((again.text.match(/Using cache/g) ?? []).length, 10);
    body = 'changed\n';
    const changed = await build(dir, '');
    assert.notEqual(changed.id, r.id);
    assert.match(changed.text, /Step 2\/11 : ADD \S+ \/d1\/\n\n ---> [0-9a-f]{12}\n/, 'no cache for the changed download');
    // Through the docker CLI (classic builder): its progress display takes the download's lines.
    if (hasDocker) {
      const cli = await docker(['build', '--no-cache', context({ Dockerfile: `FROM busybox\nADD ${u}/files/hello.txt /cli/\nRUN cat /cli/hello.txt\n` })], { ...d.env, DOCKER_BUILDKIT: '0' });
      assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
      assert.match(cli.stdout, /Step 2\/3 : ADD \S+ \/cli\/\n/);
      assert.match(cli.stdout, /\nchanged\n/);
    }
    // Errors, as dockerd 20.10 words them; nothing left behind.
    const bad = async (line: string): Promise<string | undefined> => (await build(context({ Dockerfile: `FROM busybox\n${line}\n` }), 'nocache=1')).error;
    assert.equal(await bad(`ADD ${u}/missing /m`), `ADD failed: failed to GET ${u}/missing with status 404 Not Found: nope here`);
    assert.equal(await bad(`ADD ${u}/ /d5/`), `ADD failed: cannot determine filename for source ${u}/`);
    assert.equal(await bad(`COPY ${u}/files/hello.txt /c`), "COPY failed: source can't be a URL for COPY");
    assert.equal(await bad('ADD http://127.0.0.1:1/x /m'), 'ADD failed: Get "http://127.0.0.1:1/x": dial tcp 127.0.0.1:1: connect: connection refused');
    assert.deepEqual(builderLeftovers(), []);
  } finally {
    await srv.close();
  }
});

test('remote contexts (remote=): a tarball, a Dockerfile as text/plain, a git repository; dockerd\'s errors; docker-py and hako build', { skip }, async () => {
  const ctxDir = context({ Dockerfile: 'FROM busybox\nCOPY x /x\n', Other: 'FROM busybox\nCOPY x /y\n', x: 'xfile\n' });
  const tar = tarDir(ctxDir);
  const srv = await httpServer({
    '/ctx.tar': { headers: { 'Content-Type': 'application/x-tar' }, body: tar },
    '/ctx.tgz': { body: gzipSync(tar) },
    '/Dockerfile': { headers: { 'Content-Type': 'text/plain' }, body: 'FROM busybox\nRUN echo remote-df > /r\n' },
    '/copying/Dockerfile': { headers: { 'Content-Type': 'text/plain' }, body: 'FROM busybox\nCOPY x /x\n' },
    '/page': { headers: { 'Content-Type': 'text/html' }, body: '<html></html>' },
    '/empty': { body: '' },
  });
  const remote = async (q: string): Promise<BuildResult> => {
    const r = await d.request('POST', `/build?nocache=1&${q}`);
    const lines = r.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    const text = lines.map((l) => l.stream ?? '').join('');
    const err = r.status === 200 ? lines.find((l) => l.error) : { error: lines[0]?.message };
    const aux = lines.filter((l) => l.aux).pop();
    return { status: r.status, lines, text, ...(err ? { error: err.error } : {}), ...(aux ? { id: aux.aux.ID } : {}) };
  };
  try {
    const u = srv.url;
    const t = await remote(`t=remote:tar&remote=${encodeURIComponent(`${u}/ctx.tar`)}`);
    assert.equal(t.error, undefined, t.text);
    assert.deepEqual([t.lines[0]?.id, t.lines[0]?.status, t.lines[0]?.progressDetail], ['Downloading context', `${u}/ctx.tar`, { current: tar.length }]);
    assert.equal(await run('remote:tar', 'cat /x'), 'xfile\n');
    const o = await remote(`t=remote:other&dockerfile=Other&remote=${encodeURIComponent(`${u}/ctx.tgz`)}`);
    assert.equal(o.error, undefined, o.text);
    assert.equal(await run('remote:other', 'cat /y'), 'xfile\n');
    const df = await remote(`t=remote:df&remote=${encodeURIComponent(`${u}/Dockerfile`)}`);
    assert.equal(df.error, undefined, df.text);
    assert.deepEqual(df.lines[0], { status: `${u}/Dockerfile`, progressDetail: { current: 37 }, progress: '     37B', id: 'Downloading context' });
    assert.equal(await run('remote:df', 'cat /r'), 'remote-df\n');
    // dockerd 20.10's answers for the same requests.
    assert.equal((await remote(`remote=${encodeURIComponent(`${u}/copying/Dockerfile`)}`)).error, 'COPY failed: missing build context');
    const missing = await remote(`remote=${encodeURIComponent(`${u}/nothing`)}`);
    assert.deepEqual([missing.status, missing.error], [404, `error downloading remote context ${u}/nothing: failed to GET ${u}/nothing with status 404 Not Found: not here`]);
    const html = await remote(`remote=${encodeURIComponent(`${u}/page`)}`);
    assert.deepEqual([html.status, html.error], [500, `error detecting content type for remote ${u}/page: unsupported Content-Type "text/html"`]);
    assert.equal((await remote(`remote=${encodeURIComponent(`${u}/empty`)}`)).error, `error detecting content type for remote ${u}/empty: empty response`);
    assert.deepEqual(Object.values(await remote('remote=ftp://x/y')).slice(0, 1), [500]);
    assert.equal((await remote('remote=ftp://x/y')).error, 'remoteURL (ftp://x/y) could not be recognized as URL');
    // A small tarball without the Dockerfile: an HTTP 500 before any stream, as dockerd (its progress is held until the Dockerfile is found).
    const nodf = await remote(`dockerfile=Nope&remote=${encodeURIComponent(`${u}/ctx.tar`)}`);
    assert.deepEqual([nodf.status, nodf.error], [500, 'Cannot locate specified Dockerfile: Nope']);
    // hako build <url>: the daemon fetches it.
    const h = await hako(['build', '-t', 'remote:cli', `${u}/ctx.tar`]);
    assert.equal(h.code, 0, h.stderr);
    assert.doesNotMatch(h.stdout, /Sending build context/);
    assert.equal(await run('remote:cli', 'cat /x'), 'xfile\n');
    if (hasDockerPy) {
      const script = "import sys, docker\nc = docker.DockerClient(base_url=sys.argv[1])\nimg, _ = c.images.build(path=sys.argv[2], tag='remote:py')\nprint(img.id)\n";
      // Not execFileSync: the server answering the daemon runs on this process's event loop.
      const out = await new Promise<string>((resolve, reject) => execFile('python3', ['-c', script, `unix://${d.socket}`, `${u}/ctx.tar`], { encoding: 'utf8', timeout: 120_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))));
      assert.match(out, /^sha256:[0-9a-f]{64}\n$/);
    }
    assert.deepEqual(builderLeftovers(), []);
  } finally {
    await srv.close();
  }
});

test('a git build context (remote=<repo>.git#ref:subdir), cloned with git(1) from a dumb HTTP server on loopback', { skip: skip || (!hasGit ? 'git is missing' : false) }, async () => {
  const work = tempDir('hako-build-git-');
  temps.push(work);
  const src = join(work.path, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'Dockerfile'), 'FROM busybox\nCOPY f /f\n');
  writeFileSync(join(src, 'f'), 'top\n');
  writeFileSync(join(src, 'sub', 'Dockerfile'), 'FROM busybox\nCOPY g /g\n');
  writeFileSync(join(src, 'sub', 'g'), 'in sub\n');
  const git = (args: string[], cwd: string): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=master', ...args], { cwd, encoding: 'utf8' });
  git(['init', '-q'], src);
  git(['add', '.'], src);
  git(['commit', '-q', '-m', 'one'], src);
  git(['checkout', '-q', '-b', 'other'], src);
  writeFileSync(join(src, 'f'), 'on other\n');
  git(['commit', '-q', '-am', 'two'], src);
  git(['checkout', '-q', 'master'], src);
  git(['clone', '-q', '--bare', src, join(work.path, 'srv', 'repo.git')], work.path);
  git(['update-server-info'], join(work.path, 'srv', 'repo.git'));
  const srv = await httpServer({}, join(work.path, 'srv'));
  try {
    const q = async (remote: string, tag: string): Promise<BuildResult> => {
      const r = await d.request('POST', `/build?t=${tag}&remote=${encodeURIComponent(remote)}`);
      const lines = r.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
      return { status: r.status, lines, text: lines.map((l) => l.stream ?? '').join(''), error: r.status === 200 ? lines.find((l) => l.error)?.error : lines[0]?.message };
    };
    const m = await q(`${srv.url}/repo.git`, 'git:master');
    assert.equal(m.error, undefined, m.text);
    assert.equal(await run('git:master', 'cat /f'), 'top\n');
    const o = await q(`${srv.url}/repo.git#other`, 'git:other');
    assert.equal(o.error, undefined, o.text);
    assert.equal(await run('git:other', 'cat /f'), 'on other\n');
    const s = await q(`${srv.url}/repo.git#master:sub`, 'git:sub');
    assert.equal(s.error, undefined, s.text);
    assert.equal(await run('git:sub', 'cat /g'), 'in sub\n');
    const bad = await q(`${srv.url}/repo.git#nosuch`, 'git:bad');
    assert.equal(bad.status, 500);
    assert.match(bad.error!, /^error fetching: .*nosuch.*: exit status 128$/s);
    const notDir = await q(`${srv.url}/repo.git#master:f`, 'git:bad');
    assert.match(notDir.error!, /^error setting git context, not a directory: /);
    const noDir = await q(`${srv.url}/repo.git#master:nodir`, 'git:bad');
    assert.deepEqual([noDir.status, /^stat \/.*\/nodir: no such file or directory$/.test(noDir.error!)], [500, true], noDir.error);
    assert.deepEqual(builderLeftovers(), []);
  } finally {
    await srv.close();
  }
});

test('# escape=`: the build dockerd 20.10 made of the same Dockerfile (values, WORKDIR, COPY sources, history)', { skip }, async () => {
  const dir = context({
    Dockerfile: '# escape=`\nFROM busybox\nENV A=C:\\foo B="x`"y`$z" C=a` b D=$A`$A E=${A}\\n\nWORKDIR C:\\work\nLABEL l="q`$x" m=p\\q\nARG G=w`\\v\nRUN echo "$A|$B|$C|$D|$E|$G" > /out; pwd >> /out; echo cont`\n  inued >> /out\nCOPY f`ile.txt b\\c /dst/\nRUN cat /out; ls /dst\n',
    'file.txt': '1\n',
    'b\\c': '2\n',
  });
  const r = await build(dir, 't=esc:1&nocache=1');
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /Step 6\/8 : RUN echo "\$A\|\$B\|\$C\|\$D\|\$E\|\$G" > \/out; pwd >> \/out; echo cont {2}inued >> \/out\n/);
  assert.match(r.text, /\nC:\\foo\|x"y\$z\|a b\|\$A\|\\n\|w\\v\n\/C:\\work\ncont inued\nb\\c\nfile\.txt\n/);
  const img = await inspectImage('esc:1');
  assert.deepEqual(img.Config.Env.slice(1), ['A=C:\\foo', 'B=x"y$z', 'C=a b', 'D=$A', 'E=\\n']);
  assert.deepEqual(img.Config.Labels, { l: 'q$x', m: 'p\\q' });
  assert.equal(img.Config.WorkingDir, '/C:\\work');
  const hist = (JSON.parse((await d.request('GET', '/images/esc:1/history')).body.toString()) as Array<{ CreatedBy: string }>).map((h) => h.CreatedBy);
  assert.deepEqual(hist.slice(0, 7).map((c) => c.replace(/multi:[0-9a-f]{64}/, 'multi:…')), [
    '|1 G=w\\v /bin/sh -c cat /out; ls /dst',
    '/bin/sh -c #(nop) COPY multi:… in /dst/ ',
    '|1 G=w\\v /bin/sh -c echo "$A|$B|$C|$D|$E|$G" > /out; pwd >> /out; echo cont  inued >> /out',
    '/bin/sh -c #(nop)  ARG G=w\\v',
    '/bin/sh -c #(nop)  LABEL l=q$x m=p\\q',
    '/bin/sh -c #(nop) WORKDIR /C:\\work',
    '/bin/sh -c #(nop)  ENV A=C:\\foo B=x"y$z C=a b D=$A E=\\n',
  ]);
});

test('container events during a build are dockerd 20.10\'s: none for COPY/ADD (no container), no commit events, create/destroy for config steps', { skip }, async () => {
  const dir = context({ Dockerfile: 'FROM busybox\nCOPY f /f\nENV X=1\nWORKDIR /w\nRUN true\nADD f /g\nCOPY --chown=7:8 f /h\n', f: 'f\n' });
  // /events counts in whole seconds: start on a fresh one, so the last test's events stay out.
  const since = await nextWholeSecond();
  const r = await build(dir, 'nocache=1&t=events:1');
  assert.equal(r.error, undefined, r.text);
  const until = Math.floor(Date.now() / 1000) + 1;
  const ev = await d.request('GET', `/events?since=${since}&until=${until}&filters=${encodeURIComponent(JSON.stringify({ type: ['container'] }))}`);
  const actions = ev.body.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).Action as string);
  // What dockerd 20.10.24 sent for the same Dockerfile (its own /events).
  assert.deepEqual(actions, ['create', 'destroy', 'create', 'destroy', 'create', 'attach', 'start', 'die', 'destroy']);
  assert.equal(await run('events:1', 'cat /f /g; stat -c %u:%g /h; pwd'), 'f\nf\n7:8\n/w\n');
  assert.deepEqual(readdirSync(join(d.root, 'snapshots', 'containers')).filter((n) => n.startsWith('build-')), [], 'no build snapshot left');
});

test('FROM --platform: expanded from the ARGs before FROM, checked; a local image is used whatever its platform (as dockerd 20.10)', { skip }, async () => {
  const ok = await build(context({ Dockerfile: 'ARG P=linux/arm64/v8\nFROM --platform=$P busybox\nRUN echo hi\n' }), 'nocache=1');
  assert.equal(ok.error, undefined, ok.text);
  assert.match(ok.text, /Step 2\/3 : FROM --platform=\$P busybox\n ---> [0-9a-f]{12}\nStep 3\/3 : RUN echo hi\n/);
  const bad = await build(context({ Dockerfile: 'FROM --platform=bogus busybox\n' }));
  assert.equal(bad.error, 'failed to parse platform bogus: "bogus": unknown operating system or architecture: invalid argument');
  assert.deepEqual(builderLeftovers(), []);
});

test('cachefrom: a saved and loaded image (no parents, no local cache) answers the steps, as dockerd 20.10; a changed step stops it; the local cache counts only for ancestors of a source', { skip }, async () => {
  const df = 'FROM busybox\nENV X=1\nRUN echo a > /a\nCOPY f /f\nCMD ["cat","/a"]\n';
  const dir = context({ Dockerfile: df, f: 'f\n' });
  const first = await build(dir, 't=cachesrc:1&nocache=1');
  assert.equal(first.error, undefined, first.text);
  const saved = await d.request('GET', '/images/get?names=cachesrc:1');
  assert.equal(saved.status, 200);
  // Everything the first build made goes: what is left to use is the loaded image alone.
  const all = JSON.parse((await d.request('GET', '/images/json?all=1')).body.toString()) as Array<{ Id: string; RepoTags: string[] }>;
  const busyboxId = busybox.manifests[0]!.config.digest;
  for (const img of all) if (img.Id !== busyboxId) assert.ok([200, 404].includes((await d.request('DELETE', `/images/${img.Id}?force=1`)).status));
  assert.deepEqual((JSON.parse((await d.request('GET', '/images/json?all=1')).body.toString()) as Array<{ Id: string }>).map((i) => i.Id), [busyboxId]);
  const loaded = await d.request('POST', '/images/load?quiet=1', saved.body, { 'Content-Type': 'application/x-tar' });
  assert.equal(loaded.status, 200, loaded.body.toString());
  // Without cachefrom: nothing is cached.
  const plain = await build(dir, '');
  assert.doesNotMatch(plain.text, /Using cache/);
  // With it: every step from the source, and the source itself at the end (dockerd printed the same).
  const cached = await build(dir, `t=cachedst:1&cachefrom=${encodeURIComponent(JSON.stringify(['cachesrc:1', 'nosuch:image']))}`);
  assert.equal(cached.error, undefined, cached.text);
  assert.equal((cached.text.match(/ ---> Using cache\n/g) ?? []).length, 4, cached.text);
  assert.equal(cached.id, first.id);
  // A changed RUN: the steps before it come from the source, the rest are built.
  const changed = await build(context({ Dockerfile: df.replace('echo a', 'echo b'), f: 'f\n' }), `cachefrom=${encodeURIComponent(JSON.stringify(['cachesrc:1']))}`);
  assert.equal(changed.error, undefined, changed.text);
  assert.match(changed.text, /Step 2\/5 : ENV X=1\n ---> Using cache\n/);
  assert.match(changed.text, /Step 3\/5 : RUN echo b > \/a\n ---> Running in /);
  assert.equal((changed.text.match(/Using cache/g) ?? []).length, 1);
  // The local cache counts only for ancestors of a source: with an unrelated source, or one that
  // is not here, nothing is cached (dockerd 20.10 printed no `Using cache` either).
  const local = context({ Dockerfile: 'FROM busybox\nENV Y=2\nRUN echo y > /y\n' });
  assert.equal((await build(local, '')).error, undefined);
  assert.equal(((await build(local, '')).text.match(/Using cache/g) ?? []).length, 2);
  for (const src of ['busybox', 'nosuch:image']) {
    const r = await build(local, `cachefrom=${encodeURIComponent(JSON.stringify([src]))}`);
    assert.equal(r.error, undefined, r.text);
    assert.doesNotMatch(r.text, /Using cache/, src);
  }
  // hako build --cache-from sends it too.
  const h = await hako(['build', '--cache-from', 'cachesrc:1', '-q', dir]);
  assert.equal(h.code, 0, h.stderr);
  assert.equal(h.stdout.trim(), first.id);
});

test('a VOLUME step: the later steps\' intermediate containers go with their anonymous volumes (dockerd\'s builder removes them; each such step left a volume)', { skip }, async () => {
  const vols = async (): Promise<string[]> => (JSON.parse((await d.request('GET', '/volumes')).body.toString()).Volumes ?? []).map((v: { Name: string }) => v.Name).sort();
  const before = await vols();
  const r = await build(context({ Dockerfile: 'FROM busybox\nVOLUME /data\nRUN echo hi > /x\nENV A=1\nLABEL b=2\n' }), 't=vol-steps');
  assert.equal(r.error, undefined, r.text);
  assert.match(r.text, /Removing intermediate container/);
  assert.deepEqual(await vols(), before);
  assert.equal((await d.request('DELETE', '/images/vol-steps')).status, 200);
});
