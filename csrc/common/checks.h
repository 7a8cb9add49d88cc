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

// The (seed, offset) pair of every random op: an int64 tensor of shape (2,) on `device`. Returned
// contiguous; the caller keeps the returned tensor alive while a kernel may read it.
inline at::Tensor checked_seed(const char* fn, const at::Tensor& seed, const at::Device& device) {
  TORCH_CHECK(seed.scalar_type() == at::kLong && seed.dim() == 1 && seed.numel() == 2, fn,
              ": seed must be an int64 tensor of shape (2,) holding (seed, offset), got ", seed.scalar_type(),
              " of shape ", seed.sizes());
  TORCH_CHECK(seed.device() == device, fn, ": seed must be on ", device, ", got ", seed.device());
  return seed.contiguous();
}

}  // namespace pyalgo
