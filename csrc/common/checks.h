// Argument checks shared by the torch glue of several op families. Every message names the
// user-facing function and the argument.
#pragma once
#include "stable.h"

namespace pyalgo {

// `x` must have exactly `shape`, the dtype `dtype` and the device of `like`; returns it contiguous.
inline Tensor checked(const char* fn, const char* name, const Tensor& x, IntArrayRef shape, ScalarType dtype,
                      const Tensor& like) {
  PYALGO_CHECK(same_shape(x.sizes(), shape), fn, ": ", name, " must have shape ", shape_text(shape), ", got ",
               shape_text(x.sizes()));
  PYALGO_CHECK(x.scalar_type() == dtype, fn, ": ", name, " must have dtype ", dtype, ", got ", x.scalar_type());
  PYALGO_CHECK(x.device() == like.device(), fn, ": ", name, " must be on ", like.device(), ", got ", x.device());
  return contig(x);
}
inline Tensor checked(const char* fn, const char* name, const Tensor& x, std::initializer_list<int64_t> shape,
                      ScalarType dtype, const Tensor& like) {
  return checked(fn, name, x, IntArrayRef(shape.begin(), shape.end()), dtype, like);
}

// The (seed, offset) pair of every random op: an int64 tensor of shape (2,) on `device`. Returned
// contiguous; the caller keeps the returned tensor alive while a kernel may read it.
inline Tensor checked_seed(const char* fn, const Tensor& seed, const Device& device) {
  PYALGO_CHECK(seed.scalar_type() == kLong && seed.dim() == 1 && seed.numel() == 2, fn,
               ": seed must be an int64 tensor of shape (2,) holding (seed, offset), got ", seed.scalar_type(),
               " of shape ", shape_text(seed.sizes()));
  PYALGO_CHECK(seed.device() == device, fn, ": seed must be on ", device, ", got ", seed.device());
  return contig(seed);
}

}  // namespace pyalgo
