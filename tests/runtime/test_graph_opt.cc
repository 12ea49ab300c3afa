// The plan's load-time optimisations (docs/runtime.md, "Activation fusion"
// and "Memory"): activation fusion and the memory arena / views give the same
// bytes as the unoptimised plan, and as the independent reference
// (tests/numerics/reference.h), tolerance 0, on every ISA the CPU has.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../numerics/reference.h"
#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;
namespace kref = linger_test::kref;
namespace indep = linger_test::indep;

namespace {

std::vector<lr::Isa> isas() {
  std::vector<lr::Isa> v{lr::Isa::kScalar};
  for (lr::Isa i : {lr::Isa::kAvx2, lr::Isa::kAvx512Vnni})
    if (lr::isa_supported(i)) v.push_back(i);
  return v;
}

lr::Session load(const tb::Model& m, bool fuse, bool reuse, lr::Isa isa = lr::Isa::kAuto) {
  lr::SessionOptions o;
  o.isa = isa;
  o.fuse_activations = fuse;
  o.reuse_memory = reuse;
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), o);
}

std::vector<uint8_t> bytes_of(const lr::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  return std::vector<uint8_t>(p, p + t.nbytes());
}

std::vector<int64_t> ints_of(const lr::Tensor& t) {
  std::vector<int64_t> v;
  switch (t.dtype()) {
    case lr::DType::kInt8: for (int8_t x : t.to_vector<int8_t>()) v.push_back(x); break;
    case lr::DType::kInt16: for (int16_t x : t.to_vector<int16_t>()) v.push_back(x); break;
    case lr::DType::kInt32: for (int32_t x : t.to_vector<int32_t>()) v.push_back(x); break;
    default: ADD_FAILURE() << "not an integer tensor";
  }
  return v;
}

std::vector<int64_t> clamped(std::vector<int64_t> v, int64_t lo, int64_t hi) {
  for (int64_t& x : v) x = std::min(hi, std::max(lo, x));
  return v;
}

// Runs `m` with every combination of the two optimisations on every ISA: all
// outputs byte-identical to the plain plan's. Returns the plain outputs; the
// fused plan must have folded `fused` nodes.
std::vector<lr::Tensor> expect_same_every_way(const tb::Model& m, const std::map<std::string, lr::Tensor>& feeds,
                                              int fused) {
  std::vector<lr::Tensor> plain = load(m, false, false, lr::Isa::kScalar).run(feeds);
  for (lr::Isa isa : isas())
    for (bool fuse : {false, true})
      for (bool reuse : {false, true}) {
        lr::Session s = load(m, fuse, reuse, isa);
        EXPECT_EQ(s.memory_info().fused_nodes, fuse ? fused : 0) << lr::isa_name(isa);
        const std::vector<lr::Tensor> got = s.run(feeds);
        EXPECT_EQ(got.size(), plain.size());
        for (size_t k = 0; k < got.size() && k < plain.size(); ++k) {
          EXPECT_FALSE(got[k].is_view()) << "outputs own their bytes";
          EXPECT_EQ(got[k].shape(), plain[k].shape());
          EXPECT_EQ(bytes_of(got[k]), bytes_of(plain[k]))
              << "output " << k << " isa " << lr::isa_name(isa) << " fuse " << fuse << " reuse " << reuse;
        }
      }
  return plain;
}

// x int8 [1,3,6,6] -> Conv2dInt 3x3 pad 1 (Q5 + Q7 -> Q4, o_bits) -> "c"
tb::Model conv_model(int o_bits, int elem_out) {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 3, 6, 6}).output("y", elem_out, {1, 4, 6, 6});
  m.init(tb::tensor("w", tb::kInt8, {4, 3, 3, 3}, tmodels::random_ints<int8_t>(108, -128, 127, 21)));
  m.init(tb::tensor("b", tb::kInt32, {4}, tmodels::random_ints<int32_t>(4, -20000, 20000, 22)));
  m.add({"Conv2dInt", "thinker", "conv", {"x", "w", "b"}, {"c"},
         tb::conv_attrs(32.0f, 128.0f, 16.0f, o_bits, {3, 3}, {1, 1, 1, 1})});
  return m;
}

const std::vector<int8_t>& conv_x() {
  static const std::vector<int8_t> x = tmodels::random_ints<int8_t>(108, -128, 127, 23);
  return x;
}

// The conv's integers from the independent reference (shift 5 + 7 - 4 = 8).
std::vector<int64_t> conv_ref(int bits) {
  const kref::Conv k{1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const std::vector<int32_t> b = tmodels::random_ints<int32_t>(4, -20000, 20000, 22);
  return kref::conv2d_int(conv_x(), tmodels::random_ints<int8_t>(108, -128, 127, 21), b.data(), k, 8, bits);
}

std::map<std::string, lr::Tensor> conv_feeds() {
  return {{"x", lr::Tensor::from_vector<int8_t>({1, 3, 6, 6}, conv_x())}};
}

tb::Node cast(const std::string& name, const std::string& in, const std::string& out, int to) {
  return {"Cast", "", name, {in}, {out}, {tb::attr_int("to", to)}};
}

}  // namespace

// What torch writes for an int8 ReLU below opset 14 (linger's default opset 12):
// Cast(int8 -> float) -> Relu -> Cast(-> int8). Fused: three nodes fewer, same integers.
TEST(ActivationFusion, OpsetTwelveCastReluCast) {
  tb::Model m = conv_model(8, tb::kInt8);
  m.add(cast("to_float", "c", "cf", tb::kFloat));
  m.add({"Relu", "", "relu", {"cf"}, {"rf"}, {}});
  m.add(cast("to_int8", "rf", "y", tb::kInt8));
  const std::vector<lr::Tensor> out = expect_same_every_way(m, conv_feeds(), 3);
  EXPECT_EQ(ints_of(out[0]), clamped(conv_ref(8), 0, 127));
  for (lr::Isa isa : isas())
    EXPECT_EQ(ints_of(load(m, true, true, isa).run(conv_feeds())[0]), clamped(conv_ref(8), 0, 127)) << lr::isa_name(isa);
}

TEST(ActivationFusion, IntegerReluClipAndIqClampAfterConv) {
  struct Case {
    const char* what;
    std::function<void(tb::Model&)> add;  // from "c" to "y"
    int fused;
    int64_t lo, hi;
  };
  const std::vector<Case> cases = {
      {"int8 Relu", [](tb::Model& m) { m.add({"Relu", "", "relu", {"c"}, {"y"}, {}}); }, 1, 0, 127},
      {"int8 Clip (1.x ReLU6Int)",
       [](tb::Model& m) {
         m.init(tb::tensor<int8_t>("lo", tb::kInt8, {}, {-20}));
         m.init(tb::tensor<int8_t>("hi", tb::kInt8, {}, {50}));
         m.add({"Clip", "", "clip", {"c", "lo", "hi"}, {"y"}, {}});
       },
       1, -20, 50},
      {"iqClamp [-1, 2.5] at Q4",
       [](tb::Model& m) {
         m.add({"iqClamp", "thinker", "clamp", {"c"}, {"y"},
                {tb::attr_float("min", -1.0f), tb::attr_float("max", 2.5f), tb::attr_float("scale_x", 16.0f),
                 tb::attr_float("scale_o", 16.0f)}});
       },
       1, -16, 40},
      {"Relu then iqClamp: one clamp",
       [](tb::Model& m) {
         m.add({"Relu", "", "relu", {"c"}, {"r"}, {}});
         m.add({"iqClamp", "thinker", "clamp", {"r"}, {"y"},
                {tb::attr_float("min", -1.0f), tb::attr_float("max", 6.0f), tb::attr_float("scale_x", 16.0f),
                 tb::attr_float("scale_o", 16.0f)}});
       },
       2, 0, 96},
      {"Cast -> Clip(0, 6) -> Cast",
       [](tb::Model& m) {
         m.init(tb::tensor<float>("lo", tb::kFloat, {}, {0.0f}));
         m.init(tb::tensor<float>("hi", tb::kFloat, {}, {6.0f}));
         m.add(cast("to_float", "c", "cf", tb::kFloat));
         m.add({"Clip", "", "clip", {"cf", "lo", "hi"}, {"rf"}, {}});
         m.add(cast("to_int8", "rf", "y", tb::kInt8));
       },
       3, 0, 6},
      {"Cast -> Clip(max 300) -> Cast saturates like the int8 type",
       [](tb::Model& m) {
         m.init(tb::tensor<float>("hi", tb::kFloat, {}, {300.0f}));
         m.add(cast("to_float", "c", "cf", tb::kFloat));
         m.add({"Clip", "", "clip", {"cf", "", "hi"}, {"rf"}, {}});
         m.add(cast("to_int8", "rf", "y", tb::kInt8));
       },
       3, -128, 127},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    tb::Model m = conv_model(8, tb::kInt8);
    c.add(m);
    const std::vector<lr::Tensor> out = expect_same_every_way(m, conv_feeds(), c.fused);
    EXPECT_EQ(ints_of(out[0]), clamped(conv_ref(8), c.lo, c.hi));
  }
}

TEST(ActivationFusion, Int16OutputAndCastChain) {
  tb::Model m = conv_model(16, tb::kInt16);
  m.add(cast("to_float", "c", "cf", tb::kFloat));
  m.add({"Relu", "", "relu", {"cf"}, {"rf"}, {}});
  m.add(cast("to_int16", "rf", "y", tb::kInt16));
  const std::vector<lr::Tensor> out = expect_same_every_way(m, conv_feeds(), 3);
  EXPECT_EQ(ints_of(out[0]), clamped(conv_ref(16), 0, 32767));
}

TEST(ActivationFusion, LinearConvTransposeIqAddAndConv1d) {
  {  // LinearInt [2,3,20] x [5,20] -> Relu
    const auto x = tmodels::random_ints<int8_t>(120, -128, 127, 31);
    const auto w = tmodels::random_ints<int8_t>(100, -128, 127, 32);
    const auto b = tmodels::random_ints<int32_t>(5, -5000, 5000, 33);
    tb::Model m;
    m.input("x", tb::kInt8, {2, 3, 20}).output("y", tb::kInt8, {2, 3, 5});
    m.init(tb::tensor("w", tb::kInt8, {5, 20}, w)).init(tb::tensor("b", tb::kInt32, {5}, b));
    m.add({"LinearInt", "thinker", "fc", {"x", "w", "b"}, {"l"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 0.5f),
            tb::attr_int("o_bits", 8)}});
    m.add({"Relu", "", "relu", {"l"}, {"y"}, {}});
    const auto out = expect_same_every_way(m, {{"x", lr::Tensor::from_vector<int8_t>({2, 3, 20}, x)}}, 1);
    EXPECT_EQ(ints_of(out[0]), clamped(kref::linear_int(x, w, b.data(), 6, 20, 5, 11, 8), 0, 127));
  }
  {  // ConvTranspose2dInt 2x2 stride 2 -> Relu
    const auto x = tmodels::random_ints<int8_t>(2 * 3 * 3, -128, 127, 41);
    const auto w = tmodels::random_ints<int8_t>(2 * 3 * 2 * 2, -128, 127, 42);
    tb::Model m;
    m.input("x", tb::kInt8, {1, 2, 3, 3}).output("y", tb::kInt8, {1, 3, 6, 6});
    m.init(tb::tensor("w", tb::kInt8, {2, 3, 2, 2}, w));
    m.add({"ConvTranspose2dInt", "thinker", "deconv", {"x", "w"}, {"d"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 8.0f),
            tb::attr_int("o_bits", 8), tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2})}});
    m.add({"Relu", "", "relu", {"d"}, {"y"}, {}});
    const auto out = expect_same_every_way(m, {{"x", lr::Tensor::from_vector<int8_t>({1, 2, 3, 3}, x)}}, 1);
    const kref::ConvT k{1, 2, 3, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(ints_of(out[0]), clamped(kref::convtranspose2d_int(x, w, nullptr, k, 4 + 6 - 3, 8), 0, 127));
  }
  {  // residual iqAdd (x at Q4 + y at Q5 -> Q4) -> Relu: the clamp after the addition
    const auto a = tmodels::random_ints<int8_t>(60, -128, 127, 55);
    const auto b = tmodels::random_ints<int8_t>(60, -128, 127, 56);
    tb::Model m;
    m.input("a", tb::kInt8, {1, 3, 4, 5}).input("b", tb::kInt8, {1, 3, 4, 5}).output("y", tb::kInt8, {1, 3, 4, 5});
    m.add({"iqAdd", "thinker", "add", {"a", "b"}, {"s"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_y", 32.0f), tb::attr_float("scale_o", 16.0f)}});
    m.add({"Relu", "", "relu", {"s"}, {"y"}, {}});
    const auto out = expect_same_every_way(m,
                                           {{"a", lr::Tensor::from_vector<int8_t>({1, 3, 4, 5}, a)},
                                            {"b", lr::Tensor::from_vector<int8_t>({1, 3, 4, 5}, b)}},
                                           1);
    std::vector<int64_t> want;
    for (size_t i = 0; i < a.size(); ++i) want.push_back(std::max(0, indep::iqadd(a[i], b[i], 0, 1)));
    EXPECT_EQ(ints_of(out[0]), want);
  }
  {  // Conv1dInt with kernel = stride 4 (the tiling path on AVX-512 VNNI) -> Relu
    tb::Model m;
    m.input("x", tb::kInt8, {2, 8, 26}).output("y", tb::kInt8, {2, 12, 6});
    m.init(tb::tensor("w", tb::kInt8, {12, 8, 4}, tmodels::random_ints<int8_t>(384, -128, 127, 53)));
    m.init(tb::tensor("b", tb::kInt32, {12}, tmodels::random_ints<int32_t>(12, -3000, 3000, 54)));
    m.add({"Conv1dInt", "thinker", "conv1d", {"x", "w", "b"}, {"c"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 8.0f),
            tb::attr_int("o_bits", 8), tb::attr_ints("kernel_shape", {4}), tb::attr_ints("strides", {4})}});
    m.add({"Relu", "", "relu", {"c"}, {"y"}, {}});
    expect_same_every_way(
        m, {{"x", lr::Tensor::from_vector<int8_t>({2, 8, 26}, tmodels::random_ints<int8_t>(416, -128, 127, 55))}}, 1);
  }
  {  // Conv1dInt -> Relu (through the shared conv path)
    tb::Model m;
    m.input("x", tb::kInt8, {1, 4, 16}).output("y", tb::kInt8, {1, 6, 16});
    m.init(tb::tensor("w", tb::kInt8, {6, 4, 3}, tmodels::random_ints<int8_t>(72, -128, 127, 51)));
    m.add({"Conv1dInt", "thinker", "conv1d", {"x", "w"}, {"c"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 8.0f),
            tb::attr_int("o_bits", 8), tb::attr_ints("kernel_shape", {3}), tb::attr_ints("pads", {1, 1})}});
    m.add({"Relu", "", "relu", {"c"}, {"y"}, {}});
    expect_same_every_way(
        m, {{"x", lr::Tensor::from_vector<int8_t>({1, 4, 16}, tmodels::random_ints<int8_t>(64, -128, 127, 52))}}, 1);
  }
}

// Left unfused: an intermediate the graph returns or reads twice, bounds that
// are not integers, a float conv output, the int32 Cast chain (not exact above
// 2^24), and a clamp disjoint from the one before it.
TEST(ActivationFusion, LeftAloneWhenNotProvablyExact) {
  {  // "c" is also a graph output
    tb::Model m = conv_model(8, tb::kInt8);
    m.output("c", tb::kInt8, {1, 4, 6, 6});
    m.add({"Relu", "", "relu", {"c"}, {"y"}, {}});
    const auto out = expect_same_every_way(m, conv_feeds(), 0);
    EXPECT_EQ(ints_of(out[1]), conv_ref(8));
    EXPECT_EQ(ints_of(out[0]), clamped(conv_ref(8), 0, 127));
  }
  {  // "c" has two consumers
    tb::Model m = conv_model(8, tb::kInt8);
    m.add({"Relu", "", "relu", {"c"}, {"r"}, {}});
    m.add({"iqAdd", "thinker", "add", {"r", "c"}, {"y"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_y", 16.0f), tb::attr_float("scale_o", 16.0f)}});
    expect_same_every_way(m, conv_feeds(), 0);
  }
  {  // Clip(0.5, 6) between the Casts: not an integer clamp
    tb::Model m = conv_model(8, tb::kInt8);
    m.init(tb::tensor<float>("lo", tb::kFloat, {}, {0.5f}));
    m.init(tb::tensor<float>("hi", tb::kFloat, {}, {6.0f}));
    m.add(cast("to_float", "c", "cf", tb::kFloat));
    m.add({"Clip", "", "clip", {"cf", "lo", "hi"}, {"rf"}, {}});
    m.add(cast("to_int8", "rf", "y", tb::kInt8));
    expect_same_every_way(m, conv_feeds(), 0);
  }
  {  // float conv output (no o_bits) -> float Relu
    tb::Model m = conv_model(0, tb::kFloat);
    m.add({"Relu", "", "relu", {"c"}, {"y"}, {}});
    expect_same_every_way(m, conv_feeds(), 0);
  }
  {  // int32 output through the float chain
    tb::Model m = conv_model(32, tb::kInt32);
    m.add(cast("to_float", "c", "cf", tb::kFloat));
    m.add({"Relu", "", "relu", {"cf"}, {"rf"}, {}});
    m.add(cast("to_int32", "rf", "y", tb::kInt32));
    expect_same_every_way(m, conv_feeds(), 0);
  }
  {  // Relu, then Clip [-50, -20]: the ReLU fuses, the Clip stays
    tb::Model m = conv_model(8, tb::kInt8);
    m.init(tb::tensor<int8_t>("lo", tb::kInt8, {}, {-50}));
    m.init(tb::tensor<int8_t>("hi", tb::kInt8, {}, {-20}));
    m.add({"Relu", "", "relu", {"c"}, {"r"}, {}});
    m.add({"Clip", "", "clip", {"r", "lo", "hi"}, {"y"}, {}});
    const auto out = expect_same_every_way(m, conv_feeds(), 1);
    EXPECT_EQ(ints_of(out[0]), std::vector<int64_t>(144, -20));
  }
}

// The arena and the views: a residual branch (c1 lives across c2), views of a
// graph input and of intermediates, a view chain, and reshape-like ops whose
// output is a graph output (copies: outputs own their bytes).
// x -> view -> conv1 + relu1 -> conv2 -> iqAdd -> views -> LinearInt, with copies as extra outputs.
tb::Model arena_model() {
  tb::Model m;
  m.opsets = {{"", 13}, {"thinker", 1}};
  m.input("x", tb::kInt8, {1, 96}).output("y", tb::kInt8, {1, 5}).output("c2_out", tb::kInt8, {1, 4, 6, 4});
  m.output("flat_out", tb::kInt8, {1, 96});
  m.init(tb::tensor<int64_t>("shape4", tb::kInt64, {4}, {1, 4, 6, 4}));
  m.init(tb::tensor<int64_t>("ax0", tb::kInt64, {1}, {0}));
  m.init(tb::tensor("w1", tb::kInt8, {4, 4, 3, 3}, tmodels::random_ints<int8_t>(144, -128, 127, 61)));
  m.init(tb::tensor("w2", tb::kInt8, {4, 4, 3, 3}, tmodels::random_ints<int8_t>(144, -128, 127, 62)));
  m.init(tb::tensor("fw", tb::kInt8, {5, 96}, tmodels::random_ints<int8_t>(480, -128, 127, 63)));
  m.add({"Reshape", "", "to4d", {"x", "shape4"}, {"x4"}, {}});  // a view of the graph input
  m.add({"Conv2dInt", "thinker", "conv1", {"x4", "w1"}, {"c1"}, tb::conv_attrs(16.0f, 64.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1})});
  m.add({"Relu", "", "relu1", {"c1"}, {"r1"}, {}});
  m.add({"Conv2dInt", "thinker", "conv2", {"r1", "w2"}, {"c2"}, tb::conv_attrs(16.0f, 64.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1})});
  m.add({"Identity", "", "c2_copy", {"c2"}, {"c2_out"}, {}});  // a graph output: a copy, not a view
  m.add({"iqAdd", "thinker", "add", {"r1", "c2"}, {"s"},
         {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_y", 16.0f), tb::attr_float("scale_o", 8.0f)}});
  m.add({"Unsqueeze", "", "unsq", {"s", "ax0"}, {"s5"}, {}});   // view
  m.add({"Squeeze", "", "sq", {"s5", "ax0"}, {"s4"}, {}});      // view of a view
  m.add({"Flatten", "", "flat", {"s4"}, {"f"}, {tb::attr_int("axis", 1)}});  // view of a view of a view
  m.add({"Identity", "", "flat_copy", {"f"}, {"flat_out"}, {}});
  m.add({"LinearInt", "thinker", "fc", {"f", "fw"}, {"y"},
         {tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_w", 64.0f), tb::attr_float("scale_o", 4.0f),
          tb::attr_int("o_bits", 8)}});
  return m;
}

TEST(MemoryArena, SameBytesAsOneAllocationPerTensor) {
  const tb::Model m = arena_model();
  const auto x = tmodels::random_ints<int8_t>(96, -128, 127, 64);
  for (int trial = 0; trial < 2; ++trial) {  // the second run reuses the first run's arena
    const auto out = expect_same_every_way(m, {{"x", lr::Tensor::from_vector<int8_t>({1, 96}, x)}}, 1);
    ASSERT_EQ(out.size(), 3u);
  }
  const lr::MemoryInfo plain = load(m, false, false).memory_info();
  const lr::MemoryInfo arena = load(m, true, true).memory_info();
  EXPECT_EQ(plain.arena_bytes, 0);
  // Arena: x4, s5, s4, f are views; c1 (fused with relu1 into r1), c2 and s are
  // 96 bytes each (one 128-byte slot each), all alive at the iqAdd: 3 * 128. Plus the
  // outputs y (5), c2_out (96), flat_out (96).
  EXPECT_EQ(arena.arena_bytes, 3 * 128);
  EXPECT_EQ(arena.tensors_bytes, 3 * 128 + 5 + 96 + 96);
  EXPECT_EQ(arena.peak_bytes, arena.tensors_bytes + arena.workspace_bytes);
}

// Lifetimes that do not overlap share bytes: a chain of same-size convs needs
// two slots whatever its length.
TEST(MemoryArena, ChainNeedsTwoSlots) {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 8, 16, 16}).output("y", tb::kInt8, {1, 8, 16, 16});
  m.init(tb::tensor("w", tb::kInt8, {8, 8, 3, 3}, tmodels::random_ints<int8_t>(576, -128, 127, 71)));
  std::string prev = "x";
  for (int i = 0; i < 6; ++i) {
    const std::string out = i == 5 ? "y" : "c" + std::to_string(i);
    m.add({"Conv2dInt", "thinker", "conv" + std::to_string(i), {prev, "w"}, {out},
           tb::conv_attrs(16.0f, 128.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1})});
    prev = out;
  }
  const auto out = expect_same_every_way(
      m, {{"x", lr::Tensor::from_vector<int8_t>({1, 8, 16, 16}, tmodels::random_ints<int8_t>(2048, -128, 127, 72))}}, 0);
  const lr::MemoryInfo plain = load(m, false, false).memory_info();
  const lr::MemoryInfo arena = load(m, true, true).memory_info();
  EXPECT_EQ(arena.arena_bytes, 2 * 2048);
  EXPECT_EQ(arena.tensors_bytes, 2 * 2048 + 2048);
  EXPECT_EQ(plain.tensors_bytes, 2 * 2048);  // the largest live pair
}

// SessionOptions.enable_profiling: one entry per node that runs a kernel, in
// graph order, its runs counted; fused activations and views are not listed
// (the producer names what was folded into it); the outputs do not change.
TEST(Profiling, NodesThatRunAreCountedAndOutputsUnchanged) {
  const tb::Model m = arena_model();
  const auto x = tmodels::random_ints<int8_t>(96, -128, 127, 64);
  const std::map<std::string, lr::Tensor> feeds{{"x", lr::Tensor::from_vector<int8_t>({1, 96}, x)}};
  const std::string b = m.bytes();
  lr::Session plain = lr::Session::from_bytes(b.data(), b.size());
  EXPECT_TRUE(plain.profile().empty()) << "no profile without the option";
  lr::SessionOptions o;
  o.enable_profiling = true;
  for (int threads : {1, 2}) {
    o.intra_op_num_threads = threads;
    lr::Session s = lr::Session::from_bytes(b.data(), b.size(), o);
    EXPECT_TRUE(s.profile().empty()) << "nothing ran yet";
    for (int r = 0; r < 3; ++r) {
      const std::vector<lr::Tensor> got = s.run(feeds), want = plain.run(feeds);
      ASSERT_EQ(got.size(), want.size());
      for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(bytes_of(got[k]), bytes_of(want[k])) << "output " << k;
    }
    const std::vector<lr::NodeProfile> p = s.profile();
    std::vector<std::string> names;
    for (const lr::NodeProfile& e : p) {
      names.push_back(e.name);
      EXPECT_EQ(e.runs, 3) << e.name;
      EXPECT_GE(e.total_ns, 0) << e.name;
      EXPECT_EQ(e.fused, e.name == "conv1" ? "Relu" : "") << e.name;
    }
    EXPECT_EQ(names, (std::vector<std::string>{"conv1", "conv2", "c2_copy", "add", "flat_copy", "fc"}));
    ASSERT_FALSE(p.empty());
    EXPECT_EQ(p[0].op_type, "Conv2dInt");
    s.reset_profile();
    EXPECT_TRUE(s.profile().empty()) << "reset clears every entry";
    s.run(feeds);
    for (const lr::NodeProfile& e : s.profile()) EXPECT_EQ(e.runs, 1) << e.name;
  }
}
