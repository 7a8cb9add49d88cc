// GPU-only row bodies of the discrete estimators for a team of threads per row (a warp segment or
// a block, defined in estimators_kernels.cu). The arithmetic per element is that of estimators.h
// (the same chunk producers, the same Philox counters per (row, column, stream), so the random
// draws are identical); only the order of the row reductions differs: each lane reduces its own
// columns in order, then the lanes are combined by a butterfly (bitwise the same on every lane).
//
// Column layout: lane l owns the groups l, l + size, l + 2·size, ... of P = Uniform<A>::per_block
// consecutive columns (4 floats / 2 doubles: exactly one Philox block per group, so no block is
// generated twice and a warp reads 32·P consecutive elements per step). A lane writes only the
// columns it owns, and reads back only those, so no barrier is needed between passes except the
// team reductions themselves.
//
// The Team interface used here: lane(), size(), reduce(v, op) (identical on every lane), and
// exclusive_sum(s, &total) (the sum of s over the lanes before this one, in lane order).
#pragma once
#include "estimators.h"

namespace pyalgo {
namespace discrete {

struct MaxOp {
  template <typename V>
  __device__ __forceinline__ V operator()(V a, V b) const { return b > a ? b : a; }
};
struct MinOp {
  template <typename V>
  __device__ __forceinline__ V operator()(V a, V b) const { return b < a ? b : a; }
};
struct SumOp {
  template <typename V>
  __device__ __forceinline__ V operator()(V a, V b) const { return a + b; }
};
struct OrOp {
  __device__ __forceinline__ int operator()(int a, int b) const { return a | b; }
};

constexpr int64_t kNoColumn = INT64_MAX;

template <typename A>
__device__ __forceinline__ int group_cols(int64_t C, int64_t c0) {
  constexpr int P = Uniform<A>::per_block;
  return C - c0 < P ? static_cast<int>(C - c0) : P;
}

// The row max over every lane, and whether the row defines a distribution (valid_row_max).
template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ bool valid_row_max_team(const Team& t, Row<const T, U> x, int64_t C, A* max_out) {
  constexpr int P = Uniform<A>::per_block;
  A m = -hd_inf<A>();
  int bad = 0;
  for (int64_t c0 = int64_t(t.lane()) * P; c0 < C; c0 += int64_t(t.size()) * P) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) {
      const A v = static_cast<A>(x[c0 + j]);
      m = v > m ? v : m;
      bad |= static_cast<int>(hd_isnan(v)) | static_cast<int>(v == hd_inf<A>());
    }
  }
  m = t.reduce(m, MaxOp{});
  bad = t.reduce(bad, OrOp{});
  *max_out = m;
  return bad == 0 && m > -hd_inf<A>();
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ A row_max_team(const Team& t, Row<const T, U> x, int64_t C) {
  constexpr int P = Uniform<A>::per_block;
  A m = -hd_inf<A>();
  for (int64_t c0 = int64_t(t.lane()) * P; c0 < C; c0 += int64_t(t.size()) * P) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) {
      const A v = static_cast<A>(x[c0 + j]);
      m = v > m ? v : m;
    }
  }
  return t.reduce(m, MaxOp{});
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ A row_exp_sum_team(const Team& t, Row<const T, U> x, int64_t C, A m) {
  constexpr int P = Uniform<A>::per_block;
  A Z = 0;
  for (int64_t c0 = int64_t(t.lane()) * P; c0 < C; c0 += int64_t(t.size()) * P) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) Z += exp_nonpos(static_cast<A>(x[c0 + j]) - m);
  }
  return t.reduce(Z, SumOp{});
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ void fill_row_team(const Team& t, Row<T, U> y, int64_t C, A value) {
  for (int64_t i = t.lane(); i < C; i += t.size()) y[i] = static_cast<T>(value);
}

// categorical_sample_row for a team. The inverse-CDF walk goes over tiles of size·P columns in
// column order: an exclusive scan of the lanes' tile sums gives each lane its running sum, and
// the first column (over all lanes) where the running sum passes the target is k. As in the
// serial body, a category with e = 0 is never picked, and if rounding leaves the target beyond
// the total, k is the last category of positive probability.
template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ int32_t categorical_sample_team(const Team& t, Row<const T, U> x, int64_t C,
                                                           PhiloxKey key, int64_t row, Row<T, U> one_hot,
                                                           Row<T, U> probs) {
  constexpr int P = Uniform<A>::per_block;
  const int64_t step = int64_t(t.size()) * P, first = int64_t(t.lane()) * P;
  A m;
  if (!valid_row_max_team<T, A, U>(t, x, C, &m)) {
    fill_row_team<T, A, U>(t, one_hot, C, hd_nan<A>());
    if (probs.p) fill_row_team<T, A, U>(t, probs, C, hd_nan<A>());
    return -1;
  }
  const A Z = row_exp_sum_team<T, A, U>(t, x, C, m);
  const A target = philox_uniform<A>(key, row, 0, kSampleStream) * Z;
  A cum = 0;
  int64_t k = kNoColumn;
  for (int64_t b0 = 0; b0 < C; b0 += step) {
    const int64_t c0 = b0 + first;
    const int n = c0 < C ? group_cols<A>(C, c0) : 0;
    A e[P];
    A s = 0;
    for (int j = 0; j < P; ++j) {
      e[j] = j < n ? exp_nonpos(static_cast<A>(x[c0 + j]) - m) : A(0);
      s += e[j];
    }
    A total;
    const A before = t.exclusive_sum(s, &total);
    if (!(cum + total > target)) {  // the same on every lane
      cum += total;
      continue;
    }
    int64_t cand = kNoColumn;
    A c = cum + before;
    for (int j = 0; j < n; ++j) {
      c += e[j];
      if (e[j] > A(0) && c > target) {
        cand = c0 + j;
        break;
      }
    }
    k = t.reduce(cand, MinOp{});
    if (k != kNoColumn) break;
    cum += total;
  }
  if (k == kNoColumn) {  // target rounded up to the total: the last category of positive probability
    int64_t last = -1;
    for (int64_t c0 = first; c0 < C; c0 += step) {
      const int n = group_cols<A>(C, c0);
      for (int j = 0; j < n; ++j)
        if (exp_nonpos(static_cast<A>(x[c0 + j]) - m) > A(0)) last = c0 + j;
    }
    k = t.reduce(last, MaxOp{});
  }
  const A inv_Z = A(1) / Z;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) {
      if (probs.p) probs[c0 + j] = static_cast<T>(exp_nonpos(static_cast<A>(x[c0 + j]) - m) * inv_Z);
      one_hot[c0 + j] = static_cast<T>(c0 + j == k ? A(1) : A(0));
    }
  }
  return static_cast<int32_t>(k);
}

// gumbel_softmax_row for a team: each lane keeps an online (max, first argmax, normaliser) over
// its columns; the lanes are merged (k = the smallest column holding the row max, as the serial
// body's "first on ties").
template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ int32_t gumbel_softmax_team(const Team& t, Row<const T, U> x, int64_t C, A inv_tau,
                                                       bool hard, PhiloxKey key, int64_t row, Row<T, U> y) {
  constexpr int P = Uniform<A>::per_block;
  const int64_t step = int64_t(t.size()) * P, first = int64_t(t.lane()) * P;
  A xmax;
  if (!valid_row_max_team<T, A, U>(t, x, C, &xmax)) {
    fill_row_team<T, A, U>(t, y, C, hd_nan<A>());
    return -1;
  }
  GumbelLogits<T, A, U> zf{x, inv_tau, key, row, gumbel_shift(xmax, inv_tau)};
  A buf[P];
  A m = -hd_inf<A>(), Z = 0;
  int64_t k = kNoColumn;
  const bool park = !hard && sizeof(T) == sizeof(A);  // the lane's own z, read back by the same lane
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    zf.fill(c0, n, buf);
    if (park) store_chunk(y, c0, n, buf);
    const A cm = chunk_max(buf, n);
    if (cm > m) {
      if (m > -hd_inf<A>()) Z *= exp_nonpos(m - cm);
      m = cm;
      int j = 0;
      while (buf[j] != cm) ++j;
      k = c0 + j;
    }
    if (hard || !(m > -hd_inf<A>())) continue;
    for (int j = 0; j < n; ++j) Z += exp_nonpos(buf[j] - m);
  }
  const A M = t.reduce(m, MaxOp{});
  k = t.reduce(m == M ? k : kNoColumn, MinOp{});
  if (k == kNoColumn || !(M < hd_inf<A>())) {  // no finite max (cannot happen for τ >= the documented minimum)
    fill_row_team<T, A, U>(t, y, C, hd_nan<A>());
    return -1;
  }
  if (hard) {
    for (int64_t i = t.lane(); i < C; i += t.size()) y[i] = static_cast<T>(i == k ? A(1) : A(0));
    return static_cast<int32_t>(k);
  }
  const A total = t.reduce(m > -hd_inf<A>() ? Z * exp_nonpos(m - M) : A(0), SumOp{});
  const A inv_Z = A(1) / total;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    if (park)
      load_chunk(y, c0, n, buf);
    else
      zf.fill(c0, n, buf);
    for (int j = 0; j < n; ++j) y[c0 + j] = static_cast<T>(exp_nonpos(buf[j] - M) * inv_Z);
  }
  return static_cast<int32_t>(k);
}

// softmax_vjp_row for a team: out (+)= scale · J(softmax(z)) g.
template <typename T, typename O, typename A, bool U, typename ZF, typename Team>
__device__ __forceinline__ void softmax_vjp_team(const Team& t, ZF& zf, Row<const T, U> g, int64_t C, A scale,
                                                 bool accumulate, Row<O, U> out) {
  constexpr int P = Uniform<A>::per_block;
  const int64_t step = int64_t(t.size()) * P, first = int64_t(t.lane()) * P;
  const bool park = ZF::kCostly && sizeof(O) == sizeof(A) && !accumulate;
  A buf[P];
  A m, Z, S, M;
pass1:
  m = -hd_inf<A>(), Z = 0, S = 0;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    zf.fill(c0, n, buf);
    if (park) store_chunk(out, c0, n, buf);
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
    for (int j = 0; j < n; ++j) {
      const A e = exp_nonpos(buf[j] - m);
      Z += e;
      S += e * static_cast<A>(g[c0 + j]);
    }
  }
  M = t.reduce(m, MaxOp{});
  // Rare (the same on every lane): z overflowed; redo the pass relative to the row's max.
  if (!(M > -big_logit<A>() && M < big_logit<A>()))
    if (zf.rescue(M, [&] { return row_max_team<T, A, U>(t, zf.x, C); })) goto pass1;
  const A c = m > -hd_inf<A>() ? exp_nonpos(m - M) : A(0);
  const A Zt = t.reduce(Z * c, SumOp{}), St = t.reduce(S * c, SumOp{});
  const A inv_Z = A(1) / Zt, mean_g = St * inv_Z;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    if (park)
      load_chunk(out, c0, n, buf);
    else
      zf.fill(c0, n, buf);
    for (int j = 0; j < n; ++j) {
      const A p = exp_nonpos(buf[j] - M) * inv_Z;
      const A v = scale * p * (static_cast<A>(g[c0 + j]) - mean_g);
      out[c0 + j] = static_cast<O>(accumulate ? static_cast<A>(out[c0 + j]) + v : v);
    }
  }
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ void st_backward_team(const Team& t, Row<const T, U> x, Row<const T, U> g, int64_t C,
                                                 A inv_tau, Row<T, U> out) {
  ScaledLogits<T, A, U> zf{x, inv_tau};
  softmax_vjp_team<T, T, A, U>(t, zf, g, C, inv_tau, false, out);
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ void gumbel_softmax_backward_team(const Team& t, Row<const T, U> x, Row<const T, U> g,
                                                             int64_t C, A inv_tau, PhiloxKey key, int64_t row,
                                                             Row<T, U> out) {
  GumbelLogits<T, A, U> zf{x, inv_tau, key, row};
  softmax_vjp_team<T, T, A, U>(t, zf, g, C, inv_tau, false, out);
}

// log_sum_exp_except (estimators.h) for a team.
template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ A log_sum_exp_except_team(const Team& t, Row<const T, U> x, int64_t C, int32_t k, A m) {
  A R = 0;
  for (int64_t i = t.lane(); i < C; i += t.size()) R += i == k ? A(0) : exp_nonpos(static_cast<A>(x[i]) - m);
  R = t.reduce(R, SumOp{});
  if (R > A(0)) return log_pos(R);
  A m2 = -hd_inf<A>();
  for (int64_t i = t.lane(); i < C; i += t.size()) {
    const A v = static_cast<A>(x[i]);
    if (i != k && v > m2) m2 = v;
  }
  m2 = t.reduce(m2, MaxOp{});
  if (!(m2 > -hd_inf<A>())) return -hd_inf<A>();
  R = 0;
  for (int64_t i = t.lane(); i < C; i += t.size()) R += i == k ? A(0) : exp_nonpos(static_cast<A>(x[i]) - m2);
  return (m2 - m) + log_pos(t.reduce(R, SumOp{}));
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ bool row_has_far_logit_team(const Team& t, Row<const T, U> x, int64_t C, A m) {
  int far = 0;
  const A lim = m - rao_far_gap<A>();
  for (int64_t i = t.lane(); i < C; i += t.size()) {
    const A v = static_cast<A>(x[i]);
    far |= static_cast<int>(v < lim) & static_cast<int>(v > -hd_inf<A>());
  }
  return t.reduce(far, OrOp{}) != 0;
}

template <typename T, typename A, bool U, typename Team>
__device__ __forceinline__ void gst_backward_team(const Team& t, Row<const T, U> x, Row<const T, U> g, int64_t C,
                                                  int32_t k, A inv_tau, A gap, bool gap_is_p, Row<T, U> out) {
  if (k < 0 || k >= C) {
    fill_row_team<T, A, U>(t, out, C, hd_nan<A>());
    return;
  }
  const A m = row_max_team<T, A, U>(t, x, C);
  if (gap_is_p) {
    const A Z = row_exp_sum_team<T, A, U>(t, x, C, m), pk = exp_nonpos(static_cast<A>(x[k]) - m) / Z;
    gap = pk > kGstCancel<A>() ? (log_pos(Z) - log_sum_exp_except_team<T, A, U>(t, x, C, k, m)) / pk
                               : -hd_log1p(-pk) / pk;
  }
  GappedLogits<T, A, U> zf{x, inv_tau, m, gap, k};
  softmax_vjp_team<T, T, A, U>(t, zf, g, C, inv_tau, false, out);
}

template <typename T, typename O, typename A, bool U, typename Team>
__device__ __forceinline__ void gumbel_rao_backward_team(const Team& t, Row<const T, U> x, Row<const T, U> g,
                                                         int64_t C, int32_t k, A inv_tau, int64_t draws,
                                                         PhiloxKey key, int64_t row, Row<O, U> out) {
  if (k < 0 || k >= C) {
    fill_row_team<O, A, U>(t, out, C, hd_nan<A>());
    return;
  }
  const A m = row_max_team<T, A, U>(t, x, C);
  const A Z = row_exp_sum_team<T, A, U>(t, x, C, m);
  const A log_Z = log_pos(Z), inv_Z = A(1) / Z, scale = inv_tau / static_cast<A>(draws);
  const bool log_space = row_has_far_logit_team<T, A, U>(t, x, C, m);
  for (int64_t r = 0; r < draws; ++r) {
    const uint32_t stream = kRaoStream0 + static_cast<uint32_t>(r);
    const A Ek = -log_pos(philox_uniform<A>(key, row, k, stream));
    RaoLogits<T, A, U> zf{x, inv_tau, m, inv_Z, log_Z - log_pos(Ek), Ek, k, key, row, stream, log_space};
    softmax_vjp_team<T, O, A, U>(t, zf, g, C, scale, r > 0, out);
  }
}

// reinmax_backward_row for a team (the long-row form: out holds the rounded grad, the [i = k]
// term is added by the lane owning column k, then the mean is subtracted).
template <typename T, typename A, bool U, bool kHasGp, typename Team>
__device__ __forceinline__ void reinmax_backward_team(const Team& t, Row<const T, U> x, Row<const T, U> g,
                                                      Row<const T, U> gp, int64_t C, int32_t k, A inv_tau,
                                                      Row<T, U> out) {
  constexpr int P = Uniform<A>::per_block;
  const int64_t step = int64_t(t.size()) * P, first = int64_t(t.lane()) * P;
  if (k < 0 || k >= C) {
    fill_row_team<T, A, U>(t, out, C, hd_nan<A>());
    return;
  }
  const bool same_tau = inv_tau == A(1);
  const A m = row_max_team<T, A, U>(t, x, C);
  A Z0 = 0, H0 = 0, Zt = 0, St = 0;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) {
      const int64_t i = c0 + j;
      const A gi = static_cast<A>(g[i]);
      const A hi = (kHasGp ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
      const A d = static_cast<A>(x[i]) - m;
      const A e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(d * inv_tau);
      Z0 += e0;
      H0 += e0 * hi;
      Zt += et;
      St += et * gi;
    }
  }
  Z0 = t.reduce(Z0, SumOp{});
  H0 = t.reduce(H0, SumOp{});
  Zt = t.reduce(Zt, SumOp{});
  St = t.reduce(St, SumOp{});
  const A inv_Z0 = A(1) / Z0, inv_Zt = A(1) / Zt;
  const A t0 = H0 * inv_Z0, gk = static_cast<A>(g[k]);
  const A half = A(0.5) * (gk + St * inv_Zt);
  // The gradient of column i; computed twice (for the mean, then for the output) so that each
  // output is rounded to T once, as in the CPU's short-row body.
  const auto grad_at = [&](int64_t i) {
    const A gi = static_cast<A>(g[i]);
    const A hi = (kHasGp ? static_cast<A>(gp[i]) : A(0)) - A(0.5) * gi;
    const A d = static_cast<A>(x[i]) - m;
    const A e0 = exp_nonpos(d);
    const A p0 = e0 * inv_Z0, pt = (same_tau ? e0 : exp_nonpos(d * inv_tau)) * inv_Zt;
    const A grad = pt * (gi - half) + p0 * (hi - t0);
    return i == k ? grad + (gk - half) : grad;
  };
  A sum = 0;
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) sum += grad_at(c0 + j);
  }
  const A mean = t.reduce(sum, SumOp{}) / static_cast<A>(C);
  for (int64_t c0 = first; c0 < C; c0 += step) {
    const int n = group_cols<A>(C, c0);
    for (int j = 0; j < n; ++j) out[c0 + j] = static_cast<T>(grad_at(c0 + j) - mean);
  }
}

}  // namespace discrete
}  // namespace pyalgo
