// Launchers of the discrete-estimator CUDA kernels (defined in estimators_kernels.cu, no torch
// headers). T is float, double, __half or __nv_bfloat16; U: rows are contiguous. `seed` points
// to the (seed, offset) pair in device memory, so nothing is copied to the host.
//
// Every launch takes one torch-free params struct, passed to the kernels by value: the row
// pointers, the layout and the op's scalars. Fields an op does not use stay null / zero.
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

// One discrete row op over all rows of a (outer, C, inner) tensor.
template <typename T>
struct RowsParams {
  using A = acc_t<T>;
  const T* x = nullptr;           // logits
  const int32_t* index = nullptr;  // backward: the forward's sample per row
  const T* g = nullptr;           // backward: grad of the hard output
  const T* gp = nullptr;          // ReinMax backward: grad of the soft output (may be null)
  T* y = nullptr;                 // forward: one-hot / Gumbel-softmax output; backward: the gradient
  T* probs = nullptr;             // categorical_sample: softmax(x) (may be null)
  A* y_acc = nullptr;             // GR-MCK backward: the gradient in the accumulation type
  int32_t* index_out = nullptr;   // forward: the sample per row
  RowLayout L{0, 0, 1};
  A inv_tau = A(1), gap = A(0);
  bool hard = false, gap_is_p = false;
  int64_t draws = 0;
  const int64_t* seed = nullptr;  // (seed, offset) on the device
};

template <typename T, bool U>
cudaError_t launch_categorical_sample(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_softmax(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_reinmax_backward(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_st_backward(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gst_backward(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_rao_backward(const RowsParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_gumbel_softmax_backward(const RowsParams<T>& p, cudaStream_t stream);

// ReinMax-Rao / ReinMax-CV (rao_cv.h): the CV forward, and both backwards (mode: 0 Rao, 1 CV "soft",
// 2 CV "gumbel"); one row per thread.
template <typename T>
struct BeyondParams {
  using A = acc_t<T>;
  const T* x = nullptr;            // logits
  const int32_t* index = nullptr;  // backward: the forward's sample per row
  const T* g = nullptr;            // backward: grad of y_hard
  const T* gp = nullptr;           // backward: grad of y_soft (may be null)
  A* out = nullptr;                // backward: the gradient, in the accumulation type
  T* y = nullptr;                  // forward: one_hot(k)
  T* probs = nullptr;              // forward: softmax(x)
  int32_t* index_out = nullptr;    // forward: the sample per row
  RowLayout L{0, 0, 1};
  A inv_tau = A(1), inv_tau2 = A(1), eta = A(0);
  int64_t draws = 1;
  int mode = 0;
  const int64_t* seed = nullptr;   // (seed, offset) on the device
};

template <typename T, bool U>
cudaError_t launch_reinmax_cv_forward(const BeyondParams<T>& p, cudaStream_t stream);
template <typename T, bool U>
cudaError_t launch_beyond_backward(const BeyondParams<T>& p, cudaStream_t stream);

template <typename A>
struct UniformParams {
  A* out = nullptr;
  int64_t rows = 0, cols = 0;
  uint32_t stream = 0;
  const int64_t* seed = nullptr;
};

template <typename A>
cudaError_t launch_philox_uniform(const UniformParams<A>& p, cudaStream_t stream);

}  // namespace discrete
}  // namespace pyalgo
