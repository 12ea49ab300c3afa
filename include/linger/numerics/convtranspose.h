// linger integer numerics: ConvTranspose2dInt (numerics.md §3), PyTorch ConvTranspose2d semantics.
//
// x int8 [N, C, H, W], w int8 [C, O/groups, KH, KW] (PyTorch ConvTranspose2d weight layout),
// bias int32 [O] at Qx+Qw or null, y [N, O, out_h, out_w].
//
// Full (uncropped) output: input (iy, ix) of channel c in group g = c / (C/groups) contributes
//   x[n, c, iy, ix] * w[c, o', ky, kx]   to output channel oc = g * (O/groups) + o'
// at full position (iy*sh + ky*dh, ix*sw + kx*dw). The output is the full output cropped by
// pad_top / pad_left (output (oy, ox) is full position (oy + pad_top, ox + pad_left)); rows/columns
// past the full output (output_padding larger than the bottom/right crop) receive no products.
//
//   out_h = (H-1)*sh - pad_top - pad_bottom + dh*(KH-1) + output_padding_h + 1   (same for W)
//
// Per output element:
//   acc = sum of its products          int32, two's-complement wrap (like the NPU and conv.h)
//   y   = conv_requant(acc, bias[oc], relu, shift, out_bits)
//       = sat_ob(rhu_shift(relu?(sat32(acc + bias)), shift))   shift = Qx + Qw - Qo
//
// PyTorch `padding` p gives pad_top = pad_bottom = p_h, pad_left = pad_right = p_w; the four
// amounts here also express asymmetric crops.
#pragma once

#include <cstdint>
#include <limits>

#include "linger/numerics/conv.h"
#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

struct ConvTranspose2dShape {
  int n = 1, c = 1, h = 1, w = 1;       // input [n, c, h, w]
  int o = 1, kh = 1, kw = 1;            // weights [c, o/groups, kh, kw]
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // cropped from the full output
  int out_pad_h = 0, out_pad_w = 0;     // PyTorch output_padding (added at the bottom / right)
  int dil_h = 1, dil_w = 1;
  int groups = 1;

  // (in-1)*s - p0 - p1 + d*(k-1) + op + 1, in int64 (valid() checks it fits an int).
  static int64_t out_size64(int in, int k, int s, int p0, int p1, int op, int d) {
    return (static_cast<int64_t>(in) - 1) * s - p0 - p1 + static_cast<int64_t>(d) * (k - 1) + op + 1;
  }
  int out_h() const { return static_cast<int>(out_size64(h, kh, stride_h, pad_top, pad_bottom, out_pad_h, dil_h)); }
  int out_w() const { return static_cast<int>(out_size64(w, kw, stride_w, pad_left, pad_right, out_pad_w, dil_w)); }

  // True when the geometry is usable: positive sizes, non-negative padding, c and o divisible
  // by groups, 0 <= output_padding < max(stride, dilation) per axis (PyTorch's rule), and a
  // non-empty output whose size fits an int.
  bool valid() const {
    if (!(n > 0 && c > 0 && h > 0 && w > 0 && o > 0 && kh > 0 && kw > 0 && stride_h > 0 && stride_w > 0 &&
          dil_h > 0 && dil_w > 0 && groups > 0 && pad_top >= 0 && pad_left >= 0 && pad_bottom >= 0 &&
          pad_right >= 0 && out_pad_h >= 0 && out_pad_w >= 0 && c % groups == 0 && o % groups == 0))
      return false;
    if (out_pad_h >= (stride_h > dil_h ? stride_h : dil_h)) return false;
    if (out_pad_w >= (stride_w > dil_w ? stride_w : dil_w)) return false;
    const int64_t oh = out_size64(h, kh, stride_h, pad_top, pad_bottom, out_pad_h, dil_h);
    const int64_t ow = out_size64(w, kw, stride_w, pad_left, pad_right, out_pad_w, dil_w);
    constexpr int64_t kMax = std::numeric_limits<int>::max();
    return oh > 0 && ow > 0 && oh <= kMax && ow <= kMax;
  }
};

// Wrapped int32 sum of the products landing on output (n, oc, oy, ox), computed as a gather:
// for each kernel tap (ky, kx) the input position is iy = (oy + pad_top - ky*dh) / sh when that
// division is exact and 0 <= iy < h (same for ix). Scalar reference; planes are independent.
inline int32_t convtranspose2d_acc_at(const int8_t* x, const int8_t* w, const ConvTranspose2dShape& s, int n,
                                      int oc, int oy, int ox) {
  const int cpg = s.c / s.groups;
  const int opg = s.o / s.groups;
  const int g = oc / opg;
  const int og = oc - g * opg;  // output channel within the group (o' of the weight layout)
  const int64_t fy = static_cast<int64_t>(oy) + s.pad_top;   // full (uncropped) position
  const int64_t fx = static_cast<int64_t>(ox) + s.pad_left;
  uint32_t acc = 0;
  for (int ky = 0; ky < s.kh; ++ky) {
    const int64_t ty = fy - static_cast<int64_t>(ky) * s.dil_h;
    if (ty < 0) break;  // grows more negative with ky
    if (ty % s.stride_h != 0) continue;
    const int64_t iy = ty / s.stride_h;
    if (iy >= s.h) continue;
    for (int kx = 0; kx < s.kw; ++kx) {
      const int64_t tx = fx - static_cast<int64_t>(kx) * s.dil_w;
      if (tx < 0) break;
      if (tx % s.stride_w != 0) continue;
      const int64_t ix = tx / s.stride_w;
      if (ix >= s.w) continue;
      for (int ic = 0; ic < cpg; ++ic) {
        const int64_t c = static_cast<int64_t>(g) * cpg + ic;
        const int32_t xv = x[((static_cast<int64_t>(n) * s.c + c) * s.h + iy) * s.w + ix];
        const int32_t wv = w[((c * opg + og) * s.kh + ky) * s.kw + kx];
        acc += static_cast<uint32_t>(xv * wv);
      }
    }
  }
  return static_cast<int32_t>(acc);
}

// One output plane (batch n, output channel oc) of the scalar reference: out_h*out_w elements.
template <typename OutT>
inline void convtranspose2d_int_plane(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* plane,
                                      const ConvTranspose2dShape& s, int n, int oc, int shift, bool relu,
                                      int out_bits) {
  const int oh = s.out_h(), ow = s.out_w();
  const int32_t b = bias ? bias[oc] : 0;
  for (int oy = 0; oy < oh; ++oy)
    for (int ox = 0; ox < ow; ++ox)
      plane[static_cast<int64_t>(oy) * ow + ox] = static_cast<OutT>(
          conv_requant(convtranspose2d_acc_at(x, w, s, n, oc, oy, ox), b, relu, shift, out_bits));
}

// Scalar reference ConvTranspose2dInt. y has n*o*out_h*out_w elements of OutT
// (int8_t for o_bits 8; int16_t/int32_t for 16/32). bias may be null.
template <typename OutT>
inline void convtranspose2d_int(const int8_t* x, const int8_t* w, const int32_t* bias, OutT* y,
                                const ConvTranspose2dShape& s, int shift, bool relu, int out_bits) {
  const int64_t plane = static_cast<int64_t>(s.out_h()) * s.out_w();
  for (int n = 0; n < s.n; ++n)
    for (int oc = 0; oc < s.o; ++oc)
      convtranspose2d_int_plane<OutT>(x, w, bias, y + (static_cast<int64_t>(n) * s.o + oc) * plane, s, n, oc,
                                      shift, relu, out_bits);
}

}  // namespace numerics
}  // namespace linger
