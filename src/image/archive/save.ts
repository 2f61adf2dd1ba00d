// `docker save`: images as a tar stream in the layout docker ≥ 25 writes, which is at the same
// time an OCI image layout:
//
//   blobs/sha256/<hex>   every manifest, config and layer blob, as stored (layers compressed
//                        as pulled: docker with the containerd image store does the same)
//   index.json           one entry per tag: io.containerd.image.name = the full name,
//                        org.opencontainers.image.ref.name = the tag (untagged: no annotations);
//                        for an image pulled from a multi-platform index the entry is that index
//                        (as docker ≥ 25 writes it), with only the local platform's manifest,
//                        config and layers in blobs/ — manifest.json names that platform's image
//   manifest.json        [{Config, RepoTags, Layers}] with blobs/sha256/… paths (what every
//                        `docker load`, old ones too, reads)
//   oci-layout, repositories
//
// Blobs are streamed from the content store, so nothing is copied to a temporary file. All
// blobs are checked to exist (and sized) before the first byte goes out, so a missing blob is
// an error answer, not a truncated archive. Entries have mtime 0: the same images always give
// the same bytes.
import type { Readable } from 'node:stream';
import { open, type FileHandle } from 'node:fs/promises';
import { HakoError } from '../../common/errors.js';
import { digestHex, type Digest } from '../digest.js';
import { parseManifest } from '../manifest.js';
import { familiarName, familiarString, formatReference, type Reference } from '../reference.js';
import type { ContentStore } from '../store/content.js';
import type { ImageRecord } from '../store/metadata.js';
import { tarStream, type TarFile } from './tar-writer.js';

export interface SaveImage {
  record: ImageRecord;
  /** Tags to record for it (none when saved by ID or digest). */
  tags: Reference[];
}

const blobPath = (d: Digest): string => `blobs/sha256/${digestHex(d)}`;

/**
 * The archive's entries. Every blob is opened now: the archive is what the store held when the
 * save began, even if the image is removed while it streams (an open file outlives its unlink,
 * as docker's layer references do). `handles` gets the open files, for the caller to close.
 */
export async function saveEntries(content: ContentStore, images: readonly SaveImage[], handles: FileHandle[] = []): Promise<TarFile[]> {
  const blobs = new Map<Digest, { size: number; fh: FileHandle }>();
  const need = async (d: Digest, what: string, id: Digest): Promise<void> => {
    if (blobs.has(d)) return;
    let fh: FileHandle;
    try {
      fh = await open(content.blobPath(d), 'r');
    } catch {
      throw new HakoError({ step: `save image ${id}: its ${what} ${d} is missing from the content store`, kind: 'not-found', hint: 'pull the image again' });
    }
    handles.push(fh);
    blobs.set(d, { size: (await fh.stat()).size, fh });
  };
  const manifestJson: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const index: Array<Record<string, unknown>> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { record: rec, tags } of images) {
    await need(rec.manifestDigest, 'manifest', rec.id);
    await need(rec.id, 'config', rec.id);
    for (const l of rec.layers) await need(l.digest, 'layer', rec.id);
    // The stored manifest is what index.json points at; make sure it describes this record.
    const m = parseManifest(await content.readBlob(rec.manifestDigest), rec.manifestMediaType);
    if (m.kind !== 'manifest' || m.config.digest !== rec.id) {
      throw new HakoError({ step: `save image ${rec.id}: stored manifest ${rec.manifestDigest} does not describe it`, kind: 'internal', hint: 'pull the image again' });
    }
    let desc: Record<string, unknown> = { mediaType: rec.manifestMediaType, digest: rec.manifestDigest, size: blobs.get(rec.manifestDigest)!.size, platform: rec.platform };
    // Pulled from a multi-platform index: index.json names the index (docker ≥ 25 with the
    // containerd store does the same), whose manifests for other platforms are not in the
    // archive (never pulled); the index digest, and so `name@<index digest>`, survives a load.
    const fromIndex = rec.indexDigest ? await indexOf(content, rec.indexDigest, rec.manifestDigest) : undefined;
    if (fromIndex) {
      await need(rec.indexDigest!, 'index', rec.id);
      // With the platform saved for it: the archive holds only that platform's content, and a
      // loader without manifest.json (load.ts) knows which one each name was.
      desc = { mediaType: fromIndex.mediaType, digest: rec.indexDigest, size: blobs.get(rec.indexDigest!)!.size, platform: rec.platform };
    }
    const repoTags: string[] = [];
    for (const t of tags) {
      const tag = t.tag ?? 'latest';
      repoTags.push(familiarString({ domain: t.domain, path: t.path, tag }));
      index.push({ ...desc, annotations: { 'io.containerd.image.name': formatReference({ domain: t.domain, path: t.path, tag }), 'org.opencontainers.image.ref.name': tag } });
      if (rec.layers.length > 0) (repositories[familiarName(t)] ??= {})[tag] = digestHex(rec.layers[rec.layers.length - 1]!.digest);
    }
    if (tags.length === 0) index.push(desc);
    manifestJson.push({ Config: blobPath(rec.id), RepoTags: repoTags.length ? repoTags : null, Layers: rec.layers.map((l) => blobPath(l.digest)) });
  }
  const files: TarFile[] = [
    { name: 'blobs/', type: 'dir' },
    { name: 'blobs/sha256/', type: 'dir' },
  ];
  for (const [d, { size, fh }] of [...blobs].sort(([a], [b]) => a.localeCompare(b))) {
    files.push({ name: blobPath(d), type: 'file', size, data: () => fh.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 20 }) });
  }
  const json = (v: unknown, newline: boolean): Buffer => Buffer.from(JSON.stringify(v) + (newline ? '\n' : ''));
  const meta: Array<[string, Buffer]> = [
    ['index.json', json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index }, false)],
    ['manifest.json', json(manifestJson, true)],
    ['oci-layout', Buffer.from('{"imageLayoutVersion": "1.0.0"}')],
  ];
  if (Object.keys(repositories).length > 0) meta.push(['repositories', json(repositories, true)]);
  for (const [name, data] of meta) files.push({ name, type: 'file', size: data.length, data });
  return files;
}

/** The stored index `d` when it lists `manifest` (else undefined: the image is saved without it). */
async function indexOf(content: ContentStore, d: Digest, manifest: Digest): Promise<{ mediaType: string } | undefined> {
  if (!content.has(d)) return undefined;
  try {
    const parsed = parseManifest(await content.readBlob(d));
    if (parsed.kind === 'index' && parsed.manifests.some((m) => m.digest === manifest)) return { mediaType: parsed.mediaType };
  } catch {
    /* not an index we can read: save the platform manifest alone */
  }
  return undefined;
}

/** The archive of `images` as a stream (see the file comment); its blobs' files close with it. */
export async function saveImageArchive(content: ContentStore, images: readonly SaveImage[], opts: { signal?: AbortSignal } = {}): Promise<Readable> {
  const handles: FileHandle[] = [];
  const closeAll = (): void => {
    for (const fh of handles.splice(0)) void fh.close().catch(() => undefined);
  };
  let files: TarFile[];
  try {
    files = await saveEntries(content, images, handles);
  } catch (err) {
    closeAll();
    throw err;
  }
  const stream = tarStream(files, opts);
  stream.once('close', closeAll);
  return stream;
}
