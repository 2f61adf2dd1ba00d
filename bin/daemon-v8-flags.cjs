// hakod's V8 flags, for a small resident footprint: set by bin/hakod.cjs before the daemon's bundle
// is compiled (the bundle's code cache is made and checked under them: V8 accepts a cache only
// under the flags it was made with).
//
// hakod is a long-lived process that mostly waits: on syscalls, the kernel, the monitor, the
// disk. Measured with bench/hakod-rss.mjs (VmRSS of a fresh daemon, median of 3):
//   default V8                                        54.9 MB idle, 64.0 MB after 4 runs
//   --no-opt --optimize-for-size                      51.3 / 56.8   (set at run time)
//   + --semi-space-growth-factor=1                    50.8 / 55.0
//   + --heap-growing-percent=300                      47.3 / 53.6   (today's bundle; before 47.5 / 53.3)
// --no-opt: no TurboFan. Its compiled code and compile-time zones are small, but compiling
// touches ~3.5 MB of the node binary's compiler text (file-backed, counted in VmRSS), and a
// few start-up loops (path handling, JSON) were hot enough to trigger it. Sparkplug (baseline
// code) stays, so hot JS is still compiled, cheaply. --optimize-for-size: V8's smaller-heap
// heuristics (the heap grows less eagerly). --semi-space-growth-factor=1: the young generation
// stays at its initial 1 MB semi-spaces (the default doubles it up to 16 MB after a burst of
// requests, and it stays committed while idle). --heap-growing-percent=300: after each full GC the
// old generation's limit is 4× what survived it (V8's own top factor; under --optimize-for-size
// alone it was ~16 MB for hakod's ~7.5 MB live heap). The limit also counts external memory
// allocated since the last full GC (Buffers: a pull's blob chunks, zlib's output, tar entries):
// --trace-incremental-marking shows marking start on "allocation limit" with 8 MB of a 16 MB limit
// used. So a debian pull (49 MB gzip, 121 MB tar) ran 7-9 memory-reducing mark-compacts, one per
// ~8 MB of Buffers; with the flag 5 (limits ~30 MB; with 150: still 7-8). Measured on one build,
// HAKOD_V8_FLAGS A/B against the three flags above, bench/pull-versus.mjs --image=debian, five runs
// of 6-20 pairs (pairs' medians): process CPU 0.912-0.978 (median 0.942), main thread -1.8 to -30.3
// ms (-11.6), wall 0.906-1.052 (1.003: the pull waits on the pool and the disk); busybox alike
// (1.000); VmRSS 1.5 s after the pull -0.3 MB. bench/hakod-rss.mjs: idle after start 47.3 MB (47.5
// without), after 4 runs 53.6-53.7 (52.9-53.8), after 40 runs 56.7 (56.1: old-space garbage kept
// until the next full GC). bench/engine.mjs --api-only: daemon CPU per sequence alike (16.4-18.1 ms
// both). Dropping --optimize-for-size instead saves less (0.965) and, with this flag set, costs
// (1.025, +14.5 ms main thread). 700 (0.908 / 0.919) lets garbage grow further for little more.
// Set at run time, not on node's command line: any V8 flag changes V8's flag hash, and Node's own
// code cache of its built-in modules is then rejected for every builtin loaded after (each
// compiled from source), so bin/hakod.cjs loads the builtins the bundle needs at its start first.
// Flags given on the command line (node --flag bin/hakod.cjs) or through NODE_OPTIONS are not
// overridden; HAKOD_V8_FLAGS replaces the defaults ("" = V8's defaults), for comparisons.
'use strict';

const DAEMON_V8_FLAGS = ['--no-opt', '--optimize-for-size', '--semi-space-growth-factor=1', '--heap-growing-percent=300'];

/** The V8 flags to set: the defaults (or HAKOD_V8_FLAGS) minus those node was started with. */
function daemonV8Flags(env, execArgv) {
  const wanted = env.HAKOD_V8_FLAGS !== undefined ? env.HAKOD_V8_FLAGS.split(/\s+/).filter((f) => f) : DAEMON_V8_FLAGS;
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].filter((g) => g.startsWith('--'));
  const name = (f) => f.replace(/^--(no-)?/, '').replace(/=.*$/, '').replace(/_/g, '-');
  return wanted.filter((f) => !given.some((g) => name(g) === name(f)));
}

/** Applies the daemon's V8 flags (see above) to this process; returns the ones it set. */
function applyDaemonV8Flags(env = process.env, execArgv = process.execArgv) {
  const flags = daemonV8Flags(env, execArgv);
  if (flags.length) {
    const v8 = require('node:v8');
    for (const f of flags) v8.setFlagsFromString(f);
  }
  return flags;
}

module.exports = { DAEMON_V8_FLAGS, daemonV8Flags, applyDaemonV8Flags };
