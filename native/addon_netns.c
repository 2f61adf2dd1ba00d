// Network namespaces made ahead of a container start, on a thread of their own.
//
// A new network namespace costs ~0.5 ms of kernel time (setup_net runs every pernet init: the
// sysctl tables, the lo device, the protocol tables), and as a clone flag that time is spent
// on the way from a start request to the container's program. Made on another CPU while the
// start does its other work, the container's fork joins it with setns (a few µs) instead.
//
// netnsBegin starts a detached thread (not the libuv pool, whose threads may be busy with a
// previous container's fsyncs and removals) that unshares (only its own network namespace
// changes: threads do not share it, and unshare(CLONE_NEWNET) is allowed in a multi-threaded
// process), optionally sets lo up inside, opens /proc/thread-self/ns/net and exits; the fd keeps
// the namespace. A thread that ends is the cleanest way back: no thread of ours stays in it.
// netnsTake never waits: it returns the fd if the thread is done, and otherwise leaves the thread
// to close it. Whichever of the two comes last frees the shared record.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { NS_RUNNING = 0, NS_DONE = 1, NS_TAKEN = 2 };

struct netns_job {
  int loopback_up;
  int fd;              // the namespace fd (O_CLOEXEC), or -1
  int err;             // errno of the failed step
  const char *syscall; // which step failed
  int state;           // NS_*: RUNNING → DONE (thread) or RUNNING → TAKEN (take first)
};

static void make_netns(struct netns_job *j) {
  if (unshare(CLONE_NEWNET) < 0) {
    j->err = errno;
    j->syscall = "unshare(CLONE_NEWNET)";
    return;
  }
  if (j->loopback_up) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      j->err = errno;
      j->syscall = "socket";
      return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
      ifr.ifr_flags |= IFF_UP;
      r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(s);
    if (r < 0) {
      j->err = e;
      j->syscall = "ioctl(SIOCSIFFLAGS) to set lo up";
      return;
    }
  }
  j->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (j->fd < 0) {
    j->err = errno;
    j->syscall = "open /proc/thread-self/ns/net";
  }
}

static void *netns_thread(void *p) {
  struct netns_job *j = p;
  make_netns(j);
  int expect = NS_RUNNING;
  if (!__atomic_compare_exchange_n(&j->state, &expect, NS_DONE, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    // Taken (or dropped) before we were done: nobody wants it any more.
    if (j->fd >= 0) close(j->fd);
    free(j);
  }
  return NULL;
}

/** The handle's finalizer: a job never taken is dropped (its fd closed) like a late one. */
static void job_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct netns_job **slot = data;
  struct netns_job *j = *slot;
  free(slot);
  if (!j) return;
  int expect = NS_RUNNING;
  if (!__atomic_compare_exchange_n(&j->state, &expect, NS_TAKEN, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    if (j->fd >= 0) close(j->fd);
    free(j);
  }
}

// netnsBegin(loopbackUp) → handle: starts making a network namespace (lo up when asked).
static napi_value js_netns_begin(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL) < 0) return NULL;
  bool up = false;
  if (napi_get_value_bool(env, argv[0], &up) != napi_ok) {
    napi_throw_type_error(env, NULL, "netnsBegin(loopbackUp: boolean)");
    return NULL;
  }
  struct netns_job *j = calloc(1, sizeof *j);
  struct netns_job **slot = malloc(sizeof *slot);
  if (!j || !slot) {
    free(j);
    free(slot);
    return hk_throw_errno(env, "malloc", ENOMEM);
  }
  j->loopback_up = up;
  j->fd = -1;
  j->state = NS_RUNNING;
  *slot = j;
  int r = hk_start_thread(NULL, 1, netns_thread, j);
  if (r != 0) {
    free(j);
    free(slot);
    return hk_throw_errno(env, "pthread_create", r);
  }
  napi_value handle;
  if (napi_create_external(env, slot, job_finalize, NULL, &handle) != napi_ok) {
    job_finalize(env, slot, NULL);
    return NULL;
  }
  return handle;
}

// netnsTake(handle) → fd, or -1 when it is not made yet (the thread then closes it when it is).
// Throws the failed step's errno. A handle is taken once: later calls give -1.
static napi_value js_netns_take(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (hk_args(env, info, 1, 1, argv, NULL) < 0) return NULL;
  struct netns_job **slot;
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], (void **)&slot) != napi_ok) {
    napi_throw_type_error(env, NULL, "netnsTake(handle from netnsBegin)");
    return NULL;
  }
  struct netns_job *j = *slot;
  *slot = NULL;
  int fd = -1;
  if (j) {
    int expect = NS_RUNNING;
    if (!__atomic_compare_exchange_n(&j->state, &expect, NS_TAKEN, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      // Done: the thread no longer touches it.
      fd = j->fd;
      int err = j->err;
      const char *what = j->syscall;
      free(j);
      if (fd < 0) return hk_throw_errno(env, what ? what : "netnsTake", err);
    }
  }
  napi_create_int32(env, fd, &out);
  return out;
}

HK_EXPORT("netnsBegin", js_netns_begin);
HK_EXPORT("netnsTake", js_netns_take);
