// Argument checks shared by the torch glue of several op families. Every message names the
// user-facing function and the argument.
#pragma once
#include <ATen/ATen.h>

namespace pyalgo {

// `x` must have exactly `shape`, the dtype `dtype` and the device of `like`; returns it contiguous.
inline at::Tensor checked(const char* fn, const char* name, const at::Tensor& x, at::IntArrayRef shape,
                          at::ScalarType dtype, const at::Tensor& like) {
  TORCH_CHECK(x.sizes() == shape, fn, ": ", name, " must have shape ", shape, ", got ", x.sizes());
  TORCH_CHECK(x.scalar_type() == dtype, fn, ": ", name, " must have dtype ", dtype, ", got ", x.scalar_type());
  TORCH_CHECK(x.device() == like.device(), fn, ": ", name, " must be on ", like.device(), ", got ", x.device());
  return x.contiguous();
}

}  // namespace pyalgo
