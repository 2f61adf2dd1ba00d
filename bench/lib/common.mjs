// Pieces the benches share: the one-layer OCI layout the pull and archive benches push to the
// registry, a process's CPU time and start-up settling (read from /proc), and an installed copy of
// a checkout's commands (the start-up benches).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The commands of the built checkout `repo` as `npm install` leaves them, at `<dir>/installed`:
 * bin/hako.cjs and bin/hako-runtime.cjs copied and pinned to this node by scripts/pin-node.mjs
 * (no env(1) in their shebang), the built tree (dist, build) linked. A checkout keeps the env
 * shebang of its tracked files, so a bench that times the command "as installed" runs this copy.
 * Returns the copy's root (its bin/ beside the links); `dir` is the bench's scratch directory.
 */
export function installedCopy(repo, dir) {
  const root = join(dir, 'installed');
  mkdirSync(join(root, 'bin'), { recursive: true });
  for (const f of ['hako.cjs', 'hako-runtime.cjs', 'bundle-loader.cjs']) copyFileSync(join(repo, 'bin', f), join(root, 'bin', f));
  for (const d of ['dist', 'build', 'node_modules']) if (existsSync(join(repo, d))) symlinkSync(join(repo, d), join(root, d));
  copyFileSync(join(repo, 'package.json'), join(root, 'package.json'));
  // (this tree's script: a --baseline checkout may predate it)
  execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/pin-node.mjs', import.meta.url)), root], { stdio: 'ignore' });
  return root;
}

const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/**
 * Writes at `dir` an OCI layout tagged `latest`: one image whose only layer is `rootfsTar`
 * gzipped (-6). Returns the layer's gzip and tar sizes.
 */
export function ociLayoutFromTar(dir, rootfsTar) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (buf) => {
    const d = sha(buf);
    writeFileSync(join(blobs, d.slice(7)), buf);
    return { digest: d, size: buf.length };
  };
  const tar = readFileSync(rootfsTar);
  const layer = put(execFileSync('gzip', ['-6', '-c', rootfsTar], { maxBuffer: 1 << 30 }));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } })));
  const m = put(Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  })));
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return { gzBytes: layer.size, tarBytes: tar.length };
}

/** User+system CPU seconds of a process so far (/proc/PID/stat utime+stime). */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Waits (at most 5 s) until a fresh daemon has stopped working on its start-up (< 2% CPU over 250 ms). */
export async function settle(pid) {
  const until = Date.now() + 5000;
  for (let c = cpuSeconds(pid); Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 250));
    const c2 = cpuSeconds(pid);
    if (c2 - c < 0.005) return;
    c = c2;
  }
}

/** Stops a child daemon the bench started: SIGTERM, SIGKILL after `ms`; resolves once it exited (at once if it had). */
export async function stopChild(proc, ms = 10_000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(t);
}

/**
 * A debian bookworm minbase rootfs as a tar, made once with debootstrap from Debian's mirror
 * (root; ~1 min) and cached at `cacheDir`/debian-bookworm-minbase.tar for later runs of the
 * pull benches. `scratchDir` holds the debootstrap tree while it is made (on the same
 * filesystem as the cache is best). Returns the tar's path.
 */
export function debianRootfsTar(cacheDir, scratchDir) {
  const out = join(cacheDir, 'debian-bookworm-minbase.tar');
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true });
  const root = mkdtempSync(join(scratchDir, 'debootstrap-'));
  const run = (cmd, a, timeout) => {
    const r = spawnSync(cmd, a, { stdio: ['ignore', 'ignore', 'pipe'], timeout, killSignal: 'SIGKILL' });
    if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')}: ${r.error?.code ?? ''} ${r.stderr}`);
  };
  try {
    console.error('bench: building debian bookworm minbase with debootstrap (once; cached)…');
    run('debootstrap', ['--variant=minbase', 'bookworm', root, 'http://deb.debian.org/debian'], 1_800_000);
    // debootstrap leaves the downloaded .debs and package lists behind; an image build would not.
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      rmSync(join(root, d), { recursive: true, force: true });
      mkdirSync(join(root, d, 'partial'), { recursive: true });
    }
    run('tar', ['--numeric-owner', '-C', root, '-cf', `${out}.tmp`, '.'], 300_000);
    renameSync(`${out}.tmp`, out); // a run cut short leaves no half tar under the final name
  } finally {
    rmSync(`${out}.tmp`, { force: true });
    rmSync(root, { recursive: true, force: true });
  }
  return out;
}
