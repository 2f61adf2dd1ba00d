// mount(2) and umount2(2) for the engine (container rootfs overlays), run on the libuv pool and
// answered with a promise: spawning mount(8)/umount(8) from the daemon cost 5–20 ms per call,
// the syscalls well under one. A failure rejects with an Error carrying .errno/.code/.syscall.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

struct mount_work {
  napi_async_work work;
  napi_deferred deferred;
  int umount;                // 0: mount, 1: umount2
  char *source, *target, *fstype, *data;
  unsigned long flags;
  int err;
};

static void free_work(napi_env env, struct mount_work *w) {
  if (w->work) napi_delete_async_work(env, w->work);
  free(w->source);
  free(w->target);
  free(w->fstype);
  free(w->data);
  free(w);
}

static void execute(napi_env env, void *p) {
  (void)env;
  struct mount_work *w = p;
  int r = w->umount ? umount2(w->target, (int)w->flags) : mount(w->source, w->target, w->fstype, w->flags, w->data);
  w->err = r < 0 ? errno : 0;
}

static void complete(napi_env env, napi_status status, void *p) {
  struct mount_work *w = p;
  hk_settle(env, w->deferred, w->umount ? "umount2" : "mount", status == napi_ok ? w->err : ECANCELED);
  free_work(env, w);
}

/** A string argument (null/undefined → NULL); returns -1 with an exception pending on a bad type. */
static int opt_string(napi_env env, napi_value v, char **out) {
  napi_valuetype t;
  *out = NULL;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_null || t == napi_undefined) return 0;
  size_t n;
  if (t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "mount: expected a string or null");
    return -1;
  }
  *out = malloc(n + 1);
  if (!*out) {
    napi_throw_error(env, NULL, "mount: out of memory");
    return -1;
  }
  napi_get_value_string_utf8(env, v, *out, n + 1, &n);
  return 0;
}

static napi_value queue(napi_env env, struct mount_work *w) {
  int queued;
  napi_value promise = hk_queue_work(env, w->umount ? "hako:umount2" : "hako:mount", "mount", execute, complete, w, &w->work, &w->deferred, &queued);
  if (!queued) free_work(env, w);
  return promise;
}

// mountAsync(source, target, fstype, flags, data) → Promise<void>
static napi_value js_mount_async(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "mountAsync(source, target, fstype, flags, data)");
    return NULL;
  }
  struct mount_work *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  double flags = 0;
  if (opt_string(env, argv[0], &w->source) || opt_string(env, argv[1], &w->target) || opt_string(env, argv[2], &w->fstype) ||
      napi_get_value_double(env, argv[3], &flags) != napi_ok || opt_string(env, argv[4], &w->data) || !w->target) {
    if (!w->target) napi_throw_type_error(env, NULL, "mountAsync: target is required");
    free_work(env, w);
    return NULL;
  }
  w->flags = (unsigned long)flags;
  return queue(env, w);
}

// umountAsync(target, flags) → Promise<void>
static napi_value js_umount_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "umountAsync(target, flags)");
    return NULL;
  }
  struct mount_work *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  int32_t flags = 0;
  if (opt_string(env, argv[0], &w->target) || !w->target || napi_get_value_int32(env, argv[1], &flags) != napi_ok) {
    if (!w->target) napi_throw_type_error(env, NULL, "umountAsync: target is required");
    free_work(env, w);
    return NULL;
  }
  w->umount = 1;
  w->flags = (unsigned long)flags;
  return queue(env, w);
}

HK_EXPORT("mountAsync", js_mount_async);
HK_EXPORT("umountAsync", js_umount_async);
