// linger integer numerics: AvgPool2dInt, AdaptiveAvgPool2dInt and MaxPool (numerics.md §3).
//
// AvgPool2dInt: output Q = input Q. S = window sum (zero padding counts toward
// the area k = kh*kw, also for ceil_mode windows), y = sat8(floor(S/k + 1/2)).
// MaxPool: max over the window, padding value -128; Q passes through.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"

namespace linger {
namespace numerics {

struct Pool2dShape {
  int n = 1, c = 1, h = 1, w = 1;
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;

  static int out_size(int in, int k, int s, int p0, int p1, bool ceil_mode) {
    const int span = in + p0 + p1 - k;
    int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // PyTorch rule: the last window must start inside the input or the left padding.
    if (ceil_mode && (out - 1) * s >= in + p0) --out;
    return out;
  }
  int out_h() const { return out_size(h, kh, stride_h, pad_top, pad_bottom, ceil_mode); }
  int out_w() const { return out_size(w, kw, stride_w, pad_left, pad_right, ceil_mode); }
  bool valid() const {
    return n > 0 && c > 0 && h > 0 && w > 0 && kh > 0 && kw > 0 && stride_h > 0 && stride_w > 0 &&
           pad_top >= 0 && pad_left >= 0 && pad_bottom >= 0 && pad_right >= 0 &&
           h + pad_top + pad_bottom >= kh && w + pad_left + pad_right >= kw;
  }
};

// Window sum at one output position (zero padding).
inline int64_t pool_window_sum(const int8_t* plane, const Pool2dShape& s, int oy, int ox) {
  int64_t sum = 0;
  for (int ky = 0; ky < s.kh; ++ky) {
    const int iy = oy * s.stride_h - s.pad_top + ky;
    if (iy < 0 || iy >= s.h) continue;
    for (int kx = 0; kx < s.kw; ++kx) {
      const int ix = ox * s.stride_w - s.pad_left + kx;
      if (ix < 0 || ix >= s.w) continue;
      sum += plane[iy * s.w + ix];
    }
  }
  return sum;
}

inline int8_t avgpool_from_sum(int64_t sum, int64_t area) { return sat8(rhu_div(sum, area)); }

inline void avgpool2d_int(const int8_t* x, int8_t* y, const Pool2dShape& s) {
  const int oh = s.out_h(), ow = s.out_w();
  const int64_t area = static_cast<int64_t>(s.kh) * s.kw;
  for (int64_t p = 0; p < static_cast<int64_t>(s.n) * s.c; ++p) {
    const int8_t* plane = x + p * s.h * s.w;
    int8_t* out = y + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) out[oy * ow + ox] = avgpool_from_sum(pool_window_sum(plane, s, oy, ox), area);
  }
}

// AdaptiveAvgPool2dInt (linger): output [oh, ow]; window (i, j) covers rows [floor(i*h/oh), ceil((i+1)*h/oh))
// and columns likewise (PyTorch's adaptive windows, never empty, overlapping or repeating when oh > h);
// y = sat8(floor(S/k + 1/2)) with k the window's own area.
// Output Q = input Q. When oh divides h and ow divides w this is AvgPool2dInt with kernel = stride = h/oh.
inline int adaptive_start(int i, int in, int out) { return static_cast<int>((static_cast<int64_t>(i) * in) / out); }
inline int adaptive_end(int i, int in, int out) {
  return static_cast<int>((static_cast<int64_t>(i + 1) * in + out - 1) / out);
}

inline void adaptive_avgpool2d_int(const int8_t* x, int8_t* y, int64_t planes, int h, int w, int oh, int ow) {
  for (int64_t p = 0; p < planes; ++p) {
    const int8_t* plane = x + p * h * w;
    int8_t* out = y + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy) {
      const int y0 = adaptive_start(oy, h, oh), y1 = adaptive_end(oy, h, oh);
      for (int ox = 0; ox < ow; ++ox) {
        const int x0 = adaptive_start(ox, w, ow), x1 = adaptive_end(ox, w, ow);
        int64_t sum = 0;
        for (int iy = y0; iy < y1; ++iy)
          for (int ix = x0; ix < x1; ++ix) sum += plane[iy * w + ix];
        out[oy * ow + ox] = avgpool_from_sum(sum, static_cast<int64_t>(y1 - y0) * (x1 - x0));
      }
    }
  }
}

constexpr int8_t kMaxPoolPad = -128;

inline void maxpool2d_int(const int8_t* x, int8_t* y, const Pool2dShape& s) {
  const int oh = s.out_h(), ow = s.out_w();
  for (int64_t p = 0; p < static_cast<int64_t>(s.n) * s.c; ++p) {
    const int8_t* plane = x + p * s.h * s.w;
    int8_t* out = y + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        int8_t m = kMaxPoolPad;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.stride_h - s.pad_top + ky;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.stride_w - s.pad_left + kx;
            const int8_t v = (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) ? kMaxPoolPad : plane[iy * s.w + ix];
            if (v > m) m = v;
          }
        }
        out[oy * ow + ox] = m;
      }
  }
}

}  // namespace numerics
}  // namespace linger
