// Supervision of a container's main process: every call that depends on who the process's
// parent is lives here, so the per-container monitor (src/engine/monitor) can replace it.
//
// Until the monitor lands, the engine itself is the parent: the runtime launches the container
// (mode 'run', the process is our child), its stdout/stderr are pipes (or a pty we hold) that we
// copy into the json-file log and to attached clients, and the exit status comes from the pidfd.
// Limitation of this mode: a container outlives an engine restart but its output and exit status
// are lost (reconcile then only sees that the pid is gone).
import type { Spec } from '../../runtime/spec/types.js';
import { Socket } from 'node:net';
import { ReadStream as TtyReadStream } from 'node:tty';
import { closeSync, openSync, writeSync } from 'node:fs';
import { constants as osc } from 'node:os';
import { Writable } from 'node:stream';
import { native } from '../../native/addon.js';
import type { Runtime } from '../../runtime/index.js';
import { processStartTime } from '../../runtime/state/process-info.js';
import { JsonFileWriter } from '../logs/json-file.js';

export interface OutputChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface ExitInfo {
  exitCode: number;
  oomKilled: boolean;
  /** Why the exit status is not known (a monitor killed without writing its record). */
  error?: string;
}

/**
 * The live I/O of one running process: output fan-out, stdin, pty size. A subscriber that cannot
 * take more holds the output (hold/release): its readers stop, so the process blocks on its full
 * pipe and the log waits too, as under hako-monitor and as with docker's attach.
 */
export class ProcessIO {
  private readonly subscribers = new Set<(c: OutputChunk | null) => void>();
  private readonly holders = new Set<object>();
  private readonly sources: Array<{ pause(): unknown; resume(): unknown }> = [];
  private unheldWaiters: Array<() => void> = [];
  ended = false;
  stdin: Writable | null = null;
  ptyMaster: number | undefined;

  subscribe(fn: (c: OutputChunk | null) => void): () => void {
    if (this.ended) {
      queueMicrotask(() => fn(null));
      return () => undefined;
    }
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  publish(c: OutputChunk): void {
    for (const s of this.subscribers) s(c);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const s of this.subscribers) s(null);
    this.subscribers.clear();
    this.holders.clear();
    for (const w of this.unheldWaiters.splice(0)) w();
  }

  /** An output reader (superviseProcess): paused while the output is held. */
  addSource(s: { pause(): unknown; resume(): unknown }): void {
    this.sources.push(s);
    if (this.holders.size > 0) s.pause();
  }

  /** `key`'s subscriber cannot take more: no output is read until it releases (or the end). */
  hold(key: object): void {
    if (this.ended || this.holders.has(key)) return;
    this.holders.add(key);
    if (this.holders.size === 1) for (const s of this.sources) s.pause();
  }

  release(key: object): void {
    if (!this.holders.delete(key) || this.holders.size > 0) return;
    for (const s of this.sources) s.resume();
    for (const w of this.unheldWaiters.splice(0)) w();
  }

  get held(): boolean {
    return this.holders.size > 0;
  }

  /** Resolves once nothing holds the output. */
  unheld(): Promise<void> {
    return this.holders.size === 0 ? Promise.resolve() : new Promise((r) => this.unheldWaiters.push(r));
  }

  resize(height: number, width: number): void {
    if (this.ptyMaster === undefined) return;
    try {
      native().setWinsize(this.ptyMaster, height, width);
    } catch {
      /* closing */
    }
  }
}

export interface Supervised {
  pid: number;
  startTime: string | undefined;
  io: ProcessIO;
  /** Resolves when the process exited and its output is drained. */
  exited: Promise<ExitInfo>;
}

export interface SuperviseOptions {
  runtime: Runtime;
  id: string;
  bundle: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  log: { driver: 'json-file' | 'none'; path: string; maxSize: number; maxFiles: number };
  consoleSize?: [number, number];
  /** Runs with the container's pid once its namespaces exist, before its program starts (networking). */
  prestart?: (pid: number) => Promise<void>;
  /** Monitored launches: the container is forked (see LaunchOptions.onForked). */
  onForked?: (pid: number, premadeNetworkFd: number | undefined) => void;
  /** The container's own `lo` goes up in its child, before its program starts (`--network none`). */
  loopbackUp?: boolean;
  /** The bundle's config.json as built (the runtime then does not read it back). */
  spec?: Spec;
  /** JSON.stringify(spec), made by the caller already (the runtime then does not serialise it again). */
  specJson?: string;
}

function pipe(): [number, number] {
  const [r, w] = native().pipe();
  return [r, w];
}

function safeClose(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    /* closed */
  }
}

function exitCodeOf(code: number | null, signal: string | null): number {
  if (signal) return 128 + ((osc.signals as Record<string, number>)[signal] ?? 0);
  return code ?? 0;
}

/** Pipes (or a pty) around a process started by `start(stdio)`; shared by containers and execs. */
export async function superviseProcess(
  opts: { tty: boolean; openStdin: boolean; stdinOnce: boolean; onOutput?: (c: OutputChunk) => void; consoleSize?: [number, number] },
  start: (stdio: [number, number, number]) => Promise<{ pid: number; ptyMaster?: number; exited: Promise<{ code: number | null; signal: string | null }> }>,
): Promise<{ pid: number; io: ProcessIO; exited: Promise<number> }> {
  const io = new ProcessIO();
  const ours: number[] = [];
  const theirs: number[] = [];
  let stdio: [number, number, number];
  let outR: number | undefined;
  let errR: number | undefined;
  let inW: number | undefined;
  try {
    if (opts.tty) {
      const nul = openSync('/dev/null', 'r+');
      theirs.push(nul);
      stdio = [nul, nul, nul];
    } else {
      let inFd: number;
      if (opts.openStdin) {
        const [r, w] = pipe();
        theirs.push(r);
        ours.push(w);
        inW = w;
        inFd = r;
      } else {
        inFd = openSync('/dev/null', 'r');
        theirs.push(inFd);
      }
      const [or, ow] = pipe();
      const [er, ew] = pipe();
      theirs.push(ow, ew);
      ours.push(or, er);
      outR = or;
      errR = er;
      stdio = [inFd, ow, ew];
    }
  } catch (err) {
    for (const fd of [...ours, ...theirs]) safeClose(fd);
    throw err;
  }
  let started;
  try {
    started = await start(stdio);
  } catch (err) {
    for (const fd of [...ours, ...theirs]) safeClose(fd);
    throw err;
  } finally {
    for (const fd of theirs) safeClose(fd);
  }
  const emit = (c: OutputChunk) => {
    opts.onOutput?.(c);
    io.publish(c);
  };
  const drains: Promise<void>[] = [];
  const readers: Array<{ destroy(): void }> = [];
  const follow = (stream: NodeJS.ReadableStream & { destroy(): void }, name: 'stdout' | 'stderr') => {
    readers.push(stream);
    io.addSource(stream);
    drains.push(
      new Promise<void>((resolve) => {
        stream.on('data', (d: Buffer) => emit({ stream: name, data: d }));
        stream.on('end', () => resolve());
        stream.on('close', () => resolve());
        // A pty master reads EIO once the last slave fd is closed: the end of output.
        stream.on('error', () => resolve());
      }),
    );
  };
  if (opts.tty && started.ptyMaster !== undefined) {
    const master = started.ptyMaster;
    io.ptyMaster = master;
    if (opts.consoleSize && opts.consoleSize[0] > 0) io.resize(opts.consoleSize[0], opts.consoleSize[1]);
    follow(new TtyReadStream(master), 'stdout');
    if (opts.openStdin) {
      io.stdin = new Writable({
        write(chunk: Buffer, _enc, cb) {
          try {
            writeSync(master, chunk);
            cb();
          } catch (err) {
            cb(err as Error);
          }
        },
      });
    }
  } else {
    follow(new Socket({ fd: outR!, readable: true, writable: false }), 'stdout');
    follow(new Socket({ fd: errR!, readable: true, writable: false }), 'stderr');
    if (inW !== undefined) {
      const s = new Socket({ fd: inW, readable: false, writable: true });
      s.on('error', () => undefined);
      io.stdin = s;
    }
  }
  const exited = (async () => {
    const st = await started.exited;
    // Grandchildren may keep the pipes open: wait a little for the output, then stop reading. A
    // subscriber holding the output (a client that stopped reading) holds this for as long as it
    // does, as hako-monitor's drain (and dockerd, whose exit handler waits for such a client).
    const drained = Promise.all(drains).then(() => true);
    while (!(await Promise.race([drained, new Promise<boolean>((r) => setTimeout(() => r(false), 300))])) && io.held) await io.unheld();
    for (const r of readers) r.destroy();
    if (io.stdin) io.stdin.destroy();
    io.end();
    return exitCodeOf(st.code, st.signal);
  })();
  return { pid: started.pid, io, exited };
}

/** Starts the container's main process (runtime create+start in one) under our supervision. */
export async function superviseContainer(opts: SuperviseOptions): Promise<Supervised> {
  const writer = opts.log.driver === 'json-file' ? new JsonFileWriter(opts.log.path, opts.log.maxSize, opts.log.maxFiles) : undefined;
  let oomBaseline = 0;
  try {
    const res = await superviseProcess(
      { tty: opts.tty, openStdin: opts.openStdin, stdinOnce: opts.stdinOnce, onOutput: (c) => writer?.write(c.stream, c.data), consoleSize: opts.consoleSize },
      async (stdio) => {
        const launched = await opts.runtime.launch({ id: opts.id, bundle: opts.bundle, stdio, ownTerminal: opts.tty, pdeathsig: 0, ...(opts.spec ? { spec: opts.spec } : {}), ...(opts.prestart ? { prestart: opts.prestart } : {}), ...(opts.loopbackUp ? { loopbackUp: true } : {}) });
        launched.process.closeErrPipe();
        try {
          oomBaseline = launched.cgroups.stats().memory.oomKills ?? 0;
        } catch {
          /* no memory stats */
        }
        return { pid: launched.process.pid, ...(launched.ptyMaster === undefined ? {} : { ptyMaster: launched.ptyMaster }), exited: launched.process.exited };
      },
    );
    const exited = (async (): Promise<ExitInfo> => {
      const exitCode = await res.exited;
      writer?.close();
      let oomKilled = false;
      try {
        const st = opts.runtime.stats(opts.id);
        oomKilled = (st.memory.oomKills ?? 0) > oomBaseline || (exitCode === 137 && (st.memory.failcnt ?? 0) > 0 && Boolean(st.memory.limit));
      } catch {
        /* cgroup gone */
      }
      return { exitCode, oomKilled };
    })();
    return { pid: res.pid, startTime: processStartTime(res.pid) ?? undefined, io: res.io, exited };
  } catch (err) {
    writer?.close();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Supervision through hako-monitor (src/engine/monitor): the monitor is the container's parent,
// writes the json-file log and dir/exit.json, and serves attach/resize on dir/control.sock, so
// the container (and its output and exit status) survives an engine restart.

import { existsSync as monitorBinaryExists, mkdirSync, rmSync } from 'node:fs';
import type { CgroupsAhead } from '../../runtime/lifecycle/cgroups-ahead.js';
import { MAX_HANDED_CLIENTS } from '../../runtime/lifecycle/supervised.js';
import { MonitorClient, monitorBinary, monitorLaunch, waitForExit, exitOfGoneMonitor, readExit, monitorAlive, readMonitorInfo, type AttachRequest } from '../monitor/index.js';
import type { Attachment } from '../api-types.js';
import type { ContainerRecord as RuntimeRecord } from '../../runtime/state/container-store.js';

export function monitorAvailable(binary = monitorBinary()): boolean {
  return monitorBinaryExists(binary);
}

export interface MonitoredStart {
  pid: number;
  startTime: string | undefined;
  monitorDir: string;
  exited: Promise<ExitInfo>;
  /**
   * An fd of the container's mount namespace (Launched.mountNsFd): its mounts are torn down when
   * it is closed, not on the container's exit path. The caller closes it (async) after the exit.
   */
  mountNsFd?: number;
  /** The attachments of `attachAtLaunch`, in its order, already connected to the monitor. */
  attachments: Attachment[];
  /** The runtime's record of the launch (Runtime.delete takes it instead of reading its state.json). */
  runtimeRecord: RuntimeRecord;
}

/** Clients handed to a monitor at its launch (hako-monitor --client-fd takes at most this many). */
export const MAX_ATTACH_AT_LAUNCH = MAX_HANDED_CLIENTS - 1; // one slot is the exit watcher's

type MonitoredLaunchOptions = SuperviseOptions & { monitorDir: string; cgroupsPath: string; holdOutput?: number; attachAtLaunch?: AttachRequest[]; mark?: (phase: string, atMs?: number) => void; monitorBinary?: string; premadeNetwork?: number; cgroupsAhead?: CgroupsAhead };

/**
 * `attachAtLaunch`: attachments made before the launch, over socketpairs whose other ends the
 * monitor gets as clients (--client-fd) with their HELLO already queued: held output (holdOutput)
 * flows as soon as the monitor runs, and a container that exits at once is reported without a
 * round of connect + HELLO after the launch. On failure they are closed.
 * premadeNetwork: a network namespace made ahead, lo up (../netns-ahead.ts); cgroupsAhead: its
 * cgroup dirs being made (runtime cgroupsAhead). Ours to close or drop until launch takes them.
 */
export async function superviseWithMonitor(opts: MonitoredLaunchOptions): Promise<MonitoredStart> {
  let launchCalled = false;
  const early = (opts.attachAtLaunch ?? []).slice(0, MAX_ATTACH_AT_LAUNCH);
  const theirs: number[] = [];
  const adopted: Array<{ client: MonitorClient; attachment: Attachment }> = [];
  let launched: Awaited<ReturnType<SuperviseOptions['runtime']['launch']>>;
  try {
    rmSync(opts.monitorDir, { recursive: true, force: true });
    mkdirSync(opts.monitorDir, { recursive: true, mode: 0o700 });
    opts.mark?.('start.monitor-dir');
    // The exit watcher (no streams) first: it takes no output, so its EXIT frame comes as soon as
    // the monitor wrote exit.json, whatever the attached clients still have to read.
    for (const req of [WATCHER, ...early]) {
      const [ours, monitorEnd] = native().socketPair();
      theirs.push(monitorEnd);
      try {
        adopted.push(MonitorClient.adopt(opts.monitorDir, ours, req, opts.tty));
      } catch (err) {
        native().close(ours);
        throw err;
      }
    }
    launchCalled = true;
    launched = await launchMonitored(opts, theirs);
  } catch (err) {
    for (const a of adopted) a.client.close();
    if (!launchCalled) {
      safeClose(opts.premadeNetwork);
      opts.cgroupsAhead?.drop();
    }
    throw err;
  } finally {
    for (const fd of theirs) native().close(fd);
  }
  return afterMonitoredLaunch(opts, launched, adopted);
}

function launchMonitored(opts: MonitoredLaunchOptions, clientFds: number[]) {
  return opts.runtime.launch({
    id: opts.id,
    bundle: opts.bundle,
    stdio: [0, 1, 2],
    ...(opts.prestart ? { prestart: opts.prestart } : {}),
    ...(opts.onForked ? { onForked: opts.onForked } : {}),
    ...(opts.loopbackUp ? { loopbackUp: true } : {}),
    ...(opts.premadeNetwork === undefined ? {} : { premadeNetwork: { fd: opts.premadeNetwork, loopbackUp: true } }),
    ...(opts.cgroupsAhead ? { cgroupsAhead: opts.cgroupsAhead } : {}),
    ...(opts.mark ? { mark: opts.mark } : {}),
    ...(opts.spec ? { spec: opts.spec } : {}),
    ...(opts.spec && opts.specJson !== undefined ? { specJson: opts.specJson } : {}),
    holdMountNamespace: true,
    monitor: monitorLaunch({
      dir: opts.monitorDir,
      logPath: opts.log.path || '/dev/null',
      logMaxSize: opts.log.maxSize,
      logMaxFiles: opts.log.maxFiles,
      logDriver: opts.log.driver,
      tty: opts.tty,
      openStdin: opts.openStdin,
      stdinOnce: opts.stdinOnce,
      cgroupMemoryFromLaunch: true,
      ...(opts.consoleSize && opts.consoleSize[0] > 0 ? { consoleSize: opts.consoleSize } : {}),
      ...(opts.holdOutput ? { holdOutput: opts.holdOutput } : {}),
      ...(opts.monitorBinary ? { binary: opts.monitorBinary } : {}),
      ...(clientFds.length ? { clientFds } : {}),
    }),
  });
}

function afterMonitoredLaunch(opts: { monitorDir: string; mark?: (phase: string, atMs?: number) => void }, launched: Awaited<ReturnType<SuperviseOptions['runtime']['launch']>>, adopted: Array<{ client: MonitorClient; attachment: Attachment }>): MonitoredStart {
  launched.process.closeErrPipe();
  opts.mark?.('start.runtime-launch');
  const monitor = launched.monitor!;
  // The monitor is our child, watched (a pidfd) and reaped by launch's SpawnedProcess: its exit
  // record is complete once it is gone. (No second pidfd of our own, as waitForExit opens for a
  // monitor found after a restart, nor its /proc identity check: the pid of a child we have not
  // reaped yet cannot be reused.)
  const whenGone = launched.process.exited.then(() => {
    try {
      const r = exitOfGoneMonitor(opts.monitorDir, monitor.pid);
      return { exitCode: r.exitCode, oomKilled: r.oomKilled };
    } catch (err) {
      return { exitCode: 255, oomKilled: false, error: (err as Error).message } as ExitInfo;
    }
  });
  // A client handed to the monitor gets the exit record (sent once exit.json, and so the log, is
  // complete) before the monitor exits: whichever comes first. The monitor is reaped all the same.
  // (It stays while an attached client that is slow to read still has output queued: the exit is
  // the watcher's EXIT frame then, as dockerd reports an exit while such a client reads on.)
  const exited = adopted.length === 0 ? whenGone : Promise.race([whenGone, firstExitRecord(adopted.map((a) => a.client))]);
  return { pid: monitor.containerPid, startTime: launched.record.pidStartTime, monitorDir: opts.monitorDir, exited, attachments: adopted.slice(1).map((a) => a.attachment), runtimeRecord: launched.record, ...(launched.mountNsFd === undefined ? {} : { mountNsFd: launched.mountNsFd }) };
}

/** The exit watcher's attach request: a client for the EXIT frame only. */
const WATCHER: AttachRequest = { stdin: false, stdout: false, stderr: false };

/** The first exit record one of `clients` receives; never settles if none gets one (disconnected). */
function firstExitRecord(clients: MonitorClient[]): Promise<ExitInfo> {
  return new Promise((resolve) => {
    for (const c of clients) void c.exit.then((r) => r && resolve({ exitCode: r.exitCode, oomKilled: r.oomKilled }));
  });
}

/**
 * After an engine restart: the state of a container whose monitor dir is `dir`. 'exited' with the
 * record the monitor left, 'running' with a promise of its exit, or 'lost' (no monitor, no record).
 */
export function reattachMonitor(dir: string): { state: 'exited'; exit: ExitInfo & { finishedAt: string } } | { state: 'running'; exited: Promise<ExitInfo> } | { state: 'lost' } {
  const done = readExit(dir);
  if (done) return { state: 'exited', exit: { exitCode: done.exitCode, oomKilled: done.oomKilled, finishedAt: done.finishedAt } };
  const info = readMonitorInfo(dir);
  if (!info || !monitorAlive(info.pid, info.startTime)) return { state: 'lost' };
  const gone = waitForExit(dir, info).then(
    (r) => ({ exitCode: r.exitCode, oomKilled: r.oomKilled }),
    (err: Error) => ({ exitCode: 255, oomKilled: false, error: err.message }) as ExitInfo,
  );
  // An exit watcher as at the launch: the monitor stays while a slow client still has output
  // queued, the watcher's EXIT frame comes at once (never, if it cannot connect: the monitor's end).
  const never = new Promise<never>(() => undefined);
  const watched = MonitorClient.connect(dir, { timeoutMs: 1000 }).then(
    (c) => c.exit.then((r) => (r ? { exitCode: r.exitCode, oomKilled: r.oomKilled } : never)),
    () => never,
  );
  return { state: 'running', exited: Promise.race([gone, watched]) };
}

export async function monitorAttach(dir: string, req: { stdin: boolean; stdout: boolean; stderr: boolean; closeStdinOnEnd: boolean }) {
  const client = await MonitorClient.connect(dir);
  return client.attach(req);
}

export async function monitorResize(dir: string, height: number, width: number): Promise<void> {
  const client = await MonitorClient.connect(dir);
  try {
    client.resize(height, width);
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    client.close();
  }
}
