// Supervised containers: hako-monitor is the container's parent, writes json-file logs and the
// exit file, serves attach/resize/stdin, and keeps all of it working after the launching Node
// process is SIGKILLed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, BUSYBOX } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import type { Launched } from '../../src/runtime/lifecycle/launch.js';
import { MonitorClient, monitorBinary, monitorLaunch, readExit, readLogs, waitForExit, monitorAlive, readMonitorInfo, type MonitorOptions } from '../../src/engine/monitor/index.js';
import { isSameProcess } from '../../src/runtime/state/process-info.js';
import { supervisedPlan } from '../../src/runtime/lifecycle/supervised.js';
import { native } from '../../src/native/addon.js';

const skip = !isRoot
  ? 'needs root'
  : !existsSync(BUSYBOX)
    ? 'needs busybox-static (apt-get install busybox-static)'
    : !existsSync(monitorBinary())
      ? `needs ${monitorBinary()} (npm run build:native)`
      : false;

const RFC3339NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
const startedPids: number[] = [];

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Supervised {
  launched: Launched;
  dir: string;
  logPath: string;
}

async function launchSupervised(h: Harness, name: string, args: string[], mutate?: (s: Spec) => void, extra: Partial<MonitorOptions> = {}): Promise<Supervised> {
  const { path, spec } = h.bundle(name, mutate, args);
  const dir = join(h.dir, `mon-${name}`);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, `${name}-json.log`);
  const launched = await h.runtime.launch({
    id: name,
    bundle: path,
    stdio: [0, 1, 2],
    monitor: monitorLaunch({
      dir,
      logPath,
      logMaxSize: 10 * 1024 * 1024,
      logMaxFiles: 3,
      logDriver: 'json-file',
      tty: Boolean(spec.process?.terminal),
      openStdin: false,
      stdinOnce: false,
      ...extra,
    }),
  });
  assert.ok(launched.monitor, 'launch reports the monitor');
  startedPids.push(launched.monitor.pid, launched.record.pid);
  return { launched, dir, logPath };
}

/** The exit record, and the monitor (our child) reaped. */
async function finished(s: Supervised) {
  const rec = await waitForExit(s.dir, s.launched.monitor!);
  const mon = await s.launched.process.exited;
  assert.deepEqual(mon, { code: 0, signal: null }, 'the monitor exits 0');
  return rec;
}

function logLines(path: string): Array<{ log: string; stream: string; time: string }> {
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Collects attachment output until `pattern` matches. */
function collect(output: NodeJS.ReadableStream): { text: () => string; until: (re: RegExp, ms?: number) => Promise<string> } {
  let text = '';
  output.on('data', (c: { data: Buffer }) => (text += c.data.toString()));
  return {
    text: () => text,
    until: (re, ms = 5000) => waitFor(`output matching ${re} (got ${JSON.stringify(text)})`, () => re.test(text), ms).then(() => text),
  };
}

describe('monitor: supervised containers', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('mon');
  });
  after(async () => {
    for (const pid of startedPids) {
      try {
        if (isSameProcess(pid, undefined)) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await h.cleanup();
  });

  test('stdout and stderr go to json-file logs with streams and RFC3339Nano times; exit 3 is recorded', async () => {
    const before = Date.now();
    const s = await launchSupervised(h, 'logs', ['/bin/sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf partial; exit 3']);
    const rec = await finished(s);
    assert.equal(rec.exitCode, 3);
    assert.equal(rec.signal, null);
    assert.equal(rec.oomKilled, false);
    assert.equal(rec.pid, s.launched.record.pid);
    assert.match(rec.finishedAt, RFC3339NANO);
    const lines = logLines(s.logPath);
    const byStream = (st: string) => lines.filter((l) => l.stream === st).map((l) => l.log);
    assert.deepEqual(byStream('stdout'), ['out1\n', 'out2\n', 'partial']);
    assert.deepEqual(byStream('stderr'), ['err1\n']);
    for (const l of lines) {
      assert.match(l.time, RFC3339NANO);
      const t = Date.parse(l.time);
      assert.ok(t >= before - 1000 && t <= Date.now() + 1000, `time ${l.time} is now-ish`);
    }
    const entries = [];
    for await (const e of readLogs(s.logPath, { follow: false, stdout: false, stderr: true, since: 0, until: 0, timestamps: false, tail: 'all' })) entries.push(e);
    assert.deepEqual(entries.map((e) => e.data.toString()), ['err1\n']);
    assert.ok(!existsSync(join(s.dir, 'control.sock')), 'the control socket is gone after exit');
    await h.runtime.delete('logs', { force: true });
  });

  // The container is forked into its cgroups (v2: CLONE_INTO_CGROUP on the fork; v1: it joins
  // each hierarchy itself, cloned into the unified one): no move by us, and the monitor stays out.
  for (const driver of ['default', 'v2'] as const) {
    const v2Mount = existsSync('/sys/fs/cgroup/cgroup.controllers') || existsSync('/sys/fs/cgroup/unified/cgroup.controllers');
    test(`the container is in its cgroup in every hierarchy, the monitor is not (${driver} driver)`, { skip: driver === 'v2' && !v2Mount && 'no cgroup2 mount' }, async () => {
      const hd = driver === 'v2' ? harness('monv2', { cgroupDriver: 'v2' }) : h;
      try {
        let cgPath = '';
        const s = await launchSupervised(hd, `cg${driver}`, ['/bin/sleep', '30'], (sp) => {
          cgPath = sp.linux!.cgroupsPath!;
        });
        try {
          const lines = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
          const mine = lines(s.launched.record.pid).filter((l) => driver === 'default' || l.startsWith('0::'));
          assert.ok(mine.length > 0);
          for (const l of mine) assert.ok(l.endsWith(`/${cgPath}`), `container: ${l} is not ${cgPath}`);
          for (const l of lines(s.launched.monitor!.pid)) assert.ok(!l.includes(cgPath), `monitor: ${l}`);
        } finally {
          await hd.runtime.delete(`cg${driver}`, { force: true });
          await finished(s).catch(() => undefined);
        }
      } finally {
        if (hd !== h) await hd.cleanup();
      }
    });
  }

  test('a container killed by SIGKILL: exit code 137, signal recorded', async () => {
    const s = await launchSupervised(h, 'kill', ['/bin/sleep', '100']);
    assert.equal(readExit(s.dir), null);
    process.kill(s.launched.record.pid, 'SIGKILL');
    const rec = await finished(s);
    assert.equal(rec.exitCode, 137);
    assert.equal(rec.signal, 'SIGKILL');
    await h.runtime.delete('kill', { force: true });
  });

  test('attach: live output, stdin reaches cat, close stdin ends it', async () => {
    const s = await launchSupervised(h, 'cat', ['/bin/cat'], undefined, { openStdin: true });
    const c = await MonitorClient.connect(s.dir);
    assert.equal(c.info?.tty, false);
    assert.equal(c.info?.pid, s.launched.record.pid);
    const a = c.attach({ stdin: true, stdout: true, stderr: true });
    const out = collect(a.output);
    a.input!.write('hello monitor\n');
    await out.until(/hello monitor\n/);
    a.input!.write(Buffer.alloc(100_000, 'x'));
    a.input!.write('\n');
    await out.until(/x{100000}\n/);
    c.closeStdin();
    const rec = await finished(s);
    assert.equal(rec.exitCode, 0);
    assert.deepEqual(await c.exit, rec, 'the attached client gets the exit record');
    assert.ok(logLines(s.logPath).some((l) => l.log === 'hello monitor\n'));
    await h.runtime.delete('cat', { force: true });
  });

  test('stdin closed while the container has not read what it was sent yet: it reads all of it, then EOF', async () => {
    // 1 MiB while the container sleeps: the pipe and the monitor's stdin buffer fill, the rest
    // waits in the client's socket; the CLOSE_STDIN comes behind it (the monitor once closed the
    // pipe at once, dropping up to 64 KiB it still held).
    const s = await launchSupervised(h, 'latereader', ['/bin/sh', '-c', 'sleep 1; wc -c'], undefined, { openStdin: true });
    const c = await MonitorClient.connect(s.dir);
    const a = c.attach({ stdin: true, stdout: true, stderr: true, closeStdinOnEnd: true });
    const out = collect(a.output);
    a.input!.end(Buffer.alloc(1 << 20, 'x'));
    const rec = await finished(s);
    assert.equal(rec.exitCode, 0);
    assert.equal(out.text().trim(), String(1 << 20));
    await h.runtime.delete('latereader', { force: true });
  });

  test('clients handed to the monitor at its launch (--client-fd): held output from the first byte, the exit record; a closed one does not hold it up', async () => {
    const [ours, theirs] = native().socketPair();
    const [gone, goneTheirs] = native().socketPair();
    const { client, attachment } = MonitorClient.adopt(join(h.dir, 'mon-handed'), ours, { stdin: false, stdout: true, stderr: true }, false);
    const out = collect(attachment.output);
    const byStream: Record<string, string> = { stdout: '', stderr: '' };
    attachment.output.on('data', (c: { stream: string; data: Buffer }) => (byStream[c.stream] += c.data.toString()));
    // A second handed client that hung up before the monitor ran (its HELLO is still queued).
    const gc = MonitorClient.adopt(join(h.dir, 'mon-handed'), gone, { stdin: false, stdout: true, stderr: false }, false);
    gc.client.close();
    let s: Supervised;
    try {
      s = await launchSupervised(h, 'handed', ['/bin/sh', '-c', 'echo first; echo err >&2; echo last'], undefined, { holdOutput: 2, clientFds: [theirs, goneTheirs] });
    } finally {
      closeSync(theirs);
      closeSync(goneTheirs);
    }
    const rec = await finished(s);
    assert.equal(rec.exitCode, 0);
    await waitFor('both streams', () => byStream.stdout === 'first\nlast\n' && byStream.stderr === 'err\n').catch(() => undefined);
    // Every byte, none lost before the attach (the order across the two pipes is not kept, as with docker).
    assert.deepEqual(byStream, { stdout: 'first\nlast\n', stderr: 'err\n' }, `got ${JSON.stringify(out.text())}`);
    assert.deepEqual(await client.exit, rec, 'the handed client gets the exit record');
    await h.runtime.delete('handed', { force: true });
  });

  test('a client that writes after the container exited, before reading, still gets the output and the exit record', async () => {
    // `docker run -i … </dev/null`: stdin ends before the start, and the engine sends CLOSE_STDIN
    // once the launch returns. With a quick container the monitor may have sent everything and
    // exited by then: the write failed with EPIPE, Node destroyed the socket with the output
    // still unread in it, and the client got nothing. The monitor now waits for the client to close.
    const [ours, theirs] = native().socketPair();
    const dir = join(h.dir, 'mon-late');
    const { client, attachment } = MonitorClient.adopt(dir, ours, { stdin: true, stdout: true, stderr: true, closeStdinOnEnd: true }, false);
    const out = collect(attachment.output);
    let waited = false;
    let s: Supervised;
    try {
      s = await launchSupervised(h, 'late', ['/bin/sh', '-c', 'echo hello'], undefined, {
        holdOutput: 1,
        clientFds: [theirs],
        openStdin: true,
        stdinOnce: true,
      });
    } finally {
      closeSync(theirs);
    }
    // Block this thread (the socket is not read meanwhile) until the container is done and the
    // monitor had time to finish, then write before any read.
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const end = Date.now() + 5000;
    while (!existsSync(join(dir, 'exit.json')) && Date.now() < end) Atomics.wait(sleeper, 0, 0, 5);
    Atomics.wait(sleeper, 0, 0, 300);
    waited = existsSync(join(dir, 'exit.json'));
    attachment.input!.end();
    const rec = await finished(s);
    assert.ok(waited, 'the container exited while the client was not reading');
    assert.equal(await out.until(/hello\n/), 'hello\n');
    assert.deepEqual(await client.exit, rec, 'the client gets the exit record');
    await h.runtime.delete('late', { force: true });
  });

  test("a quick container's exit is recorded while the launch is still under way (the launching process holds no copy of its output pipes)", async () => {
    // Before: launch() kept its copies of the container's stdout/stderr pipes until it returned,
    // so the monitor saw no EOF (and wrote no exit record) before that. Here the launch is held
    // at its 'launch.created' mark until the record exists.
    const { path } = h.bundle('early', undefined, ['/bin/true']);
    const dir = join(h.dir, 'mon-early');
    mkdirSync(dir, { recursive: true });
    let seenDuringLaunch = false;
    const launched = await h.runtime.launch({
      id: 'early',
      bundle: path,
      stdio: [0, 1, 2],
      monitor: monitorLaunch({ dir, logPath: join(dir, 'early-json.log'), logMaxSize: 0, logMaxFiles: 1, logDriver: 'json-file', tty: false, openStdin: false, stdinOnce: false }),
      mark: (phase) => {
        if (phase !== 'launch.created') return;
        const sleeper = new Int32Array(new SharedArrayBuffer(4));
        const end = Date.now() + 5000;
        while (!existsSync(join(dir, 'exit.json')) && Date.now() < end) Atomics.wait(sleeper, 0, 0, 5);
        seenDuringLaunch = existsSync(join(dir, 'exit.json'));
      },
    });
    startedPids.push(launched.monitor!.pid);
    const rec = await finished({ launched, dir, logPath: '' });
    assert.equal(rec.exitCode, 0);
    assert.ok(seenDuringLaunch, 'exit.json was written before launch() returned');
    await h.runtime.delete('early', { force: true });
  });

  test('a TTY container: attach, resize (stty size), exit code through the pty', async () => {
    const s = await launchSupervised(
      h,
      'tty',
      ['/bin/sh'],
      (spec) => {
        spec.process!.terminal = true;
      },
      { tty: true, openStdin: true, consoleSize: [24, 80] },
    );
    const c = await MonitorClient.connect(s.dir);
    assert.equal(c.info?.tty, true);
    const a = c.attach({ stdin: true, stdout: true, stderr: true });
    assert.equal(a.tty, true);
    const out = collect(a.output);
    a.input!.write('stty size; tty\n');
    await out.until(/24 80/);
    await out.until(/\/dev\/pts\/0/);
    c.resize(33, 101);
    await new Promise((r) => setTimeout(r, 50));
    a.input!.write('stty size\n');
    await out.until(/33 101/);
    a.input!.write('exit 5\n');
    const rec = await finished(s);
    assert.equal(rec.exitCode, 5);
    assert.ok(logLines(s.logPath).every((l) => l.stream === 'stdout'), 'a tty has only stdout');
    await h.runtime.delete('tty', { force: true });
  });

  test('the launching Node process is SIGKILLed: the container keeps running, logging, attachable; the exit file appears', async () => {
    const name = 'orphan';
    const { path } = h.bundle(name, undefined, ['/bin/sh', '-c', 'echo start; read x; echo "got $x"; echo after >&2; exit 7']);
    const dir = join(h.dir, `mon-${name}`);
    mkdirSync(dir, { recursive: true });
    const logPath = join(dir, `${name}-json.log`);
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(h.dir, 'launcher.mjs');
    writeFileSync(
      script,
      `import { Runtime } from ${JSON.stringify(join(here, '../../src/runtime/index.js'))};
import { monitorLaunch } from ${JSON.stringify(join(here, '../../src/engine/monitor/index.js'))};
const [root, id, bundle, dir, logPath] = process.argv.slice(2);
const rt = new Runtime({ root });
const l = await rt.launch({ id, bundle, stdio: [0, 1, 2], monitor: monitorLaunch({ dir, logPath, logMaxSize: 0, logMaxFiles: 1, logDriver: 'json-file', tty: false, openStdin: true, stdinOnce: false }) });
process.stdout.write(JSON.stringify(l.monitor) + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, [script, h.root, name, path, dir, logPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    startedPids.push(child.pid!);
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      child.on('exit', (code) => reject(new Error(`launcher exited ${code}`)));
    });
    const mon = JSON.parse(line) as { pid: number; startTime: string; containerPid: number };
    startedPids.push(mon.pid, mon.containerPid);
    assert.deepEqual(readMonitorInfo(dir), mon);
    await waitFor('"start" in the log', () => existsSync(logPath) && readFileSync(logPath, 'utf8').includes('start'));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(monitorAlive(mon.pid, mon.startTime), 'the monitor survived its launcher');
    assert.ok(isSameProcess(mon.containerPid, undefined), 'the container survived its launcher');
    const c = await MonitorClient.connect(dir);
    const a = c.attach({ stdin: true, stdout: true, stderr: true });
    const out = collect(a.output);
    a.input!.write('after-death\n');
    await out.until(/got after-death\n/);
    const rec = await waitForExit(dir, mon);
    assert.equal(rec.exitCode, 7);
    await out.until(/after\n/);
    const logs = logLines(logPath).map((l) => `${l.stream}:${l.log}`);
    assert.deepEqual(logs, ['stdout:start\n', 'stdout:got after-death\n', 'stderr:after\n']);
    await waitFor('the monitor to be gone', () => !monitorAlive(mon.pid, mon.startTime));
    await h.runtime.delete(name, { force: true });
  });

  test('log rotation: max-size keeps at most max-file files; follow survives rotation', async () => {
    const s = await launchSupervised(h, 'rot', ['/bin/sh', '-c', 'sleep 0.3; i=0; while [ $i -lt 300 ]; do echo "line $i abcdefghijklmnopqrstuvwxyz"; i=$((i+1)); [ $((i % 10)) = 0 ] && sleep 0.02; done; exit 0'], undefined, {
      logMaxSize: 2000,
      logMaxFiles: 3,
    });
    const followed: string[] = [];
    const follower = (async () => {
      for await (const e of readLogs(s.logPath, { follow: true, stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: 'all', exitDir: s.dir, pollMs: 5 })) followed.push(e.data.toString());
    })();
    const rec = await finished(s);
    assert.equal(rec.exitCode, 0);
    await follower;
    const files = readdirSync(s.dir).filter((f) => f.startsWith('rot-json.log')).sort();
    assert.deepEqual(files, ['rot-json.log', 'rot-json.log.1', 'rot-json.log.2']);
    for (const f of files) assert.ok(readFileSync(join(s.dir, f)).length < 2000 + 200, `${f} is near max-size`);
    const kept = [];
    for await (const e of readLogs(s.logPath, { follow: false, stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: 'all' })) kept.push(e.data.toString());
    assert.equal(kept[kept.length - 1], 'line 299 abcdefghijklmnopqrstuvwxyz\n');
    const first = Number(/line (\d+)/.exec(kept[0]!)![1]);
    assert.deepEqual(kept, Array.from({ length: 300 - first }, (_, k) => `line ${first + k} abcdefghijklmnopqrstuvwxyz\n`), 'the kept files are contiguous');
    const tail = [];
    for await (const e of readLogs(s.logPath, { follow: false, stdout: true, stderr: true, since: 0, until: 0, timestamps: false, tail: 2 })) tail.push(e.data.toString());
    assert.deepEqual(tail, kept.slice(-2));
    // The follower started before the first line, polled every 5 ms, and kept up across rotations
    // (one rotation per ~40 lines, 10 lines per 20 ms: never two rotations between polls).
    assert.equal(followed.length, 300, `followed ${followed.length} lines: ${followed.map((l) => l.split(" ")[1]).join(",")}`);
    await h.runtime.delete('rot', { force: true });
  });

  // A pid namespace join and a new time namespace need a clone op in the container's part: the
  // monitor must get the clone's process (its child), and the forked one must not linger.
  test("a supervised container joining another's pid namespace: the monitor is the joiner's parent and records its exit", async () => {
    const { path } = h.bundle('pidhost', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('pidhost');
    const host = await h.runtime.launch({ id: 'pidhost', bundle: path, stdio: io.fds });
    startedPids.push(host.record.pid);
    try {
      const hostPid = host.record.pid;
      const s = await launchSupervised(h, 'pidjoin', ['/bin/sh', '-c', 'echo me=$$; read x; exit 6'], (spec) => {
        spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${hostPid}/ns/pid` } : n));
      }, { openStdin: true });
      const monPid = s.launched.monitor!.pid;
      const pid = s.launched.record.pid;
      assert.equal(s.launched.monitor!.containerPid, pid);
      assert.equal(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync(`/proc/${hostPid}/ns/pid`));
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^PPid:\\s+${monPid}$`, 'm'), 'the monitor is its parent');
      const children = readFileSync(`/proc/${monPid}/task/${monPid}/children`, 'utf8').trim();
      assert.equal(children, String(pid), 'the forked process that cloned it was reaped');
      await waitFor('the output', () => existsSync(s.logPath) && /me=\d+/.test(readFileSync(s.logPath, 'utf8')));
      assert.doesNotMatch(readFileSync(s.logPath, 'utf8'), /me=1\\n/);
      const c = await MonitorClient.connect(s.dir);
      assert.equal(c.info?.pid, pid);
      c.attach({ stdin: true, stdout: false, stderr: false }).input!.end('go\n');
      const rec = await finished(s);
      assert.equal(rec.exitCode, 6);
      assert.equal(rec.pid, pid);
      c.close();
      await h.runtime.delete('pidjoin', { force: true });
    } finally {
      await h.runtime.delete('pidhost', { force: true });
      await host.process.exited;
      io.close();
    }
  });

  test('a supervised container with a new time namespace (offsets written before the clone)', async () => {
    const s = await launchSupervised(h, 'timens', ['/bin/sh', '-c', 'cat /proc/uptime; exit 2'], (spec) => {
      spec.linux!.namespaces!.push({ type: 'time' });
      spec.linux!.timeOffsets = { boottime: { secs: 1_000_000, nanosecs: 0 } };
    });
    const rec = await finished(s);
    assert.equal(rec.exitCode, 2);
    assert.equal(rec.pid, s.launched.record.pid);
    const uptime = Number(logLines(s.logPath)[0]!.log.split(' ')[0]);
    assert.ok(uptime >= 1_000_000, `uptime ${uptime} includes the offset`);
    await h.runtime.delete('timens', { force: true });
  });

  test('a supervised clone that exits at once: its pid is held until Node has a pidfd on it (no ESRCH race)', async () => {
    // Before: the clone ran straight to its exec, and under load the monitor reaped a quick `true`
    // before Node opened a pidfd on the reported pid (launch failed with ESRCH). The plan now
    // holds the clone's process at a sync wait right after the clone op.
    const plan = supervisedPlan({
      supervisor: { path: '/bin/true', dir: h.dir, args: [], openStdin: false },
      cloneFlags: 0,
      ops: [{ op: 'syncWait' }, { op: 'clone', flags: 0 }, { op: 'exec', file: '/bin/true', argv: ['true'], env: [], searchPath: null }],
      internalFds: [],
    });
    for (const fd of plan.fdsToClose) closeSync(fd);
    const ops = plan.plan.ops.map((o) => o.op);
    assert.equal(ops[ops.indexOf('clone') + 1], 'syncWait', ops.join(' '));
    for (let i = 0; i < 8; i++) {
      const s = await launchSupervised(h, `quick${i}`, ['/bin/true'], (spec) => {
        spec.linux!.namespaces!.push({ type: 'time' });
      });
      const rec = await finished(s);
      assert.equal(rec.exitCode, 0);
      assert.equal(rec.pid, s.launched.record.pid);
      await h.runtime.delete(`quick${i}`, { force: true });
    }
  });

  test('a supervised container with its own user ns that joins another network ns (user ns unshared after the join, pid ns by a clone)', async () => {
    const { path: hostPath } = h.bundle('netholder', undefined, ['/bin/sleep', '30']);
    const io = h.stdio('netholder');
    const holder = await h.runtime.launch({ id: 'netholder', bundle: hostPath, stdio: io.fds });
    startedPids.push(holder.record.pid);
    try {
      const netns = `/proc/${holder.record.pid}/ns/net`;
      const { path } = h.bundle('usernet', (spec) => {
        spec.process!.args = ['/bin/sh', '-c', 'echo pid=$$ uid=$(id -u); cat /proc/self/uid_map'];
        spec.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }, { type: 'network', path: netns }];
        spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        // sysfs needs a network ns owned by the user ns: this one is not (the runtime warns and binds /sys).
      });
      execFileSync('chown', ['-R', '100000:100000', join(path, 'rootfs')]);
      chmodSync(h.dir, 0o711);
      chmodSync(path, 0o711);
      const dir = join(h.dir, 'mon-usernet');
      mkdirSync(dir, { recursive: true });
      const logPath = join(dir, 'usernet-json.log');
      const launched = await h.runtime.launch({ id: 'usernet', bundle: path, stdio: [0, 1, 2], monitor: monitorLaunch({ dir, logPath, logMaxSize: 0, logMaxFiles: 1, logDriver: 'json-file', tty: false, openStdin: false, stdinOnce: false }) });
      startedPids.push(launched.monitor!.pid, launched.record.pid);
      const rec = await finished({ launched, dir, logPath });
      const out = logLines(logPath).map((l) => l.log).join('');
      assert.equal(rec.exitCode, 0, out);
      assert.match(out, /^pid=1 uid=0$/m, 'pid 1 of its new pid ns, root of its user ns');
      assert.match(out, /^\s*0\s+100000\s+65536$/m);
      assert.equal(rec.pid, launched.record.pid);
      await h.runtime.delete('usernet', { force: true });
    } finally {
      await h.runtime.delete('netholder', { force: true });
      await holder.process.exited;
      io.close();
    }
  });

  test('a supervised container whose clone op is never reached (failure before it): the failure is reported, nothing is left', async () => {
    const { path } = h.bundle('clonefail', (spec) => {
      // A "pid namespace" that is a network namespace: setns(fd, CLONE_NEWPID) fails with
      // EINVAL in the forked child, before its clone op.
      spec.linux!.namespaces = spec.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: '/proc/self/ns/net' } : n));
    });
    const dir = join(h.dir, 'mon-clonefail');
    mkdirSync(dir, { recursive: true });
    await assert.rejects(
      h.runtime.launch({ id: 'clonefail', bundle: path, stdio: [0, 1, 2], monitor: monitorLaunch({ dir, logPath: join(dir, 'l.log'), logMaxSize: 0, logMaxFiles: 1, logDriver: 'json-file', tty: false, openStdin: false, stdinOnce: false }) }),
      /join namespace \(pid\).*\(EINVAL\)/,
    );
    assert.throws(() => h.runtime.state('clonefail'), /does not exist/);
  });

  test('no fd leaks into the container; the monitor holds only its own fds; RSS', async (t) => {
    const s = await launchSupervised(h, 'fds', ['/bin/sh', '-c', 'ls /proc/self/fd; read x'], undefined, { openStdin: true });
    await waitFor('ls output', () => existsSync(s.logPath) && readFileSync(s.logPath, 'utf8').split('\n').length > 4);
    const seen = logLines(s.logPath).map((l) => l.log.trim());
    assert.deepEqual(seen, ['0', '1', '2', '3'], 'stdio plus the fd ls opened for the directory');
    const monPid = s.launched.monitor!.pid;
    const fds = readdirSync(`/proc/${monPid}/fd`).map((fd) => `${fd}:${readlinkSync(`/proc/${monPid}/fd/${fd}`)}`);
    t.diagnostic(`monitor fds: ${fds.join(' ')}`);
    // 0-2 /dev/null, pidfd, stdout, stderr, stdin, the listening socket, the log file.
    assert.equal(fds.length, 9, fds.join(' '));
    const status = readFileSync(`/proc/${monPid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    t.diagnostic(`hako-monitor VmRSS: ${rss} kB`);
    assert.ok(rss <= 1536, `monitor RSS ${rss} kB exceeds 1.5 MB`);
    const c = await MonitorClient.connect(s.dir);
    c.attach({ stdin: true, stdout: false, stderr: false }).input!.end('bye\n');
    const rec = await finished(s);
    assert.equal(rec.exitCode, 0);
    c.close();
    await h.runtime.delete('fds', { force: true });
  });
});
