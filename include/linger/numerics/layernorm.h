// linger integer numerics: LayerNormInt (numerics.md §3; the engine's formats, thinker-integer-runtime.md).
//
// One row of T int8 codes x_i at Qx is normalised; gamma int16 at Qw, beta int32 at 10 + Qw, one pair per
// element (LayerNorm) or per channel of `inner` consecutive elements (GroupNorm: the row is C/G channels of
// `inner` = H*W elements; LayerNorm has inner = 1).
//
//   S1 = sum x_i, S2 = sum x_i^2                       (int64, exact)
//   D  = T*S2 - S1^2 + eps_q                           (int64, >= 0; eps_q = floor(eps * 2^(2Qx) * T^2 + 1/2),
//                                                       computed by linger from the module's eps, an attribute)
//   F  = min(24, (62 - bitlen(D)) / 2)                 (fractional bits of the square root)
//   r  = isqrt(D * 4^F) = floor(sqrt(D) * 2^F)         (exact integer square root)
//   n_i = sat16(floor((T*x_i - S1) * 2^(10+F) / r + 1/2))   normalised value, int16 at Q10 (r == 0: n_i = 0)
//   acc_i = sat32(n_i * gamma_c + beta_c)              (int64 product and sum, then saturated to int32)
//   y_i = sat_b(rhu_shift(acc_i, 10 + Qw - Qo))        (b = 8 output bits)
//
// (x - mean)/sqrt(var + eps) = (T x - S1)/sqrt(T S2 - S1^2 + eps 2^(2Qx) T^2) on the codes, so only eps_q
// depends on the scale. Unlike the engine (int32 products that wrap for large T), every product is exact
// for 1 <= T <= kMaxLayerNormCount and 0 <= eps_q <= kMaxLayerNormEpsQ: |T x - S1| < 2^25, D < 2^53.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

constexpr int64_t kMaxLayerNormCount = int64_t{1} << 16;
constexpr int64_t kMaxLayerNormEpsQ = int64_t{1} << 52;
constexpr int kLayerNormQ = 10;  // the normalised value's exponent

// floor(sqrt(v)) for v >= 0, exact (bit-by-bit).
inline uint64_t isqrt_u64(uint64_t v) {
  uint64_t res = 0;
  uint64_t bit = uint64_t{1} << 62;
  while (bit > v) bit >>= 2;
  while (bit != 0) {
    if (v >= res + bit) {
      v -= res + bit;
      res = (res >> 1) + bit;
    } else {
      res >>= 1;
    }
    bit >>= 2;
  }
  return res;
}

inline int bit_length_u64(uint64_t v) {
  int n = 0;
  while (v != 0) {
    ++n;
    v >>= 1;
  }
  return n;
}

struct LayerNormParams {
  int64_t count = 1;  // T: elements per row
  int64_t inner = 1;  // elements sharing one gamma/beta (1: LayerNorm; H*W: GroupNorm); count % inner == 0
  int64_t eps_q = 0;
  int shift = 0;      // 10 + Qw - Qo
  int out_bits = 8;
};

// One row: x[T] -> y[T]; gamma/beta hold T/inner values for this row.
template <typename OutT>
inline void layernorm_row(const int8_t* x, const int16_t* gamma, const int32_t* beta, OutT* y,
                          const LayerNormParams& p) {
  const int64_t t = p.count;
  int64_t s1 = 0, s2 = 0;
  for (int64_t i = 0; i < t; ++i) {
    const int64_t v = x[i];
    s1 += v;
    s2 += v * v;
  }
  const int64_t d = t * s2 - s1 * s1 + p.eps_q;
  int f = (62 - bit_length_u64(static_cast<uint64_t>(d))) / 2;
  if (f > 24) f = 24;
  const int64_t r = static_cast<int64_t>(isqrt_u64(static_cast<uint64_t>(d) << (2 * f)));
  for (int64_t i = 0; i < t; ++i) {
    const int64_t num = t * x[i] - s1;
    const int64_t n = r == 0 ? 0 : sat(rhu_div(num * (int64_t{1} << (kLayerNormQ + f)), r), 16);
    const int64_t c = i / p.inner;
    const int64_t acc = sat(n * gamma[c] + beta[c], 32);
    y[i] = static_cast<OutT>(sat(rhu_shift(acc, p.shift), p.out_bits));
  }
}

// rows consecutive rows; row k uses gamma/beta at (k % groups) * (T / inner).
template <typename OutT>
inline void layernorm_int(const int8_t* x, const int16_t* gamma, const int32_t* beta, OutT* y, int64_t rows,
                          int64_t groups, const LayerNormParams& p) {
  const int64_t per_row = p.count / p.inner;
  for (int64_t k = 0; k < rows; ++k) {
    const int64_t g = (k % groups) * per_row;
    layernorm_row(x + k * p.count, gamma + g, beta + g, y + k * p.count, p);
  }
}

}  // namespace numerics
}  // namespace linger
