// SessionOptions.intra_op_num_threads: a CNN with a strided conv, a depthwise
// conv, a 1x1 conv, MaxPool, AvgPool2dInt and LinearInt gives the same bytes
// for 1, 2, 3 and 4 threads on every ISA (and ISA choice kAuto), and equals
// the model computed with the numerics headers; bad thread counts are refused.
// Node::fused_clamp (set by the load-time fusion pass) clamps the conv and
// linear outputs.
#include <gtest/gtest.h>

#include <algorithm>

#include "graph/graph.h"
#include "graph/plan.h"
#include "kernels/opt/thread_pool.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;
namespace nm = linger::numerics;

namespace {

// x float [1,8,30,30] -> Quant(Q4) -> Conv 8->32 3x3 s2 p1 (Q4+Q7->Q4, 15x15) -> depthwise 32 3x3 p1 (Q4+Q7->Q4)
// -> MaxPool 3x3 s2 p1 (8x8) -> Conv 32->48 1x1 (Q4+Q7->Q4) -> AvgPool2dInt 2x2 s2 (4x4)
// -> Reshape [1, 768] -> LinearInt 768->40 (Q4+Q7->Q3, o_bits 8) -> y int8 [1, 40]
tb::Model threads_cnn() {
  tb::Model m;
  m.input("x", tb::kFloat, {1, 8, 30, 30});
  m.output("y", tb::kInt8, {1, 40});
  m.init(tb::tensor("w1", tb::kInt8, {32, 8, 3, 3}, tmodels::random_ints<int8_t>(32 * 72, -128, 127, 11)));
  m.init(tb::tensor("b1", tb::kInt32, {32}, tmodels::random_ints<int32_t>(32, -5000, 5000, 12)));
  m.init(tb::tensor("w2", tb::kInt8, {32, 1, 3, 3}, tmodels::random_ints<int8_t>(32 * 9, -128, 127, 13)));
  m.init(tb::tensor("w3", tb::kInt8, {48, 32, 1, 1}, tmodels::random_ints<int8_t>(48 * 32, -128, 127, 14)));
  m.init(tb::tensor("b3", tb::kInt32, {48}, tmodels::random_ints<int32_t>(48, -5000, 5000, 15)));
  m.init(tb::tensor("fw", tb::kInt8, {40, 768}, tmodels::random_ints<int8_t>(40 * 768, -128, 127, 16)));
  m.init(tb::tensor("fb", tb::kInt32, {40}, tmodels::random_ints<int32_t>(40, -5000, 5000, 17)));
  m.init(tb::tensor<int64_t>("shape", tb::kInt64, {2}, {1, -1}));
  m.add({"Quant", "thinker", "q", {"x"}, {"xq"},
         {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 16.0f), tb::attr_string("platform_quant", "luna_quant")}});
  m.add({"Conv2dInt", "thinker", "c1", {"xq", "w1", "b1"}, {"a1"},
         tb::conv_attrs(16.0f, 128.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1}, {2, 2})});
  m.add({"Conv2dInt", "thinker", "dw", {"a1", "w2"}, {"a2"},
         tb::conv_attrs(16.0f, 128.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 32)});
  m.add({"MaxPool", "", "mp", {"a2"}, {"a3"},
         {tb::attr_ints("kernel_shape", {3, 3}), tb::attr_ints("strides", {2, 2}), tb::attr_ints("pads", {1, 1, 1, 1})}});
  m.add({"Conv2dInt", "thinker", "c3", {"a3", "w3", "b3"}, {"a4"}, tb::conv_attrs(16.0f, 128.0f, 16.0f, 8, {1, 1})});
  m.add({"AvgPool2dInt", "thinker", "ap", {"a4"}, {"a5"},
         {tb::attr_ints("kernel_shape", {2, 2}), tb::attr_ints("strides", {2, 2}), tb::attr_float("scale_x", 16.0f),
          tb::attr_float("scale_o", 16.0f), tb::attr_string("platform_quant", "luna_quant")}});
  m.add({"Reshape", "", "flat", {"a5", "shape"}, {"f"}, {}});
  m.add({"LinearInt", "thinker", "fc", {"f", "fw", "fb"}, {"y"},
         {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 128.0f), tb::attr_float("scale_o", 8.0f),
          tb::attr_int("o_bits", 8), tb::attr_int("data_bits", 8), tb::attr_int("parameter_bits", 8),
          tb::attr_string("platform_quant", "luna_quant")}});
  return m;
}

nm::Conv2dShape conv_shape(int c, int hw, int o, int k, int stride, int pad, int groups) {
  nm::Conv2dShape s;
  s.c = c; s.h = s.w = hw; s.o = o; s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  s.groups = groups;
  return s;
}

std::vector<int8_t> reference(const std::vector<float>& x) {
  std::vector<int8_t> xq(x.size());
  for (size_t i = 0; i < x.size(); ++i) xq[i] = static_cast<int8_t>(nm::quantize(x[i], 4, 8));
  std::vector<int8_t> a1(32 * 15 * 15), a2(a1.size()), a3(32 * 8 * 8), a4(48 * 64), a5(48 * 16), y(40);
  nm::conv2d_int(xq.data(), tmodels::random_ints<int8_t>(32 * 72, -128, 127, 11).data(),
                 tmodels::random_ints<int32_t>(32, -5000, 5000, 12).data(), a1.data(), conv_shape(8, 30, 32, 3, 2, 1, 1),
                 7, false, 8);
  nm::conv2d_int(a1.data(), tmodels::random_ints<int8_t>(32 * 9, -128, 127, 13).data(), nullptr, a2.data(),
                 conv_shape(32, 15, 32, 3, 1, 1, 32), 7, false, 8);
  nm::Pool2dShape mp;
  mp.c = 32; mp.h = mp.w = 15; mp.kh = mp.kw = 3; mp.stride_h = mp.stride_w = 2;
  mp.pad_top = mp.pad_left = mp.pad_bottom = mp.pad_right = 1;
  nm::maxpool2d_int(a2.data(), a3.data(), mp);
  nm::conv2d_int(a3.data(), tmodels::random_ints<int8_t>(48 * 32, -128, 127, 14).data(),
                 tmodels::random_ints<int32_t>(48, -5000, 5000, 15).data(), a4.data(), conv_shape(32, 8, 48, 1, 1, 0, 1),
                 7, false, 8);
  nm::Pool2dShape ap;
  ap.c = 48; ap.h = ap.w = 8; ap.kh = ap.kw = 2; ap.stride_h = ap.stride_w = 2;
  nm::avgpool2d_int(a4.data(), a5.data(), ap);
  nm::linear_int(a5.data(), tmodels::random_ints<int8_t>(40 * 768, -128, 127, 16).data(),
                 tmodels::random_ints<int32_t>(40, -5000, 5000, 17).data(), y.data(), 1, 768, 40, 4 + 7 - 3, 8);
  return y;
}

}  // namespace

TEST(IntraOpThreads, SameBytesForEveryThreadCountAndIsa) {
  const std::string b = threads_cnn().bytes();
  for (int seed = 0; seed < 3; ++seed) {
    std::vector<float> x = tmodels::random_ints<float>(8 * 30 * 30, -60, 60, 100 + static_cast<uint32_t>(seed));
    for (float& v : x) v /= 8.0f;
    const std::vector<int8_t> want = reference(x);
    for (lr::Isa isa : {lr::Isa::kScalar, lr::Isa::kAvx2, lr::Isa::kAvx512Vnni, lr::Isa::kAuto}) {
      if (!lr::isa_supported(isa)) continue;
      for (int threads = 1; threads <= 4; ++threads) {
        lr::SessionOptions o;
        o.isa = isa;
        o.intra_op_num_threads = threads;
        lr::Session s = lr::Session::from_bytes(b.data(), b.size(), o);
        EXPECT_EQ(s.intra_op_num_threads(), threads);
        const auto y = s.run({{"x", lr::Tensor::from_vector<float>({1, 8, 30, 30}, x)}});
        ASSERT_EQ(y[0].to_vector<int8_t>(), want) << lr::isa_name(isa) << " threads " << threads << " seed " << seed;
      }
    }
  }
}

TEST(IntraOpThreads, BadThreadCountsAreInputErrors) {
  const std::string b = threads_cnn().bytes();
  for (int bad : {0, -1, 257}) {
    lr::SessionOptions o;
    o.intra_op_num_threads = bad;
    try {
      lr::Session::from_bytes(b.data(), b.size(), o);
      ADD_FAILURE() << "intra_op_num_threads " << bad << " accepted";
    } catch (const lr::InputError& e) {
      EXPECT_NE(std::string(e.what()).find("intra_op_num_threads"), std::string::npos) << e.what();
    }
  }
}

// ------------------------------------------------------------------ fused activation (Node::fused_clamp)

namespace {

// x int8 [1,6,9,9] -> Conv2dInt 6->10 3x3 p1 (Q4+Q7->Q4, o_bits 8) -> a; a -> LinearInt on [.., 9] rows
// (9->5, Q4+Q7->Q3, o_bits 8) -> y int8 [1,10,9,5]
tb::Model conv_linear() {
  tb::Model m;
  m.input("x", tb::kInt8, {1, 6, 9, 9});
  m.output("y", tb::kInt8, {1, 10, 9, 5});
  m.init(tb::tensor("w", tb::kInt8, {10, 6, 3, 3}, tmodels::random_ints<int8_t>(540, -128, 127, 21)));
  m.init(tb::tensor("b", tb::kInt32, {10}, tmodels::random_ints<int32_t>(10, -9000, 9000, 22)));
  m.init(tb::tensor("fw", tb::kInt8, {5, 9}, tmodels::random_ints<int8_t>(45, -128, 127, 23)));
  m.add({"Conv2dInt", "thinker", "conv", {"x", "w", "b"}, {"a"},
         tb::conv_attrs(16.0f, 128.0f, 16.0f, 8, {3, 3}, {1, 1, 1, 1})});
  m.add({"LinearInt", "thinker", "fc", {"a", "fw"}, {"y"},
         {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 128.0f), tb::attr_float("scale_o", 8.0f),
          tb::attr_int("o_bits", 8), tb::attr_int("data_bits", 8), tb::attr_int("parameter_bits", 8),
          tb::attr_string("platform_quant", "luna_quant")}});
  return m;
}

}  // namespace

// The load-time fusion pass sets Node::fused_clamp; the conv and linear
// kernels then clamp their requantised outputs to [lo, hi] on every ISA and
// thread count, equal to the numerics reference followed by the clamp.
TEST(FusedClamp, ConvAndLinearClampTheirOutputs) {
  namespace opt = lr::opt;
  const std::string bytes = conv_linear().bytes();
  const lr::Graph base =
      lr::build_graph(lr::onnx::decode_model(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 1 << 30);
  const std::vector<int8_t> xv = tmodels::random_ints<int8_t>(6 * 81, -128, 127, 24);
  const lr::Tensor x = lr::Tensor::from_vector<int8_t>({1, 6, 9, 9}, xv);
  // Reference: conv (relu-free), clamp [0, 40]; linear, clamp [-20, 30].
  nm::Conv2dShape cs = conv_shape(6, 9, 10, 3, 1, 1, 1);
  std::vector<int8_t> a(10 * 81), want(10 * 9 * 5);
  nm::conv2d_int(xv.data(), tmodels::random_ints<int8_t>(540, -128, 127, 21).data(),
                 tmodels::random_ints<int32_t>(10, -9000, 9000, 22).data(), a.data(), cs, 7, false, 8);
  for (int8_t& v : a) v = static_cast<int8_t>(std::min(std::max<int>(v, 0), 40));
  nm::linear_int(a.data(), tmodels::random_ints<int8_t>(45, -128, 127, 23).data(), nullptr, want.data(), 90, 9, 5,
                 4 + 7 - 3, 8);
  for (int8_t& v : want) v = static_cast<int8_t>(std::min(std::max<int>(v, -20), 30));
  int clamped = 0;
  for (int8_t v : want) clamped += v == 30 || v == -20;
  EXPECT_GT(clamped, 20);  // the bounds really cut
  for (opt::Isa isa : {opt::Isa::kScalar, opt::Isa::kAvx2, opt::Isa::kAvx512Vnni, opt::Isa::kAuto}) {
    if (!opt::isa_supported(isa)) continue;
    for (int threads = 1; threads <= 3; ++threads) {
      lr::Graph g = base;
      g.nodes[0].fused_clamp = lr::Node::FusedClamp{0, 40};
      g.nodes[1].fused_clamp = lr::Node::FusedClamp{-20, 30};
      opt::ThreadPool pool(threads);
      const lr::Plan plan(g, {{1, 6, 9, 9}}, isa, lr::MemoryLimits{}, &pool);
      const std::vector<lr::Tensor> y = plan.run({&x}, g.outputs);
      ASSERT_EQ(y[0].to_vector<int8_t>(), want) << opt::isa_name(isa) << " threads " << threads;
    }
  }
}
