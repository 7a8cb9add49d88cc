// Launchers of the discrete-estimator CUDA kernels (defined in estimators_cuda.cu, no torch
// headers). T is float, double, __half or __nv_bfloat16; U: rows are contiguous. `seed` points
// to the (seed, offset) pair in device memory, so nothing is copied to the host.
#pragma once
#include <cuda_runtime_api.h>

#include "../common/hd.h"

namespace pyalgo {
namespace discrete {

template <typename T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};
template <typename T>
using acc_t = typename AccOf<T>::type;

template <typename T, bool U>
cudaError_t launch_categorical_sample(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L,
                                      const int64_t* seed, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_softmax(const T* x, T* y, int32_t* index, RowLayout L, acc_t<T> inv_tau, bool hard,
                                  const int64_t* seed, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_reinmax_backward(const T* x, const int32_t* index, const T* g, const T* gp, T* out,
                                    RowLayout L, acc_t<T> inv_tau, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_st_backward(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau,
                               cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gst_backward(const T* x, const int32_t* index, const T* g, T* out, RowLayout L,
                                acc_t<T> inv_tau, acc_t<T> gap, bool gap_is_p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_rao_backward(const T* x, const int32_t* index, const T* g, acc_t<T>* out,
                                       RowLayout L, acc_t<T> inv_tau, int64_t draws, const int64_t* seed,
                                       cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_softmax_backward(const T* x, const T* g, T* out, RowLayout L, acc_t<T> inv_tau,
                                           const int64_t* seed, cudaStream_t stream);
template <typename A>
cudaError_t launch_philox_uniform(A* out, int64_t rows, int64_t cols, uint32_t stream_id, const int64_t* seed,
                                  cudaStream_t stream);

}  // namespace discrete
}  // namespace pyalgo
