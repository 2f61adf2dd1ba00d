// exitNow(code): ends the process with _exit(2), without Node's teardown (V8 platform workers
// joined, atexit handlers such as OpenSSL's cleanup, the heap freed): the hako CLI's last ~3 ms
// after its answer is in (bench/startup.mjs --phases: process.exit → reaped 6.5 ms, a SIGKILL
// 3.5 ms). The caller has done what process.exit would first (the 'exit' event); its output is
// already written (Node writes stdio to files, pipes and terminals synchronously on Linux).
//
// The address space outlives the process. The kernel frees a process's memory in do_exit
// (exit_mm) before its parent is told (exit_notify): for node, tens of MB of pages and page
// tables, 3–5 ms between exit_group and the parent's wait returning, on the command's path
// (traced with sched_process_exit/sys_exit_wait4; a C program that touched 60 MB: 5.0 ms, the
// same with its memory held elsewhere: 0.14 ms). So exitNow first clones a "holder": a process
// sharing the memory (CLONE_VM, not a thread) that closes every descriptor it got a copy of,
// then waits on a pidfd of the command. The command's exit only drops a reference to the memory;
// once its whole thread group is gone (the pidfd is readable only then, after every thread's
// exit_mm) the holder exits and frees the memory, off the caller's path: exit_group → the
// parent's wait 0.25–0.36 ms instead of 3.4–4.6 ms. The CPU time is the same, only no longer
// waited for. The holder is reparented to init (or the nearest subreaper), which reaps it.
// (PR_SET_PDEATHSIG does not do: it fires when the thread that made the holder exits, the main
// thread first, and the holder then raced Node's other threads to the teardown.) The command
// waits (futex, ≤ 50 ms) until the holder has closed its descriptors, so no pipe or socket of
// the command stays open after it (a `$(hako …)` reader sees EOF when the command is gone).
// Anything unexpected (clone refused, no pidfd_open or close_range: Linux < 5.9) and it is a
// plain _exit.
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "addon_hooks.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

enum { HOLDER_PENDING = 0, HOLDER_READY = 1, HOLDER_FAILED = 2 };
static volatile uint32_t holder_state;
static pid_t holder_parent;

// Runs in the command's address space on a stack of its own, but with the calling thread's TLS
// (no CLONE_SETTLS): raw syscalls only, no libc state. syscall(2) writes errno on failure, into
// the calling thread's TLS, which then waits in futex and exits: harmless.
static int holder_main(void *arg) {
  (void)arg;
  uint64_t all = ~(uint64_t)0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, sizeof all); // node's handlers are not for it
  long pidfd = syscall(SYS_pidfd_open, holder_parent, 0);
  uint32_t state = HOLDER_FAILED;
  if (pidfd >= 0 && (pidfd == 0 || syscall(SYS_close_range, 0, (unsigned)pidfd - 1, 0) == 0) &&
      syscall(SYS_close_range, (unsigned)pidfd + 1, ~0U, 0) == 0) {
    state = HOLDER_READY;
  }
  __atomic_store_n(&holder_state, state, __ATOMIC_RELEASE);
  syscall(SYS_futex, &holder_state, FUTEX_WAKE, 1, NULL, NULL, 0);
  if (state == HOLDER_READY) {
    // Readable once the whole thread group has exited (each thread's exit_mm done).
    struct pollfd p = {.fd = (int)pidfd, .events = POLLIN};
    while (syscall(SYS_poll, &p, 1, -1) < 0) {
    }
  }
  syscall(SYS_exit, 0);
  return 0;
}

static void hold_memory(void) {
  size_t size = 64 * 1024;
  char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return;
  holder_parent = getpid();
  holder_state = HOLDER_PENDING;
  // Exit signal 0: the command's (Node's) SIGCHLD handling never sees it; once reparented, the
  // kernel gives it SIGCHLD for its new parent (reparent_leader).
  if (clone(holder_main, stack + size, CLONE_VM | CLONE_UNTRACED, NULL) < 0) return;
  struct timespec limit = {0, 50 * 1000 * 1000};
  while (__atomic_load_n(&holder_state, __ATOMIC_ACQUIRE) == HOLDER_PENDING) {
    // Returns at once when the state has moved on; a timeout leaves the holder to close its
    // copies a little later.
    if (syscall(SYS_futex, &holder_state, FUTEX_WAIT, HOLDER_PENDING, &limit, NULL, 0) != 0 && errno != EINTR &&
        errno != EAGAIN) {
      break; // ETIMEDOUT
    }
  }
}

static napi_value js_exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code;
  if (hk_args(env, info, 1, 1, argv, NULL) || hk_int32(env, argv[0], &code)) return NULL;
  hold_memory();
  _exit(code & 0xff);
}

HK_EXPORT("exitNow", js_exit_now);
