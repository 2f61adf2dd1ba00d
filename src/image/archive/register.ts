// The last step of load and import: with every layer verified (and unpacked), move the staged
// blobs into the content store, store config and manifest, write the image records and point
// the tags at them — all under the metadata lock, so a concurrent prune cannot collect blobs
// that are about to be referenced.
import { HakoError } from '../../common/errors.js';
import type { Digest } from '../digest.js';
import type { Descriptor, ImageConfig } from '../manifest.js';
import { normalizePlatform } from '../platform.js';
import { familiarString, parseReference, repositoryName, type Reference } from '../reference.js';
import type { ContentStore } from '../store/content.js';
import type { ImageRecord, MetadataStore } from '../store/metadata.js';
import type { BlobStaging } from '../store/staging.js';
import { isoTime, nowRfc3339Nano } from '../../common/time.js';
import { pullMark } from '../pull-trace.js';
import { dropStoredBlobs } from '../store/drop-blobs.js';

export interface NewImage {
  configBytes: Buffer;
  config: ImageConfig;
  /** The config's descriptor in the manifest (its digest is the image ID). */
  configDesc: Descriptor;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  manifestMediaType: string;
  layers: Descriptor[];
  diffIds: Digest[];
  chainIds: Digest[];
  /** Tags to point at the image (`name:tag`, normalized). */
  tags: Reference[];
  /**
   * The multi-platform index the image was saved under (its blob staged or stored): kept as
   * the record's index, tags point at it and `name@<index digest>` names the image, as after
   * a pull of the index.
   */
  index?: { digest: Digest; bytes: Buffer } | undefined;
  /**
   * Set the record's `lastTagTime` when it gets a tag (a tagged import, as dockerd's
   * TagImageWithReference; load leaves it): written with the record, before the tags, so a crash
   * between them never leaves a tagged image without it.
   */
  stampTagTime?: boolean;
}

export interface RegisteredImage {
  id: Digest;
  /** Familiar tags (`busybox:latest`) now pointing at the image. */
  tags: string[];
  /** Tags that pointed at another image before (docker: "renaming the old one … to empty string"). */
  replaced: Array<{ tag: string; old: Digest }>;
}

export async function registerImages(content: ContentStore, meta: MetadataStore, staging: BlobStaging, images: readonly NewImage[]): Promise<RegisteredImage[]> {
  await meta.init();
  return meta.locked(async () => {
    // What this registration made: if it fails (a record or the reference table cannot be
    // written), its new records (unless a container leased one meanwhile) and then the blobs it
    // moved or wrote into the store that no record needs and nothing claims go now, not at a
    // later start's collection (dropStoredBlobs).
    const made: Made = { stored: [], recorded: [] };
    try {
      return await registerLocked(content, meta, staging, images, made);
    } catch (err) {
      const leased = new Set((await meta.listLeases().catch(() => [])).map((l) => l.image));
      for (const id of made.recorded) if (!leased.has(id)) await meta.deleteImage(id).catch(() => undefined);
      await dropStoredBlobs(content, meta, made.stored);
      throw err;
    }
  });
}

interface Made {
  /** Blobs moved or written into the store. */
  stored: Digest[];
  /** Image records written where none was. */
  recorded: Digest[];
}

async function registerLocked(content: ContentStore, meta: MetadataStore, staging: BlobStaging, images: readonly NewImage[], made: Made): Promise<RegisteredImage[]> {
  const { stored } = made;
  const out: RegisteredImage[] = [];
  const refs = meta.readRefs();
  for (const img of images) {
    const id = img.configDesc.digest;
    const found = await meta.getImage(id);
    const existing = found && content.has(found.manifestDigest) && found.layers.every((l) => content.has(l.digest)) ? found : undefined;
    // An image already here (same ID: same config, same diff IDs) keeps its record, with the
    // blobs it was pulled with (the archive's may be compressed differently); only tags are
    // added, and none of the archive's blobs are kept.
    let manifest = img.manifestDigest;
    const index = img.index;
    if (existing) {
      manifest = existing.indexDigest && existing.indexDigest === index?.digest ? existing.indexDigest : existing.manifestDigest;
      if (img.stampTagTime && img.tags.length > 0) await meta.putImage({ ...existing, lastTagTime: nowRfc3339Nano() });
    } else {
      await staging.commit([...img.layers.map((l) => l.digest), id, img.manifestDigest, ...(index ? [index.digest] : [])], stored);
      pullMark('register.blobs-committed');
      const put = async (bytes: Buffer, digest: Digest, what: string): Promise<void> => {
        if (content.has(digest)) return;
        stored.push(digest);
        await content.putBlob(bytes, { digest, size: bytes.length, what });
      };
      await put(img.configBytes, id, 'config');
      await put(img.manifestBytes, img.manifestDigest, 'manifest');
      if (index) {
        await put(index.bytes, index.digest, 'index');
        manifest = index.digest;
      }
      for (const l of img.layers) {
        if (!content.has(l.digest)) throw new HakoError({ step: `register image ${id}: layer ${l.digest} is not in the content store`, kind: 'internal' });
      }
      const c = img.config;
      const rec: ImageRecord = {
        id,
        manifestDigest: img.manifestDigest,
        manifestMediaType: img.manifestMediaType,
        ...(index ? { indexDigest: index.digest } : {}),
        config: img.configDesc,
        layers: img.layers,
        diffIds: img.diffIds,
        chainIds: img.chainIds,
        platform: normalizePlatform({ os: c.os, architecture: c.architecture, variant: c.variant }),
        created: typeof c.created === 'string' ? c.created : undefined,
        size: img.layers.reduce((n, l) => n + l.size, 0) + img.configDesc.size,
        sources: [...new Set([...(found?.sources ?? []), ...(index ? img.tags.map((t) => repositoryName(t)) : [])])],
        addedAt: found?.addedAt ?? isoTime(),
        lastTagTime: img.stampTagTime && img.tags.length > 0 ? nowRfc3339Nano() : found?.lastTagTime, // a load leaves it (dockerd)
      };
      await meta.putImage(rec);
      if (!found) made.recorded.push(id);
      pullMark('register.recorded');
    }
    const r: RegisteredImage = { id, tags: [], replaced: [] };
    for (const ref of img.tags) {
      const key = `${repositoryName(ref)}:${ref.tag}`;
      const old = refs.tags[key]?.image;
      const shown = familiarString(parseReference(key));
      if (old !== undefined && old !== id) r.replaced.push({ tag: shown, old });
      refs.tags[key] = { image: id, manifest };
      if (manifest === index?.digest) refs.digests[`${repositoryName(ref)}@${index.digest}`] = { image: id, manifest };
      if (!r.tags.includes(shown)) r.tags.push(shown);
    }
    out.push(r);
  }
  await meta.writeRefs(refs);
  return out;
}
