// The file operations Node's fs lacks, mknod(2) and lsetxattr(2), through the native addon
// (native/addon_fs.c; they used to spawn `mknod` and `setfattr`, 3–5 ms a process).
//  - Whiteouts (0/0 character devices, the common case) are hard links to one template device
//    made per layer: a link allocates no inode, and overlayfs only checks "char device with
//    rdev 0" (it shares one whiteout inode the same way itself).
//  - A layer's xattrs (SCHILY.xattr.* and trusted.overlay.opaque) are collected while entries
//    are written and set at the end, when no later entry can replace their file any more.
import { HakoError, fromSystemError } from '../../common/errors.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lsetxattr, mknod as nativeMknod } from '../../native/fs.js';

/** mknod(path, type|0600, makedev(major, minor)); type 'c', 'b' or 'p'. Never follows a final symlink (EEXIST). */
export function mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, label: string): void {
  const kind = type === 'c' ? S_IFCHR : type === 'b' ? S_IFBLK : S_IFIFO;
  try {
    nativeMknod(path, kind | 0o600, type === 'p' ? 0 : major, type === 'p' ? 0 : minor);
  } catch (e) {
    if (e instanceof HakoError) throw e;
    throw fromSystemError(`create ${type === 'p' ? 'fifo' : 'device'} ${label}`, e, path);
  }
}

/** Collects xattrs for a whole layer and sets them at the end. */
export class XattrBatch {
  private readonly items = new Map<string, Map<string, Buffer>>();

  get size(): number {
    return this.items.size;
  }

  set(path: string, name: string, value: Buffer): void {
    let m = this.items.get(path);
    if (!m) this.items.set(path, (m = new Map()));
    m.set(name, value);
  }

  /** Forget everything at or below `path` (it was removed or replaced). */
  forget(path: string): void {
    if (this.items.size === 0) return;
    this.items.delete(path);
    const prefix = path + '/';
    for (const k of this.items.keys()) if (k.startsWith(prefix)) this.items.delete(k);
  }

  forgetOne(path: string): void {
    this.items.delete(path);
  }

  /**
   * Sets everything collected; `resolve` maps a collected key to the path to set it on. A failure
   * names the attribute and the entry (`set extended attribute security.capability on "bin/ping"`).
   */
  apply(label: string, resolve: (key: string) => string): void {
    for (const [key, attrs] of this.items) {
      const path = resolve(key);
      for (const [name, value] of attrs) {
        try {
          lsetxattr(path, name, value);
        } catch (e) {
          if (e instanceof HakoError) throw e;
          const errno = Math.abs((e as { errno?: number }).errno ?? 0);
          const hint = errno === 95 ? 'the filesystem of the image store does not support this attribute' : errno === 1 ? 'trusted.* and security.* attributes need root (CAP_SYS_ADMIN)' : undefined;
          const err = fromSystemError(`${label}: set extended attribute ${name} on "${key}"`, e, path);
          throw hint ? new HakoError({ step: err.step, path, errno: err.errno, hint, kind: err.kind, cause: e }) : err;
        }
      }
    }
  }
}
