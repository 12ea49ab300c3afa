// linger integer numerics: the reduction family (numerics.md §3). One row of n
// int8 codes x[i*stride] at Qx -> one int8 at Qo.
//
// iqSum: S = sum x_i (int64), y = sat8(rhu_shift(S, Qx - Qo)).
// iqVar: with S1 = sum x_i, S2 = sum x_i^2 (int64) and m = n - (unbiased ? 1 : 0),
//        var * 2^(2Qx) = (n*S2 - S1^2) / (n*m), so
//        y = sat8(floor((n*S2 - S1^2) * 2^(Qo - 2Qx) / (n*m) + 1/2))  (exact rational, round half up).
//        m == 0 (one element, unbiased) gives 0. Valid for 1 <= n <= kMaxReduceCount
//        (then n*S2 <= 2^54 and every product fits int64).
// iqMean: S = sum x_i (int64), y = sat8(floor(S * 2^(Qo - Qx) / n + 1/2)) (exact rational, round half up).
//        linger exports it with Qo = Qx (the mean keeps the input exponent, like AvgPool2dInt), where it is
//        sat8(floor(S/n + 1/2)); other Qo are defined by the same formula.
#pragma once

#include <cstdint>
#include <limits>

#include "linger/numerics/binary.h"
#include "linger/numerics/fixedpoint.h"
#include "linger/op_ids.h"

namespace linger {
namespace numerics {

constexpr int64_t kMaxReduceCount = int64_t{1} << 20;

inline int8_t iqsum_row(const int8_t* x, int64_t n, int64_t stride, int qx, int qo) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i * stride];
  return sat8(rhu_shift(s, qx - qo));
}

// floor(num * 2^t / den + 1/2) saturated to int8, for num >= 0, den > 0, num <= 2^54, den <= 2^40.
inline int8_t scaled_ratio8(int64_t num, int64_t den, int t) {
  if (num == 0) return 0;
  if (t >= 0) {
    if (t > 60 || num > (std::numeric_limits<int64_t>::max() >> (t + 1))) return 127;  // quotient > 2^21
    num <<= t;
  } else {
    if (-t > 62 || den > (std::numeric_limits<int64_t>::max() >> (-t + 1))) return 0;  // quotient < 2^-7
    den <<= -t;
  }
  return sat8(div_round_half_up(num, den));
}

// floor(num * 2^t / den + 1/2) saturated to int8, for any sign of num, den > 0, |num| <= 2^54, den <= 2^40.
inline int8_t scaled_ratio8_signed(int64_t num, int64_t den, int t) {
  if (num >= 0) return scaled_ratio8(num, den, t);
  // floor(-a + 1/2) = -ceil(a - 1/2); for a = |num| 2^t / den: a saturates at -128 above 2^21, is 0 below 1/2.
  if (t >= 0) {
    if (t > 60 || -num > (std::numeric_limits<int64_t>::max() >> (t + 1))) return -128;
    num *= int64_t{1} << t;
  } else {
    if (-t > 62 || den > (std::numeric_limits<int64_t>::max() >> (-t + 1))) return 0;  // |quotient| < 2^-7
    den <<= -t;
  }
  return sat8(rhu_div(num, den));
}

inline int8_t iqmean_row(const int8_t* x, int64_t n, int64_t stride, int qx, int qo) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i * stride];
  return scaled_ratio8_signed(s, n, qo - qx);
}

inline int8_t iqvar_row(const int8_t* x, int64_t n, int64_t stride, int qx, int qo, bool unbiased) {
  const int64_t m = n - (unbiased ? 1 : 0);
  if (m <= 0) return 0;
  int64_t s1 = 0, s2 = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = x[i * stride];
    s1 += v;
    s2 += v * v;
  }
  return scaled_ratio8(n * s2 - s1 * s1, n * m, qo - 2 * qx);
}

struct ReduceParams {
  OpId op = OpId::iqSum;
  int qx = 0, qo = 0;
  bool unbiased = true;  // iqVar only
};

inline int8_t reduce_row_int8(const ReduceParams& p, const int8_t* x, int64_t n, int64_t stride) {
  switch (p.op) {
    case OpId::iqVar: return iqvar_row(x, n, stride, p.qx, p.qo, p.unbiased);
    case OpId::iqMean: return iqmean_row(x, n, stride, p.qx, p.qo);
    default: return iqsum_row(x, n, stride, p.qx, p.qo);
  }
}

inline bool is_reduce_op(OpId op) { return op == OpId::iqSum || op == OpId::iqVar || op == OpId::iqMean; }

}  // namespace numerics
}  // namespace linger
