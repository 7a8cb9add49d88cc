// Counter-based RNG (Philox4x32-10, Salmon et al., SC'11), usable on host and device.
// Every random number pyalgo draws is a pure function of (seed, offset, row, column, stream):
// no state is carried between threads, so results do not depend on the thread count, the
// launch configuration or the device.
#pragma once
#include "hd.h"

namespace pyalgo {

struct Philox4 {
  uint32_t x, y, z, w;
};

PYALGO_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  const uint64_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  uint32_t x = ctr.x, y = ctr.y, z = ctr.z, w = ctr.w;
  // Plain scalars and a fully unrolled loop.
#if defined(__CUDA_ARCH__)
#pragma unroll
#elif defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC unroll 10
#endif
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = M0 * x, p1 = M1 * z;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    x = hi1 ^ y ^ k0;
    y = lo1;
    z = hi0 ^ w ^ k1;
    w = lo0;
    k0 += W0;
    k1 += W1;
  }
  return Philox4{x, y, z, w};
}

PYALGO_HD uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The Philox key of one op call: a hash of (seed, offset), so calls with different offsets
// draw unrelated streams.
struct PhiloxKey {
  uint32_t k0, k1;
};

PYALGO_HD PhiloxKey philox_key(int64_t seed, int64_t offset) {
  uint64_t k = splitmix64(static_cast<uint64_t>(seed) ^ splitmix64(static_cast<uint64_t>(offset)));
  return PhiloxKey{static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

// One Philox block for (row, column group, stream). The 128-bit counter is
// (column group, stream, row low, row high).
PYALGO_HD Philox4 philox_block(PhiloxKey key, int64_t row, int64_t group, uint32_t stream) {
  uint64_t r = static_cast<uint64_t>(row);
  Philox4 ctr{static_cast<uint32_t>(group), stream, static_cast<uint32_t>(r),
              static_cast<uint32_t>(r >> 32)};
  return philox4x32_10(ctr, key.k0, key.k1);
}

PYALGO_HD uint32_t philox_word(const Philox4& b, int i) {
  return i == 0 ? b.x : (i == 1 ? b.y : (i == 2 ? b.z : b.w));
}

// Uniform numbers strictly inside (0, 1): u = (bits + 1/2) * 2^-bits, so log(u) and
// log(-log(u)) are always finite. float uses 23 bits (four numbers per block), double 52 bits
// (two numbers per block); one bit more would let the largest value round to exactly 1.
template <typename A>
struct Uniform;

template <>
struct Uniform<float> {
  static constexpr int per_block = 4;
  // via int32 so that the conversion vectorises
  PYALGO_HD static float from_word(uint32_t w) {
    // 23 bits: the largest value, 1 - 2^-24, is a float (24 bits would round up to 1.0).
    return (static_cast<float>(static_cast<int32_t>(w >> 9)) + 0.5f) * 1.1920928955078125e-7f;  // 2^-23
  }
  PYALGO_HD static float from_block(const Philox4& b, int i) { return from_word(philox_word(b, i)); }
  // The four numbers of one block, in column order.
  PYALGO_HD static void store_block(Philox4 bits, float* u) {
    u[0] = from_word(bits.x);
    u[1] = from_word(bits.y);
    u[2] = from_word(bits.z);
    u[3] = from_word(bits.w);
  }
};

template <>
struct Uniform<double> {
  static constexpr int per_block = 2;
  PYALGO_HD static double from_words(uint32_t hi, uint32_t lo) {
    // 52 bits: the largest value, 1 - 2^-53, is a double (53 bits would round up to 1.0).
    uint64_t bits = (static_cast<uint64_t>(hi) << 20) ^ (lo >> 12);
    return (static_cast<double>(bits) + 0.5) * 2.220446049250313e-16;  // 2^-52
  }
  PYALGO_HD static double from_block(const Philox4& b, int i) {
    return from_words(philox_word(b, 2 * i), philox_word(b, 2 * i + 1));
  }
  PYALGO_HD static void store_block(Philox4 bits, double* u) {
    u[0] = from_words(bits.x, bits.y);
    u[1] = from_words(bits.z, bits.w);
  }
};

// The uniform at (row, col, stream), the definition every kernel follows: number col % n of
// Philox block col / n, with n = 4 floats or 2 doubles per block.
template <typename A>
PYALGO_HD A philox_uniform(PhiloxKey key, int64_t row, int64_t col, uint32_t stream) {
  const int n = Uniform<A>::per_block;
  return Uniform<A>::from_block(philox_block(key, row, col / n, stream), static_cast<int>(col % n));
}

}  // namespace pyalgo
