// `docker rmi` as dockerd 20.10's ImageDelete decides it, over one snapshot of the store's
// references, image records and leases (taken and written back under the metadata lock by
// ImageService). `image prune` runs it once per candidate, as dockerd's ImagesPrune does.
//
// - A reference untags (a tag that was its repository's last takes the repository's digest
//   references along); once no reference is left the image is deleted, unless it has child
//   images or a container uses it (then it stays, dangling).
// - An ID removes the references when they are one repository's with at most one tag, else it
//   is refused (`must be forced`); with force every reference goes.
// - Refused without force: an image a container uses; always: one with child images, one a
//   running container uses (`cannot be forced`).
// - After a delete, the parent (commit's local parent) goes too when nothing else holds it (no
//   reference, child, container), and so on up (`prune`; the API's noprune=1 turns it off).
// The items list it all in dockerd's order: per image its remaining references (`Untagged`,
// sorted by full name) and its ID (`Deleted`); withReleasedLayers adds the layers.
import { conflict, notFound } from '../common/errors.js';
import { shortId, type Digest } from './digest.js';
import { familiarString, looksLikeId, parseReference, repositoryName } from './reference.js';
import type { ImageRecord, Lease, RefTable } from './store/metadata.js';

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface DeleteOptions {
  force?: boolean | undefined;
  /** Delete untagged parents left without children (default true). */
  prune?: boolean | undefined;
  /** Whether the container holding an image lease runs (default: no). */
  running?: ((owner: string) => boolean | Promise<boolean>) | undefined;
}

interface Conflict {
  message: string;
  hard: boolean;
  /** A container uses the image. */
  used: boolean;
}

export class ImageDeletion {
  readonly items: DeleteItem[] = [];
  readonly untagged: string[] = [];
  /** dockerd's image events of the deletion, in order: `untag` and `delete`, by image ID. */
  readonly events: Array<{ action: 'untag' | 'delete'; id: Digest }> = [];
  /** Deleted image records, in order. */
  readonly deleted: ImageRecord[] = [];
  /** Leases to rewrite with the chain IDs of their deleted image. */
  readonly orphanedLeases: Array<{ owner: string; image: Digest; chainIds: Digest[] }> = [];
  private readonly images: Map<Digest, ImageRecord>;

  constructor(
    readonly refs: RefTable,
    images: ImageRecord[],
    private readonly leases: Lease[],
  ) {
    this.images = new Map(images.map((r) => [r.id, r]));
  }

  has(id: Digest): boolean {
    return this.images.has(id);
  }

  /** An image's references (full names), sorted as dockerd's reference store lists them. */
  refsOf(id: Digest): string[] {
    const out: string[] = [];
    for (const [k, t] of Object.entries(this.refs.tags)) if (t.image === id) out.push(k);
    for (const [k, t] of Object.entries(this.refs.digests)) if (t.image === id) out.push(k);
    return out.sort();
  }

  children(id: Digest): ImageRecord[] {
    return [...this.images.values()].filter((r) => r.parent === id);
  }

  private users(id: Digest): Lease[] {
    return this.leases.filter((l) => l.image === id);
  }

  private isDigestKey(key: string): boolean {
    return key in this.refs.digests;
  }

  private untag(key: string): void {
    const owner = (this.refs.tags[key] ?? this.refs.digests[key])?.image;
    if (owner) this.events.push({ action: 'untag', id: owner });
    if (this.isDigestKey(key)) delete this.refs.digests[key];
    else delete this.refs.tags[key];
    const name = familiarString(parseReference(key));
    this.untagged.push(name);
    this.items.push({ Untagged: name });
  }

  private dangling(id: Digest): boolean {
    return this.refsOf(id).length === 0 && this.children(id).length === 0;
  }

  /** moby's checkImageDeleteConflict; `soft` adds the conflicts force overrides. */
  private async conflictOf(id: Digest, soft: boolean, opts: DeleteOptions): Promise<Conflict | undefined> {
    if (this.children(id).length > 0) return { message: 'image has dependent child images', hard: true, used: false };
    const using = this.users(id);
    for (const l of using) {
      if (opts.running && (await opts.running(l.owner))) return { message: `image is being used by running container ${shortId(l.owner)}`, hard: true, used: true };
    }
    if (!soft) return undefined;
    if (this.refsOf(id).length > 0) return { message: 'image is referenced in multiple repositories', hard: false, used: false };
    if (using.length > 0) return { message: `image is being used by stopped container ${shortId(using[0]!.owner)}`, hard: false, used: true };
    return undefined;
  }

  /** moby's imageDeleteHelper: `quiet` ignores a conflict unless the image is dangling and unused. */
  private async deleteImage(img: ImageRecord, force: boolean, quiet: boolean, opts: DeleteOptions): Promise<void> {
    const c = await this.conflictOf(img.id, !force, opts);
    if (c) {
      if (quiet && (!this.dangling(img.id) || c.used)) return;
      throw conflict(`conflict: unable to delete ${shortId(img.id)} (${c.hard ? 'cannot' : 'must'} be forced) - ${c.message}`);
    }
    for (const k of this.refsOf(img.id)) this.untag(k);
    // Forced past stopped containers: they keep standing on the layers (dockerd's RW layers
    // hold them), so their leases go on with the chain IDs the image record had.
    for (const l of this.users(img.id)) this.orphanedLeases.push({ owner: l.owner, image: img.id, chainIds: img.chainIds });
    this.images.delete(img.id);
    this.items.push({ Deleted: img.id });
    this.deleted.push(img);
    this.events.push({ action: 'delete', id: img.id });
    const parent = img.parent ? this.images.get(img.parent) : undefined;
    if (opts.prune !== false && parent) await this.deleteImage(parent, false, true, opts);
  }

  /** One `docker rmi <nameOrId>` of the image `rec` that name resolved to. */
  async remove(nameOrId: string, rec: ImageRecord, opts: DeleteOptions): Promise<void> {
    const force = opts.force === true;
    const byId = looksLikeId(nameOrId) && (nameOrId.startsWith('sha256:') || rec.id.slice(7).startsWith(nameOrId));
    if (byId) {
      if (singleRepository(this.refsOf(rec.id))) for (const k of this.refsOf(rec.id)) this.untag(k);
      await this.deleteImage(rec, force, false, opts);
      return;
    }
    const ref = parseReference(nameOrId);
    const repo = repositoryName(ref);
    const key = ref.digest ? `${repo}@${ref.digest}` : `${repo}:${ref.tag}`;
    if (!(key in this.refs.tags) && !(key in this.refs.digests)) throw notFound(`no such image: ${nameOrId}`);
    const using = this.users(rec.id);
    if (!force && singleRepository(this.refsOf(rec.id)) && using.length > 0) {
      throw conflict(`conflict: unable to remove repository reference ${JSON.stringify(nameOrId)} (must force) - container ${shortId(using[0]!.owner)} is using its referenced image ${shortId(rec.id)}`);
    }
    this.untag(key);
    // The repository's last tag takes its digest references along.
    if (!ref.digest && !this.refsOf(rec.id).some((k) => !this.isDigestKey(k) && repositoryName(parseReference(k)) === repo)) {
      for (const k of this.refsOf(rec.id)) if (this.isDigestKey(k) && repositoryName(parseReference(k)) === repo) this.untag(k);
    }
    if (this.refsOf(rec.id).length > 0) return;
    await this.deleteImage(rec, force, true, opts);
  }
}

/**
 * moby's isSingleReference: all references of one repository, at most one of them a tag (then
 * an rmi by ID may remove them). False for none.
 */
export function singleRepository(keys: string[]): boolean {
  if (keys.length <= 1) return keys.length === 1;
  const repos = new Set<string>();
  let tags = 0;
  for (const k of keys) {
    const ref = parseReference(k);
    if (!ref.digest && ++tags > 1) return false;
    repos.add(repositoryName(ref));
  }
  return repos.size === 1;
}

/**
 * Adds `Deleted: <chain ID>` after each deleted image's own entry for the layers released with
 * it, top first, as dockerd's layer store releases them: a layer several deleted images share
 * goes with the last of them to be deleted (the earlier ones still held it).
 */
export function withReleasedLayers(items: DeleteItem[], deleted: ImageRecord[], released: Set<Digest>): DeleteItem[] {
  const owner = new Map<Digest, Digest>();
  for (const rec of deleted) for (const c of rec.chainIds) if (released.has(c)) owner.set(c, rec.id);
  const byId = new Map(deleted.map((r) => [r.id as string, r]));
  const out: DeleteItem[] = [];
  for (const it of items) {
    out.push(it);
    const rec = 'Deleted' in it ? byId.get(it.Deleted) : undefined;
    if (!rec) continue;
    for (const c of [...new Set(rec.chainIds)].reverse()) if (owner.get(c) === rec.id) out.push({ Deleted: c });
  }
  return out;
}
