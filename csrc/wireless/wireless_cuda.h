// Launchers of the wireless CUDA kernels (defined in wireless_kernels.cu, no torch headers). A is
// float or double; complex data is passed as Cx<A> (torch's (re, im) layout). Each launcher takes
// one torch-free parameter struct (the kernels get it by value) and returns the launch error, if
// any. Device pointers throughout; "B x K" is a contiguous (B, K) array. The launch geometry is
// spelled here too, so that the glue can check a grid before launching it.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "miso.h"

namespace pyalgo {
namespace wireless {

// wmmse_siso: gains g (B x K x K, row = receiver), p_max, noise, alpha (B x K). p holds the
// initial powers and receives the final ones; u, w (B x K) and iters (B) are outputs. objective
// (B x (max_iter + 1)) and trajectory (B x (max_iter + 1) x K) are null unless recorded.
template <typename A>
struct SisoParams {
  const A* g;
  const A* p_max;
  const A* noise;
  const A* alpha;
  A* p;
  A* u;
  A* w;
  int32_t* iters;
  A* objective;
  A* trajectory;
  int64_t B;  // >= 1 instances
  int K;      // >= 1 users
  int max_iter;
  A tol;
};

// siso_rates: out (B x K) = the per-user rates of gains g (B x K x K) at powers p and noise (B x K).
template <typename A>
struct SisoRatesParams {
  const A* g;
  const A* p;
  const A* noise;
  A* out;
  A* interference;  // (B x K): each user's interference sum plus noise, for the backward
  int64_t B;
  int K;
};

// siso_rates_backward: from the upstream gradient grad (B x K), grad_p and grad_noise (B x K) and,
// unless null, grad_g (B x K x K); direct (B x K) is scratch for the coefficients of the first half;
// interference (B x K) is the forward's.
template <typename A>
struct SisoRatesBackwardParams {
  const A* g;
  const A* p;
  const A* noise;
  const A* interference;
  const A* grad;
  A* grad_g;
  A* grad_p;
  A* grad_noise;
  A* direct;
  int64_t B;
  int K;
};

// wmmse_miso: channels h (B x K x N), p_max (B), noise, alpha (B x K). V (B x K x N) holds the
// initial beamformers and receives the final ones; u (B x K, complex), w (B x K), iters (B) are
// outputs; objective (B x (max_iter + 1)) and trajectory (B x (max_iter + 1) x K x N) are null
// unless recorded. workspace holds MisoWork<A>::size(K, N) entries per instance.
template <typename A>
struct MisoParams {
  const Cx<A>* h;
  const A* p_max;
  const A* noise;
  const A* alpha;
  Cx<A>* V;
  Cx<A>* u;
  A* w;
  int32_t* iters;
  A* objective;
  Cx<A>* trajectory;
  Cx<A>* workspace;
  int64_t B;
  int K, N;
  int max_iter;
  A tol, bisection_tol;
};

// miso_rates: out (B x K) = the per-user rates of channels h at beamformers V (B x K x N).
template <typename A>
struct MisoRatesParams {
  const Cx<A>* h;
  const Cx<A>* V;
  const A* noise;
  A* out;
  int64_t B;
  int K, N;
};

// miso_rates_backward: grad_v (B x K x N), grad_noise (B x K) and, unless null, grad_h (B x K x N)
// from grad (B x K); coef (B x K x K) is scratch for the first half.
template <typename A>
struct MisoRatesBackwardParams {
  const Cx<A>* h;
  const Cx<A>* V;
  const A* noise;
  const A* grad;
  Cx<A>* grad_h;
  Cx<A>* grad_v;
  A* grad_noise;
  Cx<A>* coef;
  int64_t B;
  int K, N;
};

// ---- launch geometry -------------------------------------------------------------------------
// A thread per user (rates) or per instance (MISO) in blocks of kThreads; WMMSE SISO with K <=
// kMaxWarpTeam runs a warp segment of the next power of two >= K lanes per instance, kThreads
// lanes per block; above, a block of min(K rounded up to 32, kMaxBlockTeam) threads per instance,
// whose state vectors (and 32 partial sums) must fit the 48 KiB of dynamic shared memory.
constexpr int kThreads = 128;
constexpr int kMaxWarpTeam = 32;
constexpr int kMaxBlockTeam = 256;
constexpr int64_t kSharedLimit = 48 * 1024;

inline int64_t blocks_for(int64_t items) { return (items + kThreads - 1) / kThreads; }

inline int siso_segment_width(int K) {
  int width = 1;
  while (width < K) width *= 2;
  return width;
}

// The blocks of a wmmse_siso launch for B instances of K users.
inline int64_t wmmse_siso_blocks(int64_t B, int K) {
  if (K > kMaxWarpTeam) return B;
  const int per_block = kThreads / siso_segment_width(K);
  return (B + per_block - 1) / per_block;
}

// The largest K that wmmse_siso runs on CUDA for element type A.
template <typename A>
constexpr int64_t wmmse_siso_max_users() {
  return (kSharedLimit / static_cast<int64_t>(sizeof(A)) - 32) / SisoState<A>::kVectors;
}

template <typename A>
cudaError_t launch_wmmse_siso(const SisoParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_siso_rates(const SisoRatesParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_siso_rates_backward(const SisoRatesBackwardParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_wmmse_miso(const MisoParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_miso_rates(const MisoRatesParams<A>& p, cudaStream_t stream);
template <typename A>
cudaError_t launch_miso_rates_backward(const MisoRatesBackwardParams<A>& p, cudaStream_t stream);

}  // namespace wireless
}  // namespace pyalgo
