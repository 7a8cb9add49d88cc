// CUDA launcher of the wireless ops: calls the kernels of wireless_kernels.cu on the current stream.
// Built only when torch has CUDA. Nothing here synchronises with the host, so the kernels report
// an input that breaks a precondition by NaN-poisoning the outputs concerned (wireless_ops.h). Each method fills the
// op's parameter struct (wireless_cuda.h), checks what only CUDA limits (the grid, the shared
// memory of a WMMSE block) and launches.
#include "../common/cuda_utils.h"

#include "wireless_cuda.h"
#include "wireless_ops.h"

namespace pyalgo {
namespace wireless {
namespace {

void check_grid(const char* fn, int64_t blocks) { ::pyalgo::check_grid(fn, blocks, "number of blocks"); }

struct CudaLaunch {
  template <typename A>
  static int wmmse_siso(const A* g, const A* p_max, const A* noise, const A* alpha, A* p, A* u, A* w,
                         int32_t* iters, A* objective, A* trajectory, int64_t B, int K, int max_iter, A tol) {
    const char* fn = "pyalgo.wireless.wmmse";
    // A block per instance keeps its state vectors (and 32 partial sums) in 48 KiB of shared memory.
    PYALGO_CHECK(K <= wmmse_siso_max_users<A>(), fn, ": on CUDA K must be at most ", wmmse_siso_max_users<A>(),
                " for this dtype, got ", K);
    check_grid(fn, wmmse_siso_blocks(B, K));
    check_launch(fn, launch_wmmse_siso<A>(
        SisoParams<A>{g, p_max, noise, alpha, p, u, w, iters, objective, trajectory, B, K, max_iter, tol},
        current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }

  template <typename A>
  static int siso_rates(const A* g, const A* p, const A* noise, A* out, A* interference, int64_t B, int K) {
    const char* fn = "pyalgo.wireless.sum_rate";
    check_grid(fn, blocks_for(B * K));
    check_launch(fn, launch_siso_rates<A>(SisoRatesParams<A>{g, p, noise, out, interference, B, K},
                                          current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }

  template <typename A>
  static int siso_rates_backward(const A* g, const A* p, const A* noise, const A* interference, const A* grad,
                                  A* grad_g, A* grad_p, A* grad_noise, A* direct, int64_t B, int K) {
    const char* fn = "pyalgo.wireless.sum_rate_backward";
    check_grid(fn, blocks_for(B * K));
    check_launch(fn, launch_siso_rates_backward<A>(
        SisoRatesBackwardParams<A>{g, p, noise, interference, grad, grad_g, grad_p, grad_noise, direct, B, K},
        current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }

  template <typename A>
  static int wmmse_miso(const Cx<A>* h, const A* p_max, const A* noise, const A* alpha, Cx<A>* V, Cx<A>* u, A* w,
                         int32_t* iters, A* objective, Cx<A>* trajectory, int64_t B, int K, int N, int max_iter,
                         A tol, A bisection_tol) {
    const char* fn = "pyalgo.wireless.wmmse_miso";
    check_grid(fn, blocks_for(B));
    const Tensor workspace = empty({B * MisoWork<A>::size(K, N) * 2}, dtype_of<A>(), kernel_device());
    check_launch(fn, launch_wmmse_miso<A>(MisoParams<A>{h, p_max, noise, alpha, V, u, w, iters, objective, trajectory,
                                                    static_cast<Cx<A>*>(workspace.data_ptr()), B, K, N, max_iter,
                                                    tol, bisection_tol},
                                      current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }

  template <typename A>
  static int miso_rates(const Cx<A>* h, const Cx<A>* V, const A* noise, A* out, int64_t B, int K, int N) {
    const char* fn = "pyalgo.wireless.sum_rate_miso";
    check_grid(fn, blocks_for(B * K));
    check_launch(fn, launch_miso_rates<A>(MisoRatesParams<A>{h, V, noise, out, B, K, N}, current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }

  template <typename A>
  static int miso_rates_backward(const Cx<A>* h, const Cx<A>* V, const A* noise, const A* grad, Cx<A>* grad_h,
                                  Cx<A>* grad_v, A* grad_noise, Cx<A>* coef, int64_t B, int K, int N) {
    const char* fn = "pyalgo.wireless.sum_rate_miso_backward";
    check_grid(fn, blocks_for(B * K));
    check_launch(fn, launch_miso_rates_backward<A>(
        MisoRatesBackwardParams<A>{h, V, noise, grad, grad_h, grad_v, grad_noise, coef, B, K, N}, current_stream()));
    return 0;  // the kernels NaN-poison bad inputs' outputs: nothing to report without a sync
  }
};

}  // namespace

PYALGO_CUDA_IMPL(m) { PYALGO_REGISTER_WIRELESS_OPS(m, CudaLaunch); }

}  // namespace wireless
}  // namespace pyalgo
