// CUDA launcher of the discrete estimators: maps torch's half types to CUDA's and calls the
// kernels of estimators_kernels.cu on the current stream. Built only when torch has CUDA. No host
// synchronisation anywhere: the seed is read on the device, and invalid rows are left as NaN
// instead of raising (see pyalgo/discrete/ops.py, NaN policy).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "../common/cuda_utils.h"

#include "estimators_cuda.h"
#include "estimators_ops.h"

namespace pyalgo {
namespace discrete {
namespace {

template <typename T>
struct CudaType {
  using type = T;
};
template <>
struct CudaType<Half> {
  using type = __half;
};
template <>
struct CudaType<BFloat16> {
  using type = __nv_bfloat16;
};

template <typename T>
auto dev(T* p) {
  using D = typename CudaType<std::remove_const_t<T>>::type;
  return reinterpret_cast<std::conditional_t<std::is_const<T>::value, const D*, D*>>(p);
}

void check_launch(cudaError_t err) { ::pyalgo::check_launch("pyalgo (discrete estimators)", err); }

// The ops hand over the contiguous seed they keep alive (checked_seed in common/checks.h).
const int64_t* seed_ptr(const Tensor& seed) {
  PYALGO_CHECK(seed.is_contiguous(), "pyalgo: internal error: the seed must be made contiguous by the op");
  return ptr<int64_t>(seed);
}

// The torch-free params of one launch, with the fields every op has; run() launches on the
// current stream and checks the launch.
template <typename T>
RowsParams<typename CudaType<T>::type> params(const T* x, RowLayout L) {
  RowsParams<typename CudaType<T>::type> p;
  p.x = dev(x);
  p.L = L;
  return p;
}

template <typename D>
void run(cudaError_t (*launch)(const RowsParams<D>&, cudaStream_t), const RowsParams<D>& p) {
  check_launch(launch(p, current_stream()));
}

struct CudaLaunch {
  static void check_rows(const char*, const Tensor&) {}  // NaN rows, no host sync

  template <typename T, typename A, bool U>
  static void sample(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L, const Tensor& seed) {
    auto p = params(x, L);
    p.y = dev(one_hot);
    p.probs = dev(probs);
    p.index_out = index;
    p.seed = seed_ptr(seed);
    run(launch_categorical_sample<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax(const T* x, T* y, int32_t* index, RowLayout L, A inv_tau, bool hard,
                             const Tensor& seed) {
    auto p = params(x, L);
    p.y = dev(y);
    p.index_out = index;
    p.inv_tau = inv_tau;
    p.hard = hard;
    p.seed = seed_ptr(seed);
    run(launch_gumbel_softmax<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void reinmax_backward(const T* x, const int32_t* index, const T* g, const T* gp, T* out, RowLayout L,
                               A inv_tau) {
    auto p = params(x, L);
    p.index = index;
    p.g = dev(g);
    p.gp = dev(gp);
    p.y = dev(out);
    p.inv_tau = inv_tau;
    run(launch_reinmax_backward<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void st_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau) {
    auto p = params(x, L);
    p.g = dev(g);
    p.y = dev(out);
    p.inv_tau = inv_tau;
    run(launch_st_backward<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void gst_backward(const T* x, const int32_t* index, const T* g, T* out, RowLayout L, A inv_tau, A gap,
                           bool gap_is_p) {
    auto p = params(x, L);
    p.index = index;
    p.g = dev(g);
    p.y = dev(out);
    p.inv_tau = inv_tau;
    p.gap = gap;
    p.gap_is_p = gap_is_p;
    run(launch_gst_backward<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void gumbel_rao_backward(const T* x, const int32_t* index, const T* g, A* out, RowLayout L, A inv_tau,
                                  int64_t draws, const Tensor& seed) {
    auto p = params(x, L);
    p.index = index;
    p.g = dev(g);
    p.y_acc = out;
    p.inv_tau = inv_tau;
    p.draws = draws;
    p.seed = seed_ptr(seed);
    run(launch_gumbel_rao_backward<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void gumbel_softmax_backward(const T* x, const T* g, T* out, RowLayout L, A inv_tau,
                                      const Tensor& seed) {
    auto p = params(x, L);
    p.g = dev(g);
    p.y = dev(out);
    p.inv_tau = inv_tau;
    p.seed = seed_ptr(seed);
    run(launch_gumbel_softmax_backward<typename CudaType<T>::type, U>, p);
  }

  template <typename T, typename A, bool U>
  static void reinmax_cv_forward(const T* x, T* one_hot, T* probs, int32_t* index, RowLayout L, const Tensor& seed) {
    BeyondParams<typename CudaType<T>::type> p;
    p.x = dev(x);
    p.L = L;
    p.y = dev(one_hot);
    p.probs = dev(probs);
    p.index_out = index;
    p.seed = seed_ptr(seed);
    check_launch(launch_reinmax_cv_forward<typename CudaType<T>::type, U>(p, current_stream()));
  }

  template <typename T, typename A, bool U>
  static void beyond_backward(const T* x, const int32_t* index, const T* g, const T* gp, A* out, RowLayout L,
                              A inv_tau, A inv_tau2, A eta, int64_t draws, int mode, const Tensor& seed) {
    BeyondParams<typename CudaType<T>::type> p;
    p.x = dev(x);
    p.L = L;
    p.index = index;
    p.g = dev(g);
    p.gp = dev(gp);
    p.out = out;
    p.inv_tau = inv_tau;
    p.inv_tau2 = inv_tau2;
    p.eta = eta;
    p.draws = draws;
    p.mode = mode;
    p.seed = seed_ptr(seed);
    check_launch(launch_beyond_backward<typename CudaType<T>::type, U>(p, current_stream()));
  }

  template <typename A>
  static void philox_uniform(A* out, int64_t rows, int64_t cols, uint32_t stream, const Tensor& seed) {
    UniformParams<A> p;
    p.out = out;
    p.rows = rows;
    p.cols = cols;
    p.stream = stream;
    p.seed = seed_ptr(seed);
    check_launch(launch_philox_uniform<A>(p, current_stream()));
  }
};

}  // namespace

PYALGO_CUDA_IMPL(m) { PYALGO_REGISTER_DISCRETE_OPS(m, CudaLaunch); }

}  // namespace discrete
}  // namespace pyalgo
