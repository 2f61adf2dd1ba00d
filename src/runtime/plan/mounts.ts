// The filesystem half of a new container's plan, before pivot_root: spec mounts in order,
// cgroup mounts, device nodes and the /dev symlinks. Every container path is resolved inside the
// rootfs (`inRoot: true`), so a symlink in the image cannot send a mount outside it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import { invalid } from '../../common/errors.js';
import { joinPath } from '../../common/join-path.js';
import { MS, type PlanOp } from '../../native/plan.js';
import type { Device, IdMapping, Mount, Spec } from '../spec/types.js';
import { parseMountOptions, REMOUNT_FLAG_MASK } from './mount-options.js';
import type { CgroupLayout, SourceKind } from './types.js';

export interface MountContext {
  spec: Spec;
  bundle: string;
  /** The process is in a user namespace other than the host's (new or joined). */
  inUserNs: boolean;
  /** The user namespace is new and these are its mappings (to check uid=/gid= options). */
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  /** The network namespace belongs to our user namespace (new, or joined together with a joined user ns). */
  ownNetNs: boolean;
  /** The container has a cgroup namespace (new or joined). */
  cgroupNs: boolean;
  statSource: (path: string) => SourceKind;
  cgroupLayout: () => CgroupLayout;
  warnings: string[];
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;
const CGROUP_BASE_FLAGS = MS.NOSUID | MS.NODEV | MS.NOEXEC;

export function defaultStatSource(path: string): SourceKind {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/** Normalized absolute container path (no trailing slash, no `..` escaping `/`). */
/** Absolute, without empty, "." or ".." segments and without a trailing slash. */
const CLEAN_PATH = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

export function cleanPath(p: string): string {
  // Most paths in a spec are clean already: a regex test instead of path.normalize's loop over
  // every character (a run plans ~30 of them; with the cgroup paths it got that loop optimized
  // by TurboFan on every start, ~3 ms of CPU for a compile that never finished before the exit).
  if (CLEAN_PATH.test(p)) return p;
  const n = posix.normalize(posix.join('/', p));
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function mapped(id: number, maps: IdMapping[]): boolean {
  return maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
}

/** Drops uid=/gid= options naming ids the new user ns does not map (the kernel says EINVAL). */
function dropUnmappedIdOptions(options: string[] | undefined, ctx: MountContext, where: string): string[] | undefined {
  if (!options || ctx.uidMappings.length === 0) return options;
  return options.filter((o) => {
    const m = /^(uid|gid)=(\d+)$/.exec(o);
    if (!m) return true;
    const ok = mapped(Number(m[2]), m[1] === 'uid' ? ctx.uidMappings : ctx.gidMappings);
    if (!ok) ctx.warnings.push(`${where}: option ${o} dropped: that id is not mapped in the user namespace`);
    return ok;
  });
}

function bindOps(source: string, dest: string, flags: number, propagation: number[], kind: Exclude<SourceKind, 'missing'>): PlanOp[] {
  const ops: PlanOp[] = [];
  ops.push(kind === 'dir' ? { op: 'mkdirs', path: dest, mode: 0o755, inRoot: true } : { op: 'touch', path: dest, mode: 0o644, inRoot: true });
  ops.push({ op: 'mount', source, target: dest, fstype: null, flags: MS.BIND | (flags & MS.REC), data: null, inRoot: true });
  // MS_BIND ignores every other flag: ro, nosuid, ... need a second (remount) call.
  const rest = flags & REMOUNT_FLAG_MASK;
  if (rest !== 0) ops.push({ op: 'remount', target: dest, flags: rest, inRoot: true });
  for (const p of propagation) ops.push({ op: 'mount', source: null, target: dest, fstype: null, flags: p, data: null, inRoot: true });
  return ops;
}

function cgroupOps(m: Mount, dest: string, flags: number, propagation: number[], ctx: MountContext, where: string): PlanOp[] {
  const layout = ctx.cgroupLayout();
  const ops: PlanOp[] = [];
  const mntFlags = flags | CGROUP_BASE_FLAGS;
  const roFlags = (flags & REMOUNT_FLAG_MASK) | CGROUP_BASE_FLAGS;
  ops.push({ op: 'mkdirs', path: dest, mode: 0o755, inRoot: true });
  if (layout.version === 2) {
    if (ctx.cgroupNs) {
      ops.push({ op: 'mount', source: 'cgroup2', target: dest, fstype: 'cgroup2', flags: mntFlags, data: null, inRoot: true });
    } else if (layout.containerDir) {
      ops.push({ op: 'mount', source: layout.containerDir, target: dest, fstype: null, flags: MS.BIND, data: null, inRoot: true });
      ops.push({ op: 'remount', target: dest, flags: roFlags, inRoot: true });
    } else {
      ctx.warnings.push(`${where}: cgroup mount on ${dest} skipped: no cgroup namespace and the container's cgroup directory is unknown`);
      return [];
    }
  } else {
    // v1: a tmpfs holding one directory per hierarchy, like the host's /sys/fs/cgroup.
    const hierarchies = layout.hierarchies ?? [];
    const usable = ctx.cgroupNs ? hierarchies : hierarchies.filter((h) => h.containerDir);
    if (usable.length === 0) {
      ctx.warnings.push(`${where}: cgroup mount on ${dest} skipped: ${ctx.cgroupNs ? 'no cgroup v1 hierarchy found' : "no cgroup namespace and the container's cgroup directories are unknown"}`);
      return [];
    }
    ops.push({ op: 'mount', source: 'tmpfs', target: dest, fstype: 'tmpfs', flags: (flags & ~MS.RDONLY) | CGROUP_BASE_FLAGS, data: 'mode=755', inRoot: true });
    for (const h of usable) {
      const sub = joinPath(dest, h.name);
      ops.push({ op: 'mkdirs', path: sub, mode: 0o755, inRoot: true });
      if (ctx.cgroupNs) {
        ops.push({ op: 'mount', source: 'cgroup', target: sub, fstype: 'cgroup', flags: mntFlags, data: h.options, inRoot: true });
      } else {
        ops.push({ op: 'mount', source: h.containerDir!, target: sub, fstype: null, flags: MS.BIND, data: null, inRoot: true });
        ops.push({ op: 'remount', target: sub, flags: roFlags, inRoot: true });
      }
      // cpu -> cpu,cpuacct like the host has.
      if (h.name.includes(',')) {
        for (const part of h.name.split(',')) ops.push({ op: 'symlink', target: h.name, path: joinPath(dest, part), inRoot: true, ignoreExisting: true });
      }
    }
    if (flags & MS.RDONLY) ops.push({ op: 'remount', target: dest, flags: roFlags | MS.RDONLY, inRoot: true });
  }
  for (const p of propagation) ops.push({ op: 'mount', source: null, target: dest, fstype: null, flags: p, data: null, inRoot: true });
  void m;
  return ops;
}

/** Ops for spec.mounts[i]. */
export function mountOps(m: Mount, i: number, ctx: MountContext): PlanOp[] {
  const where = `mounts[${i}]`;
  if (m.uidMappings || m.gidMappings) throw invalid(`config.json: ${where}: idmapped mounts (uidMappings/gidMappings) are not supported yet`);
  const dest = cleanPath(m.destination);
  const options = dropUnmappedIdOptions(m.options, ctx, where);
  const { flags, propagation, data } = parseMountOptions(options, `${where} (${dest})`);
  const type = m.type && m.type !== 'none' ? m.type : undefined;
  const isBind = type === 'bind' || (flags & MS.BIND) !== 0;

  if (isBind) {
    if (!m.source) throw invalid(`config.json: ${where}.source is required for a bind mount`);
    // (An absolute clean source is what path.resolve returns for it: no normalizing loop.)
    const source = CLEAN_PATH.test(m.source) ? m.source : resolve(ctx.bundle, m.source);
    const kind = ctx.statSource(source);
    if (kind === 'missing') throw invalid(`config.json: ${where}: bind source ${source}: no such file or directory`);
    return bindOps(source, dest, flags, propagation, kind);
  }
  if (!type) throw invalid(`config.json: ${where}.type is required (except for bind mounts)`);
  if (type === 'cgroup' || type === 'cgroup2') return cgroupOps(m, dest, flags, propagation, ctx, where);
  if (type === 'sysfs' && ctx.inUserNs && !ctx.ownNetNs) {
    // sysfs can only be mounted by the owner of the network namespace (EPERM otherwise):
    // bind the host's /sys read-only instead, as runc does for rootless containers.
    ctx.warnings.push(`${where}: sysfs needs a network namespace owned by the user namespace; binding the host's /sys read-only instead`);
    return bindOps('/sys', dest, flags | MS.REC | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, propagation, 'dir');
  }
  const ops: PlanOp[] = [{ op: 'mkdirs', path: dest, mode: 0o755, inRoot: true }];
  ops.push({ op: 'mount', source: m.source ?? type, target: dest, fstype: type, flags, data, inRoot: true });
  for (const p of propagation) ops.push({ op: 'mount', source: null, target: dest, fstype: null, flags: p, data: null, inRoot: true });
  return ops;
}

const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** Whether this kernel has /proc/kcore (CONFIG_PROC_KCORE; one stat, as runc does per container). */
export function hostHasKcore(): boolean {
  return existsSync('/proc/kcore');
}

/**
 * Device nodes (defaults + linux.devices; a spec device replaces a default with the same path)
 * and the /dev symlinks (/dev/core only when the kernel has /proc/kcore, like runc). Skipped
 * when /dev is a bind mount of a host directory.
 */
export function deviceOps(spec: Spec, inUserNs: boolean, withKcore: boolean): PlanOp[] {
  const mounts = spec.mounts ?? [];
  const devMount = mounts.find((m) => cleanPath(m.destination) === '/dev');
  if (devMount && (devMount.type === 'bind' || (devMount.options ?? []).some((o) => o === 'bind' || o === 'rbind'))) return [];
  const byPath = new Map<string, Device>();
  for (const d of DEFAULT_DEVICES) byPath.set(d.path, d);
  for (const d of spec.linux?.devices ?? []) byPath.set(cleanPath(d.path), { ...d, path: cleanPath(d.path) });

  const ops: PlanOp[] = [];
  // mknod applies the umask; the process's own umask is set again at the end.
  if (!inUserNs) ops.push({ op: 'umask', mask: 0 });
  for (const d of byPath.values()) {
    const dir = posix.dirname(d.path);
    if (dir !== '/dev') ops.push({ op: 'mkdirs', path: dir, mode: 0o755, inRoot: true });
    if (inUserNs) {
      // mknod is not allowed in a user namespace (EPERM): bind the host's node instead.
      ops.push({ op: 'touch', path: d.path, mode: 0o644, inRoot: true });
      ops.push({ op: 'mount', source: d.path, target: d.path, fstype: null, flags: MS.BIND, data: null, inRoot: true });
    } else {
      const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
      ops.push({ op: 'mknod', path: d.path, mode: kind | ((d.fileMode ?? 0o666) & 0o7777), major: d.major ?? 0, minor: d.minor ?? 0, uid: d.uid ?? 0, gid: d.gid ?? 0, inRoot: true });
    }
  }
  const dests = new Set(mounts.map((m) => cleanPath(m.destination)));
  const links: Array<[string, string]> = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];
  if (dests.has('/dev/pts')) links.push(['pts/ptmx', '/dev/ptmx']);
  if (dests.has('/proc') && withKcore) links.push(['/proc/kcore', '/dev/core']);
  for (const [target, path] of links) ops.push({ op: 'symlink', target, path, inRoot: true, ignoreExisting: true });
  return ops;
}

/** The controllers a v1 cgroup mount can name (anything else in the super options is not a selector). */
const V1_CONTROLLERS = new Set(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc']);

/**
 * The host's cgroup layout from a mountinfo text (default /proc/self/mountinfo): v2 when
 * /sys/fs/cgroup is cgroup2, else one hierarchy per v1 `cgroup` mount below /sys/fs/cgroup.
 */
export function detectCgroupLayout(mountinfo?: string): CgroupLayout {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return { version: 2 };
    }
  }
  const hierarchies: CgroupLayout['hierarchies'] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = left[4];
    const fstype = right[0];
    if (!mountPoint) continue;
    if (fstype === 'cgroup2' && mountPoint === '/sys/fs/cgroup') return { version: 2 };
    if (fstype !== 'cgroup' || posix.dirname(mountPoint) !== '/sys/fs/cgroup') continue;
    const superOpts = (right[2] ?? '').split(',');
    const ctrls = superOpts.filter((o) => V1_CONTROLLERS.has(o));
    const named = superOpts.filter((o) => o.startsWith('name='));
    const options = ctrls.length > 0 ? [...ctrls, ...named].join(',') : ['none', ...named].join(',');
    hierarchies.push({ name: posix.basename(mountPoint), options });
  }
  return hierarchies.length > 0 ? { version: 1, hierarchies } : { version: 2 };
}

/**
 * `layout` with the container's own cgroup directories filled in from `paths` (the cgroup
 * manager's controller → host dir map recorded at create): a v1 hierarchy takes the dir of the
 * first controller or `name=` it selects; v2 takes `paths.unified`. Dirs already in the layout
 * stay; a hierarchy the container was not placed in keeps none (its mount is then left out
 * without a cgroup namespace, as runc does for hierarchies it did not join).
 */
export function withContainerDirs(layout: CgroupLayout, paths: Record<string, string> | undefined): CgroupLayout {
  if (!paths) return layout;
  if (layout.version === 2) return layout.containerDir !== undefined || paths.unified === undefined ? layout : { ...layout, containerDir: paths.unified };
  const hierarchies = (layout.hierarchies ?? []).map((h) => {
    if (h.containerDir !== undefined) return h;
    const selector = h.options.split(',').find((o) => o !== 'none' && paths[o] !== undefined);
    return selector === undefined ? h : { ...h, containerDir: paths[selector] };
  });
  return { ...layout, hierarchies };
}

/** The mount point containing `path`, from /proc/self/mountinfo (longest prefix). */
export function defaultMountPointOf(path: string): string {
  let best = '/';
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const mp = line.split(' ')[4];
      if (!mp) continue;
      const point = mp.replace(/\\040/g, ' ');
      if ((path === point || path.startsWith(point.endsWith('/') ? point : point + '/')) && point.length > best.length) best = point;
    }
  } catch {
    /* keep "/" */
  }
  return best;
}
