// Image archives, streamed: `docker save` tarballs (manifest.json + repositories +
// <id>/layer.tar, or blobs/sha256/… in docker ≥ 25, which are also OCI layouts) and OCI-layout
// tarballs (oci-layout, index.json, blobs/sha256/…), plus `import` of a rootfs tar.
//
// These functions take and return streams and plain objects; storing blobs is the caller's
// (the content store's) job:
//
//   readImageArchive(input, { blob(entry, stream) }) → ArchiveContents
//     Every file that is not archive metadata is handed to `blob` as a stream, in archive order
//     (the handler must consume it). Metadata (manifest.json, repositories, index.json,
//     oci-layout, legacy <id>/json) is parsed and returned. `docker save` puts manifest.json
//     last, so the caller learns which blob is which at the end: blobs under blobs/sha256/
//     carry their digest (verify it while storing); legacy <id>/layer.tar blobs are named by
//     path, and ArchiveContents.dockerManifest maps them to images.
//
//   importRootfs(input, { store(stream) }) → { diffId, size, config, layerMediaType }
//     Decompresses a (plain|gzip|zstd|xz|bzip2) rootfs tar, hands the uncompressed tar to `store`
//     (to keep it as the single layer blob) and returns the OCI image config for it.
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { HakoError } from '../../common/errors.js';
import type { Digest } from '../digest.js';
import { decompress } from '../unpack/decompress.js';
import { TarReader, TarFormatError, type TarEntry } from '../unpack/tar-reader.js';
import { cleanName } from '../unpack/extract.js';
import { nowRfc3339Nano } from '../../common/time.js';

export interface ArchiveBlob {
  /** Clean path inside the archive, e.g. `blobs/sha256/ab…` or `3f…/layer.tar`. */
  path: string;
  size: number;
  /** `sha256:…` when the path says so (blobs/sha256/<hex>); unverified. */
  digest: Digest | undefined;
}

export interface DockerSaveManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, unknown>;
}

export interface ArchiveContents {
  format: 'docker-save' | 'oci-layout';
  /** manifest.json of `docker save`. */
  dockerManifest: DockerSaveManifestEntry[] | undefined;
  /** `repositories` of `docker save` (legacy: repo → tag → id). */
  repositories: Record<string, Record<string, string>> | undefined;
  /** index.json of an OCI layout. */
  ociIndex: { schemaVersion: number; manifests: Array<{ mediaType?: string; digest: string; size: number; annotations?: Record<string, string>; platform?: unknown }> } | undefined;
  /** Other small JSON metadata by path (legacy <id>/json, <config>.json of old docker). */
  json: Map<string, unknown>;
  /** The exact bytes of every metadata file (an image config's digest is over its bytes). */
  raw: Map<string, Buffer>;
  /**
   * Symbolic and hard links by clean path → the clean path they point at (older `docker save`
   * links a layer shared by two images: `<id2>/layer.tar` → `../<id1>/layer.tar`).
   */
  links: Map<string, string>;
  blobs: ArchiveBlob[];
}

const METADATA = new Set(['manifest.json', 'repositories', 'index.json', 'oci-layout']);
const MAX_METADATA = 16 * 1024 * 1024;
/**
 * All metadata files together (held in memory twice: bytes and parsed). Each stayed below
 * MAX_METADATA but their number was unbounded: an archive of many `<id>/json` or `<hex>.json`
 * files held GBs of hakod's memory. A docker save of hundreds of images has a few MB.
 */
const MAX_METADATA_TOTAL = 64 * 1024 * 1024;

export interface ReadArchiveOptions {
  blob(entry: ArchiveBlob, data: Readable): Promise<void>;
  signal?: AbortSignal | undefined;
}

function isMetadata(path: string): boolean {
  if (METADATA.has(path)) return true;
  // Legacy docker save: <id>/json and <id>/VERSION; old docker: <config-hex>.json at the top.
  if (/^[a-f0-9]{64}\/(json|VERSION)$/.test(path)) return true;
  if (/^[a-f0-9]{64}\.json$/.test(path)) return true;
  return false;
}

/** Reads an image archive (see the file comment). */
export async function readImageArchive(input: NodeJS.ReadableStream, opts: ReadArchiveOptions): Promise<ArchiveContents> {
  const json = new Map<string, unknown>();
  const raw = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const blobs: ArchiveBlob[] = [];
  const pending: Array<Promise<void>> = [];
  let meta: { path: string; chunks: Buffer[]; size: number } | undefined;
  let metaTotal = 0;
  let out: PassThrough | undefined;
  let waitDrain: Promise<void> | undefined;
  let handlerError: unknown;
  const fail = (msg: string): never => {
    throw new HakoError({ step: `read image archive: ${msg}`, kind: 'invalid-argument' });
  };
  const reader = new TarReader({
    entry(e: TarEntry) {
      if (e.type === 'symlink' || e.type === 'hardlink') {
        const parts = cleanName(e.name, () => fail(`entry "${e.name}" escapes the archive`));
        // A symlink's target is relative to its directory, a hard link's to the archive root.
        const base = e.type === 'symlink' && !e.linkname.startsWith('/') ? parts.slice(0, -1).join('/') + '/' : '';
        const target = cleanName(base + e.linkname, () => fail(`link "${e.name}" → "${e.linkname}" points outside the archive`)).join('/');
        links.set(parts.join('/'), target);
        return;
      }
      if (e.type !== 'file') return; // directories
      const path = cleanName(e.name, () => fail(`entry "${e.name}" escapes the archive`)).join('/');
      if (isMetadata(path)) {
        if (e.size > MAX_METADATA) fail(`${path} is too large (${e.size} bytes)`);
        // A file named again replaces the first (the reader keeps the last): only it counts.
        metaTotal += e.size - (raw.get(path)?.length ?? 0);
        if (metaTotal > MAX_METADATA_TOTAL) fail(`its metadata files (manifest.json, index.json, repositories, <id>/json, <config>.json) are larger than ${MAX_METADATA_TOTAL} bytes in all`);
        meta = { path, chunks: [], size: 0 };
        return;
      }
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
      const blob: ArchiveBlob = { path, size: e.size, digest: m ? (`sha256:${m[1]}` as Digest) : undefined };
      blobs.push(blob);
      out = new PassThrough({ highWaterMark: 1 << 20 });
      // The handler may not be reading yet when a later error destroys the stream; it sees the
      // error when it does. Without a listener the 'error' event would be an uncaught exception.
      out.on('error', () => undefined);
      pending.push(
        opts.blob(blob, out).catch((err) => {
          handlerError ??= err;
        }),
      );
    },
    data(chunk: Buffer) {
      if (meta) {
        meta.chunks.push(Buffer.from(chunk));
        meta.size += chunk.length;
      } else if (out) {
        if (!out.write(chunk) && !waitDrain) {
          const o = out;
          waitDrain = new Promise<void>((resolve) => {
            o.once('drain', resolve);
            o.once('close', resolve);
          });
        }
      }
    },
    end() {
      if (meta) {
        const bytes = Buffer.concat(meta.chunks);
        raw.set(meta.path, bytes);
        const text = bytes.toString('utf8');
        if (meta.path === 'oci-layout' || meta.path.endsWith('VERSION')) json.set(meta.path, meta.path === 'oci-layout' ? parseJson(meta.path, text) : text);
        else json.set(meta.path, parseJson(meta.path, text));
        meta = undefined;
      } else if (out) {
        out.end();
        out = undefined;
      }
    },
  });
  function parseJson(path: string, text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      return fail(`${path} is not valid JSON`);
    }
  }
  try {
    const d = await decompress(input, opts.signal, { archive: true });
    for await (const chunk of d.chunks) {
      reader.write(chunk);
      if (waitDrain) {
        await waitDrain;
        waitDrain = undefined;
      }
      if (handlerError) throw handlerError;
      opts.signal?.throwIfAborted();
    }
    reader.finish();
  } catch (e) {
    out?.destroy(e as Error);
    await Promise.allSettled(pending);
    if (e instanceof TarFormatError) {
      throw new HakoError({ step: `read image archive: ${e.message.replace(' (truncated layer?)', ': the archive is truncated')}`, kind: 'invalid-argument', cause: e });
    }
    throw e;
  }
  await Promise.all(pending);
  if (handlerError) throw handlerError;
  const dockerManifest = json.get('manifest.json') as DockerSaveManifestEntry[] | undefined;
  const ociIndex = json.get('index.json') as ArchiveContents['ociIndex'];
  if (dockerManifest !== undefined && !Array.isArray(dockerManifest)) fail('manifest.json is not a list');
  if (dockerManifest === undefined && ociIndex === undefined) fail('neither manifest.json (docker save) nor index.json (OCI layout) found');
  if (ociIndex !== undefined && !Array.isArray(ociIndex.manifests)) fail('index.json has no manifests');
  const repositories = json.get('repositories') as ArchiveContents['repositories'];
  for (const k of ['manifest.json', 'index.json', 'repositories']) json.delete(k);
  return { format: dockerManifest ? 'docker-save' : 'oci-layout', dockerManifest, repositories, ociIndex, json, raw, links, blobs };
}

export interface ImportOptions {
  /** Stores the uncompressed layer tar; resolves when it is stored. */
  store(tar: Readable): Promise<void>;
  architecture?: string | undefined;
  variant?: string | undefined;
  os?: string | undefined;
  /** Image config fields (Env, Cmd, WorkingDir, …) — `docker import --change` results. */
  config?: Record<string, unknown>;
  created?: string | undefined;
  comment?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface ImportResult {
  /** sha256 of the uncompressed tar: both the layer's diffID and its blob digest. */
  diffId: string;
  size: number;
  layerMediaType: 'application/vnd.oci.image.layer.v1.tar';
  /** The OCI image config of the single-layer image. */
  config: Record<string, unknown>;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** `docker import`: a rootfs tar (plain, gzip or zstd) becomes a single-layer image. */
export async function importRootfs(input: NodeJS.ReadableStream, opts: ImportOptions): Promise<ImportResult> {
  const hash = createHash('sha256');
  let size = 0;
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  out.on('error', () => undefined); // the store sees a destroy error when it reads
  let storeError: unknown;
  const stored = opts.store(out).catch((e) => {
    storeError = e;
  });
  // Checks it is a tar while streaming (the parser throws on garbage).
  const check = new TarReader({ entry: () => undefined, data: () => undefined, end: () => undefined });
  try {
    const d = await decompress(input, opts.signal, { archive: true });
    for await (const chunk of d.chunks) {
      hash.update(chunk);
      size += chunk.length;
      check.write(chunk);
      if (!out.write(chunk)) {
        await new Promise<void>((r) => {
          out.once('drain', r);
          out.once('close', r);
        });
      }
      if (storeError) throw storeError;
      opts.signal?.throwIfAborted();
    }
    check.finish();
    out.end();
  } catch (e) {
    out.destroy(e as Error);
    await stored;
    if (e instanceof TarFormatError) throw new HakoError({ step: `import rootfs: ${e.message.replace(' (truncated layer?)', ': the tar is truncated')}`, kind: 'invalid-argument', cause: e });
    throw e;
  }
  await stored;
  if (storeError) throw storeError;
  const diffId = 'sha256:' + hash.digest('hex');
  // docker import's created: time.Now() in the config (Go's RFC3339Nano, ns).
  const created = opts.created ?? nowRfc3339Nano();
  // Like docker: the message (default `Imported from <source>`) is both the image comment and
  // the one history entry's comment; there is no created_by.
  const config: Record<string, unknown> = {
    architecture: opts.architecture ?? ARCH[process.arch] ?? process.arch,
    ...(opts.variant ? { variant: opts.variant } : {}),
    ...(opts.comment ? { comment: opts.comment } : {}),
    config: opts.config ?? {},
    created,
    history: [{ created, ...(opts.comment ? { comment: opts.comment } : {}) }],
    os: opts.os ?? 'linux',
    rootfs: { type: 'layers', diff_ids: [diffId] },
  };
  return { diffId, size, layerMediaType: 'application/vnd.oci.image.layer.v1.tar', config };
}
