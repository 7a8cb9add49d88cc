// CUDA kernels of the discrete estimators. No torch headers (so nvcc can compile-check this file
// on any machine); the torch glue is estimators_cuda.cpp.
//
// Three shapes of kernel, chosen per launch by the row length C (choose_plan below):
//   - one thread per row (the *_kernel family): runs exactly the per-row bodies of estimators.h
//     that the CPU launcher runs. Used for strided rows (dim != -1: neighbouring threads read
//     neighbouring rows, which is coalesced) and for very short contiguous rows.
//   - rows_warp_kernel: a warp segment of W lanes per contiguous row (W = 2..32, the smallest
//     power of two covering the row's Philox groups, so short rows do not idle 32 lanes);
//   - rows_block_kernel: a block of kBlockThreads threads per contiguous row, for long rows.
// The team kernels run the bodies of estimators_team.h: the same per-element arithmetic and
// the same Philox counters per (row, column, stream), only the row reductions are ordered
// differently (butterfly shuffles, then shared-memory partials across the warps of a block).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "estimators.h"
#include "estimators_cuda.h"
#include "estimators_team.h"
#include "rao_cv.h"
#include "../common/launch.h"

namespace pyalgo {
namespace discrete {
namespace {

constexpr int kThreads = 128;

// Plan thresholds (contiguous rows only).
//  - C <= kThreadMaxC: one thread per row. A thread then reads at most 8 consecutive elements
//    (two float Philox groups), so a warp's loads cover 32 neighbouring short rows without gaps,
//    and the serial body's short-row path (exp once per entry, no second pass) applies.
//  - C >= kBlockMinC: one block per row. At 2048 columns a 32-lane warp walks >= 16 groups per
//    lane in each of the 3-4 passes; a block of 256 threads cuts that to 2 while a row still
//    gives every thread a full Philox group in most passes (2048 / 4 = 512 groups).
//  - otherwise one warp segment per row.
constexpr int64_t kThreadMaxC = 8;
constexpr int64_t kBlockMinC = 2048;
constexpr int kBlockThreads = 256;
// Grids are capped at kMaxBlocks blocks; kernels loop over the rows beyond (grid-stride). The SIMT
// tests build with a tiny cap so that every case runs the loop.
#ifndef PYALGO_MAX_BLOCKS
#define PYALGO_MAX_BLOCKS (int64_t(1) << 20)
#endif
constexpr int64_t kMaxBlocks = PYALGO_MAX_BLOCKS;

inline dim3 grid_of(int64_t blocks) {
  return dim3(static_cast<unsigned>(blocks < 1 ? 1 : (blocks < kMaxBlocks ? blocks : kMaxBlocks)));
}

// Grid covering `rows` rows at one row per thread.
inline dim3 grid_for(int64_t rows) { return grid_of((rows + kThreads - 1) / kThreads); }

__device__ __forceinline__ int64_t this_row() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// The stride of a grid-stride loop over rows (the grid is capped at kMaxBlocks blocks).
__device__ __forceinline__ int64_t grid_threads() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

__device__ __forceinline__ PhiloxKey key_of(const int64_t* seed) { return philox_key(seed[0], seed[1]); }

// ---- teams -------------------------------------------------------------------------------------

// W consecutive lanes of a warp (W a power of two, 2..32); `mask` names exactly those lanes.
struct WarpSegment {
  int lane_, width_;
  unsigned mask_;
  __device__ __forceinline__ int lane() const { return lane_; }
  __device__ __forceinline__ int size() const { return width_; }
  template <typename V, typename Op>
  __device__ __forceinline__ V reduce(V v, Op op) const {
    for (int off = width_ / 2; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(mask_, v, off, width_));
    return v;
  }
  // Inclusive Hillis-Steele scan; the exclusive value is the left neighbour's inclusive one.
  template <typename A>
  __device__ __forceinline__ A exclusive_sum(A s, A* total) const {
    A incl = s;
    for (int off = 1; off < width_; off <<= 1) {
      const A o = __shfl_up_sync(mask_, incl, off, width_);
      if (lane_ >= off) incl += o;
    }
    *total = __shfl_sync(mask_, incl, width_ - 1, width_);
    const A left = __shfl_up_sync(mask_, incl, 1, width_);
    return lane_ == 0 ? A(0) : left;
  }
};

// The kBlockThreads threads of a block: a butterfly per warp, then the warps' values through
// shared memory, combined by every thread in warp order (so every thread gets the same bits).
struct BlockTeam {
  static constexpr int kWarps = kBlockThreads / 32;
  __device__ __forceinline__ int lane() const { return static_cast<int>(threadIdx.x); }
  __device__ __forceinline__ int size() const { return kBlockThreads; }
  template <typename V, typename Op>
  __device__ __forceinline__ V reduce(V v, Op op) const {
    __shared__ V part[kWarps];
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    V r = part[0];
    for (int w = 1; w < kWarps; ++w) r = op(r, part[w]);
    __syncthreads();  // part may be rewritten by the next reduction
    return r;
  }
  template <typename A>
  __device__ __forceinline__ A exclusive_sum(A s, A* total) const {
    __shared__ A part[kWarps];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    A incl = s;
    for (int off = 1; off < 32; off <<= 1) {
      const A o = __shfl_up_sync(0xffffffffu, incl, off);
      if (lane >= off) incl += o;
    }
    const A left = __shfl_up_sync(0xffffffffu, incl, 1);
    if (lane == 31) part[warp] = incl;
    __syncthreads();
    A acc = 0, before = 0;
    for (int w = 0; w < kWarps; ++w) {
      if (w == warp) before = acc;
      acc += part[w];
    }
    __syncthreads();
    *total = acc;
    return lane == 0 ? before : before + left;
  }
};

// ---- one row per thread (the serial bodies of estimators.h) -----------------------------------

template <typename T, bool U>
__global__ void categorical_sample_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    categorical_sample_at<T, acc_t<T>, U>(p.x, p.y, p.probs, p.index_out, p.L, key_of(p.seed), r);
  }
}

template <typename T, bool U>
__global__ void gumbel_softmax_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    gumbel_softmax_at<T, acc_t<T>, U>(p.x, p.y, p.index_out, p.L, p.inv_tau, p.hard, key_of(p.seed), r);
  }
}

template <typename T, bool U>
__global__ void reinmax_backward_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    reinmax_backward_at<T, acc_t<T>, U>(p.x, p.index, p.g, p.gp, p.y, p.L, p.inv_tau, r);
  }
}

template <typename T, bool U>
__global__ void st_backward_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    st_backward_at<T, acc_t<T>, U>(p.x, p.g, p.y, p.L, p.inv_tau, r);
  }
}

template <typename T, bool U>
__global__ void gst_backward_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    gst_backward_at<T, acc_t<T>, U>(p.x, p.index, p.g, p.y, p.L, p.inv_tau, p.gap, p.gap_is_p, r);
  }
}

template <typename T, bool U>
__global__ void gumbel_rao_backward_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    gumbel_rao_backward_at<T, acc_t<T>, acc_t<T>, U>(p.x, p.index, p.g, p.y_acc, p.L, p.inv_tau, p.draws,
                                                     key_of(p.seed), r);
  }
}

template <typename T, bool U>
__global__ void gumbel_softmax_backward_kernel(RowsParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    gumbel_softmax_backward_at<T, acc_t<T>, U>(p.x, p.g, p.y, p.L, p.inv_tau, key_of(p.seed), r);
  }
}

template <typename A>
__global__ void philox_uniform_kernel(UniformParams<A> p) {
  for (int64_t r = this_row(); r < p.rows; r += grid_threads()) {
    philox_uniform_at<A>(p.out, p.cols, key_of(p.seed), p.stream, r);
  }
}

// ReinMax-Rao / ReinMax-CV (rao_cv.h), one row per thread for every C and layout (the backward's
// K draws dominate; a row's O(C) state lives in the thread's stack for C <= kChunk).
template <typename T, bool U>
__global__ void reinmax_cv_forward_kernel(BeyondParams<T> p) {
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    reinmax_cv_forward_at<T, acc_t<T>, U>(p.x, p.y, p.probs, p.index_out, p.L, key_of(p.seed), r);
  }
}

template <typename T, bool U>
__global__ void beyond_backward_kernel(BeyondParams<T> p) {
  using A = acc_t<T>;
  BeyondArgs<A> a;
  a.inv_tau = p.inv_tau;
  a.inv_tau2 = p.inv_tau2;
  a.eta = p.eta;
  a.draws = p.draws;
  a.mode = p.mode;
  for (int64_t r = this_row(); r < p.L.rows(); r += grid_threads()) {
    beyond_backward_at<T, A, A, U>(p.x, p.index, p.g, p.gp, p.out, p.L, a, key_of(p.seed), r);
  }
}

// ---- a team per row ----------------------------------------------------------------------------
// A Body holds the params and runs one row with a team: body(team, r). Rows are contiguous.

template <typename T>
struct BodyBase {
  using A = acc_t<T>;
  RowsParams<T> p;
  __device__ __forceinline__ int64_t rows() const { return p.L.rows(); }
  __device__ __forceinline__ Row<const T, true> in(const T* a, int64_t r) const { return row_at<true>(a, p.L, r); }
  template <typename O>
  __device__ __forceinline__ Row<O, true> io(O* a, int64_t r) const { return row_at<true>(a, p.L, r); }
};

template <typename T>
struct SampleBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    const int32_t k = categorical_sample_team<T, acc_t<T>, true>(
        t, this->in(p.x, r), p.L.C, key_of(p.seed), r, this->io(p.y, r),
        p.probs ? this->io(p.probs, r) : Row<T, true>{nullptr, 0});
    if (t.lane() == 0) p.index_out[r] = k;
  }
};

template <typename T>
struct GumbelSoftmaxBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    const int32_t k = gumbel_softmax_team<T, acc_t<T>, true>(t, this->in(p.x, r), p.L.C, p.inv_tau, p.hard,
                                                             key_of(p.seed), r, this->io(p.y, r));
    if (t.lane() == 0) p.index_out[r] = k;
  }
};

template <typename T>
struct ReinmaxBackwardBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    if (p.gp)
      reinmax_backward_team<T, acc_t<T>, true, true>(t, this->in(p.x, r), this->in(p.g, r), this->in(p.gp, r),
                                                     p.L.C, p.index[r], p.inv_tau, this->io(p.y, r));
    else
      reinmax_backward_team<T, acc_t<T>, true, false>(t, this->in(p.x, r), this->in(p.g, r),
                                                      Row<const T, true>{nullptr, 0}, p.L.C, p.index[r],
                                                      p.inv_tau, this->io(p.y, r));
  }
};

template <typename T>
struct StBackwardBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    st_backward_team<T, acc_t<T>, true>(t, this->in(p.x, r), this->in(p.g, r), p.L.C, p.inv_tau, this->io(p.y, r));
  }
};

template <typename T>
struct GstBackwardBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    gst_backward_team<T, acc_t<T>, true>(t, this->in(p.x, r), this->in(p.g, r), p.L.C, p.index[r], p.inv_tau,
                                         p.gap, p.gap_is_p, this->io(p.y, r));
  }
};

template <typename T>
struct GumbelRaoBackwardBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    gumbel_rao_backward_team<T, acc_t<T>, acc_t<T>, true>(t, this->in(p.x, r), this->in(p.g, r), p.L.C,
                                                          p.index[r], p.inv_tau, p.draws, key_of(p.seed), r,
                                                          this->io(p.y_acc, r));
  }
};

template <typename T>
struct GumbelSoftmaxBackwardBody : BodyBase<T> {
  template <typename Team>
  __device__ __forceinline__ void operator()(const Team& t, int64_t r) const {
    const auto& p = this->p;
    gumbel_softmax_backward_team<T, acc_t<T>, true>(t, this->in(p.x, r), this->in(p.g, r), p.L.C, p.inv_tau,
                                                    key_of(p.seed), r, this->io(p.y, r));
  }
};

// Rows of blockDim.x / width per block, one warp segment of `width` lanes each.
template <typename Body>
__global__ void rows_warp_kernel(Body body, int width) {
  const int seg = static_cast<int>(threadIdx.x) / width, per_block = static_cast<int>(blockDim.x) / width;
  const int warp_lane = static_cast<int>(threadIdx.x) % 32;
  const unsigned mask = width == 32 ? 0xffffffffu : ((1u << width) - 1u) << (warp_lane / width * width);
  const WarpSegment team{static_cast<int>(threadIdx.x) % width, width, mask};
  // r is the same on every lane of a segment: a segment enters and leaves the loop together.
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * per_block + seg; r < body.rows();
       r += static_cast<int64_t>(gridDim.x) * per_block)
    body(team, r);
}

template <typename Body>
__global__ void rows_block_kernel(Body body) {
  const BlockTeam team;
  for (int64_t r = blockIdx.x; r < body.rows(); r += gridDim.x) body(team, r);
}

enum class Plan { kThread, kWarp, kBlock };

template <bool U>
inline Plan choose_plan(const RowLayout& L) {
  if (!U || L.C <= kThreadMaxC) return Plan::kThread;
  return L.C >= kBlockMinC ? Plan::kBlock : Plan::kWarp;
}

// The segment width for C columns: the smallest power of two >= the number of Philox groups.
template <typename A>
inline int segment_width(int64_t C) {
  const int64_t groups = (C + Uniform<A>::per_block - 1) / Uniform<A>::per_block;
  int w = 2;
  while (w < 32 && w < groups) w <<= 1;
  return w;
}

// Runs `body` with the team shape of choose_plan (never kThread).
template <typename Body>
cudaError_t launch_team(Plan plan, const Body& body, cudaStream_t stream) {
  const RowLayout& L = body.p.L;
  if (plan == Plan::kBlock) {
    PYALGO_LAUNCH(grid_of(L.rows()), kBlockThreads, 0, stream, rows_block_kernel<Body>)(body);
  } else {
    const int width = segment_width<typename Body::A>(L.C), per_block = kThreads / width;
    PYALGO_LAUNCH(grid_of((L.rows() + per_block - 1) / per_block), kThreads, 0, stream,
                  rows_warp_kernel<Body>)(body, width);
  }
  return cudaGetLastError();
}

}  // namespace

#define PYALGO_DEFINE_LAUNCH(name, kernel, Body)                                   \
  template <typename T, bool U>                                                   \
  cudaError_t name(const RowsParams<T>& p, cudaStream_t stream) {                 \
    const Plan plan = choose_plan<U>(p.L);                                        \
    if (plan != Plan::kThread) return launch_team(plan, Body<T>{{p}}, stream);    \
    PYALGO_LAUNCH(grid_for(p.L.rows()), kThreads, 0, stream, kernel<T, U>)(p);    \
    return cudaGetLastError();                                                    \
  }

PYALGO_DEFINE_LAUNCH(launch_categorical_sample, categorical_sample_kernel, SampleBody)
PYALGO_DEFINE_LAUNCH(launch_gumbel_softmax, gumbel_softmax_kernel, GumbelSoftmaxBody)
PYALGO_DEFINE_LAUNCH(launch_reinmax_backward, reinmax_backward_kernel, ReinmaxBackwardBody)
PYALGO_DEFINE_LAUNCH(launch_st_backward, st_backward_kernel, StBackwardBody)
PYALGO_DEFINE_LAUNCH(launch_gst_backward, gst_backward_kernel, GstBackwardBody)
PYALGO_DEFINE_LAUNCH(launch_gumbel_rao_backward, gumbel_rao_backward_kernel, GumbelRaoBackwardBody)
PYALGO_DEFINE_LAUNCH(launch_gumbel_softmax_backward, gumbel_softmax_backward_kernel, GumbelSoftmaxBackwardBody)
#undef PYALGO_DEFINE_LAUNCH

template <typename T, bool U>
cudaError_t launch_reinmax_cv_forward(const BeyondParams<T>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.L.rows()), kThreads, 0, stream, reinmax_cv_forward_kernel<T, U>)(p);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_beyond_backward(const BeyondParams<T>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.L.rows()), kThreads, 0, stream, beyond_backward_kernel<T, U>)(p);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_philox_uniform(const UniformParams<A>& p, cudaStream_t stream) {
  PYALGO_LAUNCH(grid_for(p.rows), kThreads, 0, stream, philox_uniform_kernel<A>)(p);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE(T, U)                                                                       \
  template cudaError_t launch_categorical_sample<T, U>(const RowsParams<T>&, cudaStream_t);           \
  template cudaError_t launch_gumbel_softmax<T, U>(const RowsParams<T>&, cudaStream_t);               \
  template cudaError_t launch_reinmax_backward<T, U>(const RowsParams<T>&, cudaStream_t);             \
  template cudaError_t launch_st_backward<T, U>(const RowsParams<T>&, cudaStream_t);                  \
  template cudaError_t launch_gst_backward<T, U>(const RowsParams<T>&, cudaStream_t);                 \
  template cudaError_t launch_gumbel_rao_backward<T, U>(const RowsParams<T>&, cudaStream_t);          \
  template cudaError_t launch_gumbel_softmax_backward<T, U>(const RowsParams<T>&, cudaStream_t);      \
  template cudaError_t launch_reinmax_cv_forward<T, U>(const BeyondParams<T>&, cudaStream_t);         \
  template cudaError_t launch_beyond_backward<T, U>(const BeyondParams<T>&, cudaStream_t);

#define PYALGO_INSTANTIATE_BOTH(T) \
  PYALGO_INSTANTIATE(T, true)      \
  PYALGO_INSTANTIATE(T, false)

PYALGO_INSTANTIATE_BOTH(float)
PYALGO_INSTANTIATE_BOTH(double)
PYALGO_INSTANTIATE_BOTH(__half)
PYALGO_INSTANTIATE_BOTH(__nv_bfloat16)

template cudaError_t launch_philox_uniform<float>(const UniformParams<float>&, cudaStream_t);
template cudaError_t launch_philox_uniform<double>(const UniformParams<double>&, cudaStream_t);

}  // namespace discrete
}  // namespace pyalgo
