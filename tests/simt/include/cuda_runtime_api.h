// Stand-in for the CUDA runtime header under the SIMT emulator (tests/simt/simt.h).
#pragma once
#include "../simt.h"
