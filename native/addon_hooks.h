// Registration hook for addon_*.c files: a file adds functions to the module with
//   HK_EXPORT("name", js_fn);
// which places a descriptor into the `hk_napi_fns` linker section. init() in addon.c walks the
// section (hk_register_hooked), so a new file needs no edit of addon.c and files never collide.
#ifndef HAKO_ADDON_HOOKS_H
#define HAKO_ADDON_HOOKS_H

#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct hk_napi_fn {
  const char *name;
  napi_callback fn;
};

#define HK_EXPORT_CAT2(a, b) a##b
#define HK_EXPORT_CAT(a, b) HK_EXPORT_CAT2(a, b)
#define HK_EXPORT(jsname, cfn)                                                                    \
  static const struct hk_napi_fn HK_EXPORT_CAT(hk_export_, __LINE__)                              \
      __attribute__((used, section("hk_napi_fns"), aligned(sizeof(void *)))) = {jsname, cfn}

// Defined by the linker for the section; weak so a module with no hooked file still links.
extern const struct hk_napi_fn __start_hk_napi_fns[] __attribute__((weak, visibility("hidden")));
extern const struct hk_napi_fn __stop_hk_napi_fns[] __attribute__((weak, visibility("hidden")));

// Throws a JS Error with .errno (positive), .code ('EPERM'…) and .syscall; returns NULL so a
// callback can `return hk_throw_errno(...)`. Defined once, in addon.c.
napi_value hk_throw_errno(napi_env env, const char *syscall_name, int err);
// The same Error, returned instead of thrown (to reject a promise with).
napi_value hk_errno_error(napi_env env, const char *syscall_name, int err);
// Settles a pool job's promise: resolved with undefined when err is 0, else rejected with
// hk_errno_error(syscall_name, err). Defined once, in addon.c.
void hk_settle(napi_env env, napi_deferred deferred, const char *syscall_name, int err);

// Argument readers shared by the addon_*.c files (defined once, in addon.c). Each throws a JS
// TypeError and returns -1 on bad input, 0 on success.
// hk_args: up to `want` arguments into argv, at least `need` of them; missing optional ones are
// `undefined`; *got (when not NULL) is how many the caller passed.
int hk_args(napi_env env, napi_callback_info info, size_t want, size_t need, napi_value *argv, size_t *got);
int hk_int32(napi_env env, napi_value v, int32_t *out);
int hk_uint32(napi_env env, napi_value v, uint32_t *out);
// hk_typed: v's data and element count when it is a typed array of type `want`; -1 otherwise
// (throws nothing: the caller throws its usage line).
int hk_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len);
// hk_timespec: seconds (a JS time) to a timespec as libuv makes it for fs.futimes/lutimes
// (microsecond resolution; negative fractions borrow a second).
struct timespec hk_timespec(double t);

// Starts fn(arg) on a thread of its own with a 64 KiB stack and every signal blocked (no signal
// handler of Node's ever runs on it); detached, or joinable into *out. Returns 0 or an errno.
int hk_start_thread(pthread_t *out, int detached, void *(*fn)(void *), void *arg);

// Makes a promise and queues execute/complete on the libuv pool for it (async resource `name`),
// the work's handle in *work and the promise's deferred in *deferred (complete settles it).
// Returns the promise with *queued = 1; when the work could not be queued, the promise already
// rejected ("<what>: cannot queue the work") with *queued = 0; NULL when not even the promise could
// be made. In the last two cases the caller frees its work (deleting *work when set) and returns
// what this returned. Defined once, in addon.c.
napi_value hk_queue_work(napi_env env, const char *name, const char *what, napi_async_execute_callback execute,
                         napi_async_complete_callback complete, void *data, napi_async_work *work, napi_deferred *deferred,
                         int *queued);

// Every hooked function, or with `only` (a NULL-ended list of names) just those.
static inline bool hk_listed(const char *const *only, const char *name) {
  if (!only) return true;
  for (; *only; only++) {
    if (strcmp(*only, name) == 0) return true;
  }
  return false;
}

static inline int hk_register_hooked(napi_env env, napi_value exports, const char *const *only) {
  for (const struct hk_napi_fn *p = __start_hk_napi_fns; p && p < __stop_hk_napi_fns; p++) {
    if (!hk_listed(only, p->name)) continue;
    napi_value f;
    if (napi_create_function(env, p->name, NAPI_AUTO_LENGTH, p->fn, NULL, &f) != napi_ok) return -1;
    if (napi_set_named_property(env, exports, p->name, f) != napi_ok) return -1;
  }
  return 0;
}

#endif
