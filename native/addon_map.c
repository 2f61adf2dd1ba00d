// mapSource(path) → string | undefined: the whole file as a V8 external one-byte string over a
// read-only mapping of it, for the hako CLI's bundle (bin/bundle-loader.cjs). Compiled from its
// code cache, V8 needs the source only as a string of the right length (the cache's check) and
// for the few functions the cache lacks, so reading and decoding the 200 KB file (~0.5–0.9 ms of
// each `hako` start) is replaced by one mmap whose pages are faulted in only where V8 looks.
// The mapping is never unmapped: the string may be compiled from (lazily) until the process
// ends. A build replaces the bundle by a new file (scripts/bundle.mjs removes the directory
// first), so the mapped inode does not change under it. undefined (the caller reads the file
// then) when this Node has no external strings (node_api_create_external_string_latin1, Node
// ≥ 20.4, looked up at run time) or when the file is not ASCII (Latin-1 would misread UTF-8).
// mapBuffer(path) → Buffer: the whole file over a read-only mapping, unmapped when the Buffer is
// collected (the code cache: V8 reads it once, while compiling).
// mtimeMs(path) → number | undefined: stat(2)'s mtime in ms as fs.statSync's mtimeMs, undefined
// when there is no such file: the loader's staleness check of the bundle. A process's first
// fs.statSync costs ~0.2 ms (Node's fs path and Stats code compiled on that first call), which
// the CLI paid at every start for these two stats alone.
// setV8Flags(flags) → true once given to V8 (v8::V8::SetFlagsFromString, what v8.setFlagsFromString
// calls, looked up in the node binary), false when this Node does not export it: the launcher's
// restoreRehashDefault without process.binding('v8'), whose deprecation path (a warning object
// built and dropped) costs each start ~0.13 ms.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addon_hooks.h"

typedef napi_status (*create_external_latin1_fn)(napi_env env, char *str, size_t length, napi_finalize finalize_callback,
                                                 void *finalize_hint, napi_value *result, bool *copied);

// The file mapped read-only into *addr and *size; 0 or an errno. An empty file is EINVAL.
static int map_file(napi_env env, napi_value jspath, void **addr, size_t *size) {
  char path[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, jspath, path, sizeof path, &len) != napi_ok) return EINVAL;
  if (len >= sizeof path - 1) return ENAMETOOLONG;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0) {
    err = errno;
  } else if (st.st_size <= 0) {
    err = EINVAL;
  } else {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      err = errno;
    } else {
      *addr = p;
      *size = (size_t)st.st_size;
    }
  }
  close(fd);
  return err;
}

// Eight bytes at a time, four words per step (the byte loop, which -O2 does not vectorize, took
// ~0.11 ms of each `hako` start for the 220 KB bundle; this 9 µs, 15–20 µs with the page faults
// of a first read).
static bool all_ascii(const unsigned char *s, size_t n) {
  uint64_t acc[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + sizeof acc <= n; i += sizeof acc) {
    uint64_t w[4];
    memcpy(w, s + i, sizeof w);
    acc[0] |= w[0];
    acc[1] |= w[1];
    acc[2] |= w[2];
    acc[3] |= w[3];
  }
  unsigned char tail = 0;
  for (; i < n; i++) tail |= s[i];
  return ((acc[0] | acc[1] | acc[2] | acc[3]) & 0x8080808080808080ULL) == 0 && tail < 0x80;
}

static napi_value js_map_source(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  napi_value undef;
  napi_get_undefined(env, &undef);
  create_external_latin1_fn create = (create_external_latin1_fn)dlsym(RTLD_DEFAULT, "node_api_create_external_string_latin1");
  if (!create) return undef;
  void *addr;
  size_t size;
  int err = map_file(env, argv[0], &addr, &size);
  if (err) return hk_throw_errno(env, "mmap", err);
  napi_value s;
  bool copied = false;
  if (!all_ascii(addr, size) || create(env, addr, size, NULL, NULL, &s, &copied) != napi_ok) {
    munmap(addr, size);
    return undef;
  }
  if (copied) munmap(addr, size); // V8 made a string of its own (a build with the sandbox)
  return s;
}

static void unmap_buffer(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value js_map_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  void *addr;
  size_t size;
  int err = map_file(env, argv[0], &addr, &size);
  if (err) return hk_throw_errno(env, "mmap", err);
  napi_value buf;
  if (napi_create_external_buffer(env, size, addr, unmap_buffer, (void *)(uintptr_t)size, &buf) != napi_ok) {
    munmap(addr, size);
    return NULL;
  }
  return buf;
}

static napi_value js_mtime_ms(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  char path[4096];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok) return hk_throw_errno(env, "stat", EINVAL);
  if (len >= sizeof path - 1) return hk_throw_errno(env, "stat", ENAMETOOLONG);
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno != ENOENT) return hk_throw_errno(env, "stat", errno);
    napi_value undef;
    napi_get_undefined(env, &undef);
    return undef;
  }
  napi_value ms;
  napi_create_double(env, (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6, &ms);
  return ms;
}

typedef void (*set_flags_fn)(const char *str, size_t length);

static napi_value js_set_v8_flags(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (hk_args(env, info, 1, 1, argv, NULL)) return NULL;
  char flags[1024];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], flags, sizeof flags, &len) != napi_ok || len >= sizeof flags - 1) {
    napi_throw_type_error(env, NULL, "setV8Flags: flags must be a string shorter than 1 KiB");
    return NULL;
  }
  // The Itanium C++ name of the static `void v8::V8::SetFlagsFromString(const char*, size_t)`.
  set_flags_fn set = (set_flags_fn)dlsym(RTLD_DEFAULT, "_ZN2v82V818SetFlagsFromStringEPKcm");
  napi_value done;
  napi_get_boolean(env, set != NULL, &done);
  if (set) set(flags, len);
  return done;
}

HK_EXPORT("mapSource", js_map_source);
HK_EXPORT("mapBuffer", js_map_buffer);
HK_EXPORT("mtimeMs", js_mtime_ms);
HK_EXPORT("setV8Flags", js_set_v8_flags);
