// symlinksAsync(spec, attrs, results): a run of a layer's symlink entries created in one job on
// the libuv pool, answered with a promise. spec is "target\0path\0" per entry (UTF-8, as
// fs.symlinkSync encodes them); attrs a Float64Array of [atime, mtime, uid, gid] per entry
// (seconds; uid -1: no chown). For each entry, in order: symlink(2), then fchownat and
// utimensat with AT_SYMLINK_NOFOLLOW (the final component is never followed); results (an
// Int32Array) gets 0, the symlink's errno (nothing was created: the caller redoes the entry its
// own way, e.g. EEXIST → replace), or -errno when the link exists but its attributes failed.
// The caller (src/image/unpack/extract.ts) validated every path's parents before; busybox's ~270
// links cost its event loop ~6 ms of kernel time when made one by one there.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct symlinks_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref attrs_ref, results_ref; // keep the typed arrays alive while the pool thread uses them
  char *spec;
  size_t spec_len, n;
  const double *attrs;
  int32_t *results;
};

static void work_free(napi_env env, struct symlinks_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  if (w->attrs_ref) napi_delete_reference(env, w->attrs_ref);
  if (w->results_ref) napi_delete_reference(env, w->results_ref);
  free(w->spec);
  free(w);
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct symlinks_work *w = p;
  const char *s = w->spec, *end = w->spec + w->spec_len;
  for (size_t k = 0; k < w->n; k++) {
    const char *target = s;
    const char *path = target + strlen(target) + 1;
    if (path >= end) { // malformed spec: fewer entries than attrs say
      for (; k < w->n; k++) w->results[k] = EINVAL;
      return;
    }
    s = path + strlen(path) + 1;
    if (symlink(target, path) != 0) {
      w->results[k] = errno;
      continue;
    }
    const double *a = w->attrs + 4 * k;
    if (a[2] >= 0 && fchownat(AT_FDCWD, path, (uid_t)a[2], (gid_t)a[3], AT_SYMLINK_NOFOLLOW) != 0) {
      w->results[k] = -errno;
      continue;
    }
    struct timespec ts[2] = {hk_timespec(a[0]), hk_timespec(a[1])};
    w->results[k] = utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
  }
}

static void complete(napi_env env, napi_status status, void *p) {
  struct symlinks_work *w = p;
  hk_settle(env, w->deferred, "symlink", status == napi_ok ? 0 : ECANCELED);
  work_free(env, w);
}

// symlinksAsync(spec: string, attrs: Float64Array, results: Int32Array) → Promise<void>
static napi_value js_symlinks_async(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (hk_args(env, info, 3, 3, argv, NULL) != 0) return NULL;
  void *attrs = NULL, *results = NULL;
  size_t nattrs = 0, nresults = 0, len = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || hk_typed(env, argv[1], napi_float64_array, &attrs, &nattrs) != 0 ||
      hk_typed(env, argv[2], napi_int32_array, &results, &nresults) != 0 || nattrs != 4 * nresults) {
    napi_throw_type_error(env, NULL, "symlinksAsync(spec: string, attrs: Float64Array(4n), results: Int32Array(n))");
    return NULL;
  }
  struct symlinks_work *w = calloc(1, sizeof *w);
  if (w) w->spec = malloc(len + 1);
  if (!w || !w->spec) {
    if (w) free(w);
    napi_throw_error(env, NULL, "symlinksAsync: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], w->spec, len + 1, &len);
  w->spec_len = len;
  w->n = nresults;
  w->attrs = attrs;
  w->results = results;
  if (napi_create_reference(env, argv[1], 1, &w->attrs_ref) != napi_ok || napi_create_reference(env, argv[2], 1, &w->results_ref) != napi_ok) {
    work_free(env, w);
    return NULL;
  }
  int queued;
  napi_value promise = hk_queue_work(env, "hako:symlinks", "symlinksAsync", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

HK_EXPORT("symlinksAsync", js_symlinks_async);
