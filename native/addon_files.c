// writeFilesIfChangedAsync(paths, texts, mode): small files written in place, each only when its
// content differs, in one job on the libuv pool, answered with a promise. For a container's
// /etc/hosts, /etc/hostname and /etc/resolv.conf on the host side: a start makes them (new inodes
// on the data root, 0.1–0.8 ms each on ext4, where the event loop used to wait for them) while
// the pool mounts the container's rootfs; later rewrites keep the inode a bind mount refers to.
// Each file: open(O_RDWR|O_CREAT|O_NOFOLLOW) → unchanged (same size, same bytes): done; else
// pwrite from 0, ftruncate to the new size when it shrank (not to 0 first: on ext4 a truncate to
// 0 of a file with delayed allocation forces its blocks out at close, auto_da_alloc). A failure
// rejects with the errno of the step (.syscall) and .path; files before it stay written.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 16
#define MAX_SIZE (1 << 20)

struct files_work {
  napi_async_work work;
  napi_deferred deferred;
  size_t n;
  char *paths[MAX_FILES];
  char *texts[MAX_FILES];
  size_t lens[MAX_FILES];
  int mode;
  int err;
  const char *syscall;
  size_t failed; // index of the failed file
};

static void work_free(napi_env env, struct files_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  for (size_t k = 0; k < w->n; k++) {
    free(w->paths[k]);
    free(w->texts[k]);
  }
  free(w);
}

/** Whether fd (of size `size`) holds exactly text[0..len). */
static int same_content(int fd, off_t size, const char *text, size_t len) {
  if (size < 0 || (size_t)size != len) return 0;
  char buf[4096];
  size_t off = 0;
  while (off < len) {
    size_t want = len - off < sizeof buf ? len - off : sizeof buf;
    ssize_t n = pread(fd, buf, want, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || memcmp(buf, text + off, (size_t)n) != 0) return 0;
    off += (size_t)n;
  }
  return 1;
}

static int write_one(struct files_work *w, size_t k) {
  const char *text = w->texts[k];
  size_t len = w->lens[k];
  int fd = open(w->paths[k], O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (mode_t)w->mode);
  if (fd < 0) {
    w->syscall = "open";
    return errno;
  }
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) {
    err = errno;
    w->syscall = "fstat";
  } else if (!S_ISREG(st.st_mode)) {
    err = EINVAL;
    w->syscall = "open";
  } else if (!same_content(fd, st.st_size, text, len)) {
    size_t off = 0;
    while (off < len && !err) {
      ssize_t n = pwrite(fd, text + off, len - off, (off_t)off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        err = errno;
        w->syscall = "write";
      } else {
        off += (size_t)n;
      }
    }
    if (!err && (size_t)st.st_size > len && ftruncate(fd, (off_t)len) != 0) {
      err = errno;
      w->syscall = "ftruncate";
    }
  }
  if (close(fd) != 0 && !err) {
    err = errno;
    w->syscall = "close";
  }
  return err;
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct files_work *w = p;
  for (size_t k = 0; k < w->n; k++) {
    int err = write_one(w, k);
    if (err) {
      w->err = err;
      w->failed = k;
      return;
    }
  }
}

static void complete(napi_env env, napi_status status, void *p) {
  struct files_work *w = p;
  if (status == napi_ok && w->err == 0) {
    hk_settle(env, w->deferred, NULL, 0);
  } else {
    napi_value err = hk_errno_error(env, status == napi_ok ? w->syscall : "write", status == napi_ok ? w->err : ECANCELED), path;
    if (status == napi_ok && napi_create_string_utf8(env, w->paths[w->failed], NAPI_AUTO_LENGTH, &path) == napi_ok) napi_set_named_property(env, err, "path", path);
    napi_reject_deferred(env, w->deferred, err);
  }
  work_free(env, w);
}

static char *dup_string(napi_env env, napi_value v, size_t *len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok || n > MAX_SIZE) return NULL;
  char *s = malloc(n + 1);
  if (s) napi_get_value_string_utf8(env, v, s, n + 1, &n);
  if (len) *len = n;
  return s;
}

// writeFilesIfChangedAsync(paths: string[], texts: string[], mode: number) → Promise<void>
static napi_value js_write_files_if_changed_async(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (hk_args(env, info, 3, 3, argv, NULL) != 0) return NULL;
  bool a = false, b = false;
  uint32_t n = 0, m = 0;
  int32_t mode = 0;
  if (napi_is_array(env, argv[0], &a) != napi_ok || !a || napi_is_array(env, argv[1], &b) != napi_ok || !b || napi_get_array_length(env, argv[0], &n) != napi_ok ||
      napi_get_array_length(env, argv[1], &m) != napi_ok || n != m || n == 0 || n > MAX_FILES || hk_int32(env, argv[2], &mode) != 0) {
    napi_throw_type_error(env, NULL, "writeFilesIfChangedAsync(paths: string[] (1..16), texts: string[] (as many), mode)");
    return NULL;
  }
  struct files_work *w = calloc(1, sizeof *w);
  if (!w) return hk_throw_errno(env, "malloc", ENOMEM);
  w->mode = mode;
  for (uint32_t k = 0; k < n; k++) {
    napi_value p, t;
    napi_valuetype pt, tt;
    w->n = k;
    if (napi_get_element(env, argv[0], k, &p) != napi_ok || napi_get_element(env, argv[1], k, &t) != napi_ok || napi_typeof(env, p, &pt) != napi_ok || napi_typeof(env, t, &tt) != napi_ok ||
        pt != napi_string || tt != napi_string || !(w->paths[k] = dup_string(env, p, NULL)) || w->paths[k][0] != '/' || !(w->texts[k] = dup_string(env, t, &w->lens[k]))) {
      w->n = k + 1;
      work_free(env, w);
      napi_throw_type_error(env, NULL, "writeFilesIfChangedAsync: absolute paths and texts (at most 1 MiB) expected");
      return NULL;
    }
  }
  w->n = n;
  int queued;
  napi_value promise = hk_queue_work(env, "hako:write-files", "writeFilesIfChangedAsync", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

HK_EXPORT("writeFilesIfChangedAsync", js_write_files_if_changed_async);
