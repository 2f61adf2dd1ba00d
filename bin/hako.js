#!/usr/bin/env node
// hako: docker's command line over the Docker Engine API. Compiled code lives in dist/.
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`hako: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
