// commit: a container's upper dir becomes a new layer on top of its image. Overlay whiteouts
// (0/0 char devices) become `.wh.<name>` files and opaque directories `.wh..wh..opq`, as in
// any OCI layer; the layer is stored uncompressed in the content store and unpacked as a snapshot.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { Readable } from 'node:stream';
import { applyChanges } from '../image/changes.js';
import { sha256, type Digest } from '../image/digest.js';
import type { ImageService } from '../image/images.js';
import type { SnapshotStore } from '../image/snapshot/index.js';
import { parseImageConfig } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import { unpackLayer } from '../image/unpack/index.js';
import type { ImageRecord } from '../image/store/metadata.js';
import type { Json } from './api-types.js';
import { isoTime } from '../common/time.js';
import { mountTargetArtifacts } from './fs/ops.js';

const run = promisify(execFile);

export interface CommitOptions {
  images: ImageService;
  snapshots: SnapshotStore;
  baseImage: string;
  upperDir: string;
  /** The container's image layers (to tell the runtime's mount targets from real changes). */
  lowerDirs?: string[];
  containerConfig: Json;
  containerId: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  config?: Json;
}

function opaque(dir: string): boolean {
  try {
    return execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', dir], { stdio: ['ignore', 'pipe', 'ignore'] }).toString() === 'y';
  } catch {
    return false;
  }
}

function convertWhiteouts(dir: string): void {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    const st = lstatSync(p);
    if (st.isCharacterDevice() && st.rdev === 0) {
      rmSync(p);
      writeFileSync(join(dir, `.wh.${n}`), '');
    } else if (st.isDirectory()) {
      if (opaque(p)) writeFileSync(join(p, '.wh..wh..opq'), '');
      convertWhiteouts(p);
    }
  }
}

const CONFIG_KEYS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];

/** Dockerfile-style --change instructions (CMD, ENV, …): shared with `import`, in src/image/changes.ts. */
export { applyChanges };

export async function commitImage(o: CommitOptions): Promise<Digest> {
  const base = await o.images.inspect(o.baseImage);
  // The config first: a bad --change fails before any blob or snapshot exists.
  const baseCfg = parseImageConfig(await o.images.content.readBlob(base.id));
  const cfg: Record<string, unknown> = { ...((baseCfg.config as Record<string, unknown> | undefined) ?? {}) };
  for (const k of CONFIG_KEYS) if (o.containerConfig[k] !== undefined) cfg[k] = o.containerConfig[k];
  if (o.config) for (const [k, v] of Object.entries(o.config)) if (v !== undefined) cfg[k] = v;
  applyChanges(cfg, o.changes ?? []);
  const staging = mkdtempSync(join(dirname(o.upperDir), '.commit-'));
  let tar: Buffer | null;
  try {
    await run('cp', ['-a', '--', `${o.upperDir}/.`, staging]);
    // Like docker's init layer: the empty mount targets of /etc/hostname, hosts, resolv.conf stay out of the image.
    const artifacts = [...mountTargetArtifacts(o.upperDir, o.lowerDirs ?? [])].sort().reverse();
    for (const a of artifacts) rmSync(join(staging, a), { recursive: true, force: true });
    convertWhiteouts(staging);
    // No changes: no layer, as dockerd (an empty diff is an `empty_layer` history entry, the rootfs stays the parent's).
    tar = readdirSync(staging).length === 0 ? null : (await run('tar', ['--sort=name', '--numeric-owner', '--format=gnu', '-C', staging, '-cf', '-', '.'], { encoding: 'buffer', maxBuffer: 2 ** 31 })).stdout;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const content = o.images.content;
  await content.init();
  await o.images.meta.init();
  let added: { diffId: Digest; chainId: Digest; size: number } | null = null;
  if (tar) {
    const layerTar = tar;
    const diffId = sha256(layerTar);
    const chainId: Digest = base.record.chainIds.length === 0 ? diffId : sha256(`${base.record.chainIds[base.record.chainIds.length - 1]} ${diffId}`);
    await content.putBlob(layerTar);
    await o.snapshots.ensureLayer(chainId, (dir) => unpackLayer(Readable.from([layerTar]), dir, { mediaType: MediaType.OciLayer }));
    added = { diffId, chainId, size: layerTar.length };
  }

  const created = isoTime();
  // dockerd: the committed container's command (Cmd joined by spaces) is the history's CREATED BY.
  const createdBy = Array.isArray(o.containerConfig.Cmd) ? (o.containerConfig.Cmd as string[]).join(' ') : '';
  const config = {
    ...baseCfg,
    created,
    ...(o.author ? { author: o.author } : {}),
    config: cfg,
    container: o.containerId,
    // dockerd: the committed container's own config (inspect's ContainerConfig).
    container_config: o.containerConfig,
    rootfs: { type: 'layers', diff_ids: added ? [...baseCfg.rootfs.diff_ids, added.diffId] : [...baseCfg.rootfs.diff_ids] },
    history: [...(baseCfg.history ?? []), { created, ...(o.author ? { author: o.author } : {}), ...(o.comment ? { comment: o.comment } : {}), created_by: createdBy, ...(added ? {} : { empty_layer: true }) }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await content.putBlob(configBytes);
  const layers = added ? [...base.record.layers, { mediaType: MediaType.OciLayer, digest: added.diffId, size: added.size }] : [...base.record.layers];
  const manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length }, layers };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = await content.putBlob(manifestBytes);
  const rec: ImageRecord = {
    id: configDigest,
    manifestDigest,
    manifestMediaType: MediaType.OciManifest,
    config: manifest.config,
    layers,
    diffIds: added ? [...base.record.diffIds, added.diffId] : [...base.record.diffIds],
    chainIds: added ? [...base.record.chainIds, added.chainId] : [...base.record.chainIds],
    platform: base.record.platform,
    created,
    size: layers.reduce((n, l) => n + l.size, 0) + configBytes.length,
    sources: [],
    addedAt: created,
    parent: base.id,
  };
  await o.images.meta.locked(() => o.images.meta.putImage(rec));
  if (o.repo) await o.images.tag(configDigest, `${o.repo}:${o.tag || 'latest'}`);
  return configDigest;
}
