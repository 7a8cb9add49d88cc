// pyalgo._C: loading this module registers every op (csrc/ops.cpp and the per-backend
// implementations); the Python functions here only report how the extension was built.
#include <torch/extension.h>

#ifndef PYALGO_VERSION
#define PYALGO_VERSION "unknown"
#endif
#ifndef PYALGO_CUDA_ARCHS
#define PYALGO_CUDA_ARCHS ""
#endif

namespace {

bool compiled_with_cuda() {
#ifdef PYALGO_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyalgo compiled kernels (ops are registered under torch.ops.pyalgo)";
  m.def("version", [] { return std::string(PYALGO_VERSION); });
  m.def("compiled_with_cuda", &compiled_with_cuda);
  m.def("cuda_archs", [] { return std::string(PYALGO_CUDA_ARCHS); });
  m.def("torch_version", [] { return std::string(TORCH_VERSION); });
}
