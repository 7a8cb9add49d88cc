// CUDA kernels of the wireless ops, running the bodies of wmmse.h / miso.h that the CPU launcher
// runs. WMMSE SISO (spec wmmse.md §6): for K <= 32 a segment of a warp (the next power of two
// >= K lanes, several instances per warp) per instance, with the gains staged in shared memory
// (rows padded to K + 1); above, a block per instance. Rates and MISO: a thread per user or per
// instance. No torch headers; the torch glue is wireless_cuda.cpp.
#include "wireless_cuda.h"

#include "../common/launch.h"

namespace pyalgo {
namespace wireless {
namespace {

// `width` consecutive lanes of a warp (width a power of two <= 32) working on one instance.
struct WarpSegmentTeam {
  int lane_, width_;
  unsigned mask_;
  __device__ int lane() const { return lane_; }
  __device__ int size() const { return width_; }
  __device__ void sync() const { __syncwarp(mask_); }
  template <typename A>
  __device__ A sum(A x) const {
    // Butterfly: both partners add the same two operands, so every lane ends with the same bits.
    for (int m = width_ / 2; m >= 1; m /= 2) x += __shfl_xor_sync(mask_, x, m, width_);
    return x;
  }
};

// The whole block (blockDim.x a multiple of 32) on one instance; `red` holds 32 partial sums.
template <typename A>
struct BlockTeam {
  A* red;
  __device__ int lane() const { return threadIdx.x; }
  __device__ int size() const { return blockDim.x; }
  __device__ void sync() const { __syncthreads(); }
  __device__ A sum(A x) const {
    for (int m = 16; m >= 1; m /= 2) x += __shfl_xor_sync(0xffffffffu, x, m);
    __syncthreads();  // the previous sum's partials have been read
    if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = x;
    __syncthreads();
    A total = 0;
    for (int i = 0; i < static_cast<int>(blockDim.x / 32); ++i) total += red[i];  // same order on every lane
    return total;
  }
};

// Shared memory of one instance: the gains (K x (K + 1), when staged) then the state vectors.
template <typename A>
__device__ SisoState<A> state_in(A* v, int K) {
  return SisoState<A>{v, v + K, v + 2 * K, v + 3 * K, v + 4 * K, v + 5 * K, v + 6 * K, v + 7 * K};
}

// Runs instance b with team `t`; `sg` is the staged copy of the gains or null to read them
// from global memory.
template <typename A, typename Team>
__device__ void wmmse_siso_instance(const Team& t, const SisoParams<A>& q, int64_t b, A* sg, A* vectors) {
  const int K = q.K;
  const int64_t KK = static_cast<int64_t>(K) * K;
  const A* gb = q.g + b * KK;
  int64_t ld = K;
  if (sg != nullptr) {
    for (int64_t e = t.lane(); e < KK; e += t.size()) sg[(e / K) * (K + 1) + e % K] = gb[e];
    gb = sg;
    ld = K + 1;
  }
  const SisoProblem<A> pr{gb, ld, K, q.p_max + b * K, q.noise + b * K, q.alpha + b * K, nullptr};
  const SisoState<A> s = state_in(vectors, K);
  A* p = q.p + b * K;
  const int64_t T = q.max_iter + 1;
  const SisoRecord<A> rec{q.objective ? q.objective + b * T : nullptr,
                          q.trajectory ? q.trajectory + b * T * K : nullptr};
  // Input checks (wmmse.h InputFlag): each lane checks its users' gain rows and parameters; an
  // instance with a bad input is not iterated and gets NaN outputs, 0 updates (no host sync here).
  int bad = 0;
  for (int k = t.lane(); k < K; k += t.size())
    bad |= gains_flags(q.g + b * KK + static_cast<int64_t>(k) * K, K) |
           siso_user_flags(pr.p_max, pr.noise, pr.alpha, static_cast<const A*>(p), k);
  if (t.sum(A(bad != 0 ? 1 : 0)) > A(0)) {
    const A nan = hd_nan<A>();
    for (int k = t.lane(); k < K; k += t.size()) p[k] = q.u[b * K + k] = q.w[b * K + k] = nan;
    for (int64_t e = t.lane(); e < T; e += t.size())
      if (rec.objective != nullptr) rec.objective[e] = nan;
    for (int64_t e = t.lane(); e < T * K; e += t.size())
      if (rec.trajectory != nullptr) rec.trajectory[e] = nan;
    if (t.lane() == 0) q.iters[b] = 0;
    return;
  }
  for (int k = t.lane(); k < K; k += t.size()) s.v[k] = sqrt(p[k]);
  t.sync();
  const int it = wmmse_siso_solve(t, pr, s, q.max_iter, q.tol, rec);
  for (int k = t.lane(); k < K; k += t.size()) {
    p[k] = siso_power(s.v[k], pr.p_max[k]);
    q.u[b * K + k] = s.u[k];
    q.w[b * K + k] = s.w[k];
  }
  if (t.lane() == 0) q.iters[b] = it;
}

// K <= 32: blockDim.x / width instances per block, one per segment of `width` lanes.
template <typename A>
__global__ void wmmse_siso_warp_kernel(SisoParams<A> q, int width) {
  PYALGO_DYNAMIC_SHARED(A, smem);
  const int segment = threadIdx.x / width, lane = threadIdx.x % width;
  const int64_t b = static_cast<int64_t>(blockIdx.x) * (blockDim.x / width) + segment;
  if (b >= q.B) return;  // whole segments leave together
  const int per_instance = q.K * (q.K + 1) + SisoState<A>::kVectors * q.K;
  A* mine = smem + static_cast<int64_t>(segment) * per_instance;
  const unsigned base_mask = width == 32 ? 0xffffffffu : ((1u << width) - 1u);
  const WarpSegmentTeam team{lane, width, base_mask << ((threadIdx.x % 32) / width * width)};
  wmmse_siso_instance(team, q, b, mine, mine + q.K * (q.K + 1));
}

// K > 32: a block per instance; the gains are staged in shared memory when they fit.
template <typename A>
__global__ void wmmse_siso_block_kernel(SisoParams<A> q, bool stage) {
  PYALGO_DYNAMIC_SHARED(A, smem);
  const BlockTeam<A> team{smem};
  A* vectors = smem + 32;
  A* sg = stage ? vectors + SisoState<A>::kVectors * q.K : nullptr;
  wmmse_siso_instance(team, q, static_cast<int64_t>(blockIdx.x), sg, vectors);
}

__device__ __forceinline__ int64_t this_thread() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }

inline dim3 grid_for(int64_t items) { return dim3(static_cast<unsigned>(blocks_for(items))); }

template <typename A>
__global__ void siso_rates_kernel(SisoRatesParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, K = q.K;
  const int k = static_cast<int>(idx % K);
  const int bad = siso_rate_flags(q.g + b * K * K, q.p + b * K, q.noise + b * K, q.K, k, true);
  A interference;
  const A rate = siso_rate_at(q.g + b * K * K, q.p + b * K, q.noise + b * K, q.K, k, &interference);
  q.out[idx] = bad ? hd_nan<A>() : rate;
  q.interference[idx] = bad ? hd_nan<A>() : interference;
}

template <typename A>
__global__ void siso_rate_coef_kernel(SisoRatesBackwardParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, K = q.K;
  const int i = static_cast<int>(idx % K);
  siso_rate_coef(q.g[b * K * K + i * (K + 1)] * q.p[idx], q.interference[idx], q.grad[idx], &q.direct[idx],
                 &q.grad_noise[idx]);
  if (siso_rate_flags(q.g + b * K * K, q.p + b * K, q.noise + b * K, q.K, i, true) != 0)
    q.direct[idx] = q.grad_noise[idx] = hd_nan<A>();  // poisons grad_p, grad_noise and row i of grad_g
}

template <typename A>
__global__ void siso_rate_grad_kernel(SisoRatesBackwardParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, K = q.K;
  siso_rate_grad_at(q.g + b * K * K, q.p + b * K, q.grad_noise + b * K, q.direct + b * K, q.grad_p + b * K,
                    q.grad_g ? q.grad_g + b * K * K : nullptr, q.K, static_cast<int>(idx % K));
}

template <typename A>
__global__ void wmmse_miso_kernel(MisoParams<A> q) {
  const int64_t b = this_thread();
  if (b >= q.B) return;
  const int K = q.K, N = q.N;
  const int64_t KN = static_cast<int64_t>(K) * N, NN = static_cast<int64_t>(N) * N, T = q.max_iter + 1;
  Cx<A>* ws = q.workspace + b * MisoWork<A>::size(K, N);
  const MisoWork<A> work{ws, ws + NN, ws + 2 * NN};
  const MisoProblem<A> pr{q.h + b * KN, K, N, q.p_max[b], q.noise + b * K, q.alpha + b * K};
  const MisoRecord<A> rec{q.objective ? q.objective + b * T : nullptr,
                          q.trajectory ? q.trajectory + b * T * KN : nullptr};
  int flags = 0;  // NaN outputs for a bad input (wmmse_miso_checked); nothing to report without a sync
  q.iters[b] = wmmse_miso_checked(pr, work, q.V + b * KN, q.u + b * K, q.w + b * K, q.max_iter, q.tol,
                                  q.bisection_tol, rec, &flags);
}

template <typename A>
__global__ void miso_rates_kernel(MisoRatesParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, KN = static_cast<int64_t>(q.K) * q.N;
  const int i = static_cast<int>(idx % q.K);
  const int bad = miso_rate_flags(q.h + b * KN, q.V + b * KN, q.noise + b * q.K, q.K, q.N, i, true);
  q.out[idx] = bad ? hd_nan<A>() : miso_rate_at(q.h + b * KN, q.V + b * KN, q.noise + b * q.K, q.K, q.N, i);
}

template <typename A>
__global__ void miso_rate_coef_kernel(MisoRatesBackwardParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, K = q.K, KN = K * q.N;
  const int i = static_cast<int>(idx % K);
  miso_rate_coef_at(q.h + b * KN, q.V + b * KN, q.noise + b * K, q.grad + b * K, q.grad_noise + b * K,
                    q.grad_h ? q.grad_h + b * KN : nullptr, q.coef + b * K * K, q.K, q.N, i);
  if (miso_rate_flags(q.h + b * KN, q.V + b * KN, q.noise + b * K, q.K, q.N, i, true) != 0) {
    q.grad_noise[idx] = hd_nan<A>();  // and row i of coef: poisons every grad_v and grad_h row i
    for (int64_t j = 0; j < K; ++j) q.coef[b * K * K + i * K + j] = {hd_nan<A>(), hd_nan<A>()};
  }
}

template <typename A>
__global__ void miso_rate_grad_kernel(MisoRatesBackwardParams<A> q) {
  const int64_t idx = this_thread();
  if (idx >= q.B * q.K) return;
  const int64_t b = idx / q.K, K = q.K, KN = K * q.N;
  miso_rate_grad_at(q.h + b * KN, q.coef + b * K * K, q.grad_v + b * KN, q.K, q.N, static_cast<int>(idx % K));
}

}  // namespace

template <typename A>
cudaError_t launch_wmmse_siso(const SisoParams<A>& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(wmmse_siso_blocks(p.B, p.K)));
  const int K = p.K;
  if (K <= kMaxWarpTeam) {
    const int width = siso_segment_width(K);
    const size_t smem =
        static_cast<size_t>(kThreads / width) * (K * (K + 1) + SisoState<A>::kVectors * K) * sizeof(A);
    PYALGO_LAUNCH(grid, kThreads, smem, stream, wmmse_siso_warp_kernel<A>)(p, width);
  } else {
    const int threads = K >= kMaxBlockTeam ? kMaxBlockTeam : (K + 31) / 32 * 32;
    const size_t vectors = (32 + SisoState<A>::kVectors * static_cast<size_t>(K)) * sizeof(A);
    const size_t staged = static_cast<size_t>(K) * (K + 1) * sizeof(A);
    const bool stage = vectors + staged <= static_cast<size_t>(kSharedLimit);
    PYALGO_LAUNCH(grid, threads, vectors + (stage ? staged : 0), stream, wmmse_siso_block_kernel<A>)(p, stage);
  }
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_siso_rates(const SisoRatesParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, siso_rates_kernel<A>)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_siso_rates_backward(const SisoRatesBackwardParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, siso_rate_coef_kernel<A>)(p);
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, siso_rate_grad_kernel<A>)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_wmmse_miso(const MisoParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B), kThreads, 0, stream, wmmse_miso_kernel<A>)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_miso_rates(const MisoRatesParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, miso_rates_kernel<A>)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_miso_rates_backward(const MisoRatesBackwardParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, miso_rate_coef_kernel<A>)(p);
  PYALGO_LAUNCH(grid_for(p.B * p.K), kThreads, 0, stream, miso_rate_grad_kernel<A>)(p);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE_WIRELESS(A)                                                                  \
  template cudaError_t launch_wmmse_siso<A>(const SisoParams<A>&, cudaStream_t);                       \
  template cudaError_t launch_siso_rates<A>(const SisoRatesParams<A>&, cudaStream_t);                  \
  template cudaError_t launch_siso_rates_backward<A>(const SisoRatesBackwardParams<A>&, cudaStream_t); \
  template cudaError_t launch_wmmse_miso<A>(const MisoParams<A>&, cudaStream_t);                       \
  template cudaError_t launch_miso_rates<A>(const MisoRatesParams<A>&, cudaStream_t);                  \
  template cudaError_t launch_miso_rates_backward<A>(const MisoRatesBackwardParams<A>&, cudaStream_t);

PYALGO_INSTANTIATE_WIRELESS(float)
PYALGO_INSTANTIATE_WIRELESS(double)

}  // namespace wireless
}  // namespace pyalgo
