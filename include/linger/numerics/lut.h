// linger integer numerics: iqSigmoid / iqTanh (numerics.md §3), the NPU's 16-segment
// piecewise-linear tables (shared/reference/luna-sigmoid-tanh-tables.md, bit-exact).
//
// to_q11(x, qx) = sat16(rhu_shift(x, qx - 11))
//     an integer at exponent qx -> int16 at Q11 (negative shift = exact left shift, then
//     saturate). Any int64 x, any int qx.
//
// luna_sigmoid_q11(x), x int16 at Q11 -> int8 at Q7 in [0, 127]:
//     a = |x| (x = -32768 gives a = 32768); j = the first j in 1..16 with a <= bands[j];
//     row r = j - 1, shift = 13 (j <= 5), 14 (6..9), 16 (10..13), 19 (14..16);
//     y15 = floor(slope[r] * x / 2^shift) + (x >= 0 ? bias_pos[r] : bias_neg[r])   (x signed)
//     y   = clamp(floor(y15 / 256 + 1/2), 0, 127) = clamp(rhu_shift(y15, 8), 0, 127)
// luna_tanh_q11(x), x int16 at Q11 -> int8 at Q7 in [-128, 127]:
//     a = |x|, except x = -32768 gives a = 32767; segment and row as above (tanh bands);
//     shift = 11 (j <= 5), 12 (6..9), 14 (10..13), 18 (14..16);
//     x >= 0: y15 =  floor( slope[r] * a / 2^shift) + bias[r]
//     x <  0: y15 =  floor(-slope[r] * a / 2^shift) - bias[r]
//     y   = clamp(rhu_shift(y15, 8), -128, 127)
//     floor() is exact (an arithmetic right shift of the int32 product; |slope * a| < 2^31).
// Spot values: sigmoid(0) = 64, sigmoid(32767) = 127, sigmoid(-32768) = 0,
//              tanh(0) = 0, tanh(32767) = 127, tanh(-32768) = -128.
// Accuracy (checked exhaustively by the tests): within 1 LSB (Q7) of 128*sigmoid(x/2^11)
// and 128*tanh(x/2^11) for every int16 x.
//
// iqsigmoid(x, qx) / iqtanh(x, qx): int8 x at Qx -> to_q11 -> table -> int8 at Q7.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

constexpr int kLutInExponent = 11;   // the tables take int16 at Q11
constexpr int kLutOutExponent = 7;   // and give int8 at Q7

inline int16_t to_q11(int64_t x, int qx) { return sat16(rhu_shift(x, qx - kLutInExponent)); }

namespace lut_detail {

// Segment upper bounds on |x|; bands[0] = 0 is not a bound (the first segment is a <= bands[1]).
constexpr int32_t kSigmoidBands[17] = {0,    971,  1699, 2347,  2974,  3614,  4291,  5026, 5861,
                                       6831, 7864, 8987, 10375, 11594, 13168, 14730, 32768};
constexpr int32_t kSigmoidSlopes[16] = {32316, 29471, 25891, 22068, 18225, 29057, 22206, 16113,
                                        10881, 27353, 16611, 9242,  4618,  20670, 8610,  693};
constexpr int32_t kSigmoidBiasPos[16] = {16384, 16721, 17464, 18559, 19954, 21585, 23380, 25249,
                                         27121, 28807, 30096, 31107, 31839, 32199, 32502, 32724};
constexpr int32_t kSigmoidBiasNeg[16] = {16384, 16047, 15304, 14209, 12814, 11183, 9388, 7519,
                                         5647,  3961,  2672,  1661,  929,   569,   266,  44};

constexpr int32_t kTanhBands[17] = {0,    512,  888,  1226, 1558, 1899, 2264, 2670, 3146,
                                    3734, 4297, 4761, 5466, 6151, 7193, 8093, 32768};
constexpr int32_t kTanhSlopes[16] = {32266, 29154, 25374, 21309, 17272, 26886, 19904, 13765,
                                     8599,  19497, 12047, 7324,  3373,  26820, 5531,  337};
constexpr int32_t kTanhBias[16] = {0,     778,   2417,  4851,  7922,  11474, 15334, 19335,
                                   23303, 26699, 28653, 30026, 31344, 31981, 32565, 32725};

// Row r = j - 1 of the first segment j in 1..16 with a <= bands[j] (a <= 32768).
constexpr int segment_row(const int32_t* bands, int32_t a) {
  int r = 0;
  while (r < 15 && a > bands[r + 1]) ++r;
  return r;
}

// Shift of row r (segment j = r + 1): j <= 5, 6..9, 10..13, 14..16.
constexpr int segment_shift(int r, int s0, int s1, int s2, int s3) {
  return r < 5 ? s0 : (r < 9 ? s1 : (r < 13 ? s2 : s3));
}

}  // namespace lut_detail

inline int8_t luna_sigmoid_q11(int16_t x) {
  using namespace lut_detail;
  const int32_t a = x < 0 ? -static_cast<int32_t>(x) : static_cast<int32_t>(x);
  const int r = segment_row(kSigmoidBands, a);
  const int shift = segment_shift(r, 13, 14, 16, 19);
  const int32_t y15 = ((kSigmoidSlopes[r] * static_cast<int32_t>(x)) >> shift) +
                      (x >= 0 ? kSigmoidBiasPos[r] : kSigmoidBiasNeg[r]);
  const int64_t y = rhu_shift(y15, 8);
  return static_cast<int8_t>(y < 0 ? 0 : (y > 127 ? 127 : y));
}

inline int8_t luna_tanh_q11(int16_t x) {
  using namespace lut_detail;
  const int32_t a = x == -32768 ? 32767 : (x < 0 ? -static_cast<int32_t>(x) : static_cast<int32_t>(x));
  const int r = segment_row(kTanhBands, a);
  const int shift = segment_shift(r, 11, 12, 14, 18);
  const int32_t y15 = x >= 0 ? ((kTanhSlopes[r] * a) >> shift) + kTanhBias[r]
                             : ((-kTanhSlopes[r] * a) >> shift) - kTanhBias[r];
  return sat8(rhu_shift(y15, 8));
}

inline int8_t iqsigmoid(int8_t x, int qx) { return luna_sigmoid_q11(to_q11(x, qx)); }
inline int8_t iqtanh(int8_t x, int qx) { return luna_tanh_q11(to_q11(x, qx)); }

}  // namespace numerics
}  // namespace linger
