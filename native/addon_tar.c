// The tar header's fixed-width numbers and checksum for the layer unpacker's TarReader
// (src/image/unpack/tar-reader.ts): per 512-byte header ~2000 bytecodes of byte loops in JS,
// which hakod runs without V8's optimizing compiler (and cold, in a fresh daemon's first pull:
// ~10 µs a header, ~290 headers for busybox). The rules are tar-reader.ts's parseNumber and
// headerChecksums exactly; whatever does not parse cleanly is left to the JS (NaN), which then
// throws its own error, so both paths accept and refuse the same headers.
#define NAPI_VERSION 8
#include <node_api.h>

#include "addon_hooks.h"

#include <math.h>
#include <stdint.h>

#define BLOCK 512
#define MAX_SAFE 9007199254740991ULL // Number.MAX_SAFE_INTEGER

// parseNumber(buf, off, len): base-256 (GNU: high bit of the first byte) or octal after leading
// spaces/NULs, ending at a NUL or space. NaN for what parseNumber refuses (a negative base-256
// number, one beyond 2^53 - 1, a non-octal digit).
static double tar_number(const uint8_t *p, int len) {
  uint8_t first = p[0];
  if (first & 0x80) {
    if (first == 0xff) return NAN;
    uint64_t v = first & 0x7f;
    for (int i = 1; i < len; i++) {
      v = v * 256 + p[i];
      if (v > MAX_SAFE) return NAN; // (no wrap: v ≤ 2^53 before the step)
    }
    return (double)v;
  }
  uint64_t v = 0;
  int i = 0;
  while (i < len && (p[i] == 0x20 || p[i] == 0)) i++;
  for (; i < len; i++) {
    uint8_t c = p[i];
    if (c == 0 || c == 0x20) break;
    if (c < 0x30 || c > 0x37) return NAN;
    v = v * 8 + (uint64_t)(c - 0x30); // ≤ 12 digits: < 2^36
  }
  return (double)v;
}

// tarHeader(buf, off, out: Float64Array(7)) → 0 for a block of zeros (out untouched), 1 for a
// header whose checksum matches (unsigned or, for old tars, signed byte sum with the checksum
// field counted as spaces), 2 for one whose checksum does not (or does not parse). For 1 and 2,
// out = [size, mode, uid, gid, mtime, devmajor, devminor] as parseNumber reads them, NaN where
// it would throw.
static napi_value js_tar_header(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (hk_args(env, info, 3, 3, argv, NULL)) return NULL;
  napi_typedarray_type bt, ot;
  size_t blen, olen, boff, ooff;
  void *bdata, *odata;
  napi_value ab;
  int32_t off;
  if (napi_get_typedarray_info(env, argv[0], &bt, &blen, &bdata, &ab, &boff) != napi_ok || bt != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[2], &ot, &olen, &odata, &ab, &ooff) != napi_ok || ot != napi_float64_array || olen < 7) {
    napi_throw_type_error(env, NULL, "tarHeader(buf: Uint8Array, off: number, out: Float64Array(7))");
    return NULL;
  }
  if (hk_int32(env, argv[1], &off)) return NULL;
  if (off < 0 || (size_t)off + BLOCK > blen) {
    napi_throw_range_error(env, NULL, "tarHeader: the block is outside the buffer");
    return NULL;
  }
  const uint8_t *h = (const uint8_t *)bdata + off;
  double *out = (double *)odata;
  napi_value ret;
  int zero = 1;
  for (int i = 0; i < BLOCK; i++) {
    if (h[i] != 0) {
      zero = 0;
      break;
    }
  }
  if (zero) {
    napi_create_int32(env, 0, &ret);
    return ret;
  }
  uint32_t sum = 0;
  int32_t ssum = 0;
  for (int i = 0; i < BLOCK; i++) {
    uint8_t c = (i >= 148 && i < 156) ? 0x20 : h[i];
    sum += c;
    ssum += (int8_t)c;
  }
  double stored = tar_number(h + 148, 8);
  int ok = !isnan(stored) && (stored == (double)sum || stored == (double)ssum);
  out[0] = tar_number(h + 124, 12);
  out[1] = tar_number(h + 100, 8);
  out[2] = tar_number(h + 108, 8);
  out[3] = tar_number(h + 116, 8);
  out[4] = tar_number(h + 136, 12);
  out[5] = tar_number(h + 329, 8);
  out[6] = tar_number(h + 337, 8);
  napi_create_int32(env, ok ? 1 : 2, &ret);
  return ret;
}

HK_EXPORT("tarHeader", js_tar_header);
