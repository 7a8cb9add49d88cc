// Ops of the emulated library itself: how often each kernel was launched (so a test can prove
// that every __global__ kernel of every .cu file ran).
#include <torch/library.h>

#include "simt.h"

#define PYALGO_SIMT_FRAGMENT_(ns, m) TORCH_LIBRARY_FRAGMENT(ns, m)

PYALGO_SIMT_FRAGMENT_(PYALGO_SIMT_LIBRARY, m) {
  m.def("simt_launch_count(str name) -> int", [](std::string name) -> int64_t {
    const auto counts = ::simt::counts();
    const auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  });
  m.def("simt_kernels() -> str[]", []() -> std::vector<std::string> {
    std::vector<std::string> names;
    for (const auto& entry : ::simt::counts()) names.push_back(entry.first);
    return names;
  });
}
