// Packed models on the micro runtime give the desktop runtime's bytes exactly
// (tolerance 0), on the portable and the DSP kernel paths; linger-pack rejects
// what the micro runtime cannot run, naming the node.
#include "micro_test_util.h"
#include "test_models.h"

namespace {

using tb::attr_float;
using tb::attr_int;
using tb::attr_ints;

tb::Node quant(const std::string& in, const std::string& out, float scale) {
  return {"Quant", "thinker", "q_" + out, {in}, {out},
          {attr_int("data_bits", 8), attr_float("scale_x", scale), tb::attr_string("platform_quant", "luna_quant")}};
}
tb::Node dequant(const std::string& in, const std::string& out, float scale) {
  return {"Dequant", "thinker", "dq_" + out, {in}, {out}, {attr_float("scale_o", scale)}};
}
template <typename T>
void weights(tb::Model& m, const std::string& name, int elem, std::vector<int64_t> dims, int lo, int hi, uint32_t seed) {
  size_t n = 1;
  for (int64_t d : dims) n *= static_cast<size_t>(d);
  m.init(tb::tensor(name, elem, dims, tmodels::random_ints<T>(n, lo, hi, seed)));
}

TEST(MicroModels, SmallCnnFusedReluAndReshapeView) {
  linger::micro_pack::PackReport r;
  mt::pack(tmodels::small_cnn().bytes(), &r);
  // Quant, Conv2dInt(+Relu), MaxPool, LinearInt, Dequant: the Relu is fused, the Reshape is a view.
  EXPECT_EQ(r.op_labels.size(), 5u);
  mt::expect_bit_exact(tmodels::small_cnn());
}

TEST(MicroModels, ConvGroupsStridesDilationPadsBatchNormAvgPoolIqAddFloatAndInt16Outputs) {
  tb::Model m;
  m.input("x", tb::kFloat, {1, 4, 9, 11});
  m.output("y", tb::kFloat, {-1, -1, -1, -1}).output("z", tb::kFloat, {-1, -1, -1, -1});
  weights<int8_t>(m, "w1", tb::kInt8, {6, 2, 3, 3}, -128, 127, 11);
  weights<int32_t>(m, "b1", tb::kInt32, {6}, -5000, 5000, 12);
  weights<int8_t>(m, "bnw", tb::kInt8, {6}, -128, 127, 13);
  weights<int32_t>(m, "bnb", tb::kInt32, {6}, -3000, 3000, 14);
  weights<int8_t>(m, "w2", tb::kInt8, {5, 6, 1, 1}, -128, 127, 15);
  weights<int8_t>(m, "w3", tb::kInt8, {3, 6, 2, 2}, -128, 127, 16);
  weights<int32_t>(m, "b3", tb::kInt32, {3}, -100000, 100000, 17);
  m.add(quant("x", "xq", 16.0f));
  m.add({"Conv2dInt", "thinker", "conv1", {"xq", "w1", "b1"}, {"c1"},
         tb::conv_attrs(16.0f, 64.0f, 8.0f, 8, {3, 3}, {1, 0, 2, 1}, {2, 1}, {1, 2}, 2)});
  m.add({"BatchNorm2dInt", "thinker", "bn", {"c1", "bnw", "bnb"}, {"bn"},
         {attr_float("scale_x", 8.0f), attr_float("scale_w", 32.0f), attr_float("scale_o", 4.0f)}});
  m.add({"AvgPool2dInt", "thinker", "avg", {"bn"}, {"ap"},
         {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1}),
          attr_int("ceil_mode", 1), attr_float("scale_x", 4.0f), attr_float("scale_o", 4.0f)}});
  m.add({"iqAdd", "thinker", "add", {"ap", "ap"}, {"s"},
         {attr_float("scale_x", 4.0f), attr_float("scale_y", 4.0f), attr_float("scale_o", 2.0f)}});
  m.add({"Conv2dInt", "thinker", "conv2", {"s", "w2"}, {"y"}, tb::conv_attrs(2.0f, 64.0f, 0.0f, 0, {1, 1})});
  m.add({"Conv2dInt", "thinker", "conv3", {"bn", "w3", "b3"}, {"c3"},
         tb::conv_attrs(4.0f, 32.0f, 1.0f, 16, {2, 2}, {0, 1, 1, 0}, {1, 2})});
  m.add(dequant("c3", "z", 1.0f));
  mt::expect_bit_exact(m);
  mt::expect_bit_exact(m, 2, 1000.0f);  // saturating inputs
}

TEST(MicroModels, Conv1dWithTorchCastReluCastFolded) {
  tb::Model m;
  m.input("x", tb::kFloat, {2, 3, 20});
  m.output("y", tb::kFloat, {-1, -1, -1});
  weights<int8_t>(m, "w", tb::kInt8, {4, 3, 5}, -128, 127, 21);
  weights<int32_t>(m, "b", tb::kInt32, {4}, -4000, 4000, 22);
  m.add(quant("x", "xq", 8.0f));
  m.add({"Conv1dInt", "thinker", "conv", {"xq", "w", "b"}, {"c"},
         {attr_float("scale_x", 8.0f), attr_float("scale_w", 64.0f), attr_float("scale_o", 8.0f), attr_int("o_bits", 8),
          attr_ints("kernel_shape", {5}), attr_ints("pads", {2, 1}), attr_ints("strides", {2})}});
  m.add({"Cast", "", "cast_f", {"c"}, {"cf"}, {attr_int("to", tb::kFloat)}});
  m.add({"Relu", "", "relu", {"cf"}, {"rf"}, {}});
  m.add({"Cast", "", "cast_i", {"rf"}, {"r"}, {attr_int("to", tb::kInt8)}});
  m.add(dequant("r", "y", 8.0f));
  linger::micro_pack::PackReport r;
  mt::pack(m.bytes(), &r);
  EXPECT_EQ(r.op_labels.size(), 3u) << "Cast -> Relu -> Cast folds into the conv's fused ReLU";
  mt::expect_bit_exact(m);
}

TEST(MicroModels, ConvTranspose2dGroupsOutputPadding) {
  tb::Model m;
  m.input("x", tb::kFloat, {1, 4, 5, 6});
  m.output("y", tb::kFloat, {-1, -1, -1, -1});
  weights<int8_t>(m, "w", tb::kInt8, {4, 3, 3, 3}, -128, 127, 31);
  weights<int32_t>(m, "b", tb::kInt32, {6}, -4000, 4000, 32);
  m.add(quant("x", "xq", 16.0f));
  std::vector<std::string> a = tb::conv_attrs(16.0f, 64.0f, 8.0f, 8, {3, 3}, {1, 1, 1, 1}, {2, 2}, {1, 1}, 2);
  a.push_back(attr_ints("output_padding", {1, 1}));
  tb::Node deconv{"ConvTranspose2dInt", "thinker", "deconv", {"xq", "w", "b"}, {"c"}, a};
  tb::set_attr(deconv, "castor_mode", "");
  m.add(deconv);
  m.add(dequant("c", "y", 8.0f));
  mt::expect_bit_exact(m);
}

TEST(MicroModels, LinearRank3Int16AndFloatOutputs) {
  tb::Model m;
  m.input("x", tb::kFloat, {2, 3, 37});
  m.output("y", tb::kFloat, {-1, -1, -1}).output("z", tb::kFloat, {-1, -1, -1});
  weights<int8_t>(m, "w", tb::kInt8, {5, 37}, -128, 127, 41);
  weights<int32_t>(m, "b", tb::kInt32, {5}, -40000, 40000, 42);
  m.add(quant("x", "xq", 16.0f));
  m.add({"LinearInt", "thinker", "fc16", {"xq", "w", "b"}, {"l"},
         {attr_float("scale_x", 16.0f), attr_float("scale_w", 64.0f), attr_float("scale_o", 4.0f), attr_int("o_bits", 16)}});
  m.add(dequant("l", "y", 4.0f));
  m.add({"LinearInt", "thinker", "fcf", {"xq", "w"}, {"z"}, {attr_float("scale_x", 16.0f), attr_float("scale_w", 64.0f)}});
  mt::expect_bit_exact(m);
}

TEST(MicroModels, StandaloneRelusAndCastPatternAfterPool) {
  tb::Model m;
  m.input("x", tb::kFloat, {1, 2, 6, 6});
  m.output("y", tb::kFloat, {-1, -1}).output("z", tb::kFloat, {-1, -1, -1, -1});
  weights<int8_t>(m, "w", tb::kInt8, {2, 2, 3, 3}, -128, 127, 51);
  m.add(quant("x", "xq", 16.0f));
  m.add({"MaxPool", "", "pool", {"xq"}, {"p"}, {attr_ints("kernel_shape", {2, 2}), attr_ints("strides", {2, 2})}});
  m.add({"Cast", "", "cf", {"p"}, {"pf"}, {attr_int("to", tb::kFloat)}});
  m.add({"Relu", "", "relu_p", {"pf"}, {"rf"}, {}});
  m.add({"Cast", "", "ci", {"rf"}, {"r"}, {attr_int("to", tb::kInt8)}});
  m.add({"Flatten", "", "flat", {"r"}, {"f"}, {attr_int("axis", 1)}});
  m.add(dequant("f", "y", 16.0f));
  // The conv output has two consumers: its Relu is not fused.
  m.add({"Conv2dInt", "thinker", "conv", {"xq", "w"}, {"c"}, tb::conv_attrs(16.0f, 64.0f, 8.0f, 8, {3, 3}, {1, 1, 1, 1})});
  m.add({"Relu", "", "relu_c", {"c"}, {"rc"}, {}});
  m.add({"iqAdd", "thinker", "add", {"c", "rc"}, {"s"},
         {attr_float("scale_x", 8.0f), attr_float("scale_y", 8.0f), attr_float("scale_o", 4.0f)}});
  m.add(dequant("s", "z", 4.0f));
  mt::expect_bit_exact(m);
}

void expect_pack_error(const tb::Model& m, const std::string& where, const std::string& rule) {
  const std::string onnx = m.bytes();
  try {
    mt::pack(onnx);
    ADD_FAILURE() << "linger-pack accepted a model it must reject (" << where << ")";
  } catch (const linger::runtime::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
    EXPECT_EQ(e.rule(), rule) << e.what();
  }
}

TEST(MicroPack, UnsupportedOpNamesTheNode) {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 2, 3});
  m.output("y", tb::kInt8, {1, 3, 2});
  m.add({"Transpose", "", "my_transpose", {"x"}, {"y"}, {attr_ints("perm", {0, 2, 1})}});
  expect_pack_error(m, "node 'my_transpose' (Transpose)", "micro-unsupported");
}

TEST(MicroPack, BroadcastingIqAddIsRejected) {
  tb::Model m;
  m.input("a", tb::kInt8, {2, 4}).input("b", tb::kInt8, {4});
  m.output("y", tb::kInt8, {2, 4});
  m.add({"iqAdd", "thinker", "add_bc", {"a", "b"}, {"y"},
         {attr_float("scale_x", 4.0f), attr_float("scale_y", 4.0f), attr_float("scale_o", 2.0f)}});
  expect_pack_error(m, "node 'add_bc' (iqAdd)", "micro-unsupported");
}

TEST(MicroPack, SymbolicInputShapeIsRejected) {
  tb::Model m = tmodels::small_cnn();
  m.inputs.clear();
  m.input("x", tb::kFloat, {-1, 2, 6, 6});
  m.outputs.clear();
  m.output("y", tb::kFloat, {-1, 4});
  expect_pack_error(m, "graph input 'x'", "micro-shape");
}

TEST(MicroPack, LoneCastIsRejected) {
  tb::Model m;
  m.input("x", tb::kInt8, {4});
  m.output("y", tb::kInt32, {4});
  m.add({"Cast", "", "widen", {"x"}, {"y"}, {attr_int("to", tb::kInt32)}});
  expect_pack_error(m, "node 'widen' (Cast)", "micro-unsupported");
}

TEST(MicroPack, DialectErrorsComeFromTheRuntimeValidation) {
  tb::Model m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "scale_w", attr_float("scale_w", 0.3f));
  expect_pack_error(m, "node 'conv' (Conv2dInt)", "scale-power-of-two");
}

TEST(MicroPack, PlanReusesBuffersAndReportsThePeak) {
  linger::micro_pack::PackReport r;
  mt::pack(tmodels::small_cnn().bytes(), &r);
  uint64_t sum = 0;
  for (const auto& t : r.tensors)
    if (!t.in_weights && t.alias_of < 0) sum += t.nbytes;
  EXPECT_LT(r.arena_size, sum) << "buffers with disjoint lifetimes share bytes";
  EXPECT_GE(r.arena_size, r.peak_live);
  EXPECT_NE(r.peak_op_label.find("node '"), std::string::npos);
  EXPECT_EQ(r.flash_size(), r.file_size + r.code_estimate);
}

}  // namespace
