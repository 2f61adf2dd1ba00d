// Path resolution inside a container's root: every symlink is resolved as the container would see
// it (absolute targets relative to the root, `..` clamped at the root), so no path can escape.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { invalid } from '../../common/errors.js';

/**
 * The host path of `path` inside `root`, following symlinks (at most 255) but never leaving root.
 * Missing components are kept as they are (the result may not exist).
 */
export function resolveInRoot(root: string, path: string, opts: { followLast?: boolean } = {}): string {
  const followLast = opts.followLast ?? true;
  let pending = posix.normalize('/' + path).split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    // (done's parts are single names: no '', '.', '..' or '/'; joinPath checks again.)
    const hostPath = join(root, done.length > 0 ? `${done.join('/')}/${part}` : part);
    if (pending.length === 0 && !followLast) {
      done.push(part);
      break;
    }
    let st;
    try {
      st = lstatSync(hostPath);
    } catch {
      done.push(part);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++links > 255) throw invalid(`resolve ${path} in the container: too many levels of symbolic links`);
      const target = readlinkSync(hostPath);
      const parts = target.split('/').filter((p) => p !== '' && p !== '.');
      if (target.startsWith('/')) done.length = 0;
      pending = [...parts, ...pending];
      continue;
    }
    done.push(part);
  }
  return done.length > 0 ? join(root, done.join('/')) : posix.normalize(root);
}
