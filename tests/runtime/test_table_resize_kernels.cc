// TableInt and ResizeInt (domain linger): one-node models through the Session on every ISA.
// TableInt is a gather from the table in the file (checked with arbitrary tables, per tensor
// and per channel); ResizeInt against an independent re-derivation here of the index and
// weight rules of docs/onnx-dialect.md in exact rationals (long double free, integers only:
// weights as floor(frac*256/den + 1/2) from cross-multiplication). Plus the load-time rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "linger/runtime/runtime.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;

namespace {

using Shape = std::vector<int64_t>;

lr::Session load(const tb::Model& m, lr::Isa isa = lr::Isa::kAuto) {
  lr::SessionOptions o;
  o.isa = isa;
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), o);
}

tb::Model linger_model() {
  tb::Model m;
  m.opsets.push_back({"linger", 1});
  return m;
}

std::string raw_i8(const std::vector<int8_t>& v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size()); }

tb::Model table_model(const Shape& shape, int64_t rows, const std::vector<int8_t>& table, float sx, float so) {
  tb::Model m = linger_model();
  m.input("x", tb::kInt8, shape).output("y", tb::kInt8, shape);
  m.init(tb::tensor_raw("t", tb::kInt8, {rows, 256}, raw_i8(table)));
  m.add({"TableInt", "linger", "tab", {"x", "t"}, {"y"},
         {tb::attr_float("scale_x", sx), tb::attr_float("scale_o", so), tb::attr_string("function", "prelu")}});
  return m;
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

TEST(TableResizeKernels, TableIntGathersPerTensorAndPerChannel) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(-128, 127);
  for (int64_t rows : {1, 3}) {
    std::vector<int8_t> table(static_cast<size_t>(rows * 256));
    for (auto& v : table) v = static_cast<int8_t>(d(rng));
    const Shape shape{2, 3, 4, 5};
    std::vector<int8_t> x(120);
    for (auto& v : x) v = static_cast<int8_t>(d(rng));
    x[0] = -128;
    x[1] = 127;
    tb::Model m = table_model(shape, rows, table, 16.0f, 4.0f);
    for (lr::Isa isa : {lr::Isa::kScalar, lr::Isa::kAuto}) {
      lr::Session s = load(m, isa);
      const std::vector<int8_t> y = s.run({{"x", lr::Tensor::from_vector<int8_t>(shape, x)}}).at(0).to_vector<int8_t>();
      for (size_t i = 0; i < x.size(); ++i) {
        const int64_t ch = rows == 1 ? 0 : (static_cast<int64_t>(i) / 20) % 3;  // [N, C, H*W = 20]
        ASSERT_EQ(y[i], table[static_cast<size_t>(ch * 256 + x[i] + 128)]) << "rows " << rows << " at " << i;
      }
    }
  }
}

TEST(TableResizeKernels, TableIntLoadRules) {
  std::vector<int8_t> t3(3 * 256, 0), t1(128, 0);
  expect_invalid(table_model({2, 4, 5}, 3, t3, 16.0f, 4.0f), "node 'tab' (TableInt)", "shape", "table rows 3");
  tb::Model bad = linger_model();
  bad.input("x", tb::kInt8, {4}).output("y", tb::kInt8, {4});
  bad.init(tb::tensor_raw("t", tb::kInt8, {1, 128}, raw_i8(t1)));
  bad.add({"TableInt", "linger", "tab", {"x", "t"}, {"y"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_o", 4.0f), tb::attr_string("function", "prelu")}});
  expect_invalid(bad, "node 'tab' (TableInt)", "shape", "[C, 256]");
  tb::Model fn = table_model({4}, 1, std::vector<int8_t>(256, 0), 16.0f, 4.0f);
  tb::set_attr(fn.nodes[0], "function", tb::attr_string("function", "tanh"));
  expect_invalid(fn, "node 'tab' (TableInt)", "attribute-value", "function");
  tb::Model v2 = table_model({4}, 1, std::vector<int8_t>(256, 0), 16.0f, 4.0f);
  v2.opsets.back().second = 2;
  try {
    load(v2);
    ADD_FAILURE() << "domain linger opset 2 loaded";
  } catch (const lr::ValidationError& e) {
    EXPECT_NE(std::string(e.what()).find("domain 'linger' opset 2"), std::string::npos) << e.what();
  }
}

// floor(a / b + 1/2), b > 0, integers
int64_t rhu_q(int64_t a, int64_t b) {
  int64_t q = a / b, r = a % b;
  if (r < 0) {
    --q;
    r += b;
  }
  return 2 * r >= b ? q + 1 : q;
}

struct Tap {
  int64_t i0, i1, w1;
};

Tap tap(int64_t d, int64_t in, int64_t out, bool ac) {
  // source position p = num / den
  int64_t num = ac ? (out > 1 ? d * (in - 1) : 0) : std::max<int64_t>(0, (2 * d + 1) * in - out);
  const int64_t den = ac ? std::max<int64_t>(out - 1, 1) : 2 * out;
  int64_t i0 = std::min(num / den, in - 1);
  return {i0, std::min(i0 + 1, in - 1), std::min<int64_t>(rhu_q((num - i0 * den) * 256, den), 256)};
}

TEST(TableResizeKernels, ResizeIntNearestAndBilinearAgainstTheRule) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> d(-128, 127);
  const Shape in{1, 2, 3, 5};
  std::vector<int8_t> x(30);
  for (auto& v : x) v = static_cast<int8_t>(d(rng));
  x[0] = 127;
  x[1] = 127;
  x[5] = 127;
  x[6] = 127;  // a saturated corner
  for (const std::string mode : {"nearest", "bilinear"})
    for (int ac : {0, 1}) {
      if (mode == "nearest" && ac) continue;
      for (const Shape& out : {Shape{6, 10}, Shape{2, 3}, Shape{7, 4}, Shape{1, 1}, Shape{3, 5}}) {
        tb::Model m = linger_model();
        m.input("x", tb::kInt8, in).output("y", tb::kInt8, {1, 2, out[0], out[1]});
        m.add({"ResizeInt", "linger", "rs", {"x"}, {"y"},
               {tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_o", 8.0f), tb::attr_ints("size", out),
                tb::attr_string("mode", mode), tb::attr_int("align_corners", ac)}});
        lr::Session s = load(m);
        const std::vector<int8_t> y = s.run({{"x", lr::Tensor::from_vector<int8_t>(in, x)}}).at(0).to_vector<int8_t>();
        for (int64_t c = 0; c < 2; ++c)
          for (int64_t oy = 0; oy < out[0]; ++oy)
            for (int64_t ox = 0; ox < out[1]; ++ox) {
              const int8_t* p = x.data() + c * 15;
              int64_t want;
              if (mode == "nearest") {
                want = p[std::min(oy * 3 / out[0], int64_t{2}) * 5 + std::min(ox * 5 / out[1], int64_t{4})];
              } else {
                const Tap ty = tap(oy, 3, out[0], ac), tx = tap(ox, 5, out[1], ac);
                const int64_t acc = (256 - ty.w1) * ((256 - tx.w1) * p[ty.i0 * 5 + tx.i0] + tx.w1 * p[ty.i0 * 5 + tx.i1]) +
                                    ty.w1 * ((256 - tx.w1) * p[ty.i1 * 5 + tx.i0] + tx.w1 * p[ty.i1 * 5 + tx.i1]);
                want = std::min<int64_t>(127, std::max<int64_t>(-128, rhu_q(acc, 65536)));
              }
              ASSERT_EQ(y[static_cast<size_t>((c * out[0] + oy) * out[1] + ox)], want)
                  << mode << " ac " << ac << " out " << out[0] << "x" << out[1] << " at " << c << "," << oy << "," << ox;
            }
      }
    }
}

TEST(TableResizeKernels, ResizeIntLoadRules) {
  auto model = [](float so, const std::string& mode, int ac, Shape in) {
    tb::Model m = linger_model();
    m.input("x", tb::kInt8, in).output("y", tb::kInt8, {1, 1, 4, 4});
    m.add({"ResizeInt", "linger", "rs", {"x"}, {"y"},
           {tb::attr_float("scale_x", 8.0f), tb::attr_float("scale_o", so), tb::attr_ints("size", {4, 4}),
            tb::attr_string("mode", mode), tb::attr_int("align_corners", ac)}});
    return m;
  };
  EXPECT_NO_THROW(load(model(8.0f, "bilinear", 1, {1, 1, 2, 2})));
  expect_invalid(model(16.0f, "nearest", 0, {1, 1, 2, 2}), "node 'rs' (ResizeInt)", "attribute-value", "scale_o must equal");
  expect_invalid(model(8.0f, "nearest", 1, {1, 1, 2, 2}), "node 'rs' (ResizeInt)", "attribute-value", "align_corners");
  expect_invalid(model(8.0f, "cubic", 0, {1, 1, 2, 2}), "node 'rs' (ResizeInt)", "attribute-value", "mode");
  expect_invalid(model(8.0f, "nearest", 0, {1, 2, 2}), "node 'rs' (ResizeInt)", "shape", "rank");
}

// linger 1.x exported ReLU6Int as a standard Clip on int8 with int8 scalar constants (spec 3.10).
tb::Model int8_clip(int8_t lo, int8_t hi, bool const_hi = true) {
  tb::Model m;
  m.input("x", tb::kInt8, {256}).output("y", tb::kInt8, {256});
  m.init(tb::tensor_raw("lo", tb::kInt8, {}, raw_i8({lo})));
  if (const_hi) m.init(tb::tensor_raw("hi", tb::kInt8, {}, raw_i8({hi})));
  else m.input("hi", tb::kInt8, {});
  m.add({"Clip", "", "relu6", {"x", "lo", "hi"}, {"y"}, {}});
  return m;
}

TEST(TableResizeKernels, Int8ClipOfLinger1xReLU6Int) {
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
  lr::Session s = load(int8_clip(0, 96));
  const std::vector<int8_t> y = s.run({{"x", lr::Tensor::from_vector<int8_t>({256}, x)}}).at(0).to_vector<int8_t>();
  for (int i = 0; i < 256; ++i) ASSERT_EQ(y[static_cast<size_t>(i)], i - 128 < 0 ? 0 : (i - 128 > 96 ? 96 : i - 128)) << i;
  expect_invalid(int8_clip(5, 4), "node 'relu6' (Clip)", "attribute-value", "min <= max");
  expect_invalid(int8_clip(0, 4, false), "node 'relu6' (Clip)", "constant-input", "must be a constant");
}

}  // namespace
