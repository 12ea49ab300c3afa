// linger integer numerics: elementwise ops (numerics.md §3).
//
// iqAdd: each operand rescaled on its own to Qo, a' = sat8(rhu_shift(a, Qa - Qo)),
//        b' likewise, then y = sat8(a' + b') -- two roundings. iqSub with '-'.
// Relu:  max(0, x), Q passes through.
// Quant / Dequant: see quantize.h.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

inline int8_t iq_rescale8(int64_t a, int shift) { return sat8(rhu_shift(a, shift)); }

// shift_a = Qa - Qo, shift_b = Qb - Qo.
inline int8_t iqadd(int8_t a, int8_t b, int shift_a, int shift_b) {
  return sat8(static_cast<int64_t>(iq_rescale8(a, shift_a)) + iq_rescale8(b, shift_b));
}

inline int8_t iqsub(int8_t a, int8_t b, int shift_a, int shift_b) {
  return sat8(static_cast<int64_t>(iq_rescale8(a, shift_a)) - iq_rescale8(b, shift_b));
}

inline int8_t relu8(int8_t x) { return x < 0 ? int8_t{0} : x; }

}  // namespace numerics
}  // namespace linger

namespace linger {
namespace numerics {

// iqClamp: integer thresholds lo <= hi (the bounds quantized at the input exponent,
// quantize(min, Qx, 8) and quantize(max, Qx, 8)); Q passes through.
inline int8_t iqclamp(int8_t x, int lo, int hi) { return x < lo ? static_cast<int8_t>(lo) : (x > hi ? static_cast<int8_t>(hi) : x); }

// iqCat: each input rescaled on its own to Qo, sat8(rhu_shift(a, Qa - Qo)), then concatenated.
inline int8_t iqcat_rescale(int8_t a, int shift) { return iq_rescale8(a, shift); }

}  // namespace numerics
}  // namespace linger
