// Bundles each command into one CommonJS file: dist/bundle/hako-runtime.cjs (loaded by
// bin/hako-runtime.cjs), hako.cjs (the CLI) and hakod.cjs (the daemon; loaded through
// bin/bundle-loader.cjs), each used while it is current, the short commands with a V8 code cache.
//
// Why: a short command like `hako-runtime state` or `run` is mostly Node start-up, and Node 20's
// ESM loader resolves, reads (on the libuv threadpool) and compiles each of dist/'s ~50 modules
// separately: ~50–70 ms on this machine kind, against ~10 ms for one file. The lazy `import()`s
// in cli.ts stay lazy in the bundle (esbuild turns them into deferred module initialisers).
// CommonJS rather than ESM: an ESM bundle imports every builtin at its top (node:child_process,
// node:net, node:tty…) and Node 20 builds an ESM facade for each, reading every export (which
// loads lazy ones like fs.ReadStream): ~12 ms. The CJS bundle requires them inside each lazy
// module's initialiser, and a CJS script can be compiled with a code cache (vm.Script).
//
// For the daemon the point is memory more than start-up: ~110 ESM modules cost ~9 MB of RSS
// more than one script (module records, per-module source and compiled code).
//
// Large data tables are bundled as JSON.parse('…') of a string instead of as object literals (see
// jsonTables below): V8 parses JSON several times faster than it compiles and runs the bytecode of
// a big literal, and the code cache of a short command does not carry that bytecode.
//
// Input is tsc's output (dist/src/…), so run this after `tsc`. Without esbuild (e.g.
// `npm ci --omit=dev`) it removes any old bundle and exits 0: the commands then run from dist/
// as before, just slower to start.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'bundle');
// Each command: its entry (tsc's output) and the bundle's name; its inputs list <name>.inputs.txt
// is read by bin/bundle-loader.cjs. codeCache: run in a vm.Script with a V8 code cache.
const targets = [
  { name: 'hako-runtime', entry: 'dist/src/runtime/cli.js', inputs: 'hako-runtime.inputs.txt', codeCache: true },
  { name: 'hako', entry: 'dist/src/cli/main.js', inputs: 'hako.inputs.txt', codeCache: true },
  { name: 'hakod', entry: 'dist/src/daemon/main.js', inputs: 'hakod.inputs.txt', lazyBuiltins: true },
];

for (const t of targets) {
  if (!existsSync(join(root, t.entry))) {
    console.error(`bundle: ${t.entry} is missing: run tsc first`);
    process.exit(1);
  }
}

// Modules that export only plain data (strings, numbers, arrays, objects): `export const NAME = …`.
// In the bundles they become `export const NAME = JSON.parse("…")`, the data read at build time
// from the compiled module. dist/src/cli/specs.js: every command's flags, ~45 KB of JSON (as a
// literal: 2.5 ms to compile and run at each `hako` start; JSON.parse: 0.4 ms).
const jsonTables = ['dist/src/cli/specs.js'];

// Builtins hakod loads on first use instead of at start (issue #4's idle RSS): each is Node's own
// JS compiled into the heap and native code paged in from the node binary (tls + https ~1 MB,
// child_process, worker_threads, dgram, dns/promises), while an idle daemon needs none of them
// (registry TLS, commands run for volumes and iptables, unpack writer threads, the embedded DNS
// server). In the bundle `import { x } from 'node:tls'` then reads x through a getter that
// requires the builtin the first time; a module that uses one at its top level (a class
// extending https.Agent, promisify(execFile)) would load it at start.
// Not crypto, zlib or fs/promises (measured: lazy, they took idle RSS from 49.0 to 48.2 MB, but
// a fresh hakod's first pull and first create paid 5–13 ms more: hakod's V8 flags
// (bin/daemon-v8-flags.cjs) make a builtin loaded after start compile without Node's code cache;
// a pull from a fresh daemon was 1.12× slower in paired runs), nor builtins an idle daemon loads
// anyway (fs, net, http, stream…): a getter per use there would cost hot paths for nothing.
const LAZY_BUILTINS = ['tls', 'https', 'child_process', 'worker_threads', 'dgram', 'dns/promises'];

/** An esbuild plugin that makes the builtins in `names` load on first use (see LAZY_BUILTINS). */
function lazyBuiltinsPlugin(names) {
  const wanted = new Set(names.map((n) => `node:${n}`));
  const require = createRequire(import.meta.url);
  return {
    name: 'lazy-builtins',
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => {
        if (!wanted.has(args.path) || args.namespace === 'lazy-builtin') return undefined;
        return { path: args.path, namespace: 'lazy-builtin' };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
        // The export names of this Node's builtin (the one running the build, as for the bundle's
        // other assumptions); a name it lacks would read as undefined, as from the builtin.
        const keys = Object.keys(require(args.path));
        // One getter function made per name at run time (a loop, not a literal per name: less
        // source for V8 to hold and fewer functions to compile).
        return {
          contents: `let m;\nconst load = () => (m ??= require(${JSON.stringify(args.path)}));\nfor (const k of ${JSON.stringify(keys)}) Object.defineProperty(module.exports, k, { enumerable: true, get: () => load()[k] });\n`,
          loader: 'js',
        };
      });
    },
  };
}

/** A plain object whose every value is a plain object (not an array). */
function isTableOfObjects(v) {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const values = Object.values(v);
  return values.length > 0 && values.every((e) => e && typeof e === 'object' && !Array.isArray(e));
}

// The run-time side of a lazy table: a Proxy over functions returning the raw JSON texts that
// parses a key's JSON on its first read and keeps the value (keys, enumeration and `in` are the raw object's). One object
// made at start instead of a getter defined per key (~70 for specs: ~0.1 ms of each start).
const LAZY_JSON_TABLE = `function lazyJsonTable(raw) {
  const parsed = new Map();
  return new Proxy(raw, {
    get(target, key) {
      if (typeof key !== 'string' || !Object.prototype.hasOwnProperty.call(target, key)) return undefined;
      let value = parsed.get(key);
      if (value === undefined) parsed.set(key, (value = JSON.parse(target[key]())));
      return value;
    },
  });
}`;

/** An esbuild plugin replacing each jsonTables module by JSON.parse of its exports. */
function jsonTablesPlugin() {
  const files = new Set(jsonTables.map((f) => join(root, f)));
  return {
    name: 'json-tables',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async (args) => {
        if (!files.has(args.path)) return undefined;
        const mod = await import(pathToFileURL(args.path).href);
        const lines = Object.entries(mod).map(([k, v]) => {
          const json = JSON.stringify(v);
          if (JSON.stringify(JSON.parse(json)) !== JSON.stringify(v) || typeof v === 'function') throw new Error(`${args.path}: export ${k} is not plain data`);
          if (!isTableOfObjects(v)) return `export const ${k} = JSON.parse(${JSON.stringify(json)});`;
          // A table of objects (specs: one per command): each entry parsed when first read. A
          // command reads its own (`run`'s is 7 of the 45 KB: JSON.parse 0.04 ms instead of
          // 0.26); help and the alias map walk them all (Object.entries reads every getter).
          // Each entry's text is returned by a function of its own: a string literal is a
          // constant of the function whose code uses it, and V8 compiles a function when first
          // called, so the code cache of a command (made after its run) holds only the texts it
          // read. As plain values of the table's literal all of them (45 KB) were constants of
          // the bundle's top level: copied out of every command's code cache and hashed into
          // the string table at each start.
          const raw = Object.entries(v).map(([name, entry]) => `${JSON.stringify(name)}:()=>${JSON.stringify(JSON.stringify(entry))}`);
          return `export const ${k} = lazyJsonTable({${raw.join(',')}});`;
        });
        if (lines.some((l) => l.includes('lazyJsonTable('))) lines.unshift(LAZY_JSON_TABLE);
        return { contents: lines.join('\n') + '\n', loader: 'js' };
      });
    },
  };
}

/**
 * esbuild defines the export getters of every lazily imported module (`var x_exports={};
 * __export(x_exports,{name:()=>name,…});`, one defineProperty per export) at the bundle's top
 * level, at each start, though a command imports only a few of those modules: ~0.2 ms of the
 * CLI's 0.5 ms top level (measured with the code cache). Here the getters of a module whose
 * exports object is used only by its `import()` (`(init_x(),x_exports)`) are defined when that
 * import first runs. Anything else (another use of the object, a different shape) is left as
 * esbuild wrote it.
 */
function lazyExports(code) {
  const count = (needle) => code.split(needle).length - 1;
  const lazy = new Set();
  let out = code.replace(/var (\w+)_exports=\{\};__export\(\1_exports,\{([^{}]*)\}\);/g, (all, name, getters) => {
    const imports = count(`(init_${name}(),${name}_exports)`);
    if (imports === 0 || count(`${name}_exports`) !== 2 + imports) return all;
    lazy.add(name);
    return `var ${name}_exports={},__exports_${name}=()=>{__exports_${name}=null;__export(${name}_exports,{${getters}})};`;
  });
  out = out.replace(/\(init_(\w+)\(\),\1_exports\)/g, (all, name) => (lazy.has(name) ? `(init_${name}(),__exports_${name}&&__exports_${name}(),${name}_exports)` : all));
  return out;
}

// The same strings as bin/bundle-loader.cjs's (a unit test checks the bundles against them).
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const CALL_TAIL = '.call(this, exports, require, module, __filename, __dirname);\n';

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  rmSync(outDir, { recursive: true, force: true });
  console.log('bundle: esbuild is not installed; the commands run from dist/ (slower start-up)');
  process.exit(0);
}

// A new bundle makes every old code cache useless (V8 would reject them anyway).
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const t of targets) {
  const t0 = Date.now();
  const outfile = join(outDir, `${t.name}.cjs`);
  const result = await esbuild.build({
    entryPoints: [join(root, t.entry)],
    metafile: true,
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // Modules find the package root from import.meta.url, which CommonJS does not have. Made on
    // first use: pathToFileURL costs a short command ~0.5 ms (URL parsing), and the CLI needs it
    // only to find hakod when it starts the default daemon.
    define: { 'import.meta.url': '__hakoModule.url' },
    target: 'node20',
    // Smaller source is less for V8 to scan at start-up; names are kept so internal-error stack
    // traces still say where they come from.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: false,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [jsonTablesPlugin(), ...(t.lazyBuiltins ? [lazyBuiltinsPlugin(LAZY_BUILTINS)] : [])],
    // "use strict" first: esbuild's own directive comes after the banner, where it means nothing.
    banner: { js: `"use strict";// Generated by scripts/bundle.mjs from ${t.entry}: do not edit.\nvar __hakoModule = { get url() { return (this.href ??= require('node:url').pathToFileURL(__filename).href); } };` },
  });
  // Bundles run in a vm.Script (the code cache) have no dynamic import callback, so import()
  // fails there: esbuild turns import() of bundled modules into lazy initialisers but leaves it
  // for externals such as builtins. Those must be static imports of a lazily imported module.
  // (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER would allow it, with an experimental-feature
  // warning on stderr at every use.)
  if (t.codeCache) {
    const dynamic = readFileSync(outfile, 'utf8').match(/(?<![\w.$])import\(\s*["'`][^"'`]*["'`]\s*\)/g);
    if (dynamic) {
      rmSync(outDir, { recursive: true, force: true });
      console.error(`bundle: dynamic import() of an external module would fail in ${t.name}.cjs: ${[...new Set(dynamic)].join(', ')}`);
      process.exit(1);
    }
  }
  // The file as its module function and a call of it (bin/bundle-loader.cjs's WRAP_HEAD and
  // CALL_TAIL): `require` runs it as it is, the loaders compile the function expression alone
  // with a code cache, straight from the file's bytes (the CLI maps the file: no read, no copy).
  writeFileSync(outfile, WRAP_HEAD + (t.codeCache ? lazyExports(readFileSync(outfile, 'utf8')) : readFileSync(outfile, 'utf8')) + '\n})' + CALL_TAIL);
  // The compiled files it was made from: the loaders use a bundle only while none of them is
  // newer (tsc rewrites just the files that changed, so this is exact).
  const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('lazy-builtin:')).map((p) => relative(root, resolve(p)));
  writeFileSync(join(outDir, t.inputs), inputs.join('\n') + '\n');
  // hakod: the builtins the bundle loads at its start (imported by its modules, not made lazy by
  // the plugin), which bin/hakod.cjs loads before it sets the daemon's V8 flags (see there).
  if (t.lazyBuiltins) {
    const lazy = new Set(LAZY_BUILTINS.map((n) => `node:${n}`));
    const eager = new Set();
    for (const [p, input] of Object.entries(result.metafile.inputs)) {
      if (p.startsWith('lazy-builtin:')) continue;
      for (const i of input.imports) if (i.external && i.path.startsWith('node:') && i.kind !== 'dynamic-import' && !lazy.has(i.path)) eager.add(i.path);
    }
    writeFileSync(join(outDir, `${t.name}.builtins.txt`), [...eager].join('\n') + '\n');
  }
  const size = statSync(outfile).size;
  console.log(`bundle: dist/bundle/${t.name}.cjs (${Math.round(size / 1024)} KiB, ${Date.now() - t0} ms)`);
}
