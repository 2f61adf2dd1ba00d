// A fresh daemon's first pull ran hakod's unpack code for the first time on its critical path:
// the tar reader, the extractor (directories, a file, a batch of symlinks), the layer's sha256,
// the scratch snapshot and its removal. Its bytecode comes from the code cache, but every
// property access and call site still starts without feedback (V8's inline caches miss, then
// learn) and no function has baseline code yet: a daemon's second pull spent ~7.7 ms less
// main-thread CPU than its first (bench/pull-versus --warm, busybox). warmUpUnpack runs that code
// once, on a tiny gzip layer made in memory, when the daemon has started (after the HTTP client's
// and zlib's warm-up, see src/daemon/main.ts), through the same unpacker a pull uses, into a
// scratch snapshot (snapshots/tmp/, where a crash's leftovers are removed at the next start) that
// it removes again. Nothing is committed, no store is touched.
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { tarHeader } from '../archive/tar-writer.js';
import type { LayerUnpacker } from '../pull.js';
import type { Digest } from '../digest.js';

const BLOCK = 512;

/** A ustar symlink header (tar-writer writes files and directories only). */
function symlinkHeader(name: string, target: string): Buffer {
  const h = tarHeader({ name, type: 'file', size: 0, mode: 0o777 });
  h[156] = 0x32; // '2': symlink
  h.write(target, 157, 100, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'ascii');
  return h;
}

/**
 * The warm-up layer: a directory, a 5000-byte file in it (data then padding), a few symlinks to
 * it (one batch, as busybox's applets), a file in a second directory; gzip-compressed.
 */
export function warmUpLayer(): Buffer {
  const data = Buffer.alloc(5000, 0x61);
  const parts: Buffer[] = [tarHeader({ name: 'bin/', type: 'dir' }), tarHeader({ name: 'bin/tool', type: 'file', size: data.length, mode: 0o755 }), data, Buffer.alloc(BLOCK - (data.length % BLOCK))];
  for (const n of ['sh', 'ls', 'cat', 'true']) parts.push(symlinkHeader(`bin/${n}`, '/bin/tool'));
  const etc = Buffer.from('root:x:0:0:root:/root:/bin/sh\n');
  parts.push(tarHeader({ name: 'etc/', type: 'dir' }), tarHeader({ name: 'etc/passwd', type: 'file', size: etc.length }), etc, Buffer.alloc(BLOCK - etc.length), Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(parts));
}

/** Unpacks warmUpLayer() through `unpacker` (as a pull's first layer) and removes it again. */
export async function warmUpUnpack(unpacker: Pick<LayerUnpacker, 'unpackDetached'>): Promise<void> {
  if (!unpacker.unpackDetached) return;
  const gz = warmUpLayer();
  const tap = new PassThrough({ highWaterMark: 1 << 20 });
  tap.end(gz);
  const digest = `sha256:${'0'.repeat(60)}beef` as Digest; // names only the scratch directory
  const job = await unpacker.unpackDetached(tap, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: gz.length });
  await job.discard();
}
