// TableInt entries (numerics/table.h) against the exact rationals of reference.h, for every
// int8 code and every exponent pair of the valid window [-16, 24]^2: the exact cases
// (hardswish, hardsigmoid, leaky_relu/prelu) must agree everywhere, including saturation
// and the int64 range of the intermediates at the window's corners.
#include <gtest/gtest.h>

#include <cstdint>

#include "linger/numerics/table.h"
#include "reference.h"

namespace ln = linger::numerics;
namespace ref = linger_test::indep;

TEST(TableInt, ExactFunctionsOverTheWholeExponentWindow) {
  const int32_t alphas[] = {0, 655, 16384, -32768, 114688, -2147483647 - 1, 2147483647};
  for (int qx = ln::kTableMinExponent; qx <= ln::kTableMaxExponent; ++qx)
    for (int qo = ln::kTableMinExponent; qo <= ln::kTableMaxExponent; ++qo) {
      ASSERT_TRUE(ln::table_exponents_ok(qx, qo));
      for (int c = -128; c < 128; ++c) {
        ASSERT_EQ(ln::table_entry(ln::TableFn::kHardsigmoid, c, qx, qo, 0), ref::hardsigmoid(c, qx, qo))
            << "hardsigmoid c=" << c << " qx=" << qx << " qo=" << qo;
        ASSERT_EQ(ln::table_entry(ln::TableFn::kHardswish, c, qx, qo, 0), ref::hardswish(c, qx, qo))
            << "hardswish c=" << c << " qx=" << qx << " qo=" << qo;
        for (int32_t a : alphas) {
          ASSERT_EQ(ln::table_entry(ln::TableFn::kPrelu, c, qx, qo, a), ref::leaky(c, qx, qo, a))
              << "prelu c=" << c << " qx=" << qx << " qo=" << qo << " alpha_q16=" << a;
          ASSERT_EQ(ln::table_entry(ln::TableFn::kLeakyRelu, c, qx, qo, a), ref::leaky(c, qx, qo, a));
        }
      }
    }
  EXPECT_FALSE(ln::table_exponents_ok(25, 0));
  EXPECT_FALSE(ln::table_exponents_ok(0, -17));
}

TEST(TableInt, SpotValues) {
  // hardsigmoid(0) = 1/2 -> 64 at Q7; hardswish(3) = 3 -> 96 at Q5 (c = 3 at Q0)
  EXPECT_EQ(ln::table_entry(ln::TableFn::kHardsigmoid, 0, 4, 7, 0), 64);
  EXPECT_EQ(ln::table_entry(ln::TableFn::kHardswish, 3, 0, 5, 0), 96);
  // hardswish(-1.5) = -1.5 * 1.5 / 6 = -0.375 -> -3 at Q3 (c = -3 at Q1)
  EXPECT_EQ(ln::table_entry(ln::TableFn::kHardswish, -3, 1, 3, 0), -3);
  // leaky: -1 * 0.25 at Q2 -> -1 (exact); -1 * 0.125 at Q2 = -0.5 -> 0 (half up)
  EXPECT_EQ(ln::table_entry(ln::TableFn::kLeakyRelu, -1, 0, 2, 16384), -1);
  EXPECT_EQ(ln::table_entry(ln::TableFn::kLeakyRelu, -1, 0, 2, 8192), 0);
  // silu(0) = 0; gelu(large) = x
  EXPECT_EQ(ln::table_entry(ln::TableFn::kSilu, 0, 3, 7, 0), 0);
  EXPECT_EQ(ln::table_entry(ln::TableFn::kGelu, 100, 4, 4, 0), 100);
}
