// The torch side of every discrete-estimator op, written once and templated on a launcher
// (CpuLaunch in estimators_cpu.cpp, CudaLaunch in estimators_cuda.cpp): argument checks,
// output allocation and dtype dispatch live here; a launcher only runs the per-row bodies of
// estimators.h over all rows of its device.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

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

#define PYALGO_DISPATCH_FLOATS(dtype, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "pyalgo_discrete", __VA_ARGS__)

// Calls f(T{}, A{}, unit) for the logits' dtype T, its accumulation type A and the row stride
// (std::true_type when rows are contiguous): the one dispatch every op goes through.
template <typename F>
void dispatch_rows(const RowTensor& rt, const F& f) {
  PYALGO_DISPATCH_FLOATS(rt.x.scalar_type(), [&] {
    with_unit_stride(rt.layout, [&](auto unit) { f(scalar_t{}, at::opmath_type<scalar_t>{}, unit); });
  });
}

template <typename Launch>
struct EstimatorOps {
  static at::Tensor empty_index(const RowTensor& rt) {
    return at::empty(rt.index_shape, rt.x.options().dtype(at::kInt));
  }

  // Every forward that only needs a categorical sample (ReinMax, ST, GST, GR-MCK).
  static std::tuple<at::Tensor, at::Tensor, at::Tensor> sample(const char* fn, const at::Tensor& logits,
                                                               int64_t dim, const at::Tensor& seed,
                                                               bool with_probs) {
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    const at::Tensor s = checked_seed(fn, seed, logits.device());
    auto one_hot = at::empty_like(rt.x);
    auto probs = with_probs ? at::empty_like(rt.x) : at::Tensor();
    auto index = empty_index(rt);
    if (rt.x.numel() == 0) return {one_hot, probs, index};
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template sample<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), one_hot.data_ptr<scalar_t>(),
          with_probs ? probs.data_ptr<scalar_t>() : nullptr, index.data_ptr<int32_t>(), rt.layout, s);
    });
    Launch::check_rows(fn, index);
    return {one_hot, probs, index};
  }

  static std::tuple<at::Tensor, at::Tensor, at::Tensor> reinmax(const at::Tensor& logits, double tau,
                                                                int64_t dim, const at::Tensor& seed) {
    check_tau("pyalgo.reinmax", tau, logits.scalar_type());
    return sample("pyalgo.reinmax", logits, dim, seed, /*with_probs=*/true);
  }

  static std::tuple<at::Tensor, at::Tensor> straight_through(const at::Tensor& logits, double tau,
                                                             int64_t dim, const at::Tensor& seed) {
    check_tau("pyalgo.straight_through", tau, logits.scalar_type());
    auto out = sample("pyalgo.straight_through", logits, dim, seed, false);
    return {std::get<0>(out), std::get<2>(out)};
  }

  static std::tuple<at::Tensor, at::Tensor> gst(const at::Tensor& logits, double tau, double gap,
                                                bool gap_is_p, int64_t dim, const at::Tensor& seed) {
    check_tau("pyalgo.gst", tau, logits.scalar_type());
    check_gap("pyalgo.gst", gap, gap_is_p);
    auto out = sample("pyalgo.gst", logits, dim, seed, false);
    return {std::get<0>(out), std::get<2>(out)};
  }

  static std::tuple<at::Tensor, at::Tensor> gumbel_rao(const at::Tensor& logits, double tau, int64_t k,
                                                       int64_t dim, const at::Tensor& seed) {
    check_tau("pyalgo.gumbel_rao", tau, logits.scalar_type());
    check_draws("pyalgo.gumbel_rao", k);
    auto out = sample("pyalgo.gumbel_rao", logits, dim, seed, false);
    return {std::get<0>(out), std::get<2>(out)};
  }

  static std::tuple<at::Tensor, at::Tensor> gumbel_softmax(const at::Tensor& logits, double tau, bool hard,
                                                           int64_t dim, const at::Tensor& seed) {
    const char* fn = "pyalgo.gumbel_softmax";
    check_tau(fn, tau, logits.scalar_type());
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    const at::Tensor s = checked_seed(fn, seed, logits.device());
    auto y = at::empty_like(rt.x);
    auto index = empty_index(rt);
    if (rt.x.numel() == 0) return {y, index};
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_softmax<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), index.data_ptr<int32_t>(), rt.layout,
          static_cast<A>(1.0 / tau), hard, s);
    });
    Launch::check_rows(fn, index);
    return {y, index};
  }

  // ---- backward ----------------------------------------------------------------------------

  static at::Tensor reinmax_backward(const at::Tensor& logits, const at::Tensor& index,
                                     const at::Tensor& grad_hard, const c10::optional<at::Tensor>& grad_soft,
                                     double tau, int64_t dim) {
    const char* fn = "pyalgo.reinmax_backward";
    check_tau(fn, tau, logits.scalar_type());
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad_hard", grad_hard, rt);
    at::Tensor gp;
    if (grad_soft.has_value() && grad_soft->defined()) gp = prepare_grad(fn, "grad_soft", *grad_soft, rt);
    auto out = at::empty_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template reinmax_backward<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), idx.data_ptr<int32_t>(), g.data_ptr<scalar_t>(),
          gp.defined() ? gp.data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>(), rt.layout,
          static_cast<A>(1.0 / tau));
    });
    return out;
  }

  static at::Tensor straight_through_backward(const at::Tensor& logits, const at::Tensor& grad, double tau,
                                              int64_t dim) {
    const char* fn = "pyalgo.straight_through_backward";
    check_tau(fn, tau, logits.scalar_type());
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = at::empty_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template st_backward<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), rt.layout,
          static_cast<A>(1.0 / tau));
    });
    return out;
  }

  static at::Tensor gst_backward(const at::Tensor& logits, const at::Tensor& index, const at::Tensor& grad,
                                 double tau, double gap, bool gap_is_p, int64_t dim) {
    const char* fn = "pyalgo.gst_backward";
    check_tau(fn, tau, logits.scalar_type());
    check_gap(fn, gap, gap_is_p);
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = at::empty_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gst_backward<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), idx.data_ptr<int32_t>(), g.data_ptr<scalar_t>(),
          out.data_ptr<scalar_t>(), rt.layout, static_cast<A>(1.0 / tau), static_cast<A>(gap), gap_is_p);
    });
    return out;
  }

  static at::Tensor gumbel_rao_backward(const at::Tensor& logits, const at::Tensor& index, const at::Tensor& grad,
                                        double tau, int64_t k, int64_t dim, const at::Tensor& seed) {
    const char* fn = "pyalgo.gumbel_rao_backward";
    check_tau(fn, tau, logits.scalar_type());
    check_draws(fn, k);
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    const at::Tensor s = checked_seed(fn, seed, logits.device());
    auto idx = prepare_index(fn, index, rt);
    auto g = prepare_grad(fn, "grad", grad, rt);
    // The K draws are summed in the accumulation type and rounded once.
    auto out = at::empty(rt.x.sizes(), rt.x.options().dtype(at::toOpMathType(rt.x.scalar_type())));
    if (rt.x.numel() == 0) return out.to(rt.x.scalar_type());
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_rao_backward<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), idx.data_ptr<int32_t>(), g.data_ptr<scalar_t>(), out.data_ptr<A>(),
          rt.layout, static_cast<A>(1.0 / tau), k, s);
    });
    return out.to(rt.x.scalar_type());
  }

  static at::Tensor gumbel_softmax_backward(const at::Tensor& logits, const at::Tensor& grad, double tau,
                                            int64_t dim, const at::Tensor& seed) {
    const char* fn = "pyalgo.gumbel_softmax_backward";
    check_tau(fn, tau, logits.scalar_type());
    const at::OptionalDeviceGuard guard(at::device_of(logits));
    auto rt = prepare_logits(fn, logits, dim);
    const at::Tensor s = checked_seed(fn, seed, logits.device());
    auto g = prepare_grad(fn, "grad", grad, rt);
    auto out = at::empty_like(rt.x);
    if (rt.x.numel() == 0) return out;
    dispatch_rows(rt, [&](auto t, auto a, auto unit) {
      using scalar_t = decltype(t);
      using A = decltype(a);
      Launch::template gumbel_softmax_backward<scalar_t, A, decltype(unit)::value>(
          rt.x.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), rt.layout,
          static_cast<A>(1.0 / tau), s);
    });
    return out;
  }

  static at::Tensor philox_uniform(const at::Tensor& seed, int64_t rows, int64_t cols, int64_t stream,
                                   at::ScalarType dtype) {
    const char* fn = "pyalgo.philox_uniform";
    TORCH_CHECK(rows >= 0 && cols >= 0, fn, ": rows and cols must be >= 0, got ", rows, " and ", cols);
    TORCH_CHECK(cols == 0 || rows <= (int64_t(1) << 40) / cols, fn, ": rows x cols must be at most 2^40, got ", rows,
                " x ", cols);
    TORCH_CHECK(stream >= 0 && stream <= 0xFFFFFFFFll, fn, ": stream must be in [0, 2^32), got ", stream);
    TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, fn, ": dtype must be float32 or float64, got ", dtype);
    const at::Tensor s = checked_seed(fn, seed, seed.device());
    const at::OptionalDeviceGuard guard(at::device_of(seed));
    auto out = at::empty({rows, cols}, seed.options().dtype(dtype));
    if (out.numel() == 0) return out;
    AT_DISPATCH_FLOATING_TYPES(dtype, "pyalgo_philox_uniform", [&] {
      Launch::template philox_uniform<scalar_t>(out.data_ptr<scalar_t>(), rows, cols,
                                              static_cast<uint32_t>(stream), s);
    });
    return out;
  }
};

// Registers every op of the discrete estimators for one dispatch key.
#define PYALGO_REGISTER_DISCRETE_OPS(m, Launch)                                     \
  do {                                                                             \
    using Ops = ::pyalgo::discrete::EstimatorOps<Launch>;                          \
    m.impl("philox_uniform", &Ops::philox_uniform);                               \
    m.impl("reinmax", &Ops::reinmax);                                             \
    m.impl("reinmax_backward", &Ops::reinmax_backward);                           \
    m.impl("straight_through", &Ops::straight_through);                           \
    m.impl("straight_through_backward", &Ops::straight_through_backward);         \
    m.impl("gst", &Ops::gst);                                                     \
    m.impl("gst_backward", &Ops::gst_backward);                                   \
    m.impl("gumbel_rao", &Ops::gumbel_rao);                                       \
    m.impl("gumbel_rao_backward", &Ops::gumbel_rao_backward);                     \
    m.impl("gumbel_softmax", &Ops::gumbel_softmax);                               \
    m.impl("gumbel_softmax_backward", &Ops::gumbel_softmax_backward);             \
  } while (0)

}  // namespace discrete
}  // namespace pyalgo
