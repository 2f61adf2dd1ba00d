// Where a container's cgroup lives: parsing /proc/self/cgroup and /proc/self/mountinfo, telling
// v1 / hybrid / v2 apart, and resolving an OCI cgroupsPath the way runc's cgroupfs driver does:
//   - absolute ('/a/b'): relative to the root of each hierarchy;
//   - relative ('a/b'): relative to the calling process's own cgroup *in that hierarchy*
//     (/proc/self/cgroup differs per controller on v1);
//   - systemd style ('slice:prefix:name'): mapped to the path systemd would use
//     ('/system.slice/prefix-name.scope'). We never talk to systemd: the directories are made
//     by us through cgroupfs, so systemd does not know about them.
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { joinPath as join } from '../../common/join-path.js';
import { invalid } from '../../common/errors.js';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

/** One line of /proc/self/cgroup. `controllers` is [] for the v2 line (`0::/path`). */
export interface ProcCgroupEntry {
  id: number;
  controllers: string[];
  path: string;
}

export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const ctrls = line.slice(first + 1, second);
    out.push({
      id: Number(line.slice(0, first)),
      controllers: ctrls === '' ? [] : ctrls.split(','),
      path: line.slice(second + 1),
    });
  }
  return out;
}

export interface CgroupMount {
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory */
  mountPoint: string;
  /** The cgroup the mount shows as its root (field 4 of mountinfo; '/' unless in a cgroupns/bind). */
  root: string;
  fsType: 'cgroup' | 'cgroup2';
  /** v1: controllers and named hierarchies ('name=systemd') from the super options. */
  controllers: string[];
}

/** Unescapes mountinfo's octal escapes (`\040` for a space). */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const v1Options = new Set(['rw', 'ro', 'noprefix', 'xattr', 'clone_children', 'cpuset_v2_mode', 'favordynmods', 'nofavordynmods']);

export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    if (!line) continue;
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const fsType = post[0];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const root = unescapeMountField(pre[3] ?? '/');
    const mountPoint = unescapeMountField(pre[4] ?? '');
    const controllers =
      fsType === 'cgroup'
        ? (post[2] ?? '').split(',').filter((o) => o && !v1Options.has(o) && !o.startsWith('release_agent='))
        : [];
    out.push({ mountPoint, root, fsType, controllers });
  }
  return out;
}

/**
 * v2 when `root` itself is a cgroup2 mount; hybrid when v1 hierarchies sit under it and a cgroup2
 * mount is at `root/unified`; v1 otherwise. Looks at files so that a fake tree in a temp dir works.
 */
export function detectCgroupMode(root = '/sys/fs/cgroup'): CgroupMode {
  if (existsSync(join(root, 'cgroup.controllers'))) return 'v2';
  if (existsSync(join(root, 'unified', 'cgroup.controllers'))) return 'hybrid';
  return 'v1';
}

/**
 * systemd slice name → path: 'a-b-c.slice' → '/a.slice/a-b.slice/a-b-c.slice'; '-.slice' or '' → '/'.
 */
export function expandSlice(slice: string): string {
  if (slice === '' || slice === '-.slice') return '/';
  if (!slice.endsWith('.slice') || slice.includes('/')) {
    throw invalid(`invalid systemd slice name "${slice}"`, 'a slice name ends in .slice and has no "/"');
  }
  const name = slice.slice(0, -'.slice'.length);
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) {
    throw invalid(`invalid systemd slice name "${slice}"`, 'dashes separate non-empty components');
  }
  let path = '';
  let prefix = '';
  for (const part of name.split('-')) {
    prefix = prefix ? `${prefix}-${part}` : part;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** 'system.slice:hako:abc' → '/system.slice/hako-abc.scope' (an empty slice means system.slice). */
export function systemdPathToCgroupfs(spec: string): string {
  const parts = spec.split(':');
  if (parts.length !== 3) throw invalid(`invalid systemd cgroupsPath "${spec}"`, 'expected slice:prefix:name');
  const [slice, prefix, name] = parts as [string, string, string];
  if (!name) throw invalid(`invalid systemd cgroupsPath "${spec}"`, 'the name part is empty');
  const unit = name.endsWith('.slice') ? name : prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
  if (name.endsWith('.slice')) return expandSlice(name);
  return posix.join(expandSlice(slice || 'system.slice'), unit);
}

/**
 * A cgroupsPath after systemd mapping and defaulting, still absolute or relative.
 * Rejects '..' components so that no path can climb out of its hierarchy.
 */
export function normalizeCgroupsPath(cgroupsPath: string | undefined, containerId: string): string {
  let p = cgroupsPath;
  // Like runc: no cgroupsPath means a cgroup named after the container beneath our own.
  if (p === undefined || p === '') p = containerId;
  else if (!p.startsWith('/') && p.split(':').length === 3) p = systemdPathToCgroupfs(p);
  if (p.split('/').includes('..')) throw invalid(`invalid cgroupsPath "${cgroupsPath}"`, 'it must not contain ".."');
  const absolute = p.startsWith('/');
  const clean = posix.normalize(p).replace(/\/+$/, '');
  return absolute ? clean || '/' : clean.replace(/^\.\/?/, '');
}

/**
 * The cgroup path (as the hierarchy sees it, from its root) for `normalized`, where `own` is this
 * process's cgroup in that hierarchy.
 */
export function resolveInHierarchy(normalized: string, own: string): string {
  if (normalized.startsWith('/')) return normalized;
  return join(own || '/', normalized);
}

/** The directory of cgroup `cgPath` on a mount (accounts for a mount whose root is not '/'). */
export function dirOnMount(mount: { mountPoint: string; root: string }, cgPath: string): string {
  let rel = cgPath;
  if (mount.root !== '/' && (cgPath === mount.root || cgPath.startsWith(mount.root + '/'))) {
    rel = cgPath.slice(mount.root.length) || '/';
  }
  return join(mount.mountPoint, rel);
}

export function readProcInput(given: string | undefined, file: string): string {
  return given ?? readFileSync(file, 'utf8');
}
