// CUDA kernels of the energy ops, running the bodies of minmin.h that the CPU launcher runs.
// Losses: a block per example; each thread takes a contiguous run of the m samples (so it
// computes each Philox block once), the weighted sample statistics are added to an accumulator
// in shared memory (in the output itself when it does not fit) with atomics, and the row sums
// are reduced over the block. A row whose labels are invalid (y not binary, or not a permutation
// of 0 … n−1: an index out of range would read theta out of bounds) is checked by the kernel itself
// and poisoned: its loss, grad_tau and gradient rows are NaN (the op does not synchronise with the
// host, so it cannot raise; the CPU op raises). All shared memory is dynamic, sized by the launcher (<= 48 KiB). Float atomics make the last bits of the gradient depend on the
// thread schedule; the loss's sample set does not. Samplers: a thread per sample (bits with a
// proposal: a block per row, which first writes the row's thresholds to a scratch buffer). With a
// proposal the loss kernels write the row's thresholds to that scratch too, before the first barrier
// of run_row, and a row with a non-finite proposal is poisoned like an invalid label row.
#include "energy_cuda.h"

#include "../common/launch.h"

namespace pyalgo {
namespace energy {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
using GpuCursor = WordCursor<1>;
constexpr size_t kSharedLimit = 48 * 1024;

struct AtomicAdd {
  template <typename G>
  __device__ void operator()(G* p, G v) const {
    atomicAdd(p, v);
  }
};

// Sums of the whole block (blockDim.x = kThreads), the same on every thread; red holds kWarps partials.
template <typename A>
__device__ Sums<A> block_sums(Sums<A> s, Sums<A>* red) {
  for (int off = 16; off >= 1; off /= 2) {
    const Sums<A> other{__shfl_xor_sync(0xffffffffu, s.weight, off), __shfl_xor_sync(0xffffffffu, s.conj, off),
                        __shfl_xor_sync(0xffffffffu, s.max_s, off)};
    add_sums(s, other);
  }
  __syncthreads();  // the previous call's partials have been read
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = s;
  __syncthreads();
  Sums<A> total = red[0];
  for (int w = 1; w < kWarps; ++w) add_sums(total, red[w]);
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

template <typename A>
__device__ A nan_of() {
  return A(0) / A(0);
}

// A row that failed the label check: loss, grad_tau and the row's gradients are NaN.
template <typename A>
__device__ void poison_row(A* loss, A* grad_tau, A* grad1, int64_t n1, A* grad2, int64_t n2, int64_t b) {
  const A nan = nan_of<A>();
  if (threadIdx.x == 0) {
    loss[b] = nan;
    if (grad_tau) grad_tau[b] = nan;
  }
  if (grad1)
    for (int64_t i = threadIdx.x; i < n1; i += blockDim.x) grad1[i] = nan;
  if (grad2)
    for (int64_t i = threadIdx.x; i < n2; i += blockDim.x) grad2[i] = nan;
}

// Whether every thread's `ok` is true; flag is one shared A (reused afterwards).
template <typename A>
__device__ bool block_all(bool ok, A* flag) {
  if (threadIdx.x == 0) *flag = A(0);
  __syncthreads();
  if (!ok) *flag = A(1);
  __syncthreads();
  const bool all = *flag == A(0);
  __syncthreads();
  return all;
}

// One example: the pass relative to τ, redone relative to max (g − τ) when needed (minmin.h).
// `pass(shift, sums)` runs this thread's samples; the accumulators (acc1, n1), (acc2, n2) are
// zeroed first.
template <typename A, typename Pass>
__device__ RowResult<A> run_row(A tau, A g_true, A alpha, int64_t m, A* acc1, int64_t n1, A* acc2, int64_t n2,
                                Sums<A>* red, const Pass& pass, bool weighted = false) {
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
  return finish_row(total, tau, g_true, alpha, shift, m, weighted);
}

// Dynamic shared memory (the only shared memory of the minmin kernels: a static __shared__ array
// would not be counted by the launcher's budget and would push static + dynamic past 48 KiB):
// [kWarps block-reduction partials | accumulators]. The launcher's layout functions size it.
constexpr int kRedElems = kWarps * 3;  // kWarps Sums<A>, counted in A's (keeps what follows aligned)
static_assert(sizeof(Sums<float>) == 3 * sizeof(float) && sizeof(Sums<double>) == 3 * sizeof(double),
              "Sums<A> is three A's");
template <typename A>
constexpr size_t red_bytes() {
  return static_cast<size_t>(kRedElems) * sizeof(A);
}

// Accumulators: [byte table | byte histogram] when `tables` (else the k label accumulators),
// then the k×k pairwise accumulator when `shared_U` (else it lives in grad_U).
template <typename A>
__global__ void minmin_bits_kernel(const MinminBitsParams<A> p, const BitsLayout layout) {
  PYALGO_DYNAMIC_SHARED(A, smem);
  Sums<A>* const red = reinterpret_cast<Sums<A>*>(smem);
  A* const shared = smem + kRedElems;
  const int k = p.k;
  const int64_t b = blockIdx.x, kk = static_cast<int64_t>(k) * k;
  const int table_size = bits_bytes(k) * 256;
  const bool grad = p.grad_u != nullptr, tables = layout.tables;
  const A *ub = p.u + b * k, *Ub = p.U ? p.U + b * kk : nullptr, *yb = p.y + b * k;
  A* table = tables ? shared : nullptr;
  A* first = tables ? shared + table_size : shared;  // histogram or label accumulators
  const int64_t first_size = grad ? (tables ? table_size : k) : 0;
  A* acc_U = grad && p.U ? (layout.shared_U ? first + first_size : p.grad_U + b * kk) : nullptr;
  const double* ab = p.proposal ? p.proposal + b * k : nullptr;
  bool row_ok = is_binary(yb, k, threadIdx.x, blockDim.x);
  if (ab)
    for (int i = threadIdx.x; i < k; i += blockDim.x) row_ok = row_ok && (ab[i] - ab[i] == 0.0);  // finite
  if (!block_all(row_ok, &red[0].weight)) {
    poison_row<A>(p.loss, p.grad_tau, grad ? p.grad_u + b * k : nullptr, k, grad && p.U ? p.grad_U + b * kk : nullptr,
                  kk, b);
    return;
  }
  if (tables) build_byte_table(ub, k, table, threadIdx.x, blockDim.x);
  BitsProposal prop{nullptr, nullptr, 0.0};
  if (ab) {  // thresholds in global scratch, visible to the block after run_row's first barrier
    uint32_t* thr = p.thr + b * k;
    bits_thresholds(ab, k, thr, threadIdx.x, blockDim.x);
    prop = BitsProposal{ab, thr, bits_log_c(ab, k)};
  }
  const PhiloxKey key = philox_key(p.seed[0], p.seed[1]);
  int64_t j0, j1;
  thread_samples(p.m, &j0, &j1);
  const A tb = p.tau[b];
  const RowResult<A> r = run_row<A>(tb, dense_bits_energy(ub, Ub, k, yb), p.alpha, p.m, grad ? first : nullptr,
                                    first_size, acc_U, kk, red, [&](A shift, Sums<A>& sums) {
                                      GpuCursor cur(key, b, ab ? kBitsProposalStream : kBitsStream);
                                      A* acc_u = grad && !tables ? first : nullptr;
                                      A* hist = grad && tables ? first : nullptr;
                                      if (ab)
                                        bits_pass<true, 1, A, A, GpuCursor>(ub, table, Ub, k, tb, p.alpha, shift, cur,
                                                                            j0, j1, sums, acc_u, hist, acc_U,
                                                                            AtomicAdd{}, prop);
                                      else
                                        bits_pass<false, 1, A, A, GpuCursor>(ub, table, Ub, k, tb, p.alpha, shift, cur,
                                                                             j0, j1, sums, acc_u, hist, acc_U,
                                                                             AtomicAdd{});
                                    }, ab != nullptr);
  if (threadIdx.x == 0) {
    p.loss[b] = r.loss;
    if (grad) p.grad_tau[b] = r.grad_tau;
  }
  if (grad)
    finish_bits_grad<A, A>(tables ? nullptr : first, tables ? first : nullptr, acc_U, yb, k, r.factor,
                           p.grad_u + b * k, p.U ? p.grad_U + b * kk : nullptr, threadIdx.x, blockDim.x);
}

template <typename A>
__global__ void minmin_perms_kernel(const MinminPermsParams<A> p, const PermsLayout layout) {
  PYALGO_DYNAMIC_SHARED(A, smem);
  Sums<A>* const red = reinterpret_cast<Sums<A>*>(smem);
  const int n = p.n;
  const int64_t b = blockIdx.x, size = p.birkhoff ? static_cast<int64_t>(n) * n : n;
  const bool grad = p.grad_theta != nullptr;
  A* acc = grad ? (layout.shared_acc ? smem + kRedElems : p.grad_theta + b * size) : nullptr;
  const A* tb = p.theta + b * size;
  const int64_t* yb = p.y + b * n;
  const double* sb = p.proposal ? p.proposal + b * n : nullptr;
  if (!is_perm(yb, n) || (sb && !all_finite(sb, n))) {  // the same answer on every thread of the block
    poison_row<A>(p.loss, p.grad_tau, grad ? p.grad_theta + b * size : nullptr, size, nullptr, 0, b);
    return;
  }
  const PhiloxKey key = philox_key(p.seed[0], p.seed[1]);
  int64_t j0, j1;
  thread_samples(p.m, &j0, &j1);
  const A tau_b = p.tau[b];
  double ex[kMaxItems];  // this thread's copy of the row's e^{s − max s} (proposal fast path)
  PermsProposal prop{nullptr, 0.0, nullptr, 0.0};
  if (sb) {
    double smax;
    const bool fast = perms_fast_row(sb, n, ex, &smax);
    prop = PermsProposal{sb, p.log_q, fast ? ex : nullptr, smax};
  }
  const RowResult<A> r = run_row<A>(tau_b, perm_energy(tb, p.birkhoff, n, yb), p.alpha, p.m, acc, size, nullptr, 0,
                                    red, [&](A shift, Sums<A>& sums) {
                                      GpuCursor cur(key, b, sb ? kPermsProposalStream : kPermsStream);
                                      if (sb)
                                        perms_pass<true, A, A, GpuCursor>(tb, p.birkhoff, n, tau_b, p.alpha, shift,
                                                                          cur, j0, j1, sums, acc, AtomicAdd{}, prop);
                                      else
                                        perms_pass<false, A, A, GpuCursor>(tb, p.birkhoff, n, tau_b, p.alpha, shift,
                                                                           cur, j0, j1, sums, acc, AtomicAdd{});
                                    }, sb != nullptr);
  if (threadIdx.x == 0) {
    p.loss[b] = r.loss;
    if (grad) p.grad_tau[b] = r.grad_tau;
  }
  if (grad)
    finish_perm_grad<A, A>(acc, yb, p.birkhoff, n, r.factor, p.grad_theta + b * size, threadIdx.x, blockDim.x);
}

__global__ void sample_bits_kernel(const SampleParams<uint8_t> p) {
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= p.B * p.m) return;
  const int64_t b = s / p.m, j = s % p.m;
  const int k = p.size;
  GpuCursor cur(philox_key(p.seed[0], p.seed[1]), b, kBitsStream);
  uint32_t y[kMaxWords];
  load_bits(cur, j, k, y);
  for (int i = 0; i < k; ++i) p.out[s * k + i] = static_cast<uint8_t>(bit_at(y, i));
}

__global__ void sample_perms_kernel(const SampleParams<int64_t> p) {
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= p.B * p.m) return;
  const int64_t b = s / p.m, j = s % p.m;
  const int n = p.size;
  GpuCursor cur(philox_key(p.seed[0], p.seed[1]), b, kPermsStream);
  uint8_t perm[kMaxItems];
  load_perm(cur, j, n, perm);
  for (int i = 0; i < n; ++i) p.out[s * n + i] = perm[i];
}

// A block per row: the row's thresholds into scratch, then its samples strided over the threads.
__global__ void sample_bits_proposal_kernel(const SampleProposalParams<uint8_t> p) {
  const int64_t b = blockIdx.x;
  const int k = p.size;
  const double* a = p.proposal + b * k;
  uint32_t* thr = p.thr + b * k;
  bits_thresholds(a, k, thr, threadIdx.x, blockDim.x);
  __syncthreads();
  const BitsProposal prop{a, thr, bits_log_c(a, k)};
  GpuCursor cur(philox_key(p.seed[0], p.seed[1]), b, kBitsProposalStream);
  uint32_t y[kMaxWords];
  for (int64_t j = threadIdx.x; j < p.m; j += blockDim.x) {
    p.log_w[b * p.m + j] = prop.log_c - load_bits_proposal(cur, j, k, prop, y);
    uint8_t* o = p.out + (b * p.m + j) * k;
    for (int i = 0; i < k; ++i) o[i] = static_cast<uint8_t>(bit_at(y, i));
  }
}

__global__ void sample_perms_proposal_kernel(const SampleProposalParams<int64_t> p) {
  const int64_t s = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= p.B * p.m) return;
  const int64_t b = s / p.m, j = s % p.m;
  const int n = p.size;
  GpuCursor cur(philox_key(p.seed[0], p.seed[1]), b, kPermsProposalStream);
  uint8_t perm[kMaxItems], order[kMaxItems];
  double keys[kMaxItems], ex[kMaxItems], smax;
  const double* sc = p.proposal + b * n;
  const bool fast = perms_fast_row(sc, n, ex, &smax);
  const PermsProposal prop{sc, p.log_q, fast ? ex : nullptr, smax};
  p.log_w[s] = p.log_q - load_perm_proposal(cur, j, n, prop, keys, order, perm);
  for (int i = 0; i < n; ++i) p.out[s * n + i] = perm[i];
}

unsigned grid_for(int64_t threads) { return static_cast<unsigned>((threads + kThreads - 1) / kThreads); }

}  // namespace

cudaError_t launch_sample_bits_proposal(const SampleProposalParams<uint8_t>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(static_cast<unsigned>(p.B), kThreads, 0, stream, sample_bits_proposal_kernel)(p);
  return cudaGetLastError();
}

cudaError_t launch_sample_perms_proposal(const SampleProposalParams<int64_t>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.m), kThreads, 0, stream, sample_perms_proposal_kernel)(p);
  return cudaGetLastError();
}

template <typename A>
BitsLayout minmin_bits_layout(int k, bool grad, bool pairwise) {
  // Byte tables while table + histogram take at most half of the shared memory.
  const size_t table_bytes = static_cast<size_t>(bits_bytes(k)) * 256 * sizeof(A);
  const bool tables = 2 * table_bytes <= kSharedLimit / 2;
  size_t bytes = red_bytes<A>() + (tables ? (grad ? 2 : 1) * table_bytes : (grad ? k * sizeof(A) : 0));
  const size_t pairwise_bytes = grad && pairwise ? static_cast<size_t>(k) * k * sizeof(A) : 0;
  const bool shared_U = pairwise_bytes > 0 && bytes + pairwise_bytes <= kSharedLimit;
  if (shared_U) bytes += pairwise_bytes;
  return BitsLayout{tables, shared_U, bytes};
}

template <typename A>
PermsLayout minmin_perms_layout(int n, bool birkhoff, bool grad) {
  const size_t acc_bytes = grad ? (birkhoff ? static_cast<size_t>(n) * n : static_cast<size_t>(n)) * sizeof(A) : 0;
  const bool shared_acc = acc_bytes > 0 && red_bytes<A>() + acc_bytes <= kSharedLimit;
  return PermsLayout{shared_acc, red_bytes<A>() + (shared_acc ? acc_bytes : 0)};
}

cudaError_t launch_sample_bits(const SampleParams<uint8_t>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.m), kThreads, 0, stream, sample_bits_kernel)(p);
  return cudaGetLastError();
}

cudaError_t launch_sample_perms(const SampleParams<int64_t>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.B * p.m), kThreads, 0, stream, sample_perms_kernel)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_minmin_bits(const MinminBitsParams<A>& p, cudaStream_t stream) {
  const BitsLayout layout = minmin_bits_layout<A>(p.k, p.grad_u != nullptr, p.U != nullptr);
  PYALGO_LAUNCH(static_cast<unsigned>(p.B), kThreads, layout.bytes, stream, minmin_bits_kernel<A>)(p, layout);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_minmin_perms(const MinminPermsParams<A>& p, cudaStream_t stream) {
  const PermsLayout layout = minmin_perms_layout<A>(p.n, p.birkhoff, p.grad_theta != nullptr);
  PYALGO_LAUNCH(static_cast<unsigned>(p.B), kThreads, layout.bytes, stream, minmin_perms_kernel<A>)(p, layout);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE_ENERGY(A)                                                      \
  template BitsLayout minmin_bits_layout<A>(int, bool, bool);                             \
  template PermsLayout minmin_perms_layout<A>(int, bool, bool);                           \
  template cudaError_t launch_minmin_bits<A>(const MinminBitsParams<A>&, cudaStream_t);   \
  template cudaError_t launch_minmin_perms<A>(const MinminPermsParams<A>&, cudaStream_t);

PYALGO_INSTANTIATE_ENERGY(float)
PYALGO_INSTANTIATE_ENERGY(double)

}  // namespace energy
}  // namespace pyalgo
