// The wireless kernels, built by the host compiler under the SIMT emulator.
#include "wireless/wireless_cuda.cu"
