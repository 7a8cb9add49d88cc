// CUDA launcher of the wireless ops: calls the kernels of wireless_cuda.cu on the current stream.
// Built only when torch has CUDA. Nothing here synchronises with the host.
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "wireless_cuda.h"
#include "wireless_ops.h"

namespace pyalgo {
namespace wireless {
namespace {

cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void check_launch(cudaError_t err) {
  TORCH_CHECK(err == cudaSuccess, "pyalgo: CUDA kernel launch failed: ", cudaGetErrorString(err));
}

struct CudaLaunch {
  template <typename A>
  static void wmmse_siso(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                         int32_t* iters, A* objective, A* trajectory, int64_t B, int K, int max_iter, A tol) {
    // A block per instance keeps its state vectors (and 32 partial sums) in 48 KiB of shared memory.
    constexpr int64_t kVectors = SisoState<A>::kVectors;
    TORCH_CHECK((32 + kVectors * static_cast<int64_t>(K)) * static_cast<int64_t>(sizeof(A)) <= 48 * 1024,
                "pyalgo.wireless.wmmse: on CUDA K must be at most ", (48 * 1024 / static_cast<int64_t>(sizeof(A)) - 32) / kVectors,
                " for this dtype, got ", K);
    TORCH_CHECK(B <= 0x7fffffff, "pyalgo.wireless.wmmse: on CUDA the batch must be below 2^31 instances, got ", B);
    check_launch(launch_wmmse_siso<A>(g, p_max, noise, alpha, p, u, w, iters, objective, trajectory, B, K, max_iter,
                                      tol, current_stream()));
  }

  template <typename A>
  static void siso_rates(const A* g, const A* p, const A* noise, A* out, int64_t B, int K) {
    check_launch(launch_siso_rates<A>(g, p, noise, out, B, K, current_stream()));
  }

  template <typename A>
  static void siso_rates_backward(const A* g, const A* p, const A* noise, const A* grad, A* grad_g, A* grad_p,
                                  A* grad_noise, A* direct, int64_t B, int K) {
    check_launch(launch_siso_rates_backward<A>(g, p, noise, grad, grad_g, grad_p, grad_noise, direct, B, K,
                                               current_stream()));
  }

  template <typename A>
  static void wmmse_miso(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u, A* w,
                         int32_t* iters, A* objective, Cx<A>* trajectory, int64_t B, int K, int N, int max_iter,
                         A tol, A bisection_tol) {
    const at::TensorOptions options = at::TensorOptions()
                       .dtype(c10::CppTypeToScalarType<A>::value)
                       .device(at::kCUDA, c10::cuda::current_device());
    const at::Tensor workspace = at::empty({B * MisoWork<A>::size(K, N) * 2}, options);
    check_launch(launch_wmmse_miso<A>(h, p_max, noise, alpha, V, u, w, iters, objective, trajectory,
                                      static_cast<Cx<A>*>(workspace.data_ptr()), B, K, N, max_iter, tol,
                                      bisection_tol, current_stream()));
  }

  template <typename A>
  static void miso_rates(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N) {
    check_launch(launch_miso_rates<A>(h, V, noise, out, B, K, N, current_stream()));
  }

  template <typename A>
  static void miso_rates_backward(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad, Cx<A>* grad_h,
                                  Cx<A>* grad_v, A* grad_noise, Cx<A>* coef, int64_t B, int K, int N) {
    check_launch(launch_miso_rates_backward<A>(h, V, noise, grad, grad_h, grad_v, grad_noise, coef, B, K, N,
                                               current_stream()));
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(pyalgo, CUDA, m) { PYALGO_REGISTER_WIRELESS_OPS(m, CudaLaunch); }

}  // namespace wireless
}  // namespace pyalgo
