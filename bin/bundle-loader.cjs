// Loads a command's single-file bundle (dist/bundle/<name>.cjs, made by scripts/bundle.mjs) while
// it is current, optionally compiled with a V8 code cache (dist/bundle/<name>.<key>.cache, written
// after the first run of that command; V8 rejects a cache that does not match the source, its
// version or its flags, and then we compile normally and rewrite it). Returns null when there is
// no current bundle (not built, or one of the compiled files it was made from is newer): the
// caller then imports the modules in dist/ directly, just slower to start.
'use strict';
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

module.exports = { loadBundle, restoreRehashDefault };
