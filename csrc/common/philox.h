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

PYALGO_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

PYALGO_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(M0, ctr.x, &hi0);
    uint32_t lo1 = mulhilo32(M1, ctr.z, &hi1);
    ctr = Philox4{hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
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
// log(-log(u)) are always finite. float uses 24 bits (four numbers per block), double 53 bits
// (two numbers per block).
template <typename A>
struct Uniform;

template <>
struct Uniform<float> {
  static constexpr int per_block = 4;
  PYALGO_HD static float from_block(const Philox4& b, int i) {
    return (static_cast<float>(philox_word(b, i) >> 8) + 0.5f) * 5.9604644775390625e-8f;  // 2^-24
  }
};

template <>
struct Uniform<double> {
  static constexpr int per_block = 2;
  PYALGO_HD static double from_block(const Philox4& b, int i) {
    uint64_t hi = philox_word(b, 2 * i), lo = philox_word(b, 2 * i + 1);
    uint64_t bits = (hi << 21) ^ (lo >> 11);  // 53 random bits
    return (static_cast<double>(bits) + 0.5) * 1.1102230246251565e-16;  // 2^-53
  }
};

// The uniform at (row, col, stream): one definition used by every kernel and by the
// `philox_uniform` op that exposes the stream to tests and users.
template <typename A>
PYALGO_HD A philox_uniform(PhiloxKey key, int64_t row, int64_t col, uint32_t stream) {
  const int n = Uniform<A>::per_block;
  Philox4 b = philox_block(key, row, col / n, stream);
  return Uniform<A>::from_block(b, static_cast<int>(col % n));
}

// Walks the uniforms of one row in column order, computing each Philox block once.
template <typename A>
struct RowUniforms {
  PhiloxKey key;
  int64_t row;
  uint32_t stream;
  int64_t group = -1;
  Philox4 block{0, 0, 0, 0};
  PYALGO_HD RowUniforms(PhiloxKey k, int64_t r, uint32_t s) : key(k), row(r), stream(s) {}
  PYALGO_HD A operator()(int64_t col) {
    const int n = Uniform<A>::per_block;
    int64_t g = col / n;
    if (g != group) {
      block = philox_block(key, row, g, stream);
      group = g;
    }
    return Uniform<A>::from_block(block, static_cast<int>(col % n));
  }
};

}  // namespace pyalgo
