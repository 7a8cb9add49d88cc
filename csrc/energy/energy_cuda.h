// Launchers of the energy CUDA kernels (defined in energy_cuda.cu, no torch headers). A is float
// or double; `seed` points to the (seed, offset) pair on the device. Each returns the launch error.
#pragma once
#include <cuda_runtime_api.h>

#include "minmin.h"

namespace pyalgo {
namespace energy {

cudaError_t launch_sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k, cudaStream_t stream);
cudaError_t launch_sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n, cudaStream_t stream);
template <typename A>
cudaError_t launch_minmin_bits(const A* u, const A* U, const A* tau, const A* y, const int64_t* seed, A* loss,
                               A* grad_u, A* grad_U, A* grad_tau, int64_t B, int k, int64_t m, A alpha,
                               cudaStream_t stream);
template <typename A>
cudaError_t launch_minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const int64_t* seed,
                                A* loss, A* grad_theta, A* grad_tau, int64_t B, int n, int64_t m, A alpha,
                                cudaStream_t stream);

}  // namespace energy
}  // namespace pyalgo
