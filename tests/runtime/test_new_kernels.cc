// Conv1dInt, ConvTranspose2dInt, BatchNorm2dInt, Cast (float <-> integers) and float Relu:
// whole models (Quant -> op -> Dequant) against the numerics headers on every ISA the CPU
// has, tolerance 0, and the load-time rules these ops add (each error names node and rule).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "linger/numerics/batchnorm.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/conv1d.h"
#include "linger/numerics/convtranspose.h"
#include "linger/numerics/quantize.h"
#include "../numerics/reference.h"
#include "linger/runtime/runtime.h"
#include "test_models.h"

namespace lr = linger::runtime;
namespace nm = linger::numerics;
namespace kref = linger_test::kref;

namespace {

const int kQx = 4, kQw = 6;  // input / weight exponents of every conv-like model here

lr::Session load(const tb::Model& m, lr::Isa isa = lr::Isa::kAuto) {
  lr::SessionOptions o;
  o.isa = isa;
  const std::string b = m.bytes();
  return lr::Session::from_bytes(b.data(), b.size(), o);
}

std::vector<lr::Isa> session_isas() {
  std::vector<lr::Isa> v{lr::Isa::kScalar};
  for (lr::Isa i : {lr::Isa::kAvx2, lr::Isa::kAvx512Vnni})
    if (lr::isa_supported(i)) v.push_back(i);
  v.push_back(lr::Isa::kAuto);
  return v;
}

float pow2(int q) { return std::ldexp(1.0f, q); }

tb::Node quant(const std::string& in, const std::string& out, int q) {
  return {"Quant", "thinker", "q", {in}, {out}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", pow2(q))}};
}
tb::Node dequant(const std::string& in, const std::string& out, int q) {
  return {"Dequant", "thinker", "dq", {in}, {out}, {tb::attr_float("scale_o", pow2(q))}};
}

// Normal floats (sd large enough that some codes saturate at the Quant).
std::vector<float> random_floats(size_t n, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (float& f : v) f = d(rng);
  return v;
}

std::vector<int8_t> quantize_all(const std::vector<float>& x, int q) {
  std::vector<int8_t> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) v[i] = static_cast<int8_t>(nm::quantize(x[i], q, 8));
  return v;
}

// The float model output of a conv-like op followed by Dequant(Qo) (o_bits 8/16/32), or of
// the op's own float output (o_bits 0). ref(out, shift, bits) is the numerics reference.
template <class Ref>
std::vector<float> conv_like_reference(size_t ny, int o_bits, int qo, Ref ref) {
  std::vector<float> y(ny);
  const int shift = kQx + kQw - qo;
  if (o_bits == 8) {
    std::vector<int8_t> r(ny);
    ref(r.data(), shift, 8);
    for (size_t i = 0; i < ny; ++i) y[i] = nm::dequantize(r[i], qo);
  } else if (o_bits == 16) {
    std::vector<int16_t> r(ny);
    ref(r.data(), shift, 16);
    for (size_t i = 0; i < ny; ++i) y[i] = nm::dequantize(r[i], qo);
  } else {
    std::vector<int32_t> r(ny);
    ref(r.data(), o_bits ? shift : 0, 32);
    for (size_t i = 0; i < ny; ++i) y[i] = nm::dequantize(r[i], o_bits ? qo : kQx + kQw);
  }
  return y;
}

// The same float model output computed from the independent reference (tests/numerics/reference.h):
// codes(shift, bits) gives the op's integer outputs; Quant's codes come from indep_quantize_all.
template <class Codes>
std::vector<float> indep_conv_like_reference(int o_bits, int qo, Codes codes) {
  const int shift = kQx + kQw - qo;
  const std::vector<int64_t> c = o_bits ? codes(shift, o_bits) : codes(0, 32);
  std::vector<float> y(c.size());
  for (size_t i = 0; i < c.size(); ++i) y[i] = kref::dequant(c[i], o_bits ? qo : kQx + kQw);
  return y;
}

std::vector<int8_t> indep_quantize_all(const std::vector<float>& x, int q) {
  std::vector<int8_t> v(x.size());
  for (size_t i = 0; i < x.size(); ++i) v[i] = static_cast<int8_t>(linger_test::indep::quantize8(x[i], q));
  return v;
}

// Adds `op` (output "c" when o_bits, else "y") and, with o_bits, Dequant(Qo) -> "y".
void add_conv_like(tb::Model& m, tb::Node op, int o_bits, int qo) {
  op.attrs.push_back(tb::attr_float("scale_x", pow2(kQx)));
  op.attrs.push_back(tb::attr_float("scale_w", pow2(kQw)));
  op.out = {o_bits ? "c" : "y"};
  if (o_bits) {
    op.attrs.push_back(tb::attr_float("scale_o", pow2(qo)));
    op.attrs.push_back(tb::attr_int("o_bits", o_bits));
  }
  m.add(op);
  if (o_bits) m.add(dequant("c", "y", qo));
}

// Runs m (float input "x") on every ISA; the output must be `expect` bit for bit.
void expect_on_every_isa(const tb::Model& m, const std::vector<int64_t>& xdims, const std::vector<float>& x,
                         const std::vector<int64_t>& ydims, const std::vector<float>& expect) {
  for (lr::Isa isa : session_isas()) {
    lr::Session s = load(m, isa);
    const lr::Tensor y = s.run({{"x", lr::Tensor::from_vector<float>(xdims, x)}}).at(0);
    ASSERT_EQ(y.shape(), ydims) << lr::isa_name(isa);
    const std::vector<float> got = y.to_vector<float>();
    ASSERT_EQ(got.size(), expect.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::memcmp(&got[i], &expect[i], sizeof(float)) != 0 && bad++ < 5)
        ADD_FAILURE() << lr::isa_name(isa) << " element " << i << ": got " << got[i] << ", expected " << expect[i];
    EXPECT_EQ(bad, 0u) << lr::isa_name(isa);
  }
}

// Expects a ValidationError with this rule whose message contains `where`.
void expect_invalid(const tb::Model& m, const std::string& where, const std::string& rule) {
  try {
    load(m);
    ADD_FAILURE() << "model loaded, expected rule '" << rule << "'";
  } catch (const lr::ValidationError& e) {
    EXPECT_EQ(e.rule(), rule) << e.what();
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << "message lacks \"" << where << "\": " << e.what();
    EXPECT_NE(std::string(e.what()).find("rule '" + rule + "'"), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected error type: " << e.what();
  }
}

}  // namespace

// ------------------------------------------------------------------ Conv1dInt

TEST(NewKernels, Conv1dIntModelsMatchNumerics) {
  struct C {
    int n, c, l, o, k, stride, dil, pl, pr, g, o_bits;
    bool bias;
    int qo;
  };
  const C cases[] = {
      {1, 3, 20, 4, 3, 1, 1, 1, 1, 1, 8, true, 3},     // plain
      {2, 4, 17, 6, 3, 2, 2, 2, 0, 2, 8, true, 1},     // groups, stride, dilation, asymmetric pads; shift 9
      {1, 8, 33, 8, 5, 1, 1, 2, 2, 8, 16, false, 12},  // depthwise, no bias, shift -2 (left shift, saturating)
      {2, 16, 9, 24, 1, 1, 1, 0, 0, 1, 16, true, 12},  // pointwise, int16 output, shift -2
      {1, 2, 16, 2, 1, 1, 1, 0, 0, 1, 8, false, 11},   // shift -1 at 8 bits (saturating left shift)
      {3, 2, 1, 5, 1, 1, 1, 0, 0, 1, 32, true, 4},     // L = 1, int32 output
      {1, 5, 12, 3, 4, 3, 1, 1, 2, 1, 0, true, 0},     // float output (no o_bits)
      {1, 6, 10, 4, 3, 1, 3, 3, 3, 2, 0, false, 0},    // float output, no bias, dilation 3
      {2, 24, 40, 32, 3, 2, 1, 1, 1, 1, 8, true, 2},   // wider: SIMD blocks and tails
      // kernel = stride, a multiple of 4, no padding: the tiling path on AVX-512 VNNI (Conv1dFramesInt8)
      {1, 40, 98, 64, 4, 4, 1, 0, 0, 1, 8, true, 2},   // the speech front-end (L % K = 2 frames dropped)
      {2, 7, 150, 13, 8, 8, 1, 0, 0, 1, 8, false, 3},  // K = 8, odd channels, no bias
      {1, 3, 148, 9, 4, 4, 1, 0, 0, 1, 8, true, 1},    // 37 output columns: two column panels
      {1, 3, 16, 5, 4, 4, 1, 0, 0, 1, 8, true, 11},    // shift -1: the general path
      {1, 4, 16, 6, 4, 4, 1, 0, 0, 1, 16, true, 5},    // int16 output: the general path
  };
  uint32_t seed = 100;
  for (const C& k : cases) {
    nm::Conv1dShape s;
    s.n = k.n, s.c = k.c, s.l = k.l, s.o = k.o, s.k = k.k, s.stride = k.stride, s.dil = k.dil;
    s.pad_left = k.pl, s.pad_right = k.pr, s.groups = k.g;
    ASSERT_TRUE(s.valid());
    const std::vector<int64_t> xd{k.n, k.c, k.l}, yd{k.n, k.o, s.out_l()};
    const auto x = random_floats(static_cast<size_t>(k.n * k.c * k.l), 5.0f, seed++);
    const auto w = tmodels::random_ints<int8_t>(static_cast<size_t>(k.o * (k.c / k.g) * k.k), -128, 127, seed++);
    const auto b = tmodels::random_ints<int32_t>(static_cast<size_t>(k.o), -5000, 5000, seed++);
    tb::Model m;
    m.input("x", tb::kFloat, xd).output("y", tb::kFloat, yd);
    m.init(tb::tensor("w", tb::kInt8, {k.o, k.c / k.g, k.k}, w));
    std::vector<std::string> in{"xq", "w"};
    if (k.bias) {
      m.init(tb::tensor("b", tb::kInt32, {k.o}, b));
      in.push_back("b");
    }
    m.add(quant("x", "xq", kQx));
    add_conv_like(m,
                  {"Conv1dInt", "thinker", "conv", in, {}, {tb::attr_ints("kernel_shape", {k.k}),
                   tb::attr_ints("strides", {k.stride}), tb::attr_ints("dilations", {k.dil}),
                   tb::attr_ints("pads", {k.pl, k.pr}), tb::attr_int("group", k.g), tb::attr_int("data_bits", 8),
                   tb::attr_int("parameter_bits", 8), tb::attr_string("platform_quant", "luna_quant")}},
                  k.o_bits, k.qo);
    // expected values from the independent reference (a conv2d with h = kh = 1), not numerics::conv1d_int
    const kref::Conv rk{k.n, k.c, 1, k.l, k.o, 1, k.k, 1, k.stride, 1, k.dil, 0, k.pl, 0, k.pr, k.g};
    ASSERT_EQ(yd, (std::vector<int64_t>{k.n, k.o, rk.ow()}));
    const std::vector<int8_t> xq = indep_quantize_all(x, kQx);
    const int32_t* bp = k.bias ? b.data() : nullptr;
    const auto ref = indep_conv_like_reference(k.o_bits, k.qo, [&](int shift, int bits) {
      return kref::conv2d_int(xq, w, bp, rk, shift, bits);
    });
    SCOPED_TRACE("case c=" + std::to_string(k.c) + " l=" + std::to_string(k.l) + " o_bits=" + std::to_string(k.o_bits));
    expect_on_every_isa(m, xd, x, yd, ref);
  }
}

// ------------------------------------------------------------------ ConvTranspose2dInt

TEST(NewKernels, ConvTranspose2dIntModelsMatchNumerics) {
  struct C {
    int n, c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw, g, o_bits;
    bool bias;
    int qo;
  };
  const C cases[] = {
      {1, 3, 5, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 8, true, 3},    // upsample x2, pad 1, output_padding 1
      {2, 4, 4, 6, 6, 2, 3, 1, 2, 2, 1, 0, 1, 2, 0, 1, 1, 2, 8, true, 1},    // groups 2, opad < dilation, shift 9
      {1, 4, 3, 3, 4, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 2, 0, 4, 16, false, 12}, // depthwise, gaps, shift -2, no bias
      {1, 2, 4, 4, 3, 4, 4, 2, 2, 1, 1, 3, 3, 3, 3, 0, 0, 1, 16, true, 5},   // large crop, int16 output
      {1, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 32, true, 2},   // int32 output
      {1, 3, 4, 5, 2, 3, 2, 2, 1, 1, 2, 1, 0, 0, 1, 1, 0, 1, 0, true, 0},    // float output
      {2, 2, 3, 3, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, 2, 0, false, 0},   // float output, no bias, groups
  };
  uint32_t seed = 200;
  for (const C& k : cases) {
    nm::ConvTranspose2dShape s;
    s.n = k.n, s.c = k.c, s.h = k.h, s.w = k.w, s.o = k.o, s.kh = k.kh, s.kw = k.kw, s.stride_h = k.sh;
    s.stride_w = k.sw, s.dil_h = k.dh, s.dil_w = k.dw, s.pad_top = k.pt, s.pad_left = k.pl, s.pad_bottom = k.pb;
    s.pad_right = k.pr, s.out_pad_h = k.oph, s.out_pad_w = k.opw, s.groups = k.g;
    ASSERT_TRUE(s.valid());
    const std::vector<int64_t> xd{k.n, k.c, k.h, k.w}, yd{k.n, k.o, s.out_h(), s.out_w()};
    const auto x = random_floats(static_cast<size_t>(k.n * k.c * k.h * k.w), 5.0f, seed++);
    const auto w = tmodels::random_ints<int8_t>(static_cast<size_t>(k.c * (k.o / k.g) * k.kh * k.kw), -128, 127, seed++);
    const auto b = tmodels::random_ints<int32_t>(static_cast<size_t>(k.o), -5000, 5000, seed++);
    tb::Model m;
    m.input("x", tb::kFloat, xd).output("y", tb::kFloat, yd);
    m.init(tb::tensor("w", tb::kInt8, {k.c, k.o / k.g, k.kh, k.kw}, w));
    std::vector<std::string> in{"xq", "w"};
    if (k.bias) {
      m.init(tb::tensor("b", tb::kInt32, {k.o}, b));
      in.push_back("b");
    }
    m.add(quant("x", "xq", kQx));
    add_conv_like(m,
                  {"ConvTranspose2dInt", "thinker", "deconv", in, {}, {tb::attr_ints("kernel_shape", {k.kh, k.kw}),
                   tb::attr_ints("strides", {k.sh, k.sw}), tb::attr_ints("dilations", {k.dh, k.dw}),
                   tb::attr_ints("pads", {k.pt, k.pl, k.pb, k.pr}), tb::attr_ints("output_padding", {k.oph, k.opw}),
                   tb::attr_int("group", k.g), tb::attr_int("data_bits", 8), tb::attr_int("parameter_bits", 8)}},
                  k.o_bits, k.qo);
    // expected values and output shape from the independent scatter reference, not numerics::
    const kref::ConvT rk{k.n, k.c, k.h, k.w, k.o, k.kh, k.kw, k.sh, k.sw, k.dh, k.dw, k.pt, k.pl, k.pb, k.pr, k.oph, k.opw, k.g};
    ASSERT_EQ(yd, (std::vector<int64_t>{k.n, k.o, rk.oh(), rk.ow()}));
    const std::vector<int8_t> xq = indep_quantize_all(x, kQx);
    const int32_t* bp = k.bias ? b.data() : nullptr;
    const auto ref = indep_conv_like_reference(k.o_bits, k.qo, [&](int shift, int bits) {
      return kref::convtranspose2d_int(xq, w, bp, rk, shift, bits);
    });
    SCOPED_TRACE("case c=" + std::to_string(k.c) + " s=" + std::to_string(k.sh) + "x" + std::to_string(k.sw) +
                 " o_bits=" + std::to_string(k.o_bits));
    expect_on_every_isa(m, xd, x, yd, ref);
  }
}

// ------------------------------------------------------------------ BatchNorm2dInt

TEST(NewKernels, BatchNorm2dIntModelsMatchNumerics) {
  const int64_t c = 3, h = 4, w = 5;
  const auto wt = tmodels::random_ints<int8_t>(c, -128, 127, 300);
  const auto bias = tmodels::random_ints<int32_t>(c, -3000, 3000, 301);
  // o_bits 0 = attribute absent (int8 output); qo 12 gives shift -2 (exact left shift, then saturation).
  for (auto [o_bits, qo] : std::vector<std::pair<int, int>>{{0, 3}, {8, 3}, {8, 12}, {16, 5}, {16, 12}, {32, 2}}) {
    tb::Model m;
    m.input("x", tb::kFloat, {-1, c, h, w}).output("y", tb::kFloat, {-1, c, h, w});  // symbolic batch
    m.init(tb::tensor("bw", tb::kInt8, {c}, wt)).init(tb::tensor("bb", tb::kInt32, {c}, bias));
    m.add(quant("x", "xq", kQx));
    std::vector<std::string> attrs{tb::attr_float("scale_x", pow2(kQx)), tb::attr_float("scale_w", pow2(kQw)),
                                   tb::attr_float("scale_o", pow2(qo)), tb::attr_int("data_bits", 8),
                                   tb::attr_string("platform_quant", "luna_quant")};
    if (o_bits) attrs.push_back(tb::attr_int("o_bits", o_bits));
    m.add({"BatchNorm2dInt", "thinker", "bn", {"xq", "bw", "bb"}, {"c"}, attrs});
    m.add(dequant("c", "y", qo));
    for (int64_t n : {2, 1}) {
      const std::vector<int64_t> d{n, c, h, w};
      const auto x = random_floats(static_cast<size_t>(n * c * h * w), 5.0f, static_cast<uint32_t>(310 + n));
      const std::vector<int8_t> xq = indep_quantize_all(x, kQx);
      const auto ref = indep_conv_like_reference(o_bits ? o_bits : 8, qo, [&](int shift, int bits) {
        return kref::batchnorm_int(xq, wt, bias, static_cast<int>(n), static_cast<int>(c), static_cast<int>(h * w),
                                   shift, bits);
      });
      SCOPED_TRACE("o_bits " + std::to_string(o_bits) + " qo " + std::to_string(qo) + " n " + std::to_string(n));
      expect_on_every_isa(m, d, x, d, ref);
    }
  }
}

TEST(NewKernels, BatchNorm2dIntExtremeCodes) {
  // Every int8 code against extreme W and B, int32 output (shift 0 and -1: only the final saturation clips).
  const std::vector<int8_t> wt{-128, 127, -1, 0};
  const std::vector<int32_t> bias{INT32_MAX, INT32_MIN, 0, -7};
  std::vector<int8_t> x(4 * 64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<int8_t>(i);  // wraps: every code once
  for (auto [o_bits, qo] : std::vector<std::pair<int, int>>{{32, 10}, {32, 11}, {8, 3}}) {
    tb::Model m;
    m.input("x", tb::kInt8, {1, 4, 8, 8}).output("y", o_bits == 32 ? tb::kInt32 : tb::kInt8, {1, 4, 8, 8});
    m.init(tb::tensor("bw", tb::kInt8, {4}, wt)).init(tb::tensor("bb", tb::kInt32, {4}, bias));
    m.add({"BatchNorm2dInt", "thinker", "bn", {"x", "bw", "bb"}, {"y"},
           {tb::attr_float("scale_x", pow2(kQx)), tb::attr_float("scale_w", pow2(kQw)), tb::attr_float("scale_o", pow2(qo)),
            tb::attr_int("o_bits", o_bits)}});
    const lr::Tensor y = load(m).run({{"x", lr::Tensor::from_vector<int8_t>({1, 4, 8, 8}, x)}}).at(0);
    const std::vector<int64_t> ref = kref::batchnorm_int(x, wt, bias, 1, 4, 64, kQx + kQw - qo, o_bits);
    if (o_bits == 32) {
      const std::vector<int32_t> got = y.to_vector<int32_t>();
      EXPECT_EQ(std::vector<int64_t>(got.begin(), got.end()), ref) << qo;
      EXPECT_EQ(y.data<int32_t>()[0], INT32_MAX);  // 0 * -128 + INT32_MAX
      // x = 1 (code 1), w = -128, b = INT32_MAX: exact INT32_MAX - 128, at shift 0 (qo 10) or rounded up at shift -1
      EXPECT_EQ(y.data<int32_t>()[1], qo == 10 ? INT32_MAX - 128 : INT32_MAX);
    } else {
      const std::vector<int8_t> got = y.to_vector<int8_t>();
      EXPECT_EQ(std::vector<int64_t>(got.begin(), got.end()), ref);
    }
  }
}

// ------------------------------------------------------------------ Cast and float Relu

TEST(NewKernels, CastReluCastIsExactlyAnInt8Relu) {
  {  // every int8 code through torch's pre-opset-14 int8 ReLU
    tb::Model m;
    m.input("x", tb::kInt8, {256}).output("y", tb::kInt8, {256});
    m.add({"Cast", "", "to_f", {"x"}, {"f"}, {tb::attr_int("to", tb::kFloat)}});
    m.add({"Relu", "", "relu", {"f"}, {"r"}, {}});
    m.add({"Cast", "", "to_i8", {"r"}, {"y"}, {tb::attr_int("to", tb::kInt8)}});
    std::vector<int8_t> x(256), expect(256);
    for (int i = 0; i < 256; ++i) {
      x[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
      expect[static_cast<size_t>(i)] = static_cast<int8_t>(i < 128 ? 0 : i - 128);
    }
    EXPECT_EQ(load(m).run({{"x", lr::Tensor::from_vector<int8_t>({256}, x)}}).at(0).to_vector<int8_t>(), expect);
  }
  {  // between a Quant and a Dequant: dequantize(relu(quantize(x)))
    tb::Model m;
    m.input("x", tb::kFloat, {2, 50}).output("y", tb::kFloat, {2, 50});
    m.add(quant("x", "xq", kQx));
    m.add({"Cast", "", "to_f", {"xq"}, {"f"}, {tb::attr_int("to", tb::kFloat)}});
    m.add({"Relu", "", "relu", {"f"}, {"r"}, {}});
    m.add({"Cast", "", "to_i8", {"r"}, {"r8"}, {tb::attr_int("to", tb::kInt8)}});
    m.add(dequant("r8", "y", kQx));
    const auto x = random_floats(100, 5.0f, 400);
    std::vector<float> expect(100);
    for (size_t i = 0; i < 100; ++i) expect[i] = nm::dequantize(std::max<int64_t>(0, nm::quantize(x[i], kQx, 8)), kQx);
    expect_on_every_isa(m, {2, 50}, x, {2, 50}, expect);
  }
}

TEST(NewKernels, CastFloatToIntTruncatesAndSaturates) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x{300.7f, -3.9f,   nan, 3.9f, -0.5f, 0.5f,  127.9f,
                             -128.9f, -129.0f, 128.0f, inf, -inf, 1e10f, -42.0f};
  {  // float -> Cast(int8) -> Cast(float)
    tb::Model m;
    m.input("x", tb::kFloat, {14}).output("y", tb::kFloat, {14});
    m.add({"Cast", "", "to_i8", {"x"}, {"i"}, {tb::attr_int("to", tb::kInt8)}});
    m.add({"Cast", "", "to_f", {"i"}, {"y"}, {tb::attr_int("to", tb::kFloat)}});
    const std::vector<float> expect{127, -3, 0, 3, 0, 0, 127, -128, -128, 127, 127, -128, 127, -42};
    EXPECT_EQ(load(m).run({{"x", lr::Tensor::from_vector<float>({14}, x)}}).at(0).to_vector<float>(), expect);
  }
  auto cast_to = [&](int to) {
    tb::Model m;
    m.input("x", tb::kFloat, {14}).output("y", to, {14});
    m.add({"Cast", "", "ca", {"x"}, {"y"}, {tb::attr_int("to", to)}});
    return load(m).run({{"x", lr::Tensor::from_vector<float>({14}, x)}}).at(0);
  };
  EXPECT_EQ(cast_to(tb::kInt16).to_vector<int16_t>(),
            (std::vector<int16_t>{300, -3, 0, 3, 0, 0, 127, -128, -129, 128, 32767, -32768, 32767, -42}));
  EXPECT_EQ(cast_to(tb::kInt32).to_vector<int32_t>(),
            (std::vector<int32_t>{300, -3, 0, 3, 0, 0, 127, -128, -129, 128, INT32_MAX, INT32_MIN, INT32_MAX, -42}));
  EXPECT_EQ(cast_to(tb::kInt64).to_vector<int64_t>(),
            (std::vector<int64_t>{300, -3, 0, 3, 0, 0, 127, -128, -129, 128, INT64_MAX, INT64_MIN, 10000000000, -42}));
}

TEST(NewKernels, CastIntToFloatIsExact) {
  tb::Model m;  // int32 and int64 inputs: exact up to 2^24, and at the int32 extremes (powers of two)
  m.input("a", tb::kInt32, {5}).input("b", tb::kInt64, {3}).input("c", tb::kInt16, {3});
  m.output("fa", tb::kFloat, {5}).output("fb", tb::kFloat, {3}).output("fc", tb::kFloat, {3});
  m.add({"Cast", "", "ca", {"a"}, {"fa"}, {tb::attr_int("to", tb::kFloat)}});
  m.add({"Cast", "", "cb", {"b"}, {"fb"}, {tb::attr_int("to", tb::kFloat)}});
  m.add({"Cast", "", "cc", {"c"}, {"fc"}, {tb::attr_int("to", tb::kFloat)}});
  const auto y = load(m).run({{"a", lr::Tensor::from_vector<int32_t>({5}, {16777216, -16777215, 123456, INT32_MIN, 0})},
                              {"b", lr::Tensor::from_vector<int64_t>({3}, {-(int64_t{1} << 40), 16777215, -1})},
                              {"c", lr::Tensor::from_vector<int16_t>({3}, {-32768, 32767, -5})}});
  EXPECT_EQ(y.at(0).to_vector<float>(), (std::vector<float>{16777216.0f, -16777215.0f, 123456.0f, -2147483648.0f, 0.0f}));
  EXPECT_EQ(y.at(1).to_vector<float>(), (std::vector<float>{-1099511627776.0f, 16777215.0f, -1.0f}));
  EXPECT_EQ(y.at(2).to_vector<float>(), (std::vector<float>{-32768.0f, 32767.0f, -5.0f}));
}

TEST(NewKernels, FloatRelu) {
  const float inf = std::numeric_limits<float>::infinity();
  tb::Model m;
  m.input("x", tb::kFloat, {6}).output("y", tb::kFloat, {6});
  m.add({"Relu", "", "relu", {"x"}, {"y"}, {}});
  const lr::Tensor x = lr::Tensor::from_vector<float>({6}, {-1.5f, 0.0f, 2.25f, -inf, inf, 1e-30f});
  EXPECT_EQ(load(m).run({{"x", x}}).at(0).to_vector<float>(), (std::vector<float>{0.0f, 0.0f, 2.25f, 0.0f, inf, 1e-30f}));
}

// Quant(Q4) -> Cast(float) -> Relu -> Cast(int8) -> Conv2dInt -> Dequant: the exponent passes
// through the chain, so the conv's scale_x is checked against the Quant's.
TEST(NewKernels, ExponentPassesThroughCastReluChain) {
  const auto cw = tmodels::random_ints<int8_t>(54, -128, 127, 500);
  const auto cb = tmodels::random_ints<int32_t>(3, -3000, 3000, 501);
  auto build = [&](float conv_scale_x) {
    tb::Model m;
    m.input("x", tb::kFloat, {1, 2, 5, 5}).output("y", tb::kFloat, {1, 3, 5, 5});
    m.init(tb::tensor("cw", tb::kInt8, {3, 2, 3, 3}, cw)).init(tb::tensor("cb", tb::kInt32, {3}, cb));
    m.add(quant("x", "xq", kQx));
    m.add({"Cast", "", "to_f", {"xq"}, {"f"}, {tb::attr_int("to", tb::kFloat)}});
    m.add({"Relu", "", "relu", {"f"}, {"r"}, {}});
    m.add({"Cast", "", "to_i8", {"r"}, {"r8"}, {tb::attr_int("to", tb::kInt8)}});
    m.add({"Conv2dInt", "thinker", "conv", {"r8", "cw", "cb"}, {"c"},
           tb::conv_attrs(conv_scale_x, pow2(kQw), 8.0f, 8, {3, 3}, {1, 1, 1, 1})});
    m.add(dequant("c", "y", 3));
    return m;
  };
  const auto x = random_floats(50, 5.0f, 502);
  std::vector<int8_t> r = quantize_all(x, kQx);
  for (int8_t& v : r) v = v < 0 ? 0 : v;
  nm::Conv2dShape s;
  s.c = 2, s.h = 5, s.w = 5, s.o = 3, s.kh = 3, s.kw = 3, s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = 1;
  std::vector<int8_t> c(75);
  nm::conv2d_int(r.data(), cw.data(), cb.data(), c.data(), s, kQx + kQw - 3, false, 8);
  std::vector<float> expect(75);
  for (size_t i = 0; i < 75; ++i) expect[i] = nm::dequantize(c[i], 3);
  expect_on_every_isa(build(pow2(kQx)), {1, 2, 5, 5}, x, {1, 3, 5, 5}, expect);
  expect_invalid(build(pow2(kQx + 1)), "node 'conv' (Conv2dInt)", "scale-consistency");
  tb::Model dq = build(pow2(kQx));  // a Dequant right after the chain must use the Quant's scale too
  dq.nodes.resize(4);
  dq.outputs = {tb::value_info("y", tb::kFloat, {1, 2, 5, 5})};
  dq.add(dequant("r8", "y", kQx - 1));
  expect_invalid(dq, "node 'dq' (Dequant)", "scale-consistency");
}

// ------------------------------------------------------------------ malformed models

TEST(NewKernels, MalformedModelsNameNodeAndRule) {
  {  // Cast to uint8 (2) is not a runtime type
    tb::Model m;
    m.input("x", tb::kFloat, {3}).output("y", tb::kFloat, {3});
    m.add({"Cast", "", "ca", {"x"}, {"i"}, {tb::attr_int("to", tb::kInt8)}});
    m.add({"Cast", "", "back", {"i"}, {"y"}, {tb::attr_int("to", tb::kFloat)}});
    EXPECT_NO_THROW(load(m));
    tb::set_attr(m.find("ca"), "to", tb::attr_int("to", 2));
    expect_invalid(m, "node 'ca' (Cast)", "attribute-value");
    tb::set_attr(m.find("ca"), "to", "");
    expect_invalid(m, "node 'ca' (Cast)", "attribute-missing");
  }
  {  // ConvTranspose2dInt: output_padding must be below max(stride, dilation)
    auto deconv = [](std::vector<int64_t> strides, std::vector<int64_t> dil, std::vector<int64_t> opad) {
      tb::Model m;
      m.input("x", tb::kInt8, {1, 2, 3, 3}).output("y", tb::kFloat, {1, 2, -1, -1});
      m.init(tb::tensor("w", tb::kInt8, {2, 2, 3, 3}, std::vector<int8_t>(36, 1)));
      m.add({"ConvTranspose2dInt", "thinker", "deconv", {"x", "w"}, {"y"},
             {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 16.0f), tb::attr_ints("strides", strides),
              tb::attr_ints("dilations", dil), tb::attr_ints("output_padding", opad)}});
      return m;
    };
    EXPECT_NO_THROW(load(deconv({2, 2}, {1, 1}, {1, 1})));
    EXPECT_NO_THROW(load(deconv({1, 1}, {2, 1}, {1, 0})));  // below the dilation (PyTorch's rule)
    expect_invalid(deconv({2, 2}, {1, 1}, {2, 0}), "node 'deconv' (ConvTranspose2dInt)", "attribute-value");
    expect_invalid(deconv({2, 2}, {1, 1}, {0, 3}), "node 'deconv' (ConvTranspose2dInt)", "attribute-value");
    expect_invalid(deconv({1, 1}, {1, 1}, {1, 0}), "node 'deconv' (ConvTranspose2dInt)", "attribute-value");
  }
  {  // BatchNorm2dInt: W / B of the wrong length, scale_o missing
    auto bn = [](int64_t nw, int64_t nb) {
      tb::Model m;
      m.input("x", tb::kInt8, {1, 3, 2, 2}).output("y", tb::kInt8, {1, 3, 2, 2});
      m.init(tb::tensor("bw", tb::kInt8, {nw}, std::vector<int8_t>(static_cast<size_t>(nw), 1)));
      m.init(tb::tensor("bb", tb::kInt32, {nb}, std::vector<int32_t>(static_cast<size_t>(nb), 1)));
      m.add({"BatchNorm2dInt", "thinker", "bn", {"x", "bw", "bb"}, {"y"},
             {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 16.0f), tb::attr_float("scale_o", 16.0f)}});
      return m;
    };
    EXPECT_NO_THROW(load(bn(3, 3)));
    expect_invalid(bn(4, 3), "node 'bn' (BatchNorm2dInt)", "shape");
    expect_invalid(bn(3, 2), "node 'bn' (BatchNorm2dInt)", "shape");
    tb::Model m = bn(3, 3);
    tb::set_attr(m.find("bn"), "scale_o", "");
    expect_invalid(m, "node 'bn' (BatchNorm2dInt)", "attribute-missing");
  }
  {  // Conv1dInt: 4-D input, 4-value pads
    tb::Model m;
    m.input("x", tb::kInt8, {1, 2, 8}).output("y", tb::kFloat, {1, 4, 6});
    m.init(tb::tensor("w", tb::kInt8, {4, 2, 3}, std::vector<int8_t>(24, 1)));
    m.add({"Conv1dInt", "thinker", "conv1d", {"x", "w"}, {"y"},
           {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_w", 16.0f), tb::attr_ints("kernel_shape", {3})}});
    EXPECT_NO_THROW(load(m));
    tb::Model m4 = m;
    m4.inputs = {tb::value_info("x", tb::kInt8, {1, 2, 1, 8})};
    expect_invalid(m4, "node 'conv1d' (Conv1dInt)", "shape");
    tb::set_attr(m.find("conv1d"), "pads", tb::attr_ints("pads", {1, 1, 1, 1}));
    expect_invalid(m, "node 'conv1d' (Conv1dInt)", "attribute-value");
  }
}
