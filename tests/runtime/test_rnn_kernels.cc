// The RNN kernels' optimised input projections (kernels/rnn_common: W_ih x for every row and step through the
// int8 GEMM of opt_kernels.h, bias added in int64) against a plain int64 dot product, on every ISA this CPU
// runs, including the scalar fallback for inputs too wide for int32 accumulation; and whole GRUInt / LSTMInt
// nodes (both directions, with lengths and initial states) through the Session: every ISA gives the scalar
// kernel's integers (tolerance 0).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/rnn_common.h"
#include "linger/runtime/runtime.h"
#include "onnx_builder.h"

namespace lr = linger::runtime;
namespace opt = linger::runtime::opt;

namespace {

std::vector<int8_t> random_int8(size_t n, std::mt19937& g) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& e : v) e = static_cast<int8_t>(d(g));
  return v;
}

std::vector<opt::Isa> opt_isas() {
  std::vector<opt::Isa> v{opt::Isa::kScalar};
  for (opt::Isa i : {opt::Isa::kAvx2, opt::Isa::kAvx512Vnni})
    if (opt::isa_supported(i)) v.push_back(i);
  return v;
}

// acc[r, j] = b[j] + sum_k w[j, k] x[r, k], in int64.
std::vector<int64_t> reference(const std::vector<int8_t>& x, const std::vector<int8_t>& w, const std::vector<int32_t>* b,
                               int64_t rows, int64_t input, int64_t gh) {
  std::vector<int64_t> acc(static_cast<size_t>(rows * gh));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < gh; ++j) {
      int64_t a = b ? (*b)[static_cast<size_t>(j)] : 0;
      for (int64_t k = 0; k < input; ++k)
        a += int64_t{x[static_cast<size_t>(r * input + k)]} * int64_t{w[static_cast<size_t>(j * input + k)]};
      acc[static_cast<size_t>(r * gh + j)] = a;
    }
  return acc;
}

TEST(RnnInputProjections, EveryIsaEqualsTheInt64DotProduct) {
  std::mt19937 g(11);
  std::uniform_int_distribution<int32_t> bd(-(1 << 30), 1 << 30);
  for (int64_t input : {1, 5, 31, 64, 97}) {
    for (int64_t gh : {3, 12, 51, 64}) {
      for (int64_t rows : {1, 7, 33}) {
        std::vector<int8_t> x = random_int8(static_cast<size_t>(rows * input), g);
        std::vector<int8_t> w = random_int8(static_cast<size_t>(gh * input), g);
        x[0] = -128;
        w[0] = -128;
        std::vector<int32_t> b(static_cast<size_t>(gh));
        for (auto& e : b) e = bd(g);
        for (bool with_bias : {false, true}) {
          const std::vector<int64_t> want = reference(x, w, with_bias ? &b : nullptr, rows, input, gh);
          for (opt::Isa isa : opt_isas()) {
            std::vector<int64_t> acc(static_cast<size_t>(rows * gh), -1);
            lr::rnn_input_projections(x.data(), w.data(), with_bias ? b.data() : nullptr, rows, input, gh, acc.data(),
                                      isa);
            ASSERT_EQ(acc, want) << opt::isa_name(isa) << " I=" << input << " GH=" << gh << " rows=" << rows;
          }
        }
      }
    }
  }
}

TEST(RnnInputProjections, InputsTooWideForInt32TakeTheExactPath) {
  // 131072 * (-128 * -128) = 2^31: one past int32; the accumulator must hold it exactly.
  const int64_t input = 131072, gh = 3, rows = 2;
  std::vector<int8_t> x(static_cast<size_t>(rows * input), -128), w(static_cast<size_t>(gh * input), -128);
  std::vector<int32_t> b{INT32_MAX, 0, -5};
  const std::vector<int64_t> want = reference(x, w, &b, rows, input, gh);
  ASSERT_EQ(want[1], int64_t{1} << 31);
  for (opt::Isa isa : opt_isas()) {
    std::vector<int64_t> acc(static_cast<size_t>(rows * gh));
    lr::rnn_input_projections(x.data(), w.data(), b.data(), rows, input, gh, acc.data(), isa);
    EXPECT_EQ(acc, want) << opt::isa_name(isa);
  }
}

// One GRUInt / LSTMInt node with every input given (lengths included), run on each session ISA.
std::vector<lr::Tensor> run_node(bool lstm, bool forward, bool batch_first, lr::Isa isa, std::mt19937 g) {
  const int64_t T = 9, B = 3, I = 21, H = 10, G = lstm ? 4 : 3;
  tb::Model m;
  const std::vector<int64_t> xd = batch_first ? std::vector<int64_t>{B, T, I} : std::vector<int64_t>{T, B, I};
  m.input("x", tb::kInt8, xd).input("h0", tb::kInt8, {B, H}).input("lengths", tb::kInt64, {B});
  if (lstm) m.input("c0", tb::kInt16, {B, H});
  std::vector<int8_t> wi = random_int8(static_cast<size_t>(G * H * I), g), wh = random_int8(static_cast<size_t>(G * H * H), g);
  for (auto& e : wh) e = static_cast<int8_t>(e / 4);
  std::uniform_int_distribution<int32_t> bd(-30000, 30000);
  std::vector<int32_t> bi(static_cast<size_t>(G * H)), bh(static_cast<size_t>(G * H));
  for (auto& e : bi) e = bd(g);
  for (auto& e : bh) e = bd(g);
  m.init(tb::tensor("wi", tb::kInt8, {G * H, I}, wi)).init(tb::tensor("wh", tb::kInt8, {G * H, H}, wh));
  m.init(tb::tensor("bi", tb::kInt32, {G * H}, bi)).init(tb::tensor("bh", tb::kInt32, {G * H}, bh));
  std::vector<std::string> ins{"x", "h0"};
  if (lstm) ins.push_back("c0");
  for (const char* n : {"wi", "wh", "bi", "bh", "lengths"}) ins.push_back(n);
  std::vector<std::string> outs{"y", "hn"};
  if (lstm) outs.push_back("cn");
  m.output("y", tb::kInt8, batch_first ? std::vector<int64_t>{B, T, H} : std::vector<int64_t>{T, B, H});
  m.output("hn", tb::kInt8, {B, H});
  if (lstm) m.output("cn", tb::kInt16, {B, H});
  m.add({lstm ? "LSTMInt" : "GRUInt", "thinker", "rnn", ins, outs,
         {tb::attr_int("input_size", I), tb::attr_int("hidden_size", H), tb::attr_int("batch_first", batch_first),
          tb::attr_int("go_forward", forward), tb::attr_float("scale_i", 32.0f), tb::attr_float("scale_h", 64.0f),
          tb::attr_float("scale_iw", 64.0f), tb::attr_float("scale_hw", 128.0f), tb::attr_float("scale_o", 64.0f)}});
  lr::SessionOptions o;
  o.isa = isa;
  const std::string bytes = m.bytes();
  lr::Session s = lr::Session::from_bytes(bytes.data(), bytes.size(), o);
  std::vector<int8_t> x = random_int8(static_cast<size_t>(T * B * I), g), h0 = random_int8(static_cast<size_t>(B * H), g);
  std::vector<int16_t> c0(static_cast<size_t>(B * H));
  std::uniform_int_distribution<int> cd(-3000, 3000);
  for (auto& e : c0) e = static_cast<int16_t>(cd(g));
  std::map<std::string, lr::Tensor> feeds{{"x", lr::Tensor::from_vector(xd, x)},
                                          {"h0", lr::Tensor::from_vector({B, H}, h0)},
                                          {"lengths", lr::Tensor::from_vector<int64_t>({B}, {4, 9, 0})}};
  if (lstm) feeds["c0"] = lr::Tensor::from_vector({B, H}, c0);
  return s.run(feeds);
}

TEST(RnnNodes, EveryIsaGivesTheScalarIntegers) {
  std::vector<lr::Isa> isas;
  for (lr::Isa i : {lr::Isa::kAvx2, lr::Isa::kAvx512Vnni, lr::Isa::kAuto})
    if (lr::isa_supported(i)) isas.push_back(i);
  for (bool lstm : {false, true})
    for (bool forward : {true, false})
      for (bool bf : {false, true}) {
        const std::vector<lr::Tensor> want = run_node(lstm, forward, bf, lr::Isa::kScalar, std::mt19937(5));
        ASSERT_EQ(want.size(), lstm ? 3u : 2u);
        // rows past their length are zero; row 2 (length 0) keeps its initial state
        const std::vector<int8_t> y = want[0].to_vector<int8_t>();
        const int64_t T = 9, B = 3, H = 10, L[3] = {4, 9, 0};
        int nonzero = 0;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t t = 0; t < T; ++t)
            for (int64_t u = 0; u < H; ++u) {
              const int8_t v = y[static_cast<size_t>(((bf ? b * T + t : t * B + b)) * H + u)];
              if (t >= L[b]) {
                EXPECT_EQ(v, 0) << "row " << b << " step " << t << " is past its length";
              }
              nonzero += v != 0;
            }
        EXPECT_GT(nonzero, 50);
        for (lr::Isa isa : isas) {
          const std::vector<lr::Tensor> got = run_node(lstm, forward, bf, isa, std::mt19937(5));
          for (size_t k = 0; k < want.size(); ++k) {
            ASSERT_EQ(got[k].shape(), want[k].shape());
            EXPECT_EQ(0, std::memcmp(got[k].raw_data(), want[k].raw_data(), want[k].nbytes()))
                << (lstm ? "LSTMInt" : "GRUInt") << " output " << k << " isa " << lr::isa_name(isa)
                << " forward " << forward << " batch_first " << bf;
          }
        }
      }
}

}  // namespace
