#!/usr/bin/env node
// The ESM path of the hako command, kept for callers that run bin/hako.js: it runs bin/hako.cjs
// (what the package installs as `hako`).
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./hako.cjs');
