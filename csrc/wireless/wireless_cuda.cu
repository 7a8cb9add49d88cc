// CUDA kernels of the wireless ops, running the bodies of wmmse.h / miso.h that the CPU launcher
// runs. WMMSE SISO (spec wmmse.md §6): for K <= 32 a segment of a warp (the next power of two
// >= K lanes, several instances per warp) per instance, with the gains staged in shared memory
// (rows padded to K + 1); above, a block per instance. Rates and MISO: a thread per user or per
// instance. No torch headers; the torch glue is wireless_cuda.cpp.
#include "wireless_cuda.h"

namespace pyalgo {
namespace wireless {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxBlockTeam = 256;
constexpr size_t kStaticSharedLimit = 48 * 1024;

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

struct SisoArgs {
  int64_t B;
  int K, max_iter;
};

// Shared memory of one instance: the gains (K x (K + 1), when staged) then the state vectors.
template <typename A>
__device__ SisoState<A> state_in(A* v, int K) {
  return SisoState<A>{v, v + K, v + 2 * K, v + 3 * K, v + 4 * K, v + 5 * K, v + 6 * K, v + 7 * K};
}

// Runs one instance with team `t`; `sg` is the staged copy of the gains or null to read them
// from global memory.
template <typename A, typename Team>
__device__ void wmmse_siso_instance(const Team& t, const A* g, const A* p_max, const A* noise, const A* alpha, A* p,
                                    A* u, A* w, int32_t* iters, A* objective, A* trajectory, int64_t b, int K,
                                    int max_iter, A tol, A* sg, A* vectors) {
  const int64_t KK = static_cast<int64_t>(K) * K;
  const A* gb = g + b * KK;
  int64_t ld = K;
  if (sg != nullptr) {
    for (int64_t e = t.lane(); e < KK; e += t.size()) sg[(e / K) * (K + 1) + e % K] = gb[e];
    gb = sg;
    ld = K + 1;
  }
  const SisoProblem<A> pr{gb, ld, K, p_max + b * K, noise + b * K, alpha + b * K, nullptr};
  const SisoState<A> s = state_in(vectors, K);
  for (int k = t.lane(); k < K; k += t.size()) s.v[k] = sqrt(p[b * K + k]);
  t.sync();
  const int64_t T = max_iter + 1;
  const SisoRecord<A> rec{objective ? objective + b * T : nullptr, trajectory ? trajectory + b * T * K : nullptr};
  const int it = wmmse_siso_solve(t, pr, s, max_iter, tol, rec);
  for (int k = t.lane(); k < K; k += t.size()) {
    p[b * K + k] = siso_power(s.v[k], pr.p_max[k]);
    u[b * K + k] = s.u[k];
    w[b * K + k] = s.w[k];
  }
  if (t.lane() == 0) iters[b] = it;
}

template <typename A>
__global__ void wmmse_siso_warp_kernel(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                                       int32_t* iters, A* objective, A* trajectory, SisoArgs a, A tol, int width) {
  extern __shared__ unsigned char smem_raw[];
  A* smem = reinterpret_cast<A*>(smem_raw);
  const int segment = threadIdx.x / width, lane = threadIdx.x % width;
  const int64_t b = static_cast<int64_t>(blockIdx.x) * (blockDim.x / width) + segment;
  if (b >= a.B) return;  // whole segments leave together
  const int per_instance = a.K * (a.K + 1) + SisoState<A>::kVectors * a.K;
  A* mine = smem + static_cast<int64_t>(segment) * per_instance;
  const unsigned base_mask = width == 32 ? 0xffffffffu : ((1u << width) - 1u);
  const WarpSegmentTeam team{lane, width, base_mask << ((threadIdx.x % 32) / width * width)};
  wmmse_siso_instance(team, g, p_max, noise, alpha, p, u, w, iters, objective, trajectory, b, a.K, a.max_iter, tol,
                      mine, mine + a.K * (a.K + 1));
}

template <typename A>
__global__ void wmmse_siso_block_kernel(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u,
                                        A* w, int32_t* iters, A* objective, A* trajectory, SisoArgs a, A tol,
                                        bool stage) {
  extern __shared__ unsigned char smem_raw[];
  A* smem = reinterpret_cast<A*>(smem_raw);
  const BlockTeam<A> team{smem};
  A* vectors = smem + 32;
  A* sg = stage ? vectors + SisoState<A>::kVectors * a.K : nullptr;
  wmmse_siso_instance(team, g, p_max, noise, alpha, p, u, w, iters, objective, trajectory,
                      static_cast<int64_t>(blockIdx.x), a.K, a.max_iter, tol, sg, vectors);
}

__device__ __forceinline__ int64_t this_thread() { return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }

inline dim3 grid_for(int64_t items) { return dim3(static_cast<unsigned>((items + kThreads - 1) / kThreads)); }

template <typename A>
__global__ void siso_rates_kernel(const A* g, const A* p, const A* noise, A* out, int64_t B, int K) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K;
  const int k = static_cast<int>(idx % K);
  out[idx] = siso_rate_at(g + b * K * K, p + b * K, noise + b * K, K, k);
}

template <typename A>
__global__ void siso_rate_coef_kernel(const A* g, const A* p, const A* noise, const A* grad, A* grad_noise, A* direct,
                                      int64_t B, int K) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K;
  siso_rate_coef_at(g + b * K * K, p + b * K, noise + b * K, grad + b * K, grad_noise + b * K, direct + b * K, K,
                    static_cast<int>(idx % K));
}

template <typename A>
__global__ void siso_rate_grad_kernel(const A* g, const A* p, const A* e, const A* a, A* grad_p, A* grad_g, int64_t B,
                                      int K) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K;
  siso_rate_grad_at(g + b * K * K, p + b * K, e + b * K, a + b * K, grad_p + b * K,
                    grad_g ? grad_g + b * K * K : nullptr, K, static_cast<int>(idx % K));
}

template <typename A>
__global__ void wmmse_miso_kernel(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u,
                                  A* w, int32_t* iters, A* objective, Cx<A>* trajectory, Cx<A>* workspace, int64_t B,
                                  int K, int N, int max_iter, A tol, A bisection_tol) {
  const int64_t b = this_thread();
  if (b >= B) return;
  const int64_t KN = static_cast<int64_t>(K) * N, T = max_iter + 1;
  Cx<A>* ws = workspace + b * MisoWork<A>::size(K, N);
  const MisoWork<A> work{ws, ws + N * N, ws + 2 * N * N};
  const MisoProblem<A> pr{h + b * KN, K, N, p_max[b], noise + b * K, alpha + b * K};
  const MisoRecord<A> rec{objective ? objective + b * T : nullptr, trajectory ? trajectory + b * T * KN : nullptr};
  iters[b] = wmmse_miso_solve(pr, work, V + b * KN, u + b * K, w + b * K, max_iter, tol, bisection_tol, rec);
}

template <typename A>
__global__ void miso_rates_kernel(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K, KN = static_cast<int64_t>(K) * N;
  out[idx] = miso_rate_at(h + b * KN, V + b * KN, noise + b * K, K, N, static_cast<int>(idx % K));
}

template <typename A>
__global__ void miso_rate_coef_kernel(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad, A* grad_noise,
                                      Cx<A>* grad_h, Cx<A>* coef, int64_t B, int K, int N) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K, KN = static_cast<int64_t>(K) * N;
  miso_rate_coef_at(h + b * KN, V + b * KN, noise + b * K, grad + b * K, grad_noise + b * K,
                    grad_h ? grad_h + b * KN : nullptr, coef + b * K * K, K, N, static_cast<int>(idx % K));
}

template <typename A>
__global__ void miso_rate_grad_kernel(const Cx<A>* h, const Cx<A>* coef, Cx<A>* grad_v, int64_t B, int K, int N) {
  const int64_t idx = this_thread();
  if (idx >= B * K) return;
  const int64_t b = idx / K, KN = static_cast<int64_t>(K) * N;
  miso_rate_grad_at(h + b * KN, coef + b * K * K, grad_v + b * KN, K, N, static_cast<int>(idx % K));
}

int next_pow2(int x) {
  int p = 1;
  while (p < x) p *= 2;
  return p;
}

}  // namespace

template <typename A>
cudaError_t launch_wmmse_siso(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                              int32_t* iters, A* objective, A* trajectory, int64_t B, int K, int max_iter, A tol,
                              cudaStream_t stream) {
  const SisoArgs args{B, K, max_iter};
  if (K <= 32) {
    const int width = next_pow2(K);
    const int per_block = kThreads / width;
    const size_t smem = static_cast<size_t>(per_block) * (K * (K + 1) + SisoState<A>::kVectors * K) * sizeof(A);
    const dim3 grid(static_cast<unsigned>((B + per_block - 1) / per_block));
    wmmse_siso_warp_kernel<A><<<grid, kThreads, smem, stream>>>(g, p_max, noise, alpha, p, u, w, iters, objective,
                                                                trajectory, args, tol, width);
  } else {
    const int threads = K >= kMaxBlockTeam ? kMaxBlockTeam : (K + 31) / 32 * 32;
    const size_t vectors = (32 + SisoState<A>::kVectors * static_cast<size_t>(K)) * sizeof(A);
    const size_t staged = static_cast<size_t>(K) * (K + 1) * sizeof(A);
    const bool stage = vectors + staged <= kStaticSharedLimit;
    wmmse_siso_block_kernel<A><<<dim3(static_cast<unsigned>(B)), threads, vectors + (stage ? staged : 0), stream>>>(
        g, p_max, noise, alpha, p, u, w, iters, objective, trajectory, args, tol, stage);
  }
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_siso_rates(const A* g, const A* p, const A* noise, A* out, int64_t B, int K, cudaStream_t stream) {
  siso_rates_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(g, p, noise, out, B, K);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_siso_rates_backward(const A* g, const A* p, const A* noise, const A* grad, A* grad_g, A* grad_p,
                                       A* grad_noise, A* direct, int64_t B, int K, cudaStream_t stream) {
  siso_rate_coef_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(g, p, noise, grad, grad_noise, direct, B, K);
  siso_rate_grad_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(g, p, grad_noise, direct, grad_p, grad_g, B, K);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_wmmse_miso(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u,
                              A* w, int32_t* iters, A* objective, Cx<A>* trajectory, Cx<A>* workspace, int64_t B,
                              int K, int N, int max_iter, A tol, A bisection_tol, cudaStream_t stream) {
  wmmse_miso_kernel<A><<<grid_for(B), kThreads, 0, stream>>>(h, p_max, noise, alpha, V, u, w, iters, objective,
                                                             trajectory, workspace, B, K, N, max_iter, tol,
                                                             bisection_tol);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_miso_rates(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N,
                              cudaStream_t stream) {
  miso_rates_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(h, V, noise, out, B, K, N);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_miso_rates_backward(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad,
                                       Cx<A>* grad_h, Cx<A>* grad_v, A* grad_noise, Cx<A>* coef, int64_t B, int K,
                                       int N, cudaStream_t stream) {
  miso_rate_coef_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(h, V, noise, grad, grad_noise, grad_h, coef, B,
                                                                     K, N);
  miso_rate_grad_kernel<A><<<grid_for(B * K), kThreads, 0, stream>>>(h, coef, grad_v, B, K, N);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE_WIRELESS(A)                                                                              \
  template cudaError_t launch_wmmse_siso<A>(const A*, const A*, const A*, const A*, A*, A*, A*, int32_t*, A*, A*,  \
                                            int64_t, int, int, A, cudaStream_t);                                  \
  template cudaError_t launch_siso_rates<A>(const A*, const A*, const A*, A*, int64_t, int, cudaStream_t);         \
  template cudaError_t launch_siso_rates_backward<A>(const A*, const A*, const A*, const A*, A*, A*, A*, A*,        \
                                                     int64_t, int, cudaStream_t);                                 \
  template cudaError_t launch_wmmse_miso<A>(const Cx<A>*, const A*, const A*, const A*, Cx<A>*, Cx<A>*, A*,        \
                                            int32_t*, A*, Cx<A>*, Cx<A>*, int64_t, int, int, int, A, A,           \
                                            cudaStream_t);                                                          \
  template cudaError_t launch_miso_rates<A>(const Cx<A>*, const Cx<A>*, const A*, A*, int64_t, int, int,           \
                                            cudaStream_t);                                                          \
  template cudaError_t launch_miso_rates_backward<A>(const Cx<A>*, const Cx<A>*, const A*, const A*, Cx<A>*,       \
                                                     Cx<A>*, A*, Cx<A>*, int64_t, int, int, cudaStream_t);

PYALGO_INSTANTIATE_WIRELESS(float)
PYALGO_INSTANTIATE_WIRELESS(double)

}  // namespace wireless
}  // namespace pyalgo
