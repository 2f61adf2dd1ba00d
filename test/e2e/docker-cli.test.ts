// The real docker CLI (28.x) against a real hakod: version/info/images/pull/tag/inspect/rmi/
// push/history, errors, and (once the engine is built in) container flows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createConnection } from 'node:net';
import { hasDocker, hasEngine, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry, type TestRegistry } from '../helpers/registry.js';
import type { BuiltImage } from '../helpers/images.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { nextWholeSecond } from '../helpers/clock.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HELLO_TAR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'build', 'hello-world.tar');

const skip = !hasDocker ? `${DOCKER} is missing (the docker CLI is needed for this test)` : !hasRegistry ? 'docker-registry is not installed (apt-get install docker-registry)' : false;
const skipContainers = skip || (!hasEngine ? 'the container engine (src/engine/engine.ts) is not built yet: container flows are skipped' : !isRoot ? 'container flows need root' : false);

let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let reg: TestRegistry;
let busybox: BuiltImage;
let ref: string;

function docker(args: string[], opts: { input?: string; ok?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(DOCKER, args, { env: d.env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      if (opts.ok !== false && code !== 0) assert.fail(`docker ${args.join(' ')} → ${code}\nstdout: ${stdout}\nstderr: ${stderr}\ndaemon log:\n${d.log().slice(-3000)}`);
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
    if (opts.input !== undefined) p.stdin!.end(opts.input);
  });
}

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon();
  ({ d, reg, img: busybox } = setup);
  ref = `${reg.host}/test/busybox`;
});

after(async () => {
  await setup?.stop({ noBugs: true });
});

test('docker version and info talk to hakod', { skip }, async () => {
  const v = await docker(['version', '--format', '{{json .Server}}']);
  const server = JSON.parse(v.stdout);
  assert.equal(server.ApiVersion, '1.44');
  assert.equal(server.MinAPIVersion, '1.24');
  assert.equal(server.Os, 'linux');
  const i = await docker(['info', '--format', '{{.ServerVersion}} {{.OSType}} {{.Driver}}']);
  assert.match(i.stdout.trim(), /^\S+ linux overlay2$/);
});

test('docker pull, images, inspect, tag, history, rmi', { skip }, async () => {
  const p = await docker(['pull', ref]);
  assert.match(p.stdout, /Downloaded newer image for/);
  assert.match(p.stdout, new RegExp(`${ref.replace(/[.]/g, '\\.')}:latest`));
  const again = await docker(['pull', ref]);
  assert.match(again.stdout, /Image is up to date/);
  const imgs = await docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
  const id = busybox.manifests[0]!.config.digest;
  assert.equal(imgs.stdout.trim(), `${ref}:latest ${id.slice(7, 19)}`);
  const insp = JSON.parse((await docker(['image', 'inspect', ref])).stdout);
  assert.equal(insp[0].Id, id);
  assert.deepEqual(insp[0].RepoTags, [`${ref}:latest`]);
  assert.equal(insp[0].Os, 'linux');
  assert.deepEqual(insp[0].RootFS.Layers, busybox.manifests[0]!.diffIds);
  await docker(['tag', ref, 'mybox:1']);
  const tagged = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.deepEqual(tagged.stdout.trim().split('\n').sort(), [`${ref}:latest`, 'mybox:1'].sort());
  const filtered = await docker(['images', '--filter', 'reference=mybox', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(filtered.stdout.trim(), 'mybox:1');
  const hist = await docker(['history', '--no-trunc', '--format', '{{.ID}}', 'mybox:1']);
  assert.equal(hist.stdout.trim().split('\n')[0], id);
  const rmi1 = await docker(['rmi', 'mybox:1']);
  assert.match(rmi1.stdout, /Untagged: mybox:1/);
  assert.doesNotMatch(rmi1.stdout, /Deleted/);
  const rmi2 = await docker(['rmi', ref]);
  assert.match(rmi2.stdout, /Untagged: .*test\/busybox:latest/);
  assert.match(rmi2.stdout, new RegExp(`Deleted: ${id}`));
  assert.equal((await docker(['images', '-q'])).stdout.trim(), '');
});

test('docker errors come back with docker messages and exit codes', { skip }, async () => {
  const r = await docker(['image', 'inspect', 'nosuch:image'], { ok: false });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /No such image: nosuch:image/);
  const rm = await docker(['rmi', 'nosuch:image'], { ok: false });
  assert.notEqual(rm.code, 0);
  assert.match(rm.stderr, /No such image/);
  const pull = await docker(['pull', `${reg.host}/test/absent`], { ok: false });
  assert.notEqual(pull.code, 0);
  assert.match(pull.stderr, /absent/);
  const build = await docker(['build', '-q', '-'], { ok: false, input: 'FROM scratch\n' });
  assert.notEqual(build.code, 0);
  assert.match(build.stderr, /No image was generated. Is your Dockerfile empty\?/, 'dockerd 20.10\'s words for a lone FROM scratch');
});

test('docker push to the test registry', { skip }, async () => {
  const since = Math.floor(Date.now() / 1000);
  await docker(['pull', ref]);
  const target = `${reg.host}/test/pushed:v1`;
  await docker(['tag', ref, target]);
  const r = await docker(['push', target]);
  assert.match(r.stdout, /v1: digest: sha256:[0-9a-f]{64}/);
  // dockerd's events: pull and push name the reference (the actor too; a pull's `name` is the
  // repository, dockerd 20.10's FamiliarName), tag the image.
  const until = await nextWholeSecond(); // --until counts whole seconds: what came before is in
  const events = (await docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=image', '--format', '{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'])).stdout.trim().split('\n');
  const pulled = events.filter((l) => l.startsWith('pull '));
  assert.ok(pulled.includes(`pull ${ref}:latest ${ref}`), events.join('\n'));
  assert.ok(events.some((l) => /^tag sha256:[0-9a-f]{64} /.test(l) && l.endsWith(` ${target}`)), events.join('\n'));
  assert.ok(events.includes(`push ${target} ${target}`), events.join('\n'));
  await docker(['rmi', target]);
  await docker(['rmi', ref]);
  const back = await docker(['pull', target]);
  assert.match(back.stdout, /Downloaded newer image/);
  await docker(['rmi', target]);
  // A pull event carries the image's labels (dockerd's LogImageEvent), pulled by tag or by digest.
  const labelled = `${reg.host}/test/labelled:1`;
  await docker(['build', '-q', '-t', labelled, '-'], { input: `FROM ${ref}\nLABEL pulled.label=x\n` });
  const pushed = (await docker(['push', labelled])).stdout;
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)![1]!;
  await docker(['rmi', labelled]);
  const since2 = await nextWholeSecond(); // a new second: the pulls above left out
  await docker(['pull', labelled]);
  await docker(['rmi', labelled]);
  await docker(['pull', `${reg.host}/test/labelled@${digest}`]);
  const until2 = await nextWholeSecond(); // --until counts whole seconds: what came before is in
  const labelEvents = (await docker(['events', '--since', String(since2), '--until', String(until2), '--filter', 'event=pull', '--format', '{{.Actor.ID}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "pulled.label"}}'])).stdout.trim().split('\n');
  assert.deepEqual(labelEvents, [`${labelled} ${reg.host}/test/labelled x`, `${reg.host}/test/labelled@${digest} ${reg.host}/test/labelled x`]);
  await docker(['rmi', `${reg.host}/test/labelled@${digest}`], { ok: false });
});

test('docker run --rm busybox echo hi', { skip: skipContainers }, async () => {
  await docker(['pull', ref]);
  const r = await docker(['run', '--rm', ref, 'echo', 'hi']);
  assert.equal(r.stdout, 'hi\n');
  const code = await docker(['run', '--rm', ref, 'sh', '-c', 'echo err >&2; exit 3'], { ok: false });
  assert.equal(code.code, 3);
  // (dockerd's create warning first, on a host that does not forward IPv4.)
  assert.equal(code.stderr.replace(/^WARNING: IPv4 forwarding is disabled\. Networking will not work\.\n/, ''), 'err\n');
  const stdin = await docker(['run', '--rm', '-i', ref, 'cat'], { input: 'piped\n' });
  assert.equal(stdin.stdout, 'piped\n');
});

test('docker run -i and exec -i with stdin closed at once print all the output every time', { skip: skipContainers }, async () => {
  // stdin's end reached the monitor after a quick container was done; the write failed with
  // EPIPE and the output, unread, went with the socket (about half the runs printed nothing).
  await docker(['pull', ref]);
  await docker(['run', '-d', '--name', 'stdin-closed', '--network', 'none', ref, 'sleep', '60']);
  try {
    const r = await sh(`for i in 1 2 3 4 5 6 7 8; do ${DOCKER} run -i --rm --network none ${ref} echo hello </dev/null; ${DOCKER} exec -i stdin-closed echo exec </dev/null; done`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\nexec\n'.repeat(8));
  } finally {
    await docker(['rm', '-f', 'stdin-closed'], { ok: false });
  }
});

test('docker run -d, ps, logs, exec, stop, rm', { skip: skipContainers }, async () => {
  await docker(['pull', ref]);
  const id = (await docker(['run', '-d', '--name', 'apitest', ref, 'sh', '-c', 'echo started; exec sleep 60'])).stdout.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  try {
    const ps = await docker(['ps', '--format', '{{.Names}} {{.Status}}']);
    assert.match(ps.stdout, /^apitest Up/m);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('started'); i++) {
      logs = (await docker(['logs', 'apitest'])).stdout;
      if (!logs.includes('started')) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(logs, 'started\n');
    const ex = await docker(['exec', 'apitest', 'sh', '-c', 'echo in-exec; exit 0']);
    assert.equal(ex.stdout, 'in-exec\n');
    const exCode = await docker(['exec', 'apitest', 'sh', '-c', 'exit 5'], { ok: false });
    assert.equal(exCode.code, 5);
    await docker(['stop', '-t', '1', 'apitest']);
    const psa = await docker(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    assert.match(psa.stdout, /^apitest Exited/m);
  } finally {
    await docker(['rm', '-f', 'apitest'], { ok: false });
  }
  const gone = await docker(['inspect', 'apitest'], { ok: false });
  assert.notEqual(gone.code, 0);
});

/** Runs a shell pipeline with the test daemon's environment. */
function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', script], { env: d.env, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('docker save | docker load, save -o of several images, import with --change, a corrupt archive', { skip }, async () => {
  await docker(['pull', ref]);
  const id = busybox.manifests[0]!.config.digest;
  await docker(['tag', ref, 'saved:one']);
  const dir = tempDir('hako-docker-save-');
  try {
    await docker(['rmi', 'saved:one']);
    // A pipe (the image is there already: loading it again changes nothing), then a real load.
    const piped = await sh(`${DOCKER} save ${ref} | ${DOCKER} load`);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, `Loaded image: ${ref}:latest\n`);
    const one = join(dir.path, 'one.tar');
    await sh(`${DOCKER} save ${ref} > ${one}`);
    await docker(['rmi', ref]);
    const loaded = await sh(`${DOCKER} load < ${one}`);
    assert.equal(loaded.stdout, `Loaded image: ${ref}:latest\n`, loaded.stderr);
    assert.equal((await docker(['images', '--format', '{{.ID}}'])).stdout.trim(), id.slice(7, 19));

    await docker(['tag', ref, 'saved:one']);
    await docker(['tag', ref, 'saved:two']);
    const file = join(dir.path, 'several.tar');
    await docker(['save', '-o', file, ref, 'saved']);
    await docker(['rmi', ref, 'saved:one', 'saved:two']);
    const l = await docker(['load', '-i', file]);
    assert.deepEqual(l.stdout.trim().split('\n').sort(), [`Loaded image: ${ref}:latest`, 'Loaded image: saved:one', 'Loaded image: saved:two'].sort());
    const q = await docker(['load', '-q', '-i', file]);
    assert.equal(q.stdout.trim().split('\n').length, 3);

    // import: the busybox layer's tar, with changes and a message.
    const rootfs = join(dir.path, 'rootfs.tar');
    await sh(`${DOCKER} save ${ref} | tar -xO blobs/sha256/${busybox.manifests[0]!.layers[0]!.digest.slice(7)} > ${rootfs}`);
    const imp = await docker(['import', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV X=1', '-m', 'imported by the test', rootfs, 'imp:1']);
    assert.match(imp.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    const insp = JSON.parse((await docker(['image', 'inspect', 'imp:1'])).stdout)[0];
    assert.equal(insp.Id, imp.stdout.trim());
    assert.deepEqual(insp.Config.Cmd, ['/bin/sh']);
    assert.deepEqual(insp.Config.Env, ['X=1']);
    assert.equal(insp.Comment, 'imported by the test');
    assert.deepEqual(insp.RootFS.Layers, busybox.manifests[0]!.diffIds);
    const stdin = await sh(`${DOCKER} import - < ${rootfs}`);
    assert.match(stdin.stdout.trim(), /^sha256:[0-9a-f]{64}$/);

    const bad = join(dir.path, 'bad.tar');
    writeFileSync(bad, readFileSync(file).subarray(0, 100_000));
    const b = await docker(['load', '-i', bad], { ok: false });
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /truncated/);
  } finally {
    dir.cleanup();
    await docker(['rmi', '-f', 'saved:one', 'saved:two', 'imp:1', ref], { ok: false });
  }
  // `docker save` to a terminal is refused by the CLI; nothing to test against the daemon there.
});

test('pull progress carries progressDetail {current,total} like dockerd (what the docker CLI draws bars from)', { skip }, async () => {
  await docker(['rmi', ref], { ok: false });
  const r = await d.request('POST', `/v1.44/images/create?fromImage=${encodeURIComponent(ref)}&tag=latest`);
  assert.equal(r.status, 200);
  const msgs = r.body.toString().trim().split('\n').map((l) => JSON.parse(l) as { status: string; id?: string; progressDetail?: { current?: number; total?: number } });
  const layer = busybox.manifests[0]!.layers[0]!;
  const short = layer.digest.slice(7, 19);
  const statuses = msgs.filter((m) => m.id === short).map((m) => m.status);
  assert.deepEqual([...new Set(statuses)], ['Pulling fs layer', 'Downloading', 'Verifying Checksum', 'Download complete', 'Extracting', 'Pull complete']);
  const downloads = msgs.filter((m) => m.id === short && m.status === 'Downloading');
  assert.deepEqual(downloads.at(-1)!.progressDetail, { current: layer.size, total: layer.size, start: (downloads.at(-1)!.progressDetail as { start: number }).start });
  assert.ok(msgs.some((m) => m.status === `Status: Downloaded newer image for ${ref}:latest`));
  const again = await d.request('POST', `/v1.44/images/create?fromImage=${encodeURIComponent(ref)}&tag=latest`);
  assert.ok(again.body.toString().includes('"status":"Already exists"'), again.body.toString());
});

test('docker load -i build/hello-world.tar && docker run --rm hello-world', { skip: skipContainers || (!existsSync(HELLO_TAR) && 'build/hello-world.tar is missing (npm run prepare)') }, async () => {
  const l = await docker(['load', '-i', HELLO_TAR]);
  assert.equal(l.stdout, 'Loaded image: hello-world:latest\n');
  const r = await docker(['run', '--rm', 'hello-world']);
  assert.match(r.stdout, /Hello from hako!/);
  await docker(['rmi', 'hello-world']);
});

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}\ndaemon log:\n${d.log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('docker health checks: --health-* flags, inspect .State.Health.Status, ps status and filter, timeouts', { skip: skipContainers }, async () => {
  await docker(['pull', ref]);
  const names = ['hc-ok', 'hc-bad', 'hc-slow', 'hc-off'];
  try {
    await docker(['run', '-d', '--name', 'hc-ok', '--health-cmd', 'echo fine', '--health-interval', '200ms', '--health-timeout', '5s', '--health-retries', '2', ref, 'sleep', '60']);
    await docker(['run', '-d', '--name', 'hc-bad', '--health-cmd', 'exit 1', '--health-interval', '200ms', '--health-retries', '1', ref, 'sleep', '60']);
    await docker(['run', '-d', '--name', 'hc-slow', '--health-cmd', 'sleep 10', '--health-interval', '200ms', '--health-timeout', '300ms', '--health-retries', '1', ref, 'sleep', '60']);
    await docker(['run', '-d', '--name', 'hc-off', '--no-healthcheck', ref, 'sleep', '60']);
    const status = async (n: string) => (await docker(['inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', n])).stdout.trim();
    await waitFor('hc-ok healthy', async () => (await status('hc-ok')) === 'healthy');
    await waitFor('hc-bad unhealthy', async () => (await status('hc-bad')) === 'unhealthy');
    await waitFor('hc-slow unhealthy', async () => (await status('hc-slow')) === 'unhealthy');
    assert.equal(await status('hc-off'), 'none');
    const ok = JSON.parse((await docker(['inspect', '--format', '{{json .State.Health}}', 'hc-ok'])).stdout);
    assert.equal(ok.FailingStreak, 0);
    assert.equal(ok.Log[0].ExitCode, 0);
    assert.equal(ok.Log[0].Output, 'fine\n');
    const slow = JSON.parse((await docker(['inspect', '--format', '{{json .State.Health}}', 'hc-slow'])).stdout);
    assert.equal(slow.Log[0].ExitCode, -1);
    assert.equal(slow.Log[0].Output, 'Health check exceeded timeout (300ms)');
    const cfg = JSON.parse((await docker(['inspect', '--format', '{{json .Config.Healthcheck}}', 'hc-ok'])).stdout);
    assert.deepEqual(cfg, { Test: ['CMD-SHELL', 'echo fine'], Interval: 200_000_000, Timeout: 5_000_000_000, Retries: 2 });
    const ps = (await docker(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout;
    assert.match(ps, /^hc-ok Up .* \(healthy\)$/m);
    assert.match(ps, /^hc-bad Up .* \(unhealthy\)$/m);
    assert.match(ps, /^hc-off Up [^(]*$/m);
    assert.equal((await docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])).stdout.trim(), 'hc-ok');
    assert.deepEqual((await docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).stdout.trim().split('\n').sort(), ['hc-bad', 'hc-slow']);
    assert.equal((await docker(['ps', '--filter', 'health=none', '--format', '{{.Names}}'])).stdout.trim(), 'hc-off');
    const badFilter = await docker(['ps', '--filter', 'health=great'], { ok: false });
    assert.match(badFilter.stderr, /Unrecognised filter value for health: great/);
    const bad = await docker(['run', '-d', '--health-cmd', 'true', '--health-interval', '1us', ref, 'true'], { ok: false });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Interval in Healthcheck cannot be less than 1ms/);
  } finally {
    await docker(['rm', '-f', ...names], { ok: false });
  }
});

test('docker start -a prints the output of that start every time', { skip: skipContainers }, async () => {
  await docker(['pull', ref]);
  const id = (await docker(['create', ref, 'echo', 'hi'])).stdout.trim();
  try {
    for (let i = 0; i < 10; i++) {
      const r = await docker(['start', '-a', id]);
      assert.equal(r.stdout, 'hi\n', `start -a #${i + 1}`);
    }
    assert.equal((await docker(['logs', id])).stdout, 'hi\n'.repeat(10));
  } finally {
    await docker(['rm', '-f', id], { ok: false });
  }
});

/** POST …/attach with Upgrade: tcp on the daemon's socket; resolves once the 101 is read. */
function rawAttach(path: string): Promise<{ sock: import('node:net').Socket; output: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(d.socket);
    let buf = '';
    let headersDone = false;
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('error', reject);
    sock.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      if (!headersDone && buf.includes('\r\n\r\n')) {
        headersDone = true;
        const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
        if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(head));
        buf = buf.slice(head.length + 4);
        resolve({ sock, output: () => buf, closed });
      }
    });
    sock.write(`POST ${path} HTTP/1.1\r\nHost: hako\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
  });
}

test('detachKeys: the API hijack of a TTY container detaches on the sequence; the container keeps running', { skip: skipContainers }, async () => {
  await docker(['pull', ref]);
  const id = (await docker(['run', '-d', '-i', '-t', ref, 'sh'])).stdout.trim();
  try {
    for (const [query, seq] of [['', '\x10\x11'], ['&detachKeys=ctrl-x,ctrl-y', '\x18\x19']] as const) {
      const a = await rawAttach(`/v1.44/containers/${id}/attach?stream=1&stdin=1&stdout=1&stderr=1${query}`);
      a.sock.write('echo al""ive\r');
      await waitFor('echo through the attach', async () => a.output().includes('alive'));
      a.sock.write(seq);
      await a.closed; // the daemon ends the connection
      assert.equal((await docker(['inspect', '--format', '{{.State.Running}}', id])).stdout.trim(), 'true');
    }
    const bad = await d.request('POST', `/v1.44/containers/${id}/attach?stream=1&stdin=1&detachKeys=ctrl-%E2%82%AC`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /Invalid detach keys/);
    const events = (await docker(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000)), '--filter', `container=${id}`, '--filter', 'event=detach', '--format', '{{.Action}}'])).stdout.trim().split('\n');
    assert.deepEqual(events, ['detach', 'detach']);
  } finally {
    await docker(['rm', '-f', id], { ok: false });
  }
});
