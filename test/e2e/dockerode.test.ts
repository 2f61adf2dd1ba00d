// dockerode (the Node client docker-compose-like tools use) against a real hakod: ping,
// version, pull with progress, list/inspect/tag/remove images, and container run/logs/exec.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { hasEngine, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry, type TestRegistry } from '../helpers/registry.js';
import type { BuiltImage } from '../helpers/images.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot } from '../helpers/fixtures.js';

const skip = !hasRegistry ? 'docker-registry is not installed (apt-get install docker-registry)' : false;
const skipContainers = skip || (!hasEngine ? 'the container engine is not built yet' : !isRoot ? 'container flows need root' : false);

let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let reg: TestRegistry;
let busybox: BuiltImage;
let docker: Docker;
let ref: string;

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon();
  ({ d, reg, img: busybox, image: ref } = setup);
  docker = new Docker({ socketPath: d.socket });
});

after(async () => {
  await setup?.stop();
});

async function pull(name: string): Promise<unknown[]> {
  const stream = await docker.pull(name);
  return new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: unknown[]) => (err ? reject(err) : resolve(out))));
}

test('dockerode: ping, version, pull with progress, images', { skip }, async () => {
  assert.equal(String(await docker.ping()), 'OK');
  const v = await docker.version();
  assert.equal(v.ApiVersion, '1.44');
  const progress = (await pull(ref)) as Array<{ status?: string }>;
  assert.ok(progress.some((p) => /Downloaded newer image/.test(p.status ?? '')), JSON.stringify(progress));
  const list = await docker.listImages();
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.RepoTags, [ref]);
  const insp = await docker.getImage(ref).inspect();
  assert.equal(insp.Id, busybox.manifests[0]!.config.digest);
  await docker.getImage(ref).tag({ repo: 'node/box', tag: 't1' });
  const dangling = await docker.listImages({ filters: JSON.stringify({ dangling: ['true'] }) });
  assert.equal(dangling.length, 0);
  const removed = await docker.getImage('node/box:t1').remove();
  assert.deepEqual(removed, [{ Untagged: 'node/box:t1' }]);
  await assert.rejects(docker.getImage('nosuch').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  // A failed pull is a 200 stream whose last line is {"errorDetail":…,"error":…}.
  const failed = (await pull(`${reg.host}/test/absent:latest`).catch((e: Error) => [{ error: e.message }])) as Array<{ error?: string; errorDetail?: { message: string } }>;
  const last = failed[failed.length - 1]!;
  assert.match(last.error ?? '', /absent/);
});

test('dockerode: create, attach, start, wait, logs, exec, remove', { skip: skipContainers }, async () => {
  await pull(ref);
  const c = await docker.createContainer({ Image: ref, Cmd: ['sh', '-c', 'echo out; echo err >&2; sleep 30'], name: 'dockerode-test' });
  try {
    await c.start();
    const info = await c.inspect();
    assert.equal(info.State.Running, true);
    let text = '';
    for (let i = 0; i < 50 && !text.includes('err'); i++) {
      const buf = (await c.logs({ stdout: true, stderr: true })) as unknown as Buffer;
      const out = new PassThrough();
      const err = new PassThrough();
      let o = '';
      let e = '';
      out.on('data', (x: Buffer) => (o += x));
      err.on('data', (x: Buffer) => (e += x));
      docker.modem.demuxStream(new PassThrough().end(buf), out, err);
      await new Promise((r) => setTimeout(r, 50));
      text = `${o}|${e}`;
    }
    assert.equal(text, 'out\n|err\n');
    const ex = await c.exec({ Cmd: ['echo', 'from-exec'], AttachStdout: true, AttachStderr: true });
    const stream = await ex.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    const out = new PassThrough();
    out.on('data', (x: Buffer) => chunks.push(x));
    docker.modem.demuxStream(stream, out, new PassThrough());
    await new Promise((r) => stream.on('end', r));
    assert.equal(Buffer.concat(chunks).toString(), 'from-exec\n');
    assert.equal((await ex.inspect()).ExitCode, 0);
    await c.stop({ t: 1 });
    const w = await c.wait();
    assert.equal(typeof w.StatusCode, 'number');
  } finally {
    await c.remove({ force: true });
  }
  await assert.rejects(c.inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test('dockerode: exec.resize right after exec.start waits for the process, as dockerd (it was a 409 "not running")', { skip: skipContainers }, async () => {
  await pull(ref);
  const c = await docker.createContainer({ Image: ref, Cmd: ['sleep', '30'], name: 'dockerode-resize' });
  try {
    await c.start();
    for (let i = 0; i < 5; i++) {
      const ex = await c.exec({ Cmd: ['sh', '-c', 'sleep 0.3; stty size'], AttachStdout: true, Tty: true });
      const stream = await ex.start({ hijack: true, stdin: false, Tty: true });
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      const ended = new Promise((r) => stream.on('end', r));
      await ex.resize({ h: 11 + i, w: 33 });
      await ended;
      assert.equal(text.trim(), `${11 + i} 33`);
    }
  } finally {
    await c.remove({ force: true });
  }
});
