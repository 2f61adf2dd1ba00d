#!/usr/bin/env node
// The OCI runtime command (runc-compatible). Compiled code lives in dist/.
import { main } from '../dist/src/runtime/cli.js';
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`hako-runtime: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
