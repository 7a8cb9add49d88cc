// The torch side of the energy ops, written once and templated on a launcher (CpuLaunch in
// energy_cpu.cpp, CudaLaunch in energy_cuda.cpp): shape/dtype checks, output allocation, dtype
// dispatch. Value checks (y binary or a permutation, finite energies) are made by the Python
// wrappers in pyalgo/energy/ops.py (for their messages) and again by the kernels on every row
// (CPU: an error after the pass; CUDA: the row's outputs are NaN), so that torch.compile,
// validate=False and direct torch.ops calls cannot skip them.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "../common/checks.h"
#include "minmin.h"

namespace pyalgo {
namespace energy {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using Tensors4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// m samples of `words` random words each must fit the 2^32 Philox groups of a row's stream.
inline void check_samples(const char* fn, int64_t batch, int64_t m, int64_t words) {
  TORCH_CHECK(batch >= 0, fn, ": batch must be >= 0, got ", batch);
  TORCH_CHECK(m >= 1, fn, ": num_samples must be >= 1, got ", m);
  TORCH_CHECK(m <= (int64_t(1) << 31) && m * words < (int64_t(1) << 34), fn,
              ": num_samples is too large for one call (", m, " samples of ", words, " words)");
}

// A sampler's (batch, m, size) output of `elem` bytes each: refused before allocating when it exceeds
// 2^40 bytes (no int64 overflow, no raw allocator error).
inline void check_output(const char* fn, int64_t batch, int64_t m, int64_t size, int64_t elem) {
  constexpr int64_t kMaxBytes = int64_t(1) << 40;
  const bool fits = batch == 0 || (m <= kMaxBytes / (size * elem) && batch <= kMaxBytes / (m * size * elem));
  TORCH_CHECK(fits, fn, ": batch × num_samples = ", batch, " × ", m, " samples of ", size,
              " entries is too large to allocate (limit 2^40 bytes)");
}

inline void check_float(const char* fn, const char* name, const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, fn, ": ", name,
              " must be float32 or float64, got ", x.scalar_type());
}

// alpha >= 1, finite also in the compute dtype (the kernels take it as A).
inline void check_alpha(const char* fn, double alpha, at::ScalarType dt) {
  TORCH_CHECK(std::isfinite(alpha) && alpha >= 1.0, fn, ": alpha must be a finite number >= 1, got ", alpha);
  TORCH_CHECK(dt != at::kFloat || alpha <= std::numeric_limits<float>::max(), fn,
              ": alpha must be finite in float32, got ", alpha);
}

template <typename Launch>
struct EnergyOps {
  static at::Tensor sample_bits(const at::Tensor& seed, int64_t batch, int64_t m, int64_t k) {
    const char* fn = "pyalgo.energy.sample_bits";
    TORCH_CHECK(k >= 1 && k <= kMaxBits, fn, ": k must be in [1, ", kMaxBits, "], got ", k);
    check_samples(fn, batch, m, bits_words(static_cast<int>(k)));
    check_output(fn, batch, m, k, 1);
    const at::Tensor s = checked_seed(fn, seed, seed.device());
    const at::OptionalDeviceGuard guard(at::device_of(seed));
    auto out = at::empty({batch, m, k}, seed.options().dtype(at::kByte));
    if (batch > 0) Launch::sample_bits(s.data_ptr<int64_t>(), out.data_ptr<uint8_t>(), batch, m, static_cast<int>(k));
    return out;
  }

  static at::Tensor sample_perms(const at::Tensor& seed, int64_t batch, int64_t m, int64_t n) {
    const char* fn = "pyalgo.energy.sample_perms";
    TORCH_CHECK(n >= 1 && n <= kMaxItems, fn, ": n must be in [1, ", kMaxItems, "], got ", n);
    check_samples(fn, batch, m, n - 1);
    check_output(fn, batch, m, n, 8);
    const at::Tensor s = checked_seed(fn, seed, seed.device());
    const at::OptionalDeviceGuard guard(at::device_of(seed));
    auto out = at::empty({batch, m, n}, seed.options().dtype(at::kLong));
    if (batch > 0) Launch::sample_perms(s.data_ptr<int64_t>(), out.data_ptr<int64_t>(), batch, m, static_cast<int>(n));
    return out;
  }

  // Returns loss (B,), grad_unary (B, k), grad_pairwise (B, k, k) and grad_tau (B,); the
  // gradients are (0,) unless compute_grad (grad_pairwise also when pairwise is None).
  static Tensors4 minmin_bits(const at::Tensor& unary, const c10::optional<at::Tensor>& pairwise,
                              const at::Tensor& tau, const at::Tensor& y, int64_t m, double alpha,
                              bool compute_grad, const at::Tensor& seed) {
    const char* fn = "pyalgo.energy.minmin_loss";
    check_float(fn, "unary", unary);
    TORCH_CHECK(unary.dim() == 2, fn, ": unary must have shape (B, k), got ", unary.sizes());
    const int64_t B = unary.size(0), k = unary.size(1);
    TORCH_CHECK(k >= 1 && k <= kMaxBits, fn, ": unary must have k in [1, ", kMaxBits, "] labels, got ", k);
    check_samples(fn, B, m, bits_words(static_cast<int>(k)));
    check_alpha(fn, alpha, unary.scalar_type());
    const at::Tensor s = checked_seed(fn, seed, unary.device());
    const at::OptionalDeviceGuard guard(at::device_of(unary));
    const auto dt = unary.scalar_type();
    auto u = unary.contiguous();
    auto t = checked(fn, "tau", tau, {B}, dt, unary);
    auto yy = checked(fn, "y", y, {B, k}, dt, unary);
    at::Tensor U;
    if (pairwise.has_value()) U = checked(fn, "pairwise", *pairwise, {B, k, k}, dt, unary);
    auto loss = at::empty({B}, u.options());
    auto grad_u = at::empty(compute_grad ? at::IntArrayRef{B, k} : at::IntArrayRef{0}, u.options());
    auto grad_U = at::empty(compute_grad && U.defined() ? at::IntArrayRef{B, k, k} : at::IntArrayRef{0}, u.options());
    auto grad_t = at::empty(compute_grad ? at::IntArrayRef{B} : at::IntArrayRef{0}, u.options());
    if (B == 0) return {loss, grad_u, grad_U, grad_t};
    AT_DISPATCH_FLOATING_TYPES(dt, "pyalgo_minmin_bits", [&] {
      using A = scalar_t;
      Launch::template minmin_bits<A>(u.data_ptr<A>(), U.defined() ? U.data_ptr<A>() : nullptr, t.data_ptr<A>(),
                                      yy.data_ptr<A>(), s.data_ptr<int64_t>(), loss.data_ptr<A>(),
                                      compute_grad ? grad_u.data_ptr<A>() : nullptr,
                                      compute_grad && U.defined() ? grad_U.data_ptr<A>() : nullptr,
                                      compute_grad ? grad_t.data_ptr<A>() : nullptr, B, static_cast<int>(k), m,
                                      static_cast<A>(alpha));
    });
    return {loss, grad_u, grad_U, grad_t};
  }

  // theta (B, n) permutahedron or (B, n, n) Birkhoff; y int64 (B, n). Returns loss (B,),
  // grad_theta (theta's shape) and grad_tau (B,), the gradients (0,) unless compute_grad.
  static Tensors3 minmin_perms(const at::Tensor& theta, const at::Tensor& tau, const at::Tensor& y, int64_t m,
                               double alpha, bool compute_grad, const at::Tensor& seed) {
    const char* fn = "pyalgo.energy.minmin_loss_ranking";
    check_float(fn, "theta", theta);
    TORCH_CHECK(theta.dim() == 2 || (theta.dim() == 3 && theta.size(1) == theta.size(2)), fn,
                ": theta must have shape (B, n) (permutahedron) or (B, n, n) (Birkhoff), got ", theta.sizes());
    const bool birkhoff = theta.dim() == 3;
    const int64_t B = theta.size(0), n = theta.size(1);
    TORCH_CHECK(n >= 1 && n <= kMaxItems, fn, ": theta must have n in [1, ", kMaxItems, "] items, got ", n);
    check_samples(fn, B, m, n - 1);
    check_alpha(fn, alpha, theta.scalar_type());
    const at::Tensor s = checked_seed(fn, seed, theta.device());
    const at::OptionalDeviceGuard guard(at::device_of(theta));
    const auto dt = theta.scalar_type();
    auto th = theta.contiguous();
    auto t = checked(fn, "tau", tau, {B}, dt, theta);
    auto yy = checked(fn, "y", y, {B, n}, at::kLong, theta);
    auto loss = at::empty({B}, th.options());
    auto grad_th = at::empty(compute_grad ? th.sizes() : at::IntArrayRef{0}, th.options());
    auto grad_t = at::empty(compute_grad ? at::IntArrayRef{B} : at::IntArrayRef{0}, th.options());
    if (B == 0) return {loss, grad_th, grad_t};
    AT_DISPATCH_FLOATING_TYPES(dt, "pyalgo_minmin_perms", [&] {
      using A = scalar_t;
      Launch::template minmin_perms<A>(th.data_ptr<A>(), birkhoff, t.data_ptr<A>(), yy.data_ptr<int64_t>(),
                                       s.data_ptr<int64_t>(), loss.data_ptr<A>(),
                                       compute_grad ? grad_th.data_ptr<A>() : nullptr,
                                       compute_grad ? grad_t.data_ptr<A>() : nullptr, B, static_cast<int>(n), m,
                                       static_cast<A>(alpha));
    });
    return {loss, grad_th, grad_t};
  }
};

#define PYALGO_REGISTER_ENERGY_OPS(m, Launch)                          \
  do {                                                             \
    using Ops = ::pyalgo::energy::EnergyOps<Launch>;               \
    m.impl("energy_sample_bits", &Ops::sample_bits);               \
    m.impl("energy_sample_perms", &Ops::sample_perms);             \
    m.impl("minmin_bits", &Ops::minmin_bits);                      \
    m.impl("minmin_perms", &Ops::minmin_perms);                    \
  } while (0)

}  // namespace energy
}  // namespace pyalgo
