// `docker load`: an image archive (docker save, old or ≥ 25 layout, or an OCI layout tar;
// the tar itself plain, gzip or zstd) becomes local images with their tags.
//
//   1. Stream the archive: every blob is staged (hashed; blobs/sha256/<hex> verified against its
//      name) in a private directory — nothing is in the content store yet.
//   2. Work out the images from manifest.json (docker save) or index.json (OCI layout).
//   3. For each layer, in order: check that it uncompresses to the config's diff ID, unpacking
//      it into a snapshot on the way when a snapshotter is wired (the image can then run).
//   4. Register: staged blobs into the store, records, tags (src/image/archive/register.ts).
// Any failure discards the staging directory and the snapshots this load made: nothing is left.
import { Readable } from 'node:stream';
import { HakoError } from '../../common/errors.js';
import { hasherDigest, isDigest, newHasher, sha256, type Digest } from '../digest.js';
import { parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from '../manifest.js';
import { MediaType } from '../media-types.js';
import { formatPlatform, hostPlatform, platformList, selectPlatform, type Platform } from '../platform.js';
import { MAX_LAYERS, chainIdsOf, holdBlobs, holdSnapshots, type PullContext } from '../pull.js';
import { formatReference, parseReference, type Reference } from '../reference.js';
import { ByteProgress, shortDigest, type ProgressSink } from '../progress.js';
import { BlobStaging } from '../store/staging.js';
import { decompress, sniffCompression } from '../unpack/decompress.js';
import { readImageArchive, type ArchiveContents } from './index.js';
import { registerImages, type NewImage, type RegisteredImage } from './register.js';
import { readFile, open } from 'node:fs/promises';
import { pullMark } from '../pull-trace.js';

export interface LoadOptions {
  signal?: AbortSignal | undefined;
  /** Per-layer `Loading layer` progress (nothing when undefined). */
  progress?: ProgressSink | undefined;
}

export interface LoadResult {
  images: RegisteredImage[];
  /** What docker prints, in order: `Loaded image: busybox:latest`, `Loaded image ID: sha256:…`, renames. */
  messages: string[];
}

const MAX_JSON_BLOB = 16 * 1024 * 1024;

function bad(msg: string, hint?: string): HakoError {
  return new HakoError({ step: `load: ${msg}`, kind: 'invalid-argument', hint: hint ?? 'the archive is corrupt or not an image archive; nothing was loaded' });
}

/** Loads an archive into the store (see the file comment). */
export async function loadImageArchive(ctx: PullContext, input: NodeJS.ReadableStream, opts: LoadOptions = {}): Promise<LoadResult> {
  const staging = new BlobStaging(ctx.content);
  const madeSnapshots: Digest[] = [];
  let release: (() => void) | undefined;
  const releaseBlobs: Array<() => void> = [];
  try {
    // 1. Stage every blob.
    const pathDigest = new Map<string, Digest>();
    const contents = await readImageArchive(input, {
      signal: opts.signal,
      async blob(b, stream) {
        const what = `archive entry ${b.path}`;
        if (b.digest && ctx.content.has(b.digest)) {
          // Already stored, and held until the records name it (an rmi's or prune's collection
          // would delete it meanwhile: the register then failed). Still check the archive's
          // bytes, so a corrupt archive is reported.
          releaseBlobs.push(holdBlobs(ctx, [b.digest]));
          const h = newHasher();
          let n = 0;
          for await (const c of stream as AsyncIterable<Buffer>) {
            h.update(c);
            n += c.length;
          }
          const got = hasherDigest(h);
          if (got !== b.digest || n !== b.size) throw bad(`digest mismatch for ${what}: expected ${b.digest}, got ${got}`);
          pathDigest.set(b.path, b.digest);
          return;
        }
        const s = await staging.write(stream, { expected: b.digest, size: b.size, what, signal: opts.signal });
        pathDigest.set(b.path, s.digest);
      },
    });
    // 2. Which images.
    const blobs = new ArchiveBlobs(contents, pathDigest, staging);
    const planned = contents.dockerManifest ? await fromDockerManifest(contents, blobs) : await fromOciIndex(contents, blobs);
    if (planned.length === 0) throw bad('the archive holds no images');
    // 3. Verify (and unpack) layers; held until the records name them (holdSnapshots).
    release = await holdSnapshots(ctx, [...new Set(planned.flatMap((p) => p.chainIds))]);
    const verified = new Set<string>();
    for (const img of planned) {
      const existing = await ctx.meta.getImage(img.configDesc.digest);
      if (existing && existing.layers.every((l) => ctx.content.has(l.digest)) && (!ctx.unpacker || existing.chainIds.every((c) => ctx.unpacker!.has(c)))) continue;
      for (const [i, layer] of img.layers.entries()) {
        const key = `${layer.digest} ${img.chainIds[i]}`;
        if (verified.has(key)) continue;
        await checkLayer(ctx, staging, layer, img.diffIds[i]!, img.chainIds[i]!, madeSnapshots, opts);
        verified.add(key);
      }
    }
    pullMark('load.verified');
    // 4. Register.
    const registered = await registerImages(ctx.content, ctx.meta, staging, planned);
    pullMark('load.registered');
    const messages: string[] = [];
    for (const r of registered) {
      for (const { tag, old } of r.replaced) messages.push(`The image ${tag} already exists, renaming the old one with ID ${old} to empty string`);
      if (r.tags.length === 0) messages.push(`Loaded image ID: ${r.id}`);
      for (const t of r.tags) messages.push(`Loaded image: ${t}`);
    }
    await staging.discard();
    return { images: registered, messages };
  } catch (err) {
    await staging.discard().catch(() => undefined);
    await removeSnapshots(ctx, madeSnapshots);
    throw err;
  } finally {
    release?.();
    for (const r of releaseBlobs) r();
  }
}

/** Snapshots this load made, unless an image record (another load or pull meanwhile) uses them. */
export async function removeSnapshots(ctx: PullContext, chains: Digest[]): Promise<void> {
  if (chains.length === 0 || !ctx.unpacker?.remove) return;
  const used = new Set((await ctx.meta.listImages().catch(() => [])).flatMap((r) => r.chainIds));
  for (const c of chains) if (!used.has(c)) await ctx.unpacker.remove(c).catch(() => undefined);
}

/** Finds archive files by path (following links) or digest, staged or already in the store. */
class ArchiveBlobs {
  constructor(
    private readonly contents: ArchiveContents,
    private readonly pathDigest: Map<string, Digest>,
    private readonly staging: BlobStaging,
  ) {}

  digestOfPath(path: string, what: string): Digest {
    let p = path.split('/').filter((x) => x !== '' && x !== '.').join('/');
    for (let hops = 0; this.contents.links.has(p); hops++) {
      if (hops > 16) throw bad(`${what} ${path}: too many levels of links`);
      p = this.contents.links.get(p)!;
    }
    const d = this.pathDigest.get(p);
    if (d) return d;
    throw bad(`${what} ${path} is named in the archive's manifest but is not in the archive`);
  }

  has(d: Digest): boolean {
    return this.staging.has(d, true);
  }

  async read(d: Digest, what: string): Promise<Buffer> {
    if (!this.has(d)) throw bad(`${what} ${d} is not in the archive`);
    const size = await this.staging.size(d);
    if (size > MAX_JSON_BLOB) throw bad(`${what} ${d} is too large (${size} bytes)`);
    return readFile(this.staging.path(d));
  }

  /** A config file by manifest.json path: raw metadata (legacy `<hex>.json`) or a blob. */
  async configByPath(path: string): Promise<Buffer> {
    const clean = path.split('/').filter((x) => x !== '' && x !== '.').join('/');
    const raw = this.contents.raw.get(clean);
    if (raw) {
      const m = /^([a-f0-9]{64})\.json$/.exec(clean);
      if (m && sha256(raw) !== `sha256:${m[1]}`) throw bad(`config ${clean} does not hash to its name (got ${sha256(raw)})`);
      return raw;
    }
    return this.read(this.digestOfPath(clean, 'config'), 'config');
  }

  sniff(d: Digest): Promise<'gzip' | 'zstd' | 'none'> {
    return sniffFile(this.staging, d);
  }

  size(d: Digest): Promise<number> {
    return this.staging.size(d);
  }
}

interface Planned extends NewImage {
  /** For messages: where the image came from in the archive. */
  source: string;
}

function parseTag(s: string, where: string): Reference {
  let ref: Reference;
  try {
    ref = parseReference(s);
  } catch (err) {
    throw bad(`${where}: invalid tag ${JSON.stringify(s)}: ${(err as Error).message}`);
  }
  if (ref.digest) throw bad(`${where}: ${JSON.stringify(s)} is not a tag (it has a digest)`);
  return ref;
}

function checkConfig(bytes: Buffer, layers: number, where: string): ImageConfig {
  let config: ImageConfig;
  try {
    config = parseImageConfig(bytes);
  } catch (err) {
    throw bad(`${where}: ${(err as Error).message}`);
  }
  if (config.rootfs.diff_ids.length !== layers) throw bad(`${where}: the config lists ${config.rootfs.diff_ids.length} diff IDs for ${layers} layers`);
  // dockerd's layer store: `max depth exceeded` past 125 layers (pull.ts).
  if (layers > MAX_LAYERS) throw bad(`${where}: max depth exceeded: the image has ${layers} layers, at most ${MAX_LAYERS} are supported`);
  return config;
}

/** docker save: manifest.json entries; the OCI manifest from index.json when it matches (docker ≥ 25), so digests are kept. */
async function fromDockerManifest(contents: ArchiveContents, blobs: ArchiveBlobs): Promise<Planned[]> {
  // index.json only helps keep the manifests' digests here: entries it cannot resolve are skipped.
  const candidates = contents.ociIndex ? await manifestsOfIndex(contents, blobs, true) : [];
  const out = new Map<Digest, Planned>();
  for (const [n, e] of contents.dockerManifest!.entries()) {
    const where = `manifest.json entry ${n}`;
    if (!e || typeof e.Config !== 'string' || !Array.isArray(e.Layers)) throw bad(`${where} has no Config or Layers`);
    const configBytes = await blobs.configByPath(e.Config);
    const id = sha256(configBytes);
    const config = checkConfig(configBytes, e.Layers.length, `${where} (config ${id})`);
    const layerDigests = e.Layers.map((p) => blobs.digestOfPath(String(p), 'layer'));
    const tags = (e.RepoTags ?? []).map((t) => parseTag(String(t), where));
    const prev = out.get(id);
    if (prev) {
      prev.tags.push(...tags);
      continue;
    }
    // Every index.json entry that leads to this manifest: two tags of one index (two platforms
    // saved together) each have their own entry naming the index.
    const matches = candidates.filter((c) => c.manifest.config.digest === id && c.manifest.layers.length === layerDigests.length && c.manifest.layers.every((l, i) => l.digest === layerDigests[i]));
    const match = matches[0];
    let manifestBytes: Buffer;
    let manifestDigest: Digest;
    let manifest: ImageManifest;
    // The index only when this image's own name came with it (index.json's entry for the tag).
    const index = matches.find((c) => c.index && (tags.length === 0 || tags.some((t) => c.annotations?.['io.containerd.image.name'] === formatReference({ ...t, tag: t.tag ?? 'latest' }))))?.index;
    if (match) {
      manifestBytes = match.bytes;
      manifestDigest = match.digest;
      manifest = match.manifest;
    } else {
      // Legacy docker save has no manifest: make a schema2 one (OCI when a layer is zstd).
      const kinds = await Promise.all(layerDigests.map((d) => blobs.sniff(d)));
      const oci = kinds.includes('zstd');
      const layerType = (k: string): string => (oci ? (k === 'gzip' ? MediaType.OciLayerGzip : k === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer) : k === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer);
      const layers: Descriptor[] = [];
      for (const [i, d] of layerDigests.entries()) layers.push({ mediaType: layerType(kinds[i]!), digest: d, size: await blobs.size(d) });
      const m = {
        schemaVersion: 2,
        mediaType: oci ? MediaType.OciManifest : MediaType.DockerManifest,
        config: { mediaType: oci ? MediaType.OciConfig : MediaType.DockerConfig, digest: id, size: configBytes.length },
        layers,
      };
      manifestBytes = Buffer.from(JSON.stringify(m));
      manifestDigest = sha256(manifestBytes);
      manifest = { kind: 'manifest', ...m, schemaVersion: 2 };
    }
    out.set(id, plan(configBytes, config, manifestBytes, manifestDigest, manifest, tags, where, index));
  }
  return [...out.values()];
}

function plan(configBytes: Buffer, config: ImageConfig, manifestBytes: Buffer, manifestDigest: Digest, manifest: ImageManifest, tags: Reference[], source: string, index?: Candidate['index']): Planned {
  const diffIds = config.rootfs.diff_ids;
  return {
    index,
    configBytes,
    config,
    configDesc: manifest.config,
    manifestBytes,
    manifestDigest,
    manifestMediaType: manifest.mediaType,
    layers: manifest.layers,
    diffIds,
    chainIds: chainIdsOf(diffIds),
    tags,
    source,
  };
}

interface Candidate {
  bytes: Buffer;
  digest: Digest;
  manifest: ImageManifest;
  annotations: Record<string, string> | undefined;
  /** The top-level index it was reached through (index.json → index → this manifest). */
  index: { digest: Digest; bytes: Buffer } | undefined;
}

/**
 * The image manifests index.json points at (through nested indexes, choosing this host's
 * platform among those whose manifests are in the archive), with the annotations of the
 * top-level entry (which carry the image name).
 */
async function manifestsOfIndex(contents: ArchiveContents, blobs: ArchiveBlobs, lenient = false): Promise<Candidate[]> {
  if (lenient) {
    // Only to match manifest.json's images: every manifest of the archive an entry leads to,
    // whatever its platform (an image pulled for another platform is saved under its index).
    const out: Candidate[] = [];
    for (const d of contents.ociIndex!.manifests) {
      const one = await manifestsOfIndex({ ...contents, ociIndex: { ...contents.ociIndex!, manifests: [d] } }, blobs).catch(() => []);
      out.push(...one);
      if (!d || !isDigest(d.digest) || !blobs.has(d.digest)) continue;
      const bytes = await blobs.read(d.digest, 'manifest').catch(() => undefined);
      let parsed;
      try {
        parsed = bytes && parseManifest(bytes, d.mediaType || undefined);
      } catch {
        continue;
      }
      if (!bytes || !parsed || parsed.kind !== 'index') continue;
      for (const m of parsed.manifests) {
        // Per entry: the same manifest under another entry (another tag) keeps that entry's name.
        if (out.some((c) => c.digest === m.digest && c.annotations === d.annotations) || !blobs.has(m.digest)) continue;
        const mb = await blobs.read(m.digest, 'manifest').catch(() => undefined);
        let pm;
        try {
          pm = mb && parseManifest(mb, m.mediaType || undefined);
        } catch {
          continue;
        }
        if (mb && pm && pm.kind === 'manifest') out.push({ bytes: mb, digest: m.digest, manifest: pm, annotations: d.annotations, index: { digest: d.digest, bytes } });
      }
    }
    return out;
  }
  const out: Candidate[] = [];
  const want = hostPlatform();
  for (const [n, d] of contents.ociIndex!.manifests.entries()) {
    if (!d || !isDigest(d.digest)) throw bad(`index.json entry ${n} has no valid digest`);
    let desc: Descriptor = { mediaType: d.mediaType ?? '', digest: d.digest, size: d.size };
    let index: Candidate['index'];
    for (let depth = 0; ; depth++) {
      if (!blobs.has(desc.digest)) throw bad(`index.json entry ${n}: manifest ${desc.digest} is not in the archive`);
      const bytes = await blobs.read(desc.digest, 'manifest');
      if (typeof desc.size === 'number' && bytes.length !== desc.size) throw bad(`index.json entry ${n}: manifest ${desc.digest} is ${bytes.length} bytes, the index says ${desc.size}`);
      let parsed;
      try {
        parsed = parseManifest(bytes, desc.mediaType || undefined);
      } catch (err) {
        throw bad(`manifest ${desc.digest}: ${(err as Error).message}`);
      }
      if (parsed.kind === 'manifest') {
        out.push({ bytes, digest: desc.digest, manifest: parsed, annotations: d.annotations, index });
        break;
      }
      if (depth === 0) index = { digest: desc.digest, bytes };
      if (depth >= 2) throw bad(`index.json entry ${n}: indexes nested too deep`);
      // Which platform the name means. The index.json entry's own `platform`, when it has one
      // (hako's save writes it: two names of one index saved for two platforms stay apart
      // without manifest.json); else this host's, as docker ≥ 25 with the containerd store
      // resolves a name; else the only platform the archive has content for (that store loads
      // it too; the image then runs like one pulled with --platform).
      const asked = depth === 0 && isPlatform(d.platform) ? d.platform : undefined;
      const present = parsed.manifests.filter((m) => blobs.has(m.digest));
      const i = selectPlatform(asked ?? want, present.map((m) => m.platform));
      const chosen = i >= 0 ? present[i] : present.length === 1 && (!asked || !present[0]!.platform) ? present[0] : undefined;
      if (!chosen) {
        const have = platformList(present.map((m) => m.platform)) || 'none';
        throw bad(`index ${desc.digest} has no manifest for ${formatPlatform(asked ?? want)} in the archive (it has: ${have})`, asked ? 'the archive is incomplete: save the image again' : 'save the image for one platform, or for this one');
      }
      desc = chosen;
    }
  }
  return out;
}

function isPlatform(p: unknown): p is Platform {
  return typeof p === 'object' && p !== null && typeof (p as Platform).os === 'string' && typeof (p as Platform).architecture === 'string';
}

/** OCI layout: images from index.json; names from io.containerd.image.name or a full ref.name. */
async function fromOciIndex(contents: ArchiveContents, blobs: ArchiveBlobs): Promise<Planned[]> {
  const out = new Map<Digest, Planned>();
  for (const c of await manifestsOfIndex(contents, blobs)) {
    const where = `manifest ${c.digest}`;
    const id = c.manifest.config.digest;
    const tags: Reference[] = [];
    const name = c.annotations?.['io.containerd.image.name'];
    const refName = c.annotations?.['org.opencontainers.image.ref.name'];
    if (name) tags.push(parseTag(name, where));
    else if (refName && /[:/]/.test(refName)) {
      // skopeo's oci-archive:file:name:tag writes the whole reference here; a bare tag
      // (the OCI convention) names no repository, so the image is loaded untagged.
      try {
        const r = parseReference(refName);
        if (!r.digest) tags.push(r);
      } catch {
        /* a tag only */
      }
    }
    const prev = out.get(id);
    if (prev) {
      prev.tags.push(...tags);
      continue;
    }
    const configBytes = await blobs.read(id, 'config');
    if (sha256(configBytes) !== id) throw bad(`config ${id} does not hash to its digest`);
    const config = checkConfig(configBytes, c.manifest.layers.length, `${where} (config ${id})`);
    for (const l of c.manifest.layers) if (!blobs.has(l.digest)) throw bad(`${where}: layer ${l.digest} is not in the archive`);
    out.set(id, plan(configBytes, config, c.bytes, c.digest, c.manifest, tags, where, c.index));
  }
  return [...out.values()];
}

/**
 * Checks that a layer blob uncompresses to `diffId`; with a snapshotter, unpacks it as the
 * snapshot `chainId` on the way (unless that snapshot exists). Reports `Loading layer` progress.
 */
export async function checkLayer(ctx: PullContext, staging: BlobStaging, layer: Descriptor, diffId: Digest, chainId: Digest, made: Digest[], opts: LoadOptions): Promise<void> {
  const size = await staging.size(layer.digest);
  if (size !== layer.size) throw bad(`layer ${layer.digest} is ${size} bytes, its manifest says ${layer.size}`);
  const progress = new ByteProgress(opts.progress, shortDigest(layer.digest), 'Loading layer', size);
  const counted = (): Readable => {
    const src = staging.open(layer.digest);
    async function* gen(): AsyncGenerator<Buffer> {
      for await (const c of src as AsyncIterable<Buffer>) {
        progress.add(c.length);
        yield c;
      }
    }
    const r = Readable.from(gen(), { objectMode: false });
    r.once('close', () => src.destroy());
    return r;
  };
  const unpacker = ctx.unpacker;
  let computed: Digest;
  if (unpacker && !unpacker.has(chainId) && !ctx.unpacking.has(chainId)) {
    const p = unpacker.unpack(chainId, counted(), layer, opts.signal).then((r) => r.diffId);
    const settled = p.finally(() => ctx.unpacking.delete(chainId));
    ctx.unpacking.set(chainId, settled);
    try {
      computed = await settled;
    } catch (err) {
      // The unpacker's messages already start with `layer <digest>` (its label); others get it here.
      const msg = (err as Error).message;
      const what = msg.startsWith(`layer ${layer.digest}`) ? msg : `layer ${layer.digest}: ${msg}`;
      throw new HakoError({ step: `load: ${what}`, kind: err instanceof HakoError ? err.kind : 'internal', cause: err, hint: 'nothing was loaded' });
    }
    made.push(chainId);
  } else {
    if (unpacker && ctx.unpacking.has(chainId)) await ctx.unpacking.get(chainId)!.catch(() => undefined);
    if (layer.digest === diffId && (await sniffFile(staging, layer.digest)) === 'none') {
      // An uncompressed blob named by its digest that equals the diff ID: verified when staged.
      progress.add(size);
      computed = diffId;
    } else {
      computed = await uncompressedDigest(counted(), layer.digest);
    }
  }
  progress.done();
  if (computed !== diffId) {
    throw bad(`diff ID mismatch for layer ${layer.digest}: the image config says ${diffId}, the layer uncompresses to ${computed}`);
  }
}

async function sniffFile(staging: BlobStaging, d: Digest): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(staging.path(d), 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    return sniffCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** sha256 of a layer's uncompressed tar. */
export async function uncompressedDigest(input: NodeJS.ReadableStream, label: string, signal?: AbortSignal): Promise<Digest> {
  const h = newHasher();
  try {
    const d = await decompress(input, signal);
    for await (const c of d.chunks) h.update(c);
  } catch (err) {
    throw bad(`layer ${label}: cannot uncompress: ${(err as Error).message}`);
  }
  return hasherDigest(h);
}
