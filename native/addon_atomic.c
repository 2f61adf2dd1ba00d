// writeFileAtomicAsync(path, tmp, data, mode, durable): a small file replaced atomically in one
// job on the libuv pool, answered with a promise: open(tmp, O_EXCL) → write → [fsync] → close →
// rename(tmp, path) → [fsync of the directory]. A failure unlinks tmp and rejects with the errno
// of the step (.syscall names it). Node's fs/promises path for the same (open, write, close,
// rename, each a pool round trip through a FileHandle) cost hakod's event loop ~0.3 ms per
// container state save under --no-opt; this costs one dispatch and one answer.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct atomic_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref data_ref; // keeps the Buffer alive while the pool thread reads it
  char *path, *tmp;
  const char *data;
  size_t len;
  int mode;
  bool durable;
  int err;
  const char *syscall;
};

static void work_free(napi_env env, struct atomic_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  if (w->data_ref) napi_delete_reference(env, w->data_ref);
  free(w->path);
  free(w->tmp);
  free(w);
}

static int fail(struct atomic_work *w, const char *syscall) {
  w->err = errno;
  w->syscall = syscall;
  return -1;
}

static int write_all(struct atomic_work *w) {
  int fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)w->mode);
  if (fd < 0) return fail(w, "open");
  size_t off = 0;
  while (off < w->len) {
    ssize_t n = write(fd, w->data + off, w->len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(w, "write");
      close(fd);
      return -1;
    }
    off += (size_t)n;
  }
  if (w->durable && fsync(fd) != 0) {
    fail(w, "fsync");
    close(fd);
    return -1;
  }
  if (close(fd) != 0) return fail(w, "close");
  if (rename(w->tmp, w->path) != 0) return fail(w, "rename");
  return 0;
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct atomic_work *w = p;
  if (write_all(w) != 0) {
    if (strcmp(w->syscall, "open") != 0 || w->err != EEXIST) unlink(w->tmp); // never someone else's
    return;
  }
  if (!w->durable) return;
  char *slash = strrchr(w->path, '/');
  int dfd;
  if (!slash) dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else if (slash == w->path) dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  else {
    *slash = 0;
    dfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
  }
  if (dfd < 0) {
    fail(w, "open");
    return;
  }
  if (fsync(dfd) != 0) fail(w, "fsync");
  close(dfd);
}

static void complete(napi_env env, napi_status status, void *p) {
  struct atomic_work *w = p;
  hk_settle(env, w->deferred, status == napi_ok ? w->syscall : "write", status == napi_ok ? w->err : ECANCELED);
  work_free(env, w);
}

static char *dup_string(napi_env env, napi_value v) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok || n == 0) return NULL;
  char *s = malloc(n + 1);
  if (s) napi_get_value_string_utf8(env, v, s, n + 1, &n);
  return s;
}

// writeFileAtomicAsync(path: string, tmp: string, data: Buffer, mode: number, durable: boolean) → Promise<void>
static napi_value js_write_file_atomic_async(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (hk_args(env, info, 5, 5, argv, NULL) != 0) return NULL;
  struct atomic_work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "writeFileAtomicAsync: out of memory");
    return NULL;
  }
  bool isBuffer = false;
  void *data = NULL;
  int32_t mode = 0;
  if (!(w->path = dup_string(env, argv[0])) || !(w->tmp = dup_string(env, argv[1])) || napi_is_buffer(env, argv[2], &isBuffer) != napi_ok || !isBuffer ||
      napi_get_buffer_info(env, argv[2], &data, &w->len) != napi_ok || hk_int32(env, argv[3], &mode) != 0 || napi_get_value_bool(env, argv[4], &w->durable) != napi_ok) {
    work_free(env, w);
    napi_throw_type_error(env, NULL, "writeFileAtomicAsync(path, tmp, data: Buffer, mode, durable)");
    return NULL;
  }
  w->data = data;
  w->mode = mode;
  if (napi_create_reference(env, argv[2], 1, &w->data_ref) != napi_ok) {
    work_free(env, w);
    return NULL;
  }
  int queued;
  napi_value promise = hk_queue_work(env, "hako:write-atomic", "writeFileAtomicAsync", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

HK_EXPORT("writeFileAtomicAsync", js_write_file_atomic_async);
