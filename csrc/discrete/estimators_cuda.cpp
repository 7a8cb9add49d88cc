// CUDA launcher of the discrete estimators: maps torch's half types to CUDA's and calls the
// kernels of estimators_cuda.cu on the current stream. Built only when torch has CUDA. No host
// synchronisation anywhere: the seed is read on the device, and invalid rows are left as NaN
// instead of raising (see pyalgo/discrete/ops.py, NaN policy).
#include <c10/cuda/CUDAStream.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <torch/library.h>

#include "estimators_cuda.h"
#include "estimators_ops.h"

namespace pyalgo {
namespace discrete {
namespace {

template <typename T>
struct DeviceType {
  using type = T;
};
template <>
struct DeviceType<at::Half> {
  using type = __half;
};
template <>
struct DeviceType<at::BFloat16> {
  using type = __nv_bfloat16;
};

template <typename T>
auto dev(T* p) {
  using D = typename DeviceType<std::remove_const_t<T>>::type;
  return reinterpret_cast<std::conditional_t<std::is_const<T>::value, const D*, D*>>(p);
}

cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void check_launch(cudaError_t err) {
  TORCH_CHECK(err == cudaSuccess, "pyalgo: CUDA kernel launch failed: ", cudaGetErrorString(err));
}

const int64_t* seed_ptr(const at::Tensor& seed) { return seed.contiguous().data_ptr<int64_t>(); }

struct CudaLaunch {
  static void check_rows(const char*, const at::Tensor&) {}  // NaN rows, no host sync

  template <typename T, typename A, bool U>
  static void sample(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L, const at::Tensor& seed) {
    check_launch(launch_categorical_sample<typename DeviceType<T>::type, U>(
        dev(x), dev(one_hot), dev(probs), index, L, seed_ptr(seed), current_stream()));
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau, bool hard,
                             const at::Tensor& seed) {
    check_launch(launch_gumbel_softmax<typename DeviceType<T>::type, U>(dev(x), dev(y), index, L, inv_tau, hard,
                                                                        seed_ptr(seed), current_stream()));
  }

  template <typename T, typename A, bool U>
  static void reinmax_backward(const T* x, const int32_t* index, const T* g, const T* gp, T* out, RowLayout L,
                               A inv_tau) {
    check_launch(launch_reinmax_backward<typename DeviceType<T>::type, U>(dev(x), index, dev(g), dev(gp), dev(out),
                                                                          L, inv_tau, current_stream()));
  }

  template <typename T, typename A, bool U>
  static void st_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau) {
    check_launch(launch_st_backward<typename DeviceType<T>::type, U>(dev(x), dev(g), dev(out), L, inv_tau,
                                                                     current_stream()));
  }

  template <typename T, typename A, bool U>
  static void gst_backward(const T* x, const int32_t* index, const T* g, T* out, RowLayout L, A inv_tau, A gap,
                           bool gap_is_p) {
    check_launch(launch_gst_backward<typename DeviceType<T>::type, U>(dev(x), index, dev(g), dev(out), L, inv_tau,
                                                                      gap, gap_is_p, current_stream()));
  }

  template <typename T, typename A, bool U>
  static void gumbel_rao_backward(const T* x, const int32_t* index, const T* g, A* out, RowLayout L, A inv_tau,
                                  int64_t draws, const at::Tensor& seed) {
    check_launch(launch_gumbel_rao_backward<typename DeviceType<T>::type, U>(
        dev(x), index, dev(g), out, L, inv_tau, draws, seed_ptr(seed), current_stream()));
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                      const at::Tensor& seed) {
    check_launch(launch_gumbel_softmax_backward<typename DeviceType<T>::type, U>(
        dev(x), dev(g), dev(out), L, inv_tau, seed_ptr(seed), current_stream()));
  }

  template <typename A>
  static void philox_uniform(A* out, int64_t rows, int64_t cols, uint32_t stream, const at::Tensor& seed) {
    check_launch(launch_philox_uniform<A>(out, rows, cols, stream, seed_ptr(seed), current_stream()));
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(pyalgo, CUDA, m) { PYALGO_REGISTER_DISCRETE_OPS(m, CudaLaunch); }

}  // namespace discrete
}  // namespace pyalgo
