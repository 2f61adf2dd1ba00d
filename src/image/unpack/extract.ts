// Writes tar entries into a directory, with overlayfs whiteouts and strict path safety.
//
// Safety rules (the layer is untrusted input):
//  - names are cleaned like tar does (leading '/', '.' and empty components dropped, '..'
//    resolved lexically); a name that climbs above the root is rejected;
//  - every parent component must be a real directory inside the root: it is lstat'ed (never
//    followed) the first time, then remembered; a symlink parent is rejected, so nothing is ever
//    written through a symlink;
//  - final components are created with O_CREAT|O_EXCL|O_NOFOLLOW / mkdir / symlink / link, which
//    never follow a symlink: an existing entry is removed (not followed) and the creation retried;
//  - hard link targets must name an existing non-directory inside the root through real
//    directories (link(2) does not follow a symlink target);
//  - symlinks may point anywhere: they are only followed at run time, inside the container root.
//
// All fs calls are synchronous on purpose: they run between two chunks of the decompressed
// stream while zlib inflates the next ones on the thread pool, and for thousands of small files
// the per-call cost of the async API (a thread-pool round trip per syscall) is several times the
// cost of the syscall itself (see the notes in unpack/index.ts). Once a layer has more than a few regular files, new regular files
// are created by a FileWriterPool (worker threads, file-writers.ts) instead: every decision stays
// here, and anything that could depend on a file still in flight first drains the pool (settle).
// Symlinks are the exception to "synchronous" (with batchSymlinks and the addon): symlink entries
// are validated here one by one (parents checked, the path remembered so that later entries under
// it are refused) and collected; the caller hands each input chunk's collection to one libuv pool
// job (native/addon_symlinks.c, submitLinks) and parsing goes on meanwhile. Only an entry that
// could see the difference makes the tar reader hold until every job is done (holdEntry,
// flushLinks): one at a waiting link's path (or a symlink at the path of one already submitted),
// a hard link to one, a whiteout, or a non-directory replacing a directory (which may hold
// waiting links). What a job could not create (EEXIST: a duplicate or an earlier entry) is redone
// here in tar order through createOrReplace once all jobs are done; no entry parsed meanwhile
// touches those paths, so the result is the one-by-one result. busybox's ~270 links cost this
// thread ~6 ms of kernel time (symlink + lutimes) when made one by one.
// Regular files go the same way (batchFiles, native/addon_regfiles.c) when their data is all in
// one input chunk (the data stays in the chunk: no copy); one whose data spans chunks is created
// here as it comes. Besides the holds above, an entry below a waiting file is held (it must see
// a file there, not a missing parent), a symlink at a directory's path is held while files wait
// (they may be inside), and a file at a directory's path is created here (the hold emptied the
// pool first). Finished file jobs are reaped between chunks (pace), so that their chunks are let
// go and at most MAX_FILE_JOBS wait. hakod's event loop spent ~0.3–0.5 s of CPU on debian's 5.2k
// files (open, write, futimes, close, and the JS around each with V8's optimizer off) before.
import {
  closeSync,
  constants as fsc,
  fchmodSync,
  fchownSync,
  futimesSync,
  ftruncateSync,
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { HakoError, fromSystemError } from '../../common/errors.js';
import type { TarEntry, TarHandlers, SparseSegment } from './tar-reader.js';
import { XattrBatch, mknod } from './special.js';
import { FileWriterPool } from './file-writers.js';
import { regularFilesPooled, symlinksPooled } from '../../native/fs.js';

const O_FILE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW; // libuv adds O_CLOEXEC
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
/** ext4 allows 65000 links per inode; start a new whiteout template well before. */
const MAX_TEMPLATE_LINKS = 60000;
/** Bytes queued on the writer threads above which the parser waits for them, and until when. */
const PACE_HIGH = 8 << 20;
const PACE_LOW = 4 << 20;

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}

/** The process umask from /proc/self/status (process.umask() without an argument is deprecated); -1 when unknown. */
function currentUmask(): number {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? parseInt(m[1]!, 8) : -1;
  } catch {
    return -1;
  }
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Splits a tar name into clean components; throws (via `escape`) when it climbs above the root. */
export function cleanName(name: string, escape: () => never): string[] {
  const out: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length === 0) escape();
      out.pop();
    } else out.push(p);
  }
  return out;
}

export interface ExtractorOptions {
  /** The root the layer is written into (an empty directory). */
  root: string;
  /** A scratch directory on the same filesystem, outside root (whiteout template). */
  scratch: string;
  /** `layer sha256:…`, used in every error message. */
  label: string;
  /** Apply uid/gid from the headers (needs root). */
  chown: boolean;
  /** Worker threads that create regular files once the layer has more than `poolAfter` (0: none). */
  writerThreads?: number | undefined;
  /** Regular files written on this thread before the writer threads start (default 64). */
  poolAfter?: number | undefined;
  /**
   * Create symlinks in addon jobs on the libuv pool. The caller must then honour the reader's
   * `holding` (await flushLinks(), then reader.resume()), should call submitLinks() after each
   * chunk, and must await flushLinks() before finish().
   */
  batchSymlinks?: boolean | undefined;
  /**
   * With batchSymlinks and no writer threads: create the regular files whose data is all in one
   * input chunk in addon jobs on the libuv pool too (native/addon_regfiles.c), under the same
   * rules (holding, flushLinks). Their data must be subarrays of chunks nobody writes again.
   */
  batchFiles?: boolean | undefined;
  /** Regular files created on this thread before batching them starts (default BATCH_FILES_AFTER). */
  batchFilesAfter?: number | undefined;
}

/** A regular file collected for a batch (its data: subarrays of the input chunks). */
interface PendingFile {
  e: TarEntry;
  rel: string;
  abs: string;
  slices: Buffer[];
  got: number;
}

/** A batch of regular files handed to the pool (submitLinks), reaped by pace or flushLinks. */
interface FileJob {
  files: PendingFile[];
  results: Int32Array;
  done: Promise<void>;
  finished: boolean;
}

/** Finished file jobs whose data and paths are kept (beyond these, pace waits for the oldest). */
const MAX_FILE_JOBS = 2;
/**
 * Regular files created on this thread before the batches start: a small layer (busybox: 3
 * files, 268 links) pays nothing for them (pool round trips, the holds' checks, first calls in a
 * fresh daemon: +0.6…2.3 ms of main-thread CPU per busybox pull when batched from the first).
 */
export const BATCH_FILES_AFTER = 64;

/** A symlink entry validated and waiting for its batch. */
interface PendingLink {
  e: TarEntry;
  rel: string;
  abs: string;
  atime: number;
}

/** A batch of symlinks handed to the pool (submitLinks), redone where needed by flushLinks. */
interface LinkJob {
  links: PendingLink[];
  results: Int32Array;
  done: Promise<void>;
}

export class Extractor implements TarHandlers {
  private readonly root: string;
  private readonly label: string;
  private readonly chown: boolean;
  /** Relative paths known to be real directories inside root (ancestors verified too). */
  private readonly dirs = new Set<string>(['']);
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly xattrs = new XattrBatch();
  private rootMeta: DirMeta | undefined;
  private template: string | undefined;
  private templateLinks = 0;
  private templateCount = 0;
  // The regular file being written.
  private fd = -1;
  private cur: TarEntry | undefined;
  private curPath = '';
  private sparse: { map: SparseSegment[]; idx: number; segOff: number } | undefined;
  /** The regular file being written is in the pool's hands. */
  private pooled = false;
  private pool: FileWriterPool | undefined;
  private files = 0;
  /**
   * With writer threads: every non-directory path this layer created (the root started empty), so
   * a file at any other path is new and the pool may create it.
   */
  private readonly created = new Set<string>();
  private readonly track: Set<string> | undefined;
  /** Paths handed to the pool since it last drained. */
  private readonly inflight = new Set<string>();
  /** What creation already gives an entry (so chown/chmod are skipped when they would change nothing). */
  private creation: { umask: number; owner00: boolean } | undefined;
  /** The addon's pooled symlink creation, when batching (see ExtractorOptions.batchSymlinks). */
  private readonly symlinks: ReturnType<typeof symlinksPooled>;
  /** Symlinks validated but not submitted yet, in tar order. */
  private links: PendingLink[] = [];
  /** Paths of the links collected or submitted and not yet settled by flushLinks. */
  private readonly linkPaths = new Set<string>();
  /** Paths of the links submitted (a subset of linkPaths). */
  private readonly submittedPaths = new Set<string>();
  /** Jobs submitted and not yet settled, in tar order. */
  private linkJobs: LinkJob[] = [];
  /** The addon's pooled regular-file creation, when batching files (ExtractorOptions.batchFiles). */
  private readonly regfiles: ReturnType<typeof regularFilesPooled>;
  /** The regular file whose data is being collected for the batch. */
  private pendingFile: PendingFile | undefined;
  /** Regular files collected and not submitted yet, in tar order. */
  private fileBatch: PendingFile[] = [];
  /** File jobs submitted and not yet reaped, in tar order. */
  private fileJobs: FileJob[] = [];
  /** Files a finished job could not create (redone by flushLinks, in tar order). */
  private fileRedo: Array<{ f: PendingFile; err: number; step: number }> = [];
  /** Regular-file entries seen (batching starts after BATCH_FILES_AFTER). */
  private fileEntries = 0;
  /** Paths of the files collected, submitted or waiting for a redo. */
  private readonly filePaths = new Set<string>();
  /** holdEntry's cleaned name of the entry it let through, for entry() to use. */
  private cleaned: { e: TarEntry; parts: string[] } | undefined;
  entries = 0;
  /**
   * The layer's content size as dockerd's overlay2 counts it (directory.Size of the diff dir):
   * regular files' sizes and symlinks' target lengths; hard links (size 0 in a tar), directories,
   * devices and whiteouts add nothing.
   */
  contentBytes = 0;

  constructor(private readonly opts: ExtractorOptions) {
    this.root = opts.root;
    this.label = opts.label;
    this.chown = opts.chown;
    this.track = (opts.writerThreads ?? 0) > 0 ? this.created : undefined;
    this.symlinks = opts.batchSymlinks ? symlinksPooled() : undefined;
    this.regfiles = opts.batchSymlinks && opts.batchFiles && this.symlinks && (opts.writerThreads ?? 0) === 0 ? regularFilesPooled() : undefined;
  }

  // ---- errors

  private escape(name: string): never {
    throw new HakoError({ step: `${this.label}: entry "${name}" escapes the layer directory`, kind: 'invalid-argument', hint: 'refusing to unpack a malicious or broken layer' });
  }

  private sys(what: string, name: string, err: unknown, path?: string): HakoError {
    if (err instanceof HakoError) return err;
    const e = fromSystemError(`${this.label}: ${what} "${name}"`, err, path);
    return e;
  }

  // ---- paths

  /** Verifies (and creates, when `create`) the parents of `parts`; returns the parent's relative path. */
  private parents(parts: string[], name: string, create: boolean): string {
    const n = parts.length - 1;
    if (n <= 0) return '';
    if (this.linkPaths.size > 0) this.notUnderPendingLink(parts, n, name);
    const parentRel = n === 1 ? parts[0]! : parts.slice(0, n).join('/');
    if (this.dirs.has(parentRel)) return parentRel;
    let rel = '';
    for (let i = 0; i < n; i++) {
      rel = i === 0 ? parts[0]! : rel + '/' + parts[i]!;
      if (this.dirs.has(rel)) continue;
      if (this.inflight.has(rel)) this.settle();
      const abs = this.root + '/' + rel;
      let st;
      try {
        st = lstatSync(abs, { throwIfNoEntry: false });
      } catch (e) {
        throw this.sys('inspect parent of', name, e, abs);
      }
      if (st === undefined) {
        if (!create) throw new HakoError({ step: `${this.label}: entry "${name}": parent directory "${rel}" does not exist in the layer`, kind: 'invalid-argument' });
        try {
          mkdirSync(abs, 0o755);
        } catch (e) {
          throw this.sys('create parent directory of', name, e, abs);
        }
      } else if (st.isSymbolicLink()) {
        throw new HakoError({
          step: `${this.label}: entry "${name}" escapes the layer directory through the symlink "${rel}"`,
          kind: 'invalid-argument',
          hint: 'refusing to write through a symlink',
        });
      } else if (!st.isDirectory()) {
        throw new HakoError({ step: `${this.label}: entry "${name}": parent "${rel}" is not a directory`, kind: 'invalid-argument', errno: undefined });
      }
      this.dirs.add(rel);
    }
    return parentRel;
  }

  /**
   * A symlink waiting in the batch is not on disk yet (what is there may even be a directory it
   * will replace): a parent at its path is refused as the lstat of the created link would.
   */
  private notUnderPendingLink(parts: string[], n: number, name: string): void {
    let rel = '';
    for (let i = 0; i < n; i++) {
      rel = i === 0 ? parts[0]! : rel + '/' + parts[i]!;
      if (this.linkPaths.has(rel)) {
        throw new HakoError({
          step: `${this.label}: entry "${name}" escapes the layer directory through the symlink "${rel}"`,
          kind: 'invalid-argument',
          hint: 'refusing to write through a symlink',
        });
      }
    }
  }

  /** Removes whatever is at rel (not following symlinks) and forgets what we knew below it. */
  private remove(rel: string, abs: string, name: string): void {
    if (this.inflight.has(rel)) this.settle();
    try {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) return;
      if (st.isDirectory()) {
        this.settle(); // files may be in flight below it
        rmSync(abs, { recursive: true, force: true });
        this.forgetTree(rel);
      } else {
        unlinkSync(abs);
        this.xattrs.forgetOne(rel);
      }
    } catch (e) {
      throw this.sys('replace', name, e, abs);
    }
  }

  private forgetTree(rel: string): void {
    const prefix = rel + '/';
    this.dirs.delete(rel);
    for (const d of this.dirs) if (d.startsWith(prefix)) this.dirs.delete(d);
    this.dirMeta.delete(rel);
    for (const d of this.dirMeta.keys()) if (d.startsWith(prefix)) this.dirMeta.delete(d);
    this.xattrs.forget(rel);
  }

  /** Runs `create`; on EEXIST removes what is there (unless `keepDir` and it is a directory) and retries. Returns false if an existing dir was kept. */
  private createOrReplace(rel: string, abs: string, name: string, keepDir: boolean, what: string, create: () => void): boolean {
    if (this.inflight.has(rel)) this.settle();
    this.track?.add(rel);
    try {
      create();
      return true;
    } catch (e) {
      if (errnoOf(e) !== 'EEXIST') throw this.sys(what, name, e, abs);
    }
    if (keepDir) {
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st?.isDirectory()) return false;
    }
    this.remove(rel, abs, name);
    try {
      create();
      return true;
    } catch (e) {
      throw this.sys(what, name, e, abs);
    }
  }

  // ---- attributes

  private created0(): { umask: number; owner00: boolean } {
    if (this.creation === undefined) {
      const umask = currentUmask();
      // New inodes are owned by our fsuid and, below a directory without setgid (all of ours are
      // 0755 until finish), our fsgid: root's 0:0 needs no chown.
      let owner00 = false;
      if (process.geteuid?.() === 0 && process.getegid?.() === 0) {
        try {
          const st = statSync(this.root);
          owner00 = st.uid === 0 && st.gid === 0 && (st.mode & 0o2000) === 0;
        } catch {
          owner00 = false;
        }
      }
      this.creation = { umask, owner00 };
    }
    return this.creation;
  }

  /** Whether an inode we created needs chown to get uid:gid. */
  private needsChown(uid: number, gid: number): boolean {
    return this.chown && !(uid === 0 && gid === 0 && this.created0().owner00);
  }

  /** Whether an inode created with `createdWith` needs chmod to get `mode` (setuid & co always do: chown clears them). */
  private needsChmod(mode: number, createdWith: number): boolean {
    const umask = this.created0().umask;
    return umask < 0 || (createdWith & ~umask) !== mode;
  }

  // ---- TarHandlers

  entry(e: TarEntry): void {
    this.entries++;
    if (e.type === 'file') this.contentBytes += e.sparse ? e.sparse.realSize : e.size;
    else if (e.type === 'symlink') this.contentBytes += Buffer.byteLength(e.linkname);
    const name = e.name;
    if (name.includes('\0')) throw new HakoError({ step: `${this.label}: entry name contains a NUL byte`, kind: 'invalid-argument' });
    const cleaned = this.cleaned;
    const parts = cleaned !== undefined && cleaned.e === e ? cleaned.parts : cleanName(name, () => this.escape(name));
    this.cleaned = undefined;
    if (parts.length === 0) {
      if (e.type === 'dir') this.rootMeta = { mode: e.mode, uid: e.uid, gid: e.gid, atime: e.atime ?? e.mtime, mtime: e.mtime };
      return; // "./" or "/": the root itself; anything else named "." is meaningless
    }
    const base = parts[parts.length - 1]!;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteout(parts, base, name);
      return;
    }
    const parentRel = this.parents(parts, name, true);
    const rel = parentRel === '' ? base : parentRel + '/' + base;
    const abs = this.root + '/' + rel;
    const atime = e.atime === undefined || e.atime < e.mtime ? e.mtime : e.atime;
    switch (e.type) {
      case 'file': {
        this.cur = e;
        if (this.regfiles && this.fileEntries++ >= (this.opts.batchFilesAfter ?? BATCH_FILES_AFTER) && !e.sparse && !this.dirs.has(rel)) {
          // Collected for a batch (data(), end(), submitLinks); a file replacing a directory is
          // created here (holdEntry held it until nothing was pending).
          this.track?.add(rel);
          this.pendingFile = { e, rel, abs, slices: [], got: 0 };
          this.filePaths.add(rel);
          return; // xattrs are recorded once it is created, in tar order
        }
        if (this.pool === undefined && ++this.files > (this.opts.poolAfter ?? 64) && (this.opts.writerThreads ?? 0) > 0) {
          this.pool = new FileWriterPool({ threads: this.opts.writerThreads!, label: this.label });
        }
        if (this.pool && !e.sparse && !this.created.has(rel) && !this.dirs.has(rel)) {
          // Nothing is at `rel` and its parents are verified: the pool may create it.
          this.track?.add(rel);
          this.inflight.add(rel);
          this.pool.openFile(abs, name, e.mode & 0o777);
          this.pooled = true;
          break;
        }
        this.createOrReplace(rel, abs, name, false, 'create file', () => {
          this.fd = openSync(abs, O_FILE, e.mode & 0o777);
        });
        this.curPath = abs;
        this.sparse = e.sparse ? { map: e.sparse.map, idx: 0, segOff: 0 } : undefined;
        break;
      }
      case 'dir': {
        this.createOrReplace(rel, abs, name, true, 'create directory', () => mkdirSync(abs, 0o755));
        this.dirs.add(rel);
        this.dirMeta.set(rel, { mode: e.mode, uid: e.uid, gid: e.gid, atime, mtime: e.mtime });
        break;
      }
      case 'symlink': {
        if (this.symlinks && !e.linkname.includes('\0') && Number.isFinite(atime) && Number.isFinite(e.mtime)) {
          // Created with the batch (flushLinks), which the reader waits for before the next
          // entry that is not a symlink; xattrs are recorded then, in tar order.
          if (this.inflight.has(rel)) this.settle();
          this.track?.add(rel);
          this.links.push({ e, rel, abs, atime });
          this.linkPaths.add(rel);
          return;
        }
        this.symlinkNow(e, rel, abs);
        this.symlinkAttrs(e, abs, atime);
        break;
      }
      case 'hardlink': {
        const tparts = cleanName(e.linkname, () => this.escape(`${name}" (hard link to "${e.linkname}`));
        if (tparts.length === 0) this.escape(`${name}" (hard link to "${e.linkname}`);
        const tparent = this.parents(tparts, e.linkname, false);
        const tbase = tparts[tparts.length - 1]!;
        const trel = tparent === '' ? tbase : tparent + '/' + tbase;
        if (trel === rel) break; // a link to itself: nothing to do
        if (this.inflight.has(trel)) this.settle();
        const tabs = this.root + '/' + trel;
        const st = lstatSync(tabs, { throwIfNoEntry: false });
        if (st === undefined) throw new HakoError({ step: `${this.label}: entry "${name}": hard link target "${e.linkname}" is not in the layer`, kind: 'invalid-argument' });
        if (st.isDirectory()) throw new HakoError({ step: `${this.label}: entry "${name}": hard link target "${e.linkname}" is a directory`, kind: 'invalid-argument' });
        this.createOrReplace(rel, abs, name, false, 'create hard link', () => linkSync(tabs, abs));
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const t = e.type === 'char' ? 'c' : e.type === 'block' ? 'b' : 'p';
        this.remove(rel, abs, name);
        this.track?.add(rel);
        mknod(abs, t, e.devmajor, e.devminor, `${this.label}: "${name}"`);
        try {
          if (this.chown) lchownSync(abs, e.uid, e.gid);
          chmodSync(abs, e.mode);
          lutimesSync(abs, atime, e.mtime);
        } catch (err) {
          throw this.sys('set attributes of', name, err, abs);
        }
        break;
      }
    }
    if (e.xattrs && e.type !== 'hardlink') for (const [k, v] of e.xattrs) this.xattrs.set(rel, k, v);
  }

  private symlinkNow(e: TarEntry, rel: string, abs: string): void {
    this.createOrReplace(rel, abs, e.name, false, 'create symlink', () => symlinkSync(e.linkname, abs));
  }

  private symlinkAttrs(e: TarEntry, abs: string, atime: number): void {
    try {
      if (this.needsChown(e.uid, e.gid)) lchownSync(abs, e.uid, e.gid);
      lutimesSync(abs, atime, e.mtime);
    } catch (err) {
      throw this.sys('set attributes of', e.name, err, abs);
    }
  }

  /**
   * TarHandlers.holdEntry: while links wait (collected or submitted), the reader stops before an
   * entry whose result could depend on them, until flushLinks() settled them all. Entries under
   * a waiting link are not held: entry() refuses them (notUnderPendingLink), as it would on disk.
   */
  holdEntry(e: TarEntry): boolean {
    if (this.linkPaths.size === 0 && this.filePaths.size === 0) return false;
    let bad = false;
    const parts = cleanName(e.name, () => {
      bad = true; // entry() reports it
      return undefined as never;
    });
    if (bad || parts.length === 0) return false;
    this.cleaned = { e, parts };
    const base = parts[parts.length - 1]!;
    if (base.startsWith(WHITEOUT_PREFIX)) return true; // removes a path, or marks a dir opaque
    const rel = parts.join('/');
    if (this.filePaths.has(rel) || this.underPendingFile(parts)) return true;
    if (e.type === 'symlink') {
      // A duplicate within the collection is redone in order; a link replacing a directory is
      // redone (removing the tree) only after files waiting inside it are settled.
      return this.submittedPaths.has(rel) || (this.filePaths.size > 0 && this.dirs.has(rel));
    }
    if (this.linkPaths.has(rel)) return true;
    if (e.type !== 'dir' && this.dirs.has(rel)) return true; // removes a tree that may hold waiting links or files
    if (e.type === 'hardlink') {
      const t = cleanName(e.linkname, () => {
        bad = true;
        return undefined as never;
      });
      if (!bad) {
        const trel = t.join('/');
        if (this.linkPaths.has(trel) || this.filePaths.has(trel) || this.underPendingFile(t)) return true;
      }
    }
    return false;
  }

  /** Whether a parent of `parts` is a file waiting for its batch (not on disk yet, or not done). */
  private underPendingFile(parts: string[]): boolean {
    const n = parts.length - 1;
    if (this.filePaths.size === 0 || n <= 0) return false;
    // A known directory's ancestors are all directories: none of them is a waiting file (a file
    // entry at a directory's path is not batched).
    if (this.dirs.has(n === 1 ? parts[0]! : parts.slice(0, n).join('/'))) return false;
    let rel = '';
    for (let i = 0; i < n; i++) {
      rel = i === 0 ? parts[0]! : rel + '/' + parts[i]!;
      if (this.filePaths.has(rel)) return true;
    }
    return false;
  }

  /**
   * Hands the symlinks collected so far to one job on the libuv pool (native/addon_symlinks.c)
   * without waiting for it; flushLinks() settles it.
   */
  submitLinks(): void {
    this.submitFiles();
    const links = this.links;
    if (links.length === 0) return;
    this.links = [];
    const n = links.length;
    const attrs = new Float64Array(4 * n);
    const results = new Int32Array(n);
    let spec = '';
    for (let k = 0; k < n; k++) {
      const { e, abs, atime } = links[k]!;
      spec += e.linkname + '\0' + abs + '\0';
      const chown = this.needsChown(e.uid, e.gid);
      attrs[4 * k] = atime;
      attrs[4 * k + 1] = e.mtime;
      attrs[4 * k + 2] = chown ? e.uid : -1;
      attrs[4 * k + 3] = chown ? e.gid : -1;
    }
    const done = this.symlinks!(spec, attrs, results);
    done.catch(() => undefined); // awaited by flushLinks or close
    this.linkJobs.push({ links, results, done });
    for (const l of links) this.submittedPaths.add(l.rel);
  }

  /** Hands the regular files collected so far to one job on the libuv pool (native/addon_regfiles.c). */
  private submitFiles(): void {
    const files = this.fileBatch;
    if (files.length === 0) return;
    this.fileBatch = [];
    const n = files.length;
    const attrs = new Float64Array(7 * n);
    const results = new Int32Array(2 * n);
    const data: Buffer[] = [];
    let paths = '';
    for (let k = 0; k < n; k++) {
      const { e, abs, slices } = files[k]!;
      paths += abs + '\0';
      const chown = this.needsChown(e.uid, e.gid);
      const a = 7 * k;
      attrs[a] = e.mode & 0o777;
      attrs[a + 1] = this.needsChmod(e.mode, e.mode & 0o777) ? e.mode : -1;
      attrs[a + 2] = chown ? e.uid : -1;
      attrs[a + 3] = chown ? e.gid : -1;
      attrs[a + 4] = e.atime === undefined || e.atime < e.mtime ? e.mtime : e.atime;
      attrs[a + 5] = e.mtime;
      attrs[a + 6] = slices.length;
      for (const s of slices) data.push(s);
    }
    const job: FileJob = { files, results, done: this.regfiles!(paths, attrs, data, results), finished: false };
    job.done.then(
      () => (job.finished = true),
      () => undefined, // thrown by flushLinks or close
    );
    this.fileJobs.push(job);
  }

  /**
   * Takes the finished file jobs off the front of the queue: each file's xattrs are recorded (in
   * tar order) and its path freed, its data let go; what a job could not do waits for flushLinks.
   */
  private reapFiles(): void {
    while (this.fileJobs.length > 0 && this.fileJobs[0]!.finished) {
      const { files, results } = this.fileJobs.shift()!;
      for (let k = 0; k < files.length; k++) {
        const f = files[k]!;
        const err = results[2 * k]!;
        if (err !== 0 || this.fileRedo.length > 0) {
          this.fileRedo.push({ f, err, step: results[2 * k + 1]! });
          continue;
        }
        this.filePaths.delete(f.rel);
        if (f.e.xattrs) for (const [key, v] of f.e.xattrs) this.xattrs.set(f.rel, key, v);
      }
    }
  }

  /**
   * A file of a batch again, on this thread: what a job could not create (EEXIST: an earlier
   * entry is there) goes through createOrReplace; a failure after the creation is reported.
   */
  private redoFile(f: PendingFile, err: number, step: number): void {
    const { e, rel, abs } = f;
    if (err !== 0 && step !== 0) {
      const what = step === 2 ? 'set attributes of' : 'write';
      throw this.sys(what, e.name, Object.assign(new Error(`${what} ${abs}: errno ${err}`), { errno: err }), abs);
    }
    if (err !== 0) {
      this.cur = e;
      this.createOrReplace(rel, abs, e.name, false, 'create file', () => {
        this.fd = openSync(abs, O_FILE, e.mode & 0o777);
      });
      this.curPath = abs;
      this.sparse = undefined;
      for (const s of f.slices) this.data(s);
      this.end();
    }
    if (e.xattrs) for (const [key, v] of e.xattrs) this.xattrs.set(rel, key, v);
  }

  /**
   * Submits what was collected, waits for every job, then, in tar order, redoes on this thread
   * every entry a job did not finish: an existing path (EEXIST: a duplicate in the tar, or what
   * an earlier entry made) goes through createOrReplace, so the last entry for a path wins as
   * before; other failures are reported by the same calls with their usual errors.
   */
  async flushLinks(): Promise<void> {
    this.submitLinks();
    const jobs = this.linkJobs;
    const fileJobs = this.fileJobs;
    if (jobs.length === 0 && fileJobs.length === 0 && this.fileRedo.length === 0) return;
    // Every job settles before any failure is thrown: close() must not find one still running.
    const settled = await Promise.allSettled([...jobs.map((j) => j.done), ...fileJobs.map((j) => j.done)]);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      this.linkJobs = [];
      this.fileJobs = [];
      throw (failed as PromiseRejectedResult).reason;
    }
    // Files first: no waiting link shares a path with a waiting file or lies below one (holdEntry).
    this.reapFiles();
    const redo = this.fileRedo;
    this.fileRedo = [];
    this.filePaths.clear();
    for (const { f, err, step } of redo) this.redoFile(f, err, step);
    this.linkJobs = [];
    this.submittedPaths.clear();
    this.linkPaths.clear();
    for (const { links, results } of jobs) {
      for (let k = 0; k < links.length; k++) {
        const { e, rel, abs, atime } = links[k]!;
        const r = results[k]!;
        if (r > 0) this.symlinkNow(e, rel, abs);
        if (r !== 0) this.symlinkAttrs(e, abs, atime);
        if (e.xattrs) for (const [key, v] of e.xattrs) this.xattrs.set(rel, key, v);
      }
    }
  }

  data(chunk: Buffer): void {
    const pf = this.pendingFile;
    if (pf) {
      pf.slices.push(chunk);
      pf.got += chunk.length;
      // The reader hands over all of an entry's data that the input chunk holds: less than the
      // rest means the file goes on in the next chunk. Created here and now, written as it comes.
      if (pf.got < pf.e.size) this.fileNow(pf);
      return;
    }
    if (this.pooled) {
      this.pool!.writeData(chunk);
      return;
    }
    if (this.fd < 0) return;
    try {
      if (this.sparse) this.writeSparse(chunk);
      else {
        let off = 0;
        while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
      }
    } catch (e) {
      throw this.sys('write', this.cur!.name, e, this.curPath);
    }
  }

  private writeSparse(chunk: Buffer): void {
    const s = this.sparse!;
    let off = 0;
    while (off < chunk.length) {
      const seg = s.map[s.idx];
      if (!seg) throw new HakoError({ step: `${this.label}: entry "${this.cur!.name}": sparse data longer than its map`, kind: 'invalid-argument' });
      const n = Math.min(seg.length - s.segOff, chunk.length - off);
      let done = 0;
      while (done < n) done += writeSync(this.fd, chunk, off + done, n - done, seg.offset + s.segOff + done);
      off += n;
      s.segOff += n;
      if (s.segOff === seg.length) {
        s.idx++;
        s.segOff = 0;
      }
    }
  }

  /** A collected file created on this thread after all (its data spans input chunks). */
  private fileNow(pf: PendingFile): void {
    this.pendingFile = undefined;
    this.filePaths.delete(pf.rel);
    const { e, rel, abs } = pf;
    this.createOrReplace(rel, abs, e.name, false, 'create file', () => {
      this.fd = openSync(abs, O_FILE, e.mode & 0o777);
    });
    this.curPath = abs;
    this.sparse = undefined;
    for (const s of pf.slices) this.data(s);
    if (e.xattrs) for (const [k, v] of e.xattrs) this.xattrs.set(rel, k, v);
  }

  end(): void {
    const pf = this.pendingFile;
    if (pf) {
      this.pendingFile = undefined;
      this.fileBatch.push(pf);
      return;
    }
    if (this.pooled) {
      const e = this.cur!;
      this.pooled = false;
      const chown = this.needsChown(e.uid, e.gid);
      this.pool!.closeFile(this.needsChmod(e.mode, e.mode & 0o777) ? e.mode : -1, chown ? e.uid : -1, chown ? e.gid : -1, e.atime === undefined || e.atime < e.mtime ? e.mtime : e.atime, e.mtime);
      return;
    }
    if (this.fd < 0) return;
    const e = this.cur!;
    const fd = this.fd;
    this.fd = -1;
    try {
      if (e.sparse) ftruncateSync(fd, e.sparse.realSize);
      if (this.needsChown(e.uid, e.gid)) fchownSync(fd, e.uid, e.gid);
      // After chown, which clears setuid/setgid; also undoes the umask.
      if (this.needsChmod(e.mode, e.mode & 0o777)) fchmodSync(fd, e.mode);
      const atime = e.atime === undefined || e.atime < e.mtime ? e.mtime : e.atime;
      futimesSync(fd, atime, e.mtime);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
      throw this.sys('set attributes of', e.name, err, this.curPath);
    }
    try {
      closeSync(fd);
    } catch (err) {
      throw this.sys('write', e.name, err, this.curPath);
    }
  }

  private whiteout(parts: string[], base: string, name: string): void {
    const parentRel = this.parents(parts, name, true);
    if (base === OPAQUE) {
      this.xattrs.set(parentRel === '' ? '.' : parentRel, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return; // aufs metadata (.wh..wh.plnk etc.)
    const target = base.slice(WHITEOUT_PREFIX.length);
    if (target === '' || target === '.' || target === '..') this.escape(name);
    const rel = parentRel === '' ? target : parentRel + '/' + target;
    const abs = this.root + '/' + rel;
    this.remove(rel, abs, name);
    this.track?.add(rel);
    const template = this.whiteoutTemplate(name);
    try {
      linkSync(template, abs);
    } catch (e) {
      throw this.sys('create whiteout', name, e, abs);
    }
    this.templateLinks++;
  }

  /** A 0/0 character device in the scratch dir that whiteouts are hard links to. */
  private whiteoutTemplate(name: string): string {
    if (this.template === undefined || this.templateLinks >= MAX_TEMPLATE_LINKS) {
      const p = `${this.opts.scratch}/whiteout-${this.templateCount++}`;
      mknod(p, 'c', 0, 0, `${this.label}: whiteout for "${name}"`);
      try {
        chmodSync(p, 0);
      } catch (e) {
        throw this.sys('create whiteout', name, e, p);
      }
      this.template = p;
      this.templateLinks = 0;
    }
    return this.template;
  }

  /** After the last entry: xattrs, then directory attributes (mtimes last, after their contents). */
  finish(): void {
    if (this.fd >= 0 || this.pooled || this.pendingFile) throw new HakoError({ step: `${this.label}: tar ended inside entry "${this.cur?.name}"`, kind: 'invalid-argument' });
    if (this.linkPaths.size > 0 || this.filePaths.size > 0 || this.fileBatch.length > 0) throw new HakoError({ step: `${this.label}: finish before the waiting symlinks and files were created (flushLinks)`, kind: 'internal' });
    this.settle();
    this.xattrs.apply(this.label, (rel) => (rel === '.' ? this.root : this.root + '/' + rel));
    for (const [rel, m] of this.dirMeta) this.applyDir(this.root + '/' + rel, rel, m);
    this.applyDir(this.root, '.', this.rootMeta ?? { mode: 0o755, uid: 0, gid: 0, atime: -1, mtime: -1 }, this.rootMeta === undefined);
  }

  private applyDir(abs: string, rel: string, m: DirMeta, modeOnly = false): void {
    try {
      if (!modeOnly && this.needsChown(m.uid, m.gid)) lchownSync(abs, m.uid, m.gid);
      if (this.needsChmod(m.mode, 0o755)) chmodSync(abs, m.mode);
      if (!modeOnly) utimesSync(abs, m.atime, m.mtime);
    } catch (e) {
      throw this.sys('set attributes of directory', rel, e, abs);
    }
  }

  /** Between two input chunks: hands the pool what was collected, throws its failures, waits when it is behind. */
  async pace(): Promise<void> {
    if (this.fileJobs.length > 0) {
      this.reapFiles();
      // Each job holds its chunks' data: a few at a time, and zlib keeps a pool thread.
      while (this.fileJobs.length > MAX_FILE_JOBS) {
        await this.fileJobs[0]!.done;
        this.reapFiles();
      }
    }
    const pool = this.pool;
    if (!pool) return;
    pool.flush();
    pool.check();
    if (pool.load() > PACE_HIGH) await pool.below(PACE_LOW);
  }

  /** Blocks until every file handed to the pool is written; throws the pool's first failure. */
  private settle(): void {
    if (this.pool === undefined || this.inflight.size === 0) return;
    this.pool.drainSync();
    this.inflight.clear();
  }

  /** Ends the writer threads (after finish, or after a failure: they stop first). */
  async close(failed: boolean): Promise<void> {
    for (const job of this.linkJobs) await job.done.catch(() => undefined); // nothing is created after close
    for (const job of this.fileJobs) await job.done.catch(() => undefined);
    const pool = this.pool;
    if (!pool) return;
    this.pool = undefined;
    if (failed) await pool.destroy();
    else await pool.shutdown();
  }

  /** On failure: close the open file. */
  abort(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* ignore */
      }
      this.fd = -1;
    }
  }
}
