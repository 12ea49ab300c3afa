// linger integer numerics: the TableInt family (domain "linger") -- elementwise
// activations of an int8 input given by a 256-entry int8 table per channel.
//
// y = table[ch][x + 128]: int8 x at Qx -> int8 at Qo. The runtime only gathers
// (table_lookup); the table is an input of the node (an initializer), filled by
// table_entry() below in the PyTorch eval forward and at export, so the file
// carries the integers and the runtime never re-derives them.
//
// table_entry(fn, c, qx, qo, alpha_q16) = the int8 code at Qo of f(c * 2^-qx),
// rounded half up (floor(v + 1/2)) and saturated to [-128, 127]:
//   kHardsigmoid  f(x) = clamp(x/6 + 1/2, 0, 1)      exact rational arithmetic:
//                 N = c*2^(s+E) + 3*2^(qo+E) (s = qo-qx, E = max(0, -s, 1-qo)),
//                 N = clamp(N, 0, 6*2^(qo+E)), code = sat8(rhu_div(N, 6*2^E))
//   kHardswish    f(x) = x * clamp(x + 3, 0, 6) / 6   exact: with F = max(0, qx),
//                 a = c*2^(F-qx), P = a * clamp(a + 3*2^F, 0, 6*2^F) (= x*clamp*2^(2F)),
//                 code = sat8(rhu(P * 2^(qo-2F) / 6))
//   kLeakyRelu,   f(x) = x (x >= 0), alpha*x (x < 0), alpha given as alpha_q16 =
//   kPrelu        quantize(alpha, Q16, 32 bits) (round half up); exact:
//                 c >= 0: sat8(rhu_shift(c, qx - qo)); c < 0: sat8(rhu_shift(c*alpha_q16, qx + 16 - qo))
//   kSilu         f(x) = x / (1 + exp(-x))           in double (std::exp), then
//   kGelu         f(x) = x/2 * (1 + erf(x/sqrt(2)))  floor(f * 2^qo + 1/2), saturated.
//   kGeluTanh     f(x) = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))  (GELU approximate='tanh')
//                 Table construction only (not an integer path): the table is
//                 stored in the exported file, so every consumer gathers the
//                 same integers whatever its libm.
// Valid exponents: qx, qo in [kTableMinExponent, kTableMaxExponent] (table_exponents_ok);
// there every intermediate above fits int64 exactly.
#pragma once

#include <cmath>
#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

enum class TableFn : int { kHardswish = 0, kHardsigmoid = 1, kLeakyRelu = 2, kPrelu = 3, kSilu = 4, kGelu = 5, kGeluTanh = 6 };
constexpr int kTableFnCount = 7;
constexpr int kTableMinExponent = -16;
constexpr int kTableMaxExponent = 24;
constexpr int kTableAlphaExponent = 16;  // PReLU / LeakyReLU slopes: int32 at Q16
constexpr int kTableSize = 256;

inline const char* table_fn_name(TableFn fn) {
  switch (fn) {
    case TableFn::kHardswish: return "hardswish";
    case TableFn::kHardsigmoid: return "hardsigmoid";
    case TableFn::kLeakyRelu: return "leaky_relu";
    case TableFn::kPrelu: return "prelu";
    case TableFn::kSilu: return "silu";
    case TableFn::kGelu: return "gelu";
    case TableFn::kGeluTanh: return "gelu_tanh";
  }
  return "";
}

constexpr bool table_exponents_ok(int qx, int qo) {
  return qx >= kTableMinExponent && qx <= kTableMaxExponent && qo >= kTableMinExponent && qo <= kTableMaxExponent;
}

constexpr int64_t pow2(int e) { return int64_t{1} << e; }  // 0 <= e <= 62

inline int8_t table_entry(TableFn fn, int c, int qx, int qo, int32_t alpha_q16) {
  switch (fn) {
    case TableFn::kHardsigmoid: {
      const int s = qo - qx;
      int e = 0;
      if (-s > e) e = -s;
      if (1 - qo > e) e = 1 - qo;
      int64_t n = c * pow2(s + e) + 3 * pow2(qo + e);
      const int64_t hi = 6 * pow2(qo + e);
      n = n < 0 ? 0 : (n > hi ? hi : n);
      return sat8(rhu_div(n, 6 * pow2(e)));
    }
    case TableFn::kHardswish: {
      const int f = qx > 0 ? qx : 0;
      const int64_t a = c * pow2(f - qx);
      int64_t t = a + 3 * pow2(f);
      const int64_t hi = 6 * pow2(f);
      t = t < 0 ? 0 : (t > hi ? hi : t);
      const int64_t p = a * t;  // |p| < 2^38
      const int k = qo - 2 * f;
      if (k >= 0) return sat8(rhu_div(p * pow2(k), 6));
      if (-k > 40) return 0;  // |p / (6 * 2^-k)| < 1/2
      return sat8(rhu_div(p, 6 * pow2(-k)));
    }
    case TableFn::kLeakyRelu:
    case TableFn::kPrelu:
      if (c >= 0) return sat8(rhu_shift(c, qx - qo));
      return sat8(rhu_shift(static_cast<int64_t>(c) * alpha_q16, qx + kTableAlphaExponent - qo));
    case TableFn::kSilu:
    case TableFn::kGelu:
    case TableFn::kGeluTanh: {
      const double x = std::ldexp(static_cast<double>(c), -qx);
      const double y =
          fn == TableFn::kSilu ? x / (1.0 + std::exp(-x))
          : fn == TableFn::kGelu
              ? 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)))
              : 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
      const double v = std::floor(std::ldexp(y, qo) + 0.5);
      return static_cast<int8_t>(v < -128.0 ? -128 : (v > 127.0 ? 127 : static_cast<int>(v)));
    }
  }
  return 0;
}

// Fills table[256] (entry c + 128 for code c).
inline void table_fill(TableFn fn, int qx, int qo, int32_t alpha_q16, int8_t* table) {
  for (int c = -128; c < 128; ++c) table[c + 128] = table_entry(fn, c, qx, qo, alpha_q16);
}

inline int8_t table_lookup(int8_t x, const int8_t* table) { return table[static_cast<int>(x) + 128]; }

}  // namespace numerics
}  // namespace linger
