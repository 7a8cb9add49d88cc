// pyalgo/_cuda: the CUDA kernels and their glue (csrc/*/*_cuda.cpp, *.cu), a plain shared library
// that pyalgo/_ext.py loads with torch.ops.load_library only when torch is a CUDA build, so that
// on a CPU torch nothing CUDA is ever loaded. Its build record names the CUDA it was built with.
#include "build_info.h"

PYALGO_DEFINE_BUILD_INFO(pyalgo_cuda_build_info);
