// The torch side of the energy ops, written once and templated on a launcher (CpuLaunch in
// energy_cpu.cpp, CudaLaunch in energy_cuda.cpp): shape/dtype checks, output allocation, dtype
// dispatch. Value checks (y binary or a permutation, finite energies) are made by the Python
// wrappers in pyalgo/energy/ops.py (for their messages) and again by the kernels on every row
// (CPU: an error after the pass; CUDA: the row's outputs are NaN), so that torch.compile,
// validate=False and direct torch.ops calls cannot skip them.
#pragma once

#include <cmath>
#include <limits>
#include <tuple>

#include "../common/checks.h"
#include "minmin.h"

namespace pyalgo {
namespace energy {

using Tensors3 = std::tuple<Tensor, Tensor, Tensor>;
using Tensors4 = std::tuple<Tensor, Tensor, Tensor, Tensor>;

// m samples of `words` random words each must fit the 2^32 Philox groups of a row's stream.
inline void check_samples(const char* fn, int64_t batch, int64_t m, int64_t words) {
  PYALGO_CHECK(batch >= 0, fn, ": batch must be >= 0, got ", batch);
  PYALGO_CHECK(m >= 1, fn, ": num_samples must be >= 1, got ", m);
  PYALGO_CHECK(m <= (int64_t(1) << 31) && m * words < (int64_t(1) << 34), fn,
              ": num_samples is too large for one call (", m, " samples of ", words, " words)");
}

// A sampler's (batch, m, size) output of `elem` bytes each: refused before allocating when it exceeds
// 2^40 bytes (no int64 overflow, no raw allocator error).
inline void check_output(const char* fn, int64_t batch, int64_t m, int64_t size, int64_t elem) {
  constexpr int64_t kMaxBytes = int64_t(1) << 40;
  const bool fits = batch == 0 || (m <= kMaxBytes / (size * elem) && batch <= kMaxBytes / (m * size * elem));
  PYALGO_CHECK(fits, fn, ": batch × num_samples = ", batch, " × ", m, " samples of ", size,
              " entries is too large to allocate (limit 2^40 bytes)");
}

inline void check_float(const char* fn, const char* name, const Tensor& x) {
  PYALGO_CHECK(x.scalar_type() == kFloat || x.scalar_type() == kDouble, fn, ": ", name,
              " must be float32 or float64, got ", x.scalar_type());
}

// alpha >= 1, finite also in the compute dtype (the kernels take it as A).
inline void check_alpha(const char* fn, double alpha, ScalarType dt) {
  PYALGO_CHECK(std::isfinite(alpha) && alpha >= 1.0, fn, ": alpha must be a finite number >= 1, got ", alpha);
  PYALGO_CHECK(dt != kFloat || alpha <= std::numeric_limits<float>::max(), fn,
              ": alpha must be finite in float32, got ", alpha);
}

template <typename Launch>
struct EnergyOps {
  static Tensor sample_bits(const Tensor& seed, int64_t batch, int64_t m, int64_t k) {
    const char* fn = "pyalgo.energy.sample_bits";
    PYALGO_CHECK(k >= 1 && k <= kMaxBits, fn, ": k must be in [1, ", kMaxBits, "], got ", k);
    check_samples(fn, batch, m, bits_words(static_cast<int>(k)));
    check_output(fn, batch, m, k, 1);
    const Tensor s = checked_seed(fn, seed, seed.device());
    const DeviceGuard guard((seed));
    auto out = empty({batch, m, k}, kByte, seed);
    if (batch > 0) Launch::sample_bits(ptr<int64_t>(s), ptr<uint8_t>(out), batch, m, static_cast<int>(k));
    return out;
  }

  static Tensor sample_perms(const Tensor& seed, int64_t batch, int64_t m, int64_t n) {
    const char* fn = "pyalgo.energy.sample_perms";
    PYALGO_CHECK(n >= 1 && n <= kMaxItems, fn, ": n must be in [1, ", kMaxItems, "], got ", n);
    check_samples(fn, batch, m, n - 1);
    check_output(fn, batch, m, n, 8);
    const Tensor s = checked_seed(fn, seed, seed.device());
    const DeviceGuard guard((seed));
    auto out = empty({batch, m, n}, kLong, seed);
    if (batch > 0) Launch::sample_perms(ptr<int64_t>(s), ptr<int64_t>(out), batch, m, static_cast<int>(n));
    return out;
  }

  // A proposal's (B, size) float64 logits or scores, contiguous, on `like`'s device.
  static Tensor checked_proposal(const char* fn, const Tensor& proposal, int64_t B, int64_t size, const Tensor& like) {
    PYALGO_CHECK(proposal.scalar_type() == kDouble, fn, ": proposal must be float64 (the wrapper converts it), got ",
                proposal.scalar_type());
    return checked(fn, "proposal", proposal, {B, size}, kDouble, like);
  }

  // Bernoulli-proposal bits uint8 (B, m, k) and their log weights float64 (B, m); B, k from the proposal.
  static std::tuple<Tensor, Tensor> sample_bits_proposal(const Tensor& seed, const Tensor& proposal, int64_t m) {
    const char* fn = "pyalgo.energy.sample_bits";
    PYALGO_CHECK(proposal.dim() == 2, fn, ": proposal must have shape (B, k), got ", shape_text(proposal.sizes()));
    const int64_t batch = proposal.size(0), k = proposal.size(1);
    PYALGO_CHECK(k >= 1 && k <= kMaxBits, fn, ": k must be in [1, ", kMaxBits, "], got ", k);
    check_samples(fn, batch, m, k);
    check_output(fn, batch, m, k, 1);
    const Tensor s = checked_seed(fn, seed, proposal.device());
    const DeviceGuard guard((proposal));
    auto a = checked_proposal(fn, proposal, batch, k, proposal);
    auto out = empty({batch, m, k}, kByte, a);
    auto log_w = empty({batch, m}, kDouble, a);
    auto scratch = empty({batch > 0 ? batch * k : 0}, kInt, a);  // the CUDA kernel's thresholds
    if (batch > 0)
      Launch::sample_bits_proposal(ptr<int64_t>(s), ptr<double>(a), reinterpret_cast<uint32_t*>(ptr<int32_t>(scratch)),
                                   ptr<uint8_t>(out), ptr<double>(log_w), batch, m, static_cast<int>(k));
    return std::make_tuple(out, log_w);
  }

  // Plackett–Luce permutations int64 (B, m, n) (position convention) and their log weights float64 (B, m).
  static std::tuple<Tensor, Tensor> sample_perms_proposal(const Tensor& seed, const Tensor& proposal, int64_t m) {
    const char* fn = "pyalgo.energy.sample_perms";
    PYALGO_CHECK(proposal.dim() == 2, fn, ": proposal must have shape (B, n), got ", shape_text(proposal.sizes()));
    const int64_t batch = proposal.size(0), n = proposal.size(1);
    PYALGO_CHECK(n >= 1 && n <= kMaxItems, fn, ": n must be in [1, ", kMaxItems, "], got ", n);
    check_samples(fn, batch, m, n);
    check_output(fn, batch, m, n, 8);
    const Tensor s = checked_seed(fn, seed, proposal.device());
    const DeviceGuard guard((proposal));
    auto sc = checked_proposal(fn, proposal, batch, n, proposal);
    auto out = empty({batch, m, n}, kLong, sc);
    auto log_w = empty({batch, m}, kDouble, sc);
    if (batch > 0)
      Launch::sample_perms_proposal(ptr<int64_t>(s), ptr<double>(sc), -std::lgamma(static_cast<double>(n) + 1.0),
                                    ptr<int64_t>(out), ptr<double>(log_w), batch, m, static_cast<int>(n));
    return std::make_tuple(out, log_w);
  }

  // Returns loss (B,), grad_unary (B, k), grad_pairwise (B, k, k) and grad_tau (B,); the
  // gradients are (0,) unless compute_grad (grad_pairwise also when pairwise is None).
  // proposal: (B, k) float64 Bernoulli logits (importance-weighted proposal samples) or None (uniform).
  static Tensors4 minmin_bits(const Tensor& unary, const std::optional<Tensor>& pairwise,
                              const Tensor& tau, const Tensor& y, int64_t m, double alpha,
                              bool compute_grad, const Tensor& seed, const std::optional<Tensor>& proposal) {
    const char* fn = "pyalgo.energy.minmin_loss";
    check_float(fn, "unary", unary);
    PYALGO_CHECK(unary.dim() == 2, fn, ": unary must have shape (B, k), got ", shape_text(unary.sizes()));
    const int64_t B = unary.size(0), k = unary.size(1);
    PYALGO_CHECK(k >= 1 && k <= kMaxBits, fn, ": unary must have k in [1, ", kMaxBits, "] labels, got ", k);
    check_samples(fn, B, m, proposal.has_value() ? k : bits_words(static_cast<int>(k)));
    check_alpha(fn, alpha, unary.scalar_type());
    const Tensor s = checked_seed(fn, seed, unary.device());
    const DeviceGuard guard((unary));
    const auto dt = unary.scalar_type();
    auto u = contig(unary);
    auto t = checked(fn, "tau", tau, {B}, dt, unary);
    auto yy = checked(fn, "y", y, {B, k}, dt, unary);
    Tensor U;
    if (pairwise.has_value()) U = checked(fn, "pairwise", *pairwise, {B, k, k}, dt, unary);
    Tensor a, scratch;
    if (proposal.has_value()) {
      a = checked_proposal(fn, *proposal, B, k, unary);
      scratch = empty({B * k}, kInt, unary);  // the CUDA kernel's thresholds
    }
    auto loss = empty({B}, u.scalar_type(), u);
    auto grad_u = empty(compute_grad ? IntArrayRef{B, k} : IntArrayRef{0}, u.scalar_type(), u);
    auto grad_U = empty(compute_grad && U.defined() ? IntArrayRef{B, k, k} : IntArrayRef{0}, u.scalar_type(), u);
    auto grad_t = empty(compute_grad ? IntArrayRef{B} : IntArrayRef{0}, u.scalar_type(), u);
    if (B == 0) return std::make_tuple(loss, grad_u, grad_U, grad_t);
    PYALGO_DISPATCH_FLOATING_TYPES(dt, "pyalgo_minmin_bits", [&] {
      using A = scalar_t;
      Launch::template minmin_bits<A>(ptr<A>(u), U.defined() ? ptr<A>(U) : nullptr, ptr<A>(t),
                                      ptr<A>(yy), a.defined() ? ptr<double>(a) : nullptr,
                                      a.defined() ? reinterpret_cast<uint32_t*>(ptr<int32_t>(scratch)) : nullptr,
                                      ptr<int64_t>(s), ptr<A>(loss),
                                      compute_grad ? ptr<A>(grad_u) : nullptr,
                                      compute_grad && U.defined() ? ptr<A>(grad_U) : nullptr,
                                      compute_grad ? ptr<A>(grad_t) : nullptr, B, static_cast<int>(k), m,
                                      static_cast<A>(alpha));
    });
    return std::make_tuple(loss, grad_u, grad_U, grad_t);
  }

  // theta (B, n) permutahedron or (B, n, n) Birkhoff; y int64 (B, n). Returns loss (B,),
  // grad_theta (theta's shape) and grad_tau (B,), the gradients (0,) unless compute_grad.
  // proposal: (B, n) float64 Plackett–Luce scores or None (uniform).
  static Tensors3 minmin_perms(const Tensor& theta, const Tensor& tau, const Tensor& y, int64_t m,
                               double alpha, bool compute_grad, const Tensor& seed,
                               const std::optional<Tensor>& proposal) {
    const char* fn = "pyalgo.energy.minmin_loss_ranking";
    check_float(fn, "theta", theta);
    PYALGO_CHECK(theta.dim() == 2 || (theta.dim() == 3 && theta.size(1) == theta.size(2)), fn,
                ": theta must have shape (B, n) (permutahedron) or (B, n, n) (Birkhoff), got ", shape_text(theta.sizes()));
    const bool birkhoff = theta.dim() == 3;
    const int64_t B = theta.size(0), n = theta.size(1);
    PYALGO_CHECK(n >= 1 && n <= kMaxItems, fn, ": theta must have n in [1, ", kMaxItems, "] items, got ", n);
    check_samples(fn, B, m, proposal.has_value() ? n : n - 1);
    check_alpha(fn, alpha, theta.scalar_type());
    const Tensor s = checked_seed(fn, seed, theta.device());
    const DeviceGuard guard((theta));
    const auto dt = theta.scalar_type();
    auto th = contig(theta);
    auto t = checked(fn, "tau", tau, {B}, dt, theta);
    auto yy = checked(fn, "y", y, {B, n}, kLong, theta);
    Tensor sc;
    if (proposal.has_value()) sc = checked_proposal(fn, *proposal, B, n, theta);
    auto loss = empty({B}, th.scalar_type(), th);
    auto grad_th = empty(compute_grad ? th.sizes() : IntArrayRef{0}, th.scalar_type(), th);
    auto grad_t = empty(compute_grad ? IntArrayRef{B} : IntArrayRef{0}, th.scalar_type(), th);
    if (B == 0) return std::make_tuple(loss, grad_th, grad_t);
    PYALGO_DISPATCH_FLOATING_TYPES(dt, "pyalgo_minmin_perms", [&] {
      using A = scalar_t;
      Launch::template minmin_perms<A>(ptr<A>(th), birkhoff, ptr<A>(t), ptr<int64_t>(yy),
                                       sc.defined() ? ptr<double>(sc) : nullptr,
                                       -std::lgamma(static_cast<double>(n) + 1.0), ptr<int64_t>(s), ptr<A>(loss),
                                       compute_grad ? ptr<A>(grad_th) : nullptr,
                                       compute_grad ? ptr<A>(grad_t) : nullptr, B, static_cast<int>(n), m,
                                       static_cast<A>(alpha));
    });
    return std::make_tuple(loss, grad_th, grad_t);
  }
};

#define PYALGO_REGISTER_ENERGY_OPS(m, Launch)                          \
  do {                                                             \
    using Ops = ::pyalgo::energy::EnergyOps<Launch>;               \
    m.impl("energy_sample_bits", TORCH_BOX(&Ops::sample_bits));               \
    m.impl("energy_sample_perms", TORCH_BOX(&Ops::sample_perms));             \
    m.impl("minmin_bits", TORCH_BOX(&Ops::minmin_bits));                      \
    m.impl("minmin_perms", TORCH_BOX(&Ops::minmin_perms));                    \
    m.impl("energy_sample_bits_proposal", TORCH_BOX(&Ops::sample_bits_proposal)); \
    m.impl("energy_sample_perms_proposal", TORCH_BOX(&Ops::sample_perms_proposal)); \
  } while (0)

}  // namespace energy
}  // namespace pyalgo
