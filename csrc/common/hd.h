// Host/device helpers shared by every kernel body. No torch headers: this file is compiled by
// g++ for the CPU extension and by nvcc for the CUDA kernels, so both run the same arithmetic.
#pragma once
#include <cstdint>
#include <cstring>
#include <math.h>

#if defined(__CUDACC__)
#define PYALGO_HD __host__ __device__ __forceinline__
#else
#define PYALGO_HD inline __attribute__((always_inline))
#endif

// `omp simd` (with -fopenmp-simd) lets g++ vectorise a row loop and its reductions. The lane
// order is fixed at compile time, so results stay independent of the thread count.
#if defined(__CUDACC__)
#define PYALGO_SIMD
#define PYALGO_SIMD_REDUCE(...)
#define PYALGO_SIMD_REDUCE2(a, b)
#else
#define PYALGO_PRAGMA(x) _Pragma(#x)
#define PYALGO_SIMD PYALGO_PRAGMA(omp simd)
#define PYALGO_SIMD_REDUCE(...) PYALGO_PRAGMA(omp simd reduction(__VA_ARGS__))
#define PYALGO_SIMD_REDUCE2(a, b) PYALGO_PRAGMA(omp simd reduction(a) reduction(b))
#endif

// CPU instance/row loops are compiled twice, for AVX2+FMA (x86-64-v3) and the baseline; the
// loader picks the version the CPU supports (no -march=native in wheels).
#if !defined(__CUDACC__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYALGO_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PYALGO_CPU_CLONES
#endif

namespace pyalgo {

template <typename To, typename From>
PYALGO_HD To bit_cast_hd(From from) {
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

PYALGO_HD float hd_exp(float x) { return expf(x); }
PYALGO_HD double hd_exp(double x) { return exp(x); }
PYALGO_HD float hd_log(float x) { return logf(x); }
PYALGO_HD double hd_log(double x) { return log(x); }
PYALGO_HD float hd_pow(float x, float y) { return powf(x, y); }
PYALGO_HD double hd_pow(double x, double y) { return pow(x, y); }
PYALGO_HD float hd_log1p(float x) { return log1pf(x); }
PYALGO_HD double hd_log1p(double x) { return log1p(x); }

// exp(x) for x <= 0, the only case the kernels need (they subtract the row max first).
// float: Cephes-style range reduction and a degree-7 polynomial, branch-free so that loops
// vectorise (|rel. err| < 2 ulp; exactly 0 below -87, so -inf gives 0). double: libm.
PYALGO_HD float exp_nonpos(float x) {
  const float lo = -87.0f, magic = 12582912.0f;  // 1.5 * 2^23: rounds to an integer
  float xc = x < lo ? lo : x;
  float t = xc * 1.44269504088896341f + magic;
  int32_t n = bit_cast_hd<int32_t>(t) - bit_cast_hd<int32_t>(magic);
  float nf = t - magic;
  float r = xc - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float res = p * bit_cast_hd<float>((n + 127) << 23);
  return x < lo ? 0.0f : res;
}
PYALGO_HD double exp_nonpos(double x) { return exp(x); }

// log(x) for x > 0 (+inf gives +inf). float: Cephes logf, branch-free; double: libm.
PYALGO_HD float log_pos(float x) {
  int32_t bits = bit_cast_hd<int32_t>(x);
  int32_t e = ((bits >> 23) & 0xff) - 126;
  float m = bit_cast_hd<float>((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  bool small = m < 0.707106781186547524f;
  float ef = static_cast<float>(small ? e - 1 : e);
  float f = small ? m + m - 1.0f : m - 1.0f;
  float z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  y += -2.12194440e-4f * ef;
  y += -0.5f * z;
  float res = f + y + 0.693359375f * ef;
  return x == static_cast<float>(INFINITY) ? x : res;
}
PYALGO_HD double log_pos(double x) { return log(x); }

// log(1 + x) for x > -1 (+inf gives +inf, NaN gives NaN). float: branch-free, so that loops
// vectorise: the rounding error of u = 1 + x is added back, log u = e ln 2 + log1p(f) with
// f = m - 1 exact for the mantissa m in [sqrt(1/2), sqrt(2)], and the Cephes logf polynomial.
// Every multiply-add is an explicit fmaf, so the result is bitwise the same with or without
// hardware FMA (g++ contraction, the SIMT emulator's -ffp-contract=off, nvcc): < 0.83 ulp from
// log1p on all floats >= 0 (checked against double log1p on every 7th float). double: libm.
PYALGO_HD float log1p_poly(float x) {
  const float u = 1.0f + x;
  const int32_t bits = bit_cast_hd<int32_t>(u);
  const float m1 = bit_cast_hd<float>((bits & 0x007fffff) | 0x3f800000);  // in [1, 2)
  const bool big = m1 > 1.41421356237309505f;
  const float m = big ? 0.5f * m1 : m1;
  const float e = static_cast<float>(((bits >> 23) & 0xff) - 127 + (big ? 1 : 0));
  const float f = m - 1.0f;
  const float c = (x - (u - 1.0f)) / u;
  const float z = f * f;
  float y = 7.0376836292e-2f;
  y = fmaf(y, f, -1.1514610310e-1f);
  y = fmaf(y, f, 1.1676998740e-1f);
  y = fmaf(y, f, -1.2420140846e-1f);
  y = fmaf(y, f, 1.4249322787e-1f);
  y = fmaf(y, f, -1.6668057665e-1f);
  y = fmaf(y, f, 2.0000714765e-1f);
  y = fmaf(y, f, -2.4999993993e-1f);
  y = fmaf(y, f, 3.3333331174e-1f);
  y = y * f;
  y = fmaf(y, z, fmaf(e, -2.12194440e-4f, c));
  y = fmaf(-0.5f, z, y);
  const float res = fmaf(e, 0.693359375f, f + y);
  return x == static_cast<float>(INFINITY) ? x : res;
}
PYALGO_HD double log1p_poly(double x) { return log1p(x); }

template <typename A>
PYALGO_HD A hd_inf() { return static_cast<A>(INFINITY); }
template <typename A>
PYALGO_HD A hd_nan() { return static_cast<A>(NAN); }
template <typename A>
PYALGO_HD bool hd_isnan(A x) { return x != x; }

// A strided row of a tensor viewed as (outer, C, inner): element i of row r lives at
// base(r) + i * inner. This covers any `dim` of a contiguous tensor without a transpose.
struct RowLayout {
  int64_t outer, C, inner;
  PYALGO_HD int64_t rows() const { return outer * inner; }
  PYALGO_HD int64_t base(int64_t r) const { return (r / inner) * C * inner + r % inner; }
  PYALGO_HD int64_t stride() const { return inner; }
};

// kUnit: the stride is known to be 1 at compile time (dim = -1), which lets loops vectorise.
template <typename T, bool kUnit = false>
struct Row {
  T* p;
  int64_t stride;
  PYALGO_HD T& operator[](int64_t i) const { return p[kUnit ? i : i * stride]; }
};

template <bool kUnit, typename T>
PYALGO_HD Row<T, kUnit> row_at(T* data, const RowLayout& L, int64_t r) {
  return Row<T, kUnit>{data + L.base(r), L.stride()};
}

}  // namespace pyalgo
