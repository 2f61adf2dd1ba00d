// Container filesystem operations: disk usage, changes (the upper dir against the image's
// layers), tar streams for export and `cp`, path stat, and extracting a tar into a container
// without letting any symlink in the container lead outside its root.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { closeSync, constants, existsSync, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, mkdtempSync, statSync, type Stats } from 'node:fs';
import { join, posix, dirname, basename } from 'node:path';
import type { Readable } from 'node:stream';
import { HakoError, invalid, notFound } from '../../common/errors.js';
import type { Json } from '../api-types.js';
import type { MountPoint } from '../containers/record.js';
import { readFileInRoot } from './read-in-root.js';
import { followContainerSymlinks } from './paths.js';
import { O_PATH, RESOLVE_NO_SYMLINKS, openInRoot, removeTree } from '../../native/fs.js';
import { tarTypeBits } from './tar-type-bits.js';
import { archiveOwner } from '../containers/user.js';
import { rfc3339NanoUtc } from '../../common/time.js';

// promisify(execFile) at each call, not at load: node:child_process loads on first use in hakod's
// bundle (scripts/bundle.mjs, lazyBuiltins).
const run = (file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> => promisify(execFile)(file, args);

/**
 * docker's size of a directory tree (moby's directory.Size): the apparent sizes of everything
 * but directories, each inode once (hard links), so an untouched container is 0 B.
 */
export async function diskUsage(path: string): Promise<number> {
  if (!existsSync(path)) return 0;
  // find's output is read as it comes (a volume can hold millions of files: never buffered
  // whole in the daemon); only multiply-linked inodes are remembered.
  const child = spawn('find', [path, '-xdev', '!', '-type', 'd', '-printf', '%i %n %s\n'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let total = 0;
  let rest = '';
  const seen = new Set<string>();
  const add = (line: string): void => {
    const [ino, links, size] = line.split(' ');
    if (size === undefined) return;
    if (links !== '1') {
      if (seen.has(ino!)) return;
      seen.add(ino!);
    }
    total += Number(size) || 0;
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) add(line);
  });
  // Like du before it: a tree that cannot be read counts what could be (0 when find fails).
  return new Promise<number>((resolve) => {
    child.once('error', () => resolve(0));
    child.once('close', () => {
      add(rest);
      resolve(total);
    });
  });
}

/**
 * The files the engine and runtime create in a container's upper dir: the empty /.dockerenv and
 * the targets of the bind mounts of /etc/hostname, /etc/hosts and /etc/resolv.conf (docker keeps
 * them in its "-init" layer, so
 * `diff` and `commit` never show them): empty regular files there that no lower layer has, and
 * /etc itself when nothing else in it changed. Writes to these files go to the mounted ones.
 */
export function mountTargetArtifacts(upper: string, lowerdirs: string[]): Set<string> {
  const out = new Set<string>();
  const inLower = (rel: string) => lowerdirs.some((l) => existsSync(join(l, rel)));
  try {
    const st = lstatSync(join(upper, '.dockerenv'));
    if (st.isFile() && st.size === 0 && !inLower('/.dockerenv')) out.add('/.dockerenv');
  } catch {
    // not there
  }
  let names: string[];
  try {
    names = readdirSync(join(upper, 'etc'));
  } catch {
    return out;
  }
  for (const n of ['hostname', 'hosts', 'resolv.conf']) {
    const rel = `/etc/${n}`;
    try {
      const st = lstatSync(join(upper, rel));
      if (st.isFile() && st.size === 0 && !inLower(rel)) out.add(rel);
    } catch {
      // not there
    }
  }
  if (inLower('/etc') && names.every((n) => out.has(`/etc/${n}`))) {
    // /etc came up only for the mount targets: unchanged unless its own metadata differs.
    const up = lstatSync(join(upper, 'etc'));
    const low = lowerdirs.map((l) => join(l, 'etc')).find((d) => existsSync(d));
    const lo = low ? lstatSync(low) : undefined;
    if (lo && lo.mode === up.mode && lo.uid === up.uid && lo.gid === up.gid) out.add('/etc');
  }
  return out;
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** docker's container changes: [{Path, Kind}] with 0 modified, 1 added, 2 deleted. */
export function changes(upper: string, lowerdirs: string[]): Json[] {
  const out: Json[] = [];
  const inLower = (rel: string) => lowerdirs.some((l) => {
    try {
      lstatSync(join(l, rel));
      return true;
    } catch {
      return false;
    }
  });
  // Each directory is opened beneath the upper dir with no symlink on the way, and listed and
  // lstat'ed through that fd: walked by path, a running container that swapped a directory for a
  // symlink to the host between the lstat and the readdir got the host's directory listed (and
  // walked) in `docker diff` (a loop of renames won within a few hundred diffs).
  const walk = (rel: string) => {
    let fd: number;
    try {
      fd = openInRoot(upper, rel === '/' ? '.' : rel.slice(1), O_PATH | constants.O_DIRECTORY, RESOLVE_NO_SYMLINKS);
    } catch {
      return; // gone, or a symlink by now
    }
    try {
      const dir = `/proc/self/fd/${fd}`;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names.sort()) {
        const r = posix.join(rel, n);
        let st: Stats;
        try {
          st = lstatSync(`${dir}/${n}`);
        } catch {
          continue; // removed meanwhile
        }
        if (isWhiteout(st)) {
          out.push({ Path: r, Kind: 2 });
          continue;
        }
        out.push({ Path: r, Kind: inLower(r) ? 0 : 1 });
        if (st.isDirectory()) walk(r);
      }
    } finally {
      closeSync(fd);
    }
  };
  walk('/');
  const skip = mountTargetArtifacts(upper, lowerdirs);
  return skip.size === 0 ? out : out.filter((c) => !skip.has(c.Path as string));
}

/** A tar (GNU format, owners by number and host name) of `rel` (a name, or several) inside `dir`. */
export function tarStream(dir: string | PinnedDir, rel: string | readonly string[], opts: { excludeMounts?: string[]; rebase?: string } = {}): Readable {
  const names = typeof rel === 'string' ? [rel] : rel;
  // No names (an empty directory's contents): an empty archive, which tar makes only from an empty list file.
  const what = names.length === 0 ? ['-T', '/dev/null'] : ['--', ...names];
  // A pinned directory is the child's fd 3 (its own dup: closing ours does not matter to it), and
  // tar changes into it through that fd's link, never by a path a container can change meanwhile.
  const cwd = typeof dir === 'string' ? dir : '/proc/self/fd/3';
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe', ...(typeof dir === 'string' ? [] : [dir.fd])];
  // Owner names too (GNU tar looks them up on the host, as dockerd's archive package does): `root/root`, not `0/0`.
  const child = spawn('tar', ['--xattrs', '--sort=name', ...rebaseArgs(opts.rebase), '-C', cwd, '-cf', '-', ...what], { stdio });
  if (typeof dir !== 'string') dir.close();
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  // Piped at once: when a child exits, Node resumes (drops) a stdio stream nobody reads yet, and
  // callers await things (a pause, an HTTP head) before they read: a small archive came out empty.
  // With Go's file-type bits in each mode field, as dockerd's archives have them (tar-type-bits.ts).
  const out = child.stdout!.pipe(tarTypeBits(1 << 20));
  child.on('exit', (code) => {
    // 1 = "file changed as we read it": fine for a live container.
    if (code !== 0 && code !== 1) out.destroy(new HakoError({ step: `tar ${rel} in ${dir}`, hint: stderr.trim(), kind: 'internal' }));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}

/**
 * GNU tar options that rename the archived `.` (and every name and hard link target below it) to
 * `base`, as dockerd's archive rebase does; `/` gives absolute names (`/`, `/bin`, …: what dockerd
 * sends for a container's root, and what the docker CLI's rebase expects). Symlink targets stay.
 */
function rebaseArgs(base: string | undefined): string[] {
  if (base === undefined) return [];
  if (base === '/') return ['-P', '--transform', 's,^\\./,/,S', '--transform', 's,^\\.$,/,S'];
  // sed replacement text: \ and & are special, the delimiter too.
  const repl = base.replace(/[\\&,]/g, (c) => `\\${c}`);
  return ['--transform', `s,^\\.,${repl},S`];
}

/**
 * Go's filepath.Base of dockerd's absolute form of a container path: `/d/.` (trailing `/.` kept)
 * is `.`, `/d/dl/` is `dl`, `/` is `/`: the stat's name and the archive's top entry.
 */
export function containerPathBase(path: string): string {
  let abs = posix.normalize('/' + path);
  const base = (p: string) => (p === '/' ? '/' : posix.basename(p.replace(/\/+$/, '')) || '/');
  if (base(abs) !== '.' && (path === '.' || path.endsWith('/.'))) abs = (abs.endsWith('/') ? abs : abs + '/') + '.';
  return abs.endsWith('/.') ? '.' : base(abs);
}

/** The host directory and relative path for a container path, honouring bind and volume mounts. */
export function hostPathFor(rootfs: string, path: string, mounts: MountPoint[], followLast = true): string {
  return hostOf(rootfs, resolveContainerPath(rootfs, path, mounts, followLast), mounts);
}

/** The host path of a container path taken as it is (no symlink followed): in the rootfs or in the mount that holds it. */
function hostOf(rootfs: string, path: string, mounts: MountPoint[]): string {
  const { root, rel } = mountRootFor(rootfs, path, mounts);
  return rel === '/' ? root : join(root, rel.slice(1));
}

/**
 * The absolute container path `path` names, symlinks followed (at most 255; the last one when
 * `followLast`) as the container sees them: across its mounts (a symlink to a volume's mount point
 * leads into the volume, as in dockerd's mounted view; resolved in the rootfs alone, `docker cp f
 * c:/lnk/` with lnk → /vol wrote beneath the volume's mount point, where the container never sees
 * it), `..` clamped at the root. Missing components are kept as they are.
 */
export function resolveContainerPath(rootfs: string, path: string, mounts: MountPoint[], followLast = true): string {
  return followContainerSymlinks(path, (p) => hostOf(rootfs, p, mounts), followLast);
}

/** The host directory that holds a container path (the rootfs, or a bind's or volume's source) and the path within it. */
export function mountRootFor(rootfs: string, path: string, mounts: MountPoint[]): { root: string; rel: string } {
  const clean = posix.normalize('/' + path);
  const sorted = [...mounts].filter((m) => m.Type !== 'tmpfs' && m.Source).sort((a, b) => b.Destination.length - a.Destination.length);
  for (const m of sorted) {
    if (clean === m.Destination || clean.startsWith(m.Destination + '/')) return { root: m.Source, rel: clean.slice(m.Destination.length) || '/' };
  }
  return { root: rootfs, rel: clean };
}

/**
 * A directory of a container held by an O_PATH fd, opened beneath its root with openat2
 * RESOLVE_IN_ROOT: `path` (/proc/self/fd/N) reaches that very directory whatever the container
 * renames or swaps for a symlink afterwards. Resolving a path to a host path and using that path
 * later let a running container swap a directory for a symlink to the host in between: `docker
 * cp f c:/d/` wrote the host's /target/f (a loop of renames in the container won within ~25 copies).
 */
export interface PinnedDir {
  fd: number;
  /** The directory's path for this process (its /proc/self/fd link). */
  path: string;
  close(): void;
}

/** The container directory `path` (symlinks followed inside the container), pinned; notFound when it is missing or no directory. */
export function pinDir(rootfs: string, path: string, mounts: MountPoint[], container = ''): PinnedDir {
  // The mount that holds it found on the resolved path; openat2 then resolves again within that
  // root alone (identical unless the container changed something meanwhile: then it stays inside).
  const { root, rel } = mountRootFor(rootfs, resolveContainerPath(rootfs, path, mounts, true), mounts);
  let fd: number;
  try {
    fd = openInRoot(root, posix.normalize('/' + rel).slice(1) || '.', O_PATH | constants.O_DIRECTORY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw notFound(`Could not find the file ${path} in container${container ? ` ${container}` : ''}`);
    throw new HakoError({ step: `open ${path} in the container`, hint: (err as Error).message, kind: 'internal' });
  }
  let open = true;
  return {
    fd,
    path: `/proc/self/fd/${fd}`,
    close: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Runs `file` with the pinned directory as its fd 3 (its path there: /proc/self/fd/3). */
function runIn(dir: PinnedDir, file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe', dir.fd] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolvePromise() : reject(new HakoError({ step: `${file} ${args.join(' ')}`, hint: stderr.trim(), kind: 'internal' }))));
  });
}

/** A regular file's text in the container (read-in-root.ts); a missing one throws ENOENT. */
function readInContainer(rootfs: string, path: string, mounts: MountPoint[]): string {
  const { root, rel } = mountRootFor(rootfs, path, mounts);
  const text = readFileInRoot(root, rel, { label: path });
  if (text === undefined) throw Object.assign(new Error(`open ${path}: no such file or directory`), { code: 'ENOENT' });
  return text;
}

/** Go's os.FileMode bits, as docker's container path stat carries them. */
function goFileMode(st: Stats): number {
  // Added, not OR-ed: JS bitwise operators work on int32, and 2 ** 31 (ModeDir) would turn the
  // mode negative, which the docker CLI refuses ("cannot unmarshal number -2147483155").
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += 2 ** 31;
  if (st.isSymbolicLink()) m += 2 ** 27;
  if (st.isFIFO()) m += 2 ** 25;
  if (st.isSocket()) m += 2 ** 24;
  if (st.isBlockDevice()) m += 2 ** 26;
  if (st.isCharacterDevice()) m += 2 ** 26 + 2 ** 21;
  if (st.mode & 0o4000) m += 2 ** 23;
  if (st.mode & 0o2000) m += 2 ** 22;
  if (st.mode & 0o1000) m += 2 ** 20;
  return m;
}

export function statInRoot(rootfs: string, path: string, mounts: MountPoint[], container = ''): Json {
  // dockerd resolves the path's directory part in the container and lstats the last element:
  // with a trailing `/` (or `/.`) the last element is part of the directory, so a symlink there
  // is followed (`dl/` of dl → sub is a directory, no linkTarget).
  const resolved = resolveContainerPath(rootfs, path, mounts, path.endsWith('/') || path.endsWith('/.'));
  const host = hostOf(rootfs, resolved, mounts);
  // The entry is lstat'ed in its directory pinned (pinDir), not by the host path resolved above:
  // a running container swapping a directory on the way for a symlink would show a host file's
  // stat. (A file bind's source and a mount's root are the daemon's or the admin's paths.)
  const { root, rel } = mountRootFor(rootfs, resolved, mounts);
  let parent: PinnedDir | undefined;
  let st: Stats;
  let mtimeNs: bigint;
  let entry = host;
  try {
    if (rel !== '/' && lstatSafe(root)?.isDirectory()) {
      parent = pinDir(rootfs, posix.dirname(resolved), mounts, container);
      entry = `${parent.path}/${posix.basename(resolved)}`;
    }
    st = lstatSync(entry);
    // dockerd's mtime is a Go time.Time: RFC3339Nano with the file's nanoseconds.
    mtimeNs = lstatSync(entry, { bigint: true }).mtimeNs;
  } catch {
    parent?.close();
    throw notFound(`Could not find the file ${path} in container${container ? ` ${container}` : ''}`);
  }
  parent?.close();
  notDirWithSlash(path, host);
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    // (Resolved in the container: a path, whatever it names.)
    linkTarget = resolveContainerPath(rootfs, path, mounts, true);
  }
  return { name: containerPathBase(path), size: st.size, mode: goFileMode(st), mtime: rfc3339NanoUtc(mtimeNs), linkTarget };
}

export function archivePath(rootfs: string, path: string, mounts: MountPoint[], container = ''): Readable {
  const followLast = path.endsWith('/.') || path.endsWith('/');
  const resolved = resolveContainerPath(rootfs, path, mounts, followLast);
  const host = hostOf(rootfs, resolved, mounts);
  if (!existsSync(host) && !lstatSafe(host)) throw notFound(`Could not find the file ${path} in container${container ? ` ${container}` : ''}`);
  notDirWithSlash(path, host);
  const name = containerPathBase(path);
  const { root } = mountRootFor(rootfs, resolved, mounts);
  // A file bind (/etc/hosts, hostname, resolv.conf, `-v /host/f:/f`): the file itself on the
  // host, whose directory the container cannot change.
  if (!lstatSafe(root)?.isDirectory()) return name === basename(host) ? tarStream(dirname(host), basename(host)) : tarStream(host, '.', { rebase: name });
  // Else tar runs in a pinned directory (pinDir): the container may change its paths meanwhile.
  if (path.endsWith('/.')) return tarStream(pinDir(rootfs, resolved, mounts, container), '.');
  // The entries are named after the path asked for (dockerd rebases them): `dl/` of a symlink
  // dl → sub archives sub's contents as `dl/…`, the root as `/…` (the CLI's rebase needs that;
  // named after the host dir, `docker cp c:/ out` wrote `outrootfs/`).
  if (name === basename(host) || name.includes('\n')) return tarStream(pinDir(rootfs, posix.dirname(resolved), mounts, container), basename(host));
  return tarStream(pinDir(rootfs, resolved, mounts, container), '.', { rebase: name });
}

/** dockerd lstats `path/` as given: a trailing slash (or `/.`) on what is not a directory is ENOTDIR. */
function notDirWithSlash(path: string, host: string): void {
  if (!/\/\.?$/.test(path) || posix.normalize('/' + path) === '/') return;
  let st: Stats | undefined;
  try {
    st = statSync(host);
  } catch {
    st = undefined;
  }
  // dockerd's words (Go's), not describeErrno's: `lstat /etc/hostname/: not a directory`.
  if (st && !st.isDirectory()) throw new HakoError({ step: `lstat ${path}: not a directory`, kind: 'internal' });
}

function lstatSafe(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Extracts `tar` into the container directory `path`. The tar goes to a private staging dir
 * first; then each entry is placed with its parent resolved inside the container root, so a
 * symlink in the container (even `/etc -> /`) never redirects a write to the host.
 */
export async function extractInto(rootfs: string, path: string, tar: Readable, mounts: MountPoint[], opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean; user?: string; stagingParent: string }, container = ''): Promise<void> {
  const destHost = hostPathFor(rootfs, path, mounts, true);
  const st = lstatSafe(destHost);
  if (!st) throw notFound(`Could not find the file ${path} in container${container ? ` ${container}` : ''}`);
  // dockerd's error (ErrExtractPointNotDirectory): a plain one, so a 500, without the path
  if (!st.isDirectory()) throw new HakoError({ step: 'extraction point is not a directory', kind: 'internal' });
  // copyUIDGID with a container user: every entry becomes that user's (looked up after the
  // destination checks, as moby); without a user the archive's owners stay.
  const owner = opts.copyUIDGID && opts.user ? archiveOwner(opts.user, (p) => readInContainer(rootfs, p, mounts)) : undefined;
  // (`stagingParent`: a dir of the daemon's own, swept at its start — <root>/tmp for docker cp,
  // <root>/builder for a build's COPY/ADD: staged in the host's /tmp, a copy cut short by a crash
  // stayed there for good, and a large one filled a tmpfs /tmp, i.e. memory.)
  const staging = mkdtempSync(join(opts.stagingParent, 'cp-'));
  try {
    await new Promise<void>((resolvePromise, reject) => {
      // Owners as the archive gives them (dockerd, as root, untars with each header's uid/gid):
      // `docker cp` of a host file owned by 777:888 makes a 777:888 file; `owner` comes after.
      const args = ['-x', '-f', '-', '-C', staging, '--numeric-owner', '--same-owner'];
      const child = spawn('tar', args, { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      tar.on('error', (e) => {
        child.kill();
        reject(e);
      });
      child.stdin.on('error', () => undefined);
      // An empty body is an archive without entries to dockerd (Go's tar reader: EOF at once;
      // `docker cp - c:/dir </dev/null` succeeds); GNU tar calls it "not a tar archive".
      let bytes = 0;
      tar.on('data', (b: Buffer) => (bytes += b.length));
      tar.pipe(child.stdin);
      // dockerd's failed untar is a plain error (500) in its words, "Error processing tar
      // file(exit status 1): <the reader's complaint>"; here the complaint is GNU tar's first line.
      const complaint = (code: number | null) => stderr.split('\n').map((l) => l.replace(/^tar: /, '').trim()).find((l) => l !== '') ?? `tar exited with ${code}`;
      child.on('exit', (code) => (code === 0 || bytes === 0 ? resolvePromise() : reject(new HakoError({ step: `Error processing tar file(exit status ${code ?? 1}): ${complaint(code)}`, kind: 'internal' }))));
    });
    // Symlinks themselves (lchown), as moby's ChownOpts; the staging dir is not an entry.
    const entries = readdirSync(staging);
    if (owner && entries.length > 0) await run('chown', ['-R', '-h', `${owner.uid}:${owner.gid}`, '--', ...entries.map((n) => join(staging, n))]);
    const containerDest = posix.normalize('/' + path);
    const place = async (rel: string) => {
      // Each entry goes into its directory pinned by an fd (pinDir), never by a host path resolved
      // before: a running container swapping a directory for a symlink cannot redirect it.
      const dir = pinDir(rootfs, posix.join(containerDest, rel), mounts, container);
      try {
        await placeIn(rel, dir);
      } finally {
        dir.close();
      }
    };
    const placeIn = async (rel: string, dir: PinnedDir) => {
      for (const n of readdirSync(join(staging, rel))) {
        const r = posix.join(rel, n);
        const src = join(staging, r);
        const sst = lstatSync(src);
        const target = join(dir.path, n);
        const tst = lstatSafe(target);
        if (sst.isDirectory()) {
          if (tst && !tst.isDirectory()) {
            if (tst.isSymbolicLink()) {
              // follow it inside the container: place the contents where it points
              const resolved = hostPathFor(rootfs, posix.join(containerDest, r), mounts, true);
              if (lstatSafe(resolved)?.isDirectory()) {
                await place(r);
                continue;
              }
            }
            if (opts.noOverwriteDirNonDir) throw invalid(`cannot overwrite non-directory "${posix.join(containerDest, r)}" with directory "${r}"`);
            rmSync(target, { force: true });
          }
          if (!lstatSafe(target)) {
            mkdirSync(target);
            // Owner and mode through an fd of what was made (O_NOFOLLOW: a symlink swapped in
            // meanwhile is refused, never followed to the host as chown(1) would).
            let fd = -1;
            try {
              fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
              fchownSync(fd, sst.uid, sst.gid);
              fchmodSync(fd, sst.mode & 0o7777);
            } catch {
              // (as before: owner and mode are best effort)
            } finally {
              if (fd >= 0) closeSync(fd);
            }
          }
          await place(r);
        } else {
          // A mount point (the /etc/hosts, hostname, resolv.conf binds, a file bind, a volume):
          // dockerd's untar unlinks what is there first and the kernel refuses it (EBUSY), so
          // the copy fails (`docker cp f c:/etc/hosts`); cp here wrote through the mount.
          // (Where it lands in the container: through a symlinked directory too, `docker cp
          // hostname c:/etcl` with etcl → /etc.)
          const full = posix.join(resolveContainerPath(rootfs, posix.join(containerDest, rel), mounts, true), n);
          if (mounts.some((m) => m.Destination === full)) throw new HakoError({ step: `Error processing tar file(exit status 1): unlinkat ${full}: device or resource busy`, kind: 'internal' });
          if (tst?.isDirectory()) {
            if (opts.noOverwriteDirNonDir) throw invalid(`cannot overwrite directory "${posix.join(containerDest, r)}" with non-directory "${r}"`);
            // fd-relative, symlinks never followed (fs.rm walks by path: a swap inside could lead it out).
            await removeTree(target);
          }
          // cp makes the entry in the pinned directory (its fd 3); with --remove-destination it
          // unlinks what is there and creates with O_EXCL, so a symlink put there meanwhile fails it.
          await runIn(dir, 'cp', ['-a', '--no-dereference', '--remove-destination', '--', src, `/proc/self/fd/3/${n}`]);
        }
      }
    };
    await place('');
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
