#!/usr/bin/env node
// hakod: the hako daemon. The ESM path, kept for callers that run bin/hakod.js: it runs
// bin/hakod.cjs (one script; see there).
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./hakod.cjs');
