// The one schema registry of pyalgo. Implementations register per dispatch key in
// <folder>/<op>_cpu.cpp and <folder>/<op>_cuda.cpp; Python adds fake kernels and autograd.
#include <torch/library.h>

TORCH_LIBRARY(pyalgo, m) {
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
}
