// Torch glue of the GO4Align ops (go4align.h). Host-only by design: the inputs are the M loss
// values of one training step (see go4align.h), so there is no CUDA launcher; the Python wrapper
// moves the values to the host.
#include "../common/stable.h"

#include <cmath>

#include "go4align.h"

namespace pyalgo {
namespace multitask {
namespace {

Tensor host_vector(const char* fn, const char* name, const Tensor& x) {
  PYALGO_CHECK(x.dim() == 1, fn, ": ", name, " must be 1-D, got shape ", shape_text(x.sizes()));
  PYALGO_CHECK(x.scalar_type() == kDouble, fn, ": ", name, " must be float64, got ", x.scalar_type());
  PYALGO_CHECK(x.device().is_cpu(), fn, ": ", name, " must be on the CPU, got ", x.device());
  return contig(x);
}

Tensor kmeans_1d_cpu(const Tensor& values, int64_t num_clusters) {
  const char* fn = "pyalgo.multitask.kmeans_1d";
  const Tensor x = host_vector(fn, "values", values);
  PYALGO_CHECK(x.numel() > 0, fn, ": values must be non-empty");
  PYALGO_CHECK_VALUE(x.numel() <= kKmeansMaxValues, fn, ": values may have at most ", kKmeansMaxValues,
                    " entries, got ", x.numel());
  PYALGO_CHECK_VALUE(num_clusters >= 1, fn, ": num_clusters must be >= 1, got ", num_clusters);
  const double* v = ptr<double>(x);
  for (int64_t i = 0; i < x.numel(); ++i)
    PYALGO_CHECK_VALUE(std::isfinite(v[i]), fn, ": values must be finite, got values[", i, "] = ", v[i]);
  Tensor labels = empty({x.numel()}, kLong, x);
  const int64_t clusters = kmeans_1d_exact(ptr<double>(x), x.numel(), num_clusters, ptr<int64_t>(labels));
  PYALGO_CHECK_VALUE(clusters > 0, fn, ": num_clusters = ", num_clusters, " with ", x.numel(),
                    " values exceeds the limits (K - 1)(D + 1) <= 2^26 and (K - 2) D log2(D) <= 2^27 for D distinct "
                    "values (time and memory of the dynamic programme; see docs/multitask.md)");
  return labels;
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> go4align_weights_cpu(
    const Tensor& losses, const Tensor& log_q, int64_t num_groups, double beta, bool sum_scale,
    double offset, double eps) {
  const char* fn = "pyalgo.multitask.go4align";
  const Tensor L = host_vector(fn, "losses", losses);
  const Tensor lq = host_vector(fn, "log_q", log_q);
  const int64_t m = L.numel();
  PYALGO_CHECK(m > 0, fn, ": losses must be non-empty");
  PYALGO_CHECK_VALUE(m <= kKmeansMaxValues, fn, ": losses may have at most ", kKmeansMaxValues, " entries, got ", m);
  PYALGO_CHECK(lq.numel() == m, fn, ": log_q must have ", m, " entries (one per loss), got ", lq.numel());
  PYALGO_CHECK_VALUE(num_groups >= 1 && num_groups <= m, fn, ": num_groups must be in [1, ", m, "], got ", num_groups);
  PYALGO_CHECK_VALUE(std::isfinite(beta) && beta >= 0, fn, ": beta must be finite and >= 0, got ", beta);
  PYALGO_CHECK_VALUE(std::isfinite(offset), fn, ": loss_offset must be finite, got ", offset);
  PYALGO_CHECK_VALUE(std::isfinite(eps) && eps >= 0, fn, ": eps must be finite and >= 0, got ", eps);
  Tensor P = empty({m}, kDouble, L), q = empty({m}, kDouble, L), gamma = empty({m}, kDouble, L);
  Tensor weights = empty({m}, kDouble, L), new_log_q = copy_of(lq);
  Tensor groups = empty({m}, kLong, L);
  int64_t bad = 0;
  const int err = go4align_step(ptr<double>(L), m, ptr<double>(new_log_q), num_groups, beta, sum_scale,
                                offset, eps, ptr<double>(P), ptr<double>(q), ptr<double>(gamma),
                                ptr<int64_t>(groups), ptr<double>(weights), &bad);
  const char* shifted = offset != 0 ? " (after loss_offset)" : "";
  PYALGO_CHECK_VALUE(err != kLossNotFinite, fn, ": losses must be finite, got losses[", bad, "] = ", ptr<double>(L)[bad]);
  PYALGO_CHECK_VALUE(err != kLossNegative, fn, ": losses must be > 0", shifted, ", got losses[", bad, "] = ",
              ptr<double>(L)[bad] + offset, "; pass loss_offset= for losses that can be negative");
  PYALGO_CHECK_VALUE(err != kLossRange, fn, ": losses span too wide a range: P = mean(losses) / losses overflows "
                    "float64 at losses[", bad, "] = ", ptr<double>(L)[bad], "; raise eps (now ", eps, ")");
  PYALGO_CHECK_VALUE(err != kTooLarge, fn, ": num_groups = ", num_groups, " with ", m,
                    " losses exceeds the limits of kmeans_1d (see docs/multitask.md)");
  PYALGO_CHECK_VALUE(err != kLossZero, fn, ": losses must be > 0", shifted, ", got losses[", bad, "] = ",
              ptr<double>(L)[bad] + offset, "; pass eps= to clamp losses that can reach 0");
  return std::make_tuple(weights, groups, gamma, P, q, new_log_q);
}

}  // namespace

STABLE_TORCH_LIBRARY_IMPL(pyalgo, CPU, m) {
  m.impl("kmeans_1d", TORCH_BOX(&kmeans_1d_cpu));
  m.impl("go4align_weights", TORCH_BOX(&go4align_weights_cpu));
}

}  // namespace multitask
}  // namespace pyalgo
