// GO4Align's per-step weights (Shen et al., NeurIPS 2024; docs/multitask.md) and the
// exact 1-D K-means they cluster with. Torch-free: raw pointers and sizes.
//
// The work is M scalars per training step, sequential by nature (a sort and a small dynamic
// programme), so it runs on the host: a CUDA model's M loss values cost one device-to-host copy,
// which any value-based weighting needs. Written in C++ because at the sizes of multi-task
// training (M = 2..100) the per-step cost is all call overhead: ~2 µs here against ~150 µs for the
// same steps as NumPy calls, which would be several percent of a small network's step.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace pyalgo {
namespace multitask {

// Moments of a run of sorted values: count n, mean = anchor + offset with `anchor` one of the run's
// (scaled) values, so that |offset| and every difference taken below are bounded by the run's own
// spread, and m2 = Σ count·(v − mean)². Merged with Chan et al.'s pairwise formula, so a segment's
// SSE has a relative error of a few ulps times log(length) whatever the magnitude or the offset of
// the rest of the data (a centred prefix sum s2 − s1²/n does not: its error is relative to the
// whole data set, which made tiny clusters next to huge values come out wrong).
struct Moments {
  double n = 0.0, anchor = 0.0, offset = 0.0, m2 = 0.0;
};

inline Moments merge_moments(const Moments& a, const Moments& b) {
  if (a.n == 0) return b;
  if (b.n == 0) return a;
  const double n = a.n + b.n;
  const double delta = (b.anchor - a.anchor) + (b.offset - a.offset);  // mean_b − mean_a
  Moments out;
  out.n = n;
  out.anchor = a.anchor;
  out.offset = a.offset + delta * (b.n / n);
  out.m2 = a.m2 + b.m2 + delta * delta * (a.n * (b.n / n));
  return out;
}

// Limits (the op is not interruptible, so they bound its time and memory): at most kKmeansMaxValues
// values (~100 bytes each); the dynamic programme keeps (K − 1)·(D + 1) back-pointers (8 bytes
// each) and each of its K − 2 full levels costs about D·log2(D) segment merges (~10-50 ns each).
constexpr int64_t kKmeansMaxValues = int64_t(1) << 23;
constexpr int64_t kKmeansMaxPointers = int64_t(1) << 26;
constexpr int64_t kKmeansMaxWork = int64_t(1) << 27;

// Whether k clusters of d distinct values are within the limits above.
inline bool kmeans_within_limits(int64_t d, int64_t k) {
  k = std::min(k, d);
  if (k <= 2) return true;
  int64_t log2d = 1;
  while ((int64_t(1) << log2d) < d) ++log2d;
  return (k - 1) <= kKmeansMaxPointers / (d + 1) && (k - 2) <= kKmeansMaxWork / (d * log2d);
}

// Relative difference below which two partitions' SSEs count as equal (the segment costs are
// accurate to a few ulps times log2(D)).
constexpr double kTieTolerance = 1e-14;

// Optimal 1-D K-means of x[0..m) into at most k clusters (fewer only when x has fewer distinct
// values), labels[i] in 0..clusters-1 numbered by increasing centre. Clusters are contiguous runs of
// the sorted distinct values (equal values are never split, so the labelling is permutation
// equivariant); dynamic programme over the boundaries between distinct values. The optimal last
// boundary is monotone in the prefix length (the SSE satisfies the quadrangle inequality), so each
// level is solved by divide and conquer (Wang & Song's Ckmeans.1d.dp): O(K·D·log D) time for D
// distinct values, after an O(m log m) sort (limits: kmeans_within_limits). Ties (within
// kTieTolerance) go to the smallest boundary index. The values are scaled by a power of two (exact)
// so that no square overflows whatever their magnitude; differences below max|x|·2^-1035 (beyond
// float64's relative range) count as zero. Returns the number of clusters, or −1 (nothing
// written) when k and D exceed kmeans_within_limits.
inline int64_t kmeans_1d_exact(const double* x, int64_t m, int64_t k, int64_t* labels) {
  std::vector<int64_t> order(m);
  std::iota(order.begin(), order.end(), int64_t(0));
  std::stable_sort(order.begin(), order.end(), [x](int64_t a, int64_t b) { return x[a] < x[b]; });
  // distinct values with multiplicities; rank[i] = index of the distinct value of the i-th smallest
  std::vector<double> value, count;
  std::vector<int64_t> rank(m);
  for (int64_t i = 0; i < m; ++i) {
    const double v = x[order[i]];
    if (i == 0 || v != value.back()) {
      value.push_back(v);
      count.push_back(0.0);
    }
    count.back() += 1.0;
    rank[i] = static_cast<int64_t>(value.size()) - 1;
  }
  const int64_t d = static_cast<int64_t>(value.size());
  k = std::min(k, d);
  if (k <= 1 || k == d) {
    for (int64_t i = 0; i < m; ++i) labels[order[i]] = k <= 1 ? 0 : rank[i];
    return std::max<int64_t>(k, 1);
  }
  if (!kmeans_within_limits(d, k)) return -1;
  // scale by a power of two (exact bar underflow) to |v| < 2^498: every square and sum below stays
  // under 2^1021 for up to 2^23 values, and differences down to max|x|·2^-1035 keep non-zero squares
  int exponent = 0;
  std::frexp(std::max(std::fabs(value.front()), std::fabs(value.back())), &exponent);
  for (double& v : value) v = std::ldexp(v, 498 - exponent);
  // bottom-up segment tree of the distinct values' moments: any run in O(log D) merges
  int64_t size = 1;
  while (size < d) size *= 2;
  std::vector<Moments> tree(2 * size);
  for (int64_t i = 0; i < d; ++i) tree[size + i] = Moments{count[i], value[i], 0.0, 0.0};
  for (int64_t i = size - 1; i >= 1; --i) tree[i] = merge_moments(tree[2 * i], tree[2 * i + 1]);
  auto run = [&](int64_t a, int64_t b) {  // moments of the distinct values a..b-1
    Moments left, right;
    for (int64_t lo = a + size, hi = b + size; lo < hi; lo /= 2, hi /= 2) {
      if (lo & 1) left = merge_moments(left, tree[lo++]);
      if (hi & 1) right = merge_moments(tree[--hi], right);
    }
    return merge_moments(left, right);
  };
  const double inf = std::numeric_limits<double>::infinity();
  // cost[b]: least SSE of the first b distinct values in `level` clusters (inf when impossible)
  std::vector<double> cost(d + 1, inf), next(d + 1, inf);
  std::vector<int64_t> last((k - 1) * (d + 1), 0);  // last[(level-2)*(d+1)+b]: start of the last cluster
  {
    Moments acc;
    for (int64_t b = 1; b <= d; ++b) {
      acc = merge_moments(acc, tree[size + b - 1]);
      cost[b] = acc.m2;
    }
  }
  // best split of the first b values: the last cluster starts at a in [lo, hi] (lo >= level − 1);
  // scanned from the right, growing the last cluster one value at a time
  auto best_split = [&](int64_t b, int64_t lo, int64_t hi, int64_t* arg) {
    double best = inf;
    *arg = lo;
    if (hi < lo) return best;
    Moments seg = run(hi, b);
    for (int64_t a = hi;; --a) {
      const double total = cost[a] + seg.m2;
      // ties go to the smallest a; totals within kTieTolerance (relative) count as ties, so that exact
      // ties (integer data) are decided by the rule rather than by the last bits of rounding
      if (total <= (best < inf ? best + kTieTolerance * best : inf)) {
        best = std::min(best, total);
        *arg = a;
      }
      if (a == lo) break;
      seg = merge_moments(tree[size + a - 1], seg);
    }
    return best;
  };
  struct Task {
    int64_t b_lo, b_hi, opt_lo, opt_hi;
  };
  std::vector<Task> stack;
  for (int64_t level = 2; level <= k; ++level) {
    int64_t* back = last.data() + (level - 2) * (d + 1);
    std::fill(next.begin(), next.end(), inf);
    if (level == k) {  // the last cluster ends at d: one column suffices
      next[d] = best_split(d, level - 1, d - 1, &back[d]);
    } else {
      stack.assign(1, Task{level, d, level - 1, d - 1});
      while (!stack.empty()) {
        const Task t = stack.back();
        stack.pop_back();
        if (t.b_lo > t.b_hi) continue;
        const int64_t b = t.b_lo + (t.b_hi - t.b_lo) / 2;
        int64_t arg = 0;
        next[b] = best_split(b, t.opt_lo, std::min(t.opt_hi, b - 1), &arg);
        back[b] = arg;
        stack.push_back(Task{t.b_lo, b - 1, t.opt_lo, arg});
        stack.push_back(Task{b + 1, t.b_hi, arg, t.opt_hi});
      }
    }
    std::swap(cost, next);
  }
  // cluster starts, from the end; distinct value i belongs to the number of starts <= i, minus 1
  std::vector<int64_t> start(k, 0);
  int64_t b = d;
  for (int64_t level = k; level >= 2; --level) {
    b = last[(level - 2) * (d + 1) + b];
    start[level - 1] = b;
  }
  for (int64_t i = 0; i < m; ++i) {
    const int64_t r = rank[i];
    labels[order[i]] = (std::upper_bound(start.begin() + 1, start.end(), r) - (start.begin() + 1));
  }
  return k;
}

// Why a loss value was rejected (0 = accepted).
enum LossError : int { kLossOk = 0, kLossNotFinite = 1, kLossNegative = 2, kLossZero = 3, kLossRange = 4, kTooLarge = 5 };

// Floor of the running log q: a task whose cumulative loss makes q underflow keeps q = 0 (exp of
// the floor) with a finite, restorable state instead of −inf.
constexpr double kLogQFloor = -1e300;

// One GO4Align step (Eq. 5–7, 3–4) on the M losses (+ offset; values in [0, eps) raised to eps when
// eps > 0). Writes P, q, γ, the groups and the weights (cluster means of γ); log_q is updated in
// place (log-space, shifted so it never underflows). Returns a LossError and the first bad index
// in *bad (nothing written in that case). Huge losses (a sum that overflows) and huge β·L take a
// normalised path (P through logarithms, the q update relative to the smallest loss), so every
// output is finite; kLossRange when P = scale/L itself exceeds the float64 range (the smallest
// loss, or eps, more than ~1e308 times below the mean).
inline int go4align_step(const double* losses, int64_t m, double* log_q, int64_t num_groups, double beta,
                         bool sum_scale, double offset, double eps, double* P, double* q, double* gamma,
                         int64_t* groups, double* weights, int64_t* bad) {
  double total = 0.0, vmax = 0.0, vmin = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < m; ++i) {
    const double v = losses[i] + offset;
    *bad = i;
    if (!std::isfinite(v)) return kLossNotFinite;
    if (v < 0) return kLossNegative;
    if (v == 0 && !(eps > 0)) return kLossZero;
    total += std::max(v, eps);
    vmax = std::max(vmax, std::max(v, eps));
    vmin = std::min(vmin, std::max(v, eps));
  }
  const double scale = sum_scale ? total : total / static_cast<double>(m);  // Eq. 5 (sum: official code)
  bool plain = std::isfinite(scale);
  for (int64_t i = 0; i < m && plain; ++i) plain = std::isfinite(scale / std::max(losses[i] + offset, eps));
  if (!plain) {  // P through logarithms, with the losses normalised by the largest
    double sum_u = 0.0;
    for (int64_t i = 0; i < m; ++i) sum_u += std::max(losses[i] + offset, eps) / vmax;
    const double log_scale = std::log(sum_scale ? sum_u : sum_u / static_cast<double>(m)) + std::log(vmax);
    for (int64_t i = 0; i < m; ++i) {
      *bad = i;
      if (!std::isfinite(std::exp(log_scale - std::log(std::max(losses[i] + offset, eps))))) return kLossRange;
    }
    for (int64_t i = 0; i < m; ++i) P[i] = std::exp(log_scale - std::log(std::max(losses[i] + offset, eps)));
  }
  bool finite_steps = true;
  for (int64_t i = 0; i < m; ++i) finite_steps = finite_steps && std::isfinite(beta * std::max(losses[i] + offset, eps));
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < m; ++i) {
    const double v = std::max(losses[i] + offset, eps);
    if (plain) P[i] = scale / v;
    // Eq. 6: q ∝ q_prev · exp(−β L); relative to the smallest loss when β·L overflows (same q)
    log_q[i] -= finite_steps ? beta * v : beta * (v - vmin);
    if (!(log_q[i] >= kLogQFloor)) log_q[i] = kLogQFloor;
    top = std::max(top, log_q[i]);
  }
  double norm = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    log_q[i] -= top;
    q[i] = std::exp(log_q[i]);
    norm += q[i];
  }
  const double log_norm = std::log(norm);
  for (int64_t i = 0; i < m; ++i) {
    q[i] /= norm;
    log_q[i] -= log_norm;
    if (!(log_q[i] >= kLogQFloor)) log_q[i] = kLogQFloor;
    gamma[i] = P[i] * q[i];  // Eq. 7
  }
  const int64_t clusters = kmeans_1d_exact(gamma, m, num_groups, groups);  // Eq. 3
  if (clusters < 0) return kTooLarge;
  std::vector<double> sum(clusters, 0.0), size(clusters, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    sum[groups[i]] += gamma[i];
    size[groups[i]] += 1.0;
  }
  for (int64_t i = 0; i < m; ++i) weights[i] = sum[groups[i]] / size[groups[i]];  // ω = γ G⁺ (Eq. 3–4)
  return kLossOk;
}

}  // namespace multitask
}  // namespace pyalgo
