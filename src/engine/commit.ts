// commit: a container's upper dir becomes a new layer on top of its image. Overlay whiteouts
// (0/0 char devices) become `.wh.<name>` files and opaque directories `.wh..wh..opq`, as in
// any OCI layer; the layer is stored uncompressed in the content store and unpacked as a snapshot.
// The layer's tar streams from tar(1) into a staged blob (hashed as it is written), so a commit
// of any size holds no copy of it in memory; nothing is stored unless the whole commit succeeds.
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { HakoError } from '../common/errors.js';
import { lgetxattr } from '../native/fs.js';
import { BlobStaging } from '../image/store/staging.js';
import { applyChanges } from '../image/changes.js';
import { mergeCommitConfig } from './commit-merge.js';
import { sha256, type Digest } from '../image/digest.js';
import type { ImageService } from '../image/images.js';
import type { SnapshotStore } from '../image/snapshot/index.js';
import { ociManifestBytes, parseImageConfig } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import { hostPlatform } from '../image/platform.js';
import { unpackLayer } from '../image/unpack/index.js';
import type { ImageRecord } from '../image/store/metadata.js';
import type { Json } from './api-types.js';
import { nowRfc3339Nano } from '../common/time.js';
import { mountTargetArtifacts } from './fs/ops.js';
import { pullMark } from '../image/pull-trace.js';
import { recordStagedImage } from '../image/store/drop-blobs.js';


export interface CommitOptions {
  images: ImageService;
  snapshots: SnapshotStore;
  /** The image the changes go on; undefined: none (a build's `FROM scratch`). */
  baseImage: string | undefined;
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
  /** The new image's whole `config` (a build step's run config), instead of the base's merged with the container's. */
  imageConfig?: Json;
}

/** Whether overlayfs made `dir` opaque (a directory removed and made again): the copy keeps the xattr. */
function opaque(dir: string): boolean {
  return lgetxattr(dir, 'trusted.overlay.opaque')?.toString() === 'y';
}

/**
 * Copies the upper dir of a container that may be running (`commit --pause=false`, or a pause
 * that failed) into `dest`, all xattrs kept (overlay's opaque mark, capabilities). A tar pipe, not
 * `cp -a`: cp opens each directory by its path, so a container that swapped a directory for a
 * symlink to the host between cp's lstat and its opendir got the host's files copied into the
 * image (within a few commits); GNU tar opens every entry beneath its parent's fd with O_NOFOLLOW
 * (ELOOP on a swapped symlink: the commit fails instead). Exit status 1 ("file changed as we read
 * it") is a live container's, not a failure.
 */
async function copyLiveTree(src: string, dest: string): Promise<void> {
  const xattrs = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];
  const reader = spawn('tar', [...xattrs, '-C', src, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const writer = spawn('tar', [...xattrs, '--same-owner', '--same-permissions', '-C', dest, '-xf', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  const keep = (d: Buffer): void => void (stderr = (stderr + d.toString()).slice(-2000));
  reader.stderr.on('data', keep);
  writer.stderr.on('data', keep);
  writer.stdin.on('error', () => undefined); // the writer's own exit says why
  reader.stdout.pipe(writer.stdin);
  const exit = (c: ReturnType<typeof spawn>): Promise<number | null> => new Promise((resolve, reject) => c.once('error', reject).once('close', resolve));
  const [r, w] = await Promise.all([exit(reader), exit(writer)]);
  if ((r !== 0 && r !== 1) || w !== 0) throw new HakoError({ step: `commit: copy the container's changes (tar exited with ${r}/${w}): ${stderr.trim()}`, kind: 'internal', path: src });
}

/** tar(1) of `dir` (GNU format, sorted, numeric owners), streamed into `staging`. */
async function stageTar(staging: BlobStaging, dir: string): Promise<{ digest: Digest; size: number }> {
  const child = spawn('tar', ['--sort=name', '--numeric-owner', '--format=gnu', '-C', dir, '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  // Read from at once: when a child exits, Node resumes (and so drops) the output of any stdio
  // stream nobody listens to yet, and staging.write first awaits its directory.
  const out = child.stdout.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
  try {
    const staged = await staging.write(out, { what: 'committed layer' });
    const code = await exited;
    if (code !== 0) throw new HakoError({ step: `commit: tar of the container's changes exited with ${code}: ${stderr.trim()}`, kind: 'internal', path: dir });
    return staged;
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw err;
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

/** What a commit builds on: the base image's record and config, or nothing (scratch). */
type Base = { id?: Digest; record: Pick<ImageRecord, 'chainIds' | 'layers' | 'diffIds' | 'platform'> };

async function baseOf(o: CommitOptions): Promise<{ base: Base; baseCfg: ReturnType<typeof parseImageConfig> }> {
  if (o.baseImage === undefined) {
    const p = hostPlatform();
    const baseCfg = { architecture: p.architecture, os: p.os, rootfs: { type: 'layers', diff_ids: [] }, history: [] } as unknown as ReturnType<typeof parseImageConfig>;
    return { base: { record: { chainIds: [], layers: [], diffIds: [], platform: p } }, baseCfg };
  }
  const base = await o.images.inspect(o.baseImage);
  return { base, baseCfg: parseImageConfig(await o.images.content.readBlob(base.id)) };
}

export async function commitImage(o: CommitOptions): Promise<Digest> {
  // Its layer's snapshot and blob are made before its record: a crash between leaves them named by
  // nothing, collected at the next start (ImageService.unsettled).
  return o.images.unsettled(() => commitUnsettled(o));
}

async function commitUnsettled(o: CommitOptions): Promise<Digest> {
  // The config first: a bad --change fails before any blob or snapshot exists.
  const { base, baseCfg } = await baseOf(o);
  const cfg: Record<string, unknown> = { ...((o.imageConfig ?? (baseCfg.config as Record<string, unknown> | undefined)) ?? {}) };
  if (o.config && !o.imageConfig) {
    // dockerd applies the changes to the body's config, then merges the container's into it.
    const user: Record<string, unknown> = { ...o.config };
    applyChanges(user, o.changes ?? []);
    const merged = mergeCommitConfig(user, o.containerConfig);
    for (const k of CONFIG_KEYS) if (merged[k] !== undefined) cfg[k] = merged[k];
    for (const [k, v] of Object.entries(o.config)) if (v !== undefined && !CONFIG_KEYS.includes(k)) cfg[k] = v;
  } else {
    if (!o.imageConfig) for (const k of CONFIG_KEYS) if (o.containerConfig[k] !== undefined) cfg[k] = o.containerConfig[k];
    if (o.config) for (const [k, v] of Object.entries(o.config)) if (v !== undefined) cfg[k] = v;
    applyChanges(cfg, o.changes ?? []);
  }
  const content = o.images.content;
  await content.init();
  await o.images.meta.init();
  const blobs = new BlobStaging(content);
  let madeSnapshot: Digest | undefined;
  let id: Digest;
  try {
    const copy = mkdtempSync(join(dirname(o.upperDir), '.commit-'));
    let layer: { digest: Digest; size: number } | undefined;
    try {
      await copyLiveTree(o.upperDir, copy);
      // Like docker's init layer: the empty mount targets of /etc/hostname, hosts, resolv.conf stay out of the image.
      const artifacts = [...mountTargetArtifacts(o.upperDir, o.lowerDirs ?? [])].sort().reverse();
      for (const a of artifacts) rmSync(join(copy, a), { recursive: true, force: true });
      convertWhiteouts(copy);
      // No changes: no layer, as dockerd (an empty diff is an `empty_layer` history entry, the rootfs stays the parent's).
      if (readdirSync(copy).length > 0) layer = await stageTar(blobs, copy);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    let added: { diffId: Digest; chainId: Digest; size: number } | null = null;
    if (layer) {
      const diffId = layer.digest;
      const chainId: Digest = base.record.chainIds.length === 0 ? diffId : sha256(`${base.record.chainIds[base.record.chainIds.length - 1]} ${diffId}`);
      const { created } = await o.snapshots.ensureLayer(chainId, (dir) => unpackLayer(blobs.open(diffId), dir, { mediaType: MediaType.OciLayer, digest: diffId }));
      if (created) madeSnapshot = chainId;
      added = { diffId, chainId, size: layer.size };
      pullMark('commit.layer');
    }
    id = await recordImage(o, base, baseCfg, cfg, added, blobs);
    pullMark('commit.recorded');
  } catch (err) {
    await blobs.discard().catch(() => undefined);
    if (madeSnapshot) await o.snapshots.removeLayer(madeSnapshot).catch(() => undefined);
    throw err;
  }
  await blobs.discard();
  // The image exists from here: a tag that fails leaves it (untagged, as dockerd's would be).
  if (o.repo) await o.images.tag(id, `${o.repo}:${o.tag || 'latest'}`);
  return id;
}

/** The config, manifest and record of the committed image (the layer's blob moves from staging into the store here). */
async function recordImage(
  o: CommitOptions,
  base: Base,
  baseCfg: ReturnType<typeof parseImageConfig>,
  cfg: Record<string, unknown>,
  added: { diffId: Digest; chainId: Digest; size: number } | null,
  blobs: BlobStaging,
): Promise<Digest> {
  // dockerd: time.Now() in the config (Go's RFC3339Nano, ns).
  const created = nowRfc3339Nano();
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
  const { digest: configDigest } = await blobs.write(Readable.from([configBytes]), { what: 'image config' });
  const layers = added ? [...base.record.layers, { mediaType: MediaType.OciLayer, digest: added.diffId, size: added.size }] : [...base.record.layers];
  const configDesc = { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length };
  const { digest: manifestDigest } = await blobs.write(Readable.from([ociManifestBytes(configDesc, layers)]), { what: 'image manifest' });
  const rec: ImageRecord = {
    id: configDigest,
    manifestDigest,
    manifestMediaType: MediaType.OciManifest,
    config: configDesc,
    layers,
    diffIds: added ? [...base.record.diffIds, added.diffId] : [...base.record.diffIds],
    chainIds: added ? [...base.record.chainIds, added.chainId] : [...base.record.chainIds],
    platform: base.record.platform,
    created,
    size: layers.reduce((n, l) => n + l.size, 0) + configBytes.length,
    sources: [],
    addedAt: created,
    ...(base.id ? { parent: base.id } : {}),
  };
  // The blobs reach the store with the record (both or neither; see recordStagedImage).
  await recordStagedImage(o.images.content, o.images.meta, blobs, [...(added ? [added.diffId] : []), configDigest, manifestDigest], rec, 'commit.blobs-committed');
  return configDigest;
}
