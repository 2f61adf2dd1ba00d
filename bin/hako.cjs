#!/usr/bin/env node
// hako: docker's command line over the Docker Engine API (the command the package installs).
// Two sub-programs are reachable through it as well: `hako runtime …` is the OCI runtime
// (hako-runtime, runc's command line) and `hako daemon …` is the daemon (hakod).
// CommonJS, running the single-file bundles (bin/bundle-loader.cjs) with a code cache per
// command: a short command is mostly Node start-up. Without a current bundle, dist/ is imported.
'use strict';
const { loadBundle } = require('./bundle-loader.cjs');

const argv = process.argv.slice(2);

/** The command word (after the global flags), to key the code cache by. */
function commandOf(args) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) return /^[a-z]+$/.test(a) ? a : 'other';
    if (/^(-H|--host|--config|-c|--context|-l|--log-level|--tlscacert|--tlscert|--tlskey)$/.test(a)) i++;
  }
  return 'none';
}

async function load(name, distPath, cacheKey) {
  const b = loadBundle(name, { cacheKey });
  if (b) return { main: b.exports.main, saveCache: b.saveCache };
  const { main } = await import(distPath);
  return { main, saveCache() {} };
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
  load('hakod', '../dist/src/daemon/main.js')
    .then(({ main }) => main(argv.slice(1)))
    .catch(fail);
} else {
  load('hako', '../dist/src/cli/main.js', commandOf(argv))
    .then(({ main, saveCache }) =>
      main(argv).then((code) => {
        saveCache();
        process.exit(code);
      }),
    )
    .catch(fail);
}
