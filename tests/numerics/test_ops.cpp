// Tests of the integer op kernels (conv.h, linear.h, pool.h, elementwise.h) against
// independent naive references written here (numerics.md §3). The references use only
// __int128 arithmetic and explicit padding; they call nothing from the headers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "linger/numerics/conv.h"
#include "reference.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"

namespace {

namespace nm = linger::numerics;
using namespace linger_test;  // NOLINT: exact reference arithmetic

std::mt19937& rng() {
  static std::mt19937 r(20240607);
  return r;
}
#include "random_values.inc"  // NOLINT: needs rng() above

// ---------------------------------------------------------------- conv
struct ConvCfg {
  int n, c, h, w, o, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g;
};

nm::Conv2dShape to_shape(const ConvCfg& k) {
  nm::Conv2dShape s;
  s.n = k.n; s.c = k.c; s.h = k.h; s.w = k.w; s.o = k.o; s.kh = k.kh; s.kw = k.kw;
  s.stride_h = k.sh; s.stride_w = k.sw; s.pad_top = k.pt; s.pad_left = k.pl; s.pad_bottom = k.pb; s.pad_right = k.pr;
  s.dil_h = k.dh; s.dil_w = k.dw; s.groups = k.g;
  return s;
}

// Number of window positions along one axis: starts p with p*stride + span - 1 < padded size.
int ref_positions(int padded, int span, int stride) {
  int out = 0;
  while (out * stride + span <= padded) ++out;
  return out;
}

struct RefOut {
  int oh, ow;
  std::vector<int64_t> y;
};

RefOut ref_conv(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias, const ConvCfg& k,
                int shift, bool relu, int out_bits) {
  const int hp = k.h + k.pt + k.pb, wp = k.w + k.pl + k.pr;
  std::vector<int32_t> xp(static_cast<size_t>(k.n) * k.c * hp * wp, 0);  // explicitly zero-padded input
  for (int n = 0; n < k.n; ++n)
    for (int c = 0; c < k.c; ++c)
      for (int y = 0; y < k.h; ++y)
        for (int xx = 0; xx < k.w; ++xx)
          xp[((static_cast<size_t>(n) * k.c + c) * hp + y + k.pt) * wp + xx + k.pl] =
              x[((static_cast<size_t>(n) * k.c + c) * k.h + y) * k.w + xx];
  RefOut r;
  r.oh = ref_positions(hp, k.dh * (k.kh - 1) + 1, k.sh);
  r.ow = ref_positions(wp, k.dw * (k.kw - 1) + 1, k.sw);
  const int cpg = k.c / k.g, opg = k.o / k.g;
  for (int n = 0; n < k.n; ++n)
    for (int o = 0; o < k.o; ++o)
      for (int oy = 0; oy < r.oh; ++oy)
        for (int ox = 0; ox < r.ow; ++ox) {
          i128 sum = 0;
          for (int ci = 0; ci < cpg; ++ci)
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int c = (o / opg) * cpg + ci;
                const int32_t xv = xp[((static_cast<size_t>(n) * k.c + c) * hp + oy * k.sh + ky * k.dh) * wp +
                                      ox * k.sw + kx * k.dw];
                const int32_t wv = w[((static_cast<size_t>(o) * cpg + ci) * k.kh + ky) * k.kw + kx];
                sum += static_cast<i128>(xv) * wv;
              }
          i128 acc = ref_wrap32(sum);                      // int32 accumulator wraps
          acc = clamp_bits(acc + (bias ? bias[o] : 0), 32);  // sat32(acc + bias)
          if (relu && acc < 0) acc = 0;
          r.y.push_back(static_cast<int64_t>(clamp_bits(ref_rhu(acc, shift), out_bits)));
        }
  return r;
}

template <typename OutT>
std::vector<int64_t> run_conv_t(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                const nm::Conv2dShape& s, int shift, bool relu, int out_bits) {
  std::vector<OutT> y(static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w());
  nm::conv2d_int<OutT>(x.data(), w.data(), bias, y.data(), s, shift, relu, out_bits);
  return std::vector<int64_t>(y.begin(), y.end());
}

std::vector<int64_t> run_conv(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                              const nm::Conv2dShape& s, int shift, bool relu, int out_bits) {
  if (out_bits == 8) return run_conv_t<int8_t>(x, w, bias, s, shift, relu, out_bits);
  if (out_bits == 16) return run_conv_t<int16_t>(x, w, bias, s, shift, relu, out_bits);
  return run_conv_t<int32_t>(x, w, bias, s, shift, relu, out_bits);
}

void check_conv(const ConvCfg& k, int shift, bool relu, int out_bits, bool with_bias, const std::vector<int8_t>* xin,
                const std::vector<int8_t>* win, const std::vector<int32_t>* bin) {
  const nm::Conv2dShape s = to_shape(k);
  ASSERT_TRUE(s.valid());
  const std::vector<int8_t> x = xin ? *xin : rand_vec(static_cast<size_t>(k.n) * k.c * k.h * k.w);
  const std::vector<int8_t> w = win ? *win : rand_vec(static_cast<size_t>(k.o) * (k.c / k.g) * k.kh * k.kw);
  std::vector<int32_t> b(k.o);
  if (bin) b = *bin; else for (auto& e : b) e = rand_bias();
  const int32_t* bp = with_bias ? b.data() : nullptr;
  const RefOut r = ref_conv(x, w, bp, k, shift, relu, out_bits);
  ASSERT_EQ(s.out_h(), r.oh);
  ASSERT_EQ(s.out_w(), r.ow);
  const std::vector<int64_t> got = run_conv(x, w, bp, s, shift, relu, out_bits);
  ASSERT_EQ(got.size(), r.y.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], r.y[i]) << "i=" << i << " c=" << k.c << " o=" << k.o << " g=" << k.g << " h=" << k.h
                              << " w=" << k.w << " k=" << k.kh << "x" << k.kw << " shift=" << shift << " bits=" << out_bits;
}

TEST(Conv2dInt, RandomGeometryVsNaiveReference) {
  const int bits_list[] = {8, 16, 32};
  int done = 0;
  while (done < 400) {
    ConvCfg k{};
    k.g = rand_int(1, 3);
    k.n = rand_int(1, 2);
    k.c = k.g * rand_int(1, 3);
    k.o = k.g * rand_int(1, 3);
    k.h = rand_int(1, 7);
    k.w = rand_int(1, 7);
    k.kh = rand_int(1, 3);
    k.kw = rand_int(1, 3);
    if (rand_int(0, 4) == 0) { k.h = 1; k.kh = 1; }  // Conv1d
    k.sh = rand_int(1, 3); k.sw = rand_int(1, 3);
    k.dh = rand_int(1, 2); k.dw = rand_int(1, 2);
    k.pt = rand_int(0, 2); k.pl = rand_int(0, 2); k.pb = rand_int(0, 2); k.pr = rand_int(0, 2);
    if (!to_shape(k).valid()) continue;
    const int shift = rand_int(-6, 22);
    SCOPED_TRACE(done);
    check_conv(k, shift, rand_int(0, 1) == 1, bits_list[rand_int(0, 2)], rand_int(0, 3) != 0, nullptr, nullptr, nullptr);
    if (HasFatalFailure()) return;
    ++done;
  }
}

TEST(Conv2dInt, DepthwiseDilatedAsymmetricPadding) {
  // depthwise (groups == c == o), dilation 2, asymmetric padding, stride 2
  const ConvCfg k{2, 4, 9, 8, 4, 3, 3, 2, 2, 2, 0, 1, 3, 2, 2, 4};
  for (int shift : {-3, 0, 1, 7, 14})
    for (int bits : {8, 16, 32})
      for (bool relu : {false, true}) check_conv(k, shift, relu, bits, true, nullptr, nullptr, nullptr);
}

TEST(Conv2dInt, BiasSaturatesInt32) {
  // 1x1 conv, x = w = 127: acc = c * 16129; bias INT32_MAX - 1 => sat32 to INT32_MAX.
  const ConvCfg k{1, 3, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
  const std::vector<int8_t> x(3, 127), w(6, 127);
  const std::vector<int32_t> b = {kI32Max - 1, kI32Min + 1};
  std::vector<int32_t> y(2);
  nm::conv2d_int<int32_t>(x.data(), w.data(), b.data(), y.data(), to_shape(k), 0, false, 32);
  EXPECT_EQ(y[0], kI32Max);
  EXPECT_EQ(y[1], kI32Min + 1 + 3 * 16129);
  // Negative side: w = -128 against x = 127 and bias near INT32_MIN.
  const std::vector<int8_t> wn(6, -128);
  const std::vector<int32_t> bn = {kI32Min + 5, 0};
  nm::conv2d_int<int32_t>(x.data(), wn.data(), bn.data(), y.data(), to_shape(k), 0, false, 32);
  EXPECT_EQ(y[0], kI32Min);
  EXPECT_EQ(y[1], -3 * 127 * 128);
  // Fused ReLU after the saturation; shift afterwards.
  nm::conv2d_int<int32_t>(x.data(), wn.data(), bn.data(), y.data(), to_shape(k), 0, true, 32);
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], 0);
  nm::conv2d_int<int32_t>(x.data(), w.data(), b.data(), y.data(), to_shape(k), 31, false, 32);
  EXPECT_EQ(y[0], 1);  // (2^31 - 1) / 2^31 rounds to 1
  check_conv(k, 0, false, 32, true, &x, &w, &b);
  check_conv(k, 0, false, 32, true, &x, &wn, &bn);
  check_conv(k, 3, true, 8, true, &x, &wn, &bn);
}

TEST(Conv2dInt, Int32AccumulatorWraps) {
  // 131073 products of (-128)*(-128) = 2^31 + 2^14: wraps to -2^31 + 2^14.
  const int c = 131073;
  const ConvCfg k{1, c, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
  const std::vector<int8_t> x(c, -128);
  std::vector<int8_t> w(2 * static_cast<size_t>(c), -128);
  for (int i = 0; i < c; ++i) w[c + i] = 127;  // channel 1: -128*127*c, no wrap (-2130706...)
  std::vector<int32_t> y(2);
  nm::conv2d_int<int32_t>(x.data(), w.data(), nullptr, y.data(), to_shape(k), 0, false, 32);
  EXPECT_EQ(y[0], -2147467264);
  EXPECT_EQ(static_cast<int64_t>(y[1]), static_cast<int64_t>(ref_wrap32(static_cast<i128>(c) * -128 * 127)));
  // The wrap happens before the bias is added (and before the saturation).
  const std::vector<int32_t> b = {-16384, 0};
  nm::conv2d_int<int32_t>(x.data(), w.data(), b.data(), y.data(), to_shape(k), 0, false, 32);
  EXPECT_EQ(y[0], kI32Min);
  const std::vector<int32_t> b2 = {-16385, 0};
  nm::conv2d_int<int32_t>(x.data(), w.data(), b2.data(), y.data(), to_shape(k), 0, false, 32);
  EXPECT_EQ(y[0], kI32Min);  // saturates, does not wrap a second time
  for (int shift : {-2, 0, 5, 24}) {
    for (int bits : {8, 16, 32}) {
      check_conv(k, shift, false, bits, true, &x, &w, &b2);
      check_conv(k, shift, true, bits, false, &x, &w, nullptr);
    }
  }
  // 40000 channels, 3x3 kernel, padding 1 over a 2x2 input: every window sees 4 pixels, so
  // 160000 products of 16384 = 2621440000 wraps to -1673527296; plus random data.
  const int c2 = 40000;
  const ConvCfg k2{1, c2, 2, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const std::vector<int8_t> x2(static_cast<size_t>(c2) * 4, -128);
  const std::vector<int8_t> w2(static_cast<size_t>(2) * c2 * 9, -128);
  std::vector<int32_t> y2(8);
  nm::conv2d_int<int32_t>(x2.data(), w2.data(), nullptr, y2.data(), to_shape(k2), 0, false, 32);
  EXPECT_EQ(y2, std::vector<int32_t>(8, -1673527296));
  check_conv(k2, 0, false, 32, false, &x2, &w2, nullptr);
  check_conv(k2, 8, true, 16, true, nullptr, nullptr, nullptr);
}

TEST(ConvRequant, DirectWrappedAccumulators) {
  // conv_requant(acc, bias, relu, shift, out_bits) with accumulators already wrapped.
  struct Case { int32_t acc, bias; bool relu; int shift, bits; };
  const Case cases[] = {
      {kI32Max, 1, false, 0, 32},       {kI32Min, -1, false, 0, 32},     {kI32Max, kI32Max, false, 1, 32},
      {kI32Min, kI32Min, false, 1, 32}, {kI32Min, kI32Min, true, 1, 32}, {-5, 0, true, 0, 8},
      {1, 0, false, -40, 32},           {-1, 0, false, -40, 8},          {kI32Max, 0, false, 40, 32},
      {kI32Min, 0, false, 32, 32},      {kI32Min, 0, false, 31, 32},     {kI32Max, 0, false, 31, 32},
      {kI32Min, 0, false, 30, 8},       {-2147467264, 0, false, 24, 8},  {-2147467264, -16385, false, 0, 16},
      {5, 0, false, 1, 8},              {-5, 0, false, 1, 8},            {-3, 0, false, 1, 8},
      {255, 0, false, 1, 8},            {-257, 0, false, 1, 8},          {-256, -1, false, 1, 8},
  };
  for (const Case& c : cases) {
    i128 v = clamp_bits(static_cast<i128>(c.acc) + c.bias, 32);
    if (c.relu && v < 0) v = 0;
    const int64_t want = static_cast<int64_t>(clamp_bits(ref_rhu(v, c.shift), c.bits));
    EXPECT_EQ(nm::conv_requant(c.acc, c.bias, c.relu, c.shift, c.bits), want)
        << c.acc << " " << c.bias << " " << c.relu << " " << c.shift << " " << c.bits;
  }
  EXPECT_EQ(nm::conv_requant(kI32Max, 1, false, 0, 32), kI32Max);
  EXPECT_EQ(nm::conv_requant(kI32Min, -1, false, 0, 32), kI32Min);
  EXPECT_EQ(nm::conv_requant(kI32Min, 0, false, 32, 32), 0);   // -0.5 rounds up
  EXPECT_EQ(nm::conv_requant(kI32Min, 0, false, 31, 32), -1);
  EXPECT_EQ(nm::conv_requant(kI32Max, 0, false, 31, 32), 1);
  EXPECT_EQ(nm::conv_requant(-1, 0, false, -40, 8), -128);
  EXPECT_EQ(nm::conv_requant(1, 0, false, -40, 32), kI32Max);
  EXPECT_EQ(nm::conv_requant(5, 0, false, 1, 8), 3);
  EXPECT_EQ(nm::conv_requant(-5, 0, false, 1, 8), -2);
  std::mt19937_64 r64(31);
  for (int i = 0; i < 50000; ++i) {
    const int32_t acc = static_cast<int32_t>(r64() >> rand_int(32, 63));
    const int32_t bias = static_cast<int32_t>(r64() >> rand_int(32, 63));
    const bool relu = (r64() & 1) != 0;
    const int shift = rand_int(-40, 40);
    const int bits = (i % 3 == 0) ? 8 : (i % 3 == 1 ? 16 : 32);
    i128 v = clamp_bits(static_cast<i128>(acc) + bias, 32);
    if (relu && v < 0) v = 0;
    ASSERT_EQ(nm::conv_requant(acc, bias, relu, shift, bits), static_cast<int64_t>(clamp_bits(ref_rhu(v, shift), bits)))
        << acc << " " << bias << " " << relu << " " << shift << " " << bits;
  }
}

// ---------------------------------------------------------------- linear
std::vector<i128> ref_linear_acc(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                                 int m, int k, int n) {
  std::vector<i128> acc(static_cast<size_t>(m) * n);
  for (int r = 0; r < m; ++r)
    for (int c = 0; c < n; ++c) {
      i128 s = bias ? bias[c] : 0;
      for (int i = 0; i < k; ++i) s += static_cast<i128>(x[static_cast<size_t>(r) * k + i]) * w[static_cast<size_t>(c) * k + i];
      acc[static_cast<size_t>(r) * n + c] = s;
    }
  return acc;
}

template <typename OutT>
void check_linear_t(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias, int m, int k,
                    int n, int shift, int bits) {
  std::vector<OutT> y(static_cast<size_t>(m) * n);
  nm::linear_int<OutT>(x.data(), w.data(), bias, y.data(), m, k, n, shift, bits);
  const std::vector<i128> acc = ref_linear_acc(x, w, bias, m, k, n);
  for (size_t i = 0; i < y.size(); ++i)
    ASSERT_EQ(static_cast<int64_t>(y[i]), static_cast<int64_t>(clamp_bits(ref_rhu(acc[i], shift), bits)))
        << "i=" << i << " m=" << m << " k=" << k << " n=" << n << " shift=" << shift << " bits=" << bits;
}

void check_linear(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias, int m, int k, int n,
                  int shift, int bits) {
  if (bits == 8) check_linear_t<int8_t>(x, w, bias, m, k, n, shift, bits);
  else if (bits == 16) check_linear_t<int16_t>(x, w, bias, m, k, n, shift, bits);
  else check_linear_t<int32_t>(x, w, bias, m, k, n, shift, bits);
}

void check_linear_float(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias, int m, int k,
                        int n, int exp_sum) {
  std::vector<float> y(static_cast<size_t>(m) * n);
  nm::linear_int_float(x.data(), w.data(), bias, y.data(), m, k, n, exp_sum);
  const std::vector<i128> acc = ref_linear_acc(x, w, bias, m, k, n);
  for (size_t i = 0; i < y.size(); ++i) {
    // acc * 2^-exp_sum rounded once to float (long double holds acc exactly: |acc| < 2^63).
    const float want = static_cast<float>(std::ldexp(static_cast<long double>(static_cast<int64_t>(acc[i])), -exp_sum));
    ASSERT_EQ(y[i], want) << "i=" << i << " exp_sum=" << exp_sum;
  }
}

TEST(LinearInt, RandomVsNaiveReference) {
  const int bits_list[] = {8, 16, 32};
  for (int t = 0; t < 300; ++t) {
    const int m = rand_int(1, 5), k = rand_int(1, 70), n = rand_int(1, 6);
    const std::vector<int8_t> x = rand_vec(static_cast<size_t>(m) * k), w = rand_vec(static_cast<size_t>(n) * k);
    std::vector<int32_t> b(n);
    for (auto& e : b) e = rand_bias();
    const int32_t* bp = rand_int(0, 3) ? b.data() : nullptr;
    SCOPED_TRACE(t);
    check_linear(x, w, bp, m, k, n, rand_int(-8, 24), bits_list[rand_int(0, 2)]);
    check_linear_float(x, w, bp, m, k, n, rand_int(-10, 30));
    if (HasFatalFailure()) return;
  }
}

TEST(LinearInt, Int64AccumulatorDoesNotWrap) {
  // 131073 * (-128)(-128) + INT32_MAX = 4294983679 > 2^32: exact in int64 (unlike conv).
  const int k = 131073;
  const std::vector<int8_t> x(k, -128), w(k, -128);
  const int32_t bias = kI32Max;
  int32_t y32 = 0;
  nm::linear_int<int32_t>(x.data(), w.data(), &bias, &y32, 1, k, 1, 0, 32);
  EXPECT_EQ(y32, kI32Max);
  nm::linear_int<int32_t>(x.data(), w.data(), &bias, &y32, 1, k, 1, 2, 32);
  EXPECT_EQ(y32, 1073745920);  // 4294983679 / 4 = 1073745919.75
  nm::linear_int<int32_t>(x.data(), w.data(), &bias, &y32, 1, k, 1, 1, 32);
  EXPECT_EQ(y32, kI32Max);     // 2147491839.5 saturates
  int8_t y8 = 0;
  nm::linear_int<int8_t>(x.data(), w.data(), &bias, &y8, 1, k, 1, 25, 8);
  EXPECT_EQ(y8, 127);          // 128.0005 saturates
  nm::linear_int<int8_t>(x.data(), w.data(), &bias, &y8, 1, k, 1, 26, 8);
  EXPECT_EQ(y8, 64);
  float yf = 0;
  nm::linear_int_float(x.data(), w.data(), &bias, &yf, 1, k, 1, 0);
  EXPECT_EQ(yf, 4294983679.0f);
  for (int shift : {-4, 0, 3, 31, 33}) for (int bits : {8, 16, 32}) check_linear(x, w, &bias, 1, k, 1, shift, bits);
  for (int e : {-10, 0, 7, 30}) check_linear_float(x, w, &bias, 1, k, 1, e);
  const int32_t nbias = kI32Min;
  const std::vector<int8_t> xp(k, 127);
  for (int shift : {-4, 0, 3, 31, 33}) for (int bits : {8, 16, 32}) check_linear(xp, w, &nbias, 1, k, 1, shift, bits);
  for (int e : {-10, 0, 7, 30}) check_linear_float(xp, w, &nbias, 1, k, 1, e);
}

TEST(LinearInt, TiesRoundUp) {
  const std::vector<int8_t> x = {5, -5, -3, 1};
  const std::vector<int8_t> w = {1};
  std::vector<int8_t> y(4);
  nm::linear_int<int8_t>(x.data(), w.data(), nullptr, y.data(), 4, 1, 1, 1, 8);
  EXPECT_EQ(y, (std::vector<int8_t>{3, -2, -1, 1}));
}

// ---------------------------------------------------------------- pooling
// PyTorch's output size rule (aten pooling_output_shape, dilation 1), written with floating division.
int ref_pool_out(int in, int k, int s, int p0, int p1, bool ceil_mode) {
  const double q = static_cast<double>(in + p0 + p1 - k) / s;
  int out = static_cast<int>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p0) --out;  // last window must start inside input or left padding
  return out;
}

TEST(PoolShape, OutputSizeMatchesPyTorchRule) {
  struct Case { int in, k, s, p, ceil_out, floor_out; };
  // Values from PyTorch's rule with symmetric padding p.
  const Case cases[] = {
      {5, 2, 2, 0, 3, 2}, {5, 3, 3, 1, 2, 2}, {6, 3, 2, 1, 4, 3}, {112, 3, 2, 1, 57, 56},
      {1, 1, 2, 0, 1, 1}, {4, 2, 3, 0, 2, 1}, {2, 2, 2, 1, 2, 2}, {3, 2, 2, 1, 2, 2},
      {7, 3, 2, 0, 3, 3}, {8, 3, 2, 0, 4, 3}, {4, 4, 4, 0, 1, 1}, {10, 5, 3, 2, 4, 4},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(nm::Pool2dShape::out_size(c.in, c.k, c.s, c.p, c.p, true), c.ceil_out) << c.in << " " << c.k << " " << c.s << " " << c.p;
    EXPECT_EQ(nm::Pool2dShape::out_size(c.in, c.k, c.s, c.p, c.p, false), c.floor_out) << c.in << " " << c.k << " " << c.s << " " << c.p;
    EXPECT_EQ(ref_pool_out(c.in, c.k, c.s, c.p, c.p, true), c.ceil_out);
    EXPECT_EQ(ref_pool_out(c.in, c.k, c.s, c.p, c.p, false), c.floor_out);
  }
  for (int in = 1; in <= 20; ++in)
    for (int k = 1; k <= 6; ++k)
      for (int s = 1; s <= 4; ++s)
        for (int p0 = 0; p0 <= 3; ++p0)
          for (int p1 = 0; p1 <= 3; ++p1) {
            if (in + p0 + p1 < k) continue;
            for (bool cm : {false, true})
              ASSERT_EQ(nm::Pool2dShape::out_size(in, k, s, p0, p1, cm), ref_pool_out(in, k, s, p0, p1, cm))
                  << in << " " << k << " " << s << " " << p0 << " " << p1 << " " << cm;
          }
}

// Reference pooling over an explicitly padded plane (padding value pad_value, also beyond the
// bottom/right padding for ceil_mode windows). avg: floor(S/k + 1/2) with k = kh*kw.
std::vector<int8_t> ref_pool(const std::vector<int8_t>& x, const nm::Pool2dShape& s, bool avg) {
  const int oh = ref_pool_out(s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.ceil_mode);
  const int ow = ref_pool_out(s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.ceil_mode);
  const int hp = (oh - 1) * s.stride_h + s.kh + s.h + s.pad_top, wp = (ow - 1) * s.stride_w + s.kw + s.w + s.pad_left;
  const int pad_value = avg ? 0 : -128;
  std::vector<int8_t> y;
  for (int p = 0; p < s.n * s.c; ++p) {
    std::vector<int> xp(static_cast<size_t>(hp) * wp, pad_value);
    for (int i = 0; i < s.h; ++i)
      for (int j = 0; j < s.w; ++j) xp[static_cast<size_t>(i + s.pad_top) * wp + j + s.pad_left] = x[(static_cast<size_t>(p) * s.h + i) * s.w + j];
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox) {
        i128 sum = 0;
        int mx = -1000;
        for (int ky = 0; ky < s.kh; ++ky)
          for (int kx = 0; kx < s.kw; ++kx) {
            const int v = xp[static_cast<size_t>(oy * s.stride_h + ky) * wp + ox * s.stride_w + kx];
            sum += v;
            if (v > mx) mx = v;
          }
        const i128 area = static_cast<i128>(s.kh) * s.kw;
        y.push_back(static_cast<int8_t>(avg ? clamp_bits(floor_div(2 * sum + area, 2 * area), 8) : mx));
      }
  }
  return y;
}

void check_pool(const nm::Pool2dShape& s, const std::vector<int8_t>& x) {
  ASSERT_TRUE(s.valid());
  const size_t out = static_cast<size_t>(s.n) * s.c * s.out_h() * s.out_w();
  std::vector<int8_t> ya(out), ym(out);
  nm::avgpool2d_int(x.data(), ya.data(), s);
  nm::maxpool2d_int(x.data(), ym.data(), s);
  EXPECT_EQ(ya, ref_pool(x, s, true)) << "avg h=" << s.h << " w=" << s.w << " k=" << s.kh << "x" << s.kw << " ceil=" << s.ceil_mode;
  EXPECT_EQ(ym, ref_pool(x, s, false)) << "max h=" << s.h << " w=" << s.w << " k=" << s.kh << "x" << s.kw << " ceil=" << s.ceil_mode;
}

nm::Pool2dShape pool_shape(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                           bool ceil_mode) {
  nm::Pool2dShape s;
  s.n = n; s.c = c; s.h = h; s.w = w; s.kh = kh; s.kw = kw; s.stride_h = sh; s.stride_w = sw;
  s.pad_top = pt; s.pad_left = pl; s.pad_bottom = pb; s.pad_right = pr; s.ceil_mode = ceil_mode;
  return s;
}

TEST(Pool2dInt, RandomVsNaiveReference) {
  const int kernels[][2] = {{2, 2}, {3, 3}, {5, 5}, {1, 3}, {2, 3}, {3, 1}, {1, 1}, {4, 2}};
  int done = 0;
  while (done < 400) {
    const auto& kk = kernels[rand_int(0, 7)];
    const nm::Pool2dShape s = pool_shape(rand_int(1, 2), rand_int(1, 3), rand_int(1, 9), rand_int(1, 9), kk[0], kk[1],
                                         rand_int(1, 3), rand_int(1, 3), rand_int(0, 2), rand_int(0, 2), rand_int(0, 2),
                                         rand_int(0, 2), rand_int(0, 1) == 1);
    if (!s.valid()) continue;
    const std::vector<int8_t> x = rand_vec(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    SCOPED_TRACE(done);
    check_pool(s, x);
    if (HasFailure()) return;
    ++done;
  }
}

TEST(AvgPool2dInt, TiesAndAreas) {
  // Area 4 (power of two): ties round up.
  const nm::Pool2dShape s4 = pool_shape(1, 1, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, false);
  const int sums[][2] = {{2, 1}, {-2, 0}, {-6, -1}, {-10, -2}, {6, 2}, {-1, 0}, {-3, -1}, {1, 0}, {3, 1}};
  for (const auto& sv : sums) {
    // spread the sum over the 4 cells
    std::vector<int8_t> x(4, 0);
    x[0] = static_cast<int8_t>(sv[0] / 2);
    x[1] = static_cast<int8_t>(sv[0] - sv[0] / 2);
    int8_t y = 0;
    nm::avgpool2d_int(x.data(), &y, s4);
    EXPECT_EQ(y, sv[1]) << "sum " << sv[0];
  }
  // Area 9 with padding 1 over all 127: corners 4*127/9 = 56.4, edges 6*127/9 = 84.7, centre 127.
  const nm::Pool2dShape s9 = pool_shape(1, 1, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, false);
  std::vector<int8_t> x9(25, 127), y9(25);
  nm::avgpool2d_int(x9.data(), y9.data(), s9);
  EXPECT_EQ(y9[0], 56);
  EXPECT_EQ(y9[1], 85);
  EXPECT_EQ(y9[12], 127);
  std::fill(x9.begin(), x9.end(), static_cast<int8_t>(-128));
  nm::avgpool2d_int(x9.data(), y9.data(), s9);
  EXPECT_EQ(y9[0], -57);   // -512/9 = -56.9
  EXPECT_EQ(y9[1], -85);   // -768/9 = -85.3
  EXPECT_EQ(y9[12], -128);
  check_pool(s9, x9);
  // Area 25, extremes.
  const nm::Pool2dShape s25 = pool_shape(1, 2, 5, 5, 5, 5, 1, 1, 0, 0, 0, 0, false);
  std::vector<int8_t> x25(50, -128), y25(2);
  std::fill(x25.begin() + 25, x25.end(), static_cast<int8_t>(127));
  nm::avgpool2d_int(x25.data(), y25.data(), s25);
  EXPECT_EQ(y25, (std::vector<int8_t>{-128, 127}));
  x25[0] = 127;  // (-128*24 + 127)/25 = -117.8
  nm::avgpool2d_int(x25.data(), y25.data(), s25);
  EXPECT_EQ(y25[0], -118);
  // ceil_mode: the overhanging window divides by the full area k.
  const nm::Pool2dShape sc = pool_shape(1, 1, 3, 3, 2, 2, 2, 2, 0, 0, 0, 0, true);
  ASSERT_EQ(sc.out_h(), 2);
  std::vector<int8_t> xc(9, 100), yc(4);
  nm::avgpool2d_int(xc.data(), yc.data(), sc);
  EXPECT_EQ(yc, (std::vector<int8_t>{100, 50, 50, 25}));
  check_pool(sc, xc);
}

TEST(MaxPool2dInt, PaddingIsMinus128) {
  // All -128 input with padding: every window (partly in padding) gives -128.
  const nm::Pool2dShape s = pool_shape(1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, false);
  std::vector<int8_t> x(9, -128), y(9);
  nm::maxpool2d_int(x.data(), y.data(), s);
  EXPECT_EQ(y, std::vector<int8_t>(9, -128));
  // Negative input: padding (-128) never wins over -127.
  std::fill(x.begin(), x.end(), static_cast<int8_t>(-127));
  nm::maxpool2d_int(x.data(), y.data(), s);
  EXPECT_EQ(y, std::vector<int8_t>(9, -127));
  x = {-128, -128, -128, -128, -128, -128, -128, -128, -100};
  nm::maxpool2d_int(x.data(), y.data(), s);
  EXPECT_EQ(y, (std::vector<int8_t>{-128, -128, -128, -128, -100, -100, -128, -100, -100}));
  check_pool(s, x);
  // ceil_mode overhang with all-negative values.
  const nm::Pool2dShape sc = pool_shape(1, 1, 3, 3, 2, 2, 2, 2, 0, 0, 0, 0, true);
  std::vector<int8_t> xc = {-1, -2, -3, -4, -5, -6, -7, -8, -9}, yc(4);
  nm::maxpool2d_int(xc.data(), yc.data(), sc);
  EXPECT_EQ(yc, (std::vector<int8_t>{-1, -3, -7, -9}));
}

// ---------------------------------------------------------------- elementwise
int8_t ref_rescale8(int v, int s) { return static_cast<int8_t>(clamp_bits(ref_rhu(v, s), 8)); }

TEST(IqAddSub, ExhaustiveOverInt8PairsForSelectedShifts) {
  const int shifts[][2] = {{0, 0}, {1, 1}, {1, 0}, {0, 1}, {-1, 2}, {2, -1}, {7, 0}, {0, -3}, {9, 9},
                           {-8, 0}, {3, 5}, {-2, -2}, {8, 1}, {4, 4}};
  int64_t mismatches = 0;
  for (const auto& sh : shifts)
    for (int a = -128; a <= 127; ++a)
      for (int b = -128; b <= 127; ++b) {
        const int ra = ref_rescale8(a, sh[0]), rb = ref_rescale8(b, sh[1]);
        const int8_t want_add = static_cast<int8_t>(clamp_bits(ra + rb, 8));
        const int8_t want_sub = static_cast<int8_t>(clamp_bits(ra - rb, 8));
        const int8_t got_add = nm::iqadd(static_cast<int8_t>(a), static_cast<int8_t>(b), sh[0], sh[1]);
        const int8_t got_sub = nm::iqsub(static_cast<int8_t>(a), static_cast<int8_t>(b), sh[0], sh[1]);
        if ((got_add != want_add || got_sub != want_sub) && ++mismatches <= 10)
          ADD_FAILURE() << "a=" << a << " b=" << b << " shifts " << sh[0] << "," << sh[1] << " add " << int{got_add}
                        << " want " << int{want_add} << " sub " << int{got_sub} << " want " << int{want_sub};
      }
  EXPECT_EQ(mismatches, 0);
}

TEST(IqAddSub, Examples) {
  EXPECT_EQ(nm::iqadd(127, 127, 0, 0), 127);
  EXPECT_EQ(nm::iqadd(-128, -128, 0, 0), -128);
  EXPECT_EQ(nm::iqsub(-128, 127, 0, 0), -128);
  EXPECT_EQ(nm::iqsub(127, -128, 0, 0), 127);
  EXPECT_EQ(nm::iqsub(-128, -128, 0, 0), 0);
  EXPECT_EQ(nm::iqadd(3, 3, 1, 1), 4);    // two roundings: 2 + 2, not round(6/2) = 3
  EXPECT_EQ(nm::iqadd(1, -1, 1, 1), 1);   // 0.5 -> 1, -0.5 -> 0
  EXPECT_EQ(nm::iqsub(1, 1, 1, 1), 0);
  EXPECT_EQ(nm::iqadd(100, 0, -1, 0), 127);  // 200 saturates before the add
  EXPECT_EQ(nm::iqadd(100, -100, -1, 0), 27);  // 127 - 100: the rescaled operand saturated first
  EXPECT_EQ(nm::iqsub(-100, 100, -1, -1), -128);
  EXPECT_EQ(nm::relu8(-128), 0);
  EXPECT_EQ(nm::relu8(-1), 0);
  EXPECT_EQ(nm::relu8(0), 0);
  EXPECT_EQ(nm::relu8(127), 127);
}

}  // namespace
