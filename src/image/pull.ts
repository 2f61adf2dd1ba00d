// Pull: resolve a reference in its registry, select the platform, verify and store manifest,
// config and layers. Each layer's HTTP body is streamed once: into the verifying blob writer and,
// when its snapshot is missing, at the same time into the unpacker (no temp copy of the tar).
//
// Order of a pull (what waits for what):
//   manifest → config and the first layers requested together; with a snapshotter that can name
//   a layer later (unpackDetached), those layers are downloaded and unpacked into scratch
//   snapshots right away, while the config is on its way. A blob enters the store only once the
//   config says it is needed (ingest's commitGate); a pull that fails first keeps nothing.
//   config → config and manifest blobs written and fsynced under temp names while the layers come.
//   layers done → under the lock the record and reference table are written and fsynced while the
//   blobs' names are made durable (one fsync of blobs/ for all of them), then the record renamed
//   in (fsync), then the references (fsync): each durable before the next, as before.
import { PassThrough, type Readable } from 'node:stream';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { HakoError } from '../common/errors.js';
import { isDigest, sha256, type Digest } from './digest.js';
import { parseImageConfig, parseManifest, type Descriptor, type ImageConfig, type ImageManifest } from './manifest.js';
import { formatPlatform, hostPlatform, normalizePlatform, platformList, selectPlatform, type Platform } from './platform.js';
import { familiarString, formatReference, parseReference, repositoryName, type Reference } from './reference.js';
import { countDown, countUp, type BlobFetcher, type ContentStore, type IngestResult } from './store/content.js';
import type { ImageRecord, MetadataStore, RefTable } from './store/metadata.js';
import { fsyncChain, type StagedFile } from '../common/atomic-file.js';
import type { RegistryClient } from './registry/client.js';
import { dockerWordsOf, pullError, withDockerWords } from './registry/errcode.js';
import { ByteProgress, shortDigest, type ProgressEvent, type ProgressSink } from './progress.js';
import { isoTime } from '../common/time.js';
import { pullMark } from './pull-trace.js';

/**
 * What pull needs from the snapshotter (src/image/unpack). Until one is wired, pull stores and
 * verifies blobs only.
 */
export interface LayerUnpacker {
  /** Whether a committed snapshot exists for this chain ID. */
  has(chainId: Digest): boolean;
  /**
   * Unpacks one layer (compressed as fetched) as the snapshot `chainId`; resolves with the
   * sha256 of the uncompressed tar. On failure (or when `input` is destroyed) it leaves nothing.
   * Pull, its only caller, verifies the blob's digest and this diff ID against the config and
   * removes the snapshot when either differs (as the detached one's discard): an unpacker may
   * therefore skip gzip's own CRC-32 of the same bytes (unpackLayer's skipGzipCrc).
   */
  unpack(chainId: Digest, input: Readable, layer: Descriptor, signal?: AbortSignal): Promise<{ diffId: Digest }>;
  /** Removes a committed snapshot (when its diff ID does not match the config, or on GC). */
  remove?(chainId: Digest): Promise<void>;
  /** Chain IDs of every committed snapshot (a start's recovery collects those no image names). */
  list?(): Digest[];
  /** A committed snapshot's content size, as dockerd counts a layer (undefined: not here). */
  diffSize?(chainId: Digest): Promise<number | undefined>;
  /**
   * Inspect's GraphDriver.Data for an image of these chain IDs (bottom first), as dockerd's
   * overlay2 gives it: the top layer's dirs, and LowerDir for the layers under it.
   */
  graphDriverData?(chainIds: readonly Digest[]): Record<string, string>;
  /**
   * Unpacks a layer before its chain ID is known (the config, which names the diff IDs, may
   * still be on its way): into a scratch snapshot that `commit` names, or `discard` removes.
   * Resolves once every entry is written. Pull starts the first layers' downloads and unpacks
   * this way as soon as the manifest is in.
   */
  unpackDetached?(input: Readable, layer: Descriptor, signal?: AbortSignal): Promise<DetachedLayer>;
}

/** A layer unpacked by `unpackDetached`, not yet a snapshot. */
export interface DetachedLayer {
  /** The sha256 of the uncompressed tar. */
  diffId: Digest;
  /** Makes it the snapshot `chainId` (when that snapshot appeared meanwhile, this copy is removed). */
  commit(chainId: Digest): Promise<void>;
  /** Removes the scratch snapshot. */
  discard(): Promise<void>;
}

/**
 * A layer whose download, and unpack (`unpackDetached`), started as soon as the manifest named
 * it, before the config: ensureLayer takes it over when the config gives its chain ID.
 */
interface EarlyLayer {
  ingest: Promise<IngestResult>;
  /** Set when this download is the one that fetches the blob (the tap was asked for). */
  unpack: Promise<DetachedLayer> | undefined;
  /** Bytes received before ensureLayer took over (progress is reported from then on). */
  bytes: number;
  progress: ((n: number) => void) | undefined;
  taken: boolean;
  /** Lets the verified blob into the store (ensureLayer took the layer over). */
  release: () => void;
  /** Stops the download and unpack: the pull failed before the layer was needed; nothing is kept. */
  cancel: (why: Error) => void;
}

function startEarlyLayer(ctx: PullContext, unpacker: LayerUnpacker, layer: Descriptor, fetcher: BlobFetcher, signal?: AbortSignal): EarlyLayer {
  // Until the config says the layer is needed, the blob may not enter the store: a pull that
  // fails before (a missing config) stores nothing.
  let release!: () => void;
  let refuse!: (why: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    refuse = reject;
  });
  gate.catch(() => undefined);
  const ac = new AbortController();
  const sig = signal ? AbortSignal.any([signal, ac.signal]) : ac.signal;
  const cancel = (why: Error): void => {
    refuse(why);
    ac.abort(why);
  };
  const job: EarlyLayer = { ingest: Promise.resolve({ downloaded: false, tapped: false, resumedFrom: 0 }), unpack: undefined, bytes: 0, progress: undefined, taken: false, release, cancel };
  job.ingest = ctx.content.ingest({ digest: layer.digest, size: layer.size, what: 'layer' }, fetcher, {
    signal: sig,
    commitGate: gate,
    deferDirSync: true, // the blobs' names become durable together, before the record
    onProgress: (n) => (job.progress ? job.progress(n) : (job.bytes += n)),
    tap: () => {
      const tap = new PassThrough({ highWaterMark: 1 << 20 });
      job.unpack = unpacker.unpackDetached!(tap, layer, sig);
      job.unpack.catch(() => tap.destroy());
      return tap;
    },
  });
  job.ingest.catch(() => undefined); // awaited by ensureLayer or at the end of the pull
  return job;
}

/** An early layer nobody took over (the pull failed first): its download ends, its unpack goes. */
async function dropEarlyLayer(job: EarlyLayer): Promise<void> {
  job.cancel(new HakoError({ step: 'the pull ended before this layer was needed', kind: 'internal' }));
  await job.ingest.catch(() => undefined);
  const d = await job.unpack?.catch(() => undefined);
  await d?.discard().catch(() => undefined);
}

/** The OCI chain IDs: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " + diff[n]). */
export function chainIdsOf(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

export interface PullContext {
  content: ContentStore;
  meta: MetadataStore;
  client(domain: string): RegistryClient;
  unpacker?: LayerUnpacker | undefined;
  /** Unpacks in flight in this process, by chain ID (two pulls never unpack one layer twice). */
  unpacking: Map<Digest, Promise<Digest>>;
  /**
   * Layer requests sent before their ingest starts (with the config's), by blob digest, shared
   * so that concurrent pulls of one image send one; without it, each pull keeps its own.
   */
  early?: Map<Digest, Promise<{ body: Readable; start: number }>> | undefined;
  /**
   * Blobs pulls in flight use (counts), from the manifest's resolution to the pull's end: a
   * blob enters the store (or is found there) before the record naming it is written, so the
   * store's garbage collection (rmi, prune) must leave these alone meanwhile.
   */
  inUse?: Map<Digest, number> | undefined;
  /**
   * Snapshots pulls in flight use or are about to use, by chain ID (counts), from the config's
   * arrival to the pull's end: a pull finds a snapshot present ("Already exists") or commits
   * into one long before its record names it, so the garbage collection must leave these alone.
   */
  chainsInUse?: Map<Digest, number> | undefined;
  /**
   * Snapshots the garbage collection is removing, by chain ID. A pull marks its chains in use
   * and looks here in the same turn: a removal that started before waits to end (the pull then
   * finds the snapshot missing and unpacks it again); none starts after.
   */
  removing?: Map<Digest, Promise<void>> | undefined;
  log?: ((line: string) => void) | undefined;
}

export interface PullOptions {
  platform?: Platform | string | undefined;
  /** Layers downloaded at once (default 3). */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Per-layer progress (`Pulling fs layer`, `Waiting`, `Downloading` with bytes, `Download
   * complete`, `Extracting`, `Pull complete`, `Already exists`) and the closing `Digest:` and
   * `Status:` lines. Without it, the status lines go to the service's log.
   */
  progress?: ProgressSink | undefined;
  /**
   * Filled with the blobs and snapshots (chain IDs) the pull claimed (PullContext.inUse,
   * chainsInUse), kept after it ends: what a failed pull may have stored, for its caller to
   * remove (ImageService.pull).
   */
  held?: PullHeld | undefined;
  /**
   * False: no closing `Status:` line (the `Digest:` line stays): a pull of all a repository's
   * tags says it once, for the repository, at its end (dockerd's pullRepository).
   */
  statusLine?: boolean | undefined;
}

/** What a pull marked in use (PullContext.inUse, chainsInUse), released when it ends. */
export interface PullHeld {
  blobs: Digest[];
  chains: Digest[];
}

/** Where pull's messages go: the caller's progress sink, else plain lines to the log. */
function reporter(ctx: PullContext, opts: PullOptions): ProgressSink {
  if (opts.progress) return opts.progress;
  return (ev: ProgressEvent) => {
    if (ev.current !== undefined) return; // byte counts only make sense with a progress display
    ctx.log?.(ev.id ? `${ev.id}: ${ev.status}` : ev.status);
  };
}

export interface PullResult {
  reference: string;
  /** The digest the reference resolved to (an index's digest when it was an index). */
  digest: Digest;
  /** The platform manifest's digest. */
  manifestDigest: Digest;
  /** Image ID (config digest). */
  id: Digest;
  platform: Platform;
  /** Layers fetched from the registry by this pull. */
  downloaded: number;
  status: 'downloaded' | 'up-to-date';
  /** What docker prints: `Status: Downloaded newer image for busybox:latest`. */
  message: string;
  /** The image config's labels (`config.Labels`; empty without): the pull event carries them. */
  labels: Record<string, string>;
}

/** The most layers an image may have (dockerd's layer store: maxLayerDepth). */
export const MAX_LAYERS = 125;

/** The largest image config a pull takes (as a load: archive/load.ts); real ones are KiBs. */
export const MAX_CONFIG_SIZE = 16 * 1024 * 1024;

function mismatch(what: string, d: Digest, got: Digest): HakoError {
  return new HakoError({ step: `digest mismatch for ${what} ${d}: expected ${d}, got ${got}`, hint: 'nothing was stored', kind: 'internal' });
}

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first failure after all settle. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  });
  await Promise.all(workers);
  if (failure) throw failure.err;
  return results;
}

async function fetchManifest(ctx: PullContext, client: RegistryClient, ref: Reference, target: string, expected?: Descriptor, signal?: AbortSignal): Promise<{ bytes: Buffer; digest: Digest; mediaType: string | undefined }> {
  const m = await client.getManifest(ref.path, target, signal);
  const got = sha256(m.bytes);
  if (expected) {
    if (got !== expected.digest) throw mismatch('manifest', expected.digest, got);
  } else if (ref.digest && got !== ref.digest) {
    throw mismatch('manifest', ref.digest, got);
  } else if (m.headerDigest && got !== m.headerDigest) {
    throw mismatch('manifest', m.headerDigest, got);
  }
  void ctx;
  return { bytes: m.bytes, digest: got, mediaType: m.mediaType };
}

function diffIdMismatch(layer: Descriptor, diffId: Digest, computed: Digest): HakoError {
  return new HakoError({ step: `diff ID mismatch for layer ${layer.digest}: the image config says ${diffId}, the layer unpacks to ${computed}`, hint: 'nothing was stored', kind: 'internal' });
}

/** What commitPull learns of a layer's blob while it is pulled (see there). */
interface LayerHooks {
  /** `n` more bytes of the blob were received. */
  arrived(n: number): void;
  /** The blob is in the store (its name not yet durable: syncNames). */
  stored(): void;
}

/** ensureLayer for a layer whose download (and unpack) started early. */
async function takeEarlyLayer(ctx: PullContext, job: EarlyLayer, layer: Descriptor, diffId: Digest, chainId: Digest, report: ProgressSink, signal?: AbortSignal, hooks?: LayerHooks): Promise<boolean> {
  job.taken = true;
  job.release();
  const unpacker = ctx.unpacker!;
  const id = shortDigest(layer.digest);
  const bytes = new ByteProgress(report, id, 'Downloading', layer.size);
  if (job.bytes > 0) {
    bytes.add(job.bytes);
    hooks?.arrived(job.bytes);
  }
  job.progress = (n) => {
    bytes.add(n);
    hooks?.arrived(n);
  };
  let res: IngestResult;
  try {
    res = await job.ingest;
    hooks?.stored();
  } catch (err) {
    // The tap ends once the digest verifies, before the blob is durable: when storing it fails
    // after that, the unpack may have finished, and its scratch snapshot must go too.
    await job.unpack?.then((d) => d.discard(), () => undefined);
    throw err;
  }
  bytes.done();
  if (res.downloaded) {
    report({ id, status: 'Verifying Checksum' });
    report({ id, status: 'Download complete' });
  }
  report({ id, status: 'Extracting' });
  let computed: Digest | undefined;
  if (job.unpack) {
    const settle = (async (): Promise<Digest> => {
      const d = await job.unpack!;
      if (d.diffId !== diffId) {
        await d.discard();
        throw diffIdMismatch(layer, diffId, d.diffId);
      }
      if (unpacker.has(chainId)) await d.discard();
      else await d.commit(chainId);
      return d.diffId;
    })();
    // Concurrent pulls of this chain in this process wait for this one instead of unpacking again.
    if (!ctx.unpacking.has(chainId)) {
      const shared = settle.finally(() => ctx.unpacking.delete(chainId));
      shared.catch(() => undefined);
      ctx.unpacking.set(chainId, shared);
    }
    computed = await settle;
    pullMark('layer.unpacked');
  } else {
    // Another download in this process fetched the blob: unpack as any other layer.
    if (ctx.unpacking.has(chainId)) computed = await ctx.unpacking.get(chainId)!;
    else if (!unpacker.has(chainId)) {
      const shared = unpacker.unpack(chainId, ctx.content.openBlob(layer.digest), layer, signal).then((r) => r.diffId).finally(() => ctx.unpacking.delete(chainId));
      shared.catch(() => undefined);
      ctx.unpacking.set(chainId, shared);
      computed = await shared;
    }
    if (computed !== undefined && computed !== diffId) {
      await unpacker.remove?.(chainId).catch(() => undefined);
      throw diffIdMismatch(layer, diffId, computed);
    }
  }
  report({ id, status: 'Pull complete' });
  return res.downloaded;
}

async function ensureLayer(ctx: PullContext, fetcher: BlobFetcher, layer: Descriptor, diffId: Digest, chainId: Digest, report: ProgressSink, signal?: AbortSignal, hooks?: LayerHooks): Promise<boolean> {
  const unpacker = ctx.unpacker;
  const id = shortDigest(layer.digest);
  const needUnpack = unpacker !== undefined && !unpacker.has(chainId) && !ctx.unpacking.has(chainId);
  if (ctx.content.has(layer.digest) && (!unpacker || unpacker.has(chainId))) {
    report({ id, status: 'Already exists' });
    return false;
  }
  const bytes = new ByteProgress(report, id, 'Downloading', layer.size);
  let unpackP: Promise<Digest> | undefined;
  let tapStream: PassThrough | undefined;
  const startUnpack = (input: Readable): Promise<Digest> => {
    const p = unpacker!.unpack(chainId, input, layer, signal).then((r) => r.diffId);
    const settled = p.finally(() => ctx.unpacking.delete(chainId));
    ctx.unpacking.set(chainId, settled);
    settled.catch(() => input.destroy());
    return settled;
  };
  const res = await ctx.content.ingest({ digest: layer.digest, size: layer.size, what: 'layer' }, fetcher, {
    signal,
    deferDirSync: true, // the blobs' names become durable together, before the record
    onProgress: (n) => {
      bytes.add(n);
      hooks?.arrived(n);
    },
    tap: needUnpack
      ? () => {
          tapStream = new PassThrough({ highWaterMark: 1 << 20 });
          unpackP = startUnpack(tapStream);
          return tapStream;
        }
      : undefined,
  }).catch(async (err: unknown) => {
    if (unpackP) {
      // The tap ends once the digest verifies, before the blob is durable: when storing it fails
      // after that, the unpack may have finished, and its snapshot must go too.
      const unpacked = await unpackP.then(() => true, () => false);
      if (unpacked) await unpacker!.remove?.(chainId).catch(() => undefined);
    }
    throw err;
  });
  hooks?.stored();
  bytes.done();
  if (res.downloaded) {
    report({ id, status: 'Verifying Checksum' });
    report({ id, status: 'Download complete' });
  }
  if (unpacker) {
    report({ id, status: 'Extracting' });
    let computed: Digest | undefined;
    pullMark('layer.ingested');
    if (unpackP) computed = await unpackP;
    else if (ctx.unpacking.has(chainId)) computed = await ctx.unpacking.get(chainId)!;
    else if (!unpacker.has(chainId)) computed = await startUnpack(ctx.content.openBlob(layer.digest));
    pullMark('layer.unpacked');
    if (computed !== undefined && computed !== diffId) {
      await unpacker.remove?.(chainId).catch(() => undefined);
      throw new HakoError({ step: `diff ID mismatch for layer ${layer.digest}: the image config says ${diffId}, the layer unpacks to ${computed}`, hint: 'nothing was stored', kind: 'internal' });
    }
  }
  report({ id, status: 'Pull complete' });
  return res.downloaded;
}

/** Pulls `refString` into the store (and snapshots when an unpacker is wired). */
export async function pull(ctx: PullContext, refString: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(refString);
  const shown = formatReference(ref);
  const held: PullHeld = opts.held ?? { blobs: [], chains: [] };
  try {
    return await pullRef(ctx, ref, opts, held);
  } catch (err) {
    // In dockerd's words when the registry or the connection said it (no `pull X:` then: the
    // docker CLI and docker-py show dockerd's text as is).
    const worded = pullError(err, ref);
    if (worded) throw worded;
    if (err instanceof HakoError) {
      throw new HakoError({ step: `pull ${shown}: ${err.message}`, kind: err.kind, errno: undefined, cause: err });
    }
    throw new HakoError({ step: `pull ${shown}: ${(err as Error)?.message ?? String(err)}`, kind: 'internal', cause: err });
  } finally {
    release(ctx.inUse, held.blobs);
    release(ctx.chainsInUse, held.chains);
  }
}


function release(counts: Map<Digest, number> | undefined, digests: Digest[]): void {
  if (counts) countDown(counts, digests);
}

function hold(counts: Map<Digest, number> | undefined, list: Digest[], digests: Array<Digest | undefined>): void {
  if (!counts) return;
  const present = digests.filter((d): d is Digest => d !== undefined);
  countUp(counts, present);
  list.push(...present);
}

/**
 * Marks the snapshots `chainIds` in use by this pull and waits for removals of them that started
 * before (PullContext.removing): afterwards a snapshot the pull finds present stays until the
 * pull ends. The mark and the look at `removing` happen in one turn, as the collection's look
 * at the marks and its entry in `removing` do.
 */
async function holdChains(ctx: PullContext, held: PullHeld, chainIds: Digest[]): Promise<void> {
  hold(ctx.chainsInUse, held.chains, chainIds);
  const removals = chainIds.map((c) => ctx.removing?.get(c)).filter((p) => p !== undefined);
  if (removals.length > 0) await Promise.all(removals);
}

/**
 * holdChains for a load or an import: they too find a snapshot present (or commit one) before
 * their record names it, and an rmi's or prune's collection meanwhile removed it (the image
 * then recorded without its layer). Resolves with the release, once removals in flight ended.
 */
export async function holdSnapshots(ctx: PullContext, chainIds: Digest[]): Promise<() => void> {
  const held: PullHeld = { blobs: [], chains: [] };
  await holdChains(ctx, held, chainIds);
  return () => release(ctx.chainsInUse, held.chains);
}

/** The same for blobs a load found in the store (PullContext.inUse); returns the release. */
export function holdBlobs(ctx: PullContext, digests: Digest[]): () => void {
  const held: PullHeld = { blobs: [], chains: [] };
  hold(ctx.inUse, held.blobs, digests);
  return () => release(ctx.inUse, held.blobs);
}

async function pullRef(ctx: PullContext, ref: Reference, opts: PullOptions, held: PullHeld): Promise<PullResult> {
  const signal = opts.signal;
  pullMark('pull.start');
  const want = opts.platform === undefined ? hostPlatform() : typeof opts.platform === 'string' ? (await import('./platform.js')).parsePlatform(opts.platform) : normalizePlatform(opts.platform);
  const client = ctx.client(ref.domain);
  const repo = ref.path;
  // The stores' directories are made while the first request is on its way: after it is
  // written (its socket connects in the event loop's poll phase; this waits for the check phase
  // after it), not before (their synchronous calls, ~1 ms in a fresh daemon, held it up).
  const topP = fetchManifest(ctx, client, ref, ref.digest ?? ref.tag!, undefined, signal);
  topP.catch(() => undefined); // awaited below
  await new Promise<void>((resolve) => setImmediate(resolve));
  await ctx.content.init();
  await ctx.meta.init();
  const top = await topP;
  pullMark('pull.manifest');
  const topParsed = parseManifest(top.bytes, top.mediaType);
  let manifestBytes = top.bytes;
  let manifestDigest = top.digest;
  let manifest: ImageManifest;
  let indexDigest: Digest | undefined;
  if (topParsed.kind === 'index') {
    indexDigest = top.digest;
    const i = selectPlatform(want, topParsed.manifests.map((m) => m.platform));
    const chosen = i >= 0 ? topParsed.manifests[i] : undefined;
    if (!chosen) {
      const have = platformList(topParsed.manifests.map((m) => m.platform));
      throw new HakoError({ step: `no matching manifest for ${formatPlatform(want)} in the manifest list`, hint: `the image has ${have || 'no platforms'}; choose one with --platform`, kind: 'not-found' });
    }
    const child = await fetchManifest(ctx, client, ref, chosen.digest, chosen, signal);
    const parsed = parseManifest(child.bytes, child.mediaType ?? chosen.mediaType);
    if (parsed.kind !== 'manifest') throw new HakoError({ step: `manifest ${chosen.digest} is a nested index, which is not supported`, kind: 'invalid-argument' });
    manifest = parsed;
    manifestBytes = child.bytes;
    manifestDigest = child.digest;
  } else {
    manifest = topParsed;
  }
  // dockerd's layer store takes at most 125 layers (maxLayerDepth): its pull of more downloads
  // them all, then fails registering the 126th, `max depth exceeded`. Refused before any download
  // here (a hostile manifest of thousands of tiny layers made as many snapshots).
  if (manifest.layers.length > MAX_LAYERS) {
    throw new HakoError({ step: `max depth exceeded: the image has ${manifest.layers.length} layers, at most ${MAX_LAYERS} are supported`, hint: 'nothing was stored', kind: 'invalid-argument' });
  }
  hold(ctx.inUse, held.blobs, [indexDigest, manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)]);

  // Config: small, verified in memory. Asked for first, on the connection the manifest came by.
  // A descriptor claiming more than MAX_CONFIG_SIZE is refused before asking: the answer would
  // be buffered whole (a hostile registry's endless body up to the size it claims).
  if (manifest.config.size > MAX_CONFIG_SIZE) {
    throw new HakoError({ step: `image config ${manifest.config.digest} is too large (${manifest.config.size} bytes; the limit is ${MAX_CONFIG_SIZE})`, hint: 'nothing was stored', kind: 'invalid-argument' });
  }
  const configP = ctx.content.has(manifest.config.digest)
    ? ctx.content.readBlob(manifest.config.digest)
    : client.getBlob(repo, manifest.config, signal).then(
        (bytes) => {
          const got = sha256(bytes);
          if (got !== manifest.config.digest) throw mismatch('config', manifest.config.digest, got);
          return bytes;
        },
        (err: unknown) => {
          // dockerd's words for a config the registry would not give (ImageConfigPullError).
          const w = dockerWordsOf(err);
          throw w ? withDockerWords(err as Error, { ...w, text: `error pulling image configuration: ${w.text}`, bare: `error pulling image configuration: ${w.bare ?? w.text}` }) : err;
        },
      );
  configP.catch(() => undefined); // awaited in pullManifest
  const concurrency = opts.concurrency ?? 3;
  // The first missing layers are requested together with the config, not after it: their answers
  // wait unread (the config names their snapshots) and the config's round trip is not added.
  const early = ctx.early ?? new Map<Digest, Promise<{ body: Readable; start: number }>>();
  const mine = new Map<Digest, Promise<{ body: Readable; start: number }>>();
  for (const layer of manifest.layers) {
    if (mine.size >= concurrency) break;
    if (early.has(layer.digest) || ctx.content.has(layer.digest) || ctx.content.ingesting(layer.digest)) continue;
    const p = client.blobFetcher(repo, layer.digest)(0, signal);
    p.catch(() => undefined); // handed to the layer's ingest, which reports a failure
    early.set(layer.digest, p);
    mine.set(layer.digest, p);
  }
  const fetcherOf = (d: Digest): BlobFetcher => {
    const fetch = client.blobFetcher(repo, d);
    return (offset, sig) => {
      const p = offset === 0 ? early.get(d) : undefined;
      if (p === undefined) return fetch(offset, sig);
      early.delete(d);
      return p;
    };
  };
  // With a snapshotter that can name a layer later, those first layers are downloaded and
  // unpacked right away, while the config is on its way (their chain IDs come with it).
  // They start on the next turn of the event loop, once the requests above are written: their
  // set-up (directories, files, the inflater) then runs while the registry answers.
  const earlyLayers = new Map<Digest, EarlyLayer>();
  const unpacker = ctx.unpacker;
  const earlyStarted = !unpacker?.unpackDetached
    ? Promise.resolve()
    : new Promise<void>((resolve) =>
        setImmediate(() => {
          for (const d of mine.keys()) {
            const layer = manifest.layers.find((l) => l.digest === d)!;
            if (isDigest(d) && early.get(d) === mine.get(d)) earlyLayers.set(d, startEarlyLayer(ctx, unpacker, layer, fetcherOf(d), signal));
          }
          resolve();
        }),
      );
  try {
    return await pullManifest(ctx, ref, opts, { want, top, topParsed, manifest, manifestBytes, manifestDigest, indexDigest, configP, concurrency, fetcherOf, earlyLayers, earlyStarted, held });
  } finally {
    await earlyStarted;
    for (const job of earlyLayers.values()) if (!job.taken) await dropEarlyLayer(job);
    // Answers nobody read (the pull failed, or the blob came from elsewhere meanwhile).
    for (const [d, p] of mine) {
      if (early.get(d) !== p) continue;
      early.delete(d);
      p.then((r) => r.body.destroy(), () => undefined);
    }
  }
}

interface Resolved {
  want: Platform;
  top: { bytes: Buffer; digest: Digest };
  topParsed: ReturnType<typeof parseManifest>;
  manifest: ImageManifest;
  manifestBytes: Buffer;
  manifestDigest: Digest;
  indexDigest: Digest | undefined;
  /** The config's bytes, verified. */
  configP: Promise<Buffer>;
  concurrency: number;
  fetcherOf: (d: Digest) => BlobFetcher;
  earlyLayers: Map<Digest, EarlyLayer>;
  /** Resolves once the early layers are started (earlyLayers is filled). */
  earlyStarted: Promise<void>;
  held: PullHeld;
}

/** The rest of a pull once the platform manifest is known: config, layers, record, references. */
async function pullManifest(ctx: PullContext, ref: Reference, opts: PullOptions, r: Resolved): Promise<PullResult> {
  const { want, top, topParsed, manifest, manifestBytes, manifestDigest, indexDigest } = r;
  const configBytes = await r.configP;
  pullMark('pull.config');
  const config: ImageConfig = parseImageConfig(configBytes);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new HakoError({ step: `image config ${manifest.config.digest} lists ${diffIds.length} diff IDs for ${manifest.layers.length} layers`, kind: 'invalid-argument' });
  }
  if (topParsed.kind === 'manifest' && opts.platform !== undefined) {
    const have = normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
    if (selectPlatform(want, [have]) < 0) {
      throw new HakoError({ step: `image is for ${formatPlatform(have)}, not the requested ${formatPlatform(want)}`, kind: 'not-found' });
    }
  }
  const chainIds = chainIdsOf(diffIds);
  // Before any look at the snapshots (has: "Already exists", commit into an existing one).
  if (ctx.unpacker) await holdChains(ctx, r.held, chainIds);
  const id = manifest.config.digest;
  // The config and manifests are written and fsynced now, beside the layer downloads, and
  // renamed into the store only once every layer is in (or removed if the pull fails).
  const staged = ctx.content.stageBlobs([
    { data: configBytes, expected: { ...manifest.config, what: 'config' } },
    { data: manifestBytes, expected: { digest: manifestDigest, size: manifestBytes.length, what: 'manifest' } },
    ...(indexDigest ? [{ data: top.bytes, expected: { digest: indexDigest, size: top.bytes.length, what: 'index' } }] : []),
  ]);
  staged.catch(() => undefined); // awaited below
  let committing = false;
  try {
    return await finishPull(ctx, ref, opts, r, { config, diffIds, chainIds, id, staged, committing: () => (committing = true) });
  } finally {
    if (!committing) await staged.then((s) => s.abort(), () => undefined);
  }
}

/** pullManifest's second half: the layers, then the blobs, record and references. */
async function finishPull(
  ctx: PullContext,
  ref: Reference,
  opts: PullOptions,
  r: Resolved,
  c: { config: ImageConfig; diffIds: Digest[]; chainIds: Digest[]; id: Digest; staged: ReturnType<ContentStore['stageBlobs']>; committing: () => void },
): Promise<PullResult> {
  const { top, manifest, manifestDigest, indexDigest, concurrency, fetcherOf } = r;
  const { config, diffIds, chainIds, id } = c;
  const signal = opts.signal;

  const hadRecord = (await ctx.meta.getImage(id)) !== undefined; // read before this pull writes it
  const repoName = repositoryName(ref);
  const platform = normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
  const size = manifest.layers.reduce((n, l) => n + l.size, 0) + manifest.config.size;
  const addedAt = isoTime();
  const plan = async (): Promise<MetaPlan> => {
    const existing = await ctx.meta.getImage(id);
    const rec: ImageRecord = {
      id,
      manifestDigest,
      manifestMediaType: manifest.mediaType,
      indexDigest: indexDigest ?? existing?.indexDigest,
      config: manifest.config,
      layers: manifest.layers,
      diffIds,
      chainIds,
      platform,
      created: typeof config.created === 'string' ? config.created : undefined,
      size,
      sources: [...new Set([...(existing?.sources ?? []), repoName])],
      addedAt: existing?.addedAt ?? addedAt,
      lastTagTime: existing?.lastTagTime, // a pull leaves it (dockerd)
    };
    const refs = ctx.meta.readRefs();
    const target = { image: id, manifest: top.digest };
    let previous: Digest | undefined;
    if (ref.tag !== undefined) {
      const key = `${repoName}:${ref.tag}`;
      previous = refs.tags[key]?.image;
      refs.tags[key] = target;
    }
    refs.digests[`${repoName}@${top.digest}`] = target;
    return { rec, refs, previous };
  };
  const stage = async (p: MetaPlan): Promise<StagedMeta> => {
    // Their fsyncs on one pool thread, the record's first (see fsyncChain).
    const fsync = fsyncChain();
    const staged = await Promise.allSettled([ctx.meta.stageImage(p.rec, fsync), ctx.meta.stageRefs(p.refs, fsync)]);
    const [recFile, refsFile] = staged.map((x) => (x.status === 'fulfilled' ? x.value : undefined));
    const abort = async (): Promise<void> => {
      await Promise.all([recFile?.abort(), refsFile?.abort()]);
    };
    const failed = staged.find((x) => x.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      await abort();
      throw failed.reason;
    }
    return { plan: p, recFile: recFile!, refsFile: refsFile!, abort };
  };
  return commitPull(ctx, ref, opts, r, c, { plan, stage, platform, hadRecord });
}

interface MetaPlan {
  rec: ImageRecord;
  refs: RefTable;
  /** The image the tag named before this pull. */
  previous: Digest | undefined;
}

/** What a plan writes (record and reference table), to tell whether an early staging still holds. */
function planKey(p: MetaPlan): string {
  return JSON.stringify([p.rec, p.refs]);
}

interface StagedMeta {
  plan: MetaPlan;
  recFile: StagedFile;
  refsFile: StagedFile;
  abort(): Promise<void>;
}

/** finishPull's second half: the layers, then blobs, record and references made visible in that order. */
async function commitPull(
  ctx: PullContext,
  ref: Reference,
  opts: PullOptions,
  r: Resolved,
  c: { config: ImageConfig; diffIds: Digest[]; chainIds: Digest[]; id: Digest; staged: ReturnType<ContentStore['stageBlobs']>; committing: () => void },
  m: { plan: () => Promise<MetaPlan>; stage: (p: MetaPlan) => Promise<StagedMeta>; platform: Platform; hadRecord: boolean },
): Promise<PullResult> {
  const { top, manifest, manifestDigest, concurrency, fetcherOf } = r;
  const { diffIds, chainIds } = c;
  const signal = opts.signal;
  const report = reporter(ctx, opts);
  // docker's order: every layer `Pulling fs layer`, those beyond the concurrency `Waiting`.
  const waiting = new Set<number>();
  for (const [i, layer] of manifest.layers.entries()) {
    if (ctx.content.has(layer.digest) && (!ctx.unpacker || ctx.unpacker.has(chainIds[i]!))) continue;
    report({ id: shortDigest(layer.digest), status: 'Pulling fs layer' });
    if (i >= concurrency) waiting.add(i);
  }
  for (const i of waiting) report({ id: shortDigest(manifest.layers[i]!.digest), status: 'Waiting' });
  await r.earlyStarted;
  // What waits for what, and what each fsync protects (a pull that has answered survives a host
  // crash: the blobs, the record and the reference table are durable, each name only once what
  // it names is):
  //   - each layer blob's data is fsynced before its rename into blobs/ (ingest), so a durable
  //     name never points at lost data;
  //   - the config and manifests were written and fsynced under temp names when the config came;
  //   - once every layer's bytes are in (not after the unpack), the record and the reference
  //     table are written and fsynced under temp names, beside the layer blobs' fsyncs: on a
  //     journaling filesystem those fsyncs then share a journal commit instead of adding one
  //     after the unpack. They are planned outside the lock; under it the plan is made again
  //     and, if the record or the reference table changed meanwhile (another pull, a tag), the
  //     early files are dropped and written again.
  //   - once every blob is in blobs/ (also before the unpack ends), the config and manifests
  //     are renamed in and one fsync of blobs/ makes all their names durable;
  //   - then, with every layer unpacked: the record is renamed in and its directory fsynced,
  //     then the reference table likewise. blobs → record → references stay ordered barriers:
  //     a crash in between leaves an image without a tag, or blobs without an image (prune
  //     removes them), never a record or a tag naming something missing.
  //   dockerd 20.10 fsyncs its image and reference files but no directory; containerd commits
  //   its metadata in one bolt transaction (two fsyncs) after the content's fsync.
  //   Not covered: the unpacked snapshot's files. No fsync or syncfs makes them durable (nor
  //   dockerd 20.10's layers; containerd syncfs-es only with CRI's opt-in
  //   image_pull_with_sync_fs): after a host crash a committed snapshot can hold empty files.
  //   A syncfs after the unpack costs 6–12 ms for busybox on a loop ext4 (measured), on the
  //   critical path, and flushes everything else dirty on that filesystem.
  let early: Promise<{ key: string; files: StagedMeta } | undefined> | undefined;
  const prestage = (): void => {
    if (early) return;
    early = (async () => {
      const p = await m.plan();
      const files = await m.stage(p);
      pullMark('pull.meta-staged');
      return { key: planKey(p), files };
    })().catch(() => undefined); // staged again (and its failure reported) at commit
  };
  let blobs: Promise<void> | undefined;
  const commitBlobs = (): Promise<void> => {
    if (!blobs) {
      c.committing(); // from here the commit (or its own failure) removes the temp files
      blobs = c.staged.then((s) => s.commit()).then(() => ctx.content.syncNames());
      blobs.catch(() => undefined); // awaited below
    }
    return blobs;
  };
  const bytesLeft = new Map(manifest.layers.map((l, i) => [i, l.size]));
  const notStored = new Set(manifest.layers.keys());
  const received = (i: number): void => {
    if (bytesLeft.delete(i) && bytesLeft.size === 0) prestage();
  };
  const stored = (i: number): void => {
    received(i);
    if (notStored.delete(i) && notStored.size === 0) void commitBlobs();
  };
  const hooks = (i: number): LayerHooks => ({
    arrived: (n) => {
      const rest = (bytesLeft.get(i) ?? 0) - n;
      if (rest <= 0) received(i);
      else if (bytesLeft.has(i)) bytesLeft.set(i, rest);
    },
    stored: () => stored(i),
  });
  let flags: boolean[];
  try {
    flags = await pool(manifest.layers, concurrency, (layer, i) => {
      const job = r.earlyLayers.get(layer.digest);
      const p = job && !job.taken ? takeEarlyLayer(ctx, job, layer, diffIds[i]!, chainIds[i]!, report, signal, hooks(i)) : ensureLayer(ctx, fetcherOf(layer.digest), layer, diffIds[i]!, chainIds[i]!, report, signal, hooks(i));
      return p.then((downloaded) => {
        stored(i); // a layer that was there already reports nothing on its way
        return downloaded;
      });
    });
  } catch (err) {
    await (early as Promise<{ files: StagedMeta } | undefined> | undefined)?.then((e) => e?.files.abort());
    await (blobs as Promise<void> | undefined)?.catch(() => undefined);
    throw err;
  }
  const downloaded = flags.filter((x) => x).length;
  pullMark('pull.layers-done');

  const hadRecord = m.hadRecord;
  let previous: Digest | undefined;
  let adopted: StagedMeta | undefined;
  const blobsIn = commitBlobs();
  try {
    await ctx.meta.locked(async () => {
      const now = await m.plan();
      previous = now.previous;
      const pre = await (early as Promise<{ key: string; files: StagedMeta } | undefined> | undefined);
      let files: StagedMeta;
      if (pre && pre.key === planKey(now)) files = adopted = pre.files;
      else files = await m.stage(now);
      try {
        await blobsIn;
        pullMark('pull.blobs-committed');
        await files.recFile.commit();
        pullMark('pull.record-committed');
        await files.refsFile.commit();
        pullMark('pull.refs-committed');
      } catch (err) {
        await files.abort();
        throw err;
      }
    });
  } finally {
    // Early files that were not used (the plan changed, or the commit failed first) go.
    const pre = await (early as Promise<{ files: StagedMeta } | undefined> | undefined);
    if (pre && pre.files !== adopted) await pre.files.abort();
  }
  const upToDate = hadRecord && downloaded === 0 && previous === c.id;
  const name = familiarString({ ...ref, digest: ref.tag ? undefined : ref.digest });
  report({ status: `Digest: ${top.digest}` });
  const message = upToDate ? `Status: Image is up to date for ${name}` : `Status: Downloaded newer image for ${name}`;
  if (opts.statusLine !== false) report({ status: message });
  const labels = (c.config.config as { Labels?: Record<string, string> | null } | undefined)?.Labels;
  return { reference: formatReference(ref), digest: top.digest, manifestDigest, id: c.id, platform: m.platform, downloaded, status: upToDate ? 'up-to-date' : 'downloaded', message, labels: { ...(labels ?? {}) } };
}

/**
 * A LayerUnpacker over the unpacker's `unpackLayer`, keeping each layer in `<dir>/<chain ID hex>`
 * (overlayfs format). Until the SnapshotStore is wired by the engine, this is how pull unpacks.
 */
export function directoryUnpacker(dir: string): LayerUnpacker {
  const path = (chainId: Digest): string => join(dir, chainId.slice('sha256:'.length));
  return {
    has: (chainId) => existsSync(path(chainId)),
    async unpack(chainId, input, layer, signal) {
      mkdirSync(dir, { recursive: true });
      const { unpackLayer } = await import('./unpack/index.js');
      const r = await unpackLayer(input, path(chainId), { mediaType: layer.mediaType, digest: layer.digest, signal, skipGzipCrc: true });
      return { diffId: r.diffId as Digest };
    },
    async unpackDetached(input, layer, signal) {
      mkdirSync(dir, { recursive: true });
      const scratch = join(dir, `.detached-${randomBytes(6).toString('hex')}`);
      const { unpackLayer } = await import('./unpack/index.js');
      const r = await unpackLayer(input, scratch, { mediaType: layer.mediaType, digest: layer.digest, signal, skipGzipCrc: true });
      const discard = async (): Promise<void> => rmSync(scratch, { recursive: true, force: true });
      return {
        diffId: r.diffId as Digest,
        discard,
        async commit(chainId) {
          try {
            renameSync(scratch, path(chainId));
          } catch (err) {
            await discard();
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err; // else: made meanwhile
          }
        },
      };
    },
    async remove(chainId) {
      rmSync(path(chainId), { recursive: true, force: true });
    },
    async diffSize(chainId) {
      if (!existsSync(path(chainId))) return undefined;
      const { directorySize } = await import('./snapshot/index.js');
      return directorySize(path(chainId));
    },
  };
}
