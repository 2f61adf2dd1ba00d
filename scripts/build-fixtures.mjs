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

// The same program as an image archive in `docker save` format (build/hello-world.tar), so that
// `hako load -i build/hello-world.tar && hako run hello-world` works offline (and so would
// `docker load`). Deterministic: sorted entries, fixed mtimes, numeric root ownership.
{
  const { execFileSync } = await import('node:child_process');
  const { createHash } = await import('node:crypto');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const tarOpts = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu'];
  const layer = execFileSync('tar', [...tarOpts, '-C', rootfs, '-cf', '-', 'hello'], { maxBuffer: 1 << 26 });
  const diffId = sha(layer);
  const config = JSON.stringify({
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Cmd: ['/hello'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'COPY hello / # built by hako from native/hello.c' }, { created: '1970-01-01T00:00:00Z', created_by: 'CMD ["/hello"]', empty_layer: true }],
  });
  const configId = sha(config);
  const stage = mkdtempSync(join(tmpdir(), 'hako-hello-image-'));
  try {
    mkdirSync(join(stage, diffId));
    writeFileSync(join(stage, diffId, 'layer.tar'), layer);
    writeFileSync(join(stage, `${configId}.json`), config);
    writeFileSync(join(stage, 'manifest.json'), JSON.stringify([{ Config: `${configId}.json`, RepoTags: ['hello-world:latest'], Layers: [`${diffId}/layer.tar`] }]));
    writeFileSync(join(stage, 'repositories'), JSON.stringify({ 'hello-world': { latest: diffId } }));
    execFileSync('tar', [...tarOpts, '-C', stage, '-cf', join(root, 'build', 'hello-world.tar'), '.']);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  console.log(`build-fixtures: hello-world image archive in ${join(root, 'build', 'hello-world.tar')} (sha256:${configId.slice(0, 12)})`);
}
