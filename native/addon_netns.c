// Network namespaces made ahead of a container start, off the daemon's event loop.
//
// A new network namespace costs ~0.5 ms of kernel time (setup_net runs every pernet init: the
// sysctl tables, the lo device, the protocol tables), and as a clone flag that time is spent
// on the way from a start request to the container's program. Made earlier in a thread of its
// own, the container's fork joins it with setns (a few µs) instead.
//
// The thread unshares (only its own network namespace changes: threads do not share it with
// CLONE_NEWNET, and unshare(CLONE_NEWNET) is allowed in a multi-threaded process), optionally
// sets lo up inside, opens /proc/thread-self/ns/net and exits; the fd keeps the namespace. A
// thread that ends is the cleanest way back: no libuv pool thread is ever left in another netns.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct netns_work {
  napi_async_work work;
  napi_deferred deferred;
  int loopback_up;
  int fd;               // the namespace fd (O_CLOEXEC), or -1
  int err;              // errno of the failed step
  const char *syscall;  // which step failed
};

static void *make_netns(void *p) {
  struct netns_work *w = p;
  if (unshare(CLONE_NEWNET) < 0) {
    w->err = errno;
    w->syscall = "unshare(CLONE_NEWNET)";
    return NULL;
  }
  if (w->loopback_up) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      w->err = errno;
      w->syscall = "socket";
      return NULL;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int r = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
      ifr.ifr_flags |= IFF_UP;
      r = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    if (r < 0) {
      w->err = errno;
      w->syscall = "ioctl(SIOCSIFFLAGS lo up)";
      close(s);
      return NULL;
    }
    close(s);
  }
  w->fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (w->fd < 0) {
    w->err = errno;
    w->syscall = "open /proc/thread-self/ns/net";
  }
  return NULL;
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct netns_work *w = p;
  pthread_t t;
  int r = pthread_create(&t, NULL, make_netns, w);
  if (r != 0) {
    w->err = r;
    w->syscall = "pthread_create";
    return;
  }
  pthread_join(t, NULL);
}

static void complete(napi_env env, napi_status status, void *p) {
  struct netns_work *w = p;
  if (status == napi_ok && w->fd >= 0) {
    napi_value fd;
    napi_create_int32(env, w->fd, &fd);
    napi_resolve_deferred(env, w->deferred, fd);
  } else {
    if (w->fd >= 0) close(w->fd);
    hk_throw_errno(env, w->syscall ? w->syscall : "netnsCreate", status == napi_ok ? w->err : ECANCELED);
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_reject_deferred(env, w->deferred, err);
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

// netnsCreate(loopbackUp) → Promise<fd>: a new network namespace (lo up when asked), as an
// O_CLOEXEC fd of this process; rejects with the errno of the failed step.
static napi_value js_netns_create(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL) < 0) return NULL;
  bool up = false;
  if (napi_get_value_bool(env, argv[0], &up) != napi_ok) {
    napi_throw_type_error(env, NULL, "netnsCreate(loopbackUp: boolean)");
    return NULL;
  }
  struct netns_work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "netnsCreate: out of memory");
    return NULL;
  }
  w->loopback_up = up;
  w->fd = -1;
  napi_value promise, name;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok) {
    free(w);
    return NULL;
  }
  napi_create_string_utf8(env, "hako:netns", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, w, &w->work) != napi_ok || napi_queue_async_work(env, w->work) != napi_ok) {
    napi_value err;
    napi_create_string_utf8(env, "netnsCreate: cannot queue the work", NAPI_AUTO_LENGTH, &err);
    napi_reject_deferred(env, w->deferred, err);
    if (w->work) napi_delete_async_work(env, w->work);
    free(w);
  }
  return promise;
}

HK_EXPORT("netnsCreate", js_netns_create);
