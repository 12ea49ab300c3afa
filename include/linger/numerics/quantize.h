// linger integer numerics: float <-> integer conversion and exponent choice.
//
// Representation (numerics.md §1): a quantized tensor is an integer q plus a
// per-tensor exponent Q; the real value is q * 2^-Q. The ONNX dialect writes
// the scale 2^Q as a float attribute.
#pragma once

#include <cmath>
#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

// Exponents are kept in [kMinExponent, kMaxExponent]: every 2^Q is then an
// exact float32, and a sum of two exponents (bias at Qx+Qw) stays far inside
// the range where rhu_shift is defined.
constexpr int kMinExponent = -32;
constexpr int kMaxExponent = 40;

// The exponent chosen for a range r == 0 (an all-zero tensor): any Q
// represents it exactly; 0 is the documented choice.
constexpr int kZeroRangeExponent = 0;

constexpr int clamp_exponent(int q) {
  return q < kMinExponent ? kMinExponent : (q > kMaxExponent ? kMaxExponent : q);
}

// choose_exponent(r, b): the largest Q with r * 2^Q <= bound(b), i.e.
// floor(log2(bound(b) / r)), computed exactly (no log rounding), clamped to
// [kMinExponent, kMaxExponent]. One rule for training and eval: a tensor whose
// max |x| equals r is quantized without saturation.
// r == 0 (or negative, or NaN) gives kZeroRangeExponent; r == +inf gives kMinExponent.
inline int choose_exponent(double r, int bits) {
  if (!(r > 0.0)) return kZeroRangeExponent;
  if (std::isinf(r)) return kMinExponent;
  const double b = static_cast<double>(bound(bits));
  double est = std::floor(std::log2(b / r));
  if (est < kMinExponent - 2) return kMinExponent;
  if (est > kMaxExponent + 2) return kMaxExponent;
  int q = static_cast<int>(est);
  // Fix the estimate with exact comparisons (ldexp of a double is exact here).
  while (std::ldexp(r, q) > b) --q;
  while (std::ldexp(r, q + 1) <= b) ++q;
  return clamp_exponent(q);
}

// quantize(x, Q, b) = sat_b(floor(x * 2^Q + 1/2)); the product and the +1/2
// are done in double, which is exact for every float32 x and |Q| <= 64.
// +-inf saturate. NaN maps to 0 here; op boundaries (torch ops, the runtime's
// Quant kernel) reject NaN with an error before calling this.
inline int64_t quantize(float x, int q_exp, int bits) {
  if (std::isnan(x)) return 0;
  const double v = std::floor(std::ldexp(static_cast<double>(x), q_exp) + 0.5);
  const double hi = static_cast<double>(bound(bits));
  const double lo = static_cast<double>(lowest(bits));
  if (v >= hi) return bound(bits);
  if (v <= lo) return lowest(bits);
  return static_cast<int64_t>(v);
}

// dequantize(q, Q) = q * 2^-Q, exact in float32 for |q| < 2^24.
inline float dequantize(int64_t q, int q_exp) {
  return static_cast<float>(std::ldexp(static_cast<double>(q), -q_exp));
}

// The scale attribute written to ONNX: 2^Q as float.
inline float exponent_to_scale(int q_exp) { return std::ldexp(1.0f, q_exp); }

// scale -> exponent. Returns false when the scale is not an exact positive
// power of two (every consumer must reject such a scale).
inline bool scale_to_exponent(double scale, int* q_exp) {
  if (!(scale > 0.0) || std::isinf(scale)) return false;
  int e = 0;
  const double m = std::frexp(scale, &e);  // scale = m * 2^e, m in [0.5, 1)
  if (m != 0.5) return false;
  *q_exp = e - 1;
  return true;
}

// Activation statistics: exponential moving average of a per-batch max |x|
// with momentum m (0.1). Start-up correction: the first observation (running
// still 0) is taken as is, so eval after one batch is already calibrated.
inline float ema_update(float running, float observed, float momentum) {
  if (!(running > 0.0f)) return observed;
  return static_cast<float>((1.0 - static_cast<double>(momentum)) * running +
                            static_cast<double>(momentum) * observed);
}

}  // namespace numerics
}  // namespace linger
