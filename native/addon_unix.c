// unixConnect(path) → fd: a unix stream socket connected with connect(2) on the calling thread
// (non-blocking, close-on-exec), for the hako CLI's connections to the daemon (src/cli/pipe-socket.ts
// opens it as a libuv pipe). A unix-socket connect completes inside connect(2), but libuv's
// uv_pipe_connect reports it from the event loop and holds every write until a later loop turn:
// the CLI's first request then reached the daemon only after the spare connections it opens next
// and a turn or two of the loop (~1–2 ms of `hako run`). On an fd that is already connected, the
// first write goes out at once. Throws with errno/code/syscall (EAGAIN when the listener's
// backlog is full, ENAMETOOLONG for a path longer than sun_path); the caller falls back to
// libuv's connect then.
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static napi_value js_unix_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  // One byte more than sun_path holds: a path that fills it is too long (no room for the NUL).
  char path[sizeof sa.sun_path + 1];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: unixConnect expects a path string");
    return NULL;
  }
  if (len == 0) return hk_throw_errno(env, "connect", ENOENT);
  if (len >= sizeof sa.sun_path || memchr(path, 0, len)) return hk_throw_errno(env, "connect", ENAMETOOLONG);
  memcpy(sa.sun_path, path, len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return hk_throw_errno(env, "socket", errno);
  int r;
  do r = connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    close(fd);
    return hk_throw_errno(env, "connect", err);
  }
  napi_value out;
  if (napi_create_int32(env, fd, &out) != napi_ok) {
    close(fd);
    return NULL;
  }
  return out;
}

HK_EXPORT("unixConnect", js_unix_connect);
