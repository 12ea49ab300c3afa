// Writing one requantised output element, shared by the portable and DSP paths
// (the integer formulas are include/linger/numerics' conv_requant /
// linear_requant / dequantize).
#pragma once

#include <stdint.h>

#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/quantize.h"

namespace lm {

// Conv family: out_bits 8/16/32 -> sat_ob(rhu_shift(relu?(sat32(acc + b)), shift));
// 0 -> float32 sat32(acc + b) * 2^-shift (the desktop runtime's float-output conv).
inline void store_conv_out(void* y, int64_t i, int32_t acc, int32_t b, bool relu, int shift, int out_bits) {
  namespace nm = linger::numerics;
  switch (out_bits) {
    case 8: static_cast<int8_t*>(y)[i] = static_cast<int8_t>(nm::conv_requant(acc, b, relu, shift, 8)); break;
    case 16: static_cast<int16_t*>(y)[i] = static_cast<int16_t>(nm::conv_requant(acc, b, relu, shift, 16)); break;
    case 32: static_cast<int32_t*>(y)[i] = static_cast<int32_t>(nm::conv_requant(acc, b, relu, shift, 32)); break;
    default: static_cast<float*>(y)[i] = nm::dequantize(nm::conv_requant(acc, b, relu, 0, 32), shift); break;
  }
}

// LinearInt: out_bits 8/16/32 -> sat_ob(rhu_shift(acc, shift)); 0 -> float acc * 2^-shift.
inline void store_linear_out(void* y, int64_t i, int64_t acc, int shift, int out_bits) {
  namespace nm = linger::numerics;
  switch (out_bits) {
    case 8: static_cast<int8_t*>(y)[i] = static_cast<int8_t>(nm::linear_requant(acc, shift, 8)); break;
    case 16: static_cast<int16_t*>(y)[i] = static_cast<int16_t>(nm::linear_requant(acc, shift, 16)); break;
    case 32: static_cast<int32_t*>(y)[i] = static_cast<int32_t>(nm::linear_requant(acc, shift, 32)); break;
    default: static_cast<float*>(y)[i] = nm::linear_float_out(acc, shift); break;
  }
}

}  // namespace lm
