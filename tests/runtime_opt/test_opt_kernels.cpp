// Optimised int8 kernels (runtime/src/kernels/opt) against the scalar reference
// of include/linger/numerics, tolerance 0, for every ISA the CPU supports
// (numerics.md §4 rule 2). An ISA the CPU lacks is skipped, saying why.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "opt_internal.h"
#include "opt_kernels.h"
#include "opt_test_util.h"

namespace {

namespace nm = linger::numerics;
namespace opt = linger::runtime::opt;
using opt::Isa;

constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

using opt_test::kSanitized;

// ---------------------------------------------------------------- random data

struct Rng {
  explicit Rng(uint32_t seed) : r(seed) {}
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(r); }
  bool coin() { return uniform(0, 1) == 1; }
  // int8 with extra weight on the extremes -128 / 127.
  int8_t i8() {
    const int p = uniform(0, 99);
    if (p < 12) return -128;
    if (p < 24) return 127;
    return static_cast<int8_t>(uniform(-128, 127));
  }
  std::vector<int8_t> i8s(size_t n) {
    std::vector<int8_t> v(n);
    for (auto& e : v) e = i8();
    return v;
  }
  int32_t bias() {
    switch (uniform(0, 5)) {
      case 0: return kI32Max - uniform(0, 100000);
      case 1: return kI32Min + uniform(0, 100000);
      case 2: return uniform(kI32Min, kI32Max);
      default: return uniform(-(1 << 20), 1 << 20);
    }
  }
  std::vector<int32_t> biases(size_t n) {
    std::vector<int32_t> v(n);
    for (auto& e : v) e = bias();
    return v;
  }
  std::mt19937 r;
};

// The contract's wrapping int32 dot products (independent of the kernels).
std::vector<int32_t> ref_gemm(const std::vector<int8_t>& a, const std::vector<int8_t>& b, int64_t m, int64_t n,
                              int64_t k) {
  std::vector<int32_t> c(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint32_t acc = 0;
      for (int64_t t = 0; t < k; ++t)
        acc += static_cast<uint32_t>(int32_t{a[static_cast<size_t>(i * k + t)]} * int32_t{b[static_cast<size_t>(j * k + t)]});
      c[static_cast<size_t>(i * n + j)] = static_cast<int32_t>(acc);
    }
  return c;
}

std::string shape_str(const nm::Conv2dShape& s) {
  return "n" + std::to_string(s.n) + " c" + std::to_string(s.c) + " h" + std::to_string(s.h) + " w" +
         std::to_string(s.w) + " o" + std::to_string(s.o) + " k" + std::to_string(s.kh) + "x" + std::to_string(s.kw) +
         " s" + std::to_string(s.stride_h) + "," + std::to_string(s.stride_w) + " p" + std::to_string(s.pad_top) +
         "," + std::to_string(s.pad_left) + "," + std::to_string(s.pad_bottom) + "," + std::to_string(s.pad_right) +
         " d" + std::to_string(s.dil_h) + "," + std::to_string(s.dil_w) + " g" + std::to_string(s.groups);
}

template <typename OutT>
void check_conv_t(Isa isa, const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                  const nm::Conv2dShape& s, int shift, bool relu, int out_bits, std::vector<int8_t>* ws,
                  const std::string& what) {
  const size_t count = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  std::vector<OutT> want(count), got(count, OutT{0x55});
  nm::conv2d_int(x.data(), w.data(), bias, want.data(), s, shift, relu, out_bits);
  opt::conv2d_int8(x.data(), w.data(), bias, got.data(), s, shift, relu, out_bits, isa, ws);
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i)
    if (want[i] != got[i]) {
      if (bad++ == 0)
        ADD_FAILURE() << what << " [" << opt::isa_name(isa) << "] " << shape_str(s) << " shift " << shift << " relu "
                      << relu << " out_bits " << out_bits << " bias " << (bias ? "yes" : "null")
                      << ": first mismatch at " << i << ": want " << int64_t{want[i]} << " got " << int64_t{got[i]};
    }
  EXPECT_EQ(bad, 0u) << what;
}

void check_conv(Isa isa, const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                const nm::Conv2dShape& s, int shift, bool relu, int out_bits, std::vector<int8_t>* ws,
                const std::string& what) {
  if (out_bits == 8)
    check_conv_t<int8_t>(isa, x, w, bias, s, shift, relu, out_bits, ws, what);
  else if (out_bits == 16)
    check_conv_t<int16_t>(isa, x, w, bias, s, shift, relu, out_bits, ws, what);
  else
    check_conv_t<int32_t>(isa, x, w, bias, s, shift, relu, out_bits, ws, what);
}

template <typename OutT>
void check_linear_t(Isa isa, const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                    int64_t m, int64_t k, int64_t n, int shift, int out_bits, const std::string& what) {
  const size_t count = static_cast<size_t>(m * n);
  std::vector<OutT> want(count), got(count, OutT{0x55});
  if constexpr (std::is_same<OutT, float>::value)
    nm::linear_int_float(x.data(), w.data(), bias, want.data(), m, k, n, shift);
  else
    nm::linear_int(x.data(), w.data(), bias, want.data(), m, k, n, shift, out_bits);
  opt::linear_int8(x.data(), w.data(), bias, got.data(), m, k, n, shift, out_bits, isa);
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i) {
    const bool same = std::memcmp(&want[i], &got[i], sizeof(OutT)) == 0;  // bit-exact, floats too
    if (!same && bad++ == 0)
      ADD_FAILURE() << what << " [" << opt::isa_name(isa) << "] m" << m << " k" << k << " n" << n << " shift "
                    << shift << " out_bits " << out_bits << ": first mismatch at " << i << ": want " << +want[i]
                    << " got " << +got[i];
  }
  EXPECT_EQ(bad, 0u) << what;
}

void check_linear(Isa isa, const std::vector<int8_t>& x, const std::vector<int8_t>& w, const int32_t* bias,
                  int64_t m, int64_t k, int64_t n, int shift, int out_bits, const std::string& what) {
  if (out_bits == 0)
    check_linear_t<float>(isa, x, w, bias, m, k, n, shift, out_bits, what);
  else if (out_bits == 8)
    check_linear_t<int8_t>(isa, x, w, bias, m, k, n, shift, out_bits, what);
  else if (out_bits == 16)
    check_linear_t<int16_t>(isa, x, w, bias, m, k, n, shift, out_bits, what);
  else
    check_linear_t<int32_t>(isa, x, w, bias, m, k, n, shift, out_bits, what);
}

// A shift that keeps typical accumulators of k products in range, jittered.
int typical_shift(Rng& rng, int64_t k, int out_bits) {
  int log2k = 0;
  while ((int64_t{1} << log2k) < k) ++log2k;
  const int acc_bits = 14 + (log2k + 1) / 2;  // random signs: ~sqrt(k) growth
  return acc_bits - (out_bits - 1) + rng.uniform(-3, 3);
}

// ---------------------------------------------------------------- fixture

class OptIsa : public opt_test::IsaTest {};
LINGER_INSTANTIATE_ISAS(OptIsa);

// ---------------------------------------------------------------- GEMM

TEST_P(OptIsa, GemmRandomShapes) {
  Rng rng(1001);
  const int cases = kSanitized ? 120 : 400;
  for (int t = 0; t < cases; ++t) {
    const int64_t m = t < 40 ? 1 + t % 10 : rng.uniform(1, 50);  // small m: the dot path
    const int64_t n = rng.uniform(1, 70);
    const int64_t k = rng.uniform(0, 8) == 0 ? rng.uniform(0, 5) : rng.uniform(1, 300);
    const auto a = rng.i8s(static_cast<size_t>(m * k)), b = rng.i8s(static_cast<size_t>(n * k));
    std::vector<int32_t> c(static_cast<size_t>(m * n), 0x12345678);
    opt::gemm_s8s8_s32(a.data(), b.data(), c.data(), m, n, k, isa());
    ASSERT_EQ(c, ref_gemm(a, b, m, n, k)) << "m" << m << " n" << n << " k" << k;
  }
}

TEST_P(OptIsa, GemmExtremeValues) {
  // All -128 (the largest products), all 127, and alternating signs: a pair sum
  // of _mm256_madd_epi16 reaches (-128)(-128) * 2 = 32768, still exact in int32.
  const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 17}, {7, 19, 33}, {13, 40, 1000}, {6, 16, 4099}, {9, 33, 64}};
  for (const auto& sh : shapes) {
    const int64_t m = sh[0], n = sh[1], k = sh[2];
    for (int pattern = 0; pattern < 4; ++pattern) {
      std::vector<int8_t> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(n * k));
      for (size_t i = 0; i < a.size(); ++i) a[i] = pattern == 1 ? 127 : (pattern == 3 && (i & 1) ? 127 : -128);
      for (size_t i = 0; i < b.size(); ++i) b[i] = pattern == 2 ? 127 : -128;
      std::vector<int32_t> c(static_cast<size_t>(m * n));
      opt::gemm_s8s8_s32(a.data(), b.data(), c.data(), m, n, k, isa());
      ASSERT_EQ(c, ref_gemm(a, b, m, n, k)) << "pattern " << pattern << " m" << m << " n" << n << " k" << k;
    }
  }
}

TEST_P(OptIsa, GemmWrapsModulo2To32) {
  // k > 131072 with all -128 * -128: k * 16384 >= 2^31, the int32 sum wraps.
  const int64_t k = 140001;
  const int64_t want64 = k * 16384;
  const int32_t want = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(want64)));
  ASSERT_LT(want, 0);  // really wrapped
  for (const int64_t m : {int64_t{2}, int64_t{7}}) {  // dot path and packed path
    const int64_t n = 17;
    std::vector<int8_t> a(static_cast<size_t>(m * k), -128), b(static_cast<size_t>(n * k), -128);
    std::vector<int32_t> c(static_cast<size_t>(m * n));
    opt::gemm_s8s8_s32(a.data(), b.data(), c.data(), m, n, k, isa());
    for (int32_t v : c) ASSERT_EQ(v, want) << "m" << m;
    // Random data with the same k against the reference.
    Rng rng(77 + static_cast<uint32_t>(m));
    a = rng.i8s(a.size());
    b = rng.i8s(b.size());
    opt::gemm_s8s8_s32(a.data(), b.data(), c.data(), m, n, k, isa());
    ASSERT_EQ(c, ref_gemm(a, b, m, n, k)) << "random m" << m;
  }
}

// ---------------------------------------------------------------- conv

nm::Conv2dShape random_conv_shape(Rng& rng) {
  static const int kKernels[] = {1, 2, 3, 4, 5, 7};
  static const int kStrides[] = {1, 1, 2, 4};
  nm::Conv2dShape s;
  for (;;) {
    s.n = rng.uniform(1, 2);
    const int kind = rng.uniform(0, 5);
    if (kind == 0) {  // depthwise (sometimes with a channel multiplier)
      s.groups = rng.uniform(1, 19);
      s.c = s.groups;
      s.o = s.groups * rng.uniform(1, 2);
    } else if (kind == 1) {  // grouped
      s.groups = rng.uniform(2, 4);
      s.c = s.groups * rng.uniform(1, 7);
      s.o = s.groups * rng.uniform(1, 9);
    } else {
      s.groups = 1;
      s.c = rng.uniform(1, 37);
      s.o = rng.uniform(1, 41);
    }
    s.kh = kKernels[rng.uniform(0, 5)];
    s.kw = rng.uniform(0, 2) == 0 ? kKernels[rng.uniform(0, 5)] : s.kh;
    s.stride_h = kStrides[rng.uniform(0, 3)];
    s.stride_w = rng.coin() ? s.stride_h : kStrides[rng.uniform(0, 3)];
    s.dil_h = rng.uniform(0, 3) == 0 ? rng.uniform(2, 3) : 1;
    s.dil_w = rng.uniform(0, 3) == 0 ? rng.uniform(2, 3) : s.dil_h;
    s.pad_top = rng.uniform(0, 3);
    s.pad_bottom = rng.coin() ? s.pad_top : rng.uniform(0, 3);
    s.pad_left = rng.uniform(0, 3);
    s.pad_right = rng.coin() ? s.pad_left : rng.uniform(0, 3);
    s.h = rng.uniform(1, 17);
    s.w = rng.uniform(1, 23);
    if (s.valid()) return s;
  }
}

TEST_P(OptIsa, ConvRandomShapes) {
  Rng rng(2024);
  std::vector<int8_t> ws;  // reused across all calls and shapes
  const int cases = kSanitized ? 250 : 800;
  for (int t = 0; t < cases; ++t) {
    const nm::Conv2dShape s = random_conv_shape(rng);
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    static const int kBits[] = {8, 16, 32};
    const int out_bits = kBits[rng.uniform(0, 2)];
    const int64_t kdim = static_cast<int64_t>(s.c / s.groups) * s.kh * s.kw;
    const int shift = rng.uniform(0, 9) == 0 ? rng.uniform(-4, 0) : typical_shift(rng, kdim, out_bits);
    const bool relu = rng.coin();
    const bool with_bias = rng.uniform(0, 3) != 0;
    check_conv(isa(), x, w, with_bias ? bias.data() : nullptr, s, shift, relu, out_bits, rng.coin() ? &ws : nullptr,
               "case " + std::to_string(t));
    if (HasFailure()) return;
  }
}

nm::Conv2dShape make_shape(int n, int c, int h, int w, int o, int kh, int kw, int stride, int pad, int groups,
                           int dil = 1) {
  nm::Conv2dShape s;
  s.n = n; s.c = c; s.h = h; s.w = w; s.o = o; s.kh = kh; s.kw = kw;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.dil_h = s.dil_w = dil;
  s.groups = groups;
  return s;
}

TEST_P(OptIsa, ConvNetworkLayers) {
  // CNN-like layers: several pixel blocks, the 1x1 fast path, depthwise,
  // strided 1x1 (not the fast path), large channel counts.
  const nm::Conv2dShape shapes[] = {
      make_shape(1, 32, 14, 14, 64, 3, 3, 1, 1, 1),   make_shape(2, 3, 32, 32, 16, 3, 3, 2, 1, 1),
      make_shape(1, 64, 40, 40, 24, 3, 3, 1, 1, 1),   make_shape(1, 40, 9, 9, 24, 1, 1, 1, 0, 1),
      make_shape(2, 48, 28, 28, 72, 1, 1, 1, 0, 1),   make_shape(1, 40, 9, 9, 24, 1, 1, 2, 0, 1),
      make_shape(1, 24, 20, 20, 24, 3, 3, 1, 1, 24),  make_shape(1, 32, 15, 15, 64, 3, 3, 2, 1, 32),
      make_shape(1, 16, 12, 12, 8, 7, 7, 1, 3, 1),    make_shape(1, 18, 11, 13, 30, 5, 5, 1, 4, 3, 2),
      make_shape(1, 256, 7, 7, 100, 3, 3, 1, 1, 1),   make_shape(1, 8, 64, 64, 8, 1, 1, 1, 0, 2)};
  Rng rng(31337);
  std::vector<int8_t> ws;
  for (const auto& s : shapes) {
    if (kSanitized && static_cast<int64_t>(s.o) * s.c * s.h * s.w > 2000000) continue;
    const auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
    const auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
    const auto bias = rng.biases(static_cast<size_t>(s.o));
    const int64_t kdim = static_cast<int64_t>(s.c / s.groups) * s.kh * s.kw;
    for (const int out_bits : {8, 16, 32})
      check_conv(isa(), x, w, bias.data(), s, typical_shift(rng, kdim, out_bits), out_bits == 8, out_bits, &ws,
                 "layer");
  }
}

TEST_P(OptIsa, ConvExtremeValuesAndBiasLimits) {
  // -128 / 127 everywhere; bias at and near the int32 limits so that
  // sat32(acc + bias) saturates both ways; relu on and off; all output widths.
  const nm::Conv2dShape shapes[] = {make_shape(1, 19, 6, 7, 13, 3, 3, 1, 1, 1), make_shape(1, 5, 9, 9, 5, 5, 5, 2, 2, 5),
                                    make_shape(1, 33, 4, 4, 17, 1, 1, 1, 0, 1)};
  const int32_t biases[] = {kI32Max, kI32Min, kI32Max - 1000, kI32Min + 1000, 0, -1};
  std::vector<int8_t> ws;
  for (const auto& s : shapes)
    for (int pattern = 0; pattern < 3; ++pattern) {
      const int8_t xv = pattern == 1 ? 127 : -128, wv = pattern == 2 ? 127 : -128;
      const std::vector<int8_t> x(static_cast<size_t>(s.n) * s.c * s.h * s.w, xv);
      const std::vector<int8_t> w(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw, wv);
      std::vector<int32_t> bias(static_cast<size_t>(s.o));
      for (size_t i = 0; i < bias.size(); ++i) bias[i] = biases[i % 6];
      for (const int out_bits : {8, 16, 32})
        for (const bool relu : {false, true})
          for (const int shift : {-2, 0, 5, 20, 31})
            check_conv(isa(), x, w, bias.data(), s, shift, relu, out_bits, &ws, "extreme " + std::to_string(pattern));
    }
}

TEST_P(OptIsa, ConvInt8RequantInTileAndItsLimits) {
  // int8 outputs requantised inside the VNNI GEMM tile where no acc + bias +
  // 2^(shift-1) can leave int32, the int32 block otherwise: the demo CNN's two
  // convs (1 and 16 input channels, 28x28 / 14x14, padded stride-1 planes with
  // virtual columns), an 8x8 map (a tile spans 4 output rows), a 1x1 conv and
  // a strided one (no virtual columns); biases at the limit of the tile's
  // requantisation and one past it (|acc| <= k * 2^14), shifts 0 .. 31, clamps.
  const nm::Conv2dShape shapes[] = {
      make_shape(1, 1, 28, 28, 16, 3, 3, 1, 1, 1), make_shape(1, 16, 14, 14, 32, 3, 3, 1, 1, 1),
      make_shape(2, 5, 8, 8, 11, 3, 3, 1, 1, 1),   make_shape(1, 24, 7, 9, 20, 1, 1, 1, 0, 1),
      make_shape(1, 6, 13, 11, 9, 3, 3, 2, 1, 1)};
  Rng rng(777);
  std::vector<int8_t> ws;
  for (const auto& s : shapes) {
    const int64_t kdim = static_cast<int64_t>(s.c / s.groups) * s.kh * s.kw, acc_max = kdim * 16384;
    for (int pattern = 0; pattern < 3; ++pattern) {
      auto x = rng.i8s(static_cast<size_t>(s.n) * s.c * s.h * s.w);
      auto w = rng.i8s(static_cast<size_t>(s.o) * (s.c / s.groups) * s.kh * s.kw);
      if (pattern > 0) {  // the extreme sums +-acc_max
        std::fill(x.begin(), x.end(), int8_t{-128});
        std::fill(w.begin(), w.end(), pattern == 1 ? int8_t{-128} : int8_t{127});
      }
      for (const int shift : {0, 1, 7, 12, 31}) {
        const int64_t round = shift > 0 ? int64_t{1} << (shift - 1) : 0;
        // Largest / smallest bias the tile takes, then one past each.
        const int64_t top = kI32Max - acc_max - round, bottom = int64_t{kI32Min} + acc_max;
        for (const int64_t b : {top, top + 1, bottom, bottom - 1, int64_t{0}}) {
          std::vector<int32_t> bias(static_cast<size_t>(s.o));
          for (size_t i = 0; i < bias.size(); ++i)
            bias[i] = i == bias.size() / 2 ? static_cast<int32_t>(b) : rng.uniform(-100000, 100000);
          check_conv(isa(), x, w, bias.data(), s, shift, pattern == 0, 8, &ws,
                     "tile requant pattern " + std::to_string(pattern) + " bias " + std::to_string(b));
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST_P(OptIsa, ConvWrappingAccumulator) {
  // k = C * 3 * 3 = 147456 > 131072: all -128 * -128 makes the int32 sum wrap.
  const nm::Conv2dShape s = make_shape(1, 16384, 3, 3, 3, 3, 3, 1, 1, 1);
  std::vector<int8_t> x(static_cast<size_t>(s.c) * s.h * s.w, -128);
  std::vector<int8_t> w(static_cast<size_t>(s.o) * s.c * s.kh * s.kw, -128);
  const int32_t bias[] = {0, 1000, kI32Min};
  std::vector<int8_t> ws;
  for (const int out_bits : {8, 16, 32}) check_conv(isa(), x, w, bias, s, 0, false, out_bits, &ws, "wrap all -128");
  // The centre pixel sums all 147456 products: 2^31 + 2^28 + ..., wraps to negative.
  std::vector<int32_t> y(static_cast<size_t>(s.o) * 9);
  opt::conv2d_int8(x.data(), w.data(), nullptr, y.data(), s, 0, false, 32, isa(), &ws);
  EXPECT_EQ(y[4], static_cast<int32_t>(static_cast<uint32_t>(uint64_t{147456} * 16384u)));
  EXPECT_LT(y[4], 0);
  Rng rng(5);
  x = rng.i8s(x.size());
  w = rng.i8s(w.size());
  check_conv(isa(), x, w, nullptr, s, 12, true, 8, &ws, "wrap random");
}

// ---------------------------------------------------------------- linear

TEST_P(OptIsa, LinearRandomShapes) {
  Rng rng(4242);
  const int cases = kSanitized ? 120 : 300;
  for (int t = 0; t < cases; ++t) {
    const int64_t m = t < 30 ? 1 + t % 6 : rng.uniform(1, 40);
    const int64_t k = rng.uniform(1, 400);
    const int64_t n = rng.uniform(1, 60);
    const auto x = rng.i8s(static_cast<size_t>(m * k));
    const auto w = rng.i8s(static_cast<size_t>(n * k));
    const auto bias = rng.biases(static_cast<size_t>(n));
    static const int kBits[] = {0, 8, 16, 32};
    const int out_bits = kBits[rng.uniform(0, 3)];
    const int shift = out_bits == 0 ? rng.uniform(0, 16) : typical_shift(rng, k, out_bits);
    check_linear(isa(), x, w, rng.coin() ? bias.data() : nullptr, m, k, n, shift, out_bits,
                 "case " + std::to_string(t));
    if (HasFailure()) return;
  }
}

TEST_P(OptIsa, LinearLargeKBoundary) {
  // k * 2^14 < 2^31 uses the int32 GEMM (k = 131071: the largest sum is
  // 2^31 - 2^14, still exact); k = 131072 and above use the int64 reference.
  // Bias at the int32 limits pushes acc past the int32 range: only int64 holds it.
  for (const int64_t k : {int64_t{131071}, int64_t{131072}, int64_t{140000}}) {
    const int64_t m = 5, n = 3;
    std::vector<int8_t> x(static_cast<size_t>(m * k), -128), w(static_cast<size_t>(n * k), -128);
    const int32_t bias[] = {kI32Max, kI32Min, 7};
    for (const int out_bits : {0, 8, 16, 32})
      for (const int shift : {0, 10, 24})
        check_linear(isa(), x, w, bias, m, k, n, shift, out_bits, "all -128 k " + std::to_string(k));
    Rng rng(static_cast<uint32_t>(k));
    x = rng.i8s(x.size());
    w = rng.i8s(w.size());
    check_linear(isa(), x, w, bias, m, k, n, 9, 16, "random k " + std::to_string(k));
    check_linear(isa(), x, w, nullptr, 2, k, n, 9, 0, "random float k " + std::to_string(k));
  }
}

// ---------------------------------------------------------------- requantisation

#if defined(LINGER_TEST_HAVE_AVX2_UNIT)
// The AVX2 form of numerics::conv_requant (+ the OutputStage clamp) against
// the formula itself, on the int32 edges of the accumulator and the bias,
// every shift 0..63, every row length 0..40 (the vector tails), and clamp
// bounds from the full range, ReLU (lo = 0, which must equal the contract's
// relu on the accumulator) and ReLU6-like bounds.
TEST(OptRequantAvx2, BoundedAccumulatorsEqualConvRequant) {
  // With |acc| <= acc_max the AVX2 requantisation may fold the rounding half
  // into the bias (one add, one shift) where acc + bias + 2^(shift-1) cannot
  // leave int32: the accumulators at +-acc_max, biases on both sides of that
  // limit (and of the saturation limit), every shift, int8 and int32 outputs.
  if (!opt::isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2 (run-time cpuid check)";
  namespace avx2 = linger::runtime::opt::detail::avx2;
  Rng rng(4242);
  for (const int64_t acc_max : {int64_t{9} << 14, int64_t{1} << 24, (int64_t{1} << 30) + 7}) {
    std::vector<int32_t> accs = {static_cast<int32_t>(-acc_max), static_cast<int32_t>(-acc_max + 1), -1, 0, 1,
                                 static_cast<int32_t>(acc_max - 1), static_cast<int32_t>(acc_max)};
    while (accs.size() < 45) accs.push_back(static_cast<int32_t>(rng.uniform(-static_cast<int>(acc_max),
                                                                            static_cast<int>(acc_max))));
    for (int shift = 0; shift <= 40; ++shift) {
      const int64_t half = shift > 0 && shift <= 31 ? int64_t{1} << (shift - 1) : 0;
      std::vector<int64_t> biases = {0, 1, -1, 12345, -12345, kI32Max, kI32Min};
      for (const int64_t edge : {int64_t{kI32Max} - acc_max - half, int64_t{kI32Min} + acc_max - half,
                                 int64_t{kI32Max} - acc_max, int64_t{kI32Min} + acc_max})
        for (int64_t d = -1; d <= 1; ++d)
          if (edge + d >= kI32Min && edge + d <= kI32Max) biases.push_back(edge + d);
      for (const int64_t b64 : biases) {
        const auto b = static_cast<int32_t>(b64);
        for (const int bits : {8, 32}) {
          const int64_t lo = nm::lowest(bits), hi = nm::bound(bits);
          const int64_t n = static_cast<int64_t>(accs.size());
          std::vector<int64_t> got(accs.size());
          if (bits == 8) {
            std::vector<int8_t> y(accs.size());
            avx2::requant_row_s8(accs.data(), n, b, static_cast<int32_t>(lo), static_cast<int32_t>(hi), shift,
                                 y.data(), acc_max);
            std::copy(y.begin(), y.end(), got.begin());
          } else {
            std::vector<int32_t> y(accs.size());
            avx2::requant_row_s32(accs.data(), n, b, static_cast<int32_t>(lo), static_cast<int32_t>(hi), shift,
                                  y.data(), acc_max);
            std::copy(y.begin(), y.end(), got.begin());
          }
          for (size_t j = 0; j < accs.size(); ++j)
            ASSERT_EQ(got[j], nm::conv_requant(accs[j], b, false, shift, bits))
                << "acc " << accs[j] << " bias " << b << " shift " << shift << " bits " << bits << " acc_max "
                << acc_max;
        }
      }
    }
  }
}

TEST(OptRequantAvx2, EqualsConvRequant) {
  if (!opt::isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2 (run-time cpuid check)";
  namespace avx2 = linger::runtime::opt::detail::avx2;
  std::vector<int32_t> accs = {kI32Min, kI32Min + 1, kI32Min + 2, -(1 << 30), -65536, -32769, -32768, -129, -128,
                               -3, -2, -1, 0, 1, 2, 3, 127, 128, 32767, 32768, 1 << 30, kI32Max - 1, kI32Max};
  Rng rng(99);
  while (accs.size() % 32 != 7) accs.push_back(rng.uniform(0, 1) ? rng.bias() : rng.uniform(kI32Min, kI32Max));
  const int32_t biases[] = {0, 1, -1, 1000, -1000, kI32Max, kI32Min, kI32Max - 5, kI32Min + 5, 1 << 30, -(1 << 30)};
  struct Bounds {
    bool relu;
    int64_t lo, hi;  // fractions of the type range: -1 = type min, 1 = type max, else the value itself
  };
  const Bounds bounds[] = {{false, -1, 1}, {true, -1, 1}, {false, 0, 1}, {false, 0, 48}, {false, -7, 5}, {false, 3, 3}};
  for (const int bits : {8, 16, 32}) {
    const int64_t tmin = nm::lowest(bits), tmax = nm::bound(bits);
    for (const Bounds& bd : bounds) {
      const int32_t lo = static_cast<int32_t>(bd.lo == -1 ? tmin : bd.lo);
      const int32_t hi = static_cast<int32_t>(bd.hi == 1 ? tmax : bd.hi);
      for (const int32_t b : biases)
        for (int shift = 0; shift <= 63; ++shift)
          for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{8}, int64_t{17}, int64_t{31}, static_cast<int64_t>(accs.size())}) {
            std::vector<int64_t> got(static_cast<size_t>(n));
            if (bits == 8) {
              std::vector<int8_t> y(static_cast<size_t>(n) + 1, 0x5A);
              avx2::requant_row_s8(accs.data(), n, b, bd.relu ? 0 : lo, hi, shift, y.data(), kI32Max);
              ASSERT_EQ(y[static_cast<size_t>(n)], 0x5A) << "wrote past the row";
              for (int64_t j = 0; j < n; ++j) got[static_cast<size_t>(j)] = y[static_cast<size_t>(j)];
            } else if (bits == 16) {
              std::vector<int16_t> y(static_cast<size_t>(n) + 1, 0x5A5A);
              avx2::requant_row_s16(accs.data(), n, b, bd.relu ? 0 : lo, hi, shift, y.data(), kI32Max);
              ASSERT_EQ(y[static_cast<size_t>(n)], 0x5A5A) << "wrote past the row";
              for (int64_t j = 0; j < n; ++j) got[static_cast<size_t>(j)] = y[static_cast<size_t>(j)];
            } else {
              std::vector<int32_t> y(static_cast<size_t>(n) + 1, 0x5A5A5A5A);
              avx2::requant_row_s32(accs.data(), n, b, bd.relu ? 0 : lo, hi, shift, y.data(), kI32Max);
              ASSERT_EQ(y[static_cast<size_t>(n)], 0x5A5A5A5A) << "wrote past the row";
              for (int64_t j = 0; j < n; ++j) got[static_cast<size_t>(j)] = y[static_cast<size_t>(j)];
            }
            for (int64_t j = 0; j < n; ++j) {
              int64_t want = nm::conv_requant(accs[static_cast<size_t>(j)], b, bd.relu, shift, bits);
              want = std::min<int64_t>(std::max<int64_t>(want, lo), hi);
              ASSERT_EQ(got[static_cast<size_t>(j)], want) << "acc " << accs[static_cast<size_t>(j)] << " bias " << b
                                                           << " shift " << shift << " bits " << bits << " lo " << lo
                                                           << " hi " << hi << " relu " << bd.relu;
            }
          }
    }
  }
}

// With a bound on |c| (acc_max) that leaves no room for overflow, the
// saturation step is skipped: accumulators at +-acc_max and biases up to the
// largest allowed magnitude (and one past it, where the full path runs).
TEST(OptRequantAvx2, BoundedAccumulatorsSkipSaturationExactly) {
  if (!opt::isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no AVX2 (run-time cpuid check)";
  namespace avx2 = linger::runtime::opt::detail::avx2;
  Rng rng(7);
  for (const int64_t acc_max : {int64_t{16384}, int64_t{9 * 16384}, int64_t{4608} * 16384, int64_t{131071} * 16384}) {
    std::vector<int32_t> accs = {static_cast<int32_t>(acc_max), static_cast<int32_t>(-acc_max), 0, 1, -1};
    while (accs.size() < 45) accs.push_back(static_cast<int32_t>(rng.uniform(static_cast<int>(-acc_max), static_cast<int>(acc_max))));
    const int64_t room = int64_t{kI32Max} - acc_max;
    for (const int64_t b64 : {room, -room, room + 1, -room - 1, room / 3, int64_t{0}}) {
      const int32_t b = static_cast<int32_t>(b64);
      for (int shift = 0; shift <= 63; shift += 3) {
        std::vector<int8_t> y(accs.size());
        avx2::requant_row_s8(accs.data(), static_cast<int64_t>(accs.size()), b, -128, 127, shift, y.data(), acc_max);
        for (size_t j = 0; j < accs.size(); ++j)
          ASSERT_EQ(y[j], nm::conv_requant(accs[j], b, false, shift, 8)) << accs[j] << " " << b << " " << shift;
      }
    }
  }
}
#endif

// The AVX-512 int8 requantisation (VNNI layers): the rows it takes (no step
// saturates) equal the formula, clamp included, at the edges of the bound
// and of the bias room, every shift 0..31, every tail length; one past the
// room it declines (returns false, writes nothing).
TEST(OptRequantVnni, EqualsConvRequantWhereItApplies) {
  if (!opt::isa_supported(Isa::kAvx512Vnni)) GTEST_SKIP() << "this CPU has no AVX-512 VNNI (run-time cpuid check)";
  namespace vnni = linger::runtime::opt::detail::avx512vnni;
  Rng rng(17);
  int took = 0, declined = 0;
  for (const int64_t acc_max : {int64_t{9} << 14, int64_t{4608} << 14, int64_t{131071} << 14}) {
    std::vector<int32_t> accs = {static_cast<int32_t>(acc_max), static_cast<int32_t>(-acc_max), 0, 1, -1, 127, -128};
    while (accs.size() < 53)
      accs.push_back(static_cast<int32_t>(rng.uniform(static_cast<int>(-acc_max), static_cast<int>(acc_max))));
    for (int shift = 0; shift <= 33; ++shift) {
      const int64_t half = shift > 0 && shift <= 31 ? int64_t{1} << (shift - 1) : 0;
      const int64_t room = int64_t{kI32Max} - acc_max - half;  // the largest bias it takes
      for (const int64_t b64 : {room, room + 1, -(int64_t{kI32Max} - acc_max), -(int64_t{kI32Max} - acc_max) - 1,
                                int64_t{0}, int64_t{-5}, int64_t{1} << 20}) {
        if (b64 < kI32Min || b64 > kI32Max) continue;
        const auto b = static_cast<int32_t>(b64);
        for (const int lo : {-128, 0, -7})
          for (const int hi : {127, 96, 5})
            for (const int64_t n : {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, static_cast<int64_t>(accs.size())}) {
              std::vector<int8_t> y(static_cast<size_t>(n) + 1, 0x5A);
              const bool did = vnni::requant_row_s8(accs.data(), n, b, lo, hi, shift, y.data(), acc_max);
              const bool fits = shift <= 31 && b64 <= room && b64 >= -(int64_t{kI32Max} - acc_max);
              ASSERT_EQ(did, fits) << "bias " << b << " shift " << shift << " acc_max " << acc_max;
              ASSERT_EQ(y[static_cast<size_t>(n)], 0x5A) << "wrote past the row";
              if (!did) {
                ASSERT_EQ(y[0], 0x5A) << "declined but wrote";
                ++declined;
                continue;
              }
              ++took;
              for (int64_t j = 0; j < n; ++j) {
                const int64_t want = std::min<int64_t>(
                    std::max<int64_t>(nm::conv_requant(accs[static_cast<size_t>(j)], b, false, shift, 8), lo), hi);
                ASSERT_EQ(y[static_cast<size_t>(j)], want) << "acc " << accs[static_cast<size_t>(j)] << " bias " << b
                                                          << " shift " << shift << " lo " << lo << " hi " << hi;
              }
            }
      }
    }
  }
  EXPECT_GT(took, 1000);
  EXPECT_GT(declined, 100);
}

// ---------------------------------------------------------------- ISA selection

TEST(OptIsaSelection, NamesAndScalarAlwaysSupported) {
  EXPECT_STREQ(opt::isa_name(Isa::kScalar), "scalar");
  EXPECT_STREQ(opt::isa_name(Isa::kAvx2), "avx2");
  EXPECT_STREQ(opt::isa_name(Isa::kAvx512Vnni), "avx512vnni");
  EXPECT_TRUE(opt::isa_supported(Isa::kScalar));
  // VNNI implies AVX2 here (fallbacks step down one level).
  if (opt::isa_supported(Isa::kAvx512Vnni)) {
    EXPECT_TRUE(opt::isa_supported(Isa::kAvx2));
  }
  std::printf("[ info ] CPU ISAs: avx2 %s, avx512vnni %s\n", opt::isa_supported(Isa::kAvx2) ? "yes" : "no",
              opt::isa_supported(Isa::kAvx512Vnni) ? "yes" : "no");
}

// The depthwise 3x3 layers of mobilenet-style networks (stride 1 and 2) run
// the VNNI plane kernel where the CPU has VNNI (the fastest there, see
// bench/runtime_opt), else the AVX2 one.
TEST(OptIsaSelection, DepthwiseChoosesThePlaneKernels) {
  for (const int stride : {1, 2}) {
    nm::Conv2dShape s;
    s.c = s.o = s.groups = 144;
    s.h = s.w = 56;
    s.kh = s.kw = 3;
    s.stride_h = s.stride_w = stride;
    s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
    const Isa want = opt::isa_supported(Isa::kAvx512Vnni) ? Isa::kAvx512Vnni
                     : opt::isa_supported(Isa::kAvx2)     ? Isa::kAvx2
                                                          : Isa::kScalar;
    EXPECT_EQ(opt::choose_conv_isa(s, Isa::kAuto), want) << "stride " << stride;
    // Capped at AVX2: the AVX2 plane kernel.
    if (opt::isa_supported(Isa::kAvx2)) {
      EXPECT_EQ(opt::choose_conv_isa(s, Isa::kAvx2), Isa::kAvx2);
    }
    // The VNNI plane kernel reads the input plane itself: no padded-plane copy in its workspace
    // (58 x 58 bytes and slack per thread less than the AVX2 path's).
    if (opt::isa_supported(Isa::kAvx512Vnni) && opt::isa_supported(Isa::kAvx2)) {
      for (const int threads : {1, 2}) {
        const int64_t vnni = opt::Conv2dInt8::workspace_bytes(s, Isa::kAvx512Vnni, threads);
        const int64_t avx2 = opt::Conv2dInt8::workspace_bytes(s, Isa::kAvx2, threads);
        EXPECT_GE(avx2 - vnni, int64_t{58} * 58 * threads) << "stride " << stride << " threads " << threads;
        EXPECT_EQ(opt::Conv2dInt8::workspace_bytes(s, Isa::kAuto, threads), vnni);
      }
    }
  }
}

class EnvGuard {
 public:
  EnvGuard() {
    const char* v = std::getenv("LINGER_ISA");
    had_ = v != nullptr;
    if (had_) old_ = v;
  }
  ~EnvGuard() {
    if (had_)
      setenv("LINGER_ISA", old_.c_str(), 1);
    else
      unsetenv("LINGER_ISA");
  }

 private:
  bool had_ = false;
  std::string old_;
};

TEST(OptIsaSelection, EnvironmentOverride) {
  EnvGuard guard;
  unsetenv("LINGER_ISA");
  const Isa natural = opt::best_isa();
  EXPECT_TRUE(opt::isa_supported(natural));
  if (opt::isa_supported(Isa::kAvx512Vnni))
    EXPECT_EQ(natural, Isa::kAvx512Vnni);
  else if (opt::isa_supported(Isa::kAvx2))
    EXPECT_EQ(natural, Isa::kAvx2);
  else
    EXPECT_EQ(natural, Isa::kScalar);

  setenv("LINGER_ISA", "scalar", 1);
  EXPECT_EQ(opt::best_isa(), Isa::kScalar);
  setenv("LINGER_ISA", "AVX2", 1);  // case-insensitive
  EXPECT_EQ(opt::best_isa(), opt::isa_supported(Isa::kAvx2) ? Isa::kAvx2 : natural);
  setenv("LINGER_ISA", "avx512vnni", 1);  // unsupported -> the best supported
  EXPECT_EQ(opt::best_isa(), opt::isa_supported(Isa::kAvx512Vnni) ? Isa::kAvx512Vnni : natural);
  setenv("LINGER_ISA", "no-such-isa", 1);
  EXPECT_EQ(opt::best_isa(), natural);
  setenv("LINGER_ISA", "", 1);
  EXPECT_EQ(opt::best_isa(), natural);
}

TEST(OptIsaSelection, UnsupportedIsaArgumentFallsBack) {
  // Asking for an ISA the CPU lacks must still give the exact result (it runs
  // the best supported one below it), never an illegal instruction.
  Rng rng(9);
  const nm::Conv2dShape s = make_shape(1, 7, 6, 6, 9, 3, 3, 1, 1, 1);
  const auto x = rng.i8s(static_cast<size_t>(s.c) * s.h * s.w);
  const auto w = rng.i8s(static_cast<size_t>(s.o) * s.c * 9);
  for (const Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    check_conv(isa, x, w, nullptr, s, 10, false, 8, nullptr, "fallback");
    const auto a = rng.i8s(9 * 30), b = rng.i8s(11 * 30);
    std::vector<int32_t> c(9 * 11);
    opt::gemm_s8s8_s32(a.data(), b.data(), c.data(), 9, 11, 30, isa);
    EXPECT_EQ(c, ref_gemm(a, b, 9, 11, 30)) << opt::isa_name(isa);
  }
}

}  // namespace
