// linger integer numerics: BatchNorm2dInt (numerics.md §3).
//
// Per channel c:
//   y = sat_ob(rhu_shift(int64(x) * w_c + b_c, shift))     shift = Qx + Qw - Qo
// x int8 [N, C, S] (S = H*W, or any trailing spatial size flattened), w int8 [C] holding the
// folded gamma/sigma at Qw, b int32 [C] holding beta - mu*gamma/sigma at Qx+Qw (null = 0).
// The sum is exact in int64 (|x*w + b| < 2^32: no wrap, no saturation before the shift);
// a negative shift is an exact left shift, then saturation. out_bits 8 (default), 16 or 32.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

// One element: sat_ob(rhu_shift(int64(x) * w + b, shift)).
inline int64_t batchnorm_int_at(int8_t x, int8_t w, int32_t b, int shift, int out_bits = 8) {
  const int64_t acc = static_cast<int64_t>(x) * static_cast<int64_t>(w) + static_cast<int64_t>(b);
  return sat(rhu_shift(acc, shift), out_bits);
}

// One (batch, channel) plane of `spatial` elements, all with channel c's w and b.
template <typename OutT>
inline void batchnorm_int_plane(const int8_t* x_plane, int8_t w_c, int32_t b_c, OutT* y_plane, int64_t spatial,
                                int shift, int out_bits = 8) {
  for (int64_t i = 0; i < spatial; ++i)
    y_plane[i] = static_cast<OutT>(batchnorm_int_at(x_plane[i], w_c, b_c, shift, out_bits));
}

// Scalar reference BatchNorm2dInt over x [n, c, spatial] -> y [n, c, spatial] of OutT
// (int8_t for out_bits 8; int16_t/int32_t for 16/32). b may be null.
template <typename OutT>
inline void batchnorm_int(const int8_t* x, const int8_t* w, const int32_t* b, OutT* y, int64_t n, int64_t c,
                          int64_t spatial, int shift, int out_bits = 8) {
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ic = 0; ic < c; ++ic) {
      const int64_t off = (in * c + ic) * spatial;
      batchnorm_int_plane<OutT>(x + off, w[ic], b ? b[ic] : 0, y + off, spatial, shift, out_bits);
    }
}

}  // namespace numerics
}  // namespace linger
