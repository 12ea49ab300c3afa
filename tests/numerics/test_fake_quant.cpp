// Tests of include/linger/numerics/fake_quant.h (the float32 fake quantization of the
// CPU and CUDA training kernels) against an exact reference in long double:
// value = float(sat_b(floor(x * 2^Q + 1/2))) * 2^-Q, gradient passes iff the code is in range.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "linger/numerics/fake_quant.h"
#include "linger/numerics/quantize.h"

namespace {

namespace ln = linger::numerics;

// The exact code in long double (64-bit mantissa: x * 2^Q + 1/2 is exact for float x, |Q| <= 40).
long double ref_code(float x, int q) { return std::floor(std::ldexp(static_cast<long double>(x), q) + 0.5L); }

float ref_value(float x, int q, int bits) {
  const long double lo = static_cast<long double>(ln::lowest(bits)), hi = static_cast<long double>(ln::bound(bits));
  if (std::isnan(x)) return std::ldexp(static_cast<float>(lo), -q);
  long double c = ref_code(x, q);
  c = c < lo ? lo : (c > hi ? hi : c);
  return std::ldexp(static_cast<float>(c), -q);  // the code to float (exact below 2^24), times 2^-Q (exact)
}

bool ref_passes(float x, int q, int bits) {
  if (std::isnan(x)) return false;
  const long double c = ref_code(x, q);
  return c >= static_cast<long double>(ln::lowest(bits)) && c <= static_cast<long double>(ln::bound(bits));
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float value(float x, int q, int bits, bool wide) {
  const auto p = ln::fake_quant_params(q, bits);
  return wide ? ln::fake_quant_value<true>(x, p) : ln::fake_quant_value<false>(x, p);
}

// Values around every tie k + 1/2 of the grid and random floats over many magnitudes.
std::vector<float> samples(int q, std::mt19937& rng) {
  std::vector<float> xs = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                           3e9f, -3e9f, 2147483520.0f, -2147483648.0f, 8388608.0f, 8388609.0f, 16777217.0f};
  for (int k = -300; k <= 300; ++k) {
    const float tie = std::ldexp(static_cast<float>(k) + 0.5f, -q);
    xs.push_back(tie);
    xs.push_back(std::nextafter(tie, 1e30f));
    xs.push_back(std::nextafter(tie, -1e30f));
    xs.push_back(std::ldexp(static_cast<float>(k), -q));
  }
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-40, 40);
  for (int i = 0; i < 3000; ++i) xs.push_back(std::ldexp(mant(rng), ex(rng) - q));
  return xs;
}

TEST(FakeQuant, ValuesEqualTheExactReferenceForEveryBitWidthAndExponent) {
  std::mt19937 rng(12);
  for (int bits : {2, 4, 8, 16, 24, 25, 31, 32}) {
    for (int q : {ln::kMinExponent, -20, -3, 0, 1, 5, 7, 15, 30, ln::kMaxExponent}) {
      for (float x : samples(q, rng)) {
        const float want = ref_value(x, q, bits);
        const float got = value(x, q, bits, bits > 31);
        ASSERT_EQ(bits_of(got), bits_of(want)) << "x=" << x << " Q=" << q << " bits=" << bits << " got " << got
                                               << " want " << want;
        // The wide form is exact everywhere: the narrow one is only an optimisation below 32 bits.
        ASSERT_EQ(bits_of(value(x, q, bits, true)), bits_of(want)) << "x=" << x << " Q=" << q << " bits=" << bits;
      }
    }
  }
}

TEST(FakeQuant, NegativeZeroAndSmallNegativesGivePositiveZero) {
  for (float x : {-0.0f, -1e-30f, -0.25f}) {
    EXPECT_EQ(bits_of(value(x, 0, 8, false)), 0u) << x;
    EXPECT_EQ(bits_of(value(x, 0, 32, true)), 0u) << x;
  }
}

TEST(FakeQuant, ThirtyTwoBitsSaturatesAtTwoToThe31) {
  // float(2^31 - 1) = 2^31; before the wide form an int32 conversion of 2^31 was undefined behaviour.
  EXPECT_EQ(value(3e9f, 0, 32, true), 2147483648.0f);
  EXPECT_EQ(value(std::numeric_limits<float>::infinity(), 0, 32, true), 2147483648.0f);
  EXPECT_EQ(value(-3e9f, 0, 32, true), -2147483648.0f);
  EXPECT_EQ(value(1e30f, 10, 32, true), std::ldexp(2147483648.0f, -10));
}

TEST(FakeQuant, GradientPassesExactlyWhereTheCodeIsInRange) {
  std::mt19937 rng(7);
  for (int bits : {2, 4, 8, 16, 24}) {
    for (int q : {-5, 0, 4, 9}) {
      const auto p = ln::fake_quant_params(q, bits);
      for (float x : samples(q, rng)) {
        const float g = ln::fake_quant_grad<false>(1.5f, x, p);
        ASSERT_EQ(g, ref_passes(x, q, bits) ? 1.5f : 0.0f) << "x=" << x << " Q=" << q << " bits=" << bits;
      }
    }
  }
}

TEST(FakeQuant, NaNGivesTheLowestValueAndNoGradient) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto p = ln::fake_quant_params(3, 8);
  EXPECT_EQ(ln::fake_quant_value<false>(nan, p), -128.0f / 8.0f);
  EXPECT_EQ(ln::fake_quant_grad<false>(2.0f, nan, p), 0.0f);
}

TEST(FakeQuant, ParamsArePowersOfTwoAndBounds) {
  const auto p = ln::fake_quant_params(-32, 8);
  EXPECT_EQ(p.scale, std::ldexp(1.0f, -32));
  EXPECT_EQ(p.inv_scale, std::ldexp(1.0f, 32));
  EXPECT_EQ(p.lo, -128.0f);
  EXPECT_EQ(p.hi, 127.0f);
  EXPECT_FALSE(p.wide);
  EXPECT_TRUE(ln::fake_quant_params(0, 32).wide);
}

}  // namespace
