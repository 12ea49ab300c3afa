// The issue-8 kernels through the Session: LayerNormInt, GroupNormInt, AdaptiveAvgPool2dInt,
// EmbeddingInt (thinker Gather), iqMean and BatchNorm2dInt on [N, C] / [N, C, L]. Small models
// whose expected outputs are worked out by hand in the comments (not by the numerics functions the
// kernels call), and the load-time rules: each malformed model throws a ValidationError naming the
// node and the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "linger/runtime/runtime.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;

namespace {

using Shape = std::vector<int64_t>;

float p2(int q) { return std::ldexp(1.0f, q); }

lr::Session load(const tb::Model& m) {
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), lr::SessionOptions());
}

void expect_invalid(const tb::Model& m, const std::string& where, const std::string& rule, const std::string& detail) {
  try {
    load(m);
    ADD_FAILURE() << "model loaded, expected rule '" << rule << "' at " << where;
  } catch (const lr::ValidationError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.rule(), rule) << msg;
    EXPECT_NE(msg.find(where), std::string::npos) << msg;
    EXPECT_NE(msg.find(detail), std::string::npos) << msg;
  }
}

tb::Model norm_model(const std::string& op, const Shape& x, const Shape& w, const std::vector<int16_t>& g,
                     const std::vector<int32_t>& b, int64_t eps_q, int qw, int qo, int64_t groups = 0) {
  tb::Model m;
  m.input("x", tb::kInt8, x).output("y", tb::kInt8, x);
  m.init(tb::tensor("W", tb::kInt16, w, g)).init(tb::tensor("B", tb::kInt32, w, b));
  std::vector<std::string> attrs = {tb::attr_float("scale_x", p2(0)), tb::attr_float("scale_w", p2(qw)),
                                    tb::attr_float("scale_o", p2(qo)), tb::attr_int("eps_q", eps_q)};
  if (groups) attrs.push_back(tb::attr_int("num_groups", groups));
  m.add({op, "thinker", "ln", {"x", "W", "B"}, {"y"}, attrs});
  return m;
}

}  // namespace

TEST(NormPoolKernels, LayerNormIntByHand) {
  // row {3, -1, -1, -1}: T = 4, S1 = 0, S2 = 12, D = 48; F = (62 - 6) / 2 = 28 -> 24, r = floor(sqrt(48) 2^24);
  // n = round((4x - 0) 2^34 / r) = round(4x 1024 / sqrt(48)): x = 3 -> 1773.6 -> 1774, x = -1 -> -591.2 -> -591.
  // gamma = 1024 at Qw = 10, beta = 0: acc = n 1024, shift 10 + 10 - 4 = 16: y = rhu(n / 64): 27.7 -> 28, -9.2 -> -9
  tb::Model m = norm_model("LayerNormInt", {1, 4}, {4}, {1024, 1024, 1024, 1024}, {0, 0, 0, 0}, 0, 10, 4);
  lr::Session s = load(m);
  const auto y = s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 4}, {3, -1, -1, -1})}}).at(0).to_vector<int8_t>();
  EXPECT_EQ(y, (std::vector<int8_t>{28, -9, -9, -9}));
}

TEST(NormPoolKernels, GroupNormIntByHand) {
  // x [1, 4, 1]: groups of 2 channels {2, -2} and {5, 5}. Group 0: T = 2, S1 = 0, S2 = 8, D = 16, n = +-1024;
  // gamma 1024 / 2048 at Qw = 10, shift 10 + 10 - 0 = 20: y = +1, -2. Group 1: D = 0 (no eps) -> n = 0 -> beta:
  // beta = 3 << 20 -> 3.
  tb::Model m = norm_model("GroupNormInt", {1, 4, 1}, {4}, {1024, 2048, 1, 1}, {0, 0, 3 << 20, 3 << 20}, 0, 10, 0, 2);
  lr::Session s = load(m);
  const auto y = s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 4, 1}, {2, -2, 5, 5})}}).at(0).to_vector<int8_t>();
  EXPECT_EQ(y, (std::vector<int8_t>{1, -2, 3, 3}));
}

TEST(NormPoolKernels, AdaptiveAvgPoolAndIqMeanAndEmbeddingByHand) {
  {  // [1, 1, 1, 2] -> (1, 3) (larger than the input): column windows [0, 1), [0, 2), [1, 2): 5, (5 - 2)/2 = 1.5
     // -> 2, -2
    tb::Model m;
    m.input("x", tb::kInt8, {1, 1, 1, 2}).output("y", tb::kInt8, {1, 1, 1, 3});
    m.add({"AdaptiveAvgPool2dInt", "thinker", "ap", {"x"}, {"y"},
           {tb::attr_ints("output_size", {1, 3}), tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_o", 8.0f)}});
    lr::Session s = load(m);
    EXPECT_EQ(s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 1, 1, 2}, {5, -2})}}).at(0).to_vector<int8_t>(),
              (std::vector<int8_t>{5, 2, -2}));
  }
  {  // [1, 1, 3, 1] -> (2, 1): windows rows [0, 2) and [1, 3): (1 + 0)/2 = 0.5 -> 1, (0 - 1)/2 = -0.5 -> 0
    tb::Model m;
    m.input("x", tb::kInt8, {1, 1, 3, 1}).output("y", tb::kInt8, {1, 1, 2, 1});
    m.add({"AdaptiveAvgPool2dInt", "thinker", "ap", {"x"}, {"y"},
           {tb::attr_ints("output_size", {2, 1}), tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_o", 8.0f)}});
    lr::Session s = load(m);
    EXPECT_EQ(s.run({{"x", lr::Tensor::from_vector<int8_t>({1, 1, 3, 1}, {1, 0, -1})}}).at(0).to_vector<int8_t>(),
              (std::vector<int8_t>{1, 0}));
  }
  {  // iqMean over dim 1 of [2, 3]: {127, 127, 126} -> 126.67 -> 127; {-3, 0, 0} -> -1
    tb::Model m;
    m.input("x", tb::kInt8, {2, 3}).output("y", tb::kInt8, {2});
    m.add({"iqMean", "thinker", "mean", {"x"}, {"y"},
           {tb::attr_float("scale_x", 4.0f), tb::attr_float("scale_o", 4.0f), tb::attr_ints("dims", {1})}});
    lr::Session s = load(m);
    const auto x = lr::Tensor::from_vector<int8_t>({2, 3}, {127, 127, 126, -3, 0, 0});
    EXPECT_EQ(s.run({{"x", x}}).at(0).to_vector<int8_t>(), (std::vector<int8_t>{127, -1}));
  }
  {  // Gather rows 2, 0 of a 3x2 table
    tb::Model m;
    m.input("idx", tb::kInt64, {2}).output("y", tb::kInt8, {2, 2});
    m.init(tb::tensor("W", tb::kInt8, {3, 2}, std::vector<int8_t>{1, 2, 3, 4, 5, 6}));
    m.add({"Gather", "thinker", "emb", {"W", "idx"}, {"y"},
           {tb::attr_float("scale_w", 16.0f), tb::attr_float("scale_o", 16.0f)}});
    lr::Session s = load(m);
    EXPECT_EQ(s.run({{"idx", lr::Tensor::from_vector<int64_t>({2}, {2, 0})}}).at(0).to_vector<int8_t>(),
              (std::vector<int8_t>{5, 6, 1, 2}));
    EXPECT_THROW(s.run({{"idx", lr::Tensor::from_vector<int64_t>({2}, {3, 0})}}), std::exception);
  }
  {  // BatchNorm2dInt on [N, C] = [2, 2]: y = rhu((x w + b) / 2): (3*2+1)/2 = 3.5 -> 4, (-3*2+1)/2 = -2.5 -> -2
    tb::Model m;
    m.input("x", tb::kInt8, {2, 2}).output("y", tb::kInt8, {2, 2});
    m.init(tb::tensor("W", tb::kInt8, {2}, std::vector<int8_t>{2, 1}));
    m.init(tb::tensor("B", tb::kInt32, {2}, std::vector<int32_t>{1, 0}));
    m.add({"BatchNorm2dInt", "thinker", "bn", {"x", "W", "B"}, {"y"},
           {tb::attr_float("scale_x", 1.0f), tb::attr_float("scale_w", 2.0f), tb::attr_float("scale_o", 1.0f)}});
    lr::Session s = load(m);
    EXPECT_EQ(s.run({{"x", lr::Tensor::from_vector<int8_t>({2, 2}, {3, 5, -3, -5})}}).at(0).to_vector<int8_t>(),
              (std::vector<int8_t>{4, 3, -2, -2}));
  }
}

TEST(NormPoolKernels, MalformedModelsAreRejected) {
  const std::vector<int16_t> g4(4, 1);
  const std::vector<int32_t> b4(4, 0);
  expect_invalid(norm_model("LayerNormInt", {2, 5}, {4}, g4, b4, 0, 0, 0), "node 'ln' (LayerNormInt)", "shape",
                 "trailing dims");
  expect_invalid(norm_model("LayerNormInt", {2, 4}, {4}, g4, b4, -1, 0, 0), "node 'ln' (LayerNormInt)",
                 "attribute-value", "eps_q");
  {
    tb::Model m = norm_model("LayerNormInt", {2, 4}, {4}, g4, b4, 0, 0, 0);
    tb::set_attr(m.nodes[0], "eps_q", "");
    expect_invalid(m, "node 'ln' (LayerNormInt)", "attribute-missing", "eps_q");
  }
  expect_invalid(norm_model("GroupNormInt", {1, 4, 3}, {4}, g4, b4, 0, 0, 0, 3), "node 'ln' (GroupNormInt)",
                 "attribute-value", "num_groups");
  {
    tb::Model m;
    m.input("x", tb::kInt8, {1, 1, 3, 3}).output("y", tb::kInt8, {1, 1, 2, 1});
    m.add({"AdaptiveAvgPool2dInt", "thinker", "ap", {"x"}, {"y"},
           {tb::attr_ints("output_size", {2, 1}), tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_o", 8.0f)}});
    EXPECT_NO_THROW(load(m));
    tb::set_attr(m.nodes[0], "output_size", tb::attr_ints("output_size", {0, 1}));
    expect_invalid(m, "node 'ap' (AdaptiveAvgPool2dInt)", "attribute-value", "output_size");
    tb::set_attr(m.nodes[0], "output_size", tb::attr_ints("output_size", {2, 1}));
    tb::set_attr(m.nodes[0], "scale_o", tb::attr_float("scale_o", 4.0f));
    expect_invalid(m, "node 'ap' (AdaptiveAvgPool2dInt)", "scale-consistency", "scale_o must equal scale_x");
  }
  {
    tb::Model m;
    m.input("idx", tb::kInt64, {2}).output("y", tb::kInt8, {2, 2});
    m.init(tb::tensor("W", tb::kInt8, {3, 2}, std::vector<int8_t>{1, 2, 3, 4, 5, 6}));
    m.add({"Gather", "thinker", "emb", {"W", "idx"}, {"y"},
           {tb::attr_float("scale_w", 16.0f), tb::attr_float("scale_o", 8.0f)}});
    expect_invalid(m, "node 'emb' (Gather)", "scale-consistency", "scale_o must equal scale_w");
  }
}
