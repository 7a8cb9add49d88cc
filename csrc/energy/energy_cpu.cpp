// CPU launcher of the energy ops: a parallel_for over examples, each handled by one thread
// with the bodies of minmin.h in a fixed sample order, so results do not depend on the thread
// count. Gradient accumulators are double (m weighted samples summed per example).

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "energy_ops.h"

namespace pyalgo {
namespace energy {
namespace {

struct SerialAdd {
  template <typename G, typename V>
  void operator()(G* p, V v) const {
    *p += v;
  }
};

// Rows per task: enough samples per task to amortise scheduling.
template <typename F>
void for_each_row(int64_t B, int64_t cost_per_row, const F& body) {
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(cost_per_row, 1));
  parallel_for(0, B, grain, [&](int64_t begin, int64_t end) { body(begin, end); });
}

using CpuCursor = WordCursor<16>;

// The first (lowest) row that failed a check, noted by any thread of the pass and tested once
// after it: the checks run inside the kernel's loop, so torch.compile, validate=False and direct
// torch.ops calls cannot skip them.
struct BadRow {
  std::atomic<int64_t> row{std::numeric_limits<int64_t>::max()};
  void note(int64_t b) {
    int64_t cur = row.load(std::memory_order_relaxed);
    while (b < cur && !row.compare_exchange_weak(cur, b, std::memory_order_relaxed)) {
    }
  }
  bool any() const { return row.load() != std::numeric_limits<int64_t>::max(); }
  int64_t first() const { return row.load(); }
};  // 64 words per refill

PhiloxKey key_of(const int64_t* seed) { return philox_key(seed[0], seed[1]); }

// One example's loss: a pass relative to τ, redone relative to max (g − τ) if that is too large.
template <typename A, typename Pass>
RowResult<A> run_row(A tau, A g_true, A alpha, int64_t m, std::vector<double>& acc, bool grad, const Pass& pass) {
  Sums<A> sums = zero_sums<A>();
  A shift = 0;
  if (grad) std::fill(acc.begin(), acc.end(), 0.0);
  pass(shift, sums);
  if (needs_shift(alpha, sums)) {
    shift = sums.max_s;
    sums = zero_sums<A>();
    if (grad) std::fill(acc.begin(), acc.end(), 0.0);
    pass(shift, sums);
  }
  return finish_row(sums, tau, g_true, alpha, shift, m);
}

struct CpuLaunch {
  static void sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * k, [&](int64_t begin, int64_t end) {
      uint32_t y[kMaxWords];
      for (int64_t b = begin; b < end; ++b) {
        CpuCursor cur(key, b, kBitsStream);
        for (int64_t j = 0; j < m; ++j) {
          load_bits(cur, j, k, y);
          uint8_t* o = out + (b * m + j) * k;
          for (int i = 0; i < k; ++i) o[i] = static_cast<uint8_t>(bit_at(y, i));
        }
      }
    });
  }

  static void sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n) {
    const PhiloxKey key = key_of(seed);
    for_each_row(B, m * n, [&](int64_t begin, int64_t end) {
      uint8_t perm[kMaxItems];
      for (int64_t b = begin; b < end; ++b) {
        CpuCursor cur(key, b, kPermsStream);
        for (int64_t j = 0; j < m; ++j) {
          load_perm(cur, j, n, perm);
          int64_t* o = out + (b * m + j) * n;
          for (int i = 0; i < n; ++i) o[i] = perm[i];
        }
      }
    });
  }

  template <typename A>
  static void minmin_bits(const A* u, const A* U, const A* tau, const A* y, const int64_t* seed, A* loss,
                          A* grad_u, A* grad_U, A* grad_tau, int64_t B, int k, int64_t m, A alpha) {
    const PhiloxKey key = key_of(seed);
    const bool grad = grad_u != nullptr;
    const int64_t kk = static_cast<int64_t>(k) * k, table_size = bits_bytes(k) * 256;
    BadRow bad_label, bad_energy;
    for_each_row(B, m * (U ? kk / 4 + k : k), [&](int64_t begin, int64_t end) {
      std::vector<A> table(table_size);
      std::vector<double> acc(grad ? table_size + (U ? kk : 0) : 0);  // byte histogram, then ½ E_w[y'y'ᵀ]
      double* hist = grad ? acc.data() : nullptr;
      double* acc_U = grad && U ? acc.data() + table_size : nullptr;
      for (int64_t b = begin; b < end; ++b) {
        const A* ub = u + b * k;
        const A* Ub = U ? U + b * kk : nullptr;
        const A* yb = y + b * k;
        const bool labels_ok = is_binary(yb, k, 0, 1);
        const bool finite_ok = all_finite(ub, k) && all_finite(tau + b, 1) && (!Ub || all_finite(Ub, kk));
        if (!labels_ok || !finite_ok) {
          (labels_ok ? bad_energy : bad_label).note(b);
          loss[b] = std::numeric_limits<A>::quiet_NaN();
          continue;
        }
        build_byte_table(ub, k, table.data(), 0, 1);
        const RowResult<A> r = run_row<A>(tau[b], dense_bits_energy(ub, Ub, k, yb), alpha, m, acc, grad,
                                          [&](A shift, Sums<A>& sums) {
                                            CpuCursor cur(key, b, kBitsStream);
                                            bits_pass<16, A, double, CpuCursor>(ub, table.data(), Ub, k, tau[b], alpha, shift, cur,
                                                                 0, m, sums, nullptr, hist, acc_U, SerialAdd{});
                                          });
        loss[b] = r.loss;
        if (!grad) continue;
        grad_tau[b] = r.grad_tau;
        finish_bits_grad<A, double>(nullptr, hist, acc_U, yb, k, r.factor, grad_u + b * k,
                                    grad_U ? grad_U + b * kk : nullptr, 0, 1);
      }
    });
    const char* fn = "pyalgo.energy.minmin_loss";
    PYALGO_CHECK(!bad_label.any(), fn, ": y must be binary (every entry 0 or 1); row ", bad_label.first(), " is not");
    PYALGO_CHECK(!bad_energy.any(), fn, ": unary, pairwise and tau must be finite (no NaN or inf energies); row ",
                bad_energy.first(), " is not");
  }

  template <typename A>
  static void minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const int64_t* seed,
                           A* loss, A* grad_theta, A* grad_tau, int64_t B, int n, int64_t m, A alpha) {
    const PhiloxKey key = key_of(seed);
    const bool grad = grad_theta != nullptr;
    const int64_t size = birkhoff ? static_cast<int64_t>(n) * n : n;
    BadRow bad_label, bad_energy;
    for_each_row(B, m * n * 2, [&](int64_t begin, int64_t end) {
      std::vector<double> acc(grad ? size : 0);
      for (int64_t b = begin; b < end; ++b) {
        const A* tb = theta + b * size;
        const int64_t* yb = y + b * n;
        const bool labels_ok = is_perm(yb, n);
        const bool finite_ok = all_finite(tb, size) && all_finite(tau + b, 1);
        if (!labels_ok || !finite_ok) {  // an index out of range would read theta out of bounds
          (labels_ok ? bad_energy : bad_label).note(b);
          loss[b] = std::numeric_limits<A>::quiet_NaN();
          continue;
        }
        const RowResult<A> r = run_row<A>(tau[b], perm_energy(tb, birkhoff, n, yb), alpha, m, acc, grad,
                                          [&](A shift, Sums<A>& sums) {
                                            CpuCursor cur(key, b, kPermsStream);
                                            perms_pass<A, double, CpuCursor>(tb, birkhoff, n, tau[b], alpha, shift, cur, 0, m,
                                                                  sums, grad ? acc.data() : nullptr, SerialAdd{});
                                          });
        loss[b] = r.loss;
        if (!grad) continue;
        grad_tau[b] = r.grad_tau;
        finish_perm_grad<A, double>(acc.data(), yb, birkhoff, n, r.factor, grad_theta + b * size, 0, 1);
      }
    });
    const char* fn = "pyalgo.energy.minmin_loss_ranking";
    PYALGO_CHECK(!bad_label.any(), fn, ": y must hold a permutation of 0..n-1 in every row; row ", bad_label.first(),
                " is not");
    PYALGO_CHECK(!bad_energy.any(), fn, ": theta and tau must be finite (no NaN or inf energies); row ",
                bad_energy.first(), " is not");
  }
};

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(pyalgo, CPU, m) { PYALGO_REGISTER_ENERGY_OPS(m, CpuLaunch); }

}  // namespace energy
}  // namespace pyalgo
