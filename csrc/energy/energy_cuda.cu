// CUDA kernels of the energy ops, running the bodies of minmin.h that the CPU launcher runs.
// Losses: a block per example; each thread takes a contiguous run of the m samples (so it
// computes each Philox block once), the weighted sample statistics are added to an accumulator
// in shared memory (in the output itself when it does not fit) with atomics, and the row sums
// are reduced over the block. Float atomics make the last bits of the gradient depend on the
// thread schedule; the loss's sample set does not. Samplers: a thread per sample.
#include "energy_cuda.h"

namespace pyalgo {
namespace energy {
namespace {

constexpr int kThreads = 128;
using GpuCursor = WordCursor<1>;
constexpr size_t kSharedLimit = 48 * 1024;

struct AtomicAdd {
  template <typename G>
  __device__ void operator()(G* p, G v) const {
    atomicAdd(p, v);
  }
};

// Sums of the whole block (blockDim.x a multiple of 32), the same on every thread.
template <typename A>
__device__ Sums<A> block_sums(Sums<A> s, Sums<A>* red) {
  for (int off = 16; off >= 1; off /= 2) {
    const Sums<A> other{__shfl_xor_sync(0xffffffffu, s.weight, off), __shfl_xor_sync(0xffffffffu, s.conj, off),
                        __shfl_xor_sync(0xffffffffu, s.max_s, off)};
    add_sums(s, other);
  }
  const int warps = blockDim.x / 32;
  __syncthreads();  // the previous call's partials have been read
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = s;
  __syncthreads();
  Sums<A> total = red[0];
  for (int w = 1; w < warps; ++w) add_sums(total, red[w]);
  return total;
}

template <typename A>
__device__ void zero(A* p, int64_t n) {
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) p[i] = A(0);
}

__device__ void thread_samples(int64_t m, int64_t* j0, int64_t* j1) {
  const int64_t chunk = (m + blockDim.x - 1) / blockDim.x;
  *j0 = min(m, static_cast<int64_t>(threadIdx.x) * chunk);
  *j1 = min(m, *j0 + chunk);
}

// One example: the pass relative to τ, redone relative to max (g − τ) when needed (minmin.h).
// `pass(shift, sums)` runs this thread's samples; the accumulators (acc1, n1), (acc2, n2) are
// zeroed first.
template <typename A, typename Pass>
__device__ RowResult<A> run_row(A tau, A g_true, A alpha, int64_t m, A* acc1, int64_t n1, A* acc2, int64_t n2,
                                Sums<A>* red, const Pass& pass) {
  A shift = 0;
  Sums<A> total;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (acc1) zero(acc1, n1);
    if (acc2) zero(acc2, n2);
    __syncthreads();
    Sums<A> sums = zero_sums<A>();
    pass(shift, sums);
    total = block_sums(sums, red);  // also orders the accumulator atomics before their use
    if (attempt > 0 || !needs_shift(alpha, total)) break;
    shift = total.max_s;
    __syncthreads();
  }
  return finish_row(total, tau, g_true, alpha, shift, m);
}

// Shared memory: [byte table | byte histogram] when `tables` (else the k label accumulators),
// then the k×k pairwise accumulator when `shared_U` (else it lives in grad_U).
template <typename A>
__global__ void minmin_bits_kernel(const A* u, const A* U, const A* tau, const A* y, const int64_t* seed, A* loss,
                                   A* grad_u, A* grad_U, A* grad_tau, int k, int64_t m, A alpha, bool tables,
                                   bool shared_U) {
  extern __shared__ unsigned char shared_raw[];
  __shared__ Sums<A> red[32];
  A* shared = reinterpret_cast<A*>(shared_raw);
  const int64_t b = blockIdx.x, kk = static_cast<int64_t>(k) * k;
  const int table_size = bits_bytes(k) * 256;
  const bool grad = grad_u != nullptr;
  const A *ub = u + b * k, *Ub = U ? U + b * kk : nullptr, *yb = y + b * k;
  A* table = tables ? shared : nullptr;
  A* first = tables ? shared + table_size : shared;  // histogram or label accumulators
  const int64_t first_size = grad ? (tables ? table_size : k) : 0;
  A* acc_U = grad && U ? (shared_U ? first + first_size : grad_U + b * kk) : nullptr;
  if (tables) build_byte_table(ub, k, table, threadIdx.x, blockDim.x);
  const PhiloxKey key = philox_key(seed[0], seed[1]);
  int64_t j0, j1;
  thread_samples(m, &j0, &j1);
  const A tb = tau[b];
  const RowResult<A> r = run_row<A>(tb, dense_bits_energy(ub, Ub, k, yb), alpha, m, grad ? first : nullptr,
                                    first_size, acc_U, kk, red, [&](A shift, Sums<A>& sums) {
                                      GpuCursor cur(key, b, kBitsStream);
                                      bits_pass<1, A, A, GpuCursor>(ub, table, Ub, k, tb, alpha, shift, cur, j0, j1, sums,
                                                      grad && !tables ? first : nullptr,
                                                      grad && tables ? first : nullptr, acc_U, AtomicAdd{});
                                    });
  if (threadIdx.x == 0) {
    loss[b] = r.loss;
    if (grad) grad_tau[b] = r.grad_tau;
  }
  if (grad)
    finish_bits_grad<A, A>(tables ? nullptr : first, tables ? first : nullptr, acc_U, yb, k, r.factor, grad_u + b * k,
                           U ? grad_U + b * kk : nullptr, threadIdx.x, blockDim.x);
}

template <typename A>
__global__ void minmin_perms_kernel(const A* theta, bool birkhoff, const A* tau, const int64_t* y,
                                    const int64_t* seed, A* loss, A* grad_theta, A* grad_tau, int n, int64_t m,
                                    A alpha, bool shared_acc) {
  extern __shared__ unsigned char shared_raw[];
  __shared__ Sums<A> red[32];
  const int64_t b = blockIdx.x, size = birkhoff ? static_cast<int64_t>(n) * n : n;
  const bool grad = grad_theta != nullptr;
  A* acc = grad ? (shared_acc ? reinterpret_cast<A*>(shared_raw) : grad_theta + b * size) : nullptr;
  const A* tb = theta + b * size;
  const int64_t* yb = y + b * n;
  const PhiloxKey key = philox_key(seed[0], seed[1]);
  int64_t j0, j1;
  thread_samples(m, &j0, &j1);
  const A tau_b = tau[b];
  const RowResult<A> r = run_row<A>(tau_b, perm_energy(tb, birkhoff, n, yb), alpha, m, acc, size, nullptr, 0, red,
                                    [&](A shift, Sums<A>& sums) {
                                      GpuCursor cur(key, b, kPermsStream);
                                      perms_pass<A, A, GpuCursor>(tb, birkhoff, n, tau_b, alpha, shift, cur, j0, j1, sums, acc,
                                                       AtomicAdd{});
                                    });
  if (threadIdx.x == 0) {
    loss[b] = r.loss;
    if (grad) grad_tau[b] = r.grad_tau;
  }
  if (grad) finish_perm_grad<A, A>(acc, yb, birkhoff, n, r.factor, grad_theta + b * size, threadIdx.x, blockDim.x);
}

__global__ void sample_bits_kernel(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k) {
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= B * m) return;
  const int64_t b = s / m, j = s % m;
  GpuCursor cur(philox_key(seed[0], seed[1]), b, kBitsStream);
  uint32_t y[kMaxWords];
  load_bits(cur, j, k, y);
  for (int i = 0; i < k; ++i) out[s * k + i] = static_cast<uint8_t>(bit_at(y, i));
}

__global__ void sample_perms_kernel(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n) {
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= B * m) return;
  const int64_t b = s / m, j = s % m;
  GpuCursor cur(philox_key(seed[0], seed[1]), b, kPermsStream);
  uint8_t perm[kMaxItems];
  load_perm(cur, j, n, perm);
  for (int i = 0; i < n; ++i) out[s * n + i] = perm[i];
}

unsigned grid_for(int64_t threads) { return static_cast<unsigned>((threads + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k, cudaStream_t stream) {
  sample_bits_kernel<<<grid_for(B * m), kThreads, 0, stream>>>(seed, out, B, m, k);
  return cudaGetLastError();
}

cudaError_t launch_sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n, cudaStream_t stream) {
  sample_perms_kernel<<<grid_for(B * m), kThreads, 0, stream>>>(seed, out, B, m, n);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_minmin_bits(const A* u, const A* U, const A* tau, const A* y, const int64_t* seed, A* loss,
                               A* grad_u, A* grad_U, A* grad_tau, int64_t B, int k, int64_t m, A alpha,
                               cudaStream_t stream) {
  // Byte tables while table + histogram take at most half of the shared memory.
  const size_t table_bytes = static_cast<size_t>(bits_bytes(k)) * 256 * sizeof(A);
  const bool tables = 2 * table_bytes <= kSharedLimit / 2;
  size_t bytes = tables ? (grad_u ? 2 : 1) * table_bytes : (grad_u ? k * sizeof(A) : 0);
  const size_t pairwise_bytes = grad_u && U ? static_cast<size_t>(k) * k * sizeof(A) : 0;
  const bool shared_U = pairwise_bytes > 0 && bytes + pairwise_bytes <= kSharedLimit;
  if (shared_U) bytes += pairwise_bytes;
  minmin_bits_kernel<A><<<static_cast<unsigned>(B), kThreads, bytes, stream>>>(
      u, U, tau, y, seed, loss, grad_u, grad_U, grad_tau, k, m, alpha, tables, shared_U);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const int64_t* seed,
                                A* loss, A* grad_theta, A* grad_tau, int64_t B, int n, int64_t m, A alpha,
                                cudaStream_t stream) {
  const int64_t acc = grad_theta ? (birkhoff ? static_cast<int64_t>(n) * n : n) : 0;
  const bool shared_acc = acc * sizeof(A) <= kSharedLimit;
  minmin_perms_kernel<A><<<static_cast<unsigned>(B), kThreads, shared_acc ? acc * sizeof(A) : 0, stream>>>(
      theta, birkhoff, tau, y, seed, loss, grad_theta, grad_tau, n, m, alpha, shared_acc);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE_ENERGY(A)                                                                              \
  template cudaError_t launch_minmin_bits<A>(const A*, const A*, const A*, const A*, const int64_t*, A*, A*, A*, \
                                             A*, int64_t, int, int64_t, A, cudaStream_t);                         \
  template cudaError_t launch_minmin_perms<A>(const A*, bool, const A*, const int64_t*, const int64_t*, A*, A*,  \
                                              A*, int64_t, int, int64_t, A, cudaStream_t);

PYALGO_INSTANTIATE_ENERGY(float)
PYALGO_INSTANTIATE_ENERGY(double)

}  // namespace energy
}  // namespace pyalgo
