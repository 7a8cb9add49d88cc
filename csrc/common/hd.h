// Host/device helpers shared by every kernel body. No torch headers: this file is compiled by
// g++ for the CPU extension and by nvcc for the CUDA kernels, so both run the same arithmetic.
#pragma once
#include <cstdint>
#include <math.h>

#if defined(__CUDACC__)
#define PYALGO_HD __host__ __device__ __forceinline__
#else
#define PYALGO_HD inline
#endif

namespace pyalgo {

PYALGO_HD float hd_exp(float x) { return expf(x); }
PYALGO_HD double hd_exp(double x) { return exp(x); }
PYALGO_HD float hd_log(float x) { return logf(x); }
PYALGO_HD double hd_log(double x) { return log(x); }
PYALGO_HD float hd_log1p(float x) { return log1pf(x); }
PYALGO_HD double hd_log1p(double x) { return log1p(x); }

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

template <typename T>
struct Row {
  T* p;
  int64_t stride;
  PYALGO_HD T& operator[](int64_t i) const { return p[i * stride]; }
};

template <typename T>
PYALGO_HD Row<T> row_at(T* data, const RowLayout& L, int64_t r) {
  return Row<T>{data + L.base(r), L.stride()};
}

}  // namespace pyalgo
