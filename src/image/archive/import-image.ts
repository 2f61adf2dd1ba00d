// `docker import`: a rootfs tar (plain, gzip or zstd) becomes a one-layer image, the layer kept
// uncompressed (its digest is its diff ID, as docker stores it), with `--change` instructions
// applied to an empty config and `--message` as the comment. Staged like load, so a broken
// tar leaves nothing.
import { HakoError } from '../../common/errors.js';
import { sha256, type Digest } from '../digest.js';
import { applyChanges } from '../changes.js';
import { ociManifestBytes, parseImageConfig, type Descriptor } from '../manifest.js';
import { MediaType } from '../media-types.js';
import { parsePlatform } from '../platform.js';
import { holdSnapshots, type PullContext } from '../pull.js';
import { parseReference, type Reference } from '../reference.js';
import { BlobStaging, type StagedBlob } from '../store/staging.js';
import { importRootfs } from './index.js';
import { checkLayer, removeSnapshots } from './load.js';
import { registerImages, type RegisteredImage } from './register.js';
import { pullMark } from '../pull-trace.js';

export interface ImportImageOptions {
  /** `repository[:tag]` to tag the image with. */
  reference?: string | undefined;
  /** Dockerfile instructions: `CMD ["sh"]`, `ENV A=1`, … */
  changes?: readonly string[] | undefined;
  /** The commit message (default `Imported from <source>`). */
  message?: string | undefined;
  /** Where the tar came from, for the default message (`-` for stdin). */
  source?: string | undefined;
  /** `os/arch[/variant]` to record (default: this host). */
  platform?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Imports a rootfs tar; resolves with the registered image. */
export async function importImage(ctx: PullContext, input: NodeJS.ReadableStream, opts: ImportImageOptions = {}): Promise<RegisteredImage> {
  // Everything that can be checked before reading the tar is checked first.
  let tag: Reference | undefined;
  if (opts.reference) {
    tag = parseReference(opts.reference);
    if (tag.digest) throw new HakoError({ step: `import: ${opts.reference} is not a repository[:tag] (it has a digest)`, kind: 'invalid-argument' });
  }
  const cfg: Record<string, unknown> = {};
  applyChanges(cfg, opts.changes ?? []);
  const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
  const staging = new BlobStaging(ctx.content);
  const made: Digest[] = [];
  let release: (() => void) | undefined;
  try {
    let staged: StagedBlob | undefined;
    const res = await importRootfs(input, {
      store: async (tar) => {
        staged = await staging.write(tar, { what: 'imported rootfs', signal: opts.signal });
      },
      config: cfg,
      comment: opts.message || `Imported from ${opts.source ?? '-'}`,
      architecture: platform?.architecture,
      variant: platform?.variant,
      os: platform?.os,
      signal: opts.signal,
    });
    if (!staged || staged.digest !== res.diffId) throw new HakoError({ step: 'import: the stored layer does not match the tar that was read', kind: 'internal' });
    pullMark('import.staged');
    const configBytes = Buffer.from(JSON.stringify(res.config));
    const config = parseImageConfig(configBytes);
    const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: sha256(configBytes), size: configBytes.length };
    const layer: Descriptor = { mediaType: MediaType.OciLayer, digest: staged.digest, size: staged.size };
    const manifestBytes = ociManifestBytes(configDesc, [layer]);
    const diffId = res.diffId as Digest;
    // Held until the record names it (a collection meanwhile would remove one found present).
    release = await holdSnapshots(ctx, [diffId]);
    await checkLayer(ctx, staging, layer, diffId, diffId, made, { signal: opts.signal });
    const [r] = await registerImages(ctx.content, ctx.meta, staging, [
      { configBytes, config, configDesc, manifestBytes, manifestDigest: sha256(manifestBytes), manifestMediaType: MediaType.OciManifest, layers: [layer], diffIds: [diffId], chainIds: [diffId], tags: tag ? [tag] : [], stampTagTime: true },
    ]);
    pullMark('import.registered');
    await staging.discard();
    return r!;
  } catch (err) {
    await staging.discard().catch(() => undefined);
    await removeSnapshots(ctx, made);
    throw err;
  } finally {
    release?.();
  }
}
