#!/usr/bin/env node
// hakod: the hako daemon (Docker Engine API on /run/hako.sock). See `hakod --help`.
// Runs the single-file bundle (dist/bundle/hakod.cjs, see scripts/bundle.mjs) while it is
// current: one script instead of ~110 ESM modules is ~9 MB less resident memory for a process
// that stays up. The bundle is compiled from a V8 code cache (dist/bundle/hakod.daemon.*.cache)
// once the daemon has written one, after its first pull (see src/daemon/main.ts): a fresh daemon
// then starts (~30 ms less CPU) and pulls (~9.5 ms less main-thread CPU) without compiling its
// code first.
//
// HAKOD_CODE_CACHE: `off` (no code cache, as before) or another directory for the cache files
// (tests, benches).
//
// Order matters: the daemon's V8 flags (bin/daemon-v8-flags.cjs) are part of the code cache's
// check, so they are set before the bundle is compiled, and the builtins the bundle requires at
// its start (dist/bundle/hakod.builtins.txt, written with it) are loaded before the flags: a
// builtin loaded under other flags than Node's own compiles without Node's code cache.
'use strict';
const { loadBundle } = require('./bundle-loader.cjs');
const { applyDaemonV8Flags } = require('./daemon-v8-flags.cjs');

let builtins = [];
try {
  builtins = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'dist', 'bundle', 'hakod.builtins.txt'), 'utf8').split('\n');
} catch {
  /* no bundle */
}
for (const b of builtins) if (b) require(b);
let v8Flags = builtins.length ? applyDaemonV8Flags() : undefined;
const cacheEnv = process.env.HAKOD_CODE_CACHE;
const b = loadBundle('hakod', cacheEnv === 'off' ? {} : { cacheKey: 'daemon', v8Flags, ...(cacheEnv ? { cacheDir: cacheEnv } : {}) });
// Without a current bundle, dist/'s modules (slower to start): flags set after they are loaded.
(b ? Promise.resolve(b.exports) : import('../dist/src/daemon/main.js').then((m) => ((v8Flags ??= applyDaemonV8Flags()), m)))
  .then(({ main }) => main(process.argv.slice(2), b && cacheEnv !== 'off' ? { codeCache: { state: b.cacheState, save: b.saveCache } } : {}))
  .catch((err) => {
    process.stderr.write(`hakod: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
