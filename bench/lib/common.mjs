// Pieces the pull and archive benches share: the one-layer OCI layout they push to the registry,
// and a process's CPU time and start-up settling (read from /proc).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
