// hako-monitor under stress and the executor's fork op on the real kernel: the decoder's checks,
// a slow attach client that holds the container's output as docker's does, signals the monitor
// ignores, OOM detection.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { isRoot, BUSYBOX } from '../helpers/fixtures.js';
import { harness, type Harness } from '../helpers/runtime.js';
import { native } from '../../src/native/addon.js';
import { encodePlan } from '../../src/native/plan-encoding.js';
import type { PlanOp } from '../../src/native/plan.js';
import type { Spec } from '../../src/runtime/spec/types.js';
import type { Launched } from '../../src/runtime/lifecycle/launch.js';
import { FRAME, MonitorClient, STREAM, monitorBinary, monitorLaunch, waitForExit, type MonitorOptions } from '../../src/engine/monitor/index.js';
import { FrameReader, frame } from '../../src/engine/monitor/protocol.js';
import { isSameProcess, processStateLetter } from '../../src/runtime/state/process-info.js';

const skip = !isRoot ? 'needs root' : !existsSync(BUSYBOX) ? 'needs busybox-static' : !existsSync(monitorBinary()) ? 'needs build/hako-monitor (npm run build:native)' : false;
const started: number[] = [];

async function launchSupervised(h: Harness, name: string, args: string[], mutate?: (s: Spec) => void, extra: Partial<MonitorOptions> = {}): Promise<{ launched: Launched; dir: string; logPath: string; rootfs: string }> {
  const { path } = h.bundle(name, mutate, args);
  const dir = join(h.dir, `mon-${name}`);
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, `${name}-json.log`);
  const launched = await h.runtime.launch({
    id: name,
    bundle: path,
    stdio: [0, 1, 2],
    monitor: monitorLaunch({ dir, logPath, logMaxSize: 0, logMaxFiles: 1, logDriver: 'json-file', tty: false, openStdin: false, stdinOnce: false, ...extra }),
  });
  started.push(launched.monitor!.pid, launched.record.pid);
  return { launched, dir, logPath, rootfs: join(path, 'rootfs') };
}

/** A raw connection to a monitor's socket, retried while it is not yet bound or listening. */
async function connectRaw(path: string): Promise<Socket> {
  for (let attempt = 0; ; attempt++) {
    const sock = connect(path);
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      return sock;
    } catch (err) {
      sock.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 400 || (code !== 'ENOENT' && code !== 'ECONNREFUSED')) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

describe('executor fork op', { skip: !isRoot ? 'needs root' : false }, () => {
  test('the decoder rejects a continuation that does not follow an exec, and a stray exec', () => {
    const exec = (f: string): PlanOp => ({ op: 'exec', file: f, argv: [f], env: [], searchPath: null });
    const good = encodePlan({ cloneFlags: 0, cgroupFd: -1, fds: [], internalFds: [], pdeathsig: 0, ops: [{ op: 'fork', flags: 0, parentContinuesAt: 2 }, exec('/c'), exec('/m')] });
    // patch parentContinuesAt (u32 after the opcode and the u64 flags of op 0)
    const opStart = good.length - (good.length - 32);
    const patched = Buffer.from(good);
    patched.writeUInt32LE(1, opStart + 12); // continuation right after the fork: no child part
    assert.throws(() => native().spawn(patched), (e: unknown) => (e as { code?: string }).code === 'EINVAL');
    patched.writeUInt32LE(3, opStart + 12); // past the end
    assert.throws(() => native().spawn(patched), (e: unknown) => (e as { code?: string }).code === 'EINVAL');
  });

  test('the parent continues at its op with the child pidfd on the named fd; the child runs its part', async () => {
    // child: exec /bin/true (exits 0); parent: exec sh that waits on its child through the pidfd's fdinfo
    const [r, w] = native().pipe();
    const ops: PlanOp[] = [
      { op: 'fork', flags: 0, parentContinuesAt: 2, pidfd: 7 },
      { op: 'exec', file: BUSYBOX, argv: ['sh', '-c', 'sleep 0.1'], env: [], searchPath: null },
      { op: 'exec', file: BUSYBOX, argv: ['sh', '-c', 'readlink /proc/self/fd/7; grep Pid: /proc/self/fdinfo/7; sleep 0.2; grep Pid: /proc/self/fdinfo/7'], env: [], searchPath: null },
    ];
    const proc = (await import('../../src/native/executor.js')).spawnPlan({ cloneFlags: 0, cgroupFd: -1, fds: [{ source: w, target: 1 }], internalFds: [], pdeathsig: 0, ops });
    native().close(w);
    const rec = await proc.nextRecord();
    assert.equal(rec?.step, -4, 'the fork record');
    const childPid = rec!.value;
    assert.equal(await proc.nextRecord(), null, 'both execs happened');
    const st = await proc.exited;
    assert.deepEqual(st, { code: 0, signal: null });
    let out = '';
    const buf = Buffer.alloc(4096);
    for (;;) {
      const n = (await import('node:fs')).readSync(r, buf);
      if (n <= 0) break;
      out += buf.toString('utf8', 0, n);
    }
    native().close(r);
    assert.match(out, /^anon_inode:\[pidfd\]$/m);
    assert.match(out, new RegExp(`^Pid:\\s+${childPid}$`, 'm'), 'the pidfd is the forked child');
    assert.match(out, /^Pid:\s+-1$/m, 'the child exited and was reaped by the parent shell');
  });
});

describe('monitor: robustness', { skip }, () => {
  let h: Harness;
  before(() => {
    h = harness('monr');
  });
  after(async () => {
    for (const pid of started) {
      try {
        if (isSameProcess(pid, undefined)) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await h.cleanup();
  });

  test('a client that never reads holds the output (docker\'s attach blocks stdout while unconsumed): the container blocks on its pipe, the monitor queues at most a few MiB; once that client goes, a reading client gets everything', async () => {
    // 20 MB of output; the silent client's socket and its queue in the monitor hold ~4.5 MB.
    const s = await launchSupervised(h, 'flood', ['/bin/sh', '-c', 'sleep 0.2; dd if=/dev/zero bs=65536 count=320 2>/dev/null | tr "\\0" "a" | fold -w 1000; echo done'], undefined, { logDriver: 'none' });
    // launch() returns once the monitor is exec'd, not once it listens: MonitorClient.connect
    // retries for that window; this raw client waits for the socket file the same way.
    const sock = await connectRaw(join(s.dir, 'control.sock'));
    sock.write(frame(FRAME.HELLO, Buffer.from([STREAM.STDOUT | STREAM.STDERR])));
    sock.pause(); // never read
    const silentClosed = new Promise((r) => sock.once('close', r));
    sock.on('error', () => undefined);
    const good = await MonitorClient.connect(s.dir);
    const a = good.attach({ stdin: false, stdout: true, stderr: true });
    let bytes = 0;
    let last: Buffer = Buffer.alloc(0);
    a.output.on('data', (c: { data: Buffer }) => {
      bytes += c.data.length;
      last = c.data;
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // The output stops: nothing more for the reading client for 0.6 s on end.
    for (let seen = -1, still = 0; still < 3; await sleep(200)) {
      still = bytes === seen ? still + 1 : 0;
      seen = bytes;
    }
    const held = bytes;
    // Longer than the 2 s after which the monitor once dropped such a client: still held.
    await sleep(2500);
    assert.equal(bytes, held, 'the reading client got more while the silent one read nothing');
    assert.ok(held < 10_000_000, `the output was held (the reading client got ${held} bytes)`);
    assert.equal(existsSync(join(s.dir, 'exit.json')), false, 'the monitor reported an exit while the output was held');
    const mem = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${s.launched.monitor!.pid}/status`, 'utf8'))?.[1]);
    assert.ok(mem < 16 * 1024, `the monitor's RSS is ${mem} kB while it holds the output`);
    sock.destroy(); // the silent client goes: the monitor drops it and the output flows again
    await silentClosed;
    const rec = await waitForExit(s.dir, s.launched.monitor!);
    await s.launched.process.exited;
    assert.equal(rec.exitCode, 0);
    assert.ok(bytes > 20_000_000, `the reading client got everything (${bytes} bytes)`);
    assert.match(last.toString(), /done\n$/);
    await h.runtime.delete('flood', { force: true });
  });

  test('a client that stopped reading holds the exit for as long as it stays connected (dockerd\'s wait, kill and --rm wait for it), past the drain\'s 10 s cap; once it reads, it gets the rest, then the exit', async () => {
    const s = await launchSupervised(h, 'heldexit', ['/bin/sh', '-c', 'yes hakohakohako | head -c 50000000'], undefined, { logDriver: 'none' });
    const silent = await connectRaw(join(s.dir, 'control.sock'));
    silent.write(frame(FRAME.HELLO, Buffer.from([STREAM.STDOUT])));
    silent.pause();
    silent.on('error', () => undefined);
    // A second client that reads: its bytes stop growing once the silent one holds the output.
    const good = await MonitorClient.connect(s.dir);
    const a = good.attach({ stdin: false, stdout: true, stderr: true });
    let bytes = 0;
    a.output.on('data', (c: { data: Buffer }) => (bytes += c.data.length));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let seen = -1, still = 0; still < 3; await sleep(200)) {
      still = bytes === seen ? still + 1 : 0;
      seen = bytes;
    }
    assert.ok(bytes < 40_000_000, `the output is held (the reading client got ${bytes} bytes)`);
    // The container is killed while its output is held: it is gone, its exit is not reported.
    const pid = s.launched.record.pid;
    process.kill(pid, 'SIGKILL');
    for (let k = 0; k < 500 && isSameProcess(pid, undefined); k++) await sleep(10);
    assert.equal(isSameProcess(pid, undefined), false, 'the container is gone');
    await sleep(11_000); // past the drain's cap (10 s), which once ended the hold
    assert.equal(existsSync(join(s.dir, 'exit.json')), false, 'the exit was reported while a connected client held the output');
    // The silent client reads: the rest of the output, then the EXIT frame and EOF.
    let got = 0;
    const frames: number[] = [];
    const reader = new FrameReader();
    silent.on('data', (d: Buffer) => {
      got += d.length;
      for (const f of reader.push(d)) frames.push(f.type);
    });
    const silentEnded = new Promise((r) => silent.once('end', r));
    silent.resume();
    await silentEnded;
    silent.destroy();
    const rec = await waitForExit(s.dir, s.launched.monitor!);
    await s.launched.process.exited;
    assert.equal(rec.exitCode, 137);
    assert.equal(frames.at(-1), FRAME.EXIT, 'the silent client got the exit record after the output');
    assert.ok(got > 4 << 20, `the silent client got what was held for it (${got} bytes)`);
    await h.runtime.delete('heldexit', { force: true });
  });

  test('stdin a client sent before it went away still reaches the container (dockerd copies a gone client\'s stdin to its end); then StdinOnce closes it', async () => {
    // The container reads only once /go exists: the pipe, the monitor's stdin buffer and the frame
    // waiting in its client slot fill; the rest stays in the client's socket, which closes at once.
    const sent = 180_000;
    const payload = Buffer.alloc(sent, 'x');
    const frames: Buffer[] = [frame(FRAME.HELLO, Buffer.from([STREAM.STDIN]))];
    for (let off = 0; off < sent; off += 32 * 1024) frames.push(frame(FRAME.STDIN, payload.subarray(off, off + 32 * 1024)));
    const cases: Array<[string, (s: Awaited<ReturnType<typeof launchSupervised>>) => Promise<void>]> = [
      // A raw client that is destroyed (the monitor sees POLLHUP with data still queued).
      ['gonein-raw', async (s) => {
        const sock = await connectRaw(join(s.dir, 'control.sock'));
        sock.on('error', () => undefined);
        await new Promise<void>((r) => sock.write(Buffer.concat(frames), () => r()));
        sock.destroy();
      }],
      // MonitorClient.close() with stdin attached (hakod's side when its client goes).
      ['gonein-client', async (s) => {
        const c = await MonitorClient.connect(s.dir);
        const a = c.attach({ stdin: true, stdout: true, stderr: false });
        a.input!.write(payload);
        await new Promise((r) => setImmediate(r));
        c.close();
      }],
    ];
    for (const [name, send] of cases) {
      const s = await launchSupervised(h, name, ['/bin/sh', '-c', 'while [ ! -e /go ]; do sleep 0.02; done; wc -c'], undefined, { openStdin: true, stdinOnce: true });
      await send(s);
      // Let the monitor see the close before the container reads (the result does not depend on
      // it; the monitor once dropped what it still held at this point).
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(s.rootfs, 'go'), '');
      const rec = await waitForExit(s.dir, s.launched.monitor!);
      await s.launched.process.exited;
      assert.equal(rec.exitCode, 0);
      const lines = readFileSync(s.logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { log: string });
      assert.equal(lines.map((l) => l.log).join('').trim(), String(sent), `${name}: the container read all the client sent`);
      await h.runtime.delete(name, { force: true });
    }
  });

  test('the monitor has its own session and ignores SIGTERM/SIGINT/SIGHUP/SIGPIPE', async () => {
    // The container runs until the test creates /go: it cannot end (and its monitor with it, for the
    // normal reason) before the check, however slow the machine (a `sleep 1` once did under load).
    const s = await launchSupervised(h, 'sig', ['/bin/sh', '-c', 'while [ ! -e /go ]; do sleep 0.02; done']);
    const mon = s.launched.monitor!.pid;
    const stat = readFileSync(`/proc/${mon}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[3]), mon, 'session leader (setsid)');
    assert.equal(Number(fields[2]), mon, 'own process group');
    // A round trip first: the monitor sets its dispositions before it listens, so signals sent now
    // cannot land in the instant between its exec and its signal() calls.
    (await MonitorClient.connect(s.dir)).close();
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.kill(mon, sig);
    // Then a round trip after them (HELLO → INFO): an unblocked signal whose action is to terminate
    // marks the process as exiting within kill(2) itself, so a monitor that did not ignore one could
    // run no user code again and never answer; one that answers has taken and ignored them all.
    // (No fixed wait: a sleep proves nothing about delivery under load.)
    const answered = await MonitorClient.connect(s.dir, { timeoutMs: 2000 }).then(
      (c) => (c.close(), true),
      (err: unknown) => `${(err as Error).message}; the monitor's state: ${processStateLetter(mon) ?? 'gone'}`,
    );
    assert.equal(answered, true, 'the monitor answers after the signals');
    assert.ok(isSameProcess(mon, undefined), `still alive (state ${processStateLetter(mon) ?? 'gone'})`);
    writeFileSync(join(s.rootfs, 'go'), '');
    const rec = await waitForExit(s.dir, s.launched.monitor!);
    await s.launched.process.exited;
    assert.equal(rec.exitCode, 0);
    await h.runtime.delete('sig', { force: true });
  });

  test('an OOM kill in the memory cgroup is recorded as oomKilled', async (t) => {
    const s = await launchSupervised(
      h,
      'oom',
      ['/bin/sh', '-c', 'x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'],
      (spec) => {
        spec.linux!.resources = { ...(spec.linux!.resources ?? {}), memory: { limit: 16 * 1024 * 1024 } };
      },
    );
    // The monitor's options are fixed before the cgroup exists: a first run tells its path (the
    // same cgroupsPath gives the same dir again), the second run passes it.
    await waitForExit(s.dir, s.launched.monitor!);
    await s.launched.process.exited;
    const memDir = s.launched.record.cgroupPaths?.memory;
    await h.runtime.delete('oom', { force: true });
    rmSync(s.dir, { recursive: true, force: true });
    if (!memDir) return t.skip('no memory cgroup');
    const s2 = await launchSupervised(
      h,
      'oom',
      ['/bin/sh', '-c', 'x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'],
      (spec) => {
        spec.linux!.resources = { ...(spec.linux!.resources ?? {}), memory: { limit: 16 * 1024 * 1024 } };
      },
      { cgroupMemoryDir: memDir },
    );
    const rec = await waitForExit(s2.dir, s2.launched.monitor!);
    await s2.launched.process.exited;
    assert.equal(rec.exitCode, 137);
    assert.equal(rec.oomKilled, true, `${memDir}: ${JSON.stringify(rec)}`);
    await h.runtime.delete('oom', { force: true });
  });
});
