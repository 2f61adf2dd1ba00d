// Process memory housekeeping for the daemon: malloc_trim.
//
// glibc's malloc keeps freed memory inside its heaps (the brk heap and one arena per thread
// that allocated): only a free chunk at the top of the brk heap is returned to the kernel. V8's
// parser and compiler zones, OpenSSL and libuv leave ~1.5 MB of free-but-resident pages in the
// daemon's heaps after start-up and after bursts of requests. malloc_trim(0) gives every whole
// free page of every arena back (MADV_DONTNEED): what an idle daemon should do.
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
