// The planner: an OCI spec → the executor plan (src/native/plan.ts). Pure: it reads nothing but
// the request (bind sources are stat'ed and the host cgroup layout read through injectable
// defaults).
//
// A new container's ops, in order (see docs in the report / notes §1 for the why):
//   syncWait                          parent has put us in our cgroups (and written the id maps)
//   [setresid 0 0]                    new user ns in cloneFlags: become its root (else EOVERFLOW)
//   [setns user → setresid 0 0]       a joined user ns comes first: every later ns is owned by it
//   [setns ipc uts net pid time cgroup mount]   joins of namespaces with a `path`
//   [unshare USER → notify 3 → syncWait → setresid 0 0]   a new user ns when other namespaces
//                                     are joined: joining needs the host privileges the new user
//                                     ns would not have, so join first, then create (like runc)
//   [unshare …]                       new namespaces that cannot be in cloneFlags (owned by an
//                                     unshared/joined user ns, or a pid/time ns before a clone)
//   [writeFile /proc/self/timens_offsets]
//   [clone]                           new time ns (unshare(NEWTIME) only affects children, and the
//                                     offsets must be written before any process is in it), pid
//                                     ns join, or new pid ns made by unshare
//   [unshare CGROUP]                  after the cgroup move, so the ns root is the container's cgroup
//   mount / propagation, self-bind of the rootfs, openRoot, spec mounts, cwd, devices, symlinks
//   [notify 1 → syncWait]             hooksBeforePivot
//   pivotRoot | moveRoot, [runbindable /]   (no mount namespace: a private self-bind of the rootfs
//                                     in the caller's, no propagation change, then chroot)
//   sethostname, setdomainname, sysctls, [loopbackUp], oom_score_adj, readonlyPaths, maskedPaths, [ro /]
//   rlimits, openPty or setsid, [waitFifo], process tail (caps, ids, nnp, seccomp, exec)
import { invalid } from '../../common/errors.js';
import { CLONE, MS, type PlanOp } from '../../native/plan.js';
import type { IdMapping, NamespaceType, Spec } from '../spec/types.js';
import { rootfsPath } from '../spec/validate.js';
import { cleanPath, defaultMountPointOf, defaultStatSource, detectCgroupLayout, deviceOps, hostHasKcore, mountOps, withContainerDirs, type MountContext } from './mounts.js';
import { processTailOps } from './process.js';
import { NOTIFY, type CgroupLayout, type ExecRequest, type PlannedContainer, type PlanRequest } from './types.js';

export * from './types.js';
export { parseMountOptions, MOUNT_OPTIONS } from './mount-options.js';
export { RLIMITS, RLIM_INFINITY, SeccompCache } from './process.js';
export { detectCgroupLayout, withContainerDirs } from './mounts.js';

export const NS_FLAGS: Readonly<Record<NamespaceType, number>> = {
  mount: CLONE.NEWNS,
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

/** Join order after the user ns: mount last, because it changes our root and cwd. */
const JOIN_ORDER: NamespaceType[] = ['ipc', 'uts', 'network', 'pid', 'time', 'cgroup', 'mount'];

const PROPAGATION: Readonly<Record<string, number>> = {
  private: MS.PRIVATE | MS.REC,
  slave: MS.SLAVE | MS.REC,
  shared: MS.SHARED | MS.REC,
  // Applied after pivot_root: an unbindable mount cannot be the source of the rootfs self-bind.
  unbindable: MS.SLAVE | MS.REC,
};

/** Sysctl prefixes and the namespace that makes them safe to set. Anything else would change the host. */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

function sysctlNamespace(key: string): NamespaceType | undefined {
  if (IPC_SYSCTLS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'network';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

export function sysctlOps(sysctl: Record<string, string> | undefined, namespaces: Set<NamespaceType>): PlanOp[] {
  const ops: PlanOp[] = [];
  for (const [rawKey, value] of Object.entries(sysctl ?? {})) {
    // Both "net.ipv4.ip_forward" and "net/ipv4/ip_forward" spellings are accepted; the slash
    // form keeps dots in interface names (net/ipv4/conf/eth0.100/forwarding).
    const key = rawKey.includes('/') ? rawKey.replace(/\//g, '.') : rawKey;
    const path = rawKey.includes('/') ? rawKey.replace(/^\/+/, '') : rawKey.replace(/\./g, '/');
    if (path.split('/').some((c) => c === '..' || c === '')) throw invalid(`config.json: linux.sysctl ${JSON.stringify(rawKey)} is not a valid sysctl name`);
    const ns = sysctlNamespace(key);
    if (!ns) {
      throw invalid(`config.json: linux.sysctl ${JSON.stringify(rawKey)} is not namespaced: setting it would change the host`, 'only net.*, IPC (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) and kernel.hostname/domainname sysctls are allowed');
    }
    if (!namespaces.has(ns)) {
      throw invalid(`config.json: linux.sysctl ${JSON.stringify(rawKey)} needs a ${ns} namespace`, `add {"type": "${ns}"} to linux.namespaces`);
    }
    ops.push({ op: 'writeFile', path: `/proc/sys/${path}`, data: value });
  }
  return ops;
}

function timeOffsetsData(spec: Spec): string | undefined {
  const t = spec.linux?.timeOffsets;
  if (!t) return undefined;
  const lines: string[] = [];
  for (const clock of ['monotonic', 'boottime'] as const) {
    const o = t[clock];
    if (o) lines.push(`${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`);
  }
  return lines.length > 0 ? lines.join('') : undefined;
}

function unsupportedWarnings(spec: Spec, warnings: string[]): void {
  const p = spec.process;
  const l = spec.linux;
  if (p?.apparmorProfile) warnings.push(`process.apparmorProfile ${JSON.stringify(p.apparmorProfile)} ignored: AppArmor is not supported`);
  if (p?.selinuxLabel) warnings.push('process.selinuxLabel ignored: SELinux is not supported');
  if (l?.mountLabel) warnings.push('linux.mountLabel ignored: SELinux is not supported');
  if (p?.ioPriority) warnings.push('process.ioPriority ignored: not supported yet');
  if (p?.scheduler) warnings.push('process.scheduler ignored: not supported yet');
  if (p?.execCPUAffinity) warnings.push('process.execCPUAffinity ignored: not supported yet');
  if (l?.intelRdt) warnings.push('linux.intelRdt ignored: Intel RDT is not supported');
  if (l?.memoryPolicy) warnings.push('linux.memoryPolicy ignored: not supported yet');
  if (l?.personality) {
    if (l.personality.domain === 'LINUX32') throw invalid('config.json: linux.personality.domain LINUX32 is not supported yet');
    if (l.personality.flags && l.personality.flags.length > 0) warnings.push('linux.personality.flags ignored: not supported yet');
  }
  if (l?.netDevices && Object.keys(l.netDevices).length > 0) throw invalid('config.json: linux.netDevices is not supported yet');
}

export function planContainer(req: PlanRequest): PlannedContainer {
  const { spec, bundle } = req;
  const warnings: string[] = [];
  const notices: string[] = [];
  const proc = spec.process;
  if (!proc) throw invalid('config.json: process is required');
  unsupportedWarnings(spec, warnings);

  // ---- namespaces
  const nsList = spec.linux?.namespaces ?? [];
  const all = new Set<NamespaceType>(nsList.map((n) => n.type));
  const created = new Set<NamespaceType>(nsList.filter((n) => !n.path).map((n) => n.type));
  const joins = new Map<NamespaceType, number>();
  for (const n of nsList) {
    if (!n.path) continue;
    const j = req.joinNamespaces.find((x) => x.type === n.type);
    if (!j) throw invalid(`plan container: no fd was given for the ${n.type} namespace at ${n.path}`);
    joins.set(n.type, j.fd);
  }
  // No mount namespace (neither new nor joined): the container shares the caller's, as runc
  // allows. Its rootfs is set up there all the same, beneath a self-bind of the rootfs that
  // delete detaches (PlannedContainer.hostRootfsMount), and entered with chroot.
  const hostMountNs = !all.has('mount');
  if (hostMountNs && ((spec.linux?.maskedPaths ?? []).length > 0 || (spec.linux?.readonlyPaths ?? []).length > 0)) {
    throw invalid('config.json: linux.maskedPaths and linux.readonlyPaths need a mount namespace', 'add {"type": "mount"} to linux.namespaces, or drop the masked and read-only paths');
  }

  const newUser = created.has('user');
  const joinUser = joins.has('user');
  const inUserNs = newUser || joinUser;
  // Joining needs privileges over the joined namespace's owner that root of a fresh user ns
  // lacks (EPERM), so with joins the user ns is unshared after them (maps written on notify).
  const userByUnshare = newUser && joins.size > 0;
  // Namespaces created after the user ns is joined/unshared are owned by it; in cloneFlags they
  // would be owned by the host's user ns.
  const createLate = joinUser || userByUnshare;
  const needClone = created.has('time') || joins.has('pid') || (created.has('pid') && createLate);

  // A network namespace made ahead by the caller stands in for a new one owned by the host's
  // user ns (made late or in a user ns, the new one must be owned by that user ns: not usable).
  const premadeNet = req.premadeNetwork !== undefined && created.has('network') && !inUserNs && !createLate ? req.premadeNetwork : undefined;
  if (premadeNet) joins.set('network', premadeNet.fd);

  let cloneFlags = 0;
  let lateFlags = 0;
  for (const t of created) {
    if (t === 'cgroup' || t === 'user') continue;
    if (t === 'network' && premadeNet) continue;
    const flag = NS_FLAGS[t];
    const late = createLate || t === 'time' || (t === 'pid' && needClone);
    if (late) lateFlags |= flag;
    else cloneFlags |= flag;
  }
  if (newUser && !userByUnshare) cloneFlags |= CLONE.NEWUSER;
  // CLONE_NEWCGROUP at clone time is right only when the clone itself lands in the container's
  // cgroup (CLONE_INTO_CGROUP); otherwise the ns root would be the runtime's own cgroup.
  const cgroupInClone = created.has('cgroup') && req.cgroupV2IntoClone === true && !createLate && !needClone;
  if (cgroupInClone) cloneFlags |= CLONE.NEWCGROUP;

  const uidMappings: IdMapping[] = newUser ? (spec.linux?.uidMappings ?? []) : [];
  const gidMappings: IdMapping[] = newUser ? (spec.linux?.gidMappings ?? []) : [];
  if (newUser && (uidMappings.length === 0 || gidMappings.length === 0)) throw invalid('config.json: linux.uidMappings and linux.gidMappings are required with a new user namespace');
  const rootless = req.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  const needsSetgroupsDeny = newUser && rootless;

  const ops: PlanOp[] = [{ op: 'syncWait' }];
  // Before anything else: a process made by a clone op below inherits the cgroups, and the
  // device nodes are made inside the devices cgroup.
  for (const t of req.cgroupSelfJoin ?? []) ops.push({ op: 'writeFd', fd: t.fd, data: '0', path: t.path });
  if (newUser && !userByUnshare) ops.push({ op: 'setresid', uid: 0, gid: 0 });
  if (joinUser) {
    ops.push({ op: 'setns', fd: joins.get('user')!, nstype: CLONE.NEWUSER });
    ops.push({ op: 'setresid', uid: 0, gid: 0 });
  }
  for (const t of JOIN_ORDER) {
    const fd = joins.get(t);
    if (fd !== undefined) ops.push({ op: 'setns', fd, nstype: NS_FLAGS[t] });
  }
  if (userByUnshare) {
    ops.push({ op: 'unshare', flags: CLONE.NEWUSER }, { op: 'notify', value: NOTIFY.USERNS }, { op: 'syncWait' }, { op: 'setresid', uid: 0, gid: 0 });
  }
  if (lateFlags !== 0) ops.push({ op: 'unshare', flags: lateFlags });
  const offsets = timeOffsetsData(spec);
  if (offsets && created.has('time')) ops.push({ op: 'writeFile', path: '/proc/self/timens_offsets', data: offsets });
  if (needClone) ops.push({ op: 'clone', flags: 0 });
  // The cgroup namespace once the process is in its cgroups (released after the parent's move,
  // or after its own join above): that cgroup is the ns root.
  if (created.has('cgroup') && !cgroupInClone) ops.push({ op: 'unshare', flags: CLONE.NEWCGROUP });

  // ---- root filesystem
  const rootfs = rootfsPath(spec, bundle);
  const propName = spec.linux?.rootfsPropagation ?? 'slave';
  if (hostMountNs) {
    // The caller's mounts keep their propagation. The self-bind gathers the container's mounts
    // under one mount that delete detaches; private, so they do not propagate to its peers.
    if (spec.linux?.rootfsPropagation !== undefined) warnings.push('linux.rootfsPropagation ignored: the container has no mount namespace');
    ops.push({ op: 'mount', source: rootfs, target: rootfs, fstype: null, flags: MS.BIND | MS.REC, data: null });
    ops.push({ op: 'mount', source: null, target: rootfs, fstype: null, flags: MS.PRIVATE | MS.REC, data: null });
  } else {
    ops.push({ op: 'mount', source: null, target: '/', fstype: null, flags: PROPAGATION[propName] ?? MS.SLAVE | MS.REC, data: null });
    if (propName === 'shared') {
      // pivot_root refuses (EINVAL) a new root whose parent mount is shared.
      const parent = (req.mountPointOf ?? defaultMountPointOf)(rootfs);
      ops.push({ op: 'mount', source: null, target: parent, fstype: null, flags: MS.PRIVATE, data: null });
    }
    // pivot_root needs the new root to be a mount point.
    ops.push({ op: 'mount', source: rootfs, target: rootfs, fstype: null, flags: MS.BIND | MS.REC, data: null });
  }
  ops.push({ op: 'openRoot', path: rootfs });

  let layout: CgroupLayout | undefined;
  const ctx: MountContext = {
    spec,
    bundle,
    inUserNs,
    uidMappings,
    gidMappings,
    ownNetNs: created.has('network') || (joins.has('network') && joinUser),
    cgroupNs: all.has('cgroup'),
    statSource: req.statSource ?? defaultStatSource,
    cgroupLayout: () => (layout ??= withContainerDirs(req.cgroupLayout ?? detectCgroupLayout(), req.cgroupPaths)),
    warnings,
  };
  (spec.mounts ?? []).forEach((m, i) => {
    ops.push(...mountOps(m, i, ctx));
  });
  if (proc.cwd !== '/') ops.push({ op: 'mkdirs', path: cleanPath(proc.cwd), mode: 0o755, inRoot: true });
  ops.push(...deviceOps(spec, inUserNs, req.hostHasKcore ?? hostHasKcore()));

  if (req.hooksBeforePivot) ops.push({ op: 'notify', value: NOTIFY.BEFORE_PIVOT }, { op: 'syncWait' });
  if (hostMountNs) {
    // Neither pivot_root nor MS_MOVE: both would change the caller's mount namespace.
    ops.push({ op: 'chroot', path: rootfs });
  } else {
    ops.push(req.noPivot ? { op: 'moveRoot', path: rootfs } : { op: 'pivotRoot', path: rootfs });
    if (propName === 'unbindable') ops.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.UNBINDABLE | MS.REC, data: null });
    // The new root is a bind of the rootfs made after its parent mount went private (pivot_root's
    // EINVAL above), so it came out private: "shared" is applied again to the root it became. It
    // makes a peer group of the container's own (the old root is gone), so nothing reaches the host.
    if (propName === 'shared') ops.push({ op: 'mount', source: null, target: '/', fstype: null, flags: MS.SHARED | MS.REC, data: null });
  }

  // ---- after pivot: plain container paths
  if (spec.hostname !== undefined && spec.hostname !== '') {
    if (!all.has('uts')) throw invalid('config.json: hostname needs a UTS namespace', 'add {"type": "uts"} to linux.namespaces');
    ops.push({ op: 'sethostname', name: spec.hostname });
  }
  if (spec.domainname !== undefined && spec.domainname !== '') {
    if (!all.has('uts')) throw invalid('config.json: domainname needs a UTS namespace', 'add {"type": "uts"} to linux.namespaces');
    ops.push({ op: 'setdomainname', name: spec.domainname });
  }
  // Sysctls before readonlyPaths: the usual read-only /proc/sys would refuse them (EROFS).
  ops.push(...sysctlOps(spec.linux?.sysctl, all));
  if (req.loopbackUp) {
    if (!created.has('network')) throw invalid('loopback up needs a new network namespace', 'add {"type": "network"} without a path to linux.namespaces');
    if (!premadeNet?.loopbackUp) ops.push({ op: 'loopbackUp' });
  }
  if (proc.oomScoreAdj !== undefined) ops.push({ op: 'writeFile', path: '/proc/self/oom_score_adj', data: String(proc.oomScoreAdj) });
  for (const p of spec.linux?.readonlyPaths ?? []) {
    const path = cleanPath(p);
    ops.push({ op: 'mount', source: path, target: path, fstype: null, flags: MS.BIND | MS.REC, data: null, optional: true });
    ops.push({ op: 'remount', target: path, flags: MS.RDONLY, optional: true });
  }
  for (const p of spec.linux?.maskedPaths ?? []) ops.push({ op: 'mask', path: cleanPath(p) });
  if (spec.root?.readonly) ops.push({ op: 'remount', target: '/', flags: MS.RDONLY });

  ops.push(
    ...processTailOps(proc, {
      consoleSocket: req.consoleSocket,
      fifo: req.mode === 'create' ? requireFifo(req.fifo) : undefined,
      seccomp: spec.linux?.seccomp,
      ...(req.seccompCache ? { seccompCache: req.seccompCache } : {}),
      setgroupsDenied: needsSetgroupsDeny,
      warnings,
      notices,
      where: 'process',
    }),
  );
  const planned: PlannedContainer = { cloneFlags, ops, uidMappings, gidMappings, needsSetgroupsDeny, pidFromClone: needClone, warnings, notices, ...(premadeNet ? { premadeNetworkUsed: true } : {}) };
  if (userByUnshare) planned.idMapsAtNotify = NOTIFY.USERNS;
  if (hostMountNs) planned.hostRootfsMount = rootfs;
  return planned;
}

function requireFifo(fifo: number | undefined): number {
  if (fifo === undefined) throw invalid('plan container: create mode needs the exec fifo');
  return fifo;
}

/**
 * exec into a running container: syncWait (then the parent puts us in the container's cgroups, or
 * we join them ourselves: cgroupSelfJoin) →
 * setns(pidfd, every namespace flag of the container; the kernel joins the user ns first and the
 * mount ns join lands on the container's pivoted root) → clone (a pid ns join only applies to
 * children; the new process is what the parent waits for) → the process part.
 */
export function planExec(req: ExecRequest): PlannedContainer {
  const { spec, process: proc } = req;
  const warnings: string[] = [];
  const notices: string[] = [];
  if (proc.apparmorProfile) warnings.push(`process.apparmorProfile ${JSON.stringify(proc.apparmorProfile)} ignored: AppArmor is not supported`);
  if (proc.selinuxLabel) warnings.push('process.selinuxLabel ignored: SELinux is not supported');
  if (!proc.cwd || !proc.cwd.startsWith('/')) throw invalid(`exec: process.cwd ${JSON.stringify(proc.cwd ?? '')} must be an absolute path`);
  const nsList = spec.linux?.namespaces ?? [];
  if (!nsList.some((n) => n.type === 'mount')) {
    // setns cannot enter a chroot: the process would see the host's root.
    throw invalid('exec: the container has no mount namespace, so hako cannot enter its root filesystem', 'give the container a mount namespace to exec into it');
  }
  let nstype = 0;
  for (const n of nsList) nstype |= NS_FLAGS[n.type];
  const ops: PlanOp[] = [{ op: 'syncWait' }];
  for (const t of req.cgroupSelfJoin ?? []) ops.push({ op: 'writeFd', fd: t.fd, data: '0', path: t.path });
  if (nstype !== 0) ops.push({ op: 'setns', fd: req.targetPidfd, nstype });
  ops.push({ op: 'clone', flags: 0 });
  const userNew = nsList.some((n) => n.type === 'user' && !n.path);
  const rootless = req.rootless ?? (process.geteuid?.() ?? 0) !== 0;
  ops.push(
    ...processTailOps(proc, {
      consoleSocket: req.consoleSocket,
      seccomp: spec.linux?.seccomp,
      ...(req.seccompCache ? { seccompCache: req.seccompCache } : {}),
      setgroupsDenied: userNew && rootless,
      warnings,
      notices,
      where: 'process',
    }),
  );
  return { cloneFlags: 0, ops, uidMappings: [], gidMappings: [], needsSetgroupsDeny: false, pidFromClone: true, warnings, notices };
}
