// The one schema registry of pyalgo. Implementations register per dispatch key in
// <folder>/<op>_cpu.cpp and <folder>/<op>_cuda.cpp; Python adds fake kernels and autograd
// (pyalgo/_ext.py lets autograd fall through to the non-differentiable ops). Registered through
// torch's stable ABI (csrc/common/stable.h).
#include "common/stable.h"

// The tests' SIMT emulator builds this file again with PYALGO_LIBRARY=pyalgo_simt, so that the
// emulated CUDA glue registers against the same schemas (see csrc/common/cuda_utils.h).
#ifndef PYALGO_LIBRARY
#define PYALGO_LIBRARY pyalgo
#endif
#define PYALGO_TORCH_LIBRARY_(ns, m) STABLE_TORCH_LIBRARY(ns, m)

PYALGO_TORCH_LIBRARY_(PYALGO_LIBRARY, m) {
  // ---- random streams -------------------------------------------------------------------
  // out[r, c] = the uniform in (0, 1) every pyalgo kernel draws at (row r, column c, stream)
  // for this seed = (seed, offset); dtype float32 or float64.
  m.def("philox_uniform(Tensor seed, int rows, int cols, int stream, ScalarType dtype) -> Tensor");

  // ---- discrete gradient estimators (pyalgo/discrete) ------------------------------------
  // Forward ops return the sample (exactly one-hot along `dim`), and the int32 index that
  // backward needs; `seed` is an int64 tensor (seed, offset) on the logits' device.
  m.def("reinmax(Tensor logits, float tau, int dim, Tensor seed) -> (Tensor y_hard, Tensor y_soft, Tensor index)");
  m.def("reinmax_backward(Tensor logits, Tensor index, Tensor grad_hard, Tensor? grad_soft, float tau, int dim) -> Tensor");
  m.def("straight_through(Tensor logits, float tau, int dim, Tensor seed) -> (Tensor y_hard, Tensor index)");
  m.def("straight_through_backward(Tensor logits, Tensor grad, float tau, int dim) -> Tensor");
  m.def("gst(Tensor logits, float tau, float gap, bool gap_is_p, int dim, Tensor seed) -> (Tensor y_hard, Tensor index)");
  m.def("gst_backward(Tensor logits, Tensor index, Tensor grad, float tau, float gap, bool gap_is_p, int dim) -> Tensor");
  m.def("gumbel_rao(Tensor logits, float tau, int k, int dim, Tensor seed) -> (Tensor y_hard, Tensor index)");
  m.def("gumbel_rao_backward(Tensor logits, Tensor index, Tensor grad, float tau, int k, int dim, Tensor seed) -> Tensor");
  m.def("gumbel_softmax(Tensor logits, float tau, bool hard, int dim, Tensor seed) -> (Tensor y, Tensor index)");
  m.def("gumbel_softmax_backward(Tensor logits, Tensor grad, float tau, int dim, Tensor seed) -> Tensor");
  // ReinMax-Rao / ReinMax-CV (Wang & Bui 2026): ReinMax's outputs (y_hard, y_soft = softmax) and
  // index; the backward draws k conditional Gumbels per row from Philox streams 1..k of the
  // forward's seed (CV also regenerates the forward's Gumbels, stream 0). cv_gumbel: the "gumbel"
  // control-variate noise instead of the soft sample.
  m.def("reinmax_rao(Tensor logits, float tau, int k, int dim, Tensor seed) -> (Tensor y_hard, Tensor y_soft, Tensor index)");
  m.def("reinmax_rao_backward(Tensor logits, Tensor index, Tensor grad_hard, Tensor? grad_soft, float tau, int k, int dim, Tensor seed) -> Tensor");
  m.def("reinmax_cv(Tensor logits, float tau, float eta, float tau2, int k, bool cv_gumbel, int dim, Tensor seed) -> (Tensor y_hard, Tensor y_soft, Tensor index)");
  m.def("reinmax_cv_backward(Tensor logits, Tensor index, Tensor grad_hard, Tensor? grad_soft, float tau, float eta, float tau2, int k, bool cv_gumbel, int dim, Tensor seed) -> Tensor");

  // ---- wireless power control (pyalgo/wireless) -------------------------------------------
  // SISO: gains (B, K, K), H[b, i, j] = power gain from transmitter j to receiver i; p_max,
  // noise, weights, p_init (B, K). Returns p, u, w (B, K), iterations (B,) int32 and, when
  // `record`, the objective (B, max_iter + 1) and power trajectory (B, max_iter + 1, K)
  // (otherwise (B, 0) and (B, 0, K)).
  m.def("wmmse_siso(Tensor gains, Tensor p_max, Tensor noise, Tensor weights, Tensor p_init, int max_iter, float tol, bool record) -> (Tensor p, Tensor u, Tensor w, Tensor iterations, Tensor objective, Tensor trajectory)");
  // Per-user rates log2(1 + SINR) (B, K) and the interference I_k = sum_{j != k} g_kj p_j + noise_k
  // (B, K) they divide by; the backward takes that interference (no recomputation) and returns the
  // gradient (grad_gains is (0,) unless asked for).
  m.def("siso_rates(Tensor gains, Tensor p, Tensor noise) -> (Tensor rates, Tensor interference)");
  m.def("siso_rates_backward(Tensor gains, Tensor p, Tensor noise, Tensor interference, Tensor grad, bool gains_grad) -> (Tensor grad_gains, Tensor grad_p, Tensor grad_noise)");
  // MISO downlink: channels complex (B, K, N) (row i = user i's channel), p_max (B,), noise and
  // weights (B, K), v_init complex (B, K, N). Returns V, u (complex), w, iterations, objective,
  // trajectory (B, max_iter + 1, K, N) as above.
  m.def("wmmse_miso(Tensor channels, Tensor p_max, Tensor noise, Tensor weights, Tensor v_init, int max_iter, float tol, float bisection_tol, bool record) -> (Tensor v, Tensor u, Tensor w, Tensor iterations, Tensor objective, Tensor trajectory)");
  m.def("miso_rates(Tensor channels, Tensor v, Tensor noise) -> Tensor");
  m.def("miso_rates_backward(Tensor channels, Tensor v, Tensor noise, Tensor grad, bool channels_grad) -> (Tensor grad_channels, Tensor grad_v, Tensor grad_noise)");
  // ---- energy models (pyalgo/energy) -------------------------------------------------------
  // Uniform samples of the min-min loss's reference distribution, exactly as the fused losses
  // draw them for the same seed = (seed, offset): bits uint8 (B, m, k), permutations of
  // 0..n-1 int64 (B, m, n). The device is the seed's.
  m.def("energy_sample_bits(Tensor seed, int batch, int num_samples, int k) -> Tensor");
  m.def("energy_sample_perms(Tensor seed, int batch, int num_samples, int n) -> Tensor");
  // Proposal samples (float64 (B, k) Bernoulli logits / (B, n) Plackett–Luce scores) and their
  // log importance weights log q − log r, float64 (B, m), exactly as the losses draw them.
  m.def("energy_sample_bits_proposal(Tensor seed, Tensor proposal, int num_samples) -> (Tensor samples, Tensor log_weight)");
  m.def("energy_sample_perms_proposal(Tensor seed, Tensor proposal, int num_samples) -> (Tensor samples, Tensor log_weight)");
  // Min-min loss (B,) with uniform sampling fused in; alpha = 1 logistic, 2 sparsemax, > 1
  // entmax. With compute_grad the gradients come from the same pass (else they are (0,)).
  // proposal (float64, optional): sample from it and weight each sample term by q/r.
  m.def("minmin_bits(Tensor unary, Tensor? pairwise, Tensor tau, Tensor y, int num_samples, float alpha, bool compute_grad, Tensor seed, Tensor? proposal=None) -> (Tensor loss, Tensor grad_unary, Tensor grad_pairwise, Tensor grad_tau)");
  m.def("minmin_perms(Tensor theta, Tensor tau, Tensor y, int num_samples, float alpha, bool compute_grad, Tensor seed, Tensor? proposal=None) -> (Tensor loss, Tensor grad_theta, Tensor grad_tau)");

  // ---- multi-task weighting (pyalgo/multitask) --------------------------------------------
  // Host-only (CPU float64 vectors of the M task values; see csrc/multitask/go4align.h).
  // Exact 1-D K-means labels (M,) int64, numbered by increasing centre.
  m.def("kmeans_1d(Tensor values, int num_clusters) -> Tensor");
  // One GO4Align step on the M losses: weights, groups, indicators γ, P, q and the updated log q
  // (log_q itself is not modified). sum_scale = the official code's Eq. 5 variant.
  m.def("go4align_weights(Tensor losses, Tensor log_q, int num_groups, float beta, bool sum_scale, float offset, float eps) -> (Tensor weights, Tensor groups, Tensor indicators, Tensor P, Tensor q, Tensor log_q_new)");
}
