// A "team" is the group of threads that works on one problem instance. Kernel bodies written
// against it run unchanged on the CPU (SerialTeam: one thread does every lane) and on the GPU
// (a warp segment or a block, defined in the .cu files), which is how one body serves both
// launchers when an instance is too big for a single thread.
//
// The interface a body may use:
//   t.lane(), t.size()   lanes split per-user loops: for (k = t.lane(); k < K; k += t.size())
//   t.sync()             every lane's writes to team-shared memory are visible to all lanes
//   t.sum(x)             the sum of x over the lanes, identical (bitwise) on every lane
//   col_sums(t, ...)     a matrix-vector product with the transpose (see below)
#pragma once
#include "hd.h"

namespace pyalgo {

struct SerialTeam {
  PYALGO_HD int lane() const { return 0; }
  PYALGO_HD int size() const { return 1; }
  PYALGO_HD void sync() const {}
  template <typename A>
  PYALGO_HD A sum(A x) const { return x; }
};

// out[k] = sum_j m[j * ld + k] * x[j] for k < n, summed in the order j = 0, 1, ... . Each lane
// writes only its own out[k]. The serial version runs j in the outer loop so that the inner
// loop reads rows of m contiguously and vectorises.
template <typename A, typename Team>
PYALGO_HD void col_sums(const Team& t, const A* m, int64_t ld, int n, const A* x, A* out) {
  for (int k = t.lane(); k < n; k += t.size()) {
    A acc = 0;
    for (int j = 0; j < n; ++j) acc += m[j * ld + k] * x[j];
    out[k] = acc;
  }
}

template <typename A>
PYALGO_HD void col_sums(const SerialTeam&, const A* m, int64_t ld, int n, const A* x, A* out) {
  PYALGO_SIMD
  for (int k = 0; k < n; ++k) out[k] = m[k] * x[0];
  for (int j = 1; j < n; ++j) {
    const A* row = m + j * ld;
    const A xj = x[j];
    PYALGO_SIMD
    for (int k = 0; k < n; ++k) out[k] += row[k] * xj;
  }
}

}  // namespace pyalgo
