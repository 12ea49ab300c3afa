// linger integer numerics: ResizeInt (domain "linger") -- 2-D nearest and
// bilinear resize of int8 [N, C, H, W]; Q passes through (scale_o == scale_x).
//
// The source coordinates are defined from the sizes (in, out) only, in integers:
// nearest:  src(d) = min(floor(d * in / out), in - 1)
//           (PyTorch's 'nearest' for size= and for integer scale factors; for
//           other ratios PyTorch rounds a float32 scale, linger follows this rule
//           in training and eval alike).
// bilinear: the source position p = num / den, with
//           align_corners = false: num = max(0, (2d + 1) * in - out), den = 2 * out
//           align_corners = true : num = d * (in - 1), den = out - 1 (den = 1 when out == 1)
//           i0 = floor(p), i1 = min(i0 + 1, in - 1),
//           lambda = rhu_div((num - i0 * den) * 2^8, den)  in [0, 256]  (weight of i1 at Q8)
//           y = sat8(rhu_shift(sum over the 4 taps of x * wy * wx, 16)) with wy, wx the Q8
//           weights (256 - lambda, lambda); the weights of a point sum to 2^16, so the result
//           is the convex combination rounded half up.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

enum class ResizeMode : int { kNearest = 0, kBilinear = 1 };
constexpr int kResizeWeightBits = 8;

inline int64_t resize_nearest_index(int64_t d, int64_t in, int64_t out) {
  const int64_t s = d * in / out;
  return s < in - 1 ? s : in - 1;
}

struct ResizeTap {
  int64_t i0, i1;
  int32_t w1;  // weight of i1 at Q8; i0 gets 256 - w1
};

inline ResizeTap resize_linear_tap(int64_t d, int64_t in, int64_t out, bool align_corners) {
  int64_t num, den;
  if (align_corners) {
    num = d * (in - 1);
    den = out > 1 ? out - 1 : 1;
    if (out == 1) num = 0;
  } else {
    num = (2 * d + 1) * in - out;
    if (num < 0) num = 0;
    den = 2 * out;
  }
  ResizeTap t;
  t.i0 = num / den;
  if (t.i0 > in - 1) t.i0 = in - 1;
  t.i1 = t.i0 + 1 < in ? t.i0 + 1 : in - 1;
  const int64_t frac = num - t.i0 * den;
  t.w1 = static_cast<int32_t>(rhu_div(frac * (int64_t{1} << kResizeWeightBits), den));
  if (t.w1 > 256) t.w1 = 256;
  return t;
}

// One plane [in_h, in_w] -> [out_h, out_w].
inline void resize_plane(ResizeMode mode, bool align_corners, const int8_t* x, int64_t in_h, int64_t in_w, int8_t* y,
                         int64_t out_h, int64_t out_w) {
  if (mode == ResizeMode::kNearest) {
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const int8_t* row = x + resize_nearest_index(oy, in_h, out_h) * in_w;
      for (int64_t ox = 0; ox < out_w; ++ox) y[oy * out_w + ox] = row[resize_nearest_index(ox, in_w, out_w)];
    }
    return;
  }
  for (int64_t oy = 0; oy < out_h; ++oy) {
    const ResizeTap ty = resize_linear_tap(oy, in_h, out_h, align_corners);
    const int8_t* r0 = x + ty.i0 * in_w;
    const int8_t* r1 = x + ty.i1 * in_w;
    for (int64_t ox = 0; ox < out_w; ++ox) {
      const ResizeTap tx = resize_linear_tap(ox, in_w, out_w, align_corners);
      const int64_t wy0 = 256 - ty.w1, wy1 = ty.w1, wx0 = 256 - tx.w1, wx1 = tx.w1;
      const int64_t acc = wy0 * (wx0 * r0[tx.i0] + wx1 * r0[tx.i1]) + wy1 * (wx0 * r1[tx.i0] + wx1 * r1[tx.i1]);
      y[oy * out_w + ox] = sat8(rhu_shift(acc, 2 * kResizeWeightBits));
    }
  }
}

}  // namespace numerics
}  // namespace linger
