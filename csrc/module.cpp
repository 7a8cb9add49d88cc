// pyalgo._C: loading this module registers every op's schema and CPU kernel (csrc/ops.cpp and
// the *_cpu.cpp files) through torch's stable ABI. The module itself uses only Python's limited
// API (abi3, Python >= 3.10), so one file serves every Python version; it reports how it was built.
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030A0000  // setup.py defines it too
#endif
#include <Python.h>

#include "build_info.h"

PYALGO_DEFINE_BUILD_INFO(pyalgo_build_info);

namespace {

// Which clone of the CPU kernels the loader picked (PYALGO_CPU_CLONES in common/hd.h).
const char* cpu_kernels() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "x86-64-v3 (AVX2+FMA)"
                                                                         : "x86-64 baseline";
#else
  return "generic";
#endif
}

PyObject* py_cpu_kernels(PyObject*, PyObject*) { return PyUnicode_FromString(cpu_kernels()); }
PyObject* py_build_info(PyObject*, PyObject*) {
  return PyUnicode_FromString(PYALGO_BUILD_INFO_JSON);
}

PyMethodDef methods[] = {
    {"cpu_kernels", py_cpu_kernels, METH_NOARGS, "Which clone of the CPU kernels this CPU runs."},
    {"build_info", py_build_info, METH_NOARGS, "The build record (JSON): version, torch, stable ABI, CUDA."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C",
                          "pyalgo compiled kernels (ops are registered under torch.ops.pyalgo)", -1, methods,
                          nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__C(void) { return PyModule_Create(&module_def); }
