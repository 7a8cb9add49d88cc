// The torch side of every CUDA launch, shared by the *_cuda.cpp glue files: the current stream,
// the launch check, and where the glue registers. The tests' SIMT emulator (tests/simt) builds
// the same glue files with PYALGO_SIMT defined: they then register for CPU tensors under
// torch.ops.pyalgo_simt and run the .cu kernels on the CPU, one thread per CUDA thread.
#pragma once
#include <ATen/ATen.h>
#include <cuda_runtime_api.h>
#include <torch/library.h>

#include <string>

#if !defined(PYALGO_SIMT)
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#endif

#if defined(PYALGO_SIMT)
#ifndef PYALGO_SIMT_LIBRARY
#define PYALGO_SIMT_LIBRARY pyalgo_simt
#endif
#define PYALGO_CUDA_LIBRARY PYALGO_SIMT_LIBRARY
#define PYALGO_CUDA_KEY CPU
#else
#define PYALGO_CUDA_LIBRARY pyalgo
#define PYALGO_CUDA_KEY CUDA
#endif
#define PYALGO_CUDA_IMPL_(ns, key, m) TORCH_LIBRARY_IMPL(ns, key, m)
// PYALGO_CUDA_IMPL(m) { ... }: registers the CUDA implementations of a family.
#define PYALGO_CUDA_IMPL(m) PYALGO_CUDA_IMPL_(PYALGO_CUDA_LIBRARY, PYALGO_CUDA_KEY, m)

namespace pyalgo {

inline cudaStream_t current_stream() {
#if defined(PYALGO_SIMT)
  return nullptr;
#else
  return c10::cuda::getCurrentCUDAStream().stream();
#endif
}

// The device the kernels run on (a scratch tensor's device).
inline at::Device kernel_device() {
#if defined(PYALGO_SIMT)
  return at::Device(at::kCPU);
#else
  return at::Device(at::kCUDA, c10::cuda::current_device());
#endif
}

// Raises, naming the public function, if the launch just made failed.
inline void check_launch(const char* fn, cudaError_t err) {
  std::string detail;
#if defined(PYALGO_SIMT)
  if (err != cudaSuccess) detail = " (" + ::simt::last_message() + ")";
#endif
  TORCH_CHECK(err == cudaSuccess, fn, ": CUDA kernel launch failed: ", cudaGetErrorString(err), detail);
}

// A grid of `blocks` blocks must fit gridDim.x.
inline void check_grid(const char* fn, int64_t blocks, const char* what) {
  TORCH_CHECK(blocks <= 0x7fffffff, fn, ": on CUDA the ", what, " must be below 2^31, got ", blocks);
}

}  // namespace pyalgo
