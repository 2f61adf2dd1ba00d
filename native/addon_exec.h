// The executor plan, decoded (see docs/executor-plan.md). Decoding happens in the parent before
// clone (malloc allowed there); the child only reads these structs. Strings point into the plan
// Buffer, which the fork-like child has a copy-on-write copy of.
#ifndef HAKO_ADDON_EXEC_H
#define HAKO_ADDON_EXEC_H

#include <stdint.h>
#include <sys/types.h>

enum hk_opcode {
  HK_SYNC_WAIT = 1, HK_NOTIFY, HK_SETRESID, HK_SETGROUPS, HK_UNSHARE, HK_SETNS, HK_CLONE,
  HK_OPEN_ROOT, HK_MOUNT, HK_REMOUNT, HK_MASK, HK_MKDIRS, HK_TOUCH, HK_SYMLINK, HK_MKNOD,
  HK_CHOWN, HK_CHMOD, HK_PIVOT_ROOT, HK_MOVE_ROOT, HK_CHROOT, HK_SETHOSTNAME, HK_SETDOMAINNAME,
  HK_WRITE_FILE, HK_SETRLIMIT, HK_CHDIR, HK_UMASK, HK_CAP_BOUNDING, HK_KEEP_CAPS, HK_CAPSET,
  HK_AMBIENT, HK_PDEATHSIG, HK_NO_NEW_PRIVS, HK_SECCOMP, HK_SETSID, HK_OPEN_PTY, HK_WAIT_FIFO,
  HK_DUP2, HK_CLOSE_FROM, HK_EXEC, HK_FORK, HK_LOOK_PATH, HK_WRITE_FD, HK_LOOPBACK_UP,
  HK_OPCODE_MAX = HK_LOOPBACK_UP
};

// One op. Field use per opcode (doc order):
//   s[0..3]  strings (NULL for a null `str?`), with lengths in slen[]
//   u[0..5]  u32 fields, i[0..1] i32 fields, q[0..2] u64 fields
//   list     argv (exec) / gids (setgroups, as gid_t) / seccomp insns
struct hk_op {
  uint32_t code;
  const char *s[4];
  uint32_t slen[4];
  uint32_t u[6];
  int32_t i[2];
  uint64_t q[3];
  const char **argv; // exec: NULL-terminated
  const char **envp; // exec: NULL-terminated
  gid_t *gids;       // setgroups
  uint32_t ngids;
  void *filter;      // seccomp: aligned copy of the sock_filter array
  uint32_t nfilter;  // number of 8-byte instructions
  uint32_t slot;     // fork/clone: the stack slot of the process it makes (CLONE_VM spawns)
};

struct hk_plan {
  uint64_t clone_flags;
  int32_t cgroup_fd;
  int32_t pdeathsig;
  uint32_t nfds;
  int32_t *fd_src, *fd_dst;
  uint32_t ninternal;
  int32_t *internal;
  uint32_t nops;
  struct hk_op *ops;
  // Computed while decoding: the highest `fds` target (-1 if none), and the lowest fd the
  // error pipe / sync pipe / internal fds are moved to in the child (above every fd the plan
  // writes to: fds targets and dup2 op targets, and never below 3).
  int max_target;
  int reloc_base;
  int *scratch; // nfds + ninternal ints the child fills with relocated fds
  // Computed too: how many processes the plan makes (stack slots) and whether they may share our
  // memory (CLONE_VM); `stacks` is set by the spawn.
  uint32_t nslots;
  int use_vm;
  char *stacks;
  int32_t *tids; // per slot: nonzero while that process may still use our memory (CLONE_CHILD_CLEARTID)
  // Profiling (optional, CLONE_VM spawns only): nops + 1 slots the processes fill with the
  // CLOCK_MONOTONIC time (ns) at which each op completed (slot nops: the spawn's prologue).
  // Memory of the caller's, shared with the children; nothing is written without CLONE_VM.
  uint64_t *trace;
};

/** Decodes `buf` into `plan`; returns 0 or a positive errno (EINVAL for a malformed plan). */
int hk_plan_decode(const uint8_t *buf, size_t len, struct hk_plan *plan);
void hk_plan_free(struct hk_plan *plan);

/** The result of hk_spawn (parent side). */
struct hk_spawned {
  pid_t pid;
  int pidfd;
  int sync_fd; // write end of the sync pipe
  int err_fd;  // read end of the error pipe
};

/**
 * Decodes the plan bytes (copied: with CLONE_VM the child reads them after we return) and clones
 * the child, which runs the prologue and the ops and never returns. Returns 0 or a positive
 * errno; *failed_syscall names the failing call ("decode plan" for a malformed plan).
 */
int hk_spawn_buffer(const void *data, size_t len, struct hk_spawned *out, const char **failed_syscall, uint64_t *trace, size_t trace_len);

#endif
