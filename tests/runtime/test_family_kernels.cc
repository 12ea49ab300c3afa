// The op-family kernels (iqMul, iqDiv, iqSum, iqVar, iqCat, iqClamp, iqSigmoid, iqTanh,
// SoftmaxInt, LogSoftmaxInt, BmmInt, ShuffleChannel): one-node models run through the Session,
// outputs compared with the independent references of tests/numerics/reference.h
// (linger_test::indep: exact __int128 rationals, re-implemented tables), never with the
// numerics:: functions the kernels call; index arithmetic (broadcasting, reductions,
// concatenation, shuffles) is recomputed here from multi-indices. Plus the load-time rules of
// these ops: each malformed model must throw a ValidationError naming the node and the rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../numerics/reference.h"
#include "linger/runtime/runtime.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;
namespace ref = linger_test::indep;

namespace {

using Shape = std::vector<int64_t>;

float p2(int q) { return std::ldexp(1.0f, q); }

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
  return v;
}

template <typename T>
lr::Tensor tensor(Shape shape, const std::vector<T>& v) {
  return lr::Tensor::from_vector<T>(std::move(shape), v);
}

// Runs a one-output model on every ISA; all must agree with `expect` (shape and values).
template <typename T>
void expect_output(const tb::Model& m, const std::map<std::string, lr::Tensor>& feeds, const Shape& shape,
                   const std::vector<T>& expect, const std::string& what) {
  for (lr::Isa isa : session_isas()) {
    lr::Session s = load(m, isa);
    const lr::Tensor y = s.run(feeds).at(0);
    ASSERT_EQ(y.shape(), shape) << what << " " << lr::isa_name(isa);
    const std::vector<T> got = y.to_vector<T>();
    ASSERT_EQ(got.size(), expect.size()) << what;
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (std::memcmp(&got[i], &expect[i], sizeof(T)) != 0 && bad++ < 5)
        ADD_FAILURE() << what << " " << lr::isa_name(isa) << " element " << i << ": got " << +got[i] << ", expected "
                      << +expect[i];
    ASSERT_EQ(bad, 0u) << what << " " << lr::isa_name(isa);
  }
}

std::vector<int8_t> random_codes(size_t n, uint32_t seed) {
  std::mt19937 r(seed);
  std::uniform_int_distribution<int> d(-128, 127), e(0, 9);
  std::vector<int8_t> v(n);
  for (auto& x : v) {
    const int k = e(r);
    x = static_cast<int8_t>(k == 0 ? -128 : (k == 1 ? 127 : d(r)));
  }
  return v;
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Multi-index of flat offset `i` in a row-major shape.
Shape unravel(int64_t i, const Shape& s) {
  Shape idx(s.size());
  for (size_t k = s.size(); k-- > 0;) {
    idx[k] = i % s[k];
    i /= s[k];
  }
  return idx;
}
int64_t ravel(const Shape& idx, const Shape& s) {
  int64_t off = 0;
  for (size_t k = 0; k < s.size(); ++k) off = off * s[k] + idx[k];
  return off;
}

// Expects a ValidationError with this rule whose message names `where` and contains `detail`.
void expect_invalid(const tb::Model& m, const std::string& where, const std::string& rule, const std::string& detail) {
  try {
    load(m);
    ADD_FAILURE() << "model loaded, expected rule '" << rule << "' at " << where;
  } catch (const lr::ValidationError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.rule(), rule) << msg;
    EXPECT_NE(msg.find(where), std::string::npos) << "message lacks \"" << where << "\": " << msg;
    EXPECT_NE(msg.find("rule '" + rule + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(detail), std::string::npos) << "message lacks \"" << detail << "\": " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected error type: " << e.what();
  }
}

// ------------------------------------------------------------------ binary
tb::Model binary_model(const std::string& op, const Shape& a, const Shape& b, const Shape& out, int qa, int qb, int qo) {
  tb::Model m;
  m.input("a", tb::kInt8, a).input("b", tb::kInt8, b).output("c", tb::kInt8, out);
  m.add({op, "thinker", "bin", {"a", "b"}, {"c"},
         {tb::attr_float("scale_x", p2(qa)), tb::attr_float("scale_y", p2(qb)), tb::attr_float("scale_o", p2(qo))}});
  return m;
}

// numpy broadcasting of a and b (right-aligned) into `out`, recomputed per element.
int64_t bcast_offset(const Shape& oidx, const Shape& in, const Shape& out) {
  Shape idx(in.size());
  const size_t lead = out.size() - in.size();
  for (size_t k = 0; k < in.size(); ++k) idx[k] = in[k] == 1 ? 0 : oidx[lead + k];
  return ravel(idx, in);
}

}  // namespace

TEST(FamilyKernels, IqMulIqDivBroadcasting) {
  struct C {
    Shape a, b, out;
  };
  const C cases[] = {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {3, 1}, {2, 3, 4}}, {{3, 1}, {2, 3, 4}, {2, 3, 4}},
                     {{2, 3, 4}, {}, {2, 3, 4}},        {{}, {2, 3, 4}, {2, 3, 4}},     {{2, 1, 4}, {3, 1}, {2, 3, 4}},
                     {{}, {}, {}}};
  const int exps[][3] = {{4, 5, 3}, {7, 7, 7}, {2, 6, 0}, {0, 0, 8}, {5, 3, -2}};
  uint32_t seed = 1;
  for (const std::string op : {"iqMul", "iqDiv"}) {
    for (const C& c : cases) {
      for (const auto& e : exps) {
        const int qa = e[0], qb = e[1], qo = e[2];
        std::vector<int8_t> a = random_codes(static_cast<size_t>(numel(c.a)), seed++);
        std::vector<int8_t> b = random_codes(static_cast<size_t>(numel(c.b)), seed++);
        if (op == "iqDiv" && b.size() > 2) b[1] = 0, b[2] = 0, a[0] = 0;  // division by zero, 0/0
        std::vector<int8_t> want(static_cast<size_t>(numel(c.out)));
        for (int64_t i = 0; i < numel(c.out); ++i) {
          const Shape oi = unravel(i, c.out);
          const int av = a[static_cast<size_t>(bcast_offset(oi, c.a, c.out))];
          const int bv = b[static_cast<size_t>(bcast_offset(oi, c.b, c.out))];
          want[static_cast<size_t>(i)] =
              static_cast<int8_t>(op == "iqMul" ? ref::iqmul(av, bv, qa + qb - qo) : ref::iqdiv(av, bv, qo - qa + qb));
        }
        expect_output<int8_t>(binary_model(op, c.a, c.b, c.out, qa, qb, qo), {{"a", tensor(c.a, a)}, {"b", tensor(c.b, b)}},
                              c.out, want, op + " q=" + std::to_string(qa) + "," + std::to_string(qb) + "," + std::to_string(qo));
      }
    }
  }
}

// ------------------------------------------------------------------ reduce
namespace {

struct ReduceCase {
  std::string op;
  Shape in;
  std::vector<int64_t> dims;  // empty + !has_dims: every dim
  bool has_dims;
  int keepdim;   // -1: attribute absent
  int unbiased;  // -1: attribute absent (default unbiased)
  int qx, qo;
};

void check_reduce(const ReduceCase& c, uint32_t seed) {
  const int64_t rank = static_cast<int64_t>(c.in.size());
  std::vector<bool> red(c.in.size(), !c.has_dims);
  for (int64_t d : c.dims) red[static_cast<size_t>(d < 0 ? d + rank : d)] = true;
  const bool keep = c.keepdim == 1;
  Shape out, kept;
  for (size_t d = 0; d < c.in.size(); ++d) {
    if (!red[d]) out.push_back(c.in[d]), kept.push_back(c.in[d]);
    else if (keep) out.push_back(1);
  }
  const std::vector<int8_t> x = random_codes(static_cast<size_t>(numel(c.in)), seed);
  // group the elements by their kept-dims index, in input order
  std::vector<std::vector<int8_t>> rows(static_cast<size_t>(numel(kept)));
  for (int64_t i = 0; i < numel(c.in); ++i) {
    const Shape idx = unravel(i, c.in);
    Shape k;
    for (size_t d = 0; d < idx.size(); ++d)
      if (!red[d]) k.push_back(idx[d]);
    rows[static_cast<size_t>(ravel(k, kept))].push_back(x[static_cast<size_t>(i)]);
  }
  const bool unbiased = c.unbiased != 0;
  std::vector<int8_t> want;
  for (const auto& r : rows)
    want.push_back(static_cast<int8_t>(c.op == "iqVar" ? ref::iqvar(r, c.qx, c.qo, unbiased) : ref::iqsum(r, c.qx, c.qo)));

  tb::Model m;
  m.input("x", tb::kInt8, c.in).output("y", tb::kInt8, out);
  tb::Node n{c.op, "thinker", "red", {"x"}, {"y"}, {tb::attr_float("scale_x", p2(c.qx)), tb::attr_float("scale_o", p2(c.qo))}};
  if (c.has_dims) n.attrs.push_back(tb::attr_ints("dims", c.dims));
  if (c.keepdim >= 0) n.attrs.push_back(tb::attr_int("keepdim", c.keepdim));
  if (c.unbiased >= 0) n.attrs.push_back(tb::attr_int("unbiased", c.unbiased));
  m.add(n);
  std::string what = c.op + " dims=";
  for (int64_t d : c.dims) what += std::to_string(d) + ",";
  what += " keepdim=" + std::to_string(c.keepdim) + " unbiased=" + std::to_string(c.unbiased);
  expect_output<int8_t>(m, {{"x", tensor(c.in, x)}}, out, want, what);
}

}  // namespace

TEST(FamilyKernels, IqSumIqVarDimsKeepdimAllDims) {
  uint32_t seed = 100;
  for (const std::string op : {"iqSum", "iqVar"}) {
    const int qx = 4, qo = op == "iqSum" ? 1 : 6;
    const std::vector<ReduceCase> cases = {
        {op, {2, 3, 4}, {1}, true, -1, -1, qx, qo},
        {op, {2, 3, 4}, {1}, true, 1, 0, qx, qo},
        {op, {2, 3, 4}, {-1}, true, 0, 1, qx, qo},
        {op, {2, 3, 4}, {0, 2}, true, 0, -1, qx, qo},
        {op, {2, 3, 4}, {2, 0}, true, 1, 0, qx, qo},
        {op, {2, 3, 4}, {}, false, -1, -1, qx, qo},   // every dim -> []
        {op, {2, 3, 4}, {}, false, 1, 0, qx, qo},     // every dim, keepdim -> [1,1,1]
        {op, {2, 3, 4}, {0, 1, 2}, true, 0, 1, qx, qo},
        {op, {2, 3, 4, 5}, {1, 3}, true, 0, 0, qx, qo},
        {op, {2, 3, 4, 5}, {-3, -2}, true, 1, 1, qx, qo},
        {op, {5, 1}, {1}, true, 0, 1, qx, qo},        // one element per row (iqVar unbiased: 0)
        {op, {7}, {0}, true, 0, 0, 0, 0},
        {op, {64, 9}, {0}, true, 0, 1, 2, -3},        // saturating
    };
    for (const ReduceCase& c : cases) check_reduce(c, seed++);
  }
}

// ------------------------------------------------------------------ iqCat
TEST(FamilyKernels, IqCatThreeInputsDifferentScales) {
  struct C {
    std::vector<Shape> in;
    int64_t dim;
    Shape out;
  };
  const C cases[] = {{{{2, 3, 4}, {1, 3, 4}, {3, 3, 4}}, 0, {6, 3, 4}},
                     {{{2, 1, 4}, {2, 3, 4}, {2, 2, 4}}, 1, {2, 6, 4}},
                     {{{2, 3, 1}, {2, 3, 2}, {2, 3, 3}}, -1, {2, 3, 6}}};
  const int qs[3] = {2, 6, -1}, qo = 3;  // shifts -1 (left, saturating), 3, -4
  uint32_t seed = 200;
  for (const C& c : cases) {
    tb::Model m;
    std::map<std::string, lr::Tensor> feeds;
    std::vector<std::vector<int8_t>> xs;
    tb::Node n{"iqCat", "thinker", "cat", {}, {"y"}, {tb::attr_float("scale_o", p2(qo)), tb::attr_int("dim", c.dim)}};
    for (int i = 0; i < 3; ++i) {
      const std::string name = "x" + std::to_string(i);
      m.input(name, tb::kInt8, c.in[static_cast<size_t>(i)]);
      xs.push_back(random_codes(static_cast<size_t>(numel(c.in[static_cast<size_t>(i)])), seed++));
      feeds.emplace(name, tensor(c.in[static_cast<size_t>(i)], xs.back()));
      n.in.push_back(name);
      n.attrs.push_back(tb::attr_float("scale_x_" + std::to_string(i), p2(qs[i])));
    }
    m.output("y", tb::kInt8, c.out);
    m.add(n);
    const size_t axis = static_cast<size_t>(c.dim < 0 ? c.dim + 3 : c.dim);
    std::vector<int8_t> want(static_cast<size_t>(numel(c.out)));
    for (int64_t i = 0; i < numel(c.out); ++i) {
      Shape idx = unravel(i, c.out);
      int src = 0;
      while (idx[axis] >= c.in[static_cast<size_t>(src)][axis]) idx[axis] -= c.in[static_cast<size_t>(src++)][axis];
      const int v = xs[static_cast<size_t>(src)][static_cast<size_t>(ravel(idx, c.in[static_cast<size_t>(src)]))];
      want[static_cast<size_t>(i)] = static_cast<int8_t>(ref::iqcat(v, qs[src] - qo));
    }
    expect_output<int8_t>(m, feeds, c.out, want, "iqCat dim " + std::to_string(c.dim));
  }
}

// ------------------------------------------------------------------ iqClamp
TEST(FamilyKernels, IqClampBoundsQuantizedAtInputExponent) {
  struct C {
    float lo, hi;
    int q, want_lo, want_hi;
  };
  const C cases[] = {
      {-0.3f, 0.55f, 3, -2, 4},        // -2.4 -> -2, 4.4 -> 4
      {-0.3125f, 0.3125f, 3, -2, 3},   // ties: -2.5 -> -2, 2.5 -> 3 (half up)
      {-0.1875f, -0.0625f, 3, -1, 0},  // -1.5 -> -1, -0.5 -> 0
      {-100.0f, 100.0f, 3, -128, 127}, // saturated bounds
      {0.0f, 0.0f, 5, 0, 0},
      {-3.0f, 2.0f, 0, -3, 2},
      {-1.0f, 0.75f, 7, -128, 96},
  };
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
  for (const C& c : cases) {
    ASSERT_EQ(ref::quantize8(c.lo, c.q), c.want_lo) << c.lo;
    ASSERT_EQ(ref::quantize8(c.hi, c.q), c.want_hi) << c.hi;
    tb::Model m;
    m.input("x", tb::kInt8, {2, 128}).output("y", tb::kInt8, {2, 128});
    m.add({"iqClamp", "thinker", "clamp", {"x"}, {"y"},
           {tb::attr_float("min", c.lo), tb::attr_float("max", c.hi), tb::attr_float("scale_x", p2(c.q)),
            tb::attr_float("scale_o", p2(c.q))}});
    std::vector<int8_t> want;
    for (int8_t v : x) want.push_back(static_cast<int8_t>(ref::iqclamp(v, c.want_lo, c.want_hi)));
    expect_output<int8_t>(m, {{"x", tensor<int8_t>({2, 128}, x)}}, {2, 128}, want,
                          "iqClamp [" + std::to_string(c.lo) + ", " + std::to_string(c.hi) + "] Q" + std::to_string(c.q));
  }
}

// ------------------------------------------------------------------ iqSigmoid / iqTanh
TEST(FamilyKernels, IqSigmoidIqTanhAllCodes) {
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[static_cast<size_t>(i)] = static_cast<int8_t>(127 - i);  // descending
  for (const std::string op : {"iqSigmoid", "iqTanh"})
    for (int qx : {-2, 0, 3, 5, 7, 11, 14}) {
      tb::Model m;
      m.input("x", tb::kInt8, {4, 64}).output("y", tb::kInt8, {4, 64});
      m.add({op, "thinker", "lut", {"x"}, {"y"}, {tb::attr_float("scale_x", p2(qx)), tb::attr_float("scale_o", 128.0f)}});
      std::vector<int8_t> want;
      for (int8_t v : x) want.push_back(static_cast<int8_t>(op == "iqTanh" ? ref::iqtanh(v, qx) : ref::iqsigmoid(v, qx)));
      expect_output<int8_t>(m, {{"x", tensor<int8_t>({4, 64}, x)}}, {4, 64}, want, op + " qx=" + std::to_string(qx));
    }
}

// ------------------------------------------------------------------ SoftmaxInt / LogSoftmaxInt
TEST(FamilyKernels, SoftmaxLogSoftmaxAlongMiddleDim) {
  const Shape shape = {2, 7, 3};
  uint32_t seed = 300;
  for (const std::string op : {"SoftmaxInt", "LogSoftmaxInt"})
    for (int64_t dim : {1, -2, 0, 2})
      for (int qx : {0, 3, 6}) {
        const int qo = op == "SoftmaxInt" ? 7 : 4;
        const size_t axis = static_cast<size_t>(dim < 0 ? dim + 3 : dim);
        std::vector<int8_t> x = random_codes(static_cast<size_t>(numel(shape)), seed++);
        x[4] = x[7];  // a tie somewhere
        tb::Model m;
        m.input("x", tb::kInt8, shape).output("y", tb::kInt8, shape);
        m.add({op, "thinker", "sm", {"x"}, {"y"},
               {tb::attr_float("scale_x", p2(qx)), tb::attr_float("scale_o", p2(qo)), tb::attr_int("dim", dim)}});
        std::vector<int8_t> want(x.size());
        // every row: fix all indices but `axis`
        for (int64_t i = 0; i < numel(shape); ++i) {
          Shape idx = unravel(i, shape);
          if (idx[axis] != 0) continue;
          std::vector<int8_t> row;
          std::vector<int64_t> offs;
          for (int64_t k = 0; k < shape[axis]; ++k) {
            idx[axis] = k;
            offs.push_back(ravel(idx, shape));
            row.push_back(x[static_cast<size_t>(offs.back())]);
          }
          const std::vector<int> y = ref::softmax_int8(row, qx, qo, op == "LogSoftmaxInt");
          for (size_t k = 0; k < y.size(); ++k) want[static_cast<size_t>(offs[k])] = static_cast<int8_t>(y[k]);
        }
        expect_output<int8_t>(m, {{"x", tensor(shape, x)}}, shape, want,
                              op + " dim=" + std::to_string(dim) + " qx=" + std::to_string(qx));
      }
}

// ------------------------------------------------------------------ BmmInt
TEST(FamilyKernels, BmmInt3dAnd4d) {
  struct C {
    Shape a, b, out;
  };
  const C cases[] = {{{2, 3, 5}, {2, 5, 4}, {2, 3, 4}}, {{2, 2, 3, 4}, {2, 2, 4, 3}, {2, 2, 3, 3}}, {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
                     {{3, 4, 40}, {3, 40, 2}, {3, 4, 2}}};
  const int exps[][3] = {{4, 6, 5}, {0, 0, 0}, {7, 7, 16}, {3, 2, 10}};
  uint32_t seed = 400;
  for (const C& c : cases)
    for (const auto& e : exps) {
      const int qx = e[0], qy = e[1], qo = e[2];
      const std::vector<int8_t> a = random_codes(static_cast<size_t>(numel(c.a)), seed++);
      const std::vector<int8_t> b = random_codes(static_cast<size_t>(numel(c.b)), seed++);
      const size_t r = c.a.size();
      const int64_t mm = c.a[r - 2], kk = c.a[r - 1], nn = c.b[r - 1];
      std::vector<int8_t> want(static_cast<size_t>(numel(c.out)));
      for (int64_t i = 0; i < numel(c.out); ++i) {
        const Shape oi = unravel(i, c.out);
        Shape ai = oi, bi = oi;
        linger_test::i128 acc = 0;
        for (int64_t k = 0; k < kk; ++k) {
          ai[r - 1] = k;
          bi[r - 2] = k;
          bi[r - 1] = oi[r - 1];
          acc += static_cast<linger_test::i128>(a[static_cast<size_t>(ravel(ai, c.a))]) * b[static_cast<size_t>(ravel(bi, c.b))];
        }
        (void)mm;
        (void)nn;
        want[static_cast<size_t>(i)] = static_cast<int8_t>(ref::scaled8(acc, 1, qo - qx - qy));
      }
      tb::Model m;
      m.input("a", tb::kInt8, c.a).input("b", tb::kInt8, c.b).output("c", tb::kInt8, c.out);
      m.add({"BmmInt", "thinker", "bmm", {"a", "b"}, {"c"},
             {tb::attr_float("scale_x", p2(qx)), tb::attr_float("scale_y", p2(qy)), tb::attr_float("scale_o", p2(qo))}});
      expect_output<int8_t>(m, {{"a", tensor(c.a, a)}, {"b", tensor(c.b, b)}}, c.out, want,
                            "BmmInt rank " + std::to_string(r) + " q=" + std::to_string(qx) + "," + std::to_string(qy) + "," + std::to_string(qo));
    }
}

// ------------------------------------------------------------------ ShuffleChannel
namespace {

template <typename T>
void check_shuffle(int elem, const Shape& shape, int64_t groups, const std::vector<T>& x) {
  const int64_t c = shape[1], per = c / groups;
  std::vector<T> want(x.size());
  for (int64_t i = 0; i < numel(shape); ++i) {
    Shape idx = unravel(i, shape);  // output index
    const int64_t oc = idx[1];
    idx[1] = (oc % groups) * per + oc / groups;  // out[:, j*g + i] = x[:, i*per + j]
    want[static_cast<size_t>(i)] = x[static_cast<size_t>(ravel(idx, shape))];
  }
  tb::Model m;
  m.input("x", elem, shape).output("y", elem, shape);
  m.add({"ShuffleChannel", "thinker", "shuf", {"x"}, {"y"}, {tb::attr_int("groups", groups)}});
  expect_output<T>(m, {{"x", tensor(shape, x)}}, shape, want, "ShuffleChannel groups " + std::to_string(groups));
}

}  // namespace

TEST(FamilyKernels, ShuffleChannelInt8AndFloat) {
  for (int64_t g : {1, 2, 3, 6}) {
    const Shape s8 = {2, 6, 2, 3};
    check_shuffle<int8_t>(tb::kInt8, s8, g, random_codes(static_cast<size_t>(numel(s8)), static_cast<uint32_t>(500 + g)));
    const Shape sf = {3, 6, 5};
    std::vector<float> xf(static_cast<size_t>(numel(sf)));
    for (size_t i = 0; i < xf.size(); ++i) xf[i] = static_cast<float>(i) * 0.25f - 7.0f;
    check_shuffle<float>(tb::kFloat, sf, g, xf);
    const Shape s2 = {2, 6};  // rank 2: no inner dims
    check_shuffle<int8_t>(tb::kInt8, s2, g, random_codes(12, static_cast<uint32_t>(600 + g)));
  }
  // groups 2 on 6 channels, spelled out: [0 1 2 | 3 4 5] -> [0 3 1 4 2 5]
  check_shuffle<int8_t>(tb::kInt8, {1, 6}, 2, {0, 1, 2, 3, 4, 5});
  tb::Model m;
  m.input("x", tb::kInt8, {1, 6}).output("y", tb::kInt8, {1, 6});
  m.add({"ShuffleChannel", "thinker", "shuf", {"x"}, {"y"}, {tb::attr_int("groups", 3)}});
  expect_output<int8_t>(m, {{"x", tensor<int8_t>({1, 6}, {0, 1, 2, 3, 4, 5})}}, {1, 6}, {0, 2, 4, 1, 3, 5}, "groups 3 spelled out");
}

// ------------------------------------------------------------------ malformed models
namespace {

tb::Model cat_model(const std::vector<std::string>& scale_names, int inputs, float s0 = 4.0f) {
  tb::Model m;
  tb::Node n{"iqCat", "thinker", "cat", {}, {"y"}, {tb::attr_float("scale_o", 4.0f), tb::attr_int("dim", 0)}};
  for (int i = 0; i < inputs; ++i) {
    const std::string name = "x" + std::to_string(i);
    m.input(name, tb::kInt8, {2, 3});
    n.in.push_back(name);
  }
  for (size_t i = 0; i < scale_names.size(); ++i) n.attrs.push_back(tb::attr_float(scale_names[i], i == 0 ? s0 : 8.0f));
  m.output("y", tb::kInt8, {2 * inputs, 3});
  m.add(n);
  return m;
}

tb::Model unary_model(const std::string& op, const std::string& name, const Shape& shape,
                      const std::vector<std::string>& attrs, int elem = tb::kInt8) {
  tb::Model m;
  m.input("x", elem, shape).output("y", elem, shape);
  m.add({op, "thinker", name, {"x"}, {"y"}, attrs});
  return m;
}

}  // namespace

TEST(FamilyKernels, MalformedModelsAreRejected) {
  const std::string kCat = "node 'cat' (iqCat)";
  // a well-formed iqCat loads
  EXPECT_NO_THROW(load(cat_model({"scale_x_0", "scale_x_1"}, 2)));
  expect_invalid(cat_model({"scale_x_0"}, 2), kCat, "attribute-missing", "scale_x_1");
  expect_invalid(cat_model({"scale_x_0", "scale_x_1", "scale_x_5"}, 2), kCat, "attribute-unknown", "scale_x_5");
  expect_invalid(cat_model({"scale_x_0", "scale_x_5"}, 2), kCat, "attribute-unknown", "scale_x_5");
  expect_invalid(cat_model({"scale_x_0", "scale_x_1"}, 2, 3.0f), kCat, "scale-power-of-two", "scale_x_0");

  // a scale that is not a power of two on a binary op
  {
    tb::Model m = binary_model("iqMul", {2}, {2}, {2}, 3, 3, 3);
    tb::set_attr(m.nodes[0], "scale_y", tb::attr_float("scale_y", 0.3f));
    expect_invalid(m, "node 'bin' (iqMul)", "scale-power-of-two", "scale_y");
  }

  // iqSigmoid / iqTanh: scale_o must be 128
  expect_invalid(unary_model("iqSigmoid", "sig", {4}, {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_o", 64.0f)}),
                 "node 'sig' (iqSigmoid)", "attribute-value", "scale_o must be 128");
  expect_invalid(unary_model("iqTanh", "th", {4}, {tb::attr_float("scale_x", 16.0f), tb::attr_float("scale_o", 256.0f)}),
                 "node 'th' (iqTanh)", "attribute-value", "scale_o must be 128");

  // iqClamp: min > max, scale_o != scale_x
  const auto clamp_attrs = [](float lo, float hi, float sx, float so) {
    return std::vector<std::string>{tb::attr_float("min", lo), tb::attr_float("max", hi), tb::attr_float("scale_x", sx),
                                    tb::attr_float("scale_o", so)};
  };
  EXPECT_NO_THROW(load(unary_model("iqClamp", "clamp", {4}, clamp_attrs(-1.0f, 1.0f, 8.0f, 8.0f))));
  expect_invalid(unary_model("iqClamp", "clamp", {4}, clamp_attrs(0.5f, -0.5f, 8.0f, 8.0f)), "node 'clamp' (iqClamp)",
                 "attribute-value", "min must be <= max");
  expect_invalid(unary_model("iqClamp", "clamp", {4}, clamp_attrs(-0.5f, 0.5f, 8.0f, 16.0f)), "node 'clamp' (iqClamp)",
                 "attribute-value", "scale_o must equal scale_x");
  expect_invalid(unary_model("iqClamp", "clamp", {4}, clamp_attrs(std::nanf(""), 0.5f, 8.0f, 8.0f)), "node 'clamp' (iqClamp)",
                 "attribute-value", "min must be <= max");

  // BmmInt: inner dims differ
  {
    tb::Model m;
    m.input("a", tb::kInt8, {2, 3, 5}).input("b", tb::kInt8, {2, 4, 4}).output("c", tb::kInt8, {2, 3, 4});
    m.add({"BmmInt", "thinker", "bmm", {"a", "b"}, {"c"},
           {tb::attr_float("scale_x", 4.0f), tb::attr_float("scale_y", 4.0f), tb::attr_float("scale_o", 4.0f)}});
    expect_invalid(m, "node 'bmm' (BmmInt)", "shape", "inner dims");
  }

  // ShuffleChannel: channels not divisible by groups
  expect_invalid(unary_model("ShuffleChannel", "shuf", {1, 6, 2}, {tb::attr_int("groups", 4)}), "node 'shuf' (ShuffleChannel)",
                 "shape", "not divisible by groups");
  expect_invalid(unary_model("ShuffleChannel", "shuf", {1, 5, 2}, {tb::attr_int("groups", 2)}, tb::kFloat),
                 "node 'shuf' (ShuffleChannel)", "shape", "not divisible by groups");

  // scale_x_<i> must equal input i's exponent when it carries one (a Quant in front)
  {
    tb::Model m;
    m.input("f", tb::kFloat, {2, 3}).input("x0", tb::kInt8, {2, 3}).output("y", tb::kInt8, {4, 3});
    m.add({"Quant", "thinker", "q", {"f"}, {"x1"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 4.0f)}});
    tb::Node n{"iqCat", "thinker", "cat", {"x0", "x1"}, {"y"},
               {tb::attr_float("scale_o", 4.0f), tb::attr_int("dim", 0), tb::attr_float("scale_x_0", 2.0f),
                tb::attr_float("scale_x_1", 4.0f)}};
    m.add(n);
    EXPECT_NO_THROW(load(m));
    tb::set_attr(m.nodes[1], "scale_x_1", tb::attr_float("scale_x_1", 8.0f));
    expect_invalid(m, kCat, "scale-consistency", "scale_x_1");
  }
  // ShuffleChannel passes the exponent through: a Dequant at another scale is inconsistent
  for (float so : {8.0f, 16.0f}) {
    tb::Model m;
    m.input("f", tb::kFloat, {1, 4}).output("y", tb::kFloat, {1, 4});
    m.add({"Quant", "thinker", "q", {"f"}, {"x"}, {tb::attr_int("data_bits", 8), tb::attr_float("scale_x", 8.0f)}});
    m.add({"ShuffleChannel", "thinker", "shuf", {"x"}, {"s"}, {tb::attr_int("groups", 2)}});
    m.add({"Dequant", "thinker", "dq", {"s"}, {"y"}, {tb::attr_float("scale_o", so)}});
    if (so == 8.0f) {
      lr::Session s = load(m);
      const std::vector<float> y = s.run({{"f", tensor<float>({1, 4}, {0.125f, -1.0f, 2.5f, 16.0f})}}).at(0).to_vector<float>();
      EXPECT_EQ(y, (std::vector<float>{0.125f, 2.5f, -1.0f, 15.875f}));
    } else {
      expect_invalid(m, "node 'dq' (Dequant)", "scale-consistency", "scale_o");
    }
  }

  // iqSum / iqVar: dims out of range
  for (const std::string op : {"iqSum", "iqVar"}) {
    for (int64_t d : {3, -4, 100}) {
      tb::Model m = unary_model(op, "red", {2, 3, 4},
                                {tb::attr_float("scale_x", 4.0f), tb::attr_float("scale_o", 4.0f), tb::attr_ints("dims", {0, d})});
      m.outputs.clear();
      m.output("y", tb::kInt8, {3, 4});
      expect_invalid(m, "node 'red' (" + op + ")", "attribute-value", "dims " + std::to_string(d) + " is out of range");
    }
  }
}
