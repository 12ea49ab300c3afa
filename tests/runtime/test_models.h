// Small models in the linger dialect shared by the runtime tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "onnx_builder.h"

namespace tmodels {

template <typename T>
std::vector<T> random_ints(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

// x float [1,2,6,6] -> Quant(Q4) -> Conv2dInt(3x3 pad 1, Q4+Q6 -> Q3, o_bits 8) -> Relu -> MaxPool(2x2 s2)
// -> Reshape([1,-1]) -> LinearInt(27 -> 4, Q3+Q5 -> Q2) -> Dequant(Q2) -> y float [1,4]
inline tb::Model small_cnn() {
  tb::Model m;
  m.input("x", tb::kFloat, {1, 2, 6, 6});
  m.output("y", tb::kFloat, {1, 4});
  m.init(tb::tensor("cw", tb::kInt8, {3, 2, 3, 3}, random_ints<int8_t>(54, -128, 127, 1)));
  m.init(tb::tensor("cb", tb::kInt32, {3}, random_ints<int32_t>(3, -3000, 3000, 2)));
  m.init(tb::tensor("fw", tb::kInt8, {4, 27}, random_ints<int8_t>(108, -128, 127, 3)));
  m.init(tb::tensor("fb", tb::kInt32, {4}, random_ints<int32_t>(4, -3000, 3000, 4)));
  m.init(tb::tensor<int64_t>("shape", tb::kInt64, {2}, {1, -1}));
  m.add({"Quant", "thinker", "q", {"x"}, {"xq"},
         {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 16.0f), tb::attr_string("platform_quant", "luna_quant")}});
  m.add({"Conv2dInt", "thinker", "conv", {"xq", "cw", "cb"}, {"c"}, tb::conv_attrs(16.0f, 64.0f, 8.0f, 8, {3, 3}, {1, 1, 1, 1})});
  m.add({"Relu", "", "relu", {"c"}, {"r"}, {}});
  m.add({"MaxPool", "", "pool", {"r"}, {"p"}, {tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2})}});
  m.add({"Reshape", "", "flat", {"p", "shape"}, {"f"}, {}});
  m.add({"LinearInt", "thinker", "fc", {"f", "fw", "fb"}, {"l"},
         {tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_w", 32.0f), tb::attr_float("scale_o", 4.0f),
          tb::attr_int("o_bits", 8), tb::attr_int("data_bits", 8), tb::attr_int("parameter_bits", 8),
          tb::attr_string("platform_quant", "luna_quant")}});
  m.add({"Dequant", "thinker", "dq", {"l"}, {"y"}, {tb::attr_float("scale_o", 4.0f)}});
  return m;
}

// Shape and pass-through ops around an iqAdd and an AvgPool2dInt (symbolic batch):
// x int8 [N,4,6] -> Unsqueeze(1) [N,1,4,6] -> AvgPool2dInt(2x2 s2) [N,1,2,3] -> Squeeze(1) [N,2,3]
// -> Transpose(0,2,1) [N,3,2] -> Slice(axis 1, 0:3:2) [N,2,2] -> Concat(self, axis 2) [N,2,4]
// -> Gather(axis 2, [3,-4,1,0]) -> iqAdd(+ b [4], broadcast) -> Flatten -> y int8 [N,8]
inline tb::Model shape_ops() {
  tb::Model m;
  m.opsets = {{"", 13}, {"thinker", 1}};
  m.input("x", tb::kInt8, {-1, 4, 6}).input("b", tb::kInt8, {4}).output("y", tb::kInt8, {-1, 8});
  m.init(tb::tensor<int64_t>("ax1", tb::kInt64, {1}, {1}));
  m.init(tb::tensor<int64_t>("st", tb::kInt64, {1}, {0}));
  m.init(tb::tensor<int64_t>("en", tb::kInt64, {1}, {3}));
  m.init(tb::tensor<int64_t>("sp", tb::kInt64, {1}, {2}));
  m.init(tb::tensor<int64_t>("idx", tb::kInt64, {4}, {3, -4, 1, 0}));
  m.add({"Unsqueeze", "", "un", {"x", "ax1"}, {"u"}, {}});
  m.add({"AvgPool2dInt", "thinker", "avg", {"u"}, {"a"},
         {tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2}), tb::attr_float("scale_x", 4.0f),
          tb::attr_float("scale_o", 4.0f)}});
  m.add({"Squeeze", "", "sq", {"a", "ax1"}, {"s"}, {}});
  m.add({"Transpose", "", "tr", {"s"}, {"t"}, {tb::attr_ints("perm", {0, 2, 1})}});
  m.add({"Slice", "", "sl", {"t", "st", "en", "ax1", "sp"}, {"sl_out"}, {}});
  m.add({"Concat", "", "cat", {"sl_out", "sl_out"}, {"c"}, {tb::attr_int("axis", 2)}});
  m.add({"Gather", "", "ga", {"c", "idx"}, {"g"}, {tb::attr_int("axis", 2)}});
  m.add({"iqAdd", "thinker", "add", {"g", "b"}, {"sum"},
         {tb::attr_float("scale_x", 4.0f), tb::attr_float("scale_y", 8.0f), tb::attr_float("scale_o", 2.0f)}});
  m.add({"Flatten", "", "fl", {"sum"}, {"y"}, {tb::attr_int("axis", 1)}});
  return m;
}

}  // namespace tmodels
