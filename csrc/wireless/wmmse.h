// SISO power control bodies, torch-free and __host__ __device__: the batched WMMSE teacher
// (Shi et al. 2011; Sun et al. 2018, spec wmmse.md §2a) and the per-user rates with their
// gradient. The CPU launcher runs them with a SerialTeam, the CUDA kernels with a warp segment
// or a block per instance (team.h).
//
// Convention: g[k * ld + j] is the power gain from transmitter j to receiver k (row = receiver).
// v_k = sqrt(p_k) is user k's amplitude, u_k its MMSE receiver, w_k = 1 + SINR_k its MSE weight.
#pragma once
#include "../common/team.h"

namespace pyalgo {
namespace wireless {

template <typename A>
PYALGO_HD A hd_sqrt(A x) { return sqrt(x); }
PYALGO_HD double hd_log2(double x) { return log2(x); }
PYALGO_HD float hd_log2(float x) { return log_pos(x) * 1.44269504088896341f; }  // branch-free: vectorises
template <typename A>
PYALGO_HD A hd_min(A a, A b) { return b < a ? b : a; }

constexpr double kLn2 = 0.693147180559945309417232121458176568;

// ---- input checks that no caller can skip (issue 14) ----------------------------------------------
// Each op's launcher ORs these bits over every element it reads (fused into its pass); the CPU glue
// raises naming the argument, the CUDA kernels (which do not synchronise) NaN-poison the outputs of
// the instances or users concerned instead (docs/wireless.md, "Validation").
enum InputFlag : int {
  kBadH = 1,         // a gain that is negative, NaN or inf (MISO: a non-finite channel entry)
  kBadP = 2,         // a power that is negative, NaN or inf (MISO: a non-finite beamformer entry)
  kBadNoise = 4,     // a noise power that is not finite and > 0
  kBadPMax = 8,      // a power budget that is not finite and > 0
  kBadWeights = 16,  // a rate weight that is negative, NaN or inf
  kBadInit = 32,     // an initial power or beamformer that is negative (SISO), NaN or inf
  kBadResult = 64,   // WMMSE left the floating-point range (float32 at an extreme SNR or scale)
};

template <typename A>
PYALGO_HD bool finite_nonneg(A x) { return x >= A(0) && x < hd_inf<A>(); }
template <typename A>
PYALGO_HD bool finite_pos(A x) { return x > A(0) && x < hd_inf<A>(); }
template <typename A>
PYALGO_HD bool finite(A x) { return x - x == A(0); }

// `flag` if one of the n values is not finite and >= 0. Branch-free so that it vectorises: x * 0
// is 0 for a finite x and NaN for NaN or inf, and the running minimum catches a negative entry
// (-0 passes).
template <typename A>
PYALGO_HD int nonneg_flags(const A* x, int64_t n, int flag) {
  A probe = 0, lo = 0;
  PYALGO_SIMD_REDUCE2(+ : probe, min : lo)
  for (int64_t j = 0; j < n; ++j) {
    probe += x[j] * A(0);
    lo = x[j] < lo ? x[j] : lo;
  }
  return probe == A(0) && !(lo < A(0)) ? 0 : flag;
}

// `flag` if one of the n values is not finite and > 0 (as nonneg_flags).
template <typename A>
PYALGO_HD int positive_flags(const A* x, int64_t n, int flag) {
  A probe = 0, lo = hd_inf<A>();
  PYALGO_SIMD_REDUCE2(+ : probe, min : lo)
  for (int64_t j = 0; j < n; ++j) {
    probe += x[j] * A(0);
    lo = x[j] < lo ? x[j] : lo;
  }
  return probe == A(0) && lo > A(0) ? 0 : flag;
}

// kBadH if one of the n gains is not finite and >= 0.
template <typename A>
PYALGO_HD int gains_flags(const A* row, int64_t n) { return nonneg_flags(row, n, kBadH); }

// The inputs of user k's rate: row k of the gains, p[k] (all of p when `all_p`: a thread that
// computes rate k alone must see the powers of every interferer) and noise[k].
template <typename A>
PYALGO_HD int siso_rate_flags(const A* g, const A* p, const A* noise, int K, int k, bool all_p) {
  int flags = gains_flags(g + static_cast<int64_t>(k) * K, K);
  flags |= all_p ? nonneg_flags(p, K, kBadP) : (finite_nonneg(p[k]) ? 0 : kBadP);
  if (!finite_pos(noise[k])) flags |= kBadNoise;
  return flags;
}

// User k's per-user WMMSE inputs: p_max, noise, weight and initial power.
template <typename A>
PYALGO_HD int siso_user_flags(const A* p_max, const A* noise, const A* alpha, const A* p_init, int k) {
  return (finite_pos(p_max[k]) ? 0 : kBadPMax) | (finite_pos(noise[k]) ? 0 : kBadNoise) |
         (finite_nonneg(alpha[k]) ? 0 : kBadWeights) | (finite_nonneg(p_init[k]) ? 0 : kBadInit);
}

// sum_{j != k} row[j] * x[j]: the interference at receiver k. The diagonal is skipped rather than
// subtracted from the full sum, which would cancel catastrophically at high SINR (spec §2a).
template <typename A>
PYALGO_HD A offdiag_dot(const A* row, const A* x, int k, int K) {
  A acc = 0;
  PYALGO_SIMD_REDUCE(+ : acc)
  for (int j = 0; j < k; ++j) acc += row[j] * x[j];
  A acc2 = 0;
  PYALGO_SIMD_REDUCE(+ : acc2)
  for (int j = k + 1; j < K; ++j) acc2 += row[j] * x[j];
  return acc + acc2;
}

// offdiag_dot for a small K (the CPU's rates): sum_j row[j] * (mask[j] * x[j]) over the full row,
// with mask = 1 - e_k (row k of `offdiag_mask`). One fixed-length vectorised loop instead of two
// short ones: about 1.4x faster at K = 10. The diagonal term is an exact 0 (skipped, not
// subtracted), and with at most one off-diagonal term (K <= 2) the sum equals offdiag_dot's bitwise.
template <typename A>
PYALGO_HD A offdiag_dot_masked(const A* row, const A* x, const A* mask, int K) {
  A acc = 0;
  PYALGO_SIMD_REDUCE(+ : acc)
  for (int j = 0; j < K; ++j) acc += row[j] * (mask[j] * x[j]);
  return acc;
}

// The K x K mask of offdiag_dot_masked: 0 on the diagonal, 1 elsewhere.
template <typename A>
PYALGO_HD void offdiag_mask(A* mask, int K) {
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) mask[i * K + j] = i == j ? A(0) : A(1);
}

// One instance's inputs. p_max, noise and alpha (the rate weights) have K entries. `gt`, when
// not null, is the transpose of g with a zero diagonal (K x K, ld K): with it a serial team
// computes the interference by contiguous, vectorised column sums instead of K short row dots.
template <typename A>
struct SisoProblem {
  const A* g;
  int64_t ld;
  int K;
  const A* p_max;
  const A* noise;
  const A* alpha;
  const A* gt;
};

// y_k = sum_{j != k} g_kj x_j for the team's users.
template <typename A, typename Team>
PYALGO_HD void interference_sums(const Team& t, const SisoProblem<A>& pr, const A* x, A* y) {
  if (pr.gt != nullptr) {
    col_sums(t, pr.gt, pr.K, pr.K, x, y);
    return;
  }
  for (int k = t.lane(); k < pr.K; k += t.size()) y[k] = offdiag_dot(pr.g + k * pr.ld, x, k, pr.K);
}

// Length-K vectors every lane of the team can read: v, u, w (the WMMSE state), two scratch
// vectors x, y, and the instance's constants g_kk, h_kk = sqrt(g_kk), v_max = sqrt(p_max) (set
// once by siso_prepare, so the iterations read them contiguously and take no square roots).
template <typename A>
struct SisoState {
  A* v;
  A* u;
  A* w;
  A* x;
  A* y;
  A* g_diag;
  A* h_diag;
  A* v_max;
  static constexpr int kVectors = 8;
};

template <typename A, typename Team>
PYALGO_HD void siso_prepare(const Team& t, const SisoProblem<A>& pr, const SisoState<A>& s) {
  for (int k = t.lane(); k < pr.K; k += t.size()) {
    s.g_diag[k] = pr.g[k * pr.ld + k];
    s.h_diag[k] = hd_sqrt(s.g_diag[k]);
    s.v_max[k] = hd_sqrt(pr.p_max[k]);
  }
  t.sync();
}

// u and w at the current v; returns the weighted sum rate sum_k alpha_k log2(w_k) (bits).
// w_k = 1 + S_k / I_k with S_k = g_kk v_k^2, I_k = sum_{j != k} g_kj v_j^2 + noise_k: the form
// 1 / (1 - u_k h_kk v_k) loses ~2 digits in fp32 at SINR 1e4 (spec §2a, numerics).
template <typename A, typename Team>
PYALGO_HD A siso_refresh(const Team& t, const SisoProblem<A>& pr, const SisoState<A>& s) {
  const int K = pr.K;
  for (int k = t.lane(); k < K; k += t.size()) s.x[k] = s.v[k] * s.v[k];
  t.sync();
  interference_sums(t, pr, s.x, s.y);
  PYALGO_SIMD
  for (int k = t.lane(); k < K; k += t.size()) {
    const A interference = s.y[k] + pr.noise[k];
    const A signal = s.g_diag[k] * s.x[k];
    s.u[k] = s.h_diag[k] * s.v[k] / (interference + signal);
    s.w[k] = A(1) + signal / interference;
    s.y[k] = pr.alpha[k] * hd_log2(s.w[k]);  // user k's weighted rate
  }
  A local = 0;
  for (int k = t.lane(); k < K; k += t.size()) local += s.y[k];
  t.sync();
  return t.sum(local);
}

// The Jacobi v-update: v_k = clip(alpha_k w_k u_k h_kk / sum_j alpha_j w_j u_j^2 g_jk, 0, sqrt(Pmax_k)).
// A user whose numerator is 0 (no direct gain, zero weight, or switched off) gets v_k = 0; this
// also covers the 0/0 of an all-zero channel. A NaN numerator (overflowed state) stays NaN.
template <typename A, typename Team>
PYALGO_HD void siso_update(const Team& t, const SisoProblem<A>& pr, const SisoState<A>& s) {
  const int K = pr.K;
  for (int k = t.lane(); k < K; k += t.size()) s.x[k] = pr.alpha[k] * s.w[k] * s.u[k] * s.u[k];
  t.sync();
  col_sums(t, pr.g, pr.ld, K, s.x, s.y);
  PYALGO_SIMD
  for (int k = t.lane(); k < K; k += t.size()) {
    const A num = pr.alpha[k] * s.w[k] * s.u[k] * s.h_diag[k];
    // num is NaN only when the state left the floating-point range: keep the NaN (the caller
    // reports a non-finite solution) rather than silently switching the user off.
    s.v[k] = num > A(0) ? hd_min(num / s.y[k], s.v_max[k]) : (num == A(0) ? A(0) : num);
  }
  t.sync();
}

// The power of amplitude v; the min only removes the rounding of sqrt(p_max)^2, so that
// p <= p_max holds exactly.
template <typename A>
PYALGO_HD A siso_power(A v, A p_max) { return hd_min(v * v, p_max); }

// Optional per-iteration record of one instance: objective[t] (max_iter + 1 entries) and the
// powers trajectory[t * K + k]; null pointers when not requested.
template <typename A>
struct SisoRecord {
  A* objective;
  A* trajectory;
};

template <typename A, typename Team>
PYALGO_HD void siso_record(const Team& t, const SisoState<A>& s, const SisoRecord<A>& rec, int K, int step, A obj) {
  if (rec.objective != nullptr && t.lane() == 0) rec.objective[step] = obj;
  if (rec.trajectory != nullptr)
    for (int k = t.lane(); k < K; k += t.size()) rec.trajectory[static_cast<int64_t>(step) * K + k] = s.v[k] * s.v[k];
}

// WMMSE from the amplitudes in s.v (sqrt of the initial powers) until the weighted sum rate
// grows by <= tol after an update (Sun et al.'s rule; tol <= 0: exactly max_iter updates).
// Leaves the final v, u, w in s and returns the number of updates done. The stop decision is
// made from t.sum, so it is the same on every lane and no lane waits for another instance.
template <typename A, typename Team>
PYALGO_HD int wmmse_siso_solve(const Team& t, const SisoProblem<A>& pr, const SisoState<A>& s, int max_iter,
                               A tol, const SisoRecord<A>& rec) {
  siso_prepare(t, pr, s);
  A obj = siso_refresh(t, pr, s);
  siso_record(t, s, rec, pr.K, 0, obj);
  int it = 0;
  while (it < max_iter) {
    siso_update(t, pr, s);
    const A next = siso_refresh(t, pr, s);
    ++it;
    siso_record(t, s, rec, pr.K, it, next);
    const bool converged = tol > A(0) && next - obj <= tol;
    obj = next;
    if (converged) break;
  }
  for (int step = it + 1; step <= max_iter; ++step) siso_record(t, s, rec, pr.K, step, obj);
  return it;
}

// ---- per-user rates and their gradient --------------------------------------------------------
// rate_k = log2(1 + g_kk p_k / I_k), I_k = sum_{j != k} g_kj p_j + noise_k. `g` points to the
// instance's K x K gains (ld = K), `p` and `noise` to its K entries.
// The rate at receiver k; its interference I_k goes to *interference (the backward's input).
template <typename A>
PYALGO_HD A siso_rate_at(const A* g, const A* p, const A* noise, int K, int k, A* interference) {
  const A* row = g + static_cast<int64_t>(k) * K;
  const A in = offdiag_dot(row, p, k, K) + noise[k];
  *interference = in;
  return log1p_poly(row[k] * p[k] / in) / A(kLn2);
}

// Backward, first half (per user i), from the signal S_i = g_ii p_i, the forward's interference
// I_i and the upstream gradient grad_i, with T_i = I_i + S_i:
//   d/dI_i = -grad_i S_i / (ln2 T_i I_i) =: e_i   (also the noise gradient),
//   d/dS_i = grad_i / (ln2 T_i) =: a_i.
template <typename A>
PYALGO_HD void siso_rate_coef(A signal, A interference, A grad, A* a, A* e) {
  const A scale = grad / (A(kLn2) * (interference + signal));
  *a = scale;
  *e = -scale * signal / interference;
}

// Backward, second half (per user j), from the coefficients of all users:
//   grad_p_j = g_jj a_j + sum_{i != j} g_ij e_i,
//   grad_g_jk = p_k e_j (k != j), p_j a_j (k = j)      (row j of the gain gradient, if wanted).
template <typename A>
PYALGO_HD void siso_rate_grad_at(const A* g, const A* p, const A* e, const A* a, A* grad_p, A* grad_g, int K,
                                 int j) {
  A acc = 0;
  for (int i = 0; i < K; ++i) acc += i == j ? A(0) : g[static_cast<int64_t>(i) * K + j] * e[i];
  grad_p[j] = acc + g[static_cast<int64_t>(j) * K + j] * a[j];
  if (grad_g != nullptr) {
    A* row = grad_g + static_cast<int64_t>(j) * K;
    PYALGO_SIMD
    for (int k = 0; k < K; ++k) row[k] = p[k] * e[j];
    row[j] = p[j] * a[j];
  }
}

// siso_rate_grad_at for all users j at once (one thread per instance, the CPU): the column sums
// over i become K contiguous, vectorised row updates (axpy) instead of K strided column walks.
template <typename A>
PYALGO_HD void siso_rate_grad_all(const A* g, const A* p, const A* e, const A* a, A* grad_p, A* grad_g, int K) {
  for (int j = 0; j < K; ++j) grad_p[j] = g[static_cast<int64_t>(j) * K + j] * a[j];
  for (int i = 0; i < K; ++i) {
    const A* row = g + static_cast<int64_t>(i) * K;
    const A ei = e[i];
    PYALGO_SIMD
    for (int j = 0; j < K; ++j) grad_p[j] += j == i ? A(0) : row[j] * ei;
  }
  if (grad_g != nullptr) {
    for (int j = 0; j < K; ++j) {
      A* row = grad_g + static_cast<int64_t>(j) * K;
      const A ej = e[j];
      PYALGO_SIMD
      for (int k = 0; k < K; ++k) row[k] = p[k] * ej;
      row[j] = p[j] * a[j];
    }
  }
}

}  // namespace wireless
}  // namespace pyalgo
