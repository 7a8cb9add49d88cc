// How the .cu files launch kernels and declare dynamic shared memory, spelled once so that the
// same files also build under the SIMT emulator of the tests (tests/simt, PYALGO_SIMT), which
// runs every kernel on the CPU with one real thread per CUDA thread. No torch headers.
//   PYALGO_LAUNCH(grid, block, shared_bytes, stream, kernel<...>)(args...);
//   PYALGO_DYNAMIC_SHARED(type, name);   // `type* name`, the block's dynamic shared memory
#pragma once
#include <cuda_runtime_api.h>

#if defined(PYALGO_SIMT)
#define PYALGO_LAUNCH(grid, block, shared, stream, ...) \
  ::simt::launch(#__VA_ARGS__, grid, block, shared, stream, __VA_ARGS__)
#define PYALGO_DYNAMIC_SHARED(type, name) type* const name = ::simt::dynamic_shared<type>()
#else
#define PYALGO_LAUNCH(grid, block, shared, stream, ...) __VA_ARGS__<<<grid, block, shared, stream>>>
#define PYALGO_DYNAMIC_SHARED(type, name) \
  extern __shared__ __align__(16) unsigned char name##_bytes[]; \
  type* const name = reinterpret_cast<type*>(name##_bytes)
#endif
