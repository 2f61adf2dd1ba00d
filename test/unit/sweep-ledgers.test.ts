// scripts/sweep-ledgers.mjs on ledgers of its own (a temp ledger root): a run that is gone is
// swept — its recorded process (start time matching), a process naming its dir, the dir — and
// nothing else: not a live run's ledger, not a recorded pid whose start time differs (a pid in use
// again), not a torn last record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Sweeper {
  sweepDeadLedgers(root: string, log: (l: string) => void): void;
  readLedger(dir: string): { procs: Array<{ pid: number; start: string; what: string }>; dirs: string[]; cgroups: string[]; nets: unknown[]; netns: string[] };
  startTime(pid: number): string | undefined;
}
const sweeperUrl = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'sweep-ledgers.mjs')).href;

function running(p: ChildProcess): boolean {
  try {
    const st = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return !/^[ZX]/.test(st.slice(st.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

const idle = (arg: string): ChildProcess => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', arg], { stdio: 'ignore' });

test('sweepDeadLedgers sweeps the ledger of a runner that is gone, only what it names, and leaves a live runner\'s ledger alone', async () => {
  const s = (await import(sweeperUrl)) as Sweeper;
  const base = mkdtempSync(join(tmpdir(), 'hako-sweep-unit-'));
  const procs: ChildProcess[] = [];
  try {
    const root = join(base, 'ledgers');
    // A runner that is gone: a child that has exited (its pid and start time then name nobody).
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    const goneStart = s.startTime(gone.pid!)!;
    await new Promise((r) => gone.once('exit', r));
    // (mkdtemp dirs in the temp root, as tempDir makes them: the sweep refuses other dirs)
    const deadDir = mkdtempSync(join(tmpdir(), 'hako-sweep-dead-'));
    const liveDir = mkdtempSync(join(tmpdir(), 'hako-sweep-live-'));
    mkdirSync(join(deadDir, 'sub'));
    const recorded = idle('recorded');
    const reused = idle('reused'); // recorded with another start time: a pid someone else has now
    const naming = idle(join(deadDir, 'sub', 'x')); // names the dead run's dir (as a monitor does)
    const liveNaming = idle(join(liveDir, 'x'));
    procs.push(recorded, reused, naming, liveNaming);
    const dead = join(root, `${gone.pid}-${goneStart}`);
    const live = join(root, `${process.pid}-${s.startTime(process.pid)}`);
    mkdirSync(dead, { recursive: true });
    mkdirSync(live);
    writeFileSync(join(dead, '123-456'), `proc\t${recorded.pid}\t${s.startTime(recorded.pid!)}\thakod\nproc\t${reused.pid}\t1\thakod\ndir\t${deadDir}\ndir\t/tmp\ndir\t/var/lib\ncgroup\t/sys/fs/cgroup/memory\nnet\teth\tx\nnetns\tto${'rn'}`);
    writeFileSync(join(live, '124-457'), `proc\t${liveNaming.pid}\t${s.startTime(liveNaming.pid!)}\ttest\ndir\t${liveDir}\n`);
    // (the naming process must have started after the dead run: it did, the run's start is older)
    const r = s.readLedger(dead);
    assert.deepEqual(r.dirs, [deadDir], 'only the mkdtemp dir; the torn netns record is ignored');
    assert.deepEqual(r.cgroups, [], 'a hierarchy root is refused');
    assert.deepEqual(r.netns, []);
    assert.deepEqual(r.nets, [], 'a link prefix of 3 characters (it could name host interfaces) is ignored');
    const log: string[] = [];
    s.sweepDeadLedgers(root, (l) => log.push(l));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(recorded), false, 'the recorded process runs');
    assert.equal(running(naming), false, 'the process naming the dead run\'s dir runs');
    assert.equal(running(reused), true, 'a recorded pid with another start time was killed');
    assert.equal(running(liveNaming), true, 'the live run\'s process was killed');
    assert.equal(existsSync(deadDir), false);
    assert.equal(existsSync(liveDir), true);
    assert.equal(existsSync('/tmp'), true);
    assert.deepEqual(readdirSync(root), [live.split('/').pop()], 'the dead ledger is removed, the live one kept');
    assert.equal(log.length, 1);
    assert.match(log[0]!, new RegExp(`runner ${gone.pid}-${goneStart}`));
    assert.match(log[0]!, new RegExp(`killed pid ${recorded.pid} \\(hakod\\)`));
    assert.match(log[0]!, new RegExp(`removed dir ${deadDir}`));
    assert.match(log[0]!, /refused the record "dir\\t\/var\/lib"/);
    assert.doesNotMatch(log[0]!, new RegExp(`pid ${reused.pid}\\b|${liveDir}`));
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(base, { recursive: true, force: true });
    for (const d of readdirSync(tmpdir()).filter((n) => /^hako-sweep-(dead|live)-/.test(n))) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
});
