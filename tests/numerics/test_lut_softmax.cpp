// Tests of lut.h (iqSigmoid / iqTanh tables) and softmax.h (SoftmaxInt / LogSoftmaxInt).
//
// Expected values never come from the code under test:
// - the sigmoid/tanh tables are re-implemented here from shared/reference/luna-sigmoid-tanh-tables.md
//   (tables transcribed per segment, segment found by a downward scan, arithmetic in double with
//   std::floor on exact rationals) and checked on all 65,536 int16 inputs, plus against the true
//   functions;
// - the softmax algorithm is re-implemented from the header comment (its specification) with
//   __int128 arithmetic and tables computed here in long double, and compared bit-exactly; the
//   accuracy is checked against long-double softmax / log-softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

#include "linger/numerics/lut.h"
#include "linger/numerics/softmax.h"
#include "reference.h"

namespace {

namespace nm = linger::numerics;
using namespace linger_test;  // NOLINT: exact reference arithmetic

std::mt19937& rng() {
  static std::mt19937 r(20261127);
  return r;
}
int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

// ================================================================= sigmoid / tanh reference
// The independent re-implementation of the tables document lives in reference.h (indep::), shared with
// the runtime kernel tests.
int ref_sigmoid(int x) { return indep::sigmoid_q11(x); }
int ref_tanh(int x) { return indep::tanh_q11(x); }
int ref_to_q11(int64_t x, int qx) { return indep::to_q11(x, qx); }

TEST(Lut, SpotChecks) {
  EXPECT_EQ(nm::luna_sigmoid_q11(0), 64);
  EXPECT_EQ(nm::luna_sigmoid_q11(32767), 127);
  EXPECT_EQ(nm::luna_sigmoid_q11(-32768), 0);
  EXPECT_EQ(nm::luna_tanh_q11(0), 0);
  EXPECT_EQ(nm::luna_tanh_q11(32767), 127);
  EXPECT_EQ(nm::luna_tanh_q11(-32768), -128);
  EXPECT_EQ(nm::kLutOutExponent, 7);
}

TEST(Lut, AllInt16InputsMatchIndependentTables) {
  int bad = 0;
  for (int x = -32768; x <= 32767; ++x) {
    const int s = nm::luna_sigmoid_q11(static_cast<int16_t>(x));
    const int t = nm::luna_tanh_q11(static_cast<int16_t>(x));
    if (s != ref_sigmoid(x) && bad++ < 10) ADD_FAILURE() << "sigmoid x=" << x << " got " << s << " want " << ref_sigmoid(x);
    if (t != ref_tanh(x) && bad++ < 10) ADD_FAILURE() << "tanh x=" << x << " got " << t << " want " << ref_tanh(x);
  }
  EXPECT_EQ(bad, 0);
}

TEST(Lut, WithinOneLsbOfTrueFunctionsAndMonotone) {
  double max_s = 0, max_t = 0;
  int prev_s = -1, prev_t = -129;
  for (int x = -32768; x <= 32767; ++x) {
    const double r = std::ldexp(static_cast<double>(x), -11);
    const int s = nm::luna_sigmoid_q11(static_cast<int16_t>(x));
    const int t = nm::luna_tanh_q11(static_cast<int16_t>(x));
    max_s = std::max(max_s, std::fabs(s - 128.0 / (1.0 + std::exp(-r))));
    max_t = std::max(max_t, std::fabs(t - 128.0 * std::tanh(r)));
    EXPECT_GE(s, prev_s) << x;
    EXPECT_GE(t, prev_t) << x;
    prev_s = s;
    prev_t = t;
  }
  EXPECT_LE(max_s, 1.0);
  EXPECT_LE(max_t, 1.0);
  std::cout << "[ measure  ] max |sigmoid - 128*true| = " << max_s << ", max |tanh - 128*true| = " << max_t << "\n";
}

TEST(Lut, ToQ11) {
  for (int qx = -8; qx <= 24; ++qx)
    for (int x = -128; x <= 127; ++x) ASSERT_EQ(nm::to_q11(x, qx), ref_to_q11(x, qx)) << x << " " << qx;
  // Wider integers (int16 / int32 gate values) and extreme shifts.
  const int64_t vals[] = {0, 1, -1, 32767, -32768, 65535, -65536, 1 << 20, -(1 << 20) - 5, 2147483647,
                          -2147483647 - 1, 12345678901LL, -12345678901LL};
  for (int64_t v : vals)
    for (int qx = -30; qx <= 60; ++qx) ASSERT_EQ(nm::to_q11(v, qx), ref_to_q11(v, qx)) << v << " " << qx;
  EXPECT_EQ(nm::to_q11(1, 12), 1);    // 0.5 rounds up
  EXPECT_EQ(nm::to_q11(-1, 12), 0);   // -0.5 rounds up
  EXPECT_EQ(nm::to_q11(-3, 12), -1);  // -1.5 -> -1
  EXPECT_EQ(nm::to_q11(127, 0), 32767);
  EXPECT_EQ(nm::to_q11(-128, 0), -32768);
}

TEST(Lut, IqSigmoidIqTanhAllCodes) {
  for (int qx = -6; qx <= 20; ++qx) {
    for (int x = -128; x <= 127; ++x) {
      const int q11 = ref_to_q11(x, qx);
      ASSERT_EQ(nm::iqsigmoid(static_cast<int8_t>(x), qx), ref_sigmoid(q11)) << x << " " << qx;
      ASSERT_EQ(nm::iqtanh(static_cast<int8_t>(x), qx), ref_tanh(q11)) << x << " " << qx;
    }
  }
  // qx = 7: x = 0 -> 64 / 0; qx = 11 is the identity requantisation.
  EXPECT_EQ(nm::iqsigmoid(0, 7), 64);
  EXPECT_EQ(nm::iqtanh(0, 7), 0);
  EXPECT_EQ(nm::iqsigmoid(127, 0), 127);   // 127.0 saturates at Q11
  EXPECT_EQ(nm::iqsigmoid(-128, 0), 0);
  EXPECT_EQ(nm::iqtanh(-128, 0), -128);
}

// ================================================================= softmax reference
// The __int128 re-implementation of the softmax.h specification, with its tables computed in long
// double (not read from the header), lives in reference.h (indep::softmax_*).
using indep::imax;
using indep::imin;
const indep::SoftmaxTables& tabs() { return indep::softmax_tables(); }
i128 ref_e(int d, int qx) { return indep::softmax_e(d, qx); }

struct RefRow {
  std::vector<int32_t> p15, l25;
};

RefRow ref_softmax(const std::vector<int8_t>& x, int qx) {
  RefRow out;
  indep::softmax_row(x, qx, &out.p15, &out.l25);
  return out;
}

struct LibRow {
  std::vector<int32_t> p15, l25;
};
LibRow lib_softmax(const std::vector<int8_t>& x, int qx) {
  LibRow r;
  r.p15.resize(x.size());
  r.l25.resize(x.size());
  nm::softmax_q15_row(x.data(), static_cast<int64_t>(x.size()), 1, qx, r.p15.data());
  nm::log_softmax_q25_row(x.data(), static_cast<int64_t>(x.size()), 1, qx, r.l25.data());
  return r;
}

// Long-double softmax / log-softmax of a row (the accuracy reference).
struct TrueRow {
  std::vector<long double> p, l;
};
TrueRow true_softmax(const std::vector<int8_t>& x, int qx) {
  const int mx = *std::max_element(x.begin(), x.end());
  TrueRow t;
  long double s = 0;
  std::vector<long double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    r[i] = std::ldexp(static_cast<long double>(x[i] - mx), -qx);
    s += std::exp(r[i]);
  }
  const long double ls = std::log(s);
  for (size_t i = 0; i < x.size(); ++i) {
    t.p.push_back(std::exp(r[i]) / s);
    t.l.push_back(r[i] - ls);
  }
  return t;
}

struct Err {
  long double p_round = 0;   // max |p15 - round(32768 p)|
  long double p_round_c = 0; // max |p15 - min(round(32768 p), 32767)|
  long double p_exact = 0;   // max |p15 - min(32768 p, 32767)|
  long double l = 0;         // max |l25 - max(2^25 l, -2^31)| in LSB
  long double psum = 0;      // max |sum p15 - 32768|
  long double psum_excess = -1e9L;  // max of |sum p15 - 32768| - n/2 (each p15 rounds by <= 1/2)
  void add(const std::vector<int32_t>& p15, const std::vector<int32_t>& l25, const TrueRow& t) {
    long double sum = 0;
    for (size_t i = 0; i < p15.size(); ++i) {
      const long double pt = 32768.0L * t.p[i];
      p_round = std::max(p_round, std::fabs(p15[i] - std::floor(pt + 0.5L)));
      p_round_c = std::max(p_round_c, std::fabs(p15[i] - std::min(std::floor(pt + 0.5L), 32767.0L)));
      p_exact = std::max(p_exact, std::fabs(p15[i] - std::min(pt, 32767.0L)));
      const long double lt = std::max(-2147483648.0L, std::ldexp(t.l[i], 25));
      l = std::max(l, std::fabs(l25[i] - lt));
      sum += p15[i];
    }
    psum = std::max(psum, std::fabs(sum - 32768.0L));
    psum_excess = std::max(psum_excess, std::fabs(sum - 32768.0L) - p15.size() / 2.0L);
  }
};

std::vector<int8_t> random_row(int n, int kind) {
  std::vector<int8_t> x(n);
  const int c = rand_int(-128, 127), w = rand_int(0, 40);
  for (auto& v : x) {
    switch (kind) {
      case 0: v = static_cast<int8_t>(rand_int(-128, 127)); break;
      case 1: v = static_cast<int8_t>(std::clamp(c + rand_int(-w, w), -128, 127)); break;  // clustered
      default: v = static_cast<int8_t>(rand_int(0, 9) == 0 ? 127 : rand_int(-128, 0)); break;
    }
  }
  return x;
}

int random_qx() {
  // Mostly the exponents where softmax is non-trivial for int8 codes, sometimes anything in range.
  return rand_int(0, 3) == 0 ? rand_int(-32, 32) : rand_int(-1, 9);
}

TEST(Softmax, TablesMatchIndependentComputation) {
  namespace sd = nm::softmax_detail;
  const indep::SoftmaxTables& tb = tabs();
  EXPECT_EQ(sd::kLog2eQ31, static_cast<int64_t>(tb.log2e_q31));
  for (int k = 0; k < 5; ++k) EXPECT_EQ(sd::kExp2Poly[k], static_cast<int64_t>(tb.c[k])) << k;
  for (int i = 0; i <= 32; ++i) {
    EXPECT_EQ(sd::kExp2Tab[i], static_cast<int64_t>(tb.p[i])) << i;
    EXPECT_EQ(sd::kLnTabQ40[i], static_cast<int64_t>(tb.g[i])) << i;
  }
  EXPECT_EQ(sd::kLnK3, static_cast<int64_t>(tb.k3));
  EXPECT_EQ(sd::kLnK5, static_cast<int64_t>(tb.k5));
  EXPECT_EQ(sd::kExp2Tab[32], int64_t{1} << 31);
}

TEST(Softmax, BitExactAgainstSpecReimplementation) {
  for (int it = 0; it < 3000; ++it) {
    const int n = rand_int(1, it < 2500 ? 64 : 600);
    const auto x = random_row(n, it % 3);
    const int qx = random_qx();
    const RefRow ref = ref_softmax(x, qx);
    const LibRow lib = lib_softmax(x, qx);
    ASSERT_EQ(lib.p15, ref.p15) << "row " << it << " n=" << n << " qx=" << qx;
    ASSERT_EQ(lib.l25, ref.l25) << "row " << it << " n=" << n << " qx=" << qx;
  }
  // Every reachable E (all d, all qx) against the reference.
  for (int qx = -32; qx <= 32; ++qx)
    for (int d = -255; d <= 0; ++d)
      ASSERT_EQ(nm::softmax_detail::exp_q38(d, qx), static_cast<int64_t>(ref_e(d, qx))) << d << " " << qx;
}

TEST(Softmax, ExpAccuracy) {
  // Every reachable E (all d, all qx) against 2^38 * exp(d * 2^-qx): relative error < 2^-28 plus the
  // final rounding to an integer at Q38 (<= 1/2).
  long double worst = 0;
  for (int qx = -32; qx <= 32; ++qx)
    for (int d = -255; d <= 0; ++d) {
      const long double want = std::ldexp(std::exp(std::ldexp(static_cast<long double>(d), -qx)), 38);
      const long double got = static_cast<long double>(nm::softmax_detail::exp_q38(d, qx));
      const long double err = std::max(0.0L, std::fabs(got - want) - 0.5L) / want;
      if (want > 1) worst = std::max(worst, err);
      ASSERT_LE(std::fabs(got - want), 0.5L + want * std::ldexp(1.0L, -28)) << d << " " << qx;
    }
  std::cout << "[ measure  ] exp_q38: max relative error (beyond the final rounding) = 2^"
            << static_cast<double>(std::log2(worst)) << "\n";
}

TEST(Softmax, AccuracyRandomRows) {
  Err err;
  for (int it = 0; it < 4000; ++it) {
    const int n = rand_int(1, it < 3500 ? 100 : 1000);
    const auto x = random_row(n, it % 3);
    const int qx = random_qx();
    const LibRow lib = lib_softmax(x, qx);
    err.add(lib.p15, lib.l25, true_softmax(x, qx));
    for (int32_t p : lib.p15) ASSERT_TRUE(p >= 0 && p <= 32767);
    for (int32_t l : lib.l25) ASSERT_LE(l, 0);
  }
  std::cout << "[ measure  ] random rows n<=1000: max |p15-round(32768p)| = " << static_cast<double>(err.p_round)
            << " (" << static_cast<double>(err.p_round_c) << " against the clamped value)"
            << ", max |p15-min(32768p,32767)| = " << static_cast<double>(err.p_exact)
            << ", max |l25-2^25 l| = " << static_cast<double>(err.l) << " LSB"
            << ", max |sum p15 - 32768| = " << static_cast<double>(err.psum) << "\n";
  EXPECT_LE(err.p_round, 1);
  EXPECT_LE(err.p_exact, 0.5L + 1.0L / 1024);  // header: 0.5 + 2^-12 + n 2^-24
  EXPECT_LE(err.l, 1.0L);
  EXPECT_LE(err.psum_excess, 1.0L);
}

TEST(Softmax, Extremes) {
  Err err;
  auto check = [&](const std::vector<int8_t>& x, int qx) {
    const LibRow lib = lib_softmax(x, qx);
    const RefRow ref = ref_softmax(x, qx);
    ASSERT_EQ(lib.p15, ref.p15) << "qx=" << qx << " n=" << x.size();
    ASSERT_EQ(lib.l25, ref.l25) << "qx=" << qx << " n=" << x.size();
    err.add(lib.p15, lib.l25, true_softmax(x, qx));
  };
  for (int qx : {-32, -31, -8, -1, 0, 1, 7, 24, 25, 26, 31, 32}) {
    // n = 1
    for (int c : {-128, 0, 127}) {
      const LibRow r = lib_softmax({static_cast<int8_t>(c)}, qx);
      EXPECT_EQ(r.p15[0], 32767);
      EXPECT_EQ(r.l25[0], 0);
    }
    // all equal: p15 = round(32768 / n) exactly, l25 = round(-ln(n) * 2^25) within 1.
    for (int n : {2, 3, 7, 10, 100, 1000}) {
      for (int c : {-128, 5, 127}) {
        const std::vector<int8_t> x(n, static_cast<int8_t>(c));
        const LibRow r = lib_softmax(x, qx);
        for (int i = 0; i < n; ++i) {
          ASSERT_EQ(r.p15[i], std::min<int64_t>(32767, (2 * 32768 + n) / (2 * n))) << n;
          ASSERT_NEAR(r.l25[i], -std::log(static_cast<long double>(n)) * 33554432.0L, 1.0L) << n;
        }
        check(x, qx);
      }
    }
    // one huge, one tiny (and the reverse order), and with a crowd of tiny ones.
    check({127, -128}, qx);
    check({-128, 127}, qx);
    std::vector<int8_t> crowd(500, -128);
    crowd[123] = 127;
    check(crowd, qx);
    for (int it = 0; it < 20; ++it) check(random_row(rand_int(2, 50), it % 3), qx);
  }
  // At qx = -32 a difference of one code is 2^32: exp underflows completely.
  {
    const LibRow r = lib_softmax({127, 126, -128}, -32);
    EXPECT_EQ(r.p15, (std::vector<int32_t>{32767, 0, 0}));
    EXPECT_EQ(r.l25, (std::vector<int32_t>{0, INT32_MIN, INT32_MIN}));
  }
  // At qx = 32 the whole int8 range spans 2^-24: everything is (almost) uniform.
  {
    const LibRow r = lib_softmax({127, -128}, 32);
    EXPECT_EQ(r.p15, (std::vector<int32_t>{16384, 16384}));
    EXPECT_NEAR(r.l25[0], -std::log(2.0) * 33554432.0, 1.0);
  }
  EXPECT_LE(err.p_round, 1);
  EXPECT_LE(err.p_exact, 0.5L + 1.0L / 1024);
  EXPECT_LE(err.l, 1.0L);
  EXPECT_LE(err.psum_excess, 1.0L);
  std::cout << "[ measure  ] extremes: max |p15-round(32768p)| = " << static_cast<double>(err.p_round)
            << " (" << static_cast<double>(err.p_round_c) << " against the clamped value)"
            << ", max |l25-2^25 l| = " << static_cast<double>(err.l) << " LSB\n";
}

TEST(Softmax, LargeRows) {
  // n = 100000, random and one-hot; accuracy and bit-exactness.
  Err err;
  for (int kind = 0; kind < 3; ++kind) {
    for (int qx : {-32, 0, 3, 32}) {
      const auto x = random_row(100000, kind);
      const LibRow lib = lib_softmax(x, qx);
      const RefRow ref = ref_softmax(x, qx);
      ASSERT_EQ(lib.p15, ref.p15);
      ASSERT_EQ(lib.l25, ref.l25);
      err.add(lib.p15, lib.l25, true_softmax(x, qx));
    }
  }
  std::cout << "[ measure  ] n=100000: max |p15-round(32768p)| = " << static_cast<double>(err.p_round)
            << ", max |l25-2^25 l| = " << static_cast<double>(err.l) << " LSB\n";
  EXPECT_LE(err.p_round, 1);
  EXPECT_LE(err.p_exact, 0.5L + 1.0L / 1024 + 100000.0L / 16777216);
  EXPECT_LE(err.l, 1.0L + 100000.0L / 16384);  // header bound: 0.5 + 2^-2 + n 2^-14

  // n = 2^24 (the documented maximum): S = 2^62 exactly for an all-equal row.
  const int64_t n = nm::kSoftmaxMaxRow;
  std::vector<int8_t> x(static_cast<size_t>(n), 7), y(static_cast<size_t>(n));
  nm::softmax_int_row(x.data(), n, 1, 0, 15, y.data(), 1);  // p15 = round(2^15 / 2^24) = 0
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](int8_t v) { return v == 0; }));
  nm::log_softmax_int_row(x.data(), n, 1, 0, 2, y.data(), 1);  // -24 ln 2 = -16.64 -> Q2: -67
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](int8_t v) { return v == -67; }));
  EXPECT_EQ(nm::softmax_detail::ln_sum_q40(int64_t{1} << 62), 24 * nm::softmax_detail::kLnTabQ40[32]);
  x[999] = 127;  // one max, the rest far below at qx = 0
  nm::log_softmax_int_row(x.data(), n, 1, 0, 25, y.data(), 1);
  EXPECT_EQ(y[999], 0);
}

TEST(Softmax, IntRowsAndStrides) {
  for (int it = 0; it < 300; ++it) {
    const int n = rand_int(1, 40), stride = rand_int(1, 4), ystride = rand_int(1, 3);
    const int qx = random_qx(), qo = rand_int(-3, 30);
    const auto xs = random_row(n * stride, it % 3);
    std::vector<int8_t> x(n);
    for (int i = 0; i < n; ++i) x[i] = xs[static_cast<size_t>(i) * stride];
    const RefRow ref = ref_softmax(x, qx);
    std::vector<int32_t> p(n), l(n);
    nm::softmax_q15_row(xs.data(), n, stride, qx, p.data());
    nm::log_softmax_q25_row(xs.data(), n, stride, qx, l.data());
    ASSERT_EQ(p, ref.p15);
    ASSERT_EQ(l, ref.l25);
    std::vector<int8_t> ys(static_cast<size_t>(n) * ystride, 99), yl(static_cast<size_t>(n) * ystride, 99);
    nm::softmax_int_row(xs.data(), n, stride, qx, qo, ys.data(), ystride);
    nm::log_softmax_int_row(xs.data(), n, stride, qx, qo, yl.data(), ystride);
    for (int i = 0; i < n * ystride; ++i) {
      if (i % ystride != 0) {  // untouched gaps
        ASSERT_EQ(ys[i], 99);
        ASSERT_EQ(yl[i], 99);
        continue;
      }
      ASSERT_EQ(ys[i], clamp_bits(ref_rhu(ref.p15[i / ystride], 15 - qo), 8)) << qo;
      ASSERT_EQ(yl[i], clamp_bits(ref_rhu(ref.l25[i / ystride], 25 - qo), 8)) << qo;
    }
  }
  // Negative stride: the row read backwards.
  const std::vector<int8_t> x = {1, 20, -5, 60};
  std::vector<int32_t> fwd(4), bwd(4);
  const std::vector<int8_t> rev(x.rbegin(), x.rend());
  nm::softmax_q15_row(rev.data(), 4, 1, 4, fwd.data());
  nm::softmax_q15_row(x.data() + 3, 4, -1, 4, bwd.data());
  EXPECT_EQ(fwd, bwd);
}

TEST(Softmax, InvariantToAddingAConstant) {
  for (int it = 0; it < 500; ++it) {
    const int n = rand_int(1, 50);
    auto x = random_row(n, it % 3);
    const int qx = random_qx();
    const int lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
    const int c = rand_int(-128 - lo, 127 - hi);  // never saturates
    std::vector<int8_t> xc(x);
    for (auto& v : xc) v = static_cast<int8_t>(v + c);
    const LibRow a = lib_softmax(x, qx), b = lib_softmax(xc, qx);
    ASSERT_EQ(a.p15, b.p15);
    ASSERT_EQ(a.l25, b.l25);
  }
}

TEST(Softmax, Monotonicity) {
  // Sweep one input over all 256 codes: its own p15 / l25 never decrease, the others never increase
  // while the swept input is not the strict row max; order is preserved everywhere.
  int64_t cross_reversals = 0, cross_checks = 0;
  int32_t cross_max = 0;
  for (int it = 0; it < 300; ++it) {
    const int n = rand_int(2, 30);
    auto x = random_row(n, it % 3);
    const int qx = random_qx();
    const int i = rand_int(0, n - 1);
    int others_max = -129;
    for (int k = 0; k < n; ++k)
      if (k != i) others_max = std::max<int>(others_max, x[k]);
    LibRow prev;
    for (int c = -128; c <= 127; ++c) {
      x[i] = static_cast<int8_t>(c);
      const LibRow cur = lib_softmax(x, qx);
      for (int a = 0; a < n; ++a)
        for (int b = 0; b < n; ++b)
          if (x[a] >= x[b]) {
            ASSERT_GE(cur.p15[a], cur.p15[b]);
            ASSERT_GE(cur.l25[a], cur.l25[b]);
          }
      if (c > -128) {
        ASSERT_GE(cur.p15[i], prev.p15[i]) << "c=" << c << " qx=" << qx;
        ASSERT_GE(cur.l25[i], prev.l25[i]) << "c=" << c << " qx=" << qx;
        for (int k = 0; k < n; ++k) {
          if (k == i) continue;
          if (c <= others_max) {
            ASSERT_LE(cur.p15[k], prev.p15[k]) << "c=" << c << " qx=" << qx;
            ASSERT_LE(cur.l25[k], prev.l25[k]) << "c=" << c << " qx=" << qx;
          } else {  // the max moved: measured, bounded by 1 LSB
            ++cross_checks;
            const int32_t up = std::max(cur.p15[k] - prev.p15[k], cur.l25[k] - prev.l25[k]);
            if (up > 0) ++cross_reversals, cross_max = std::max(cross_max, up);
          }
        }
      }
      prev = cur;
    }
  }
  std::cout << "[ measure  ] cross-monotonicity when the max moves: " << cross_reversals << " reversals in "
            << cross_checks << " checks, max " << cross_max << " LSB\n";
  EXPECT_LE(cross_max, 1);
}

TEST(Softmax, InternalFunctionsMonotone) {
  namespace sd = nm::softmax_detail;
  // ln(1 + v) polynomial over its whole domain.
  int64_t prev = -1;
  for (int64_t v = 0; v < (int64_t{1} << 25); ++v) {
    const int64_t u = sd::ln1p_q30(v);
    if (u < prev) FAIL() << "ln1p_q30 decreases at v=" << v;
    prev = u;
  }
  // exp2 around every table joint and octave boundary, for several octaves.
  for (int k : {0, -1, -2, -9, -20, -40, -63}) {
    for (int j = 0; j <= 32; ++j) {
      const int64_t base = static_cast<int64_t>(k) * (int64_t{1} << 30) + static_cast<int64_t>(j) * (int64_t{1} << 25);
      int64_t pe = -1;
      for (int64_t t = base - 4000; t <= std::min<int64_t>(base + 4000, 0); ++t) {
        if (t < -(int64_t{64} << 30)) continue;
        const int64_t e = sd::exp2_q38(t);
        ASSERT_GE(e, pe) << "t=" << t;
        pe = e;
      }
    }
  }
  EXPECT_EQ(sd::exp2_q38(0), int64_t{1} << 38);
  // ln(S) around every joint, for several octaves (b = 38, 45, 61).
  for (int b : {38, 45, 61}) {
    for (int j = 0; j <= 32; ++j) {
      const int64_t base = (int64_t{1} << b) + (static_cast<int64_t>(j) << (b - 5));
      int64_t pl = -1;
      for (int64_t d = -3000; d <= 3000; ++d) {
        const int64_t s = base + d * (int64_t{1} << (b - 30));
        if (s < (int64_t{1} << 38)) continue;
        const int64_t l = sd::ln_sum_q40(s);
        ASSERT_GE(l, pl) << "s=" << s;
        pl = l;
      }
    }
  }
  EXPECT_EQ(sd::ln_sum_q40(int64_t{1} << 38), 0);
}

}  // namespace
