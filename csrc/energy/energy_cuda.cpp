// CUDA launcher of the energy ops: calls the kernels of energy_kernels.cu on the current stream.
// Built only when torch has CUDA. Nothing here synchronises with the host.
#include "../common/cuda_utils.h"

#include "energy_cuda.h"
#include "energy_ops.h"

namespace pyalgo {
namespace energy {
namespace {

void check_grid(const char* fn, int64_t blocks) { ::pyalgo::check_grid(fn, blocks, "number of blocks"); }

struct CudaLaunch {
  static void sample_bits(const int64_t* seed, uint8_t* out, int64_t B, int64_t m, int k) {
    const char* fn = "pyalgo.energy.sample_bits";
    check_grid(fn, (B * m + 127) / 128);
    check_launch(fn, launch_sample_bits(SampleParams<uint8_t>{seed, out, B, m, k}, current_stream()));
  }

  static void sample_perms(const int64_t* seed, int64_t* out, int64_t B, int64_t m, int n) {
    const char* fn = "pyalgo.energy.sample_perms";
    check_grid(fn, (B * m + 127) / 128);
    check_launch(fn, launch_sample_perms(SampleParams<int64_t>{seed, out, B, m, n}, current_stream()));
  }

  static void sample_bits_proposal(const int64_t* seed, const double* a, uint32_t* scratch, uint8_t* out,
                                   double* log_w, int64_t B, int64_t m, int k) {
    const char* fn = "pyalgo.energy.sample_bits";
    check_grid(fn, B);
    const SampleProposalParams<uint8_t> p{seed, a, scratch, out, log_w, 0.0, B, m, k};
    check_launch(fn, launch_sample_bits_proposal(p, current_stream()));
  }

  static void sample_perms_proposal(const int64_t* seed, const double* s, double log_q, int64_t* out, double* log_w,
                                    int64_t B, int64_t m, int n) {
    const char* fn = "pyalgo.energy.sample_perms";
    check_grid(fn, (B * m + 127) / 128);
    const SampleProposalParams<int64_t> p{seed, s, nullptr, out, log_w, log_q, B, m, n};
    check_launch(fn, launch_sample_perms_proposal(p, current_stream()));
  }

  template <typename A>
  static void minmin_bits(const A* u, const A* U, const A* tau, const A* y, const double* proposal, uint32_t* scratch,
                          const int64_t* seed, A* loss, A* grad_u, A* grad_U, A* grad_tau, int64_t B, int k,
                          int64_t m, A alpha) {
    const char* fn = "pyalgo.energy.minmin_loss";
    check_grid(fn, B);
    const MinminBitsParams<A> p{u,        U,      tau,      y, proposal, scratch, seed, loss, grad_u,
                                grad_U,   grad_tau, B,      m, k,        alpha};
    check_launch(fn, launch_minmin_bits<A>(p, current_stream()));
  }

  template <typename A>
  static void minmin_perms(const A* theta, bool birkhoff, const A* tau, const int64_t* y, const double* proposal,
                           double log_q, const int64_t* seed, A* loss, A* grad_theta, A* grad_tau, int64_t B, int n,
                           int64_t m, A alpha) {
    const char* fn = "pyalgo.energy.minmin_loss_ranking";
    check_grid(fn, B);
    const MinminPermsParams<A> p{theta,    tau, y, proposal, log_q, seed, loss, grad_theta,
                                 grad_tau, B,   m, n,        birkhoff, alpha};
    check_launch(fn, launch_minmin_perms<A>(p, current_stream()));
  }
};

}  // namespace

PYALGO_CUDA_IMPL(m) { PYALGO_REGISTER_ENERGY_OPS(m, CudaLaunch); }

}  // namespace energy
}  // namespace pyalgo
