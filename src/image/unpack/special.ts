// The file operations Node's fs lacks: mknod(2) and lsetxattr(2). Until the native addon offers
// them, they go through coreutils' `mknod` and attr's `setfattr`, and are batched so that a
// layer costs at most a handful of process spawns:
//  - whiteouts (0/0 character devices, the common case) are hard links to one template device
//    made per layer; overlayfs only checks "char device with rdev 0", and shares one whiteout
//    inode the same way itself;
//  - all xattrs of a layer (SCHILY.xattr.* and trusted.overlay.opaque) are set by one
//    `setfattr -h --restore=-` fed a getfattr-format dump on stdin.
import { spawnSync } from 'node:child_process';
import { HakoError } from '../../common/errors.js';

const toolCache = new Map<string, string>();
function resolveTool(name: string, pkg: string): string {
  let p = toolCache.get(name);
  if (!p) {
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
      if (spawnSync('/bin/sh', ['-c', `test -x "$1"`, 'sh', `${dir}/${name}`]).status === 0) {
        p = `${dir}/${name}`;
        break;
      }
    }
    if (!p) throw new HakoError({ step: `run ${name}: not installed`, hint: `apt-get install ${pkg}` });
    toolCache.set(name, p);
  }
  return p;
}

function run(step: string, path: string, cmd: string, args: string[], input?: Buffer): void {
  const r = spawnSync(cmd, args, { input, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 });
  if (r.error) throw new HakoError({ step, path, errno: Math.abs((r.error as NodeJS.ErrnoException).errno ?? 5), cause: r.error });
  if (r.status !== 0) {
    const msg = r.stderr.toString().trim();
    const errno = errnoFromMessage(msg);
    throw new HakoError({ step, path, errno, hint: errno === undefined ? msg || `exit status ${r.status}` : undefined });
  }
}

const messages: Array<[RegExp, number]> = [
  [/No space left on device/i, 28],
  [/Operation not permitted/i, 1],
  [/Permission denied/i, 13],
  [/Operation not supported/i, 95],
  [/File exists/i, 17],
  [/No such file or directory/i, 2],
  [/Disk quota exceeded/i, 122],
  [/Numerical result out of range/i, 34],
  [/Argument list too long/i, 7],
];

function errnoFromMessage(msg: string): number | undefined {
  for (const [re, n] of messages) if (re.test(msg)) return n;
  return undefined;
}

/** mknod(path, type|mode, makedev(major, minor)); type 'c', 'b' or 'p'. Never follows a final symlink (mknod fails with EEXIST). */
export function mknod(path: string, type: 'c' | 'b' | 'p', major: number, minor: number, label: string): void {
  const args = ['-m', '0600', '--', path, type];
  if (type !== 'p') args.push(String(major), String(minor));
  run(`create ${type === 'p' ? 'fifo' : 'device'} ${label}`, path, resolveTool('mknod', 'coreutils'), args);
}

/** Collects xattrs for a whole layer and sets them with one setfattr call. */
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

  entriesForApply(): IterableIterator<[string, Map<string, Buffer>]> {
    return this.items.entries();
  }

  forgetOne(path: string): void {
    this.items.delete(path);
  }

  /** Runs setfattr once for everything collected. `cwd` makes the dump's paths short and relative. */
  apply(label: string): void {
    if (this.items.size === 0) return;
    const parts: string[] = [];
    for (const [path, attrs] of this.items) {
      parts.push(`# file: ${quote(path)}\n`);
      for (const [name, value] of attrs) parts.push(`${quote(name)}=0x${value.toString('hex')}\n`);
      parts.push('\n');
    }
    const first = this.items.keys().next().value as string;
    run(`set extended attributes in ${label}`, first, resolveTool('setfattr', 'attr'), ['-h', '--restore=-'], Buffer.from(parts.join(''), 'utf8'));
  }
}

/** getfattr's quoting: backslash, newline, '=' and control/non-ASCII bytes as \ooo. */
function quote(s: string): string {
  const b = Buffer.from(s, 'utf8');
  let out = '';
  for (const c of b) {
    if (c <= 0x20 || c >= 0x7f || c === 0x5c || c === 0x3d) out += '\\' + c.toString(8).padStart(3, '0');
    else out += String.fromCharCode(c);
  }
  return out;
}
