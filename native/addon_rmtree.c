// removeTreeAsync(path): a directory tree deleted in one job on the libuv pool, answered with a
// promise. Node's fs.rm({recursive}) walks a tree with one pool request per lstat, readdir,
// unlink and rmdir, each dispatched from and answered on the event loop: deleting a removed
// container's record, snapshot and monitor directories (~30 entries) cost the daemon's event
// loop ~3 ms of wall time per container on a loaded 2-CPU host (each dispatch wakes a pool
// thread that preempts the loop). Here the loop pays one dispatch and one answer.
//
// Like `rm -rf --one-file-system`: a missing path is success; symlinks are removed, never
// followed (openat O_NOFOLLOW, unlinkat); a directory on another filesystem than the tree's top
// (a mount left inside) is not entered, and the job fails with EXDEV after removing the rest.
// Other failures (EACCES, EMFILE for a tree deeper than the fd limit, …) also remove what they
// can and reject with the first errno.
//
// rmdirsAsync(paths): rmdir(2) of each path, in order, in one job on the pool; resolves to each
// one's errno (0: removed). For a container's cgroup directories on a cgroup v1 host (one per
// hierarchy, ~10): one pool round trip instead of one each.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rmtree_work {
  napi_async_work work;
  napi_deferred deferred;
  char *path;
  int err;
  // rmdirsAsync: n paths (path unused), each one's errno
  size_t n;
  char **paths;
  int *errs;
};

static void work_free(napi_env env, struct rmtree_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  free(w->path);
  for (size_t k = 0; k < w->n; k++) free(w->paths[k]);
  free(w->paths);
  free(w->errs);
  free(w);
}

// Removes `name` in `dirfd` (a file, symlink or whole directory tree on device `dev`): 0 or the
// first errno met (the walk goes on past failures, as rm does).
static int remove_at(int dirfd, const char *name, dev_t dev) {
  if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT) return 0;
  int e = errno;
  if (e != EISDIR) return e; // Linux: unlink(2) of a directory is EISDIR
  int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : errno;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    e = errno;
    close(fd);
    return e;
  }
  if (st.st_dev != dev) {
    close(fd);
    return EXDEV;
  }
  DIR *d = fdopendir(fd);
  if (!d) {
    e = errno;
    close(fd);
    return e;
  }
  int first = 0;
  struct dirent *ent;
  for (;;) {
    errno = 0;
    ent = readdir(d);
    if (!ent) {
      if (errno != 0 && first == 0) first = errno;
      break;
    }
    if (ent->d_name[0] == '.' && (ent->d_name[1] == 0 || (ent->d_name[1] == '.' && ent->d_name[2] == 0))) continue;
    int r = remove_at(fd, ent->d_name, dev);
    if (r != 0 && first == 0) first = r;
  }
  closedir(d);
  if (unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT && first == 0) first = errno;
  return first;
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct rmtree_work *w = p;
  struct stat st;
  if (lstat(w->path, &st) != 0) {
    w->err = errno == ENOENT ? 0 : errno;
    return;
  }
  // The top's own parent holds it: remove_at needs (dirfd, name). A relative path is resolved
  // against the cwd, as unlink(2) would.
  char *slash = strrchr(w->path, '/');
  int dirfd = AT_FDCWD;
  const char *name = w->path;
  if (slash) {
    if (slash[1] == 0) {
      w->err = EINVAL; // "dir/": the caller passes a plain path
      return;
    }
    name = slash + 1;
    if (slash == w->path) dirfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else {
      *slash = 0;
      dirfd = open(w->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      *slash = '/';
    }
    if (dirfd < 0) {
      w->err = errno == ENOENT ? 0 : errno;
      return;
    }
  }
  w->err = remove_at(dirfd, name, st.st_dev);
  if (dirfd != AT_FDCWD) close(dirfd);
}

static void complete(napi_env env, napi_status status, void *p) {
  struct rmtree_work *w = p;
  hk_settle(env, w->deferred, "rmtree", status == napi_ok ? w->err : ECANCELED);
  work_free(env, w);
}

// removeTreeAsync(path) → Promise<void>
static napi_value js_remove_tree_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL) != 0) return NULL;
  size_t n;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &n) != napi_ok || n == 0) {
    napi_throw_type_error(env, NULL, "removeTreeAsync(path): a non-empty path");
    return NULL;
  }
  struct rmtree_work *w = calloc(1, sizeof *w);
  if (!w || !(w->path = malloc(n + 1))) {
    free(w);
    napi_throw_error(env, NULL, "removeTreeAsync: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], w->path, n + 1, &n);
  int queued;
  napi_value promise = hk_queue_work(env, "hako:rmtree", "removeTreeAsync", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

static void rmdirs_execute(napi_env env, void *p) {
  (void)env;
  struct rmtree_work *w = p;
  for (size_t k = 0; k < w->n; k++) w->errs[k] = rmdir(w->paths[k]) == 0 ? 0 : errno;
}

static void rmdirs_complete(napi_env env, napi_status status, void *p) {
  struct rmtree_work *w = p;
  if (status == napi_ok) {
    napi_value arr, v;
    napi_create_array_with_length(env, w->n, &arr);
    for (size_t k = 0; k < w->n; k++) {
      napi_create_int32(env, w->errs[k], &v);
      napi_set_element(env, arr, (uint32_t)k, v);
    }
    napi_resolve_deferred(env, w->deferred, arr);
  } else {
    napi_reject_deferred(env, w->deferred, hk_errno_error(env, "rmdir", ECANCELED));
  }
  work_free(env, w);
}

// rmdirsAsync(paths: string[]) → Promise<number[]> (each path's errno, 0 when removed)
static napi_value js_rmdirs_async(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL) != 0) return NULL;
  bool isArray = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray || napi_get_array_length(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "rmdirsAsync(paths): an array of paths");
    return NULL;
  }
  struct rmtree_work *w = calloc(1, sizeof *w);
  if (!w || !(w->paths = calloc(n ? n : 1, sizeof *w->paths)) || !(w->errs = calloc(n ? n : 1, sizeof *w->errs))) {
    if (w) work_free(env, w);
    napi_throw_error(env, NULL, "rmdirsAsync: out of memory");
    return NULL;
  }
  for (uint32_t k = 0; k < n; k++) {
    napi_value el;
    size_t len;
    if (napi_get_element(env, argv[0], k, &el) != napi_ok || napi_get_value_string_utf8(env, el, NULL, 0, &len) != napi_ok) {
      work_free(env, w);
      napi_throw_type_error(env, NULL, "rmdirsAsync(paths): an array of paths");
      return NULL;
    }
    if (!(w->paths[k] = malloc(len + 1))) {
      work_free(env, w);
      napi_throw_error(env, NULL, "rmdirsAsync: out of memory");
      return NULL;
    }
    w->n = k + 1;
    napi_get_value_string_utf8(env, el, w->paths[k], len + 1, &len);
  }
  int queued;
  napi_value promise = hk_queue_work(env, "hako:rmdirs", "rmdirsAsync", rmdirs_execute, rmdirs_complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

HK_EXPORT("removeTreeAsync", js_remove_tree_async);
HK_EXPORT("rmdirsAsync", js_rmdirs_async);
