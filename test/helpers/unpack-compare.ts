// Comparing a batched unpack (symlinks or regular files made in pool jobs) with one-by-one
// extraction: the reference extraction, the batched one at a given input chunking, and what a
// tree holds.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayer, TarReader, type UnpackOptions } from '../../src/image/unpack/index.js';
import { Extractor } from '../../src/image/unpack/extract.js';
import { lgetxattr } from '../../src/native/fs.js';

const TAR = 'application/vnd.oci.image.layer.v1.tar';

/**
 * Per path: type, mode, mtime, link count, content or target, a user xattr. A whiteout is a hard
 * link to a template made at unpack time (its time and link count say nothing); a parent made
 * without an entry of its own keeps the time it was made: both '-'.
 */
export function treeSnapshot(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const p = join(dir, r);
    const st = lstatSync(p);
    const kind = st.isSymbolicLink() ? `link->${readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFile() ? `file:${readFileSync(p, 'latin1')}` : st.isFIFO() ? 'fifo' : `other:${st.rdev}`;
    const whiteout = st.isCharacterDevice();
    const implicit = st.isDirectory() && st.mtimeMs > Date.now() - 600_000;
    const x = st.isFile() ? lgetxattr(p, 'user.t')?.toString() ?? '' : '';
    out.push(`${r} ${kind} ${(st.mode & 0o7777).toString(8)} ${whiteout || implicit ? '-' : st.mtimeMs} nlink=${st.isDirectory() || whiteout ? '-' : st.nlink} x=${x}`);
    if (st.isDirectory()) out.push(...treeSnapshot(dir, r));
  }
  return out;
}

/** One-by-one extraction (no pool jobs), the reference: 'ok' or `error: <message>` (label "layer t"). */
export function extractOneByOne(tar: Buffer, dest: string): string {
  mkdirSync(dest);
  const scratch = `${dest}.scratch`;
  mkdirSync(scratch);
  const x = new Extractor({ root: dest, scratch, label: 'layer t', chown: false, batchSymlinks: false });
  const r = new TarReader(x);
  try {
    r.write(tar);
    r.finish();
    x.finish();
    return 'ok';
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** unpackLayer with the tar cut into `chunk`-byte pieces: 'ok' or `error: <message>` (label "layer sha256:abc"). */
export async function extractBatched(tar: Buffer, dest: string, chunk: number, opts: Partial<UnpackOptions> = {}): Promise<string> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(tar.subarray(i, i + chunk));
  try {
    await unpackLayer(Readable.from(chunks), dest, { mediaType: TAR, digest: 'sha256:abc', chown: false, ...opts });
    return 'ok';
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}
