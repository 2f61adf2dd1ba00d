// The file-system functions of the addon (native/addon_fs.c), typed: the calls Node's fs lacks.
// None follows a final symlink. Failures throw an Error with .errno (positive), .code and .syscall,
// which fromSystemError (src/common/errors.ts) turns into a HakoError.
import { rm } from 'node:fs/promises';
import { tempName, writeFileAtomic, type AtomicWriteOptions } from '../common/atomic-file.js';
import { native, type NativeAddon } from './addon.js';

interface FsAddon {
  fsMknod(path: string, mode: number, major?: number, minor?: number): void;
  fsLsetxattr(path: string, name: string, value: Buffer, flags?: number): void;
  fsLgetxattr(path: string, name: string): Buffer | null;
  fsLlistxattr(path: string): string[];
  fsOpenInRoot(root: string, path: string, flags: number, resolve?: number): number;
  fsDirentTypesKnown?(dir: string): boolean;
  syncFileRangeWriteAsync?(fd: number, offset: number, nbytes: number): Promise<void>;
  removeTreeAsync?(path: string): Promise<void>;
  rmdirsAsync?(paths: string[]): Promise<number[]>;
  symlinksAsync?(spec: string, attrs: Float64Array, results: Int32Array): Promise<void>;
  regularFilesAsync?(paths: string, attrs: Float64Array, data: Buffer[], results: Int32Array): Promise<void>;
  writeFileAtomicAsync?(path: string, tmp: string, data: Buffer, mode: number, durable: boolean): Promise<void>;
  writeFilesIfChangedAsync?(paths: string[], texts: string[], mode: number): Promise<void>;
}

function fsNative(): NativeAddon & FsAddon {
  return native() as NativeAddon & FsAddon;
}

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** mknod(2): `mode` is the type (S_IFCHR, S_IFBLK, S_IFIFO) | the permission bits (umask applies). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  fsNative().fsMknod(path, mode, major, minor);
}

/** lsetxattr(2): sets `name` on `path` itself (a symlink's own attributes, not its target's). */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  fsNative().fsLsetxattr(path, name, value, 0);
}

/** lgetxattr(2): the value, or null when the attribute is not set. */
export function lgetxattr(path: string, name: string): Buffer | null {
  return fsNative().fsLgetxattr(path, name);
}

/** llistxattr(2): the names of the attributes set on `path` itself. */
export function llistxattr(path: string): string[] {
  return fsNative().fsLlistxattr(path);
}

/** O_PATH (Linux's generic value; node's fs.constants lacks it): an fd that names a file without opening it. */
export const O_PATH = 0o10000000;

/**
 * openat2(2) of `path` beneath `root` with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: symlinks,
 * `..` and absolute names resolve as in a chroot at `root`, race-free (a container swapping a
 * directory for a symlink meanwhile cannot lead it out). O_CLOEXEC is added; the caller closes the fd.
 */
export function openInRoot(root: string, path: string, flags: number, resolve = 0): number {
  return fsNative().fsOpenInRoot(root, path, flags, resolve);
}

/** openat2's RESOLVE_NO_SYMLINKS (linux/openat2.h): any symlink on the way fails the open (ELOOP). */
export const RESOLVE_NO_SYMLINKS = 0x04;

/**
 * Whether readdir(3) gives the type of each entry of `dir` (d_type not DT_UNKNOWN): overlay
 * needs it of the file system under its layers. Throws without the addon's function (rebuild).
 */
export function direntTypesKnown(dir: string): boolean {
  const f = fsNative().fsDirentTypesKnown;
  if (!f) throw new Error('the native addon has no fsDirentTypesKnown: rebuild it (npm run build)');
  return f(dir);
}

/** The addon when it is built; undefined without it (the pooled calls below then fall back). */
function fsNativeIfBuilt(): (NativeAddon & FsAddon) | undefined {
  try {
    return fsNative();
  } catch {
    return undefined;
  }
}

/**
 * sync_file_range(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE) on the libuv pool: starts writing
 * the range's dirty pages back without waiting for them. Keep fd open until it settles.
 * Undefined (nothing done) without the addon.
 */
export function startWriteback(fd: number, offset: number, nbytes: number): Promise<void> | undefined {
  return fsNativeIfBuilt()?.syncFileRangeWriteAsync?.(fd, offset, nbytes);
}

/**
 * `rm -rf --one-file-system path` in one job on the libuv pool (native/addon_rmtree.c): the
 * event loop pays one dispatch, not one per entry as with fs.rm. A missing path is success;
 * symlinks are not followed; a mount inside the tree is left (EXDEV, after the rest is gone).
 * Without the addon (or an older build of it), fs.rm.
 */
export async function removeTree(path: string): Promise<void> {
  const a = fsNativeIfBuilt();
  if (!a?.removeTreeAsync) return rm(path, { recursive: true, force: true });
  return a.removeTreeAsync(path);
}

/**
 * rmdir(2) of each path in one job on the libuv pool (native/addon_rmtree.c): each one's errno
 * (0: removed). undefined without the addon (or an older build of it): the caller removes them
 * its own way.
 */
export async function rmdirs(paths: string[]): Promise<number[] | undefined> {
  const a = fsNativeIfBuilt();
  return a?.rmdirsAsync ? a.rmdirsAsync(paths) : undefined;
}

/**
 * writeFileAtomic (src/common/atomic-file.ts: a temp file beside the target, renamed over it;
 * durable: fsync'd, and its directory) in one job on the libuv pool (native/addon_atomic.c)
 * instead of four or more round trips through a FileHandle. The directory must exist. Failures
 * are the errno of the failed step (.syscall), the temp file removed. Without the addon (or an
 * older build of it), writeFileAtomic.
 */
export async function writeFileAtomicPooled(path: string, data: string | Uint8Array, opts: Pick<AtomicWriteOptions, 'mode' | 'durable'> = {}): Promise<void> {
  const a = fsNativeIfBuilt();
  if (!a?.writeFileAtomicAsync) return writeFileAtomic(path, data, { ...opts, createDir: false });
  const buf = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return a.writeFileAtomicAsync(path, tempName(path), buf, opts.mode ?? 0o600, opts.durable !== false);
}

/**
 * Small files written in place (created with `mode` when missing), each only when its content
 * differs, in one job on the libuv pool (native/addon_files.c); no symlink followed. A failure
 * rejects with the errno of its step (.syscall) and the file (.path). undefined without the addon
 * (or an older build of it): the caller writes them its own way.
 */
export function writeFilesIfChangedPooled(paths: string[], texts: string[], mode: number): Promise<void> | undefined {
  const a = fsNativeIfBuilt();
  return a?.writeFilesIfChangedAsync ? a.writeFilesIfChangedAsync(paths, texts, mode) : undefined;
}

/**
 * symlink(2) + fchownat + utimensat (AT_SYMLINK_NOFOLLOW: never the final component's target) of
 * a run of entries in one job on the libuv pool (native/addon_symlinks.c). `spec` is
 * "target\0path\0" per entry, `attrs` [atime, mtime, uid, gid] per entry (seconds; uid -1: no
 * chown); `results` receives per entry 0, the symlink's errno (nothing created), or -errno of
 * the attributes (the link exists). undefined without the addon (or an older build of it): the
 * caller creates the links itself.
 */
export function symlinksPooled(): ((spec: string, attrs: Float64Array, results: Int32Array) => Promise<void>) | undefined {
  const a = fsNativeIfBuilt();
  const f = a?.symlinksAsync;
  return f ? (spec, attrs, results) => f.call(a, spec, attrs, results) : undefined;
}

/**
 * Regular files of a layer created in one job on the libuv pool (native/addon_regfiles.c): per
 * file open(O_CREAT|O_EXCL|O_NOFOLLOW), writev of its slices, fchown, fchmod, futimens, close.
 * `paths` is "path\0" per file, `attrs` [createMode, mode, uid, gid, atime, mtime, slices] per
 * file (mode/uid -1: none; seconds), `data` every file's slices in order (not written to until the
 * job is done); `results` receives two ints per file: [0, 0] or [errno, step] (step 0: open,
 * nothing created; 1 write, 2 attributes, 3 close: the file exists). undefined without the addon
 * (or an older build of it): the caller writes the files itself.
 */
export function regularFilesPooled(): ((paths: string, attrs: Float64Array, data: Buffer[], results: Int32Array) => Promise<void>) | undefined {
  const a = fsNativeIfBuilt();
  const f = a?.regularFilesAsync;
  return f ? (paths, attrs, data, results) => f.call(a, paths, attrs, data, results) : undefined;
}
