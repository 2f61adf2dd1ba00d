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
// (one module for both: each required file costs ~0.4 ms to resolve, read and compile)
const { loadBundle, restoreRehashDefault } = require('./bundle-loader.cjs');

restoreRehashDefault();

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
  load('hako', '../dist/src/cli/main.js', commandOf(argv))
    .then(({ main, saveCache }) =>
      main(argv).then((code) => {
        saveCache();
        process.exit(code);
      }),
    )
    .catch(fail);
}
