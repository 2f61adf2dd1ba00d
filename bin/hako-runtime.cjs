#!/usr/bin/env -S node --no-rehash-snapshot
// The OCI runtime command (runc-compatible): the `hako-runtime` the package installs.
//
// Start-up is most of a short command's cost, so this is CommonJS (Node's ESM loader costs ~5 ms
// more just to start) and runs the single-file bundle that `npm install` / `npm run build` make
// (scripts/bundle.mjs), compiled with a V8 code cache per command (bin/bundle-loader.cjs, shared
// with hako and hakod). When the bundle is missing or older than the last tsc build, it would be
// stale and the compiled modules in dist/ run directly.
//
// --no-rehash-snapshot (in the shebang: env(1) is exec'd for `#!/usr/bin/env node` anyway, so the
// flag costs no extra exec): V8 otherwise draws a random hash seed at every start, derives its
// string-hash secret from it by a prime search (rapidhash_make_secret, 8 % of `node -e 0`'s CPU
// here) and rehashes every string of the snapshot (another 3.6 %): 3.5–4.5 ms of CPU for
// `node -e 0`, 1–3 ms of a `run` (bench/startup.mjs, interleaved with the old launcher). The cost:
// string hashes use the seed baked into the node binary, which an attacker who can make us parse
// crafted JSON could collide (hash flooding). This command's input is an OCI bundle whose author
// already controls the container it defines, so that is no new power.
'use strict';
// (one module for both: each required file costs ~0.4 ms to resolve, read and compile)
const { loadBundle, restoreRehashDefault } = require('./bundle-loader.cjs');

restoreRehashDefault();

const argv = process.argv.slice(2);

/** The command word (after the global flags), to key the code cache by. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) return /^[a-z]+$/.test(a) ? a : 'other';
    if (/^--(root|log|log-format|rootless|criu)$/.test(a)) i++;
  }
  return 'none';
}

async function start() {
  const b = loadBundle('hako-runtime', { cacheKey: commandOf(argv) });
  if (b) return { main: b.exports.main, saveCache: b.saveCache };
  const { main } = await import('../dist/src/runtime/cli.js');
  return { main, saveCache: () => {} };
}

start()
  .then(async ({ main, saveCache }) => {
    const code = await main(argv);
    saveCache();
    // Done: exit now instead of letting Node free its environment and heap first (~1.5 ms of a
    // short command). Nothing is pending: the container is deleted (or left to run on its own),
    // and on Linux writes to stdout/stderr (files, pipes, terminals) are synchronous.
    process.exit(code);
  })
  .catch((err) => {
    process.stderr.write(`hako-runtime: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
