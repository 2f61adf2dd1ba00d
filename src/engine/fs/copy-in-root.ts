// Copies a directory's contents into a directory that others may change meanwhile (a volume a
// running container shares: the copy-up of an image's files into an empty volume), never leaving
// it. `cp -a src/. dest` walked dest by path: a container that swapped a directory the copy had
// just made for a symlink to the host (`/vol/bin` → /some/host/dir) got the rest of that
// directory written on the host, as root. Here each destination directory is opened beneath the
// root with openat2 RESOLVE_IN_ROOT (a symlink swapped in resolves inside the root), and every
// entry is made through that fd: directories by mkdir on its /proc/self/fd link (the last
// component is never followed), owner and mode by an fd opened O_NOFOLLOW, the other entries by
// one `cp -a` per directory whose destination is the pinned fd (cp's --remove-destination
// creates with O_EXCL: a symlink put there meanwhile fails it instead of being followed).
import { spawn } from 'node:child_process';
import { closeSync, constants, fchmodSync, fchownSync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { HakoError } from '../../common/errors.js';
import { O_PATH, openInRoot } from '../../native/fs.js';

/** Names per cp (an argument list far below ARG_MAX for any name length the kernel allows). */
const CP_BATCH = 256;

/** `cp -a --no-dereference` of `sources` into the directory that is the child's fd 3. */
function cpInto(dirFd: number, sources: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['-a', '--no-dereference', '--remove-destination', '--', ...sources, '/proc/self/fd/3/'];
    const child = spawn('cp', args, { stdio: ['ignore', 'ignore', 'pipe', dirFd] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new HakoError({ step: `copy ${sources.length === 1 ? sources[0] : `${sources.length} files`}`, hint: stderr.trim() || `cp exited with ${code}`, kind: 'internal' }))));
  });
}

/**
 * Copies the contents of `src` (a directory nobody changes meanwhile) into `root` (which others
 * may change), with owners, modes and times, never outside `root`.
 */
export async function copyTreeInRoot(src: string, root: string): Promise<void> {
  const copyDir = async (from: string, rel: string): Promise<void> => {
    let fd: number;
    try {
      fd = openInRoot(root, rel === '' ? '.' : rel, O_PATH | constants.O_DIRECTORY);
    } catch (err) {
      // A directory this copy made, swapped for something else meanwhile.
      throw new HakoError({ step: `copy into ${join(root, rel)}`, hint: `it changed while it was filled (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, kind: 'conflict' });
    }
    try {
      const files: string[] = [];
      const dirs: string[] = [];
      for (const n of readdirSync(from)) (lstatSync(join(from, n)).isDirectory() ? dirs : files).push(join(from, n));
      for (let i = 0; i < files.length; i += CP_BATCH) await cpInto(fd, files.slice(i, i + CP_BATCH));
      for (const d of dirs) {
        const name = posix.basename(d);
        const st = lstatSync(d);
        const target = `/proc/self/fd/${fd}/${name}`;
        try {
          mkdirSync(target, 0o700);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        await copyDir(d, posix.join(rel, name));
        // Owner, mode and times once its contents are in (O_NOFOLLOW: a symlink swapped in is
        // refused, never followed); ELOOP/ENOTDIR: it was swapped, its contents went inside anyway.
        let dfd = -1;
        try {
          dfd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
          fchownSync(dfd, st.uid, st.gid);
          fchmodSync(dfd, st.mode & 0o7777);
          futimesSync(dfd, st.atime, st.mtime);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ELOOP' && code !== 'ENOTDIR' && code !== 'ENOENT') throw err;
        } finally {
          if (dfd >= 0) closeSync(dfd);
        }
      }
    } finally {
      closeSync(fd);
    }
  };
  await copyDir(src, '');
}
