// Single-cell MISO downlink bodies, torch-free and __host__ __device__: the WMMSE beamformer
// teacher (Shi et al. 2011 §III, spec wmmse.md §2b) and the per-user rates with their gradient.
// One thread (a SerialTeam) works on one instance on both CPU and GPU.
//
// Convention: h[i * N + n] is user i's channel from antenna n, and user i receives
// y_i = sum_j (h_i . v_j) x_j + n_i (plain product, no conjugation), i.e. y = H V^T x + n.
#pragma once
#include "wmmse.h"

namespace pyalgo {
namespace wireless {

// Layout-compatible with torch's complex (re, im) pairs; the glue passes view_as_real data.
template <typename A>
struct Cx {
  A re, im;
};

template <typename A>
PYALGO_HD Cx<A> cx_mul(Cx<A> a, Cx<A> b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
template <typename A>
PYALGO_HD Cx<A> cx_mul_conj(Cx<A> a, Cx<A> b) { return {a.re * b.re + a.im * b.im, a.im * b.re - a.re * b.im}; }  // a * conj(b)
template <typename A>
PYALGO_HD A cx_abs2(Cx<A> a) { return a.re * a.re + a.im * a.im; }
template <typename A>
PYALGO_HD Cx<A> cx_scale(Cx<A> a, A s) { return {a.re * s, a.im * s}; }

// h_i . v_j over the N antennas.
template <typename A>
PYALGO_HD Cx<A> cx_dot(const Cx<A>* h, const Cx<A>* v, int N) {
  Cx<A> acc{0, 0};
  for (int n = 0; n < N; ++n) {
    const Cx<A> t = cx_mul(h[n], v[n]);
    acc.re += t.re;
    acc.im += t.im;
  }
  return acc;
}

// User i's link: s_ii, the signal |s_ii|^2 and the interference sum_{j != i} |s_ij|^2 + noise_i.
template <typename A>
struct MisoLink {
  Cx<A> direct;
  A signal, interference;
};

template <typename A>
PYALGO_HD MisoLink<A> miso_link(const Cx<A>* h, const Cx<A>* V, const A* noise, int K, int N, int i) {
  MisoLink<A> link{{0, 0}, 0, noise[i]};
  for (int j = 0; j < K; ++j) {
    const Cx<A> s = cx_dot(h + static_cast<int64_t>(i) * N, V + static_cast<int64_t>(j) * N, N);
    if (j == i) {
      link.direct = s;
      link.signal = cx_abs2(s);
    } else {
      link.interference += cx_abs2(s);
    }
  }
  return link;
}

template <typename A>
struct MisoProblem {
  const Cx<A>* h;  // K x N
  int K, N;
  A p_max;         // total transmit power
  const A* noise;  // K
  const A* alpha;  // K
};

// Per-instance workspace: the N x N matrices A and its Cholesky factor, the K right-hand sides.
template <typename A>
struct MisoWork {
  Cx<A>* mat;    // N x N
  Cx<A>* chol;   // N x N
  Cx<A>* rhs;    // K x N
  static PYALGO_HD int64_t size(int K, int N) { return 2 * static_cast<int64_t>(N) * N + static_cast<int64_t>(K) * N; }
};

// u_i = s_ii / T_i, w_i = 1 + |s_ii|^2 / I_i at the current V; returns sum_i alpha_i log2 w_i.
template <typename A>
PYALGO_HD A miso_refresh(const MisoProblem<A>& pr, const Cx<A>* V, Cx<A>* u, A* w) {
  A obj = 0;
  for (int i = 0; i < pr.K; ++i) {
    const MisoLink<A> l = miso_link(pr.h, V, pr.noise, pr.K, pr.N, i);
    u[i] = cx_scale(l.direct, A(1) / (l.interference + l.signal));
    w[i] = A(1) + l.signal / l.interference;
    obj += pr.alpha[i] * hd_log2(w[i]);
  }
  return obj;
}

// Lower Cholesky factor of m + shift I (Hermitian, lower triangle read). Fails (returns false)
// unless every pivot exceeds `min_pivot`.
template <typename A>
PYALGO_HD bool cholesky_shifted(const Cx<A>* m, A shift, int N, A min_pivot, Cx<A>* L) {
  for (int j = 0; j < N; ++j) {
    A d = m[j * N + j].re + shift;
    for (int k = 0; k < j; ++k) d -= cx_abs2(L[j * N + k]);
    if (!(d > min_pivot)) return false;
    const A ljj = hd_sqrt(d);
    L[j * N + j] = {ljj, 0};
    for (int i = j + 1; i < N; ++i) {
      Cx<A> acc = m[i * N + j];
      for (int k = 0; k < j; ++k) {
        const Cx<A> t = cx_mul_conj(L[i * N + k], L[j * N + k]);
        acc.re -= t.re;
        acc.im -= t.im;
      }
      L[i * N + j] = cx_scale(acc, A(1) / ljj);
    }
  }
  return true;
}

// x = (L L^H)^{-1} b, in place.
template <typename A>
PYALGO_HD void cholesky_solve(const Cx<A>* L, int N, Cx<A>* x) {
  for (int i = 0; i < N; ++i) {
    Cx<A> acc = x[i];
    for (int k = 0; k < i; ++k) {
      const Cx<A> t = cx_mul(L[i * N + k], x[k]);
      acc.re -= t.re;
      acc.im -= t.im;
    }
    x[i] = cx_scale(acc, A(1) / L[i * N + i].re);
  }
  for (int i = N - 1; i >= 0; --i) {
    Cx<A> acc = x[i];
    for (int k = i + 1; k < N; ++k) {
      const Cx<A> t = cx_mul_conj(x[k], L[k * N + i]);  // conj(L_ki) x_k
      acc.re -= t.re;
      acc.im -= t.im;
    }
    x[i] = cx_scale(acc, A(1) / L[i * N + i].re);
  }
}

// V_i = (A + mu I)^{-1} b_i for all users; returns the total power sum_i ||V_i||^2, or +inf when
// A + mu I is not numerically positive definite.
template <typename A>
PYALGO_HD A miso_beamformers(const MisoProblem<A>& pr, const MisoWork<A>& ws, A mu, A min_pivot, Cx<A>* V) {
  const int N = pr.N;
  if (!cholesky_shifted(ws.mat, mu, N, min_pivot, ws.chol)) return hd_inf<A>();
  A power = 0;
  for (int i = 0; i < pr.K; ++i) {
    Cx<A>* vi = V + static_cast<int64_t>(i) * N;
    for (int n = 0; n < N; ++n) vi[n] = ws.rhs[static_cast<int64_t>(i) * N + n];
    cholesky_solve(ws.chol, N, vi);
    for (int n = 0; n < N; ++n) power += cx_abs2(vi[n]);
  }
  return power;
}

// The V-update: V_i = (A + mu I)^{-1} b_i with A = sum_i alpha_i w_i |u_i|^2 conj(h_i)^T h_i and
// b_i = alpha_i w_i u_i conj(h_i). mu = 0 when A is positive definite (pivots > 1e-10 tr(A)/N)
// and that solution meets the power budget; otherwise mu is bisected on [0, sqrt(sum ||b_i||^2
// / P)] (at the upper end the power is <= P since A >= 0) until the power lies in
// [P (1 - bisection_tol), P]; after 200 halvings the feasible upper end is used.
template <typename A>
PYALGO_HD void miso_update(const MisoProblem<A>& pr, const MisoWork<A>& ws, const Cx<A>* u, const A* w,
                           A bisection_tol, Cx<A>* V) {
  const int K = pr.K, N = pr.N;
  for (int64_t e = 0; e < static_cast<int64_t>(N) * N; ++e) ws.mat[e] = {0, 0};
  A rhs_norm = 0;
  for (int i = 0; i < K; ++i) {
    const Cx<A>* hi = pr.h + static_cast<int64_t>(i) * N;
    const A c = pr.alpha[i] * w[i] * cx_abs2(u[i]);
    const Cx<A> coef = cx_scale(u[i], pr.alpha[i] * w[i]);
    for (int m = 0; m < N; ++m) {
      for (int n = 0; n <= m; ++n) {  // lower triangle: conj(h_m) h_n
        const Cx<A> t = cx_mul_conj(hi[n], hi[m]);
        ws.mat[m * N + n].re += c * t.re;
        ws.mat[m * N + n].im += c * t.im;
      }
      const Cx<A> b = cx_mul_conj(coef, hi[m]);
      ws.rhs[static_cast<int64_t>(i) * N + m] = b;
      rhs_norm += cx_abs2(b);
    }
  }
  if (!(rhs_norm > A(0) && rhs_norm < hd_inf<A>())) {
    // 0: nobody to serve, V = 0. NaN or inf: the state left the floating-point range (an extreme
    // SNR or scale); NaN beamformers let the caller report it instead of a silent V = 0.
    const A fill = rhs_norm == A(0) ? A(0) : hd_nan<A>();
    for (int64_t e = 0; e < static_cast<int64_t>(K) * N; ++e) V[e] = {fill, fill};
    return;
  }
  A trace = 0;
  for (int m = 0; m < N; ++m) trace += ws.mat[m * N + m].re;
  const A min_pivot = A(1e-10) * trace / A(N);
  const A budget = pr.p_max;
  if (miso_beamformers(pr, ws, A(0), min_pivot, V) <= budget) return;
  A lo = 0, hi = hd_sqrt(rhs_norm / budget);
  for (int step = 0; step < 200; ++step) {
    const A mid = A(0.5) * (lo + hi);
    const A power = miso_beamformers(pr, ws, mid, A(0), V);
    if (power <= budget && power >= budget * (A(1) - bisection_tol)) return;
    if (power > budget)
      lo = mid;
    else
      hi = mid;
  }
  miso_beamformers(pr, ws, hi, A(0), V);
}

template <typename A>
struct MisoRecord {
  A* objective;          // max_iter + 1
  Cx<A>* trajectory;     // (max_iter + 1) x K x N
};

template <typename A>
PYALGO_HD void miso_record(const MisoRecord<A>& rec, const Cx<A>* V, int64_t KN, int step, A obj) {
  if (rec.objective != nullptr) rec.objective[step] = obj;
  if (rec.trajectory != nullptr)
    for (int64_t e = 0; e < KN; ++e) rec.trajectory[step * KN + e] = V[e];
}

// MISO WMMSE from the beamformers in V; same stop rule as wmmse_siso_solve. Returns the number
// of updates; V, u, w hold the final state.
template <typename A>
PYALGO_HD int wmmse_miso_solve(const MisoProblem<A>& pr, const MisoWork<A>& ws, Cx<A>* V, Cx<A>* u, A* w,
                               int max_iter, A tol, A bisection_tol, const MisoRecord<A>& rec) {
  const int64_t KN = static_cast<int64_t>(pr.K) * pr.N;
  A obj = miso_refresh(pr, V, u, w);
  miso_record(rec, V, KN, 0, obj);
  int it = 0;
  while (it < max_iter) {
    miso_update(pr, ws, u, w, bisection_tol, V);
    const A next = miso_refresh(pr, V, u, w);
    ++it;
    miso_record(rec, V, KN, it, next);
    const bool converged = tol > A(0) && next - obj <= tol;
    obj = next;
    if (converged) break;
  }
  for (int step = it + 1; step <= max_iter; ++step) miso_record(rec, V, KN, step, obj);
  return it;
}

// ---- input checks (see InputFlag in wmmse.h) ----------------------------------------------------
// `flag` if one of the n entries is NaN or inf (x * 0 is NaN exactly then; vectorises).
template <typename A>
PYALGO_HD int cx_flags(const Cx<A>* x, int64_t n, int flag) {
  A probe = 0;
  PYALGO_SIMD_REDUCE(+ : probe)
  for (int64_t e = 0; e < n; ++e) probe += x[e].re * A(0) + x[e].im * A(0);
  return probe == A(0) ? 0 : flag;
}

// Every input of one WMMSE instance: H, V_init (kBadInit), p_max, noise and weights.
template <typename A>
PYALGO_HD int miso_instance_flags(const MisoProblem<A>& pr, const Cx<A>* V) {
  const int64_t KN = static_cast<int64_t>(pr.K) * pr.N;
  int flags = cx_flags(pr.h, KN, kBadH) | cx_flags(V, KN, kBadInit) | (finite_pos(pr.p_max) ? 0 : kBadPMax);
  for (int i = 0; i < pr.K; ++i)
    flags |= (finite_pos(pr.noise[i]) ? 0 : kBadNoise) | (finite_nonneg(pr.alpha[i]) ? 0 : kBadWeights);
  return flags;
}

// WMMSE with its inputs checked first: an instance with a bad input is not iterated; its V, u, w
// (and record) are NaN and 0 updates are reported. Sets *flags to the instance's InputFlag bits,
// kBadResult included when the solution is not finite.
template <typename A>
PYALGO_HD int wmmse_miso_checked(const MisoProblem<A>& pr, const MisoWork<A>& ws, Cx<A>* V, Cx<A>* u, A* w,
                                 int max_iter, A tol, A bisection_tol, const MisoRecord<A>& rec, int* flags) {
  const int64_t KN = static_cast<int64_t>(pr.K) * pr.N;
  *flags = miso_instance_flags(pr, V);
  if (*flags != 0) {
    const A nan = hd_nan<A>();
    for (int64_t e = 0; e < KN; ++e) V[e] = {nan, nan};
    for (int i = 0; i < pr.K; ++i) {
      u[i] = {nan, nan};
      w[i] = nan;
    }
    for (int step = 0; step <= max_iter; ++step) miso_record(rec, V, KN, step, nan);
    return 0;
  }
  const int it = wmmse_miso_solve(pr, ws, V, u, w, max_iter, tol, bisection_tol, rec);
  *flags = cx_flags(V, KN, kBadResult);
  return it;
}

// The inputs of user i's rate: row i of H, row i of V (all of V when `all_v`) and noise[i].
template <typename A>
PYALGO_HD int miso_rate_flags(const Cx<A>* h, const Cx<A>* V, const A* noise, int K, int N, int i, bool all_v) {
  const int64_t KN = static_cast<int64_t>(K) * N;
  return cx_flags(h + static_cast<int64_t>(i) * N, N, kBadH) |
         (all_v ? cx_flags(V, KN, kBadP) : cx_flags(V + static_cast<int64_t>(i) * N, N, kBadP)) |
         (finite_pos(noise[i]) ? 0 : kBadNoise);
}

// ---- per-user rates and their gradient --------------------------------------------------------
// rate_i = log2(1 + |s_ii|^2 / (sum_{j != i} |s_ij|^2 + noise_i)), s_ij = h_i . v_j.
template <typename A>
PYALGO_HD A miso_rate_at(const Cx<A>* h, const Cx<A>* V, const A* noise, int K, int N, int i) {
  const MisoLink<A> l = miso_link(h, V, noise, K, N, i);
  return log1p(l.signal / l.interference) / A(kLn2);
}

// Backward, first half (per user i). With q_ij = |s_ij|^2 the rate's derivatives are
// E_ii = grad_i / (ln2 T_i) and E_ij = -grad_i S_i / (ln2 T_i I_i) (j != i, also the noise
// gradient), and dq/d(conj z) gives torch's complex gradient 2 s_ij conj(.) (re + i im parts):
//   grad_h_i = sum_j 2 E_ij s_ij conj(v_j);   stores c_ij = 2 E_ij s_ij for the second half.
template <typename A>
PYALGO_HD void miso_rate_coef_at(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad, A* grad_noise,
                                 Cx<A>* grad_h, Cx<A>* coef, int K, int N, int i) {
  const MisoLink<A> l = miso_link(h, V, noise, K, N, i);
  const A e_direct = grad[i] / (A(kLn2) * (l.interference + l.signal));
  const A e_cross = -e_direct * l.signal / l.interference;
  grad_noise[i] = e_cross;
  const Cx<A>* hi = h + static_cast<int64_t>(i) * N;
  Cx<A>* gh = grad_h == nullptr ? nullptr : grad_h + static_cast<int64_t>(i) * N;
  if (gh != nullptr)
    for (int n = 0; n < N; ++n) gh[n] = {0, 0};
  for (int j = 0; j < K; ++j) {
    const Cx<A>* vj = V + static_cast<int64_t>(j) * N;
    const Cx<A> c = cx_scale(cx_dot(hi, vj, N), A(2) * (j == i ? e_direct : e_cross));
    coef[static_cast<int64_t>(i) * K + j] = c;
    if (gh != nullptr)
      for (int n = 0; n < N; ++n) {
        const Cx<A> t = cx_mul_conj(c, vj[n]);
        gh[n].re += t.re;
        gh[n].im += t.im;
      }
  }
}

// Backward, second half (per user j): grad_v_j = sum_i c_ij conj(h_i).
template <typename A>
PYALGO_HD void miso_rate_grad_at(const Cx<A>* h, const Cx<A>* coef, Cx<A>* grad_v, int K, int N, int j) {
  Cx<A>* gv = grad_v + static_cast<int64_t>(j) * N;
  for (int n = 0; n < N; ++n) gv[n] = {0, 0};
  for (int i = 0; i < K; ++i) {
    const Cx<A> c = coef[static_cast<int64_t>(i) * K + j];
    const Cx<A>* hi = h + static_cast<int64_t>(i) * N;
    for (int n = 0; n < N; ++n) {
      const Cx<A> t = cx_mul_conj(c, hi[n]);
      gv[n].re += t.re;
      gv[n].im += t.im;
    }
  }
}

}  // namespace wireless
}  // namespace pyalgo
