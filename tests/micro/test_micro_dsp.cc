// The DSP-extension kernels against the scalar references of
// include/linger/numerics, tolerance 0 (on x86 through the SMLAD emulation; on
// the Cortex-M4 under qemu, scripts/mcu_check.sh compares the real instructions).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "dsp.h"
#include "dsp_kernels.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "out_store.h"

namespace {

namespace nm = linger::numerics;

int16_t lane(uint32_t v, int i) { return static_cast<int16_t>(static_cast<uint16_t>(v >> (16 * i))); }

TEST(MicroDsp, EmulatedPrimitivesMatchTheirDefinitions) {
  std::mt19937 rng(1);
  const uint32_t edge[] = {0, 0xffffffffu, 0x80008000u, 0x7fff7fffu, 0x80807f7fu, 0x00ff80ffu};
  for (int i = 0; i < 20000; ++i) {
    const uint32_t a = i < 36 ? edge[i % 6] : rng(), b = i < 36 ? edge[i / 6] : rng(), c = rng();
    const int64_t want = static_cast<int64_t>(static_cast<int32_t>(c)) + lane(a, 0) * lane(b, 0) + lane(a, 1) * lane(b, 1);
    EXPECT_EQ(lm::dsp::smlad(a, b, static_cast<int32_t>(c)), static_cast<int32_t>(static_cast<uint32_t>(want)));
    const int64_t acc = (static_cast<int64_t>(c) << 20) - 12345;
    EXPECT_EQ(lm::dsp::smlald(a, b, acc), acc + lane(a, 0) * lane(b, 0) + lane(a, 1) * lane(b, 1));
    const uint32_t s = lm::dsp::sxtb16(a), r = lm::dsp::sxtb16_ror8(a);
    EXPECT_EQ(lane(s, 0), static_cast<int8_t>(a & 0xff));
    EXPECT_EQ(lane(s, 1), static_cast<int8_t>((a >> 16) & 0xff));
    EXPECT_EQ(lane(r, 0), static_cast<int8_t>((a >> 8) & 0xff));
    EXPECT_EQ(lane(r, 1), static_cast<int8_t>(a >> 24));
  }
  for (uint32_t k = 0; k < 16; ++k) EXPECT_EQ(lm::dsp::reordered_slot(lm::dsp::reordered_slot(k)), k);
  for (int i = 0; i < 20000; ++i) {
    const uint32_t a = i < 36 ? edge[i % 6] : rng(), b = i < 36 ? edge[i / 6] : rng();
    const uint32_t m = lm::dsp::max_s8x4(a, b);
    for (int l = 0; l < 4; ++l) {
      const int8_t x = static_cast<int8_t>(a >> (8 * l)), y = static_cast<int8_t>(b >> (8 * l));
      EXPECT_EQ(static_cast<int8_t>(m >> (8 * l)), x > y ? x : y);
    }
  }
}

std::vector<int8_t> random_i8(size_t n, std::mt19937& rng) {
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(rng());
  return v;
}

template <typename OutT>
void check_conv(const nm::Conv2dShape& s, int shift, bool relu, int bits, std::mt19937& rng, const std::vector<int8_t>* fixed_x = nullptr,
                const std::vector<int8_t>* fixed_w = nullptr) {
  ASSERT_TRUE(s.valid());
  const size_t nx = static_cast<size_t>(s.n) * s.c * s.h * s.w;
  const size_t k = static_cast<size_t>(s.c / s.groups) * s.kh * s.kw;
  const std::vector<int8_t> x = fixed_x ? *fixed_x : random_i8(nx, rng);
  const std::vector<int8_t> w = fixed_w ? *fixed_w : random_i8(static_cast<size_t>(s.o) * k, rng);
  std::vector<int32_t> b(static_cast<size_t>(s.o));
  for (int32_t& v : b) v = static_cast<int32_t>(rng() % 200001) - 100000;
  const size_t ny = static_cast<size_t>(s.n) * s.o * s.out_h() * s.out_w();
  std::vector<OutT> want(ny), got(ny);
  if (bits) {
    nm::conv2d_int<OutT>(x.data(), w.data(), b.data(), want.data(), s, shift, relu, bits);
  } else {
    size_t i = 0;
    for (int n = 0; n < s.n; ++n)
      for (int oc = 0; oc < s.o; ++oc)
        for (int oy = 0; oy < s.out_h(); ++oy)
          for (int ox = 0; ox < s.out_w(); ++ox, ++i)
            lm::store_conv_out(want.data(), static_cast<int64_t>(i), nm::conv2d_acc_at(x.data(), w.data(), s, n, oc, oy, ox),
                               b[static_cast<size_t>(oc)], relu, shift, 0);
  }
  std::vector<int16_t> col(2 * ((k + 3) / 4 * 4), 0x5555);
  lm::conv2d_dsp(x.data(), w.data(), b.data(), got.data(), s, shift, relu, bits, col.data());
  ASSERT_EQ(std::memcmp(want.data(), got.data(), ny * sizeof(OutT)), 0)
      << "c " << s.c << " o " << s.o << " k " << s.kh << "x" << s.kw << " groups " << s.groups << " bits " << bits;
}

TEST(MicroDsp, ConvMatchesTheReferenceOnRandomGeometries) {
  std::mt19937 rng(2);
  for (int t = 0; t < 300; ++t) {
    nm::Conv2dShape s;
    s.groups = 1 + static_cast<int>(rng() % 3);
    s.n = 1 + static_cast<int>(rng() % 2);
    s.c = s.groups * (1 + static_cast<int>(rng() % 5));
    s.o = s.groups * (1 + static_cast<int>(rng() % 5));
    s.kh = 1 + static_cast<int>(rng() % 4);
    s.kw = 1 + static_cast<int>(rng() % 4);
    s.stride_h = 1 + static_cast<int>(rng() % 3);
    s.stride_w = 1 + static_cast<int>(rng() % 3);
    s.dil_h = 1 + static_cast<int>(rng() % 2);
    s.dil_w = 1 + static_cast<int>(rng() % 2);
    s.pad_top = static_cast<int>(rng() % 3);
    s.pad_left = static_cast<int>(rng() % 3);
    s.pad_bottom = static_cast<int>(rng() % 3);
    s.pad_right = static_cast<int>(rng() % 3);
    s.h = s.dil_h * (s.kh - 1) + 1 + static_cast<int>(rng() % 6);
    s.w = s.dil_w * (s.kw - 1) + 1 + static_cast<int>(rng() % 6);
    const int shift = static_cast<int>(rng() % 24) - 4;
    const bool relu = rng() % 2;
    switch (t % 4) {
      case 0: check_conv<int8_t>(s, shift, relu, 8, rng); break;
      case 1: check_conv<int16_t>(s, shift, relu, 16, rng); break;
      case 2: check_conv<int32_t>(s, shift, relu, 32, rng); break;
      default: check_conv<float>(s, shift, relu, 0, rng); break;
    }
  }
}

TEST(MicroDsp, ConvInt32WrapMatches) {
  // K = 16384*3*3 products of (-128)*(-128) = 2^31.17: the int32 accumulator wraps, in SMLAD as in the reference.
  std::mt19937 rng(3);
  nm::Conv2dShape s;
  s.c = 16384;
  s.h = s.w = 3;
  s.kh = s.kw = 3;
  s.o = 2;
  const std::vector<int8_t> x(static_cast<size_t>(s.c) * 9, -128), w(static_cast<size_t>(s.o) * s.c * 9, -128);
  check_conv<int32_t>(s, 0, false, 32, rng, &x, &w);
  check_conv<int8_t>(s, 20, false, 8, rng, &x, &w);
}

TEST(MicroDsp, MaxPool2x2MatchesTheReference) {
  std::mt19937 rng(5);
  int fast = 0;
  for (int t = 0; t < 300; ++t) {
    nm::Pool2dShape s;
    s.n = 1 + static_cast<int>(rng() % 2);
    s.c = 1 + static_cast<int>(rng() % 3);
    s.h = 2 + static_cast<int>(rng() % 9);
    s.w = 2 + static_cast<int>(rng() % 11);
    s.kh = s.kw = 2;
    s.stride_h = s.stride_w = 2;
    s.ceil_mode = rng() % 2;
    if (t % 5 == 0) s.pad_left = 1;  // not the fast path's shape
    std::vector<int8_t> x = random_i8(static_cast<size_t>(s.n) * s.c * s.h * s.w, rng);
    if (t % 3 == 0)
      for (int8_t& v : x) v = static_cast<int8_t>(rng() % 2 ? -128 : 127);
    const size_t ny = static_cast<size_t>(s.n) * s.c * s.out_h() * s.out_w();
    std::vector<int8_t> want(ny), got(ny, 0x55);
    nm::maxpool2d_int(x.data(), want.data(), s);
    if (!lm::pool_2x2_fits(s)) continue;
    ++fast;
    lm::maxpool2x2_dsp(x.data(), got.data(), s);
    ASSERT_EQ(want, got) << "h " << s.h << " w " << s.w << " ceil " << s.ceil_mode;
  }
  EXPECT_GT(fast, 100);
}

TEST(MicroDsp, LinearMatchesTheReference) {
  std::mt19937 rng(4);
  for (int t = 0; t < 200; ++t) {
    const uint32_t m = 1 + rng() % 4, k = 1 + rng() % 70, n = 1 + rng() % 9;
    const int shift = static_cast<int>(rng() % 30) - 5;
    const std::vector<int8_t> x = random_i8(m * k, rng), w = random_i8(n * k, rng);
    std::vector<int32_t> b(n);
    for (int32_t& v : b) v = static_cast<int32_t>(rng());  // full int32 range: int64 accumulation matters
    std::vector<int16_t> row((k + 3) / 4 * 4, 0x5555);
    const int bits = (t % 4 == 3) ? 0 : 8 << (t % 3);
    std::vector<uint8_t> want(m * n * 4), got(m * n * 4);
    switch (bits) {
      case 8: nm::linear_int(x.data(), w.data(), b.data(), reinterpret_cast<int8_t*>(want.data()), m, k, n, shift, 8); break;
      case 16: nm::linear_int(x.data(), w.data(), b.data(), reinterpret_cast<int16_t*>(want.data()), m, k, n, shift, 16); break;
      case 32: nm::linear_int(x.data(), w.data(), b.data(), reinterpret_cast<int32_t*>(want.data()), m, k, n, shift, 32); break;
      default: nm::linear_int_float(x.data(), w.data(), b.data(), reinterpret_cast<float*>(want.data()), m, k, n, shift); break;
    }
    lm::linear_dsp(x.data(), w.data(), b.data(), got.data(), m, k, n, shift, bits, row.data());
    ASSERT_EQ(want, got) << "m " << m << " k " << k << " n " << n << " bits " << bits;
  }
}

}  // namespace
