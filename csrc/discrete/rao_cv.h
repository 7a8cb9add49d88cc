// ReinMax-Rao and ReinMax-CV (Wang & Bui, "Beyond ReinMax", arXiv 2603.08257, 2026): the per-row
// bodies, torch-free __host__ __device__ functions shared by the CPU launcher (parallel_for over
// rows) and the CUDA launcher (one row per thread). Notation as in estimators.h, plus
//   π₀ = softmax(x), π_τ = softmax(x/τ), D = one_hot(k),
//   π₁ = (π₀ + D)/2 (τ-free), ℓ₁ = log π₁:  ℓ₁,j = x_j − L (j ≠ k), L = max x + log Σe^{x−max} + log 2,
//                                            ℓ₁,k = log1p(π₀,k) − log 2 (Σ e^{ℓ₁} = 1).
//
// Conditional Gumbel draws of ψ = ℓ₁ + G given argmax ψ = k (log Z = 0 since Σ e^{ℓ₁} = 1), with
// E ~ Exp(1) from Philox stream 1 + r (the streams GR-MCK uses, so `philox_exp_noise` rebuilds them):
//   ψ_k = −log E_k,   ψ_j = ℓ₁,j − log(E_j + E_k π₁,j)   (j ≠ k; π₁,j = e^{ℓ₁,j}, no e^{−ℓ} anywhere).
// ψ_k is the row max, so p_r = softmax(ψ^{(r)}/t) needs no max search: e_j = exp((ψ_j − ψ_k)/t).
//
// Backward (all from the logits; no second-order terms), with h = g_p − g/2, K draws:
//   Rao: grad = (2/(Kτ)) Σ_r J(p_r) g + π₀ ⊙ (h − ⟨π₀, h⟩),                     p_r at t = τ
//   CV:  grad = ReinMax(τ) + (η/τ₂) [(1/K) Σ_r J(p_r) g − J(s) g],                p_r at t = τ₂,
//        s = softmax(ℓ₁ + ξ) with ξ = softmax((x + G)/τ) the forward's soft sample ("soft", the
//        authors' released form), or s = softmax((ℓ₁ + G)/τ₂) ("gumbel"); G = the forward's Gumbels
//        (stream 0), regenerated, never stored.
// then grad −= mean(grad). Σ_r J(p_r) g = Σ_r p_r ⊙ (g − ⟨p_r, g⟩) = K (P̄ ⊙ g − B) with the paper's
// accumulators P̄ = mean p_r and B = mean p_r ⟨p_r, g⟩: it is accumulated in one O(C) row of the
// accumulation type (the op's output buffer), never a K×C buffer.
#pragma once
#include "estimators.h"

namespace pyalgo {
namespace discrete {

enum BeyondMode : int { kBeyondRao = 0, kBeyondCvSoft = 1, kBeyondCvGumbel = 2 };

// The scalars of one ReinMax-Rao / ReinMax-CV backward call.
template <typename A>
struct BeyondArgs {
  A inv_tau = A(1);   // 1/τ (Rao: the draws' temperature; CV: ReinMax's and ξ's)
  A inv_tau2 = A(1);  // CV: 1/τ₂
  A eta = A(0);       // CV: η
  int64_t draws = 1;  // K
  int mode = kBeyondRao;
};

template <typename A>
PYALGO_HD A log_two() { return A(0.693147180559945309417232121458176568); }

// ---- forward ---------------------------------------------------------------------------------
// ReinMax-CV's forward: k = argmax(x + G), G_i = −log(−log u_i) from stream 0 (the Gumbel-max
// sampler of gumbel_softmax(hard=True): k ~ Cat(softmax(x))), one_hot(k) and probs = softmax(x).
// Returns k, or -1 for an invalid row (outputs NaN). (ReinMax-Rao's forward is ReinMax's sampler.)
template <typename T, typename A, bool U>
PYALGO_HD int32_t reinmax_cv_forward_row(Row<const T, U> x, int64_t C, PhiloxKey key, int64_t row,
                                         Row<T, U> one_hot, Row<T, U> probs) {
  const int32_t k = gumbel_softmax_row<T, A, U>(x, C, A(1), /*hard=*/true, key, row, one_hot);
  if (k < 0) {
    fill_row<T, A, U>(probs, C, hd_nan<A>());
    return -1;
  }
  const A m = row_max<T, A, U>(x, C);
  const A inv_Z = A(1) / row_exp_sum<T, A, U>(x, C, m);
  PYALGO_SIMD
  for (int64_t i = 0; i < C; ++i) probs[i] = static_cast<T>(exp_nonpos(static_cast<A>(x[i]) - m) * inv_Z);
  return k;
}

// ---- the conditional-Gumbel draws ------------------------------------------------------------

// e_j = exp((ψ_j − ψ_k)·it) of columns [i0, i0 + n) of one draw (E_k, c = log E_k given), into buf.
// ψ_j − ψ_k = ℓ₁,j + log E_k − log(E_j + E_k π₁,j) <= 0 (clamped: rounding may leave a hair above).
template <typename T, typename A, bool U>
PYALGO_HD void cond_gumbel_chunk(Row<const T, U> x, int64_t i0, int n, int32_t k, A L, A Ek, A c, A it,
                                 PhiloxKey key, int64_t row, uint32_t stream, A* buf) {
  uniform_chunk<A>(key, row, i0, n, stream, buf);
  PYALGO_SIMD
  for (int j = 0; j < n; ++j) {
    const A l1 = static_cast<A>(x[i0 + j]) - L;
    const A E = -log_pos(buf[j]);
    A d = (l1 + c - log_pos(E + Ek * exp_nonpos(l1))) * it;
    d = d < A(0) ? d : A(0);
    buf[j] = exp_nonpos(d);
  }
  if (k >= i0 && k < i0 + n) buf[k - i0] = A(1);
}

// out[j] += scale Σ_r p_r,j (g_j − ⟨p_r, g⟩), p_r = softmax(ψ^{(r)}·it), r = 0..draws−1, ψ^{(r)}
// the conditional draws of ℓ₁ (= x − L off k) given k from streams kRaoStream0 + r.
// Rows of at most kLaneC categories run kDrawLanes draws side by side (the draws are the vector
// lanes: a 10-wide row would leave most of a vector idle, and the per-draw set-up would dominate).
constexpr int kLaneC = 16;
constexpr int kDrawLanes = 16;

template <typename T, typename O, typename A, bool U>
PYALGO_HD void cond_gumbel_vjp_small_row(Row<const T, U> x, Row<const T, U> g, int n, int32_t k, A L, A it,
                                         A scale, int64_t draws, PhiloxKey key, int64_t row, Row<O, U> out) {
  A l1[kLaneC], p1[kLaneC], gg[kLaneC], acc[kLaneC];
  A u[kLaneC];                 // one draw's uniforms (whole Philox blocks: n <= kLaneC)
  A e[kLaneC][kDrawLanes];     // e[j][i]: column j of draw r0 + i
  A Ek[kDrawLanes], c[kDrawLanes], Z[kDrawLanes], S[kDrawLanes], w[kDrawLanes], s[kDrawLanes];
  for (int j = 0; j < n; ++j) {
    l1[j] = static_cast<A>(x[j]) - L;
    p1[j] = exp_nonpos(l1[j]);
    gg[j] = static_cast<A>(g[j]);
    acc[j] = A(0);
  }
  for (int64_t r0 = 0; r0 < draws; r0 += kDrawLanes) {
    const int R = draws - r0 < kDrawLanes ? static_cast<int>(draws - r0) : kDrawLanes;
    for (int i = 0; i < R; ++i) {
      uniform_chunk<A>(key, row, 0, n, kRaoStream0 + static_cast<uint32_t>(r0 + i), u);
      for (int j = 0; j < n; ++j) e[j][i] = u[j];
      Ek[i] = -log_pos(u[k]);
      c[i] = log_pos(Ek[i]);
      Z[i] = A(0);
      S[i] = A(0);
    }
    for (int j = 0; j < n; ++j) {
      const A lj = l1[j], pj = p1[j], gj = gg[j];
      A* ej = e[j];
      PYALGO_SIMD
      for (int i = 0; i < R; ++i) {
        const A E = -log_pos(ej[i]);
        A d = (lj + c[i] - log_pos(E + Ek[i] * pj)) * it;
        d = d < A(0) ? d : A(0);
        const A v = j == k ? A(1) : exp_nonpos(d);  // ψ_k is the max: e_k = 1
        ej[i] = v;
        Z[i] += v;
        S[i] += v * gj;
      }
    }
    PYALGO_SIMD
    for (int i = 0; i < R; ++i) {
      const A inv_Z = A(1) / Z[i];
      w[i] = scale * inv_Z;
      s[i] = S[i] * inv_Z;
    }
    for (int j = 0; j < n; ++j) {
      const A gj = gg[j];
      const A* ej = e[j];
      A a = 0;
      PYALGO_SIMD_REDUCE(+ : a)
      for (int i = 0; i < R; ++i) a += w[i] * ej[i] * (gj - s[i]);
      acc[j] += a;
    }
  }
  for (int j = 0; j < n; ++j) out[j] = static_cast<O>(static_cast<A>(out[j]) + acc[j]);
}

template <typename T, typename O, typename A, bool U>
PYALGO_HD void cond_gumbel_vjp_row(Row<const T, U> x, Row<const T, U> g, int64_t C, int32_t k, A L, A it,
                                   A scale, int64_t draws, PhiloxKey key, int64_t row, Row<O, U> out) {
  if (C <= kLaneC) {
    cond_gumbel_vjp_small_row<T, O, A, U>(x, g, static_cast<int>(C), k, L, it, scale, draws, key, row, out);
    return;
  }
  if (C <= kChunk) {
    // Short rows: ℓ₁, π₁ and g are kept, and each draw's noise is generated once.
    const int n = static_cast<int>(C);
    A l1[kChunk], p1[kChunk], gg[kChunk], acc[kChunk], e[kChunk];
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) {
      l1[j] = static_cast<A>(x[j]) - L;
      p1[j] = exp_nonpos(l1[j]);
      gg[j] = static_cast<A>(g[j]);
      acc[j] = A(0);
    }
    const A gk = gg[k];
    for (int64_t r = 0; r < draws; ++r) {
      const uint32_t stream = kRaoStream0 + static_cast<uint32_t>(r);
      uniform_chunk<A>(key, row, 0, n, stream, e);
      const A Ek = -log_pos(e[k]), c = log_pos(Ek);
      A Z = 0, S = 0;
      PYALGO_SIMD_REDUCE(+ : Z, S)
      for (int j = 0; j < n; ++j) {
        const A E = -log_pos(e[j]);
        A d = (l1[j] + c - log_pos(E + Ek * p1[j])) * it;
        d = d < A(0) ? d : A(0);
        const A v = exp_nonpos(d);
        e[j] = v;
        Z += v;
        S += v * gg[j];
      }
      // ψ_k is the max: e_k = 1 (the loop's value at k is replaced, keeping the loop branch-free)
      Z += A(1) - e[k];
      S += (A(1) - e[k]) * gk;
      e[k] = A(1);
      const A inv_Z = A(1) / Z, s = S * inv_Z, w = scale * inv_Z;
      PYALGO_SIMD
      for (int j = 0; j < n; ++j) acc[j] += w * e[j] * (gg[j] - s);
    }
    for (int j = 0; j < n; ++j) out[j] = static_cast<O>(static_cast<A>(out[j]) + acc[j]);
    return;
  }
  // Long rows: two passes per draw (normaliser and ⟨p, g⟩, then the update), noise regenerated.
  A buf[kChunk];
  for (int64_t r = 0; r < draws; ++r) {
    const uint32_t stream = kRaoStream0 + static_cast<uint32_t>(r);
    const A Ek = -log_pos(philox_uniform<A>(key, row, k, stream)), c = log_pos(Ek);
    A Z = 0, S = 0;
    for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
      const int n = chunk_size(C, i0);
      cond_gumbel_chunk<T, A, U>(x, i0, n, k, L, Ek, c, it, key, row, stream, buf);
      A cz = 0, cs = 0;
      PYALGO_SIMD_REDUCE(+ : cz, cs)
      for (int j = 0; j < n; ++j) {
        cz += buf[j];
        cs += buf[j] * static_cast<A>(g[i0 + j]);
      }
      Z += cz;
      S += cs;
    }
    const A inv_Z = A(1) / Z, s = S * inv_Z, w = scale * inv_Z;
    for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
      const int n = chunk_size(C, i0);
      cond_gumbel_chunk<T, A, U>(x, i0, n, k, L, Ek, c, it, key, row, stream, buf);
      PYALGO_SIMD
      for (int j = 0; j < n; ++j)
        out[i0 + j] = static_cast<O>(static_cast<A>(out[i0 + j]) + w * buf[j] * (static_cast<A>(g[i0 + j]) - s));
    }
  }
}

// ---- ReinMax-CV's control-variate sample s (logit producers for softmax_vjp_row) -----------

// max and normaliser Σ exp(z − max) of the logits z that zf produces (the first pass of
// softmax_vjp_row, with its overflow rescue).
template <typename T, typename A, bool U, typename ZF>
PYALGO_HD void softmax_max_norm(ZF& zf, int64_t C, A* m_out, A* Z_out) {
  A buf[kChunk];
  A m, Z;
again:
  m = -hd_inf<A>(), Z = 0;
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    zf.fill(i0, n, buf);
    const A cm = chunk_max(buf, n);
    if (cm > m) {
      if (m > -hd_inf<A>()) Z *= exp_nonpos(m - cm);
      m = cm;
    }
    if (!(m > -hd_inf<A>())) continue;
    A cz = 0;
    PYALGO_SIMD_REDUCE(+ : cz)
    for (int j = 0; j < n; ++j) cz += exp_nonpos(buf[j] - m);
    Z += cz;
  }
  if (!(m > -big_logit<A>() && m < big_logit<A>()))
    if (zf.rescue(m, [&] { return row_max<T, A, U>(zf.x, C); })) goto again;
  *m_out = m;
  *Z_out = Z;
}

// "soft": z = ℓ₁ + ξ, ξ = softmax((x + G)/τ) (gz with its max mz and 1/normaliser inv_Zz). z <= 1
// and z_k >= −log 2, so no rescue is ever needed.
template <typename T, typename A, bool U>
struct CvSoftLogits {
  static constexpr bool kCostly = true;
  Row<const T, U> x;
  GumbelLogits<T, A, U> gz;
  A mz, inv_Zz, L, l1k;
  int32_t k;
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    gz.fill(i0, n, buf);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) buf[j] = exp_nonpos(buf[j] - mz) * inv_Zz;
    const bool has_k = k >= i0 && k < i0 + n;
    const A zk = has_k ? l1k + buf[k - i0] : A(0);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) buf[j] += static_cast<A>(x[i0 + j]) - L;
    if (has_k) buf[k - i0] = zk;
  }
  template <typename XMax>
  PYALGO_HD bool rescue(A, const XMax&) { return false; }
};

// "gumbel": z = (ℓ₁ + G)/τ₂. ℓ₁ + G <= 16.7 (40 in float64) and z_k is finite for τ₂ >= min_tau, so
// the max is finite and no rescue is needed either.
template <typename T, typename A, bool U>
struct CvGumbelLogits {
  static constexpr bool kCostly = true;
  Row<const T, U> x;
  A inv_tau2, L, l1k;
  int32_t k;
  PhiloxKey key;
  int64_t row;
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    uniform_chunk<A>(key, row, i0, n, kSampleStream, buf);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) buf[j] = -log_pos(-log_pos(buf[j]));  // G
    const bool has_k = k >= i0 && k < i0 + n;
    const A zk = has_k ? (l1k + buf[k - i0]) * inv_tau2 : A(0);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) buf[j] = (static_cast<A>(x[i0 + j]) - L + buf[j]) * inv_tau2;
    if (has_k) buf[k - i0] = zk;
  }
  template <typename XMax>
  PYALGO_HD bool rescue(A, const XMax&) { return false; }
};

// ---- backward ----------------------------------------------------------------------------------
// The whole ReinMax-Rao / ReinMax-CV gradient of one row (mode in a), into `out` of the
// accumulation type O (row-centred). kHasGp = false means g_p = 0. key: the forward's seed.
template <typename T, typename O, typename A, bool U, bool kHasGp>
PYALGO_HD void beyond_backward_row(Row<const T, U> x, Row<const T, U> g, Row<const T, U> gp, int64_t C,
                                   int32_t k, const BeyondArgs<A>& a, PhiloxKey key, int64_t row,
                                   Row<O, U> out) {
  if (k < 0 || k >= C) {
    fill_row<O, A, U>(out, C, hd_nan<A>());
    return;
  }
  const bool cv = a.mode != kBeyondRao;
  const bool same_tau = a.inv_tau == A(1);
  // π₀ (and π_τ for CV's ReinMax part): normalisers and ⟨π₀, h⟩, ⟨π_τ, g⟩.
  const A m = row_max<T, A, U>(x, C);
  A Z0 = 0, H0 = 0, Zt = 0, St = 0;
  PYALGO_SIMD_REDUCE(+ : Z0, H0, Zt, St)
  for (int64_t i = 0; i < C; ++i) {
    const A gi = static_cast<A>(g[i]);
    const A hi = (kHasGp ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    const A d = static_cast<A>(x[i]) - m;
    const A e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(d * a.inv_tau);
    Z0 += e0;
    H0 += e0 * hi;
    Zt += et;
    St += et * gi;
  }
  const A inv_Z0 = A(1) / Z0, inv_Zt = A(1) / Zt, t0 = H0 * inv_Z0;
  const A gk = static_cast<A>(g[k]);
  const A half = A(0.5) * (gk + St * inv_Zt);
  // The base term: π₀ ⊙ (h − ⟨π₀, h⟩) = −½J(π₀)g + J(π₀)g_p, plus for CV ReinMax's 2J(π₁^τ)g,
  // π₁^τ = (π_τ + D)/2, i.e. ReinMax's closed form (estimators.h), not yet centred.
  const A ct = cv ? A(1) : A(0);
  PYALGO_SIMD
  for (int64_t i = 0; i < C; ++i) {
    const A gi = static_cast<A>(g[i]);
    const A hi = (kHasGp ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    const A d = static_cast<A>(x[i]) - m;
    const A e0 = exp_nonpos(d);
    const A pt = cv ? (same_tau ? e0 : exp_nonpos(d * a.inv_tau)) * inv_Zt : A(0);
    out[i] = static_cast<O>(ct * pt * (gi - half) + e0 * inv_Z0 * (hi - t0));
  }
  if (cv) out[k] = static_cast<O>(static_cast<A>(out[k]) + gk - half);
  // ℓ₁ = log π₁: x − L off k; at k, log1p(π₀,k) − log 2.
  const A log_Z0 = log_pos(Z0);
  const A L = m + log_Z0 + log_two<A>();
  const A pk = exp_nonpos(static_cast<A>(x[k]) - m) * inv_Z0;
  const A l1k = hd_log1p(pk) - log_two<A>();
  const A draws = static_cast<A>(a.draws);
  if (!cv) {
    cond_gumbel_vjp_row<T, O, A, U>(x, g, C, k, L, a.inv_tau, A(2) * a.inv_tau / draws, a.draws, key, row, out);
  } else {
    const A w = a.eta * a.inv_tau2;
    cond_gumbel_vjp_row<T, O, A, U>(x, g, C, k, L, a.inv_tau2, w / draws, a.draws, key, row, out);
    // − (η/τ₂) J(s) g
    if (a.mode == kBeyondCvSoft) {
      GumbelLogits<T, A, U> gz{x, a.inv_tau, key, row};
      A mz, Zz;
      softmax_max_norm<T, A, U>(gz, C, &mz, &Zz);
      CvSoftLogits<T, A, U> zf{x, gz, mz, A(1) / Zz, L, l1k, k};
      softmax_vjp_row<T, O, A, U>(zf, g, C, -w, true, out);
    } else {
      CvGumbelLogits<T, A, U> zf{x, a.inv_tau2, L, l1k, k, key, row};
      softmax_vjp_row<T, O, A, U>(zf, g, C, -w, true, out);
    }
  }
  A sum = 0;
  PYALGO_SIMD_REDUCE(+ : sum)
  for (int64_t i = 0; i < C; ++i) sum += static_cast<A>(out[i]);
  const A mean = sum / static_cast<A>(C);
  PYALGO_SIMD
  for (int64_t i = 0; i < C; ++i) out[i] = static_cast<O>(static_cast<A>(out[i]) - mean);
}

// ---- per-row entry points over a whole tensor (both launchers call exactly these) -----------

template <typename T, typename A, bool U>
PYALGO_HD void reinmax_cv_forward_at(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                     PhiloxKey key, int64_t r) {
  index[r] = reinmax_cv_forward_row<T, A, U>(row_at<U>(x, L, r), L.C, key, r, row_at<U>(one_hot, L, r),
                                             row_at<U>(probs, L, r));
}

template <typename T, typename O, typename A, bool U>
PYALGO_HD void beyond_backward_at(const T* x, const int32_t* index, const T* g, const T* gp, O* out,
                                  RowLayout L, const BeyondArgs<A>& a, PhiloxKey key, int64_t r) {
  if (gp)
    beyond_backward_row<T, O, A, U, true>(row_at<U>(x, L, r), row_at<U>(g, L, r), row_at<U>(gp, L, r), L.C,
                                          index[r], a, key, r, row_at<U>(out, L, r));
  else
    beyond_backward_row<T, O, A, U, false>(row_at<U>(x, L, r), row_at<U>(g, L, r),
                                           Row<const T, U>{nullptr, 0}, L.C, index[r], a, key, r,
                                           row_at<U>(out, L, r));
}

}  // namespace discrete
}  // namespace pyalgo
