// The discrete kernels, built by the host compiler under the SIMT emulator.
#include "discrete/estimators_cuda.cu"
