// Each kernel, run through a one-node model, against the numerics headers
// (the integer contract) or the ONNX semantics of the standard ops, tolerance 0.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "linger/numerics/conv.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "../numerics/reference.h"
#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;
namespace nm = linger::numerics;
namespace kref = linger_test::kref;
namespace indep = linger_test::indep;

namespace {

std::vector<lr::Tensor> run(const tb::Model& m, const std::map<std::string, lr::Tensor>& feeds,
                            lr::Isa isa = lr::Isa::kAuto) {
  lr::SessionOptions o;
  o.isa = isa;
  const std::string b = m.bytes();
  lr::Session s = lr::Session::from_bytes(b.data(), b.size(), o);
  return s.run(feeds);
}

lr::Tensor run1(const tb::Model& m, const std::map<std::string, lr::Tensor>& feeds, lr::Isa isa = lr::Isa::kAuto) {
  return run(m, feeds, isa).at(0);
}

template <typename T>
lr::Tensor tensor(std::vector<int64_t> shape, const std::vector<T>& v) {
  return lr::Tensor::from_vector<T>(std::move(shape), v);
}

std::vector<lr::Isa> isas() {
  std::vector<lr::Isa> v{lr::Isa::kScalar};
  for (lr::Isa i : {lr::Isa::kAvx2, lr::Isa::kAvx512Vnni})
    if (lr::isa_supported(i)) v.push_back(i);
  return v;
}

}  // namespace

TEST(Kernels, QuantMatchesNumerics) {
  const std::vector<float> x{0.0f, 0.15625f, -0.15625f, 2.5f / 16, -2.5f / 16, 7.96f, 8.1f, -8.2f, 1e30f,
                             -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(), -0.03f};
  tb::Model m;
  m.input("x", tb::kFloat, {static_cast<int64_t>(x.size())}).output("y", tb::kInt8, {static_cast<int64_t>(x.size())});
  m.add({"Quant", "thinker", "q", {"x"}, {"y"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 16.0f)}});
  const lr::Tensor y = run1(m, {{"x", tensor({static_cast<int64_t>(x.size())}, x)}});
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(y.data<int8_t>()[i], indep::quantize8(x[i], 4)) << x[i];
  EXPECT_EQ(y.data<int8_t>()[3], 3);   // 2.5 -> 3
  EXPECT_EQ(y.data<int8_t>()[4], -2);  // -2.5 -> -2
}

TEST(Kernels, QuantRejectsNaNNamingTheNode) {
  tb::Model m;
  m.input("x", tb::kFloat, {3}).output("y", tb::kInt8, {3});
  m.add({"Quant", "thinker", "quant_in", {"x"}, {"y"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 1.0f)}});
  try {
    run1(m, {{"x", tensor<float>({3}, {1.0f, std::nanf(""), 2.0f})}});
    FAIL() << "NaN accepted";
  } catch (const lr::ExecutionError& e) {
    EXPECT_NE(std::string(e.what()).find("node 'quant_in' (Quant)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NaN at element 1"), std::string::npos) << e.what();
  }
}

TEST(Kernels, DequantAllWidths) {
  for (int elem : {tb::kInt8, tb::kInt16, tb::kInt32}) {
    tb::Model m;
    m.input("q", elem, {4}).output("y", tb::kFloat, {4});
    m.add({"Dequant", "thinker", "dq", {"q"}, {"y"}, {tb::attr_float("scale_o", 0.25f)}});
    lr::Tensor in = elem == tb::kInt8    ? tensor<int8_t>({4}, {-128, -1, 0, 127})
                    : elem == tb::kInt16 ? tensor<int16_t>({4}, {-32768, -1, 0, 32767})
                                         : tensor<int32_t>({4}, {INT32_MIN, -1, 0, INT32_MAX});
    const lr::Tensor y = run1(m, {{"q", in}});
    for (int i = 0; i < 4; ++i) {
      int64_t q = elem == tb::kInt8 ? in.data<int8_t>()[i] : elem == tb::kInt16 ? in.data<int16_t>()[i] : in.data<int32_t>()[i];
      EXPECT_EQ(y.data<float>()[i], kref::dequant(q, -2)) << q;  // independent reference
      EXPECT_EQ(y.data<float>()[i], static_cast<float>(static_cast<double>(q) * 4.0)) << q;  // scale 1/4: q * 4
    }
  }
}

struct ConvCase {
  int n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, g, o_bits;
  bool bias;
};

TEST(Kernels, Conv2dIntMatchesNumerics) {
  const ConvCase cases[] = {
      {1, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, true},
      {2, 4, 9, 8, 6, 3, 2, 2, 1, 1, 2, 0, 1, 2, 0, 2, 8, true},
      {1, 4, 6, 6, 4, 3, 3, 1, 2, 2, 1, 2, 2, 2, 2, 4, 16, false},
      {1, 2, 5, 5, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 32, true},
      {1, 3, 8, 8, 5, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 1, 0, true},
  };
  int seed = 10;
  for (const ConvCase& k : cases) {
    nm::Conv2dShape s;
    s.n = k.n, s.c = k.c, s.h = k.h, s.w = k.w, s.o = k.o, s.kh = k.kh, s.kw = k.kw, s.stride_h = k.sh, s.stride_w = k.sw;
    s.dil_h = k.dh, s.dil_w = k.dw, s.pad_top = k.pt, s.pad_left = k.pl, s.pad_bottom = k.pb, s.pad_right = k.pr, s.groups = k.g;
    ASSERT_TRUE(s.valid());
    const auto x = tmodels::random_ints<int8_t>(static_cast<size_t>(k.n * k.c * k.h * k.w), -128, 127, static_cast<uint32_t>(seed++));
    const auto w = tmodels::random_ints<int8_t>(static_cast<size_t>(k.o * (k.c / k.g) * k.kh * k.kw), -128, 127, static_cast<uint32_t>(seed++));
    const auto b = tmodels::random_ints<int32_t>(static_cast<size_t>(k.o), -20000, 20000, static_cast<uint32_t>(seed++));
    const int qx = 5, qw = 7, qo = 4;
    const std::vector<int64_t> ydims{k.n, k.o, s.out_h(), s.out_w()};
    const int out_elem = k.o_bits == 8 ? tb::kInt8 : k.o_bits == 16 ? tb::kInt16 : k.o_bits == 32 ? tb::kInt32 : tb::kFloat;
    tb::Model m;
    m.input("x", tb::kInt8, {k.n, k.c, k.h, k.w}).output("y", out_elem, ydims);
    m.init(tb::tensor("w", tb::kInt8, {k.o, k.c / k.g, k.kh, k.kw}, w));
    std::vector<std::string> in{"x", "w"};
    if (k.bias) {
      m.init(tb::tensor("b", tb::kInt32, {k.o}, b));
      in.push_back("b");
    }
    m.add({"Conv2dInt", "thinker", "conv", in, {"y"},
           tb::conv_attrs(32.0f, 128.0f, 16.0f, k.o_bits, {k.kh, k.kw}, {k.pt, k.pl, k.pb, k.pr}, {k.sh, k.sw}, {k.dh, k.dw}, k.g)});
    const int32_t* bp = k.bias ? b.data() : nullptr;
    // expected values from the independent reference (tests/numerics/reference.h), not numerics::conv2d_int
    const kref::Conv rk{k.n, k.c, k.h, k.w, k.o, k.kh, k.kw, k.sh, k.sw, k.dh, k.dw, k.pt, k.pl, k.pb, k.pr, k.g};
    ASSERT_EQ(ydims, (std::vector<int64_t>{k.n, k.o, rk.oh(), rk.ow()}));
    const std::vector<int64_t> ref = k.o_bits ? kref::conv2d_int(x, w, bp, rk, qx + qw - qo, k.o_bits)
                                              : kref::conv2d_int(x, w, bp, rk, 0, 32);
    for (lr::Isa isa : isas()) {
      const lr::Tensor y = run1(m, {{"x", tensor({k.n, k.c, k.h, k.w}, x)}}, isa);
      ASSERT_EQ(y.shape(), ydims);
      std::vector<int64_t> got;
      if (k.o_bits == 8) {
        for (int8_t v : y.to_vector<int8_t>()) got.push_back(v);
      } else if (k.o_bits == 16) {
        for (int16_t v : y.to_vector<int16_t>()) got.push_back(v);
      } else if (k.o_bits == 32) {
        for (int32_t v : y.to_vector<int32_t>()) got.push_back(v);
      } else {
        const std::vector<float> f = y.to_vector<float>();
        for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(f[i], kref::dequant(ref[i], qx + qw)) << i;
        continue;
      }
      EXPECT_EQ(got, ref) << lr::isa_name(isa);
    }
  }
}

TEST(Kernels, LinearIntMatchesNumerics) {
  const int64_t k = 37, n = 5;
  const auto x = tmodels::random_ints<int8_t>(2 * 3 * k, -128, 127, 77);
  const auto w = tmodels::random_ints<int8_t>(n * k, -128, 127, 78);
  const auto b = tmodels::random_ints<int32_t>(n, -100000, 100000, 79);
  for (int o_bits : {8, 16, 32, 0}) {
    for (bool bias : {true, false}) {
      const int out_elem = o_bits == 8 ? tb::kInt8 : o_bits == 16 ? tb::kInt16 : o_bits == 32 ? tb::kInt32 : tb::kFloat;
      tb::Model m;
      m.input("x", tb::kInt8, {2, 3, k}).output("y", out_elem, {2, 3, n});
      m.init(tb::tensor("w", tb::kInt8, {n, k}, w));
      std::vector<std::string> in{"x", "w"};
      if (bias) {
        m.init(tb::tensor("b", tb::kInt32, {n}, b));
        in.push_back("b");
      }
      std::vector<std::string> attrs{tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f)};
      if (o_bits) {
        attrs.push_back(tb::attr_float("scale_o", 0.5f));  // Qo = -1: shift 4 + 6 + 1
        attrs.push_back(tb::attr_int("o_bits", o_bits));
      }
      m.add({"LinearInt", "thinker", "fc", in, {"y"}, attrs});
      const int32_t* bp = bias ? b.data() : nullptr;
      // expected values from the independent reference, not numerics::linear_int
      const std::vector<int64_t> ref = kref::linear_int(x, w, bp, 6, static_cast<int>(k), static_cast<int>(n), 11, o_bits);
      for (lr::Isa isa : isas()) {
        const lr::Tensor y = run1(m, {{"x", tensor({2, 3, k}, x)}}, isa);
        ASSERT_EQ(y.shape(), (std::vector<int64_t>{2, 3, n}));
        std::vector<int64_t> got;
        if (o_bits == 8) {
          for (int8_t v : y.to_vector<int8_t>()) got.push_back(v);
        } else if (o_bits == 16) {
          for (int16_t v : y.to_vector<int16_t>()) got.push_back(v);
        } else if (o_bits == 32) {
          for (int32_t v : y.to_vector<int32_t>()) got.push_back(v);
        } else {
          const std::vector<float> f = y.to_vector<float>();
          for (size_t i = 0; i < f.size(); ++i) EXPECT_EQ(f[i], kref::dequant(ref[i], 10)) << i;
          continue;
        }
        EXPECT_EQ(got, ref) << lr::isa_name(isa);
      }
    }
  }
}

TEST(Kernels, LinearIntTiesRoundHalfUp) {
  // Hand-worked: acc = x * 32 at shift 4 + 6 + 1 = 11: 1024 / 2048 = 0.5 -> 1, -0.5 -> 0, 1.5 -> 2, -1.5 -> -1,
  // 4064 / 2048 = 1.98 -> 2; a wide row (k = 64, the other products cancelling) goes through the SIMD paths.
  for (int64_t k : {1, 64}) {
    tb::Model m;
    m.input("x", tb::kInt8, {5, k}).output("y", tb::kInt8, {5, 1});
    m.init(tb::tensor("w", tb::kInt8, {1, k}, std::vector<int8_t>(static_cast<size_t>(k), 32)));
    m.add({"LinearInt", "thinker", "fc", {"x", "w"}, {"y"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 0.5f),
            tb::attr_int("o_bits", 8)}});
    std::vector<int8_t> x;
    for (int v : {32, -32, 96, -96, 127})
      for (int64_t i = 0; i < k; ++i) x.push_back(static_cast<int8_t>(i == 0 ? v : i == k - 1 ? 0 : (i % 2 ? 32 : -32)));
    for (lr::Isa isa : isas()) {
      const lr::Tensor y = run1(m, {{"x", tensor({5, k}, x)}}, isa);
      EXPECT_EQ(y.to_vector<int8_t>(), (std::vector<int8_t>{1, 0, 2, -1, 2})) << lr::isa_name(isa) << " k " << k;
    }
  }
}

TEST(Kernels, PoolsMatchNumerics) {
  // Expected values and output shapes from the independent reference (tests/numerics/reference.h),
  // on every ISA; the first ceil_mode case has windows hanging over the bottom/right padding.
  const auto x = tmodels::random_ints<int8_t>(2 * 3 * 7 * 6, -128, 127, 90);
  struct P {
    int kh, kw, sh, sw, pt, pl, pb, pr, ceil;
  };
  for (const P& p : {P{2, 2, 2, 2, 0, 0, 0, 0, 0}, P{3, 3, 2, 2, 1, 1, 1, 1, 1}, P{3, 2, 1, 2, 0, 1, 2, 0, 0},
                     P{5, 5, 3, 3, 2, 2, 2, 2, 1}, P{2, 2, 2, 2, 0, 0, 0, 0, 1}, P{4, 4, 1, 1, 1, 2, 1, 2, 0}}) {
    const kref::Pool rs{2, 3, 7, 6, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.pb, p.pr, p.ceil != 0};
    const std::vector<int64_t> yd{2, 3, rs.oh(), rs.ow()};
    const std::vector<std::string> geo{tb::attr_ints("kernel_shape", {p.kh, p.kw}), tb::attr_ints("strides", {p.sh, p.sw}),
                                       tb::attr_ints("pads", {p.pt, p.pl, p.pb, p.pr}), tb::attr_int("ceil_mode", p.ceil)};
    const std::vector<int8_t> ref_avg = kref::pool2d(x, rs, true), ref_max = kref::pool2d(x, rs, false);
    for (lr::Isa isa : isas()) {
      SCOPED_TRACE(std::string(lr::isa_name(isa)) + " k " + std::to_string(p.kh) + "x" + std::to_string(p.kw) +
                   " ceil " + std::to_string(p.ceil));
      {
        tb::Model m;
        m.input("x", tb::kInt8, {2, 3, 7, 6}).output("y", tb::kInt8, yd);
        std::vector<std::string> a = geo;
        a.push_back(tb::attr_float("scale_x", 8.0f));
        a.push_back(tb::attr_float("scale_o", 8.0f));
        a.push_back(tb::attr_int("o_bits", 8));
        m.add({"AvgPool2dInt", "thinker", "avg", {"x"}, {"y"}, a});
        const lr::Tensor y = run1(m, {{"x", tensor({2, 3, 7, 6}, x)}}, isa);
        EXPECT_EQ(y.shape(), yd);
        EXPECT_EQ(y.to_vector<int8_t>(), ref_avg);
      }
      {
        tb::Model m;
        m.input("x", tb::kInt8, {2, 3, 7, 6}).output("y", tb::kInt8, yd);
        m.add({"MaxPool", "", "max", {"x"}, {"y"}, geo});
        const lr::Tensor y = run1(m, {{"x", tensor({2, 3, 7, 6}, x)}}, isa);
        EXPECT_EQ(y.shape(), yd);
        EXPECT_EQ(y.to_vector<int8_t>(), ref_max);
      }
    }
  }
  {  // hand-worked ties: 2x2 windows summing to 2, -2, 6 -> 2/4 = 0.5 -> 1, -0.5 -> 0, 1.5 -> 2 (half up)
    tb::Model m;
    m.input("x", tb::kInt8, {1, 1, 2, 6}).output("y", tb::kInt8, {1, 1, 1, 3});
    m.add({"AvgPool2dInt", "thinker", "avg", {"x"}, {"y"},
           {tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2}), tb::attr_float("scale_x", 8.0f),
            tb::attr_float("scale_o", 8.0f)}});
    for (lr::Isa isa : isas()) {
      const lr::Tensor y = run1(m, {{"x", tensor<int8_t>({1, 1, 2, 6}, {1, 0, -1, 0, 3, 3, 1, 0, -1, 0, 0, 0})}}, isa);
      EXPECT_EQ(y.to_vector<int8_t>(), (std::vector<int8_t>{1, 0, 2})) << lr::isa_name(isa);
    }
  }
}

TEST(Kernels, AvgPoolScaleOMustEqualScaleX) {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 1, 4, 4}).output("y", tb::kInt8, {1, 1, 2, 2});
  m.add({"AvgPool2dInt", "thinker", "avg", {"x"}, {"y"},
         {tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2}), tb::attr_float("scale_x", 8.0f),
          tb::attr_float("scale_o", 4.0f)}});
  const std::string b = m.bytes();
  EXPECT_THROW(lr::Session::from_bytes(b.data(), b.size()), lr::ValidationError);
}

TEST(Kernels, IqAddSameShapeAndBroadcast) {
  const auto a = tmodels::random_ints<int8_t>(24, -128, 127, 5);
  const auto bsame = tmodels::random_ints<int8_t>(24, -128, 127, 6);
  const auto bcast = tmodels::random_ints<int8_t>(3, -128, 127, 7);
  // Qx = 5, Qy = 2 (below Qo: exact left shift, saturated), Qo = 3.
  const std::vector<std::string> attrs{tb::attr_float("scale_x", 32.0f), tb::attr_float("scale_y", 4.0f),
                                       tb::attr_float("scale_o", 8.0f), tb::attr_string("platform_quant", "luna_quant"),
                                       tb::attr_string("mode", "Non_t710_mode")};
  {
    tb::Model m;
    m.input("a", tb::kInt8, {2, 3, 4}).input("b", tb::kInt8, {2, 3, 4}).output("c", tb::kInt8, {2, 3, 4});
    m.add({"iqAdd", "thinker", "add", {"a", "b"}, {"c"}, attrs});
    const lr::Tensor c = run1(m, {{"a", tensor({2, 3, 4}, a)}, {"b", tensor({2, 3, 4}, bsame)}});
    for (size_t i = 0; i < 24; ++i) EXPECT_EQ(c.data<int8_t>()[i], indep::iqadd(a[i], bsame[i], 2, -1));
  }
  {
    tb::Model m;
    m.input("a", tb::kInt8, {2, 3, 4}).input("b", tb::kInt8, {3, 1}).output("c", tb::kInt8, {2, 3, 4});
    m.add({"iqAdd", "thinker", "add", {"a", "b"}, {"c"}, attrs});
    const lr::Tensor c = run1(m, {{"a", tensor({2, 3, 4}, a)}, {"b", tensor({3, 1}, bcast)}});
    for (size_t i = 0; i < 24; ++i) EXPECT_EQ(c.data<int8_t>()[i], indep::iqadd(a[i], bcast[(i / 4) % 3], 2, -1)) << i;
  }
  {
    tb::Model m;  // the broadcast operand first, scalar-like shape
    m.input("a", tb::kInt8, {1}).input("b", tb::kInt8, {2, 3, 4}).output("c", tb::kInt8, {2, 3, 4});
    m.add({"iqAdd", "thinker", "add", {"a", "b"}, {"c"}, attrs});
    const lr::Tensor c = run1(m, {{"a", tensor<int8_t>({1}, {-77})}, {"b", tensor({2, 3, 4}, a)}});
    for (size_t i = 0; i < 24; ++i) EXPECT_EQ(c.data<int8_t>()[i], indep::iqadd(-77, a[i], 2, -1)) << i;
  }
}

TEST(Kernels, ReluIntegerWidths) {
  tb::Model m;
  m.input("x", tb::kInt16, {4}).output("y", tb::kInt16, {4});
  m.add({"Relu", "", "r", {"x"}, {"y"}, {}});
  EXPECT_EQ(run1(m, {{"x", tensor<int16_t>({4}, {-300, 0, 5, -1})}}).to_vector<int16_t>(), (std::vector<int16_t>{0, 0, 5, 0}));
  tb::Model m8;
  m8.input("x", tb::kInt8, {3}).output("y", tb::kInt8, {3});
  m8.add({"Relu", "", "r", {"x"}, {"y"}, {}});
  EXPECT_EQ(run1(m8, {{"x", tensor<int8_t>({3}, {-128, 127, -1})}}).to_vector<int8_t>(), (std::vector<int8_t>{0, 127, 0}));
}

namespace {

std::vector<int8_t> iota8(int n) {
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<int8_t>(i);
  return v;
}

}  // namespace

TEST(Kernels, ReshapeZeroAndMinusOne) {
  tb::Model m;
  m.input("x", tb::kInt8, {2, 3, 4}).output("y", tb::kInt8, {2, 12});
  m.init(tb::tensor<int64_t>("s", tb::kInt64, {2}, {0, -1}));
  m.add({"Reshape", "", "rs", {"x", "s"}, {"y"}, {}});
  const lr::Tensor y = run1(m, {{"x", tensor({2, 3, 4}, iota8(24))}});
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(y.to_vector<int8_t>(), iota8(24));
}

TEST(Kernels, FlattenAxes) {
  for (auto [axis, expect] : std::vector<std::pair<int, std::vector<int64_t>>>{{0, {1, 24}}, {2, {6, 4}}, {-1, {6, 4}}, {3, {24, 1}}}) {
    tb::Model m;
    m.input("x", tb::kInt8, {2, 3, 4}).output("y", tb::kInt8, expect);
    m.add({"Flatten", "", "fl", {"x"}, {"y"}, {tb::attr_int("axis", axis)}});
    EXPECT_EQ(run1(m, {{"x", tensor({2, 3, 4}, iota8(24))}}).shape(), expect) << axis;
  }
}

TEST(Kernels, TransposePerm) {
  tb::Model m;
  m.input("x", tb::kInt8, {2, 3, 4}).output("y", tb::kInt8, {4, 2, 3});
  m.add({"Transpose", "", "tr", {"x"}, {"y"}, {tb::attr_ints("perm", {2, 0, 1})}});
  const lr::Tensor y = run1(m, {{"x", tensor({2, 3, 4}, iota8(24))}});
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(y.data<int8_t>()[(i * 2 + j) * 3 + k], (j * 3 + k) * 4 + i);
  tb::Model d;  // default: reversed axes, on int32
  d.input("x", tb::kInt32, {2, 3}).output("y", tb::kInt32, {3, 2});
  d.add({"Transpose", "", "tr", {"x"}, {"y"}, {}});
  EXPECT_EQ(run1(d, {{"x", tensor<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6})}}).to_vector<int32_t>(),
            (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
}

TEST(Kernels, SqueezeUnsqueezeBothOpsetForms) {
  for (int64_t opset : {11, 13}) {
    tb::Model m;
    m.opsets = {{"", opset}};
    m.input("x", tb::kInt8, {1, 3, 1, 2}).output("y", tb::kInt8, {3, 2, 1});
    std::vector<std::string> sq_in{"x"}, un_in{"s"};
    std::vector<std::string> sq_attr, un_attr;
    if (opset < 13) {
      sq_attr.push_back(tb::attr_ints("axes", {0, -2}));
      un_attr.push_back(tb::attr_ints("axes", {-1}));
    } else {
      m.init(tb::tensor<int64_t>("sa", tb::kInt64, {2}, {0, -2}));
      m.init(tb::tensor<int64_t>("ua", tb::kInt64, {1}, {-1}));
      sq_in.push_back("sa");
      un_in.push_back("ua");
    }
    m.add({"Squeeze", "", "sq", sq_in, {"s"}, sq_attr});
    m.add({"Unsqueeze", "", "un", un_in, {"y"}, un_attr});
    const lr::Tensor y = run1(m, {{"x", tensor({1, 3, 1, 2}, iota8(6))}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{3, 2, 1})) << opset;
    EXPECT_EQ(y.to_vector<int8_t>(), iota8(6));
  }
  tb::Model all;  // Squeeze without axes removes every 1
  all.input("x", tb::kInt8, {1, 3, 1}).output("y", tb::kInt8, {3});
  all.add({"Squeeze", "", "sq", {"x"}, {"y"}, {}});
  EXPECT_EQ(run1(all, {{"x", tensor({1, 3, 1}, iota8(3))}}).shape(), (std::vector<int64_t>{3}));
}

TEST(Kernels, SliceOnnxSemantics) {
  struct C {
    std::vector<int64_t> starts, ends, axes, steps, shape;
    std::vector<int8_t> expect;
  };
  // x = iota [3, 4]
  const C cases[] = {
      {{1}, {3}, {1}, {1}, {3, 2}, {1, 2, 5, 6, 9, 10}},
      {{-1}, {-100}, {0}, {-1}, {3, 4}, {8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3}},
      {{0, 3}, {100, -100}, {0, 1}, {2, -2}, {2, 2}, {3, 1, 11, 9}},
      {{2}, {1}, {1}, {1}, {3, 0}, {}},
      {{-3}, {INT64_MAX}, {-1}, {INT64_MAX}, {3, 1}, {1, 5, 9}},
      {{0}, {INT64_MIN}, {0}, {INT64_MIN}, {1, 4}, {0, 1, 2, 3}},
  };
  for (const C& c : cases) {
    tb::Model m;
    m.input("x", tb::kInt8, {3, 4}).output("y", tb::kInt8, c.shape);
    m.init(tb::tensor("st", tb::kInt64, {static_cast<int64_t>(c.starts.size())}, c.starts));
    m.init(tb::tensor("en", tb::kInt64, {static_cast<int64_t>(c.ends.size())}, c.ends));
    m.init(tb::tensor("ax", tb::kInt64, {static_cast<int64_t>(c.axes.size())}, c.axes));
    m.init(tb::tensor("sp", tb::kInt64, {static_cast<int64_t>(c.steps.size())}, c.steps));
    m.add({"Slice", "", "sl", {"x", "st", "en", "ax", "sp"}, {"y"}, {}});
    const lr::Tensor y = run1(m, {{"x", tensor({3, 4}, iota8(12))}});
    EXPECT_EQ(y.shape(), c.shape);
    EXPECT_EQ(y.to_vector<int8_t>(), c.expect);
  }
}

TEST(Kernels, GatherConcatCastShape) {
  {
    tb::Model m;
    m.input("x", tb::kInt8, {2, 3}).output("y", tb::kInt8, {2, 2, 2});
    m.init(tb::tensor<int32_t>("i", tb::kInt32, {2, 2}, {-1, 0, 1, 1}));
    m.add({"Gather", "", "g", {"x", "i"}, {"y"}, {tb::attr_int("axis", 1)}});
    EXPECT_EQ(run1(m, {{"x", tensor({2, 3}, iota8(6))}}).to_vector<int8_t>(), (std::vector<int8_t>{2, 0, 1, 1, 5, 3, 4, 4}));
  }
  {
    tb::Model m;  // indices out of range, known at load
    m.input("x", tb::kInt8, {2, 3}).output("y", tb::kInt8, {2});
    m.init(tb::tensor<int64_t>("i", tb::kInt64, {}, {3}));
    m.add({"Gather", "", "g", {"x", "i"}, {"y"}, {tb::attr_int("axis", 1)}});
    const std::string b = m.bytes();
    EXPECT_THROW(lr::Session::from_bytes(b.data(), b.size()), lr::ValidationError);
  }
  {
    tb::Model m;  // indices only known when run
    m.input("x", tb::kInt8, {4}).input("i", tb::kInt64, {2}).output("y", tb::kInt8, {2});
    m.add({"Gather", "", "gather_rt", {"x", "i"}, {"y"}, {}});
    EXPECT_EQ(run1(m, {{"x", tensor({4}, iota8(4))}, {"i", tensor<int64_t>({2}, {-4, 3})}}).to_vector<int8_t>(),
              (std::vector<int8_t>{0, 3}));
    try {
      run1(m, {{"x", tensor({4}, iota8(4))}, {"i", tensor<int64_t>({2}, {0, 4})}});
      FAIL();
    } catch (const lr::ExecutionError& e) {
      EXPECT_NE(std::string(e.what()).find("node 'gather_rt' (Gather)"), std::string::npos) << e.what();
    }
  }
  {
    tb::Model m;
    m.input("a", tb::kInt8, {2, 1}).input("b", tb::kInt8, {2, 2}).output("y", tb::kInt8, {2, 3});
    m.add({"Concat", "", "cat", {"a", "b"}, {"y"}, {tb::attr_int("axis", -1)}});
    EXPECT_EQ(run1(m, {{"a", tensor<int8_t>({2, 1}, {9, 8})}, {"b", tensor({2, 2}, iota8(4))}}).to_vector<int8_t>(),
              (std::vector<int8_t>{9, 0, 1, 8, 2, 3}));
  }
  {
    tb::Model m;  // Shape of a graph input (folded at load), Cast, Identity
    m.input("x", tb::kInt8, {2, 5, 7}).output("y", tb::kInt64, {3});
    m.add({"Shape", "", "sh", {"x"}, {"s"}, {}});
    m.add({"Cast", "", "ca", {"s"}, {"c"}, {tb::attr_int("to", 7)}});
    m.add({"Identity", "", "id", {"c"}, {"y"}, {}});
    EXPECT_EQ(run1(m, {{"x", lr::Tensor(lr::DType::kInt8, {2, 5, 7})}}).to_vector<int64_t>(), (std::vector<int64_t>{2, 5, 7}));
  }
  {
    tb::Model m;
    m.input("x", tb::kInt16, {3}).output("y", tb::kInt64, {3});
    m.add({"Cast", "", "ca", {"x"}, {"y"}, {tb::attr_int("to", 7)}});
    EXPECT_EQ(run1(m, {{"x", tensor<int16_t>({3}, {-5, 0, 300})}}).to_vector<int64_t>(), (std::vector<int64_t>{-5, 0, 300}));
  }
}

TEST(Kernels, ConstantForms) {
  tb::Model m;
  m.input("x", tb::kInt8, {2, 3}).output("y", tb::kInt8, {3, 2});
  m.add({"Constant", "", "k", {}, {"s"}, {tb::attr_ints("value_ints", {3, 2})}});
  m.add({"Reshape", "", "rs", {"x", "s"}, {"y"}, {}});
  EXPECT_EQ(run1(m, {{"x", tensor({2, 3}, iota8(6))}}).shape(), (std::vector<int64_t>{3, 2}));
  tb::Model t;
  t.input("x", tb::kInt8, {2, 3}).output("y", tb::kInt8, {6});
  t.add({"Constant", "", "k", {}, {"s"}, {tb::attr_tensor("value", tb::tensor<int64_t>("", tb::kInt64, {1}, {-1}))}});
  t.add({"Reshape", "", "rs", {"x", "s"}, {"y"}, {}});
  EXPECT_EQ(run1(t, {{"x", tensor({2, 3}, iota8(6))}}).shape(), (std::vector<int64_t>{6}));
}
