// Human names of executor ops, used as the `step` of errors: `mount proc on /proc`,
// `bind mount /src on /dst`, `exec /bin/nope`. Paths of inRoot ops are container paths already.
import { CLONE, MS, type PlanOp } from './plan.js';

const NS_NAMES: Array<[number, string]> = [
  [CLONE.NEWUSER, 'user'],
  [CLONE.NEWNS, 'mnt'],
  [CLONE.NEWPID, 'pid'],
  [CLONE.NEWNET, 'net'],
  [CLONE.NEWUTS, 'uts'],
  [CLONE.NEWIPC, 'ipc'],
  [CLONE.NEWCGROUP, 'cgroup'],
  [CLONE.NEWTIME, 'time'],
];

/** `mnt, pid, net` for a set of CLONE_NEW* flags. */
export function namespaceNames(flags: number): string {
  const names = NS_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  return names.length ? names.join(', ') : 'none';
}

const RLIMITS = ['cpu', 'fsize', 'data', 'stack', 'core', 'rss', 'nproc', 'nofile', 'memlock', 'as', 'locks', 'sigpending', 'msgqueue', 'nice', 'rtprio', 'rttime'];

function propagation(flags: number): string | undefined {
  const rec = flags & MS.REC ? 'r' : '';
  if (flags & MS.PRIVATE) return `${rec}private`;
  if (flags & MS.SLAVE) return `${rec}slave`;
  if (flags & MS.SHARED) return `${rec}shared`;
  if (flags & MS.UNBINDABLE) return `${rec}unbindable`;
  return undefined;
}

function mountFlagNames(flags: number): string {
  const names: string[] = [];
  if (flags & MS.RDONLY) names.push('ro');
  if (flags & MS.NOSUID) names.push('nosuid');
  if (flags & MS.NODEV) names.push('nodev');
  if (flags & MS.NOEXEC) names.push('noexec');
  return names.join(',');
}

/** The step name of an op, as errors show it. */
export function describeOp(op: PlanOp): string {
  switch (op.op) {
    case 'syncWait':
      return 'wait for the parent to release the container process';
    case 'notify':
      return `notify the parent (${op.value})`;
    case 'setresid':
      return `setresuid(${op.uid})/setresgid(${op.gid})`;
    case 'setgroups':
      return `setgroups(${op.gids.join(',')})`;
    case 'unshare':
      return `unshare namespaces (${namespaceNames(op.flags)})`;
    case 'setns':
      return op.nstype ? `join namespace (${namespaceNames(op.nstype)})` : 'join namespaces';
    case 'clone':
      return 'fork into the joined namespaces';
    case 'fork':
      return op.flags ? `fork the container process (new namespaces: ${namespaceNames(op.flags)})` : 'fork the container process';
    case 'openRoot':
      return `open root ${op.path}`;
    case 'mount': {
      const prop = propagation(op.flags);
      if (prop && op.source === null && op.fstype === null) return `make ${op.target} ${prop}`;
      if (op.flags & MS.MOVE) return `move mount ${op.source ?? ''} to ${op.target}`;
      if (op.flags & MS.REMOUNT) return `remount ${op.target}`;
      if (op.flags & MS.BIND) return `bind mount ${op.source ?? ''} on ${op.target}`;
      return `mount ${op.fstype ?? op.source ?? 'filesystem'} on ${op.target}`;
    }
    case 'remount': {
      const flags = mountFlagNames(op.flags);
      return `remount ${op.target}${flags ? ` ${flags}` : ''}`;
    }
    case 'mask':
      return `mask ${op.path}`;
    case 'mkdirs':
      return `mkdir ${op.path}`;
    case 'touch':
      return `create file ${op.path}`;
    case 'symlink':
      return `symlink ${op.path} -> ${op.target}`;
    case 'mknod':
      return `mknod ${op.path}`;
    case 'chown':
      return `chown ${op.path} to ${op.uid}:${op.gid}`;
    case 'chmod':
      return `chmod ${op.path} to ${op.mode.toString(8).padStart(4, '0')}`;
    case 'pivotRoot':
      return `pivot_root to ${op.path}`;
    case 'moveRoot':
      return `move root to ${op.path}`;
    case 'chroot':
      return `chroot to ${op.path}`;
    case 'sethostname':
      return 'set hostname';
    case 'setdomainname':
      return 'set domainname';
    case 'writeFile':
      return `write ${op.path}`;
    case 'writeFd':
      return `write ${JSON.stringify(op.data)} to ${op.path ?? 'an fd of the runtime'}`;
    case 'setrlimit':
      return `set rlimit ${RLIMITS[op.resource] ?? String(op.resource)}`;
    case 'chdir':
      return `chdir to ${op.path}`;
    case 'umask':
      return `set umask ${op.mask.toString(8).padStart(4, '0')}`;
    case 'capBounding':
      return 'drop capabilities from the bounding set';
    case 'keepCaps':
      return `${op.on ? 'set' : 'clear'} keep-caps`;
    case 'capset':
      return 'set capabilities';
    case 'ambient':
      return 'raise ambient capabilities';
    case 'pdeathsig':
      return 'set the parent-death signal';
    case 'noNewPrivs':
      return 'set no_new_privs';
    case 'seccomp':
      return 'load seccomp filter';
    case 'setsid':
      return 'create a session (setsid)';
    case 'loopbackUp':
      return 'set the loopback interface up';
    case 'openPty':
      return 'open the container pty';
    case 'waitFifo':
      return 'wait for start (exec fifo)';
    case 'dup2':
      return `dup2 onto fd ${op.target}`;
    case 'closeFrom':
      return `close fds from ${op.from}`;
    case 'lookPath':
      return `look up the executable ${JSON.stringify(op.file)}${op.file.includes('/') || op.searchPath === null ? '' : ' in $PATH'}`;
    case 'exec':
      return `exec ${op.file}`;
  }
}

/** The path an op works on (the error's `path`), when it has one. */
export function opPath(op: PlanOp): string | undefined {
  switch (op.op) {
    case 'mount':
    case 'remount':
      return op.target;
    case 'mask':
    case 'mkdirs':
    case 'touch':
    case 'symlink':
    case 'mknod':
    case 'chown':
    case 'chmod':
    case 'openRoot':
    case 'pivotRoot':
    case 'moveRoot':
    case 'chroot':
    case 'writeFile':
    case 'chdir':
      return op.path;
    case 'writeFd':
      return op.path;
    case 'exec':
    case 'lookPath':
      return op.file;
    default:
      return undefined;
  }
}
