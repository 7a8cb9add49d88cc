// The torch side of every discrete-estimator op, written once and templated on a launcher
// (CpuLaunch in estimators_cpu.cpp, CudaLaunch in estimators_cuda.cpp): argument checks,
// output allocation and dtype dispatch live here; a launcher only runs the per-row bodies of
// estimators.h over all rows of its device.
#pragma once
#include <tuple>
#include <type_traits>

#include "checks.h"

namespace pyalgo {
namespace discrete {

// Calls f(std::true_type) when rows are contiguous (dim = -1), so the bodies are compiled with
// a unit stride (and vectorise on CPU), else f(std::false_type).
template <typename F>
void with_unit_stride(const RowLayout& L, const F& f) {
  if (L.inner == 1)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// Calls f(T{}, A{}, unit) for the logits' dtype T, its accumulation type A and the row stride
// (std::true_type when rows are contiguous): the one dispatch every op goes through.
template <typename F>
void dispatch_rows(const RowTensor& rt, const F& f) {
  PYALGO_DISPATCH_FLOATING_TYPES_AND_HALF(rt.x.scalar_type(), "pyalgo (discrete estimators)", [&] {
    with_unit_stride(rt.layout, [&](auto unit) { f(scalar_t{}, opmath_t<scalar_t>{}, unit); });
  });
}

// ReinMax-CV's η (the control variate's weight) and τ₂ (the temperature of its Gumbel-softmax terms).
inline void check_eta(const char* fn, double eta) {
  PYALGO_CHECK(std::isfinite(eta) && eta >= 0, fn, ": eta must be a finite number >= 0, got ", eta);
}

inline void check_tau2(const char* fn, double tau2, ScalarType dtype) {
  PYALGO_CHECK(std::isfinite(tau2) && tau2 > 0, fn, ": tau2 must be a finite number > 0, got ", tau2);
  PYALGO_CHECK(tau2 >= min_tau(dtype), fn, ": tau2 must be >= ", min_tau(dtype), " for ", dtype,
               " logits (1/tau2 must stay finite in the compute dtype), got ", tau2);
}

template <typename Launch>
struct EstimatorOps {
  static Tensor empty_index(const RowTensor& rt) { return empty(rt.index_shape, kInt, rt.x); }

  // Every forward that only needs a categorical sample (ReinMax, ST, GST, GR-MCK).
  static std::tuple<Tensor, Tensor, Tensor> sample(const char* fn, const Tensor& logits,
                                                               int64_t dim, const Tensor& seed,
                                                               bool with_probs) {
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto one_hot = alloc_like(rt.x);
    auto probs = with_probs ? alloc_like(rt.x) : Tensor();
    auto index = empty_index(rt);
    if (rt.x.numel() == 0) return std::make_tuple(one_hot, probs, index);
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template sample<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<scalar_t>(one_hot),
          with_probs ? ptr<scalar_t>(probs) : nullptr, ptr<int32_t>(index), rt.layout, s);
    });
    Launch::check_rows(fn, index);
    return std::make_tuple(one_hot, probs, index);
  }

  static std::tuple<Tensor, Tensor, Tensor> reinmax(const Tensor& logits, double tau,
                                                                int64_t dim, const Tensor& seed) {
    check_tau("pyalgo.reinmax", tau, logits.scalar_type());
    return sample("pyalgo.reinmax", logits, dim, seed, /*with_probs=*/true);
  }

  static std::tuple<Tensor, Tensor> straight_through(const Tensor& logits, double tau,
                                                             int64_t dim, const Tensor& seed) {
    check_tau("pyalgo.straight_through", tau, logits.scalar_type());
    auto out = sample("pyalgo.straight_through", logits, dim, seed, false);
    return std::make_tuple(std::get<0>(out), std::get<2>(out));
  }

  static std::tuple<Tensor, Tensor> gst(const Tensor& logits, double tau, double gap,
                                                bool gap_is_p, int64_t dim, const Tensor& seed) {
    check_tau("pyalgo.gst", tau, logits.scalar_type());
    check_gap("pyalgo.gst", gap, gap_is_p);
    auto out = sample("pyalgo.gst", logits, dim, seed, false);
    return std::make_tuple(std::get<0>(out), std::get<2>(out));
  }

  static std::tuple<Tensor, Tensor> gumbel_rao(const Tensor& logits, double tau, int64_t k,
                                                       int64_t dim, const Tensor& seed) {
    check_tau("pyalgo.gumbel_rao", tau, logits.scalar_type());
    check_draws("pyalgo.gumbel_rao", k);
    auto out = sample("pyalgo.gumbel_rao", logits, dim, seed, false);
    return std::make_tuple(std::get<0>(out), std::get<2>(out));
  }

  static std::tuple<Tensor, Tensor> gumbel_softmax(const Tensor& logits, double tau, bool hard,
                                                           int64_t dim, const Tensor& seed) {
    const char* fn = "pyalgo.gumbel_softmax";
    check_tau(fn, tau, logits.scalar_type());
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto y = alloc_like(rt.x);
    auto index = empty_index(rt);
    if (rt.x.numel() == 0) return std::make_tuple(y, index);
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_softmax<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<scalar_t>(y), ptr<int32_t>(index), rt.layout,
          static_cast<A>(1.0 / tau), hard, s);
    });
    Launch::check_rows(fn, index);
    return std::make_tuple(y, index);
  }

  // ---- backward ----------------------------------------------------------------------------

  static Tensor reinmax_backward(const Tensor& logits, const Tensor& index,
                                     const Tensor& grad_hard, const std::optional<Tensor>& grad_soft,
                                     double tau, int64_t dim) {
    const char* fn = "pyalgo.reinmax_backward";
    check_tau(fn, tau, logits.scalar_type());
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad_hard", grad_hard, rt);
    Tensor gp;
    if (grad_soft.has_value() && grad_soft->defined()) gp = prepare_grad(fn, "grad_soft", *grad_soft, rt);
    auto out = alloc_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template reinmax_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<int32_t>(idx), ptr<scalar_t>(g),
          gp.defined() ? ptr<scalar_t>(gp) : nullptr, ptr<scalar_t>(out), rt.layout,
          static_cast<A>(1.0 / tau));
    });
    return out;
  }

  static Tensor straight_through_backward(const Tensor& logits, const Tensor& grad, double tau,
                                              int64_t dim) {
    const char* fn = "pyalgo.straight_through_backward";
    check_tau(fn, tau, logits.scalar_type());
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = alloc_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template st_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<scalar_t>(g), ptr<scalar_t>(out), rt.layout,
          static_cast<A>(1.0 / tau));
    });
    return out;
  }

  static Tensor gst_backward(const Tensor& logits, const Tensor& index, const Tensor& grad,
                                 double tau, double gap, bool gap_is_p, int64_t dim) {
    const char* fn = "pyalgo.gst_backward";
    check_tau(fn, tau, logits.scalar_type());
    check_gap(fn, gap, gap_is_p);
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = alloc_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gst_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<int32_t>(idx), ptr<scalar_t>(g),
          ptr<scalar_t>(out), rt.layout, static_cast<A>(1.0 / tau), static_cast<A>(gap), gap_is_p);
    });
    return out;
  }

  static Tensor gumbel_rao_backward(const Tensor& logits, const Tensor& index, const Tensor& grad,
                                        double tau, int64_t k, int64_t dim, const Tensor& seed) {
    const char* fn = "pyalgo.gumbel_rao_backward";
    check_tau(fn, tau, logits.scalar_type());
    check_draws(fn, k);
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad", grad, rt);
    // The K draws are summed in the accumulation type and rounded once.
    auto out = empty(rt.x.sizes(), opmath_dtype(rt.x.scalar_type()), rt.x);
    if (rt.x.numel() == 0) return to_dtype(out, rt.x.scalar_type());
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_rao_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<int32_t>(idx), ptr<scalar_t>(g), ptr<A>(out),
          rt.layout, static_cast<A>(1.0 / tau), k, s);
    });
    return to_dtype(out, rt.x.scalar_type());
  }

  static Tensor gumbel_softmax_backward(const Tensor& logits, const Tensor& grad, double tau,
                                            int64_t dim, const Tensor& seed) {
    const char* fn = "pyalgo.gumbel_softmax_backward";
    check_tau(fn, tau, logits.scalar_type());
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = alloc_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_softmax_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<scalar_t>(g), ptr<scalar_t>(out), rt.layout,
          static_cast<A>(1.0 / tau), s);
    });
    return out;
  }

  // ---- ReinMax-Rao / ReinMax-CV (rao_cv.h) ---------------------------------------------------

  static void check_beyond(const char* fn, double tau, double eta, double tau2, int64_t k, ScalarType dtype) {
    check_tau(fn, tau, dtype);
    check_eta(fn, eta);
    check_tau2(fn, tau2, dtype);
    check_draws(fn, k);
  }

  // ReinMax-Rao's forward is ReinMax's: k by inverse CDF on stream 0, one_hot(k), softmax(x).
  static std::tuple<Tensor, Tensor, Tensor> reinmax_rao(const Tensor& logits, double tau, int64_t k,
                                                        int64_t dim, const Tensor& seed) {
    const char* fn = "pyalgo.reinmax_rao";
    check_tau(fn, tau, logits.scalar_type());
    check_draws(fn, k);
    return sample(fn, logits, dim, seed, /*with_probs=*/true);
  }

  // ReinMax-CV's forward: Gumbel-max k = argmax(x + G) (G from stream 0), one_hot(k), softmax(x).
  // The backward regenerates G from the same seed (nothing but the index is stored).
  static std::tuple<Tensor, Tensor, Tensor> reinmax_cv(const Tensor& logits, double tau, double eta,
                                                       double tau2, int64_t k, bool cv_gumbel, int64_t dim,
                                                       const Tensor& seed) {
    const char* fn = "pyalgo.reinmax_cv";
    (void)cv_gumbel;
    check_beyond(fn, tau, eta, tau2, k, logits.scalar_type());
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto one_hot = alloc_like(rt.x);
    auto probs = alloc_like(rt.x);
    auto index = empty_index(rt);
    if (rt.x.numel() == 0) return std::make_tuple(one_hot, probs, index);
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template reinmax_cv_forward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<scalar_t>(one_hot), ptr<scalar_t>(probs), ptr<int32_t>(index), rt.layout, s);
    });
    Launch::check_rows(fn, index);
    return std::make_tuple(one_hot, probs, index);
  }

  // The two backwards: K fresh conditional-Gumbel draws per row from the forward's seed (streams
  // 1..K), summed in the accumulation type and rounded once. mode: kBeyondRao / kBeyondCvSoft /
  // kBeyondCvGumbel (rao_cv.h).
  static Tensor beyond_backward(const char* fn, const Tensor& logits, const Tensor& index,
                                const Tensor& grad_hard, const std::optional<Tensor>& grad_soft, double tau,
                                double eta, double tau2, int64_t k, int mode, int64_t dim, const Tensor& seed) {
    const DeviceGuard guard(logits);
    auto rt = prepare_logits(fn, logits, dim);
    const Tensor s = checked_seed(fn, seed, logits.device());
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad_hard", grad_hard, rt);
    Tensor gp;
    if (grad_soft.has_value() && grad_soft->defined()) gp = prepare_grad(fn, "grad_soft", *grad_soft, rt);
    auto out = empty(rt.x.sizes(), opmath_dtype(rt.x.scalar_type()), rt.x);
    if (rt.x.numel() == 0) return to_dtype(out, rt.x.scalar_type());
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template beyond_backward<scalar_t, A, decltype(unit)::value>(
          ptr<scalar_t>(rt.x), ptr<int32_t>(idx), ptr<scalar_t>(g), gp.defined() ? ptr<scalar_t>(gp) : nullptr,
          ptr<A>(out), rt.layout, static_cast<A>(1.0 / tau), static_cast<A>(1.0 / tau2), static_cast<A>(eta), k,
          mode, s);
    });
    return to_dtype(out, rt.x.scalar_type());
  }

  static Tensor reinmax_rao_backward(const Tensor& logits, const Tensor& index, const Tensor& grad_hard,
                                     const std::optional<Tensor>& grad_soft, double tau, int64_t k, int64_t dim,
                                     const Tensor& seed) {
    const char* fn = "pyalgo.reinmax_rao_backward";
    check_tau(fn, tau, logits.scalar_type());
    check_draws(fn, k);
    return beyond_backward(fn, logits, index, grad_hard, grad_soft, tau, 0.0, 1.0, k, /*kBeyondRao*/ 0, dim, seed);
  }

  static Tensor reinmax_cv_backward(const Tensor& logits, const Tensor& index, const Tensor& grad_hard,
                                    const std::optional<Tensor>& grad_soft, double tau, double eta, double tau2,
                                    int64_t k, bool cv_gumbel, int64_t dim, const Tensor& seed) {
    const char* fn = "pyalgo.reinmax_cv_backward";
    check_beyond(fn, tau, eta, tau2, k, logits.scalar_type());
    return beyond_backward(fn, logits, index, grad_hard, grad_soft, tau, eta, tau2, k,
                           cv_gumbel ? /*kBeyondCvGumbel*/ 2 : /*kBeyondCvSoft*/ 1, dim, seed);
  }

  static Tensor philox_uniform(const Tensor& seed, int64_t rows, int64_t cols, int64_t stream,
                                   ScalarType dtype) {
    const char* fn = "pyalgo.philox_uniform";
    PYALGO_CHECK(rows >= 0 && cols >= 0, fn, ": rows and cols must be >= 0, got ", rows, " and ", cols);
    PYALGO_CHECK(cols == 0 || rows <= (int64_t(1) << 40) / cols, fn, ": rows x cols must be at most 2^40, got ", rows,
                " x ", cols);
    PYALGO_CHECK(stream >= 0 && stream <= 0xFFFFFFFFll, fn, ": stream must be in [0, 2^32), got ", stream);
    PYALGO_CHECK(dtype == kFloat || dtype == kDouble, fn, ": dtype must be float32 or float64, got ", dtype);
    const Tensor s = checked_seed(fn, seed, seed.device());
    const DeviceGuard guard(seed);
    auto out = empty({rows, cols}, dtype, seed);
    if (out.numel() == 0) return out;
    PYALGO_DISPATCH_FLOATING_TYPES(dtype, fn, [&] {
      Launch::template philox_uniform<scalar_t>(ptr<scalar_t>(out), rows, cols,
                                              static_cast<uint32_t>(stream), s);
    });
    return out;
  }
};

// Registers every op of the discrete estimators for one dispatch key.
#define PYALGO_REGISTER_DISCRETE_OPS(m, Launch)                                     \
  do {                                                                             \
    using Ops = ::pyalgo::discrete::EstimatorOps<Launch>;                          \
    m.impl("philox_uniform", TORCH_BOX(&Ops::philox_uniform));                               \
    m.impl("reinmax", TORCH_BOX(&Ops::reinmax));                                             \
    m.impl("reinmax_backward", TORCH_BOX(&Ops::reinmax_backward));                           \
    m.impl("straight_through", TORCH_BOX(&Ops::straight_through));                           \
    m.impl("straight_through_backward", TORCH_BOX(&Ops::straight_through_backward));         \
    m.impl("gst", TORCH_BOX(&Ops::gst));                                                     \
    m.impl("gst_backward", TORCH_BOX(&Ops::gst_backward));                                   \
    m.impl("gumbel_rao", TORCH_BOX(&Ops::gumbel_rao));                                       \
    m.impl("gumbel_rao_backward", TORCH_BOX(&Ops::gumbel_rao_backward));                     \
    m.impl("gumbel_softmax", TORCH_BOX(&Ops::gumbel_softmax));                               \
    m.impl("gumbel_softmax_backward", TORCH_BOX(&Ops::gumbel_softmax_backward));             \
    m.impl("reinmax_rao", TORCH_BOX(&Ops::reinmax_rao));                                     \
    m.impl("reinmax_rao_backward", TORCH_BOX(&Ops::reinmax_rao_backward));                   \
    m.impl("reinmax_cv", TORCH_BOX(&Ops::reinmax_cv));                                       \
    m.impl("reinmax_cv_backward", TORCH_BOX(&Ops::reinmax_cv_backward));                     \
  } while (0)

}  // namespace discrete
}  // namespace pyalgo
