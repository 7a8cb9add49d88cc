// CPU launchers of the discrete estimators: torch glue plus an at::parallel_for over rows that
// calls the per-row bodies of estimators.h. Each row is computed by one thread from its own
// Philox counters, so results are bitwise identical for any thread count.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "checks.h"
#include "estimators.h"

namespace pyalgo {
namespace discrete {
namespace {

// Calls f(std::true_type) when rows are contiguous (dim = -1), so the bodies are compiled with
// a unit stride and vectorise, else f(std::false_type).
template <typename F>
void with_unit_stride(const RowLayout& L, const F& f) {
  if (L.inner == 1)
    f(std::true_type{});
  else
    f(std::false_type{});
}

// Splits the rows over threads; every row is computed by exactly one thread.
template <typename F>
void for_each_row_range(const RowLayout& L, const F& rows) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(L.C, 1));
  at::parallel_for(0, L.rows(), grain, [&](int64_t begin, int64_t end) { rows(begin, end); });
}

// Row loops over the bodies of estimators.h. On x86-64 each is compiled twice, for AVX2+FMA
// (x86-64-v3) and for the baseline, and the loader picks the version the CPU supports (no
// -march=native in wheels). Results are deterministic on a machine and independent of the
// thread count; across ISAs the last bit may differ (FMA contraction).
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYALGO_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PYALGO_CPU_CLONES
#endif

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void sample_rows(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                   PhiloxKey key, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) categorical_sample_at<T, A, U>(x, one_hot, probs, index, L, key, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void gumbel_softmax_rows(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau,
                                           bool hard, PhiloxKey key, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) gumbel_softmax_at<T, A, U>(x, y, index, L, inv_tau, hard, key, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void reinmax_backward_rows(const T* x, const int32_t* index, const T* g, const T* gp,
                                             T* out, RowLayout L, A inv_tau, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) reinmax_backward_at<T, A, U>(x, index, g, gp, out, L, inv_tau, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void st_backward_rows(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                        int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) st_backward_at<T, A, U>(x, g, out, L, inv_tau, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void gumbel_softmax_backward_rows(const T* x, const T* g, T* out, RowLayout L,
                                                    A inv_tau, PhiloxKey key, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) gumbel_softmax_backward_at<T, A, U>(x, g, out, L, inv_tau, key, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void gst_backward_rows(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                                         A inv_tau, A gap, bool gap_is_p, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) gst_backward_at<T, A, U>(x, index, g, out, L, inv_tau, gap, gap_is_p, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void gumbel_rao_backward_rows(const T* x, const int32_t* index, const T* g, A* out,
                                                RowLayout L, A inv_tau, int64_t draws, PhiloxKey key,
                                                int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r)
    gumbel_rao_backward_at<T, A, A, U>(x, index, g, out, L, inv_tau, draws, key, r);
}

// The forward bodies mark a row they cannot sample from with index -1; on CPU that is an error
// (the CUDA path leaves NaN in the outputs instead of forcing a host sync).
void raise_on_invalid_rows(const char* fn, const at::Tensor& index) {
  if (index.numel() == 0) return;
  const int32_t* p = index.data_ptr<int32_t>();
  std::atomic<int64_t> first_bad{index.numel()};
  at::parallel_for(0, index.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      if (p[r] < 0) {
        int64_t cur = first_bad.load();
        while (r < cur && !first_bad.compare_exchange_weak(cur, r)) {}
        break;
      }
  });
  const int64_t bad = first_bad.load();
  TORCH_CHECK(bad == index.numel(), fn,
              ": logits must not contain NaN or +inf and no row may be all -inf; row ", bad,
              " (flattened over the non-category dims) is invalid");
}

at::Tensor empty_index(const RowTensor& rt) {
  return at::empty(rt.index_shape, rt.x.options().dtype(at::kInt));
}

// Shared by every forward that only needs a categorical sample.
std::tuple<at::Tensor, at::Tensor, at::Tensor> sample_cpu(const char* fn, const at::Tensor& logits,
                                                          int64_t dim, const at::Tensor& seed,
                                                          bool with_probs) {
  auto rt = prepare_logits(fn, logits, dim);
  check_seed(fn, seed, logits);
  auto one_hot = at::empty_like(rt.x);
  auto probs = with_probs ? at::empty_like(rt.x) : at::Tensor();
  auto index = empty_index(rt);
  if (rt.x.numel() == 0) return {one_hot, probs, index};
  const PhiloxKey key = key_from_cpu_seed(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_sample", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t* x = rt.x.data_ptr<scalar_t>();
    scalar_t* oh = one_hot.data_ptr<scalar_t>();
    scalar_t* pr = with_probs ? probs.data_ptr<scalar_t>() : nullptr;
    int32_t* idx = index.data_ptr<int32_t>();
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        sample_rows<scalar_t, A, decltype(unit)::value>(x, oh, pr, idx, rt.layout, key, b, e);
      });
    });
  });
  raise_on_invalid_rows(fn, index);
  return {one_hot, probs, index};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> reinmax_cpu(const at::Tensor& logits, double tau,
                                                           int64_t dim, const at::Tensor& seed) {
  check_tau("pyalgo.reinmax", tau);
  return sample_cpu("pyalgo.reinmax", logits, dim, seed, /*with_probs=*/true);
}

std::tuple<at::Tensor, at::Tensor> straight_through_cpu(const at::Tensor& logits, double tau,
                                                        int64_t dim, const at::Tensor& seed) {
  check_tau("pyalgo.straight_through", tau);
  auto out = sample_cpu("pyalgo.straight_through", logits, dim, seed, false);
  return {std::get<0>(out), std::get<2>(out)};
}

std::tuple<at::Tensor, at::Tensor> gst_cpu(const at::Tensor& logits, double tau, double gap,
                                           bool gap_is_p, int64_t dim, const at::Tensor& seed) {
  check_tau("pyalgo.gst", tau);
  check_gap("pyalgo.gst", gap, gap_is_p);
  auto out = sample_cpu("pyalgo.gst", logits, dim, seed, false);
  return {std::get<0>(out), std::get<2>(out)};
}

std::tuple<at::Tensor, at::Tensor> gumbel_rao_cpu(const at::Tensor& logits, double tau, int64_t k,
                                                  int64_t dim, const at::Tensor& seed) {
  check_tau("pyalgo.gumbel_rao", tau);
  check_draws("pyalgo.gumbel_rao", k);
  auto out = sample_cpu("pyalgo.gumbel_rao", logits, dim, seed, false);
  return {std::get<0>(out), std::get<2>(out)};
}

std::tuple<at::Tensor, at::Tensor> gumbel_softmax_cpu(const at::Tensor& logits, double tau,
                                                      bool hard, int64_t dim,
                                                      const at::Tensor& seed) {
  const char* fn = "pyalgo.gumbel_softmax";
  check_tau(fn, tau);
  auto rt = prepare_logits(fn, logits, dim);
  check_seed(fn, seed, logits);
  auto y = at::empty_like(rt.x);
  auto index = empty_index(rt);
  if (rt.x.numel() == 0) return {y, index};
  const PhiloxKey key = key_from_cpu_seed(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t* x = rt.x.data_ptr<scalar_t>();
    scalar_t* yp = y.data_ptr<scalar_t>();
    int32_t* idx = index.data_ptr<int32_t>();
    const A inv_tau = static_cast<A>(1.0 / tau);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        gumbel_softmax_rows<scalar_t, A, decltype(unit)::value>(x, yp, idx, rt.layout, inv_tau, hard, key, b, e);
      });
    });
  });
  raise_on_invalid_rows(fn, index);
  return {y, index};
}

// ---- backward ------------------------------------------------------------------------------

at::Tensor reinmax_backward_cpu(const at::Tensor& logits, const at::Tensor& index,
                                const at::Tensor& grad_hard,
                                const c10::optional<at::Tensor>& grad_soft, double tau,
                                int64_t dim) {
  const char* fn = "pyalgo.reinmax_backward";
  check_tau(fn, tau);
  auto rt = prepare_logits(fn, logits, dim);
  auto idx = prepare_index(fn, index, rt);
  auto g = prepare_grad(fn, "grad_hard", grad_hard, rt);
  at::Tensor gp;
  if (grad_soft.has_value() && grad_soft->defined()) gp = prepare_grad(fn, "grad_soft", *grad_soft, rt);
  auto out = at::empty_like(rt.x);
  if (rt.x.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t* gpp = gp.defined() ? gp.data_ptr<scalar_t>() : nullptr;
    const scalar_t *x = rt.x.data_ptr<scalar_t>(), *gv = g.data_ptr<scalar_t>();
    const int32_t* ip = idx.data_ptr<int32_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const A inv_tau = static_cast<A>(1.0 / tau);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        reinmax_backward_rows<scalar_t, A, decltype(unit)::value>(x, ip, gv, gpp, o, rt.layout, inv_tau, b, e);
      });
    });
  });
  return out;
}

at::Tensor straight_through_backward_cpu(const at::Tensor& logits, const at::Tensor& grad,
                                         double tau, int64_t dim) {
  const char* fn = "pyalgo.straight_through_backward";
  check_tau(fn, tau);
  auto rt = prepare_logits(fn, logits, dim);
  auto g = prepare_grad(fn, "grad", grad, rt);
  auto out = at::empty_like(rt.x);
  if (rt.x.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t *x = rt.x.data_ptr<scalar_t>(), *gv = g.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const A inv_tau = static_cast<A>(1.0 / tau);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        st_backward_rows<scalar_t, A, decltype(unit)::value>(x, gv, o, rt.layout, inv_tau, b, e);
      });
    });
  });
  return out;
}

at::Tensor gst_backward_cpu(const at::Tensor& logits, const at::Tensor& index,
                            const at::Tensor& grad, double tau, double gap, bool gap_is_p,
                            int64_t dim) {
  const char* fn = "pyalgo.gst_backward";
  check_tau(fn, tau);
  check_gap(fn, gap, gap_is_p);
  auto rt = prepare_logits(fn, logits, dim);
  auto idx = prepare_index(fn, index, rt);
  auto g = prepare_grad(fn, "grad", grad, rt);
  auto out = at::empty_like(rt.x);
  if (rt.x.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t *x = rt.x.data_ptr<scalar_t>(), *gv = g.data_ptr<scalar_t>();
    const int32_t* ip = idx.data_ptr<int32_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const A inv_tau = static_cast<A>(1.0 / tau), gap_a = static_cast<A>(gap);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        gst_backward_rows<scalar_t, A, decltype(unit)::value>(x, ip, gv, o, rt.layout, inv_tau, gap_a, gap_is_p, b, e);
      });
    });
  });
  return out;
}

at::Tensor gumbel_rao_backward_cpu(const at::Tensor& logits, const at::Tensor& index,
                                   const at::Tensor& grad, double tau, int64_t k, int64_t dim,
                                   const at::Tensor& seed) {
  const char* fn = "pyalgo.gumbel_rao_backward";
  check_tau(fn, tau);
  check_draws(fn, k);
  auto rt = prepare_logits(fn, logits, dim);
  check_seed(fn, seed, logits);
  auto idx = prepare_index(fn, index, rt);
  auto g = prepare_grad(fn, "grad", grad, rt);
  // Sum the K draws in the accumulation type, then round once.
  auto acc_dtype = at::toOpMathType(rt.x.scalar_type());
  auto out = at::empty(rt.x.sizes(), rt.x.options().dtype(acc_dtype));
  if (rt.x.numel() == 0) return out.to(rt.x.scalar_type());
  const PhiloxKey key = key_from_cpu_seed(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t *x = rt.x.data_ptr<scalar_t>(), *gv = g.data_ptr<scalar_t>();
    const int32_t* ip = idx.data_ptr<int32_t>();
    A* o = out.data_ptr<A>();
    const A inv_tau = static_cast<A>(1.0 / tau);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        gumbel_rao_backward_rows<scalar_t, A, decltype(unit)::value>(x, ip, gv, o, rt.layout, inv_tau, k, key, b, e);
      });
    });
  });
  return out.to(rt.x.scalar_type());
}

at::Tensor gumbel_softmax_backward_cpu(const at::Tensor& logits, const at::Tensor& grad,
                                       double tau, int64_t dim, const at::Tensor& seed) {
  const char* fn = "pyalgo.gumbel_softmax_backward";
  check_tau(fn, tau);
  auto rt = prepare_logits(fn, logits, dim);
  check_seed(fn, seed, logits);
  auto g = prepare_grad(fn, "grad", grad, rt);
  auto out = at::empty_like(rt.x);
  if (rt.x.numel() == 0) return out;
  const PhiloxKey key = key_from_cpu_seed(seed);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, rt.x.scalar_type(), "pyalgo_discrete", [&] {
    using A = at::opmath_type<scalar_t>;
    const scalar_t *x = rt.x.data_ptr<scalar_t>(), *gv = g.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    const A inv_tau = static_cast<A>(1.0 / tau);
    with_unit_stride(rt.layout, [&](auto unit) {
      for_each_row_range(rt.layout, [&](int64_t b, int64_t e) {
        gumbel_softmax_backward_rows<scalar_t, A, decltype(unit)::value>(x, gv, o, rt.layout, inv_tau, key, b, e);
      });
    });
  });
  return out;
}

at::Tensor philox_uniform_cpu(const at::Tensor& seed, int64_t rows, int64_t cols, int64_t stream,
                              at::ScalarType dtype) {
  const char* fn = "pyalgo.philox_uniform";
  TORCH_CHECK(rows >= 0 && cols >= 0, fn, ": rows and cols must be >= 0, got ", rows, " and ", cols);
  TORCH_CHECK(stream >= 0 && stream <= 0xFFFFFFFFll, fn, ": stream must be in [0, 2^32), got ", stream);
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kDouble, fn, ": dtype must be float32 or float64, got ", dtype);
  check_seed(fn, seed, seed);
  auto out = at::empty({rows, cols}, seed.options().dtype(dtype));
  if (out.numel() == 0) return out;
  const PhiloxKey key = key_from_cpu_seed(seed);
  AT_DISPATCH_FLOATING_TYPES(dtype, "pyalgo_philox_uniform", [&] {
    scalar_t* p = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(cols, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) philox_uniform_at<scalar_t>(p, cols, key, static_cast<uint32_t>(stream), r);
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(pyalgo, CPU, m) {
  m.impl("philox_uniform", &philox_uniform_cpu);
  m.impl("reinmax", &reinmax_cpu);
  m.impl("reinmax_backward", &reinmax_backward_cpu);
  m.impl("straight_through", &straight_through_cpu);
  m.impl("straight_through_backward", &straight_through_backward_cpu);
  m.impl("gst", &gst_cpu);
  m.impl("gst_backward", &gst_backward_cpu);
  m.impl("gumbel_rao", &gumbel_rao_cpu);
  m.impl("gumbel_rao_backward", &gumbel_rao_backward_cpu);
  m.impl("gumbel_softmax", &gumbel_softmax_cpu);
  m.impl("gumbel_softmax_backward", &gumbel_softmax_backward_cpu);
}

}  // namespace discrete
}  // namespace pyalgo
