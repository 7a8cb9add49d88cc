// The build record of a pyalgo library (pyalgo/_C and pyalgo/_cuda): one NUL-terminated string
// "PYALGO_BUILD_INFO{json}" in the file, which pyalgo/_ext.py reads from the file's bytes BEFORE
// loading it, to refuse a torch or CUDA it was not built for with a one-line message instead of
// a loader error. setup.py passes the fields as -D definitions.
#pragma once

#ifndef PYALGO_VERSION
#define PYALGO_VERSION "unknown"
#endif
#ifndef PYALGO_TORCH_VERSION
#define PYALGO_TORCH_VERSION "unknown"
#endif
#ifndef PYALGO_STABLE_ABI
#define PYALGO_STABLE_ABI "unknown"
#endif
#ifndef PYALGO_CUDA_VERSION
#define PYALGO_CUDA_VERSION ""
#endif
#ifndef PYALGO_CUDA_ARCHS
#define PYALGO_CUDA_ARCHS ""
#endif

#define PYALGO_BUILD_INFO_JSON                                                                 \
  "{\"version\": \"" PYALGO_VERSION "\", \"torch\": \"" PYALGO_TORCH_VERSION                  \
  "\", \"stable_abi\": \"" PYALGO_STABLE_ABI "\", \"cuda\": \"" PYALGO_CUDA_VERSION            \
  "\", \"cuda_archs\": \"" PYALGO_CUDA_ARCHS "\"}"

#define PYALGO_DEFINE_BUILD_INFO(symbol) \
  extern "C" __attribute__((used, visibility("default"))) const char symbol[] = "PYALGO_BUILD_INFO" PYALGO_BUILD_INFO_JSON
