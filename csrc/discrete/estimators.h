// The math of every discrete-estimator kernel, once. Torch-free __host__ __device__ functions
// over one categorical row; estimators_cpu.cpp loops over rows with parallel_for and
// estimators_kernels.cu runs one row per CUDA thread, so CPU tests check the GPU's arithmetic.
//
// Notation (docs/discrete.md): x = logits θ of one row (C categories), k = sampled
// index, g = dL/dy (grad of the sample output), g_p = dL/dy_soft, τ = temperature,
// J(p) g = p ⊙ (g − ⟨p, g⟩) the softmax vector-Jacobian product.
// T is the storage type, A the accumulation type (float for half/bfloat16/float, double for
// double). U: the row is contiguous (dim = -1), known at compile time.
//
// Rows are processed in chunks of kChunk columns held in registers/stack: each chunk's values
// (logits, or noisy logits regenerated from the Philox stream) are produced once per pass, and
// the per-chunk loops are simple enough for g++ to vectorise (PYALGO_SIMD).
#pragma once
#include "../common/hd.h"
#include "../common/philox.h"

namespace pyalgo {
namespace discrete {

constexpr int kChunk = 64;  // columns per chunk: a whole number of Philox blocks (4 floats, 2 doubles)

// Random streams of one op call: stream 0 holds the sampling uniforms (column 0 for the
// inverse-CDF draw, column i for the Gumbel of category i); GR-MCK's r-th conditional draw
// uses stream 1 + r.
constexpr uint32_t kSampleStream = 0;
constexpr uint32_t kRaoStream0 = 1;

PYALGO_HD int chunk_size(int64_t C, int64_t i0) {
  return C - i0 < kChunk ? static_cast<int>(C - i0) : kChunk;
}

// u[j] = uniform at (row, col0 + j, stream) for j < n (the buffer holds kChunk entries); col0 is a
// multiple of kChunk. The same numbers as philox_uniform<A>(key, row, col0 + j, stream): one
// Philox block per 4 floats (2 doubles), so a short row needs only ceil(n / 4) blocks.
template <typename A>
PYALGO_HD void uniform_chunk(PhiloxKey key, int64_t row, int64_t col0, int n, uint32_t stream, A* u) {
  constexpr int per = Uniform<A>::per_block;
  const int64_t first = col0 / per;
  for (int b = 0; b * per < n; ++b) Uniform<A>::store_block(philox_block(key, row, first + b, stream), u + b * per);
}

// Chunk <-> row copies (used to park regenerated logits in an output row between passes).
template <typename T, typename A, bool U>
PYALGO_HD void store_chunk(Row<T, U> row, int64_t i0, int n, const A* buf) {
  PYALGO_SIMD
  for (int j = 0; j < n; ++j) row[i0 + j] = static_cast<T>(buf[j]);
}

template <typename T, typename A, bool U>
PYALGO_HD void load_chunk(Row<T, U> row, int64_t i0, int n, A* buf) {
  PYALGO_SIMD
  for (int j = 0; j < n; ++j) buf[j] = static_cast<A>(row[i0 + j]);
}

template <typename A>
PYALGO_HD A chunk_max(const A* buf, int n) {
  A m = -hd_inf<A>();
  PYALGO_SIMD_REDUCE(max : m)
  for (int j = 0; j < n; ++j) m = buf[j] > m ? buf[j] : m;
  return m;
}

// Largest logit of the row. Returns false when the row cannot define a distribution:
// a NaN or +inf anywhere, or every entry -inf.
template <typename T, typename A, bool U>
PYALGO_HD bool valid_row_max(Row<const T, U> x, int64_t C, A* max_out) {
  A m = -hd_inf<A>();
  int bad = 0;
  PYALGO_SIMD_REDUCE(max : m)
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    m = v > m ? v : m;
  }
  PYALGO_SIMD_REDUCE(| : bad)
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    bad |= static_cast<int>(hd_isnan(v)) | static_cast<int>(v == hd_inf<A>());
  }
  *max_out = m;
  return bad == 0 && m > -hd_inf<A>();
}

template <typename T, typename A, bool U>
PYALGO_HD A row_max(Row<const T, U> x, int64_t C) {
  A m = -hd_inf<A>();
  PYALGO_SIMD_REDUCE(max : m)
  for (int64_t i = 0; i < C; ++i) {
    A v = static_cast<A>(x[i]);
    m = v > m ? v : m;
  }
  return m;
}

// Σ_i exp(x_i − m)
template <typename T, typename A, bool U>
PYALGO_HD A row_exp_sum(Row<const T, U> x, int64_t C, A m) {
  A Z = 0;
  PYALGO_SIMD_REDUCE(+ : Z)
  for (int64_t i = 0; i < C; ++i) Z += exp_nonpos(static_cast<A>(x[i]) - m);
  return Z;
}

template <typename T, typename A, bool U>
PYALGO_HD void fill_row(Row<T, U> y, int64_t C, A value) {
  PYALGO_SIMD
  for (int64_t i = 0; i < C; ++i) y[i] = static_cast<T>(value);
}

// ---- chunk producers: fill(i0, n, buf) writes the logits z of columns [i0, i0 + n) ----------

// The largest |z| a softmax pass takes at face value: beyond it (or when z overflowed), a logit
// producer may take z relative to its row's largest logit instead (see the rescue methods).
template <typename A>
PYALGO_HD A big_logit() { return sizeof(A) == sizeof(float) ? A(3.4028234e38f / 4) : A(1.7976931348623157e308 / 4); }

template <typename A>
PYALGO_HD bool finite_logit(A m) { return m > -hd_inf<A>() && m < hd_inf<A>(); }

// Every producer's z is (w − shift)·inv_tau for unscaled logits w; shift = 0 (the plain formula,
// bit for bit) unless the first softmax pass found no finite max (every z overflowed to −inf, or
// some to +inf: tiny τ against large logits). rescue(m, xmax) then sets shift to the row's largest
// w (softmax(z) does not change) and returns true: the pass is redone. xmax() gives max_i x_i.

// z = (x − shift) · scale (scale = 1/τ for ST; 1 for ReinMax).
template <typename T, typename A, bool U>
struct ScaledLogits {
  static constexpr bool kCostly = false;
  Row<const T, U> x;
  A scale;
  A shift = 0;
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) buf[j] = (static_cast<A>(x[i0 + j]) - shift) * scale;
  }
  template <typename XMax>
  PYALGO_HD bool rescue(A m, const XMax& xmax) {
    if (finite_logit(m) || shift != A(0)) return false;
    shift = xmax();
    return shift != A(0);
  }
};

// The shift of the Gumbel logits of a row whose largest logit is xmax. The row max's z =
// (xmax + G)/τ, G in [−2.9, 16.7], is finite unless τ is tiny against |xmax| (e.g. logits of −1e38
// with τ = 0.1): then every z would overflow, to −inf (no category picked) or +inf, so z is
// taken relative to xmax instead, which changes neither the sample's law nor softmax(z). 0 (the
// plain formula, bit for bit) whenever it is finite.
// (G is in [−2.9, 16.7] for float uniforms, [−3.6, 36.8] for double ones: the bounds cover both.)
template <typename A>
PYALGO_HD A gumbel_shift(A xmax, A inv_tau) {
  const A lo = (xmax - A(4)) * inv_tau, hi = (xmax + A(40)) * inv_tau;
  return lo > -hd_inf<A>() && hi < hd_inf<A>() ? A(0) : xmax;
}

// z = (x + G)/τ, G_i = −log(−log u_i) from stream 0: the Gumbel-softmax logits, regenerated
// identically in forward and backward.
template <typename T, typename A, bool U>
struct GumbelLogits {
  static constexpr bool kCostly = true;  // Philox + two logs per entry: worth caching
  Row<const T, U> x;
  A inv_tau;
  PhiloxKey key;
  int64_t row;
  A shift = 0;  // z = (x − shift + G)/τ; see gumbel_shift
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    uniform_chunk<A>(key, row, i0, n, kSampleStream, buf);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j)
      buf[j] = (static_cast<A>(x[i0 + j]) - shift - log_pos(-log_pos(buf[j]))) * inv_tau;
  }
  // Backward: the forward's shift, gumbel_shift(xmax, inv_tau), is non-zero only if the plain
  // pass's max m is beyond ±big_logit (|xmax|/τ is then near the type's max and |G/τ| <= 40e30),
  // so xmax is read only then; the same shift as the forward's keeps softmax(z) bitwise equal.
  template <typename XMax>
  PYALGO_HD bool rescue(A m, const XMax& xmax) {
    if ((m > -big_logit<A>() && m < big_logit<A>()) || shift != A(0)) return false;
    shift = gumbel_shift(xmax(), inv_tau);
    return shift != A(0);
  }
};

// Gapped ST (Fan et al. 2022): the sampled logit raised to the row max m, every other logit
// capped at m − gap; z = that / τ. (θ + move − move2 in the spec, written per entry.)
template <typename T, typename A, bool U>
struct GappedLogits {
  static constexpr bool kCostly = false;
  Row<const T, U> x;
  A inv_tau, max, gap;
  int32_t k;
  A shift = 0;
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    const A cap = max - gap;
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) {
      A v = static_cast<A>(x[i0 + j]);
      buf[j] = ((v < cap ? v : cap) - shift) * inv_tau;
    }
    if (k >= i0 && k < i0 + n) buf[k - i0] = (max - shift) * inv_tau;
  }
  template <typename XMax>
  PYALGO_HD bool rescue(A m, const XMax&) {
    if (finite_logit(m) || shift != A(0)) return false;
    shift = max;
    return shift != A(0);
  }
};

// Gumbel-Rao (Paulus et al. 2021) r-th conditional draw given argmax = k, shifted by −m:
// w_k = log Z' − log E_k, w_j = −log(E_j e^{m−x_j} + E_k / Z'), Z' = Σ e^{x_j − m},
// E = −log u ~ Exp(1) from stream 1 + r; then z = w/τ.
// log_space (rows where some finite x_j lies more than rao_far_gap below m, so that e^{x_j−m}
// underflows): w_j = −logaddexp(log E_j + m − x_j, log E_k − log Z'), which cannot underflow.
template <typename A>
PYALGO_HD A rao_far_gap() { return sizeof(A) == sizeof(float) ? A(80) : A(700); }

template <typename T, typename A, bool U>
struct RaoLogits {
  static constexpr bool kCostly = false;
  Row<const T, U> x;
  A inv_tau, max, inv_Z, w_k, Ek;
  int32_t k;
  PhiloxKey key;
  int64_t row;
  uint32_t stream;
  bool log_space = false;
  A shift = 0;
  PYALGO_HD void fill(int64_t i0, int n, A* buf) {
    uniform_chunk<A>(key, row, i0, n, stream, buf);
    if (!log_space) {
      PYALGO_SIMD
      for (int j = 0; j < n; ++j) {
        A E = -log_pos(buf[j]);
        buf[j] = (-log_pos(E / exp_nonpos(static_cast<A>(x[i0 + j]) - max) + Ek * inv_Z) - shift) * inv_tau;
      }
    } else {
      const A b = -w_k;  // log E_k − log Z'
      for (int j = 0; j < n; ++j) {
        const A a = log_pos(-log_pos(buf[j])) + (max - static_cast<A>(x[i0 + j]));
        const A hi = a > b ? a : b, lo = a > b ? b : a;
        buf[j] = (-(hi + hd_log1p(exp_nonpos(lo - hi))) - shift) * inv_tau;
      }
    }
    if (k >= i0 && k < i0 + n) buf[k - i0] = (w_k - shift) * inv_tau;
  }
  template <typename XMax>
  PYALGO_HD bool rescue(A m, const XMax&) {
    if (finite_logit(m) || shift != A(0)) return false;
    shift = w_k;
    return shift != A(0);
  }
};

// Whether a finite logit of the row lies more than rao_far_gap below the row max m.
template <typename T, typename A, bool U>
PYALGO_HD bool row_has_far_logit(Row<const T, U> x, int64_t C, A m) {
  int far = 0;
  const A lim = m - rao_far_gap<A>();
  PYALGO_SIMD_REDUCE(| : far)
  for (int64_t i = 0; i < C; ++i) {
    const A v = static_cast<A>(x[i]);
    far |= static_cast<int>(v < lim) & static_cast<int>(v > -hd_inf<A>());
  }
  return far != 0;
}

// The inverse-CDF draw over exp(x_i − m) held in e[0..n): the first index where the running sum
// passes target; a category with e = 0 can never be it. If rounding leaves the target beyond the
// sum, the last category with e > 0.
template <typename A>
PYALGO_HD int32_t inverse_cdf_pick(const A* e, int n, A target, A* cum) {
  for (int j = 0; j < n; ++j) {
    *cum += e[j];
    if (*cum > target) return j;
  }
  return -1;
}

// categorical_sample_row for C <= kChunk: the row is read once and exp is taken once per entry.
template <typename T, typename A, bool U>
PYALGO_HD int32_t categorical_sample_short_row(Row<const T, U> x, int n, PhiloxKey key, int64_t row,
                                               Row<T, U> one_hot, Row<T, U> probs) {
  A e[kChunk];
  A m = -hd_inf<A>();
  int bad = 0;
  PYALGO_SIMD_REDUCE2(max : m, | : bad)
  for (int j = 0; j < n; ++j) {
    const A v = static_cast<A>(x[j]);
    e[j] = v;
    m = v > m ? v : m;
    bad |= static_cast<int>(hd_isnan(v)) | static_cast<int>(v == hd_inf<A>());
  }
  if (bad || !(m > -hd_inf<A>())) {
    fill_row<T, A, U>(one_hot, n, hd_nan<A>());
    if (probs.p) fill_row<T, A, U>(probs, n, hd_nan<A>());
    return -1;
  }
  A Z = 0;
  PYALGO_SIMD_REDUCE(+ : Z)
  for (int j = 0; j < n; ++j) {
    e[j] = exp_nonpos(e[j] - m);
    Z += e[j];
  }
  A cum = 0;
  int32_t k = inverse_cdf_pick(e, n, philox_uniform<A>(key, row, 0, kSampleStream) * Z, &cum);
  if (k < 0) {
    k = n - 1;
    while (k > 0 && !(e[k] > A(0))) --k;
  }
  const A inv_Z = A(1) / Z;
  if (probs.p) {
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) probs[j] = static_cast<T>(e[j] * inv_Z);
  }
  fill_row<T, A, U>(one_hot, n, A(0));
  one_hot[k] = static_cast<T>(A(1));
  return k;
}

// ---------------------------------------------------------------------------------------------
// Forward: k ~ Cat(softmax(x)) by inverse CDF on one uniform (stream 0, column 0), written as
// an exactly one-hot row; optionally also softmax(x). Returns k, or -1 for an invalid row
// (outputs are then NaN). A category of probability 0 (logit -inf, or exp underflow) is never
// returned: k is the first index where the running sum, which only grows at categories of
// positive probability, passes the target.
template <typename T, typename A, bool U>
PYALGO_HD int32_t categorical_sample_row(Row<const T, U> x, int64_t C, PhiloxKey key, int64_t row,
                                         Row<T, U> one_hot, Row<T, U> probs /* p == nullptr: skip */) {
  if (C <= kChunk) return categorical_sample_short_row<T, A, U>(x, static_cast<int>(C), key, row, one_hot, probs);
  A m;
  if (!valid_row_max<T, A, U>(x, C, &m)) {
    fill_row<T, A, U>(one_hot, C, hd_nan<A>());
    if (probs.p) fill_row<T, A, U>(probs, C, hd_nan<A>());
    return -1;
  }
  const A Z = row_exp_sum<T, A, U>(x, C, m);
  const A target = philox_uniform<A>(key, row, 0, kSampleStream) * Z;
  A buf[kChunk];
  A cum = 0;
  int32_t k = -1;
  for (int64_t i0 = 0; i0 < C && k < 0; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    A cs = 0;
    PYALGO_SIMD_REDUCE(+ : cs)
    for (int j = 0; j < n; ++j) {
      buf[j] = exp_nonpos(static_cast<A>(x[i0 + j]) - m);
      cs += buf[j];
    }
    if (cum + cs <= target) {
      cum += cs;
      continue;
    }
    const int32_t j = inverse_cdf_pick(buf, n, target, &cum);
    if (j >= 0) k = static_cast<int32_t>(i0 + j);
  }
  if (k < 0) {  // target rounded up to the total: take the last category of positive probability
    k = static_cast<int32_t>(C - 1);
    while (k > 0 && !(exp_nonpos(static_cast<A>(x[k]) - m) > A(0))) --k;
  }
  const A inv_Z = A(1) / Z;
  if (probs.p) {
    PYALGO_SIMD
    for (int64_t i = 0; i < C; ++i) probs[i] = static_cast<T>(exp_nonpos(static_cast<A>(x[i]) - m) * inv_Z);
  }
  fill_row<T, A, U>(one_hot, C, A(0));
  one_hot[k] = static_cast<T>(A(1));
  return k;
}

// Gumbel-softmax forward (Jang et al. 2017): z = (x + G)/τ, k = argmax z (first on ties;
// distributed as Cat(softmax(x)) for any τ). Writes softmax(z) (soft) or one_hot(k) (hard).
// Returns k, or -1 for an invalid row.
template <typename T, typename A, bool U>
PYALGO_HD int32_t gumbel_softmax_row(Row<const T, U> x, int64_t C, A inv_tau, bool hard,
                                     PhiloxKey key, int64_t row, Row<T, U> y) {
  A xmax;
  if (!valid_row_max<T, A, U>(x, C, &xmax)) {
    fill_row<T, A, U>(y, C, hd_nan<A>());
    return -1;
  }
  GumbelLogits<T, A, U> zf{x, inv_tau, key, row, gumbel_shift(xmax, inv_tau)};
  A buf[kChunk];
  A m = -hd_inf<A>(), Z = 0;
  int32_t k = -1;
  // Soft outputs of the accumulation type hold z between the passes (generated once).
  const bool park = !hard && sizeof(T) == sizeof(A);
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    zf.fill(i0, n, buf);
    if (park) store_chunk(y, i0, n, buf);
    const A cm = chunk_max(buf, n);
    if (cm > m) {
      if (m > -hd_inf<A>()) Z *= exp_nonpos(m - cm);
      m = cm;
      int j = 0;
      while (buf[j] != cm) ++j;
      k = static_cast<int32_t>(i0 + j);
    }
    if (hard || !(m > -hd_inf<A>())) continue;  // the hard sample needs only the argmax
    A cz = 0;
    PYALGO_SIMD_REDUCE(+ : cz)
    for (int j = 0; j < n; ++j) cz += exp_nonpos(buf[j] - m);
    Z += cz;
  }
  if (k < 0 || !(m < hd_inf<A>())) {  // no finite max (cannot happen for τ >= the documented minimum)
    fill_row<T, A, U>(y, C, hd_nan<A>());
    return -1;
  }
  if (hard) {
    fill_row<T, A, U>(y, C, A(0));
    y[k] = static_cast<T>(A(1));
    return k;
  }
  const A inv_Z = A(1) / Z;
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    if (park)
      load_chunk(y, i0, n, buf);
    else
      zf.fill(i0, n, buf);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) y[i0 + j] = static_cast<T>(exp_nonpos(buf[j] - m) * inv_Z);
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// out (+)= scale · J(softmax(z)) g for logits z produced chunk by chunk by zf: one pass for the
// (online, per-chunk) max, normaliser and ⟨e, g⟩, one pass to write. Every ST-family backward
// is this with a different z.
template <typename T, typename O, typename A, bool U, typename ZF>
PYALGO_HD void softmax_vjp_row(ZF& zf, Row<const T, U> g, int64_t C, A scale, bool accumulate,
                               Row<O, U> out) {
  // Costly logits (regenerated noise) are parked in `out` between the passes when it holds the
  // accumulation type exactly and is not accumulating, so they are generated once, not twice.
  const bool park = ZF::kCostly && sizeof(O) == sizeof(A) && !accumulate;
  A buf[kChunk];
  A m, Z, S;
pass1:
  m = -hd_inf<A>(), Z = 0, S = 0;
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    zf.fill(i0, n, buf);
    if (park) store_chunk(out, i0, n, buf);
    const A cm = chunk_max(buf, n);
    if (cm > m) {
      if (m > -hd_inf<A>()) {
        const A c = exp_nonpos(m - cm);
        Z *= c;
        S *= c;
      }
      m = cm;
    }
    if (!(m > -hd_inf<A>())) continue;
    A cz = 0, cs = 0;
    PYALGO_SIMD_REDUCE(+ : cz, cs)
    for (int j = 0; j < n; ++j) {
      const A e = exp_nonpos(buf[j] - m);
      cz += e;
      cs += e * static_cast<A>(g[i0 + j]);
    }
    Z += cz;
    S += cs;
  }
  // Rare: z overflowed (tiny τ against large logits): redo the pass relative to the row's max.
  if (!(m > -big_logit<A>() && m < big_logit<A>()))
    if (zf.rescue(m, [&] { return row_max<T, A, U>(zf.x, C); })) goto pass1;
  const A inv_Z = A(1) / Z, mean_g = S * inv_Z;
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    if (park)
      load_chunk(out, i0, n, buf);
    else
      zf.fill(i0, n, buf);
    PYALGO_SIMD
    for (int j = 0; j < n; ++j) {
      const A p = exp_nonpos(buf[j] - m) * inv_Z;
      const A v = scale * p * (static_cast<A>(g[i0 + j]) - mean_g);
      out[i0 + j] = static_cast<O>(accumulate ? static_cast<A>(out[i0 + j]) + v : v);
    }
  }
}

// ST backward: (1/τ) J(softmax(x/τ)) g.
template <typename T, typename A, bool U>
PYALGO_HD void st_backward_row(Row<const T, U> x, Row<const T, U> g, int64_t C, A inv_tau, Row<T, U> out) {
  ScaledLogits<T, A, U> zf{x, inv_tau};
  softmax_vjp_row<T, T, A, U>(zf, g, C, inv_tau, false, out);
}

// ST-GS / GS backward: (1/τ) J(softmax((x + G)/τ)) g with the forward's Gumbels regenerated.
template <typename T, typename A, bool U>
PYALGO_HD void gumbel_softmax_backward_row(Row<const T, U> x, Row<const T, U> g, int64_t C, A inv_tau,
                                           PhiloxKey key, int64_t row, Row<T, U> out) {
  GumbelLogits<T, A, U> zf{x, inv_tau, key, row};
  softmax_vjp_row<T, T, A, U>(zf, g, C, inv_tau, false, out);
}

// GST-p's gap −log(1 − π_k)/π_k loses digits to cancellation when π_k is near 1 (and is inf once
// π_k rounds to 1): above this π_k, 1 − π_k is taken as R/Z, R = Σ_{j≠k} e^{x_j − m}, in log space.
template <typename A>
PYALGO_HD A kGstCancel() { return A(0.5); }

// log Σ_{j≠k} e^{x_j − m} without underflow (−inf when every other category is −inf).
template <typename T, typename A, bool U>
PYALGO_HD A log_sum_exp_except(Row<const T, U> x, int64_t C, int32_t k, A m) {
  A R = 0;
  for (int64_t i = 0; i < C; ++i) R += i == k ? A(0) : exp_nonpos(static_cast<A>(x[i]) - m);
  if (R > A(0)) return log_pos(R);
  A m2 = -hd_inf<A>();  // every other e^{x_j − m} underflowed: take them relative to their own max
  for (int64_t i = 0; i < C; ++i) {
    const A v = static_cast<A>(x[i]);
    if (i != k && v > m2) m2 = v;
  }
  if (!(m2 > -hd_inf<A>())) return -hd_inf<A>();
  R = 0;
  for (int64_t i = 0; i < C; ++i) R += i == k ? A(0) : exp_nonpos(static_cast<A>(x[i]) - m2);
  return (m2 - m) + log_pos(R);
}

template <typename T, typename A, bool U>
PYALGO_HD A gst_p_gap_confident(Row<const T, U> x, int64_t C, int32_t k, A m, A Z, A pk) {
  return (log_pos(Z) - log_sum_exp_except<T, A, U>(x, C, k, m)) / pk;  // −log(1 − π_k)/π_k; inf if 1 − π_k = 0
}

// GST backward: (1/τ) J(softmax(θ̃/τ)) g. gap_is_p selects GST-p, gap = −log(1 − π_k)/π_k.
template <typename T, typename A, bool U>
PYALGO_HD void gst_backward_row(Row<const T, U> x, Row<const T, U> g, int64_t C, int32_t k, A inv_tau,
                                A gap, bool gap_is_p, Row<T, U> out) {
  if (k < 0 || k >= C) {
    fill_row<T, A, U>(out, C, hd_nan<A>());
    return;
  }
  const A m = row_max<T, A, U>(x, C);
  if (gap_is_p) {
    const A Z = row_exp_sum<T, A, U>(x, C, m), pk = exp_nonpos(static_cast<A>(x[k]) - m) / Z;
    gap = pk > kGstCancel<A>() ? gst_p_gap_confident<T, A, U>(x, C, k, m, Z, pk) : -hd_log1p(-pk) / pk;
  }
  GappedLogits<T, A, U> zf{x, inv_tau, m, gap, k};
  softmax_vjp_row<T, T, A, U>(zf, g, C, inv_tau, false, out);
}

// GR-MCK backward: (1/(Kτ)) Σ_r J(softmax(z^{(r)})) g, accumulated in O (the accumulation type
// for half inputs).
template <typename T, typename O, typename A, bool U>
PYALGO_HD void gumbel_rao_backward_row(Row<const T, U> x, Row<const T, U> g, int64_t C, int32_t k,
                                       A inv_tau, int64_t draws, PhiloxKey key, int64_t row,
                                       Row<O, U> out) {
  if (k < 0 || k >= C) {
    fill_row<O, A, U>(out, C, hd_nan<A>());
    return;
  }
  const A m = row_max<T, A, U>(x, C);
  const A Z = row_exp_sum<T, A, U>(x, C, m);
  const A log_Z = log_pos(Z), inv_Z = A(1) / Z, scale = inv_tau / static_cast<A>(draws);
  const bool log_space = row_has_far_logit<T, A, U>(x, C, m);
  for (int64_t r = 0; r < draws; ++r) {
    const uint32_t stream = kRaoStream0 + static_cast<uint32_t>(r);
    const A Ek = -log_pos(philox_uniform<A>(key, row, k, stream));
    RaoLogits<T, A, U> zf{x, inv_tau, m, inv_Z, log_Z - log_pos(Ek), Ek, k, key, row, stream, log_space};
    softmax_vjp_row<T, O, A, U>(zf, g, C, scale, r > 0, out);
  }
}

// reinmax_backward_row for C <= kChunk (same formula): both softmaxes are computed once and kept.
template <typename T, typename A, bool U, bool kHasGp>
PYALGO_HD void reinmax_backward_short_row(Row<const T, U> x, Row<const T, U> g, Row<const T, U> gp, int n,
                                          int32_t k, A inv_tau, Row<T, U> out) {
  A p0[kChunk], pt[kChunk];
  A m = -hd_inf<A>();
  PYALGO_SIMD_REDUCE(max : m)
  for (int j = 0; j < n; ++j) {
    p0[j] = static_cast<A>(x[j]);
    m = p0[j] > m ? p0[j] : m;
  }
  const bool same_tau = inv_tau == A(1);
  A Z0 = 0, H0 = 0, Zt = 0, St = 0;
  PYALGO_SIMD_REDUCE(+ : Z0, H0, Zt, St)
  for (int j = 0; j < n; ++j) {
    const A gj = static_cast<A>(g[j]);
    const A hj = (kHasGp ? static_cast<A>(gp[j]) : A(0)) - A(0.5) * gj;
    const A d = p0[j] - m;
    const A e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(d * inv_tau);
    p0[j] = e0;
    pt[j] = et;
    Z0 += e0;
    H0 += e0 * hj;
    Zt += et;
    St += et * gj;
  }
  const A inv_Z0 = A(1) / Z0, inv_Zt = A(1) / Zt;
  const A t0 = H0 * inv_Z0, gk = static_cast<A>(g[k]);
  const A half = A(0.5) * (gk + St * inv_Zt);
  A grad[kChunk];
  A sum = 0;
  PYALGO_SIMD_REDUCE(+ : sum)
  for (int j = 0; j < n; ++j) {
    const A gj = static_cast<A>(g[j]);
    const A hj = (kHasGp ? static_cast<A>(gp[j]) : A(0)) - A(0.5) * gj;
    grad[j] = pt[j] * inv_Zt * (gj - half) + p0[j] * inv_Z0 * (hj - t0);
    sum += grad[j];
  }
  grad[k] += gk - half;
  sum += gk - half;
  const A mean = sum / static_cast<A>(n);
  PYALGO_SIMD
  for (int j = 0; j < n; ++j) out[j] = static_cast<T>(grad[j] - mean);
}

// ReinMax backward (Liu et al. 2023, Algorithm 2), fused closed form (spec §1.2):
//   grad_i = [i=k] g_k + π_τ,i g_i − ([i=k] + π_τ,i)(g_k + s_τ)/2 + π_0,i (h_i − ⟨π_0, h⟩),
//   s_τ = ⟨π_τ, g⟩, h = g_p − g/2, π_0 = softmax(x), π_τ = softmax(x/τ);
// then grad −= mean(grad) as the official package does. kHasGp = false means g_p = 0.
template <typename T, typename A, bool U, bool kHasGp>
PYALGO_HD void reinmax_backward_row(Row<const T, U> x, Row<const T, U> g, Row<const T, U> gp, int64_t C,
                                    int32_t k, A inv_tau, Row<T, U> out) {
  if (k < 0 || k >= C) {
    fill_row<T, A, U>(out, C, hd_nan<A>());
    return;
  }
  if (C <= kChunk) {
    reinmax_backward_short_row<T, A, U, kHasGp>(x, g, gp, static_cast<int>(C), k, inv_tau, out);
    return;
  }
  const bool same_tau = inv_tau == A(1);
  A buf[kChunk];
  A m = -hd_inf<A>(), Z0 = 0, H0 = 0, Zt = 0, St = 0;
  for (int64_t i0 = 0; i0 < C; i0 += kChunk) {
    const int n = chunk_size(C, i0);
    load_chunk(x, i0, n, buf);
    const A cm = chunk_max(buf, n);
    if (cm > m) {
      if (m > -hd_inf<A>()) {
        const A c0 = exp_nonpos(m - cm), ct = same_tau ? c0 : exp_nonpos((m - cm) * inv_tau);
        Z0 *= c0;
        H0 *= c0;
        Zt *= ct;
        St *= ct;
      }
      m = cm;
    }
    if (!(m > -hd_inf<A>())) continue;
    A z0 = 0, h0 = 0, zt = 0, st = 0;
    PYALGO_SIMD_REDUCE(+ : z0, h0, zt, st)
    for (int j = 0; j < n; ++j) {
      const A gi = static_cast<A>(g[i0 + j]);
      const A hi = (kHasGp ? static_cast<A>(gp[i0 + j]) : A(0)) - A(0.5) * gi;
      const A d = buf[j] - m;
      const A e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(d * inv_tau);
      z0 += e0;
      h0 += e0 * hi;
      zt += et;
      st += et * gi;
    }
    Z0 += z0;
    H0 += h0;
    Zt += zt;
    St += st;
  }
  const A inv_Z0 = A(1) / Z0, inv_Zt = A(1) / Zt;
  const A t0 = H0 * inv_Z0, gk = static_cast<A>(g[k]);
  const A half = A(0.5) * (gk + St * inv_Zt);
  // The [i = k] terms are added at k after the loop, which keeps the loop branch-free.
  A sum = 0;
  PYALGO_SIMD_REDUCE(+ : sum)
  for (int64_t i = 0; i < C; ++i) {
    const A gi = static_cast<A>(g[i]);
    const A hi = (kHasGp ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    const A d = static_cast<A>(x[i]) - m;
    const A e0 = exp_nonpos(d);
    const A p0 = e0 * inv_Z0, pt = (same_tau ? e0 : exp_nonpos(d * inv_tau)) * inv_Zt;
    const A grad = pt * (gi - half) + p0 * (hi - t0);
    out[i] = static_cast<T>(grad);
    sum += grad;
  }
  const A grad_k = static_cast<A>(out[k]) + gk - half;
  out[k] = static_cast<T>(grad_k);
  sum += gk - half;
  const A mean = sum / static_cast<A>(C);
  PYALGO_SIMD
  for (int64_t i = 0; i < C; ++i) out[i] = static_cast<T>(static_cast<A>(out[i]) - mean);
}

// ---------------------------------------------------------------------------------------------
// Per-row entry points over a whole tensor. Both launchers call exactly these.
template <typename T, typename A, bool U>
PYALGO_HD void categorical_sample_at(const T* x, T* one_hot, T* probs, int32_t* index,
                                     RowLayout L, PhiloxKey key, int64_t r) {
  Row<T, U> probs_row = probs ? row_at<U>(probs, L, r) : Row<T, U>{nullptr, 0};
  index[r] = categorical_sample_row<T, A, U>(row_at<U>(x, L, r), L.C, key, r,
                                             row_at<U>(one_hot, L, r), probs_row);
}

template <typename T, typename A, bool U>
PYALGO_HD void gumbel_softmax_at(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau,
                                 bool hard, PhiloxKey key, int64_t r) {
  index[r] = gumbel_softmax_row<T, A, U>(row_at<U>(x, L, r), L.C, inv_tau, hard, key, r,
                                         row_at<U>(y, L, r));
}

template <typename T, typename A, bool U>
PYALGO_HD void reinmax_backward_at(const T* x, const int32_t* index, const T* g, const T* gp,
                                   T* out, RowLayout L, A inv_tau, int64_t r) {
  if (gp)
    reinmax_backward_row<T, A, U, true>(row_at<U>(x, L, r), row_at<U>(g, L, r), row_at<U>(gp, L, r),
                                        L.C, index[r], inv_tau, row_at<U>(out, L, r));
  else
    reinmax_backward_row<T, A, U, false>(row_at<U>(x, L, r), row_at<U>(g, L, r),
                                         Row<const T, U>{nullptr, 0}, L.C, index[r], inv_tau,
                                         row_at<U>(out, L, r));
}

template <typename T, typename A, bool U>
PYALGO_HD void st_backward_at(const T* x, const T* g, T* out, RowLayout L, A inv_tau, int64_t r) {
  st_backward_row<T, A, U>(row_at<U>(x, L, r), row_at<U>(g, L, r), L.C, inv_tau, row_at<U>(out, L, r));
}

template <typename T, typename A, bool U>
PYALGO_HD void gumbel_softmax_backward_at(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                          PhiloxKey key, int64_t r) {
  gumbel_softmax_backward_row<T, A, U>(row_at<U>(x, L, r), row_at<U>(g, L, r), L.C, inv_tau, key, r,
                                       row_at<U>(out, L, r));
}

template <typename T, typename A, bool U>
PYALGO_HD void gst_backward_at(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                               A inv_tau, A gap, bool gap_is_p, int64_t r) {
  gst_backward_row<T, A, U>(row_at<U>(x, L, r), row_at<U>(g, L, r), L.C, index[r], inv_tau, gap,
                            gap_is_p, row_at<U>(out, L, r));
}

template <typename T, typename O, typename A, bool U>
PYALGO_HD void gumbel_rao_backward_at(const T* x, const int32_t* index, const T* g, O* out,
                                      RowLayout L, A inv_tau, int64_t draws, PhiloxKey key,
                                      int64_t r) {
  gumbel_rao_backward_row<T, O, A, U>(row_at<U>(x, L, r), row_at<U>(g, L, r), L.C, index[r], inv_tau,
                                      draws, key, r, row_at<U>(out, L, r));
}

// The raw stream, for tests and users: out[r, c] = uniform(row r, column c, stream).
template <typename A>
PYALGO_HD void philox_uniform_at(A* out, int64_t cols, PhiloxKey key, uint32_t stream, int64_t r) {
  A buf[kChunk];
  for (int64_t c0 = 0; c0 < cols; c0 += kChunk) {
    const int n = chunk_size(cols, c0);
    uniform_chunk<A>(key, r, c0, n, stream, buf);
    for (int j = 0; j < n; ++j) out[r * cols + c0 + j] = buf[j];
  }
}

}  // namespace discrete
}  // namespace pyalgo
