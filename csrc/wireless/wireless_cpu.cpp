// CPU launcher of the wireless ops: a parallel_for over problem instances, each solved by
// one thread with the bodies of wmmse.h / miso.h (a SerialTeam). Every instance is computed by
// exactly one thread in a fixed order, so results do not depend on the thread count.

#include <algorithm>
#include <atomic>
#include <vector>

#include "wireless_ops.h"

namespace pyalgo {
namespace wireless {
namespace {

// Instances per task: enough work per task (~64k flops) to amortise scheduling.
// `body(begin, end)` returns the InputFlag bits of its instances; returns their OR.
template <typename F>
int for_each_instance(int64_t B, int64_t cost_per_instance, const F& body) {
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(cost_per_instance, 1));
  std::atomic<int> flags{0};
  parallel_for(0, B, grain, [&](int64_t begin, int64_t end) {
    const int f = body(begin, end);
    if (f != 0) flags.fetch_or(f, std::memory_order_relaxed);
  });
  return flags.load();
}

// Indices are int64: K * K exceeds int range from K = 46341 (the glue bounds K by 46340 anyway).
template <typename A>
PYALGO_CPU_CLONES int wmmse_siso_range(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u,
                                       A* w, int32_t* iters, A* objective, A* trajectory, int K, int max_iter,
                                       A tol, int64_t begin, int64_t end) {
  const int64_t KK = static_cast<int64_t>(K) * K, T = max_iter + 1;
  const int64_t vectors = SisoState<A>::kVectors - 3;  // v, u, w live in the outputs
  std::vector<A> scratch(vectors * K + KK);
  A* x = scratch.data();
  A* gt = x + vectors * K;
  int all_flags = 0;
  for (int64_t b = begin; b < end; ++b) {
    const A* gb = g + b * KK;
    // The transpose pass also checks every gain (fused: no second pass over the K x K gains).
    bool bad_g = false;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) {
        const A gij = gb[i * K + j];
        bad_g |= !finite_nonneg(gij);
        gt[j * K + i] = i == j ? A(0) : gij;
      }
    int flags = bad_g ? kBadH : 0;
    A* v = p + b * K;  // amplitudes in place of the powers while iterating
    for (int k = 0; k < K; ++k) flags |= siso_user_flags(p_max + b * K, noise + b * K, alpha + b * K, v, k);
    const SisoRecord<A> rec{objective ? objective + b * T : nullptr, trajectory ? trajectory + b * T * K : nullptr};
    if (flags != 0) {  // not iterated: NaN outputs, 0 updates (the glue raises)
      for (int k = 0; k < K; ++k) v[k] = u[b * K + k] = w[b * K + k] = hd_nan<A>();
      if (rec.objective != nullptr) std::fill(rec.objective, rec.objective + T, hd_nan<A>());
      if (rec.trajectory != nullptr) std::fill(rec.trajectory, rec.trajectory + T * K, hd_nan<A>());
      iters[b] = 0;
      all_flags |= flags;
      continue;
    }
    const SisoProblem<A> pr{gb, K, K, p_max + b * K, noise + b * K, alpha + b * K, gt};
    const SisoState<A> s{v, u + b * K, w + b * K, x, x + K, x + 2 * K, x + 3 * K, x + 4 * K};
    for (int k = 0; k < K; ++k) v[k] = hd_sqrt(v[k]);
    iters[b] = wmmse_siso_solve(SerialTeam{}, pr, s, max_iter, tol, rec);
    bool bad_result = false;
    for (int k = 0; k < K; ++k) {
      v[k] = siso_power(v[k], pr.p_max[k]);
      bad_result |= !finite(v[k]);
    }
    if (bad_result) all_flags |= kBadResult;
  }
  return all_flags;
}

// Up to this K the rates use offdiag_dot_masked (a K x K mask per task); above it, offdiag_dot
// (the loops are long, and the mask would cost K^2 memory).
constexpr int kMaskedMaxK = 64;

// The interference sums I_k = sum_{j != k} g_kj p_j + noise_k of one instance (K x K gains `gb`),
// into `out`; `mask` is offdiag_mask's (K <= kMaskedMaxK) or null.
template <typename A>
PYALGO_HD void interference_all(const A* gb, const A* pb, const A* nb, const A* mask, A* out, int K) {
  if (mask != nullptr) {
    for (int k = 0; k < K; ++k) {
      const int64_t at = static_cast<int64_t>(k) * K;
      out[k] = offdiag_dot_masked(gb + at, pb, mask + at, K) + nb[k];
    }
  } else {
    for (int k = 0; k < K; ++k) out[k] = offdiag_dot(gb + static_cast<int64_t>(k) * K, pb, k, K) + nb[k];
  }
}

// offdiag_mask for a small K, else empty (interference_all then takes offdiag_dot).
template <typename A>
std::vector<A> rates_mask(int K) {
  std::vector<A> mask(K <= kMaskedMaxK ? static_cast<size_t>(K) * K : 0);
  if (!mask.empty()) offdiag_mask(mask.data(), K);
  return mask;
}

// The InputFlag bits of instances [begin, end) of the rates ops: one vectorised pass per input over
// the whole range (its gains are contiguous), not per instance: the ops only need their OR.
template <typename A>
PYALGO_HD int rates_flags(const A* g, const A* p, const A* noise, int K, int64_t begin, int64_t end) {
  const int64_t KK = static_cast<int64_t>(K) * K, n = end - begin;
  return nonneg_flags(g + begin * KK, n * KK, kBadH) | nonneg_flags(p + begin * K, n * K, kBadP) |
         positive_flags(noise + begin * K, n * K, kBadNoise);
}

// siso_rate_at for all users of an instance, in three passes: the interference sums (fixed-length
// masked row dots, kept in `interference` for the backward), the SINRs (one vectorised loop for the
// divisions), then log1p_poly / ln 2 (vectorised; the kernels' own function, so that the CPU and
// CUDA-emulated rates stay bitwise equal at K <= 2). Per user, log1p and the divisions were a
// latency-bound chain behind each interference sum.
template <typename A>
PYALGO_CPU_CLONES int siso_rates_range(const A* g, const A* p, const A* noise, A* out, A* interference, int K,
                                       int64_t begin, int64_t end) {
  const int64_t KK = static_cast<int64_t>(K) * K;
  const std::vector<A> mask = rates_mask<A>(K);
  const A* m = mask.empty() ? nullptr : mask.data();
  const int flags = rates_flags(g, p, noise, K, begin, end);
  for (int64_t b = begin; b < end; ++b) {
    const A *gb = g + b * KK, *pb = p + b * K, *nb = noise + b * K;
    A *ob = out + b * K, *ib = interference + b * K;
    interference_all(gb, pb, nb, m, ib, K);
    PYALGO_SIMD
    for (int k = 0; k < K; ++k) ob[k] = gb[static_cast<int64_t>(k) * (K + 1)] * pb[k] / ib[k];
    PYALGO_SIMD
    for (int k = 0; k < K; ++k) ob[k] = log1p_poly(ob[k]) / A(kLn2);
  }
  return flags;
}

// The backward from the forward's interference sums (not recomputed; `noise` is only checked).
template <typename A>
PYALGO_CPU_CLONES int siso_rates_backward_range(const A* g, const A* p, const A* noise, const A* interference,
                                                const A* grad, A* grad_g, A* grad_p, A* grad_noise, A* direct,
                                                int K, int64_t begin, int64_t end) {
  const int64_t KK = static_cast<int64_t>(K) * K;
  const int flags = rates_flags(g, p, noise, K, begin, end);
  for (int64_t b = begin; b < end; ++b) {
    const A *gb = g + b * KK, *pb = p + b * K;
    // siso_rate_coef for all users in one vectorised loop (per user, its divisions were a
    // latency-bound chain).
    const A *ib = interference + b * K, *gr = grad + b * K;
    A *en = grad_noise + b * K, *a = direct + b * K;
    PYALGO_SIMD
    for (int i = 0; i < K; ++i)
      siso_rate_coef(gb[static_cast<int64_t>(i) * (K + 1)] * pb[i], ib[i], gr[i], &a[i], &en[i]);
    siso_rate_grad_all(gb, pb, grad_noise + b * K, direct + b * K, grad_p + b * K,
                       grad_g ? grad_g + b * KK : nullptr, K);
  }
  return flags;
}

template <typename A>
int wmmse_miso_range(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u, A* w,
                      int32_t* iters, A* objective, Cx<A>* trajectory, int K, int N, int max_iter, A tol,
                      A bisection_tol, int64_t begin, int64_t end) {
  std::vector<Cx<A>> scratch(static_cast<size_t>(MisoWork<A>::size(K, N)));
  const MisoWork<A> ws{scratch.data(), scratch.data() + N * N, scratch.data() + 2 * N * N};
  const int64_t KN = static_cast<int64_t>(K) * N, T = max_iter + 1;
  int all_flags = 0;
  for (int64_t b = begin; b < end; ++b) {
    const MisoProblem<A> pr{h + b * KN, K, N, p_max[b], noise + b * K, alpha + b * K};
    const MisoRecord<A> rec{objective ? objective + b * T : nullptr, trajectory ? trajectory + b * T * KN : nullptr};
    int flags = 0;
    iters[b] = wmmse_miso_checked(pr, ws, V + b * KN, u + b * K, w + b * K, max_iter, tol, bisection_tol, rec, &flags);
    all_flags |= flags;
  }
  return all_flags;
}

struct CpuLaunch {
  template <typename A>
  static int wmmse_siso(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                         int32_t* iters, A* objective, A* trajectory, int64_t B, int K, int max_iter, A tol) {
    return for_each_instance(B, 40 * static_cast<int64_t>(K) * K, [&](int64_t begin, int64_t end) {
      return wmmse_siso_range(g, p_max, noise, alpha, p, u, w, iters, objective, trajectory, K, max_iter, tol, begin, end);
    });
  }

  template <typename A>
  static int siso_rates(const A* g, const A* p, const A* noise, A* out, A* interference, int64_t B, int K) {
    return for_each_instance(B, static_cast<int64_t>(K) * K, [&](int64_t begin, int64_t end) {
      return siso_rates_range(g, p, noise, out, interference, K, begin, end);
    });
  }

  template <typename A>
  static int siso_rates_backward(const A* g, const A* p, const A* noise, const A* interference, const A* grad,
                                  A* grad_g, A* grad_p, A* grad_noise, A* direct, int64_t B, int K) {
    return for_each_instance(B, 2 * static_cast<int64_t>(K) * K, [&](int64_t begin, int64_t end) {
      return siso_rates_backward_range(g, p, noise, interference, grad, grad_g, grad_p, grad_noise, direct, K,
                                       begin, end);
    });
  }

  template <typename A>
  static int wmmse_miso(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u, A* w,
                         int32_t* iters, A* objective, Cx<A>* trajectory, int64_t B, int K, int N, int max_iter,
                         A tol, A bisection_tol) {
    const int64_t cost = 20 * (static_cast<int64_t>(N) * N * N + static_cast<int64_t>(K) * K * N);
    return for_each_instance(B, cost, [&](int64_t begin, int64_t end) {
      return wmmse_miso_range(h, p_max, noise, alpha, V, u, w, iters, objective, trajectory, K, N, max_iter, tol,
                       bisection_tol, begin, end);
    });
  }

  template <typename A>
  static int miso_rates(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N) {
    const int64_t KN = static_cast<int64_t>(K) * N;
    return for_each_instance(B, K * KN, [&](int64_t begin, int64_t end) {
      int flags = 0;
      for (int64_t b = begin; b < end; ++b) {
        flags |= cx_flags(h + b * KN, KN, kBadH) | cx_flags(V + b * KN, KN, kBadP) |
                 positive_flags(noise + b * K, K, kBadNoise);
        for (int i = 0; i < K; ++i) out[b * K + i] = miso_rate_at(h + b * KN, V + b * KN, noise + b * K, K, N, i);
      }
      return flags;
    });
  }

  template <typename A>
  static int miso_rates_backward(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad, Cx<A>* grad_h,
                                  Cx<A>* grad_v, A* grad_noise, Cx<A>* coef, int64_t B, int K, int N) {
    const int64_t KN = static_cast<int64_t>(K) * N, KK = static_cast<int64_t>(K) * K;
    return for_each_instance(B, 3 * K * KN, [&](int64_t begin, int64_t end) {
      int flags = 0;
      for (int64_t b = begin; b < end; ++b) {
        flags |= cx_flags(h + b * KN, KN, kBadH) | cx_flags(V + b * KN, KN, kBadP) |
                 positive_flags(noise + b * K, K, kBadNoise);
        for (int i = 0; i < K; ++i) {
          miso_rate_coef_at(h + b * KN, V + b * KN, noise + b * K, grad + b * K, grad_noise + b * K,
                            grad_h ? grad_h + b * KN : nullptr, coef + b * KK, K, N, i);
        }
        for (int j = 0; j < K; ++j) miso_rate_grad_at(h + b * KN, coef + b * KK, grad_v + b * KN, K, N, j);
      }
      return flags;
    });
  }
};

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(pyalgo, CPU, m) { PYALGO_REGISTER_WIRELESS_OPS(m, CpuLaunch); }

}  // namespace wireless
}  // namespace pyalgo
