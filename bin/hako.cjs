#!/usr/bin/env -S node --no-rehash-snapshot
// hako: docker's command line over the Docker Engine API (the command the package installs).
// Two sub-programs are reachable through it as well: `hako runtime …` is the OCI runtime
// (hako-runtime, runc's command line) and `hako daemon …` is the daemon (hakod).
// CommonJS, running the single-file bundles (bin/bundle-loader.cjs) with a code cache per
// command: a short command is mostly Node start-up. Without a current bundle, dist/ is imported.
//
// --no-rehash-snapshot (shebang; see bin/hako-runtime.cjs): 3–4 ms less for `run --rm` (measured in
// bench/startup.mjs), string hashes then use the seed baked into the node binary. Fine for a
// short-lived client, not for the daemon, which parses JSON from registries: `hako daemon` execs
// node again without the flag (through the addon: Node 20 has no process.execve), or when the addon
// is not built, runs hakod in a child node and passes signals on to it.
'use strict';
// Profiling (bench/startup.mjs --phases): with HAKO_CLI_TRACE=<file>, the CLI's phases (this
// file's first line, bundle loaded, arguments parsed, each request sent and answered, exit) are
// appended to that file at exit as `hako-phase cli <phase> <CLOCK_MONOTONIC ms>`, the format and
// clock of hakod's HAKO_PHASE_TRACE. Off, a mark is one branch.
const traceFile = process.env.HAKO_CLI_TRACE;
const marks = traceFile ? [['cli.js', process.hrtime.bigint()]] : null;
const mark = marks ? (phase) => marks.push([phase, process.hrtime.bigint()]) : undefined;
// bin/bundle-loader.cjs's code, copied in: a required file costs the command ~0.5–0.9 ms to
// resolve, read and compile (measured with HAKO_CLI_TRACE). test/unit/launchers.test.ts checks
// that the copy is the same as the file.
// ---- begin copy of bin/bundle-loader.cjs ----
// Built-ins through process.getBuiltinModule (Node ≥ 20.16) where there is one: a module's first
// require() of anything compiles the CommonJS loader's resolution path (Module._load and what it
// calls), ~70 µs of each start that only built-ins are asked of (fresh processes: require('node:fs')
// first 90–110 µs, getBuiltinModule 22–25 µs). The bundles get the same require: built-ins come
// from process.getBuiltinModule (the same exports object), anything else from require.
const builtinModule = typeof process.getBuiltinModule === 'function' ? (id) => process.getBuiltinModule(id) : require;
const bundleRequire = typeof process.getBuiltinModule === 'function' ? (id) => (id.startsWith('node:') ? process.getBuiltinModule(id) : require(id)) : require;
const fs = builtinModule('node:fs');
const path = builtinModule('node:path');

const root = path.join(__dirname, '..');

/**
 * '' without node flags, else '.' and a short hash of them. V8 accepts a code cache only under
 * the flags it was made with (its flag hash is part of the check), so a command run both as
 * installed (the shebang's flags) and as `node bin/…` (none, as the tests do) keeps one cache
 * per set of flags instead of rejecting and rewriting a shared one on every switch (a rejected
 * cache costs ~17 ms: the bundle is compiled again and the cache written again). `v8Flags`: flags
 * the process set at run time before the bundle is compiled (hakod's).
 */
function flagsTag(v8Flags = []) {
  const flags = [...process.execArgv, ...v8Flags].join(' ');
  if (!flags) return '';
  let h = 0x811c9dc5; // FNV-1a: node:crypto would load OpenSSL's algorithms for one hash
  for (let i = 0; i < flags.length; i++) h = Math.imul(h ^ flags.charCodeAt(i), 0x01000193);
  return '.' + (h >>> 0).toString(16);
}
const bundleDir = path.join(root, 'dist', 'bundle');

/**
 * Whether the bundle is newer than what it was made from. `mtimeMs`: the addon's (a first
 * fs.statSync costs a process ~0.2 ms), undefined for a missing file.
 */
function isCurrent(file, inputsFile, mtimeMs) {
  try {
    const mtime = mtimeMs ?? ((p) => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs);
    const made = mtime(file);
    if (made === undefined) return false;
    // tsc (incremental) rewrites dist/.tsbuildinfo on every build that emits, and the bundles are
    // made after tsc: one stat instead of one per input when it is there.
    const info = mtime(root + path.sep + 'dist' + path.sep + '.tsbuildinfo');
    if (info !== undefined) return info <= made;
    // Plain concatenation, not path.join: ~120 path.join calls get it optimized by TurboFan,
    // whose compile memory stays resident (~4 MB of the daemon's RSS, measured).
    const base = root + path.sep;
    for (const rel of fs.readFileSync(inputsFile, 'utf8').split('\n')) {
      if (rel && fs.statSync(base + rel).mtimeMs > made) return false;
    }
    return true;
  } catch {
    return false; // no bundle, or an input is gone
  }
}

// A bundle's file is its module function followed by a call of it (scripts/bundle.mjs):
//   (function (exports, require, module, __filename, __dirname) {…\n}).call(this, exports, …);
// `require` runs the file as it is; the loader compiles the function expression alone (the file
// without the call) in a vm.Script, so that the code cache holds the module's code.
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const CALL_TAIL = '.call(this, exports, require, module, __filename, __dirname);\n';

/**
 * The bundle's function expression (its file without the call), or null for a file not made
 * that way. `map`: the addon's mapSource, which gives the file as a string over a mapping of it
 * (no read, no decoding; undefined when it cannot).
 */
function readSource(file, map) {
  let src;
  if (map) {
    try {
      src = map(file);
    } catch {
      /* read it below */
    }
  }
  if (src === undefined) {
    // Read into one buffer and decoded once: Buffer.concat of pieces cost another allocation and
    // copy (~0.15 ms of `hako run`'s start-up, measured in fresh processes).
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = fs.readSync(fd, buf, got, size - got, got);
        if (n === 0) throw new Error(`${file}: shorter than its size (${got} of ${size} bytes)`);
        got += n;
      }
      src = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  }
  if (!src.startsWith(WRAP_HEAD) || !src.endsWith(CALL_TAIL)) return null;
  return src.slice(0, src.length - CALL_TAIL.length);
}

/**
 * { exports, cacheState, saveCache } for the bundle `name`, or null. With `cacheKey` the bundle
 * runs from a code cache (cacheState 'accepted'; 'rejected': compiled from source, 'none': no
 * cache yet or no cacheKey); call saveCache() at the end of the run (the cache then holds what
 * this run compiled). `cacheDir`: where the cache files are (default: beside the bundle, where
 * a new build removes them; elsewhere, a new bundle's cache is rejected once, then rewritten).
 * V8 compiles lazily, so a cache holds only the functions its run called, and an accepted cache
 * is kept as it is: saveCache({ partial: true }) after a run that did only part of the command's
 * work (its help, a usage error, no daemon) keeps that cache apart (`….partial.cache`), used only
 * until a full run writes the real one. (A first `hako run --help` otherwise left `run` with a
 * cache of 113 KB instead of 191 KB, and ~1.5 ms more of compiling at every start after.)
 * `addon`: the native addon's exports when the caller has loaded it (the CLI does, for its
 * socket): its mapSource/mapBuffer map the bundle and the cache instead of reading them.
 */
function loadBundle(name, { cacheKey, v8Flags, cacheDir = bundleDir, addon } = {}) {
  const file = path.join(bundleDir, `${name}.cjs`);
  if (!isCurrent(file, path.join(bundleDir, `${name}.inputs.txt`), typeof addon?.mtimeMs === 'function' ? addon.mtimeMs : undefined)) return null;
  if (!cacheKey) return { exports: require(file), cacheState: 'none', saveCache() {} };
  // The function expression as one string (the file's slice: no copy): a template around the
  // file's string would leave that string (~0.8 MB for hakod, in V8's large-object space) as
  // garbage that only a full GC frees, i.e. resident in an idle daemon.
  const source = readSource(file, typeof addon?.mapSource === 'function' ? addon.mapSource : undefined);
  if (source === null) return { exports: require(file), cacheState: 'none', saveCache() {} };
  const vm = builtinModule('node:vm');
  const base = path.join(cacheDir, `${name}.${cacheKey}${flagsTag(v8Flags)}`);
  const fullFile = `${base}.cache`;
  const partialFile = `${base}.partial.cache`;
  // `addon`'s mapBuffer: the cache over a mapping of its file instead of read into a buffer.
  const readCache = typeof addon?.mapBuffer === 'function' ? addon.mapBuffer : fs.readFileSync;
  let cachedData;
  let loadedPartial = false;
  try {
    cachedData = readCache(fullFile);
  } catch {
    try {
      cachedData = readCache(partialFile);
      loadedPartial = true;
    } catch {
      /* first run of this command */
    }
  }
  const script = new vm.Script(source, { filename: file, ...(cachedData ? { cachedData } : {}) });
  // The cache's bytes are not needed once compiled: a long-lived process would keep them (~0.6 MB
  // for hakod) through saveCache below.
  const hadCache = cachedData !== undefined;
  cachedData = undefined;
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, bundleRequire, mod, file, bundleDir);
  return {
    exports: mod.exports,
    cacheState: !hadCache ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted',
    saveCache({ partial = false } = {}) {
      if (hadCache && !script.cachedDataRejected && (partial || !loadedPartial)) return;
      const cacheFile = partial ? partialFile : fullFile;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
        // A full cache replaces the partial one; a rejected full one (another node) goes.
        if (!partial && loadedPartial) fs.rmSync(partialFile, { force: true });
        if (partial && hadCache && !loadedPartial) fs.rmSync(fullFile, { force: true });
      } catch {
        try {
          fs.unlinkSync(tmp);
        } catch {
          /* read-only install: no cache, just slower */
        }
      }
    },
  };
}

// restoreRehashDefault: the commands' shebang passes V8 `--no-rehash-snapshot` (see
// bin/hako-runtime.cjs for what it saves). Any V8 flag also changes V8's flag hash, and with it
// Node's own code cache of its built-in modules is rejected: every built-in loaded after
// start-up would be compiled from source. `hako` loads net and the streams (~26 modules) for
// its socket: require('net') takes ~2.2 ms with the cache and 10–30 ms without, more than the
// flag saves. The flag has done its work once the isolate exists (it is read when the snapshot
// is deserialised), so its default is restored first thing, before any other built-in is
// loaded, and the hash matches again. `addon`: the native addon's exports when the caller loaded
// it already (the CLI): its setV8Flags sets the flag without process.binding('v8') (~0.13 ms).
function restoreRehashDefault(addon) {
  if (!process.execArgv.includes('--no-rehash-snapshot')) return;
  if (typeof addon?.setV8Flags === 'function' && addon.setV8Flags('--rehash-snapshot')) return;
  // require('v8') would load the streams first (for its heap-snapshot streams), all compiled
  // without the cache; the binding under it loads nothing. Reading it through process.binding
  // is runtime-deprecated (DEP0111), so the warning is held back for this one access.
  let binding;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    binding = process.binding('v8');
  } catch {
    /* a Node without it: the public module, slower but the same */
  } finally {
    process.noDeprecation = quiet;
  }
  (typeof binding?.setFlagsFromString === 'function' ? binding : require('node:v8')).setFlagsFromString('--rehash-snapshot');
}
// ---- end copy of bin/bundle-loader.cjs ----

const argv = process.argv.slice(2);
// The CLI's addon (~0.3 ms to load) first: restoreRehashDefault sets the flag through it. It
// loads no JS built-in, so nothing is compiled under the shebang's flag before.
const cliAddon = argv[0] === 'runtime' || argv[0] === 'daemon' ? undefined : loadAddon();
restoreRehashDefault(cliAddon);

/**
 * The command word (after the global flags), to key the code cache by. Without regular
 * expressions: V8 compiles one at its first use, ~60 µs of each start for these two.
 */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a[0] !== '-') return isLowerWord(a) ? a : 'other';
    if (valuedGlobalFlags.has(a)) i++;
  }
  return 'none';
}
const valuedGlobalFlags = new Set(['-H', '--host', '--config', '-c', '--context', '-l', '--log-level', '--tlscacert', '--tlscert', '--tlskey']);
/** /^[a-z]+$/ */
function isLowerWord(a) {
  if (a.length === 0) return false;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c < 0x61 || c > 0x7a) return false;
  }
  return true;
}

async function load(name, distPath, cacheKey, addon) {
  const b = loadBundle(name, { cacheKey, addon });
  if (b) return { main: b.exports.main, saveCache: b.saveCache };
  const { main } = await import(distPath);
  return { main, saveCache() {} };
}

/** hakod under node with V8's default (random) hash seed, in place of this process if it can. */
function daemonWithoutFlag(args) {
  const path = require('node:path');
  const flags = process.execArgv.filter((f) => f !== '--no-rehash-snapshot');
  const nodeArgs = [...flags, path.join(__dirname, 'hakod.cjs'), ...args];
  const addon = { exports: {} };
  try {
    process.dlopen(addon, path.join(__dirname, '..', 'build', 'hako_native.node'));
  } catch {
    /* not built */
  }
  if (typeof addon.exports.execve === 'function') {
    const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
    try {
      addon.exports.execve(process.execPath, [process.argv0, ...nodeArgs], env);
    } catch (err) {
      fail(err); // e.g. the node binary is gone: nothing was replaced
    }
    return;
  }
  // No addon (or an older build without execve): a child, as long-lived as this process, which
  // passes signals on.
  const child = require('node:child_process').spawn(process.execPath, nodeArgs, { stdio: 'inherit' });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    process.on(sig, () => {
      // A terminal's ^C already reached the child (same foreground process group): once is enough.
      if (sig === 'SIGINT' && process.stdin.isTTY) return;
      child.kill(sig);
    });
  }
  child.on('error', fail);
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

/**
 * The native addon's exports ({} when it is not built): only the functions the CLI calls
 * (setV8Flags, mtimeMs, mapSource, mapBuffer, unixConnect, getWinsize, exitNow), which the
 * addon's init makes alone when the exports object it is given says `cliOnly` (~0.1 ms less than
 * all ~60; an addon built before that makes all of them and leaves the flag).
 */
function loadAddon() {
  const addon = { exports: { cliOnly: true } };
  try {
    process.dlopen(addon, path.join(__dirname, '..', 'build', 'hako_native.node'));
  } catch {
    /* not built */
  }
  return addon.exports;
}

/**
 * process.exit without Node's teardown (~3 ms: platform threads joined, atexit handlers, the
 * heap freed) through the addon's _exit (native/addon_exit.c), once the 'exit' event ran as
 * process.exit would run it. main() has flushed stdout and stderr. Without the addon (not
 * built), process.exit. `addon`: loaded before the command ran.
 */
function exitNow(code, addon = loadAddon()) {
  if (typeof addon.exitNow !== 'function') process.exit(code);
  process.exitCode = code;
  process.emit('exit', code);
  addon.exitNow(code);
}

function fail(err) {
  process.stderr.write(`hako: ${err?.stack ?? err}\n`);
  process.exit(1);
}

if (argv[0] === 'runtime') {
  load('hako-runtime', '../dist/src/runtime/cli.js', `runtime-${commandOf(argv.slice(1))}`)
    .then(async ({ main, saveCache }) => {
      process.exitCode = await main(argv.slice(1));
      saveCache();
    })
    .catch(fail);
} else if (argv[0] === 'daemon') {
  if (process.execArgv.includes('--no-rehash-snapshot')) daemonWithoutFlag(argv.slice(1));
  else {
    load('hakod', '../dist/src/daemon/main.js')
      .then(({ main }) => main(argv.slice(1)))
      .catch(fail);
  }
} else {
  if (marks) {
    process.once('exit', () => {
      mark('cli.exit');
      const text = marks.map(([p, t]) => `hako-phase cli ${p} ${(Number(t) / 1e6).toFixed(3)}\n`).join('');
      try {
        require('node:fs').appendFileSync(traceFile, text);
      } catch {
        /* profiling only */
      }
    });
  }
  // The addon (loaded above): its mapSource/mapBuffer map the bundle and its code cache (no read
  // and decoding of either), its unixConnect connects to the daemon in connect(2) itself, so the
  // first request goes out when written (libuv's connect holds writes for a loop turn or two),
  // its getWinsize tells a terminal's width without process.stdout (progress bars), and its
  // exitNow ends the command.
  const addon = cliAddon;
  load('hako', '../dist/src/cli/main.js', commandOf(argv), addon)
    .then(({ main, saveCache }) => {
      mark?.('cli.loaded');
      const unixConnector = typeof addon.unixConnect === 'function' ? addon.unixConnect : undefined;
      const winsize = typeof addon.getWinsize === 'function' ? addon.getWinsize : undefined;
      // A run that got no answer from the daemon (help, a usage error, no daemon) ran only part
      // of the command: its code cache is kept apart until a full run's replaces it.
      let answered = false;
      return main(argv, { mark, answered: () => (answered = true), unixConnector, winsize }).then((code) => {
        saveCache({ partial: !answered });
        exitNow(code, addon);
      });
    })
    .catch(fail);
}
