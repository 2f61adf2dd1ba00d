// Reading a file of a container's filesystem from the daemon (/etc/passwd and /etc/group for a
// user lookup, a build's Dockerfile): the image or the running container decides what is there,
// so the path resolves beneath the root without leaving it (openat2 RESOLVE_IN_ROOT, race-free),
// and only a regular file is ever opened for reading. A fifo there used to hang hakod's event loop
// for good (readFileSync blocks in open(2) until a writer comes: `docker exec -u nobody` after
// `mkfifo /etc/passwd` in the container); a device node would be opened on the host (a driver's
// open has effects of its own, and /dev/zero never ends).
import { closeSync, fstatSync, openSync, readSync, constants } from 'node:fs';
import { posix } from 'node:path';
import { HakoError, invalid } from '../../common/errors.js';
import { O_PATH, openInRoot } from '../../native/fs.js';

/** What the file is, in words, when it is not a regular file. */
function kindOf(st: ReturnType<typeof fstatSync>): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The text of the regular file `path` inside `root` (a host directory: a container's rootfs, a
 * volume, a build context), or undefined when it does not exist (ENOENT, ENOTDIR, a dangling or
 * looping symlink). Throws a HakoError naming `label` (default: the path) when it is something
 * else than a regular file or larger than `maxBytes` (default 16 MiB).
 */
export function readFileInRoot(root: string, path: string, opts: { maxBytes?: number; label?: string } = {}): string | undefined {
  const maxBytes = opts.maxBytes ?? 16 << 20;
  const label = opts.label ?? posix.normalize('/' + path);
  let pathFd: number;
  try {
    // O_PATH: nothing is opened yet (no fifo wait, no driver open), only named.
    pathFd = openInRoot(root, posix.normalize('/' + path).slice(1), O_PATH);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw new HakoError({ step: `open ${label}`, hint: (err as Error).message, kind: 'internal' });
  }
  let fd = -1;
  try {
    const st = fstatSync(pathFd);
    if (!st.isFile()) throw invalid(`${label} is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw invalid(`${label} is too large (${st.size} bytes, at most ${maxBytes})`);
    // Reopened for reading through the O_PATH fd's own link: the file checked, not a path again.
    fd = openSync(`/proc/self/fd/${pathFd}`, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
    const chunks: Buffer[] = [];
    let n = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size - n, 0) + 1, maxBytes - n + 1, 1 << 20));
      const got = readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      chunks.push(chunk.subarray(0, got));
      n += got;
      // (It grew while read.)
      if (n > maxBytes) throw invalid(`${label} is too large (more than ${maxBytes} bytes)`);
    }
    return Buffer.concat(chunks, n).toString('utf8');
  } finally {
    if (fd >= 0) closeSync(fd);
    closeSync(pathFd);
  }
}
