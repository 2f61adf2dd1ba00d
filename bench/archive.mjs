// Archive benchmark (issue 3): save, load and import of a debian bookworm minbase image
// (one gzip layer) by hako (ImageService with the engine's snapshotter, in a fresh process per
// operation) and by `docker save/load/import` when dockerd is installed (private roots, no host
// networking changes). Each tool loads its own archive; hako also loads docker's.
// Usage: node bench/archive.mjs [runs] [--dir /path]   (root; skopeo, docker-registry; the
// minbase tar is bench/pull.mjs's cache, .tmp/bench-cache, made there with debootstrap).
// Node commands run with NODE_EXTRA_CA_CERTS unset.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ociLayoutFromTar } from './lib/common.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const dirFlag = args.indexOf('--dir');
const base = dirFlag >= 0 ? args[dirFlag + 1] : '/var/tmp';
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
if (process.getuid() !== 0) {
  console.error('bench/archive: needs root');
  process.exit(1);
}
const debian = join(repo, '.tmp', 'bench-cache', 'debian-bookworm-minbase.tar');
if (!existsSync(debian)) {
  console.error('bench/archive: run bench/pull.mjs once first (it builds .tmp/bench-cache/debian-bookworm-minbase.tar)');
  process.exit(1);
}
const { startRegistry } = await import(join(repo, 'dist/test/helpers/registry.js'));
const work = mkdtempSync(join(base, 'hako-archive-bench-'));
const sh = (cmd, a, opts = {}) => {
  const r = spawnSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const timeIt = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const worker = (...a) => {
  const r = spawnSync(process.execPath, [join(repo, 'bench/archive-worker.mjs'), ...a], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`archive-worker ${a.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
};

let registry;
let dockerd;
const res = { hako: { save: [], load: [], loadDocker: [], import: [], rss: [] }, docker: { save: [], load: [], import: [] } };
let sizes = {};
try {
  registry = await startRegistry();
  // The image: an OCI layout with the minbase tar as one gzip layer, pushed with skopeo.
  const dir = join(work, 'layout');
  const { gzBytes, tarBytes } = ociLayoutFromTar(dir, debian);
  const ref = `${registry.host}/bench/debian:latest`;
  sh('skopeo', ['copy', '--dest-tls-verify=false', `oci:${dir}:latest`, `docker://${ref}`]);
  sizes = { gz: gzBytes, tar: tarBytes };

  let dockerSock;
  let denv;
  if (existsSync('/usr/bin/dockerd') || existsSync('/usr/sbin/dockerd')) {
    const droot = join(work, 'dockerd');
    mkdirSync(droot);
    dockerSock = join(droot, 'docker.sock');
    dockerd = spawn('dockerd', ['-H', `unix://${dockerSock}`, '--data-root', join(droot, 'data'), '--exec-root', join(droot, 'exec'), '--pidfile', join(droot, 'pid'), '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--containerd-namespace', 'hako-bench', '--containerd-plugins-namespace', 'hako-bench-plugins'], { stdio: 'ignore' });
    denv = { ...env, DOCKER_HOST: `unix://${dockerSock}` };
    for (let i = 0; i < 150 && spawnSync('docker', ['version'], { env: denv, stdio: 'ignore' }).status !== 0; i++) await new Promise((r) => setTimeout(r, 200));
    sh('docker', ['pull', '-q', ref], { env: denv });
  }
  const src = join(work, 'hako-src');
  worker('pull', src, ref);
  for (let i = 0; i < runs; i++) {
    const file = join(work, `hako-${i}.tar`);
    res.hako.save.push(worker('save', src, ref, file).ms);
    sizes.hakoArchive = statSync(file).size;
    const l = worker('load', join(work, `hako-load-${i}`), file);
    res.hako.load.push(l.ms);
    res.hako.rss.push(l.maxRssMB);
    const imp = worker('import', join(work, `hako-import-${i}`), debian);
    res.hako.import.push(imp.ms);
    res.hako.rss.push(imp.maxRssMB);
    for (const d of [`hako-load-${i}`, `hako-import-${i}`]) rmSync(join(work, d), { recursive: true, force: true });
    rmSync(file, { force: true });
    if (denv) {
      const dfile = join(work, `docker-${i}.tar`);
      res.docker.save.push(timeIt(() => sh('docker', ['save', '-o', dfile, ref], { env: denv })));
      sizes.dockerArchive = statSync(dfile).size;
      sh('docker', ['rmi', ref], { env: denv });
      res.docker.load.push(timeIt(() => sh('docker', ['load', '-q', '-i', dfile], { env: denv })));
      res.docker.import.push(timeIt(() => sh('docker', ['import', debian, `bench/imported:${i}`], { env: denv })));
      sh('docker', ['rmi', `bench/imported:${i}`], { env: denv });
      res.hako.loadDocker.push(worker('load', join(work, `hako-dload-${i}`), dfile).ms);
      rmSync(join(work, `hako-dload-${i}`), { recursive: true, force: true });
      rmSync(dfile, { force: true });
    }
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
const mb = (n) => (n / 1e6).toFixed(1) + ' MB';
const row = (label, ms, vs) => console.log(`    ${label.padEnd(30)} ${ms.toFixed(0).padStart(6)} ms${vs ? `   → hako/docker ${(ms / vs).toFixed(2)}×` : ''}`);
console.log(`archive benchmark on ${base}: debian bookworm minbase (${mb(sizes.gz)} gz / ${mb(sizes.tar)} tar), ${runs} runs, medians; NODE_EXTRA_CA_CERTS unset`);
console.log(`  archives: hako ${mb(sizes.hakoArchive)} (layers as stored, gzip)${sizes.dockerArchive ? `, docker ${mb(sizes.dockerArchive)} (uncompressed layers)` : ''}`);
const d = res.docker.save.length > 0;
row('hako save', median(res.hako.save), d && median(res.docker.save));
row('hako load (own archive)', median(res.hako.load), d && median(res.docker.load));
if (d) row("hako load (docker's archive)", median(res.hako.loadDocker), median(res.docker.load));
row('hako import (rootfs tar)', median(res.hako.import), d && median(res.docker.import));
if (d) {
  row('docker save', median(res.docker.save));
  row('docker load', median(res.docker.load));
  row('docker import', median(res.docker.import));
} else console.log('    (dockerd not installed: apt-get install docker.io to compare)');
console.log(`    peak RSS of hako load/import   ${Math.max(...res.hako.rss).toFixed(0)} MB`);
