// Dual 16-bit MAC kernels (see dsp_kernels.h). Operands: weights stay int8 in the
// reference layout (rows of OIHW / [N,K]) and are widened two lanes at a time
// by SXTB16 from one 32-bit load; the activations are widened once into an
// int16 row in the "reordered" lane order that matches (dsp::reordered_slot).
#include "dsp_kernels.h"

#include "dsp.h"
#include "internal.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/quantize.h"
#include "out_store.h"

namespace lm {

namespace {

// acc += dot(w[0..k), col) for a reordered int16 col, int32 wrapping (SMLAD).
inline int32_t dot_wrap(const int8_t* w, const int16_t* col, uint32_t k) {
  int32_t acc = 0;
  const uint32_t full = k & ~3u;
  for (uint32_t j = 0; j < full; j += 4) {
    const uint32_t wv = dsp::load32(w + j);
    acc = dsp::smlad(dsp::sxtb16(wv), dsp::load32(col + j), acc);
    acc = dsp::smlad(dsp::sxtb16_ror8(wv), dsp::load32(col + j + 2), acc);
  }
  for (uint32_t j = full; j < k; ++j)
    acc = static_cast<int32_t>(static_cast<uint32_t>(acc) +
                               static_cast<uint32_t>(static_cast<int32_t>(w[j]) * col[dsp::reordered_slot(j)]));
  return acc;
}

// Two rows at once: the activation words are loaded once for both.
inline void dot_wrap2(const int8_t* w0, const int8_t* w1, const int16_t* col, uint32_t k, int32_t* a0, int32_t* a1) {
  int32_t acc0 = 0, acc1 = 0;
  const uint32_t full = k & ~3u;
  for (uint32_t j = 0; j < full; j += 4) {
    const uint32_t c02 = dsp::load32(col + j), c13 = dsp::load32(col + j + 2);
    const uint32_t u = dsp::load32(w0 + j), v = dsp::load32(w1 + j);
    acc0 = dsp::smlad(dsp::sxtb16(u), c02, acc0);
    acc1 = dsp::smlad(dsp::sxtb16(v), c02, acc1);
    acc0 = dsp::smlad(dsp::sxtb16_ror8(u), c13, acc0);
    acc1 = dsp::smlad(dsp::sxtb16_ror8(v), c13, acc1);
  }
  for (uint32_t j = full; j < k; ++j) {
    const int32_t xv = col[dsp::reordered_slot(j)];
    acc0 = static_cast<int32_t>(static_cast<uint32_t>(acc0) + static_cast<uint32_t>(static_cast<int32_t>(w0[j]) * xv));
    acc1 = static_cast<int32_t>(static_cast<uint32_t>(acc1) + static_cast<uint32_t>(static_cast<int32_t>(w1[j]) * xv));
  }
  *a0 = acc0;
  *a1 = acc1;
}

// Two rows times two columns: acc[0] = w0.c0, acc[1] = w1.c0, acc[2] = w0.c1, acc[3] = w1.c1
// (each weight word is widened once for two output positions).
inline void dot_wrap2x2(const int8_t* w0, const int8_t* w1, const int16_t* c0, const int16_t* c1, uint32_t k,
                        int32_t* acc) {
  int32_t a00 = 0, a10 = 0, a01 = 0, a11 = 0;
  const uint32_t full = k & ~3u;
  for (uint32_t j = 0; j < full; j += 4) {
    const uint32_t u = dsp::load32(w0 + j), v = dsp::load32(w1 + j);
    const uint32_t u02 = dsp::sxtb16(u), u13 = dsp::sxtb16_ror8(u);
    const uint32_t v02 = dsp::sxtb16(v), v13 = dsp::sxtb16_ror8(v);
    uint32_t x = dsp::load32(c0 + j);
    a00 = dsp::smlad(u02, x, a00);
    a10 = dsp::smlad(v02, x, a10);
    x = dsp::load32(c0 + j + 2);
    a00 = dsp::smlad(u13, x, a00);
    a10 = dsp::smlad(v13, x, a10);
    x = dsp::load32(c1 + j);
    a01 = dsp::smlad(u02, x, a01);
    a11 = dsp::smlad(v02, x, a11);
    x = dsp::load32(c1 + j + 2);
    a01 = dsp::smlad(u13, x, a01);
    a11 = dsp::smlad(v13, x, a11);
  }
  for (uint32_t j = full; j < k; ++j) {
    const uint32_t slot = dsp::reordered_slot(j);
    const int32_t p = w0[j], q = w1[j], x0 = c0[slot], x1 = c1[slot];
    a00 = static_cast<int32_t>(static_cast<uint32_t>(a00) + static_cast<uint32_t>(p * x0));
    a10 = static_cast<int32_t>(static_cast<uint32_t>(a10) + static_cast<uint32_t>(q * x0));
    a01 = static_cast<int32_t>(static_cast<uint32_t>(a01) + static_cast<uint32_t>(p * x1));
    a11 = static_cast<int32_t>(static_cast<uint32_t>(a11) + static_cast<uint32_t>(q * x1));
  }
  acc[0] = a00;
  acc[1] = a10;
  acc[2] = a01;
  acc[3] = a11;
}

// im2col of output position (oy, ox), group g, into a reordered int16 row (zero for padding).
inline void im2col(const int8_t* x, const linger::numerics::Conv2dShape& s, int n, int g, int oy, int ox, int16_t* col) {
  const int cpg = s.c / s.groups;
  uint32_t kk = 0;
  for (int ic = 0; ic < cpg; ++ic) {
    const int8_t* plane = x + (static_cast<int64_t>(n) * s.c + g * cpg + ic) * s.h * s.w;
    for (int ky = 0; ky < s.kh; ++ky) {
      const int iy = oy * s.stride_h - s.pad_top + ky * s.dil_h;
      const bool row_in = iy >= 0 && iy < s.h;
      for (int kx = 0; kx < s.kw; ++kx, ++kk) {
        const int ix = ox * s.stride_w - s.pad_left + kx * s.dil_w;
        col[dsp::reordered_slot(kk)] =
            (row_in && ix >= 0 && ix < s.w) ? static_cast<int16_t>(plane[iy * s.w + ix]) : int16_t{0};
      }
    }
  }
}

inline int64_t dot_wide(const int8_t* w, const int16_t* row, uint32_t k, int64_t acc) {
  const uint32_t full = k & ~3u;
  for (uint32_t j = 0; j < full; j += 4) {
    const uint32_t wv = dsp::load32(w + j);
    acc = dsp::smlald(dsp::sxtb16(wv), dsp::load32(row + j), acc);
    acc = dsp::smlald(dsp::sxtb16_ror8(wv), dsp::load32(row + j + 2), acc);
  }
  for (uint32_t j = full; j < k; ++j) acc += static_cast<int32_t>(w[j]) * row[dsp::reordered_slot(j)];
  return acc;
}

}  // namespace

void conv2d_dsp(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, const linger::numerics::Conv2dShape& s,
                int shift, bool relu, int out_bits, int16_t* col) {
  const int cpg = s.c / s.groups, opg = s.o / s.groups;
  const int oh = s.out_h(), ow = s.out_w();
  const uint32_t k = static_cast<uint32_t>(cpg) * static_cast<uint32_t>(s.kh) * static_cast<uint32_t>(s.kw);
  const uint32_t k4 = round_up4(k);
  int16_t* col1 = col + k4;  // the second output position's row
  for (uint32_t j = k; j < k4; ++j) col[dsp::reordered_slot(j)] = col1[dsp::reordered_slot(j)] = 0;
  const int64_t plane = static_cast<int64_t>(oh) * ow;
  for (int n = 0; n < s.n; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ox += 2) {
        const bool two = ox + 1 < ow;  // two output positions share each widened weight word
        for (int g = 0; g < s.groups; ++g) {
          im2col(x, s, n, g, oy, ox, col);
          if (two) im2col(x, s, n, g, oy, ox + 1, col1);
          const int oc_end = (g + 1) * opg;
          int oc = g * opg;
          for (; oc + 1 < oc_end; oc += 2) {
            const int8_t* w0 = w + static_cast<int64_t>(oc) * k;
            const int64_t i0 = ((static_cast<int64_t>(n) * s.o + oc) * oh + oy) * ow + ox;
            const int32_t b0 = bias ? bias[oc] : 0, b1 = bias ? bias[oc + 1] : 0;
            if (two) {
              int32_t a[4];
              dot_wrap2x2(w0, w0 + k, col, col1, k, a);
              store_conv_out(y, i0, a[0], b0, relu, shift, out_bits);
              store_conv_out(y, i0 + plane, a[1], b1, relu, shift, out_bits);
              store_conv_out(y, i0 + 1, a[2], b0, relu, shift, out_bits);
              store_conv_out(y, i0 + plane + 1, a[3], b1, relu, shift, out_bits);
            } else {
              int32_t a0, a1;
              dot_wrap2(w0, w0 + k, col, k, &a0, &a1);
              store_conv_out(y, i0, a0, b0, relu, shift, out_bits);
              store_conv_out(y, i0 + plane, a1, b1, relu, shift, out_bits);
            }
          }
          if (oc < oc_end) {
            const int8_t* w0 = w + static_cast<int64_t>(oc) * k;
            const int64_t i0 = ((static_cast<int64_t>(n) * s.o + oc) * oh + oy) * ow + ox;
            const int32_t b0 = bias ? bias[oc] : 0;
            store_conv_out(y, i0, dot_wrap(w0, col, k), b0, relu, shift, out_bits);
            if (two) store_conv_out(y, i0 + 1, dot_wrap(w0, col1, k), b0, relu, shift, out_bits);
          }
        }
      }
}

void linear_dsp(const int8_t* x, const int8_t* w, const int32_t* bias, void* y, uint32_t m, uint32_t k, uint32_t n,
                int shift, int out_bits, int16_t* row) {
  for (uint32_t j = k; j < round_up4(k); ++j) row[dsp::reordered_slot(j)] = 0;
  for (uint32_t r = 0; r < m; ++r) {
    const int8_t* xr = x + static_cast<uint64_t>(r) * k;
    for (uint32_t j = 0; j < k; ++j) row[dsp::reordered_slot(j)] = xr[j];
    for (uint32_t c = 0; c < n; ++c) {
      const int64_t acc = dot_wide(w + static_cast<uint64_t>(c) * k, row, k, bias ? bias[c] : 0);
      store_linear_out(y, static_cast<int64_t>(r) * n + c, acc, shift, out_bits);
    }
  }
}

bool pool_2x2_fits(const linger::numerics::Pool2dShape& s) {
  return s.kh == 2 && s.kw == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0 && s.out_h() == s.h / 2 && s.out_w() == s.w / 2;
}

void maxpool2x2_dsp(const int8_t* x, int8_t* y, const linger::numerics::Pool2dShape& s) {
  const int oh = s.out_h(), ow = s.out_w();
  for (int64_t p = 0; p < static_cast<int64_t>(s.n) * s.c; ++p) {
    const int8_t* plane = x + p * s.h * s.w;
    int8_t* out = y + p * oh * ow;
    for (int oy = 0; oy < oh; ++oy) {
      const int8_t* r0 = plane + 2 * oy * s.w;
      const int8_t* r1 = r0 + s.w;
      int8_t* o = out + oy * ow;
      int ox = 0;
      for (; ox + 1 < ow; ox += 2) {  // columns 2ox .. 2ox+3 of both rows
        const uint32_t v = dsp::max_s8x4(dsp::load32(r0 + 2 * ox), dsp::load32(r1 + 2 * ox));
        const uint32_t h = dsp::max_s8x4(v, v >> 8);  // lanes 0 and 2: the two windows
        o[ox] = static_cast<int8_t>(h & 0xffu);
        o[ox + 1] = static_cast<int8_t>((h >> 16) & 0xffu);
      }
      if (ox < ow) {
        const int8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
        const int8_t b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
        o[ox] = a > b ? a : b;
      }
    }
  }
}

}  // namespace lm
