// CPU-only AVX2+FMA fast paths of the discrete estimators, float32 logits, contiguous rows
// (dim = -1). The CUDA launcher and every other dtype/layout run the generic bodies of
// estimators.h; these paths compute the same formulas with the same Philox counters:
//
//  - small C (C <= kLaneMaxC): eight rows per vector, one row per lane, a row's C categories held
//    as C vectors (the rows are transposed in registers); one Philox call per eight rows;
//  - large C (C > kLaneMaxC): a row at a time, eight categories per vector, exp as a vector
//    polynomial (the same polynomial and FMA contractions as exp_nonpos), and the Philox blocks
//    of the Gumbel noise eight (or sixteen) counters at a time.
//
// What may differ from the generic body: row sums are taken in another order (here: lane by lane
// in column order for small C; eight partial sums for large C), so sums differ by a few ulps and
// an inverse-CDF sample can differ only when the uniform falls within a few ulps of a CDF boundary
// (tests/test_discrete_fastpaths.py checks every mismatch is such a boundary case). The Gumbel
// noise takes a cheaper log than the generic bodies' (log_neg_log: the same uniforms, Gumbels
// within 4 · 2^-24 · max(1, |G|) of the generic ones), so a Gumbel argmax can differ only on a
// near-tie of that size. Every row is
// computed by the same code whatever block or thread it falls in (partial blocks are padded), so
// results do not depend on the thread count. The generic bodies' rare paths are reproduced: rows
// whose logits overflow once divided by τ take the same "rescue" shift, invalid rows the same
// index -1 and NaN outputs.
//
// Compiled with __attribute__((target("avx2,fma"))); the launcher takes these paths only when the
// CPU has AVX2 and FMA (avx2_fma_available()), else the generic bodies (which are themselves
// cloned for x86-64-v3 and the baseline).
#pragma once

#if !defined(__CUDACC__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYALGO_HAVE_ROWS_SIMD 1
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "estimators.h"

namespace pyalgo {
namespace discrete {
namespace simd {

#define PYALGO_AVX2_FN __attribute__((target("avx2,fma")))
#ifdef PYALGO_SANITIZE  // the sanitizer build: forced inlining of every instantiation makes g++ take ~14 min
#define PYALGO_AVX2_INL __attribute__((target("avx2,fma"))) inline
#define PYALGO_AVX2_LAMBDA __attribute__((target("avx2,fma")))
#else
#define PYALGO_AVX2_INL __attribute__((target("avx2,fma"), always_inline)) inline
#define PYALGO_AVX2_LAMBDA __attribute__((target("avx2,fma"), always_inline))
#endif

// Whether the fast paths may run: the CPU has AVX2 and FMA, and PYALGO_DISCRETE_GENERIC is not
// set to a non-empty value other than "0" (the generic bodies then run everywhere: for
// debugging and for comparing the two in tests).
inline bool avx2_fma_available() {
  static const bool ok = [] {
    const char* env = std::getenv("PYALGO_DISCRETE_GENERIC");
    if (env && *env && std::strcmp(env, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return ok;
}

// Rows of at most this many categories go one row per lane. Measured (1 thread, ~262k elements,
// medians of three, long path / lanes µs): the lanes win for every path up to 32 — at C = 17
// sampler 1533/503, Gumbel fwd 2997/909, ReinMax bwd 765/443, ST bwd 1080/316, GS bwd 2399/1020;
// at C = 32 875/423, 1593/936, 478/458, 348/320, 1329/1050 (ReinMax's backward is about even).
constexpr int kLaneMaxC = 32;
constexpr int kLanes = 8;      // float lanes of an AVX2 vector

using vf = __m256;
using vi = __m256i;

PYALGO_AVX2_INL vf set1(float v) { return _mm256_set1_ps(v); }
PYALGO_AVX2_INL vf vinf() { return _mm256_set1_ps(INFINITY); }
PYALGO_AVX2_INL vf vnan() { return _mm256_set1_ps(NAN); }
// a > b ? a : b, as the generic bodies' `v > m ? v : m` (m kept when v is NaN)
PYALGO_AVX2_INL vf vmax(vf v, vf m) { return _mm256_max_ps(v, m); }
PYALGO_AVX2_INL vf gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
PYALGO_AVX2_INL vf lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
PYALGO_AVX2_INL vf eq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
PYALGO_AVX2_INL vf sel(vf mask, vf a, vf b) { return _mm256_blendv_ps(b, a, mask); }  // mask ? a : b
PYALGO_AVX2_INL bool any(vf mask) { return _mm256_movemask_ps(mask) != 0; }
PYALGO_AVX2_INL int bits(vf mask) { return _mm256_movemask_ps(mask); }

// exp_nonpos (hd.h) on eight lanes: the same operations and the same FMA contractions as g++
// makes of the scalar code in the x86-64-v3 clone, hence the same bits.
PYALGO_AVX2_INL vf exp_nonpos(vf x) {
  const vf lo = set1(-87.0f), magic = set1(12582912.0f);
  const vf below = lt(x, lo);
  const vf xc = sel(below, lo, x);
  const vf t = _mm256_fmadd_ps(xc, set1(1.44269504088896341f), magic);
  const vi n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_castps_si256(magic));
  const vf nf = _mm256_sub_ps(t, magic);
  vf r = _mm256_fnmadd_ps(nf, set1(0.693359375f), xc);
  r = _mm256_fnmadd_ps(nf, set1(-2.12194440e-4f), r);
  vf p = set1(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, set1(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, set1(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, set1(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, set1(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, set1(5.0000001201e-1f));
  p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), set1(1.0f));
  const vf scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(below, _mm256_mul_ps(p, scale));
}

// log_pos (hd.h) on eight lanes, same operations.
PYALGO_AVX2_INL vf log_pos(vf x) {
  const vi b = _mm256_castps_si256(x);
  const vi e = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(b, 23), _mm256_set1_epi32(0xff)),
                                _mm256_set1_epi32(126));
  const vf m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(b, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  const vf small = lt(m, set1(0.707106781186547524f));
  const vf ef = _mm256_cvtepi32_ps(_mm256_add_epi32(e, _mm256_castps_si256(small)));  // e - 1 where small
  const vf f = _mm256_sub_ps(sel(small, _mm256_add_ps(m, m), m), set1(1.0f));
  const vf z = _mm256_mul_ps(f, f);
  vf y = set1(7.0376836292e-2f);
  y = _mm256_fmsub_ps(y, f, set1(1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, f, set1(1.1676998740e-1f));
  y = _mm256_fmsub_ps(y, f, set1(1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, f, set1(1.4249322787e-1f));
  y = _mm256_fmsub_ps(y, f, set1(1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, f, set1(2.0000714765e-1f));
  y = _mm256_fmsub_ps(y, f, set1(2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, f, set1(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, f), z);
  y = _mm256_fmadd_ps(set1(-2.12194440e-4f), ef, y);
  y = _mm256_fmadd_ps(set1(-0.5f), z, y);
  const vf res = _mm256_fmadd_ps(set1(0.693359375f), ef, _mm256_add_ps(f, y));
  return sel(eq(x, vinf()), x, res);
}

// log x for finite normal x > 0 (no inf, NaN, zero or subnormal handling: the Gumbel noise below
// never gives it one), table-driven: x = 2^k z with z in [0.6992, 1.3984) (bits 0x3f330000 on),
// z's top four bits past that offset pick one of 16 centres c (c = 1 exactly for the interval
// around 1, so that logs near 0 keep their relative precision), r = z/c − 1 by one FMA (|r| <
// 0.031), log(1 + r) by a degree-5 Taylor polynomial (truncation < 2e-10 relative), and k·ln2 in
// two parts. Both 16-entry tables are two 8-entry permutes and a blend, on the shuffle port,
// which the FMA ports' polynomial leaves idle. Error: at most 1.71 ulp of the exact log over every
// float in [2^-26, 32) (exhaustive; Cephes log_pos: 0.83 ulp), at ~55 % of log_pos's cost.
PYALGO_AVX2_INL vf log_fast(vf x) {
  const vf inv_lo = _mm256_setr_ps(1.39890707f, 1.34031415f, 1.28643215f, 1.23671496f, 1.19069767f, 1.14798212f,
                                   1.10822511f, 1.07112968f);
  const vf inv_hi = _mm256_setr_ps(1.03643727f, 1.0f, 0.948148131f, 0.895104885f, 0.847682118f, 0.805031419f,
                                   0.766467094f, 0.731428564f);
  // −log(1/c) of the float 1/c above, rounded to float
  const vf lc_lo = _mm256_setr_ps(-0.335691273f, -0.292904019f, -0.251872599f, -0.21245864f, -0.174539417f,
                                  -0.138005719f, -0.102759734f, -0.0687138662f);
  const vf lc_hi = _mm256_setr_ps(-0.0357891321f, 0.0f, 0.0532445312f, 0.110814378f, 0.165249571f, 0.216873974f,
                                  0.265963525f, 0.312755734f);
  const vi ix = _mm256_castps_si256(x);
  const vi tmp = _mm256_sub_epi32(ix, _mm256_set1_epi32(0x3f330000));
  const vi i = _mm256_srli_epi32(tmp, 19);  // bits 0-2: the permutes' index; bit 3: which half
  const vf upper = _mm256_castsi256_ps(_mm256_slli_epi32(i, 28));
  const vf kf = _mm256_cvtepi32_ps(_mm256_srai_epi32(tmp, 23));
  const vf z = _mm256_castsi256_ps(_mm256_sub_epi32(ix, _mm256_and_si256(tmp, _mm256_set1_epi32(static_cast<int>(0xff800000u)))));
  const vf invc = _mm256_blendv_ps(_mm256_permutevar8x32_ps(inv_lo, i), _mm256_permutevar8x32_ps(inv_hi, i), upper);
  const vf logc = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lc_lo, i), _mm256_permutevar8x32_ps(lc_hi, i), upper);
  const vf r = _mm256_fmsub_ps(z, invc, set1(1.0f));
  const vf r2 = _mm256_mul_ps(r, r);
  const vf a = _mm256_fmadd_ps(r, set1(0.333333343f), set1(-0.5f));
  const vf b = _mm256_fmadd_ps(r, set1(0.2f), set1(-0.25f));
  const vf y = _mm256_fmadd_ps(_mm256_fmadd_ps(b, r2, a), r2, r);
  const vf hi = _mm256_fmadd_ps(kf, set1(0.693145751953125f), logc);  // ln2 = 0.693145751953125 + 1.42860677e-6
  const vf lo = _mm256_fmadd_ps(kf, set1(1.42860677e-06f), y);
  return _mm256_add_ps(hi, lo);
}

// log(−log u) of a uniform u in (0, 1) by log_fast: the Gumbel noise is G = −log(−log u). The
// generic bodies (and CUDA) take log_pos (Cephes); over all 2^23 float uniforms (exhaustive) the
// two Gumbels differ by at most 4 · 2^-24 · max(1, |G|) (this one is within 3.01 · 2^-24 ·
// max(1, |G|) of the exact value, Cephes within 2.31). tests/test_discrete_fastpaths.py checks the
// consequences: argmax equal but for near-ties of that size, softmax values within the bound.
PYALGO_AVX2_INL vf log_neg_log(vf u) { return log_fast(_mm256_xor_ps(log_fast(u), set1(-0.0f))); }

// -log(-log u): the Gumbel noise of a uniform (see log_neg_log).
PYALGO_AVX2_INL vf neg_log_neg_log(vf u) { return _mm256_xor_ps(log_neg_log(u), set1(-0.0f)); }

// ---- Philox4x32-10 on eight counters ---------------------------------------------------------

struct Philox8 {
  vi x, y, z, w;
};

// The high and low 32 bits of a * M for eight 32-bit lanes a (shuffles rather than shifts, so
// that the multiplies and the data movement use different ports).
PYALGO_AVX2_INL void mul_hi_lo(vi a, vi M, vi* hi, vi* lo) {
  const vi even = _mm256_mul_epu32(a, M);                                // lanes 0, 2, 4, 6 (64-bit)
  const vi odd = _mm256_mul_epu32(_mm256_shuffle_epi32(a, 0xF5), M);     // lanes 1, 3, 5, 7
  *lo = _mm256_blend_epi32(even, _mm256_shuffle_epi32(odd, 0xA0), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_shuffle_epi32(even, 0xF5), odd, 0xAA);
}

PYALGO_AVX2_INL Philox8 philox8(Philox8 c, PhiloxKey key) {
  const vi M0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const vi M1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  uint32_t k0 = key.k0, k1 = key.k1;
  vi x = c.x, y = c.y, z = c.z, w = c.w;
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    vi hi0, lo0, hi1, lo1;
    mul_hi_lo(x, M0, &hi0, &lo0);
    mul_hi_lo(z, M1, &hi1, &lo1);
    x = _mm256_xor_si256(_mm256_xor_si256(hi1, y), _mm256_set1_epi32(static_cast<int>(k0)));
    y = lo1;
    z = _mm256_xor_si256(_mm256_xor_si256(hi0, w), _mm256_set1_epi32(static_cast<int>(k1)));
    w = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox8{x, y, z, w};
}

// Uniform<float>::from_word on eight lanes.
PYALGO_AVX2_INL vf uniform_of(vi w) {
  return _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 9)), set1(0.5f)),
                       set1(1.1920928955078125e-7f));
}

// Counters of rows r0 .. r0 + 7 (one per lane) at column group `group` of `stream`.
PYALGO_AVX2_INL Philox8 row_counters(int64_t r0, uint32_t group, uint32_t stream) {
  const vi lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const uint64_t base = static_cast<uint64_t>(r0);
  const vi lo = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(base))), lane);
  // the high word carries when the low word wraps within the block
  const vi wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(base))),
                                                         _mm256_set1_epi32(INT32_MIN)),
                                        _mm256_xor_si256(lo, _mm256_set1_epi32(INT32_MIN)));
  const vi hi = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(base >> 32))), wrapped);
  return Philox8{_mm256_set1_epi32(static_cast<int>(group)), _mm256_set1_epi32(static_cast<int>(stream)), lo, hi};
}

// Counters of groups g0 .. g0 + 7 (one per lane) of one row and stream.
PYALGO_AVX2_INL Philox8 group_counters(int64_t row, int64_t g0, uint32_t stream) {
  const uint64_t r = static_cast<uint64_t>(row);
  const vi g = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(g0))),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return Philox8{g, _mm256_set1_epi32(static_cast<int>(stream)), _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(r))),
                 _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(r >> 32)))};
}

// ---- small C: one row per lane -----------------------------------------------------------------

// In-register transpose of an 8x8 block of floats (r[i] = row i in, column i out).
PYALGO_AVX2_INL void transpose8(vf* r) {
  const vf t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const vf t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const vf t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const vf t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const vf u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const vf u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const vf u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const vf u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// v[j] = column j of rows r .. r + n - 1 (n <= 8) of a row-major (rows, C) block at src; missing
// rows read as 0 (a finite row whose results are discarded). Full blocks: C = 1 and 2 by plain
// loads and shuffles, larger C by gathers (one per column).
template <int C>
PYALGO_AVX2_INL void load_cols(const float* src, int n, vf* v) {
  if (n == kLanes) {
    if (C == 1) {
      v[0] = _mm256_loadu_ps(src);
    } else if (C == 2) {
      const vf a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);  // rows 0-3, rows 4-7
      // shuffle_ps leaves rows in lane order 0 1 4 5 2 3 6 7; permute4x64 (0xD8) restores it
      v[0] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
      v[1] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
    } else {
      // full groups of eight columns: eight row loads and a transpose; the rest by gathers
      constexpr int G8 = C >= 8 ? C / 8 * 8 : 0;
#pragma GCC unroll 4
      for (int j0 = 0; j0 < G8; j0 += 8) {
#pragma GCC unroll 8
        for (int l = 0; l < kLanes; ++l) v[j0 + l] = _mm256_loadu_ps(src + l * C + j0);
        transpose8(v + j0);
      }
      const vi idx = _mm256_setr_epi32(0, C, 2 * C, 3 * C, 4 * C, 5 * C, 6 * C, 7 * C);
#pragma GCC unroll 8
      for (int j = G8; j < C; ++j) v[j] = _mm256_i32gather_ps(src + j, idx, 4);
    }
    return;
  }
  alignas(32) float t[C * kLanes];
  for (int j = 0; j < C; ++j)
    for (int l = 0; l < kLanes; ++l) t[j * kLanes + l] = l < n ? src[l * C + j] : 0.0f;
#pragma GCC unroll 32
  for (int j = 0; j < C; ++j) v[j] = _mm256_load_ps(t + j * kLanes);
}

// The inverse of load_cols: rows r .. r + n - 1 of dst from the columns v (v is clobbered).
// Full blocks: C = 1 and 2 by shuffles and plain stores, C >= 8 by an 8x8 transpose of the first
// eight columns (the rest element by element), else element by element.
template <int C>
PYALGO_AVX2_INL void store_cols(vf* v, int n, float* dst) {
  if (n == kLanes) {
    if (C == 1) {
      _mm256_storeu_ps(dst, v[0]);
      return;
    }
    if (C == 2) {
      const vf a = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v[0]), 0xD8));
      const vf b = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v[1]), 0xD8));
      _mm256_storeu_ps(dst, _mm256_unpacklo_ps(a, b));
      _mm256_storeu_ps(dst + 8, _mm256_unpackhi_ps(a, b));
      return;
    }
    if (C >= 8) {
      constexpr int G8 = C / 8 * 8;
#pragma GCC unroll 4
      for (int j0 = 0; j0 < G8; j0 += 8) {
        transpose8(v + j0);
#pragma GCC unroll 8
        for (int l = 0; l < kLanes; ++l) _mm256_storeu_ps(dst + l * C + j0, v[j0 + l]);
      }
      if (G8 < C) {
        alignas(32) float t[(C > G8 ? C - G8 : 1) * kLanes];
#pragma GCC unroll 8
        for (int j = G8; j < C; ++j) _mm256_store_ps(t + (j - G8) * kLanes, v[j]);
#pragma GCC unroll 8
        for (int l = 0; l < kLanes; ++l)
#pragma GCC unroll 8
          for (int j = G8; j < C; ++j) dst[l * C + j] = t[(j - G8) * kLanes + l];
      }
      return;
    }
  }
  alignas(32) float t[C * kLanes];
#pragma GCC unroll 32
  for (int j = 0; j < C; ++j) _mm256_store_ps(t + j * kLanes, v[j]);
  for (int l = 0; l < n; ++l)
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) dst[l * C + j] = t[j * kLanes + l];
}

// Rows of the block: one-hot at k (k in [0, C)), or NaN where k < 0.
template <int C>
PYALGO_AVX2_INL void store_one_hot(const int32_t* k, int n, float* dst) {
  std::memset(dst, 0, sizeof(float) * C * n);
  for (int l = 0; l < n; ++l) {
    if (k[l] >= 0)
      dst[l * C + k[l]] = 1.0f;
    else
      for (int j = 0; j < C; ++j) dst[l * C + j] = NAN;
  }
}

// One-hot rows from the lanes' k (as floats) and validity: by columns for C <= 2, else by rows.
template <int C>
PYALGO_AVX2_INL void write_one_hot(vf k, vf valid, const int32_t* ks, int n, float* dst) {
  if (C <= 2) {
    vf oh[C > 0 ? C : 1];
#pragma GCC unroll 2
    for (int j = 0; j < C; ++j)
      oh[j] = sel(valid, _mm256_and_ps(eq(k, set1(static_cast<float>(j))), set1(1.0f)), vnan());
    store_cols<C>(oh, n, dst);
  } else {
    store_one_hot<C>(ks, n, dst);
  }
}

// Largest entry (first on the generic bodies' `v > m ? v : m` scan from -inf) and whether the row
// is valid (no NaN or +inf, not all -inf), as valid_row_max.
template <int C>
PYALGO_AVX2_INL vf lane_row_max(const vf* v, vf* valid) {
  vf m = _mm256_set1_ps(-INFINITY), bad = _mm256_setzero_ps();
#pragma GCC unroll 32
  for (int j = 0; j < C; ++j) {
    m = vmax(v[j], m);
    bad = _mm256_or_ps(bad, _mm256_or_ps(_mm256_cmp_ps(v[j], v[j], _CMP_UNORD_Q), eq(v[j], vinf())));
  }
  *valid = _mm256_andnot_ps(bad, gt(m, _mm256_set1_ps(-INFINITY)));
  return m;
}

// categorical_sample_short_row on rows [begin, end).
template <int C>
PYALGO_AVX2_FN void sample_lanes(const float* x, float* one_hot, float* probs, int32_t* index, PhiloxKey key,
                                 int64_t begin, int64_t end) {
  for (int64_t r0 = begin; r0 < end; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r0));
    vf v[C], e[C];
    load_cols<C>(x + r0 * C, n, v);
    vf valid;
    const vf m = lane_row_max<C>(v, &valid);
    vf Z = _mm256_setzero_ps();
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      e[j] = exp_nonpos(_mm256_sub_ps(v[j], m));
      Z = _mm256_add_ps(Z, e[j]);
    }
    const vf target = _mm256_mul_ps(uniform_of(philox8(row_counters(r0, 0, kSampleStream), key).x), Z);
    // k: the first j where the running sum passes the target; else the last j with e > 0
    vf cum = _mm256_setzero_ps(), k = set1(-1.0f), last = set1(0.0f);
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      cum = _mm256_add_ps(cum, e[j]);
      k = sel(_mm256_and_ps(gt(cum, target), lt(k, _mm256_setzero_ps())), set1(static_cast<float>(j)), k);
      last = sel(gt(e[j], _mm256_setzero_ps()), set1(static_cast<float>(j)), last);
    }
    k = sel(lt(k, _mm256_setzero_ps()), last, k);
    k = sel(valid, k, set1(-1.0f));
    alignas(32) int32_t ks[kLanes];
    _mm256_store_si256(reinterpret_cast<vi*>(ks), _mm256_cvttps_epi32(k));
    std::memcpy(index + r0, ks, sizeof(int32_t) * n);
    if (probs) {
      const vf inv_Z = _mm256_div_ps(set1(1.0f), Z);
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) e[j] = sel(valid, _mm256_mul_ps(e[j], inv_Z), vnan());
      store_cols<C>(e, n, probs + r0 * C);
    }
    write_one_hot<C>(k, valid, ks, n, one_hot + r0 * C);
  }
}

// gumbel_softmax_row on rows [begin, end).
template <int C>
PYALGO_AVX2_FN void gumbel_softmax_lanes(const float* x, float* y, int32_t* index, float inv_tau, bool hard,
                                         PhiloxKey key, int64_t begin, int64_t end) {
  const vf itau = set1(inv_tau);
  for (int64_t r0 = begin; r0 < end; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r0));
    vf v[C + 3];
    load_cols<C>(x + r0 * C, n, v);
    vf valid;
    const vf xmax = lane_row_max<C>(v, &valid);
    // gumbel_shift: 0 unless (xmax - 4)/τ or (xmax + 40)/τ overflows
    const vf lo = _mm256_mul_ps(_mm256_sub_ps(xmax, set1(4.0f)), itau);
    const vf hi = _mm256_mul_ps(_mm256_add_ps(xmax, set1(40.0f)), itau);
    const vf shift = sel(_mm256_and_ps(gt(lo, set1(-INFINITY)), lt(hi, vinf())), _mm256_setzero_ps(), xmax);
#pragma GCC unroll 8
    for (int b = 0; b * 4 < C; ++b) {
      const Philox8 P = philox8(row_counters(r0, static_cast<uint32_t>(b), kSampleStream), key);
      const vi words[4] = {P.x, P.y, P.z, P.w};
#pragma GCC unroll 4
      for (int w = 0; w < 4; ++w) {
        const int j = 4 * b + w;
        if (j >= C) break;
        // (x − shift − log(−log u)) · (1/τ)
        const vf L = log_neg_log(uniform_of(words[w]));
        v[j] = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(v[j], shift), L), itau);
      }
    }
    vf m = _mm256_set1_ps(-INFINITY), k = set1(-1.0f);
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      const vf up = gt(v[j], m);
      m = sel(up, v[j], m);
      k = sel(up, set1(static_cast<float>(j)), k);
    }
    valid = _mm256_and_ps(valid, _mm256_and_ps(_mm256_cmp_ps(k, _mm256_setzero_ps(), _CMP_GE_OQ), lt(m, vinf())));
    k = sel(valid, k, set1(-1.0f));
    alignas(32) int32_t ks[kLanes];
    _mm256_store_si256(reinterpret_cast<vi*>(ks), _mm256_cvttps_epi32(k));
    std::memcpy(index + r0, ks, sizeof(int32_t) * n);
    if (hard) {
      write_one_hot<C>(k, valid, ks, n, y + r0 * C);
      continue;
    }
    vf Z = _mm256_setzero_ps();
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      v[j] = exp_nonpos(_mm256_sub_ps(v[j], m));
      Z = _mm256_add_ps(Z, v[j]);
    }
    const vf inv_Z = _mm256_div_ps(set1(1.0f), Z);
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) v[j] = sel(valid, _mm256_mul_ps(v[j], inv_Z), vnan());
    store_cols<C>(v, n, y + r0 * C);
  }
}

// reinmax_backward_short_row on rows [begin, end) (gp == nullptr: g_p = 0).
template <int C>
PYALGO_AVX2_FN void reinmax_backward_lanes(const float* x, const int32_t* index, const float* g, const float* gp,
                                           float* out, float inv_tau, int64_t begin, int64_t end) {
  const bool same_tau = inv_tau == 1.0f;
  const vf itau = set1(inv_tau), half_c = set1(0.5f);
  for (int64_t r0 = begin; r0 < end; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r0));
    vf v[C], gv[C], h[C], pt[C];
    load_cols<C>(x + r0 * C, n, v);
    load_cols<C>(g + r0 * C, n, gv);
    if (gp) {
      load_cols<C>(gp + r0 * C, n, h);
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) h[j] = _mm256_fnmadd_ps(half_c, gv[j], h[j]);
    } else {
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) h[j] = _mm256_xor_ps(_mm256_mul_ps(half_c, gv[j]), set1(-0.0f));
    }
    alignas(32) int32_t ks[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::memcpy(ks, index + r0, sizeof(int32_t) * n);
    const vi ki = _mm256_load_si256(reinterpret_cast<const vi*>(ks));
    const vf k = _mm256_cvtepi32_ps(ki);
    const vf kvalid = _mm256_castsi256_ps(_mm256_andnot_si256(
        _mm256_cmpgt_epi32(_mm256_setzero_si256(), ki), _mm256_cmpgt_epi32(_mm256_set1_epi32(C), ki)));
    vf m = _mm256_set1_ps(-INFINITY);
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) m = vmax(v[j], m);
    vf Z0 = _mm256_setzero_ps(), H0 = Z0, Zt = Z0, St = Z0, gk = Z0;
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      const vf d = _mm256_sub_ps(v[j], m);
      const vf e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(_mm256_mul_ps(d, itau));
      v[j] = e0;
      pt[j] = et;
      Z0 = _mm256_add_ps(Z0, e0);
      H0 = _mm256_fmadd_ps(e0, h[j], H0);
      Zt = _mm256_add_ps(Zt, et);
      St = _mm256_fmadd_ps(et, gv[j], St);
      gk = sel(eq(k, set1(static_cast<float>(j))), gv[j], gk);
    }
    const vf inv_Z0 = _mm256_div_ps(set1(1.0f), Z0), inv_Zt = _mm256_div_ps(set1(1.0f), Zt);
    const vf t0 = _mm256_mul_ps(H0, inv_Z0);
    const vf half = _mm256_mul_ps(half_c, _mm256_fmadd_ps(St, inv_Zt, gk));
    const vf extra = _mm256_sub_ps(gk, half);  // the [i = k] terms
    vf sum = _mm256_setzero_ps();
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      const vf a = _mm256_mul_ps(_mm256_mul_ps(pt[j], inv_Zt), _mm256_sub_ps(gv[j], half));
      vf grad = _mm256_fmadd_ps(_mm256_mul_ps(v[j], inv_Z0), _mm256_sub_ps(h[j], t0), a);
      sum = _mm256_add_ps(sum, grad);
      grad = sel(eq(k, set1(static_cast<float>(j))), _mm256_add_ps(grad, extra), grad);
      v[j] = grad;
    }
    sum = _mm256_add_ps(sum, extra);
    const vf mean = _mm256_div_ps(sum, set1(static_cast<float>(C)));
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) v[j] = sel(kvalid, _mm256_sub_ps(v[j], mean), vnan());
    store_cols<C>(v, n, out + r0 * C);
  }
}

// softmax_vjp_row (not accumulating) on rows [begin, end) for ScaledLogits (gumbel = false, z =
// x/τ: ST backward) or GumbelLogits (gumbel = true, z = (x + G)/τ: ST-GS / GS backward), with the
// generic bodies' rescue: a lane whose largest z is beyond ±big_logit takes z relative to its
// row's largest logit (ScaledLogits: when that z is not finite; GumbelLogits: gumbel_shift).
template <int C>
PYALGO_AVX2_FN void softmax_vjp_lanes(const float* x, const float* g, float* out, float inv_tau, bool gumbel,
                                      PhiloxKey key, int64_t begin, int64_t end) {
  const vf itau = set1(inv_tau), big = set1(big_logit<float>()), neg = set1(-0.0f);
  for (int64_t r0 = begin; r0 < end; r0 += kLanes) {
    const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r0));
    vf xv[C], L[C], z[C], gv[C];
    load_cols<C>(x + r0 * C, n, xv);
    load_cols<C>(g + r0 * C, n, gv);
    if (gumbel) {
#pragma GCC unroll 8
      for (int b = 0; b * 4 < C; ++b) {
        const Philox8 P = philox8(row_counters(r0, static_cast<uint32_t>(b), kSampleStream), key);
        const vi words[4] = {P.x, P.y, P.z, P.w};
#pragma GCC unroll 4
        for (int w = 0; w < 4; ++w) {
          const int j = 4 * b + w;
          if (j >= C) break;
          L[j] = log_neg_log(uniform_of(words[w]));
        }
      }
    } else {
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) L[j] = _mm256_setzero_ps();
    }
    // z = (x − shift − L)·(1/τ), shift = 0 unless rescued
    vf shift = _mm256_setzero_ps(), m;
    for (int pass = 0; pass < 2; ++pass) {
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j)
        z[j] = _mm256_mul_ps(gumbel ? _mm256_sub_ps(_mm256_sub_ps(xv[j], shift), L[j]) : _mm256_sub_ps(xv[j], shift), itau);
      m = _mm256_set1_ps(-INFINITY);
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) m = vmax(z[j], m);
      if (pass) break;
      const vf far = _mm256_andnot_ps(_mm256_and_ps(gt(m, _mm256_xor_ps(big, neg)), lt(m, big)),
                                      _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
      if (!any(far)) break;
      vf xmax = _mm256_set1_ps(-INFINITY);
#pragma GCC unroll 32
      for (int j = 0; j < C; ++j) xmax = vmax(xv[j], xmax);
      if (gumbel) {  // gumbel_shift(xmax, 1/τ)
        const vf lo = _mm256_mul_ps(_mm256_sub_ps(xmax, set1(4.0f)), itau);
        const vf hi = _mm256_mul_ps(_mm256_add_ps(xmax, set1(40.0f)), itau);
        shift = sel(_mm256_and_ps(far, _mm256_andnot_ps(_mm256_and_ps(gt(lo, set1(-INFINITY)), lt(hi, vinf())),
                                                        _mm256_castsi256_ps(_mm256_set1_epi32(-1)))),
                    xmax, _mm256_setzero_ps());
      } else {  // ScaledLogits::rescue: only when the max z is not finite
        const vf finite = _mm256_and_ps(gt(m, set1(-INFINITY)), lt(m, vinf()));
        shift = sel(_mm256_andnot_ps(finite, far), xmax, _mm256_setzero_ps());
      }
      if (!any(_mm256_cmp_ps(shift, _mm256_setzero_ps(), _CMP_NEQ_UQ))) break;
    }
    vf Z = _mm256_setzero_ps(), S = Z;
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j) {
      z[j] = exp_nonpos(_mm256_sub_ps(z[j], m));
      Z = _mm256_add_ps(Z, z[j]);
      S = _mm256_fmadd_ps(z[j], gv[j], S);
    }
    const vf inv_Z = _mm256_div_ps(set1(1.0f), Z), mean_g = _mm256_mul_ps(S, inv_Z);
#pragma GCC unroll 32
    for (int j = 0; j < C; ++j)
      z[j] = _mm256_mul_ps(_mm256_mul_ps(itau, _mm256_mul_ps(z[j], inv_Z)), _mm256_sub_ps(gv[j], mean_g));
    store_cols<C>(z, n, out + r0 * C);
  }
}

// ---- large C: one row at a time, eight categories per vector ------------------------------------

PYALGO_AVX2_INL vi tail_mask(int r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// The first r (< 8) floats at p, the other lanes `pad`.
PYALGO_AVX2_INL vf load_tail(const float* p, vi mask, float pad) {
  return sel(_mm256_castsi256_ps(mask), _mm256_maskload_ps(p, mask), set1(pad));
}
PYALGO_AVX2_INL float hsum(vf v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}
PYALGO_AVX2_INL float hmax(vf v) {
  const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(t, _mm_movehdup_ps(t)));
}

// Inclusive prefix sums of the eight lanes (a0, a0 + a1, ..., a0 + ... + a7).
PYALGO_AVX2_INL vf prefix8(vf a) {
  a = _mm256_add_ps(a, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(a), 4)));
  a = _mm256_add_ps(a, _mm256_castsi256_ps(_mm256_slli_si256(_mm256_castps_si256(a), 8)));
  const vf low_total = _mm256_shuffle_ps(a, a, 0xFF);  // lane 3 (and 7) of each half
  return _mm256_add_ps(a, _mm256_permute2f128_ps(low_total, low_total, 0x08));  // (0 | low half's total)
}

// Largest entry of a row and whether the row is valid (as valid_row_max).
PYALGO_AVX2_INL bool long_row_max(const float* x, int64_t C, float* max_out) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  vf m0 = _mm256_set1_ps(-INFINITY), m1 = m0, bad = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nv; i += 2) {
    const vf a = _mm256_loadu_ps(x + i * kLanes), b = _mm256_loadu_ps(x + i * kLanes + kLanes);
    m0 = vmax(a, m0);
    m1 = vmax(b, m1);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
  }
  if (i < nv) {
    const vf a = _mm256_loadu_ps(x + i * kLanes);
    m0 = vmax(a, m0);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  if (rem) {
    const vf a = load_tail(x + nv * kLanes, tail_mask(rem), -INFINITY);
    m1 = vmax(a, m1);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  }
  const float m = hmax(_mm256_max_ps(m0, m1));
  *max_out = m;
  return !any(bad) && m > -INFINITY && m < INFINITY;
}

// categorical_sample_row for C > kLaneMaxC: max; exp parked in the probs (or one-hot) row with
// the normaliser; the inverse-CDF scan over blocks of 64 parked values; probs scaled in place.
PYALGO_AVX2_FN void sample_long(const float* x, float* one_hot, float* probs, int32_t* index, PhiloxKey key,
                                int64_t C, int64_t begin, int64_t end) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  const vi tmask = tail_mask(rem);
  alignas(32) float us[kLanes];
  for (int64_t r = begin; r < end; ++r) {
    // the rows' inverse-CDF uniforms, eight rows per Philox call
    if ((r - begin) % kLanes == 0)
      _mm256_store_ps(us, uniform_of(philox8(row_counters(r, 0, kSampleStream), key).x));
    const float* xr = x + r * C;
    float* oh = one_hot + r * C;
    float* pr = probs ? probs + r * C : nullptr;
    float* park = pr ? pr : oh;
    float m;
    if (!long_row_max(xr, C, &m)) {
      for (int64_t i = 0; i < C; ++i) oh[i] = NAN;
      if (pr)
        for (int64_t i = 0; i < C; ++i) pr[i] = NAN;
      index[r] = -1;
      continue;
    }
    const vf mv = set1(m);
    vf z0 = _mm256_setzero_ps(), z1 = z0;
    int64_t i = 0;
    for (; i + 1 < nv; i += 2) {
      const vf a = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(xr + i * kLanes), mv));
      const vf b = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(xr + i * kLanes + kLanes), mv));
      _mm256_storeu_ps(park + i * kLanes, a);
      _mm256_storeu_ps(park + i * kLanes + kLanes, b);
      z0 = _mm256_add_ps(z0, a);
      z1 = _mm256_add_ps(z1, b);
    }
    if (i < nv) {
      const vf a = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(xr + i * kLanes), mv));
      _mm256_storeu_ps(park + i * kLanes, a);
      z0 = _mm256_add_ps(z0, a);
    }
    if (rem) {
      const vf a = exp_nonpos(_mm256_sub_ps(load_tail(xr + nv * kLanes, tmask, -INFINITY), mv));
      _mm256_maskstore_ps(park + nv * kLanes, tmask, a);
      z1 = _mm256_add_ps(z1, a);
    }
    const float Z = hsum(_mm256_add_ps(z0, z1));
    const float target = us[(r - begin) % kLanes] * Z;
    // the first index where the running sum passes the target: by blocks of 64 (a block whose sum
    // does not pass the target is skipped whole; the last block is not tested), then vectors of 8
    // with in-register prefix sums: the first entry of positive probability whose running sum
    // passes the target (an entry of probability 0 is never picked, even where rounding of the
    // differently grouped sums would let its running sum pass). Branch-free inside a vector.
    float cum = 0;
    int64_t k = -1;
    const vf tv = set1(target), zero = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < C && k < 0; b0 += 64) {
      const int64_t b1 = b0 + 64 < C ? b0 + 64 : C;
      if (b1 - b0 == 64 && b1 < C) {
        const float* q = park + b0;
        const vf s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(q), _mm256_loadu_ps(q + 8)),
                                                 _mm256_add_ps(_mm256_loadu_ps(q + 16), _mm256_loadu_ps(q + 24))),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(q + 32), _mm256_loadu_ps(q + 40)),
                                                 _mm256_add_ps(_mm256_loadu_ps(q + 48), _mm256_loadu_ps(q + 56))));
        const float cs = hsum(s);
        if (cum + cs <= target) {
          cum += cs;
          continue;
        }
      }
      vf cumv = set1(cum);
      for (int64_t v0 = b0; v0 < b1; v0 += kLanes) {
        const int64_t left = b1 - v0;
        const vf e = left >= kLanes ? _mm256_loadu_ps(park + v0) : load_tail(park + v0, tail_mask(static_cast<int>(left)), 0.0f);
        const vf run = _mm256_add_ps(prefix8(e), cumv);
        const int hit = bits(_mm256_and_ps(gt(run, tv), gt(e, zero)));
        if (hit) {
          k = v0 + __builtin_ctz(static_cast<unsigned>(hit));
          break;
        }
        cumv = _mm256_permutevar8x32_ps(run, _mm256_set1_epi32(7));
      }
      cum = _mm256_cvtss_f32(cumv);
    }
    if (k < 0) {  // the target rounded up to the total: the last category of positive probability
      k = C - 1;
      while (k > 0 && !(park[k] > 0.0f)) --k;
    }
    if (pr) {
      const vf inv_Z = set1(1.0f / Z);
      for (i = 0; i < nv; ++i) _mm256_storeu_ps(pr + i * kLanes, _mm256_mul_ps(_mm256_loadu_ps(pr + i * kLanes), inv_Z));
      if (rem)
        _mm256_maskstore_ps(pr + nv * kLanes, tmask, _mm256_mul_ps(_mm256_maskload_ps(pr + nv * kLanes, tmask), inv_Z));
    }
    std::memset(oh, 0, sizeof(float) * C);
    oh[k] = 1.0f;
    index[r] = static_cast<int32_t>(k);
  }
}

// ReinMax backward (reinmax_backward_row) for C > kLaneMaxC: max; the four sums with e_0 parked in
// out; one writing pass. mean(grad) is taken in closed form, (s_τ/Z_τ − half) + (H_0/Z_0 − t_0)·
// (Z_0/Z_0) + (g_k − half), i.e. from the sums rather than from the rounded entries.
PYALGO_AVX2_FN void reinmax_backward_long(const float* x, const int32_t* index, const float* g, const float* gp,
                                          float* out, float inv_tau, int64_t C, int64_t begin, int64_t end) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  const vi tmask = tail_mask(rem);
  const bool same_tau = inv_tau == 1.0f;
  const vf itau = set1(inv_tau), half_c = set1(0.5f), negz = set1(-0.0f);
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    const float* gr = g + r * C;
    const float* hr = gp ? gp + r * C : nullptr;
    float* o = out + r * C;
    const int32_t k = index[r];
    if (k < 0 || k >= C) {
      for (int64_t i = 0; i < C; ++i) o[i] = NAN;
      continue;
    }
    vf m0 = _mm256_set1_ps(-INFINITY);
    for (int64_t i = 0; i < nv; ++i) m0 = vmax(_mm256_loadu_ps(xr + i * kLanes), m0);
    if (rem) m0 = vmax(load_tail(xr + nv * kLanes, tmask, -INFINITY), m0);
    const vf mv = set1(hmax(m0));
    vf Z0 = _mm256_setzero_ps(), H0 = Z0, Zt = Z0, St = Z0;
    auto sums = [&](vf xv, vf gv, vf hv, float* dst, bool tail) PYALGO_AVX2_LAMBDA {
      const vf h = hr ? _mm256_fnmadd_ps(half_c, gv, hv) : _mm256_xor_ps(_mm256_mul_ps(half_c, gv), negz);
      const vf d = _mm256_sub_ps(xv, mv);
      const vf e0 = exp_nonpos(d), et = same_tau ? e0 : exp_nonpos(_mm256_mul_ps(d, itau));
      Z0 = _mm256_add_ps(Z0, e0);
      H0 = _mm256_fmadd_ps(e0, h, H0);
      Zt = _mm256_add_ps(Zt, et);
      St = _mm256_fmadd_ps(et, gv, St);
      if (tail)
        _mm256_maskstore_ps(dst, tmask, e0);
      else
        _mm256_storeu_ps(dst, e0);
    };
    for (int64_t i = 0; i < nv; ++i)
      sums(_mm256_loadu_ps(xr + i * kLanes), _mm256_loadu_ps(gr + i * kLanes),
           hr ? _mm256_loadu_ps(hr + i * kLanes) : _mm256_setzero_ps(), o + i * kLanes, false);
    if (rem)
      sums(load_tail(xr + nv * kLanes, tmask, -INFINITY), _mm256_maskload_ps(gr + nv * kLanes, tmask),
           hr ? _mm256_maskload_ps(hr + nv * kLanes, tmask) : _mm256_setzero_ps(), o + nv * kLanes, true);
    const float z0 = hsum(Z0), h0 = hsum(H0), zt = hsum(Zt), st = hsum(St);
    const float inv_Z0 = 1.0f / z0, inv_Zt = 1.0f / zt;
    const float t0 = h0 * inv_Z0, gk = gr[k];
    const float half = 0.5f * (gk + st * inv_Zt);
    const float extra = gk - half;
    const float mean = ((st * inv_Zt - half * (zt * inv_Zt)) + (h0 * inv_Z0 - t0 * (z0 * inv_Z0)) + extra) /
                       static_cast<float>(C);
    const vf vZ0 = set1(inv_Z0), vZt = set1(inv_Zt), vt0 = set1(t0), vhalf = set1(half), vmean = set1(mean);
    auto grads = [&](vf xv, vf gv, vf hv, vf e0) PYALGO_AVX2_LAMBDA {
      const vf h = hr ? _mm256_fnmadd_ps(half_c, gv, hv) : _mm256_xor_ps(_mm256_mul_ps(half_c, gv), negz);
      const vf et = same_tau ? e0 : exp_nonpos(_mm256_mul_ps(_mm256_sub_ps(xv, mv), itau));
      const vf a = _mm256_mul_ps(_mm256_mul_ps(et, vZt), _mm256_sub_ps(gv, vhalf));
      return _mm256_sub_ps(_mm256_fmadd_ps(_mm256_mul_ps(e0, vZ0), _mm256_sub_ps(h, vt0), a), vmean);
    };
    for (int64_t i = 0; i < nv; ++i)
      _mm256_storeu_ps(o + i * kLanes,
                       grads(same_tau ? _mm256_setzero_ps() : _mm256_loadu_ps(xr + i * kLanes),
                             _mm256_loadu_ps(gr + i * kLanes), hr ? _mm256_loadu_ps(hr + i * kLanes) : _mm256_setzero_ps(),
                             _mm256_loadu_ps(o + i * kLanes)));
    if (rem)
      _mm256_maskstore_ps(o + nv * kLanes, tmask,
                          grads(same_tau ? _mm256_setzero_ps() : load_tail(xr + nv * kLanes, tmask, -INFINITY),
                                _mm256_maskload_ps(gr + nv * kLanes, tmask),
                                hr ? _mm256_maskload_ps(hr + nv * kLanes, tmask) : _mm256_setzero_ps(),
                                _mm256_maskload_ps(o + nv * kLanes, tmask)));
    o[k] += extra;
  }
}

// The 32 uniforms of eight Philox blocks (lane l: block l) as -log(-log u), in column order.
PYALGO_AVX2_INL void gumbels_of(const Philox8& P, vf* out) {
  const vf ux = neg_log_neg_log(uniform_of(P.x)), uy = neg_log_neg_log(uniform_of(P.y));
  const vf uz = neg_log_neg_log(uniform_of(P.z)), uw = neg_log_neg_log(uniform_of(P.w));
  const vf a = _mm256_unpacklo_ps(ux, uy), b = _mm256_unpackhi_ps(ux, uy);
  const vf c = _mm256_unpacklo_ps(uz, uw), d = _mm256_unpackhi_ps(uz, uw);
  const vf e0 = _mm256_shuffle_ps(a, c, 0x44), e1 = _mm256_shuffle_ps(a, c, 0xEE);
  const vf e2 = _mm256_shuffle_ps(b, d, 0x44), e3 = _mm256_shuffle_ps(b, d, 0xEE);
  out[0] = _mm256_permute2f128_ps(e0, e1, 0x20);
  out[1] = _mm256_permute2f128_ps(e2, e3, 0x20);
  out[2] = _mm256_permute2f128_ps(e0, e1, 0x31);
  out[3] = _mm256_permute2f128_ps(e2, e3, 0x31);
}

// 32 uniforms of one row (groups g0 .. g0 + 7 of `stream`) as -log(-log u), in column order.
PYALGO_AVX2_INL void gumbel32(PhiloxKey key, int64_t row, int64_t g0, uint32_t stream, vf* out) {
  gumbels_of(philox8(group_counters(row, g0, stream), key), out);
}

// ... and 64 (groups g0 .. g0 + 15): the two Philox calls side by side, whose ten dependent rounds
// then overlap (one call alone leaves the multipliers waiting on its chain).
PYALGO_AVX2_INL void gumbel64(PhiloxKey key, int64_t row, int64_t g0, uint32_t stream, vf* out) {
  const Philox8 P = philox8(group_counters(row, g0, stream), key);
  const Philox8 Q = philox8(group_counters(row, g0 + 8, stream), key);
  gumbels_of(P, out);
  gumbels_of(Q, out + 4);
}

// z = (x − shift + G)·(1/τ) of a whole row into dst (C > kLaneMaxC), G from stream 0.
PYALGO_AVX2_INL void gumbel_logits_long(const float* xr, float shift, float inv_tau, PhiloxKey key, int64_t row,
                                        int64_t C, float* dst) {
  const vf itau = set1(inv_tau), sh = set1(shift);
  vf G[8];
  int64_t i0 = 0;
  for (; i0 + 64 <= C; i0 += 64) {
    gumbel64(key, row, i0 / 4, kSampleStream, G);
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      const vf xv = _mm256_loadu_ps(xr + i0 + 8 * q);
      // (x − shift − log(−log u)) · (1/τ), as GumbelLogits::fill
      _mm256_storeu_ps(dst + i0 + 8 * q, _mm256_mul_ps(_mm256_add_ps(_mm256_sub_ps(xv, sh), G[q]), itau));
    }
  }
  for (; i0 + 32 <= C; i0 += 32) {
    gumbel32(key, row, i0 / 4, kSampleStream, G);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const vf xv = _mm256_loadu_ps(xr + i0 + 8 * q);
      _mm256_storeu_ps(dst + i0 + 8 * q, _mm256_mul_ps(_mm256_add_ps(_mm256_sub_ps(xv, sh), G[q]), itau));
    }
  }
  if (i0 < C) {
    gumbel32(key, row, i0 / 4, kSampleStream, G);
    for (int q = 0; q < 4 && i0 + 8 * q < C; ++q) {
      const int left = static_cast<int>(C - i0 - 8 * q);
      const vi mk = tail_mask(left < 8 ? left : 8);
      const vf xv = _mm256_maskload_ps(xr + i0 + 8 * q, mk);
      _mm256_maskstore_ps(dst + i0 + 8 * q, mk, _mm256_mul_ps(_mm256_add_ps(_mm256_sub_ps(xv, sh), G[q]), itau));
    }
  }
}

// exp(z − m) of a parked row in place, returning Σ and (when g) Σ e·g.
PYALGO_AVX2_INL float exp_in_place(float* z, int64_t C, float m, const float* g, float* S) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  const vi tmask = tail_mask(rem);
  const vf mv = set1(m);
  vf Z = _mm256_setzero_ps(), Sv = Z;
  for (int64_t i = 0; i < nv; ++i) {
    const vf e = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(z + i * kLanes), mv));
    _mm256_storeu_ps(z + i * kLanes, e);
    Z = _mm256_add_ps(Z, e);
    if (g) Sv = _mm256_fmadd_ps(e, _mm256_loadu_ps(g + i * kLanes), Sv);
  }
  if (rem) {
    const vf e = exp_nonpos(_mm256_sub_ps(load_tail(z + nv * kLanes, tmask, -INFINITY), mv));
    _mm256_maskstore_ps(z + nv * kLanes, tmask, e);
    Z = _mm256_add_ps(Z, e);
    if (g) Sv = _mm256_fmadd_ps(e, _mm256_maskload_ps(g + nv * kLanes, tmask), Sv);
  }
  if (S) *S = hsum(Sv);
  return hsum(Z);
}

// Largest value of a parked row and its first index.
PYALGO_AVX2_INL float argmax_long(const float* z, int64_t C, int64_t* k_out) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  vf m = _mm256_set1_ps(-INFINITY);
  vi kv = _mm256_set1_epi32(-1), idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const vi step = _mm256_set1_epi32(kLanes);
  for (int64_t i = 0; i < nv; ++i, idx = _mm256_add_epi32(idx, step)) {
    const vf v = _mm256_loadu_ps(z + i * kLanes);
    const vf up = gt(v, m);
    m = sel(up, v, m);
    kv = _mm256_blendv_epi8(kv, idx, _mm256_castps_si256(up));
  }
  if (rem) {
    const vf v = load_tail(z + nv * kLanes, tail_mask(rem), -INFINITY);
    const vf up = gt(v, m);
    m = sel(up, v, m);
    kv = _mm256_blendv_epi8(kv, idx, _mm256_castps_si256(up));
  }
  const float mm = hmax(m);
  alignas(32) float ms[kLanes];
  alignas(32) int32_t ks[kLanes];
  _mm256_store_ps(ms, m);
  _mm256_store_si256(reinterpret_cast<vi*>(ks), kv);
  int64_t k = -1;
  for (int l = 0; l < kLanes; ++l)
    if (ms[l] == mm && ks[l] >= 0 && (k < 0 || ks[l] < k)) k = ks[l];
  *k_out = k;
  return mm;
}

// gumbel_softmax_row for C > kLaneMaxC: z parked in y, argmax, then (soft) exp and normalise.
PYALGO_AVX2_FN void gumbel_softmax_long(const float* x, float* y, int32_t* index, float inv_tau, bool hard,
                                        PhiloxKey key, int64_t C, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float xmax;
    int64_t k = -1;
    float m = -INFINITY;
    if (long_row_max(xr, C, &xmax)) {
      gumbel_logits_long(xr, gumbel_shift(xmax, inv_tau), inv_tau, key, r, C, yr);
      m = argmax_long(yr, C, &k);
    }
    if (k < 0 || !(m < INFINITY)) {
      for (int64_t i = 0; i < C; ++i) yr[i] = NAN;
      index[r] = -1;
      continue;
    }
    index[r] = static_cast<int32_t>(k);
    if (hard) {
      std::memset(yr, 0, sizeof(float) * C);
      yr[k] = 1.0f;
      continue;
    }
    const vf inv_Z = set1(1.0f / exp_in_place(yr, C, m, nullptr, nullptr));
    const int64_t nv = C / kLanes;
    const int rem = static_cast<int>(C % kLanes);
    for (int64_t i = 0; i < nv; ++i) _mm256_storeu_ps(yr + i * kLanes, _mm256_mul_ps(_mm256_loadu_ps(yr + i * kLanes), inv_Z));
    if (rem) {
      const vi tmask = tail_mask(rem);
      _mm256_maskstore_ps(yr + nv * kLanes, tmask, _mm256_mul_ps(_mm256_maskload_ps(yr + nv * kLanes, tmask), inv_Z));
    }
  }
}

// softmax_vjp_row (ST: z = x/τ; ST-GS/GS: z = (x + G)/τ) for C > kLaneMaxC: z parked in out, max,
// exp in place with Σe and Σe·g, one writing pass; the generic bodies' rescue as softmax_vjp_lanes.
PYALGO_AVX2_INL void scaled_logits_long(const float* xr, float shift, float inv_tau, int64_t C, float* o) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  const vf itau = set1(inv_tau), sh = set1(shift);
  for (int64_t i = 0; i < nv; ++i)
    _mm256_storeu_ps(o + i * kLanes, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i * kLanes), sh), itau));
  if (rem) {
    const vi tmask = tail_mask(rem);
    _mm256_maskstore_ps(o + nv * kLanes, tmask,
                        _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(xr + nv * kLanes, tmask), sh), itau));
  }
}

PYALGO_AVX2_INL float long_max(const float* o, int64_t C) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  vf mv = _mm256_set1_ps(-INFINITY);
  for (int64_t i = 0; i < nv; ++i) mv = vmax(_mm256_loadu_ps(o + i * kLanes), mv);
  if (rem) mv = vmax(load_tail(o + nv * kLanes, tail_mask(rem), -INFINITY), mv);
  return hmax(mv);
}

PYALGO_AVX2_FN void softmax_vjp_long(const float* x, const float* g, float* out, float inv_tau, bool gumbel,
                                     PhiloxKey key, int64_t C, int64_t begin, int64_t end) {
  const int64_t nv = C / kLanes;
  const int rem = static_cast<int>(C % kLanes);
  const vi tmask = tail_mask(rem);
  const vf itau = set1(inv_tau);
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * C;
    const float* gr = g + r * C;
    float* o = out + r * C;
    if (gumbel)
      gumbel_logits_long(xr, 0.0f, inv_tau, key, r, C, o);
    else
      scaled_logits_long(xr, 0.0f, inv_tau, C, o);
    float m = long_max(o, C);
    if (!(m > -big_logit<float>() && m < big_logit<float>())) {  // rare: the rescue
      const float xmax = long_max(xr, C);
      const float shift = gumbel ? gumbel_shift(xmax, inv_tau) : (finite_logit(m) ? 0.0f : xmax);
      if (shift != 0.0f) {
        if (gumbel)
          gumbel_logits_long(xr, shift, inv_tau, key, r, C, o);
        else
          scaled_logits_long(xr, shift, inv_tau, C, o);
        m = long_max(o, C);
      }
    }
    float S;
    const float Z = exp_in_place(o, C, m, gr, &S);
    const float inv_Z = 1.0f / Z;
    const vf vZ = set1(inv_Z), mean_g = set1(S * inv_Z);
    for (int64_t i = 0; i < nv; ++i) {
      const vf p = _mm256_mul_ps(_mm256_loadu_ps(o + i * kLanes), vZ);
      _mm256_storeu_ps(o + i * kLanes,
                       _mm256_mul_ps(_mm256_mul_ps(itau, p), _mm256_sub_ps(_mm256_loadu_ps(gr + i * kLanes), mean_g)));
    }
    if (rem) {
      const vf p = _mm256_mul_ps(_mm256_maskload_ps(o + nv * kLanes, tmask), vZ);
      _mm256_maskstore_ps(o + nv * kLanes, tmask,
                          _mm256_mul_ps(_mm256_mul_ps(itau, p),
                                        _mm256_sub_ps(_mm256_maskload_ps(gr + nv * kLanes, tmask), mean_g)));
    }
  }
}

// Runtime C -> the instantiation for that C (1 <= C <= kLaneMaxC).
template <typename F>
inline void with_lane_c(int64_t C, const F& f) {
  switch (C) {
#define PYALGO_LANE_CASE(c) \
  case c:                   \
    f(std::integral_constant<int, c>{}); \
    break;
    PYALGO_LANE_CASE(1) PYALGO_LANE_CASE(2) PYALGO_LANE_CASE(3) PYALGO_LANE_CASE(4)
    PYALGO_LANE_CASE(5) PYALGO_LANE_CASE(6) PYALGO_LANE_CASE(7) PYALGO_LANE_CASE(8)
    PYALGO_LANE_CASE(9) PYALGO_LANE_CASE(10) PYALGO_LANE_CASE(11) PYALGO_LANE_CASE(12)
    PYALGO_LANE_CASE(13) PYALGO_LANE_CASE(14) PYALGO_LANE_CASE(15) PYALGO_LANE_CASE(16)
    PYALGO_LANE_CASE(17) PYALGO_LANE_CASE(18) PYALGO_LANE_CASE(19) PYALGO_LANE_CASE(20)
    PYALGO_LANE_CASE(21) PYALGO_LANE_CASE(22) PYALGO_LANE_CASE(23) PYALGO_LANE_CASE(24)
    PYALGO_LANE_CASE(25) PYALGO_LANE_CASE(26) PYALGO_LANE_CASE(27) PYALGO_LANE_CASE(28)
    PYALGO_LANE_CASE(29) PYALGO_LANE_CASE(30) PYALGO_LANE_CASE(31) PYALGO_LANE_CASE(32)
#undef PYALGO_LANE_CASE
    default:
      break;
  }
}

}  // namespace simd
}  // namespace discrete
}  // namespace pyalgo

#endif
