// Builds the built-in hello-world bundle (build/hello-world: config.json + rootfs/hello) from the
// static `hello` program compiled by build-native.mjs, using hako's own default spec. Offline.
import { copyFileSync, existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const hello = join(root, 'build', 'hello');
if (!existsSync(hello)) {
  console.error('build-fixtures: build/hello is missing (run npm run build:native)');
  process.exit(1);
}
const { defaultSpec } = await import(join(root, 'dist/src/runtime/spec/defaults.js'));
const bundle = join(root, 'build', 'hello-world');
const rootfs = join(bundle, 'rootfs');
for (const d of ['', 'proc', 'sys', 'dev', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync(hello, join(rootfs, 'hello'));
chmodSync(join(rootfs, 'hello'), 0o755);
writeFileSync(join(rootfs, 'etc', 'hostname'), 'hello\n');
const spec = defaultSpec({ args: ['/hello'], terminal: false });
spec.hostname = 'hello';
spec.root = { path: 'rootfs', readonly: true };
writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2) + '\n');
console.log(`build-fixtures: hello-world bundle in ${bundle}`);
