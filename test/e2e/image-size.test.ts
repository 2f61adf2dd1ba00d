// Image sizes as dockerd reports them (Size in images/json, inspect, history, system df, and
// prune's SpaceReclaimed): the unpacked layers' content as overlay2 counts it (moby's
// directory.Size: file sizes, symlink target lengths, each inode once, directories nothing),
// not the tar or blob bytes. hakod records each layer's size beside its snapshot when it
// unpacks it (layers/<chain>/size, like dockerd's layerdb) and counts it once for snapshots
// from before.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { hasDocker, hasEngine, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { isRoot } from '../helpers/fixtures.js';
import { makeTar } from '../helpers/tar.js';

const skipDocker = !hasDocker ? `${DOCKER} is missing` : false;
const skipContainers = !hasEngine ? 'the container engine is not built' : !isRoot ? 'containers need root' : false;
let d: TestDaemon;

before(async () => {
  d = await startDaemon();
});

after(async () => {
  if (d) {
    const code = await d.stop();
    assert.equal(code, 0, `hakod exit code (log: ${d.log().slice(-2000)})`);
  }
});

// 1000 + 2345 bytes of files, a hard link (counted once), a symlink (its 11-byte target), an
// empty file, directories, a whiteout: 3356 bytes of content in a tar of many more.
const tar = makeTar([
  { name: 'a/', type: 'dir' },
  { name: 'a/one', data: Buffer.alloc(1000, 1) },
  { name: 'a/two', data: Buffer.alloc(2345, 2) },
  { name: 'a/one-again', type: 'hardlink', linkname: 'a/one' },
  { name: 'a/link', type: 'symlink', linkname: 'some/target' },
  { name: 'a/empty', data: '' },
  { name: 'a/.wh.gone', data: '' },
]);
const CONTENT = 1000 + 2345 + 11;

async function json<T>(path: string): Promise<T> {
  const r = await d.request('GET', path);
  assert.equal(r.status, 200, r.body.toString());
  return JSON.parse(r.body.toString()) as T;
}

test('Size is the layers’ content (images/json, inspect, history, system df, prune), recorded at unpack and recounted for an old store', async (t) => {
  const r = await d.request('POST', '/v1.44/images/create?fromSrc=-&repo=sized&tag=1', tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200, r.body.toString());
  // Recorded beside the snapshot when it was unpacked (chain ID = diff ID for one layer).
  const sizeFile = join(d.root, 'snapshots', 'layers', createHash('sha256').update(tar).digest('hex'), 'size');
  assert.equal(readFileSync(sizeFile, 'utf8'), String(CONTENT));
  const insp = await json<{ Id: string; Size: number; RootFS: { Layers: string[] } }>('/v1.44/images/sized:1/json');
  assert.equal(insp.Size, CONTENT);
  assert.ok(tar.length > CONTENT + 3000, 'the tar is larger');
  const list = await json<Array<{ Id: string; Size: number; SharedSize: number }>>('/v1.44/images/json');
  assert.equal(list.find((i) => i.Id === insp.Id)!.Size, CONTENT);
  const old = await json<Array<{ Id: string; VirtualSize: number }>>('/v1.41/images/json');
  assert.equal(old.find((i) => i.Id === insp.Id)!.VirtualSize, CONTENT);
  const hist = await json<Array<{ Size: number }>>('/v1.44/images/sized:1/history');
  assert.equal(hist[0]!.Size, CONTENT);
  const df = await json<{ LayersSize: number; Images: Array<{ Id: string; Size: number; SharedSize: number }> }>('/v1.44/system/df');
  assert.equal(df.LayersSize, CONTENT);
  assert.deepEqual(df.Images.map((i) => [i.Id, i.Size, i.SharedSize]), [[insp.Id, CONTENT, 0]]);

  // A store from before: no size file. The restarted daemon counts the snapshot's files once.
  rmSync(sizeFile);
  await d.restart();
  assert.equal((await json<{ Size: number }>('/v1.44/images/sized:1/json')).Size, CONTENT);
  assert.equal(readFileSync(sizeFile, 'utf8'), String(CONTENT), 'recorded again');

  if (!skipDocker) {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(DOCKER, ['images', '--format', '{{.Repository}} {{.Size}}'], { env: d.env, encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
    );
    assert.equal(out.trim(), 'sized 3.36kB');
  } else t.diagnostic(skipDocker);

  // GraphDriver.Data as dockerd's overlay2 gives it for a one-layer image: the layer's dirs.
  const graph = (await json<{ GraphDriver: { Name: string; Data: Record<string, string> } }>('/v1.44/images/sized:1/json')).GraphDriver;
  const layerDir = dirname(sizeFile);
  assert.deepEqual(graph, { Name: 'overlay2', Data: { MergedDir: join(layerDir, 'merged'), UpperDir: join(layerDir, 'diff'), WorkDir: join(layerDir, 'work') } });

  // commit of a created, never started container: nothing changed, so no layer is added (dockerd:
  // an empty_layer history entry), and the sizes stay the base layer's.
  if (!skipContainers) {
    const c = await d.request('POST', '/v1.44/containers/create', JSON.stringify({ Image: 'sized:1', Cmd: ['x'] }), { 'Content-Type': 'application/json' });
    assert.equal(c.status, 201, c.body.toString());
    const cid = JSON.parse(c.body.toString()).Id as string;
    const cm = await d.request('POST', `/v1.44/commit?container=${cid}&repo=sized&tag=committed`);
    assert.equal(cm.status, 201, cm.body.toString());
    const ci = await json<{ Size: number; RootFS: { Layers: string[] } }>('/v1.44/images/sized:committed/json');
    assert.equal(ci.Size, CONTENT);
    assert.deepEqual(ci.RootFS.Layers, insp.RootFS.Layers);
    const ch = await json<Array<{ Size: number }>>('/v1.44/images/sized:committed/history');
    assert.deepEqual(ch.map((h) => h.Size), [0, CONTENT]);
    const cdf = await json<{ LayersSize: number; Images: Array<{ Size: number; SharedSize: number }> }>('/v1.44/system/df');
    assert.equal(cdf.LayersSize, CONTENT, 'the shared layer counts once');
    assert.deepEqual(cdf.Images.map((i) => [i.Size, i.SharedSize]), [[CONTENT, CONTENT], [CONTENT, CONTENT]]);
    const sl = await json<Array<{ SharedSize: number }>>('/v1.44/images/json?shared-size=1');
    assert.deepEqual(sl.map((i) => i.SharedSize), [CONTENT, CONTENT], 'images/json?shared-size=1');
    assert.deepEqual((await json<Array<{ SharedSize: number }>>('/v1.44/images/json')).map((i) => i.SharedSize), [-1, -1]);
    await d.request('DELETE', `/v1.44/containers/${cid}?force=1`);
    await d.request('DELETE', '/v1.44/images/sized:committed');
  } else t.diagnostic(String(skipContainers));

  // prune -a: SpaceReclaimed is the removed layers' content, as dockerd reports it.
  const p = await d.request('POST', `/v1.44/images/prune?filters=${encodeURIComponent('{"dangling":["false"]}')}`);
  const pr = JSON.parse(p.body.toString()) as { SpaceReclaimed: number };
  assert.equal(pr.SpaceReclaimed, CONTENT);
  assert.equal(existsSync(sizeFile), false);
});
