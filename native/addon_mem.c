// Process memory housekeeping for the daemon: malloc_trim and V8's low-memory collection.
//
// glibc's malloc keeps freed memory inside its heaps (the brk heap and one arena per thread
// that allocated): only a free chunk at the top of the brk heap is returned to the kernel. V8's
// parser and compiler zones, OpenSSL and libuv leave ~1.5 MB of free-but-resident pages in the
// daemon's heaps after start-up and after bursts of requests. malloc_trim(0) gives every whole
// free page of every arena back (MADV_DONTNEED): what an idle daemon should do.
#include <dlfcn.h>
#include <malloc.h>
#include <node_api.h>

#include "addon_hooks.h"

// mallocTrim() → whether any memory was released.
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, malloc_trim(0) != 0, &r);
  return r;
}

HK_EXPORT("mallocTrim", js_malloc_trim);

// lowMemoryNotification() → whether V8 was asked (false: this node lacks the symbols).
//
// v8::Isolate::LowMemoryNotification() on the calling (main) thread's isolate: V8's
// "collect all available garbage" — full collections in memory-reducing mode until little more
// is freed, then the young generation shrunk to its minimum and emptied pages unmapped. It is what
// V8's own memory reducer does ~8 s after start (two incremental reducing mark-compacts); neither
// Node nor N-API offers it, and `gc()` (--expose-gc) is a plain mark-compact that shrinks and
// unmaps nothing (measured: RSS +0.2 MB after it). Both functions are part of V8's public API,
// exported by the node binary for addons; this addon is C and links against nothing, so they are
// looked up at the call: v8::Isolate::GetCurrent() is static, and LowMemoryNotification a
// non-virtual member taking only `this` (the Itanium C++ ABI: the object as the first argument).
static napi_value js_low_memory_notification(napi_env env, napi_callback_info info) {
  (void)info;
  typedef void *(*current_fn)(void);
  typedef void (*notify_fn)(void *);
  current_fn current = (current_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv");
  notify_fn notify = (notify_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate21LowMemoryNotificationEv");
  void *isolate = current && notify ? current() : NULL;
  if (isolate) notify(isolate);
  napi_value r;
  napi_get_boolean(env, isolate != NULL, &r);
  return r;
}

HK_EXPORT("lowMemoryNotification", js_low_memory_notification);
