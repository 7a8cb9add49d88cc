// The min-min loss of Sander et al. (ICML 2025) for one example, fused with uniform sampling
// (torch-free; the CPU and CUDA launchers call these bodies).
//
//   loss = τ + (1/m) Σ_j f*(g(y'_j) − τ) − g(y),    y'_j ~ uniform, f*(s) = e^s − 1 (α = 1) or the
//   Tsallis-α conjugate ([1 + (α−1)s]_+^{α/(α−1)} − 1)/α (α = 2: sparsemax),
//
// with the gradient computed in the same pass: ∂τ = 1 − (1/m) Σ_j w_j and ∂θ = (1/m) Σ_j w_j φ(y'_j)
// − φ(y), w = (f*)'(g − τ). Samples are generated from Philox words, used and forgotten: nothing of
// size (m, k) is ever stored.
//
// Random layout (the same in the samplers and the losses, on every device): sample j of row b
// reads words j·W … j·W + W − 1 of the row's word stream, word c being word c % 4 of Philox block
// (key, row b, group c / 4, stream). Bits: W = ceil(k / 32), bit i of sample j is bit i % 32 of
// its word i / 32. Permutations of n items: W = n − 1 words drive a Fisher–Yates shuffle of
// (0, …, n−1); word t picks r = ⌊word · (i + 1) / 2^32⌋ ∈ [0, i] for i = n − 1 − t (bias < n/2^32).
//
// Proposal sampling (importance weights w = q/r, docs/energy.md "Proposal sampling"): with a
// proposal r the loss weights only the sample term and keeps the constant part exact,
//   α = 1: loss = τ + (1/m) Σ_j w_j e^{g_j − τ} − 1 − g(y)   (the pass runs on s_j + log w_j),
//   α > 1: loss = τ + (1/m) Σ_j w_j [f*(g_j − τ) + 1/α] − 1/α − g(y),  gradient weights w_j (f*)'(g_j − τ).
// Bits (stream kBitsProposalStream, logits a as double): sample j reads words j·k … j·k + k − 1 and
// bit i is set when its word is below thr_i = ⌊σ(a_i)·2^32⌋ (at most 2^32 − 1), so P(bit i = 1) is σ(a_i)
// to within 2^−32 (a logit below about −22 never gives a 1); log w = Σ_i softplus(a_i) − k log 2 − ⟨a, y'⟩
// in double. Permutations (stream kPermsProposalStream, Plackett–Luce scores s as double): sample j
// reads words j·n … j·n + n − 1, item i gets the Gumbel key s_i − log(−log u_i) with
// u_i = (word + ½)·2^−32, the order o sorts the keys decreasingly (insertion sort; equal keys: lower
// item first), y'[o_t] = n − 1 − t, and log w = −log n! − Σ_t (s_{o_t} − log Σ_{l≥t} e^{s_{o_l}}) in
// double. Rows whose scores span ≤ kPlFastRange sort the equivalent keys (−log u_i)·e^{max s − s_i}
// increasingly instead (one log per item) and take log r from suffix sums (perms_fast_row). The thresholds, keys and weights use exp/log: the CPU and CUDA samples agree except when a
// word lands within rounding of a threshold (or two keys within rounding of each other).
//
// Overflow guard (α = 1): with L = log((1/m) Σ_j e^{g_j − τ}) the term E[e^{g−τ}] = e^L is
// continued linearly above L = c (c = 80 in float, 700 in double): φ(L) = e^c (1 + L − c). The
// loss and its gradient stay finite and point to the same optimum, and they equal the exact
// values whenever those are representable. Sums are taken relative to τ; if some g_j − τ
// exceeds kShiftLimit the pass is redone relative to max_j (g_j − τ), so nothing overflows.
#pragma once
#include "../common/philox.h"

namespace pyalgo {
namespace energy {

constexpr uint32_t kBitsStream = 0xB175u;
constexpr uint32_t kPermsStream = 0x9E53u;
constexpr int kMaxBits = 4096;   // labels per example (multilabel)
constexpr int kMaxWords = kMaxBits / 32;
constexpr int kMaxItems = 256;  // items per permutation

template <typename A>
struct Limits;
template <>
struct Limits<float> {
  static constexpr float clamp = 80.0f;       // c of the linear continuation
  static constexpr float shift_limit = 50.0f; // e^50 · 2^40 samples stays finite
};
template <>
struct Limits<double> {
  static constexpr double clamp = 700.0;
  static constexpr double shift_limit = 600.0;
};

// Word c of one row's stream. Words are made kBlocks Philox blocks at a time (a loop the CPU
// compiler vectorises; one block on the GPU), so walking c in order computes each block once.
template <int kBlocks>
struct WordCursor {
  PhiloxKey key;
  int64_t row;
  uint32_t stream;
  int64_t first;  // first block held in `words`
  uint32_t words[4 * kBlocks];
  PYALGO_HD WordCursor(PhiloxKey k, int64_t r, uint32_t s) : key(k), row(r), stream(s), first(-1) {}
  PYALGO_HD uint32_t operator()(int64_t c) {
    const int64_t block = c >> 2, start = block - block % kBlocks;
    if (start != first) {
      PYALGO_SIMD
      for (int i = 0; i < kBlocks; ++i) {
        const Philox4 p = philox_block(key, row, start + i, stream);
        words[4 * i] = p.x;
        words[4 * i + 1] = p.y;
        words[4 * i + 2] = p.z;
        words[4 * i + 3] = p.w;
      }
      first = start;
    }
    return words[4 * (block - start) + (c & 3)];
  }
};

PYALGO_HD int bits_words(int k) { return (k + 31) / 32; }

// Sample j's k bits into y[0 .. ceil(k/32)); the unused high bits of the last word are cleared.
template <class Cursor>
PYALGO_HD void load_bits(Cursor& cur, int64_t j, int k, uint32_t* y) {
  const int words = bits_words(k);
  for (int w = 0; w < words; ++w) y[w] = cur(j * words + w);
  if (k & 31) y[words - 1] &= (1u << (k & 31)) - 1u;
}

PYALGO_HD int bit_at(const uint32_t* y, int i) { return static_cast<int>((y[i >> 5] >> (i & 31)) & 1u); }

PYALGO_HD int lowest_bit(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __ffs(x) - 1;
#else
  return __builtin_ctz(x);
#endif
}

// Byte c of a sample's bits (labels 8c … 8c + 7).
PYALGO_HD int byte_at(const uint32_t* y, int c) { return static_cast<int>((y[c >> 2] >> ((c & 3) * 8)) & 255u); }

PYALGO_HD int bits_bytes(int k) { return (k + 7) / 8; }

// Byte tables of one row, so that a sample's unary energy costs ceil(k/8) lookups:
// table[256c + v] = Σ_{i: bit i of v} u[8c + i]. Built by indices lane, lane + stride, ….
template <typename A>
PYALGO_HD void build_byte_table(const A* u, int k, A* table, int lane, int stride) {
  const int size = bits_bytes(k) * 256;
  if (stride == 1) {  // one thread: each entry from the entry without its lowest bit
    for (int idx = 0; idx < size; ++idx) {
      const int c = idx >> 8, v = idx & 255;
      table[idx] = v == 0 ? A(0) : table[idx & ~(v & -v)] + (8 * c + lowest_bit(v) < k ? u[8 * c + lowest_bit(v)] : A(0));
    }
    return;
  }
  for (int idx = lane; idx < size; idx += stride) {
    const int c = idx >> 8, v = idx & 255;
    A sum = 0;
    for (int i = 0; i < 8 && 8 * c + i < k; ++i) sum += ((v >> i) & 1) ? u[8 * c + i] : A(0);
    table[idx] = sum;
  }
}

// Sample j of a row: a uniform permutation of (0, …, n−1) into perm.
template <class Cursor>
PYALGO_HD void load_perm(Cursor& cur, int64_t j, int n, uint8_t* perm) {
  for (int i = 0; i < n; ++i) perm[i] = static_cast<uint8_t>(i);
  const int64_t first = j * (n - 1);
  for (int t = 0; t < n - 1; ++t) {
    const int i = n - 1 - t;
    const uint32_t r = static_cast<uint32_t>((static_cast<uint64_t>(cur(first + t)) * static_cast<uint64_t>(i + 1)) >> 32);
    const uint8_t tmp = perm[i];
    perm[i] = perm[r];
    perm[r] = tmp;
  }
}

// ---- proposal sampling ---------------------------------------------------------------------

constexpr uint32_t kBitsProposalStream = 0xB176u;
constexpr uint32_t kPermsProposalStream = 0x9E54u;
constexpr double kLog2 = 0.69314718055994530942;

// thr = ⌊σ(a)·2^32⌋, at most 2^32 − 1: bit = word < thr has probability thr / 2^32.
PYALGO_HD uint32_t bernoulli_threshold(double a) {
  const double e = hd_exp(-(a < 0 ? -a : a));  // e^{−|a|}: no overflow
  const double p = a >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  const double t = p * 4294967296.0;
  return t >= 4294967295.0 ? 0xFFFFFFFFu : (t > 0.0 ? static_cast<uint32_t>(t) : 0u);  // NaN: 0
}

PYALGO_HD double softplus_d(double a) { return (a > 0 ? a : 0.0) + hd_log1p(hd_exp(-(a < 0 ? -a : a))); }

// log q − log r without the ⟨a, y'⟩ term: Σ_i softplus(a_i) − k log 2 (serial, the same order everywhere).
PYALGO_HD double bits_log_c(const double* a, int k) {
  double c = 0;
  for (int i = 0; i < k; ++i) c += softplus_d(a[i]);
  return c - static_cast<double>(k) * kLog2;
}

// Thresholds of indices lane, lane + stride, … of a row.
PYALGO_HD void bits_thresholds(const double* a, int k, uint32_t* thr, int lane, int stride) {
  for (int i = lane; i < k; i += stride) thr[i] = bernoulli_threshold(a[i]);
}

// One row's proposal (a == nullptr: uniform sampling).
struct BitsProposal {
  const double* a;      // (k) logits
  const uint32_t* thr;  // (k) thresholds
  double log_c;         // Σ softplus(a) − k log 2
};

struct PermsProposal {
  const double* s;   // (n) Plackett–Luce scores
  double log_q;      // −log n!
  const double* ex;  // (n) e^{s_i − max s} when max s − min s ≤ kPlFastRange (perms_fast_row), else null
  double smax;       // max s
};

// Rows whose scores span at most kPlFastRange take the fast path of load_perm_proposal: one log per item
// (E_i = −log u_i, ordered by E_i·e^{max s − s_i} increasingly, the same order as the Gumbel keys) and
// log r from suffix sums of e^{s − max s}, multiplied and logged in blocks (no underflow: every suffix
// sum is ≥ e^{−300} and the running product is logged below 1e−150).
constexpr double kPlFastRange = 300.0;

// e^{s_i − max s} into ex (n doubles) and max s; returns whether the row takes the fast path.
PYALGO_HD bool perms_fast_row(const double* s, int n, double* ex, double* smax) {
  double hi = s[0], lo = s[0];
  for (int i = 1; i < n; ++i) {
    hi = s[i] > hi ? s[i] : hi;
    lo = s[i] < lo ? s[i] : lo;
  }
  *smax = hi;
  if (!(hi - lo <= kPlFastRange)) return false;
  for (int i = 0; i < n; ++i) ex[i] = hd_exp(s[i] - hi);
  return true;
}

// Sample j of a Bernoulli proposal into y[0 .. ceil(k/32)); returns ⟨a, y'⟩ (double, increasing i).
template <class Cursor>
PYALGO_HD double load_bits_proposal(Cursor& cur, int64_t j, int k, const BitsProposal& prop, uint32_t* y) {
  const int words = bits_words(k);
  for (int w = 0; w < words; ++w) y[w] = 0u;
  double dot = 0;
  const int64_t first = j * k;
  for (int i = 0; i < k; ++i) {
    const uint32_t bit = cur(first + i) < prop.thr[i] ? 1u : 0u;
    y[i >> 5] |= bit << (i & 31);
    dot += static_cast<double>(bit) * prop.a[i];  // branch-free: the bits are random (a is finite)
  }
  return dot;
}

// Sample j of a Plackett–Luce proposal: positions into perm (perm[i] = n − 1 − rank of item i), the
// decreasing order into order (keys: scratch of n doubles); returns log r(y').
template <class Cursor>
PYALGO_HD double load_perm_proposal(Cursor& cur, int64_t j, int n, const PermsProposal& prop, double* keys,
                                    uint8_t* order, uint8_t* perm) {
  const double* s = prop.s;
  const int64_t first = j * n;
  if (prop.ex) {  // fast path: keys E_i / e^{s_i − max s} in increasing order
    for (int i = 0; i < n; ++i) {
      const double u = (static_cast<double>(cur(first + i)) + 0.5) * 2.3283064365386962890625e-10;  // 2^-32
      const double key = -hd_log(u) / prop.ex[i];
      int t = i;
      for (; t > 0 && keys[t - 1] > key; --t) {
        keys[t] = keys[t - 1];
        order[t] = order[t - 1];
      }
      keys[t] = key;
      order[t] = static_cast<uint8_t>(i);
    }
    for (int t = 0; t < n; ++t) perm[order[t]] = static_cast<uint8_t>(n - 1 - t);
    double suffix = 0, log_r = 0, prod = 1, log_prod = 0;
    for (int t = n - 1; t >= 0; --t) {
      suffix += prop.ex[order[t]];
      log_r += s[order[t]] - prop.smax;
      prod *= suffix;
      if (prod < 1e-150 || prod > 1e150) {
        log_prod += hd_log(prod);
        prod = 1;
      }
    }
    return log_r - (log_prod + hd_log(prod));
  }
  for (int i = 0; i < n; ++i) {
    const double u = (static_cast<double>(cur(first + i)) + 0.5) * 2.3283064365386962890625e-10;  // 2^-32
    const double key = s[i] - hd_log(-hd_log(u));
    int t = i;
    for (; t > 0 && keys[t - 1] < key; --t) {
      keys[t] = keys[t - 1];
      order[t] = order[t - 1];
    }
    keys[t] = key;
    order[t] = static_cast<uint8_t>(i);
  }
  for (int t = 0; t < n; ++t) perm[order[t]] = static_cast<uint8_t>(n - 1 - t);
  double lse = s[order[n - 1]], log_r = 0;
  for (int t = n - 2; t >= 0; --t) {
    const double x = s[order[t]];
    const double hi = x > lse ? x : lse, lo = x > lse ? lse : x;
    lse = hi + hd_log1p(hd_exp(lo - hi));
    log_r += x - lse;
  }
  return log_r;
}

// ---- energies ------------------------------------------------------------------------------

// Calls f(i) for every set bit i of a sample, in increasing order.
template <class F>
PYALGO_HD void for_each_set_bit(const uint32_t* y, int words, const F& f) {
  for (int w = 0; w < words; ++w)
    for (uint32_t bits = y[w]; bits; bits &= bits - 1) f(32 * w + lowest_bit(bits));
}

// g(y) = ⟨u, y⟩ + ½ yᵀ U y for bits y (U may be null); ⟨u, y⟩ from the byte table when given.
template <typename A>
PYALGO_HD A bits_energy(const A* u, const A* table, const A* U, int k, const uint32_t* y) {
  A g = 0;
  if (table) {
    for (int c = 0; c < bits_bytes(k); ++c) g += table[256 * c + byte_at(y, c)];
  } else {
    for (int i = 0; i < k; ++i) g += bit_at(y, i) ? u[i] : A(0);
  }
  if (U) {
    A quad = 0;
    const int words = bits_words(k);
    for_each_set_bit(y, words, [&](int a) {
      const A* Ua = U + static_cast<int64_t>(a) * k;
      for_each_set_bit(y, words, [&](int b) { quad += Ua[b]; });
    });
    g += A(0.5) * quad;
  }
  return g;
}

// The same for a dense 0/1 vector (the observed label y).
template <typename A>
PYALGO_HD A dense_bits_energy(const A* u, const A* U, int k, const A* y) {
  A g = 0;
  for (int i = 0; i < k; ++i) g += u[i] * y[i];
  if (U) {
    A quad = 0;
    for (int a = 0; a < k; ++a)
      for (int b = 0; b < k; ++b) quad += y[a] * U[static_cast<int64_t>(a) * k + b] * y[b];
    g += A(0.5) * quad;
  }
  return g;
}

// Permutahedron g = Σ_i θ_i (π_i + 1); Birkhoff g = Σ_i Θ[i, π_i].
template <typename A, typename I>
PYALGO_HD A perm_energy(const A* theta, bool birkhoff, int n, const I* perm) {
  A g = 0;
  for (int i = 0; i < n; ++i)
    g += birkhoff ? theta[static_cast<int64_t>(i) * n + perm[i]] : theta[i] * static_cast<A>(perm[i] + 1);
  return g;
}

// ---- value checks (run by the kernels on every row, so that no caller can skip them) ---------

// Whether y[0 .. n) is a permutation of 0 … n−1 (n ≤ kMaxItems): every entry in range, none repeated.
template <typename I>
PYALGO_HD bool is_perm(const I* y, int n) {
  uint32_t seen[kMaxItems / 32];
  for (int w = 0; w < kMaxItems / 32; ++w) seen[w] = 0u;
  for (int i = 0; i < n; ++i) {
    const I v = y[i];
    if (v < 0 || v >= static_cast<I>(n)) return false;
    const int vi = static_cast<int>(v);
    const uint32_t bit = 1u << (vi & 31);
    if (seen[vi >> 5] & bit) return false;
    seen[vi >> 5] |= bit;
  }
  return true;
}

// Whether entries lane, lane + stride, … of y[0 .. n) are all 0 or 1.
template <typename A>
PYALGO_HD bool is_binary(const A* y, int64_t n, int lane, int stride) {
  bool ok = true;
  for (int64_t i = lane; i < n; i += stride) ok = ok && (y[i] == A(0) || y[i] == A(1));
  return ok;
}

// Whether x[0 .. n) is finite (no NaN, no ±inf).
template <typename A>
PYALGO_HD bool all_finite(const A* x, int64_t n) {
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok = ok && (x[i] - x[i] == A(0));
  return ok;
}

// The largest finite value of A: a loss beyond it saturates there (see finish_row).
template <typename A>
PYALGO_HD A max_finite();
template <>
PYALGO_HD float max_finite<float>() { return 3.40282346638528859812e+38f; }
template <>
PYALGO_HD double max_finite<double>() { return 1.79769313486231570815e+308; }

// ---- per-sample loss terms -------------------------------------------------------------------

// Running sums of one row (or of one lane's share of it).
template <typename A>
struct Sums {
  A weight;  // Σ_j w_j (α = 1: Σ e^{s_j − shift})
  A conj;    // Σ_j f*(s_j) (α > 1)
  A max_s;   // max_j s_j (α = 1)
};

template <typename A>
PYALGO_HD Sums<A> zero_sums() {
  return Sums<A>{A(0), A(0), -hd_inf<A>()};
}

template <typename A>
PYALGO_HD void add_sums(Sums<A>& a, const Sums<A>& b) {
  a.weight += b.weight;
  a.conj += b.conj;
  a.max_s = a.max_s > b.max_s ? a.max_s : b.max_s;
}

// w = (f*)'(s) (scaled by e^{−shift} for α = 1), adding f*(s) to the sums for α > 1.
template <typename A>
PYALGO_HD A sample_weight(A s, A alpha, A shift, Sums<A>& sums) {
  if (alpha == A(1)) {
    sums.max_s = s > sums.max_s ? s : sums.max_s;
    const A w = hd_exp(s - shift);
    sums.weight += w;
    return w;
  }
  const A z = A(1) + (alpha - A(1)) * s;
  const A zp = z > A(0) ? z : A(0);
  A w, conj;
  if (alpha == A(2)) {
    w = zp;
    conj = A(0.5) * (zp * zp - A(1));
  } else {
    w = zp > A(0) ? hd_pow(zp, A(1) / (alpha - A(1))) : A(0);
    conj = (w * zp - A(1)) / alpha;  // [z]_+^{α/(α−1)} = w·z
  }
  sums.weight += w;
  sums.conj += conj;
  return w;
}

// α > 1 with an importance weight e^{lw}: w = e^{lw}(f*)'(s), adding e^{lw}[f*(s) + 1/α] to the sums
// (f*(s) + 1/α = [1 + (α−1)s]_+^{α/(α−1)}/α = (f*)'(s)·[z]_+/α).
template <typename A>
PYALGO_HD A weighted_sample_weight(A s, A lw, A alpha, Sums<A>& sums) {
  const A z = A(1) + (alpha - A(1)) * s;
  const A zp = z > A(0) ? z : A(0);
  A d, full;
  if (alpha == A(2)) {
    d = zp;
    full = A(0.5) * zp * zp;
  } else {
    d = zp > A(0) ? hd_pow(zp, A(1) / (alpha - A(1))) : A(0);
    full = d * zp / alpha;
  }
  const A iw = hd_exp(lw);
  const A w = iw * d;
  sums.weight += w;
  sums.conj += iw * full;
  return w;
}

// e^x for the weights of a pass: x ≤ shift_limit unless the pass is about to be redone (then the
// value is discarded), so float uses the branch-free polynomial of hd.h (it vectorises), clamped
// to stay finite; double uses libm.
PYALGO_HD float pass_exp(float x) { return exp_nonpos(x < 88.0f ? x : 88.0f); }
PYALGO_HD double pass_exp(double x) { return hd_exp(x); }

// Weights w_c = (f*)'(s_c) (α = 1: e^{s_c − shift}) of a chunk of samples, added to `sums`.
template <typename A>
PYALGO_HD void chunk_weights(const A* s, A* w, int n, A alpha, A shift, Sums<A>& sums) {
  if (alpha != A(1)) {
    for (int c = 0; c < n; ++c) w[c] = sample_weight(s[c], alpha, shift, sums);
    return;
  }
  A total = 0, mx = sums.max_s;
  PYALGO_SIMD_REDUCE2(+ : total, max : mx)
  for (int c = 0; c < n; ++c) {
    w[c] = pass_exp(s[c] - shift);
    total += w[c];
    mx = s[c] > mx ? s[c] : mx;
  }
  sums.weight += total;
  sums.max_s = mx;
}

// One pass over samples [j0, j1) of a multilabel row, kChunk samples at a time (energies, then
// their weights in one vectorisable loop, then the gradient): adds the sample weights to `sums`
// and, when the accumulators are given, w·y' (to hist[256c + byte c of y'] with a byte table,
// else to grad_u) and ½w·y'y'ᵀ to grad_U (k×k, if U is given), through add(p, v).
// With a proposal (kProp, prop.a set; the cursor on kBitsProposalStream) the samples are the proposal's and
// every sample term carries its importance weight (see the header). kProp = false compiles the uniform pass alone.
template <bool kProp, int kChunk, typename A, typename G, class Cursor, class Add>
PYALGO_HD void bits_pass(const A* u, const A* table, const A* U, int k, A tau, A alpha, A shift, Cursor& cur,
                         int64_t j0, int64_t j1, Sums<A>& sums, G* grad_u, G* hist, G* grad_U, const Add& add,
                         const BitsProposal& prop = BitsProposal{nullptr, nullptr, 0.0}) {
  const int words = bits_words(k), bytes = bits_bytes(k);
  const bool grad = grad_u || hist;
  uint32_t ys[kChunk * kMaxWords];
  A s[kChunk], w[kChunk], lw[kChunk];
  for (int64_t first = j0; first < j1; first += kChunk) {
    const int n = j1 - first < kChunk ? static_cast<int>(j1 - first) : kChunk;
    if (kProp) {
      for (int c = 0; c < n; ++c) {
        lw[c] = static_cast<A>(prop.log_c - load_bits_proposal(cur, first + c, k, prop, ys + c * words));
        s[c] = bits_energy(u, table, U, k, ys + c * words) - tau;
      }
      if (alpha == A(1)) {
        for (int c = 0; c < n; ++c) s[c] += lw[c];
        chunk_weights(s, w, n, alpha, shift, sums);
      } else {
        for (int c = 0; c < n; ++c) w[c] = weighted_sample_weight(s[c], lw[c], alpha, sums);
      }
    } else {
      for (int c = 0; c < n; ++c) {
        load_bits(cur, first + c, k, ys + c * words);
        s[c] = bits_energy(u, table, U, k, ys + c * words) - tau;
      }
      chunk_weights(s, w, n, alpha, shift, sums);
    }
    if (!grad) continue;
    for (int c = 0; c < n; ++c) {
      if (w[c] == A(0)) continue;
      const uint32_t* y = ys + c * words;
      const G gw = static_cast<G>(w[c]);
      if (hist) {
        for (int b = 0; b < bytes; ++b) add(hist + 256 * b + byte_at(y, b), gw);
      } else {
        for_each_set_bit(y, words, [&](int a) { add(grad_u + a, gw); });
      }
      if (U) {
        const G half_w = static_cast<G>(A(0.5) * w[c]);
        for_each_set_bit(y, words, [&](int a) {
          G* row = grad_U + static_cast<int64_t>(a) * k;
          for_each_set_bit(y, words, [&](int b) { add(row + b, half_w); });
        });
      }
    }
  }
}

// The same for permutations: grad_theta gets w·(π + 1) (permutahedron) or w at (i, π_i) (Birkhoff).
// With a proposal (kProp, prop.s set; the cursor on kPermsProposalStream) the samples are Plackett–Luce
// and every sample term carries its importance weight.
template <bool kProp, typename A, typename G, class Cursor, class Add>
PYALGO_HD void perms_pass(const A* theta, bool birkhoff, int n, A tau, A alpha, A shift, Cursor& cur,
                          int64_t j0, int64_t j1, Sums<A>& sums, G* grad_theta, const Add& add,
                          const PermsProposal& prop = PermsProposal{nullptr, 0.0, nullptr, 0.0}) {
  uint8_t perm[kMaxItems];
  double keys[kMaxItems];
  uint8_t order[kMaxItems];
  for (int64_t j = j0; j < j1; ++j) {
    A w;
    if (kProp) {
      const A lw = static_cast<A>(prop.log_q - load_perm_proposal(cur, j, n, prop, keys, order, perm));
      const A s = perm_energy(theta, birkhoff, n, perm) - tau;
      w = alpha == A(1) ? sample_weight(s + lw, alpha, shift, sums) : weighted_sample_weight(s, lw, alpha, sums);
    } else {
      load_perm(cur, j, n, perm);
      w = sample_weight(perm_energy(theta, birkhoff, n, perm) - tau, alpha, shift, sums);
    }
    if (!grad_theta || w == A(0)) continue;
    for (int i = 0; i < n; ++i) {
      if (birkhoff)
        add(grad_theta + static_cast<int64_t>(i) * n + perm[i], static_cast<G>(w));
      else
        add(grad_theta + i, static_cast<G>(w * static_cast<A>(perm[i] + 1)));
    }
  }
}

// α = 1: whether the pass taken relative to τ (shift 0) must be redone relative to max s.
template <typename A>
PYALGO_HD bool needs_shift(A alpha, const Sums<A>& sums) {
  return alpha == A(1) && sums.max_s > Limits<A>::shift_limit;
}

// Loss, ∂τ and the factor that turns the accumulated weights into the gradient's E_w[φ(y')] term.
template <typename A>
struct RowResult {
  A loss, grad_tau, factor;
};

// A loss beyond the largest finite value of A (far above the optimum: e^c (1 + L − c) itself
// exceeds it once L ≳ c + max·e^{−c}, ≈ 6·10³ in float32) saturates at ±max; NaN stays NaN.
template <typename A>
PYALGO_HD A saturate(A loss) {
  const A mx = max_finite<A>();
  return loss > mx ? mx : (loss < -mx ? -mx : loss);
}

// weighted: proposal sums (α > 1: conj holds Σ w_j [f*(s_j) + 1/α], so 1/α is subtracted once).
template <typename A>
PYALGO_HD RowResult<A> finish_row(const Sums<A>& sums, A tau, A g_true, A alpha, A shift, int64_t m,
                                  bool weighted = false) {
  const A inv_m = A(1) / static_cast<A>(m);
  if (alpha != A(1) && weighted)
    return RowResult<A>{saturate(tau + sums.conj * inv_m - A(1) / alpha - g_true), A(1) - sums.weight * inv_m, inv_m};
  if (alpha != A(1))
    return RowResult<A>{saturate(tau + sums.conj * inv_m - g_true), A(1) - sums.weight * inv_m, inv_m};
  if (!(sums.weight > A(0))) return RowResult<A>{saturate(tau - A(1) - g_true), A(1), A(0)};  // every e^{s} underflowed
  const A c = Limits<A>::clamp;
  const A L = shift + hd_log(sums.weight * inv_m);
  const A Lc = L < c ? L : c;
  const A mean_exp = L <= c ? hd_exp(L) : hd_exp(c) * (A(1) + L - c);
  return RowResult<A>{saturate(tau + mean_exp - A(1) - g_true), A(1) - hd_exp(Lc), hd_exp(Lc) / sums.weight};
}

// Accumulators → gradients, for indices lane, lane + stride, … (one thread: 0, 1).
// grad_u = factor·acc_u − y (acc_u summed from the byte histogram when given), grad_U = factor·acc_U − ½ y yᵀ.
template <typename A, typename G>
PYALGO_HD void finish_bits_grad(const G* acc_u, const G* hist, const G* acc_U, const A* y, int k, A factor, A* grad_u,
                                A* grad_U, int lane, int stride) {
  for (int i = lane; i < k; i += stride) {
    G acc = 0;
    if (hist) {
      const G* h = hist + 256 * (i >> 3);
      for (int v = 0; v < 256; ++v) acc += ((v >> (i & 7)) & 1) ? h[v] : G(0);
    } else {
      acc = acc_u[i];
    }
    grad_u[i] = factor * static_cast<A>(acc) - y[i];
  }
  if (!grad_U) return;
  const int64_t kk = static_cast<int64_t>(k) * k;
  for (int64_t idx = lane; idx < kk; idx += stride)
    grad_U[idx] = factor * static_cast<A>(acc_U[idx]) - A(0.5) * y[idx / k] * y[idx % k];
}

// grad = factor·acc − φ(y): φ(y) = y + 1 (permutahedron) or the permutation matrix (Birkhoff).
template <typename A, typename G>
PYALGO_HD void finish_perm_grad(const G* acc, const int64_t* y, bool birkhoff, int n, A factor, A* grad, int lane,
                                int stride) {
  const int64_t size = birkhoff ? static_cast<int64_t>(n) * n : n;
  for (int64_t idx = lane; idx < size; idx += stride) {
    const A target = birkhoff ? (y[idx / n] == idx % n ? A(1) : A(0)) : static_cast<A>(y[idx] + 1);
    grad[idx] = factor * static_cast<A>(acc[idx]) - target;
  }
}

}  // namespace energy
}  // namespace pyalgo
