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

// Which clone of the CPU kernels the loader picked (see estimators_cpu.cpp).
std::string cpu_kernels() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "x86-64-v3 (AVX2+FMA)" : "x86-64 baseline";
#else
  return "generic";
#endif
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "pyalgo compiled kernels (ops are registered under torch.ops.pyalgo)";
  m.def("version", [] { return std::string(PYALGO_VERSION); });
  m.def("compiled_with_cuda", &compiled_with_cuda);
  m.def("cuda_archs", [] { return std::string(PYALGO_CUDA_ARCHS); });
  m.def("cpu_kernels", &cpu_kernels);
  m.def("torch_version", [] { return std::string(TORCH_VERSION); });
}
