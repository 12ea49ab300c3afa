// Tests of the op-family numerics: binary.h (iqmul, iqdiv, binary_int8), reduce.h (iqsum_row,
// iqvar_row, reduce_row_int8) and the iqclamp / iqcat_rescale helpers of elementwise.h.
//
// Expected values come from linger_test::indep (reference.h): the contract's exact rational value
// in __int128, rounded half up and saturated by a bisection over the 256 int8 codes; iqVar by the
// two-pass formula sum (n x_i - S1)^2 / (n^2 m). Nothing here calls the code under test to make
// an expected value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "linger/numerics/binary.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/reduce.h"
#include "linger/op_ids.h"
#include "reference.h"

namespace {

namespace nm = linger::numerics;
namespace ref = linger_test::indep;
using linger::OpId;
using linger_test::kI32Max;
using linger_test::kI32Min;

std::mt19937& rng() {
  static std::mt19937 r(20261128);
  return r;
}
#include "random_values.inc"  // NOLINT: needs rng() above

// ================================================================= reference self-checks
TEST(FamilyReference, RoundSat8) {
  EXPECT_EQ(ref::round_sat8(5, 2), 3);     // 2.5 -> 3
  EXPECT_EQ(ref::round_sat8(-5, 2), -2);   // -2.5 -> -2
  EXPECT_EQ(ref::round_sat8(-128, 5), -26);  // -25.6 -> -26
  EXPECT_EQ(ref::round_sat8(255, 2), 127);   // 127.5 saturates
  EXPECT_EQ(ref::round_sat8(-257, 2), -128); // -128.5 -> -128 (rounds up onto the bound)
  EXPECT_EQ(ref::round_sat8(-259, 2), -128); // -129.5 -> -129 -> saturates
  EXPECT_EQ(ref::round_sat8(7, -2), -3);     // -3.5 -> -3
  EXPECT_EQ(ref::iqdiv(1, 3, 0), 0);
  EXPECT_EQ(ref::iqdiv(3, 2, 0), 2);
  EXPECT_EQ(ref::iqdiv(-3, 2, 0), -1);
  EXPECT_EQ(ref::iqvar({1, 2, 3, 4}, 0, 0, true), 2);    // 5/3 -> 2
  EXPECT_EQ(ref::iqvar({1, 2, 3, 4}, 0, 0, false), 1);   // 5/4 -> 1
  EXPECT_EQ(ref::iqvar({1, 2, 3, 4}, 0, 2, false), 5);   // 5/4 * 4
}

// ================================================================= iqMul
TEST(Families, IqMulAllPairsAtSeveralShifts) {
  for (int shift : {-9, -1, 0, 1, 3, 7, 8, 13, 14, 15, 20, 63, 64}) {
    int bad = 0;
    for (int a = -128; a <= 127; ++a)
      for (int b = -128; b <= 127; ++b) {
        const int got = nm::iqmul(static_cast<int8_t>(a), static_cast<int8_t>(b), shift);
        const int want = ref::iqmul(a, b, shift);
        if (got != want && bad++ < 5) ADD_FAILURE() << "iqmul(" << a << ", " << b << ", " << shift << ") = " << got << ", want " << want;
      }
    ASSERT_EQ(bad, 0) << "shift " << shift;
  }
}

TEST(Families, IqMulEveryShiftAndSaturation) {
  const int vals[] = {-128, -127, -65, -64, -1, 0, 1, 2, 3, 63, 64, 126, 127};
  for (int shift = -70; shift <= 80; ++shift)
    for (int a : vals)
      for (int b : vals) ASSERT_EQ(nm::iqmul(static_cast<int8_t>(a), static_cast<int8_t>(b), shift), ref::iqmul(a, b, shift)) << a << " " << b << " " << shift;
  EXPECT_EQ(nm::iqmul(-128, -128, 0), 127);    // 16384 saturates
  EXPECT_EQ(nm::iqmul(-128, 127, 0), -128);
  EXPECT_EQ(nm::iqmul(-128, -128, 7), 127);    // 128 saturates
  EXPECT_EQ(nm::iqmul(-128, 127, 7), -127);    // -127
  EXPECT_EQ(nm::iqmul(-128, -128, 8), 64);
  EXPECT_EQ(nm::iqmul(3, 1, 1), 2);            // 1.5 -> 2
  EXPECT_EQ(nm::iqmul(-3, 1, 1), -1);          // -1.5 -> -1
  EXPECT_EQ(nm::iqmul(-1, 1, 1), 0);           // -0.5 -> 0
  EXPECT_EQ(nm::iqmul(1, 1, -6), 64);
  EXPECT_EQ(nm::iqmul(1, 1, -7), 127);         // 128 saturates
  EXPECT_EQ(nm::iqmul(-1, 1, -7), -128);
  EXPECT_EQ(nm::iqmul(-1, 1, -60), -128);
}

// ================================================================= iqDiv
TEST(Families, IqDivAllPairsAtSeveralShifts) {
  for (int s : {-45, -20, -8, -7, -1, 0, 1, 5, 7, 8, 14, 20, 45}) {
    int bad = 0;
    for (int a = -128; a <= 127; ++a)
      for (int b = -128; b <= 127; ++b) {
        const int got = nm::iqdiv(static_cast<int8_t>(a), static_cast<int8_t>(b), s);
        const int want = ref::iqdiv(a, b, s);
        if (got != want && bad++ < 5) ADD_FAILURE() << "iqdiv(" << a << ", " << b << ", " << s << ") = " << got << ", want " << want;
      }
    ASSERT_EQ(bad, 0) << "s " << s;
  }
}

TEST(Families, IqDivEveryShiftFromMinus45To45) {
  const int vals[] = {-128, -127, -100, -64, -3, -2, -1, 0, 1, 2, 3, 5, 63, 64, 100, 126, 127};
  for (int s = -45; s <= 45; ++s) {
    for (int a : vals)
      for (int b : vals) ASSERT_EQ(nm::iqdiv(static_cast<int8_t>(a), static_cast<int8_t>(b), s), ref::iqdiv(a, b, s)) << a << "/" << b << " s=" << s;
    for (int it = 0; it < 2000; ++it) {
      const int a = rand_i8(), b = rand_i8();
      ASSERT_EQ(nm::iqdiv(static_cast<int8_t>(a), static_cast<int8_t>(b), s), ref::iqdiv(a, b, s)) << a << "/" << b << " s=" << s;
    }
  }
}

TEST(Families, IqDivSpecialCases) {
  for (int s : {-45, -3, 0, 3, 45}) {
    EXPECT_EQ(nm::iqdiv(0, 0, s), 0) << s;        // 0/0 = 0
    EXPECT_EQ(nm::iqdiv(1, 0, s), 127) << s;      // the saturated limit
    EXPECT_EQ(nm::iqdiv(127, 0, s), 127) << s;
    EXPECT_EQ(nm::iqdiv(-1, 0, s), -128) << s;
    EXPECT_EQ(nm::iqdiv(-128, 0, s), -128) << s;
    EXPECT_EQ(nm::iqdiv(0, -128, s), 0) << s;
    EXPECT_EQ(nm::iqdiv(0, 5, s), 0) << s;
  }
  // negative divisors: signs and the half-up tie direction
  EXPECT_EQ(nm::iqdiv(3, -2, 0), -1);    // -1.5 -> -1
  EXPECT_EQ(nm::iqdiv(-3, -2, 0), 2);    // 1.5 -> 2
  EXPECT_EQ(nm::iqdiv(5, -2, 0), -2);    // -2.5 -> -2
  EXPECT_EQ(nm::iqdiv(-5, 2, 0), -2);
  EXPECT_EQ(nm::iqdiv(1, -2, 0), 0);     // -0.5 -> 0
  EXPECT_EQ(nm::iqdiv(-1, -2, 0), 1);    // 0.5 -> 1
  EXPECT_EQ(nm::iqdiv(-128, -1, 0), 127);  // 128 saturates
  EXPECT_EQ(nm::iqdiv(-128, 1, 0), -128);
  EXPECT_EQ(nm::iqdiv(127, -1, 0), -127);
  EXPECT_EQ(nm::iqdiv(1, 127, 7), 1);    // 128/127
  EXPECT_EQ(nm::iqdiv(1, 127, 6), 1);    // 64/127 = 0.504 -> 1
  EXPECT_EQ(nm::iqdiv(1, -127, 6), -1);  // -0.504 -> -1
  EXPECT_EQ(nm::iqdiv(1, 128 - 256, 6), 0);  // 64 / -128 = -0.5 -> 0
  EXPECT_EQ(nm::iqdiv(-1, -128, 6), 1);      // 0.5 -> 1
  // the largest shifts: tiny or huge quotients
  EXPECT_EQ(nm::iqdiv(1, -128, 45), -128);
  EXPECT_EQ(nm::iqdiv(-128, 1, -45), 0);
  EXPECT_EQ(nm::iqdiv(127, 1, -7), 1);   // 127/128 -> 1
  EXPECT_EQ(nm::iqdiv(-128, 1, -8), 0);  // -0.5 -> 0
  EXPECT_EQ(nm::iqdiv(-128, 1, -7), -1);
}

// ================================================================= iqCat / iqClamp
TEST(Families, IqCatRescaleAllCodesAllShifts) {
  for (int shift = -70; shift <= 80; ++shift)
    for (int a = -128; a <= 127; ++a)
      ASSERT_EQ(nm::iqcat_rescale(static_cast<int8_t>(a), shift), ref::iqcat(a, shift)) << a << " " << shift;
  EXPECT_EQ(nm::iqcat_rescale(-128, -1), -128);
  EXPECT_EQ(nm::iqcat_rescale(64, -1), 127);
  EXPECT_EQ(nm::iqcat_rescale(-65, -1), -128);
  EXPECT_EQ(nm::iqcat_rescale(-3, 1), -1);
  EXPECT_EQ(nm::iqcat_rescale(3, 1), 2);
}

TEST(Families, IqClampAllCodesAllBounds) {
  for (int lo = -128; lo <= 127; ++lo)
    for (int hi = lo; hi <= 127; ++hi)
      for (int x = -128; x <= 127; ++x)
        if (nm::iqclamp(static_cast<int8_t>(x), lo, hi) != ref::iqclamp(x, lo, hi))
          FAIL() << "iqclamp(" << x << ", " << lo << ", " << hi << ")";
  EXPECT_EQ(nm::iqclamp(-128, -128, 127), -128);
  EXPECT_EQ(nm::iqclamp(127, 5, 5), 5);
  EXPECT_EQ(nm::iqclamp(-128, -2, 4), -2);
}

// ================================================================= iqSum
TEST(Families, IqSumRows) {
  for (int it = 0; it < 3000; ++it) {
    const int n = rand_int(1, it < 2500 ? 40 : 3000);
    const int qx = rand_int(-8, 16), qo = qx + rand_int(-20, 70) - 40;
    const std::vector<int8_t> x = rand_vec(static_cast<size_t>(n));
    ASSERT_EQ(nm::iqsum_row(x.data(), n, 1, qx, qo), ref::iqsum(x, qx, qo)) << "n=" << n << " qx=" << qx << " qo=" << qo;
  }
  // exact sums with ties, saturation
  const std::vector<int8_t> t = {1, 2};  // 3 at Q1 -> Q0: 1.5 -> 2
  EXPECT_EQ(nm::iqsum_row(t.data(), 2, 1, 1, 0), 2);
  const std::vector<int8_t> u = {-1, -2};  // -1.5 -> -1
  EXPECT_EQ(nm::iqsum_row(u.data(), 2, 1, 1, 0), -1);
  const std::vector<int8_t> big(1000, 127), low(1000, -128);
  EXPECT_EQ(nm::iqsum_row(big.data(), 1000, 1, 0, 0), 127);
  EXPECT_EQ(nm::iqsum_row(low.data(), 1000, 1, 0, 0), -128);
  EXPECT_EQ(nm::iqsum_row(low.data(), 1000, 1, 10, 0), -125);  // -128000 / 1024 = -125
}

TEST(Families, IqSumLargeRowsAndStrides) {
  const int64_t n = nm::kMaxReduceCount;
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::vector<int8_t> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      x[static_cast<size_t>(i)] = pattern == 0 ? int8_t{127} : pattern == 1 ? int8_t{-128}
                                : pattern == 2 ? static_cast<int8_t>(i % 2 ? 127 : -128) : rand_i8();
    for (int d : {-5, 0, 7, 20, 27, 28, 40}) {
      const int qx = 3, qo = qx - d;
      ASSERT_EQ(nm::iqsum_row(x.data(), n, 1, qx, qo), ref::iqsum(x, qx, qo)) << pattern << " " << d;
    }
  }
  // a strided row and a negative stride read the same elements
  const std::vector<int8_t> x = rand_vec(300);
  std::vector<int8_t> picked;
  for (size_t i = 0; i < 300; i += 3) picked.push_back(x[i]);
  EXPECT_EQ(nm::iqsum_row(x.data(), 100, 3, 2, -1), ref::iqsum(picked, 2, -1));
  EXPECT_EQ(nm::iqsum_row(x.data() + 297, 100, -3, 2, -1), ref::iqsum(picked, 2, -1));
}

// ================================================================= iqVar
TEST(Families, IqVarRowsUnbiasedAndBiased) {
  for (int it = 0; it < 3000; ++it) {
    const int n = rand_int(1, it < 2500 ? 30 : 2000);
    const int qx = rand_int(-10, 12), qo = rand_int(-30, 40);
    const bool unbiased = it % 2 == 0;
    std::vector<int8_t> x = rand_vec(static_cast<size_t>(n));
    if (it % 7 == 0) {  // clustered values: small variances near the rounding boundaries
      const int c = rand_int(-120, 120);
      for (auto& v : x) v = static_cast<int8_t>(c + rand_int(-3, 3));
    }
    ASSERT_EQ(nm::iqvar_row(x.data(), n, 1, qx, qo, unbiased), ref::iqvar(x, qx, qo, unbiased))
        << "n=" << n << " qx=" << qx << " qo=" << qo << " unbiased=" << unbiased;
  }
}

TEST(Families, IqVarSmallRowsEveryExponentDifference) {
  const std::vector<std::vector<int8_t>> rows = {
      {5}, {-128}, {127, -128}, {-128, 127, -128}, {1, 2}, {1, 2, 3, 4}, {0, 0, 0, 1}, {7, 7, 7},
      {-128, -128, 127, 127}, {3, -3, 3, -3, 3}};
  for (const auto& x : rows)
    for (int t = -80; t <= 80; ++t)  // t = qo - 2 qx
      for (bool unbiased : {true, false}) {
        const int qx = (t % 2 == 0) ? -3 : 4, qo = t + 2 * qx;
        ASSERT_EQ(nm::iqvar_row(x.data(), static_cast<int64_t>(x.size()), 1, qx, qo, unbiased),
                  ref::iqvar(x, qx, qo, unbiased))
            << "n=" << x.size() << " t=" << t << " unbiased=" << unbiased;
      }
  // n = 1: unbiased gives 0 (m = 0), biased gives 0 (no spread)
  const int8_t one[1] = {-128};
  EXPECT_EQ(nm::iqvar_row(one, 1, 1, 0, 0, true), 0);
  EXPECT_EQ(nm::iqvar_row(one, 1, 1, 0, 0, false), 0);
  // {-128, 127}: S2 - S1^2/n = 32512.5; unbiased /1, biased /2
  const int8_t two[2] = {-128, 127};
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 0, -8, true), 127);   // 32512.5 / 256 = 127.002
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 0, -9, true), 64);    // 63.5 -> 64 (tie rounds up)
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 0, -8, false), 64);   // 16256.25 / 256 = 63.5 -> 64
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 0, -7, false), 127);  // 127.0
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 0, 0, true), 127);    // saturates
  EXPECT_EQ(nm::iqvar_row(two, 2, 1, 4, -8, true), 0);     // 32512.5 * 2^-16 = 0.496 -> 0
}

TEST(Families, IqVarLargeRows) {
  const int64_t n = nm::kMaxReduceCount;
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::vector<int8_t> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      x[static_cast<size_t>(i)] = pattern == 0 ? int8_t{-128}
                                : pattern == 1 ? static_cast<int8_t>(i % 2 ? 127 : -128)
                                : pattern == 2 ? static_cast<int8_t>(i == 12345 ? 127 : -128)
                                               : rand_i8();
    for (int t : {-40, -24, -15, -14, -8, 0, 3, 20, 40})
      for (bool unbiased : {true, false}) {
        const int qx = 2, qo = t + 2 * qx;
        ASSERT_EQ(nm::iqvar_row(x.data(), n, 1, qx, qo, unbiased), ref::iqvar(x, qx, qo, unbiased))
            << "pattern " << pattern << " t=" << t << " unbiased=" << unbiased;
      }
  }
}

// ================================================================= dispatch
TEST(Families, BinaryDispatchWithStrides) {
  for (int it = 0; it < 400; ++it) {
    const OpId op = it % 3 == 0 ? OpId::iqAdd : (it % 3 == 1 ? OpId::iqMul : OpId::iqDiv);
    const int qa = rand_int(-4, 10), qb = rand_int(-4, 10), qo = rand_int(-4, 10);
    const nm::BinaryParams p = nm::BinaryParams::make(op, qa, qb, qo);
    const int n = rand_int(1, 50);
    const int64_t da = rand_int(0, 2), db = rand_int(0, 2);
    const std::vector<int8_t> a = rand_vec(static_cast<size_t>(n * 2 + 1)), b = rand_vec(static_cast<size_t>(n * 2 + 1));
    std::vector<int8_t> y(static_cast<size_t>(n) + 1, 99);
    nm::binary_int8(p, a.data(), da, b.data(), db, y.data(), n);
    for (int i = 0; i < n; ++i) {
      const int av = a[static_cast<size_t>(i * da)], bv = b[static_cast<size_t>(i * db)];
      const int want = op == OpId::iqMul ? ref::iqmul(av, bv, qa + qb - qo)
                       : op == OpId::iqDiv ? ref::iqdiv(av, bv, qo - qa + qb)
                                           : ref::iqadd(av, bv, qa - qo, qb - qo);
      ASSERT_EQ(y[static_cast<size_t>(i)], want) << linger::op_info(op).name << " i=" << i << " da=" << da << " db=" << db;
    }
    EXPECT_EQ(y[static_cast<size_t>(n)], 99);  // no write past n
  }
  EXPECT_TRUE(nm::is_binary_op(OpId::iqMul));
  EXPECT_TRUE(nm::is_binary_op(OpId::iqDiv));
  EXPECT_TRUE(nm::is_binary_op(OpId::iqAdd));
  EXPECT_FALSE(nm::is_binary_op(OpId::iqSum));
}

TEST(Families, ReduceDispatchWithStrides) {
  for (int it = 0; it < 400; ++it) {
    nm::ReduceParams p;
    p.op = it % 2 ? OpId::iqVar : OpId::iqSum;
    p.qx = rand_int(-4, 8);
    p.qo = rand_int(-8, 12);
    p.unbiased = rand_int(0, 1) == 1;
    const int n = rand_int(1, 60), stride = rand_int(1, 4);
    const std::vector<int8_t> raw = rand_vec(static_cast<size_t>(n * stride));
    std::vector<int8_t> row;
    for (int i = 0; i < n; ++i) row.push_back(raw[static_cast<size_t>(i * stride)]);
    const int want = p.op == OpId::iqVar ? ref::iqvar(row, p.qx, p.qo, p.unbiased) : ref::iqsum(row, p.qx, p.qo);
    ASSERT_EQ(nm::reduce_row_int8(p, raw.data(), n, stride), want) << linger::op_info(p.op).name << " n=" << n;
  }
  EXPECT_TRUE(nm::is_reduce_op(OpId::iqSum));
  EXPECT_TRUE(nm::is_reduce_op(OpId::iqVar));
  EXPECT_FALSE(nm::is_reduce_op(OpId::iqMul));
}

}  // namespace
