// Tests of the issue-8 numerics: iqMean (reduce.h), LayerNormInt / GroupNormInt (layernorm.h),
// AdaptiveAvgPool2dInt (pool.h) and EmbeddingInt (embedding.h).
//
// Expected values come from independent references written here from the headers' stated
// definitions in __int128: the square root by bisection (not the header's bit-by-bit isqrt), the
// roundings by floor division / the bisection of reference.h. Nothing calls the code under test to
// make an expected value.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "linger/numerics/embedding.h"
#include "linger/numerics/layernorm.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/reduce.h"
#include "reference.h"

namespace {

namespace nm = linger::numerics;
namespace ref = linger_test::indep;
using linger_test::clamp_bits;
using linger_test::floor_div;
using linger_test::i128;
using linger_test::kI32Max;
using linger_test::kI32Min;
using linger_test::pow2;
using linger_test::ref_rhu;

std::mt19937& rng() {
  static std::mt19937 r(20261127);
  return r;
}
#include "random_values.inc"  // NOLINT: needs rng() above

// floor(sqrt(v)) by bisection.
i128 ref_isqrt(i128 v) {
  i128 lo = 0, hi = pow2(32);
  while (lo < hi) {
    const i128 mid = (lo + hi + 1) / 2;
    if (mid * mid <= v) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

int bitlen(i128 v) {
  int n = 0;
  while (v > 0) {
    ++n;
    v /= 2;
  }
  return n;
}

// The LayerNormInt definition of layernorm.h for one row (gamma/beta index i / inner).
std::vector<int> ref_layernorm_row(const std::vector<int8_t>& x, const std::vector<int16_t>& g,
                                   const std::vector<int32_t>& b, int64_t inner, int64_t eps_q, int shift) {
  const i128 t = static_cast<i128>(x.size());
  i128 s1 = 0, s2 = 0;
  for (int8_t v : x) {
    s1 += v;
    s2 += static_cast<i128>(v) * v;
  }
  const i128 d = t * s2 - s1 * s1 + eps_q;
  int f = (62 - bitlen(d)) / 2;
  if (f > 24) f = 24;
  const i128 r = ref_isqrt(d * pow2(2 * f));
  std::vector<int> y;
  for (size_t i = 0; i < x.size(); ++i) {
    const i128 num = t * x[i] - s1;
    const i128 n = r == 0 ? 0 : clamp_bits(floor_div(2 * num * pow2(10 + f) + r, 2 * r), 16);
    const size_t c = i / static_cast<size_t>(inner);
    const i128 acc = clamp_bits(n * g[c] + b[c], 32);
    y.push_back(static_cast<int>(clamp_bits(ref_rhu(acc, shift), 8)));
  }
  return y;
}

TEST(NormPoolReference, IsqrtAndRounding) {
  EXPECT_EQ(ref_isqrt(0), 0);
  EXPECT_EQ(ref_isqrt(15), 3);
  EXPECT_EQ(ref_isqrt(16), 4);
  EXPECT_EQ(ref_isqrt(pow2(62) - 1), pow2(31) - 1);
  EXPECT_EQ(nm::isqrt_u64((uint64_t{1} << 62) - 1), (uint64_t{1} << 31) - 1);
}

TEST(IqMean, RowsMatchTheExactMean) {
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t n = static_cast<size_t>(rand_int(1, trial % 10 == 0 ? 5000 : 40));
    const auto x = rand_vec(n);
    const int qx = rand_int(-10, 20);
    const int qo = trial % 3 == 0 ? qx : qx + rand_int(-12, 12);
    i128 s = 0;
    for (int8_t v : x) s += v;
    ASSERT_EQ(nm::iqmean_row(x.data(), static_cast<int64_t>(n), 1, qx, qo),
              ref::scaled8(s, static_cast<i128>(n), qo - qx))
        << "n=" << n << " qx=" << qx << " qo=" << qo;
  }
  const int8_t ties[] = {-3, 0};  // -1.5 -> -1 (half up)
  EXPECT_EQ(nm::iqmean_row(ties, 2, 1, 4, 4), -1);
  const int8_t up[] = {3, 0};
  EXPECT_EQ(nm::iqmean_row(up, 2, 1, 4, 4), 2);
  nm::ReduceParams p;
  p.op = linger::OpId::iqMean;
  p.qx = p.qo = 0;
  const int8_t v[] = {127, 127, 126};
  EXPECT_EQ(nm::reduce_row_int8(p, v, 3, 1), 127);  // 126.67 -> 127, through the family dispatch
  EXPECT_TRUE(nm::is_reduce_op(linger::OpId::iqMean));
}

TEST(LayerNormInt, RowsMatchTheDefinition) {
  for (int trial = 0; trial < 1500; ++trial) {
    const int64_t inner = trial % 4 == 0 ? rand_int(1, 6) : 1;
    const int64_t per = rand_int(1, 12);
    const int64_t t = trial % 50 == 0 ? (4096 / inner) * inner : per * inner;  // T is a multiple of inner
    std::vector<int8_t> x(static_cast<size_t>(t));
    const int mode = rand_int(0, 3);  // full range, narrow, constant, two values
    for (auto& v : x) {
      if (mode == 0) v = rand_i8();
      else if (mode == 1) v = static_cast<int8_t>(rand_int(-3, 3));
      else if (mode == 2) v = static_cast<int8_t>(trial % 256 - 128);
      else v = rand_int(0, 1) ? 127 : -128;
    }
    const int64_t groups_n = t / inner;
    std::vector<int16_t> g(static_cast<size_t>(groups_n));
    std::vector<int32_t> b(static_cast<size_t>(groups_n));
    for (auto& v : g) v = static_cast<int16_t>(rand_int(0, 9) == 0 ? (rand_int(0, 1) ? 32767 : -32768)
                                                                  : rand_int(-32768, 32767));
    for (auto& v : b) v = rand_bias();
    nm::LayerNormParams p;
    p.count = t;
    p.inner = inner;
    p.eps_q = rand_int(0, 3) == 0 ? 0 : (rand_int(0, 1) ? rand_int(0, 1000) : int64_t{1} << rand_int(20, 52));
    p.shift = rand_int(-4, 30);
    std::vector<int8_t> y(static_cast<size_t>(t));
    nm::layernorm_row(x.data(), g.data(), b.data(), y.data(), p);
    const auto expect = ref_layernorm_row(x, g, b, inner, p.eps_q, p.shift);
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_EQ(y[i], expect[i]) << "trial " << trial << " i=" << i << " t=" << t << " eps_q=" << p.eps_q;
  }
}

TEST(LayerNormInt, ConstantRowWithoutEpsIsBeta) {
  const std::vector<int8_t> x(8, 5);
  const std::vector<int16_t> g(8, 1000);
  std::vector<int32_t> b(8, 3 << 10);
  nm::LayerNormParams p;
  p.count = 8;
  p.shift = 10;
  std::vector<int8_t> y(8);
  nm::layernorm_row(x.data(), g.data(), b.data(), y.data(), p);
  for (int8_t v : y) EXPECT_EQ(v, 3);
}

TEST(LayerNormInt, GroupsUseTheirOwnParameters) {
  // two rows (groups), 2 channels each of inner 2: row k uses gamma/beta (k % groups) * 2
  const std::vector<int8_t> x = {1, -1, 1, -1, 1, -1, 1, -1};
  const std::vector<int16_t> g = {1024, 1024, -1024, -1024};
  const std::vector<int32_t> b = {0, 0, 0, 0};
  nm::LayerNormParams p;
  p.count = 4;
  p.inner = 2;
  p.shift = 20;  // n * gamma at Q20 -> Q0
  std::vector<int8_t> y(8);
  nm::layernorm_int(x.data(), g.data(), b.data(), y.data(), 2, 2, p);
  EXPECT_EQ(y, (std::vector<int8_t>{1, -1, 1, -1, -1, 1, -1, 1}));
}

TEST(AdaptiveAvgPool2dInt, MatchesPyTorchWindowsAndRounding) {
  for (int trial = 0; trial < 400; ++trial) {
    const int h = rand_int(1, 13), w = rand_int(1, 13);
    const int oh = rand_int(1, h + 3), ow = rand_int(1, w + 3);  // also larger than the input
    const auto x = rand_vec(static_cast<size_t>(2 * h * w));
    std::vector<int8_t> y(static_cast<size_t>(2 * oh * ow));
    nm::adaptive_avgpool2d_int(x.data(), y.data(), 2, h, w, oh, ow);
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          const int y0 = (i * h) / oh, y1 = ((i + 1) * h + oh - 1) / oh;  // floor / ceil
          const int x0 = (j * w) / ow, x1 = ((j + 1) * w + ow - 1) / ow;
          i128 s = 0;
          for (int a = y0; a < y1; ++a)
            for (int c = x0; c < x1; ++c) s += x[static_cast<size_t>(p * h * w + a * w + c)];
          ASSERT_EQ(y[static_cast<size_t>(p * oh * ow + i * ow + j)],
                    ref::round_sat8(s, static_cast<i128>(y1 - y0) * (x1 - x0)))
              << h << "x" << w << " -> " << oh << "x" << ow;
        }
  }
}

TEST(EmbeddingInt, CopiesRowsAndReportsTheFirstBadIndex) {
  const std::vector<int8_t> table = {1, 2, 3, 4, 5, 6};  // 3 rows of 2
  const int64_t idx[] = {2, 0, 2};
  std::vector<int8_t> y(6);
  EXPECT_EQ(nm::embedding_int(table.data(), 3, 2, idx, 3, y.data()), -1);
  EXPECT_EQ(y, (std::vector<int8_t>{5, 6, 1, 2, 5, 6}));
  const int32_t bad[] = {1, 3};
  EXPECT_EQ(nm::embedding_int(table.data(), 3, 2, bad, 2, y.data()), 1);
  const int64_t neg[] = {-1};
  EXPECT_EQ(nm::embedding_int(table.data(), 3, 2, neg, 1, y.data()), 0);
}

}  // namespace
