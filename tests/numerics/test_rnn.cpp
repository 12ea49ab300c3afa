// LSTMInt / GRUInt cells (lstm.h, gru.h): spot values worked out by hand from numerics.md (the tables' own
// values are checked exhaustively in test_lut_softmax.cpp). The random cases against the independent Python
// reference are in tests/python/test_rnn_int.py.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "linger/numerics/gru.h"
#include "linger/numerics/lstm.h"

namespace ln = linger::numerics;

TEST(Rnn, GateSumAlignsBothSidesToQ11AndSaturates) {
  EXPECT_EQ(ln::rnn_gate_q11(3, 10, 5, 12), 6 + 3);            // 3 at Q10 -> 6; 5 at Q12 -> 2.5 -> 3 (half up)
  EXPECT_EQ(ln::rnn_gate_q11(-5, 12, 0, 11), -2);              // -2.5 rounds up to -2
  EXPECT_EQ(ln::rnn_gate_q11(30000, 11, 30000, 11), 32767);    // int16 saturation of the sum
  EXPECT_EQ(ln::rnn_gate_q11(-1, 0, 0, 11), -2048);            // -1 at Q0: exact left shift to Q11
  EXPECT_EQ(ln::rnn_gate_q11(-20, 0, 0, 11), -32768);          // -40960 at Q11 saturates
}

TEST(Rnn, LstmZeroPreactivationsHalveTheCell) {
  // all gate sums 0: i = f = o = sigmoid(0) = 64 (0.5), g = tanh(0) = 0
  const int64_t gi[4] = {0, 0, 0, 0}, gh[4] = {0, 0, 0, 0};
  const int16_t c_prev[1] = {128};  // 1.0 at Q7
  int8_t h[1];
  int16_t c[1];
  ln::lstm_cell(gi, gh, 14, 14, c_prev, 1, 7, h, c);
  EXPECT_EQ(c[0], 64);  // c14 = 64 * 128 = 8192 -> Q7: 64 (0.5)
  const int32_t tc = ln::luna_tanh_q11(1024);                // tanh of 0.5 (8192 at Q14 -> 1024 at Q11)
  EXPECT_EQ(tc, 59);                                          // 128 tanh(0.5) = 59.2
  EXPECT_EQ(h[0], ln::rhu_shift(64 * tc, 7));                 // o * tanh(c) at Q14 -> Q7: 3776 / 128 = 29.5 -> 30
  EXPECT_EQ(h[0], 30);
  ln::lstm_cell(gi, gh, 14, 14, c_prev, 1, 9, h, c);          // Qh = 9: 3776 / 32 = 118
  EXPECT_EQ(h[0], 118);
}

TEST(Rnn, LstmSaturatedGatesAndCellLimit) {
  const int64_t big = int64_t(1) << 40;
  const int64_t gi[4] = {big, big, big, big}, gh[4] = {0, 0, 0, 0};
  const int16_t c_prev[1] = {32767};
  int8_t h[1];
  int16_t c[1];
  ln::lstm_cell(gi, gh, 11, 11, c_prev, 1, 7, h, c);
  // i = f = o = 127, g = 127: c14 = 127 * 32767 + 127 * 127 = 4177538 -> Q7: 32637.0
  EXPECT_EQ(c[0], ln::sat16(ln::rhu_shift(int64_t(127) * 32767 + 127 * 127, 7)));
  EXPECT_EQ(c[0], 32637);
  EXPECT_EQ(h[0], ln::rhu_shift(127 * 127, 7));  // tanh of a saturated cell = 127; 16129 / 128 = 126.0 -> 126
}

TEST(Rnn, GruZeroPreactivationsAverageHiddenAndCandidate) {
  // r = z = 64, n = tanh(0) = 0: h_t = z * h7 / 2^7 = h_{t-1} / 2 (at Q7)
  const int64_t gi[3] = {0, 0, 0}, gh[3] = {0, 0, 0};
  int8_t h_prev[1] = {101};
  int8_t h[1];
  ln::gru_cell(gi, gh, 14, 14, h_prev, 1, 7, h);
  EXPECT_EQ(h[0], 51);  // 64 * 101 / 128 = 50.5 -> 51
  // Qh = 8: h7 = rhu_shift(101, 1) = 51, h = 64 * 51 at Q14 -> Q8: 3264 / 64 = 51
  ln::gru_cell(gi, gh, 14, 14, h_prev, 1, 8, h);
  EXPECT_EQ(h[0], 51);
  // Qh = 6: h7 = 202, h = 64 * 202 / 2^8 = 50.5 -> 51
  ln::gru_cell(gi, gh, 14, 14, h_prev, 1, 6, h);
  EXPECT_EQ(h[0], 51);
}

TEST(Rnn, GruResetGateScalesTheRecurrentCandidate) {
  // r = sigmoid(+sat) = 127, z = sigmoid(-sat) = 0, gh_n = 1.0 at Q11 (2048): rh = 127 * 2048 / 128 = 2032,
  // n = tanh(2032 at Q11), h = n (z = 0) at Q7
  const int64_t big = int64_t(1) << 40;
  const int64_t gi[3] = {big, -big, 0}, gh[3] = {0, 0, 2048};
  int8_t h_prev[1] = {-128};
  int8_t h[1];
  ln::gru_cell(gi, gh, 11, 11, h_prev, 1, 7, h);
  EXPECT_EQ(h[0], ln::luna_tanh_q11(2032));
  EXPECT_EQ(h[0], 97);  // 128 tanh(0.992) = 97.4
}

TEST(Rnn, StepsUseTheMatvecAccumulators) {
  // one input, one hidden unit: W_ih x + b at Qx+Qiw = 11 drives each gate directly
  const int8_t x[1] = {1};
  const int8_t h_prev[1] = {0};
  const int16_t c_prev[1] = {0};
  const int8_t w_ih[4] = {0, 0, 100, 0};
  const int8_t w_hh[4] = {0, 0, 0, 0};
  const int32_t b_ih[4] = {0, 0, 0, 0};
  int8_t h[1];
  int16_t c[1];
  int64_t acc[8];
  ln::lstm_step(x, h_prev, c_prev, w_ih, w_hh, b_ih, nullptr, 1, 1, 5, 6, 7, 0, h, c, acc);
  const int32_t g = ln::luna_tanh_q11(100);
  EXPECT_EQ(c[0], ln::rhu_shift(64 * g, 7));
  EXPECT_EQ(acc[2], 100);
}
