// Stand-in for <cuda_bf16.h> under the SIMT emulator: __nv_bfloat16 as the top 16 bits of a
// binary32, rounded to nearest even (the same bits as c10::BFloat16; NaN stays NaN).
#pragma once
#include "cuda_fp16.h"

struct __nv_bfloat16 {
  uint16_t x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) {
    const uint32_t u = ::simt::f32_bits(f);
    x = f != f ? uint16_t(0x7FC0) : static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  }
  __nv_bfloat16(double d) : __nv_bfloat16(static_cast<float>(d)) {}
  operator float() const { return ::simt::f32_from(static_cast<uint32_t>(x) << 16); }
};

inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }
