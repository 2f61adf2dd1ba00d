// regularFilesAsync(paths, attrs, data, results): a run of a layer's regular-file entries created
// in one job on the libuv pool, answered with a promise, so that their kernel time (inode
// allocation, the page-cache copy, the times) runs on the other CPU while the event loop parses
// and hashes the next chunk. paths is "path\0" per file (UTF-8, as fs.openSync encodes it);
// attrs a Float64Array of [createMode, mode, uid, gid, atime, mtime, slices] per file (mode -1:
// no fchmod, uid -1: no fchown; seconds); data an array of Buffers, each file's `slices` of them
// in order (its content: subarrays of the inflated chunks, which nobody writes again). For each
// file, in order: open(O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, createMode), writev of its
// slices, fchown, fchmod (after fchown, which clears setuid/setgid), futimens, close. results (an
// Int32Array) gets two ints per file: [0, 0], or [errno, step] for the first failure: step 0 =
// open (nothing was created: the caller redoes the entry its own way, e.g. EEXIST → replace),
// 1 = write, 2 = attributes, 3 = close (the file exists; the caller reports the error).
// The caller (src/image/unpack/extract.ts) validated every path's parents before, and holds any
// later entry that could see a file of the run before the job is done.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ATTRS 7
#define IOV_BATCH 64

struct regfiles_work {
  napi_async_work work;
  napi_deferred deferred;
  // Keep the typed arrays and the data Buffers alive while the pool thread uses them.
  napi_ref attrs_ref, results_ref, data_ref;
  char *paths;
  size_t paths_len, n, nslices;
  const double *attrs;
  int32_t *results;
  struct iovec *slices;
};

static void work_free(napi_env env, struct regfiles_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  if (w->attrs_ref) napi_delete_reference(env, w->attrs_ref);
  if (w->results_ref) napi_delete_reference(env, w->results_ref);
  if (w->data_ref) napi_delete_reference(env, w->data_ref);
  free(w->paths);
  free(w->slices);
  free(w);
}

// Writes every byte of iov[0..cnt) (consumed in place: a short write goes on where it stopped).
static int write_all(int fd, struct iovec *iov, size_t cnt) {
  while (cnt > 0) {
    int c = cnt > IOV_BATCH ? IOV_BATCH : (int)cnt;
    ssize_t r = writev(fd, iov, c);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t left = (size_t)r;
    while (cnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0 && left > 0) {
      iov->iov_base = (char *)iov->iov_base + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

static void fail(struct regfiles_work *w, size_t k, int err, int step) {
  w->results[2 * k] = err;
  w->results[2 * k + 1] = step;
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct regfiles_work *w = p;
  const char *s = w->paths, *end = w->paths + w->paths_len;
  size_t slice = 0;
  for (size_t k = 0; k < w->n; k++) {
    const char *path = s;
    const double *a = w->attrs + ATTRS * k;
    size_t cnt = (size_t)a[6];
    if (path >= end || slice + cnt > w->nslices) { // malformed input: fewer paths or slices than attrs say
      for (; k < w->n; k++) fail(w, k, EINVAL, 0);
      return;
    }
    s = path + strlen(path) + 1;
    struct iovec *iov = w->slices + slice;
    slice += cnt;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)a[0]);
    if (fd < 0) {
      fail(w, k, errno, 0);
      continue;
    }
    int err = write_all(fd, iov, cnt), step = 1;
    if (err == 0) {
      step = 2;
      if (a[2] >= 0 && fchown(fd, (uid_t)a[2], (gid_t)a[3]) != 0) err = errno;
      else if (a[1] >= 0 && fchmod(fd, (mode_t)a[1]) != 0) err = errno;
      else {
        struct timespec ts[2] = {hk_timespec(a[4]), hk_timespec(a[5])};
        if (futimens(fd, ts) != 0) err = errno;
      }
    }
    if (close(fd) != 0 && err == 0) {
      err = errno;
      step = 3;
    }
    if (err != 0) fail(w, k, err, step);
    else fail(w, k, 0, 0);
  }
}

static void complete(napi_env env, napi_status status, void *p) {
  struct regfiles_work *w = p;
  hk_settle(env, w->deferred, "open", status == napi_ok ? 0 : ECANCELED);
  work_free(env, w);
}

// regularFilesAsync(paths: string, attrs: Float64Array(7n), data: Buffer[], results: Int32Array(2n)) → Promise<void>
static napi_value js_regular_files_async(napi_env env, napi_callback_info info) {
  static const char *usage = "regularFilesAsync(paths: string, attrs: Float64Array(7n), data: Buffer[], results: Int32Array(2n))";
  napi_value argv[4];
  if (hk_args(env, info, 4, 4, argv, NULL) != 0) return NULL;
  void *attrs = NULL, *results = NULL;
  size_t nattrs = 0, nresults = 0, len = 0;
  bool is_array = false;
  uint32_t nslices = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok || hk_typed(env, argv[1], napi_float64_array, &attrs, &nattrs) != 0 ||
      hk_typed(env, argv[3], napi_int32_array, &results, &nresults) != 0 || nresults % 2 != 0 || nattrs != ATTRS * (nresults / 2) ||
      napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &nslices) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  struct regfiles_work *w = calloc(1, sizeof *w);
  if (w) w->paths = malloc(len + 1);
  if (w && w->paths && nslices > 0) w->slices = calloc(nslices, sizeof *w->slices);
  if (!w || !w->paths || (nslices > 0 && !w->slices)) {
    if (w) {
      free(w->paths);
      free(w);
    }
    napi_throw_error(env, NULL, "regularFilesAsync: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], w->paths, len + 1, &len);
  w->paths_len = len;
  w->n = nresults / 2;
  w->nslices = nslices;
  w->attrs = attrs;
  w->results = results;
  for (uint32_t i = 0; i < nslices; i++) {
    napi_value b;
    bool is_buf = false;
    void *d = NULL;
    size_t blen = 0;
    if (napi_get_element(env, argv[2], i, &b) != napi_ok || napi_is_buffer(env, b, &is_buf) != napi_ok || !is_buf ||
        napi_get_buffer_info(env, b, &d, &blen) != napi_ok) {
      work_free(env, w);
      napi_throw_type_error(env, NULL, usage);
      return NULL;
    }
    w->slices[i].iov_base = d;
    w->slices[i].iov_len = blen;
  }
  if (napi_create_reference(env, argv[1], 1, &w->attrs_ref) != napi_ok || napi_create_reference(env, argv[3], 1, &w->results_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &w->data_ref) != napi_ok) {
    work_free(env, w);
    return NULL;
  }
  int queued;
  napi_value promise = hk_queue_work(env, "hako:regfiles", "regularFilesAsync", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) work_free(env, w);
  return promise;
}

HK_EXPORT("regularFilesAsync", js_regular_files_async);
