// The float32 standard ops of a switched-off linger op (graph/std_ops.inc "Float ops"; kernels/float_*.cc):
// Add/Sub/Mul/Div (numpy broadcasting), Sigmoid/Tanh/Exp/Log/Sqrt/Neg/Abs, Softmax/LogSoftmax (opset 12 2-D
// coercion vs opset 13 single axis), ReduceSum/ReduceMean/ReduceProd (axes attribute vs input), MatMul (batch
// broadcasting, 1-D operands), Clip (optional min/max inputs) and torch's var decomposition, against
// hand-computed values; malformed nodes are rejected at load with a ValidationError naming node and rule.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "linger/runtime/runtime.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;

namespace {

lr::Session load(const tb::Model& m) {
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size());
}

void expect_invalid(const tb::Model& m, const std::string& where, const std::string& rule) {
  try {
    load(m);
    ADD_FAILURE() << "model loaded, expected rule '" << rule << "'";
  } catch (const lr::ValidationError& e) {
    EXPECT_EQ(e.rule(), rule) << e.what();
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << "message lacks \"" << where << "\": " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected error type: " << e.what();
  }
}

// A model of one standard node `op` (named "n") reading graph inputs x0, x1, ... and initializers, writing y
// (declared with x0's element type).
struct OneNode {
  tb::Model m;
  tb::Node node;
  OneNode(const std::string& op, int64_t opset, std::vector<std::pair<int, std::vector<int64_t>>> inputs,
          std::vector<std::string> attrs = {}, std::vector<std::string> extra_inputs = {}) {
    m.opsets = {{"", opset}, {"thinker", 1}};
    node = {op, "", "n", {}, {"y"}, attrs};
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string name = "x" + std::to_string(i);
      m.input(name, inputs[i].first, inputs[i].second);
      node.in.push_back(name);
    }
    for (const std::string& e : extra_inputs) node.in.push_back(e);
    m.outputs.push_back(tb::value_info("y", inputs.empty() ? tb::kFloat : inputs[0].first, {}, false));
  }
  tb::Model model() const {
    tb::Model r = m;
    r.add(node);
    return r;
  }
};

lr::Tensor F(std::vector<int64_t> shape, std::vector<float> v) { return lr::Tensor::from_vector<float>(shape, v); }

lr::Tensor run1(const tb::Model& m, std::map<std::string, lr::Tensor> feeds) { return load(m).run(feeds).at(0); }

}  // namespace

// ------------------------------------------------------------------ Add / Sub / Mul / Div

TEST(FloatKernels, BinaryBroadcastsLikeNumpy) {
  {  // [2,3] + [3]
    OneNode t("Add", 12, {{tb::kFloat, {2, 3}}, {tb::kFloat, {3}}});
    const lr::Tensor y = run1(t.model(), {{"x0", F({2, 3}, {1, 2, 3, 4, 5, 6})}, {"x1", F({3}, {10, 20, 30})}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{11, 22, 33, 14, 25, 36}));
  }
  {  // [2,1,3] - [4,1] -> [2,4,3]
    OneNode t("Sub", 13, {{tb::kFloat, {2, 1, 3}}, {tb::kFloat, {4, 1}}});
    const lr::Tensor y =
        run1(t.model(), {{"x0", F({2, 1, 3}, {1, 2, 3, 4, 5, 6})}, {"x1", F({4, 1}, {0, 1, 2, 3})}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 4, 3}));
    std::vector<float> expect;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 4; ++b)
        for (int c = 0; c < 3; ++c) expect.push_back(static_cast<float>(a * 3 + c + 1 - b));
    EXPECT_EQ(y.to_vector<float>(), expect);
  }
  {  // scalar (rank 0) * [4], and [4] / [1]
    OneNode t("Mul", 12, {{tb::kFloat, {}}, {tb::kFloat, {4}}});
    EXPECT_EQ(run1(t.model(), {{"x0", F({}, {0.5f})}, {"x1", F({4}, {1, -2, 3, 0.25f})}}).to_vector<float>(),
              (std::vector<float>{0.5f, -1, 1.5f, 0.125f}));
    OneNode d("Div", 12, {{tb::kFloat, {4}}, {tb::kFloat, {1}}});
    const std::vector<float> y = run1(d.model(), {{"x0", F({4}, {1, -3, 0, 7})}, {"x1", F({1}, {3})}}).to_vector<float>();
    EXPECT_EQ(y, (std::vector<float>{1.0f / 3.0f, -1.0f, 0.0f, 7.0f / 3.0f}));  // one IEEE division each
  }
  {  // division by zero follows IEEE (inf, NaN), like torch
    OneNode d("Div", 12, {{tb::kFloat, {3}}, {tb::kFloat, {3}}});
    const std::vector<float> y = run1(d.model(), {{"x0", F({3}, {1, -1, 0})}, {"x1", F({3}, {0, 0, 0})}}).to_vector<float>();
    EXPECT_EQ(y[0], std::numeric_limits<float>::infinity());
    EXPECT_EQ(y[1], -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(y[2]));
  }
  {  // int64 shape arithmetic
    OneNode t("Mul", 13, {{tb::kInt64, {2}}, {tb::kInt64, {}}});
    const lr::Tensor y = load(t.model()).run({{"x0", lr::Tensor::from_vector<int64_t>({2}, {3, -4})},
                                               {"x1", lr::Tensor::from_vector<int64_t>({}, {5})}}).at(0);
    EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{15, -20}));
  }
}

TEST(FloatKernels, BinaryRejectsBadInputs) {
  expect_invalid(OneNode("Add", 12, {{tb::kFloat, {2, 3}}, {tb::kFloat, {4}}}).model(), "node 'n' (Add)", "shape");
  expect_invalid(OneNode("Mul", 12, {{tb::kFloat, {2}}, {tb::kInt64, {2}}}).model(), "node 'n' (Mul)", "dtype");
  expect_invalid(OneNode("Sub", 12, {{tb::kInt8, {2}}, {tb::kInt8, {2}}}).model(), "node 'n' (Sub)", "dtype");
  expect_invalid(OneNode("Div", 12, {{tb::kInt64, {2}}, {tb::kInt64, {2}}}).model(), "node 'n' (Div)", "dtype");
  expect_invalid(OneNode("Add", 12, {{tb::kFloat, {2}}}).model(), "node 'n' (Add)", "input-count");
}

// ------------------------------------------------------------------ elementwise functions

TEST(FloatKernels, UnaryFunctions) {
  const std::vector<float> x = {-3.5f, -1.0f, 0.0f, 0.25f, 2.0f, 9.0f};
  auto run_op = [&](const std::string& op, const std::vector<float>& in) {
    return run1(OneNode(op, 12, {{tb::kFloat, {static_cast<int64_t>(in.size())}}}).model(),
                {{"x0", F({static_cast<int64_t>(in.size())}, in)}})
        .to_vector<float>();
  };
  std::vector<float> sig, th, ex, neg, ab;
  for (float v : x) {
    const float e = std::exp(-v);  // torch's float formula: 1 / (1 + exp(-x)), each step rounded to float
    const float d = 1.0f + e;
    sig.push_back(1.0f / d);
    th.push_back(std::tanh(v));
    ex.push_back(std::exp(v));
    neg.push_back(-v);
    ab.push_back(std::fabs(v));
  }
  EXPECT_EQ(run_op("Sigmoid", x), sig);
  EXPECT_EQ(run_op("Sigmoid", {0.0f})[0], 0.5f);
  EXPECT_EQ(run_op("Tanh", x), th);
  EXPECT_EQ(run_op("Tanh", {0.0f})[0], 0.0f);
  EXPECT_EQ(run_op("Exp", x), ex);
  EXPECT_EQ(run_op("Exp", {0.0f})[0], 1.0f);
  EXPECT_EQ(run_op("Neg", x), neg);
  EXPECT_EQ(run_op("Abs", x), ab);
  EXPECT_EQ(run_op("Sqrt", {0.0f, 0.25f, 4.0f, 2.0f}), (std::vector<float>{0.0f, 0.5f, 2.0f, std::sqrt(2.0f)}));
  EXPECT_EQ(run_op("Log", {1.0f, 0.5f, 4.0f}), (std::vector<float>{0.0f, std::log(0.5f), std::log(4.0f)}));
  // saturation ends of the sigmoid
  const std::vector<float> ends = run_op("Sigmoid", {-200.0f, 200.0f});
  EXPECT_EQ(ends, (std::vector<float>{0.0f, 1.0f}));
  expect_invalid(OneNode("Sigmoid", 12, {{tb::kInt8, {3}}}).model(), "node 'n' (Sigmoid)", "dtype");
  expect_invalid(OneNode("Tanh", 12, {{tb::kInt64, {3}}}).model(), "node 'n' (Tanh)", "dtype");
}

// ------------------------------------------------------------------ Softmax / LogSoftmax

TEST(FloatKernels, SoftmaxAxisFollowsTheOpset) {
  // x [2,2,3] of zeros: opset 12 axis 1 normalises each batch's 6 values together (2-D coercion),
  // opset 13 axis 1 normalises pairs along dim 1.
  const lr::Tensor zeros = F({2, 2, 3}, std::vector<float>(12, 0.0f));
  auto softmax = [&](const std::string& op, int64_t opset, std::vector<std::string> attrs) {
    return run1(OneNode(op, opset, {{tb::kFloat, {2, 2, 3}}}, attrs).model(), {{"x0", zeros}}).to_vector<float>();
  };
  EXPECT_EQ(softmax("Softmax", 12, {tb::attr_int("axis", 1)}), std::vector<float>(12, 1.0f / 6.0f));
  EXPECT_EQ(softmax("Softmax", 13, {tb::attr_int("axis", 1)}), std::vector<float>(12, 0.5f));
  // defaults: axis 1 before opset 13, -1 from 13 on
  EXPECT_EQ(softmax("Softmax", 12, {}), std::vector<float>(12, 1.0f / 6.0f));
  EXPECT_EQ(softmax("Softmax", 13, {}), std::vector<float>(12, 1.0f / 3.0f));
  EXPECT_EQ(softmax("Softmax", 12, {tb::attr_int("axis", 0)}), std::vector<float>(12, 1.0f / 12.0f));
  EXPECT_EQ(softmax("LogSoftmax", 12, {tb::attr_int("axis", 1)}), std::vector<float>(12, -std::log(6.0f)));
  EXPECT_EQ(softmax("LogSoftmax", 13, {tb::attr_int("axis", 1)}), std::vector<float>(12, -std::log(2.0f)));
  EXPECT_EQ(softmax("LogSoftmax", 14, {tb::attr_int("axis", -2)}), std::vector<float>(12, -std::log(2.0f)));

  // values: rows [0, ln 3] -> [1/4, 3/4] (up to the float rounding of ln 3 and exp)
  const float l3 = std::log(3.0f);
  const std::vector<float> y =
      run1(OneNode("Softmax", 13, {{tb::kFloat, {2, 2}}}).model(), {{"x0", F({2, 2}, {0.0f, l3, l3, 0.0f})}})
          .to_vector<float>();
  ASSERT_EQ(y.size(), 4u);
  EXPECT_NEAR(y[0], 0.25f, 1e-7f);
  EXPECT_NEAR(y[1], 0.75f, 1e-7f);
  EXPECT_NEAR(y[2], 0.75f, 1e-7f);
  EXPECT_NEAR(y[3], 0.25f, 1e-7f);
  // large inputs do not overflow (the row maximum is subtracted first)
  const std::vector<float> big =
      run1(OneNode("LogSoftmax", 13, {{tb::kFloat, {2}}}).model(), {{"x0", F({2}, {1000.0f, 1000.0f})}}).to_vector<float>();
  EXPECT_EQ(big, (std::vector<float>{-std::log(2.0f), -std::log(2.0f)}));
  // along a middle axis with distinct values, against a double reference
  std::vector<float> xs(24);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>((static_cast<int>(i) * 37) % 11 - 5) * 0.25f;
  const std::vector<float> mid =
      run1(OneNode("Softmax", 13, {{tb::kFloat, {2, 3, 4}}}, {tb::attr_int("axis", 1)}).model(), {{"x0", F({2, 3, 4}, xs)}})
          .to_vector<float>();
  for (int a = 0; a < 2; ++a)
    for (int c = 0; c < 4; ++c) {
      double s = 0;
      for (int b = 0; b < 3; ++b) s += std::exp(static_cast<double>(xs[static_cast<size_t>(a * 12 + b * 4 + c)]));
      for (int b = 0; b < 3; ++b) {
        const size_t i = static_cast<size_t>(a * 12 + b * 4 + c);
        EXPECT_NEAR(mid[i], std::exp(static_cast<double>(xs[i])) / s, 2e-7);
      }
    }
}

TEST(FloatKernels, SoftmaxRejectsBadNodes) {
  expect_invalid(OneNode("Softmax", 13, {{tb::kFloat, {2, 3}}}, {tb::attr_int("axis", 2)}).model(), "node 'n' (Softmax)",
                 "attribute-value");
  expect_invalid(OneNode("LogSoftmax", 12, {{tb::kFloat, {2, 3}}}, {tb::attr_int("axis", -3)}).model(),
                 "node 'n' (LogSoftmax)", "attribute-value");
  expect_invalid(OneNode("Softmax", 13, {{tb::kInt8, {2, 3}}}).model(), "node 'n' (Softmax)", "dtype");
  expect_invalid(OneNode("Softmax", 13, {{tb::kFloat, {}}}).model(), "node 'n' (Softmax)", "shape");
  expect_invalid(OneNode("Softmax", 13, {{tb::kFloat, {2}}}, {tb::attr_float("axis", 0.0f)}).model(),
                 "node 'n' (Softmax)", "attribute-type");
}

// ------------------------------------------------------------------ ReduceSum / ReduceMean / ReduceProd

TEST(FloatKernels, ReduceAxesAttributeBeforeOpset13InputFrom13) {
  // x [2,3,2] = 0..11
  std::vector<float> x(12);
  for (size_t i = 0; i < 12; ++i) x[i] = static_cast<float>(i);
  const lr::Tensor xt = F({2, 3, 2}, x);
  {  // opset 12: axes attribute, keepdims default 1
    const lr::Tensor y = run1(OneNode("ReduceSum", 12, {{tb::kFloat, {2, 3, 2}}}, {tb::attr_ints("axes", {1})}).model(),
                              {{"x0", xt}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 1, 2}));
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{6, 9, 24, 27}));
  }
  {  // opset 13: axes input (negative axes), keepdims 0
    OneNode t("ReduceSum", 13, {{tb::kFloat, {2, 3, 2}}}, {tb::attr_int("keepdims", 0)}, {"axes"});
    t.m.init(tb::tensor<int64_t>("axes", tb::kInt64, {2}, {-1, 0}));
    const lr::Tensor y = run1(t.model(), {{"x0", xt}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{3}));
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11}));
  }
  {  // no axes: every axis; opset 13 noop_with_empty_axes = 1: the identity
    const lr::Tensor all =
        run1(OneNode("ReduceSum", 13, {{tb::kFloat, {2, 3, 2}}}, {tb::attr_int("keepdims", 0)}).model(), {{"x0", xt}});
    EXPECT_TRUE(all.shape().empty());
    EXPECT_EQ(all.to_vector<float>(), (std::vector<float>{66}));
    const lr::Tensor same =
        run1(OneNode("ReduceSum", 13, {{tb::kFloat, {2, 3, 2}}}, {tb::attr_int("noop_with_empty_axes", 1)}).model(),
             {{"x0", xt}});
    EXPECT_EQ(same.shape(), (std::vector<int64_t>{2, 3, 2}));
    EXPECT_EQ(same.to_vector<float>(), x);
  }
  {  // ReduceMean (axes stay an attribute up to opset 17): sum / count
    const lr::Tensor y = run1(OneNode("ReduceMean", 13, {{tb::kFloat, {2, 3, 2}}},
                                      {tb::attr_ints("axes", {0, 2}), tb::attr_int("keepdims", 0)})
                                  .model(),
                              {{"x0", xt}});
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{14.0f / 4, 22.0f / 4, 30.0f / 4}));
    const lr::Tensor third =
        run1(OneNode("ReduceMean", 12, {{tb::kFloat, {3}}}).model(), {{"x0", F({3}, {1, 0, 0})}});
    EXPECT_EQ(third.to_vector<float>(), (std::vector<float>{1.0f / 3.0f}));
  }
  {  // ReduceProd on float and on int64
    const lr::Tensor y = run1(OneNode("ReduceProd", 12, {{tb::kFloat, {2, 3, 2}}}, {tb::attr_ints("axes", {2})}).model(),
                              {{"x0", xt}});
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0, 6, 20, 42, 72, 110}));
    const lr::Tensor p = load(OneNode("ReduceProd", 12, {{tb::kInt64, {3}}}, {tb::attr_int("keepdims", 0)}).model())
                             .run({{"x0", lr::Tensor::from_vector<int64_t>({3}, {2, 3, 7})}})
                             .at(0);
    EXPECT_EQ(p.to_vector<int64_t>(), (std::vector<int64_t>{42}));
  }
  {  // the sum of many dequantized codes is exact (accumulated in double, rounded once)
    std::vector<float> codes(1000);
    double s = 0;
    for (size_t i = 0; i < codes.size(); ++i) {
      codes[i] = std::ldexp(static_cast<float>(static_cast<int>(i * 7919 % 255) - 127), -5);
      s += codes[i];
    }
    const lr::Tensor y = run1(OneNode("ReduceSum", 12, {{tb::kFloat, {1000}}}, {tb::attr_int("keepdims", 0)}).model(),
                              {{"x0", F({1000}, codes)}});
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{static_cast<float>(s)}));
  }
}

TEST(FloatKernels, ReduceRejectsBadNodes) {
  // opset 13 ReduceSum: axes is an input, not an attribute
  expect_invalid(OneNode("ReduceSum", 13, {{tb::kFloat, {2, 3}}}, {tb::attr_ints("axes", {1})}).model(),
                 "node 'n' (ReduceSum)", "attribute-unknown");
  {  // opset 12: axes is an attribute, not an input
    OneNode t("ReduceSum", 12, {{tb::kFloat, {2, 3}}}, {}, {"axes"});
    t.m.init(tb::tensor<int64_t>("axes", tb::kInt64, {1}, {1}));
    expect_invalid(t.model(), "node 'n' (ReduceSum)", "input-count");
  }
  {  // opset 13: the axes input must be known at load
    OneNode t("ReduceSum", 13, {{tb::kFloat, {2, 3}}, {tb::kInt64, {1}}});
    expect_invalid(t.model(), "node 'n' (ReduceSum)", "constant-input");
  }
  expect_invalid(OneNode("ReduceMean", 12, {{tb::kFloat, {2, 3}}}, {tb::attr_ints("axes", {1, -1})}).model(),
                 "node 'n' (ReduceMean)", "attribute-value");  // repeated
  expect_invalid(OneNode("ReduceMean", 12, {{tb::kFloat, {2, 3}}}, {tb::attr_ints("axes", {2})}).model(),
                 "node 'n' (ReduceMean)", "attribute-value");  // out of range
  expect_invalid(OneNode("ReduceProd", 12, {{tb::kFloat, {2, 3}}}, {tb::attr_int("keepdims", 2)}).model(),
                 "node 'n' (ReduceProd)", "attribute-value");
  expect_invalid(OneNode("ReduceMean", 12, {{tb::kInt64, {2, 3}}}).model(), "node 'n' (ReduceMean)", "dtype");
  expect_invalid(OneNode("ReduceSum", 12, {{tb::kFloat, {2, 3}}}, {tb::attr_int("noop_with_empty_axes", 1)}).model(),
                 "node 'n' (ReduceSum)", "attribute-unknown");
}

// ------------------------------------------------------------------ MatMul

TEST(FloatKernels, MatMulNumpySemantics) {
  {  // [2,3] x [3,2]
    const lr::Tensor y = run1(OneNode("MatMul", 12, {{tb::kFloat, {2, 3}}, {tb::kFloat, {3, 2}}}).model(),
                              {{"x0", F({2, 3}, {1, 2, 3, 4, 5, 6})}, {"x1", F({3, 2}, {1, 0, 0, 1, 1, -1})}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{4, -1, 10, -1}));
  }
  {  // batch broadcast: [2,1,1,2] x [3,2,1] -> [2,3,1,1]
    const lr::Tensor y = run1(OneNode("MatMul", 13, {{tb::kFloat, {2, 1, 1, 2}}, {tb::kFloat, {3, 2, 1}}}).model(),
                              {{"x0", F({2, 1, 1, 2}, {1, 2, 3, 4})}, {"x1", F({3, 2, 1}, {1, 0, 0, 1, 1, 1})}});
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 3, 1, 1}));
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 2, 3, 3, 4, 7}));
  }
  {  // 1-D operands: [3] x [3,2] -> [2]; [2,3] x [3] -> [2]; [3] x [3] -> []
    const lr::Tensor a = run1(OneNode("MatMul", 12, {{tb::kFloat, {3}}, {tb::kFloat, {3, 2}}}).model(),
                              {{"x0", F({3}, {1, 2, 3})}, {"x1", F({3, 2}, {1, 0, 0, 1, 1, -1})}});
    EXPECT_EQ(a.shape(), (std::vector<int64_t>{2}));
    EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{4, -1}));
    const lr::Tensor b = run1(OneNode("MatMul", 12, {{tb::kFloat, {2, 3}}, {tb::kFloat, {3}}}).model(),
                              {{"x0", F({2, 3}, {1, 2, 3, 4, 5, 6})}, {"x1", F({3}, {1, 1, -1})}});
    EXPECT_EQ(b.shape(), (std::vector<int64_t>{2}));
    EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{0, 3}));
    const lr::Tensor c = run1(OneNode("MatMul", 12, {{tb::kFloat, {3}}, {tb::kFloat, {3}}}).model(),
                              {{"x0", F({3}, {1, 2, 3})}, {"x1", F({3}, {4, 5, 6})}});
    EXPECT_TRUE(c.shape().empty());
    EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{32}));
  }
  {  // products of dequantized codes sum exactly: K = 512 codes of 2^-7 x 2^-3
    std::vector<float> a(512), b(512);
    double s = 0;
    for (size_t i = 0; i < 512; ++i) {
      a[i] = std::ldexp(static_cast<float>(static_cast<int>(i * 31 % 255) - 127), -7);
      b[i] = std::ldexp(static_cast<float>(static_cast<int>(i * 17 % 255) - 127), -3);
      s += static_cast<double>(a[i]) * b[i];
    }
    const lr::Tensor y = run1(OneNode("MatMul", 12, {{tb::kFloat, {1, 512}}, {tb::kFloat, {512, 1}}}).model(),
                              {{"x0", F({1, 512}, a)}, {"x1", F({512, 1}, b)}});
    EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{static_cast<float>(s)}));
    EXPECT_EQ(static_cast<double>(static_cast<float>(s)), s);  // exact in float32
  }
  expect_invalid(OneNode("MatMul", 12, {{tb::kFloat, {2, 3}}, {tb::kFloat, {4, 2}}}).model(), "node 'n' (MatMul)", "shape");
  expect_invalid(OneNode("MatMul", 12, {{tb::kFloat, {2, 2, 3}}, {tb::kFloat, {3, 3, 2}}}).model(), "node 'n' (MatMul)",
                 "shape");
  expect_invalid(OneNode("MatMul", 12, {{tb::kFloat, {}}, {tb::kFloat, {3}}}).model(), "node 'n' (MatMul)", "shape");
  expect_invalid(OneNode("MatMul", 12, {{tb::kInt8, {2, 3}}, {tb::kInt8, {3, 2}}}).model(), "node 'n' (MatMul)", "dtype");
}

// ------------------------------------------------------------------ Clip

TEST(FloatKernels, ClipOptionalBounds) {
  const lr::Tensor x = F({5}, {-2.0f, -0.3f, 0.0f, 0.5f, 3.0f});
  {
    OneNode t("Clip", 12, {{tb::kFloat, {5}}}, {}, {"lo", "hi"});
    t.m.init(tb::tensor<float>("lo", tb::kFloat, {}, {-0.3f}));
    t.m.init(tb::tensor<float>("hi", tb::kFloat, {}, {0.55f}));
    EXPECT_EQ(run1(t.model(), {{"x0", x}}).to_vector<float>(), (std::vector<float>{-0.3f, -0.3f, 0.0f, 0.5f, 0.55f}));
  }
  {  // min only (torch: clamp(min=0.0) writes Clip(x, min, ""))
    OneNode t("Clip", 12, {{tb::kFloat, {5}}}, {}, {"lo", ""});
    t.m.init(tb::tensor<float>("lo", tb::kFloat, {}, {0.0f}));
    EXPECT_EQ(run1(t.model(), {{"x0", x}}).to_vector<float>(), (std::vector<float>{0.0f, 0.0f, 0.0f, 0.5f, 3.0f}));
  }
  {  // max only
    OneNode t("Clip", 13, {{tb::kFloat, {5}}}, {}, {"", "hi"});
    t.m.init(tb::tensor<float>("hi", tb::kFloat, {1}, {0.2f}));
    EXPECT_EQ(run1(t.model(), {{"x0", x}}).to_vector<float>(), (std::vector<float>{-2.0f, -0.3f, 0.0f, 0.2f, 0.2f}));
  }
  {  // neither: the identity; min > max gives max (torch's clamp)
    EXPECT_EQ(run1(OneNode("Clip", 12, {{tb::kFloat, {5}}}).model(), {{"x0", x}}).to_vector<float>(), x.to_vector<float>());
    OneNode t("Clip", 12, {{tb::kFloat, {5}}}, {}, {"lo", "hi"});
    t.m.init(tb::tensor<float>("lo", tb::kFloat, {}, {1.0f}));
    t.m.init(tb::tensor<float>("hi", tb::kFloat, {}, {-1.0f}));
    EXPECT_EQ(run1(t.model(), {{"x0", x}}).to_vector<float>(), std::vector<float>(5, -1.0f));
  }
  {  // a non-scalar bound, an integer bound
    OneNode t("Clip", 12, {{tb::kFloat, {5}}}, {}, {"lo"});
    t.m.init(tb::tensor<float>("lo", tb::kFloat, {2}, {0.0f, 1.0f}));
    expect_invalid(t.model(), "node 'n' (Clip)", "shape");
    OneNode u("Clip", 12, {{tb::kFloat, {5}}}, {}, {"lo"});
    u.m.init(tb::tensor<int64_t>("lo", tb::kInt64, {}, {0}));
    expect_invalid(u.model(), "node 'n' (Clip)", "dtype");
  }
  // int8 Clip (linger 1.x ReLU6Int) needs int8 constant bounds: tests/runtime/test_table_resize_kernels.cc
  expect_invalid(OneNode("Clip", 12, {{tb::kInt8, {5}}}).model(), "node 'n' (Clip)", "constant-input");
  expect_invalid(OneNode("Clip", 12, {{tb::kInt16, {5}}}).model(), "node 'n' (Clip)", "dtype");
}

// ------------------------------------------------------------------ torch.var as torch exports it

// torch 1.13 writes a switched-off torch.var(x, 1) (unbiased) at opset 12 as
//   mean = ReduceMean(x, axes [1], keepdims 1); n = ReduceProd(Gather(Shape(x), [1]), keepdims 0)
//   v = ReduceMean((x - mean) * (x - mean), axes [1], keepdims 0) * Cast(n) / (Cast(n) - 1)
// between a Dequant and a Quant; the shape branch is folded at load.
TEST(FloatKernels, TorchVarDecompositionRunsWithQuantDequant) {
  tb::Model m;
  m.input("x", tb::kInt8, {2, 4}).output("y", tb::kInt8, {2});
  m.init(tb::tensor<int64_t>("dim", tb::kInt64, {1}, {1}));
  m.init(tb::tensor<float>("one", tb::kFloat, {}, {1.0f}));
  m.add({"Dequant", "thinker", "dq", {"x"}, {"xf"}, {tb::attr_float("scale_o", 4.0f)}});
  m.add({"ReduceMean", "", "mean", {"xf"}, {"mu"}, {tb::attr_ints("axes", {1}), tb::attr_int("keepdims", 1)}});
  m.add({"Shape", "", "shape", {"xf"}, {"s"}, {}});
  m.add({"Gather", "", "gather", {"s", "dim"}, {"sd"}, {tb::attr_int("axis", 0)}});
  m.add({"ReduceProd", "", "count", {"sd"}, {"n"}, {tb::attr_int("keepdims", 0)}});
  m.add({"Sub", "", "centre", {"xf", "mu"}, {"c"}, {}});
  m.add({"Mul", "", "square", {"c", "c"}, {"c2"}, {}});
  m.add({"ReduceMean", "", "mean2", {"c2"}, {"v0"}, {tb::attr_ints("axes", {1}), tb::attr_int("keepdims", 0)}});
  m.add({"Cast", "", "nf", {"n"}, {"nfl"}, {tb::attr_int("to", tb::kFloat)}});
  m.add({"Mul", "", "times_n", {"v0", "nfl"}, {"v1"}, {}});
  m.add({"Sub", "", "n_minus_1", {"nfl", "one"}, {"nm1"}, {}});
  m.add({"Div", "", "unbiased", {"v1", "nm1"}, {"v"}, {}});
  m.add({"Quant", "thinker", "q", {"v"}, {"y"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 8.0f)}});
  // rows (codes at 2^-2): [4, 8, 12, 16] -> 1, 2, 3, 4: var 5/3 -> code floor(5/3 * 8 + 1/2) = 13;
  //                       [0, 0, 0, 8]   -> 0, 0, 0, 2: var 1   -> code 8
  const lr::Tensor y = load(m).run({{"x", lr::Tensor::from_vector<int8_t>({2, 4}, {4, 8, 12, 16, 0, 0, 0, 8})}}).at(0);
  EXPECT_EQ(y.to_vector<int8_t>(), (std::vector<int8_t>{13, 8}));
}
