// The energy kernels, built by the host compiler under the SIMT emulator.
#include "energy/energy_cuda.cu"
