// SIMT emulator: builds pyalgo's own CUDA sources (csrc/*/*.cu) with the host compiler and runs
// their kernels on the CPU, one real thread per CUDA thread. Test-only: it lives under tests/ and
// never enters the wheel. Included through the stand-in CUDA headers of tests/simt/include.
//
// What is faithful:
//   - every thread of a block is a std::thread; blocks of a grid run one after another;
//   - __syncthreads is a barrier of the block's live threads (a thread that returned no longer
//     counts, as on sm_70+); __syncwarp(mask) and the __shfl_*_sync / __ballot_sync / __any_sync /
//     __all_sync family are barriers of exactly the lanes named in `mask`, so a missing barrier
//     shows up as a data race (under ThreadSanitizer) or a wrong result, not as lockstep luck;
//   - undefined warp use is an error, not a silent value: a lane whose own bit is not in `mask`,
//     a mask naming a lane that does not exist or has returned, a shuffle reading a lane outside
//     `mask`, lanes of one mask calling different collectives (or widths), and deadlock (every
//     live thread of the block waiting) all stop the launch with cudaErrorLaunchFailure and a
//     message (simt::last_message());
//   - launch configuration is checked as the driver does (empty grid, > 1024 threads per block,
//     > 48 KiB of dynamic shared memory, grid limits); dynamic shared memory starts every block
//     filled with 0xFF bytes (NaN for floats), so reading it before writing it shows.
// What is not: timing, memory coalescing, the size of static __shared__ arrays (not counted
// against the 48 KiB), and fused multiply-add (build with -ffp-contract=off and compare within a
// stated bound where nvcc would fuse).
#pragma once
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#define PYALGO_SIMT_EMULATOR 1

// ---- the CUDA vocabulary the kernels use ------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static  // one block at a time: a static is exactly one block's shared array
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

using cudaError_t = int;
enum : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};
struct CUstream_st;
using cudaStream_t = CUstream_st*;

constexpr int warpSize = 32;

using std::max;
using std::min;

namespace simt {

inline thread_local dim3 t_threadIdx, t_blockIdx, t_blockDim, t_gridDim;

}  // namespace simt

#define threadIdx (::simt::t_threadIdx)
#define blockIdx (::simt::t_blockIdx)
#define blockDim (::simt::t_blockDim)
#define gridDim (::simt::t_gridDim)

namespace simt {

// Thrown inside kernel threads to unwind them once the launch has failed.
struct Abort {};

// Where the first error of the current launch is recorded; the launch returns it.
struct LaunchState {
  std::mutex m;
  bool failed = false;
  std::string message;
  void fail(const std::string& what) {
    std::lock_guard<std::mutex> lk(m);
    if (!failed) {
      failed = true;
      message = what;
    }
  }
};

inline std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
inline std::map<std::string, long>& launch_counts() {
  static std::map<std::string, long> counts;
  return counts;
}
inline std::string& last_message_ref() {
  static std::string message;
  return message;
}
inline thread_local cudaError_t t_last_error = cudaSuccess;

// The message of the last failed launch ("" if none).
inline std::string last_message() {
  std::lock_guard<std::mutex> lk(registry_mutex());
  return last_message_ref();
}

// How often each kernel (by name, template arguments dropped) has been launched.
inline std::map<std::string, long> counts() {
  std::lock_guard<std::mutex> lk(registry_mutex());
  return launch_counts();
}

// ThreadSanitizer must see exactly CUDA's ordering, not the emulator's: the bookkeeping below runs
// under one block-wide mutex, which TSan would otherwise take as ordering every thread of the block
// after every other at each warp shuffle (hiding races between warps). So the bookkeeping is
// invisible to TSan (Quiet), and each barrier is modelled explicitly: a participant releases the
// barrier's clock for this phase before arriving and acquires it after leaving, so only the
// participants of one phase are ordered. Blocks of a grid are ordered (they run one after another),
// so races between blocks are not detected.
#if defined(__SANITIZE_THREAD__)
extern "C" {
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
void AnnotateIgnoreSyncBegin(const char* file, int line);
void AnnotateIgnoreSyncEnd(const char* file, int line);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
}
struct Quiet {
  Quiet() {
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
    AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
  }
  ~Quiet() {
    AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
};
inline void tsan_release(void* addr) { __tsan_release(addr); }
inline void tsan_acquire(void* addr) { __tsan_acquire(addr); }
#else
struct Quiet {};
inline void tsan_release(void*) {}
inline void tsan_acquire(void*) {}
#endif

// A barrier of `expected` threads under the block's mutex; `waiting` threads are parked on cv.
struct Group {
  int expected = 0, arrived = 0;
  uint64_t phase = 0;
  char clock[2] = {};  // TSan sync objects of even and odd phases
  std::condition_variable cv;
  // Warp collectives only: the operation of the current phase and the lanes' operands
  // (double-buffered by phase parity: a lane can only overwrite a buffer once every lane has
  // read it, because it must first pass the next phase, which needs everyone).
  std::string op;
  uint64_t values[2][32] = {};
};

// One block's synchronisation state. All barriers of a block share one mutex, which makes
// deadlock detection exact: the block deadlocks when every live thread waits. (TSan does not see
// this mutex; see Quiet.)
class Block {
 public:
  Block(int threads, LaunchState* launch) : live_(threads), threads_(threads), launch_(launch) {
    sync_.expected = threads;
    exited_.assign(threads, false);
  }

  void syncthreads(int tid) {
    uint64_t phase;
    {
      [[maybe_unused]] Quiet q;
      std::unique_lock<std::mutex> lk(m_);
      phase = sync_.phase;  // cannot move before this thread arrives
    }
    tsan_release(&sync_.clock[phase & 1]);
    {
      [[maybe_unused]] Quiet q;
      std::unique_lock<std::mutex> lk(m_);
      wait(lk, sync_, tid, "__syncthreads");
    }
    tsan_acquire(&sync_.clock[phase & 1]);
  }

  // A warp collective of the lanes in `mask`; returns every participating lane's operand.
  // `op` names the call (and width) so that lanes of one mask must agree on it.
  void warp_collective(int tid, unsigned mask, const std::string& op, uint64_t value, uint64_t* all_out) {
    const int warp = tid / 32, lane = tid % 32;
    const int lanes_in_warp = std::min(32, threads_ - warp * 32);
    Group* gp;
    uint64_t phase;
    {
      [[maybe_unused]] Quiet q;
      std::unique_lock<std::mutex> lk(m_);
      check_mask(lk, tid, mask, op);
      gp = &warp_group(warp, mask);  // groups live as long as the block
      phase = gp->phase;
    }
    Group& g = *gp;
    tsan_release(&g.clock[phase & 1]);
    {
      [[maybe_unused]] Quiet q;
      std::unique_lock<std::mutex> lk(m_);
      if (g.arrived == 0) {
        g.op = op;
      } else if (g.op != op) {
        fail_locked(lk, "block " + block_name() + " warp " + std::to_string(warp) + " mask " + hex(mask) + ": lane " +
                            std::to_string(lane) + " calls " + op + " while other lanes of the mask call " + g.op);
      }
      const int buf = static_cast<int>(phase & 1);
      g.values[buf][lane] = value;
      wait(lk, g, tid, op.c_str());
      for (int l = 0; l < lanes_in_warp; ++l) all_out[l] = g.values[buf][l];
    }
    tsan_acquire(&g.clock[phase & 1]);
  }

  // The thread returned from the kernel: it leaves __syncthreads and must not be named in a
  // warp mask any more.
  void exit(int tid) {
    [[maybe_unused]] Quiet q;
    std::unique_lock<std::mutex> lk(m_);
    exited_[tid] = true;
    --live_;
    --sync_.expected;
    if (sync_.arrived > 0 && sync_.arrived == sync_.expected) release(sync_);
    for (auto& entry : warps_) {
      Group& g = *entry.second;
      const int warp = static_cast<int>(entry.first >> 32);
      const unsigned mask = static_cast<unsigned>(entry.first);
      if (warp == tid / 32 && (mask >> (tid % 32) & 1u) && g.arrived > 0)
        fail_locked(lk, "block " + block_name() + ": thread " + std::to_string(tid) + " returned while lanes of mask " +
                              hex(mask) + " wait for it in " + g.op);
    }
    check_deadlock(lk);
  }

  // A kernel thread failed outside a barrier (e.g. a shuffle read a lane outside its mask).
  void abort(const std::string& what) {
    [[maybe_unused]] Quiet q;
    std::unique_lock<std::mutex> lk(m_);
    abort_locked(what);
  }

  std::string block_name() const {
    return "(" + std::to_string(t_blockIdx.x) + "," + std::to_string(t_blockIdx.y) + "," + std::to_string(t_blockIdx.z) +
           ")";
  }

 private:
  static std::string hex(unsigned v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
  }

  Group& warp_group(int warp, unsigned mask) {
    const uint64_t key = (static_cast<uint64_t>(warp) << 32) | mask;
    auto it = warps_.find(key);
    if (it == warps_.end()) {
      it = warps_.emplace(key, std::make_unique<Group>()).first;
      int n = 0;
      for (unsigned v = mask; v; v &= v - 1) ++n;
      it->second->expected = n;
    }
    return *it->second;
  }

  void check_mask(std::unique_lock<std::mutex>& lk, int tid, unsigned mask, const std::string& op) {
    const int warp = tid / 32, lane = tid % 32;
    const std::string where = "block " + block_name() + " thread " + std::to_string(tid) + ": " + op + " with mask " + hex(mask);
    if (!(mask >> lane & 1u)) fail_locked(lk, where + " that does not name the calling lane " + std::to_string(lane));
    const int lanes_in_warp = std::min(32, threads_ - warp * 32);
    if (lanes_in_warp < 32 && (mask >> lanes_in_warp) != 0u)
      fail_locked(lk, where + " names lanes beyond the block's last thread");
    for (int l = 0; l < lanes_in_warp; ++l)
      if ((mask >> l & 1u) && exited_[warp * 32 + l])
        fail_locked(lk, where + " names lane " + std::to_string(l) + ", which has returned");
  }

  void release(Group& g) {
    g.arrived = 0;
    ++g.phase;
    blocked_ -= g.expected;  // every arrival was counted as blocked
    g.cv.notify_all();
  }

  // Arrive at g and wait for its phase to complete (or the launch to fail).
  void wait(std::unique_lock<std::mutex>& lk, Group& g, int tid, const char* what) {
    (void)tid;
    (void)what;
    if (aborted_) throw Abort{};
    const uint64_t phase = g.phase;
    ++blocked_;
    if (++g.arrived == g.expected) {
      release(g);
      return;
    }
    check_deadlock(lk);
    g.cv.wait(lk, [&] { return g.phase != phase || aborted_; });
    if (g.phase == phase) throw Abort{};  // woken by a failure
  }

  void check_deadlock(std::unique_lock<std::mutex>& lk) {
    if (live_ > 0 && blocked_ == live_) {
      std::string waits;
      if (sync_.arrived > 0) waits += " __syncthreads (" + std::to_string(sync_.arrived) + " arrived)";
      for (auto& entry : warps_)
        if (entry.second->arrived > 0)
          waits += " " + entry.second->op + " warp " + std::to_string(entry.first >> 32) + " mask " +
                   hex(static_cast<unsigned>(entry.first)) + " (" + std::to_string(entry.second->arrived) + " of " +
                   std::to_string(entry.second->expected) + " arrived)";
      fail_locked(lk, "block " + block_name() + ": deadlock, every live thread waits:" + waits);
    }
  }

  [[noreturn]] void fail_locked(std::unique_lock<std::mutex>&, const std::string& what) {
    abort_locked(what);
    throw Abort{};
  }

  void abort_locked(const std::string& what) {
    launch_->fail(what);
    aborted_ = true;
    sync_.cv.notify_all();
    for (auto& entry : warps_) entry.second->cv.notify_all();
  }

  std::mutex m_;
  int live_, threads_, blocked_ = 0;
  bool aborted_ = false;
  Group sync_;
  std::vector<bool> exited_;
  std::map<uint64_t, std::unique_ptr<Group>> warps_;
  LaunchState* launch_;
};

inline thread_local Block* t_block = nullptr;
inline thread_local unsigned char* t_dynamic_shared = nullptr;

inline int linear_tid() {
  return static_cast<int>(t_threadIdx.x + t_blockDim.x * (t_threadIdx.y + t_blockDim.y * t_threadIdx.z));
}

template <typename T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(t_dynamic_shared);
}

constexpr size_t kMaxDynamicShared = 48 * 1024;

template <typename T>
uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "warp operands are at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}

// Shuffle: the operand of logical lane `src` of this lane's width-segment; a source outside the
// segment returns the caller's own value (as CUDA defines it); a source outside `mask` is an error.
template <typename T>
T shuffle(unsigned mask, T var, int width, const char* name, int (*source)(int logical, int arg, int width), int arg) {
  const int tid = linear_tid(), lane = tid % 32;
  if (width < 1 || width > 32 || (width & (width - 1)))
    throw std::logic_error(std::string(name) + ": width must be a power of two in [1, 32]");
  uint64_t all[32];
  t_block->warp_collective(tid, mask, std::string(name) + "(width=" + std::to_string(width) + ")", to_bits(var), all);
  const int base = lane / width * width, logical = lane % width;
  const int src = source(logical, arg, width);
  if (src < 0 || src >= width) return var;
  const int src_lane = base + src;
  if (!(mask >> src_lane & 1u)) {
    // Undefined on the GPU: the source lane is not part of the exchange.
    throw std::logic_error("simt: " + std::string(name) + " on lane " + std::to_string(lane) + " reads lane " +
                           std::to_string(src_lane) + ", which is not in the mask");
  }
  return from_bits<T>(all[src_lane]);
}

struct Launch {
  const char* name;
  dim3 grid, block;
  size_t shared_bytes;

  // Runs kernel(args...) for every thread of every block; returns the launch's error code.
  template <typename... P>
  cudaError_t run(void (*kernel)(P...), P... args) const {
    std::string base(name);
    base = base.substr(0, base.find('<'));
    base.erase(0, base.find_first_not_of(" "));
    {
      std::lock_guard<std::mutex> lk(registry_mutex());
      ++launch_counts()[base];
    }
    const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
    const char* bad = nullptr;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) bad = "empty grid";
    else if (threads == 0 || threads > 1024 || block.z > 64) bad = "block size";
    else if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) bad = "grid too large";
    if (bad) return record(cudaErrorInvalidConfiguration, base + ": invalid launch configuration (" + bad + ")");
    if (shared_bytes > kMaxDynamicShared)
      return record(cudaErrorInvalidValue, base + ": " + std::to_string(shared_bytes) +
                                               " bytes of dynamic shared memory exceed the 48 KiB default limit");
    const int n = static_cast<int>(threads);
    std::vector<std::max_align_t> shared((shared_bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t) + 1);
    LaunchState state;
    for (unsigned bz = 0; bz < grid.z && !state.failed; ++bz)
      for (unsigned by = 0; by < grid.y && !state.failed; ++by)
        for (unsigned bx = 0; bx < grid.x && !state.failed; ++bx) {
          std::memset(shared.data(), 0xFF, shared.size() * sizeof(std::max_align_t));
          Block blk(n, &state);
          std::vector<std::thread> pool;
          pool.reserve(n);
          for (int t = 0; t < n; ++t)
            pool.emplace_back([&, t] {
              t_blockIdx = dim3(bx, by, bz);
              t_gridDim = grid;
              t_blockDim = block;
              t_threadIdx = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
              t_block = &blk;
              t_dynamic_shared = reinterpret_cast<unsigned char*>(shared.data());
              try {
                kernel(args...);
                blk.exit(t);
              } catch (const Abort&) {
              } catch (const std::exception& e) {
                blk.abort("block " + blk.block_name() + " thread " + std::to_string(t) + ": " + e.what());
              }
              t_block = nullptr;
            });
          for (auto& th : pool) th.join();
        }
    if (state.failed) return record(cudaErrorLaunchFailure, base + ": " + state.message);
    return cudaSuccess;
  }

  static cudaError_t record(cudaError_t err, const std::string& message) {
    std::lock_guard<std::mutex> lk(registry_mutex());
    last_message_ref() = message;
    t_last_error = err;
    return err;
  }
};

// PYALGO_LAUNCH(grid, block, shared, stream, kernel)(args...) under the emulator.
template <typename... P>
struct Launcher {
  Launch launch;
  void (*kernel)(P...);
  void operator()(P... args) const {
    const cudaError_t err = launch.run(kernel, args...);
    if (err != cudaSuccess) t_last_error = err;
  }
};

template <typename... P>
Launcher<P...> launch(const char* name, dim3 grid, dim3 block, size_t shared, cudaStream_t, void (*kernel)(P...)) {
  return Launcher<P...>{Launch{name, grid, block, shared}, kernel};
}

inline int shfl_xor_source(int logical, int lane_mask, int) { return logical ^ lane_mask; }
inline int shfl_idx_source(int, int src, int width) { return src % width; }
inline int shfl_down_source(int logical, int delta, int) { return logical + delta; }
inline int shfl_up_source(int logical, int delta, int) { return logical - delta; }

}  // namespace simt

// ---- device functions --------------------------------------------------------------------------
inline void __syncthreads() { ::simt::t_block->syncthreads(::simt::linear_tid()); }

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  uint64_t all[32];
  ::simt::t_block->warp_collective(::simt::linear_tid(), mask, "__syncwarp", 0, all);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return ::simt::shuffle(mask, var, width, "__shfl_xor_sync", ::simt::shfl_xor_source, lane_mask);
}
template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return ::simt::shuffle(mask, var, width, "__shfl_sync", ::simt::shfl_idx_source, src_lane);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::simt::shuffle(mask, var, width, "__shfl_down_sync", ::simt::shfl_down_source, static_cast<int>(delta));
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return ::simt::shuffle(mask, var, width, "__shfl_up_sync", ::simt::shfl_up_source, static_cast<int>(delta));
}

namespace simt {
inline unsigned vote(unsigned mask, int predicate, const char* name) {
  uint64_t all[32];
  t_block->warp_collective(linear_tid(), mask, name, predicate != 0, all);
  unsigned ballot = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && all[l]) ballot |= 1u << l;
  return ballot;
}
}  // namespace simt

inline unsigned __ballot_sync(unsigned mask, int predicate) { return ::simt::vote(mask, predicate, "__ballot_sync"); }
inline int __any_sync(unsigned mask, int predicate) { return ::simt::vote(mask, predicate, "__any_sync") != 0u; }
inline int __all_sync(unsigned mask, int predicate) { return ::simt::vote(mask, predicate, "__all_sync") == mask; }

// atomicAdd through the compiler's atomics (seen by ThreadSanitizer); returns the old value.
template <typename T>
T atomicAdd(T* address, T val) {
  if constexpr (std::is_integral<T>::value) {
    return __atomic_fetch_add(address, val, __ATOMIC_RELAXED);
  } else {
    T old, desired;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    do {
      desired = old + val;
    } while (!__atomic_compare_exchange(address, &old, &desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return old;
  }
}

template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline int __ffs(unsigned x) { return x == 0 ? 0 : __builtin_ctz(x) + 1; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }

inline cudaError_t cudaGetLastError() {
  const cudaError_t err = ::simt::t_last_error;
  ::simt::t_last_error = cudaSuccess;
  return err;
}
inline cudaError_t cudaPeekAtLastError() { return ::simt::t_last_error; }
inline const char* cudaGetErrorString(cudaError_t err) {
  switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    default: return "unknown error";
  }
}
