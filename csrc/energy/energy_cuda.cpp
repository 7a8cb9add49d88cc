// CUDA launcher of the energy ops: calls the kernels of energy_cuda.cu on the current stream.
// Built only when torch has CUDA. Nothing here synchronises with the host.
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "energy_cuda.h"
#include "energy_ops.h"

namespace pyalgo {
namespace energy {
namespace {

cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void check_launch(cudaError_t err) {
  TORCH_CHECK(err == cudaSuccess, "pyalgo: CUDA kernel launch failed: ", cudaGetErrorString(err));
}

void check_grid(const char* fn, int64_t blocks) {
  TORCH_CHECK(blocks <= 0x7fffffff, fn, ": on CUDA the batch must be below 2^31 examples, got ", blocks);
}

struct CudaLaunch {
  static void sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k) {
    check_grid("pyalgo.energy.sample_bits", (B * m + 127) / 128);
    check_launch(launch_sample_bits(seed, out, B, m, k, current_stream()));
  }

  static void sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n) {
    check_grid("pyalgo.energy.sample_perms", (B * m + 127) / 128);
    check_launch(launch_sample_perms(seed, out, B, m, n, current_stream()));
  }

  template <typename A>
  static void minmin_bits(const A* u, const A* U, const A* tau, const A* y, const int64_t* seed, A* loss,
                          A* grad_u, A* grad_U, A* grad_tau, int64_t B, int k, int64_t m, A alpha) {
    check_grid("pyalgo.energy.minmin_loss", B);
    check_launch(launch_minmin_bits<A>(u, U, tau, y, seed, loss, grad_u, grad_U, grad_tau, B, k, m, alpha,
                                       current_stream()));
  }

  template <typename A>
  static void minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const int64_t* seed,
                           A* loss, A* grad_theta, A* grad_tau, int64_t B, int n, int64_t m, A alpha) {
    check_grid("pyalgo.energy.minmin_loss_ranking", B);
    check_launch(launch_minmin_perms<A>(theta, birkhoff, tau, y, seed, loss, grad_theta, grad_tau, B, n, m, alpha,
                                        current_stream()));
  }
};

}  // namespace

TORCH_LIBRARY_IMPL(pyalgo, CUDA, m) { PYALGO_REGISTER_ENERGY_OPS(m, CudaLaunch); }

}  // namespace energy
}  // namespace pyalgo
