// hako's default seccomp profile: an allowlist equivalent in effect to docker's default
// (defaultAction ERRNO/EPERM; ordinary syscalls allowed; syscalls that need a capability allowed
// only when the container has it; namespace-creating clone flags and AF_VSOCK sockets refused;
// personality limited to the harmless personas). Kept as data here, resolved for one container
// by profileForCapabilities().
import { capMask, hasCap } from '../capabilities.js';
import { ARCH_FAMILY, nativeScmpArch } from './arch.js';
import type { LinuxSeccomp, LinuxSyscall } from './types.js';

export interface ProfileCondition {
  /** Every one of these capabilities (includes) / any of them (excludes). */
  caps?: string[];
  /** SCMP_ARCH_* of the native architecture. */
  arches?: string[];
}

export interface ProfileSyscall extends LinuxSyscall {
  includes?: ProfileCondition;
  excludes?: ProfileCondition;
  comment?: string;
}

export interface SeccompProfile extends LinuxSeccomp {
  syscalls: ProfileSyscall[];
}

const words = (s: string): string[] => s.trim().split(/\s+/);

/** Harmless on every architecture: process, memory, file, socket, time, signal, ipc basics. */
const BASE_ALLOW = words(`
  accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
  dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
  epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group
  faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
  fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr file_getattr file_setattr
  flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
  ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake
  futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32
  getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
  getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
  getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
  io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
  io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
  landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
  listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
  map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock
  mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
  mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect
  open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
  pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease
  process_vm_readv process_vm_writev pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2
  read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
  remap_file_pages removexattr removexattrat rename renameat renameat2 restart_syscall rmdir rseq
  rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
  sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
  sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
  sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
  semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid
  setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
  setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
  set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr
  setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask
  sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
  sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
  timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
  timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
  umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid
  waitpid write writev
`);

/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: creating namespaces needs CAP_SYS_ADMIN. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** AF_VSOCK: talks to the host hypervisor, outside any network namespace. */
const AF_VSOCK = 40;
/** PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and 0xffffffff (query the current persona). */
const SAFE_PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const allow = (names: string, more: Partial<ProfileSyscall> = {}): ProfileSyscall => ({
  names: words(names),
  action: 'SCMP_ACT_ALLOW',
  ...more,
});
const needs = (cap: string, names: string): ProfileSyscall => allow(names, { includes: { caps: [cap] } });

/** hako's default profile (unresolved: some rules depend on capabilities and architecture). */
export function defaultSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    syscalls: [
      { names: BASE_ALLOW.slice(), action: 'SCMP_ACT_ALLOW' },
      allow('socket', { args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] }),
      ...SAFE_PERSONAS.map((p) => allow('personality', { args: [{ index: 0, value: p, op: 'SCMP_CMP_EQ' }] })),
      // architecture-specific calls
      allow('sync_file_range2 swapcontext', { includes: { arches: ['SCMP_ARCH_PPC64LE'] } }),
      allow('arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls', {
        includes: { arches: ['SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64'] },
      }),
      allow('arch_prctl', { includes: { arches: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'] } }),
      allow('modify_ldt', { includes: { arches: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86'] } }),
      allow('s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr', { includes: { arches: ['SCMP_ARCH_S390X'] } }),
      allow('riscv_flush_icache', { includes: { arches: ['SCMP_ARCH_RISCV64'] } }),
      // capability-gated calls
      needs('CAP_DAC_READ_SEARCH', 'open_by_handle_at'),
      needs(
        'CAP_SYS_ADMIN',
        `bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
         move_mount open_tree open_tree_attr perf_event_open quotactl quotactl_fd setdomainname sethostname
         setns syslog umount umount2 unshare`,
      ),
      allow('clone', {
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['SCMP_ARCH_S390X'] },
      }),
      allow('clone', {
        args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        comment: 's390 passes the clone flags as the second argument',
        includes: { arches: ['SCMP_ARCH_S390X'] },
        excludes: { caps: ['CAP_SYS_ADMIN'] },
      }),
      {
        names: ['clone3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 38, // ENOSYS: clone3's flags live in memory a filter cannot read; libcs fall back to clone
        excludes: { caps: ['CAP_SYS_ADMIN'] },
      },
      needs('CAP_SYS_BOOT', 'reboot'),
      needs('CAP_SYS_CHROOT', 'chroot'),
      needs('CAP_SYS_MODULE', 'delete_module init_module finit_module'),
      needs('CAP_SYS_PACCT', 'acct'),
      needs('CAP_SYS_PTRACE', 'kcmp pidfd_getfd process_madvise'),
      needs('CAP_SYS_RAWIO', 'iopl ioperm'),
      needs('CAP_SYS_TIME', 'settimeofday stime clock_settime clock_settime64'),
      needs('CAP_SYS_TTY_CONFIG', 'vhangup'),
      needs('CAP_SYS_NICE', 'get_mempolicy mbind set_mempolicy set_mempolicy_home_node'),
      needs('CAP_SYSLOG', 'syslog'),
      needs('CAP_BPF', 'bpf'),
      needs('CAP_PERFMON', 'perf_event_open'),
    ],
  };
}

export interface ResolveProfileOptions {
  /** SCMP_ARCH_* of the machine; default: the one Node runs on. */
  nativeArch?: string;
}

/**
 * Resolves a profile for one container: keeps the rules whose `includes` hold (all listed caps
 * present, native arch listed) and whose `excludes` do not (no listed cap present, native arch not
 * listed), drops the include/exclude metadata, and fills `architectures` with the native arch and
 * its compatible sub-architectures when the profile names none. `caps` is the container's
 * effective/bounding set, as a mask or names.
 */
export function profileForCapabilities(
  profile: SeccompProfile | LinuxSeccomp,
  caps: bigint | readonly string[],
  opts: ResolveProfileOptions = {},
): LinuxSeccomp {
  const mask = typeof caps === 'bigint' ? caps : capMask(caps);
  const native = opts.nativeArch ?? nativeScmpArch();
  const has = (c: string): boolean => hasCap(mask, c);
  const syscalls: LinuxSyscall[] = [];
  for (const sc of (profile.syscalls ?? []) as ProfileSyscall[]) {
    const inc = sc.includes;
    const exc = sc.excludes;
    if (inc?.caps && !inc.caps.every(has)) continue;
    if (inc?.arches && !inc.arches.includes(native)) continue;
    if (exc?.caps && exc.caps.some(has)) continue;
    if (exc?.arches && exc.arches.includes(native)) continue;
    const out: LinuxSyscall = { names: sc.names.slice(), action: sc.action };
    if (sc.errnoRet !== undefined) out.errnoRet = sc.errnoRet;
    if (sc.args) out.args = sc.args.map((a) => ({ ...a }));
    syscalls.push(out);
  }
  const resolved: LinuxSeccomp = {
    defaultAction: profile.defaultAction,
    architectures: profile.architectures?.length ? profile.architectures.slice() : (ARCH_FAMILY[native] ?? [native]).slice(),
    syscalls,
  };
  if (profile.defaultErrnoRet !== undefined) resolved.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags) resolved.flags = profile.flags.slice();
  return resolved;
}
