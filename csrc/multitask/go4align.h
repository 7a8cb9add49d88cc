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

// Optimal 1-D K-means of x[0..m) into at most k clusters (fewer only when x has fewer distinct
// values), labels[i] in 0..clusters-1 numbered by increasing centre. Clusters are contiguous runs of
// the sorted distinct values (equal values are never split, so the labelling is permutation
// equivariant); dynamic programme over the boundaries between distinct values, O(k·D²) for D
// distinct values; exact ties go to the smallest boundary index. Returns the number of clusters.
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
  // prefix sums at boundaries b = 0..d (b distinct values to the left), centred: SSE is
  // shift-invariant and centring reduces the cancellation in s2 − s1²/n
  double mean = 0.0;
  for (double v : value) mean += v;
  mean /= static_cast<double>(d);
  std::vector<double> n(d + 1, 0.0), s1(d + 1, 0.0), s2(d + 1, 0.0);
  for (int64_t i = 0; i < d; ++i) {
    const double c = value[i] - mean;
    n[i + 1] = n[i] + count[i];
    s1[i + 1] = s1[i] + count[i] * c;
    s2[i + 1] = s2[i] + count[i] * c * c;
  }
  auto segment_sse = [&](int64_t a, int64_t b) {  // values between boundaries a < b
    const double s = s1[b] - s1[a];
    return std::max(s2[b] - s2[a] - s * s / (n[b] - n[a]), 0.0);
  };
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> cost(d + 1), next(d + 1);  // cost[b]: least SSE of the first b values, `level` clusters
  std::vector<int64_t> last((k + 1) * (d + 1), 0);  // last[level*(d+1)+b]: start of the last cluster
  cost[0] = inf;
  for (int64_t b = 1; b <= d; ++b) cost[b] = segment_sse(0, b);
  for (int64_t level = 2; level <= k; ++level) {
    const int64_t b_first = level == k ? d : 0;  // the last cluster ends at d: one column suffices
    for (int64_t b = 0; b < b_first; ++b) next[b] = inf;
    for (int64_t b = b_first; b <= d; ++b) {
      double best = inf;
      int64_t arg = 0;
      for (int64_t a = 0; a < b; ++a) {
        const double total = cost[a] + segment_sse(a, b);
        if (total < best) {
          best = total;
          arg = a;
        }
      }
      next[b] = best;
      last[level * (d + 1) + b] = arg;
    }
    std::swap(cost, next);
  }
  // cluster starts, from the end; distinct value i belongs to the number of starts <= i, minus 1
  std::vector<int64_t> start(k, 0);
  int64_t b = d;
  for (int64_t level = k; level >= 2; --level) {
    b = last[level * (d + 1) + b];
    start[level - 1] = b;
  }
  for (int64_t i = 0; i < m; ++i) {
    const int64_t r = rank[i];
    labels[order[i]] = (std::upper_bound(start.begin() + 1, start.end(), r) - (start.begin() + 1));
  }
  return k;
}

// Why a loss value was rejected (0 = accepted).
enum LossError : int { kLossOk = 0, kLossNotFinite = 1, kLossNegative = 2, kLossZero = 3 };

// One GO4Align step (Eq. 5–7, 3–4) on the M losses (+ offset; values in [0, eps) raised to eps when
// eps > 0). Writes P, q, γ, the groups and the weights (cluster means of γ); log_q is updated in
// place (log-space, shifted so it never underflows). Returns a LossError and the first bad index
// in *bad (nothing written in that case).
inline int go4align_step(const double* losses, int64_t m, double* log_q, int64_t num_groups, double beta,
                         bool sum_scale, double offset, double eps, double* P, double* q, double* gamma,
                         int64_t* groups, double* weights, int64_t* bad) {
  double total = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    const double v = losses[i] + offset;
    *bad = i;
    if (!std::isfinite(v)) return kLossNotFinite;
    if (v < 0) return kLossNegative;
    if (v == 0 && !(eps > 0)) return kLossZero;
    total += std::max(v, eps);
  }
  const double scale = sum_scale ? total : total / static_cast<double>(m);  // Eq. 5 (sum: official code)
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < m; ++i) {
    const double v = std::max(losses[i] + offset, eps);
    P[i] = scale / v;
    log_q[i] -= beta * v;  // Eq. 6: q ∝ q_prev · exp(−β L)
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
    gamma[i] = P[i] * q[i];  // Eq. 7
  }
  const int64_t clusters = kmeans_1d_exact(gamma, m, num_groups, groups);  // Eq. 3
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
