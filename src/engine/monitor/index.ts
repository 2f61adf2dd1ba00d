// The per-container monitor, client side. hako-monitor (native/monitor.c) is each supervised
// container's real parent: containers keep running, logging and stay attachable while the daemon
// is killed and restarted, and their exit status is kept for the next daemon.
//
// Starting one: pass `monitorLaunch(opts)` as the runtime's launch option `monitor`
// (src/runtime/lifecycle/launch.ts → supervised.ts). `launch()` then returns the container pid
// in `record.pid`, and `monitor: {pid, startTime, containerPid}`; `process` tracks the monitor,
// which is this process's child: await `process.exited` (reaps it) or it stays a zombie until
// this process exits. After a daemon restart, the monitor (reparented to init) is found again
// through dir/monitor.json and checked with monitorAlive().
//
// On-disk layout of a monitor dir (`MonitorOptions.dir`, e.g. the container's state dir):
//   control.sock      the control socket (0600), while the monitor runs; removed when it exits
//   monitor.json      {pid, startTime, containerPid}, written by launch() (startTime: /proc/PID/stat field 22)
//   exit.json         {exitCode, signal, finishedAt, oomKilled, pid}, written atomically once the
//                     container exited AND its output is in the log (then the monitor exits)
//   monitor.log       the monitor's own diagnostics (only when something went wrong)
//   execs/<exec id>/  each docker exec's own monitor dir (the same files, no log, plus exec.json;
//                     see ../exec-monitor.ts): execs outlive the daemon like the container
// The log is at `MonitorOptions.logPath` (docker: <container dir>/<id>-json.log), rotated into
// <log>.1 … <log>.(max-file - 1), one JSON object per line: {"log":"…\n","stream":"stdout","time":"RFC3339Nano"}.
//
// Control protocol: see ./protocol.ts (8-byte framed messages, docker stdcopy frames for output).
//   const c = await MonitorClient.connect(dir);       // HELLO → INFO {tty, pid, stdin}
//   const a = c.attach({ stdin, stdout, stderr });    // an Attachment (src/engine/api-types.ts)
//   c.resize(rows, cols); c.closeStdin(); c.close();
// Slow clients: while one has more than 4 MiB queued the monitor stops reading the container's
// output, as long as that client stays connected (the container blocks on its pipe, as docker's
// attach blocks it); a client that went away is dropped at once. 32 clients at most per monitor.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SupervisorOptions } from '../../runtime/lifecycle/supervised.js';

export { MonitorClient, type MonitorInfo, type AttachRequest } from './client.js';
export { readExit, waitForExit, exitOfGoneMonitor, monitorAlive, type ExitRecord } from './exit.js';
export { readLogs, logTime, type ReadLogsOptions } from './logs.js';
export { FRAME, STREAM, MAX_FRAME } from './protocol.js';

export interface MonitorOptions {
  /** The monitor's dir (control.sock, exit.json, monitor.json). Must exist. */
  dir: string;
  /** The json-file log path. */
  logPath: string;
  /** Rotate at this size in bytes; 0 = never (docker's default when max-size is unset). */
  logMaxSize: number;
  /** Files kept including the current one (docker max-file); 1 = truncate in place. */
  logMaxFiles: number;
  logDriver: 'json-file' | 'none';
  tty: boolean;
  openStdin: boolean;
  /** Close stdin when the first attached stdin client detaches (docker StdinOnce). */
  stdinOnce: boolean;
  /** The container's memory cgroup dir (v1 memory controller dir or the v2 dir), for oomKilled. */
  cgroupMemoryDir?: string;
  /** Without cgroupMemoryDir: the runtime's launch passes the dir of the cgroups it made. */
  cgroupMemoryFromLaunch?: boolean;
  /** [rows, cols] for the pty, applied when it is opened. */
  consoleSize?: [number, number];
  /**
   * Clients that attached before the start: the monitor reads no output until this many have
   * said HELLO asking for stdout/stderr (at most 5 s), so they get it from the first byte.
   */
  holdOutput?: number;
  /**
   * The monitor's ends of socketpairs whose other ends are clients (MonitorClient.adopt), handed
   * to it already connected (at most 8): see SupervisorOptions.clientFds. The caller closes them
   * once the launch returned or failed.
   */
  clientFds?: number[];
  /** The hako-monitor binary; default: build/hako-monitor of this package. */
  binary?: string;
}

/** build/hako-monitor of this package (src/ or dist/src/ layouts). */
export function monitorBinary(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'build', 'hako-monitor');
    const up = dirname(dir);
    if (up === dir) return join(process.cwd(), 'build', 'hako-monitor');
    dir = up;
  }
}

/** The runtime's launch option for a container supervised by hako-monitor. */
export function monitorLaunch(opts: MonitorOptions): SupervisorOptions {
  const args: string[] = [];
  if (opts.logDriver === 'json-file') {
    args.push('--log', opts.logPath, '--log-max-size', String(Math.max(0, Math.floor(opts.logMaxSize))), '--log-max-files', String(Math.max(1, Math.floor(opts.logMaxFiles))));
  }
  if (opts.cgroupMemoryDir) args.push('--cgroup-memory', opts.cgroupMemoryDir);
  if (opts.stdinOnce) args.push('--stdin-once');
  if (opts.holdOutput && opts.holdOutput > 0) args.push('--hold-output', String(Math.floor(opts.holdOutput)));
  if (opts.tty && opts.consoleSize && opts.consoleSize[0] > 0 && opts.consoleSize[1] > 0) args.push('--console-size', `${opts.consoleSize[0]},${opts.consoleSize[1]}`);
  const fromLaunch = !opts.cgroupMemoryDir && opts.cgroupMemoryFromLaunch === true;
  return { path: opts.binary ?? monitorBinary(), dir: opts.dir, args, openStdin: opts.openStdin, ...(fromLaunch ? { cgroupMemoryFlag: '--cgroup-memory' } : {}), ...(opts.clientFds?.length ? { clientFds: opts.clientFds } : {}) };
}

/** dir/monitor.json as launch() wrote it, or null. */
export function readMonitorInfo(dir: string): { pid: number; startTime: string | null; containerPid: number } | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'monitor.json'), 'utf8')) as { pid: number; startTime: string | null; containerPid: number };
  } catch {
    return null;
  }
}
