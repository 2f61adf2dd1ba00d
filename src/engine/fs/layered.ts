// Looking a path up in an overlay's layers without mounting them (create, where dockerd has the
// rootfs mounted and hako does not mount it: a mount costs far more than a few lstats). Overlayfs'
// rules: the topmost layer holding a name wins; a whiteout (a 0/0 character device) hides the name
// in the layers below; a directory merges with the directories of that name below it, down to one
// marked opaque (xattr trusted.overlay.opaque=y). Symlinks are followed as the container sees them.
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { lgetxattr } from '../../native/fs.js';

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined; // ENOENT, or ENOTDIR below a file of that layer: not there
  }
}

function isOpaque(path: string): boolean {
  try {
    return lgetxattr(path, 'trusted.overlay.opaque')?.toString() === 'y';
  } catch {
    return false; // no addon or no xattr support: no opaque directories there
  }
}

/**
 * The lstat of what `path` (in the container) resolves to, symlinks followed (at most 255, the
 * last one too), in `layers` (host directories, the top one first); undefined when it does not
 * exist (or a symlink loops).
 */
export function statInLayers(layers: readonly string[], path: string): Stats | undefined {
  let pending = posix.normalize('/' + path).split('/').filter((p) => p !== '' && p !== '.');
  let done: string[] = [];
  // The layers whose directory at `done` is part of the merged directory (top first).
  let dirs: number[] = layers.map((_, i) => i);
  let st: Stats | undefined = lstatOrUndefined(layers[0] ?? '/nonexistent');
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      // Walk again from the root to the parent (the merged view of each layer differs).
      pending = [...done.slice(0, -1), ...pending];
      done = [];
      dirs = layers.map((_, i) => i);
      continue;
    }
    const rel = [...done, part].join('/');
    let found: { i: number; st: Stats } | undefined;
    for (const i of dirs) {
      const s = lstatOrUndefined(join(layers[i]!, rel));
      if (!s) continue;
      if (s.isCharacterDevice() && s.rdev === 0) break; // whiteout
      found = { i, st: s };
      break;
    }
    if (!found) return undefined;
    if (found.st.isSymbolicLink()) {
      if (++links > 255) return undefined;
      const target = readlinkSync(join(layers[found.i]!, rel));
      // Resolved again from the root (absolute targets are the container's root; relative ones
      // start in `done`): the merged directories on the way are recomputed.
      pending = [...(target.startsWith('/') ? [] : done), ...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
      done = [];
      dirs = layers.map((_, i) => i);
      continue;
    }
    st = found.st;
    if (pending.length > 0 && !st.isDirectory()) return undefined; // ENOTDIR
    const below: number[] = [];
    if (st.isDirectory()) {
      for (const i of dirs) {
        if (i < found.i) continue;
        const p = join(layers[i]!, rel);
        const s = i === found.i ? found.st : lstatOrUndefined(p);
        if (!s) continue;
        if (!s.isDirectory()) break; // a whiteout or a file ends the merge
        below.push(i);
        if (isOpaque(p)) break;
      }
    }
    dirs = below;
    done.push(part);
  }
  return st;
}
