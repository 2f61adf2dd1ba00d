#!/usr/bin/env node
// The OCI runtime command, for those who call it by this name: bin/hako-runtime.cjs (what the
// package installs as `hako-runtime`) is the command. It is CommonJS because that starts faster
// than an ES module entry point like this one; loading it with require (not `import`) keeps it
// out of the ESM loader.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./hako-runtime.cjs');
