#!/usr/bin/env node
// hakod: the hako daemon (Docker Engine API on /run/hako.sock). See `hakod --help`.
// Runs the single-file bundle (dist/bundle/hakod.cjs, see scripts/bundle.mjs) while it is
// current: one script instead of ~110 ESM modules is ~9 MB less resident memory for a process
// that stays up. No code cache: start-up matters less than memory here.
'use strict';
const { loadBundle } = require('./bundle-loader.cjs');

const b = loadBundle('hakod');
(b ? Promise.resolve(b.exports) : import('../dist/src/daemon/main.js'))
  .then(({ main }) => main(process.argv.slice(2)))
  .catch((err) => {
    process.stderr.write(`hakod: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
