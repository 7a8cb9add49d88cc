// The math of every discrete-estimator kernel, once. Torch-free __host__ __device__ functions
// over one categorical row; estimators_cpu.cpp loops over rows with at::parallel_for and
// estimators_cuda.cu runs one row per CUDA thread, so CPU tests check the GPU's arithmetic.
//
// Notation (shared/specs/reinmax.md §1): x = logits θ of one row (C categories), k = sampled
// index, g = dL/dy (grad of the sample output), g_p = dL/dy_soft, τ = temperature,
// J(p) g = p ⊙ (g − ⟨p, g⟩) the softmax vector-Jacobian product.
// A is the accumulation type (float for half/bfloat16/float, double for double).
#pragma once
#include "../common/hd.h"
#include "../common/philox.h"

namespace pyalgo {
namespace discrete {

// Random streams of one op call: stream 0 holds the sampling uniforms (column 0 for the
// inverse-CDF draw, column i for the Gumbel of category i); GR-MCK's r-th conditional draw
// uses stream 1 + r.
constexpr uint32_t kSampleStream = 0;
constexpr uint32_t kRaoStream0 = 1;

template <typename A>
PYALGO_HD A gumbel_from_uniform(A u) { return -hd_log(-hd_log(u)); }

// Largest logit of the row. Returns false when the row cannot define a distribution:
// a NaN or +inf anywhere, or every entry -inf (or C == 0).
template <typename T, typename A>
PYALGO_HD bool valid_row_max(Row<const T> x, int64_t C, A* max_out) {
  A m = -hd_inf<A>();
  bool finite = true;
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    if (hd_isnan(v) || v == hd_inf<A>()) finite = false;
    m = v > m ? v : m;
  }
  *max_out = m;
  return finite && m > -hd_inf<A>();
}

template <typename T, typename A>
PYALGO_HD void fill_row(Row<T> y, int64_t C, A value) {
  for (int64_t i = 0; i < C; ++i) y[i] = static_cast<T>(value);
}

// ---------------------------------------------------------------------------------------------
// Forward: k ~ Cat(softmax(x)) by inverse CDF on one uniform (stream 0, column 0), written as
// an exactly one-hot row; optionally also writes softmax(x). Two reads of x, one write per
// output. Returns k, or -1 for an invalid row (outputs are then NaN).
// A category with probability 0 (logit -inf, or exp underflow) is never returned.
template <typename T, typename A>
PYALGO_HD int32_t categorical_sample_row(Row<const T> x, int64_t C, PhiloxKey key, int64_t row,
                                         Row<T> one_hot, Row<T> probs /* p == nullptr: skip */) {
  A m;
  if (!valid_row_max<T, A>(x, C, &m)) {
    fill_row<T, A>(one_hot, C, hd_nan<A>());
    if (probs.p) fill_row<T, A>(probs, C, hd_nan<A>());
    return -1;
  }
  A Z = 0;
  for (int64_t i = 0; i < C; ++i) Z += hd_exp(static_cast<A>(x[i]) - m);
  const A target = philox_uniform<A>(key, row, 0, kSampleStream) * Z;
  const A inv_Z = A(1) / Z;
  A cum = 0;
  int32_t k = -1, last_positive = 0;
  for (int64_t i = 0; i < C; ++i) {
    A e = hd_exp(static_cast<A>(x[i]) - m);
    cum += e;
    if (e > 0) last_positive = static_cast<int32_t>(i);
    if (k < 0 && cum > target) k = static_cast<int32_t>(i);
    one_hot[i] = static_cast<T>(A(0));
    if (probs.p) probs[i] = static_cast<T>(e * inv_Z);
  }
  if (k < 0) k = last_positive;  // target rounded up to the total: take the last live category
  one_hot[k] = static_cast<T>(A(1));
  return k;
}

// Gumbel-softmax forward (Jang et al. 2017): z = (x + G)/τ with G_i = −log(−log u_i),
// k = argmax z (distributed as Cat(softmax(x)) for any τ). Writes softmax(z) (soft) or
// one_hot(k) (hard). Returns k, or -1 for an invalid row.
template <typename T, typename A>
PYALGO_HD int32_t gumbel_softmax_row(Row<const T> x, int64_t C, A inv_tau, bool hard,
                                     PhiloxKey key, int64_t row, Row<T> y) {
  RowUniforms<A> u(key, row, kSampleStream);
  A m = -hd_inf<A>(), Z = 0;
  int32_t k = -1;
  bool finite = true;
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    if (hd_isnan(v) || v == hd_inf<A>()) finite = false;
    A z = (v + gumbel_from_uniform(u(i))) * inv_tau;
    if (z > m) {
      Z = Z * hd_exp(m - z) + A(1);
      m = z;
      k = static_cast<int32_t>(i);
    } else if (z > -hd_inf<A>()) {
      Z += hd_exp(z - m);
    }
  }
  if (!finite || k < 0) {
    fill_row<T, A>(y, C, hd_nan<A>());
    return -1;
  }
  if (hard) {
    fill_row<T, A>(y, C, A(0));
    y[k] = static_cast<T>(A(1));
  } else {
    const A inv_Z = A(1) / Z;
    for (int64_t i = 0; i < C; ++i) {
      A z = (static_cast<A>(x[i]) + gumbel_from_uniform(u(i))) * inv_tau;
      y[i] = static_cast<T>(hd_exp(z - m) * inv_Z);
    }
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// out (+)= scale · J(softmax(z)) g for logits z_i = zf(i), in two passes (online max/normalizer,
// then write). Every ST-family backward is this with a different z.
template <typename T, typename O, typename A, typename ZF>
PYALGO_HD void softmax_vjp_row(ZF& zf, Row<const T> g, int64_t C, A scale, bool accumulate,
                               Row<O> out) {
  A m = -hd_inf<A>(), Z = 0, S = 0;
  for (int64_t i = 0; i < C; ++i) {
    A z = zf(i), gi = static_cast<A>(g[i]);
    if (z > m) {
      A c = hd_exp(m - z);
      Z = Z * c + A(1);
      S = S * c + gi;
      m = z;
    } else if (z > -hd_inf<A>()) {
      A e = hd_exp(z - m);
      Z += e;
      S += e * gi;
    }
  }
  const A inv_Z = A(1) / Z, mean_g = S * inv_Z;
  for (int64_t i = 0; i < C; ++i) {
    A z = zf(i);
    A p = z > -hd_inf<A>() ? hd_exp(z - m) * inv_Z : A(0);
    A v = scale * p * (static_cast<A>(g[i]) - mean_g);
    out[i] = static_cast<O>(accumulate ? static_cast<A>(out[i]) + v : v);
  }
}

// z = x/τ: straight-through (ST) backward, (1/τ) J(softmax(x/τ)) g.
template <typename T, typename A>
struct ScaledLogits {
  Row<const T> x;
  A inv_tau;
  PYALGO_HD A operator()(int64_t i) const { return static_cast<A>(x[i]) * inv_tau; }
};

// z = (x + G)/τ with the forward's Gumbels regenerated from the seed (ST-GS / GS backward).
template <typename T, typename A>
struct GumbelLogits {
  Row<const T> x;
  A inv_tau;
  RowUniforms<A> u;
  PYALGO_HD A operator()(int64_t i) { return (static_cast<A>(x[i]) + gumbel_from_uniform(u(i))) * inv_tau; }
};

// Gapped ST (Fan et al. 2022): the sampled logit raised to the max m, every other logit capped
// at m − gap; z = that / τ. (θ + move − move2 in the spec, written per entry.)
template <typename T, typename A>
struct GappedLogits {
  Row<const T> x;
  A inv_tau, max, gap;
  int32_t k;
  PYALGO_HD A operator()(int64_t i) const {
    A v = static_cast<A>(x[i]), cap = max - gap;
    return (i == k ? max : (v < cap ? v : cap)) * inv_tau;
  }
};

// Gumbel-Rao (Paulus et al. 2021) r-th conditional draw given argmax = k, shifted by −m:
// z_k = log Z' − log E_k, z_j = −log(E_j e^{m−x_j} + E_k / Z'), with Z' = Σ e^{x_j − m},
// E ~ Exp(1) from stream 1 + r; then divided by τ.
template <typename T, typename A>
struct RaoLogits {
  Row<const T> x;
  A inv_tau, max, log_Z, inv_Z, Ek;
  int32_t k;
  RowUniforms<A> u;
  PYALGO_HD A operator()(int64_t i) {
    A E = -hd_log(u(i));
    if (i == k) return (log_Z - hd_log(Ek)) * inv_tau;
    return -hd_log(E * hd_exp(max - static_cast<A>(x[i])) + Ek * inv_Z) * inv_tau;
  }
};

template <typename T, typename A>
PYALGO_HD void st_backward_row(Row<const T> x, Row<const T> g, int64_t C, A inv_tau, Row<T> out) {
  ScaledLogits<T, A> zf{x, inv_tau};
  softmax_vjp_row<T, T, A>(zf, g, C, inv_tau, false, out);
}

template <typename T, typename A>
PYALGO_HD void gumbel_softmax_backward_row(Row<const T> x, Row<const T> g, int64_t C, A inv_tau,
                                           PhiloxKey key, int64_t row, Row<T> out) {
  GumbelLogits<T, A> zf{x, inv_tau, RowUniforms<A>(key, row, kSampleStream)};
  softmax_vjp_row<T, T, A>(zf, g, C, inv_tau, false, out);
}

// GST backward: (1/τ) J(softmax(θ̃/τ)) g. gap_is_p selects GST-p, gap = −log(1 − π_k)/π_k.
template <typename T, typename A>
PYALGO_HD void gst_backward_row(Row<const T> x, Row<const T> g, int64_t C, int32_t k, A inv_tau,
                                A gap, bool gap_is_p, Row<T> out) {
  A m = -hd_inf<A>();
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    m = v > m ? v : m;
  }
  if (k < 0 || k >= C) {
    fill_row<T, A>(out, C, hd_nan<A>());
    return;
  }
  if (gap_is_p) {
    A Z = 0;
    for (int64_t i = 0; i < C; ++i) Z += hd_exp(static_cast<A>(x[i]) - m);
    A pk = hd_exp(static_cast<A>(x[k]) - m) / Z;
    gap = pk < A(1) ? -hd_log1p(-pk) / pk : hd_inf<A>();
  }
  GappedLogits<T, A> zf{x, inv_tau, m, gap, k};
  softmax_vjp_row<T, T, A>(zf, g, C, inv_tau, false, out);
}

// GR-MCK backward: (1/(Kτ)) Σ_r J(softmax(z^{(r)})) g, accumulated in O (the accumulation type
// for half inputs).
template <typename T, typename O, typename A>
PYALGO_HD void gumbel_rao_backward_row(Row<const T> x, Row<const T> g, int64_t C, int32_t k,
                                       A inv_tau, int64_t draws, PhiloxKey key, int64_t row,
                                       Row<O> out) {
  if (k < 0 || k >= C) {
    fill_row<O, A>(out, C, hd_nan<A>());
    return;
  }
  A m = -hd_inf<A>();
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    m = v > m ? v : m;
  }
  A Z = 0;
  for (int64_t i = 0; i < C; ++i) Z += hd_exp(static_cast<A>(x[i]) - m);
  const A log_Z = hd_log(Z), inv_Z = A(1) / Z, scale = inv_tau / static_cast<A>(draws);
  for (int64_t r = 0; r < draws; ++r) {
    RowUniforms<A> u(key, row, kRaoStream0 + static_cast<uint32_t>(r));
    A Ek = -hd_log(u(k));
    RaoLogits<T, A> zf{x, inv_tau, m, log_Z, inv_Z, Ek, k, u};
    softmax_vjp_row<T, O, A>(zf, g, C, scale, r > 0, out);
  }
}

// ReinMax backward (Liu et al. 2023, Algorithm 2), fused closed form (spec §1.2):
//   grad_i = [i=k] g_k + π_τ,i g_i − ([i=k] + π_τ,i)(g_k + s_τ)/2 + π_0,i (h_i − ⟨π_0, h⟩),
//   s_τ = ⟨π_τ, g⟩, h = g_p − g/2, π_0 = softmax(x), π_τ = softmax(x/τ);
// then grad −= mean(grad) as the official package does. gp.p == nullptr means g_p = 0.
template <typename T, typename A>
PYALGO_HD void reinmax_backward_row(Row<const T> x, Row<const T> g, Row<const T> gp, int64_t C,
                                    int32_t k, A inv_tau, Row<T> out) {
  if (k < 0 || k >= C) {
    fill_row<T, A>(out, C, hd_nan<A>());
    return;
  }
  const bool same_tau = inv_tau == A(1);
  A m = -hd_inf<A>(), Z0 = 0, H0 = 0, Zt = 0, St = 0;
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]), gi = static_cast<A>(g[i]);
    A hi = (gp.p ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    if (v > m) {
      A c0 = hd_exp(m - v), ct = same_tau ? c0 : hd_exp((m - v) * inv_tau);
      Z0 = Z0 * c0 + A(1);
      H0 = H0 * c0 + hi;
      Zt = Zt * ct + A(1);
      St = St * ct + gi;
      m = v;
    } else if (v > -hd_inf<A>()) {
      A e0 = hd_exp(v - m), et = same_tau ? e0 : hd_exp((v - m) * inv_tau);
      Z0 += e0;
      H0 += e0 * hi;
      Zt += et;
      St += et * gi;
    }
  }
  const A inv_Z0 = A(1) / Z0, inv_Zt = A(1) / Zt;
  const A t0 = H0 * inv_Z0, gk = static_cast<A>(g[k]);
  const A half = A(0.5) * (gk + St * inv_Zt);
  A sum = 0;
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]), gi = static_cast<A>(g[i]);
    A hi = (gp.p ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    A p0 = 0, pt = 0;
    if (v > -hd_inf<A>()) {
      A e0 = hd_exp(v - m);
      p0 = e0 * inv_Z0;
      pt = (same_tau ? e0 : hd_exp((v - m) * inv_tau)) * inv_Zt;
    }
    A hot = i == k ? A(1) : A(0);
    A grad = hot * gk + pt * gi - (hot + pt) * half + p0 * (hi - t0);
    out[i] = static_cast<T>(grad);
    sum += grad;
  }
  const A mean = sum / static_cast<A>(C);
  for (int64_t i = 0; i < C; ++i) out[i] = static_cast<T>(static_cast<A>(out[i]) - mean);
}

// ---------------------------------------------------------------------------------------------
// Per-row entry points over a whole tensor. Both launchers call exactly these.
template <typename T, typename A>
PYALGO_HD void categorical_sample_at(const T* x, T* one_hot, T* probs, int32_t* index,
                                     RowLayout L, PhiloxKey key, int64_t r) {
  Row<T> probs_row = probs ? row_at(probs, L, r) : Row<T>{nullptr, 0};
  index[r] = categorical_sample_row<T, A>(row_at(x, L, r), L.C, key, r, row_at(one_hot, L, r), probs_row);
}

template <typename T, typename A>
PYALGO_HD void gumbel_softmax_at(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau,
                                 bool hard, PhiloxKey key, int64_t r) {
  index[r] = gumbel_softmax_row<T, A>(row_at(x, L, r), L.C, inv_tau, hard, key, r, row_at(y, L, r));
}

template <typename T, typename A>
PYALGO_HD void reinmax_backward_at(const T* x, const int32_t* index, const T* g, const T* gp,
                                   T* out, RowLayout L, A inv_tau, int64_t r) {
  Row<const T> gp_row = gp ? row_at(gp, L, r) : Row<const T>{nullptr, 0};
  reinmax_backward_row<T, A>(row_at(x, L, r), row_at(g, L, r), gp_row, L.C, index[r], inv_tau,
                             row_at(out, L, r));
}

template <typename T, typename A>
PYALGO_HD void st_backward_at(const T* x, const T* g, T* out, RowLayout L, A inv_tau, int64_t r) {
  st_backward_row<T, A>(row_at(x, L, r), row_at(g, L, r), L.C, inv_tau, row_at(out, L, r));
}

template <typename T, typename A>
PYALGO_HD void gumbel_softmax_backward_at(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                          PhiloxKey key, int64_t r) {
  gumbel_softmax_backward_row<T, A>(row_at(x, L, r), row_at(g, L, r), L.C, inv_tau, key, r,
                                    row_at(out, L, r));
}

template <typename T, typename A>
PYALGO_HD void gst_backward_at(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                               A inv_tau, A gap, bool gap_is_p, int64_t r) {
  gst_backward_row<T, A>(row_at(x, L, r), row_at(g, L, r), L.C, index[r], inv_tau, gap, gap_is_p,
                         row_at(out, L, r));
}

template <typename T, typename O, typename A>
PYALGO_HD void gumbel_rao_backward_at(const T* x, const int32_t* index, const T* g, O* out,
                                      RowLayout L, A inv_tau, int64_t draws, PhiloxKey key,
                                      int64_t r) {
  gumbel_rao_backward_row<T, O, A>(row_at(x, L, r), row_at(g, L, r), L.C, index[r], inv_tau, draws,
                                   key, r, row_at(out, L, r));
}

// The raw stream, for tests and users: out[r, c] = uniform(row r, column c, stream).
template <typename A>
PYALGO_HD void philox_uniform_at(A* out, int64_t cols, PhiloxKey key, uint32_t stream, int64_t r) {
  RowUniforms<A> u(key, r, stream);
  for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = u(c);
}

}  // namespace discrete
}  // namespace pyalgo
