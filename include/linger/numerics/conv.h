// linger integer numerics: Conv2dInt / Conv1dInt (numerics.md §3).
//
//   acc = sum x*w                      int32, two's-complement wrap (like the NPU)
//   acc = sat32(acc + bias)            bias int32 at Qx+Qw
//   acc = relu(acc)                    optional fused ReLU
//   y   = sat_ob(rhu_shift(acc, Qx + Qw - Qo))   negative shift = exact left shift, then saturate
//
// Layout NCHW, weights [O, C/groups, KH, KW]. Conv1d is the H = KH = 1 case.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

struct Conv2dShape {
  int n = 1, c = 1, h = 1, w = 1;       // input
  int o = 1, kh = 1, kw = 1;            // weights [o, c/groups, kh, kw]
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dil_h = 1, dil_w = 1;
  int groups = 1;

  int out_h() const { return (h + pad_top + pad_bottom - dil_h * (kh - 1) - 1) / stride_h + 1; }
  int out_w() const { return (w + pad_left + pad_right - dil_w * (kw - 1) - 1) / stride_w + 1; }
  // True when the geometry is usable (positive sizes, divisible groups, non-empty output).
  bool valid() const {
    return n > 0 && c > 0 && h > 0 && w > 0 && o > 0 && kh > 0 && kw > 0 && stride_h > 0 &&
           stride_w > 0 && dil_h > 0 && dil_w > 0 && groups > 0 && pad_top >= 0 && pad_left >= 0 &&
           pad_bottom >= 0 && pad_right >= 0 && c % groups == 0 && o % groups == 0 &&
           h + pad_top + pad_bottom >= dil_h * (kh - 1) + 1 &&
           w + pad_left + pad_right >= dil_w * (kw - 1) + 1;
  }
};

// The per-output requantisation step shared by every conv implementation
// (scalar reference, im2col+GEMM, SIMD): acc is the wrapped int32 dot product.
inline int64_t conv_requant(int32_t acc, int32_t bias, bool relu, int shift, int out_bits) {
  int64_t v = sat32(static_cast<int64_t>(acc) + static_cast<int64_t>(bias));
  if (relu && v < 0) v = 0;
  return sat(rhu_shift(v, shift), out_bits);
}

// Wrapped int32 dot product of one output position (scalar reference).
inline int32_t conv2d_acc_at(const int8_t* x, const int8_t* w, const Conv2dShape& s, int n, int oc,
                             int oy, int ox) {
  const int cpg = s.c / s.groups;
  const int opg = s.o / s.groups;
  const int g = oc / opg;
  uint32_t acc = 0;
  for (int ic = 0; ic < cpg; ++ic) {
    const int c = g * cpg + ic;
    for (int ky = 0; ky < s.kh; ++ky) {
      const int iy = oy * s.stride_h - s.pad_top + ky * s.dil_h;
      if (iy < 0 || iy >= s.h) continue;
      for (int kx = 0; kx < s.kw; ++kx) {
        const int ix = ox * s.stride_w - s.pad_left + kx * s.dil_w;
        if (ix < 0 || ix >= s.w) continue;
        const int32_t xv = x[((static_cast<int64_t>(n) * s.c + c) * s.h + iy) * s.w + ix];
        const int32_t wv = w[((static_cast<int64_t>(oc) * cpg + ic) * s.kh + ky) * s.kw + kx];
        acc += static_cast<uint32_t>(xv * wv);
      }
    }
  }
  return static_cast<int32_t>(acc);
}

// One output plane (batch n, output channel oc) of the scalar reference.
template <typename OutT>
inline void conv2d_int_plane(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* plane,
                             const Conv2dShape& s, int n, int oc, int shift, bool relu, int out_bits) {
  const int oh = s.out_h(), ow = s.out_w();
  const int32_t b = bias ? bias[oc] : 0;
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      plane[oy * ow + ox] =
          static_cast<OutT>(conv_requant(conv2d_acc_at(x, w, s, n, oc, oy, ox), b, relu, shift, out_bits));
}

// Scalar reference Conv2dInt. y has n*o*out_h*out_w elements of OutT
// (int8_t for o_bits 8; int16_t/int32_t for 16/32). bias may be null.
template <typename OutT>
inline void conv2d_int(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y,
                       const Conv2dShape& s, int shift, bool relu, int out_bits) {
  const int64_t plane = static_cast<int64_t>(s.out_h()) * s.out_w();
  for (int n = 0; n < s.n; ++n)
    for (int oc = 0; oc < s.o; ++oc)
      conv2d_int_plane(x, w, bias, y + (static_cast<int64_t>(n) * s.o + oc) * plane, s, n, oc, shift, relu, out_bits);
}

}  // namespace numerics
}  // namespace linger
