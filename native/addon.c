// hako_native: the N-API surface of the executor plus the few host syscalls Node lacks
// (pidfds, fd passing, winsize, bpf). Every failure throws an Error with .errno (positive),
// .code ('EPERM') and .syscall.
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "addon_exec.h"
#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define CHECK(call) do { if ((call) != napi_ok) return NULL; } while (0)

int hk_start_thread(pthread_t *out, int detached, void *(*fn)(void *), void *arg) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (detached) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int r = pthread_create(&t, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (r == 0 && out) *out = t;
  return r;
}

napi_value hk_errno_error(napi_env env, const char *syscall_name, int err) {
  const char *code = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (%s)", syscall_name, strerror(err), code ? code : "?");
  napi_value m, e, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "code", v);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  return e;
}

napi_value hk_throw_errno(napi_env env, const char *syscall_name, int err) {
  napi_throw(env, hk_errno_error(env, syscall_name, err));
  return NULL;
}

void hk_settle(napi_env env, napi_deferred deferred, const char *syscall_name, int err) {
  if (err != 0) {
    napi_reject_deferred(env, deferred, hk_errno_error(env, syscall_name, err));
    return;
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  napi_resolve_deferred(env, deferred, undef);
}

napi_value hk_queue_work(napi_env env, const char *name, const char *what, napi_async_execute_callback execute,
                         napi_async_complete_callback complete, void *data, napi_async_work *work, napi_deferred *deferred,
                         int *queued) {
  *queued = 0;
  napi_value promise, resource;
  if (napi_create_promise(env, deferred, &promise) != napi_ok) return NULL;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource);
  if (napi_create_async_work(env, NULL, resource, execute, complete, data, work) != napi_ok || napi_queue_async_work(env, *work) != napi_ok) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: cannot queue the work", what);
    napi_value err;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &err);
    napi_reject_deferred(env, *deferred, err);
    return promise;
  }
  *queued = 1;
  return promise;
}

int hk_args(napi_env env, napi_callback_info info, size_t want, size_t need, napi_value *argv, size_t *got) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < need) {
    napi_throw_type_error(env, NULL, "hako_native: missing arguments");
    return -1;
  }
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  if (got) *got = argc;
  return 0;
}

int hk_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  if (napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok || t != want) return -1;
  return 0;
}

struct timespec hk_timespec(double t) {
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000L;
    ts.tv_sec -= 1;
  }
  return ts;
}

int hk_int32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a number");
    return -1;
  }
  return 0;
}

int hk_uint32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a non-negative number");
    return -1;
  }
  return 0;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  return hk_args(env, info, want, want, argv, NULL);
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static napi_value obj2(napi_env env, const char *k1, napi_value v1, const char *k2, napi_value v2) {
  napi_value o;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, k1, v1);
  napi_set_named_property(env, o, k2, v2);
  return o;
}

static napi_value null_value(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

/** Waits until fd is readable (after EAGAIN: uv_poll_init made it O_NONBLOCK). */
static int wait_readable(int fd, short events) {
  struct pollfd p = { fd, events, 0 };
  int r;
  do r = poll(&p, 1, -1); while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

// spawn(plan: Buffer, trace?: BigUint64Array) → { pid, pidfd, syncFd, errFd }
// trace (profiling): ops + 1 slots the processes fill with each op's completion time (ns,
// CLOCK_MONOTONIC); the caller keeps the array alive until the processes exec'd or exited.
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) { napi_throw_type_error(env, NULL, "spawn: missing plan"); return NULL; }
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "spawn: expected a Buffer");
    return NULL;
  }
  uint64_t *trace = NULL;
  size_t trace_len = 0;
  napi_valuetype t = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &t);
  if (t != napi_undefined) {
    bool is_ta = false;
    napi_is_typedarray(env, argv[1], &is_ta);
    napi_typedarray_type tt;
    void *tdata = NULL;
    if (!is_ta || napi_get_typedarray_info(env, argv[1], &tt, &trace_len, &tdata, NULL, NULL) != napi_ok || tt != napi_biguint64_array) {
      napi_throw_type_error(env, NULL, "spawn: the trace must be a BigUint64Array");
      return NULL;
    }
    trace = tdata;
  }
  struct hk_spawned sp;
  const char *what = "clone3";
  int err = hk_spawn_buffer(data, len, &sp, &what, trace, trace_len);
  if (err) return hk_throw_errno(env, what, err);
  napi_value o;
  CHECK(napi_create_object(env, &o));
  napi_set_named_property(env, o, "pid", num(env, sp.pid));
  napi_set_named_property(env, o, "pidfd", num(env, sp.pidfd));
  napi_set_named_property(env, o, "syncFd", num(env, sp.sync_fd));
  napi_set_named_property(env, o, "errFd", num(env, sp.err_fd));
  return o;
}

// readRecord(fd, nohang?) → { step, value } | null (EOF) | undefined (nohang: nothing yet)
static napi_value js_read_record(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int32_t fd;
  bool nohang = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) { napi_throw_type_error(env, NULL, "readRecord: missing fd"); return NULL; }
  if (hk_int32(env, argv[0], &fd)) return NULL;
  if (argc > 1) napi_get_value_bool(env, argv[1], &nohang);
  if (nohang) {
    // Records are 8-byte writes (atomic on a pipe), so "readable" means a whole record or EOF.
    struct pollfd p = { fd, POLLIN, 0 };
    int r;
    do r = poll(&p, 1, 0); while (r < 0 && errno == EINTR);
    if (r < 0) return hk_throw_errno(env, "poll", errno);
    if (r == 0) return NULL; // undefined
  }
  int32_t rec[2];
  size_t got = 0;
  while (got < sizeof rec) {
    ssize_t n = read(fd, (char *)rec + got, sizeof rec - got);
    if (n > 0) { got += (size_t)n; continue; }
    if (n == 0) {
      if (got == 0) return null_value(env);
      return hk_throw_errno(env, "read error pipe (short record)", EIO);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      int err = wait_readable(fd, POLLIN);
      if (err) return hk_throw_errno(env, "poll", err);
      continue;
    }
    return hk_throw_errno(env, "read", errno);
  }
  return obj2(env, "step", num(env, rec[0]), "value", num(env, rec[1]));
}

// ---- watch(fd, cb) / unwatch(fd): a one-shot uv_poll_t on the main loop ----

struct watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  int fd;
  struct watcher *next;
};

// Per-process list: the addon is only ever used from the main thread (pdeathsig is per thread).
static struct watcher *watchers;

static void unlink_watcher(struct watcher *w) {
  for (struct watcher **p = &watchers; *p; p = &(*p)->next)
    if (*p == w) { *p = w->next; return; }
}

static void watcher_closed(uv_handle_t *h) {
  free(h->data);
}

static void release_watcher(struct watcher *w) {
  unlink_watcher(w);
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->cb);
  napi_async_destroy(w->env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, watcher_closed);
}

static void watcher_fired(uv_poll_t *handle, int status, int events) {
  struct watcher *w = handle->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, global, result;
  napi_get_reference_value(env, w->cb, &cb);
  napi_async_context ctx = w->ctx;
  w->ctx = NULL;
  unlink_watcher(w);
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->cb);
  uv_close((uv_handle_t *)&w->poll, watcher_closed);
  // make_callback (not call_function) so microtasks run afterwards; the receiver must be an
  // object: with undefined it fails with napi_object_expected and the callback never runs.
  napi_get_global(env, &global);
  if (cb && napi_make_callback(env, ctx, global, cb, 0, NULL, &result) == napi_pending_exception) {
    // A throwing callback would otherwise be swallowed silently: make it an uncaught exception.
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
  napi_async_destroy(env, ctx);
  napi_close_handle_scope(env, scope);
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (get_args(env, info, 2, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  for (struct watcher *w = watchers; w; w = w->next)
    if (w->fd == fd) return hk_throw_errno(env, "watch (fd already watched)", EEXIST);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  struct watcher *w = calloc(1, sizeof *w);
  if (!w) return hk_throw_errno(env, "watch", ENOMEM);
  w->env = env;
  w->fd = fd;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    free(w);
    return hk_throw_errno(env, "uv_poll_init", -r);
  }
  w->poll.data = w;
  napi_value name;
  napi_create_string_utf8(env, "hako.watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &w->cb) != napi_ok ||
      napi_async_init(env, NULL, name, &w->ctx) != napi_ok) {
    uv_close((uv_handle_t *)&w->poll, watcher_closed);
    return NULL;
  }
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, watcher_fired);
  if (r < 0) {
    napi_delete_reference(env, w->cb);
    napi_async_destroy(env, w->ctx);
    uv_close((uv_handle_t *)&w->poll, watcher_closed);
    return hk_throw_errno(env, "uv_poll_start", -r);
  }
  w->next = watchers;
  watchers = w;
  return NULL;
}

// unwatch(fd) → boolean (whether a watch was pending)
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  napi_value result;
  for (struct watcher *w = watchers; w; w = w->next) {
    if (w->fd == fd) {
      release_watcher(w);
      napi_get_boolean(env, true, &result);
      return result;
    }
  }
  napi_get_boolean(env, false, &result);
  return result;
}

// waitPidfd(pidfd, nohang) → { code, signal } | null
static napi_value js_wait_pidfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool nohang = false;
  if (get_args(env, info, 2, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &nohang);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  long r;
  for (;;) {
    r = syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED | __WALL | (nohang ? WNOHANG : 0), NULL);
    if (r >= 0 || errno == EINTR) { if (r >= 0) break; continue; }
    // A pidfd with O_NONBLOCK (uv_poll_init sets it) makes waitid fail with EAGAIN instead of
    // blocking while the process runs: that is "not yet" for nohang, else wait for readability.
    if (errno != EAGAIN) return hk_throw_errno(env, "waitid", errno);
    if (nohang) return null_value(env);
    int err = wait_readable(fd, POLLIN);
    if (err) return hk_throw_errno(env, "poll", err);
  }
  if (si.si_pid == 0) return null_value(env); // WNOHANG and still running
  if (si.si_code == CLD_EXITED) return obj2(env, "code", num(env, si.si_status), "signal", null_value(env));
  return obj2(env, "code", null_value(env), "signal", num(env, si.si_status));
}

static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t pid;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &pid)) return NULL;
  long fd = syscall(SYS_pidfd_open, pid, 0); // always O_CLOEXEC
  if (fd < 0) return hk_throw_errno(env, "pidfd_open", errno);
  return num(env, (double)fd);
}

static napi_value js_pidfd_signal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, sig;
  if (get_args(env, info, 2, argv) || hk_int32(env, argv[0], &fd) || hk_int32(env, argv[1], &sig)) return NULL;
  if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0) return hk_throw_errno(env, "pidfd_send_signal", errno);
  return NULL;
}

static napi_value pair(napi_env env, int a, int b) {
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, num(env, a));
  napi_set_element(env, arr, 1, num(env, b));
  return arr;
}

static napi_value js_pipe(napi_env env, napi_callback_info info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return hk_throw_errno(env, "pipe2", errno);
  return pair(env, p[0], p[1]);
}

static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0) return hk_throw_errno(env, "socketpair", errno);
  return pair(env, p[0], p[1]);
}

static char *arg_string(napi_env env, napi_value v, size_t *len_out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) { hk_throw_errno(env, "malloc", ENOMEM); return NULL; }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (len_out) *len_out = len;
  return s;
}

// sendFd(sock, fd, data): SCM_RIGHTS needs at least one data byte; an empty `data` sends one NUL.
static napi_value js_send_fd(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t sock, fd;
  if (get_args(env, info, 3, argv) || hk_int32(env, argv[0], &sock) || hk_int32(env, argv[1], &fd)) return NULL;
  size_t len;
  char *data = arg_string(env, argv[2], &len);
  if (!data) return NULL;
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = { data, len ? len : 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  ssize_t n;
  for (;;) {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0 || errno == EINTR) { if (n >= 0) break; continue; }
    if (errno == EAGAIN && wait_readable(sock, POLLOUT) == 0) continue;
    break;
  }
  int err = errno;
  free(data);
  if (n < 0) return hk_throw_errno(env, "sendmsg", err);
  return NULL;
}

// recvFd(sock) → { fd, data } | null (EOF); fd is -1 when the message carried none.
static napi_value js_recv_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t sock;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &sock)) return NULL;
  char data[4096];
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int) * 4)]; } u;
  struct iovec iov = { data, sizeof data };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
  ssize_t n;
  for (;;) {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN && wait_readable(sock, POLLIN) == 0) continue;
    return hk_throw_errno(env, "recvmsg", errno);
  }
  int fd = -1;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int k = 0; k < count; k++) {
      int got;
      memcpy(&got, CMSG_DATA(cm) + k * sizeof(int), sizeof got);
      if (fd < 0) fd = got; else close(got); // one fd per message; never leak extras
    }
  }
  if (n == 0 && fd < 0) return null_value(env);
  while (n > 0 && data[n - 1] == 0) n--;
  napi_value s;
  napi_create_string_utf8(env, data, (size_t)n, &s);
  return obj2(env, "fd", num(env, fd), "data", s);
}

static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t mode;
  if (get_args(env, info, 2, argv) || hk_int32(env, argv[1], &mode)) return NULL;
  char *path = arg_string(env, argv[0], NULL);
  if (!path) return NULL;
  int r = mkfifo(path, (mode_t)mode);
  int err = errno;
  free(path);
  if (r < 0) return hk_throw_errno(env, "mkfifo", err);
  return NULL;
}

static napi_value js_set_winsize(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, rows, cols;
  if (get_args(env, info, 3, argv) || hk_int32(env, argv[0], &fd) || hk_int32(env, argv[1], &rows) ||
      hk_int32(env, argv[2], &cols)) return NULL;
  struct winsize ws = { (unsigned short)rows, (unsigned short)cols, 0, 0 };
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return hk_throw_errno(env, "ioctl(TIOCSWINSZ)", errno);
  return NULL;
}

static napi_value js_get_winsize(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return hk_throw_errno(env, "ioctl(TIOCGWINSZ)", errno);
  return obj2(env, "rows", num(env, ws.ws_row), "cols", num(env, ws.ws_col));
}

// outq(fd): SIOCOUTQ, the bytes of a socket's send queue. A unix stream socket counts what the peer
// has not read yet (the skbs stay charged to the sender until consumed); TCP what is unacknowledged.
static napi_value js_outq(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  int n = 0;
  if (ioctl(fd, SIOCOUTQ, &n) < 0) return hk_throw_errno(env, "ioctl(SIOCOUTQ)", errno);
  return num(env, n);
}

// setCloexec(fd, on): the one fcntl Node cannot do (every fd Node opens is O_CLOEXEC).
static napi_value js_set_cloexec(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool on = true;
  if (get_args(env, info, 2, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &on);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC) < 0)
    return hk_throw_errno(env, "fcntl(F_SETFD)", errno);
  return NULL;
}

// A string[] as a NULL-terminated char*[] (each string and the array malloc'd), or NULL after
// throwing.
static char **arg_string_array(napi_env env, napi_value v) {
  uint32_t n;
  if (napi_get_array_length(env, v, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected an array of strings");
    return NULL;
  }
  char **out = calloc((size_t)n + 1, sizeof *out);
  if (!out) { hk_throw_errno(env, "malloc", ENOMEM); return NULL; }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok || !(out[i] = arg_string(env, e, NULL))) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_string_array(char **a) {
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

// execve(path, argv, env): replaces this process (the hako CLI's `daemon` command re-executing
// node with other V8 flags; Node 20 has no process.execve). Returns only by throwing. Node
// marks its stdio close-on-exec at start-up (strace: fcntl(0..2, F_SETFD, FD_CLOEXEC)), so the
// new program would find fds 0-2 closed (and node puts /dev/null there); it ignores SIGPIPE and
// SIGXFSZ, which an exec keeps, and the calling thread's signal mask survives it too. All three go
// back to what a fresh process has first, and are put back if the exec fails.
static napi_value js_execve(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  char *path = arg_string(env, argv[0], NULL);
  if (!path) return NULL;
  char **args = arg_string_array(env, argv[1]);
  char **envp = args ? arg_string_array(env, argv[2]) : NULL;
  if (!envp) {
    if (args) free_string_array(args);
    free(path);
    return NULL;
  }
  struct sigaction dfl = { .sa_handler = SIG_DFL }, old_pipe, old_xfsz;
  sigset_t none, old_mask;
  sigemptyset(&none);
  sigaction(SIGPIPE, &dfl, &old_pipe);
  sigaction(SIGXFSZ, &dfl, &old_xfsz);
  pthread_sigmask(SIG_SETMASK, &none, &old_mask);
  int fd_flags[3];
  for (int fd = 0; fd < 3; fd++) {
    fd_flags[fd] = fcntl(fd, F_GETFD);
    if (fd_flags[fd] >= 0 && (fd_flags[fd] & FD_CLOEXEC)) fcntl(fd, F_SETFD, fd_flags[fd] & ~FD_CLOEXEC);
  }
  execve(path, args, envp);
  int err = errno;
  for (int fd = 0; fd < 3; fd++) {
    if (fd_flags[fd] >= 0) fcntl(fd, F_SETFD, fd_flags[fd]);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  sigaction(SIGPIPE, &old_pipe, NULL);
  sigaction(SIGXFSZ, &old_xfsz, NULL);
  free_string_array(envp);
  free_string_array(args);
  free(path);
  return hk_throw_errno(env, "execve", err);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || hk_int32(env, argv[0], &fd)) return NULL;
  // No retry on EINTR: on Linux the fd is gone either way.
  if (close(fd) < 0 && errno != EINTR) return hk_throw_errno(env, "close", errno);
  return NULL;
}

// bpf(cmd, attr: Buffer, pointers?: [offset, Uint8Array][]) → the syscall's return value.
// Several bpf_attr fields are user pointers (instructions, license, log buffer, query arrays):
// JS cannot know a Buffer's address, so each [offset, buffer] pair stores the buffer's address
// as a u64 at `offset` in attr. attr (and the buffers) are read and written in place.
static napi_value js_bpf(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  int32_t cmd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) { napi_throw_type_error(env, NULL, "bpf: expected (cmd, attr[, pointers])"); return NULL; }
  if (hk_int32(env, argv[0], &cmd)) return NULL;
  void *attr;
  size_t len;
  if (napi_get_buffer_info(env, argv[1], &attr, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "bpf: expected a Buffer");
    return NULL;
  }
  napi_valuetype t = napi_undefined;
  if (argc > 2) napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && t != napi_null) {
    uint32_t n = 0;
    if (napi_get_array_length(env, argv[2], &n) != napi_ok) {
      napi_throw_type_error(env, NULL, "bpf: pointers must be an array of [offset, Uint8Array]");
      return NULL;
    }
    for (uint32_t k = 0; k < n; k++) {
      napi_value pairv, offv, bufv, ab;
      int32_t off;
      napi_typedarray_type tt;
      size_t blen, boff;
      void *data;
      if (napi_get_element(env, argv[2], k, &pairv) != napi_ok || napi_get_element(env, pairv, 0, &offv) != napi_ok ||
          napi_get_element(env, pairv, 1, &bufv) != napi_ok || napi_get_value_int32(env, offv, &off) != napi_ok ||
          napi_get_typedarray_info(env, bufv, &tt, &blen, &data, &ab, &boff) != napi_ok) {
        napi_throw_type_error(env, NULL, "bpf: pointers must be an array of [offset, Uint8Array]");
        return NULL;
      }
      if (off < 0 || (size_t)off + 8 > len) return hk_throw_errno(env, "bpf (pointer offset outside attr)", EINVAL);
      uint64_t addr = (uint64_t)(uintptr_t)data;
      memcpy((char *)attr + off, &addr, sizeof addr);
    }
  }
  long r = syscall(SYS_bpf, cmd, attr, (unsigned int)len);
  if (r < 0) return hk_throw_errno(env, "bpf", errno);
  return num(env, (double)r);
}

// cpuTimeNs(processWide) → the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) or the whole
// process's (CLOCK_PROCESS_CPUTIME_ID), ns; for profiling. /proc/<pid>/task/<tid>/schedstat and
// getrusage lag behind: they miss a running thread's current slice, or adjust to ticks.
static napi_value js_cpu_time_ns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  bool whole = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc > 0 && napi_get_value_bool(env, argv[0], &whole) != napi_ok) whole = false;
  struct timespec ts;
  if (clock_gettime(whole ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_THREAD_CPUTIME_ID, &ts) < 0) return hk_throw_errno(env, "clock_gettime", errno);
  return num(env, (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
#define FN(name, fn) { name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL }
    FN("spawn", js_spawn),
    FN("readRecord", js_read_record),
    FN("watch", js_watch),
    FN("unwatch", js_unwatch),
    FN("waitPidfd", js_wait_pidfd),
    FN("pidfdOpen", js_pidfd_open),
    FN("pidfdSignal", js_pidfd_signal),
    FN("pipe", js_pipe),
    FN("socketPair", js_socket_pair),
    FN("sendFd", js_send_fd),
    FN("recvFd", js_recv_fd),
    FN("mkfifo", js_mkfifo),
    FN("setWinsize", js_set_winsize),
    FN("getWinsize", js_get_winsize),
    FN("setCloexec", js_set_cloexec),
    FN("outq", js_outq),
    FN("close", js_close),
    FN("execve", js_execve),
    FN("bpf", js_bpf),
    FN("cpuTimeNs", js_cpu_time_ns),
#undef FN
  };
  // `cliOnly: true` on the exports object it is given (bin/hako.cjs): only the functions the hako
  // CLI calls. Each function made costs ~1.7 µs (a function template instantiated): ~0.1 ms of
  // every `hako` command for the ~55 it never calls (fresh processes: process.dlopen 0.23 ms for
  // a module of 61 functions, 0.13 ms for one of 8).
  static const char *const cli_functions[] = {"setV8Flags", "mtimeMs", "mapSource", "mapBuffer", "unixConnect", "getWinsize", "exitNow", NULL};
  bool cli_only = false;
  napi_value marker;
  if (napi_get_named_property(env, exports, "cliOnly", &marker) == napi_ok && napi_get_value_bool(env, marker, &cli_only) != napi_ok) {
    cli_only = false; // not a boolean (undefined): everything
  }
  if (cli_only) {
    bool deleted;
    napi_value key;
    if (napi_create_string_utf8(env, "cliOnly", NAPI_AUTO_LENGTH, &key) != napi_ok || napi_delete_property(env, exports, key, &deleted) != napi_ok) return NULL;
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
      if (hk_listed(cli_functions, props[i].utf8name) && napi_define_properties(env, exports, 1, &props[i]) != napi_ok) return NULL;
    }
  } else if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    return NULL;
  }
  // functions of addon_*.c files (addon_hooks.h)
  if (hk_register_hooked(env, exports, cli_only ? cli_functions : NULL) != 0) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
