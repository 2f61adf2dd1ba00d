// File-system calls Node's fs lacks, for the image unpacker (src/image/unpack): mknod(2) for
// devices, fifos and overlay whiteouts, and the l*xattr(2) family for SCHILY.xattr.* and
// trusted.overlay.opaque; and sync_file_range(2) for the content store's downloads. None of them
// follows a final symlink. Failures throw an Error with .errno (positive), .code and .syscall
// (hk_throw_errno).
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <dirent.h>
#include <stdbool.h>

// A path or name argument as a NUL-terminated string; *out is malloc'd (free it). A string
// holding a NUL byte would be cut short by the kernel, so it is refused.
static int fs_string(napi_env env, napi_value v, char **out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a string");
    return -1;
  }
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "hako_native: out of memory");
    return -1;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    napi_throw_type_error(env, NULL, "hako_native: string contains a NUL byte");
    return -1;
  }
  *out = s;
  return 0;
}

// mknod(path, mode, major, minor): mode carries the type (S_IFCHR/S_IFBLK/S_IFIFO) and the
// permission bits (the umask applies, as for mknod(2)).
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (hk_args(env, info, 4, 2, argv, NULL)) return NULL;
  char *path;
  uint32_t mode, major = 0, minor = 0;
  napi_valuetype t;
  if (hk_uint32(env, argv[1], &mode)) return NULL;
  napi_typeof(env, argv[2], &t);
  if (t != napi_undefined && hk_uint32(env, argv[2], &major)) return NULL;
  napi_typeof(env, argv[3], &t);
  if (t != napi_undefined && hk_uint32(env, argv[3], &minor)) return NULL;
  if (fs_string(env, argv[0], &path)) return NULL;
  int rc = mknod(path, (mode_t)mode, makedev(major, minor));
  int err = errno;
  free(path);
  if (rc != 0) return hk_throw_errno(env, "mknod", err);
  return NULL;
}

// lsetxattr(path, name, value: Buffer, flags = 0).
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (hk_args(env, info, 4, 3, argv, NULL)) return NULL;
  void *data;
  size_t len;
  bool is;
  if (napi_is_buffer(env, argv[2], &is) != napi_ok || !is || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hako_native: expected a Buffer");
    return NULL;
  }
  uint32_t flags = 0;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t != napi_undefined && hk_uint32(env, argv[3], &flags)) return NULL;
  char *path, *name;
  if (fs_string(env, argv[0], &path)) return NULL;
  if (fs_string(env, argv[1], &name)) {
    free(path);
    return NULL;
  }
  int rc = lsetxattr(path, name, data, len, (int)flags);
  int err = errno;
  free(path);
  free(name);
  if (rc != 0) return hk_throw_errno(env, "lsetxattr", err);
  return NULL;
}

// lgetxattr(path, name) → Buffer, or null when the attribute is not set (ENODATA).
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (hk_args(env, info, 2, 2, argv, NULL)) return NULL;
  char *path, *name;
  if (fs_string(env, argv[0], &path)) return NULL;
  if (fs_string(env, argv[1], &name)) {
    free(path);
    return NULL;
  }
  napi_value out = NULL;
  for (;;) {
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n < 0) {
      int err = errno;
      if (err == ENODATA) napi_get_null(env, &out);
      else hk_throw_errno(env, "lgetxattr", err);
      break;
    }
    void *buf;
    napi_value b;
    if (napi_create_buffer(env, (size_t)n, &buf, &b) != napi_ok) break;
    ssize_t m = n == 0 ? 0 : lgetxattr(path, name, buf, (size_t)n);
    if (m < 0 && errno == ERANGE) continue; // it grew in between
    if (m < 0) {
      int err = errno;
      if (err == ENODATA) napi_get_null(env, &out);
      else hk_throw_errno(env, "lgetxattr", err);
      break;
    }
    if (m == n) {
      out = b;
      break;
    }
    // It shrank in between: copy the shorter value.
    void *buf2;
    if (napi_create_buffer_copy(env, (size_t)m, buf, &buf2, &out) != napi_ok) out = NULL;
    break;
  }
  free(path);
  free(name);
  return out;
}

// llistxattr(path) → the attribute names.
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  char *path;
  if (fs_string(env, argv[0], &path)) return NULL;
  napi_value out = NULL;
  char *buf = NULL;
  for (;;) {
    ssize_t n = llistxattr(path, NULL, 0);
    if (n < 0) {
      hk_throw_errno(env, "llistxattr", errno);
      break;
    }
    free(buf);
    buf = malloc((size_t)n + 1);
    if (!buf) {
      napi_throw_error(env, "ENOMEM", "hako_native: out of memory");
      break;
    }
    ssize_t m = n == 0 ? 0 : llistxattr(path, buf, (size_t)n);
    if (m < 0 && errno == ERANGE) continue;
    if (m < 0) {
      hk_throw_errno(env, "llistxattr", errno);
      break;
    }
    napi_create_array(env, &out);
    uint32_t i = 0;
    for (ssize_t off = 0; off < m;) {
      size_t l = strnlen(buf + off, (size_t)(m - off));
      napi_value s;
      napi_create_string_utf8(env, buf + off, l, &s);
      napi_set_element(env, out, i++, s);
      off += (ssize_t)l + 1;
    }
    break;
  }
  free(buf);
  free(path);
  return out;
}

// syncFileRangeWriteAsync(fd, offset, nbytes) → Promise<void>: sync_file_range(SYNC_FILE_RANGE_WRITE)
// on the libuv pool. It starts the writeback of the range's dirty pages without waiting for it
// to finish, so that a later fsync has little left to write; it can still wait for a congested
// device queue, hence not on the event loop. The caller keeps fd open until the promise settles.
struct sfr_work {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  off64_t off, len;
  int err;
};

static void sfr_execute(napi_env env, void *p) {
  (void)env;
  struct sfr_work *w = p;
  w->err = sync_file_range(w->fd, w->off, w->len, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
}

static void sfr_complete(napi_env env, napi_status status, void *p) {
  struct sfr_work *w = p;
  hk_settle(env, w->deferred, "sync_file_range", status == napi_ok ? w->err : ECANCELED);
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value js_sync_file_range_write_async(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (hk_args(env, info, 3, 3, argv, NULL)) return NULL;
  int32_t fd;
  double off, len;
  if (hk_int32(env, argv[0], &fd)) return NULL;
  if (napi_get_value_double(env, argv[1], &off) != napi_ok || napi_get_value_double(env, argv[2], &len) != napi_ok || off < 0 || len < 0) {
    napi_throw_type_error(env, NULL, "usage: syncFileRangeWriteAsync(fd, offset >= 0, nbytes >= 0)");
    return NULL;
  }
  struct sfr_work *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, "ENOMEM", "hako_native: out of memory");
    return NULL;
  }
  w->fd = fd;
  w->off = (off64_t)off;
  w->len = (off64_t)len;
  int queued;
  napi_value promise = hk_queue_work(env, "hako:sync_file_range", "syncFileRangeWriteAsync", sfr_execute, sfr_complete, w, &w->work, &w->deferred, &queued);
  if (!queued) {
    if (w->work) napi_delete_async_work(env, w->work);
    free(w);
  }
  return promise;
}

// openInRoot(root, path, flags): openat2(2) of `path` beneath the directory `root` with
// RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: "..", absolute paths and every symlink (absolute or
// relative, in the middle or last) resolve as in a chroot at `root`, and /proc/self/root-style
// magic links are refused (ELOOP), so a container's rootfs cannot lead the daemon outside it, even
// when the container swaps a directory for a symlink between a check and the open. O_CLOEXEC is
// always added. The fd is the caller's to close.
// An optional 4th argument adds RESOLVE_* flags (RESOLVE_NO_SYMLINKS: no symlink anywhere on the
// way, ELOOP; for walks that must never follow one).
static napi_value js_open_in_root(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (hk_args(env, info, 4, 3, argv, NULL)) return NULL;
  uint32_t flags, resolve = 0;
  if (hk_uint32(env, argv[2], &flags)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t != napi_undefined && hk_uint32(env, argv[3], &resolve)) return NULL;
  char *root, *path;
  if (fs_string(env, argv[0], &root)) return NULL;
  if (fs_string(env, argv[1], &path)) {
    free(root);
    return NULL;
  }
  int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int err = errno;
  int fd = -1;
  if (rfd >= 0) {
    struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
                            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (uint64_t)resolve };
    fd = (int)syscall(SYS_openat2, rfd, path[0] ? path : ".", &how, sizeof how);
    err = errno;
    close(rfd);
  }
  free(root);
  free(path);
  if (fd < 0) return hk_throw_errno(env, "openat2", err);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// direntTypesKnown(dir) → whether readdir(3) names the type of every entry of dir (d_type is
// not DT_UNKNOWN), as overlay needs of its backing file system: docker info's "Supports d_type".
// Node's readdir cannot tell: it lstat()s an entry whose type came back unknown.
static napi_value js_dirent_types_known(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  char *path;
  if (fs_string(env, argv[0], &path)) return NULL;
  DIR *d = opendir(path);
  int err = errno;
  free(path);
  if (!d) return hk_throw_errno(env, "opendir", err);
  bool known = true;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (e->d_type == DT_UNKNOWN) {
      known = false;
      break;
    }
  }
  err = errno;
  closedir(d);
  if (known && err != 0) return hk_throw_errno(env, "readdir", err);
  napi_value out;
  napi_get_boolean(env, known, &out);
  return out;
}

HK_EXPORT("fsMknod", js_mknod);
HK_EXPORT("fsDirentTypesKnown", js_dirent_types_known);
HK_EXPORT("syncFileRangeWriteAsync", js_sync_file_range_write_async);
HK_EXPORT("fsLsetxattr", js_lsetxattr);
HK_EXPORT("fsLgetxattr", js_lgetxattr);
HK_EXPORT("fsLlistxattr", js_llistxattr);
HK_EXPORT("fsOpenInRoot", js_open_in_root);
