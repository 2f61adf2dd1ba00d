#!/usr/bin/env node
// The OCI runtime command (runc-compatible): the `hako-runtime` the package installs.
//
// Start-up is most of a short command's cost, so this is CommonJS (Node's ESM loader costs ~5 ms
// more just to start) and runs the single-file bundle that `npm install` / `npm run build` make
// (scripts/bundle.mjs), compiled with a V8 code cache per command (dist/bundle/<cmd>.cache,
// written by the first run of that command; V8 rejects a cache that does not match the source,
// its version or its flags, and then we compile normally and rewrite it). When the bundle is
// missing or older than the last tsc build (dist/.tsbuildinfo; without it: than any compiled
// file it was made from), it would be stale and the compiled modules in dist/ run directly.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bundleDir = path.join(root, 'dist', 'bundle');
const bundleFile = path.join(bundleDir, 'hako-runtime.cjs');
const argv = process.argv.slice(2);

function bundleIsCurrent() {
  try {
    const made = fs.statSync(bundleFile).mtimeMs;
    // tsc (incremental) rewrites dist/.tsbuildinfo on every build that emits: one stat instead
    // of one per input when it is there.
    const info = fs.statSync(`${root}/dist/.tsbuildinfo`, { throwIfNoEntry: false });
    if (info) return info.mtimeMs <= made;
    // (String concatenation: path.join for ~60 inputs costs a few ms this early in start-up.)
    for (const rel of fs.readFileSync(path.join(bundleDir, 'inputs.txt'), 'utf8').split('\n')) {
      if (rel && fs.statSync(`${root}/${rel}`).mtimeMs > made) return false;
    }
    return true;
  } catch {
    return false; // no bundle, or an input is gone
  }
}

/** The command word (after the global flags), to key the code cache by. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) return /^[a-z]+$/.test(a) ? a : 'other';
    if (/^--(root|log|log-format|rootless|criu)$/.test(a)) i++;
  }
  return 'none';
}

function loadBundle() {
  const vm = require('node:vm');
  const source = fs.readFileSync(bundleFile, 'utf8');
  const cacheFile = path.join(bundleDir, `${commandOf(argv)}.cache`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    /* first run of this command */
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: bundleFile, ...(cachedData ? { cachedData } : {}) });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, bundleFile, bundleDir);
  const saveCache = () => {
    if (cachedData && !script.cachedDataRejected) return;
    // After the run, so the functions this command compiled lazily are in it too.
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {
      try {
        fs.unlinkSync(tmp);
      } catch {
        /* read-only install: no cache, just slower */
      }
    }
  };
  return { main: mod.exports.main, saveCache };
}

async function start() {
  if (bundleIsCurrent()) return loadBundle();
  const { main } = await import('../dist/src/runtime/cli.js');
  return { main, saveCache: () => {} };
}

start()
  .then(async ({ main, saveCache }) => {
    process.exitCode = await main(argv);
    saveCache();
  })
  .catch((err) => {
    process.stderr.write(`hako-runtime: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
