// exitNow(code): ends the process with _exit(2), without Node's teardown (V8 platform workers
// joined, atexit handlers such as OpenSSL's cleanup, the heap freed): the hako CLI's last ~3 ms
// after its answer is in (bench/startup.mjs --phases: process.exit → reaped 6.5 ms, a SIGKILL
// 3.5 ms). The caller has done what process.exit would first (the 'exit' event); its output is
// already written (Node writes stdio to files, pipes and terminals synchronously on Linux).
#include <unistd.h>

#include "addon_hooks.h"

static napi_value js_exit_now(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code;
  if (hk_args(env, info, 1, 1, argv, NULL) || hk_int32(env, argv[0], &code)) return NULL;
  _exit(code & 0xff);
}

HK_EXPORT("exitNow", js_exit_now);
