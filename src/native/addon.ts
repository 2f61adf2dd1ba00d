// The typed loader of build/hako_native.node (native/addon*.c). Loaded lazily on first use, so
// modules that merely import the runtime work without the addon (e.g. unit tests, --help).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HakoError } from '../common/errors.js';

/** One record of the executor's error pipe: `{step, value}` (see docs/executor-plan.md). */
export interface PipeRecord {
  step: number;
  value: number;
}

/** The exit status from waitid: `code` for a normal exit, else the number of the killing signal. */
export interface RawExitStatus {
  code: number | null;
  signal: number | null;
}

/** A network namespace being made (native/addon_netns.c), opaque. */
export type NetnsHandle = { readonly __netns: unique symbol };

/** Directories being made (native/addon_mkdirs.c), opaque. */
export type MkdirsHandle = { readonly __mkdirs: unique symbol };
/** mkdirsBegin flags (native/addon_mkdirs.c). */
export const MKDIRS = { CPUSET: 1, TASKS: 2 } as const;

/** The addon's functions. Failures throw an Error with `.errno` (positive), `.code` and `.syscall`. */
export interface NativeAddon {
  /** Decodes the plan, clones the child (which runs it) and returns its handles (all CLOEXEC). */
  /** `trace` (profiling): plan ops + 1 slots filled with each op's completion time, ns (see addon_exec.h). */
  spawn(plan: Buffer, trace?: BigUint64Array): { pid: number; pidfd: number; syncFd: number; errFd: number };
  /**
   * Blocking read of one 8-byte record; null at EOF. Handles EAGAIN (O_NONBLOCK fds) by polling.
   * With nohang, returns undefined instead of blocking when nothing is there yet.
   */
  readRecord(fd: number): PipeRecord | null;
  readRecord(fd: number, nohang: boolean): PipeRecord | null | undefined;
  /**
   * connect(2) to a unix stream socket on this thread: the connected fd (non-blocking,
   * close-on-exec). Throws with errno/code/syscall (EAGAIN: the listener's backlog is full). For
   * the CLI's connections (src/cli/pipe-socket.ts), whose first write then goes out at once.
   */
  unixConnect(path: string): number;
  /** Calls cb once when fd is readable or hung up (one-shot uv_poll; keeps the loop alive while pending). */
  watch(fd: number, cb: () => void): void;
  /** Cancels a pending watch; returns whether there was one. */
  unwatch(fd: number): boolean;
  /** waitid(P_PIDFD, WEXITED|__WALL[|WNOHANG]): reaps; null when nohang and still running. */
  waitPidfd(pidfd: number, nohang: boolean): RawExitStatus | null;
  pidfdOpen(pid: number): number;
  pidfdSignal(pidfd: number, signal: number): void;
  /** pipe2(O_CLOEXEC) → [read end, write end]. */
  pipe(): [number, number];
  /** socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC). */
  socketPair(): [number, number];
  sendFd(sock: number, fd: number, data: string): void;
  /** Receives one fd (CLOEXEC) with its payload; null at EOF, fd -1 if the message had none. */
  recvFd(sock: number): { fd: number; data: string } | null;
  mkfifo(path: string, mode: number): void;
  /**
   * Starts making a new network namespace (lo up when asked) on a short-lived thread of its own
   * (native/addon_netns.c); the handle is for netnsTake.
   */
  netnsBegin(loopbackUp: boolean): NetnsHandle;
  /**
   * Never waits: an O_CLOEXEC fd of the namespace if it is made, else -1 (the thread closes it
   * when it is). Throws the errno of a failed step. A handle gives its fd once.
   */
  netnsTake(handle: NetnsHandle): number;
  /**
   * Starts a thread that makes each path with one mkdir (no parents) (native/addon_mkdirs.c).
   * `flags[k]` for cgroup v1 directories: MKDIRS.CPUSET, paths[k] is a cpuset cgroup, given its
   * parent's cpuset.cpus/mems where empty (when that fails it is removed again: not made);
   * MKDIRS.TASKS, its `tasks` file is opened too (see mkdirsEnd). Every handle must be ended.
   */
  mkdirsBegin(paths: string[], mode: number, flags?: number[]): MkdirsHandle;
  /**
   * Waits for the thread; the paths it made (with undo: removed again first, and those it could
   * not). Without undo, `fds[k]` receives each MKDIRS.TASKS open: an O_CLOEXEC fd (the caller's
   * to close) or -errno; the other fds are closed.
   */
  mkdirsEnd(handle: MkdirsHandle, undo: boolean, fds?: number[]): string[];
  /** umount2(target, flags) on the libuv pool (native/addon_mount.c); rejects with the errno. */
  umountAsync(target: string, flags: number): Promise<void>;
  setWinsize(fd: number, rows: number, cols: number): void;
  getWinsize(fd: number): { rows: number; cols: number };
  /** ioctl SIOCOUTQ: bytes in a socket's send queue (unix stream: not yet read by the peer; TCP: unacknowledged). */
  outq(fd: number): number;
  /** Sets or clears FD_CLOEXEC (Node opens everything CLOEXEC; tests need a leaky fd). */
  setCloexec(fd: number, on: boolean): void;
  close(fd: number): void;
  /** Replaces this process (returns only by throwing an errno error). */
  execve(path: string, argv: string[], env: string[]): never;
  /** malloc_trim(0): returns malloc's free pages to the kernel; whether any were released. */
  mallocTrim(): boolean;
  /**
   * V8's low-memory collection on this thread's isolate (memory-reducing full GCs, young
   * generation shrunk, empty pages unmapped; see native/addon_mem.c); false when node lacks it.
   */
  lowMemoryNotification(): boolean;
  /**
   * The raw bpf(2) syscall on `attr` (read and written in place); returns its result. Each
   * `[offset, buffer]` of `pointers` first stores that buffer's address (u64) at `offset` in attr.
   */
  bpf(cmd: number, attr: Buffer, pointers?: Array<[number, Uint8Array]>): number;
  /** CPU time in ns of the calling thread (CLOCK_THREAD_CPUTIME_ID) or, processWide, of the process (profiling). */
  cpuTimeNs(processWide?: boolean): number;
}

/** The package root: the nearest ancestor of this file holding package.json (src/ or dist/src/). */
function packageRoot(): string {
  // In the CommonJS bundle (dist/bundle/) __dirname is there, and cheaper than the file URL.
  let dir = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new HakoError({ step: 'find the hako package root', hint: `no package.json above ${fileURLToPath(import.meta.url)}` });
    dir = up;
  }
}

let loaded: NativeAddon | undefined;

/** The addon, loaded on first call. Throws a HakoError telling how to build it when missing. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const path = join(packageRoot(), 'build', 'hako_native.node');
  if (!existsSync(path)) {
    throw new HakoError({ step: 'native addon not built', path, hint: 'run npm install (or npm run build:native)', kind: 'internal' });
  }
  try {
    // What require() does for a .node file, without resolving the path again (realpath, module
    // cache): 0.24 ms instead of 0.6–0.7 ms, on every container start of the CLI.
    const mod = { exports: {} as NativeAddon };
    process.dlopen(mod, path);
    loaded = mod.exports;
  } catch (err) {
    throw new HakoError({
      step: `load native addon ${path}`,
      path,
      hint: `${(err as Error).message}; rebuild it with npm run build:native`,
      kind: 'internal',
      cause: err,
    });
  }
  return loaded;
}

/** The errno of an addon error (positive), or undefined for other errors. */
export function addonErrno(err: unknown): number | undefined {
  const e = err as { errno?: unknown };
  return typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
}
