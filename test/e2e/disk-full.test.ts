// A full data root while hakod runs: the daemon's dirs live on a small tmpfs of this test's own,
// filled up to its last byte by a file of ours (fallocate) around each step. A verb that fails on
// the full disk must fail as a whole (clear error naming the file, nothing recorded or left on
// disk or in the kernel) and work again once space is back; what ran before keeps its data.
// (pull on a full disk: pull-faults; crashes at each phase: crash-consistency.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasEngine, requestJson } from '../helpers/daemon.js';
import { startBusyboxDaemon, type BusyboxDaemon } from '../helpers/busybox-daemon.js';
import { isRoot, mountsUnder, tempDir } from '../helpers/fixtures.js';
import { atExit } from '../helpers/exit-cleanup.js';
import { stageFileAtomicSync, writeFileAtomicSync } from '../../src/common/atomic-file.js';
import { JsonFileWriter } from '../../src/engine/logs/json-file.js';
import { acquireLock } from '../../src/runtime/state/file-lock.js';

const skip = !hasEngine ? 'the engine is not built' : !isRoot ? 'needs root (a tmpfs, containers)' : false;

let t: { path: string; cleanup: () => void };
let mnt = '';
let bd: BusyboxDaemon | undefined;
let dropUnmount: (() => void) | undefined;
const filler = (): string => join(mnt, 'filler');

/**
 * Takes every free byte of the tmpfs but `leave` (a multiple of its block size), with more filler
 * files while space is freed meanwhile (a removal's files going in the background).
 */
function fill(leave = 0): void {
  unfill();
  for (let i = 0; ; i++) {
    const s = statfsSync(mnt);
    const free = s.bavail * s.bsize;
    // (at most: a container writing meanwhile takes some of it)
    if (free <= leave) return;
    assert.ok(i < 20, `the tmpfs stays at ${free} bytes free`);
    execFileSync('fallocate', ['-l', String(free - leave), `${filler()}-${i}`]);
  }
}

function unfill(): void {
  for (const f of readdirSync(mnt)) if (f.startsWith('filler')) rmSync(join(mnt, f), { force: true });
}

function unmount(): void {
  if (mountsUnder(mnt).includes(mnt)) execFileSync('umount', ['--lazy', mnt]);
}

before(async () => {
  if (skip) return;
  t = tempDir('hako-full-');
  mnt = join(t.path, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=755', 'tmpfs', mnt]);
  // (registered after the daemon's stopper: runs after it, once the daemon's dirs are gone)
  const tmpdir = process.env.TMPDIR;
  process.env.TMPDIR = mnt;
  try {
    bd = await startBusyboxDaemon({ pull: true });
  } finally {
    if (tmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdir;
    dropUnmount = atExit(() => {
      unmount();
      t.cleanup();
    });
  }
});

after(async () => {
  if (skip) return;
  try {
    unfill();
    await bd?.stop({ noBugs: true });
  } finally {
    dropUnmount?.();
    unmount();
    t.cleanup();
  }
  assert.deepEqual(mountsUnder(t.path), []);
});

test('network create on a full data root fails as a whole: not listed, no bridge, the name free once space is back', { skip }, async () => {
  const d = bd!.d;
  const linksBefore = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(d.net.prefix)).length;
  fill();
  let r: { status: number; body: any };
  try {
    r = await requestJson(d, 'POST', '/networks/create', { Name: 'fullnet' });
  } finally {
    unfill();
  }
  assert.equal(r.status, 500, JSON.stringify(r.body));
  const list = await requestJson(d, 'GET', '/networks');
  assert.deepEqual(list.body.map((n: { Name: string }) => n.Name).filter((n: string) => n === 'fullnet'), [], 'a network whose create failed is not listed');
  assert.match(r.body.message, /^write \S+\/network-state\.json: no space left on device \(ENOSPC\)$/);
  const linksAfter = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(d.net.prefix)).length;
  assert.equal(linksAfter, linksBefore, 'no bridge made');
  // Space back: the name is free, and the network is made and removed as any other.
  const ok = await requestJson(d, 'POST', '/networks/create', { Name: 'fullnet' });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  // A removal on a full disk fails and keeps the network (the file still names it).
  fill();
  let rm: { status: number; body: any };
  try {
    rm = await requestJson(d, 'DELETE', '/networks/fullnet');
  } finally {
    unfill();
  }
  assert.equal(rm.status, 500, JSON.stringify(rm.body));
  assert.equal((await requestJson(d, 'GET', '/networks/fullnet')).status, 200, 'a network whose removal failed is still there');
  assert.equal((await requestJson(d, 'DELETE', '/networks/fullnet')).status, 204);
  assert.equal((await requestJson(d, 'GET', '/networks/fullnet')).status, 404);
});

test('an atomic write of more bytes than are free fails with ENOSPC and keeps the old file (write(2) wrote a part and returned no error: the cut file was renamed in)', { skip }, async () => {
  const dir = join(mnt, 'atomic');
  mkdirSync(dir);
  try {
    const target = join(dir, 'state.json');
    writeFileSync(target, 'old\n');
    const big = JSON.stringify({ pad: 'x'.repeat(256 << 10) });
    fill(16 << 10);
    try {
      assert.throws(() => writeFileAtomicSync(target, big), (err: Error) => {
        assert.equal(err.message, `write ${target}: no space left on device (ENOSPC)`);
        return true;
      });
      assert.equal(readFileSync(target, 'utf8'), 'old\n', 'the old content stays');
      assert.deepEqual(readdirSync(dir), ['state.json'], 'no temp file left');
      // The staged form (records, reference tables) fails at its write too, before any commit.
      assert.throws(() => stageFileAtomicSync(target, big), /no space left on device \(ENOSPC\)$/);
      assert.equal(readFileSync(target, 'utf8'), 'old\n');
      assert.deepEqual(readdirSync(dir), ['state.json']);
    } finally {
      unfill();
    }
    writeFileAtomicSync(target, big);
    assert.equal(readFileSync(target, 'utf8'), big, 'whole once space is back');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('json-file logs on a full disk: the container runs on, the file stays whole JSON lines (a cut entry is cut off), logging resumes once space is back', { skip }, async () => {
  const d = bd!.d;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // Entries of ~190 bytes every 2 ms: the last free block of the disk takes part of one.
  const script = 'i=0; while true; do i=$((i+1)); echo "line $i aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; usleep 2000; done';
  const c = await requestJson(d, 'POST', '/containers/create?name=fullog', { Image: bd!.image, Cmd: ['sh', '-c', script] });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.Id as string;
  try {
    assert.equal((await requestJson(d, 'POST', `/containers/${id}/start`)).status, 204);
    const logPath = join(d.root, 'containers', id, `${id}-json.log`);
    const lastLine = (): number => Number(/line (\d+)/.exec(readFileSync(logPath, 'utf8').trimEnd().split('\n').pop() ?? '')?.[1] ?? 0);
    for (let round = 0; round < 2; round++) {
      await sleep(300);
      fill(12 << 10);
      try {
        await sleep(800);
        const ping = await d.request('GET', '/_ping');
        assert.equal(ping.status, 200, 'hakod answers while the disk is full');
        assert.equal((await requestJson(d, 'GET', `/containers/${id}/json`)).body.State.Status, 'running');
      } finally {
        unfill();
      }
      const before = lastLine();
      await sleep(500);
      assert.ok(lastLine() > before, 'entries are written again once space is back');
    }
    const lines = readFileSync(logPath, 'utf8').split('\n').filter(Boolean);
    const bad = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepEqual(bad.map((l) => l.slice(0, 200)), [], 'every line of the log is one whole JSON entry');
  } finally {
    await requestJson(d, 'DELETE', `/containers/${id}?force=1`);
  }
});

test("the engine's own json-file writer (containers without a monitor) on a full disk: no throw into the output relay, whole JSON lines, writing again once space is back", { skip }, async () => {
  const dir = join(mnt, 'jsonlog');
  mkdirSync(dir);
  try {
    const path = join(dir, 'c-json.log');
    const w = new JsonFileWriter(path);
    const entry = (i: number) => Buffer.from(`line ${i} ${'b'.repeat(150)}\n`);
    for (let i = 0; i < 10; i++) w.write('stdout', entry(i));
    fill(8 << 10);
    try {
      for (let i = 10; i < 200; i++) w.write('stdout', entry(i));
    } finally {
      unfill();
    }
    w.write('stdout', entry(200));
    w.close();
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
    const logs = lines.map((l) => (JSON.parse(l) as { log: string }).log);
    assert.ok(logs.length < 201, 'entries were dropped while the disk was full');
    assert.match(logs.at(-1)!, /^line 200 /, 'the entry after the space came back is whole and last');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rename of a running container on a full data root fails as a whole: the old name stays, the new one stays free', { skip }, async () => {
  const d = bd!.d;
  const c = await requestJson(d, 'POST', '/containers/create?name=oldname', { Image: bd!.image, Cmd: ['sleep', '1000'] });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const id = c.body.Id as string;
  try {
    assert.equal((await requestJson(d, 'POST', `/containers/${id}/start`)).status, 204);
    fill();
    let r: { status: number; body: any };
    try {
      r = await requestJson(d, 'POST', `/containers/${id}/rename?name=newname`);
    } finally {
      unfill();
    }
    assert.equal(r.status, 500, JSON.stringify(r.body));
    assert.match(r.body.message, /network-state\.json: no space left on device \(ENOSPC\)$/);
    const byOld = await requestJson(d, 'GET', '/containers/oldname/json');
    assert.equal(byOld.status, 200, 'the old name still names it');
    assert.equal(byOld.body.Name, '/oldname');
    assert.equal((await requestJson(d, 'GET', '/containers/newname/json')).status, 404);
    assert.equal((await requestJson(d, 'POST', `/containers/${id}/rename?name=newname`)).status, 204, 'renamed once space is back');
    assert.equal((await requestJson(d, 'GET', '/containers/newname/json')).body.Id, id);
  } finally {
    await requestJson(d, 'DELETE', `/containers/${id}?force=1`);
  }
});

test("a container's runtime lock on a full disk: the failed take leaves no empty lock file (every later pause, kill and delete of the container waited 30 s and failed on it); an empty one left by an older run is taken over", { skip }, async () => {
  const dir = join(mnt, 'lockdir');
  mkdirSync(dir);
  try {
    const path = join(dir, 'lock');
    fill();
    try {
      await assert.rejects(acquireLock(path, 'container x'), (err: Error) => {
        assert.equal(err.message, `lock container x: no space left on device (ENOSPC)`);
        return true;
      });
    } finally {
      unfill();
    }
    assert.ok(!existsSync(path), 'no lock file left');
    const t0 = Date.now();
    (await acquireLock(path, 'container x', 2000)).release();
    assert.ok(Date.now() - t0 < 1000, 'taken at once');
    // An empty lock file from a process that died between its create and its write.
    writeFileSync(path, '');
    utimesSync(path, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
    (await acquireLock(path, 'container x', 3000)).release();
    assert.ok(!existsSync(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
