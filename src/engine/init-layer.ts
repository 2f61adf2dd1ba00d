// An image's init layer (SnapshotStore.ensureInitLayer) is learned from the first start of a
// container created before it existed: the rootfs just mounted, before anything ran in it and
// before the start adds /.dockerenv, shows the image as its containers see it (overlay resolves
// every whiteout and opaque dir of its layers), as long as the container's upper dir is still
// empty (a `docker cp` into a created container writes there first: then nothing is learned).
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { INIT_ETC_FILES, type InitLayerFacts } from '../image/snapshot/index.js';

/** lstat, or undefined for a missing path; other errors throw. */
function lstatIfExists(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** What the image's init layer must hold, or undefined when this rootfs cannot tell. */
export function initLayerFacts(rootfs: string, upperdir: string): InitLayerFacts | undefined {
  try {
    if (readdirSync(upperdir).length > 0) return undefined;
    const dockerenv = lstatIfExists(join(rootfs, '.dockerenv')) === undefined;
    const etc = lstatIfExists(join(rootfs, 'etc'));
    if (!etc?.isDirectory()) return { dockerenv, etcFiles: [] };
    const etcFiles = INIT_ETC_FILES.filter((f) => lstatIfExists(join(rootfs, 'etc', f)) === undefined);
    return { dockerenv, etc: { mode: etc.mode & 0o7777, uid: etc.uid, gid: etc.gid }, etcFiles };
  } catch {
    return undefined;
  }
}
