// Tests of include/linger/numerics/fixedpoint.h against independent references
// (exact __int128 rational arithmetic; numerics.md §1-§2).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "linger/numerics/fixedpoint.h"

namespace {

using linger::numerics::bound;
using linger::numerics::lowest;
using linger::numerics::rhu_div;
using linger::numerics::rhu_shift;
using linger::numerics::sat;
using linger::numerics::sat16;
using linger::numerics::sat32;
using linger::numerics::sat8;
using linger::numerics::shl_sat64;
using linger::numerics::wrap32;
using linger::numerics::wrap_add32;

using i128 = __int128;
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

i128 pow2(int e) { return static_cast<i128>(1) << e; }  // e <= 125

// floor(a / b) for b > 0 from the defining inequality q*b <= a < (q+1)*b.
i128 floor_div(i128 a, i128 b) {
  i128 q = a / b;
  while (q * b > a) --q;
  while ((q + 1) * b <= a) ++q;
  return q;
}

int64_t clamp64(i128 v) {
  if (v > static_cast<i128>(kI64Max)) return kI64Max;
  if (v < static_cast<i128>(kI64Min)) return kI64Min;
  return static_cast<int64_t>(v);
}

// Reference rhu_shift: floor(v/2^s + 1/2) = floor((2v + 2^s) / 2^(s+1)) for s > 0,
// v * 2^-s (saturated to int64) for s <= 0. Valid for s <= 120.
int64_t ref_rhu_shift(int64_t v, int s) {
  if (s > 0) return clamp64(floor_div(2 * static_cast<i128>(v) + pow2(s), pow2(s + 1)));
  if (v == 0) return 0;
  if (-s >= 64) return v > 0 ? kI64Max : kI64Min;
  return clamp64(static_cast<i128>(v) * pow2(-s));
}

// ---- compile-time spot checks (the primitives are constexpr) ----
static_assert(rhu_shift(5, 1) == 3, "2.5 -> 3");
static_assert(rhu_shift(-5, 1) == -2, "-2.5 -> -2");
static_assert(rhu_shift(-3, 1) == -1, "-1.5 -> -1");
static_assert(rhu_shift(-256, 3) == -32, "exact");
static_assert(sat8(1000) == 127 && sat8(-1000) == -128, "sat8");

TEST(RhuShift, ExhaustiveInt16AllShifts) {
  int64_t mismatches = 0;
  for (int s = -20; s <= 70; ++s) {
    for (int32_t v = -32768; v <= 32767; ++v) {
      const int64_t got = rhu_shift(v, s);
      const int64_t want = ref_rhu_shift(v, s);
      if (got != want) {
        if (++mismatches <= 10) ADD_FAILURE() << "rhu_shift(" << v << ", " << s << ") = " << got << ", want " << want;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(RhuShift, Ties) {
  // x.5 goes up (towards +inf), for both signs.
  EXPECT_EQ(rhu_shift(5, 1), 3);     // 2.5
  EXPECT_EQ(rhu_shift(-5, 1), -2);   // -2.5
  EXPECT_EQ(rhu_shift(-3, 1), -1);   // -1.5
  EXPECT_EQ(rhu_shift(-1, 1), 0);    // -0.5
  EXPECT_EQ(rhu_shift(1, 1), 1);     // 0.5
  EXPECT_EQ(rhu_shift(3, 1), 2);     // 1.5
  EXPECT_EQ(rhu_shift(-2, 2), 0);    // -0.5
  EXPECT_EQ(rhu_shift(-6, 2), -1);   // -1.5
  EXPECT_EQ(rhu_shift(-10, 2), -2);  // -2.5
  // -25.6 -> -26 and neighbours: -256/10 is not a power of two; use /8 and /16.
  EXPECT_EQ(rhu_shift(-205, 3), -26);  // -25.625
  EXPECT_EQ(rhu_shift(-204, 3), -25);  // -25.5 (tie, up)
  EXPECT_EQ(rhu_shift(-203, 3), -25);  // -25.375
  EXPECT_EQ(rhu_shift(-410, 4), -26);  // -25.625
  EXPECT_EQ(rhu_shift(204, 3), 26);    // 25.5 (tie, up)
  EXPECT_EQ(rhu_shift(203, 3), 25);    // 25.375
  // Just below / above a tie.
  EXPECT_EQ(rhu_shift((int64_t{1} << 20) - 1, 21), 0);  // 0.5 - 2^-21
  EXPECT_EQ(rhu_shift(int64_t{1} << 20, 21), 1);        // 0.5
  EXPECT_EQ(rhu_shift(-(int64_t{1} << 20), 21), 0);     // -0.5
  EXPECT_EQ(rhu_shift(-(int64_t{1} << 20) - 1, 21), -1);  // -0.5 - 2^-21
}

TEST(RhuShift, ZeroShiftIsIdentity) {
  for (int64_t v : {kI64Min, kI64Min + 1, int64_t{-1}, int64_t{0}, int64_t{1}, kI64Max - 1, kI64Max,
                    int64_t{kI32Min}, int64_t{kI32Max}, int64_t{123456789}})
    EXPECT_EQ(rhu_shift(v, 0), v);
}

TEST(RhuShift, NegativeShiftIsExactOrSaturated) {
  EXPECT_EQ(rhu_shift(3, -4), 48);
  EXPECT_EQ(rhu_shift(-128, -8), -32768);
  EXPECT_EQ(rhu_shift(1, -62), int64_t{1} << 62);
  EXPECT_EQ(rhu_shift(-1, -63), kI64Min);  // exactly representable
  EXPECT_EQ(rhu_shift(1, -63), kI64Max);   // 2^63 saturates
  EXPECT_EQ(rhu_shift(-2, -62), kI64Min);  // exactly -2^63
  EXPECT_EQ(rhu_shift(-3, -62), kI64Min);
  EXPECT_EQ(rhu_shift(2, -62), kI64Max);
  EXPECT_EQ(rhu_shift(kI32Max, -32), int64_t{kI32Max} << 32);
  EXPECT_EQ(rhu_shift(kI32Min, -32), kI64Min);
  EXPECT_EQ(rhu_shift(kI32Min, -33), kI64Min);
  EXPECT_EQ(rhu_shift(kI32Max, -33), kI64Max);
  EXPECT_EQ(rhu_shift(0, -100), 0);
  EXPECT_EQ(rhu_shift(1, -100), kI64Max);
  EXPECT_EQ(rhu_shift(-1, -100), kI64Min);
}

TEST(RhuShift, Int32AndInt64Limits) {
  const int64_t values[] = {kI64Min, kI64Min + 1, kI64Max, kI64Max - 1, int64_t{kI32Min}, int64_t{kI32Min} + 1,
                            int64_t{kI32Max}, int64_t{kI32Max} - 1, -1, 0, 1,
                            int64_t{kI32Max} + 1, int64_t{kI32Min} - 1};
  for (int64_t v : values)
    for (int s = -70; s <= 120; ++s) EXPECT_EQ(rhu_shift(v, s), ref_rhu_shift(v, s)) << "v=" << v << " s=" << s;
  // Spelled out for INT64 limits.
  EXPECT_EQ(rhu_shift(kI64Max, 1), int64_t{1} << 62);  // (2^63-1)/2 = 2^62 - 0.5 -> 2^62
  EXPECT_EQ(rhu_shift(kI64Min, 1), -(int64_t{1} << 62));
  EXPECT_EQ(rhu_shift(kI64Max, 62), 2);                 // 1.99999... -> 2
  EXPECT_EQ(rhu_shift(kI64Min, 62), -2);
  EXPECT_EQ(rhu_shift(kI64Max, 63), 1);                 // 0.99999... -> 1
  EXPECT_EQ(rhu_shift(kI64Min, 63), -1);                // -1
  EXPECT_EQ(rhu_shift(kI64Max, 64), 0);                 // 0.49999...
  EXPECT_EQ(rhu_shift(kI64Min, 64), 0);                 // -0.5 rounds up
  EXPECT_EQ(rhu_shift(kI64Max, 100), 0);
  EXPECT_EQ(rhu_shift(kI64Min, 100), 0);
  EXPECT_EQ(rhu_shift(kI64Min, std::numeric_limits<int>::max()), 0);
  // INT32 limits.
  EXPECT_EQ(rhu_shift(kI32Max, 31), 1);
  EXPECT_EQ(rhu_shift(kI32Min, 31), -1);
  EXPECT_EQ(rhu_shift(kI32Min, 32), 0);
  EXPECT_EQ(rhu_shift(kI32Max, 32), 0);
  EXPECT_EQ(rhu_shift(kI32Min, 30), -2);
  EXPECT_EQ(rhu_shift(kI32Max, 30), 2);
}

TEST(RhuShift, RandomInt64) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int> shift_dist(-70, 120);
  std::uniform_int_distribution<int> width_dist(1, 64);
  for (int i = 0; i < 200000; ++i) {
    const int width = width_dist(rng);  // vary the magnitude
    int64_t v = static_cast<int64_t>(rng());
    if (width < 64) v >>= (64 - width);
    const int s = shift_dist(rng);
    ASSERT_EQ(rhu_shift(v, s), ref_rhu_shift(v, s)) << "v=" << v << " s=" << s;
  }
}

TEST(ShlSat64, Bounds) {
  for (int n = 0; n <= 130; ++n) {
    for (int64_t v : {kI64Min, kI64Min + 1, kI64Max, kI64Max - 1, int64_t{-1}, int64_t{0}, int64_t{1},
                      int64_t{3}, int64_t{-3}, int64_t{kI32Max}, int64_t{kI32Min}}) {
      const int64_t want = v == 0 ? 0 : (n >= 64 ? (v > 0 ? kI64Max : kI64Min) : clamp64(static_cast<i128>(v) * pow2(n)));
      EXPECT_EQ(shl_sat64(v, n), want) << "v=" << v << " n=" << n;
    }
  }
  // Largest values that still fit, and one beyond.
  for (int n = 1; n <= 62; ++n) {
    const int64_t hi = kI64Max >> n;
    const int64_t lo = -(int64_t{1} << (63 - n));
    EXPECT_EQ(shl_sat64(hi, n), static_cast<int64_t>(static_cast<i128>(hi) * pow2(n)));
    EXPECT_EQ(shl_sat64(hi + 1, n), kI64Max);
    EXPECT_EQ(shl_sat64(lo, n), kI64Min);  // exactly -2^63
    EXPECT_EQ(shl_sat64(lo - 1, n), kI64Min);
    EXPECT_EQ(shl_sat64(lo + 1, n), kI64Min + (int64_t{1} << n));
  }
}

TEST(Sat, BoundaryValuesAllWidths) {
  std::vector<int> widths;
  for (int b = 2; b <= 32; ++b) widths.push_back(b);
  widths.push_back(64);
  for (int b : widths) {
    const i128 hi128 = pow2(b - 1) - 1;
    const i128 lo128 = -pow2(b - 1);
    const int64_t hi = static_cast<int64_t>(hi128), lo = static_cast<int64_t>(lo128);
    EXPECT_EQ(bound(b), hi) << b;
    EXPECT_EQ(lowest(b), lo) << b;
    EXPECT_EQ(sat(hi, b), hi) << b;
    EXPECT_EQ(sat(lo, b), lo) << b;
    EXPECT_EQ(sat(hi - 1, b), hi - 1) << b;
    EXPECT_EQ(sat(lo + 1, b), lo + 1) << b;
    EXPECT_EQ(sat(0, b), 0) << b;
    EXPECT_EQ(sat(-1, b), -1) << b;
    EXPECT_EQ(sat(1, b), 1) << b;
    EXPECT_EQ(sat(kI64Max, b), hi) << b;
    EXPECT_EQ(sat(kI64Min, b), lo) << b;
    if (b < 64) {
      EXPECT_EQ(sat(hi + 1, b), hi) << b;
      EXPECT_EQ(sat(lo - 1, b), lo) << b;
      EXPECT_EQ(sat(hi * 2, b), hi) << b;
      EXPECT_EQ(sat(lo * 2, b), lo) << b;
    }
  }
  EXPECT_EQ(bound(1), 0);
  EXPECT_EQ(lowest(1), -1);
}

TEST(Sat, Sat8Sat16Sat32) {
  const int64_t probes[] = {kI64Min, int64_t{kI32Min} - 1, kI32Min, -32769, -32768, -32767, -129, -128, -127, -1, 0,
                            1, 126, 127, 128, 32766, 32767, 32768, kI32Max, int64_t{kI32Max} + 1, kI64Max};
  for (int64_t v : probes) {
    const int64_t w8 = v < -128 ? -128 : (v > 127 ? 127 : v);
    const int64_t w16 = v < -32768 ? -32768 : (v > 32767 ? 32767 : v);
    const int64_t w32 = v < kI32Min ? kI32Min : (v > kI32Max ? kI32Max : v);
    EXPECT_EQ(sat8(v), w8) << v;
    EXPECT_EQ(sat16(v), w16) << v;
    EXPECT_EQ(sat32(v), w32) << v;
  }
}

// Reference rhu_div from the defining inequality: q*2den <= 2num + den < (q+1)*2den,
// starting from a long double estimate.
int64_t ref_rhu_div(int64_t num, int64_t den) {
  const long double est = static_cast<long double>(num) / static_cast<long double>(den) + 0.5L;
  i128 q = static_cast<i128>(std::floor(est));
  const i128 a = 2 * static_cast<i128>(num) + den, b = 2 * static_cast<i128>(den);
  while (q * b > a) --q;
  while ((q + 1) * b <= a) ++q;
  return static_cast<int64_t>(q);
}

TEST(RhuDiv, SmallRangeExhaustive) {
  int64_t mismatches = 0;
  for (int64_t den = 1; den <= 50; ++den)
    for (int64_t num = -2000; num <= 2000; ++num)
      if (rhu_div(num, den) != ref_rhu_div(num, den) && ++mismatches <= 10)
        ADD_FAILURE() << "rhu_div(" << num << ", " << den << ") = " << rhu_div(num, den) << ", want "
                      << ref_rhu_div(num, den);
  EXPECT_EQ(mismatches, 0);
  // Spot values (ties go up).
  EXPECT_EQ(rhu_div(5, 2), 3);
  EXPECT_EQ(rhu_div(-5, 2), -2);
  EXPECT_EQ(rhu_div(-3, 2), -1);
  EXPECT_EQ(rhu_div(-10, 4), -2);
  EXPECT_EQ(rhu_div(-128 * 9, 9), -128);
  EXPECT_EQ(rhu_div(508, 9), 56);
  EXPECT_EQ(rhu_div(-508, 9), -56);
  EXPECT_EQ(rhu_div(-4, 9), 0);  // -0.444
  EXPECT_EQ(rhu_div(-5, 9), -1);  // -0.556
}

TEST(RhuDiv, LargeValues) {
  // The whole int64 numerator range and any den > 0 (2*num + den would overflow int64 here).
  const int64_t nums[] = {kI64Max, kI64Min, kI64Max - 1, kI64Min + 1, (int64_t{1} << 62) - 1, -(int64_t{1} << 62),
                          int64_t{kI32Max}, int64_t{kI32Min}, int64_t{1} << 40, -(int64_t{1} << 40) - 1, 0, 1, -1};
  const int64_t dens[] = {1, 2, 3, 7, 9, 25, 49, 1000003, int64_t{kI32Max}, int64_t{1} << 40, (int64_t{1} << 61) - 1,
                          int64_t{1} << 62, kI64Max - 1, kI64Max};
  for (int64_t n : nums)
    for (int64_t d : dens) EXPECT_EQ(rhu_div(n, d), ref_rhu_div(n, d)) << n << "/" << d;
  EXPECT_EQ(rhu_div(kI64Max, 2), int64_t{1} << 62);     // 2^62 - 0.5 -> 2^62
  EXPECT_EQ(rhu_div(kI64Min, 2), -(int64_t{1} << 62));
  EXPECT_EQ(rhu_div(kI64Min, kI64Max), -1);              // -1.0000000000000000001
  EXPECT_EQ(rhu_div(kI64Max, kI64Max), 1);
  const int64_t half = (int64_t{1} << 62) - 1;           // (kI64Max - 1) / 2
  EXPECT_EQ(rhu_div(-half, kI64Max - 1), 0);             // exactly -1/2 rounds up
  EXPECT_EQ(rhu_div(-half - 1, kI64Max - 1), -1);
  EXPECT_EQ(rhu_div(half, kI64Max - 1), 1);              // exactly +1/2 rounds up
  EXPECT_EQ(rhu_div(half - 1, kI64Max - 1), 0);
  EXPECT_EQ(rhu_div(-(kI64Max / 2) - 1, kI64Max), -1);   // just beyond -1/2
  std::mt19937_64 rng(777);
  for (int i = 0; i < 100000; ++i) {
    const int64_t n = static_cast<int64_t>(rng()) >> (rng() % 63);
    int64_t d = static_cast<int64_t>(rng() >> (1 + rng() % 63));
    if (d == 0) d = 1;
    ASSERT_EQ(rhu_div(n, d), ref_rhu_div(n, d)) << n << "/" << d;
  }
}

// Reference two's-complement wrap: v mod 2^32 mapped to [-2^31, 2^31).
int32_t ref_wrap32(i128 v) {
  i128 r = v % pow2(32);
  if (r < 0) r += pow2(32);
  if (r >= pow2(31)) r -= pow2(32);
  return static_cast<int32_t>(r);
}

TEST(Wrap, AtInt32Limits) {
  EXPECT_EQ(wrap_add32(kI32Max, 1), kI32Min);
  EXPECT_EQ(wrap_add32(kI32Min, -1), kI32Max);
  EXPECT_EQ(wrap_add32(kI32Max, kI32Max), -2);
  EXPECT_EQ(wrap_add32(kI32Min, kI32Min), 0);
  EXPECT_EQ(wrap_add32(kI32Max, kI32Min), -1);
  EXPECT_EQ(wrap_add32(16384, kI32Max - 16383), kI32Min);
  EXPECT_EQ(wrap32(int64_t{1} << 31), kI32Min);
  EXPECT_EQ(wrap32(-(int64_t{1} << 31) - 1), kI32Max);
  EXPECT_EQ(wrap32(int64_t{1} << 32), 0);
  EXPECT_EQ(wrap32((int64_t{1} << 32) - 1), -1);
  EXPECT_EQ(wrap32(kI64Max), -1);
  EXPECT_EQ(wrap32(kI64Min), 0);
  EXPECT_EQ(wrap32(kI32Max), kI32Max);
  EXPECT_EQ(wrap32(kI32Min), kI32Min);
  EXPECT_EQ(wrap32(int64_t{131073} * 16384), -2147467264);
  std::mt19937_64 rng(99);
  for (int i = 0; i < 100000; ++i) {
    const int64_t v = static_cast<int64_t>(rng()) >> (rng() % 40);
    ASSERT_EQ(wrap32(v), ref_wrap32(v)) << v;
    const int32_t a = static_cast<int32_t>(rng()), b = static_cast<int32_t>(rng());
    ASSERT_EQ(wrap_add32(a, b), ref_wrap32(static_cast<i128>(a) + b)) << a << " + " << b;
  }
}

}  // namespace
