// The installed commands (bin/*.cjs) run through their shebang, `#!/usr/bin/env -S node
// --no-rehash-snapshot`: these tests exec them the same way (the other CLI tests run
// `node bin/…`, which bypasses the shebang).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = (name: string): string => join(repoRoot, 'bin', name);
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

test('hako-runtime and hako run through their shebang, flag included, with nothing on stderr', () => {
  for (const [name, out] of [
    ['hako-runtime.cjs', /^hako-runtime version \d/],
    ['hako.cjs', /^hako version \d/],
  ] as const) {
    assert.match(readFileSync(bin(name), 'utf8').split('\n')[0]!, /^#!\/usr\/bin\/env -S node --no-rehash-snapshot$/);
    const r = spawnSync(bin(name), ['--version'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, out);
    // no DEP0111 warning from reading the v8 binding (bin/bundle-loader.cjs)
    assert.equal(r.stderr, '');
  }
});

test('hako ends through the addon\'s _exit with the command\'s status, after the exit event (HAKO_CLI_TRACE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-launcher-'));
  try {
    const trace = join(dir, 'trace');
    const bad = spawnSync(bin('hako.cjs'), ['no-such-command'], { env: { ...env, HAKO_CLI_TRACE: trace }, encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^hako: unknown command: hako no-such-command\n/);
    const phases = readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[2]);
    assert.deepEqual(phases, ['cli.js', 'cli.loaded', 'cli.exit']);
    const help = spawnSync(bin('hako.cjs'), ['run', '--help'], { env, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^\nUsage:  hako run \[OPTIONS\] IMAGE/);
    assert.match(help.stdout, /Run 'hako run --help'|--workdir string/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/hako.cjs carries the same loader code as bin/bundle-loader.cjs', () => {
  const loader = readFileSync(bin('bundle-loader.cjs'), 'utf8').split("'use strict';\n")[1]!.replace('module.exports = { loadBundle, restoreRehashDefault };\n', '').trim();
  const launcher = readFileSync(bin('hako.cjs'), 'utf8');
  const copy = /\/\/ ---- begin copy of bin\/bundle-loader\.cjs ----\n([\s\S]*)\n\/\/ ---- end copy of bin\/bundle-loader\.cjs ----/.exec(launcher)?.[1];
  assert.ok(copy, 'the copy markers are in bin/hako.cjs');
  assert.equal(copy.trim(), loader, 'bin/hako.cjs: copy bin/bundle-loader.cjs into it again');
});

test('a run that did part of a command\'s work keeps its code cache apart until a full run writes the real one', (t) => {
  const { loadBundle } = createRequire(import.meta.url)(bin('bundle-loader.cjs')) as {
    loadBundle(name: string, o: { cacheKey: string }): { saveCache(o?: { partial?: boolean }): void } | null;
  };
  const key = `test${process.pid}`;
  const dir = join(repoRoot, 'dist', 'bundle');
  const files = () => readdirSync(dir).filter((f) => f.startsWith(`hako.${key}.`)).map((f) => f.replace(/^hako\.[^.]+\.(?:[0-9a-f]+\.)?/, ''));
  const load = () => loadBundle('hako', { cacheKey: key });
  if (!load()) {
    t.skip('no current bundle (esbuild not installed)');
    return;
  }
  try {
    load()!.saveCache({ partial: true }); // e.g. `hako run --help` first
    assert.deepEqual(files(), ['partial.cache']);
    load()!.saveCache({ partial: true }); // another partial run: the partial cache stays
    assert.deepEqual(files(), ['partial.cache']);
    load()!.saveCache(); // a full run: the real cache, the partial one gone
    assert.deepEqual(files(), ['cache']);
    load()!.saveCache({ partial: true }); // the full cache is used from then on
    load()!.saveCache();
    assert.deepEqual(files(), ['cache']);
  } finally {
    for (const f of readdirSync(dir).filter((f) => f.startsWith(`hako.${key}.`))) rmSync(join(dir, f), { force: true });
  }
});

test('after restoreRehashDefault, built-ins load with Node’s code cache again', () => {
  // (the probe itself, internal/test/binding, loads streams: only http is looked at)
  // With a V8 flag set, V8's flag hash differs from the one Node's built-in code cache was made
  // with and every built-in compiles from source; restoring the default makes it match again.
  const addonPath = join(repoRoot, 'build', 'hako_native.node');
  const probe = (restore: boolean, viaAddon = false): { withCache: string[]; without: string[] } => {
    const script = [
      viaAddon ? `const a = { exports: {} }; process.dlopen(a, ${JSON.stringify(addonPath)}); if (typeof a.exports.setV8Flags !== 'function') throw new Error('no setV8Flags');` : '',
      restore ? `require(${JSON.stringify(bin('bundle-loader.cjs'))}).restoreRehashDefault(${viaAddon ? 'a.exports' : ''});` : '',
      "require('node:http');",
      "const u = require('internal/test/binding').internalBinding('builtins').getCacheUsage();",
      'console.log(JSON.stringify({ withCache: [...u.compiledWithCache], without: [...u.compiledWithoutCache] }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--no-rehash-snapshot', '--expose-internals', '-e', script], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { withCache: string[]; without: string[] };
  };
  const flagged = probe(false);
  assert.ok(flagged.without.includes('http'), `the probe sees no rejection with the flag set: ${JSON.stringify(flagged)}`);
  const restored = probe(true);
  assert.ok(restored.withCache.includes('http'), JSON.stringify(restored));
  assert.ok(!restored.without.includes('http'), JSON.stringify(restored));
  // through the addon's setV8Flags (what bin/hako.cjs does): the fallback through process.binding
  // is not taken when it returns true
  const viaAddon = probe(true, true);
  assert.ok(viaAddon.withCache.includes('http'), JSON.stringify(viaAddon));
  assert.ok(!viaAddon.without.includes('http'), JSON.stringify(viaAddon));
});

test('hako daemon execs node again without the flag: hakod keeps the stdio (help on stdout) and gives the status', () => {
  // (Node marks fds 0-2 close-on-exec: without the addon clearing that, the help would vanish)
  const help = spawnSync(bin('hako.cjs'), ['daemon', '--help'], { env, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: hakod /);
  const bad = spawnSync(bin('hako.cjs'), ['daemon', '--no-such-flag'], { env, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown flag: --no-such-flag/);
});

test('the bundles are ASCII (V8 decodes a source with one non-ASCII character the slow way: ~0.16 ms more per start for hako)', (t) => {
  const dir = join(repoRoot, 'dist', 'bundle');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.cjs'));
  } catch {
    return t.skip('no bundles (esbuild not installed)');
  }
  assert.ok(names.length > 0);
  for (const name of names) {
    const src = readFileSync(join(dir, name));
    const at = src.findIndex((b) => b > 0x7f);
    assert.equal(at, -1, `${name}: a non-ASCII byte at ${at}: ${src.subarray(Math.max(0, at - 40), at + 10).toString('utf8')} (esbuild leaves them in regex literals: write \\uXXXX)`);
  }
});

test('each bundle is its module function and a call of it: required as it is, or compiled from the file without the call (mapped or read)', (t) => {
  const dir = join(repoRoot, 'dist', 'bundle');
  let names: string[];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith('.cjs'));
  } catch {
    return t.skip('no bundles (esbuild not installed)');
  }
  const loader = readFileSync(bin('bundle-loader.cjs'), 'utf8');
  const head = /^const WRAP_HEAD = '(.*)';$/m.exec(loader)?.[1];
  const tail = /^const CALL_TAIL = '(.*)';$/m.exec(loader)?.[1]?.replace(/\\n/g, '\n');
  assert.ok(head && tail, 'bin/bundle-loader.cjs names WRAP_HEAD and CALL_TAIL');
  const addon = { exports: {} as { mapSource?: (p: string) => string | undefined; mapBuffer?: (p: string) => Buffer; mtimeMs?: (p: string) => number | undefined } };
  process.dlopen(addon, join(repoRoot, 'build', 'hako_native.node'));
  const { mapSource, mapBuffer, mtimeMs } = addon.exports;
  assert.equal(typeof mapSource, 'function');
  // the loader's staleness check reads mtimes through the addon: fs.statSync's mtimeMs exactly
  for (const f of [join(dir, names[0]!), join(repoRoot, 'dist', '.tsbuildinfo')]) assert.equal(mtimeMs!(f), statSync(f).mtimeMs, f);
  assert.equal(mtimeMs!(join(dir, 'no-such.cjs')), undefined);
  assert.throws(() => mtimeMs!(join(dir, names[0]!, 'x')), { code: 'ENOTDIR' });
  for (const name of names) {
    const file = join(dir, name);
    const src = readFileSync(file, 'utf8');
    assert.ok(src.startsWith(head) && src.endsWith(tail), `${name}: not made by scripts/bundle.mjs's wrapping`);
    // This Node has external strings (20.4+): the mapped file reads as the file.
    assert.equal(mapSource!(file), src, name);
    assert.ok(mapBuffer!(file).equals(readFileSync(file)), name);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'hako-map-'));
  try {
    const utf8 = join(scratch, 'utf8.js');
    writeFileSync(utf8, '"µ"');
    assert.equal(mapSource!(utf8), undefined, 'a non-ASCII file is left to the reader (Latin-1 would misread it)');
    // The check reads words of 8 bytes, 32 at a time, then the tail bytewise: a non-ASCII byte in
    // any lane or in the tail is seen; an ASCII file of any length maps.
    for (const len of [31, 32, 33, 64, 100, 1000]) {
      const ascii = join(scratch, `ascii-${len}.js`);
      writeFileSync(ascii, 'x'.repeat(len));
      assert.equal(mapSource!(ascii), 'x'.repeat(len), `${len} ASCII bytes`);
      for (const at of [0, 7, 8, 31, len - 1].filter((i) => i < len)) {
        const bytes = Buffer.alloc(len, 'x');
        bytes[at] = 0x80;
        writeFileSync(ascii, bytes);
        assert.equal(mapSource!(ascii), undefined, `${len} bytes, 0x80 at ${at}`);
      }
    }
    assert.throws(() => mapSource!(join(scratch, 'none.js')), { code: 'ENOENT' });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('the addon\'s exitNow: the status and what was written before it reach the parent, and its pipes end with it', () => {
  // exitNow first clones a holder of the process's memory (native/addon_exit.c): it must keep none
  // of the command's descriptors (spawnSync returns only at EOF of both pipes) and not change
  // the status.
  const script = [
    'const a = { exports: {} };',
    `process.dlopen(a, ${JSON.stringify(join(repoRoot, 'build', 'hako_native.node'))});`,
    "process.stdout.write('out');",
    "process.stderr.write('err');",
    'a.exports.exitNow(3);',
  ].join('\n');
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.error, undefined);
    assert.deepEqual([r.status, r.signal, r.stdout, r.stderr], [3, null, 'out', 'err']);
  }
});

test('the bundled CLI reads its command table (a lazy JSON table in the bundle) as the modules do: help texts, aliases, sub-commands; lazily imported modules export on import', (t) => {
  const bundle = join(repoRoot, 'dist', 'bundle', 'hako.cjs');
  try {
    statSync(bundle);
  } catch {
    return t.skip('no bundle (esbuild not installed)');
  }
  // The lazily imported command modules get their export getters when imported (scripts/bundle.mjs
  // lazyExports): still so with this esbuild's output.
  assert.match(readFileSync(bundle, 'utf8'), /var stream_exports=\{\},__exports_stream=\(\)=>/);
  const cases = [['--help'], ['container', '--help'], ['container', 'ls', '--help'], ['image', 'rm', '--help'], ['run', '--help'], ['volume'], ['nosuch'], ['ps', '--nosuch']];
  const run = (how: string, args: string[]) => {
    const script = `${how}.then((m) => m.main(${JSON.stringify(args)})).then((code) => process.stderr.write('code ' + code + '\\n'))`;
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    return { stdout: r.stdout, stderr: r.stderr };
  };
  for (const args of cases) {
    const fromBundle = run(`Promise.resolve(require(${JSON.stringify(bundle)}))`, args);
    const fromModules = run(`import(${JSON.stringify(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))})`, args);
    assert.deepEqual(fromBundle, fromModules, args.join(' '));
    assert.match(fromBundle.stderr, /code \d+\n$/, args.join(' '));
  }
});

test('the addon makes only the CLI\'s functions when its exports say cliOnly (bin/hako.cjs loadAddon), all of them otherwise', () => {
  const file = join(repoRoot, 'build', 'hako_native.node');
  const cli = { exports: { cliOnly: true } as Record<string, unknown> };
  process.dlopen(cli, file);
  // what bin/hako.cjs calls: restoreRehashDefault, isCurrent, readSource, loadBundle, the socket,
  // the terminal's width, the exit
  assert.deepEqual(Object.keys(cli.exports).sort(), ['exitNow', 'getWinsize', 'mapBuffer', 'mapSource', 'mtimeMs', 'setV8Flags', 'unixConnect']);
  for (const [name, f] of Object.entries(cli.exports)) assert.equal(typeof f, 'function', name);
  const all = { exports: {} as Record<string, unknown> };
  process.dlopen(all, file);
  assert.ok(Object.keys(all.exports).length > 40, 'the whole addon without the flag');
  for (const name of ['spawn', 'execve', 'unixConnect', 'exitNow', 'getWinsize']) assert.equal(typeof all.exports[name], 'function', name);
});

test('hako gets its built-ins through process.getBuiltinModule, not the CommonJS loader\'s require (Node ≥ 20.16)', (t) => {
  if (typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule !== 'function') return t.skip('this Node has no process.getBuiltinModule');
  // A module's first require() compiles the loader's resolution path (~70 µs of each start):
  // the launcher and the bundle it runs ask process.getBuiltinModule for built-ins instead.
  const dir = mkdtempSync(join(tmpdir(), 'hako-builtins-'));
  try {
    const preload = join(dir, 'count.cjs');
    const out = join(dir, 'loads');
    writeFileSync(
      preload,
      [
        "const Module = require('module');",
        "const fs = require('fs');",
        'const load = Module._load;',
        'const seen = [];',
        'Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };',
        `process.on('exit', () => fs.writeFileSync(${JSON.stringify(out)}, seen.join('\\n')));`,
      ].join('\n'),
    );
    for (const args of [['--version'], ['run', '--help']]) {
      const r = spawnSync(process.execPath, ['--require', preload, bin('hako.cjs'), ...args], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const loads = readFileSync(out, 'utf8').split('\n').filter(Boolean);
      assert.deepEqual(loads, [bin('hako.cjs')], `${args.join(' ')}: only the main script goes through Module._load`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a command\'s code cache holds the spec texts it read, not the whole command table (scripts/bundle.mjs lazyJsonTable)', (t) => {
  const bundle = join(repoRoot, 'dist', 'bundle', 'hako.cjs');
  try {
    statSync(bundle);
  } catch {
    return t.skip('no bundle (esbuild not installed)');
  }
  // Each spec's JSON text is the constant of a function of its own, compiled when its command
  // reads it: as values of the table's literal, all of them (~45 KB) were constants of the
  // bundle's top level, in every command's code cache (copied out and hashed at each start).
  const dir = mkdtempSync(join(tmpdir(), 'hako-spec-cache-'));
  try {
    const script = [
      `const { loadBundle } = require(${JSON.stringify(bin('bundle-loader.cjs'))});`,
      `const b = loadBundle('hako', { cacheKey: 'spectest', cacheDir: ${JSON.stringify(dir)} });`,
      "b.exports.main(['run', '--help']).then((code) => { b.saveCache({ partial: true }); process.exitCode = code; });",
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Usage: {2}hako run \[OPTIONS\] IMAGE/);
    const caches = readdirSync(dir).filter((f) => f.endsWith('.partial.cache'));
    assert.equal(caches.length, 1, caches.join(' '));
    const cache = readFileSync(join(dir, caches[0]!)).toString('latin1');
    assert.ok(cache.includes('"usage":"run [OPTIONS] IMAGE'), 'the spec run read is in its cache');
    for (const other of ['build [OPTIONS]', 'network create [OPTIONS]', 'volume ls [OPTIONS]']) {
      assert.ok(!cache.includes(`"usage":"${other}`), `${other}: a spec run did not read is not in its cache`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an installed copy runs its commands by the install\'s node without env(1) (scripts/pin-node.mjs); a checkout and an unknown first line are left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hako-pin-node-'));
  try {
    // An installed copy: the launchers as files, the built tree beside them (no .git).
    const inst = join(dir, 'installed');
    mkdirSync(join(inst, 'bin'), { recursive: true });
    for (const name of ['hako.cjs', 'hako-runtime.cjs', 'bundle-loader.cjs']) copyFileSync(bin(name), join(inst, 'bin', name));
    for (const name of ['hako.cjs', 'hako-runtime.cjs']) chmodSync(join(inst, 'bin', name), 0o755);
    symlinkSync(join(repoRoot, 'dist'), join(inst, 'dist'));
    symlinkSync(join(repoRoot, 'build'), join(inst, 'build'));
    const pin = (root: string) => spawnSync(process.execPath, [join(repoRoot, 'scripts', 'pin-node.mjs'), root], { env, encoding: 'utf8' });
    const r = pin(inst);
    assert.equal(r.status, 0, r.stderr);
    for (const [name, out] of [
      ['hako-runtime.cjs', /^hako-runtime version \d/],
      ['hako.cjs', /^hako version \d/],
    ] as const) {
      const file = join(inst, 'bin', name);
      const [first, ...rest] = readFileSync(file, 'utf8').split('\n');
      const node = /^#!(\/\S+) --no-rehash-snapshot$/.exec(first!)?.[1];
      assert.ok(node, `${name}: ${first}`);
      // the node this install ran with (by its own name or one on PATH that is the same file)
      assert.equal(statSync(node).ino, statSync(process.execPath).ino);
      assert.deepEqual(rest, readFileSync(bin(name), 'utf8').split('\n').slice(1));
      assert.equal(statSync(file).mode & 0o777, 0o755);
      const run = spawnSync(file, ['--version'], { env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, out);
      assert.equal(run.stderr, '');
    }
    assert.equal(readdirSync(join(inst, 'bin')).length, 3); // nothing left beside them
    // Once more (npm rebuild): nothing changes.
    const pinned = readFileSync(join(inst, 'bin', 'hako.cjs'), 'utf8');
    assert.equal(pin(inst).status, 0);
    assert.equal(readFileSync(join(inst, 'bin', 'hako.cjs'), 'utf8'), pinned);
    // Pinned by an earlier install to a node that is gone (npm rebuild under another node): pinned again.
    writeFileSync(join(inst, 'bin', 'hako.cjs'), pinned.replace(/^#!\S+/, '#!/gone/bin/node'));
    assert.equal(pin(inst).status, 0);
    assert.equal(readFileSync(join(inst, 'bin', 'hako.cjs'), 'utf8'), pinned);

    // A checkout (.git, a directory in a clone, a file in a worktree) keeps its tracked files.
    const checkout = join(dir, 'checkout');
    mkdirSync(join(checkout, 'bin'), { recursive: true });
    writeFileSync(join(checkout, '.git'), 'gitdir: /elsewhere\n');
    copyFileSync(bin('hako.cjs'), join(checkout, 'bin', 'hako.cjs'));
    const c = pin(checkout);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /is a checkout/);
    assert.equal(readFileSync(join(checkout, 'bin', 'hako.cjs'), 'utf8'), readFileSync(bin('hako.cjs'), 'utf8'));

    // A launcher whose first line is not the expected one is not rewritten.
    const other = join(dir, 'other');
    mkdirSync(join(other, 'bin'), { recursive: true });
    writeFileSync(join(other, 'bin', 'hako.cjs'), '#!/usr/bin/env node\n0;\n');
    const o = pin(other);
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /hako\.cjs: its first line is not/);
    assert.equal(readFileSync(join(other, 'bin', 'hako.cjs'), 'utf8'), '#!/usr/bin/env node\n0;\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
