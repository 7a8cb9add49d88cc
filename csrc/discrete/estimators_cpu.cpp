// CPU launcher of the discrete estimators: a parallel_for over rows that calls the per-row
// bodies of estimators.h. Each row is computed by one thread from its own Philox counters, so
// results are bitwise identical for any thread count.
#include <algorithm>
#include <atomic>

#include "estimators.h"
#include "estimators_ops.h"
#include "rao_cv.h"
#include "rows_simd.h"

namespace pyalgo {
namespace discrete {
namespace {

// Row loops over the bodies of estimators.h. On x86-64 each is compiled twice, for AVX2+FMA
// (x86-64-v3) and for the baseline, and the loader picks the version the CPU supports (no
// -march=native in wheels). Results are deterministic on a machine and independent of the
// thread count; across ISAs the last bit may differ (FMA contraction).

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

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void reinmax_cv_forward_rows(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                               PhiloxKey key, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) reinmax_cv_forward_at<T, A, U>(x, one_hot, probs, index, L, key, r);
}

template <typename T, typename A, bool U>
PYALGO_CPU_CLONES void beyond_backward_rows(const T* x, const int32_t* index, const T* g, const T* gp, A* out,
                                            RowLayout L, BeyondArgs<A> a, PhiloxKey key, int64_t begin,
                                            int64_t end) {
  for (int64_t r = begin; r < end; ++r) beyond_backward_at<T, A, A, U>(x, index, g, gp, out, L, a, key, r);
}

// Splits the rows over threads; every row is computed by exactly one thread.
template <typename F>
void for_each_row_range(int64_t rows, int64_t cols, const F& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1));
  parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) { body(begin, end); });
}

// Whether the AVX2 fast paths of rows_simd.h take float32 contiguous rows of this many categories.
template <typename T, bool U>
bool lane_path(int64_t C) {
#if defined(PYALGO_HAVE_ROWS_SIMD)
  return std::is_same<T, float>::value && U && C <= simd::kLaneMaxC && simd::avx2_fma_available();
#else
  (void)C;
  return false;
#endif
}

// ... and of more categories (one row at a time).
template <typename T, bool U>
bool long_path(int64_t C) {
#if defined(PYALGO_HAVE_ROWS_SIMD)
  return std::is_same<T, float>::value && U && C > simd::kLaneMaxC && simd::avx2_fma_available();
#else
  (void)C;
  return false;
#endif
}

// The Philox key of a CPU call (CUDA kernels read the seed tensor on the device instead).
PhiloxKey key_from_seed(const Tensor& seed) {
  const int64_t* p = ptr<int64_t>(contig(seed));
  return philox_key(p[0], p[1]);
}

struct CpuLaunch {
  // The forward bodies mark a row they cannot sample from with index -1; on CPU that is an
  // error (the CUDA launcher leaves NaN in that row instead of forcing a host sync).
  static void check_rows(const char* fn, const Tensor& index) {
    const int64_t n = index.numel();
    const int32_t* p = ptr<int32_t>(index);
    std::atomic<int64_t> first_bad{n};
    parallel_for(0, n, 1 << 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        if (p[r] < 0) {
          int64_t cur = first_bad.load();
          while (r < cur && !first_bad.compare_exchange_weak(cur, r)) {
          }
          break;
        }
    });
    const int64_t bad = first_bad.load();
    PYALGO_CHECK(bad == n, fn, ": logits must not contain NaN or +inf and no row may be all -inf; row ", bad,
                " (flattened over the non-category dims) is invalid");
  }

  template <typename T, typename A, bool U>
  static void sample(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L, const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
#if defined(PYALGO_HAVE_ROWS_SIMD)
    if constexpr (std::is_same<T, float>::value && U)
      if (lane_path<T, U>(L.C))
        return simd::with_lane_c(L.C, [&](auto c) {
          for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
            simd::sample_lanes<decltype(c)::value>(x, one_hot, probs, index, key, b, e);
          });
        });
      else if (long_path<T, U>(L.C))
        return for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
          simd::sample_long(x, one_hot, probs, index, key, L.C, b, e);
        });
#endif
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      sample_rows<T, A, U>(x, one_hot, probs, index, L, key, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau, bool hard,
                             const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
#if defined(PYALGO_HAVE_ROWS_SIMD)
    if constexpr (std::is_same<T, float>::value && U)
      if (lane_path<T, U>(L.C))
        return simd::with_lane_c(L.C, [&](auto c) {
          for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
            simd::gumbel_softmax_lanes<decltype(c)::value>(x, y, index, inv_tau, hard, key, b, e);
          });
        });
      else if (long_path<T, U>(L.C))
        return for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
          simd::gumbel_softmax_long(x, y, index, inv_tau, hard, key, L.C, b, e);
        });
#endif
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      gumbel_softmax_rows<T, A, U>(x, y, index, L, inv_tau, hard, key, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void reinmax_backward(const T* x, const int32_t* index, const T* g, const T* gp, T* out, RowLayout L,
                               A inv_tau) {
#if defined(PYALGO_HAVE_ROWS_SIMD)
    if constexpr (std::is_same<T, float>::value && U)
      if (lane_path<T, U>(L.C))
        return simd::with_lane_c(L.C, [&](auto c) {
          for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
            simd::reinmax_backward_lanes<decltype(c)::value>(x, index, g, gp, out, inv_tau, b, e);
          });
        });
      else if (long_path<T, U>(L.C))
        return for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
          simd::reinmax_backward_long(x, index, g, gp, out, inv_tau, L.C, b, e);
        });
#endif
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      reinmax_backward_rows<T, A, U>(x, index, g, gp, out, L, inv_tau, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void st_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau) {
#if defined(PYALGO_HAVE_ROWS_SIMD)
    if constexpr (std::is_same<T, float>::value && U)
      if (lane_path<T, U>(L.C))
        return simd::with_lane_c(L.C, [&](auto c) {
          for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
            simd::softmax_vjp_lanes<decltype(c)::value>(x, g, out, inv_tau, false, PhiloxKey{0, 0}, b, e);
          });
        });
      else if (long_path<T, U>(L.C))
        return for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
          simd::softmax_vjp_long(x, g, out, inv_tau, false, PhiloxKey{0, 0}, L.C, b, e);
        });
#endif
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      st_backward_rows<T, A, U>(x, g, out, L, inv_tau, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void gst_backward(const T* x, const int32_t* index, const T* g, T* out, RowLayout L, A inv_tau,
                           A gap, bool gap_is_p) {
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      gst_backward_rows<T, A, U>(x, index, g, out, L, inv_tau, gap, gap_is_p, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void gumbel_rao_backward(const T* x, const int32_t* index, const T* g, A* out, RowLayout L,
                                  A inv_tau, int64_t draws, const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
    for_each_row_range(L.rows(), L.C * draws, [&](int64_t b, int64_t e) {
      gumbel_rao_backward_rows<T, A, U>(x, index, g, out, L, inv_tau, draws, key, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                      const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
#if defined(PYALGO_HAVE_ROWS_SIMD)
    if constexpr (std::is_same<T, float>::value && U)
      if (lane_path<T, U>(L.C))
        return simd::with_lane_c(L.C, [&](auto c) {
          for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
            simd::softmax_vjp_lanes<decltype(c)::value>(x, g, out, inv_tau, true, key, b, e);
          });
        });
      else if (long_path<T, U>(L.C))
        return for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
          simd::softmax_vjp_long(x, g, out, inv_tau, true, key, L.C, b, e);
        });
#endif
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      gumbel_softmax_backward_rows<T, A, U>(x, g, out, L, inv_tau, key, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void reinmax_cv_forward(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L, const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
    for_each_row_range(L.rows(), L.C, [&](int64_t b, int64_t e) {
      reinmax_cv_forward_rows<T, A, U>(x, one_hot, probs, index, L, key, b, e);
    });
  }

  template <typename T, typename A, bool U>
  static void beyond_backward(const T* x, const int32_t* index, const T* g, const T* gp, A* out, RowLayout L,
                              A inv_tau, A inv_tau2, A eta, int64_t draws, int mode, const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
    BeyondArgs<A> a;
    a.inv_tau = inv_tau;
    a.inv_tau2 = inv_tau2;
    a.eta = eta;
    a.draws = draws;
    a.mode = mode;
    for_each_row_range(L.rows(), L.C * draws, [&](int64_t b, int64_t e) {
      beyond_backward_rows<T, A, U>(x, index, g, gp, out, L, a, key, b, e);
    });
  }

  template <typename A>
  static void philox_uniform(A* out, int64_t rows, int64_t cols, uint32_t stream, const Tensor& seed) {
    const PhiloxKey key = key_from_seed(seed);
    for_each_row_range(rows, cols, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) philox_uniform_at<A>(out, cols, key, stream, r);
    });
  }
};

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(pyalgo, CPU, m) { PYALGO_REGISTER_DISCRETE_OPS(m, CpuLaunch); }

}  // namespace discrete
}  // namespace pyalgo
