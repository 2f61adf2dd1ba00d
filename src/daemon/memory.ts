// The daemon's memory settings: V8 flags for a small resident footprint, set at process start.
//
// hakod is a long-lived process that mostly waits: on syscalls, the kernel, the monitor, the
// disk. Measured with bench/hakod-rss.mjs (VmRSS of a fresh daemon, median of 3):
//   default V8                                        54.9 MB idle, 64.0 MB after 4 runs
//   --no-opt --optimize-for-size                      51.3 / 56.8   (set here, at run time)
//   + --semi-space-growth-factor=1                    50.8 / 55.0
// --no-opt: no TurboFan. Its compiled code and compile-time zones are small, but compiling
// touches ~3.5 MB of the node binary's compiler text (file-backed, counted in VmRSS), and a
// few start-up loops (path handling, JSON) were hot enough to trigger it. Sparkplug (baseline
// code) stays, so hot JS is still compiled, cheaply. --optimize-for-size: V8's smaller-heap
// heuristics (the heap grows less eagerly). --semi-space-growth-factor=1: the young generation
// stays at its initial 1 MB semi-spaces (the default doubles it up to 16 MB after a burst of
// requests, and it stays committed while idle).
// Flags given on the command line (node --flag bin/hakod.cjs) or through NODE_OPTIONS are not
// overridden; HAKOD_V8_FLAGS replaces the defaults ("" = V8's defaults), for comparisons.
import { setFlagsFromString } from 'node:v8';

export const DAEMON_V8_FLAGS = ['--no-opt', '--optimize-for-size', '--semi-space-growth-factor=1'];

/** The V8 flags to set: the defaults (or HAKOD_V8_FLAGS) minus those node was started with. */
export function daemonV8Flags(env: NodeJS.ProcessEnv, execArgv: readonly string[]): string[] {
  const wanted = env.HAKOD_V8_FLAGS !== undefined ? env.HAKOD_V8_FLAGS.split(/\s+/).filter((f) => f) : DAEMON_V8_FLAGS;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].filter((g) => g.startsWith('--'));
  const name = (f: string): string => f.replace(/^--(no-)?/, '').replace(/=.*$/, '').replace(/_/g, '-');
  return wanted.filter((f) => !given.some((g) => name(g) === name(f)));
}

/** Applies the daemon's V8 flags (see above) to this process; returns the ones it set. */
export function applyDaemonV8Flags(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): string[] {
  const flags = daemonV8Flags(env, execArgv);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}

/**
 * Gives malloc's free pages back to the kernel once the API has been quiet for `delayMs`: after
 * start-up and after each burst of requests (a request starting or ending is activity; a stream
 * that stays open, like `events` or an attach, is not). glibc keeps freed memory in its heaps
 * (~1.5 MB after start-up: V8's parser and compiler zones, OpenSSL, libuv); malloc_trim(0)
 * releases every whole free page. It takes well under a millisecond on the daemon's heaps.
 */
export class IdleTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly trim: () => void,
    private readonly delayMs = 1000,
  ) {}

  /** Something happened: (re)starts the quiet period. */
  activity(): void {
    if (this.closed) return;
    if (this.timer) this.timer.refresh();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.trim();
      }, this.delayMs);
      this.timer.unref();
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
