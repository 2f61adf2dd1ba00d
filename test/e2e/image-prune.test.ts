// `image prune` with docker's filters (until, label, label!, dangling) through the API, the hako
// CLI and the docker CLI, against a test hakod. dockerd 20.10's ImagesPrune is the reference:
// `until` (one value: Go duration before now, unix time or RFC 3339-like date) keeps images
// created after it; `label` must all match the config's labels; `label!` keeps an image that
// matches all of them; both combine with dangling=true (default) or dangling=false (`-a`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDocker, startDaemon, DOCKER, type TestDaemon } from '../helpers/daemon.js';
import { makeTar } from '../helpers/tar.js';

const HAKO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'hako.js');
const skipDocker = !hasDocker ? `${DOCKER} is missing` : false;

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

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const file = bin === HAKO ? process.execPath : bin;
    const argv = bin === HAKO ? [HAKO, ...args] : args;
    execFile(file, argv, { env: { ...d.env, HAKO_HOST: d.host }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let n = 0;
/** Image ID → its layer's diff ID (= chain ID: one layer). */
const layerOf = new Map<string, string>();
/** Imports a one-file image (distinct content each time) with LABEL changes; returns its ID. */
async function image(repoTag: string | undefined, labels: Record<string, string> = {}): Promise<string> {
  const tar = makeTar([{ name: 'f', data: `image ${++n} ${Math.random()}\n` }]);
  const changes = Object.entries(labels).map(([k, v]) => `&changes=${encodeURIComponent(`LABEL ${k}=${v}`)}`).join('');
  const [repo, tag] = repoTag ? repoTag.split(':') : [undefined, undefined];
  const q = `fromSrc=-${repo ? `&repo=${repo}&tag=${tag}` : ''}${changes}`;
  const r = await d.request('POST', `/v1.44/images/create?${q}`, tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200, r.body.toString());
  const id = String(JSON.parse(r.body.toString().trim().split('\n').at(-1)!).status);
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  layerOf.set(id, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
  return id;
}

async function prune(filters: Record<string, string[]>): Promise<{ status: number; deleted: string[]; body: Record<string, unknown> }> {
  const r = await d.request('POST', `/v1.44/images/prune?filters=${encodeURIComponent(JSON.stringify(filters))}`);
  const body = JSON.parse(r.body.toString()) as Record<string, unknown>;
  // Image IDs only (dockerd also lists the layers that went, checked separately).
  const deleted = ((body.ImagesDeleted as Array<{ Deleted?: string }> | null) ?? []).map((x) => x.Deleted).filter((x): x is string => !!x && layerOf.has(x)).sort();
  return { status: r.status, deleted, body };
}

async function ids(): Promise<string[]> {
  return (JSON.parse((await d.request('GET', '/v1.44/images/json?all=1')).body.toString()) as Array<{ Id: string }>).map((i) => i.Id).sort();
}

async function created(id: string): Promise<number> {
  return Date.parse(JSON.parse((await d.request('GET', `/v1.44/images/${id}/json`)).body.toString()).Created);
}

test('POST /images/prune: until (date, unix time, duration), label, label!, with dangling true and false; bad filters are 400s', async () => {
  for (const id of await ids()) await d.request('DELETE', `/v1.44/images/${id}?force=1`);
  const a = await image('p/a:1', { keep: 'yes' });
  const b = await image('p/b:1', { env: 'test' });
  const c = await image(undefined, { env: 'test', other: 'x' });
  const e = await image(undefined);
  const all = [a, b, c, e].sort();
  const t = await created(c);

  // until: everything here was created after these times, so nothing goes.
  const iso = new Date(t - 10_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const y = new Date(t).getUTCFullYear() - 1;
  for (const until of [iso, String(Math.floor(t / 1000) - 10), '1h', `${y}-06-01T12:00:00+01:00`, `${y}-06-01`, `${y}-06-01T12:00`, `${y}-06-01T12:00:00.5Z`, `${y}-06-01T12Z`]) {
    const r = await prune({ until: [until], dangling: ['false'] });
    assert.equal(r.status, 200, `${until}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.deleted, [], `until=${until} keeps images created after it`);
  }
  assert.deepEqual(await ids(), all);

  // label on the dangling ones only (the default): c has env=test, e has no labels, b is tagged.
  let r = await prune({ label: ['env=test'] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.deleted, [c]);
  assert.deepEqual(r.body.ImagesDeleted, [{ Deleted: c }, { Deleted: layerOf.get(c) }], 'dockerd lists the image, then its layers');
  assert.ok(Number(r.body.SpaceReclaimed) > 0);
  assert.deepEqual(await ids(), [a, b, e].sort());

  // label! with -a: keeps a (it has `keep`), removes b and e.
  r = await prune({ 'label!': ['keep'], dangling: ['false'] });
  assert.deepEqual(r.deleted, [b, e].sort());
  const items = r.body.ImagesDeleted as Array<Record<string, string>>;
  const bAt = items.findIndex((x) => x.Deleted === b);
  assert.deepEqual(items.slice(bAt - 1, bAt + 2), [{ Untagged: 'p/b:1' }, { Deleted: b }, { Deleted: layerOf.get(b) }], 'a tagged image: Untagged first');
  assert.deepEqual(await ids(), [a]);
  // a label key without the value; label=k=v that does not match
  assert.deepEqual((await prune({ label: ['keep=no'], dangling: ['false'] })).deleted, []);
  // until in the future (a unix time after a's Created, and a negative duration) removes a.
  const ta = await created(a);
  assert.deepEqual((await prune({ until: [String(Math.floor(ta / 1000) - 1)], dangling: ['false'] })).deleted, [], 'created after until: kept');
  assert.deepEqual((await prune({ until: [String(Math.floor(ta / 1000) + 1)], label: ['keep'], dangling: ['false'] })).deleted, [a]);
  assert.deepEqual(await ids(), []);

  // bad filters: 400 with the filter named, nothing removed
  const x = await image('p/x:1');
  for (const [filters, msg] of [
    [{ until: ['yesterday'] }, /failed to parse value as time or duration: "yesterday"/],
    [{ until: ['1h', '2h'] }, /more than one until filter specified/],
    [{ until: ['2020-13-45'] }, /parsing time "2020-13-45"/],
    [{ reference: ['x'] }, /invalid filter 'reference'/i],
    [{ dangling: ['maybe'] }, /invalid filter 'dangling=\[maybe\]'/i],
  ] as Array<[Record<string, string[]>, RegExp]>) {
    const bad = await prune(filters);
    assert.equal(bad.status, 400, JSON.stringify(filters));
    assert.match(String(bad.body.message), msg);
  }
  assert.deepEqual(await ids(), [x]);
  await d.request('DELETE', `/v1.44/images/${x}?force=1`);
});

test('hako image prune --filter and docker image prune --filter (the docker CLI against hakod)', async (t) => {
  const a = await image('cli/a:1', { team: 'red' });
  const b = await image(undefined, { team: 'blue' });
  const c = await image(undefined, { team: 'red' });
  const h = await run(HAKO, ['image', 'prune', '-f', '--filter', 'label=team=red']);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, new RegExp(`^Deleted Images:\ndeleted: ${c}\ndeleted: ${layerOf.get(c)}\n\nTotal reclaimed space: \\d`));
  assert.deepEqual(await ids(), [a, b].sort());
  const hu = await run(HAKO, ['image', 'prune', '-a', '-f', '--filter', 'until=10m', '--filter', 'label=team']);
  assert.equal(hu.code, 0, hu.stderr);
  assert.equal(hu.stdout, 'Total reclaimed space: 0B\n', 'created in the last 10 minutes: kept');
  const bad = await run(HAKO, ['image', 'prune', '-f', '--filter', 'until=later']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /failed to parse value as time or duration: "later"/);
  if (skipDocker) return t.skip(skipDocker);
  const k = await run(DOCKER, ['image', 'prune', '-a', '-f', '--filter', `until=${Math.floor(Date.now() / 1000) + 5}`, '--filter', 'label!=team=red']);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, new RegExp(`deleted: ${b}`));
  assert.deepEqual(await ids(), [a]);
  const kb = await run(DOCKER, ['image', 'prune', '-f', '--filter', 'until=1h', '--filter', 'until=2h']);
  assert.notEqual(kb.code, 0);
  assert.match(kb.stderr, /Error response from daemon: more than one until filter specified/);
  const ka = await run(DOCKER, ['image', 'prune', '-a', '-f', '--filter', 'label=team=red']);
  assert.match(ka.stdout, new RegExp(`deleted: ${a}`));
  assert.deepEqual(await ids(), []);
});
