// Tests of conv1d.h, convtranspose.h and batchnorm.h against independent naive references
// written here (numerics.md §3). The references use only __int128 arithmetic; ConvTranspose2d
// is checked against the scatter formulation (loop over inputs and kernel taps into a full-size
// buffer, then wrap, crop, bias, relu, shift, saturate), the library computes a gather.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "linger/numerics/batchnorm.h"
#include "linger/numerics/conv.h"
#include "reference.h"
#include "linger/numerics/conv1d.h"
#include "linger/numerics/convtranspose.h"

namespace {

namespace nm = linger::numerics;
using namespace linger_test;  // NOLINT: exact reference arithmetic

// The conv-family requantisation of a raw (unwrapped) product sum, written from the contract.
int64_t ref_conv_out(i128 sum, const int32_t* bias, int oc, int shift, bool relu, int out_bits) {
  i128 acc = ref_wrap32(sum);                            // int32 accumulator wraps
  acc = clamp_bits(acc + (bias ? bias[oc] : 0), 32);     // sat32(acc + bias)
  if (relu && acc < 0) acc = 0;
  return static_cast<int64_t>(clamp_bits(ref_rhu(acc, shift), out_bits));
}

std::mt19937& rng() {
  static std::mt19937 r(20240611);
  return r;
}
#include "random_values.inc"  // NOLINT: needs rng() above
std::vector<int32_t> rand_biases(size_t n) {
  std::vector<int32_t> b(n);
  for (auto& e : b) e = rand_bias();
  return b;
}

const int kBits[] = {8, 16, 32};

// ================================================================= ConvTranspose2d
struct CtCfg {
  int n, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, oph, opw, dh, dw, g;
};

nm::ConvTranspose2dShape ct_shape(const CtCfg& k) {
  nm::ConvTranspose2dShape s;
  s.n = k.n; s.c = k.c; s.h = k.h; s.w = k.w; s.o = k.o; s.kh = k.kh; s.kw = k.kw;
  s.stride_h = k.sh; s.stride_w = k.sw;
  s.pad_top = k.pt; s.pad_left = k.pl; s.pad_bottom = k.pb; s.pad_right = k.pr;
  s.out_pad_h = k.oph; s.out_pad_w = k.opw;
  s.dil_h = k.dh; s.dil_w = k.dw; s.groups = k.g;
  return s;
}

// PyTorch's ConvTranspose2d output size (docs formula, symmetric padding p).
int torch_ct_out(int in, int k, int s, int p, int op, int d) { return (in - 1) * s - 2 * p + d * (k - 1) + op + 1; }

struct RefOut {
  int oh, ow;
  std::vector<int64_t> y;
};

// Scatter reference: every input element times every kernel tap lands in a full-size buffer
// (extended at the bottom/right when output_padding exceeds the crop), exact in __int128; then
// each output of the cropped window is wrapped to int32, biased, relu'd, shifted, saturated.
RefOut ref_convtranspose(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                         const CtCfg& k, int shift, bool relu, int out_bits) {
  const int full_h = (k.h - 1) * k.sh + k.dh * (k.kh - 1) + 1;
  const int full_w = (k.w - 1) * k.sw + k.dw * (k.kw - 1) + 1;
  RefOut r;
  r.oh = full_h - k.pt - k.pb + k.oph;  // crop top/bottom, then output_padding rows at the bottom
  r.ow = full_w - k.pl - k.pr + k.opw;
  const int bh = std::max(full_h, k.pt + r.oh), bw = std::max(full_w, k.pl + r.ow);
  const int cpg = k.c / k.g, opg = k.o / k.g;
  std::vector<i128> buf(static_cast<size_t>(k.n) * k.o * bh * bw, 0);
  for (int n = 0; n < k.n; ++n)
    for (int c = 0; c < k.c; ++c)
      for (int iy = 0; iy < k.h; ++iy)
        for (int ix = 0; ix < k.w; ++ix) {
          const int xv = x[((static_cast<size_t>(n) * k.c + c) * k.h + iy) * k.w + ix];
          for (int og = 0; og < opg; ++og) {
            const int oc = (c / cpg) * opg + og;
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int wv = w[((static_cast<size_t>(c) * opg + og) * k.kh + ky) * k.kw + kx];
                const int fy = iy * k.sh + ky * k.dh, fx = ix * k.sw + kx * k.dw;
                buf[((static_cast<size_t>(n) * k.o + oc) * bh + fy) * bw + fx] += static_cast<i128>(xv) * wv;
              }
          }
        }
  for (int n = 0; n < k.n; ++n)
    for (int oc = 0; oc < k.o; ++oc)
      for (int oy = 0; oy < r.oh; ++oy)
        for (int ox = 0; ox < r.ow; ++ox)
          r.y.push_back(ref_conv_out(buf[((static_cast<size_t>(n) * k.o + oc) * bh + oy + k.pt) * bw + ox + k.pl],
                                     bias, oc, shift, relu, out_bits));
  return r;
}

template <typename OutT>
std::vector<int64_t> run_ct_t(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                              const nm::ConvTranspose2dShape& s, int shift, bool relu, int out_bits) {
  std::vector<OutT> y(static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w());
  nm::convtranspose2d_int<OutT>(x.data(), w.data(), bias, y.data(), s, shift, relu, out_bits);
  return std::vector<int64_t>(y.begin(), y.end());
}

std::vector<int64_t> run_ct(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                            const nm::ConvTranspose2dShape& s, int shift, bool relu, int out_bits) {
  if (out_bits == 8) return run_ct_t<int8_t>(x, w, bias, s, shift, relu, out_bits);
  if (out_bits == 16) return run_ct_t<int16_t>(x, w, bias, s, shift, relu, out_bits);
  return run_ct_t<int32_t>(x, w, bias, s, shift, relu, out_bits);
}

// Second, library-level cross-check: ConvTranspose2d == Conv2d (conv.h) over the input with
// stride-1 zeros inserted between elements, kernel flipped and its channel axes swapped per group,
// padding d*(k-1) - pad_top on top and d*(k-1) - pad_bottom + output_padding at the bottom.
// Applicable when those paddings are non-negative.
bool conv_equiv_applicable(const CtCfg& k) {
  return k.pt <= k.dh * (k.kh - 1) && k.pb <= k.dh * (k.kh - 1) + k.oph && k.pl <= k.dw * (k.kw - 1) &&
         k.pr <= k.dw * (k.kw - 1) + k.opw;
}

std::vector<int64_t> via_conv2d(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                const CtCfg& k, int shift, bool relu, int out_bits) {
  const int uh = (k.h - 1) * k.sh + 1, uw = (k.w - 1) * k.sw + 1;
  std::vector<int8_t> xu(static_cast<size_t>(k.n) * k.c * uh * uw, 0);
  for (int n = 0; n < k.n; ++n)
    for (int c = 0; c < k.c; ++c)
      for (int iy = 0; iy < k.h; ++iy)
        for (int ix = 0; ix < k.w; ++ix)
          xu[((static_cast<size_t>(n) * k.c + c) * uh + iy * k.sh) * uw + ix * k.sw] =
              x[((static_cast<size_t>(n) * k.c + c) * k.h + iy) * k.w + ix];
  const int cpg = k.c / k.g, opg = k.o / k.g;
  std::vector<int8_t> wc(static_cast<size_t>(k.o) * cpg * k.kh * k.kw);
  for (int oc = 0; oc < k.o; ++oc)
    for (int ic = 0; ic < cpg; ++ic)
      for (int ky = 0; ky < k.kh; ++ky)
        for (int kx = 0; kx < k.kw; ++kx) {
          const int c = (oc / opg) * cpg + ic, og = oc % opg;
          wc[((static_cast<size_t>(oc) * cpg + ic) * k.kh + ky) * k.kw + kx] =
              w[((static_cast<size_t>(c) * opg + og) * k.kh + (k.kh - 1 - ky)) * k.kw + (k.kw - 1 - kx)];
        }
  nm::Conv2dShape s;
  s.n = k.n; s.c = k.c; s.h = uh; s.w = uw; s.o = k.o; s.kh = k.kh; s.kw = k.kw;
  s.pad_top = k.dh * (k.kh - 1) - k.pt; s.pad_bottom = k.dh * (k.kh - 1) - k.pb + k.oph;
  s.pad_left = k.dw * (k.kw - 1) - k.pl; s.pad_right = k.dw * (k.kw - 1) - k.pr + k.opw;
  s.dil_h = k.dh; s.dil_w = k.dw; s.groups = k.g;
  EXPECT_TRUE(s.valid());
  std::vector<int64_t> out;
  const auto run = [&](auto tag) {
    using OutT = decltype(tag);
    std::vector<OutT> y(static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w());
    nm::conv2d_int<OutT>(xu.data(), wc.data(), bias, y.data(), s, shift, relu, out_bits);
    out.assign(y.begin(), y.end());
  };
  if (out_bits == 8) run(int8_t{});
  else if (out_bits == 16) run(int16_t{});
  else run(int32_t{});
  return out;
}

std::string describe(const CtCfg& k, int shift, bool relu, int bits) {
  std::string d;
  const int v[] = {k.n, k.c, k.h, k.w, k.o, k.kh, k.kw, k.sh, k.sw, k.pt, k.pl, k.pb, k.pr, k.oph, k.opw, k.dh, k.dw, k.g};
  const char* names[] = {"n", "c", "h", "w", "o", "kh", "kw", "sh", "sw", "pt", "pl", "pb", "pr", "oph", "opw", "dh", "dw", "g"};
  for (int i = 0; i < 18; ++i) d += std::string(names[i]) + "=" + std::to_string(v[i]) + " ";
  return d + "shift=" + std::to_string(shift) + " relu=" + std::to_string(relu) + " bits=" + std::to_string(bits);
}

void check_ct(const CtCfg& k, int shift, bool relu, int out_bits, bool with_bias, const std::vector<int8_t>* xin,
              const std::vector<int8_t>* win, const std::vector<int32_t>* bin) {
  const nm::ConvTranspose2dShape s = ct_shape(k);
  ASSERT_TRUE(s.valid()) << describe(k, shift, relu, out_bits);
  const std::vector<int8_t> x = xin ? *xin : rand_vec(static_cast<size_t>(k.n) * k.c * k.h * k.w);
  const std::vector<int8_t> w = win ? *win : rand_vec(static_cast<size_t>(k.c) * (k.o / k.g) * k.kh * k.kw);
  const std::vector<int32_t> b = bin ? *bin : rand_biases(k.o);
  const int32_t* bp = with_bias ? b.data() : nullptr;
  const RefOut r = ref_convtranspose(x, w, bp, k, shift, relu, out_bits);
  ASSERT_EQ(s.out_h(), r.oh) << describe(k, shift, relu, out_bits);
  ASSERT_EQ(s.out_w(), r.ow) << describe(k, shift, relu, out_bits);
  const std::vector<int64_t> got = run_ct(x, w, bp, s, shift, relu, out_bits);
  ASSERT_EQ(got.size(), r.y.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], r.y[i]) << "i=" << i << " " << describe(k, shift, relu, out_bits);
  if (conv_equiv_applicable(k)) {
    const std::vector<int64_t> via = via_conv2d(x, w, bp, k, shift, relu, out_bits);
    ASSERT_EQ(via, r.y) << "conv2d equivalence " << describe(k, shift, relu, out_bits);
  }
}

CtCfg random_ct_cfg() {
  CtCfg k{};
  switch (rand_int(0, 3)) {
    case 0: k.g = 1; break;
    case 1: k.g = rand_int(2, 3); break;
    default: k.g = rand_int(1, 4); break;
  }
  k.n = rand_int(1, 2);
  k.c = k.g * rand_int(1, 3);
  k.o = k.g * rand_int(1, 3);
  if (rand_int(0, 4) == 0) k.c = k.o = k.g = rand_int(1, 5);  // depthwise
  if (rand_int(0, 5) == 0) k.o = k.g * rand_int(1, 3);        // channel multiplier
  k.h = rand_int(1, 6);
  k.w = rand_int(1, 6);
  k.kh = rand_int(1, 5);
  k.kw = rand_int(1, 5);
  k.sh = rand_int(1, 4);
  k.sw = rand_int(1, 4);
  k.dh = rand_int(1, 2);
  k.dw = rand_int(1, 2);
  const int max_ph = rand_int(0, 3) ? k.kh - 1 : k.dh * (k.kh - 1) + 1;
  const int max_pw = rand_int(0, 3) ? k.kw - 1 : k.dw * (k.kw - 1) + 1;
  k.pt = rand_int(0, max_ph);
  k.pl = rand_int(0, max_pw);
  if (rand_int(0, 1)) {  // PyTorch symmetric padding
    k.pb = k.pt;
    k.pr = k.pl;
  } else {
    k.pb = rand_int(0, max_ph);
    k.pr = rand_int(0, max_pw);
  }
  k.oph = rand_int(0, std::max(k.sh, k.dh) - 1);
  k.opw = rand_int(0, std::max(k.sw, k.dw) - 1);
  return k;
}

TEST(ConvTranspose2dInt, RandomGeometryVsScatterReference) {
  int done = 0, with_out_pad = 0, asym = 0, depthwise = 0, grouped = 0, equiv = 0, tries = 0;
  while (done < 1200) {
    ASSERT_LT(++tries, 100000);
    const CtCfg k = random_ct_cfg();
    if (!ct_shape(k).valid()) continue;
    const int shift = rand_int(0, 5) == 0 ? rand_int(-8, 0) : rand_int(0, 24);
    SCOPED_TRACE(done);
    check_ct(k, shift, rand_int(0, 1) == 1, kBits[rand_int(0, 2)], rand_int(0, 3) != 0, nullptr, nullptr, nullptr);
    if (HasFatalFailure()) return;
    with_out_pad += (k.oph > 0 || k.opw > 0);
    asym += (k.pt != k.pb || k.pl != k.pr);
    depthwise += (k.g == k.c && k.g == k.o && k.g > 1);
    grouped += (k.g > 1);
    equiv += conv_equiv_applicable(k);
    ++done;
  }
  // The random stream must actually cover the interesting cases.
  EXPECT_GT(with_out_pad, 100);
  EXPECT_GT(asym, 100);
  EXPECT_GT(depthwise, 50);
  EXPECT_GT(grouped, 200);
  EXPECT_GT(equiv, 200);
}

TEST(ConvTranspose2dInt, EveryStrideDilationOutputPadding) {
  // Exhaustive small sweep of (stride, dilation, output_padding, padding, kernel) per axis.
  int count = 0;
  for (int s = 1; s <= 4; ++s)
    for (int d = 1; d <= 2; ++d)
      for (int op = 0; op < std::max(s, d); ++op)
        for (int kk = 1; kk <= 5; ++kk)
          for (int p = 0; p <= kk - 1; ++p) {
            const CtCfg k{1, 2, 3, 4, 2, kk, (kk % 3) + 1, s, 5 - s, p, 0, kk - 1 - p, 0, op, 0, d, 3 - d, 1};
            if (!ct_shape(k).valid()) continue;
            SCOPED_TRACE(count);
            check_ct(k, rand_int(-3, 16), rand_int(0, 1) == 1, kBits[rand_int(0, 2)], true, nullptr, nullptr, nullptr);
            if (HasFatalFailure()) return;
            ++count;
          }
  EXPECT_GT(count, 150);
}

TEST(ConvTranspose2dInt, DepthwiseStrideTwoAllShiftsAndBits) {
  // depthwise (groups == c == o), kernel 4x4 stride 2 padding 1 (the usual 2x upsampler),
  // output_padding 1 along W, and asymmetric padding along W.
  const CtCfg k{2, 4, 5, 6, 4, 4, 3, 2, 2, 1, 0, 1, 2, 0, 1, 1, 1, 4};
  for (int shift : {-5, -1, 0, 1, 7, 14, 30})
    for (int bits : kBits)
      for (bool relu : {false, true})
        for (bool with_bias : {false, true}) {
          check_ct(k, shift, relu, bits, with_bias, nullptr, nullptr, nullptr);
          if (HasFatalFailure()) return;
        }
}

TEST(ConvTranspose2dInt, ExtremeInputsAndBiasesNearInt32Limits) {
  const CtCfg k{1, 3, 4, 4, 2, 3, 3, 2, 1, 1, 1, 0, 2, 1, 0, 1, 2, 1};
  const size_t nx = 3 * 4 * 4, nw = 3 * 2 * 3 * 3;
  const int8_t extremes[] = {-128, 127};
  const std::vector<int32_t> bias_sets[] = {{kI32Max, kI32Min}, {kI32Max - 5, kI32Min + 5}, {0, -1}};
  for (int8_t xv : extremes)
    for (int8_t wv : extremes) {
      const std::vector<int8_t> x(nx, xv), w(nw, wv);
      for (const auto& b : bias_sets)
        for (int shift : {-2, 0, 3, 31})
          for (int bits : kBits)
            for (bool relu : {false, true}) {
              check_ct(k, shift, relu, bits, true, &x, &w, &b);
              if (HasFatalFailure()) return;
            }
    }
}

TEST(ConvTranspose2dInt, WrappingAccumulation) {
  // 1x1 kernel, 131073 input channels all -128, weights all -128: the sum is
  // 131073 * 16384 = 2147500032 > INT32_MAX and wraps to 2147500032 - 2^32 = -2147467264.
  const int c = 131073;
  CtCfg k{1, c, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  const std::vector<int8_t> x(c, -128), w(c, -128);
  const nm::ConvTranspose2dShape s = ct_shape(k);
  ASSERT_TRUE(s.valid());
  int32_t y32 = 0;
  nm::convtranspose2d_int<int32_t>(x.data(), w.data(), nullptr, &y32, s, 0, false, 32);
  EXPECT_EQ(y32, -2147467264);
  const int32_t bias = 100;
  nm::convtranspose2d_int<int32_t>(x.data(), w.data(), &bias, &y32, s, 2, false, 32);
  EXPECT_EQ(y32, -536866791);  // (-2147467264 + 100) / 4 = -536866791
  nm::convtranspose2d_int<int32_t>(x.data(), w.data(), &bias, &y32, s, 2, true, 32);
  EXPECT_EQ(y32, 0);           // relu of the wrapped (negative) accumulator
  int8_t y8 = 0;
  nm::convtranspose2d_int<int8_t>(x.data(), w.data(), nullptr, &y8, s, 0, false, 8);
  EXPECT_EQ(y8, -128);
  const std::vector<int32_t> b1 = {kI32Min};  // wrapped acc + INT32_MIN saturates at INT32_MIN
  for (int shift : {-3, 0, 5, 31})
    for (int bits : kBits) {
      check_ct(k, shift, false, bits, true, &x, &w, &b1);
      check_ct(k, shift, true, bits, false, &x, &w, nullptr);
    }
  // The same wrap through kernel taps: 2x2 kernel, stride 1, 32769 channels, 2x2 input. The
  // centre of the 3x3 full output receives 4 * 32769 = 131076 products of 127 * 127 = 16129:
  // 2114124804 (no wrap); with -128 * -128 it is 2147549184, which wraps to -2147418112.
  const int c2 = 32769;
  k = CtCfg{1, c2, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  const nm::ConvTranspose2dShape s2 = ct_shape(k);
  ASSERT_EQ(s2.out_h(), 3);
  std::vector<int8_t> x2(static_cast<size_t>(c2) * 4, -128), w2(static_cast<size_t>(c2) * 4, -128);
  std::vector<int32_t> y2(9);
  nm::convtranspose2d_int<int32_t>(x2.data(), w2.data(), nullptr, y2.data(), s2, 0, false, 32);
  EXPECT_EQ(y2[4], -2147418112);
  EXPECT_EQ(y2[0], 536887296);  // corner: 32769 * 16384, no wrap
  check_ct(k, 0, false, 32, false, &x2, &w2, nullptr);
  check_ct(k, 9, true, 16, true, &x2, &w2, &b1);
  std::fill(x2.begin(), x2.end(), static_cast<int8_t>(127));
  std::fill(w2.begin(), w2.end(), static_cast<int8_t>(127));
  nm::convtranspose2d_int<int32_t>(x2.data(), w2.data(), nullptr, y2.data(), s2, 0, false, 32);
  EXPECT_EQ(y2[4], 2114124804);
  check_ct(k, 0, false, 32, false, &x2, &w2, nullptr);
}

TEST(ConvTranspose2dInt, PlanesAreIndependent) {
  // Computing the planes in reverse order, each on its own, gives the whole-tensor result.
  const CtCfg k{2, 6, 4, 3, 9, 3, 2, 3, 2, 1, 0, 2, 1, 2, 1, 1, 2, 3};
  const nm::ConvTranspose2dShape s = ct_shape(k);
  ASSERT_TRUE(s.valid());
  const std::vector<int8_t> x = rand_vec(static_cast<size_t>(k.n) * k.c * k.h * k.w);
  const std::vector<int8_t> w = rand_vec(static_cast<size_t>(k.c) * (k.o / k.g) * k.kh * k.kw);
  const std::vector<int32_t> b = rand_biases(k.o);
  const size_t plane = static_cast<size_t>(s.out_h()) * s.out_w();
  std::vector<int16_t> whole(k.n * k.o * plane), parts(k.n * k.o * plane, 0x5555);
  nm::convtranspose2d_int<int16_t>(x.data(), w.data(), b.data(), whole.data(), s, 6, false, 16);
  for (int n = k.n - 1; n >= 0; --n)
    for (int oc = k.o - 1; oc >= 0; --oc)
      nm::convtranspose2d_int_plane<int16_t>(x.data(), w.data(), b.data(), parts.data() + (n * k.o + oc) * plane, s,
                                             n, oc, 6, false, 16);
  EXPECT_EQ(parts, whole);
  check_ct(k, 6, false, 16, true, &x, &w, &b);
}

TEST(ConvTranspose2dInt, HandComputedExample) {
  // x = [[1, 2], [3, 4]], w = [[1, 1], [1, -1]], stride 2: every input spreads to its own 2x2 block.
  const CtCfg k{1, 1, 2, 2, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  const std::vector<int8_t> x = {1, 2, 3, 4}, w = {1, 1, 1, -1};
  std::vector<int8_t> y(16);
  nm::convtranspose2d_int<int8_t>(x.data(), w.data(), nullptr, y.data(), ct_shape(k), 0, false, 8);
  EXPECT_EQ(y, (std::vector<int8_t>{1, 1, 2, 2, 1, -1, 2, -2, 3, 3, 4, 4, 3, -3, 4, -4}));
  // stride 1: overlapping blocks add up (full output 3x3).
  const CtCfg k1{1, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  std::vector<int8_t> y1(9);
  nm::convtranspose2d_int<int8_t>(x.data(), w.data(), nullptr, y1.data(), ct_shape(k1), 0, false, 8);
  // (0,0)=1; (0,1)=1+2; (0,2)=2; (1,0)=1+3; (1,1)=-1+2+3+4; (1,2)=-2+4; (2,0)=3; (2,1)=-3+4; (2,2)=-4
  EXPECT_EQ(y1, (std::vector<int8_t>{1, 3, 2, 4, 8, 2, 3, 1, -4}));
  // padding 1 crops the border: only the centre remains; output_padding 1 with dilation 2 adds a
  // row/column past the full output that receives only the bias.
  const CtCfg kp{1, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
  int8_t yc = 0;
  nm::convtranspose2d_int<int8_t>(x.data(), w.data(), nullptr, &yc, ct_shape(kp), 0, false, 8);
  EXPECT_EQ(yc, 8);
  const CtCfg kd{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2, 2, 1};  // 1x1 input, 1x1 kernel
  ASSERT_TRUE(ct_shape(kd).valid());
  ASSERT_EQ(ct_shape(kd).out_h(), 2);
  const int8_t x1 = 5, w1 = 3;
  const int32_t b1 = 4;
  std::vector<int8_t> yd(4);
  nm::convtranspose2d_int<int8_t>(&x1, &w1, &b1, yd.data(), ct_shape(kd), 1, false, 8);
  EXPECT_EQ(yd, (std::vector<int8_t>{10, 2, 2, 2}));  // (15+4)/2 = 9.5 -> 10; 4/2 = 2
}

TEST(ConvTranspose2dShape, OutputSizeMatchesPyTorchFormula) {
  // Hand-computed from PyTorch's ConvTranspose2d docs:
  //   H_out = (H_in - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1
  struct Case { int in, k, s, p, op, d, out; };
  const Case cases[] = {
      {4, 3, 2, 1, 1, 1, 8},    // 6 - 2 + 2 + 1 + 1
      {5, 4, 2, 1, 0, 1, 10},   // 8 - 2 + 3 + 0 + 1
      {1, 1, 1, 0, 0, 1, 1},
      {7, 3, 1, 1, 0, 1, 7},    // "same" transpose conv
      {3, 5, 3, 2, 2, 1, 9},    // 6 - 4 + 4 + 2 + 1
      {2, 3, 1, 0, 1, 2, 7},    // 1 + 4 + 1 + 1 (op 1 < dilation 2)
      {10, 2, 2, 0, 0, 1, 20},
      {16, 4, 4, 0, 3, 1, 67},  // 60 + 3 + 3 + 1
      {3, 3, 1, 2, 0, 1, 1},    // 2 - 4 + 2 + 1
      {1, 5, 3, 0, 2, 2, 11},   // 0 + 8 + 2 + 1
      {8, 4, 2, 1, 0, 1, 16},   // the usual 2x upsampler
      {6, 1, 3, 0, 2, 1, 18},   // 15 + 0 + 2 + 1
  };
  for (const Case& c : cases) {
    EXPECT_EQ(torch_ct_out(c.in, c.k, c.s, c.p, c.op, c.d), c.out);
    const CtCfg k{1, 1, c.in, 1, 1, c.k, 1, c.s, 1, c.p, 0, c.p, 0, c.op, 0, c.d, 1, 1};
    const nm::ConvTranspose2dShape s = ct_shape(k);
    EXPECT_TRUE(s.valid()) << c.in << " " << c.k << " " << c.s << " " << c.p << " " << c.op << " " << c.d;
    EXPECT_EQ(s.out_h(), c.out) << c.in << " " << c.k << " " << c.s << " " << c.p << " " << c.op << " " << c.d;
    EXPECT_EQ(s.out_w(), 1);
    const CtCfg kt{1, 1, 1, c.in, 1, 1, c.k, 1, c.s, 0, c.p, 0, c.p, 0, c.op, 1, c.d, 1};  // same along W
    EXPECT_EQ(ct_shape(kt).out_w(), c.out);
    EXPECT_EQ(ct_shape(kt).out_h(), 1);
  }
  // Sweep against the formula (symmetric padding) and the scatter buffer size (any padding).
  for (int in = 1; in <= 9; ++in)
    for (int kk = 1; kk <= 5; ++kk)
      for (int s = 1; s <= 4; ++s)
        for (int d = 1; d <= 3; ++d)
          for (int op = 0; op <= 4; ++op)
            for (int p0 = 0; p0 <= 4; ++p0)
              for (int p1 = 0; p1 <= 4; ++p1) {
                const CtCfg k{1, 1, in, 1, 1, kk, 1, s, 1, p0, 0, p1, 0, op, 0, d, 1, 1};
                const nm::ConvTranspose2dShape sh = ct_shape(k);
                const int full = (in - 1) * s + d * (kk - 1) + 1;
                const int want = full - p0 - p1 + op;
                const bool want_valid = op < std::max(s, d) && want > 0;
                ASSERT_EQ(sh.valid(), want_valid) << in << " " << kk << " " << s << " " << d << " " << op << " " << p0 << " " << p1;
                if (want_valid) {
                  ASSERT_EQ(sh.out_h(), want);
                }
                if (p0 == p1 && want_valid) {
                  ASSERT_EQ(sh.out_h(), torch_ct_out(in, kk, s, p0, op, d));
                }
              }
}

TEST(ConvTranspose2dShape, Validity) {
  const CtCfg base{1, 4, 3, 3, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2};
  EXPECT_TRUE(ct_shape(base).valid());
  auto bad = [&](auto mutate) {
    CtCfg k = base;
    mutate(k);
    return !ct_shape(k).valid();
  };
  EXPECT_TRUE(bad([](CtCfg& k) { k.c = 5; }));         // c % groups
  EXPECT_TRUE(bad([](CtCfg& k) { k.o = 5; }));         // o % groups
  EXPECT_TRUE(bad([](CtCfg& k) { k.oph = 2; }));       // output_padding >= max(stride, dilation)
  EXPECT_TRUE(bad([](CtCfg& k) { k.sw = 1; }));        // output_padding 1 with stride 1, dilation 1
  EXPECT_FALSE(bad([](CtCfg& k) { k.sw = 1; k.dw = 2; }));  // ... but dilation 2 allows it
  EXPECT_TRUE(bad([](CtCfg& k) { k.opw = -1; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.pt = -1; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.pt = 4; k.pb = 4; }));  // 4 - 8 + 2 + 1 + 1 = 0: empty output
  EXPECT_TRUE(bad([](CtCfg& k) { k.h = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.kw = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.sh = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.dh = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.g = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.n = 0; }));
  EXPECT_TRUE(bad([](CtCfg& k) { k.h = 1 << 20; k.sh = 1 << 12; k.oph = 0; }));  // output size overflows int
}

// ================================================================= Conv1d
struct C1Cfg {
  int n, c, l, o, k, stride, pl, pr, dil, g;
};

nm::Conv1dShape c1_shape(const C1Cfg& k) {
  nm::Conv1dShape s;
  s.n = k.n; s.c = k.c; s.l = k.l; s.o = k.o; s.k = k.k; s.stride = k.stride;
  s.pad_left = k.pl; s.pad_right = k.pr; s.dil = k.dil; s.groups = k.g;
  return s;
}

// Naive 1-D conv: output position p covers input positions p*stride - pad_left + t*dil.
std::vector<int64_t> ref_conv1d(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                const C1Cfg& k, int shift, bool relu, int out_bits, int* out_l) {
  int ol = 0;  // number of windows that fit in the padded length
  while (ol * k.stride + k.dil * (k.k - 1) + 1 <= k.l + k.pl + k.pr) ++ol;
  *out_l = ol;
  const int cpg = k.c / k.g, opg = k.o / k.g;
  std::vector<int64_t> y;
  for (int n = 0; n < k.n; ++n)
    for (int o = 0; o < k.o; ++o)
      for (int p = 0; p < ol; ++p) {
        i128 sum = 0;
        for (int ci = 0; ci < cpg; ++ci)
          for (int t = 0; t < k.k; ++t) {
            const int pos = p * k.stride - k.pl + t * k.dil;
            if (pos < 0 || pos >= k.l) continue;  // zero padding
            const int c = (o / opg) * cpg + ci;
            sum += static_cast<i128>(x[(static_cast<size_t>(n) * k.c + c) * k.l + pos]) *
                   w[(static_cast<size_t>(o) * cpg + ci) * k.k + t];
          }
        y.push_back(ref_conv_out(sum, bias, o, shift, relu, out_bits));
      }
  return y;
}

void check_conv1d(const C1Cfg& k, int shift, bool relu, int out_bits, bool with_bias, const std::vector<int8_t>* xin,
                  const std::vector<int8_t>* win) {
  const nm::Conv1dShape s = c1_shape(k);
  ASSERT_TRUE(s.valid());
  const std::vector<int8_t> x = xin ? *xin : rand_vec(static_cast<size_t>(k.n) * k.c * k.l);
  const std::vector<int8_t> w = win ? *win : rand_vec(static_cast<size_t>(k.o) * (k.c / k.g) * k.k);
  const std::vector<int32_t> b = rand_biases(k.o);
  const int32_t* bp = with_bias ? b.data() : nullptr;
  int ol = 0;
  const std::vector<int64_t> want = ref_conv1d(x, w, bp, k, shift, relu, out_bits, &ol);
  ASSERT_EQ(s.out_l(), ol);
  std::vector<int64_t> got;
  std::vector<int64_t> got_planes;
  const auto run = [&](auto tag) {
    using OutT = decltype(tag);
    std::vector<OutT> y(static_cast<size_t>(k.n) * k.o * ol), yp(y.size());
    nm::conv1d_int<OutT>(x.data(), w.data(), bp, y.data(), s, shift, relu, out_bits);
    for (int n = 0; n < k.n; ++n)
      for (int o = 0; o < k.o; ++o)
        nm::conv1d_int_plane<OutT>(x.data(), w.data(), bp, yp.data() + (static_cast<size_t>(n) * k.o + o) * ol, s, n,
                                   o, shift, relu, out_bits);
    got.assign(y.begin(), y.end());
    got_planes.assign(yp.begin(), yp.end());
  };
  if (out_bits == 8) run(int8_t{});
  else if (out_bits == 16) run(int16_t{});
  else run(int32_t{});
  ASSERT_EQ(got, want) << "c=" << k.c << " o=" << k.o << " g=" << k.g << " l=" << k.l << " k=" << k.k
                       << " stride=" << k.stride << " pad=" << k.pl << "," << k.pr << " dil=" << k.dil
                       << " shift=" << shift << " bits=" << out_bits;
  ASSERT_EQ(got_planes, want);
}

TEST(Conv1dInt, RandomGeometryVsNaiveReference) {
  int done = 0, tries = 0;
  while (done < 600) {
    ASSERT_LT(++tries, 100000);
    C1Cfg k{};
    k.g = rand_int(1, 3);
    k.n = rand_int(1, 2);
    k.c = k.g * rand_int(1, 3);
    k.o = k.g * rand_int(1, 3);
    if (rand_int(0, 4) == 0) k.c = k.o = k.g = rand_int(1, 6);  // depthwise
    k.l = rand_int(1, 20);
    k.k = rand_int(1, 5);
    k.stride = rand_int(1, 4);
    k.dil = rand_int(1, 3);
    k.pl = rand_int(0, 3);
    k.pr = rand_int(0, 3);
    if (!c1_shape(k).valid()) continue;
    SCOPED_TRACE(done);
    check_conv1d(k, rand_int(-6, 24), rand_int(0, 1) == 1, kBits[rand_int(0, 2)], rand_int(0, 3) != 0, nullptr,
                 nullptr);
    if (HasFatalFailure()) return;
    ++done;
  }
}

TEST(Conv1dInt, ShapeMapsToConv2d) {
  const C1Cfg k{2, 6, 17, 9, 4, 3, 2, 1, 2, 3};
  const nm::Conv1dShape s = c1_shape(k);
  const nm::Conv2dShape s2 = s.to_conv2d();
  EXPECT_EQ(s2.h, 1);
  EXPECT_EQ(s2.kh, 1);
  EXPECT_EQ(s2.stride_h, 1);
  EXPECT_EQ(s2.dil_h, 1);
  EXPECT_EQ(s2.pad_top + s2.pad_bottom, 0);
  EXPECT_EQ(s2.w, 17);
  EXPECT_EQ(s2.kw, 4);
  EXPECT_EQ(s2.stride_w, 3);
  EXPECT_EQ(s2.pad_left, 2);
  EXPECT_EQ(s2.pad_right, 1);
  EXPECT_EQ(s2.dil_w, 2);
  EXPECT_EQ(s2.groups, 3);
  EXPECT_EQ(s2.out_h(), 1);
  EXPECT_EQ(s.out_l(), 5);  // (17 + 3 - 6 - 1) / 3 + 1
  EXPECT_EQ(s2.out_w(), s.out_l());
  EXPECT_TRUE(s.valid());
  nm::Conv1dShape bad = s;
  bad.k = 11;  // dil*(k-1)+1 = 21 > 20
  EXPECT_FALSE(bad.valid());
  bad = s;
  bad.c = 7;
  EXPECT_FALSE(bad.valid());
  check_conv1d(k, 5, true, 8, true, nullptr, nullptr);
}

TEST(Conv1dInt, WrappingAccumulationAndExtremes) {
  // 131073 channels of 127 * -128 = -16256: the sum -2130722688 fits; with -128 * -128 it wraps.
  const int c = 131073;
  const C1Cfg k{1, c, 1, 1, 1, 1, 0, 0, 1, 1};
  std::vector<int8_t> x(c, -128), w(c, -128);
  int32_t y = 0;
  nm::conv1d_int<int32_t>(x.data(), w.data(), nullptr, &y, c1_shape(k), 0, false, 32);
  EXPECT_EQ(y, -2147467264);
  for (int shift : {-2, 0, 4, 31})
    for (int bits : kBits) check_conv1d(k, shift, rand_int(0, 1) == 1, bits, true, &x, &w);
  std::fill(x.begin(), x.end(), static_cast<int8_t>(127));
  nm::conv1d_int<int32_t>(x.data(), w.data(), nullptr, &y, c1_shape(k), 0, false, 32);
  EXPECT_EQ(y, -2130722688);
  for (int bits : kBits) check_conv1d(k, 3, false, bits, true, &x, &w);
  // All-extreme inputs through padded, strided, dilated windows.
  const C1Cfg k2{2, 4, 11, 4, 3, 2, 2, 1, 2, 2};
  for (int8_t xv : {int8_t{-128}, int8_t{127}})
    for (int8_t wv : {int8_t{-128}, int8_t{127}}) {
      const std::vector<int8_t> x2(2 * 4 * 11, xv), w2(4 * 2 * 3, wv);
      for (int shift : {-9, 0, 6})
        for (int bits : kBits) check_conv1d(k2, shift, true, bits, true, &x2, &w2);
    }
}

// ================================================================= BatchNorm2d
int64_t ref_bn(int x, int w, const int32_t* b, int c, int shift, int bits) {
  const i128 v = static_cast<i128>(x) * w + (b ? b[c] : 0);
  return static_cast<int64_t>(clamp_bits(ref_rhu(v, shift), bits));
}

void check_bn(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* b, int n, int c, int sp,
              int shift, int bits) {
  std::vector<int64_t> want;
  for (int in = 0; in < n; ++in)
    for (int ic = 0; ic < c; ++ic)
      for (int i = 0; i < sp; ++i)
        want.push_back(ref_bn(x[(static_cast<size_t>(in) * c + ic) * sp + i], w[ic], b, ic, shift, bits));
  std::vector<int64_t> got;
  const auto run = [&](auto tag) {
    using OutT = decltype(tag);
    std::vector<OutT> y(want.size());
    nm::batchnorm_int<OutT>(x.data(), w.data(), b, y.data(), n, c, sp, shift, bits);
    got.assign(y.begin(), y.end());
  };
  if (bits == 8) run(int8_t{});
  else if (bits == 16) run(int16_t{});
  else run(int32_t{});
  ASSERT_EQ(got, want) << "n=" << n << " c=" << c << " spatial=" << sp << " shift=" << shift << " bits=" << bits;
}

TEST(BatchNorm2dInt, RandomVsNaiveReference) {
  for (int t = 0; t < 500; ++t) {
    const int n = rand_int(1, 3), c = rand_int(1, 6);
    const int sp = rand_int(0, 3) == 0 ? 1 : rand_int(1, 40);  // any trailing spatial size, incl. [N, C]
    const std::vector<int8_t> x = rand_vec(static_cast<size_t>(n) * c * sp), w = rand_vec(c);
    const std::vector<int32_t> b = rand_biases(c);
    const int shift = rand_int(0, 4) == 0 ? rand_int(-40, 0) : rand_int(0, 40);
    SCOPED_TRACE(t);
    check_bn(x, w, rand_int(0, 5) ? b.data() : nullptr, n, c, sp, shift, kBits[rand_int(0, 2)]);
    if (HasFatalFailure()) return;
  }
}

TEST(BatchNorm2dInt, ExhaustiveInt8PairsPerElement) {
  const int32_t biases[] = {0, 1, -1, 64, -64, 12345, -12345, kI32Max, kI32Min, kI32Max - 16128, kI32Min + 16384};
  const int shifts[] = {-33, -20, -8, -1, 0, 1, 2, 7, 8, 15, 31, 32, 33, 63, 64};
  int64_t mismatches = 0;
  for (int32_t b : biases)
    for (int shift : shifts)
      for (int bits : kBits)
        for (int x = -128; x <= 127; ++x)
          for (int w = -128; w <= 127; ++w) {
            const int64_t want = ref_bn(x, w, &b, 0, shift, bits);
            const int64_t got = nm::batchnorm_int_at(static_cast<int8_t>(x), static_cast<int8_t>(w), b, shift, bits);
            if (got != want && ++mismatches <= 10)
              ADD_FAILURE() << "x=" << x << " w=" << w << " b=" << b << " shift=" << shift << " bits=" << bits
                            << " got " << got << " want " << want;
          }
  EXPECT_EQ(mismatches, 0);
}

TEST(BatchNorm2dInt, SaturationNegativeShiftAndTies) {
  // Ties round half up.
  EXPECT_EQ(nm::batchnorm_int_at(3, 1, 0, 1), 2);    // 1.5 -> 2
  EXPECT_EQ(nm::batchnorm_int_at(-3, 1, 0, 1), -1);  // -1.5 -> -1
  EXPECT_EQ(nm::batchnorm_int_at(-5, 1, 0, 1), -2);  // -2.5 -> -2
  EXPECT_EQ(nm::batchnorm_int_at(5, 5, -1, 3), 3);   // 24/8 = 3
  // int64 sum: x*w + b beyond the int32 range is neither wrapped nor saturated before the shift.
  EXPECT_EQ(nm::batchnorm_int_at(127, 127, kI32Max, 0, 32), kI32Max);
  EXPECT_EQ(nm::batchnorm_int_at(127, 127, kI32Max, 1, 32), 1073749888);    // 2147499776 / 2
  EXPECT_EQ(nm::batchnorm_int_at(-128, 127, kI32Min, 1, 32), -1073749952);  // -2147499904 / 2
  EXPECT_EQ(nm::batchnorm_int_at(-128, 127, kI32Min, 0, 32), kI32Min);
  // Default 8 bits: saturation both ways.
  EXPECT_EQ(nm::batchnorm_int_at(127, 127, 0, 0), 127);
  EXPECT_EQ(nm::batchnorm_int_at(-128, 127, 0, 0), -128);
  EXPECT_EQ(nm::batchnorm_int_at(127, 127, 0, 7), 126);    // 16129/128 = 126.008
  EXPECT_EQ(nm::batchnorm_int_at(127, 127, 0, 6), 127);    // 252.02 saturates
  EXPECT_EQ(nm::batchnorm_int_at(-128, -128, 0, 7), 127);  // 128 saturates
  EXPECT_EQ(nm::batchnorm_int_at(-128, 127, 0, 7), -127);  // -127
  // Negative shift: exact left shift, then saturate.
  EXPECT_EQ(nm::batchnorm_int_at(1, 63, 0, -1), 126);
  EXPECT_EQ(nm::batchnorm_int_at(1, 64, 0, -1), 127);
  EXPECT_EQ(nm::batchnorm_int_at(-1, 64, 0, -1), -128);
  EXPECT_EQ(nm::batchnorm_int_at(-1, 65, 0, -1), -128);
  EXPECT_EQ(nm::batchnorm_int_at(1, 1, 0, -14, 16), 16384);
  EXPECT_EQ(nm::batchnorm_int_at(1, 2, 0, -14, 16), 32767);
  EXPECT_EQ(nm::batchnorm_int_at(1, 1, 0, -40, 32), kI32Max);
  EXPECT_EQ(nm::batchnorm_int_at(-1, 1, 0, -40, 32), kI32Min);
  EXPECT_EQ(nm::batchnorm_int_at(0, 0, 0, -60, 8), 0);
  EXPECT_EQ(nm::batchnorm_int_at(1, 1, -1, -60, 8), 0);
  // Whole-tensor layout: channel c uses w[c], b[c] across every batch and spatial position.
  const std::vector<int8_t> x = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};  // [2, 2, 3]
  const std::vector<int8_t> w = {10, -20};
  const std::vector<int32_t> b = {5, 100};
  std::vector<int8_t> y(12);
  nm::batchnorm_int<int8_t>(x.data(), w.data(), b.data(), y.data(), 2, 2, 3, 2);
  // c0: (10x + 5)/4; c1: (-20x + 100)/4
  EXPECT_EQ(y, (std::vector<int8_t>{4, 6, 9, 5, 0, -5, -1, -4, -6, 45, 50, 55}));
  nm::batchnorm_int<int8_t>(x.data(), w.data(), nullptr, y.data(), 2, 2, 3, 0);
  EXPECT_EQ(y, (std::vector<int8_t>{10, 20, 30, -80, -100, -120, -10, -20, -30, 80, 100, 120}));
  check_bn(x, w, b.data(), 2, 2, 3, 2, 8);
  // Per-plane helper.
  std::vector<int16_t> yp(3);
  nm::batchnorm_int_plane<int16_t>(x.data() + 3, -20, 100, yp.data(), 3, -3, 16);
  EXPECT_EQ(yp, (std::vector<int16_t>{160, 0, -160}));  // (-80+100)*8, 0, (-120+100)*8
}

}  // namespace
