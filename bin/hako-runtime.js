#!/usr/bin/env node
// The OCI runtime command, for those who call it by this name: bin/hako-runtime.cjs (what the
// package installs as `hako-runtime`) is the command; it is CommonJS because that starts ~5 ms
// faster than an ES module entry point like this one.
import './hako-runtime.cjs';
