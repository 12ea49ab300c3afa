// Malformed files and models that break the dialect: each must be rejected at
// load with a clear error naming the node (or value) and the rule; never a
// crash (these tests run under ASan/UBSan in the sanitizer build).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;

namespace {

lr::Session load(const std::string& b) { return lr::Session::from_bytes(b.data(), b.size()); }

// Expects a ValidationError with this rule whose message contains `where`.
void expect_invalid(const std::string& bytes, const std::string& where, const std::string& rule) {
  try {
    load(bytes);
    ADD_FAILURE() << "model loaded, expected rule '" << rule << "'";
  } catch (const lr::ValidationError& e) {
    EXPECT_EQ(e.rule(), rule) << e.what();
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << "message lacks \"" << where << "\": " << e.what();
    EXPECT_NE(std::string(e.what()).find("rule '" + rule + "'"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected error type: " << e.what();
  }
}

std::string parse_error(const std::string& bytes) {
  try {
    load(bytes);
  } catch (const lr::ParseError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong type: ") + e.what();
  }
  return "loaded";
}

const char kConv[] = "node 'conv' (Conv2dInt)";

}  // namespace

TEST(ModelErrors, SmallModelIsValid) {
  lr::Session s = load(tmodels::small_cnn().bytes());
  ASSERT_EQ(s.inputs().size(), 1u);
  EXPECT_EQ(s.outputs()[0].shape, (std::vector<int64_t>{1, 4}));
}

TEST(ModelErrors, TruncatedAtEveryOffsetThrows) {
  const std::string b = tmodels::small_cnn().bytes();
  for (size_t len = 0; len < b.size(); ++len) {
    try {
      lr::Session::from_bytes(b.data(), len);
      ADD_FAILURE() << "truncation to " << len << " of " << b.size() << " bytes loaded";
    } catch (const lr::ModelError& e) {
      EXPECT_GT(std::string(e.what()).size(), 10u);
    }
  }
}

// Loads (and, when that succeeds, runs) a corrupted model: any outcome but a
// linger::runtime::Error is a failure; ASan/UBSan check the rest.
bool try_corrupted(const std::string& b) {
  lr::SessionOptions opt;
  opt.max_tensor_bytes = 1 << 20;
  try {
    lr::Session s = lr::Session::from_bytes(b.data(), b.size(), opt);
    std::map<std::string, lr::Tensor> feeds;
    for (const lr::TensorInfo& i : s.inputs()) {
      std::vector<int64_t> shape = i.shape;
      for (int64_t& d : shape)
        if (d < 0) d = 2;
      lr::Tensor t(i.dtype, shape);
      auto* p = static_cast<unsigned char*>(t.raw_data());
      for (size_t k = 0; k < t.nbytes(); ++k) p[k] = static_cast<unsigned char>(k * 29 + 3);
      if (i.dtype == lr::DType::kFloat32)
        for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = static_cast<float>(k % 17) - 8.0f;
      feeds.emplace(i.name, std::move(t));
    }
    s.run(feeds);
    return true;
  } catch (const lr::Error&) {
    return false;
  }
}

TEST(ModelErrors, RandomCorruptionNeverCrashes) {
  for (const std::string& good : {tmodels::small_cnn().bytes(), tmodels::shape_ops().bytes()}) {
    ASSERT_TRUE(try_corrupted(good));
    std::mt19937 rng(1234);
    int loaded = 0;
    for (int iter = 0; iter < 4000; ++iter) {
      std::string b = good;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < edits; ++k) {
        const size_t at = rng() % b.size();
        switch (rng() % 4) {
          case 0: b[at] = static_cast<char>(rng() & 0xff); break;               // replace
          case 1: b[at] = static_cast<char>(b[at] ^ (1 << (rng() % 8))); break;  // flip a bit
          case 2: b.erase(at, 1 + rng() % 4); break;                            // delete
          default: b.insert(at, 1, static_cast<char>(rng() & 0xff)); break;     // insert
        }
        if (b.empty()) b = "x";
      }
      loaded += try_corrupted(b) ? 1 : 0;
    }
    EXPECT_GT(loaded, 0);
  }
}

TEST(ModelErrors, TruncatedShapeOpsModelThrows) {
  const std::string b = tmodels::shape_ops().bytes();
  for (size_t len = 0; len < b.size(); ++len) EXPECT_THROW(lr::Session::from_bytes(b.data(), len), lr::ModelError) << len;
}

TEST(ModelErrors, UnknownOp) {
  tb::Model m = tmodels::small_cnn();
  m.find("relu").op = "Gelu";
  expect_invalid(m.bytes(), "node 'relu' (Gelu)", "unknown-op");
  tb::Model m2 = tmodels::small_cnn();
  m2.find("conv").op = "Conv2dIntX";
  expect_invalid(m2.bytes(), "node 'conv' (Conv2dIntX)", "unknown-op");
}

TEST(ModelErrors, OpInWrongDomain) {
  tb::Model m = tmodels::small_cnn();
  m.find("q").domain = "";
  expect_invalid(m.bytes(), "node 'q' (Quant)", "op-domain");
  tb::Model m2 = tmodels::small_cnn();
  m2.find("relu").domain = "thinker";
  expect_invalid(m2.bytes(), "node 'relu' (Relu)", "op-domain");
  tb::Model m3 = tmodels::small_cnn();
  m3.opsets = {{"", 12}};  // thinker not imported
  expect_invalid(m3.bytes(), "node 'q' (Quant)", "op-domain");
}

TEST(ModelErrors, AttributeRules) {
  tb::Model m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "scale_x", tb::attr_int("scale_x", 16));
  expect_invalid(m.bytes(), kConv, "attribute-type");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "scale_w", "");
  expect_invalid(m.bytes(), kConv, "attribute-missing");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "scale_o", "");  // o_bits without scale_o
  expect_invalid(m.bytes(), kConv, "attribute-missing");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "act_type", tb::attr_int("act_type", 1));
  expect_invalid(m.bytes(), kConv, "attribute-unknown");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "o_bits", tb::attr_int("o_bits", 12));
  expect_invalid(m.bytes(), kConv, "attribute-value");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("q"), "platform_quant", tb::attr_string("platform_quant", "mlu_quant"));
  expect_invalid(m.bytes(), "node 'q' (Quant)", "attribute-value");
  m = tmodels::small_cnn();
  m.find("conv").attrs.push_back(tb::attr_int("group", 1));
  expect_invalid(m.bytes(), kConv, "attribute-duplicate");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "pads", tb::attr_ints("pads", {1, 1}));
  expect_invalid(m.bytes(), kConv, "attribute-value");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("pool"), "dilations", tb::attr_ints("dilations", {2, 2}));
  expect_invalid(m.bytes(), "node 'pool' (MaxPool)", "attribute-value");
}

TEST(ModelErrors, ScalesMustBeExactPowersOfTwo) {
  for (float bad : {0.3f, 3.0f, 0.0f, -4.0f, std::numeric_limits<float>::infinity(), std::nanf(""), 1.0000001f}) {
    tb::Model m = tmodels::small_cnn();
    tb::set_attr(m.find("conv"), "scale_w", tb::attr_float("scale_w", bad));
    expect_invalid(m.bytes(), kConv, "scale-power-of-two");
  }
  tb::Model m = tmodels::small_cnn();
  tb::set_attr(m.find("dq"), "scale_o", tb::attr_float("scale_o", std::ldexp(1.0f, 60)));
  expect_invalid(m.bytes(), "node 'dq' (Dequant)", "scale-range");
}

TEST(ModelErrors, ScaleConsistency) {
  tb::Model m = tmodels::small_cnn();
  tb::set_attr(m.find("fc"), "scale_x", tb::attr_float("scale_x", 16.0f));  // input carries conv's 2^3
  expect_invalid(m.bytes(), "node 'fc' (LinearInt)", "scale-consistency");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("dq"), "scale_o", tb::attr_float("scale_o", 8.0f));
  expect_invalid(m.bytes(), "node 'dq' (Dequant)", "scale-consistency");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "scale_x", tb::attr_float("scale_x", 32.0f));
  expect_invalid(m.bytes(), kConv, "scale-consistency");

  // Exponents flow through Gather / Transpose and must agree at a Concat.
  auto quant = [](const std::string& name, const std::string& in, const std::string& out, float scale) {
    return tb::Node{"Quant", "thinker", name, {in}, {out}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", scale)}};
  };
  tb::Model c;
  c.input("a", tb::kFloat, {2, 3}).input("b", tb::kFloat, {2, 3}).output("y", tb::kFloat, {2, 6});
  c.add(quant("qa", "a", "ia", 16.0f)).add(quant("qb", "b", "ib", 32.0f));
  c.add({"Concat", "", "cat", {"ia", "ib"}, {"cc"}, {tb::attr_int("axis", 1)}});
  c.add({"Dequant", "thinker", "dq", {"cc"}, {"y"}, {tb::attr_float("scale_o", 16.0f)}});
  expect_invalid(c.bytes(), "node 'cat' (Concat)", "scale-consistency");
  tb::Model g;
  g.input("a", tb::kFloat, {2, 3}).output("y", tb::kFloat, {3, 2});
  g.init(tb::tensor<int64_t>("i", tb::kInt64, {2}, {1, 0}));
  g.add(quant("qa", "a", "ia", 16.0f));
  g.add({"Gather", "", "ga", {"ia", "i"}, {"gg"}, {}});
  g.add({"Transpose", "", "tr", {"gg"}, {"tt"}, {}});
  g.add({"Dequant", "thinker", "dq", {"tt"}, {"y"}, {tb::attr_float("scale_o", 8.0f)}});
  expect_invalid(g.bytes(), "node 'dq' (Dequant)", "scale-consistency");
  tb::set_attr(g.find("dq"), "scale_o", tb::attr_float("scale_o", 16.0f));
  EXPECT_NO_THROW(load(g.bytes()));
}

TEST(ModelErrors, GraphStructure) {
  tb::Model m = tmodels::small_cnn();
  m.find("conv").in[0] = "nope";
  expect_invalid(m.bytes(), kConv, "undefined-input");
  m = tmodels::small_cnn();
  std::swap(m.nodes[2], m.nodes[3]);  // MaxPool before the Relu that feeds it
  expect_invalid(m.bytes(), "node 'pool' (MaxPool)", "topological-order");
  m = tmodels::small_cnn();
  m.find("conv").in = {"xq"};
  expect_invalid(m.bytes(), kConv, "input-count");
  m = tmodels::small_cnn();
  m.find("relu").out.push_back("extra");
  expect_invalid(m.bytes(), "node 'relu' (Relu)", "output-count");
  m = tmodels::small_cnn();
  m.find("relu").out = {"c"};  // redefines conv's output
  expect_invalid(m.bytes(), "node 'relu' (Relu)", "ssa");
  m = tmodels::small_cnn();
  m.outputs = {tb::value_info("zzz", tb::kFloat, {1, 4})};
  expect_invalid(m.bytes(), "graph output 'zzz'", "graph-output");
  m = tmodels::small_cnn();
  m.inputs = {tb::value_info("x", tb::kFloat, {}, false)};
  expect_invalid(m.bytes(), "graph input 'x'", "value-type");
  m = tmodels::small_cnn();
  tb::Node& relu = m.find("relu");
  relu.name = "";
  relu.op = "Elu";
  expect_invalid(m.bytes(), "node #2 (Elu)", "unknown-op");
}

TEST(ModelErrors, Opsets) {
  tb::Model m = tmodels::small_cnn();
  m.opsets = {{"", 10}, {"thinker", 1}};
  expect_invalid(m.bytes(), "model", "opset");
  m.opsets = {{"", 18}, {"thinker", 1}};
  expect_invalid(m.bytes(), "model", "opset");
  m.opsets = {{"", 12}, {"thinker", 2}};
  expect_invalid(m.bytes(), "model", "opset");
  m.opsets = {{"thinker", 1}};
  expect_invalid(m.bytes(), "model", "opset");
  m = tmodels::small_cnn();
  m.ir_version = 2;
  expect_invalid(m.bytes(), "model", "ir-version");
  EXPECT_THROW(load(""), lr::ParseError);  // empty bytes: "the model is empty", not "ir_version 0"
}

TEST(ModelErrors, TypeMismatch) {
  tb::Model m = tmodels::small_cnn();
  m.inits[0] = tb::tensor("cw", tb::kInt32, {3, 2, 3, 3}, std::vector<int32_t>(54, 1));
  expect_invalid(m.bytes(), kConv, "dtype");
  m = tmodels::small_cnn();
  m.inits[1] = tb::tensor("cb", tb::kInt8, {3}, std::vector<int8_t>(3, 1));
  expect_invalid(m.bytes(), kConv, "dtype");
  m = tmodels::small_cnn();
  m.inputs = {tb::value_info("x", tb::kInt8, {1, 2, 6, 6})};
  expect_invalid(m.bytes(), "node 'q' (Quant)", "dtype");
  m = tmodels::small_cnn();
  m.find("fc").in[0] = "x";  // float into LinearInt
  expect_invalid(m.bytes(), "node 'fc' (LinearInt)", "dtype");
  m = tmodels::small_cnn();
  m.outputs = {tb::value_info("y", tb::kInt8, {1, 4})};
  expect_invalid(m.bytes(), "graph output 'y'", "declared-type");
}

TEST(ModelErrors, ShapeMismatch) {
  tb::Model m = tmodels::small_cnn();
  m.inits[0] = tb::tensor("cw", tb::kInt8, {3, 5, 3, 3}, std::vector<int8_t>(135, 1));  // 5 channels vs 2
  expect_invalid(m.bytes(), kConv, "shape");
  m = tmodels::small_cnn();
  m.inits[2] = tb::tensor("fw", tb::kInt8, {4, 26}, std::vector<int8_t>(104, 1));  // K 26 vs 27
  expect_invalid(m.bytes(), "node 'fc' (LinearInt)", "shape");
  m = tmodels::small_cnn();
  m.inits[3] = tb::tensor("fb", tb::kInt32, {5}, std::vector<int32_t>(5, 1));
  expect_invalid(m.bytes(), "node 'fc' (LinearInt)", "shape");
  m = tmodels::small_cnn();
  m.inits[4] = tb::tensor<int64_t>("shape", tb::kInt64, {2}, {2, 14});  // 27 elements -> 28
  expect_invalid(m.bytes(), "node 'flat' (Reshape)", "shape");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "kernel_shape", tb::attr_ints("kernel_shape", {5, 5}));
  expect_invalid(m.bytes(), kConv, "shape");
  m = tmodels::small_cnn();
  m.outputs = {tb::value_info("y", tb::kFloat, {1, 5})};
  expect_invalid(m.bytes(), "graph output 'y'", "declared-shape");
  m = tmodels::small_cnn();
  m.inputs = {tb::value_info("x", tb::kFloat, {1, 2, 1, 1})};  // 3x3 conv pad 1 ok, 2x2 pool on 1x1 not
  expect_invalid(m.bytes(), "node 'pool' (MaxPool)", "shape");
}

TEST(ModelErrors, IqAddShapesAndScales) {
  tb::Model m;
  m.input("a", tb::kInt8, {2, 3}).input("b", tb::kInt8, {4}).output("c", tb::kInt8, {2, 3});
  m.add({"iqAdd", "thinker", "add", {"a", "b"}, {"c"},
         {tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_y", 8.0f), tb::attr_float("scale_o", 4.0f)}});
  expect_invalid(m.bytes(), "node 'add' (iqAdd)", "shape");
}

TEST(ModelErrors, ShapeParametersMustBeKnownAtLoad) {
  tb::Model m;
  m.input("a", tb::kInt8, {2, 3}).input("s", tb::kInt64, {2}).output("b", tb::kInt8, {3, 2});
  m.add({"Reshape", "", "rs", {"a", "s"}, {"b"}, {}});
  expect_invalid(m.bytes(), "node 'rs' (Reshape)", "constant-input");
}

TEST(ModelErrors, OpsetDependentForms) {
  tb::Model m;
  m.input("a", tb::kInt8, {1, 3}).output("b", tb::kInt8, {3});
  m.add({"Squeeze", "", "sq", {"a"}, {"b"}, {tb::attr_ints("axes", {0})}});
  EXPECT_NO_THROW(load(m.bytes()));
  m.opsets = {{"", 13}};
  expect_invalid(m.bytes(), "node 'sq' (Squeeze)", "attribute-unknown");
  tb::Model m2;
  m2.opsets = {{"", 11}};
  m2.input("a", tb::kInt8, {1, 3}).output("b", tb::kInt8, {3});
  m2.init(tb::tensor<int64_t>("ax", tb::kInt64, {1}, {0}));
  m2.add({"Squeeze", "", "sq", {"a", "ax"}, {"b"}, {}});
  expect_invalid(m2.bytes(), "node 'sq' (Squeeze)", "input-count");
  m2.opsets = {{"", 13}};
  EXPECT_NO_THROW(load(m2.bytes()));
}

TEST(ModelErrors, BadTensorData) {
  tb::Model m = tmodels::small_cnn();
  m.inits[0] = tb::tensor_raw("cw", tb::kInt8, {3, 2, 3, 3}, std::string(53, '\0'));
  std::string e = parse_error(m.bytes());
  EXPECT_NE(e.find("initializer 'cw'"), std::string::npos) << e;
  EXPECT_NE(e.find("raw_data has 53 bytes"), std::string::npos) << e;
  m = tmodels::small_cnn();
  m.inits[0] = tb::tensor_raw("cw", tb::kDouble, {1}, std::string(8, '\0'));
  e = parse_error(m.bytes());
  EXPECT_NE(e.find("unsupported data type DOUBLE"), std::string::npos) << e;
  m = tmodels::small_cnn();
  m.inits[0] = tb::tensor_raw("cw", tb::kInt8, {-1}, "");
  EXPECT_NE(parse_error(m.bytes()).find("negative dimension"), std::string::npos);
  m = tmodels::small_cnn();
  m.inits[0] = tb::tensor_raw("cw", tb::kInt8, {int64_t{1} << 40, int64_t{1} << 40}, "");
  EXPECT_NE(parse_error(m.bytes()).find("size limit"), std::string::npos);
  m = tmodels::small_cnn();  // int8 given through int32_data out of range
  m.inits[1] = tb::f_bytes(1, tb::packed_int64({3})) + tb::f_varint(2, tb::kInt8) + tb::f_bytes(8, "cb") +
               tb::f_bytes(5, tb::packed_int64({1, 2, 300}));
  EXPECT_NE(parse_error(m.bytes()).find("out of range"), std::string::npos);
}

TEST(ModelErrors, FileErrors) {
  EXPECT_THROW(lr::Session::from_file("/nonexistent/model.onnx"), lr::IoError);
}

// docs/platforms.md: `platform` on thinker nodes, `quant_mode` (floor_add only) on Conv*/LinearInt.
TEST(ModelErrors, PlatformAttributes) {
  tb::Model m = tmodels::small_cnn();
  tb::set_attr(m.find("q"), "platform", tb::attr_string("platform", "venusA"));
  tb::set_attr(m.find("conv"), "platform", tb::attr_string("platform", "venusA"));
  tb::set_attr(m.find("conv"), "quant_mode", tb::attr_string("quant_mode", "floor_add"));
  EXPECT_NO_THROW(load(m.bytes()));
  for (const char* mode : {"floor", "round", "ceil", "half"}) {
    m = tmodels::small_cnn();
    tb::set_attr(m.find("conv"), "quant_mode", tb::attr_string("quant_mode", mode));
    expect_invalid(m.bytes(), "'quant_mode' = '" + std::string(mode) + "' is not supported (allowed: 'floor_add')",
                   "attribute-value");
  }
  m = tmodels::small_cnn();
  tb::set_attr(m.find("conv"), "platform", tb::attr_string("platform", "luna"));
  expect_invalid(m.bytes(), kConv, "attribute-value");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("q"), "quant_mode", tb::attr_string("quant_mode", "floor_add"));  // not a weighted op
  expect_invalid(m.bytes(), "node 'q' (Quant)", "attribute-unknown");
  m = tmodels::small_cnn();
  tb::set_attr(m.find("pool"), "platform", tb::attr_string("platform", "venus"));  // standard domain
  expect_invalid(m.bytes(), "node 'pool' (MaxPool)", "attribute-unknown");
}
