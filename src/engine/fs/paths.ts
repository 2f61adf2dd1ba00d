// Path resolution inside a container's root: every symlink is resolved as the container would see
// it (absolute targets relative to the root, `..` clamped at the root), so no path can escape.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { invalid } from '../../common/errors.js';

/**
 * The absolute container path `path` names, symlinks followed (at most 255; the last one when
 * `followLast`) as the container sees them, each component looked up on the host at
 * `hostOf(<its absolute container path>)`; `..` clamped at the root. Missing components are kept
 * as they are (the result may not exist).
 */
export function followContainerSymlinks(path: string, hostOf: (abs: string) => string, followLast = true): string {
  let pending = posix.normalize('/' + path).split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    if (pending.length === 0 && !followLast) {
      done.push(part);
      break;
    }
    const hostPath = hostOf('/' + [...done, part].join('/'));
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
      if (target.startsWith('/')) done.length = 0;
      pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
      continue;
    }
    done.push(part);
  }
  return '/' + done.join('/');
}

/**
 * The host path of `path` inside `root`, following symlinks (at most 255) but never leaving root.
 * Missing components are kept as they are (the result may not exist).
 */
export function resolveInRoot(root: string, path: string, opts: { followLast?: boolean } = {}): string {
  // (The parts are single names: no '', '.', '..' or '/'; joinPath checks again.)
  const abs = followContainerSymlinks(path, (p) => join(root, p.slice(1)), opts.followLast ?? true);
  return abs === '/' ? posix.normalize(root) : join(root, abs.slice(1));
}
