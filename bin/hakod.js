#!/usr/bin/env node
// hakod: the hako daemon (Docker Engine API on /run/hako.sock). See `hakod --help`.
import { main } from '../dist/src/daemon/main.js';

await main(process.argv.slice(2));
