// Push: upload what the registry lacks (HEAD first, cross-repository mount when the blob came
// from another repository of the same registry, else a monolithic or chunked upload), then PUT
// the manifest exactly as stored so that its digest does not change.
import { HakoError } from '../../common/errors.js';
import type { Digest } from '../digest.js';
import type { Descriptor } from '../manifest.js';
import { formatReference, repositoryName, type Reference } from '../reference.js';
import { isRetryable, sleep, type ContentStore } from '../store/content.js';
import type { ImageRecord } from '../store/metadata.js';
import { pool } from '../pull.js';
import type { RegistryClient } from './client.js';
import { Readable } from 'node:stream';
import { ByteProgress, shortDigest, type ProgressEvent, type ProgressSink } from '../progress.js';

/** Attempts per blob when the registry fails with 5xx/429 or the connection breaks. */
const PUSH_ATTEMPTS = 4;

export interface PushOptions {
  concurrency?: number | undefined;
  /** Upload in PATCH chunks of this many bytes when a blob is larger (0: one PUT; default 0). */
  chunkSize?: number | undefined;
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  /** Per-layer progress (`Preparing`, `Waiting`, `Pushing` with bytes, `Pushed`, `Layer already exists`, `Mounted from …`); else status lines to `log`. */
  progress?: ProgressSink | undefined;
}

export interface PushResult {
  reference: string;
  digest: Digest;
  size: number;
  /** Blobs: uploaded, already present, mounted from another repository. */
  uploaded: number;
  existed: number;
  mounted: number;
  /** `latest: digest: sha256:… size: 528`, as docker prints it. */
  message: string;
}

export async function pushImage(client: RegistryClient, content: ContentStore, rec: ImageRecord, ref: Reference, opts: PushOptions = {}): Promise<PushResult> {
  const repo = ref.path;
  const signal = opts.signal;
  const manifestBytes = await content.readBlob(rec.manifestDigest);
  const counts = { uploaded: 0, existed: 0, mounted: 0 };
  const mountSources = rec.sources
    .filter((s) => s.startsWith(`${ref.domain}/`) && s !== repositoryName(ref))
    .map((s) => s.slice(ref.domain.length + 1));

  const report: ProgressSink =
    opts.progress ??
    ((ev: ProgressEvent) => {
      if (ev.current === undefined && ev.status !== 'Preparing' && ev.status !== 'Waiting') opts.log?.(ev.id ? `${ev.id}: ${ev.status}` : ev.status);
    });
  const concurrency = opts.concurrency ?? 3;
  for (const l of rec.layers) report({ id: shortDigest(l.digest), status: 'Preparing' });
  for (const l of rec.layers.slice(concurrency)) report({ id: shortDigest(l.digest), status: 'Waiting' });

  // A blob push (HEAD, mount or upload) is repeated as a whole when the registry answers 5xx or
  // 429 or the connection breaks, with backoff (docker retries layer pushes the same way).
  const pushBlob = async (desc: Descriptor, layer = true): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await pushBlobOnce(desc, layer);
      } catch (err) {
        if (signal?.aborted || !isRetryable(err) || attempt >= PUSH_ATTEMPTS) throw err;
        const delay = Math.min(500 * 2 ** (attempt - 1), 4000);
        if (layer) report({ id: shortDigest(desc.digest), status: `Retrying in ${delay / 1000} second${delay === 1000 ? '' : 's'}` });
        await sleep(delay, signal);
      }
    }
  };

  const pushBlobOnce = async (desc: Descriptor, layer: boolean): Promise<void> => {
    const short = shortDigest(desc.digest);
    const say = (status: string): void => {
      if (layer) report({ id: short, status });
    };
    if (!content.has(desc.digest)) {
      throw new HakoError({ step: `blob ${desc.digest} is missing from the content store`, kind: 'not-found', hint: 'pull the image again' });
    }
    if ((await client.blobSize(repo, desc.digest, signal, true)) !== undefined) {
      counts.existed++;
      say('Layer already exists');
      return;
    }
    let location: URL | undefined;
    for (const from of mountSources) {
      const r = await client.startUpload(repo, { mount: desc.digest, from, signal });
      if (r.mounted) {
        counts.mounted++;
        say(`Mounted from ${from}`);
        return;
      }
      location = r.location;
      break;
    }
    if (!location) {
      const r = await client.startUpload(repo, { signal });
      if (r.mounted) return;
      location = r.location;
    }
    const bytes = new ByteProgress(layer ? report : undefined, short, 'Pushing', desc.size);
    const counted = (start: number, end: number): Readable => {
      const src = content.openBlob(desc.digest, start, end);
      async function* gen(): AsyncGenerator<Buffer> {
        for await (const c of src as AsyncIterable<Buffer>) {
          bytes.add(c.length);
          yield c;
        }
      }
      const r = Readable.from(gen(), { objectMode: false });
      r.once('close', () => src.destroy());
      return r;
    };
    await client.uploadBlob(repo, desc, counted, {
      location,
      chunkSize: opts.chunkSize,
      signal,
    });
    bytes.done();
    counts.uploaded++;
    say('Pushed');
  };

  await pool(rec.layers, concurrency, (l) => pushBlob(l));
  await pushBlob(rec.config, false);
  const tagOrDigest = ref.tag ?? ref.digest ?? 'latest';
  const digest = await client.putManifest(repo, tagOrDigest, manifestBytes, rec.manifestMediaType, signal);
  const message = `${tagOrDigest}: digest: ${digest} size: ${manifestBytes.length}`;
  if (!opts.progress) opts.log?.(message);
  return { reference: formatReference(ref), digest, size: manifestBytes.length, ...counts, message };
}
