// Helpers shared by the conv-family kernels.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

inline DType conv_out_dtype(int bits) {
  switch (bits) {
    case 8: return DType::kInt8;
    case 16: return DType::kInt16;
    case 32: return DType::kInt32;
    default: return DType::kFloat32;
  }
}

// Output exponent shift: Qx+Qw-Qo with o_bits, Qx+Qw (float output) without.
inline int conv_shift(const Node& n, int out_bits) {
  const int q_sum = n.scale_exponent("scale_x") + n.scale_exponent("scale_w");
  return out_bits ? q_sum - n.scale_exponent("scale_o") : q_sum;
}

}  // namespace runtime
}  // namespace linger
