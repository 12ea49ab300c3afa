// Tests of include/linger/numerics/quantize.h against exact references
// (numerics.md §1-§2: quantize, dequantize, exponent choice, scale attribute, EMA).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "linger/numerics/quantize.h"

namespace {

using linger::numerics::choose_exponent;
using linger::numerics::dequantize;
using linger::numerics::ema_update;
using linger::numerics::exponent_to_scale;
using linger::numerics::kMaxExponent;
using linger::numerics::kMinExponent;
using linger::numerics::kZeroRangeExponent;
using linger::numerics::quantize;
using linger::numerics::scale_to_exponent;

using i128 = __int128;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kDInf = std::numeric_limits<double>::infinity();

i128 pow2(int e) { return static_cast<i128>(1) << e; }

i128 floor_div(i128 a, i128 b) {  // b > 0
  i128 q = a / b;
  while (q * b > a) --q;
  while ((q + 1) * b <= a) ++q;
  return q;
}

// Exact reference: sat_b(floor(x * 2^Q + 1/2)) with x = m * 2^e decomposed into an
// integer mantissa, all arithmetic on __int128. NaN -> 0, +-inf saturate.
int64_t ref_quantize(float x, int q_exp, int bits) {
  const i128 hi = pow2(bits - 1) - 1, lo = -pow2(bits - 1);
  if (std::isnan(x)) return 0;
  if (std::isinf(x)) return static_cast<int64_t>(x > 0 ? hi : lo);
  if (x == 0.0f) return 0;
  int e = 0;
  const float fr = std::frexp(x, &e);                                 // x = fr * 2^e, |fr| in [0.5, 1)
  const i128 m = static_cast<i128>(static_cast<int64_t>(std::ldexp(fr, 24)));  // exact, |m| < 2^24
  const int k = e - 24 + q_exp;                                        // x * 2^Q = m * 2^k
  i128 v;
  if (k >= 0) {
    v = k > 90 ? (m > 0 ? hi + 1 : lo - 1) : m * pow2(k);
  } else if (-k > 100) {
    v = 0;  // |x * 2^Q| < 2^24 * 2^-100 < 1/2
  } else {
    v = floor_div(2 * m + pow2(-k), pow2(1 - k));  // floor(m/2^-k + 1/2)
  }
  return static_cast<int64_t>(v > hi ? hi : (v < lo ? lo : v));
}

const int kBitsList[] = {4, 8, 16, 32};

TEST(Quantize, RandomModerateValues) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> qd(-10, 30);
  std::uniform_real_distribution<double> ud(-1.25, 1.25);
  for (int bits : kBitsList)
    for (int i = 0; i < 40000; ++i) {
      const int q = qd(rng);
      const float x = static_cast<float>(std::ldexp(ud(rng) * std::ldexp(1.0, bits - 1), -q));
      ASSERT_EQ(quantize(x, q, bits), ref_quantize(x, q, bits)) << "x=" << x << " Q=" << q << " bits=" << bits;
    }
}

TEST(Quantize, RandomBitPatterns) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> qd(-10, 30);
  const int bits_all[] = {4, 8, 16, 32, 64};
  for (int i = 0; i < 100000; ++i) {
    const uint32_t u = static_cast<uint32_t>(rng());
    float x;
    std::memcpy(&x, &u, sizeof x);
    const int q = qd(rng);
    const int bits = bits_all[i % 5];
    ASSERT_EQ(quantize(x, q, bits), ref_quantize(x, q, bits)) << "bits=" << u << " Q=" << q << " b=" << bits;
  }
}

TEST(Quantize, ExactTiesAndNeighbours) {
  std::mt19937 rng(3);
  for (int bits : kBitsList) {
    const int64_t hi = (int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
    std::vector<int64_t> ks = {0, 1, 2, 3, 10, 25, hi - 2, hi - 1, hi, hi + 1, -hi - 2, -hi, -hi + 1};
    std::uniform_int_distribution<int64_t> kd(0, std::min<int64_t>(hi + 2, (int64_t{1} << 22) - 1));
    for (int i = 0; i < 60; ++i) ks.push_back(kd(rng));
    for (int q = -10; q <= 30; ++q) {
      for (int64_t k : ks) {
        if (k < 0 || 2 * k + 1 >= (int64_t{1} << 24)) continue;  // (k + 1/2) must be an exact float
        for (int sign : {1, -1}) {
          // t = sign * (k + 1/2), exactly; x = t * 2^-Q
          const float x = std::ldexp(static_cast<float>(sign * (2 * k + 1)), -q - 1);
          ASSERT_EQ(std::ldexp(static_cast<double>(x), q + 1), static_cast<double>(sign * (2 * k + 1)));
          const float toward0 = std::nextafter(x, 0.0f);
          const float away = std::nextafter(x, sign > 0 ? kInf : -kInf);
          auto clampb = [&](int64_t v) { return v > hi ? hi : (v < lo ? lo : v); };
          // The tie goes up: k + 1/2 -> k + 1, -(k + 1/2) -> -k.
          const int64_t tie = sign > 0 ? clampb(k + 1) : clampb(-k);
          const int64_t t0 = sign > 0 ? clampb(k) : clampb(-k);           // |x| just below the tie
          const int64_t ta = sign > 0 ? clampb(k + 1) : clampb(-k - 1);   // |x| just above the tie
          ASSERT_EQ(quantize(x, q, bits), tie) << "k=" << k << " sign=" << sign << " Q=" << q << " bits=" << bits;
          ASSERT_EQ(quantize(toward0, q, bits), t0) << "k=" << k << " sign=" << sign << " Q=" << q;
          ASSERT_EQ(quantize(away, q, bits), ta) << "k=" << k << " sign=" << sign << " Q=" << q;
          ASSERT_EQ(ref_quantize(x, q, bits), tie);
          ASSERT_EQ(ref_quantize(toward0, q, bits), t0);
          ASSERT_EQ(ref_quantize(away, q, bits), ta);
        }
      }
    }
  }
  // The contract's examples.
  EXPECT_EQ(quantize(2.5f, 0, 8), 3);
  EXPECT_EQ(quantize(-2.5f, 0, 8), -2);
  EXPECT_EQ(quantize(-25.6f, 0, 8), -26);
  EXPECT_EQ(quantize(-0.5f, 0, 8), 0);
  EXPECT_EQ(quantize(0.5f, 0, 8), 1);
  EXPECT_EQ(quantize(std::nextafter(0.5f, 0.0f), 0, 8), 0);
  EXPECT_EQ(quantize(std::nextafter(-0.5f, -1.0f), 0, 8), -1);
  EXPECT_EQ(quantize(127.49f, 0, 8), 127);
  EXPECT_EQ(quantize(127.5f, 0, 8), 127);  // 128 saturates
  EXPECT_EQ(quantize(-128.5f, 0, 8), -128);
  EXPECT_EQ(quantize(-128.51f, 0, 8), -128);
  EXPECT_EQ(quantize(1.0f, 7, 8), 127);  // 128 saturates
  EXPECT_EQ(quantize(-1.0f, 7, 8), -128);
}

TEST(Quantize, SpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {0.0f, -0.0f, kInf, -kInf, nan, -nan, FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN,
                            std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
                            0x1p62f, -0x1p63f, 0x1p63f, 0x1p31f, -0x1p31f};
  const int bits_all[] = {4, 8, 16, 32, 64};
  for (int bits : bits_all) {
    const int64_t hi = bits == 64 ? std::numeric_limits<int64_t>::max() : (int64_t{1} << (bits - 1)) - 1;
    const int64_t lo = bits == 64 ? std::numeric_limits<int64_t>::min() : -hi - 1;
    for (int q = -10; q <= 30; ++q) {
      EXPECT_EQ(quantize(kInf, q, bits), hi);
      EXPECT_EQ(quantize(-kInf, q, bits), lo);
      EXPECT_EQ(quantize(nan, q, bits), 0);
      EXPECT_EQ(quantize(0.0f, q, bits), 0);
      EXPECT_EQ(quantize(-0.0f, q, bits), 0);
      EXPECT_EQ(quantize(FLT_MAX, q, bits), hi);
      EXPECT_EQ(quantize(-FLT_MAX, q, bits), lo);
      for (float x : specials) EXPECT_EQ(quantize(x, q, bits), ref_quantize(x, q, bits)) << x << " Q=" << q;
    }
  }
  EXPECT_EQ(quantize(0x1p62f, 0, 64), int64_t{1} << 62);
  EXPECT_EQ(quantize(-0x1p63f, 0, 64), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(quantize(0x1p63f, 0, 64), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(quantize(-0x1p31f, 0, 32), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(quantize(0x1p31f, 0, 32), std::numeric_limits<int32_t>::max());
}

// choose_exponent must return clamp(q*) where q* is the largest Q with r * 2^Q <= bound(b).
// Checked exactly in long double (64-bit mantissa holds every bound(b), b <= 32, and every r * 2^Q).
void check_choose(double r, int bits) {
  const int q = choose_exponent(r, bits);
  const long double b = static_cast<long double>((int64_t{1} << (bits - 1)) - 1);
  ASSERT_GE(q, kMinExponent);
  ASSERT_LE(q, kMaxExponent);
  const bool fits_q = std::ldexp(static_cast<long double>(r), q) <= b;
  const bool fits_q1 = std::ldexp(static_cast<long double>(r), q + 1) <= b;
  if (q == kMinExponent) {
    ASSERT_FALSE(fits_q1) << "r=" << r << " bits=" << bits << " q=" << q;  // q* <= kMin
  } else if (q == kMaxExponent) {
    ASSERT_TRUE(fits_q) << "r=" << r << " bits=" << bits << " q=" << q;  // q* >= kMax
  } else {
    ASSERT_TRUE(fits_q) << "r=" << r << " bits=" << bits << " q=" << q;
    ASSERT_FALSE(fits_q1) << "r=" << r << " bits=" << bits << " q=" << q;
  }
}

TEST(ChooseExponent, DefiningProperty) {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> ex(-70, 70);
  for (int bits = 2; bits <= 32; ++bits) {
    const double b = static_cast<double>((int64_t{1} << (bits - 1)) - 1);
    for (int e = -90; e <= 90; ++e) {
      for (double base : {1.0, b, b + 0.5, 3.0}) {
        const double r = std::ldexp(base, e);
        check_choose(r, bits);
        check_choose(std::nextafter(r, 0.0), bits);
        check_choose(std::nextafter(r, kDInf), bits);
        check_choose(static_cast<double>(std::nextafter(static_cast<float>(r), 0.0f)), bits);
        check_choose(static_cast<double>(std::nextafter(static_cast<float>(r), kInf)), bits);
      }
    }
    for (int i = 0; i < 3000; ++i) check_choose(std::ldexp(mant(rng), ex(rng)), bits);
    for (int i = 0; i < 1000; ++i) {  // arbitrary positive finite doubles
      const uint64_t u = rng() >> 1;
      double r;
      std::memcpy(&r, &u, sizeof r);
      if (std::isfinite(r) && r > 0) check_choose(r, bits);
    }
    check_choose(std::numeric_limits<double>::denorm_min(), bits);
    check_choose(DBL_MIN, bits);
    check_choose(DBL_MAX, bits);
  }
}

TEST(ChooseExponent, ExamplesAndSpecialValues) {
  EXPECT_EQ(choose_exponent(1.0, 8), 6);     // 64 <= 127 < 128
  EXPECT_EQ(choose_exponent(127.0, 8), 0);
  EXPECT_EQ(choose_exponent(std::nextafter(127.0, 200.0), 8), -1);
  EXPECT_EQ(choose_exponent(std::nextafter(127.0 / 128, 0.0), 8), 7);
  EXPECT_EQ(choose_exponent(127.0 / 128, 8), 7);
  EXPECT_EQ(choose_exponent(std::nextafter(127.0 / 128, 1.0), 8), 6);
  EXPECT_EQ(choose_exponent(0.5, 8), 7);
  EXPECT_EQ(choose_exponent(1.0, 16), 14);
  EXPECT_EQ(choose_exponent(32767.0, 16), 0);
  EXPECT_EQ(choose_exponent(0.0, 8), kZeroRangeExponent);
  EXPECT_EQ(choose_exponent(-0.0, 8), kZeroRangeExponent);
  EXPECT_EQ(choose_exponent(-3.0, 8), kZeroRangeExponent);
  EXPECT_EQ(choose_exponent(std::numeric_limits<double>::quiet_NaN(), 8), kZeroRangeExponent);
  EXPECT_EQ(choose_exponent(kDInf, 8), kMinExponent);
  EXPECT_EQ(choose_exponent(-kDInf, 8), kZeroRangeExponent);
  EXPECT_EQ(choose_exponent(DBL_MAX, 8), kMinExponent);
  EXPECT_EQ(choose_exponent(std::numeric_limits<double>::denorm_min(), 8), kMaxExponent);
  EXPECT_EQ(choose_exponent(1e-300, 8), kMaxExponent);
  EXPECT_EQ(kZeroRangeExponent, 0);
  // A tensor whose max |x| is r quantizes without saturation beyond bound(b).
  for (float r : {0.3f, 1.0f, 5.75f, 127.0f, 1000.0f, 3.3e-5f}) {
    const int q = choose_exponent(r, 8);
    EXPECT_LE(quantize(r, q, 8), 127);
    EXPECT_GE(quantize(-r, q, 8), -127);
    EXPECT_GT(std::ldexp(static_cast<double>(r), q + 1), 127.0);
  }
}

TEST(ScaleToExponent, AcceptsExactPowersOfTwo) {
  for (int k = -32; k <= 40; ++k) {
    const float s = std::ldexp(1.0f, k);
    int q = 12345;
    ASSERT_TRUE(scale_to_exponent(s, &q)) << k;
    EXPECT_EQ(q, k);
    q = 12345;
    ASSERT_TRUE(scale_to_exponent(std::ldexp(1.0, k), &q)) << k;
    EXPECT_EQ(q, k);
    EXPECT_EQ(exponent_to_scale(k), s);
    q = 12345;
    ASSERT_TRUE(scale_to_exponent(exponent_to_scale(k), &q));
    EXPECT_EQ(q, k);
  }
}

TEST(ScaleToExponent, RejectsEverythingElse) {
  std::vector<double> bad = {3.0, 0.0, -0.0, -1.0, -2.0, -0.5, 0.75, 1.5, 6.0, 1e-3, kDInf, -kDInf,
                             std::numeric_limits<double>::quiet_NaN()};
  for (int k = -32; k <= 40; ++k) {
    const float s = std::ldexp(1.0f, k);
    bad.push_back(static_cast<double>(s) * (1.0 + 0x1p-23));       // 2^k * (1 + 2^-23)
    bad.push_back(static_cast<double>(std::nextafter(s, kInf)));    // same, via nextafter
    bad.push_back(static_cast<double>(std::nextafter(s, 0.0f)));    // 2^k * (1 - 2^-24)
    bad.push_back(std::nextafter(static_cast<double>(s), kDInf));   // 2^k * (1 + 2^-52)
    bad.push_back(-static_cast<double>(s));
    bad.push_back(3.0 * s);
  }
  for (double s : bad) {
    int q = 777;
    EXPECT_FALSE(scale_to_exponent(s, &q)) << s;
    EXPECT_EQ(q, 777) << "output must be untouched on rejection";
  }
}

TEST(Dequantize, ExactForInt8AndInt16) {
  for (int q_exp = kMinExponent; q_exp <= kMaxExponent; ++q_exp)
    for (int q = -128; q <= 127; ++q) {
      const float d = dequantize(q, q_exp);
      ASSERT_EQ(std::ldexp(static_cast<long double>(d), q_exp), static_cast<long double>(q)) << q << " Q=" << q_exp;
      ASSERT_EQ(quantize(d, q_exp, 8), q);
    }
  for (int q_exp : {kMinExponent, -8, -1, 0, 1, 7, 11, 15, 24, 31, kMaxExponent})
    for (int q = -32768; q <= 32767; ++q) {
      const float d = dequantize(q, q_exp);
      ASSERT_EQ(std::ldexp(static_cast<long double>(d), q_exp), static_cast<long double>(q)) << q << " Q=" << q_exp;
      ASSERT_EQ(quantize(d, q_exp, 16), q);
    }
  for (int64_t q : {int64_t{1} << 24, -(int64_t{1} << 24), (int64_t{1} << 24) - 1, -(int64_t{1} << 24) + 1})
    EXPECT_EQ(std::ldexp(static_cast<long double>(dequantize(q, 3)), 3), static_cast<long double>(q));
  EXPECT_EQ(dequantize(-128, 7), -1.0f);
  EXPECT_EQ(dequantize(127, 7), 0.9921875f);
  EXPECT_EQ(dequantize(3, -2), 12.0f);
}

// Reference EMA step in long double: (1 - m) * running + m * observed.
float ref_ema(float running, float observed, float m) {
  const long double lm = m;
  return static_cast<float>((1.0L - lm) * running + lm * observed);
}

TEST(EmaUpdate, StartUpTakesObservation) {
  EXPECT_EQ(ema_update(0.0f, 3.5f, 0.1f), 3.5f);
  EXPECT_EQ(ema_update(-0.0f, 3.5f, 0.1f), 3.5f);
  EXPECT_EQ(ema_update(0.0f, 0.0f, 0.1f), 0.0f);
  EXPECT_EQ(ema_update(0.0f, 1e-30f, 0.1f), 1e-30f);
  // Eval right after one batch is calibrated: the exponent equals the batch's.
  const float first = ema_update(0.0f, 6.3f, 0.1f);
  EXPECT_EQ(choose_exponent(first, 8), choose_exponent(6.3f, 8));
}

TEST(EmaUpdate, MomentumPointOne) {
  EXPECT_FLOAT_EQ(ema_update(1.0f, 2.0f, 0.1f), 1.1f);
  EXPECT_FLOAT_EQ(ema_update(10.0f, 0.0f, 0.1f), 9.0f);
  EXPECT_FLOAT_EQ(ema_update(2.0f, 12.0f, 0.1f), 3.0f);
  EXPECT_EQ(ema_update(5.0f, 5.0f, 0.1f), 5.0f);  // a constant is a fixed point
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> obs(0.0f, 50.0f);
  float running = 0.0f;
  for (int i = 0; i < 2000; ++i) {
    const float o = obs(rng);
    const float want = i == 0 ? o : ref_ema(running, o, 0.1f);
    running = ema_update(running, o, 0.1f);
    ASSERT_FLOAT_EQ(running, want) << "step " << i;
  }
  // From running 1 towards a constant 2, the gap shrinks by 0.9 per step.
  float r = ema_update(0.0f, 1.0f, 0.1f);
  for (int i = 1; i <= 40; ++i) {
    r = ema_update(r, 2.0f, 0.1f);
    EXPECT_NEAR(r, 2.0 - std::pow(0.9, i), 1e-5) << i;
  }
}

}  // namespace
