// What a failed load, import or commit moved into the content store goes at once, not at the next
// start's collection: it runs under the metadata lock the operation holds for its registration,
// and removes the blobs it stored that no image record needs and no operation in flight claims
// (a pull or load of the same content that found them present meanwhile keeps them).
import type { Digest } from '../digest.js';
import type { ContentStore } from './content.js';
import type { ImageRecord, MetadataStore } from './metadata.js';

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
 * its caller reports; a blob that cannot be removed is left to a later collection.
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
}
