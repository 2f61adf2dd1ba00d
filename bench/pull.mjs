// Pull benchmark (issue 3): busybox and a debian bookworm minbase image from a registry on
// 127.0.0.1, pulled by hako (download + verify + unpack), by `docker pull` when dockerd is
// installed, and by the floor: `skopeo copy` (download + verify) followed by `tar -xzf` of the
// layers, all on the same filesystem, in one run. Targets: hako ≤ 0.5× docker and ≤ 1.2× the
// floor; peak RSS of the pulling process ≤ 150 MB for debian.
// Usage: node bench/pull.mjs [runs] [--dir /path/on/fs/to/test]   (root; skopeo, docker-registry,
// debootstrap installed; the debian rootfs is made once with debootstrap from Debian's mirror
// and cached in .tmp/bench-cache). Node commands run with NODE_EXTRA_CA_CERTS unset.
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const dirFlag = args.indexOf('--dir');
const base = dirFlag >= 0 ? args[dirFlag + 1] : '/var/tmp';
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
if (process.getuid() !== 0) {
  console.error('bench/pull: needs root');
  process.exit(1);
}
const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
const { makeBusyboxRootfs } = await import(join(repo, 'dist/test/helpers/fixtures.js'));
const { RegistryClient } = await import(join(repo, 'dist/src/image/registry/client.js')).catch(() => ({}));

const work = mkdtempSync(join(base, 'hako-pull-bench-'));
const cache = join(repo, '.tmp', 'bench-cache');
mkdirSync(cache, { recursive: true });
const sh = (cmd, a, opts = {}) => {
  const r = spawnSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** An OCI layout with one gzip layer made from `rootfsTar`. */
function layout(name, rootfsTar) {
  const dir = join(work, `layout-${name}`);
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (buf) => {
    const d = sha(buf);
    writeFileSync(join(blobs, d.slice(7)), buf);
    return { digest: d, size: buf.length };
  };
  const tar = readFileSync(rootfsTar);
  const gz = sh('gzip', ['-6', '-c', rootfsTar]);
  const layer = put(gz);
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } })));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }));
  const m = put(manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return { dir, gzBytes: gz.length, tarBytes: tar.length };
}

function debianTar() {
  const out = join(cache, 'debian-bookworm-minbase.tar');
  if (existsSync(out)) return out;
  const root = join(work, 'debootstrap');
  console.error('bench/pull: building debian bookworm minbase with debootstrap (once; cached)…');
  sh('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // debootstrap leaves the downloaded .debs and package lists behind; an image build would not.
  rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  sh('tar', ['--numeric-owner', '-C', root, '-cf', out, '.']);
  rmSync(root, { recursive: true, force: true });
  return out;
}

function busyboxTar() {
  const root = join(work, 'busybox-root');
  makeBusyboxRootfs(root);
  const out = join(work, 'busybox.tar');
  sh('tar', ['--numeric-owner', '-C', root, '-cf', out, '.']);
  return out;
}

function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const results = [];
let registry;
let dockerd;
try {
  registry = await startRegistry();
  const images = { busybox: layout('busybox', busyboxTar()), debian: layout('debian', debianTar()) };
  for (const [name, img] of Object.entries(images)) {
    sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${img.dir}:latest`, `docker://${registry.host}/bench/${name}:latest`]);
  }
  // dockerd, when installed: isolated roots, no networking changes on the host.
  let dockerSock;
  if (existsSync('/usr/bin/dockerd') || existsSync('/usr/sbin/dockerd')) {
    const droot = join(work, 'dockerd');
    mkdirSync(droot);
    dockerSock = join(droot, 'docker.sock');
    dockerd = spawn('dockerd', ['-H', `unix://${dockerSock}`, '--data-root', join(droot, 'data'), '--exec-root', join(droot, 'exec'), '--pidfile', join(droot, 'pid'), '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--insecure-registry', registry.host], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(dockerSock); i++) await new Promise((r) => setTimeout(r, 100));
  }
  for (const [name, img] of Object.entries(images)) {
    const ref = `${registry.host}/bench/${name}:latest`;
    const hako = [];
    const rss = [];
    const floor = [];
    const docker = [];
    for (let i = 0; i < runs; i++) {
      const root = join(work, `hako-${name}-${i}`);
      const r = spawnSync(process.execPath, [join(repo, 'bench/pull-worker.mjs'), root, ref], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`hako pull failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop());
      hako.push(out.ms);
      rss.push(out.maxRssMB);
      rmSync(root, { recursive: true, force: true });
      const oci = join(work, `floor-${name}-${i}`);
      const dest = join(work, `floor-x-${name}-${i}`);
      floor.push(
        timeIt(() => {
          sh('skopeo', ['copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${oci}:latest`]);
          mkdirSync(dest);
          const idx = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8'));
          const man = JSON.parse(readFileSync(join(oci, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
          for (const l of man.layers) sh('tar', ['-xzf', join(oci, 'blobs/sha256', l.digest.slice(7)), '-C', dest]);
        }),
      );
      rmSync(oci, { recursive: true, force: true });
      rmSync(dest, { recursive: true, force: true });
      if (dockerSock && existsSync(dockerSock)) {
        const denv = { ...env, DOCKER_HOST: `unix://${dockerSock}` };
        docker.push(timeIt(() => sh('docker', ['pull', '-q', ref], { env: denv })));
        sh('docker', ['rmi', '-f', ref], { env: denv });
      }
    }
    results.push({ name, img, hako: median(hako), rss: Math.max(...rss), floor: median(floor), docker: docker.length ? median(docker) : undefined });
  }
} finally {
  if (dockerd) {
    dockerd.kill('SIGTERM');
    await new Promise((r) => dockerd.once('exit', r));
    spawnSync('umount', ['-R', join(work, 'dockerd')], { stdio: 'ignore' });
  }
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(`pull benchmark on ${base} (${runs} runs each, medians; NODE_EXTRA_CA_CERTS unset)`);
for (const r of results) {
  const mb = (n) => (n / 1e6).toFixed(1) + ' MB';
  console.log(`  ${r.name} (${mb(r.img.gzBytes)} gz / ${mb(r.img.tarBytes)} tar)`);
  console.log(`    hako pull                 ${r.hako.toFixed(0)} ms   peak RSS ${r.rss.toFixed(0)} MB`);
  console.log(`    skopeo copy + tar -xzf    ${r.floor.toFixed(0)} ms   → hako/floor ${(r.hako / r.floor).toFixed(2)}× (target ≤ 1.2×)`);
  if (r.docker !== undefined) console.log(`    docker pull               ${r.docker.toFixed(0)} ms   → hako/docker ${(r.hako / r.docker).toFixed(2)}× (target ≤ 0.5×)`);
  else console.log('    docker pull               (dockerd not installed: apt-get install docker.io to compare)');
}
