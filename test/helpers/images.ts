// Test images, built from scratch: OCI layouts (oci-layout, index.json, blobs/sha256/*) with a
// busybox layer from Debian's busybox-static, a multi-layer image with whiteouts and opaque dirs,
// a two-platform index, a Docker schema2 variant and an incompressible image. They can be pushed
// to a test registry with hako's own client (pushLayout) or with skopeo (skopeoCopy).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, symlinkSync, existsSync, createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { makeBusyboxRootfs, tempDir } from './fixtures.js';
import { RegistryClient } from '../../src/image/registry/client.js';
import type { Digest } from '../../src/image/digest.js';
import { MediaType } from '../../src/image/media-types.js';

export interface Blob {
  digest: Digest;
  size: number;
  mediaType: string;
}

export interface BuiltManifest {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  diffIds: Digest[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuiltImage {
  /** The OCI layout directory. */
  dir: string;
  /** The tag in index.json (`org.opencontainers.image.ref.name`). */
  tag: string;
  /** What a tag points at: the manifest, or the index for multi-platform images. */
  top: Blob;
  manifests: BuiltManifest[];
  cleanup(): void;
}

function sha(b: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function writeBlob(dir: string, data: Buffer | string, mediaType: string): Blob {
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
  const digest = sha(buf);
  const p = join(dir, 'blobs', 'sha256');
  mkdirSync(p, { recursive: true });
  writeFileSync(join(p, digest.slice(7)), buf);
  return { digest, size: buf.length, mediaType };
}

/** A deterministic tar of `src` (sorted, mtime 0, root-owned). */
export function tarDir(src: string): Buffer {
  return execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-C', src, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
}

interface LayerSpec {
  /** Fills the layer's directory. */
  fill(dir: string): void;
  compression?: 'gzip' | 'none';
}

interface ManifestSpec {
  layers: LayerSpec[];
  platform?: { os: string; architecture: string; variant?: string };
  docker?: boolean;
  cmd?: string[];
}

function buildManifest(layout: string, spec: ManifestSpec): BuiltManifest {
  const docker = spec.docker === true;
  const layers: Blob[] = [];
  const diffIds: Digest[] = [];
  const history: unknown[] = [];
  for (const [i, l] of spec.layers.entries()) {
    const t = tempDir('hako-layer-');
    try {
      l.fill(t.path);
      const tar = tarDir(t.path);
      diffIds.push(sha(tar));
      const gz = l.compression !== 'none';
      const mt = docker ? (gz ? MediaType.DockerLayerGzip : MediaType.DockerLayer) : gz ? MediaType.OciLayerGzip : MediaType.OciLayer;
      layers.push(writeBlob(layout, gz ? gzipSync(tar, { level: 1 }) : tar, mt));
      history.push({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` });
    } finally {
      t.cleanup();
    }
  }
  history.push({ created: '2024-01-01T00:00:00Z', created_by: 'CMD', empty_layer: true });
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = {
    created: '2024-01-01T00:00:00Z',
    architecture: platform.architecture,
    ...(platform.variant ? { variant: platform.variant } : {}),
    os: platform.os,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: spec.cmd ?? ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history,
  };
  const configBlob = writeBlob(layout, JSON.stringify(config), docker ? MediaType.DockerConfig : MediaType.OciConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.DockerManifest : MediaType.OciManifest,
    config: { mediaType: configBlob.mediaType, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifestBlob = writeBlob(layout, JSON.stringify(manifest), manifest.mediaType);
  return { manifest: manifestBlob, config: configBlob, layers, diffIds, platform };
}

function writeLayout(dir: string, tag: string, top: Blob): void {
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ mediaType: top.mediaType, digest: top.digest, size: top.size, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}

function single(spec: ManifestSpec, tag = 'latest'): BuiltImage {
  const t = tempDir('hako-image-');
  const m = buildManifest(t.path, spec);
  writeLayout(t.path, tag, m.manifest);
  return { dir: t.path, tag, top: m.manifest, manifests: [m], cleanup: t.cleanup };
}

const busyboxLayer: LayerSpec = { fill: (d) => void makeBusyboxRootfs(d) };

/**
 * A docker-save archive (what `docker load` reads) of a one-layer busybox image tagged
 * busybox:latest, written under `work`; returns the archive's path. `createdBy` goes into the
 * image's history. Benches load it into dockerd and hakod alike. `fill`: more files in its
 * layer; `tag`: another tag.
 */
export function dockerSaveArchive(work: string, createdBy: string, opts: { fill?: (rootfs: string) => void; tag?: string } = {}): string {
  const rootfs = join(work, 'bb-rootfs');
  makeBusyboxRootfs(rootfs);
  opts.fill?.(rootfs);
  const layer = tarDir(rootfs);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const created = '2026-01-01T00:00:00Z';
  const config = Buffer.from(JSON.stringify({ architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux', created, config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created, created_by: createdBy }] }));
  const cfgName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const dir = join(work, 'save');
  mkdirSync(join(dir, diffId.slice(7)), { recursive: true });
  writeFileSync(join(dir, diffId.slice(7), 'layer.tar'), layer);
  writeFileSync(join(dir, cfgName), config);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: cfgName, RepoTags: [opts.tag ?? 'busybox:latest'], Layers: [`${diffId.slice(7)}/layer.tar`] }]));
  const archive = join(work, 'busybox-save.tar');
  execFileSync('tar', ['-C', dir, '-cf', archive, '.']);
  return archive;
}

/** busybox as one gzip layer (OCI, or Docker schema2 with `docker: true`). */
export function busyboxImage(opts: { docker?: boolean } = {}): BuiltImage {
  return single({ layers: [busyboxLayer], docker: opts.docker });
}

/**
 * Three layers: busybox; then files and dirs to be deleted or replaced; then a layer with
 * whiteouts (`.wh.gone`, `.wh.olddir`), an opaque dir (`.wh..wh..opq`) and a replaced file.
 */
export function layeredImage(): BuiltImage {
  return single({
    layers: [
      busyboxLayer,
      {
        fill(d) {
          mkdirSync(join(d, 'data/olddir/sub'), { recursive: true });
          mkdirSync(join(d, 'data/opaque'), { recursive: true });
          writeFileSync(join(d, 'data/gone'), 'to be deleted\n');
          writeFileSync(join(d, 'data/replaced'), 'old\n');
          writeFileSync(join(d, 'data/olddir/sub/f'), 'x\n');
          writeFileSync(join(d, 'data/opaque/old1'), 'old1\n');
          writeFileSync(join(d, 'data/opaque/old2'), 'old2\n');
          symlinkSync('replaced', join(d, 'data/link'));
        },
      },
      {
        compression: 'none',
        fill(d) {
          mkdirSync(join(d, 'data/opaque'), { recursive: true });
          writeFileSync(join(d, 'data/.wh.gone'), '');
          writeFileSync(join(d, 'data/.wh.olddir'), '');
          writeFileSync(join(d, 'data/opaque/.wh..wh..opq'), '');
          writeFileSync(join(d, 'data/opaque/new'), 'new\n');
          writeFileSync(join(d, 'data/replaced'), 'new\n');
        },
      },
    ],
  });
}

/** busybox plus a layer of `count` small regular files /many/f000… (content: their names). */
export function manyFilesImage(count: number): BuiltImage {
  return single({
    layers: [
      busyboxLayer,
      {
        fill(d) {
          mkdirSync(join(d, 'many'));
          for (let i = 0; i < count; i++) writeFileSync(join(d, 'many', `f${String(i).padStart(3, '0')}`), `f${i}\n`);
        },
      },
    ],
  });
}

/** An index with linux/amd64 and linux/arm64/v8 (each busybox plus /etc/platform naming it). */
export function multiPlatformImage(opts: { docker?: boolean } = {}): BuiltImage {
  const t = tempDir('hako-image-');
  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ];
  const manifests = platforms.map((p) =>
    buildManifest(t.path, {
      platform: p,
      docker: opts.docker,
      layers: [busyboxLayer, { fill: (d) => { mkdirSync(join(d, 'etc')); writeFileSync(join(d, 'etc/platform'), `${p.os}/${p.architecture}\n`); } }],
    }),
  );
  const index = {
    schemaVersion: 2,
    mediaType: opts.docker ? MediaType.DockerManifestList : MediaType.OciIndex,
    manifests: manifests.map((m) => ({ mediaType: m.manifest.mediaType, digest: m.manifest.digest, size: m.manifest.size, platform: m.platform })),
  };
  const top = writeBlob(t.path, JSON.stringify(index), index.mediaType);
  writeLayout(t.path, 'latest', top);
  return { dir: t.path, tag: 'latest', top, manifests, cleanup: t.cleanup };
}

/** One uncompressed layer of `bytes` random bytes (nothing to gain by compressing it). */
export function randomImage(bytes: number): BuiltImage {
  return single({
    layers: [{ compression: 'none', fill: (d) => writeFileSync(join(d, 'random.bin'), randomBytes(bytes)) }],
  });
}

/** Bytes of a blob in a built layout. */
export function layoutBlob(img: BuiltImage, digest: Digest): Buffer {
  return readFileSync(join(img.dir, 'blobs', 'sha256', digest.slice(7)));
}

/** Pushes a layout to `host/repo:tag` with hako's registry client (every blob, child manifests, then the tag). */
export async function pushLayout(img: BuiltImage, host: string, repo: string, tag = img.tag, client?: RegistryClient): Promise<void> {
  const c = client ?? new RegistryClient({ domain: host });
  try {
    for (const m of img.manifests) {
      for (const b of [...m.layers, m.config]) {
        if ((await c.blobSize(repo, b.digest, undefined, true)) !== undefined) continue;
        const up = await c.startUpload(repo);
        if (up.mounted) continue;
        await c.uploadBlob(repo, b, () => createReadStream(join(img.dir, 'blobs', 'sha256', b.digest.slice(7))), { location: up.location });
      }
      if (img.manifests.length > 1) await c.putManifest(repo, m.manifest.digest, layoutBlob(img, m.manifest.digest), m.manifest.mediaType);
    }
    await c.putManifest(repo, tag, layoutBlob(img, img.top.digest), img.top.mediaType);
  } finally {
    if (!client) c.close();
  }
}


export const hasSkopeo = existsSync('/usr/bin/skopeo');

/** `skopeo copy oci:DIR:TAG docker://HOST/REPO:TAG` over plain HTTP. */
export function skopeoCopy(img: BuiltImage, dest: string, extra: string[] = []): void {
  execFileSync('skopeo', ['copy', '--quiet', '--all', '--dest-tls-verify=false', ...extra, `oci:${img.dir}:${img.tag}`, `docker://${dest}`], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `skopeo inspect --raw` / config digests of a pushed image. */
export function skopeoInspect(ref: string): { Digest: string; Layers: string[] } {
  return JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' })) as { Digest: string; Layers: string[] };
}

export function skopeoRawManifest(ref: string): string {
  return execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' });
}
