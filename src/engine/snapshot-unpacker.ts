// The LayerUnpacker the engine gives its ImageService: pulled layers are unpacked once, straight
// into the SnapshotStore (<root>/snapshots/layers/<chain id>), where container rootfs mounts find them.
// Without gzip's CRC-32: pull checks the blob digest and the diff ID (LayerUnpacker.unpack).
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unpackLayer } from '../image/unpack/index.js';
import type { LayerUnpacker } from '../image/pull.js';
import type { SnapshotStore } from '../image/snapshot/index.js';
import type { Digest } from '../image/digest.js';

export function snapshotUnpacker(snaps: SnapshotStore): LayerUnpacker {
  return {
    has: (chainId) => snaps.has(chainId),
    async unpack(chainId, input, layer, signal) {
      let diffId: string | undefined;
      await snaps.ensureLayer(chainId, async (dir) => {
        const r = await unpackLayer(input, dir, { mediaType: layer.mediaType, digest: layer.digest, signal, skipGzipCrc: true });
        diffId = r.diffId;
        return r; // ensureLayer records its contentSize beside the layer
      });
      if (diffId === undefined) {
        // Another caller made the snapshot meanwhile: unpack into scratch only to learn the diff ID.
        const dir = await snaps.prepareLayer(chainId);
        try {
          diffId = (await unpackLayer(input, dir, { mediaType: layer.mediaType, digest: layer.digest, signal, skipGzipCrc: true })).diffId;
        } finally {
          await snaps.abortLayer(dir);
        }
      }
      return { diffId: diffId as Digest };
    },
    diffSize: (chainId) => snaps.layerSize(chainId),
    list: () => snaps.list() as Digest[],
    graphDriverData(chainIds) {
      if (chainIds.length === 0) return {};
      const top = snaps.layerDir(chainIds[chainIds.length - 1]!);
      const base = dirname(top);
      const lower = chainIds.slice(0, -1).reverse().map((c) => snaps.layerDir(c));
      // dockerd names the merged and work dirs of an image's top layer too (made only when mounted).
      return { ...(lower.length ? { LowerDir: lower.join(':') } : {}), MergedDir: join(base, 'merged'), UpperDir: top, WorkDir: join(base, 'work') };
    },
    // Into a scratch snapshot (tmp/), named at commit: an atomic rename, or removed when another
    // pull made that snapshot meanwhile.
    async unpackDetached(input, layer, signal) {
      const dir = await snaps.prepareLayer(layer.digest);
      try {
        const r = await unpackLayer(input, dir, { mediaType: layer.mediaType, digest: layer.digest, signal, skipGzipCrc: true });
        // Its content size goes into place with the layer (snapshots/layers/<chain>/size).
        writeFileSync(join(dirname(dir), 'size'), String(r.contentSize));
        return {
          diffId: r.diffId as Digest,
          commit: async (chainId) => {
            try {
              await snaps.commitLayer(chainId, dir);
            } catch (e) {
              await snaps.abortLayer(dir);
              throw e;
            }
          },
          discard: () => snaps.abortLayer(dir),
        };
      } catch (e) {
        await snaps.abortLayer(dir);
        throw e;
      }
    },
    async remove(chainId) {
      if (snaps.has(chainId)) await snaps.removeLayer(chainId);
    },
  };
}
