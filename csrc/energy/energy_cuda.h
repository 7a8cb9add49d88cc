// Launchers of the energy CUDA kernels (defined in energy_kernels.cu, no torch headers). A is float
// or double. Each launcher takes one torch-free parameter struct (the kernels get it by value) and
// returns the launch error. Device pointers throughout; `seed` points to the (seed, offset) pair.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

#include "minmin.h"

namespace pyalgo {
namespace energy {

// Samplers: out is (B, m, size); sample j of row b goes to out[(b·m + j)·size …].
template <typename Out>
struct SampleParams {
  const int64_t* seed;
  Out* out;     // uint8 bits (sample_bits) or int64 permutations (sample_perms)
  int64_t B, m; // B ≥ 1 rows of m samples
  int size;     // k labels or n items
};

// Proposal samplers: proposal (B, size) float64 logits (bits) or scores (perms); out (B, m, size);
// log_w (B, m); thr (B, k) scratch for the bits thresholds; log_q = −log n! (perms).
template <typename Out>
struct SampleProposalParams {
  const int64_t* seed;
  const double* proposal;
  uint32_t* thr;
  Out* out;
  double* log_w;
  double log_q;
  int64_t B, m;
  int size;
};

// minmin_bits: u (B, k), U (B, k, k) or null, tau (B,), y (B, k) as A; proposal (B, k) float64 logits or
// null (uniform), thr (B, k) scratch for its thresholds. Outputs loss (B,); the
// gradients grad_u (B, k), grad_U (B, k, k), grad_tau (B,) are null unless compute_grad (grad_U
// also when U is null).
template <typename A>
struct MinminBitsParams {
  const A* u;
  const A* U;
  const A* tau;
  const A* y;
  const double* proposal;
  uint32_t* thr;
  const int64_t* seed;
  A* loss;
  A* grad_u;
  A* grad_U;
  A* grad_tau;
  int64_t B, m;
  int k;
  A alpha;
};

// minmin_perms: theta (B, n) or (B, n, n) (birkhoff), tau (B,), y int64 (B, n), proposal (B, n) float64
// Plackett–Luce scores or null (uniform), log_q = −log n!. Outputs loss (B,);
// grad_theta (theta's shape) and grad_tau (B,) are null unless compute_grad.
template <typename A>
struct MinminPermsParams {
  const A* theta;
  const A* tau;
  const int64_t* y;
  const double* proposal;
  double log_q;
  const int64_t* seed;
  A* loss;
  A* grad_theta;
  A* grad_tau;
  int64_t B, m;
  int n;
  bool birkhoff;
  A alpha;
};

// Where a minmin kernel keeps its accumulators, chosen by the launcher (energy_kernels.cu); `bytes`
// is the whole dynamic shared memory of a block (the kernels declare no static __shared__ array,
// so this is all the shared memory they use, and it stays <= 48 KiB).
struct BitsLayout {
  bool tables;    // byte tables (+ histogram) in shared memory, else per-label accumulators
  bool shared_U;  // k×k pairwise accumulator in shared memory, else in grad_U
  size_t bytes;
};
struct PermsLayout {
  bool shared_acc;  // gradient accumulator in shared memory, else in grad_theta
  size_t bytes;
};
template <typename A>
BitsLayout minmin_bits_layout(int k, bool grad, bool pairwise);
template <typename A>
PermsLayout minmin_perms_layout(int n, bool birkhoff, bool grad);

cudaError_t launch_sample_bits(const SampleParams<uint8_t>& p, cudaStream_t stream);
cudaError_t launch_sample_perms(const SampleParams<int64_t>& p, cudaStream_t stream);
cudaError_t launch_sample_bits_proposal(const SampleProposalParams<uint8_t>& p, cudaStream_t stream);
cudaError_t launch_sample_perms_proposal(const SampleProposalParams<int64_t>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_minmin_bits(const MinminBitsParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_minmin_perms(const MinminPermsParams<A>& p, cudaStream_t stream);

}  // namespace energy
}  // namespace pyalgo
