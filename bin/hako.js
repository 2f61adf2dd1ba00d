#!/usr/bin/env node
// hako: docker's command line over the Docker Engine API. Compiled code lives in dist/.
// Two sub-programs are reachable through it as well: `hako runtime …` is the OCI runtime
// (hako-runtime, runc's command line) and `hako daemon …` is the daemon (hakod).
const argv = process.argv.slice(2);
if (argv[0] === 'runtime') {
  const { main } = await import('../dist/src/runtime/cli.js');
  process.exitCode = await main(argv.slice(1));
} else if (argv[0] === 'daemon') {
  const { main } = await import('../dist/src/daemon/main.js');
  await main(argv.slice(1));
} else {
  const { main } = await import('../dist/src/cli/main.js');
  main(argv).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`hako: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
