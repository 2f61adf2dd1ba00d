// The images a build's `cachefrom` names, used as dockerd 20.10's classic builder uses them
// (daemon/images/cache.go's ImageCache): a local cache hit counts only when it is an ancestor of a
// source; otherwise a source whose history continues the current image with the step's command
// answers the step, either itself (its last entry: it becomes the current image's child) or
// through an image made from the current one plus that entry's layer (its blobs and snapshot are
// the source's; only a config, a manifest and a record are written). The decisions are
// ../build/cache-from.ts's.
import { Readable } from 'node:stream';
import { HakoError } from '../common/errors.js';
import { isValidConfig, isValidParent, restoredConfig, type CacheImageConfig } from '../build/cache-from.js';
import type { Digest } from '../image/digest.js';
import type { ImageService } from '../image/images.js';
import { ociManifestBytes } from '../image/manifest.js';
import { MediaType } from '../image/media-types.js';
import type { ImageRecord } from '../image/store/metadata.js';
import { BlobStaging } from '../image/store/staging.js';
import { recordStagedImage } from '../image/store/drop-blobs.js';
import { nowRfc3339Nano } from '../common/time.js';
import type { Json } from './api-types.js';

export class CacheSources {
  private sources: Digest[];

  private constructor(
    private readonly images: ImageService,
    private readonly all: Digest[],
  ) {
    this.sources = [...all];
  }

  /** A new stage starts from every source again (dockerd resets its prober per stage). */
  reset(): void {
    this.sources = [...this.all];
  }

  /** The sources that exist here (dockerd skips a name it does not find). */
  static async resolve(images: ImageService, refs: readonly string[]): Promise<CacheSources> {
    const ids: Digest[] = [];
    for (const r of refs) {
      try {
        ids.push((await images.resolve(r)).id as Digest);
      } catch (e) {
        if (!(e instanceof HakoError) || e.kind !== 'not-found') throw e;
      }
    }
    return new CacheSources(images, ids);
  }

  private async config(id: string): Promise<CacheImageConfig> {
    return JSON.parse((await this.images.content.readBlob(id as Digest)).toString()) as CacheImageConfig;
  }

  /** Whether `ancestor` is a parent (or further up) of `id` by the local parent links. */
  private async isAncestor(id: Digest, ancestor: string): Promise<boolean> {
    const seen = new Set<string>();
    let cur = (await this.images.meta.getImage(id))?.parent;
    while (cur && !seen.has(cur)) {
      if (cur === ancestor) return true;
      seen.add(cur);
      cur = (await this.images.meta.getImage(cur))?.parent;
    }
    return false;
  }

  /** The image that answers the step with `containerConfig` on `parent` ('' for scratch), given the local cache's hit. */
  async get(parent: string, containerConfig: Json, localHit: string | undefined): Promise<string | undefined> {
    if (localHit) for (const s of this.sources) if (await this.isAncestor(s, localHit)) return localHit;
    const parentCfg = parent ? await this.config(parent) : undefined;
    const index = parentCfg?.history?.length ?? 0;
    for (const target of this.sources) {
      const t = await this.config(target);
      if (!isValidParent(t, parentCfg) || !isValidConfig(containerConfig.Cmd as string[] | undefined, t.history![index])) continue;
      if (t.history!.length - 1 === index) {
        if (parent) await this.setParent(target, parent as Digest);
        return target;
      }
      const id = await this.restore(parent as Digest | '', parentCfg, target, t, containerConfig);
      // dockerd: from here on only this source is followed.
      this.sources = [target];
      return id;
    }
    return undefined;
  }

  private async setParent(id: Digest, parent: Digest): Promise<void> {
    await this.images.meta.locked(async () => {
      const rec = await this.images.meta.getImage(id);
      if (rec && rec.parent !== parent) await this.images.meta.putImage({ ...rec, parent });
    });
  }

  /** The image dockerd's restoreCachedImage makes: the parent plus the target's entry (and layer), the step's config. */
  private async restore(parent: Digest | '', parentCfg: CacheImageConfig | undefined, target: Digest, t: CacheImageConfig, containerConfig: Json): Promise<Digest> {
    const cfg = restoredConfig(parentCfg, t, containerConfig);
    const tRec = await this.images.meta.getImage(target);
    const pRec = parent ? await this.images.meta.getImage(parent) : undefined;
    if (!tRec || (parent && !pRec)) throw new HakoError({ step: `restore cached image from ${target}: its record is missing`, kind: 'internal' });
    const diffIds = (cfg.rootfs as { diff_ids: Digest[] }).diff_ids;
    const added = diffIds.length > (pRec?.diffIds.length ?? 0) ? diffIds[diffIds.length - 1]! : undefined;
    // The source's layer at the same place: its blob and its snapshot (the chain is the same, the parent being a prefix of the source).
    const k = added ? tRec.diffIds.indexOf(added, pRec?.diffIds.length ?? 0) : -1;
    if (added && k < 0) throw new HakoError({ step: `restore cached image from ${target}: layer ${added} is not among its layers`, kind: 'internal' });
    const layers = [...(pRec?.layers ?? []), ...(added ? [tRec.layers[k]!] : [])];
    const configBytes = Buffer.from(JSON.stringify(cfg));
    const blobs = new BlobStaging(this.images.content);
    try {
      const { digest: configDigest } = await blobs.write(Readable.from([configBytes]), { what: 'image config' });
      const existing = await this.images.meta.getImage(configDigest);
      if (existing) return configDigest;
      const configDesc = { mediaType: MediaType.OciConfig, digest: configDigest, size: configBytes.length };
      const { digest: manifestDigest } = await blobs.write(Readable.from([ociManifestBytes(configDesc, layers)]), { what: 'image manifest' });
      // The record's time as commit.ts writes it (Go's RFC3339Nano, ns).
      const now = nowRfc3339Nano();
      const rec: ImageRecord = {
        id: configDigest,
        manifestDigest,
        manifestMediaType: MediaType.OciManifest,
        config: configDesc,
        layers,
        diffIds: [...(pRec?.diffIds ?? []), ...(added ? [added] : [])],
        chainIds: [...(pRec?.chainIds ?? []), ...(added ? [tRec.chainIds[k]!] : [])],
        platform: tRec.platform,
        created: cfg.created as string | undefined,
        size: layers.reduce((n, l) => n + l.size, 0) + configBytes.length,
        sources: [],
        addedAt: now,
        ...(parent ? { parent } : {}),
      };
      await recordStagedImage(this.images.content, this.images.meta, blobs, [configDigest, manifestDigest], rec);
      return configDigest;
    } finally {
      await blobs.discard().catch(() => undefined);
    }
  }
}
