// Paths and files the image, a running container or a build context controls, as the daemon
// itself reads, lists or writes them (session 19's adversarial review):
// - a fifo where a regular file is expected (/etc/passwd for a user lookup, a build's Dockerfile or
//   .dockerignore) used to block hakod's event loop in open(2) for good (every client hung, even
//   `docker ps`); refused now in words naming the file, and the daemon keeps answering. (When a
//   check fails, the test opens the fifo for writing itself, which releases a daemon stuck in it,
//   so a failure is an assertion and not a hung file.)
// - a running container swapping a directory for a symlink to the host while `docker cp` (both
//   ways), a path stat or `docker diff` works on it: before, each won within tens to hundreds of
//   tries (host file written, read, stat'ed; host directory listed);
// - docker cp through a symlink that leads into a volume goes into the volume.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { hasEngine, requestJson, type TestDaemon } from '../helpers/daemon.js';
import { hasRegistry } from '../helpers/registry.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { monitorAvailable } from '../../src/engine/containers/supervise.js';

const skip = !isRoot ? 'needs root' : !hasRegistry ? 'docker-registry is not installed' : !hasEngine ? 'the engine is not built' : !monitorAvailable() ? 'build/hako-monitor is not built' : false;
let setup: BusyboxDaemon | undefined;
let d: TestDaemon;
let image: string;

const json = (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => requestJson(d, method, path, body);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  if (skip) return;
  setup = await startBusyboxDaemon({ pull: true });
  ({ d, image } = setup);
});

after(async () => {
  await setup?.stop();
});

/** Opens each fifo for writing and closes it: a daemon blocked in opening it for reading goes on (EOF). */
function releaseFifos(paths: () => string[]): void {
  for (const p of paths()) {
    try {
      closeSync(openSync(p, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader (ENXIO) or gone: nothing is blocked in it
    }
  }
}

/** `req`, or a failure after `ms` (the fifos released then, so the daemon answers and stops). */
async function answered<T>(what: string, req: Promise<T>, fifos: () => string[], ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      releaseFifos(fifos);
      reject(new Error(`${what}: no answer in ${ms} ms (the daemon blocked on a fifo)`));
    }, ms);
  });
  try {
    return await Promise.race([req, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('a fifo at /etc/passwd in a running container: exec -u is refused naming it, the daemon keeps answering', { skip, timeout: 60_000 }, async () => {
  const { status, body: c } = await json('POST', '/containers/create', { Image: image, Cmd: ['sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd && sleep 300'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  const fifo = () => [join(d.execRoot, 'containers', id, 'rootfs', 'etc', 'passwd')];
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    // Until the container made its fifo (a path stat only lstats: 2**25 is Go's ModeNamedPipe).
    for (let i = 0; ; i++) {
      const st = await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/etc/passwd`);
      const mode = st.status === 200 ? Number(JSON.parse(Buffer.from(String(st.headers['x-docker-container-path-stat']), 'base64').toString()).mode) : 0;
      if (mode >= 2 ** 25 && Math.floor(mode / 2 ** 25) % 2 === 1) break;
      assert.ok(i < 200, 'the container did not make its fifo');
      await sleep(25);
    }
    const e = await answered('exec create', json('POST', `/containers/${id}/exec`, { Cmd: ['id'], User: 'nobody' }), fifo);
    assert.equal(e.status, 201, JSON.stringify(e.body));
    const start = await answered('exec start', json('POST', `/exec/${e.body.Id}/start`, { Detach: true }), fifo);
    assert.notEqual(start.status, 200, 'the exec must be refused');
    assert.match(JSON.stringify(start.body), /\/etc\/passwd is a fifo, not a regular file/);
    // The daemon answers others meanwhile and after.
    assert.equal((await answered('ping', d.request('GET', '/_ping'), fifo)).status, 200);
  } finally {
    releaseFifos(fifo);
    await json('DELETE', `/containers/${id}?force=1`);
  }
});

/** POST /build with a context made by `fill` in a temp dir; the answer's text. */
async function build(fill: (dir: string) => void): Promise<{ status: number; text: string }> {
  const ctx = tempDir('hako-test-ctx-');
  try {
    fill(ctx.path);
    const tar = execFileSync('tar', ['-C', ctx.path, '-cf', '-', '.'], { maxBuffer: 1 << 26 });
    const contexts = () => {
      const dir = join(d.root, 'builder');
      try {
        return readdirSync(dir).filter((n) => n.startsWith('context-')).flatMap((n) => [join(dir, n, 'Dockerfile'), join(dir, n, '.dockerignore')]);
      } catch {
        return [];
      }
    };
    const r = await answered('build', d.request('POST', '/v1.44/build?t=hostile-fifo', tar, { 'Content-Type': 'application/x-tar' }), contexts);
    return { status: r.status, text: r.body.toString() };
  } finally {
    ctx.cleanup();
  }
}

test('a build context whose Dockerfile or .dockerignore is a fifo is refused naming it; nothing of the build is left', { skip, timeout: 60_000 }, async () => {
  const r1 = await build((dir) => execFileSync('mkfifo', [join(dir, 'Dockerfile')]));
  assert.match(r1.text, /Dockerfile is a fifo, not a regular file/, `${r1.status} ${r1.text}`);
  const r2 = await build((dir) => {
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${image}\nCOPY . /x\n`);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'f'), 'f');
    execFileSync('mkfifo', [join(dir, '.dockerignore')]);
  });
  assert.match(r2.text, /\.dockerignore is a fifo, not a regular file/, `${r2.status} ${r2.text}`);
  assert.equal((await d.request('GET', '/_ping')).status, 200);
  // No build context and no image left behind.
  const left = readdirSync(join(d.root, 'builder')).filter((n) => n.startsWith('context-'));
  assert.deepEqual(left, []);
  assert.equal((await json('GET', '/images/hostile-fifo/json')).status, 404);
});

test('docker cp into and out of a running container that swaps a directory for a symlink to the host: nothing is written or read outside it', { skip, timeout: 120_000 }, async () => {
  // The host directory the container's symlink names (`/…/escape` means the host's path only to a
  // daemon that follows it outside the rootfs).
  const host = tempDir('hako-test-escape-');
  const src = tempDir('hako-test-cpsrc-');
  const { status, body: c } = await json('POST', '/containers/create', {
    Image: image,
    // /d flips between a directory (holding `secret` of its own) and a symlink to the host dir,
    // as fast as busybox's mv goes.
    Cmd: ['sh', '-c', `mkdir /d && echo container > /d/secret && ln -s ${host.path} /lnk && while :; do mv /d /dtmp; mv /lnk /d; mv /d /lnk; mv /dtmp /d; done`],
    HostConfig: { NetworkMode: 'none' },
  });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  try {
    writeFileSync(join(host.path, 'secret'), 'host secret\n');
    writeFileSync(join(src.path, 'payload'), 'payload\n');
    mkdirSync(join(src.path, 'pdir'));
    writeFileSync(join(src.path, 'pdir', 'inner'), 'inner\n');
    const tar = execFileSync('tar', ['-C', src.path, '-cf', '-', 'payload', 'pdir']);
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    let puts = 0;
    let gets = 0;
    const deadline = Date.now() + 25_000;
    // Before: the host dir got `payload` within ~25 copies.
    for (let i = 0; i < 300 && Date.now() < deadline; i++) {
      const put = await d.request('PUT', `/v1.44/containers/${id}/archive?path=/d`, tar, { 'Content-Type': 'application/x-tar' });
      if (put.status === 200) puts++;
      const get = await d.request('GET', `/v1.44/containers/${id}/archive?path=/d/secret`);
      if (get.status === 200) {
        gets++;
        assert.ok(!get.body.includes('host secret'), `GET read the host's file (copy ${i})`);
      }
      assert.deepEqual(readdirSync(host.path).sort(), ['secret'], `PUT wrote on the host (copy ${i})`);
    }
    // (The race ran: some copies went through, into or out of the container's own /d; most are
    // refused, /d being a directory only a quarter of the time and needed so at each step.)
    assert.ok(puts + gets > 0, `puts ${puts}, gets ${gets}`);
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
    host.cleanup();
    src.cleanup();
  }
});

test('docker diff of a running container that swaps a directory for a symlink to the host never lists the host directory', { skip, timeout: 120_000 }, async () => {
  const host = tempDir('hako-test-difflnk-');
  mkdirSync(join(host.path, 'HOST-ONLY-NAME'));
  const { status, body: c } = await json('POST', '/containers/create', {
    Image: image,
    Cmd: ['sh', '-c', `mkdir -p /x/sub && ln -s ${host.path} /lnk && while :; do mv /x /xtmp; mv /lnk /x; mv /x /lnk; mv /xtmp /x; done`],
    HostConfig: { NetworkMode: 'none' },
  });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    let seenSub = 0;
    const deadline = Date.now() + 45_000;
    // Before: the host dir's entry showed up within a few hundred diffs.
    for (let i = 0; i < 2500 && Date.now() < deadline; i++) {
      const r = await d.request('GET', `/v1.44/containers/${id}/changes`);
      assert.equal(r.status, 200, r.body.toString());
      const text = r.body.toString();
      assert.ok(!text.includes('HOST-ONLY-NAME'), `diff ${i} listed the host directory: ${text}`);
      if (text.includes('/sub"')) seenSub++;
    }
    // (The container's own directory was listed while it was one.)
    assert.ok(seenSub > 0);
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
    host.cleanup();
  }
});

test('a path stat (HEAD archive) of a running container that swaps a directory for a symlink to the host never shows the host file', { skip, timeout: 120_000 }, async () => {
  const host = tempDir('hako-test-statlnk-');
  // The host's file has a size the container's never has.
  writeFileSync(join(host.path, 'f'), Buffer.alloc(54321, 'h'));
  const { status, body: c } = await json('POST', '/containers/create', {
    Image: image,
    Cmd: ['sh', '-c', `mkdir /x && echo small > /x/f && ln -s ${host.path} /lnk && while :; do mv /x /xtmp; mv /lnk /x; mv /x /lnk; mv /xtmp /x; done`],
    HostConfig: { NetworkMode: 'none' },
  });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    let found = 0;
    const deadline = Date.now() + 45_000;
    for (let i = 0; i < 4000 && Date.now() < deadline; i++) {
      const r = await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/x/f`);
      if (r.status !== 200) continue;
      found++;
      const st = JSON.parse(Buffer.from(String(r.headers['x-docker-container-path-stat']), 'base64').toString());
      assert.notEqual(st.size, 54321, `stat ${i} showed the host's file`);
    }
    assert.ok(found > 0);
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
    host.cleanup();
  }
});

test('docker cp through a symlink to a volume\'s mount point goes into the volume (as dockerd\'s mounted view), and a symlink inside the volume back into the rootfs is followed there', { skip, timeout: 60_000 }, async () => {
  const { status, body: c } = await json('POST', '/containers/create', {
    Image: image,
    Cmd: ['sh', '-c', 'ln -s /vol /lnk && mkdir /etcx && ln -s /etcx /vol/back && ln -s /etc /etcl && touch /ready && sleep 300'],
    HostConfig: { NetworkMode: 'none', Binds: ['hako-test-cpvol:/vol'] },
  });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    for (let i = 0; (await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/ready`)).status !== 200; i++) {
      assert.ok(i < 200, 'the container did not set up');
      await sleep(25);
    }
    const src = tempDir('hako-test-cpvolsrc-');
    try {
      writeFileSync(join(src.path, 'payload'), 'payload\n');
      const tar = execFileSync('tar', ['-C', src.path, '-cf', '-', 'payload']);
      const put = await d.request('PUT', `/v1.44/containers/${id}/archive?path=/lnk`, tar, { 'Content-Type': 'application/x-tar' });
      assert.equal(put.status, 200, put.body.toString());
      // In the volume (before: beneath its mount point in the rootfs, which the container never sees).
      assert.equal((await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/vol/payload`)).status, 200);
      const put2 = await d.request('PUT', `/v1.44/containers/${id}/archive?path=/vol/back`, tar, { 'Content-Type': 'application/x-tar' });
      assert.equal(put2.status, 200, put2.body.toString());
      assert.equal((await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/etcx/payload`)).status, 200);
      // The /etc/hostname bind reached through a symlinked directory: busy, as dockerd's untar
      // (before: written beneath the mount, unseen, and answered 200).
      writeFileSync(join(src.path, 'hostname'), 'other\n');
      const busy = await d.request('PUT', `/v1.44/containers/${id}/archive?path=/etcl`, execFileSync('tar', ['-C', src.path, '-cf', '-', 'hostname']), { 'Content-Type': 'application/x-tar' });
      assert.equal(busy.status, 500, busy.body.toString());
      assert.match(busy.body.toString(), /unlinkat \/etc\/hostname: device or resource busy/);
      // A stat of the symlink names its target in the container.
      const st = await d.request('HEAD', `/v1.44/containers/${id}/archive?path=/lnk`);
      assert.equal(JSON.parse(Buffer.from(String(st.headers['x-docker-container-path-stat']), 'base64').toString()).linkTarget, '/vol');
    } finally {
      src.cleanup();
    }
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
    await json('DELETE', '/volumes/hako-test-cpvol');
  }
});

test('docker cp into a container stages under the daemon\'s root (not the host\'s /tmp); a copy cut short by a daemon crash leaves nothing once it restarts', { skip, timeout: 90_000 }, async () => {
  const { status, body: c } = await json('POST', '/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  const stagingRoot = join(d.root, 'tmp');
  const staged = (): string[] => {
    try {
      return readdirSync(stagingRoot).filter((n) => n.startsWith('cp-'));
    } catch {
      return [];
    }
  };
  const hostTmp = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('hako-cp-'));
  const src = tempDir('hako-test-cpcrash-');
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    writeFileSync(join(src.path, 'big'), Buffer.alloc(4 << 20, 'b'));
    const tar = execFileSync('tar', ['-C', src.path, '-cf', '-', 'big'], { maxBuffer: 1 << 26 });
    const tmpBefore = hostTmp();
    // Half the archive, then nothing: the daemon is staging it when it dies.
    const req = request({ socketPath: d.socket, method: 'PUT', path: `/v1.44/containers/${id}/archive?path=/tmp`, headers: { 'Content-Type': 'application/x-tar', 'Content-Length': String(tar.length) } });
    req.on('error', () => undefined);
    req.write(tar.subarray(0, tar.length >> 1));
    for (let i = 0; staged().length === 0; i++) {
      assert.ok(i < 200, `no staging dir under ${stagingRoot} (host tmp: ${hostTmp().join(', ')})`);
      await sleep(25);
    }
    assert.deepEqual(hostTmp(), tmpBefore);
    await d.restart('SIGKILL');
    req.destroy();
    // The start-up sweep removes it.
    for (let i = 0; staged().length > 0; i++) {
      assert.ok(i < 200, `left after the restart: ${staged().join(', ')}`);
      await sleep(25);
    }
  } finally {
    src.cleanup();
    await json('DELETE', `/containers/${id}?force=1`);
  }
});

test('volume copy-up into a volume a running volume-nocopy container shares, which swaps the directories being filled for symlinks to the host: nothing is written outside the volume', { skip, timeout: 180_000 }, async () => {
  const host = tempDir('hako-copyup-target-');
  const made: string[] = [];
  const vols: string[] = [];
  let swapped = 0;
  try {
    // The racer: renames each directory the copy-up makes at the top of the volume and puts a
    // symlink to the host directory in its place (absolute: resolved on the host by a path walk).
    const racer = `while :; do for d in /vol/bin /vol/sbin; do if [ -d $d ] && [ ! -L $d ]; then mv $d $d.old 2>/dev/null && ln -s ${host.path} $d; fi; done; done`;
    for (let i = 0; i < 12 && readdirSync(host.path).length === 0; i++) {
      const vol = `copyup-race-${i}`;
      assert.equal((await json('POST', '/volumes/create', { Name: vol })).status, 201);
      vols.push(vol);
      const a = await json('POST', '/containers/create', { Image: image, Cmd: ['sh', '-c', racer], HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: vol, Target: '/vol', VolumeOptions: { NoCopy: true } }] } });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      made.push(a.body.Id);
      assert.equal((await json('POST', `/containers/${a.body.Id}/start`)).status, 204);
      await sleep(100);
      // /usr of the image: usr/bin and usr/sbin with an applet link each, copied into the empty volume.
      const b = await json('POST', '/containers/create', { Image: image, Cmd: ['true'], HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: vol, Target: '/usr' }] } });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      made.push(b.body.Id);
      await json('POST', `/containers/${b.body.Id}/start`); // succeeds, or fails naming the swapped directory
      await json('POST', `/containers/${a.body.Id}/kill`);
      const data = join(d.root, 'volumes', vol, '_data');
      if (existsSync(join(data, 'bin.old')) || existsSync(join(data, 'sbin.old'))) swapped++;
    }
    assert.deepEqual(readdirSync(host.path), [], 'the copy-up wrote into the host directory');
    assert.ok(swapped > 0, 'the racer never swapped a directory of the copy');
  } finally {
    for (const id of made) await json('DELETE', `/containers/${id}?force=1`);
    for (const v of vols) await json('DELETE', `/volumes/${v}`);
    host.cleanup();
  }
});

test('docker commit --pause=false of a container that swaps a directory for a symlink to the host never puts the host\'s files in the image', { skip, timeout: 150_000 }, async () => {
  const host = tempDir('hako-test-escape-');
  writeFileSync(join(host.path, 'secret'), 'HOST-SECRET-7f3a\n');
  const { status, body: c } = await json('POST', '/containers/create', {
    Image: image,
    // /d (with files of its own, so that the copy spends time inside it) flips with a symlink to the host dir.
    Cmd: ['sh', '-c', `mkdir /d && for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo c > /d/f$i; done && ln -s ${host.path} /lnk && while :; do mv /d /dtmp; mv /lnk /d; mv /d /lnk; mv /dtmp /d; done`],
    HostConfig: { NetworkMode: 'none' },
  });
  assert.equal(status, 201, JSON.stringify(c));
  const id = c.Id as string;
  const images: string[] = [];
  try {
    assert.equal((await json('POST', `/containers/${id}/start`)).status, 204);
    await sleep(200);
    let commits = 0;
    const deadline = Date.now() + 60_000;
    for (let i = 0; i < 60 && Date.now() < deadline; i++) {
      const r = await json('POST', `/commit?container=${id}&pause=0`);
      if (r.status !== 201) continue; // a copy that met the swap may fail
      commits++;
      images.push(r.body.Id);
      const saved = await d.request('GET', `/images/${r.body.Id}/get`);
      assert.equal(saved.status, 200);
      assert.ok(!saved.body.includes('HOST-SECRET-7f3a'), `commit ${i} put the host's file in the image`);
      await json('DELETE', `/images/${r.body.Id}?force=1`);
    }
    assert.ok(commits > 0, 'no commit went through');
  } finally {
    await json('DELETE', `/containers/${id}?force=1`);
    for (const i of images) await json('DELETE', `/images/${i}?force=1`);
    host.cleanup();
  }
});
