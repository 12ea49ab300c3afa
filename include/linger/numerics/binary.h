// linger integer numerics: the binary elementwise family (numerics.md §3).
// int8 a at Qa, int8 b at Qb -> int8 at Qo; broadcasting is the caller's.
//
// iqAdd: a' = sat8(rhu_shift(a, Qa - Qo)), b' likewise, y = sat8(a' + b')   (two roundings)
// iqMul: y = sat8(rhu_shift(a * b, Qa + Qb - Qo))                           (int64 product)
// iqDiv: y = sat8(floor(a / b * 2^(Qo - Qa + Qb) + 1/2))                    (exact rational, round half up)
//        b == 0: y = 127 for a > 0, -128 for a < 0, 0 for a == 0 (the saturated limit; 0/0 = 0).
//
// binary_int8() dispatches on the op once per call site; a new op of the family
// is one function here plus one case in BinaryParams::make / binary_int8.
#pragma once

#include <cstdint>

#include "linger/numerics/elementwise.h"
#include "linger/numerics/fixedpoint.h"
#include "linger/op_ids.h"

namespace linger {
namespace numerics {

// shift = Qa + Qb - Qo.
inline int8_t iqmul(int8_t a, int8_t b, int shift) {
  return sat8(rhu_shift(static_cast<int64_t>(a) * static_cast<int64_t>(b), shift));
}

// floor(n / d + 1/2) for d > 0 (exact, any sign of n, |n| < 2^62).
inline int64_t div_round_half_up(int64_t n, int64_t d) {
  int64_t q = n / d;
  int64_t r = n % d;
  if (r < 0) {  // make it a floor division
    q -= 1;
    r += d;
  }
  return (2 * r >= d) ? q + 1 : q;
}

// s = Qo - Qa + Qb.
inline int8_t iqdiv(int8_t a, int8_t b, int s) {
  if (b == 0) return a > 0 ? int8_t{127} : (a < 0 ? int8_t{-128} : int8_t{0});
  if (a == 0) return 0;
  int64_t n = a, d = b;
  if (d < 0) {
    n = -n;
    d = -d;
  }
  if (s >= 0) {
    if (s > 40) return n > 0 ? int8_t{127} : int8_t{-128};  // |n| * 2^40 / 128 > 2^32: saturated
    n *= int64_t{1} << s;
  } else {
    if (-s > 40) return 0;  // |n / d| <= 128 * 2^-41 < 1/2
    d *= int64_t{1} << (-s);
  }
  return sat8(div_round_half_up(n, d));
}

// The per-call constants of one binary op.
struct BinaryParams {
  OpId op = OpId::iqAdd;
  int s0 = 0, s1 = 0;  // iqAdd: Qa-Qo, Qb-Qo; iqMul: Qa+Qb-Qo; iqDiv: Qo-Qa+Qb
  static BinaryParams make(OpId op, int qa, int qb, int qo) {
    BinaryParams p;
    p.op = op;
    switch (op) {
      case OpId::iqMul: p.s0 = qa + qb - qo; break;
      case OpId::iqDiv: p.s0 = qo - qa + qb; break;
      default: p.s0 = qa - qo; p.s1 = qb - qo; break;
    }
    return p;
  }
};

inline bool is_binary_op(OpId op) { return op == OpId::iqAdd || op == OpId::iqMul || op == OpId::iqDiv; }

// Applies the op to n element pairs a[i*da], b[i*db] -> y[i] (da/db 0 for a broadcast scalar).
inline void binary_int8(const BinaryParams& p, const int8_t* a, int64_t da, const int8_t* b, int64_t db, int8_t* y,
                        int64_t n) {
  switch (p.op) {
    case OpId::iqMul:
      for (int64_t i = 0; i < n; ++i) y[i] = iqmul(a[i * da], b[i * db], p.s0);
      return;
    case OpId::iqDiv:
      for (int64_t i = 0; i < n; ++i) y[i] = iqdiv(a[i * da], b[i * db], p.s0);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) y[i] = iqadd(a[i * da], b[i * db], p.s0, p.s1);
      return;
  }
}

}  // namespace numerics
}  // namespace linger
