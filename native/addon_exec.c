// The executor: decodes a plan (docs/executor-plan.md) before clone, then the child interprets it.
//
// The child is made with CLONE_VM where the architecture allows (x86-64, arm64): it shares Node's
// memory instead of getting a copy, so the clone costs the same whatever Node's heap size (a
// fork-like clone copies the page tables: +2 ms at 0.5 GB RSS, +6–25 ms at 1 GB, and the parent
// then takes copy-on-write faults until the child execs). It runs on a stack of its own, on our
// copy of the plan, both freed once every process of the spawn has exec'd or exited. Time
// namespaces forbid sharing memory (clone: EINVAL; setns: EUSERS), so plans with them, and other
// architectures, use the fork-like clone.
//
// Either way the child is a copy of one thread of a multi-threaded process: other threads may
// hold glibc locks (malloc, stdio), and with CLONE_VM it also runs on the TLS (errno included) of
// the thread that cloned it. So the child touches no allocator and makes its syscalls through
// sys(), raw, returning -errno. The child decides nothing; every policy choice is in the plan.
#include <time.h>
#include "addon_exec.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>
#include <limits.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the plan encoding is little-endian");

// ---------------------------------------------------------------------------------------------
// Raw syscalls (no errno) and the CLONE_VM trampoline

#if defined(__x86_64__)
#define HK_VM_CLONE 1
static inline long hk_sc6(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long r10 __asm__("r10") = a4, r8 __asm__("r8") = a5, r9 __asm__("r9") = a6;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
// long hk_clone3_call(struct clone_args *args, size_t size, int (*fn)(void *), void *arg):
// clone3; the child (on the stack from args) calls fn(arg) and exits with its result. The
// registers other than rax survive the syscall in the child too, so fn and arg ride in r8/r9.
__asm__(".text\n"
        ".globl hk_clone3_call\n"
        ".hidden hk_clone3_call\n"
        ".type hk_clone3_call,@function\n"
        "hk_clone3_call:\n"
        "  mov %rdx, %r8\n"
        "  mov %rcx, %r9\n"
        "  mov $435, %eax\n"
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jz 1f\n"
        "  ret\n"
        "1:\n"
        "  xor %ebp, %ebp\n"
        "  mov %r9, %rdi\n"
        "  call *%r8\n"
        "  mov %eax, %edi\n"
        "  mov $60, %eax\n"
        "  syscall\n"
        "  hlt\n"
        ".size hk_clone3_call, .-hk_clone3_call\n");
#elif defined(__aarch64__)
#define HK_VM_CLONE 1
static inline long hk_sc6(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long x8 __asm__("x8") = n, x0 __asm__("x0") = a1, x1 __asm__("x1") = a2, x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4, x4 __asm__("x4") = a5, x5 __asm__("x5") = a6;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
__asm__(".text\n"
        ".globl hk_clone3_call\n"
        ".hidden hk_clone3_call\n"
        ".type hk_clone3_call,%function\n"
        "hk_clone3_call:\n"
        "  mov x9, x2\n"
        "  mov x10, x3\n"
        "  mov x8, #435\n"
        "  svc #0\n"
        "  cbz x0, 1f\n"
        "  ret\n"
        "1:\n"
        "  mov x29, xzr\n"
        "  mov x30, xzr\n"
        "  mov x0, x10\n"
        "  blr x9\n"
        "  mov x8, #93\n"
        "  svc #0\n"
        "  brk #0\n"
        ".size hk_clone3_call, .-hk_clone3_call\n");
#else
#define HK_VM_CLONE 0
static inline long hk_sc6(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  // Only the fork-like clone here: the child has its own errno.
  long r = syscall(n, a1, a2, a3, a4, a5, a6);
  return r == -1 ? -errno : r;
}
#endif

#if HK_VM_CLONE
struct clone_args;
long hk_clone3_call(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
#endif

#define HK_SC(n, a1, a2, a3, a4, a5, a6, ...) \
  hk_sc6((long)(n), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6))
/** A raw syscall: the kernel's result, -errno on failure. */
#define sys(...) HK_SC(__VA_ARGS__, 0, 0, 0, 0, 0, 0)

// Each process a CLONE_VM spawn makes runs on its own stack slot: a guard page, then the stack.
#define HK_STACK_GUARD 4096
#define HK_STACK_SLOT (256 * 1024)

#define HK_MAGIC 0x31504b48u
#define HK_NULL_STR 0xFFFFFFFFu

// ---------------------------------------------------------------------------------------------
// Decoding (parent, before clone: malloc allowed)

struct rd {
  const uint8_t *p, *end;
  int bad;
};

static uint32_t rd_u32(struct rd *r) {
  uint32_t v = 0;
  if (r->bad || (size_t)(r->end - r->p) < 4) { r->bad = 1; return 0; }
  memcpy(&v, r->p, 4);
  r->p += 4;
  return v;
}

static int32_t rd_i32(struct rd *r) { return (int32_t)rd_u32(r); }

static uint64_t rd_u64(struct rd *r) {
  uint64_t v = 0;
  if (r->bad || (size_t)(r->end - r->p) < 8) { r->bad = 1; return 0; }
  memcpy(&v, r->p, 8);
  r->p += 8;
  return v;
}

// A `str`: returns a pointer into the buffer (NUL-terminated there) or NULL for a null string.
static const char *rd_str(struct rd *r, uint32_t *len, int nullable) {
  uint32_t n = rd_u32(r);
  if (r->bad) return NULL;
  if (n == HK_NULL_STR) {
    if (!nullable) r->bad = 1;
    *len = 0;
    return NULL;
  }
  if ((size_t)(r->end - r->p) < (size_t)n + 1 || r->p[n] != 0 || memchr(r->p, 0, n) != NULL) {
    r->bad = 1;
    return NULL;
  }
  const char *s = (const char *)r->p;
  r->p += (size_t)n + 1;
  *len = n;
  return s;
}

// A `strs` as a malloc'd NULL-terminated array of pointers into the buffer.
static const char **rd_strs(struct rd *r) {
  uint32_t n = rd_u32(r);
  if (r->bad || n > (uint32_t)(r->end - r->p) / 5) { r->bad = 1; return NULL; }
  const char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) { r->bad = 1; return NULL; }
  for (uint32_t k = 0; k < n; k++) {
    uint32_t len;
    v[k] = rd_str(r, &len, 0);
    if (r->bad) { free(v); return NULL; }
  }
  return v;
}

static int check_internal(const struct hk_plan *plan, int32_t idx) {
  return idx >= 0 && (uint32_t)idx < plan->ninternal;
}

static int decode_op(struct rd *r, struct hk_plan *plan, struct hk_op *op) {
  op->code = rd_u32(r);
  switch (op->code) {
  case HK_SYNC_WAIT: case HK_NO_NEW_PRIVS: case HK_SETSID: case HK_LOOPBACK_UP:
    break;
  case HK_NOTIFY: case HK_PDEATHSIG:
    op->i[0] = rd_i32(r);
    break;
  case HK_SETRESID:
    op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    break;
  case HK_SETGROUPS: {
    uint32_t n = rd_u32(r);
    if (r->bad || n > (uint32_t)(r->end - r->p) / 4) return EINVAL;
    op->gids = calloc(n ? n : 1, sizeof(gid_t));
    if (!op->gids) return ENOMEM;
    op->ngids = n;
    for (uint32_t k = 0; k < n; k++) op->gids[k] = (gid_t)rd_u32(r);
    break;
  }
  case HK_UNSHARE: case HK_CLONE: case HK_CAP_BOUNDING: case HK_AMBIENT:
    op->q[0] = rd_u64(r);
    break;
  case HK_SETNS:
    op->i[0] = rd_i32(r); op->u[0] = rd_u32(r);
    if (!r->bad && !check_internal(plan, op->i[0])) return EINVAL;
    break;
  case HK_OPEN_ROOT: case HK_PIVOT_ROOT: case HK_MOVE_ROOT: case HK_CHROOT:
  case HK_SETHOSTNAME: case HK_SETDOMAINNAME:
    op->s[0] = rd_str(r, &op->slen[0], 0);
    break;
  case HK_CHDIR: // path, attempt
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->u[0] = rd_u32(r);
    if (!r->bad && op->u[0] > 2) return EINVAL;
    break;
  case HK_MOUNT: // source?, target, fstype?, flags, data?, inRoot, optional
    op->s[0] = rd_str(r, &op->slen[0], 1);
    op->s[1] = rd_str(r, &op->slen[1], 0);
    op->s[2] = rd_str(r, &op->slen[2], 1);
    op->q[0] = rd_u64(r);
    op->s[3] = rd_str(r, &op->slen[3], 1);
    op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    break;
  case HK_REMOUNT: // target, flags, inRoot, optional
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->q[0] = rd_u64(r);
    op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    break;
  case HK_MASK: // path, inRoot
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->u[0] = rd_u32(r);
    break;
  case HK_MKDIRS: case HK_TOUCH: case HK_CHMOD: // path, mode, inRoot
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    break;
  case HK_SYMLINK: // target, path, inRoot, ignoreExisting
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->s[1] = rd_str(r, &op->slen[1], 0);
    op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    break;
  case HK_MKNOD: // path, mode, major, minor, uid, gid, inRoot
    op->s[0] = rd_str(r, &op->slen[0], 0);
    for (int k = 0; k < 6; k++) op->u[k] = rd_u32(r);
    break;
  case HK_CHOWN: // path, uid, gid, inRoot
    op->s[0] = rd_str(r, &op->slen[0], 0);
    for (int k = 0; k < 3; k++) op->u[k] = rd_u32(r);
    break;
  case HK_WRITE_FILE: // path, data, inRoot
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->s[1] = rd_str(r, &op->slen[1], 0);
    op->u[0] = rd_u32(r);
    break;
  case HK_SETRLIMIT:
    op->u[0] = rd_u32(r); op->q[0] = rd_u64(r); op->q[1] = rd_u64(r);
    break;
  case HK_UMASK: case HK_KEEP_CAPS: case HK_CLOSE_FROM:
    op->u[0] = rd_u32(r);
    break;
  case HK_CAPSET:
    op->q[0] = rd_u64(r); op->q[1] = rd_u64(r); op->q[2] = rd_u64(r);
    break;
  case HK_SECCOMP: { // filter bytes, flags
    uint32_t n = rd_u32(r);
    if (r->bad || n > (uint32_t)(r->end - r->p) || n % 8 != 0 || n == 0 || n / 8 > BPF_MAXINSNS) return EINVAL;
    op->filter = malloc(n); // aligned copy: the buffer offset is arbitrary
    if (!op->filter) return ENOMEM;
    memcpy(op->filter, r->p, n);
    op->nfilter = n / 8;
    r->p += n;
    op->u[0] = rd_u32(r);
    break;
  }
  case HK_OPEN_PTY: // socket idx, rows, cols
    op->i[0] = rd_i32(r); op->u[0] = rd_u32(r); op->u[1] = rd_u32(r);
    if (!r->bad && !check_internal(plan, op->i[0])) return EINVAL;
    break;
  case HK_WAIT_FIFO:
    op->i[0] = rd_i32(r);
    if (!r->bad && !check_internal(plan, op->i[0])) return EINVAL;
    break;
  case HK_DUP2:
    op->i[0] = rd_i32(r); op->i[1] = rd_i32(r);
    if (!r->bad && (!check_internal(plan, op->i[0]) || op->i[1] < 0)) return EINVAL;
    if (op->i[1] + 1 > plan->reloc_base) plan->reloc_base = op->i[1] + 1;
    break;
  case HK_FORK: // flags, parentContinuesAt, pidfd, cgroup idx (checked against the whole plan in hk_plan_decode)
    op->q[0] = rd_u64(r); op->u[0] = rd_u32(r); op->i[0] = rd_i32(r); op->i[1] = rd_i32(r);
    if (!r->bad && (op->i[0] < -1 || op->i[0] > 65535)) return EINVAL;
    if (!r->bad && op->i[1] != -1 && !check_internal(plan, op->i[1])) return EINVAL;
    if (!r->bad && op->i[0] + 1 > plan->reloc_base) plan->reloc_base = op->i[0] + 1;
    break;
  case HK_LOOK_PATH: // file, searchPath?
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->s[1] = rd_str(r, &op->slen[1], 1);
    break;
  case HK_WRITE_FD: // fd idx, data
    op->i[0] = rd_i32(r);
    op->s[0] = rd_str(r, &op->slen[0], 0);
    if (!r->bad && !check_internal(plan, op->i[0])) return EINVAL;
    break;
  case HK_EXEC: // file, argv, env, searchPath?
    op->s[0] = rd_str(r, &op->slen[0], 0);
    op->argv = rd_strs(r);
    op->envp = rd_strs(r);
    op->s[1] = rd_str(r, &op->slen[1], 1);
    break;
  default:
    return EINVAL;
  }
  return r->bad ? EINVAL : 0;
}

void hk_plan_free(struct hk_plan *plan) {
  if (plan->ops) {
    for (uint32_t k = 0; k < plan->nops; k++) {
      free(plan->ops[k].argv);
      free(plan->ops[k].envp);
      free(plan->ops[k].gids);
      free(plan->ops[k].filter);
    }
  }
  free(plan->ops);
  free(plan->fd_src);
  free(plan->fd_dst);
  free(plan->internal);
  free(plan->scratch);
  memset(plan, 0, sizeof *plan);
}

int hk_plan_decode(const uint8_t *buf, size_t len, struct hk_plan *plan) {
  struct rd r = { buf, buf + len, 0 };
  memset(plan, 0, sizeof *plan);
  if (rd_u32(&r) != HK_MAGIC) return EINVAL;
  plan->clone_flags = rd_u64(&r);
  plan->cgroup_fd = rd_i32(&r);
  plan->pdeathsig = rd_i32(&r);
  plan->nfds = rd_u32(&r);
  if (r.bad || plan->nfds > 4096) return EINVAL;
  plan->fd_src = calloc(plan->nfds + 1, sizeof(int32_t));
  plan->fd_dst = calloc(plan->nfds + 1, sizeof(int32_t));
  if (!plan->fd_src || !plan->fd_dst) { hk_plan_free(plan); return ENOMEM; }
  plan->max_target = -1;
  for (uint32_t k = 0; k < plan->nfds; k++) {
    plan->fd_src[k] = rd_i32(&r);
    plan->fd_dst[k] = rd_i32(&r);
    if (plan->fd_src[k] < 0 || plan->fd_dst[k] < 0 || plan->fd_dst[k] > 65535) r.bad = 1;
    if (plan->fd_dst[k] > plan->max_target) plan->max_target = plan->fd_dst[k];
  }
  plan->ninternal = rd_u32(&r);
  if (r.bad || plan->ninternal > 4096) { hk_plan_free(plan); return EINVAL; }
  plan->internal = calloc(plan->ninternal + 1, sizeof(int32_t));
  // scratch: relocated copies of the fds sources and internal fds (written by the child only).
  plan->scratch = calloc(plan->nfds + plan->ninternal + 1, sizeof(int));
  if (!plan->internal || !plan->scratch) { hk_plan_free(plan); return ENOMEM; }
  for (uint32_t k = 0; k < plan->ninternal; k++) {
    plan->internal[k] = rd_i32(&r);
    if (plan->internal[k] < 0) r.bad = 1;
  }
  plan->reloc_base = plan->max_target + 1 > 3 ? plan->max_target + 1 : 3;
  plan->nops = rd_u32(&r);
  if (r.bad || plan->nops > 65536) { hk_plan_free(plan); return EINVAL; }
  plan->ops = calloc(plan->nops + 1, sizeof(struct hk_op));
  if (!plan->ops) { hk_plan_free(plan); return ENOMEM; }
  for (uint32_t k = 0; k < plan->nops; k++) {
    int err = decode_op(&r, plan, &plan->ops[k]);
    if (err) { hk_plan_free(plan); return err; }
  }
  // exec is the last op, or the last op of a fork's child part (the op before its continuation).
  for (uint32_t k = 0; k < plan->nops; k++) {
    const struct hk_op *op = &plan->ops[k];
    int ok = 1;
    if (op->code == HK_FORK) {
      uint32_t at = op->u[0];
      ok = at > k + 1 && at < plan->nops && plan->ops[at - 1].code == HK_EXEC;
      // A clone op in the child part makes the real process; the caller waits for its pid.
      for (uint32_t f = k + 1; ok && f < at; f++)
        if (plan->ops[f].code == HK_CLONE) plan->ops[k].u[1] = 1;
    } else if (op->code == HK_EXEC && k != plan->nops - 1) {
      ok = 0;
      for (uint32_t f = 0; f < k && !ok; f++) ok = plan->ops[f].code == HK_FORK && plan->ops[f].u[0] == k + 1;
    }
    if (!ok) { hk_plan_free(plan); return EINVAL; }
  }
  if (r.p != r.end) { hk_plan_free(plan); return EINVAL; } // trailing bytes: encoder/decoder mismatch
  // A stack slot per process the plan makes (0: the spawned one), and whether they may share our
  // memory: not with a time namespace (clone with CLONE_VM: EINVAL; setns: EUSERS), nor with a
  // setns whose type is not given (it could be one).
  plan->nslots = 1;
  plan->use_vm = HK_VM_CLONE && !(plan->clone_flags & CLONE_NEWTIME);
  for (uint32_t k = 0; k < plan->nops; k++) {
    struct hk_op *op = &plan->ops[k];
    if (op->code == HK_FORK || op->code == HK_CLONE) {
      op->slot = plan->nslots++;
      if (op->q[0] & CLONE_NEWTIME) plan->use_vm = 0;
    }
    if (op->code == HK_UNSHARE && (op->q[0] & CLONE_NEWTIME)) plan->use_vm = 0;
    if (op->code == HK_SETNS && (op->u[0] == 0 || (op->u[0] & CLONE_NEWTIME))) plan->use_vm = 0;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The child. Nothing below may call malloc, stdio, glibc's set*id wrappers (those broadcast to
// the parent's other threads, which do not exist here) or anything that touches errno: with
// CLONE_VM the child shares Node's memory and, since it runs on the TLS of the thread that
// cloned it, Node's errno too. Every syscall goes through sys(), which returns -errno.

struct child {
  const struct hk_plan *plan;
  int err_fd;   // write end of the error pipe (CLOEXEC, relocated)
  int sync_fd;  // read end of the sync pipe (CLOEXEC, relocated)
  int *internal; // relocated internal fds
  int root_fd;  // the root register, -1 until openRoot/pivotRoot
  int clone_report; // a fork's child whose part has a clone op: the clone's pid goes here too (-1: none)
  // Set by the process that creates this one (fork/clone ops), applied first by the new process:
  uint32_t resume;   // the op it starts at
  int close_first;   // an fd of its creator's it must close (-1: none)
  int report_w;      // a fork child: the report pipe's write end, kept (relocated) as clone_report
  int cwd_denied;    // the first-try chdir op was denied (EACCES/EPERM): the retry op does it
};

static inline int E(long r) { return r < 0 ? (int)-r : 0; }

static _Noreturn void child_exit(int code) {
  for (;;) sys(SYS_exit_group, code);
}

// Decimal formatting without stdio.
static char *fmt_int(char *end, long v) {
  unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
  *--end = 0;
  do { *--end = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) *--end = '-';
  return end;
}

static char *append(char *dst, const char *src) {
  while (*src) *dst++ = *src++;
  *dst = 0;
  return dst;
}

/** "/proc/self/fd/N" in buf (at least 32 bytes). */
static const char *fd_path(char *buf, int fd) {
  char num[24];
  append(append(buf, "/proc/self/fd/"), fmt_int(num + sizeof num, fd));
  return buf;
}

static int write_record(struct child *c, int32_t step, int32_t value) {
  int32_t rec[2] = { step, value };
  long n;
  do n = sys(SYS_write, c->err_fd, rec, sizeof rec); while (n == -EINTR);
  return n == (long)sizeof rec ? 0 : (n < 0 ? (int)-n : EIO);
}

static _Noreturn void fail(struct child *c, int32_t step, int err) {
  if (write_record(c, step, err) != 0) {
    // Nobody reads the error pipe any more (e.g. a detached create whose caller exited).
    // SIGPIPE is blocked, so the write failed with EPIPE instead of killing us: say it on fd 2.
    char msg[96], num[24], *p = msg;
    p = append(p, "hako-exec: op ");
    p = append(p, fmt_int(num + sizeof num, step));
    p = append(p, " failed: errno ");
    p = append(p, fmt_int(num + sizeof num, err));
    p = append(p, "\n");
    sys(SYS_write, 2, msg, (size_t)(p - msg));
  }
  child_exit(127);
}

/** Moves fd (or passes on a -errno) to a number >= reloc_base, so later dup2 onto 0/1/2/targets cannot clobber it. */
static int high_fd(struct child *c, long fd) {
  if (fd < 0 || fd >= c->plan->reloc_base) return (int)fd;
  long nfd = sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, c->plan->reloc_base);
  sys(SYS_close, fd);
  return (int)nfd;
}

/**
 * Opens path: inside the root register (RESOLVE_IN_ROOT: "..", absolute symlinks and absolute
 * paths all stay inside it; magic links like /proc/self/root refused) or as given.
 * Returns the fd or -errno.
 */
static int open_path(struct child *c, const char *path, int in_root, int flags) {
  if (in_root) {
    if (c->root_fd < 0) return -EBADF; // no openRoot before an inRoot op
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    return (int)sys(SYS_openat2, c->root_fd, path, &how, sizeof how);
  }
  return (int)sys(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

/**
 * mkdir -p of path[0..len) (each missing component with mode); returns an O_PATH fd of the
 * resulting directory or -errno. Every component is created relative to the fd of its parent,
 * which was itself resolved inside the root, so a symlink can never redirect the walk outside.
 */
static int mkdirs_fd(struct child *c, const char *path, size_t len, mode_t mode, int in_root) {
  char buf[PATH_MAX];
  if (len >= sizeof buf) return -ENAMETOOLONG;
  memcpy(buf, path, len);
  buf[len] = 0;
  // Usually the directory exists (/proc, /dev in an image): one open instead of the walk.
  int dfd = -ENOENT;
  size_t pos = len;
  if (len > 0) {
    int fd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
    if (fd >= 0) return fd;
    // Else usually only the last component or two are missing (/sys/fs/cgroup/<controller>):
    // the walk starts at the deepest ancestor that opens, not at the root (fewer syscalls per
    // mount point). Any error other than ENOENT on the way walks from the root as before.
    while (fd == -ENOENT && pos > 0) {
      while (pos > 0 && buf[pos - 1] == '/') pos--;
      while (pos > 0 && buf[pos - 1] != '/') pos--;
      size_t cut = pos;
      while (cut > 1 && buf[cut - 1] == '/') cut--;
      if (cut == 0 || (cut == 1 && buf[0] == '/')) break;
      char saved = buf[cut];
      buf[cut] = 0;
      fd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
      buf[cut] = saved;
    }
    if (fd >= 0) dfd = fd;
    else pos = 0;
  }
  if (dfd < 0) {
    pos = 0;
    dfd = open_path(c, (in_root || path[0] == '/') ? "/" : ".", in_root, O_PATH | O_DIRECTORY);
  }
  while (dfd >= 0 && pos < len) {
    while (pos < len && buf[pos] == '/') pos++;
    size_t end = pos;
    while (end < len && buf[end] != '/') end++;
    if (end == pos) break;
    char saved = buf[end];
    buf[end] = 0;
    // EEXIST: a directory (fine), a symlink (resolved in the root just below) or a file
    // (the open with O_DIRECTORY then fails with ENOTDIR).
    long r = sys(SYS_mkdirat, dfd, buf + pos, mode);
    if (r < 0 && r != -EEXIST) {
      sys(SYS_close, dfd);
      return (int)r;
    }
    int nfd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
    sys(SYS_close, dfd);
    dfd = nfd;
    buf[end] = saved;
    pos = end;
  }
  return dfd;
}

/** Splits path into its parent directory (created 0755 when missing) and last component. */
static int parent_fd(struct child *c, const char *path, int in_root, const char **name) {
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  size_t slash = len;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  *name = path + slash; // may keep trailing slashes: the *at calls accept "name/" for dirs only
  return mkdirs_fd(c, path, slash, 0755, in_root);
}

static int op_mount(struct child *c, const struct hk_op *op) {
  const char *target = op->s[1];
  char buf[32];
  int in_root = op->u[0], optional = op->u[1], tfd = -1;
  if (in_root || optional) {
    tfd = open_path(c, target, in_root, O_PATH);
    if (tfd < 0) return (tfd == -ENOENT && optional) ? 0 : -tfd;
    if (in_root) target = fd_path(buf, tfd);
  }
  int err = E(sys(SYS_mount, op->s[0], target, op->s[2], (unsigned long)op->q[0], op->s[3]));
  if (tfd >= 0) sys(SYS_close, tfd);
  return err;
}

static int op_remount(struct child *c, const struct hk_op *op) {
  char buf[32];
  int fd = open_path(c, op->s[0], op->u[0], O_PATH);
  if (fd < 0) return (fd == -ENOENT && op->u[1]) ? 0 : -fd;
  struct statfs sfs;
  unsigned long flags = (unsigned long)op->q[0];
  long r = sys(SYS_fstatfs, fd, &sfs);
  if (r < 0) { sys(SYS_close, fd); return E(r); }
  // In a user namespace the kernel refuses (EPERM) a remount that would clear a flag locked by
  // a more privileged mount namespace, so keep whatever is set. Read-only only when asked.
  if (sfs.f_flags & ST_NOSUID) flags |= MS_NOSUID;
  if (sfs.f_flags & ST_NODEV) flags |= MS_NODEV;
  if (sfs.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
  if (!(flags & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME))) {
    if (sfs.f_flags & ST_NOATIME) flags |= MS_NOATIME;
    if (sfs.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (sfs.f_flags & ST_RELATIME) flags |= MS_RELATIME;
  }
  const char *target = op->u[0] ? fd_path(buf, fd) : op->s[0];
  int err = E(sys(SYS_mount, NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL));
  sys(SYS_close, fd);
  return err;
}

static int op_mask(struct child *c, const struct hk_op *op) {
  char buf[32];
  int fd = open_path(c, op->s[0], op->u[0], O_PATH);
  if (fd < 0) return fd == -ENOENT ? 0 : -fd;
  struct stat st;
  long r = sys(SYS_fstat, fd, &st);
  if (r == 0) {
    const char *target = fd_path(buf, fd);
    if (S_ISDIR(st.st_mode))
      r = sys(SYS_mount, "tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555");
    else
      r = sys(SYS_mount, "/dev/null", target, NULL, MS_BIND, NULL);
  }
  sys(SYS_close, fd);
  return E(r);
}

static int op_create(struct child *c, const struct hk_op *op) {
  const char *name;
  int dfd = parent_fd(c, op->code == HK_SYMLINK ? op->s[1] : op->s[0],
                      op->code == HK_MKNOD ? (int)op->u[5] : (int)op->u[0], &name);
  if (dfd < 0) return -dfd;
  long r = 0;
  switch (op->code) {
  case HK_TOUCH: // O_NOFOLLOW|O_EXCL: never write through a symlink; anything existing is fine
    r = sys(SYS_openat, dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->u[0]);
    if (r >= 0) { sys(SYS_close, r); r = 0; }
    else if (r == -EEXIST) r = 0;
    break;
  case HK_SYMLINK:
    r = sys(SYS_symlinkat, op->s[0], dfd, name);
    if (r == -EEXIST && op->u[1]) r = 0;
    break;
  case HK_MKNOD:
    r = sys(SYS_mknodat, dfd, name, op->u[0], makedev(op->u[1], op->u[2]));
    if (r == 0) r = sys(SYS_fchownat, dfd, name, op->u[3], op->u[4], AT_SYMLINK_NOFOLLOW);
    break;
  }
  sys(SYS_close, dfd);
  return E(r);
}

static int op_chown_chmod(struct child *c, const struct hk_op *op) {
  int in_root = op->code == HK_CHOWN ? op->u[2] : op->u[1];
  int fd = open_path(c, op->s[0], in_root, O_PATH);
  if (fd < 0) return -fd;
  long r;
  if (op->code == HK_CHOWN) {
    r = sys(SYS_fchownat, fd, "", op->u[0], op->u[1], AT_EMPTY_PATH);
  } else {
    r = sys(SYS_fchmodat2, fd, "", op->u[0], AT_EMPTY_PATH);
    if (r == -ENOSYS) { // fchmodat2 is Linux 6.6+
      char buf[32];
      r = sys(SYS_fchmodat, AT_FDCWD, fd_path(buf, fd), op->u[0], 0);
    }
  }
  sys(SYS_close, fd);
  return E(r);
}

/** The root register becomes the current "/" (after pivot_root / move / chroot). */
static int reset_root(struct child *c) {
  if (c->root_fd >= 0) sys(SYS_close, c->root_fd);
  int fd = high_fd(c, sys(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
  c->root_fd = fd < 0 ? -1 : fd;
  return fd < 0 ? -fd : 0;
}

static int op_pivot_root(struct child *c, const struct hk_op *op) {
  long fd = sys(SYS_openat, AT_FDCWD, op->s[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return E(fd);
  long r = sys(SYS_fchdir, fd);
  sys(SYS_close, fd);
  if (r < 0) return E(r);
  // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/"; EINVAL if
  // the new root is not a mount point or is on a shared mount (the plan makes it private).
  if ((r = sys(SYS_pivot_root, ".", ".")) < 0) return E(r);
  // Make the old root a slave first so the detach below cannot propagate to the host when the
  // plan left it shared.
  if ((r = sys(SYS_mount, NULL, ".", NULL, MS_SLAVE | MS_REC, NULL)) < 0) return E(r);
  if ((r = sys(SYS_umount2, ".", MNT_DETACH)) < 0) return E(r);
  if ((r = sys(SYS_chdir, "/")) < 0) return E(r);
  return reset_root(c);
}

static int op_move_root(struct child *c, const struct hk_op *op) {
  long r;
  if ((r = sys(SYS_chdir, op->s[0])) < 0) return E(r);
  if ((r = sys(SYS_mount, op->s[0], "/", NULL, MS_MOVE, NULL)) < 0) return E(r);
  if ((r = sys(SYS_chroot, ".")) < 0) return E(r);
  if ((r = sys(SYS_chdir, "/")) < 0) return E(r);
  return reset_root(c);
}

static int write_all(int fd, const char *p, size_t left) {
  while (left > 0) {
    long n = sys(SYS_write, fd, p, left);
    if (n == -EINTR) continue;
    if (n <= 0) return n < 0 ? E(n) : EIO;
    p += n;
    left -= (size_t)n;
  }
  return 0;
}

static int op_write_file(struct child *c, const struct hk_op *op) {
  int fd = open_path(c, op->s[0], op->u[0], O_WRONLY | O_TRUNC);
  if (fd < 0) return -fd;
  int err = write_all(fd, op->s[1], op->slen[1]);
  sys(SYS_close, fd);
  return err;
}

static int op_cap_bounding(const struct hk_op *op) {
  // Dropping a capability that is not in the set is a no-op; EINVAL means past the last one
  // the kernel knows (it says the same to PR_CAPBSET_READ).
  for (unsigned long cap = 0; cap < 64; cap++) {
    long r = (op->q[0] & (1ULL << cap)) ? sys(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0)
                                         : sys(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (r < 0) return r == -EINVAL ? 0 : E(r);
  }
  return 0;
}

static int op_capset(const struct hk_op *op) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = {
    { (uint32_t)op->q[0], (uint32_t)op->q[1], (uint32_t)op->q[2] },
    { (uint32_t)(op->q[0] >> 32), (uint32_t)(op->q[1] >> 32), (uint32_t)(op->q[2] >> 32) },
  };
  return E(sys(SYS_capset, &hdr, data));
}

static int op_ambient(const struct hk_op *op) {
  long r = sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (r < 0) return E(r);
  for (unsigned long cap = 0; cap < 64; cap++) {
    if (!(op->q[0] & (1ULL << cap))) continue;
    // EPERM unless the cap is in both permitted and inheritable; EINVAL past the last cap.
    if ((r = sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)) < 0) return E(r);
  }
  return 0;
}

static int op_seccomp(const struct hk_op *op) {
  struct sock_fprog prog = { (unsigned short)op->nfilter, (struct sock_filter *)op->filter };
  // Without no_new_privs this needs CAP_SYS_ADMIN (EACCES otherwise).
  long r = sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, op->u[0], &prog);
  if (r == -ENOSYS && op->u[0] == 0)
    r = sys(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  return E(r);
}

static int send_fd(int sock, int fd, const char *data, size_t len) {
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = { (void *)data, len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  long n;
  do n = sys(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL); while (n == -EINTR);
  return E(n);
}

static int op_open_pty(struct child *c, const struct hk_op *op) {
  int master = high_fd(c, sys(SYS_openat, AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0));
  if (master < 0) return -master;
  int unlock = 0, peer = -1;
  unsigned int n = 0;
  char path[40], num[24];
  long r;
  if ((r = sys(SYS_ioctl, master, TIOCSPTLCK, &unlock)) < 0 || (r = sys(SYS_ioctl, master, TIOCGPTN, &n)) < 0) goto out;
  append(append(path, "/dev/pts/"), fmt_int(num + sizeof num, (long)n));
  // TIOCGPTPEER opens the peer through the master's own devpts instance, not by path.
  peer = high_fd(c, sys(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (peer < 0) { r = peer; goto out; }
  if (op->u[0] > 0 && op->u[1] > 0) {
    struct winsize ws = { (unsigned short)op->u[0], (unsigned short)op->u[1], 0, 0 };
    if ((r = sys(SYS_ioctl, master, TIOCSWINSZ, &ws)) < 0) goto out;
  }
  // EPERM when already a session leader (a setsid op ran before): fine.
  r = sys(SYS_setsid);
  if (r == -EPERM && sys(SYS_getsid, 0) == sys(SYS_getpid)) r = 0;
  if (r < 0) goto out;
  if ((r = sys(SYS_ioctl, peer, TIOCSCTTY, 0)) < 0) goto out;
  for (int t = 0; t < 3; t++)
    if ((r = sys(SYS_dup3, peer, t, 0)) < 0) goto out;
  r = -send_fd(c->internal[op->i[0]], master, path, strlen(path));
out:
  if (peer >= 0) sys(SYS_close, peer);
  sys(SYS_close, master);
  return E(r);
}

static int op_wait_fifo(struct child *c, const struct hk_op *op) {
  char buf[32];
  // Reopening through /proc blocks until a reader opens the fifo (the `start`).
  long fd = sys(SYS_openat, AT_FDCWD, fd_path(buf, c->internal[op->i[0]]), O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0) return E(fd);
  long n;
  do n = sys(SYS_write, fd, "0", 1); while (n == -EINTR);
  sys(SYS_close, fd);
  return E(n);
}

/** Whether execve could run `path` now: a regular file we may execute (errno, 0 = yes). */
static int can_exec(const char *path) {
  struct statx stx;
  long r = sys(SYS_statx, AT_FDCWD, path, 0, STATX_TYPE, &stx);
  if (r < 0) return E(r);
  if (!S_ISREG(stx.stx_mode)) return EACCES; // what execve says of a directory or a device
  // AT_EACCESS: the effective ids and capabilities, as execve checks them (a noexec mount: EACCES).
  r = sys(SYS_faccessat2, AT_FDCWD, path, X_OK, AT_EACCESS);
  if (r == -ENOSYS) r = sys(SYS_faccessat, AT_FDCWD, path, X_OK); // before Linux 5.8: real ids (= effective after setresid)
  return E(r);
}

/** Walks `search` like op_exec would, calling can_exec on each candidate instead of execve. */
// loopbackUp: `lo` of the process's network namespace up (docker's --network none: loopback
// only, but working), by SIOCSIFFLAGS on a datagram socket of that namespace: two ioctls, no
// netlink round trip by the parent. Needs CAP_NET_ADMIN over the netns, so it runs before the
// capability drop.
static int op_loopback_up(void) {
  long s = sys(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return E(s);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  long r = sys(SYS_ioctl, s, SIOCGIFFLAGS, &ifr);
  if (r >= 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    r = sys(SYS_ioctl, s, SIOCSIFFLAGS, &ifr);
  }
  sys(SYS_close, s);
  return r < 0 ? E(r) : 0;
}

static int op_look_path(const struct hk_op *op) {
  const char *file = op->s[0], *search = op->s[1];
  if (strchr(file, '/') || search == NULL) return can_exec(file);
  char buf[PATH_MAX];
  size_t flen = op->slen[0];
  int eacces = 0;
  for (const char *p = search;; ) {
    const char *e = p;
    while (*e && *e != ':') e++;
    size_t dlen = (size_t)(e - p);
    if (dlen + flen + 2 <= sizeof buf) {
      char *q = buf;
      if (dlen) { memcpy(q, p, dlen); q += dlen; *q++ = '/'; } // empty entry = cwd
      memcpy(q, file, flen + 1);
      int err = can_exec(buf);
      if (err == 0) return 0;
      if (err == EACCES) eacces = 1;
      else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT) return err;
    }
    if (!*e) return eacces ? EACCES : ENOENT;
    p = e + 1;
  }
}

static int op_exec(const struct hk_op *op) {
  uint64_t none = 0, all = ~0ULL;
  const char *file = op->s[0], *search = op->s[1];
  // The mask was fully blocked since before clone; execve keeps the mask, so clear it now.
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
  int err;
  if (strchr(file, '/') || search == NULL) {
    err = E(sys(SYS_execve, file, op->argv, op->envp));
  } else {
    char buf[PATH_MAX];
    size_t flen = op->slen[0];
    int eacces = 0;
    err = ENOENT;
    for (const char *p = search;; ) {
      const char *e = p;
      while (*e && *e != ':') e++;
      size_t dlen = (size_t)(e - p);
      if (dlen + flen + 2 <= sizeof buf) {
        char *q = buf;
        if (dlen) { memcpy(q, p, dlen); q += dlen; *q++ = '/'; } // empty entry = cwd
        memcpy(q, file, flen + 1);
        err = E(sys(SYS_execve, buf, op->argv, op->envp));
        if (err == EACCES) eacces = 1;
        else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT) break;
      }
      if (!*e) { err = eacces ? EACCES : ENOENT; break; }
      p = e + 1;
    }
  }
  // Failed: block everything again so a pending SIGPIPE cannot kill us while reporting.
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all);
  return err;
}

// ---- Making processes (the spawn itself, and the fork and clone ops)

/** Where a process made with CLONE_VM starts: its stack slot's top holds its `struct child`. */
static char *slot_top(const struct hk_plan *plan, uint32_t slot) {
  return plan->stacks + (size_t)(slot + 1) * HK_STACK_SLOT;
}

/**
 * Makes a process that runs fn(arg) and never returns to us; returns its pid, or -errno. With the
 * plan's use_vm it shares our memory (CLONE_VM, no page tables copied) and runs on stack slot
 * `slot`, below `arg` (which must be at that slot's top); otherwise it is a fork-like copy that
 * calls fn on its copy of our stack.
 */
static long new_process(const struct hk_plan *plan, struct clone_args *a, uint32_t slot, int (*fn)(void *), void *arg) {
#if HK_VM_CLONE
  if (plan->use_vm) {
    char *base = plan->stacks + (size_t)slot * HK_STACK_SLOT + HK_STACK_GUARD;
    a->flags |= CLONE_VM | CLONE_CHILD_CLEARTID;
    a->stack = (uint64_t)(uintptr_t)base;
    a->stack_size = (uint64_t)(((uintptr_t)arg & ~(uintptr_t)63) - (uintptr_t)base);
    // The kernel zeroes this word (in our memory) when the process execs or exits: then it no
    // longer runs on its stack or reads our plan. Set before the clone, and before the process
    // making it can exec or exit (the fence), so "all words zero" means all of them are done.
    a->child_tid = (uint64_t)(uintptr_t)&plan->tids[slot];
    __atomic_store_n(&plan->tids[slot], 1, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    long pid = hk_clone3_call(a, sizeof *a, fn, arg);
    if (pid < 0) __atomic_store_n(&plan->tids[slot], 0, __ATOMIC_SEQ_CST);
    return pid;
  }
#else
  (void)slot;
#endif
  long pid = sys(SYS_clone3, a, sizeof *a);
  if (pid == 0) {
    fn(arg);
    child_exit(0);
  }
  return pid;
}

/** The new process's `struct child`: at the top of its stack slot (CLONE_VM), else in `local`. */
static struct child *child_for(const struct hk_plan *plan, uint32_t slot, struct child *local) {
  if (!plan->use_vm) return local;
  return (struct child *)(slot_top(plan, slot) - ((sizeof(struct child) + 63) & ~(size_t)63));
}

static int run_ops(void *arg);

/**
 * The clone op: the new process is our parent's child (CLONE_PARENT), so whoever reaps us reaps
 * it. We report its pid ({-1, pid}, and on the fork caller's report pipe when we are a fork's
 * child) and exit; it goes on with the next op.
 */
static int run_clone(struct child *c, uint32_t k, const struct hk_op *op) {
  struct child local, *nc = child_for(c->plan, op->slot, &local);
  *nc = *c;
  nc->resume = k + 1;
  nc->close_first = c->clone_report; // the new process does not report to the fork caller
  nc->clone_report = -1;
  nc->report_w = -1;
  struct clone_args a;
  memset(&a, 0, sizeof a);
  // The kernel gives a CLONE_PARENT child our exit_signal; clone3 wants exit_signal 0 with it.
  a.flags = CLONE_PARENT | op->q[0];
  long pid = new_process(c->plan, &a, op->slot, run_ops, nc);
  if (pid < 0) return E(pid);
  write_record(c, -1, (int32_t)pid);
  if (c->clone_report >= 0) {
    // Our parent (a fork's caller) adopts the new process, its child by CLONE_PARENT.
    int32_t v = (int32_t)pid;
    long n;
    do n = sys(SYS_write, c->clone_report, &v, sizeof v); while (n == -EINTR);
  }
  child_exit(0);
}

static int run_op(struct child *c, int32_t step, const struct hk_op *op) {
  long r = 0;
  switch (op->code) {
  case HK_SYNC_WAIT: {
    char b;
    do r = sys(SYS_read, c->sync_fd, &b, 1); while (r == -EINTR);
    if (r == 0) child_exit(126); // the parent gave up: leave quietly
    return E(r);
  }
  case HK_NOTIFY: {
    int err = write_record(c, -2, op->i[0]);
    return err == EPIPE ? 0 : err;
  }
  case HK_SETRESID:
    if ((r = sys(SYS_setresgid, op->u[1], op->u[1], op->u[1])) < 0) return E(r);
    r = sys(SYS_setresuid, op->u[0], op->u[0], op->u[0]);
    break;
  case HK_SETGROUPS: r = sys(SYS_setgroups, op->ngids, op->gids); break;
  case HK_UNSHARE: r = sys(SYS_unshare, (unsigned long)op->q[0]); break;
  case HK_SETNS: r = sys(SYS_setns, c->internal[op->i[0]], op->u[0]); break;
  case HK_CLONE: return run_clone(c, (uint32_t)step, op);
  case HK_OPEN_ROOT: {
    int fd = high_fd(c, sys(SYS_openat, AT_FDCWD, op->s[0], O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    if (fd < 0) return -fd;
    if (c->root_fd >= 0) sys(SYS_close, c->root_fd);
    c->root_fd = fd;
    return 0;
  }
  case HK_MOUNT: return op_mount(c, op);
  case HK_REMOUNT: return op_remount(c, op);
  case HK_MASK: return op_mask(c, op);
  case HK_MKDIRS: {
    int fd = mkdirs_fd(c, op->s[0], op->slen[0], op->u[0], op->u[1]);
    if (fd < 0) return -fd;
    sys(SYS_close, fd);
    return 0;
  }
  case HK_TOUCH: case HK_SYMLINK: case HK_MKNOD: return op_create(c, op);
  case HK_CHOWN: case HK_CHMOD: return op_chown_chmod(c, op);
  case HK_PIVOT_ROOT: return op_pivot_root(c, op);
  case HK_MOVE_ROOT: return op_move_root(c, op);
  case HK_CHROOT:
    // chdir("/") too: a chroot leaving the cwd outside the new root is an escape hatch.
    if ((r = sys(SYS_chroot, op->s[0])) < 0 || (r = sys(SYS_chdir, "/")) < 0) return E(r);
    return reset_root(c);
  case HK_SETHOSTNAME: r = sys(SYS_sethostname, op->s[0], (size_t)op->slen[0]); break;
  case HK_SETDOMAINNAME: r = sys(SYS_setdomainname, op->s[0], (size_t)op->slen[0]); break;
  case HK_WRITE_FILE: return op_write_file(c, op);
  case HK_WRITE_FD: return write_all(c->internal[op->i[0]], op->s[0], op->slen[0]);
  case HK_SETRLIMIT: {
    uint64_t lim[2] = { op->q[0], op->q[1] };
    r = sys(SYS_prlimit64, 0, op->u[0], lim, NULL);
    break;
  }
  case HK_CHDIR:
    if (op->u[0] == 2 && !c->cwd_denied) return 0; // the first try got there
    r = sys(SYS_chdir, op->s[0]);
    // First try, as root: a cwd only the container user may enter (root squashed on NFS) is
    // left to the retry after the user switch.
    if (op->u[0] == 1) { c->cwd_denied = r == -EACCES || r == -EPERM; if (c->cwd_denied) r = 0; }
    break;
  case HK_UMASK: sys(SYS_umask, op->u[0]); return 0;
  case HK_CAP_BOUNDING: return op_cap_bounding(op);
  case HK_KEEP_CAPS: r = sys(SYS_prctl, PR_SET_KEEPCAPS, op->u[0] ? 1 : 0, 0, 0, 0); break;
  case HK_CAPSET: return op_capset(op);
  case HK_AMBIENT: return op_ambient(op);
  case HK_PDEATHSIG: r = sys(SYS_prctl, PR_SET_PDEATHSIG, op->i[0], 0, 0, 0); break;
  case HK_NO_NEW_PRIVS: r = sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); break;
  case HK_SECCOMP: return op_seccomp(op);
  case HK_SETSID: r = sys(SYS_setsid); break;
  case HK_LOOPBACK_UP: return op_loopback_up();
  case HK_OPEN_PTY: return op_open_pty(c, op);
  case HK_WAIT_FIFO: return op_wait_fifo(c, op);
  case HK_DUP2: r = sys(SYS_dup3, c->internal[op->i[0]], op->i[1], 0); break;
  case HK_CLOSE_FROM:
    // CLOEXEC rather than close: the error pipe must stay open until the exec (it is CLOEXEC).
    r = sys(SYS_close_range, op->u[0], ~0U, CLOSE_RANGE_CLOEXEC);
    break;
  case HK_LOOK_PATH: return op_look_path(op);
  case HK_EXEC: return op_exec(op);
  default: return EINVAL;
  }
  return E(r);
}

/**
 * The fork op: the new process is our child (we are its reaper, e.g. a monitor); it goes on with
 * the next op, we at op u[0]. Returns the child's pid (after the {-4, pid} record and the pidfd
 * move) or -errno.
 */
static long run_fork(struct child *c, uint32_t k, const struct hk_op *op) {
  int pidfd = -1, report[2] = { -1, -1 };
  // With a clone op in the child part, the clone's process is the one to hand on (its pidfd at
  // op->i[0]): the child reports its pid on a pipe of our own. CLOEXEC, so EOF comes when the
  // child execs or dies without cloning.
  long r;
  if (op->u[1] && (r = sys(SYS_pipe2, report, O_CLOEXEC)) < 0) return r;
  struct child local, *nc = child_for(c->plan, op->slot, &local);
  *nc = *c;
  nc->resume = k + 1;
  nc->close_first = report[0];
  nc->report_w = report[1];
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = CLONE_PIDFD | op->q[0];
  a.pidfd = (uint64_t)(uintptr_t)&pidfd;
  a.exit_signal = SIGCHLD;
  if (op->i[1] >= 0) {
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = (uint64_t)c->internal[op->i[1]];
  }
  long pid = new_process(c->plan, &a, op->slot, run_ops, nc);
  if (pid < 0) {
    if (report[0] >= 0) { sys(SYS_close, report[0]); sys(SYS_close, report[1]); }
    return pid;
  }
  write_record(c, -4, (int32_t)pid);
  if (report[0] >= 0) {
    sys(SYS_close, report[1]);
    int32_t cpid = 0;
    long n;
    do n = sys(SYS_read, report[0], &cpid, sizeof cpid); while (n == -EINTR);
    sys(SYS_close, report[0]);
    if (n == (long)sizeof cpid && cpid > 0) {
      // The clone's process is our child (CLONE_PARENT from our child) and we have not reaped
      // it, so its pid cannot have been reused. Reap the forked child, which exits right after
      // reporting; from here on the pidfd is the clone's.
      long cfd = sys(SYS_pidfd_open, cpid, 0);
      if (cfd < 0) return cfd;
      siginfo_t si;
      long w;
      do w = sys(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL); while (w == -EINTR);
      sys(SYS_close, pidfd);
      pidfd = (int)cfd;
      pid = cpid;
    }
    // EOF without a pid: the child failed before its clone (it reported that to the parent);
    // hand on its own pidfd, so whoever reaps it sees the failure's exit status.
  }
  if (op->i[0] >= 0) {
    // pidfds are always O_CLOEXEC; dup3 onto another number clears it (same number: fcntl).
    if (pidfd != op->i[0]) {
      if ((r = sys(SYS_dup3, pidfd, op->i[0], 0)) < 0) return r;
      sys(SYS_close, pidfd);
    } else if ((r = sys(SYS_fcntl, pidfd, F_SETFD, 0)) < 0) {
      return r;
    }
  } else {
    sys(SYS_close, pidfd);
  }
  return pid;
}

/** Profiling: the time op k completed (plan->trace, see addon_exec.h). */
static void trace_op(const struct hk_plan *plan, uint32_t k) {
  if (!plan->trace || !plan->use_vm) return;
  struct timespec ts;
  if (sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) == 0) plan->trace[k] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Runs the ops from c->resume (a new process first applies what its creator left it). */
static int run_ops(void *arg) {
  struct child *c = arg;
  const struct hk_plan *plan = c->plan;
  if (c->close_first >= 0) {
    sys(SYS_close, c->close_first);
    c->close_first = -1;
  }
  if (c->report_w >= 0) {
    c->clone_report = high_fd(c, c->report_w);
    c->report_w = -1;
    if (c->clone_report < 0) fail(c, (int32_t)c->resume - 1, -c->clone_report);
  }
  for (uint32_t k = c->resume; k < plan->nops; k++) {
    const struct hk_op *op = &plan->ops[k];
    if (op->code == HK_FORK) {
      long pid = run_fork(c, k, op);
      if (pid < 0) fail(c, (int32_t)k, (int)-pid);
      k = op->u[0] - 1; // we (the fork's caller) go on at the continuation
      continue;
    }
    if (op->code == HK_EXEC) trace_op(plan, k); // the last moment we can: exec replaces us
    int err = run_op(c, (int32_t)k, op);
    if (err) fail(c, (int32_t)k, err);
    trace_op(plan, k);
  }
  child_exit(0); // a plan without exec
}

/** What the spawned process gets from hk_spawn (at the top of stack slot 0 with CLONE_VM). */
struct spawn_args {
  struct child c;
  int err_r, sync_w; // our ends of the pipes, to close
  pid_t parent;
};

/** The fixed prologue; returns 0 or an errno (reported as step -3). */
static int prologue(struct spawn_args *s) {
  struct child *c = &s->c;
  const struct hk_plan *plan = c->plan;
  long r;
  // 1. Default dispositions: Node ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec.
  // (Raw rt_sigaction: glibc's refuses its internal signals 32/33 with EINVAL.)
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { SIG_DFL, 0, NULL, 0 };
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sys(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  // 2. Die with the parent. If it already died, we were reparented: leave. (In a new pid ns
  // getppid() is 0 because the parent is outside it, so the check cannot apply there.)
  if (plan->pdeathsig) {
    if ((r = sys(SYS_prctl, PR_SET_PDEATHSIG, plan->pdeathsig, 0, 0, 0)) < 0) return E(r);
    long pp = sys(SYS_getppid);
    if (pp != s->parent && pp != 0) child_exit(1);
  }
  // 3. Fds. Everything the child keeps goes above every fd the plan writes to.
  int base = plan->reloc_base;
  if ((r = sys(SYS_fcntl, c->err_fd, F_DUPFD_CLOEXEC, base)) < 0) return E(r);
  sys(SYS_close, c->err_fd);
  c->err_fd = (int)r;
  if ((r = sys(SYS_fcntl, c->sync_fd, F_DUPFD_CLOEXEC, base)) < 0) return E(r);
  sys(SYS_close, c->sync_fd);
  c->sync_fd = (int)r;
  int *src = plan->scratch;        // relocated fds sources (so swaps like 1↔2 work)
  c->internal = plan->scratch + plan->nfds;
  for (uint32_t k = 0; k < plan->ninternal; k++) {
    if ((r = sys(SYS_fcntl, plan->internal[k], F_DUPFD_CLOEXEC, base)) < 0) return E(r);
    c->internal[k] = (int)r;
  }
  for (uint32_t k = 0; k < plan->nfds; k++) {
    if ((r = sys(SYS_fcntl, plan->fd_src[k], F_DUPFD_CLOEXEC, base)) < 0) return E(r);
    src[k] = (int)r;
  }
  // dup3 onto a different fd number always clears CLOEXEC on the target (Node 20 marks 0-2
  // CLOEXEC, so a plain "keep fd 1" would lose stdout at exec).
  for (uint32_t k = 0; k < plan->nfds; k++) {
    if ((r = sys(SYS_dup3, src[k], plan->fd_dst[k], 0)) < 0) return E(r);
    sys(SYS_close, src[k]);
  }
  // Below the highest target, fds that are not targets do not survive exec either.
  for (int fd = 0; fd <= plan->max_target; fd++) {
    int is_target = 0;
    for (uint32_t k = 0; k < plan->nfds; k++) is_target |= plan->fd_dst[k] == fd;
    if (!is_target) sys(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC); // EBADF: not open, fine
  }
  return E(sys(SYS_close_range, (unsigned)(plan->max_target + 1), ~0U, CLOSE_RANGE_CLOEXEC));
}

static int spawn_main(void *arg) {
  struct spawn_args *s = arg;
  // Our copies of the parent's ends: without closing them the sync pipe would never give EOF
  // and writes to the error pipe would never fail with EPIPE.
  sys(SYS_close, s->err_r);
  sys(SYS_close, s->sync_w);
  int err = prologue(s);
  if (err) fail(&s->c, -3, err);
  trace_op(s->c.plan, s->c.plan->nops);
  return run_ops(&s->c);
}

// ---------------------------------------------------------------------------------------------
// Parent side

/** A spawn whose processes share our memory (CLONE_VM): its plan and stacks live until they are done. */
struct spawn_res {
  struct spawn_res *next;
  uint8_t *buf; // the plan bytes (the decoded plan's strings point into them)
  struct hk_plan plan;
};

// Spawns still running in our memory (main thread only, like every spawn).
static struct spawn_res *outstanding;

static void res_free(struct spawn_res *res) {
  if (res->plan.stacks) munmap(res->plan.stacks, (size_t)res->plan.nslots * HK_STACK_SLOT);
  res->plan.stacks = NULL;
  free((void *)res->plan.tids);
  res->plan.tids = NULL;
  hk_plan_free(&res->plan);
  free(res->buf);
  free(res);
}

/**
 * Frees the spawns whose processes have all exec'd or exited (each one's CLONE_CHILD_CLEARTID
 * word is zero): nobody runs on those stacks or reads that plan any more. Done lazily, at the
 * next spawn. (A word, not an fd: an fd of ours could be closed, and its number reused, by code
 * that closes a stale fd number.)
 */
static void sweep_outstanding(void) {
  for (struct spawn_res **p = &outstanding; *p;) {
    struct spawn_res *res = *p;
    int busy = 0;
    for (uint32_t k = 0; k < res->plan.nslots && !busy; k++) busy = __atomic_load_n(&res->plan.tids[k], __ATOMIC_SEQ_CST) != 0;
    if (!busy) {
      *p = res->next;
      res_free(res);
      continue;
    }
    p = &res->next;
  }
}

static int spawn_plan(struct spawn_res *res, struct hk_spawned *out, const char **failed_syscall) {
  struct hk_plan *plan = &res->plan;
  int ep[2] = { -1, -1 }, sp[2] = { -1, -1 };
  int err = 0;
  if (plan->use_vm) {
    // One stack per process the plan makes, each above a guard page (not touched until used),
    // and one CLONE_CHILD_CLEARTID word each.
    plan->tids = calloc(plan->nslots, sizeof *plan->tids);
    if (!plan->tids) { *failed_syscall = "malloc"; return ENOMEM; }
    size_t len = (size_t)plan->nslots * HK_STACK_SLOT;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) { *failed_syscall = "mmap"; return errno; }
    plan->stacks = m;
    for (uint32_t k = 0; k < plan->nslots; k++) mprotect(plan->stacks + (size_t)k * HK_STACK_SLOT, HK_STACK_GUARD, PROT_NONE);
  }
  if (pipe2(ep, O_CLOEXEC) < 0 || pipe2(sp, O_CLOEXEC) < 0) {
    err = errno;
    *failed_syscall = "pipe2";
    goto fail;
  }
  struct spawn_args local;
  struct spawn_args *s = plan->use_vm ? (struct spawn_args *)(slot_top(plan, 0) - ((sizeof(struct spawn_args) + 63) & ~(size_t)63)) : &local;
  memset(s, 0, sizeof *s);
  s->c.plan = plan;
  s->c.err_fd = ep[1];
  s->c.sync_fd = sp[0];
  s->c.internal = NULL;
  s->c.root_fd = -1;
  s->c.clone_report = -1;
  s->c.resume = 0;
  s->c.close_first = -1;
  s->c.report_w = -1;
  s->err_r = ep[0];
  s->sync_w = sp[1];
  s->parent = getpid();
  int pidfd = -1;
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = CLONE_PIDFD | plan->clone_flags;
  a.pidfd = (uint64_t)(uintptr_t)&pidfd;
  a.exit_signal = SIGCHLD;
  if (plan->cgroup_fd >= 0) {
    a.flags |= CLONE_INTO_CGROUP;
    a.cgroup = (uint64_t)plan->cgroup_fd;
  }
  // Block every signal across the clone (raw: glibc's pthread_sigmask leaves 32/33 unblocked),
  // so no Node handler ever runs in the child; the exec op clears the child's mask.
  uint64_t all = ~0ULL, old = 0;
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
  long pid = new_process(plan, &a, 0, spawn_main, s);
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
  if (pid < 0) {
    err = (int)-pid;
    *failed_syscall = "clone3";
    goto fail;
  }
  close(ep[1]);
  close(sp[0]);
  out->pid = (pid_t)pid;
  out->pidfd = pidfd;
  out->sync_fd = sp[1];
  out->err_fd = ep[0];
  return 0;
fail:
  for (int k = 0; k < 2; k++) {
    if (ep[k] >= 0) close(ep[k]);
    if (sp[k] >= 0) close(sp[k]);
  }
  return err;
}

int hk_spawn_buffer(const void *data, size_t len, struct hk_spawned *out, const char **failed_syscall, uint64_t *trace, size_t trace_len) {
  sweep_outstanding();
  struct spawn_res *res = calloc(1, sizeof *res);
  uint8_t *buf = malloc(len ? len : 1);
  if (!res || !buf) {
    free(res);
    free(buf);
    *failed_syscall = "malloc";
    return ENOMEM;
  }
  memcpy(buf, data, len);
  res->buf = buf;
  int err = hk_plan_decode(buf, len, &res->plan);
  if (err) {
    free(buf);
    free(res);
    *failed_syscall = "decode plan";
    return err;
  }
  // Too short a trace buffer is not used (the caller sizes it from the plan it encoded).
  if (trace && trace_len >= (size_t)res->plan.nops + 1) res->plan.trace = trace;
  err = spawn_plan(res, out, failed_syscall);
  if (err || !res->plan.use_vm) {
    // A fork-like child has its own copy of everything.
    res_free(res);
    return err;
  }
  res->next = outstanding;
  outstanding = res;
  return 0;
}
