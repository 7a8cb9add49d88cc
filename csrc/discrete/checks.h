// Argument checks shared by the CPU and CUDA glue of the discrete estimators. Every message
// names the user-facing function ("pyalgo.reinmax") and the argument.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "../common/checks.h"
#include "../common/hd.h"

namespace pyalgo {
namespace discrete {

struct RowTensor {
  Tensor x;  // contiguous logits
  RowLayout layout;
  std::vector<int64_t> index_shape;  // logits.shape without `dim`
};

inline bool is_supported_float(ScalarType t) {
  return t == kFloat || t == kDouble || t == kHalf || t == kBFloat16;
}

inline RowTensor prepare_logits(const char* fn, const Tensor& logits, int64_t dim) {
  PYALGO_CHECK(is_supported_float(logits.scalar_type()), fn,
              ": logits must be float32, float64, float16 or bfloat16, got ", logits.scalar_type());
  const int64_t n = logits.dim();
  PYALGO_CHECK(n >= 1, fn, ": logits must have at least one dimension (the categories), got a 0-d tensor");
  PYALGO_CHECK(dim >= -n && dim < n, fn, ": dim must be in [", -n, ", ", n - 1, "] for logits of ", n,
              " dimensions, got ", dim);
  const int64_t d = dim < 0 ? dim + n : dim;
  const int64_t C = logits.size(d);
  PYALGO_CHECK(C >= 1, fn, ": logits must have at least one category along dim ", dim, ", got size 0");
  PYALGO_CHECK(C <= 0x7fffffff, fn, ": logits may have at most 2147483647 categories along dim ", dim,
              " (the sampled index is int32), got ", C);
  int64_t outer = 1, inner = 1;
  std::vector<int64_t> index_shape;
  for (int64_t i = 0; i < n; ++i) {
    if (i < d) outer *= logits.size(i);
    if (i > d) inner *= logits.size(i);
    if (i != d) index_shape.push_back(logits.size(i));
  }
  return RowTensor{contig(logits), RowLayout{outer, C, inner}, index_shape};
}

// The smallest tau for logits of `dtype`: z = x/τ must stay finite for the row's largest logit
// once logits are taken relative to it (|G|/τ <= 40e30 in float for the Gumbel estimators), so
// 1/τ <= 1e30 when the accumulation type is float (float32/float16/bfloat16) and 1e300 for float64.
inline double min_tau(ScalarType dtype) { return dtype == kDouble ? 1e-300 : 1e-30; }

inline void check_tau(const char* fn, double tau, ScalarType dtype) {
  PYALGO_CHECK(std::isfinite(tau) && tau > 0, fn, ": tau must be a finite number > 0, got ", tau);
  PYALGO_CHECK(tau >= min_tau(dtype), fn, ": tau must be >= ", min_tau(dtype), " for ", dtype,
              " logits (1/tau must stay finite in the compute dtype), got ", tau);
}

inline Tensor prepare_index(const char* fn, const Tensor& index, const RowTensor& rt) {
  PYALGO_CHECK(index.scalar_type() == kInt, fn, ": index must be int32, got ", index.scalar_type());
  PYALGO_CHECK(same_shape(index.sizes(), rt.index_shape), fn, ": index must have the logits' shape without dim, ",
               shape_text(rt.index_shape), ", got ", shape_text(index.sizes()));
  PYALGO_CHECK(index.device() == rt.x.device(), fn, ": index must be on the logits' device");
  return contig(index);
}

inline Tensor prepare_grad(const char* fn, const char* name, const Tensor& grad,
                               const RowTensor& rt) {
  PYALGO_CHECK(same_shape(grad.sizes(), rt.x.sizes()), fn, ": ", name, " must have the logits' shape ",
               shape_text(rt.x.sizes()), ", got ", shape_text(grad.sizes()));
  PYALGO_CHECK(grad.device() == rt.x.device(), fn, ": ", name, " must be on the logits' device");
  return contig(to_dtype(grad, rt.x.scalar_type()));
}

inline void check_draws(const char* fn, int64_t k) {
  PYALGO_CHECK(k >= 1 && k <= (int64_t(1) << 20), fn, ": k (the number of Gumbel-Rao draws) must be in [1, ",
              int64_t(1) << 20, "], got ", k);
}

inline void check_gap(const char* fn, double gap, bool gap_is_p) {
  PYALGO_CHECK(gap_is_p || (std::isfinite(gap) && gap >= 0), fn,
              ": gap must be a finite number >= 0 or \"p\", got ", gap);
}

}  // namespace discrete
}  // namespace pyalgo
