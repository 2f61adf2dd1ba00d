// The executor: decodes a plan (docs/executor-plan.md) before clone, then the child interprets it.
//
// Everything after clone3() runs in a fork-like copy of one thread of a multi-threaded Node
// process: other threads may have held glibc locks (malloc, stdio) at the moment of the clone,
// so the child only makes raw syscalls through syscall(2) and touches no allocator. errno is
// fine: the child has its own copy of the memory, TLS included. The child decides nothing; every
// policy choice is in the plan.
#include "addon_exec.h"

#include <errno.h>
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
  case HK_SYNC_WAIT: case HK_NO_NEW_PRIVS: case HK_SETSID:
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
  case HK_SETHOSTNAME: case HK_SETDOMAINNAME: case HK_CHDIR:
    op->s[0] = rd_str(r, &op->slen[0], 0);
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
  case HK_FORK: // flags, parentContinuesAt, pidfd (checked against the whole plan in hk_plan_decode)
    op->q[0] = rd_u64(r); op->u[0] = rd_u32(r); op->i[0] = rd_i32(r);
    if (!r->bad && (op->i[0] < -1 || op->i[0] > 65535)) return EINVAL;
    if (!r->bad && op->i[0] + 1 > plan->reloc_base) plan->reloc_base = op->i[0] + 1;
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
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The child. Nothing below may call malloc, stdio or glibc's set*id wrappers (those broadcast
// to the parent's other threads, which do not exist here).

struct child {
  const struct hk_plan *plan;
  int err_fd;   // write end of the error pipe (CLOEXEC, relocated)
  int sync_fd;  // read end of the sync pipe (CLOEXEC, relocated)
  int *internal; // relocated internal fds
  int root_fd;  // the root register, -1 until openRoot/pivotRoot
  int clone_report; // a fork's child whose part has a clone op: the clone's pid goes here too (-1: none)
};

#define sys(...) syscall(__VA_ARGS__)

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

static long write_record(struct child *c, int32_t step, int32_t value) {
  int32_t rec[2] = { step, value };
  long n;
  do n = sys(SYS_write, c->err_fd, rec, sizeof rec); while (n < 0 && errno == EINTR);
  return n == (long)sizeof rec ? 0 : (n < 0 ? errno : EIO);
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

/** Moves fd to a number >= reloc_base (so later dup2 onto 0/1/2/targets cannot clobber it). */
static int high_fd(struct child *c, int fd) {
  if (fd < 0 || fd >= c->plan->reloc_base) return fd;
  long nfd = sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, c->plan->reloc_base);
  int err = errno;
  sys(SYS_close, fd);
  if (nfd < 0) { errno = err; return -1; }
  return (int)nfd;
}

/**
 * Opens path: inside the root register (RESOLVE_IN_ROOT: "..", absolute symlinks and absolute
 * paths all stay inside it; magic links like /proc/self/root refused) or as given.
 * Returns the fd or -errno.
 */
static int open_path(struct child *c, const char *path, int in_root, int flags) {
  long fd;
  if (in_root) {
    if (c->root_fd < 0) return -EBADF; // no openRoot before an inRoot op
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    fd = sys(SYS_openat2, c->root_fd, path, &how, sizeof how);
  } else {
    fd = sys(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
  }
  return fd < 0 ? -errno : (int)fd;
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
  if (len > 0) {
    int fd = open_path(c, buf, in_root, O_PATH | O_DIRECTORY);
    if (fd >= 0) return fd;
  }
  int dfd = open_path(c, (in_root || path[0] == '/') ? "/" : ".", in_root, O_PATH | O_DIRECTORY);
  size_t pos = 0;
  while (dfd >= 0 && pos < len) {
    while (pos < len && buf[pos] == '/') pos++;
    size_t end = pos;
    while (end < len && buf[end] != '/') end++;
    if (end == pos) break;
    char saved = buf[end];
    buf[end] = 0;
    // EEXIST: a directory (fine), a symlink (resolved in the root just below) or a file
    // (the open with O_DIRECTORY then fails with ENOTDIR).
    if (sys(SYS_mkdirat, dfd, buf + pos, mode) < 0 && errno != EEXIST) {
      int err = errno;
      sys(SYS_close, dfd);
      return -err;
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
  long r = sys(SYS_mount, op->s[0], target, op->s[2], (unsigned long)op->q[0], op->s[3]);
  int err = r < 0 ? errno : 0;
  if (tfd >= 0) sys(SYS_close, tfd);
  return err;
}

static int op_remount(struct child *c, const struct hk_op *op) {
  char buf[32];
  int fd = open_path(c, op->s[0], op->u[0], O_PATH);
  if (fd < 0) return (fd == -ENOENT && op->u[1]) ? 0 : -fd;
  struct statfs sfs;
  unsigned long flags = (unsigned long)op->q[0];
  if (sys(SYS_fstatfs, fd, &sfs) < 0) { int err = errno; sys(SYS_close, fd); return err; }
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
  long r = sys(SYS_mount, NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL);
  int err = r < 0 ? errno : 0;
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
  int err = r < 0 ? errno : 0;
  sys(SYS_close, fd);
  return err;
}

static int op_create(struct child *c, const struct hk_op *op) {
  const char *name;
  int dfd = parent_fd(c, op->code == HK_SYMLINK ? op->s[1] : op->s[0],
                      op->code == HK_MKNOD ? (int)op->u[5] : (int)op->u[0], &name);
  if (dfd < 0) return -dfd;
  long r = 0;
  int err = 0;
  switch (op->code) {
  case HK_TOUCH: // O_NOFOLLOW|O_EXCL: never write through a symlink; anything existing is fine
    r = sys(SYS_openat, dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, op->u[0]);
    if (r >= 0) sys(SYS_close, r);
    else if (errno == EEXIST) r = 0;
    break;
  case HK_SYMLINK:
    r = sys(SYS_symlinkat, op->s[0], dfd, name);
    if (r < 0 && errno == EEXIST && op->u[1]) r = 0;
    break;
  case HK_MKNOD:
    r = sys(SYS_mknodat, dfd, name, op->u[0], makedev(op->u[1], op->u[2]));
    if (r == 0) r = sys(SYS_fchownat, dfd, name, op->u[3], op->u[4], AT_SYMLINK_NOFOLLOW);
    break;
  }
  if (r < 0) err = errno;
  sys(SYS_close, dfd);
  return err;
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
    if (r < 0 && errno == ENOSYS) { // fchmodat2 is Linux 6.6+
      char buf[32];
      r = sys(SYS_fchmodat, AT_FDCWD, fd_path(buf, fd), op->u[0], 0);
    }
  }
  int err = r < 0 ? errno : 0;
  sys(SYS_close, fd);
  return err;
}

/** The root register becomes the current "/" (after pivot_root / move / chroot). */
static int reset_root(struct child *c) {
  if (c->root_fd >= 0) sys(SYS_close, c->root_fd);
  long fd = sys(SYS_openat, AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  c->root_fd = high_fd(c, (int)fd);
  return c->root_fd < 0 ? errno : 0;
}

static int op_pivot_root(struct child *c, const struct hk_op *op) {
  long fd = sys(SYS_openat, AT_FDCWD, op->s[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return errno;
  long r = sys(SYS_fchdir, fd);
  sys(SYS_close, fd);
  if (r < 0) return errno;
  // pivot_root(".", "."): the old root ends up stacked on top of the new one at "/"; EINVAL if
  // the new root is not a mount point or is on a shared mount (the plan makes it private).
  if (sys(SYS_pivot_root, ".", ".") < 0) return errno;
  // Make the old root a slave first so the detach below cannot propagate to the host when the
  // plan left it shared.
  if (sys(SYS_mount, NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) return errno;
  if (sys(SYS_umount2, ".", MNT_DETACH) < 0) return errno;
  if (sys(SYS_chdir, "/") < 0) return errno;
  return reset_root(c);
}

static int op_move_root(struct child *c, const struct hk_op *op) {
  if (sys(SYS_chdir, op->s[0]) < 0) return errno;
  if (sys(SYS_mount, op->s[0], "/", NULL, MS_MOVE, NULL) < 0) return errno;
  if (sys(SYS_chroot, ".") < 0) return errno;
  if (sys(SYS_chdir, "/") < 0) return errno;
  return reset_root(c);
}

static int op_write_file(struct child *c, const struct hk_op *op) {
  int fd = open_path(c, op->s[0], op->u[0], O_WRONLY | O_TRUNC);
  if (fd < 0) return -fd;
  const char *p = op->s[1];
  size_t left = op->slen[1];
  int err = 0;
  while (left > 0) {
    long n = sys(SYS_write, fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { err = n < 0 ? errno : EIO; break; }
    p += n;
    left -= (size_t)n;
  }
  sys(SYS_close, fd);
  return err;
}

static int op_cap_bounding(const struct hk_op *op) {
  // Dropping a capability that is not in the set is a no-op; EINVAL means past the last one
  // the kernel knows (it says the same to PR_CAPBSET_READ).
  for (unsigned long cap = 0; cap < 64; cap++) {
    if (op->q[0] & (1ULL << cap)) {
      if (sys(SYS_prctl, PR_CAPBSET_READ, cap, 0, 0, 0) < 0) return errno == EINVAL ? 0 : errno;
      continue;
    }
    if (sys(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) return errno == EINVAL ? 0 : errno;
  }
  return 0;
}

static int op_capset(const struct hk_op *op) {
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2] = {
    { (uint32_t)op->q[0], (uint32_t)op->q[1], (uint32_t)op->q[2] },
    { (uint32_t)(op->q[0] >> 32), (uint32_t)(op->q[1] >> 32), (uint32_t)(op->q[2] >> 32) },
  };
  return sys(SYS_capset, &hdr, data) < 0 ? errno : 0;
}

static int op_ambient(const struct hk_op *op) {
  if (sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return errno;
  for (unsigned long cap = 0; cap < 64; cap++) {
    if (!(op->q[0] & (1ULL << cap))) continue;
    // EPERM unless the cap is in both permitted and inheritable; EINVAL past the last cap.
    if (sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return errno;
  }
  return 0;
}

static int op_seccomp(const struct hk_op *op) {
  struct sock_fprog prog = { (unsigned short)op->nfilter, (struct sock_filter *)op->filter };
  // Without no_new_privs this needs CAP_SYS_ADMIN (EACCES otherwise).
  long r = sys(SYS_seccomp, SECCOMP_SET_MODE_FILTER, op->u[0], &prog);
  if (r < 0 && errno == ENOSYS && op->u[0] == 0)
    r = sys(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
  return r < 0 ? errno : 0;
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
  do n = sys(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

static int op_open_pty(struct child *c, const struct hk_op *op) {
  int err = 0, master, peer = -1;
  master = high_fd(c, (int)sys(SYS_openat, AT_FDCWD, "/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, 0));
  if (master < 0) return errno;
  int unlock = 0;
  unsigned int n = 0;
  char path[40], num[24];
  if (sys(SYS_ioctl, master, TIOCSPTLCK, &unlock) < 0 || sys(SYS_ioctl, master, TIOCGPTN, &n) < 0) goto out;
  append(append(path, "/dev/pts/"), fmt_int(num + sizeof num, (long)n));
  // TIOCGPTPEER opens the peer through the master's own devpts instance, not by path.
  peer = high_fd(c, (int)sys(SYS_ioctl, master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (peer < 0) goto out;
  if (op->u[0] > 0 && op->u[1] > 0) {
    struct winsize ws = { (unsigned short)op->u[0], (unsigned short)op->u[1], 0, 0 };
    if (sys(SYS_ioctl, master, TIOCSWINSZ, &ws) < 0) goto out;
  }
  // EPERM when already a session leader (a setsid op ran before): fine.
  if (sys(SYS_setsid) < 0 && !(errno == EPERM && sys(SYS_getsid, 0) == sys(SYS_getpid))) goto out;
  if (sys(SYS_ioctl, peer, TIOCSCTTY, 0) < 0) goto out;
  for (int t = 0; t < 3; t++)
    if (sys(SYS_dup3, peer, t, 0) < 0) goto out;
  err = send_fd(c->internal[op->i[0]], master, path, strlen(path));
  goto done;
out:
  err = errno;
done:
  if (peer >= 0) sys(SYS_close, peer);
  sys(SYS_close, master);
  return err;
}

static int op_wait_fifo(struct child *c, const struct hk_op *op) {
  char buf[32];
  // Reopening through /proc blocks until a reader opens the fifo (the `start`).
  long fd = sys(SYS_openat, AT_FDCWD, fd_path(buf, c->internal[op->i[0]]), O_WRONLY | O_CLOEXEC, 0);
  if (fd < 0) return errno;
  long n;
  do n = sys(SYS_write, fd, "0", 1); while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  sys(SYS_close, fd);
  return err;
}

static int op_exec(const struct hk_op *op) {
  uint64_t none = 0, all = ~0ULL;
  const char *file = op->s[0], *search = op->s[1];
  // The mask was fully blocked since before clone; execve keeps the mask, so clear it now.
  sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
  int err;
  if (strchr(file, '/') || search == NULL) {
    sys(SYS_execve, file, op->argv, op->envp);
    err = errno;
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
        sys(SYS_execve, buf, op->argv, op->envp);
        err = errno;
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

static int run_op(struct child *c, int32_t step, const struct hk_op *op) {
  long r = 0;
  switch (op->code) {
  case HK_SYNC_WAIT: {
    char b;
    do r = sys(SYS_read, c->sync_fd, &b, 1); while (r < 0 && errno == EINTR);
    if (r == 0) child_exit(126); // the parent gave up: leave quietly
    return r < 0 ? errno : 0;
  }
  case HK_NOTIFY: {
    int err = (int)write_record(c, -2, op->i[0]);
    return err == EPIPE ? 0 : err;
  }
  case HK_SETRESID:
    if (sys(SYS_setresgid, op->u[1], op->u[1], op->u[1]) < 0) return errno;
    r = sys(SYS_setresuid, op->u[0], op->u[0], op->u[0]);
    break;
  case HK_SETGROUPS: r = sys(SYS_setgroups, op->ngids, op->gids); break;
  case HK_UNSHARE: r = sys(SYS_unshare, (unsigned long)op->q[0]); break;
  case HK_SETNS: r = sys(SYS_setns, c->internal[op->i[0]], op->u[0]); break;
  case HK_CLONE: {
    // CLONE_PARENT: the new process is a sibling (Node's child, so Node reaps it); the kernel
    // gives it our exit_signal (SIGCHLD), and clone3 wants exit_signal 0 with CLONE_PARENT.
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_PARENT | op->q[0];
    long pid = sys(SYS_clone3, &a, sizeof a);
    if (pid < 0) return errno;
    if (pid > 0) {
      write_record(c, -1, (int32_t)pid);
      if (c->clone_report >= 0) {
        // Our parent (a fork's caller) adopts the new process, its child by CLONE_PARENT.
        int32_t v = (int32_t)pid;
        long n;
        do n = sys(SYS_write, c->clone_report, &v, sizeof v); while (n < 0 && errno == EINTR);
      }
      child_exit(0);
    }
    if (c->clone_report >= 0) {
      sys(SYS_close, c->clone_report);
      c->clone_report = -1;
    }
    return 0;
  }
  case HK_OPEN_ROOT: {
    int fd = high_fd(c, (int)sys(SYS_openat, AT_FDCWD, op->s[0], O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    if (fd < 0) return errno;
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
    if (sys(SYS_chroot, op->s[0]) < 0 || sys(SYS_chdir, "/") < 0) return errno;
    return reset_root(c);
  case HK_SETHOSTNAME: r = sys(SYS_sethostname, op->s[0], (size_t)op->slen[0]); break;
  case HK_SETDOMAINNAME: r = sys(SYS_setdomainname, op->s[0], (size_t)op->slen[0]); break;
  case HK_WRITE_FILE: return op_write_file(c, op);
  case HK_SETRLIMIT: {
    uint64_t lim[2] = { op->q[0], op->q[1] };
    r = sys(SYS_prlimit64, 0, op->u[0], lim, NULL);
    break;
  }
  case HK_CHDIR: r = sys(SYS_chdir, op->s[0]); break;
  case HK_UMASK: sys(SYS_umask, op->u[0]); return 0;
  case HK_CAP_BOUNDING: return op_cap_bounding(op);
  case HK_KEEP_CAPS: r = sys(SYS_prctl, PR_SET_KEEPCAPS, op->u[0] ? 1 : 0, 0, 0, 0); break;
  case HK_CAPSET: return op_capset(op);
  case HK_AMBIENT: return op_ambient(op);
  case HK_PDEATHSIG: r = sys(SYS_prctl, PR_SET_PDEATHSIG, op->i[0], 0, 0, 0); break;
  case HK_NO_NEW_PRIVS: r = sys(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); break;
  case HK_SECCOMP: return op_seccomp(op);
  case HK_SETSID: r = sys(SYS_setsid); break;
  case HK_OPEN_PTY: return op_open_pty(c, op);
  case HK_WAIT_FIFO: return op_wait_fifo(c, op);
  case HK_DUP2: r = sys(SYS_dup3, c->internal[op->i[0]], op->i[1], 0); break;
  case HK_CLOSE_FROM:
    // CLOEXEC rather than close: the error pipe must stay open until the exec (it is CLOEXEC).
    r = sys(SYS_close_range, op->u[0], ~0U, CLOSE_RANGE_CLOEXEC);
    break;
  case HK_EXEC: return op_exec(op);
  default: return EINVAL;
  }
  return r < 0 ? errno : 0;
}

/**
 * The fork op: clone3 without CLONE_PARENT, so the new process is our child (we are its reaper,
 * e.g. a monitor). Returns 0 in the child, the child's pid in the parent (after the {-4, pid}
 * record and the pidfd move), or -errno.
 */
static long run_fork(struct child *c, int32_t step, const struct hk_op *op) {
  int pidfd = -1, report[2] = { -1, -1 };
  // With a clone op in the child part, the clone's process is the one to hand on (its pidfd at
  // op->i[0]): the child reports its pid on a pipe of our own. CLOEXEC, so EOF comes when the
  // child execs or dies without cloning.
  if (op->u[1] && sys(SYS_pipe2, report, O_CLOEXEC) < 0) return -errno;
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = CLONE_PIDFD | op->q[0];
  a.pidfd = (uint64_t)(uintptr_t)&pidfd;
  a.exit_signal = SIGCHLD;
  long pid = sys(SYS_clone3, &a, sizeof a);
  if (pid < 0) {
    int err = errno;
    if (report[0] >= 0) { sys(SYS_close, report[0]); sys(SYS_close, report[1]); }
    return -err;
  }
  if (pid == 0) {
    if (report[0] >= 0) {
      sys(SYS_close, report[0]);
      c->clone_report = high_fd(c, report[1]);
      if (c->clone_report < 0) fail(c, step, errno);
    }
    return 0;
  }
  write_record(c, -4, (int32_t)pid);
  if (report[0] >= 0) {
    sys(SYS_close, report[1]);
    int32_t cpid = 0;
    long n;
    do n = sys(SYS_read, report[0], &cpid, sizeof cpid); while (n < 0 && errno == EINTR);
    sys(SYS_close, report[0]);
    if (n == (long)sizeof cpid && cpid > 0) {
      // The clone's process is our child (CLONE_PARENT from our child) and we have not reaped
      // it, so its pid cannot have been reused. Reap the forked child, which exits right after
      // reporting; from here on the pidfd is the clone's.
      long cfd = sys(SYS_pidfd_open, cpid, 0);
      if (cfd < 0) return -errno;
      siginfo_t si;
      long w;
      do w = sys(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED, NULL); while (w < 0 && errno == EINTR);
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
      if (sys(SYS_dup3, pidfd, op->i[0], 0) < 0) return -errno;
      sys(SYS_close, pidfd);
    } else if (sys(SYS_fcntl, pidfd, F_SETFD, 0) < 0) {
      return -errno;
    }
  } else {
    sys(SYS_close, pidfd);
  }
  return pid;
}

/** The fixed prologue; returns 0 or an errno (reported as step -3). */
static int prologue(struct child *c, int err_fd, int sync_fd, pid_t parent) {
  const struct hk_plan *plan = c->plan;
  // 1. Default dispositions: Node ignores SIGPIPE and SIGXFSZ, and ignored signals survive exec.
  // (Raw rt_sigaction: glibc's refuses its internal signals 32/33 with EINVAL.)
  struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { SIG_DFL, 0, NULL, 0 };
  for (int sig = 1; sig <= 64; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sys(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  // 2. Die with the parent. If it already died, we were reparented: leave. (In a new pid ns
  // getppid() is 0 because the parent is outside it, so the check cannot apply there.)
  if (plan->pdeathsig) {
    if (sys(SYS_prctl, PR_SET_PDEATHSIG, plan->pdeathsig, 0, 0, 0) < 0) return errno;
    long pp = sys(SYS_getppid);
    if (pp != parent && pp != 0) child_exit(1);
  }
  // 3. Fds. Everything the child keeps goes above every fd the plan writes to.
  int base = plan->reloc_base;
  if ((c->err_fd = (int)sys(SYS_fcntl, err_fd, F_DUPFD_CLOEXEC, base)) < 0) return errno;
  sys(SYS_close, err_fd);
  if ((c->sync_fd = (int)sys(SYS_fcntl, sync_fd, F_DUPFD_CLOEXEC, base)) < 0) return errno;
  sys(SYS_close, sync_fd);
  int *src = plan->scratch;        // relocated fds sources (so swaps like 1↔2 work)
  c->internal = plan->scratch + plan->nfds;
  for (uint32_t k = 0; k < plan->ninternal; k++)
    if ((c->internal[k] = (int)sys(SYS_fcntl, plan->internal[k], F_DUPFD_CLOEXEC, base)) < 0) return errno;
  for (uint32_t k = 0; k < plan->nfds; k++)
    if ((src[k] = (int)sys(SYS_fcntl, plan->fd_src[k], F_DUPFD_CLOEXEC, base)) < 0) return errno;
  // dup3 onto a different fd number always clears CLOEXEC on the target (Node 20 marks 0-2
  // CLOEXEC, so a plain "keep fd 1" would lose stdout at exec).
  for (uint32_t k = 0; k < plan->nfds; k++) {
    if (sys(SYS_dup3, src[k], plan->fd_dst[k], 0) < 0) return errno;
    sys(SYS_close, src[k]);
  }
  // Below the highest target, fds that are not targets do not survive exec either.
  for (int fd = 0; fd <= plan->max_target; fd++) {
    int is_target = 0;
    for (uint32_t k = 0; k < plan->nfds; k++) is_target |= plan->fd_dst[k] == fd;
    if (!is_target) sys(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC); // EBADF: not open, fine
  }
  if (sys(SYS_close_range, (unsigned)(plan->max_target + 1), ~0U, CLOSE_RANGE_CLOEXEC) < 0) return errno;
  return 0;
}

static _Noreturn void child_main(const struct hk_plan *plan, int err_w, int err_r, int sync_r, int sync_w, pid_t parent) {
  struct child c = { plan, err_w, sync_r, NULL, -1, -1 };
  // Our copies of the parent's ends: without closing them the sync pipe would never give EOF
  // and writes to the error pipe would never fail with EPIPE.
  sys(SYS_close, err_r);
  sys(SYS_close, sync_w);
  int err = prologue(&c, err_w, sync_r, parent);
  if (err) fail(&c, -3, err);
  for (uint32_t k = 0; k < plan->nops; k++) {
    if (plan->ops[k].code == HK_FORK) {
      long pid = run_fork(&c, (int32_t)k, &plan->ops[k]);
      if (pid < 0) fail(&c, (int32_t)k, (int)-pid);
      if (pid > 0) k = plan->ops[k].u[0] - 1; // the parent jumps to its continuation
      continue;
    }
    err = run_op(&c, (int32_t)k, &plan->ops[k]);
    if (err) fail(&c, (int32_t)k, err);
  }
  child_exit(0); // a plan without exec
}

// ---------------------------------------------------------------------------------------------
// Parent side

int hk_spawn(const struct hk_plan *plan, struct hk_spawned *out, const char **failed_syscall) {
  int ep[2], sp[2];
  if (pipe2(ep, O_CLOEXEC) < 0) { *failed_syscall = "pipe2"; return errno; }
  if (pipe2(sp, O_CLOEXEC) < 0) {
    int err = errno;
    close(ep[0]); close(ep[1]);
    *failed_syscall = "pipe2";
    return err;
  }
  // Block every signal across the clone (raw: glibc's pthread_sigmask leaves 32/33 unblocked),
  // so no Node handler ever runs in the child; the exec op clears the child's mask.
  uint64_t all = ~0ULL, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
  pid_t parent = getpid();
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
  // NULL stack: fork-like, the child continues right here on a copy-on-write copy of our stack.
  long pid = syscall(SYS_clone3, &a, sizeof a);
  if (pid == 0) child_main(plan, ep[1], ep[0], sp[0], sp[1], parent);
  int err = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
  close(ep[1]);
  close(sp[0]);
  if (pid < 0) {
    close(ep[0]);
    close(sp[1]);
    *failed_syscall = "clone3";
    return err;
  }
  out->pid = (pid_t)pid;
  out->pidfd = pidfd;
  out->sync_fd = sp[1];
  out->err_fd = ep[0];
  return 0;
}
