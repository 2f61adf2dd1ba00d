// A build's context on disk: the tar the client sent, unpacked (plain or gzip) into a private
// directory; .dockerignore applied; COPY/ADD sources found in it (wildcards, no path out of the
// context: symlinks resolve inside it as docker's FollowSymlinkInScope does), their checksum for
// the layer cache, and the tree a COPY/ADD lays down (staged, then extracted into the build
// container's rootfs by the engine's putArchive, which never leaves the rootfs either).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, chmodSync, utimesSync, openSync, readSync, closeSync, lchownSync } from 'node:fs';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { HakoError, invalid } from '../common/errors.js';
import { ignoreMatcher, parseDockerignore } from '../build/dockerignore.js';
import { resolveInRoot } from './fs/paths.js';
import { readFileInRoot } from './fs/read-in-root.js';
import { decompress, sniffArchiveCompression } from '../image/unpack/decompress.js';

/** Runs tar(1) with `input` on its stdin; rejects with its stderr. */
export function untar(input: Readable, dir: string, extra: string[] = [], what = 'build context'): Promise<void> {
  return new Promise((resolve, reject) => {
    // As root tar keeps modes; owners come from the archive only where the builder chowns anyway.
    const child = spawn('tar', ['-x', '--no-same-owner', '-C', dir, '-f', '-', ...extra], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.stdin.on('error', () => undefined);
    input.on('error', (e) => {
      child.kill();
      reject(e);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(invalid(`unpack the ${what}`, stderr.trim() || `tar exited with ${code}`))));
    input.pipe(child.stdin);
  });
}

/**
 * The context tar, decompressed as dockerd's DecompressStream does it (gzip, bzip2, xz, zstd, by
 * their magic; tar(1) refuses a compressed archive on a pipe without a flag): the same
 * decompression as `docker import` and `docker load` (../image/unpack/decompress.ts).
 */
export async function decompressed(input: Readable): Promise<Readable> {
  const d = await decompress(input, undefined, { archive: true });
  return Readable.from(d.chunks, { objectMode: false });
}

/** gzip, bzip2, xz or a plain tar (ustar magic at 257), by the first bytes of a file. */
export function archiveKind(file: string): 'gzip' | 'bzip2' | 'xz' | 'tar' | undefined {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(512);
    const head = b.subarray(0, readSync(fd, b, 0, 512, 0));
    const kind = sniffArchiveCompression(head);
    if (kind === 'gzip' || kind === 'bzip2' || kind === 'xz') return kind;
    if (kind === 'none' && head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Removes what .dockerignore leaves out (the Dockerfile is read before). */
export function applyDockerignore(dir: string): void {
  // (Only a regular file is read: a fifo named .dockerignore hung the daemon; read-in-root.ts.)
  const text = readFileInRoot(dir, '.dockerignore');
  if (text === undefined) return;
  const ignored = ignoreMatcher(parseDockerignore(text));
  const walk = (rel: string): boolean => {
    // Returns whether anything is kept beneath rel.
    let kept = false;
    for (const n of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      const p = join(dir, r);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        const keepSome = walk(r);
        if (!keepSome && ignored(r)) rmSync(p, { recursive: true, force: true });
        else kept = true;
      } else if (ignored(r)) rmSync(p, { force: true });
      else kept = true;
    }
    return kept;
  };
  walk('');
}

/** A source named in COPY/ADD: its path in the context and the context-relative name. */
export interface Source {
  host: string;
  rel: string;
  /** Downloaded by ADD: never extracted (dockerd's noDecompress). */
  remote?: boolean;
}

const WILDCARD = /[*?[]/;

function forbidden(instr: string, src: string): HakoError {
  return new HakoError({ step: `${instr} failed: forbidden path outside the build context: ${src} ()`, kind: 'forbidden' });
}

function notInContext(instr: string, rel: string): HakoError {
  return invalid(`${instr} failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`);
}

/** The sources a COPY/ADD source word names in `root` (a context, or another stage's files). */
export function findSources(root: string, src: string, instr = 'COPY'): Source[] {
  const clean = posix.normalize(src);
  if (clean === '..' || clean.startsWith('../')) throw forbidden(instr, src);
  const rel = posix.normalize('/' + clean).slice(1);
  if (!WILDCARD.test(rel)) {
    const host = resolveInRoot(root, rel);
    try {
      lstatSync(host);
    } catch {
      throw notInContext(instr, rel);
    }
    return [{ host, rel }];
  }
  // Wildcards: every path of the context that matches (docker's filepath.Match, element by element).
  const parts = rel.split('/');
  let found: Source[] = [{ host: root, rel: '' }];
  for (const part of parts) {
    const re = globRegex(part);
    const next: Source[] = [];
    for (const f of found) {
      let names: string[];
      try {
        names = readdirSync(resolveInRoot(root, f.rel)).sort();
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n)) next.push({ host: '', rel: f.rel ? `${f.rel}/${n}` : n });
    }
    found = next;
  }
  if (found.length === 0) throw invalid(`${instr} failed: no source files were specified`);
  return found.map((f) => ({ host: resolveInRoot(root, f.rel), rel: f.rel }));
}

function globRegex(part: string): RegExp {
  let re = '^';
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = part.indexOf(']', i + 1);
      if (close < 0) throw invalid(`syntax error in pattern ${part}`);
      let cls = part.slice(i + 1, close);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < part.length) re += `\\${part[++i]}`;
    else re += /[.+^${}()|\]\\/]/.test(c) ? `\\${c}` : c;
  }
  return new RegExp(re + '$', 's');
}

/**
 * Checksum of a source (docker's `file:<hex>` / `dir:<hex>`): names, types, modes, link targets and
 * contents, not times or owners (docker's cache ignores mtime and atime).
 */
export function sourceChecksum(host: string): string {
  const h = createHash('sha256');
  const st = lstatSync(host);
  const visit = (p: string, rel: string): void => {
    const s = lstatSync(p);
    h.update(`${rel}\0${s.mode.toString(8)}\0`);
    if (s.isSymbolicLink()) h.update(`link:${readlinkSync(p)}\0`);
    else if (s.isFile()) h.update(`${s.size}\0`).update(readFileSync(p)).update('\0');
    else if (s.isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n), `${rel}/${n}`);
  };
  visit(host, '.');
  return `${st.isDirectory() ? 'dir' : 'file'}:${h.digest('hex')}`;
}

/** Docker's `multi:<hex>` for several sources, else the one source's checksum. */
export function combinedChecksum(sums: string[]): string {
  if (sums.length === 1) return sums[0]!;
  return `multi:${createHash('sha256').update(sums.join(',')).digest('hex')}`;
}

/** Copies `src` (file, dir, symlink) to `dst` keeping modes and times; symlinks stay symlinks. */
export function copyTree(src: string, dst: string, owner: { uid: number; gid: number }): void {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    rmSync(dst, { force: true });
    symlinkSync(readlinkSync(src), dst);
    lchownSync(dst, owner.uid, owner.gid);
    return;
  }
  if (st.isDirectory()) {
    mkdirSync(dst, { recursive: true });
    for (const n of readdirSync(src)) copyTree(join(src, n), join(dst, n), owner);
    chmodSync(dst, st.mode & 0o7777);
  } else if (st.isFile()) {
    copyFileSync(src, dst);
    chmodSync(dst, st.mode & 0o7777);
  } else {
    // Devices, fifos and sockets are not copied from a context (docker's archive skips sockets too).
    return;
  }
  chownSync(dst, owner.uid, owner.gid);
  utimesSync(dst, st.atime, st.mtime);
}

/** Makes `dir` (relative to `root`) and its missing parents, owned by `owner`, mode 0755. */
export function mkdirOwned(root: string, dir: string, owner: { uid: number; gid: number }): string {
  let p = root;
  for (const part of dir.split('/').filter((x) => x !== '')) {
    p = join(p, part);
    try {
      mkdirSync(p, 0o755);
      chownSync(p, owner.uid, owner.gid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return p;
}

/** Chowns everything beneath dir (a tar ADD extracted) to owner. */
export function chownTree(dir: string, owner: { uid: number; gid: number }): void {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    lchownSync(p, owner.uid, owner.gid);
    if (lstatSync(p).isDirectory()) chownTree(p, owner);
  }
}
