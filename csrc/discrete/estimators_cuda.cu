// CUDA kernels of the discrete estimators: one thread per categorical row, running exactly the
// per-row bodies of estimators.h that the CPU launcher runs. No torch headers (so nvcc can
// compile-check this file on any machine); the torch glue is estimators_cuda.cpp.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "estimators.h"
#include "estimators_cuda.h"

namespace pyalgo {
namespace discrete {
namespace {

constexpr int kThreads = 128;

// Grid covering `rows` rows at one row per thread.
inline dim3 grid_for(int64_t rows) { return dim3(static_cast<unsigned>((rows + kThreads - 1) / kThreads)); }

__device__ __forceinline__ int64_t this_row() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

template <typename T, bool U>
__global__ void categorical_sample_kernel(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                          const int64_t* seed) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  categorical_sample_at<T, acc_t<T>, U>(x, one_hot, probs, index, L, philox_key(seed[0], seed[1]), r);
}

template <typename T, bool U>
__global__ void gumbel_softmax_kernel(const T* x, T* y, int32_t* index, RowLayout L, acc_t<T> inv_tau,
                                      bool hard, const int64_t* seed) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  gumbel_softmax_at<T, acc_t<T>, U>(x, y, index, L, inv_tau, hard, philox_key(seed[0], seed[1]), r);
}

template <typename T, bool U>
__global__ void reinmax_backward_kernel(const T* x, const int32_t* index, const T* g, const T* gp, T* out,
                                        RowLayout L, acc_t<T> inv_tau) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  reinmax_backward_at<T, acc_t<T>, U>(x, index, g, gp, out, L, inv_tau, r);
}

template <typename T, bool U>
__global__ void st_backward_kernel(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  st_backward_at<T, acc_t<T>, U>(x, g, out, L, inv_tau, r);
}

template <typename T, bool U>
__global__ void gst_backward_kernel(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                                    acc_t<T> inv_tau, acc_t<T> gap, bool gap_is_p) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  gst_backward_at<T, acc_t<T>, U>(x, index, g, out, L, inv_tau, gap, gap_is_p, r);
}

template <typename T, bool U>
__global__ void gumbel_rao_backward_kernel(const T* x, const int32_t* index, const T* g, acc_t<T>* out,
                                           RowLayout L, acc_t<T> inv_tau, int64_t draws, const int64_t* seed) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  gumbel_rao_backward_at<T, acc_t<T>, acc_t<T>, U>(x, index, g, out, L, inv_tau, draws,
                                                   philox_key(seed[0], seed[1]), r);
}

template <typename T, bool U>
__global__ void gumbel_softmax_backward_kernel(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau,
                                               const int64_t* seed) {
  const int64_t r = this_row();
  if (r >= L.rows()) return;
  gumbel_softmax_backward_at<T, acc_t<T>, U>(x, g, out, L, inv_tau, philox_key(seed[0], seed[1]), r);
}

template <typename A>
__global__ void philox_uniform_kernel(A* out, int64_t rows, int64_t cols, uint32_t stream_id,
                                      const int64_t* seed) {
  const int64_t r = this_row();
  if (r >= rows) return;
  philox_uniform_at<A>(out, cols, philox_key(seed[0], seed[1]), stream_id, r);
}

}  // namespace

template <typename T, bool U>
cudaError_t launch_categorical_sample(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                      const int64_t* seed, cudaStream_t stream) {
  categorical_sample_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, one_hot, probs, index, L, seed);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_gumbel_softmax(const T* x, T* y, int32_t* index, RowLayout L, acc_t<T> inv_tau, bool hard,
                                  const int64_t* seed, cudaStream_t stream) {
  gumbel_softmax_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, y, index, L, inv_tau, hard, seed);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_reinmax_backward(const T* x, const int32_t* index, const T* g, const T* gp, T* out,
                                    RowLayout L, acc_t<T> inv_tau, cudaStream_t stream) {
  reinmax_backward_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, index, g, gp, out, L, inv_tau);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_st_backward(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau,
                               cudaStream_t stream) {
  st_backward_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, g, out, L, inv_tau);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_gst_backward(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                                acc_t<T> inv_tau, acc_t<T> gap, bool gap_is_p, cudaStream_t stream) {
  gst_backward_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, index, g, out, L, inv_tau, gap,
                                                                          gap_is_p);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_gumbel_rao_backward(const T* x, const int32_t* index, const T* g, acc_t<T>* out,
                                       RowLayout L, acc_t<T> inv_tau, int64_t draws, const int64_t* seed,
                                       cudaStream_t stream) {
  gumbel_rao_backward_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, index, g, out, L, inv_tau,
                                                                                 draws, seed);
  return cudaGetLastError();
}

template <typename T, bool U>
cudaError_t launch_gumbel_softmax_backward(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau,
                                           const int64_t* seed, cudaStream_t stream) {
  gumbel_softmax_backward_kernel<T, U><<<grid_for(L.rows()), kThreads, 0, stream>>>(x, g, out, L, inv_tau, seed);
  return cudaGetLastError();
}

template <typename A>
cudaError_t launch_philox_uniform(A* out, int64_t rows, int64_t cols, uint32_t stream_id, const int64_t* seed,
                                  cudaStream_t stream) {
  philox_uniform_kernel<A><<<grid_for(rows), kThreads, 0, stream>>>(out, rows, cols, stream_id, seed);
  return cudaGetLastError();
}

#define PYALGO_INSTANTIATE(T, U)                                                                           \
  template cudaError_t launch_categorical_sample<T, U>(const T*, T*, T*, int32_t*, RowLayout, const int64_t*, \
                                                       cudaStream_t);                                       \
  template cudaError_t launch_gumbel_softmax<T, U>(const T*, T*, int32_t*, RowLayout, acc_t<T>, bool,       \
                                                   const int64_t*, cudaStream_t);                           \
  template cudaError_t launch_reinmax_backward<T, U>(const T*, const int32_t*, const T*, const T*, T*,      \
                                                     RowLayout, acc_t<T>, cudaStream_t);                    \
  template cudaError_t launch_st_backward<T, U>(const T*, const T*, T*, RowLayout, acc_t<T>, cudaStream_t);  \
  template cudaError_t launch_gst_backward<T, U>(const T*, const int32_t*, const T*, T*, RowLayout,         \
                                                 acc_t<T>, acc_t<T>, bool, cudaStream_t);                   \
  template cudaError_t launch_gumbel_rao_backward<T, U>(const T*, const int32_t*, const T*, acc_t<T>*,      \
                                                        RowLayout, acc_t<T>, int64_t, const int64_t*,       \
                                                        cudaStream_t);                                      \
  template cudaError_t launch_gumbel_softmax_backward<T, U>(const T*, const T*, T*, RowLayout, acc_t<T>,    \
                                                            const int64_t*, cudaStream_t);

#define PYALGO_INSTANTIATE_BOTH(T) \
  PYALGO_INSTANTIATE(T, true)      \
  PYALGO_INSTANTIATE(T, false)

PYALGO_INSTANTIATE_BOTH(float)
PYALGO_INSTANTIATE_BOTH(double)
PYALGO_INSTANTIATE_BOTH(__half)
PYALGO_INSTANTIATE_BOTH(__nv_bfloat16)

template cudaError_t launch_philox_uniform<float>(float*, int64_t, int64_t, uint32_t, const int64_t*, cudaStream_t);
template cudaError_t launch_philox_uniform<double>(double*, int64_t, int64_t, uint32_t, const int64_t*,
                                                   cudaStream_t);

}  // namespace discrete
}  // namespace pyalgo
