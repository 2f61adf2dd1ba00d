// What a failed load, import or commit moved into the content store goes at once, not at the next
// start's collection: it runs under the metadata lock the operation holds for its registration,
// and removes the blobs it stored that no image record needs and no operation in flight claims
// (a pull or load of the same content that found them present meanwhile keeps them).
// recordStagedImage is that registration for commit and the build cache's restored images.
import type { Digest } from '../digest.js';
import { pullMark } from '../pull-trace.js';
import type { ContentStore } from './content.js';
import type { ImageRecord, MetadataStore } from './metadata.js';
import type { BlobStaging } from './staging.js';

/** The blobs image records need: configs, manifests, indexes and layers. */
export function blobsNeeded(records: readonly ImageRecord[]): Set<Digest> {
  const needed = new Set<Digest>();
  for (const rec of records) {
    needed.add(rec.id);
    needed.add(rec.manifestDigest);
    if (rec.indexDigest) needed.add(rec.indexDigest);
    for (const l of rec.layers) needed.add(l.digest);
  }
  return needed;
}

/**
 * Under the metadata lock: removes `stored` (blobs a failing operation moved into the store)
 * unless a record needs one or it is claimed. Best effort: the operation's own error is what
 * its caller reports; a blob that cannot be removed is left to a later collection. When the
 * records cannot be listed they are taken as none: each blob in `stored` was absent when the
 * operation moved it in under this lock, so only that operation's own records (removed by then)
 * could name it.
 */
export async function dropStoredBlobs(content: ContentStore, meta: MetadataStore, stored: Iterable<Digest>): Promise<void> {
  const needed = blobsNeeded(await meta.listImages().catch(() => []));
  for (const d of new Set(stored)) {
    if (needed.has(d)) continue;
    try {
      content.removeUnclaimed(d);
    } catch {
      /* left for a collection */
    }
  }
  await content.unlinked();
}

/**
 * A commit's (or a restored build-cache image's) last step: the staged blobs `digests` move into
 * the store with the record, under the metadata lock (a concurrent prune sees both or neither);
 * if the record cannot be written, the blobs moved go again at once. `mark` is published once the
 * blobs are in (a phase mark).
 */
export async function recordStagedImage(content: ContentStore, meta: MetadataStore, staging: BlobStaging, digests: Digest[], rec: ImageRecord, mark?: string): Promise<void> {
  await meta.locked(async () => {
    const moved: Digest[] = [];
    try {
      await staging.commit(digests, moved);
      if (mark) pullMark(mark);
      await meta.putImage(rec);
    } catch (err) {
      await dropStoredBlobs(content, meta, moved);
      throw err;
    }
  });
}
