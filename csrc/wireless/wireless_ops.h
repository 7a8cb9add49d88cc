// The torch side of every wireless op, written once and templated on a launcher (CpuLaunch in
// wireless_cpu.cpp, CudaLaunch in wireless_cuda.cpp): shape/dtype checks, output allocation and
// dtype dispatch. The Python wrappers in pyalgo/wireless/ops.py check values with clear messages;
// the checks here (shapes, dtypes, devices, size limits, iteration counts and tolerances) keep a
// direct torch.ops.pyalgo call from crashing or indexing out of range, and every value
// precondition (finite gains >= 0, powers >= 0, noise > 0, p_max > 0, weights >= 0) is checked by
// the kernels themselves, fused into their pass over the data, so that torch.compile or
// validate=False cannot skip it: the CPU launcher returns InputFlag bits (wmmse.h) and the glue
// raises naming the argument; the CUDA kernels do not synchronise and NaN-poison the outputs of
// the instances (WMMSE) or users (rates) with a bad input instead (the launcher returns 0).
// What only CUDA limits (grid size, shared memory) is checked by the CUDA launcher.
#pragma once

#include <tuple>

#include "../common/checks.h"
#include "miso.h"

namespace pyalgo {
namespace wireless {

using Tensors2 = std::tuple<Tensor, Tensor>;
using Tensors3 = std::tuple<Tensor, Tensor, Tensor>;
using Tensors6 = std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>;

// SISO K is at most 46340 so that K * K < 2^31 (the kernels index with int64 anyway; this keeps
// the bound the docs state and refuses a huge expanded input before it is made contiguous).
constexpr int64_t kMaxSisoUsers = 46340;

inline void check_batch_matrix(const char* fn, const char* name, const Tensor& x, bool square) {
  PYALGO_CHECK(x.dim() == 3, fn, ": ", name, " must have shape (B, K, ", square ? "K" : "N", "), got ", shape_text(x.sizes()));
  PYALGO_CHECK(!square || x.size(1) == x.size(2), fn, ": ", name, " must be square in its last two dims, got ",
              shape_text(x.sizes()));
  PYALGO_CHECK(!square || x.size(1) <= kMaxSisoUsers, fn, ": ", name, " has too many users (K = ", x.size(1),
              "; at most ", kMaxSisoUsers, ")");
  PYALGO_CHECK(x.size(1) <= (1 << 20), fn, ": ", name, " has too many users (K = ", x.size(1), ")");
  // Kernels index users and antennas with int: bound N like K.
  PYALGO_CHECK(square || x.size(2) <= (1 << 20), fn, ": ", name, " has too many antennas (N = ", x.size(2), ")");
}

inline void check_real(const char* fn, const char* name, const Tensor& x) {
  PYALGO_CHECK(x.scalar_type() == kFloat || x.scalar_type() == kDouble, fn, ": ", name,
              " must be float32 or float64, got ", x.scalar_type());
}

inline void check_complex(const char* fn, const char* name, const Tensor& x) {
  PYALGO_CHECK(x.scalar_type() == kComplexFloat || x.scalar_type() == kComplexDouble, fn, ": ", name,
              " must be complex64 or complex128, got ", x.scalar_type());
}

inline void check_iterations(const char* fn, int64_t max_iter, double tol) {
  PYALGO_CHECK(max_iter >= 1 && max_iter <= (1 << 24), fn, ": max_iter must be in [1, 2^24], got ", max_iter);
  PYALGO_CHECK(std::isfinite(tol), fn, ": tol must be finite, got ", tol);
}

// Raises for the InputFlag bits a CPU launcher reported. `p_name` / `init_name` are the op's names
// for the powers or beamformers and for the initial point; `complex_` selects the MISO wording.
inline void raise_for_flags(const char* fn, int flags, bool complex_, const char* p_name = "p",
                            const char* init_name = "p_init", ScalarType dt = kDouble) {
  if (flags == 0) return;
  PYALGO_CHECK(!(flags & kBadH), fn, ": H must ", complex_ ? "be finite (found NaN or inf)"
                                                        : "hold finite gains >= 0 (found a negative, NaN or inf entry)");
  PYALGO_CHECK(!(flags & kBadP), fn, ": ", p_name, " must be finite", complex_ ? "" : " and >= 0",
              " (found ", complex_ ? "NaN or inf" : "a negative, NaN or inf entry", ")");
  PYALGO_CHECK(!(flags & kBadNoise), fn, ": noise must be finite and > 0");
  PYALGO_CHECK(!(flags & kBadPMax), fn, ": p_max must be finite and > 0");
  PYALGO_CHECK(!(flags & kBadWeights), fn, ": weights must be finite and >= 0");
  PYALGO_CHECK(!(flags & kBadInit), fn, ": ", init_name, " must be finite", complex_ ? "" : " and >= 0");
  PYALGO_CHECK(!(flags & kBadResult), fn, ": the solution is not finite: H, p_max and noise (the peak SNR ",
              "H_kk p_max / noise or their scale) exceed the range of ", dt,
              " (see docs/wireless.md, Numerics; use float64)");
}

template <typename A>
Cx<A>* cx(const Tensor& t) {
  return reinterpret_cast<Cx<A>*>(t.data_ptr());
}

template <typename Launch>
struct WirelessOps {
  // ---- SISO --------------------------------------------------------------------------------
  static Tensors6 wmmse_siso(const Tensor& gains, const Tensor& p_max, const Tensor& noise,
                             const Tensor& weights, const Tensor& p_init, int64_t max_iter, double tol,
                             bool record) {
    const char* fn = "pyalgo.wireless.wmmse";
    check_batch_matrix(fn, "H", gains, true);
    check_real(fn, "H", gains);
    check_iterations(fn, max_iter, tol);
    const DeviceGuard guard((gains));
    const int64_t B = gains.size(0), K = gains.size(1);
    const auto dt = gains.scalar_type();
    auto g = contig(gains);
    auto pm = checked(fn, "p_max", p_max, {B, K}, dt, gains);
    auto nz = checked(fn, "noise", noise, {B, K}, dt, gains);
    auto al = checked(fn, "weights", weights, {B, K}, dt, gains);
    auto p = copy_of(checked(fn, "p_init", p_init, {B, K}, dt, gains));
    auto u = empty({B, K}, g.scalar_type(), g);
    auto w = empty({B, K}, g.scalar_type(), g);
    auto iters = zeros({B}, kInt, g);
    const int64_t T = record ? max_iter + 1 : 0;
    auto objective = empty({B, T}, g.scalar_type(), g);
    auto trajectory = empty({B, T, K}, g.scalar_type(), g);
    // No users: nothing to launch; the weighted sum rate of no users is 0 at every step.
    if (B == 0 || K == 0) return std::make_tuple(p, u, w, iters, (torch::stable::zero_(objective), objective), trajectory);
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(dt, "pyalgo_wmmse", [&] {
      flags = Launch::template wmmse_siso<scalar_t>(
          ptr<scalar_t>(g), ptr<scalar_t>(pm), ptr<scalar_t>(nz), ptr<scalar_t>(al),
          ptr<scalar_t>(p), ptr<scalar_t>(u), ptr<scalar_t>(w), ptr<int32_t>(iters),
          record ? ptr<scalar_t>(objective) : nullptr, record ? ptr<scalar_t>(trajectory) : nullptr, B,
          static_cast<int>(K), static_cast<int>(max_iter), static_cast<scalar_t>(tol));
    });
    raise_for_flags(fn, flags, false, "p", "p_init", dt);
    return std::make_tuple(p, u, w, iters, objective, trajectory);
  }

  // (rates, interference), both (B, K): the interference is what siso_rates_backward takes.
  static Tensors2 siso_rates(const Tensor& gains, const Tensor& p, const Tensor& noise) {
    const char* fn = "pyalgo.wireless.sum_rate";
    check_batch_matrix(fn, "H", gains, true);
    check_real(fn, "H", gains);
    const DeviceGuard guard((gains));
    const int64_t B = gains.size(0), K = gains.size(1);
    auto g = contig(gains);
    auto pc = checked(fn, "p", p, {B, K}, g.scalar_type(), g);
    auto nz = checked(fn, "noise", noise, {B, K}, g.scalar_type(), g);
    auto out = empty({B, K}, g.scalar_type(), g);
    auto interference = empty({B, K}, g.scalar_type(), g);
    if (out.numel() == 0) return std::make_tuple(out, interference);
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(g.scalar_type(), "pyalgo_sum_rate", [&] {
      flags = Launch::template siso_rates<scalar_t>(ptr<scalar_t>(g), ptr<scalar_t>(pc), ptr<scalar_t>(nz),
                                                    ptr<scalar_t>(out), ptr<scalar_t>(interference), B,
                                                    static_cast<int>(K));
    });
    raise_for_flags(fn, flags, false);
    return std::make_tuple(out, interference);
  }

  // `interference`: siso_rates' second output for the same gains, p and noise (not recomputed).
  static Tensors3 siso_rates_backward(const Tensor& gains, const Tensor& p, const Tensor& noise,
                                      const Tensor& interference, const Tensor& grad, bool gains_grad) {
    const char* fn = "pyalgo.wireless.sum_rate_backward";
    check_batch_matrix(fn, "H", gains, true);
    check_real(fn, "H", gains);
    const DeviceGuard guard((gains));
    const int64_t B = gains.size(0), K = gains.size(1);
    auto g = contig(gains);
    auto pc = checked(fn, "p", p, {B, K}, g.scalar_type(), g);
    auto nz = checked(fn, "noise", noise, {B, K}, g.scalar_type(), g);
    auto in = checked(fn, "interference", interference, {B, K}, g.scalar_type(), g);
    auto gr = checked(fn, "grad", grad, {B, K}, g.scalar_type(), g);
    auto grad_g = gains_grad ? empty({B, K, K}, g.scalar_type(), g) : empty({0}, g.scalar_type(), g);
    auto grad_p = empty({B, K}, g.scalar_type(), g);
    auto grad_noise = empty({B, K}, g.scalar_type(), g);
    if (grad_p.numel() == 0) return std::make_tuple(grad_g, grad_p, grad_noise);
    auto direct = empty({B, K}, g.scalar_type(), g);
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(g.scalar_type(), "pyalgo_sum_rate_backward", [&] {
      flags = Launch::template siso_rates_backward<scalar_t>(
          ptr<scalar_t>(g), ptr<scalar_t>(pc), ptr<scalar_t>(nz), ptr<scalar_t>(in), ptr<scalar_t>(gr),
          gains_grad ? ptr<scalar_t>(grad_g) : nullptr, ptr<scalar_t>(grad_p),
          ptr<scalar_t>(grad_noise), ptr<scalar_t>(direct), B, static_cast<int>(K));
    });
    raise_for_flags(fn, flags, false);
    return std::make_tuple(grad_g, grad_p, grad_noise);
  }

  // ---- MISO --------------------------------------------------------------------------------
  static Tensors6 wmmse_miso(const Tensor& channels, const Tensor& p_max, const Tensor& noise,
                             const Tensor& weights, const Tensor& v_init, int64_t max_iter, double tol,
                             double bisection_tol, bool record) {
    const char* fn = "pyalgo.wireless.wmmse_miso";
    check_batch_matrix(fn, "H", channels, false);
    check_complex(fn, "H", channels);
    check_iterations(fn, max_iter, tol);
    PYALGO_CHECK(bisection_tol > 0 && bisection_tol < 1, fn, ": bisection_tol must be in (0, 1), got ",
                bisection_tol);
    const DeviceGuard guard((channels));
    const int64_t B = channels.size(0), K = channels.size(1), N = channels.size(2);
    PYALGO_CHECK(N >= 1 && N <= 4096, fn, ": H must have 1 to 4096 antennas, got ", N);
    auto h = contig(channels);
    const auto real_dt = real_dtype(h.scalar_type());
    auto pm = checked(fn, "p_max", p_max, {B}, real_dt, h);
    auto nz = checked(fn, "noise", noise, {B, K}, real_dt, h);
    auto al = checked(fn, "weights", weights, {B, K}, real_dt, h);
    auto v = copy_of(checked(fn, "v_init", v_init, {B, K, N}, h.scalar_type(), h));
    auto u = empty({B, K}, h.scalar_type(), h);
    auto w = empty({B, K}, real_dt, h);
    auto iters = zeros({B}, kInt, h);
    const int64_t T = record ? max_iter + 1 : 0;
    auto objective = empty({B, T}, w.scalar_type(), w);
    auto trajectory = empty({B, T, K, N}, h.scalar_type(), h);
    if (B == 0 || K == 0) return std::make_tuple(v, u, w, iters, (torch::stable::zero_(objective), objective), trajectory);  // as in wmmse_siso
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(real_dt, "pyalgo_wmmse_miso", [&] {
      flags = Launch::template wmmse_miso<scalar_t>(
          cx<scalar_t>(h), ptr<scalar_t>(pm), ptr<scalar_t>(nz), ptr<scalar_t>(al), cx<scalar_t>(v),
          cx<scalar_t>(u), ptr<scalar_t>(w), ptr<int32_t>(iters),
          record ? ptr<scalar_t>(objective) : nullptr, record ? cx<scalar_t>(trajectory) : nullptr, B,
          static_cast<int>(K), static_cast<int>(N), static_cast<int>(max_iter), static_cast<scalar_t>(tol),
          static_cast<scalar_t>(bisection_tol));
    });
    raise_for_flags(fn, flags, true, "V", "v_init", h.scalar_type());
    return std::make_tuple(v, u, w, iters, objective, trajectory);
  }

  static Tensor miso_rates(const Tensor& channels, const Tensor& v, const Tensor& noise) {
    const char* fn = "pyalgo.wireless.sum_rate_miso";
    check_batch_matrix(fn, "H", channels, false);
    check_complex(fn, "H", channels);
    const DeviceGuard guard((channels));
    const int64_t B = channels.size(0), K = channels.size(1), N = channels.size(2);
    auto h = contig(channels);
    const auto real_dt = real_dtype(h.scalar_type());
    auto vc = checked(fn, "V", v, {B, K, N}, h.scalar_type(), h);
    auto nz = checked(fn, "noise", noise, {B, K}, real_dt, h);
    auto out = empty({B, K}, real_dt, h);
    if (out.numel() == 0) return out;
    if (N == 0) return (torch::stable::zero_(out), out);
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(real_dt, "pyalgo_sum_rate_miso", [&] {
      flags = Launch::template miso_rates<scalar_t>(cx<scalar_t>(h), cx<scalar_t>(vc), ptr<scalar_t>(nz),
                                            ptr<scalar_t>(out), B, static_cast<int>(K), static_cast<int>(N));
    });
    raise_for_flags(fn, flags, true, "V");
    return out;
  }

  static Tensors3 miso_rates_backward(const Tensor& channels, const Tensor& v, const Tensor& noise,
                                      const Tensor& grad, bool channels_grad) {
    const char* fn = "pyalgo.wireless.sum_rate_miso_backward";
    check_batch_matrix(fn, "H", channels, false);
    check_complex(fn, "H", channels);
    const DeviceGuard guard((channels));
    const int64_t B = channels.size(0), K = channels.size(1), N = channels.size(2);
    auto h = contig(channels);
    const auto real_dt = real_dtype(h.scalar_type());
    auto vc = checked(fn, "V", v, {B, K, N}, h.scalar_type(), h);
    auto nz = checked(fn, "noise", noise, {B, K}, real_dt, h);
    auto gr = checked(fn, "grad", grad, {B, K}, real_dt, h);
    auto grad_h = channels_grad ? zeros({B, K, N}, h.scalar_type(), h) : empty({0}, h.scalar_type(), h);
    auto grad_v = zeros({B, K, N}, h.scalar_type(), h);
    auto grad_noise = zeros({B, K}, gr.scalar_type(), gr);
    if (B == 0 || K == 0 || N == 0) return std::make_tuple(grad_h, grad_v, grad_noise);
    auto coef = empty({B, K, K}, h.scalar_type(), h);
    int flags = 0;
    PYALGO_DISPATCH_FLOATING_TYPES(real_dt, "pyalgo_sum_rate_miso_backward", [&] {
      flags = Launch::template miso_rates_backward<scalar_t>(
          cx<scalar_t>(h), cx<scalar_t>(vc), ptr<scalar_t>(nz), ptr<scalar_t>(gr),
          channels_grad ? cx<scalar_t>(grad_h) : nullptr, cx<scalar_t>(grad_v), ptr<scalar_t>(grad_noise),
          cx<scalar_t>(coef), B, static_cast<int>(K), static_cast<int>(N));
    });
    raise_for_flags(fn, flags, true, "V");
    return std::make_tuple(grad_h, grad_v, grad_noise);
  }
};

#define PYALGO_REGISTER_WIRELESS_OPS(m, Launch)                       \
  do {                                                               \
    using Ops = ::pyalgo::wireless::WirelessOps<Launch>;             \
    m.impl("wmmse_siso", TORCH_BOX(&Ops::wmmse_siso));                         \
    m.impl("siso_rates", TORCH_BOX(&Ops::siso_rates));                         \
    m.impl("siso_rates_backward", TORCH_BOX(&Ops::siso_rates_backward));       \
    m.impl("wmmse_miso", TORCH_BOX(&Ops::wmmse_miso));                         \
    m.impl("miso_rates", TORCH_BOX(&Ops::miso_rates));                         \
    m.impl("miso_rates_backward", TORCH_BOX(&Ops::miso_rates_backward));       \
  } while (0)

}  // namespace wireless
}  // namespace pyalgo
