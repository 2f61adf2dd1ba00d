// Archives exchanged with the real docker engine (Debian's dockerd, 20.10): what `docker save`
// writes (the legacy per-layer layout of docker < 25) loads into hako with the same image ID,
// and what hako saves (the docker ≥ 25 layout) loads into dockerd with the same ID. The dockerd
// is private to the test: its own data-root, exec-root, socket and containerd namespace, no
// bridge, no iptables; it runs no container. Skipped, saying why, without root or dockerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ImageService } from '../../src/image/images.js';
import { directoryUnpacker } from '../../src/image/pull.js';
import { isRoot, tempDir, mountsUnder } from '../helpers/fixtures.js';
import { hasRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { busyboxImage, layeredImage, multiPlatformImage, pushLayout, type BuiltImage } from '../helpers/images.js';
import { hostPlatform } from '../../src/image/platform.js';

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const skip = !isRoot
  ? 'needs root (dockerd)'
  : !onPath('dockerd') || !onPath('containerd')
    ? 'needs dockerd and containerd (Debian: apt-get install docker.io)'
    : !onPath('docker')
      ? 'needs the docker CLI'
      : !hasRegistry
        ? 'needs docker-registry'
        : false;

let tmp: { path: string; cleanup(): void };
let daemon: ChildProcess | undefined;
let sock = '';
let reg: TestRegistry;
let busybox: BuiltImage;
let layered: BuiltImage;
let svc: ImageService;

function docker(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(tmp.path, 'cli') }, timeout: 60_000 });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}
function ok(args: string[]): string {
  const r = docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
  return r.out;
}

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-archive-dockerd-');
  reg = await startRegistry();
  busybox = busyboxImage();
  layered = layeredImage();
  await pushLayout(busybox, reg.host, 'test/busybox');
  await pushLayout(layered, reg.host, 'test/layered');
  sock = join(tmp.path, 'docker.sock');
  daemon = spawn(
    'dockerd',
    [
      '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
      '--data-root', join(tmp.path, 'data'), '--exec-root', join(tmp.path, 'exec'), '--pidfile', join(tmp.path, 'dockerd.pid'),
      '-H', `unix://${sock}`, '--containerd-namespace', 'hako-archive-test', '--containerd-plugins-namespace', 'hako-archive-test-plugins',
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const deadline = Date.now() + 30_000;
  while (docker(['version']).code !== 0) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error('dockerd did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
  const root = join(tmp.path, 'hako');
  svc = new ImageService({ root, unpacker: directoryUnpacker(join(root, 'snapshots')), dockerConfigPath: join(root, 'config.json') });
});

after(async () => {
  svc?.close();
  if (daemon && daemon.exitCode === null) {
    const containerdPid = Number((() => {
      try {
        return readFileSync(join(tmp.path, 'exec', 'containerd', 'containerd.pid'), 'utf8').trim();
      } catch {
        return '';
      }
    })());
    const exited = new Promise((r) => daemon!.once('exit', r));
    process.kill(daemon.pid!, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (daemon.exitCode === null && daemon.signalCode === null) process.kill(daemon.pid!, 'SIGKILL');
    if (containerdPid > 0) {
      try {
        process.kill(containerdPid, 'SIGKILL'); // dockerd stops the containerd it started; make sure
      } catch {
        /* gone */
      }
    }
  }
  if (tmp) {
    // dockerd bind-mounts its data-root on itself and unmounts it on a clean shutdown.
    for (const m of mountsUnder(tmp.path).reverse()) spawnSync('umount', ['-l', m]);
    tmp.cleanup();
  }
  await reg?.stop();
  busybox?.cleanup();
  layered?.cleanup();
});

test('what the real `docker save` writes loads into hako with the same image ID and diff IDs', { skip, timeout: 120_000 }, async () => {
  const ref = `${reg.host}/test/layered:latest`;
  ok(['pull', ref]);
  ok(['tag', ref, 'from-docker:1']);
  const file = join(tmp.path, 'docker-saved.tar');
  ok(['save', '-o', file, ref, 'from-docker:1']);
  const r = await svc.load(createReadStream(file));
  assert.deepEqual(r.messages.sort(), [`Loaded image: ${ref}`, 'Loaded image: from-docker:1'].sort());
  const i = await svc.inspect('from-docker:1');
  assert.equal(i.id, layered.manifests[0]!.config.digest);
  assert.deepEqual(i.config.rootfs.diff_ids, layered.manifests[0]!.diffIds);
  assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', 'from-docker:1']).trim(), i.id);
  assert.ok((await svc.verify()).ok);
});

test('what hako saves loads into the real dockerd with the same image ID', { skip, timeout: 120_000 }, async () => {
  await svc.pull(`${reg.host}/test/busybox`);
  await svc.tag(`${reg.host}/test/busybox`, 'from-hako:1');
  const file = join(tmp.path, 'hako-saved.tar');
  await pipeline(await svc.save(['from-hako:1']), createWriteStream(file));
  const out = ok(['load', '-i', file]);
  assert.match(out, /Loaded image: from-hako:1/);
  const insp = JSON.parse(ok(['image', 'inspect', 'from-hako:1']))[0] as { Id: string; RootFS: { Layers: string[] }; Config: { Cmd: string[] } };
  assert.equal(insp.Id, busybox.manifests[0]!.config.digest);
  assert.deepEqual(insp.RootFS.Layers, busybox.manifests[0]!.diffIds);
  assert.deepEqual(insp.Config.Cmd, ['sh']);
  assert.ok(existsSync(file));
});

test('an image hako pulled from a multi-platform index (this platform and another), saved under its index, loads into the real dockerd with the same image ID', { skip, timeout: 120_000 }, async () => {
  const multi = multiPlatformImage();
  try {
    await pushLayout(multi, reg.host, 'test/multi');
    const hostArch = hostPlatform().architecture;
    for (const [i, platform] of [undefined, hostArch === 'amd64' ? 'linux/arm64/v8' : 'linux/amd64'].entries()) {
      const pulled = await svc.pull(`${reg.host}/test/multi:latest`, { platform });
      await svc.tag(`${reg.host}/test/multi:latest`, `multi-from-hako:${i}`);
      const file = join(tmp.path, `hako-multi-${i}.tar`);
      await pipeline(await svc.save([`multi-from-hako:${i}`]), createWriteStream(file));
      assert.match(ok(['load', '-i', file]), new RegExp(`Loaded image: multi-from-hako:${i}`));
      const insp = JSON.parse(ok(['image', 'inspect', `multi-from-hako:${i}`]))[0] as { Id: string; Architecture: string };
      assert.equal(insp.Id, pulled.id);
      assert.equal(insp.Architecture, pulled.platform.architecture);
    }
  } finally {
    multi.cleanup();
  }
});

test('image Size and history sizes are what dockerd (overlay2) reports: the layers’ unpacked content, not the tar or blob bytes', { skip, timeout: 120_000 }, async () => {
  for (const [img, repo] of [[busybox, 'test/busybox'], [layered, 'test/layered']] as const) {
    const ref = `${reg.host}/${repo}:latest`;
    ok(['pull', ref]);
    await svc.pull(ref);
    const theirs = JSON.parse(ok(['image', 'inspect', ref]))[0] as { Id: string; Size: number };
    const mine = await svc.inspect(ref);
    assert.equal(mine.id, theirs.Id);
    assert.equal(mine.size, theirs.Size, `${repo}: Size`);
    const tarBytes = img.manifests[0]!.layers.reduce((n, l) => n + l.size, 0);
    assert.notEqual(mine.size, tarBytes, 'not the layer blobs’ size');
    const theirHistory = (JSON.parse(ok(['history', '--no-trunc', '--format', '{{json .}}', '--human=false', ref]).trim().split('\n').map((l) => l).join(',').replace(/^/, '[').replace(/$/, ']')) as Array<{ Size: string }>).map((h) => Number(h.Size));
    assert.deepEqual((await svc.history(ref)).map((h) => h.size), theirHistory, `${repo}: history sizes`);
    const listed = (await svc.list()).find((i) => i.id === mine.id)!;
    assert.equal(listed.size, theirs.Size);
  }
});

test('docker image prune --filter (label, label!, until, -a) prints the same against dockerd and hakod: the same images and layers go, the same space is reclaimed', { skip, timeout: 180_000 }, async () => {
  const { startDaemon } = await import('../helpers/daemon.js');
  const { makeTar } = await import('../helpers/tar.js');
  const { createHash } = await import('node:crypto');
  const { writeFileSync } = await import('node:fs');
  const h = await startDaemon();
  try {
    const roles = ['a', 'b', 'c', 'e'];
    const tars = new Map(roles.map((r) => [r, makeTar([{ name: 'etc/', type: 'dir' }, { name: `etc/${r}`, data: Buffer.alloc(1000 + r.charCodeAt(0), r) }, { name: 'etc/link', type: 'symlink', linkname: `${r}/target` }])]));
    const layerRole = new Map([...tars].map(([r, t]) => ['sha256:' + createHash('sha256').update(t).digest('hex'), `layer-${r}`]));
    const changes: Record<string, string[]> = { a: ['LABEL keep=yes'], b: ['LABEL env=test'], c: ['LABEL env=test'], e: [] };
    const tags: Record<string, string | undefined> = { a: 'pr/a:1', b: 'pr/b:1', c: undefined, e: undefined };
    const outputs: string[][] = [];
    for (const host of [`unix://${sock}`, h.host]) {
      const run = (args: string[]): string => {
        const r = spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(tmp.path, 'cli') }, timeout: 60_000 });
        assert.equal(r.status, 0, `docker ${args.join(' ')} (${host}): ${r.stderr}`);
        return r.stdout;
      };
      const idRole = new Map<string, string>();
      for (const r of roles) {
        const file = join(tmp.path, `prune-${r}.tar`);
        writeFileSync(file, tars.get(r)!);
        const id = run(['import', ...changes[r]!.flatMap((c) => ['-c', c]), file, ...(tags[r] ? [tags[r]!] : [])]).trim();
        idRole.set(id, r);
      }
      const normal = (out: string): string => {
        let s = out;
        for (const [id, r] of idRole) s = s.split(id).join(`image-${r}`);
        for (const [l, r] of layerRole) s = s.split(l).join(r);
        // dockerd walks its images in map order: compare each block's lines sorted.
        return s.split('\n\n').map((block) => block.split('\n').sort().join('\n')).join('\n\n');
      };
      const future = String(Math.floor(Date.now() / 1000) + 3600);
      outputs.push([
        normal(run(['image', 'prune', '-f', '--filter', 'label=env=test'])),
        // (the label keeps this engine's other images, from the tests above, out of it)
        normal(run(['image', 'prune', '-f', '-a', '--filter', 'until=1h', '--filter', 'label=env'])),
        normal(run(['image', 'prune', '-f', '-a', '--filter', 'label!=keep', '--filter', 'label=env', '--filter', `until=${future}`])),
        // label! keeps only an image that has all of them: a (keep only) and e (neither) go.
        normal(run(['image', 'prune', '-f', '-a', '--filter', 'label!=keep', '--filter', 'label!=env']))
          // dockerd has other images here (from the tests above): only ours are compared.
          .replace(/(untagged|deleted): (?!image-|layer-).*\n/g, '')
          .replace(/Total reclaimed space: .*$/, ''),
        normal(run(['image', 'prune', '-f', '-a', '--filter', 'label=keep=yes'])),
      ]);
    }
    assert.deepEqual(outputs[1], outputs[0]);
    assert.match(outputs[0]![0]!, /deleted: image-c/, 'the label filter pruned something');
  } finally {
    await h.stop();
  }
});
