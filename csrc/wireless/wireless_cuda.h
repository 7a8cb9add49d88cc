// Launchers of the wireless CUDA kernels (defined in wireless_cuda.cu, no torch headers). A is
// float or double; complex data is passed as Cx<A> (torch's (re, im) layout). Each returns the
// launch error, if any. `workspace` (wmmse_miso) holds MisoWork<A>::size(K, N) entries per
// instance.
#pragma once
#include <cuda_runtime_api.h>

#include "miso.h"

namespace pyalgo {
namespace wireless {

template <typename A>
cudaError_t launch_wmmse_siso(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                              int32_t* iters, A* objective, A* trajectory, int64_t B, int K, int max_iter, A tol,
                              cudaStream_t stream);
template <typename A>
cudaError_t launch_siso_rates(const A* g, const A* p, const A* noise, A* out, int64_t B, int K, cudaStream_t stream);
template <typename A>
cudaError_t launch_siso_rates_backward(const A* g, const A* p, const A* noise, const A* grad, A* grad_g, A* grad_p,
                                       A* grad_noise, A* direct, int64_t B, int K, cudaStream_t stream);
template <typename A>
cudaError_t launch_wmmse_miso(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u,
                              A* w, int32_t* iters, A* objective, Cx<A>* trajectory, Cx<A>* workspace, int64_t B,
                              int K, int N, int max_iter, A tol, A bisection_tol, cudaStream_t stream);
template <typename A>
cudaError_t launch_miso_rates(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N,
                              cudaStream_t stream);
template <typename A>
cudaError_t launch_miso_rates_backward(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad,
                                       Cx<A>* grad_h, Cx<A>* grad_v, A* grad_noise, Cx<A>* coef, int64_t B, int K,
                                       int N, cudaStream_t stream);

}  // namespace wireless
}  // namespace pyalgo
