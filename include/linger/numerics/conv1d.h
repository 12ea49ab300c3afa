// linger integer numerics: Conv1dInt (numerics.md §3).
//
// Conv1dInt is exactly Conv2dInt (conv.h) with H = KH = 1:
//   acc = sum x*w                      int32, two's-complement wrap (like the NPU)
//   acc = sat32(acc + bias)            bias int32 at Qx+Qw
//   acc = relu(acc)                    optional fused ReLU
//   y   = sat_ob(rhu_shift(acc, Qx + Qw - Qo))   negative shift = exact left shift, then saturate
//
// Layout x [N, C, L], weights [O, C/groups, K], bias int32 [O] or null, y [N, O, out_l].
// These are the NCHW / [O, C/g, KH, KW] layouts of conv.h with H = KH = 1, so the
// implementation is a call into the Conv2d reference (one definition of the math).
#pragma once

#include <cstdint>

#include "linger/numerics/conv.h"

namespace linger {
namespace numerics {

struct Conv1dShape {
  int n = 1, c = 1, l = 1;   // input [n, c, l]
  int o = 1, k = 1;          // weights [o, c/groups, k]
  int stride = 1;
  int pad_left = 0, pad_right = 0;
  int dil = 1;
  int groups = 1;

  // out_l = floor((l + pad_left + pad_right - dil*(k-1) - 1) / stride) + 1
  int out_l() const { return (l + pad_left + pad_right - dil * (k - 1) - 1) / stride + 1; }

  // The same geometry as a Conv2d with h = kh = 1 (stride/dilation 1 and no padding along H).
  Conv2dShape to_conv2d() const {
    Conv2dShape s;
    s.n = n; s.c = c; s.h = 1; s.w = l;
    s.o = o; s.kh = 1; s.kw = k;
    s.stride_h = 1; s.stride_w = stride;
    s.pad_top = 0; s.pad_left = pad_left; s.pad_bottom = 0; s.pad_right = pad_right;
    s.dil_h = 1; s.dil_w = dil;
    s.groups = groups;
    return s;
  }

  // True when the geometry is usable (positive sizes, divisible groups, non-empty output).
  bool valid() const { return to_conv2d().valid(); }
};

// One output row (batch n, output channel oc) of Conv1dInt: out_l elements of OutT.
template <typename OutT>
inline void conv1d_int_plane(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* row,
                             const Conv1dShape& s, int n, int oc, int shift, bool relu, int out_bits) {
  conv2d_int_plane<OutT>(x, w, bias, row, s.to_conv2d(), n, oc, shift, relu, out_bits);
}

// Scalar reference Conv1dInt. y has n*o*out_l elements of OutT
// (int8_t for o_bits 8; int16_t/int32_t for 16/32). bias may be null.
template <typename OutT>
inline void conv1d_int(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y,
                       const Conv1dShape& s, int shift, bool relu, int out_bits) {
  conv2d_int<OutT>(x, w, bias, y, s.to_conv2d(), shift, relu, out_bits);
}

}  // namespace numerics
}  // namespace linger
