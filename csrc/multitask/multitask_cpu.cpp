// Torch glue of the GO4Align ops (go4align.h). Host-only by design: the inputs are the M loss
// values of one training step (see go4align.h), so there is no CUDA launcher; the Python wrapper
// moves the values to the host.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>

#include "go4align.h"

namespace pyalgo {
namespace multitask {
namespace {

at::Tensor host_vector(const char* fn, const char* name, const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 1, fn, ": ", name, " must be 1-D, got shape ", x.sizes());
  TORCH_CHECK(x.scalar_type() == at::kDouble, fn, ": ", name, " must be float64, got ", x.scalar_type());
  TORCH_CHECK(x.device().is_cpu(), fn, ": ", name, " must be on the CPU, got ", x.device());
  return x.contiguous();
}

at::Tensor kmeans_1d_cpu(const at::Tensor& values, int64_t num_clusters) {
  const char* fn = "pyalgo.multitask.kmeans_1d";
  const at::Tensor x = host_vector(fn, "values", values);
  TORCH_CHECK(x.numel() > 0, fn, ": values must be non-empty");
  TORCH_CHECK_VALUE(x.numel() <= kKmeansMaxValues, fn, ": values may have at most ", kKmeansMaxValues,
                    " entries, got ", x.numel());
  TORCH_CHECK_VALUE(num_clusters >= 1, fn, ": num_clusters must be >= 1, got ", num_clusters);
  const double* v = x.data_ptr<double>();
  for (int64_t i = 0; i < x.numel(); ++i)
    TORCH_CHECK_VALUE(std::isfinite(v[i]), fn, ": values must be finite, got values[", i, "] = ", v[i]);
  at::Tensor labels = at::empty({x.numel()}, x.options().dtype(at::kLong));
  const int64_t clusters = kmeans_1d_exact(x.data_ptr<double>(), x.numel(), num_clusters, labels.data_ptr<int64_t>());
  TORCH_CHECK_VALUE(clusters > 0, fn, ": num_clusters = ", num_clusters, " with ", x.numel(),
                    " values exceeds the limits (K - 1)(D + 1) <= 2^26 and (K - 2) D log2(D) <= 2^27 for D distinct "
                    "values (time and memory of the dynamic programme; see docs/multitask.md)");
  return labels;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> go4align_weights_cpu(
    const at::Tensor& losses, const at::Tensor& log_q, int64_t num_groups, double beta, bool sum_scale,
    double offset, double eps) {
  const char* fn = "pyalgo.multitask.go4align";
  const at::Tensor L = host_vector(fn, "losses", losses);
  const at::Tensor lq = host_vector(fn, "log_q", log_q);
  const int64_t m = L.numel();
  TORCH_CHECK(m > 0, fn, ": losses must be non-empty");
  TORCH_CHECK_VALUE(m <= kKmeansMaxValues, fn, ": losses may have at most ", kKmeansMaxValues, " entries, got ", m);
  TORCH_CHECK(lq.numel() == m, fn, ": log_q must have ", m, " entries (one per loss), got ", lq.numel());
  TORCH_CHECK_VALUE(num_groups >= 1 && num_groups <= m, fn, ": num_groups must be in [1, ", m, "], got ", num_groups);
  TORCH_CHECK_VALUE(std::isfinite(beta) && beta >= 0, fn, ": beta must be finite and >= 0, got ", beta);
  TORCH_CHECK_VALUE(std::isfinite(offset), fn, ": loss_offset must be finite, got ", offset);
  TORCH_CHECK_VALUE(std::isfinite(eps) && eps >= 0, fn, ": eps must be finite and >= 0, got ", eps);
  const auto opts = L.options();
  at::Tensor P = at::empty({m}, opts), q = at::empty({m}, opts), gamma = at::empty({m}, opts);
  at::Tensor weights = at::empty({m}, opts), new_log_q = lq.clone();
  at::Tensor groups = at::empty({m}, opts.dtype(at::kLong));
  int64_t bad = 0;
  const int err = go4align_step(L.data_ptr<double>(), m, new_log_q.data_ptr<double>(), num_groups, beta, sum_scale,
                                offset, eps, P.data_ptr<double>(), q.data_ptr<double>(), gamma.data_ptr<double>(),
                                groups.data_ptr<int64_t>(), weights.data_ptr<double>(), &bad);
  const char* shifted = offset != 0 ? " (after loss_offset)" : "";
  TORCH_CHECK_VALUE(err != kLossNotFinite, fn, ": losses must be finite, got losses[", bad, "] = ", L[bad].item<double>());
  TORCH_CHECK_VALUE(err != kLossNegative, fn, ": losses must be > 0", shifted, ", got losses[", bad, "] = ",
              L[bad].item<double>() + offset, "; pass loss_offset= for losses that can be negative");
  TORCH_CHECK_VALUE(err != kLossRange, fn, ": losses span too wide a range: P = mean(losses) / losses overflows "
                    "float64 at losses[", bad, "] = ", L[bad].item<double>(), "; raise eps (now ", eps, ")");
  TORCH_CHECK_VALUE(err != kTooLarge, fn, ": num_groups = ", num_groups, " with ", m,
                    " losses exceeds the limits of kmeans_1d (see docs/multitask.md)");
  TORCH_CHECK_VALUE(err != kLossZero, fn, ": losses must be > 0", shifted, ", got losses[", bad, "] = ",
              L[bad].item<double>() + offset, "; pass eps= to clamp losses that can reach 0");
  return {weights, groups, gamma, P, q, new_log_q};
}

}  // namespace

TORCH_LIBRARY_IMPL(pyalgo, CPU, m) {
  m.impl("kmeans_1d", &kmeans_1d_cpu);
  m.impl("go4align_weights", &go4align_weights_cpu);
}

}  // namespace multitask
}  // namespace pyalgo
