// `docker rmi` / `hako rmi` / DELETE /images/{name} against a test hakod, answering as a private
// dockerd 20.10.24 did for the same steps (observed side by side, same busybox archive):
// - the answer lists `Untagged` references (sorted by full name), the image ID, then the chain
//   IDs of the layers released with it, top first;
// - an untagged parent (commit's local parent) goes too when nothing else holds it, with its
//   own layers after it (not with ?noprune=1); an image with child images is only untagged by
//   name and refused by ID (`cannot be forced`);
// - a stopped container's image: refused by name (`must force`) and by ID (`must be forced`);
//   forced, the image goes but its layers stay (the container still starts), until the
//   container is removed;
// - dockerd's conflict messages, word for word.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDocker, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot, tempDir } from '../helpers/fixtures.js';
import { dockerSaveArchive } from '../helpers/images.js';

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');
const skip = !hasDocker ? `${DOCKER} is missing` : !isRoot ? 'needs root (containers)' : false;

let d: TestDaemon;
let tmp: { path: string; cleanup(): void };
let archive: string;

before(async () => {
  if (skip) return;
  tmp = tempDir('hako-rmi-');
  archive = dockerSaveArchive(tmp.path, 'image-rmi.test');
  writeFileSync(join(tmp.path, 'f1'), 'hi\n');
  d = await startDaemon();
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
  tmp?.cleanup();
});

function run(bin: string, args: string[], ok = true): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const file = bin === HAKO ? process.execPath : bin;
    const argv = bin === HAKO ? [HAKO, ...args] : args;
    execFile(file, argv, { env: { ...d.env, HAKO_HOST: d.host }, timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      if (ok && code !== 0) reject(new Error(`${bin} ${args.join(' ')} → ${code}: ${stderr}\n${d.log().slice(-2000)}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
const docker = (...args: string[]) => run(DOCKER, args);

async function del(name: string, query = ''): Promise<{ status: number; body: unknown }> {
  const r = await d.request('DELETE', `/v1.41/images/${name}${query}`);
  return { status: r.status, body: JSON.parse(r.body.toString()) };
}

async function inspect(ref: string): Promise<{ Id: string; Parent: string; RootFS: { Layers: string[] } }> {
  return JSON.parse((await docker('image', 'inspect', ref)).stdout)[0];
}

/** Chain IDs of an image's layers, bottom first (the OCI image spec's ChainID). */
function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const id of diffIds) out.push(out.length === 0 ? id : 'sha256:' + createHash('sha256').update(`${out.at(-1)} ${id}`).digest('hex'));
  return out;
}

async function load(): Promise<{ id: string; layer: string }> {
  await docker('load', '-q', '-i', archive);
  const i = await inspect('busybox:latest');
  return { id: i.Id, layer: i.RootFS.Layers[0]! };
}

/** Child image committed from `from` with one more file: its ID and top chain ID. */
async function commit(from: string, file: string, to: string): Promise<{ id: string; top: string }> {
  const c = (await docker('create', '--network', 'none', from, 'sh')).stdout.trim();
  await docker('cp', join(tmp.path, 'f1'), `${c}:/${file}`);
  await docker('commit', c, to);
  await docker('rm', c);
  const i = await inspect(to);
  return { id: i.Id, top: chainIds(i.RootFS.Layers).at(-1)! };
}

test('rmi lists the untagged references (sorted), the image and its released layers, as dockerd; by-ID conflicts word for word; the docker and hako CLIs print it', { skip, timeout: 120_000 }, async () => {
  const { id, layer } = await load();
  const short = id.slice(7, 19);
  await docker('tag', 'busybox', 'busybox:2');
  await docker('tag', 'busybox', 'other:1');
  assert.deepEqual(await del(short), { status: 409, body: { message: `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories` } });
  assert.deepEqual(await del(short, '?force=1'), {
    status: 200,
    body: [{ Untagged: 'busybox:2' }, { Untagged: 'busybox:latest' }, { Untagged: 'other:1' }, { Deleted: id }, { Deleted: layer }],
  });
  assert.ok(!existsSync(join(d.root, 'snapshots', 'layers', layer.slice(7))), 'the layer is gone');

  await load();
  await docker('tag', 'busybox', 'busybox:2');
  // Two tags of one repository still need force by ID.
  assert.equal((await del(short)).status, 409);
  assert.equal((await docker('rmi', 'busybox:2')).stdout, 'Untagged: busybox:2\n');
  assert.equal((await docker('rmi', short)).stdout, `Untagged: busybox:latest\nDeleted: ${id}\nDeleted: ${layer}\n`);
  await load();
  assert.equal((await run(HAKO, ['rmi', 'busybox'])).stdout, `Untagged: busybox:latest\nDeleted: ${id}\nDeleted: ${layer}\n`);
  assert.deepEqual(await del('nosuch'), { status: 404, body: { message: 'No such image: nosuch:latest' } });
  assert.deepEqual(await del(id.slice(7)), { status: 404, body: { message: `No such image: ${id}` } });
});

test('committed images: a parent with children is only untagged by name, refused by ID; deleting the child takes the untagged parent and its layer along (not with noprune)', { skip, timeout: 120_000 }, async () => {
  const base = await load();
  const child = await commit('busybox', 'f1', 'child:1');
  const grand = await commit('child:1', 'f2', 'grand:1');
  assert.equal((await inspect('grand:1')).Parent, child.id);
  assert.deepEqual(await del(child.id.slice(7, 19)), { status: 409, body: { message: `conflict: unable to delete ${child.id.slice(7, 19)} (cannot be forced) - image has dependent child images` } });
  assert.equal((await del(child.id.slice(7, 19), '?force=1')).status, 409, 'cannot be forced');
  assert.equal((await docker('rmi', 'child:1')).stdout, 'Untagged: child:1\n');
  assert.ok((await docker('images', '-a', '-q', '--no-trunc')).stdout.includes(child.id), 'the untagged parent stays while it has a child');
  assert.deepEqual(await del('grand:1'), {
    status: 200,
    body: [{ Untagged: 'grand:1' }, { Deleted: grand.id }, { Deleted: grand.top }, { Deleted: child.id }, { Deleted: child.top }],
  });
  // busybox is tagged: it stays, with its layer.
  assert.equal((await inspect('busybox:latest')).Id, base.id);

  const again = await commit('busybox', 'f1', 'child:2');
  await docker('rmi', 'busybox');
  assert.equal((await del('child:2', '?noprune=1')).status, 200);
  const left = (await docker('images', '-a', '-q', '--no-trunc')).stdout;
  assert.ok(left.includes(base.id), 'noprune keeps the untagged parent');
  assert.ok(!left.includes(again.id));
  assert.equal((await docker('rmi', base.id.slice(7, 19))).stdout, `Deleted: ${base.id}\nDeleted: ${base.layer}\n`);
});

test('an image a stopped container uses: refused by name and by ID as dockerd; forced, it goes but the container keeps its layers (it still starts) until it is removed', { skip, timeout: 120_000 }, async () => {
  const { id, layer } = await load();
  const short = id.slice(7, 19);
  const c = (await docker('create', '--network', 'none', 'busybox', 'cat', '/etc/passwd')).stdout.trim();
  try {
    assert.deepEqual(await del('busybox'), { status: 409, body: { message: `conflict: unable to remove repository reference "busybox" (must force) - container ${c.slice(0, 12)} is using its referenced image ${short}` } });
    assert.deepEqual(await del(short), { status: 409, body: { message: `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${c.slice(0, 12)}` } });
    await docker('tag', 'busybox', 'z:1');
    assert.deepEqual(await del('z:1'), { status: 200, body: [{ Untagged: 'z:1' }] }, 'another repository still names it');
    assert.deepEqual(await del('busybox', '?force=1'), { status: 200, body: [{ Untagged: 'busybox:latest' }, { Deleted: id }] }, 'no layer: the container holds it');
    const snap = join(d.root, 'snapshots', 'layers', layer.slice(7));
    assert.ok(existsSync(snap));
    assert.match((await docker('start', '-a', c)).stdout, /^root:/);
    await docker('rm', c);
    assert.ok(!existsSync(snap), 'removing the container released the layer');
  } finally {
    await run(DOCKER, ['rm', '-f', c], false);
  }
});

test('an image a running container uses cannot be deleted, even forced; forced by name it is only untagged', { skip, timeout: 120_000 }, async () => {
  const { id } = await load();
  const short = id.slice(7, 19);
  const c = (await docker('run', '-d', '--network', 'none', 'busybox', 'sleep', '1000')).stdout.trim();
  try {
    assert.deepEqual(await del(short, '?force=1'), { status: 409, body: { message: `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${c.slice(0, 12)}` } });
    assert.deepEqual(await del('busybox', '?force=1'), { status: 200, body: [{ Untagged: 'busybox:latest' }] });
    assert.ok((await docker('images', '-a', '-q', '--no-trunc')).stdout.includes(id));
  } finally {
    await run(DOCKER, ['rm', '-f', c], false);
  }
  assert.equal((await del(short)).status, 200);
});

test('image prune as dockerd: an untagged parent with a child is no dangling image; prune -a deletes the top image and its untagged parents with their layers', { skip, timeout: 120_000 }, async () => {
  const base = await load();
  const child = await commit('busybox', 'f1', 'child:3');
  const grand = await commit('child:3', 'f2', 'grand:3');
  await docker('rmi', 'child:3');
  const prune = async (all: boolean): Promise<unknown> => {
    const q = all ? `?filters=${encodeURIComponent(JSON.stringify({ dangling: ['false'] }))}` : '';
    const r = await d.request('POST', `/v1.41/images/prune${q}`);
    assert.equal(r.status, 200);
    return (JSON.parse(r.body.toString()) as { ImagesDeleted: unknown }).ImagesDeleted;
  };
  assert.equal(await prune(false), null);
  await docker('rmi', 'busybox');
  assert.deepEqual(await prune(true), [
    { Untagged: 'grand:3' },
    { Deleted: grand.id },
    { Deleted: grand.top },
    { Deleted: child.id },
    { Deleted: child.top },
    { Deleted: base.id },
    { Deleted: base.layer },
  ]);
  assert.equal((await docker('images', '-a', '-q')).stdout, '');
});
