// The torch side of every CUDA launch, shared by the *_cuda.cpp glue files: the current stream,
// the launch check, and where the glue registers. The tests' SIMT emulator (tests/simt) builds
// the same glue files with PYALGO_SIMT defined: they then register for CPU tensors under
// torch.ops.pyalgo_simt and run the .cu kernels on the CPU, one thread per CUDA thread.
#pragma once
#include <cuda_runtime_api.h>

#include <string>

#include "stable.h"

#if defined(PYALGO_SIMT)
#ifndef PYALGO_SIMT_LIBRARY
#define PYALGO_SIMT_LIBRARY pyalgo_simt
#endif
#define PYALGO_CUDA_LIBRARY PYALGO_SIMT_LIBRARY
#define PYALGO_CUDA_KEY CPU
#else
#define PYALGO_CUDA_LIBRARY pyalgo
#define PYALGO_CUDA_KEY CUDA
// The AOTI shim's current CUDA stream (libtorch_cuda; part of the stable C ABI since torch 2.x,
// declared in aoti_torch/c/shim.h only when USE_CUDA is defined).
extern "C" int32_t aoti_torch_get_current_cuda_stream(int32_t device_index, void** ret_stream);
#endif
#define PYALGO_CUDA_IMPL_(ns, key, m) STABLE_TORCH_LIBRARY_IMPL(ns, key, m)
// PYALGO_CUDA_IMPL(m) { ... }: registers the CUDA implementations of a family.
#define PYALGO_CUDA_IMPL(m) PYALGO_CUDA_IMPL_(PYALGO_CUDA_LIBRARY, PYALGO_CUDA_KEY, m)

namespace pyalgo {

// The device the kernels run on (the op's DeviceGuard made it current).
inline Device kernel_device() {
#if defined(PYALGO_SIMT)
  return Device(DeviceType::CPU);
#else
  return Device(DeviceType::CUDA, torch::stable::accelerator::getCurrentDeviceIndex());
#endif
}

inline cudaStream_t current_stream() {
#if defined(PYALGO_SIMT)
  return nullptr;
#else
  void* stream = nullptr;
  const int32_t err = aoti_torch_get_current_cuda_stream(kernel_device().index(), &stream);
  PYALGO_CHECK(err == 0, "pyalgo: could not get the current CUDA stream from torch");
  return static_cast<cudaStream_t>(stream);
#endif
}

// Raises, naming the public function, if the launch just made failed.
inline void check_launch(const char* fn, cudaError_t err) {
  std::string detail;
#if defined(PYALGO_SIMT)
  if (err != cudaSuccess) detail = " (" + ::simt::last_message() + ")";
#endif
  PYALGO_CHECK(err == cudaSuccess, fn, ": CUDA kernel launch failed: ", cudaGetErrorString(err), detail);
}

// A grid of `blocks` blocks must fit gridDim.x.
inline void check_grid(const char* fn, int64_t blocks, const char* what) {
  PYALGO_CHECK(blocks <= 0x7fffffff, fn, ": on CUDA the ", what, " must be below 2^31, got ", blocks);
}

}  // namespace pyalgo
