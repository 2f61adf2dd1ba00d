// Builds the native pieces offline: the N-API executor addon and the per-container monitor.
// An N-API module links against nothing, so a plain C compiler with Node's own headers is enough;
// the include directory is derived from the running node (process.execPath/../../include/node),
// so no header download can ever happen. Set CC to pick another compiler.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build');
mkdirSync(out, { recursive: true });
const cc = process.env.CC || 'cc';
const include = join(dirname(dirname(process.execPath)), 'include', 'node');
if (!existsSync(join(include, 'node_api.h'))) {
  console.error(`build-native: node_api.h not found under ${include}; install the nodejs headers (Debian: nodejs / libnode-dev)`);
  process.exit(1);
}
const cflags = ['-O2', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-std=gnu11', '-D_GNU_SOURCE'];

function newer(target, sources) {
  if (!existsSync(target)) return false;
  const t = statSync(target).mtimeMs;
  return sources.every((s) => statSync(s).mtimeMs < t);
}

function build(target, sources, extra) {
  const srcs = sources.map((s) => join(root, 'native', s)).filter((s) => existsSync(s));
  if (srcs.length === 0) return;
  const headers = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.h')).map((f) => join(root, 'native', f));
  const dest = join(out, target);
  if (newer(dest, [...srcs, ...headers, fileURLToPath(import.meta.url)])) return;
  const args = [...cflags, ...extra, '-o', dest, ...srcs];
  execFileSync(cc, args, { stdio: 'inherit' });
  console.log(`build-native: built ${target}`);
}

const addonSources = readdirSync(join(root, 'native')).filter((f) => f.startsWith('addon') && f.endsWith('.c'));
build('hako_native.node', addonSources, ['-shared', '-fPIC', '-fvisibility=hidden', `-I${include}`]);
build('hako-monitor', ['monitor.c'], ['-static-pie', '-fPIE']);
build('hako-init', ['init.c'], ['-static', '-Os', '-s']);
build('hello', ['hello.c'], ['-static', '-Os', '-s']);
