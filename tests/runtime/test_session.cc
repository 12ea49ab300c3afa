// Session API: whole models, symbolic dims, input checking, output selection.
#include <gtest/gtest.h>

#include "linger/numerics/conv.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/linear.h"
#include "linger/numerics/pool.h"
#include "linger/numerics/quantize.h"
#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;
namespace nm = linger::numerics;

namespace {

lr::Session load(const tb::Model& m, lr::Isa isa = lr::Isa::kAuto) {
  lr::SessionOptions o;
  o.isa = isa;
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), o);
}

// The small CNN computed directly with the numerics headers.
std::vector<float> reference(const std::vector<float>& x) {
  std::vector<int8_t> xq(x.size());
  for (size_t i = 0; i < x.size(); ++i) xq[i] = static_cast<int8_t>(nm::quantize(x[i], 4, 8));
  nm::Conv2dShape cs;
  cs.n = 1, cs.c = 2, cs.h = 6, cs.w = 6, cs.o = 3, cs.kh = 3, cs.kw = 3;
  cs.pad_top = cs.pad_left = cs.pad_bottom = cs.pad_right = 1;
  const auto cw = tmodels::random_ints<int8_t>(54, -128, 127, 1);
  const auto cb = tmodels::random_ints<int32_t>(3, -3000, 3000, 2);
  const auto fw = tmodels::random_ints<int8_t>(108, -128, 127, 3);
  const auto fb = tmodels::random_ints<int32_t>(4, -3000, 3000, 4);
  std::vector<int8_t> c(108);
  nm::conv2d_int(xq.data(), cw.data(), cb.data(), c.data(), cs, 4 + 6 - 3, false, 8);
  for (int8_t& v : c) v = v < 0 ? 0 : v;
  nm::Pool2dShape ps;
  ps.n = 1, ps.c = 3, ps.h = 6, ps.w = 6, ps.kh = 2, ps.kw = 2, ps.stride_h = 2, ps.stride_w = 2;
  std::vector<int8_t> p(27);
  nm::maxpool2d_int(c.data(), p.data(), ps);
  std::vector<int8_t> l(4);
  nm::linear_int(p.data(), fw.data(), fb.data(), l.data(), 1, 27, 4, 3 + 5 - 2, 8);
  std::vector<float> y(4);
  for (size_t i = 0; i < 4; ++i) y[i] = nm::dequantize(l[i], 2);
  return y;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

}  // namespace

TEST(Session, SmallCnnBitExactOnEveryIsa) {
  for (lr::Isa isa : {lr::Isa::kScalar, lr::Isa::kAvx2, lr::Isa::kAvx512Vnni, lr::Isa::kAuto}) {
    if (!lr::isa_supported(isa)) continue;
    lr::Session s = load(tmodels::small_cnn(), isa);
    EXPECT_NE(s.isa(), lr::Isa::kAuto);
    for (uint32_t seed = 0; seed < 5; ++seed) {
      const std::vector<float> x = random_floats(72, seed);
      const std::vector<lr::Tensor> y = s.run({{"x", lr::Tensor::from_vector<float>({1, 2, 6, 6}, x)}});
      ASSERT_EQ(y.size(), 1u);
      EXPECT_EQ(y[0].to_vector<float>(), reference(x)) << lr::isa_name(isa);
    }
  }
}

TEST(Session, InfoAndModelInfo) {
  lr::Session s = load(tmodels::small_cnn());
  ASSERT_EQ(s.inputs().size(), 1u);
  EXPECT_EQ(s.inputs()[0].name, "x");
  EXPECT_EQ(s.inputs()[0].dtype, lr::DType::kFloat32);
  EXPECT_EQ(s.inputs()[0].shape, (std::vector<int64_t>{1, 2, 6, 6}));
  EXPECT_EQ(s.outputs()[0].name, "y");
  EXPECT_EQ(s.model_info().producer_name, "linger");
  EXPECT_EQ(s.model_info().opset, 12);
}

TEST(Session, InputErrors) {
  lr::Session s = load(tmodels::small_cnn());
  const lr::Tensor good(lr::DType::kFloat32, {1, 2, 6, 6});
  EXPECT_THROW(s.run({}), lr::InputError);
  EXPECT_THROW(s.run({{"x", lr::Tensor(lr::DType::kInt8, {1, 2, 6, 6})}}), lr::InputError);
  EXPECT_THROW(s.run({{"x", lr::Tensor(lr::DType::kFloat32, {1, 2, 6, 5})}}), lr::InputError);
  EXPECT_THROW(s.run({{"x", lr::Tensor(lr::DType::kFloat32, {2, 6, 6})}}), lr::InputError);
  EXPECT_THROW(s.run({{"x", good}, {"extra", good}}), lr::InputError);
  EXPECT_THROW(s.run({{"x", good}}, {"nope"}), lr::InputError);
  try {
    s.run({{"x", lr::Tensor(lr::DType::kInt8, {1, 2, 6, 6})}});
    ADD_FAILURE() << "an int8 input for a float32 graph input was accepted";
  } catch (const lr::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("input 'x' must be float32, got int8"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(s.run({{"x", good}}, {"y"}));
  lr::SessionOptions bad;
  bad.isa = lr::Isa::kAvx512Vnni;
  if (!lr::isa_supported(lr::Isa::kAvx512Vnni)) {
    const std::string b = tmodels::small_cnn().bytes();
    EXPECT_THROW(lr::Session::from_bytes(b.data(), b.size(), bad), lr::InputError);
  }
  EXPECT_THROW(lr::parse_isa("sse"), lr::InputError);
}

TEST(Session, SymbolicBatchWithShapeChain) {
  // x [N,2,4,4] int8 -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape: [N, 32]
  tb::Model m;
  m.input("x", tb::kInt8, {-1, 2, 4, 4}).output("y", tb::kInt8, {-1, 32});
  m.init(tb::tensor<int64_t>("zero", tb::kInt64, {}, {0}));
  m.init(tb::tensor<int64_t>("minus1", tb::kInt64, {1}, {-1}));
  m.add({"Shape", "", "shape", {"x"}, {"s"}, {}});
  m.add({"Gather", "", "batch", {"s", "zero"}, {"n"}, {tb::attr_int("axis", 0)}});
  m.add({"Unsqueeze", "", "un", {"n"}, {"n1"}, {tb::attr_ints("axes", {0})}});
  m.add({"Concat", "", "cat", {"n1", "minus1"}, {"shape2"}, {tb::attr_int("axis", 0)}});
  m.add({"Reshape", "", "rs", {"x", "shape2"}, {"y"}, {}});
  lr::Session s = load(m);
  EXPECT_EQ(s.inputs()[0].shape, (std::vector<int64_t>{-1, 2, 4, 4}));
  EXPECT_EQ(s.inputs()[0].dim_params[0], "N");
  EXPECT_EQ(s.outputs()[0].shape, (std::vector<int64_t>{-1, 32}));
  for (int64_t n : {1, 3, 2, 3}) {
    lr::Tensor x(lr::DType::kInt8, {n, 2, 4, 4});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<int8_t>()[i] = static_cast<int8_t>(i * 7);
    const lr::Tensor y = s.run({{"x", x}})[0];
    EXPECT_EQ(y.shape(), (std::vector<int64_t>{n, 32}));
    EXPECT_EQ(y.to_vector<int8_t>(), x.to_vector<int8_t>());
  }
}

TEST(Session, SymbolicShapeErrorsAtRunNameTheNode) {
  tb::Model m;  // batch is symbolic, the reshape target only fits batch 2
  m.input("x", tb::kInt8, {-1, 3}).output("y", tb::kInt8, {3, 2});
  m.init(tb::tensor<int64_t>("s", tb::kInt64, {2}, {3, 2}));
  m.add({"Reshape", "", "rs", {"x", "s"}, {"y"}, {}});
  lr::Session s = load(m);
  EXPECT_NO_THROW(s.run({{"x", lr::Tensor(lr::DType::kInt8, {2, 3})}}));
  try {
    s.run({{"x", lr::Tensor(lr::DType::kInt8, {3, 3})}});
    FAIL();
  } catch (const lr::ValidationError& e) {
    EXPECT_EQ(e.node_name(), "rs");
    EXPECT_EQ(e.rule(), "shape");
  }
}

TEST(Session, OutputsCanBeInputsOrConstants) {
  tb::Model m;
  m.input("x", tb::kInt8, {2}).output("x", tb::kInt8, {2}).output("k", tb::kInt64, {2});
  m.init(tb::tensor<int64_t>("k", tb::kInt64, {2}, {4, 5}));
  lr::Session s = load(m);
  const auto out = s.run({{"x", lr::Tensor::from_vector<int8_t>({2}, {1, 2})}}, {"k", "x"});
  EXPECT_EQ(out[0].to_vector<int64_t>(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(out[1].to_vector<int8_t>(), (std::vector<int8_t>{1, 2}));
}

TEST(Session, FromFileAndMove) {
  const std::string path = testing::TempDir() + "linger_small_cnn.onnx";
  lr::write_file(path, tmodels::small_cnn().bytes());
  lr::Session a = lr::Session::from_file(path);
  lr::Session b = std::move(a);
  const std::vector<float> x = random_floats(72, 9);
  EXPECT_EQ(b.run({{"x", lr::Tensor::from_vector<float>({1, 2, 6, 6}, x)}})[0].to_vector<float>(), reference(x));
  std::remove(path.c_str());
}

TEST(Session, ShapeOpsChainWithSymbolicBatch) {
  lr::Session s = load(tmodels::shape_ops());
  EXPECT_EQ(s.outputs()[0].shape, (std::vector<int64_t>{-1, 8}));
  for (int64_t n : {1, 2}) {
    lr::Tensor x(lr::DType::kInt8, {n, 4, 6});
    for (int64_t i = 0; i < x.numel(); ++i) x.data<int8_t>()[i] = static_cast<int8_t>((i * 37) % 256 - 128);
    const lr::Tensor b = lr::Tensor::from_vector<int8_t>({4}, {-100, 5, 77, 127});
    const lr::Tensor y = s.run({{"x", x}, {"b", b}})[0];
    ASSERT_EQ(y.shape(), (std::vector<int64_t>{n, 8}));
    const int8_t* xp = x.data<int8_t>();
    for (int64_t bi = 0; bi < n; ++bi) {
      // avg[h][w] over 2x2 windows of x[bi] (4x6 -> 2x3); t = avg^T (3x2); slice rows 0,2; cat -> 2x4
      int8_t avg[2][3];
      for (int h = 0; h < 2; ++h)
        for (int w = 0; w < 3; ++w) {
          int64_t sum = 0;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx) sum += xp[(bi * 4 + 2 * h + dy) * 6 + 2 * w + dx];
          avg[h][w] = nm::avgpool_from_sum(sum, 4);
        }
      const int rows[2] = {0, 2};
      const int gather[4] = {3, 0, 1, 0};  // -4 -> 0
      for (int r = 0; r < 2; ++r)
        for (int j = 0; j < 4; ++j) {
          const int col = gather[j] % 2;  // concat of two 2-wide copies
          const int8_t v = avg[col][rows[r]];
          EXPECT_EQ(y.data<int8_t>()[bi * 8 + r * 4 + j], nm::iqadd(v, b.data<int8_t>()[j], 1, 2)) << bi << r << j;
        }
    }
  }
}

TEST(Tensor, Basics) {
  lr::Tensor t(lr::DType::kInt16, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 12u);
  EXPECT_EQ(t.data<int16_t>()[5], 0);
  EXPECT_THROW(t.data<int8_t>(), lr::InputError);
  EXPECT_THROW(t.reshape({4}), lr::InputError);
  t.reshape({3, 2});
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_THROW(lr::Tensor(lr::DType::kInt8, {-1}), lr::InputError);
  EXPECT_THROW(lr::Tensor::from_vector<int8_t>({3}, {1, 2}), lr::InputError);
  EXPECT_EQ(lr::shape_str({1, -1, 3}), "[1,?,3]");
}
