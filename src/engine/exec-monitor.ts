// docker exec under a hako-monitor of its own: the exec'd process is the monitor's child, not the
// daemon's, so it keeps running when hakod is killed (containerd's shim does this for dockerd),
// and its exit code is in the monitor's exit record for the next daemon.
//
// Layout: <container's monitor dir>/execs/<exec id>/ holds the monitor's files (control.sock,
// monitor.json, exit.json; see ./monitor/index.ts) and exec.json, what the next daemon needs to
// list the exec again: {ID, ContainerID, body}. The container's monitor dir is emptied at its
// next start and removed with it; exec processes never outlive the container's run (its pid
// namespace, or the runtime's delete, ends them).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Attachment, ExecCreateBody } from './api-types.js';
import type { Runtime } from '../runtime/index.js';
import type { SpecProcess } from '../runtime/spec/types.js';
import { writeFileAtomicSync } from '../common/atomic-file.js';
import { MonitorClient, monitorLaunch, waitForExit, type AttachRequest } from './monitor/index.js';
import { native } from '../native/addon.js';
import { reattachMonitor } from './containers/supervise.js';

export interface ExecMeta {
  ID: string;
  ContainerID: string;
  body: ExecCreateBody;
}

export function execMonitorDir(containerMonitorDir: string, execId: string): string {
  return join(containerMonitorDir, 'execs', execId);
}

export interface MonitoredExec {
  pid: number;
  dir: string;
  /**
   * The exit code once the monitor wrote its record; null when the monitor died without one
   * (killed: the exec's process may run on, reparented in the container).
   */
  exited: Promise<number | null>;
  /** The client of `attachAtLaunch` and its attachment, already connected to the monitor. */
  attached?: { client: MonitorClient; attachment: Attachment };
}

/**
 * Starts `process_` in container `containerId` under a monitor in `dir` (made here; removed
 * again if the start fails). `holdOutput`: the number of clients that attach right after
 * (they get the output from its first byte). `attachAtLaunch`: the attached client's streams:
 * it is handed to the monitor at its launch over a socketpair, HELLO queued (as a container's
 * early clients, --client-fd), so no connect to control.sock and no HELLO round after the start.
 */
export async function startMonitoredExec(opts: {
  runtime: Runtime;
  containerId: string;
  dir: string;
  meta: ExecMeta;
  process: SpecProcess;
  tty: boolean;
  openStdin: boolean;
  holdOutput: number;
  consoleSize?: [number, number];
  attachAtLaunch?: AttachRequest;
  /** Phase marks (src/engine/phase-trace.ts), given only while a trace or crash point is set. */
  mark?: (phase: string) => void;
}): Promise<MonitoredExec> {
  rmSync(opts.dir, { recursive: true, force: true });
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  opts.mark?.('exec.dir-made');
  let attached: { client: MonitorClient; attachment: Attachment } | undefined;
  let watcher: MonitorClient | undefined;
  const theirs: number[] = [];
  const adopt = (req: AttachRequest) => {
    const [ours, monitorEnd] = native().socketPair();
    theirs.push(monitorEnd);
    try {
      return MonitorClient.adopt(opts.dir, ours, req, opts.tty);
    } catch (err) {
      native().close(ours);
      throw err;
    }
  };
  try {
    if (opts.attachAtLaunch) {
      attached = adopt(opts.attachAtLaunch);
      // An exit watcher (no streams), as a container's: the monitor stays while the attached
      // client is slow to take the output it still has queued, the watcher's EXIT comes at once.
      watcher = adopt({ stdin: false, stdout: false, stderr: false }).client;
    }
    // Read by the next daemon only while the exec runs or after: no fsync (a crash ends it too).
    writeFileAtomicSync(join(opts.dir, 'exec.json'), JSON.stringify(opts.meta), { mode: 0o600, durable: false });
    opts.mark?.('exec.meta-written');
    const started = await opts.runtime.startExec(opts.containerId, {
      process: opts.process,
      stdio: [0, 1, 2],
      monitor: monitorLaunch({
        dir: opts.dir,
        logPath: '/dev/null',
        logMaxSize: 0,
        logMaxFiles: 1,
        logDriver: 'none',
        tty: opts.tty,
        openStdin: opts.openStdin,
        stdinOnce: true,
        ...(opts.tty && opts.consoleSize && opts.consoleSize[0] > 0 ? { consoleSize: opts.consoleSize } : {}),
        ...(opts.holdOutput > 0 ? { holdOutput: opts.holdOutput } : {}),
        ...(theirs.length ? { clientFds: theirs } : {}),
      }),
    });
    opts.mark?.('exec.launched');
    const monitor = started.monitor!;
    const reaped = started.process.exited; // the monitor is our child until we die
    const gone = waitForExit(opts.dir, monitor).then(
      async (r) => {
        await reaped.catch(() => undefined);
        return r.exitCode;
      },
      async () => {
        await reaped.catch(() => undefined);
        return null;
      },
    );
    const watched = watcher ? watcher.exit.then((r) => (r ? r.exitCode : gone)) : gone;
    const exited = Promise.race([gone, watched]);
    return { pid: started.pid, dir: opts.dir, exited, ...(attached ? { attached } : {}) };
  } catch (err) {
    attached?.client.close();
    watcher?.close();
    rmSync(opts.dir, { recursive: true, force: true });
    throw err;
  } finally {
    for (const fd of theirs) native().close(fd);
  }
}

/** What an exec's attached client asks the monitor for (stdin's end closes it, without a TTY). */
export function execAttachRequest(req: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): AttachRequest {
  return { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, closeStdinOnEnd: !req.tty };
}

/**
 * The client's attachment to a monitored exec (startMonitoredExec's `attached`, handed to the
 * monitor at its launch). Its output ends only once `recorded` settles (the engine has the exit
 * code): the docker CLI inspects the exec as soon as the stream ends. `mark`: a phase mark at each
 * chunk of output (tests crash the daemon mid-stream there).
 */
export function execAttachment(client: MonitorClient, up: Attachment, onExit: (code: number) => void, recorded: Promise<unknown>, mark?: (phase: string) => void): Attachment {
  // The EXIT frame comes before the socket closes: record the code as early as the monitor says it.
  void client.exit.then((r) => {
    if (r) onExit(r.exitCode);
  });
  const src = up.output;
  const output = new Readable({ objectMode: true, read: () => src.resume() });
  src.on('data', (c) => {
    mark?.('exec.stream-output');
    if (!output.push(c)) src.pause();
  });
  let ended = false;
  let closing = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (closing) return void output.push(null); // our side closed it (a detach, the client gone)
    // A monitor that died without its record: the exec ends when its process does (the engine's
    // orphanedExecEnd; at once when it is gone too), and the client's stream with it, so that the
    // docker CLI's inspect after the stream finds it ended (255), not running (it would exit 0).
    void client.exit.then((r) => (r ? undefined : recorded)).then(() => output.push(null), () => output.push(null));
  };
  src.on('end', end);
  src.on('error', end);
  const close = (): void => {
    closing = true;
    up.close();
  };
  return { tty: up.tty, output, input: up.input, close };
}

/** A running one's `exited` is null when its monitor dies without a record (as MonitoredExec's). */
export type RestoredExec = ExecMeta & { dir: string; pid: number } & ({ state: 'running'; exited: Promise<number | null> } | { state: 'exited'; exitCode: number } | { state: 'lost' });

/** After a daemon restart: the execs whose dirs are in the container's monitor dir. */
export function restoreExecs(containerMonitorDir: string, warn: (m: string) => void): RestoredExec[] {
  const root = join(containerMonitorDir, 'execs');
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: RestoredExec[] = [];
  for (const name of names) {
    const dir = join(root, name);
    let meta: ExecMeta;
    try {
      meta = JSON.parse(readFileSync(join(dir, 'exec.json'), 'utf8')) as ExecMeta;
    } catch (err) {
      warn(`exec ${name}: ${(err as Error).message}; forgetting it`);
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    let pid = 0;
    try {
      pid = (JSON.parse(readFileSync(join(dir, 'monitor.json'), 'utf8')) as { containerPid: number }).containerPid;
    } catch {
      /* not started, or gone */
    }
    const m = reattachMonitor(dir);
    if (m.state === 'running') out.push({ ...meta, dir, pid, state: 'running', exited: m.exited.then((i) => (i.error !== undefined ? null : i.exitCode)) });
    else if (m.state === 'exited') out.push({ ...meta, dir, pid, state: 'exited', exitCode: m.exit.exitCode });
    else out.push({ ...meta, dir, pid, state: 'lost' });
  }
  return out;
}
