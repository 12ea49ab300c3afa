// The RNN kernels' optimised input projections (kernels/rnn_common: W_ih x for every row and step through the
// int8 GEMM of opt_kernels.h, bias added in int64) against a plain int64 dot product, on every ISA this CPU
// runs, including the scalar fallback for inputs too wide for int32 accumulation; and whole GRUInt / LSTMInt
// nodes (both directions, with lengths and initial states) through the Session: every ISA gives the scalar
// kernel's integers (tolerance 0).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernels/opt/opt_matvec.h"
#include "kernels/rnn_common.h"
#include "linger/numerics/gru.h"
#include "linger/numerics/lstm.h"
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

// Row lengths: 4, T, 0, then T - 1, T - 2, ... (at least 0); with fewer than 3 rows, T each.
std::vector<int64_t> lengths_for(int64_t T, int64_t B) {
  std::vector<int64_t> v;
  if (B < 3) return std::vector<int64_t>(static_cast<size_t>(B), T);
  for (int64_t b = 0; b < B; ++b) v.push_back(b == 0 ? std::min<int64_t>(4, T) : b == 1 ? T : b == 2 ? 0 : std::max<int64_t>(0, T + 2 - b));
  return v;
}

// The shapes of one test node; weights_as_inputs: W_ih / W_hh are graph inputs (packed on every run) instead
// of initializers (packed at load).
struct NodeCase {
  int64_t T = 9, B = 3, I = 21, H = 10;
  bool weights_as_inputs = false;
  int wh_div = 4;  // W_hh / wh_div keeps the recurrence away from permanent saturation
  int32_t bias_max = 30000;  // biases uniform in [-bias_max, bias_max]
};

// One GRUInt / LSTMInt node with every input given (lengths included), run on each session ISA.
std::vector<lr::Tensor> run_node(bool lstm, bool forward, bool batch_first, lr::Isa isa, std::mt19937 g,
                                 const NodeCase& nc = NodeCase{}) {
  const int64_t T = nc.T, B = nc.B, I = nc.I, H = nc.H, G = lstm ? 4 : 3;
  tb::Model m;
  const std::vector<int64_t> xd = batch_first ? std::vector<int64_t>{B, T, I} : std::vector<int64_t>{T, B, I};
  m.input("x", tb::kInt8, xd).input("h0", tb::kInt8, {B, H}).input("lengths", tb::kInt64, {B});
  if (lstm) m.input("c0", tb::kInt16, {B, H});
  std::vector<int8_t> wi = random_int8(static_cast<size_t>(G * H * I), g), wh = random_int8(static_cast<size_t>(G * H * H), g);
  for (auto& e : wh) e = static_cast<int8_t>(e / nc.wh_div);
  std::uniform_int_distribution<int32_t> bd(-nc.bias_max, nc.bias_max);
  std::vector<int32_t> bi(static_cast<size_t>(G * H)), bh(static_cast<size_t>(G * H));
  for (auto& e : bi) e = bd(g);
  for (auto& e : bh) e = bd(g);
  if (nc.weights_as_inputs) {
    m.input("wi", tb::kInt8, {G * H, I}).input("wh", tb::kInt8, {G * H, H});
  } else {
    m.init(tb::tensor("wi", tb::kInt8, {G * H, I}, wi)).init(tb::tensor("wh", tb::kInt8, {G * H, H}, wh));
  }
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
                                          {"lengths", lr::Tensor::from_vector<int64_t>({B}, lengths_for(T, B))}};
  if (lstm) feeds["c0"] = lr::Tensor::from_vector({B, H}, c0);
  if (nc.weights_as_inputs) {
    feeds["wi"] = lr::Tensor::from_vector({G * H, I}, wi);
    feeds["wh"] = lr::Tensor::from_vector({G * H, H}, wh);
  }
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

// The prepacked matrix-vector product of the recurrence against a plain int64 dot product: every ISA, row
// counts around the SIMD blocks (8 / 16 rows, groups of 4 and 8 blocks), k around the int16 pairs and u8
// quads, all-(-128) rows (the largest products), with and without bias; run32 is the same sum without bias.
TEST(RnnMatVec, EveryIsaEqualsTheInt64DotProduct) {
  std::mt19937 g(21);
  std::uniform_int_distribution<int32_t> bd(INT32_MIN, INT32_MAX);
  for (int64_t rows : {1, 7, 8, 15, 16, 17, 40, 64, 129, 192, 256}) {
    for (int64_t k : {1, 2, 3, 4, 5, 13, 64, 67, 130}) {
      std::vector<int8_t> w = random_int8(static_cast<size_t>(rows * k), g);
      std::vector<int8_t> v = random_int8(static_cast<size_t>(k), g);
      std::fill(w.begin(), w.begin() + k, int8_t{-128});  // row 0: -128 * v
      std::vector<int32_t> b(static_cast<size_t>(rows));
      for (auto& e : b) e = bd(g);
      for (int pass = 0; pass < 2; ++pass) {
        if (pass == 1) std::fill(v.begin(), v.end(), int8_t{-128});  // every product 2^14
        for (bool with_bias : {false, true}) {
          const std::vector<int64_t> want = reference(v, w, with_bias ? &b : nullptr, 1, k, rows);
          for (opt::Isa isa : opt_isas()) {
            const opt::MatVecInt8 mv(w.data(), rows, k, isa);
            ASSERT_EQ(mv.isa(), opt::resolve_isa(isa));
            std::vector<int32_t> scratch(static_cast<size_t>(mv.scratch_words()), -1);
            std::vector<int64_t> acc(static_cast<size_t>(rows), -1);
            mv.run(v.data(), with_bias ? b.data() : nullptr, acc.data(), scratch.data());
            ASSERT_EQ(acc, want) << opt::isa_name(isa) << " rows=" << rows << " k=" << k;
            if (with_bias) continue;
            std::vector<int32_t> acc32(static_cast<size_t>(rows) + 1, -7);  // one past the end: untouched
            mv.run32(v.data(), acc32.data(), scratch.data());
            for (int64_t r = 0; r < rows; ++r)
              ASSERT_EQ(acc32[static_cast<size_t>(r)], want[static_cast<size_t>(r)]) << opt::isa_name(isa) << " r=" << r;
            ASSERT_EQ(acc32.back(), -7) << opt::isa_name(isa) << " wrote past the rows";
          }
        }
      }
    }
  }
}

// Accumulators that cover every gate input: small ones around 0 (the steep middle of the tables), large ones
// (saturation at Q11), and values near the int32 extremes (that still fit int32 with a bias of up to 2^20, the
// vector cell's precondition).
std::vector<int32_t> gate_accs(size_t n, std::mt19937& g) {
  const int32_t edge = INT32_MAX - (1 << 20);
  std::uniform_int_distribution<int> pick(0, 9);
  std::uniform_int_distribution<int32_t> small(-40000, 40000), any(-edge, edge);
  std::vector<int32_t> v(n);
  for (auto& e : v) {
    const int p = pick(g);
    e = p < 6 ? small(g) : p < 9 ? any(g) / (1 << (p * 3 - 12)) : (p % 2 ? -edge : edge);
  }
  return v;
}

// The table-driven cells against numerics::gru_cell / lstm_cell (segment search), for exponents that shift
// the accumulators down and up and hidden exponents on both sides of Q7; the GRU cell on every ISA's vector
// lanes (H = 37: 32 units in vectors of 16 (VNNI) or 8 (AVX2) and a scalar tail; H = 29: 16 + 8 + 5).
TEST(RnnCells, TableCellsEqualTheNumericsCells) {
  std::mt19937 g(33);
  for (int64_t H : {37, 29}) {
  std::uniform_int_distribution<int32_t> bd(-(1 << 20), 1 << 20);
  std::uniform_int_distribution<int> cd(-32768, 32767);
  for (int qi : {4, 11, 12, 14, 19, 30, 45}) {
    for (int qhh : {-3, 6, 11, 13, 22}) {
      for (int qh : {-12, 3, 5, 7, 8, 10, 15, 25}) {
        for (int rep = 0; rep < 12; ++rep) {
          for (bool lstm : {false, true}) {
            const int64_t GH = (lstm ? 4 : 3) * H;
            const std::vector<int32_t> gi32 = gate_accs(static_cast<size_t>(GH), g);
            const std::vector<int32_t> gh32 = gate_accs(static_cast<size_t>(GH), g);
            std::vector<int32_t> bi(static_cast<size_t>(GH)), bh(static_cast<size_t>(GH));
            const bool with_bias = rep % 2 == 1;
            std::vector<int64_t> gi64(static_cast<size_t>(GH)), gh64(static_cast<size_t>(GH));
            for (size_t j = 0; j < gi64.size(); ++j) {
              bi[j] = with_bias ? bd(g) : 0;
              bh[j] = with_bias ? bd(g) : 0;
              gi64[j] = int64_t{gi32[j]} + bi[j];
              gh64[j] = int64_t{gh32[j]} + bh[j];
            }
            const int32_t* pbi = with_bias ? bi.data() : nullptr;
            const int32_t* pbh = with_bias ? bh.data() : nullptr;
            std::vector<int8_t> h_prev = random_int8(static_cast<size_t>(H), g), want(static_cast<size_t>(H));
            h_prev[0] = -128;
            h_prev[1] = 127;
            if (!lstm) {
              linger::numerics::gru_cell(gi64.data(), gh64.data(), qi, qhh, h_prev.data(), H, qh, want.data());
              for (opt::Isa isa : opt_isas()) {
                std::vector<int8_t> got(static_cast<size_t>(H), 99);
                lr::gru_cell_lut(gi32.data(), pbi, gh32.data(), pbh, qi, qhh, h_prev.data(), H, qh, got.data(), isa);
                ASSERT_EQ(got, want) << "GRU " << opt::isa_name(isa) << " qi=" << qi << " qhh=" << qhh << " qh=" << qh;
              }
              continue;
            }
            std::vector<int16_t> c_prev(static_cast<size_t>(H)), c_want(c_prev.size()), c_got(c_prev.size(), 99);
            for (auto& e : c_prev) e = static_cast<int16_t>(cd(g));
            std::vector<int8_t> got(static_cast<size_t>(H), 99);
            linger::numerics::lstm_cell(gi64.data(), gh64.data(), qi, qhh, c_prev.data(), H, qh, want.data(),
                                        c_want.data());
            lr::lstm_cell_lut(gi32.data(), pbi, gh32.data(), pbh, qi, qhh, c_prev.data(), H, qh, got.data(),
                              c_got.data());
            ASSERT_EQ(got, want) << "LSTM h qi=" << qi << " qhh=" << qhh << " qh=" << qh;
            ASSERT_EQ(c_got, c_want) << "LSTM c qi=" << qi << " qhh=" << qhh << " qh=" << qh;
          }
        }
      }
    }
  }
  }
}

TEST(RnnCells, Int32PreconditionOfTheVectorCell) {
  const int64_t k = 64;  // |dot| <= 64 * 2^14 = 2^20
  const int32_t room = INT32_MAX - (1 << 20);
  std::vector<int32_t> b{0, room, -room};
  EXPECT_TRUE(lr::rnn_sums_fit_int32(b.data(), 3, k));
  EXPECT_TRUE(lr::rnn_sums_fit_int32(nullptr, 3, k));
  b[1] = room + 1;
  EXPECT_FALSE(lr::rnn_sums_fit_int32(b.data(), 3, k));
  b[1] = 0;
  b[2] = -room - 1;
  EXPECT_FALSE(lr::rnn_sums_fit_int32(b.data(), 3, k));
  EXPECT_FALSE(lr::rnn_sums_fit_int32(nullptr, 0, 131072));  // k * 2^14 = 2^31 alone does not fit
}

// Whole nodes at the speech model's size (examples/kws_demo.py: GRU(64) over 64 channels, 24 steps), odd
// sizes around the SIMD blocks, and weights given as graph inputs (packed on every run): every ISA gives
// the scalar session's integers, which are the numerics reference path.
TEST(RnnNodes, SpeechSizeOddSizesAndRunTimeWeightsMatchScalar) {
  std::vector<lr::Isa> isas;
  for (lr::Isa i : {lr::Isa::kAvx2, lr::Isa::kAvx512Vnni, lr::Isa::kAuto})
    if (lr::isa_supported(i)) isas.push_back(i);
  std::vector<NodeCase> cases;
  NodeCase speech;
  speech.T = 24, speech.B = 1, speech.I = 64, speech.H = 64, speech.wh_div = 1;
  cases.push_back(speech);
  NodeCase odd;
  odd.T = 13, odd.B = 5, odd.I = 7, odd.H = 17;
  cases.push_back(odd);
  NodeCase inputs = odd;
  inputs.weights_as_inputs = true;
  cases.push_back(inputs);
  NodeCase big_bias = speech;  // gate sums past int32: the int64 cell
  big_bias.bias_max = INT32_MAX;
  cases.push_back(big_bias);
  NodeCase wide;
  wide.T = 6, wide.B = 4, wide.I = 131, wide.H = 70, wide.wh_div = 2;
  cases.push_back(wide);
  for (const NodeCase& nc : cases)
    for (bool lstm : {false, true})
      for (bool forward : {true, false})
        for (bool bf : {false, true}) {
          const std::vector<lr::Tensor> want = run_node(lstm, forward, bf, lr::Isa::kScalar, std::mt19937(8), nc);
          for (lr::Isa isa : isas) {
            const std::vector<lr::Tensor> got = run_node(lstm, forward, bf, isa, std::mt19937(8), nc);
            ASSERT_EQ(got.size(), want.size());
            for (size_t k = 0; k < want.size(); ++k) {
              ASSERT_EQ(got[k].shape(), want[k].shape());
              EXPECT_EQ(0, std::memcmp(got[k].raw_data(), want[k].raw_data(), want[k].nbytes()))
                  << (lstm ? "LSTMInt" : "GRUInt") << " output " << k << " isa " << lr::isa_name(isa) << " T=" << nc.T
                  << " B=" << nc.B << " I=" << nc.I << " H=" << nc.H << " inputs=" << nc.weights_as_inputs;
            }
          }
        }
}

}  // namespace
