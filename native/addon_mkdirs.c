// Directories made on a thread of the addon while the caller does other work: a container's
// cgroup directories on a cgroup v1 host (one per hierarchy, ~0.1 ms of kernel time each: css
// allocation, the controller's files) made on the other CPU while the start mounts its rootfs
// and builds its spec, instead of one after another on the event loop right before the spawn.
//
// mkdirsBegin(paths, mode) queues a job for the addon's mkdirs thread (one for the process,
// started by the first job and blocked on a condition variable while there is none: a thread
// per start cost ~0.1 ms of the event loop's time to create and join), which makes each path
// with one mkdir (no parents: a missing parent is left to the caller) and remembers which it
// made. mkdirsEnd(handle, undo) waits for the job (it is long done by then, as a rule) and
// returns the paths it made; with undo it first removes them again, last first (rmdir: only
// empty ones go). The caller must end every handle; one that is garbage collected unended is
// ended with undo.
// mkdirsBegin(paths, mode, flags) takes per-path flags for cgroup directories (v1):
//   MKDIRS_CPUSET (1): paths[k] is a cpuset cgroup, which starts with empty cpuset.cpus/mems so
//     that no task can join it (ENOSPC) until they are set: once made, the thread copies each
//     empty one down from the parent directory, as the caller would. If that fails, it removes
//     the directory again (not made: the caller makes it and says why).
//   MKDIRS_TASKS (2): the thread also opens paths[k]/tasks (O_WRONLY|O_CLOEXEC; made or there
//     already), the fd a child writes "0" to in order to join the cgroup: opened here, off the
//     event loop, with the caller's credentials. mkdirsEnd(handle, false, fds) hands them over
//     (fds[k]: the fd, or -errno of the open: a plain directory, where a hierarchy was
//     unmounted, has no `tasks`: ENOENT); without `fds`, or with undo, they are closed.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mkdirs_job {
  struct mkdirs_job *next;
  int done; // (under q_lock)
  mode_t mode;
  size_t n;
  char **paths;
  unsigned char *made;
  unsigned char *flags; // MKDIRS_* per path (NULL: none)
  int *fds;             // MKDIRS_TASKS: the fd of paths[k]/tasks or -errno (-1 until made: not asked)
};

#define MKDIRS_CPUSET 1
#define MKDIRS_TASKS 2

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_done = PTHREAD_COND_INITIALIZER;
static struct mkdirs_job *q_head, *q_tail;
static int q_thread_started;

/** Reads a small cgroup file into buf (NUL-terminated, trailing whitespace cut); length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do n = read(fd, buf, size - 1); while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0) return -1;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
  buf[n] = 0;
  return n;
}

/** A new cpuset cgroup dir gets its parent's cpuset.cpus and cpuset.mems where its own are empty; 0 or -1. */
static int inherit_cpuset(const char *dir) {
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  const char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return -1;
  size_t dlen = strlen(dir), plen = (size_t)(slash - dir);
  for (int f = 0; f < 2; f++) {
    char path[PATH_MAX], value[4096];
    size_t flen = strlen(files[f]);
    if (dlen + 1 + flen >= sizeof path) return -1;
    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, files[f], flen + 1);
    ssize_t n = read_small(path, value, sizeof value);
    if (n < 0) return -1;
    if (n > 0) continue; // set already (the hierarchy's cgroup.clone_children)
    char parent[PATH_MAX];
    memcpy(parent, dir, plen);
    parent[plen] = '/';
    memcpy(parent + plen + 1, files[f], flen + 1);
    n = read_small(parent, value, sizeof value);
    if (n <= 0) return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w;
    do w = write(fd, value, (size_t)n); while (w < 0 && errno == EINTR);
    close(fd);
    if (w != n) return -1;
  }
  return 0;
}

static void *mkdirs_thread(void *unused) {
  (void)unused;
  pthread_mutex_lock(&q_lock);
  for (;;) {
    while (!q_head) pthread_cond_wait(&q_work, &q_lock);
    struct mkdirs_job *j = q_head;
    q_head = j->next;
    if (!q_head) q_tail = NULL;
    pthread_mutex_unlock(&q_lock);
    for (size_t k = 0; k < j->n; k++) {
      j->made[k] = mkdir(j->paths[k], j->mode) == 0;
      unsigned f = j->flags ? j->flags[k] : 0;
      if (j->made[k] && (f & MKDIRS_CPUSET) && inherit_cpuset(j->paths[k]) != 0) j->made[k] = rmdir(j->paths[k]) != 0;
      if (f & MKDIRS_TASKS) {
        char tasks[PATH_MAX];
        size_t len = strlen(j->paths[k]);
        if (len + sizeof "/tasks" > sizeof tasks) {
          j->fds[k] = -ENAMETOOLONG;
        } else {
          memcpy(tasks, j->paths[k], len);
          memcpy(tasks + len, "/tasks", sizeof "/tasks");
          int fd = open(tasks, O_WRONLY | O_CLOEXEC);
          j->fds[k] = fd >= 0 ? fd : -errno;
        }
      }
    }
    pthread_mutex_lock(&q_lock);
    j->done = 1; // the job is its ender's from here on
    pthread_cond_broadcast(&q_done);
  }
  return NULL;
}

// Queues `j` for the thread (started here the first time); 0 or pthread_create's error.
static int job_queue(struct mkdirs_job *j) {
  pthread_mutex_lock(&q_lock);
  if (!q_thread_started) {
    int r = hk_start_thread(NULL, 1, mkdirs_thread, NULL);
    if (r != 0) {
      pthread_mutex_unlock(&q_lock);
      return r;
    }
    q_thread_started = 1;
  }
  j->next = NULL;
  if (q_tail) q_tail->next = j;
  else q_head = j;
  q_tail = j;
  pthread_cond_signal(&q_work);
  pthread_mutex_unlock(&q_lock);
  return 0;
}

static void job_free(struct mkdirs_job *j) {
  for (size_t k = 0; k < j->n; k++) free(j->paths[k]);
  free(j->paths);
  free(j->made);
  if (j->fds) {
    for (size_t k = 0; k < j->n; k++)
      if (j->fds[k] >= 0) close(j->fds[k]);
    free(j->fds);
  }
  free(j->flags);
  free(j);
}

static void job_end(struct mkdirs_job *j, int undo) {
  pthread_mutex_lock(&q_lock);
  while (!j->done) pthread_cond_wait(&q_done, &q_lock);
  pthread_mutex_unlock(&q_lock);
  if (undo) {
    if (j->fds) {
      for (size_t k = 0; k < j->n; k++) {
        if (j->fds[k] >= 0) close(j->fds[k]);
        j->fds[k] = -1;
      }
    }
    for (size_t k = j->n; k-- > 0;) {
      if (j->made[k] && rmdir(j->paths[k]) == 0) j->made[k] = 0;
    }
  }
}

static void job_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct mkdirs_job **slot = data;
  if (*slot) {
    job_end(*slot, 1);
    job_free(*slot);
  }
  free(slot);
}

// mkdirsBegin(paths: string[], mode[, flags: number[] (MKDIRS_*)]) → handle
static napi_value js_mkdirs_begin(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 0;
  if (hk_args(env, info, 3, 2, argv, &argc) < 0) return NULL;
  bool is_array = false;
  uint32_t n = 0, mode = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &n) != napi_ok || n == 0 || n > 64) {
    napi_throw_type_error(env, NULL, "mkdirsBegin(paths: string[] (1..64), mode)");
    return NULL;
  }
  if (hk_uint32(env, argv[1], &mode) < 0) return NULL;
  struct mkdirs_job *j = calloc(1, sizeof *j);
  struct mkdirs_job **slot = malloc(sizeof *slot);
  if (!j || !slot || !(j->paths = calloc(n, sizeof *j->paths)) || !(j->made = calloc(n, 1))) {
    if (j) job_free(j);
    free(slot);
    return hk_throw_errno(env, "malloc", ENOMEM);
  }
  j->n = n;
  j->mode = (mode_t)mode;
  for (uint32_t k = 0; k < n; k++) {
    napi_value v;
    size_t len;
    if (napi_get_element(env, argv[0], k, &v) != napi_ok || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len == 0) {
      job_free(j);
      free(slot);
      napi_throw_type_error(env, NULL, "mkdirsBegin: paths must be non-empty strings");
      return NULL;
    }
    if (!(j->paths[k] = malloc(len + 1))) {
      job_free(j);
      free(slot);
      return hk_throw_errno(env, "malloc", ENOMEM);
    }
    napi_get_value_string_utf8(env, v, j->paths[k], len + 1, &len);
  }
  napi_valuetype t3 = napi_undefined;
  if (argc > 2 && napi_typeof(env, argv[2], &t3) != napi_ok) t3 = napi_undefined;
  if (t3 != napi_undefined) {
    uint32_t m = 0;
    if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &m) != napi_ok || m != n) {
      job_free(j);
      free(slot);
      napi_throw_type_error(env, NULL, "mkdirsBegin: flags must be an array of numbers, one per path");
      return NULL;
    }
    if (!(j->flags = calloc(n, 1)) || !(j->fds = malloc(n * sizeof *j->fds))) {
      job_free(j);
      free(slot);
      return hk_throw_errno(env, "malloc", ENOMEM);
    }
    for (uint32_t k = 0; k < n; k++) {
      napi_value v;
      uint32_t f = 0;
      j->fds[k] = -1;
      if (napi_get_element(env, argv[2], k, &v) != napi_ok || napi_get_value_uint32(env, v, &f) != napi_ok || f > (MKDIRS_CPUSET | MKDIRS_TASKS)) {
        job_free(j);
        free(slot);
        napi_throw_type_error(env, NULL, "mkdirsBegin: flags must be an array of numbers, one per path");
        return NULL;
      }
      j->flags[k] = (unsigned char)f;
    }
  }
  int r = job_queue(j);
  if (r != 0) {
    job_free(j);
    free(slot);
    return hk_throw_errno(env, "pthread_create", r);
  }
  *slot = j;
  napi_value handle;
  if (napi_create_external(env, slot, job_finalize, NULL, &handle) != napi_ok) {
    job_finalize(env, slot, NULL);
    return NULL;
  }
  return handle;
}

// mkdirsEnd(handle, undo: boolean[, fds: number[]]) → string[]: the paths the thread made (and,
// with undo, could not remove again). Without undo, `fds` receives the MKDIRS_TASKS opens
// (fds[k]: an fd, now the caller's, or -errno); every other fd is closed. A handle ends once;
// later calls give [].
static napi_value js_mkdirs_end(napi_env env, napi_callback_info info) {
  napi_value argv[3], out;
  size_t argc = 0;
  if (hk_args(env, info, 3, 2, argv, &argc) < 0) return NULL;
  struct mkdirs_job **slot;
  napi_valuetype t, t3 = napi_undefined;
  bool undo = false, is_array = false;
  if (argc > 2 && napi_typeof(env, argv[2], &t3) != napi_ok) t3 = napi_undefined;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external || napi_get_value_external(env, argv[0], (void **)&slot) != napi_ok || napi_get_value_bool(env, argv[1], &undo) != napi_ok ||
      (t3 != napi_undefined && (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array))) {
    napi_throw_type_error(env, NULL, "mkdirsEnd(handle from mkdirsBegin, undo: boolean[, fds: number[]])");
    return NULL;
  }
  napi_create_array(env, &out);
  struct mkdirs_job *j = *slot;
  if (!j) return out;
  *slot = NULL;
  job_end(j, undo);
  if (!undo && t3 != napi_undefined && j->fds) {
    for (size_t k = 0; k < j->n; k++) {
      if (!(j->flags[k] & MKDIRS_TASKS)) continue;
      napi_value v;
      if (napi_create_int32(env, j->fds[k], &v) != napi_ok || napi_set_element(env, argv[2], (uint32_t)k, v) != napi_ok) continue; // (closed below)
      j->fds[k] = -1; // the caller's now
    }
  }
  uint32_t i = 0;
  for (size_t k = 0; k < j->n; k++) {
    if (!j->made[k]) continue;
    napi_value s;
    napi_create_string_utf8(env, j->paths[k], NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, out, i++, s);
  }
  job_free(j);
  return out;
}

HK_EXPORT("mkdirsBegin", js_mkdirs_begin);
HK_EXPORT("mkdirsEnd", js_mkdirs_end);
