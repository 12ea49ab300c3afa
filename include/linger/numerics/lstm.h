// linger integer numerics: LSTMInt (numerics.md "LSTMInt / GRUInt"; the engine's lstmint.h arithmetic,
// shared/reference/thinker-integer-runtime.md §2.2). One time step of one batch row:
//
//   gi  = W_ih x_t + b_ih            int64 accumulator at Qx + Qiw   (x int8 at Qx, W_ih int8 at Qiw, b_ih int32)
//   gh  = W_hh h_{t-1} + b_hh        int64 accumulator at Qh + Qhw   (h int8 at Qh, W_hh int8 at Qhw, b_hh int32)
//   G   = sat16(to_q11(gi, Qx+Qiw) + to_q11(gh, Qh+Qhw))            int16 at Q11 (to_q11: rhu_shift down or
//                                                                    exact left shift, then sat16; lut.h)
//   gates in PyTorch order (i, f, g, o), each H wide:
//   i = sigmoid(G_i), f = sigmoid(G_f), g = tanh(G_g), o = sigmoid(G_o)   luna tables, int8 at Q7
//   c14 = f * c_{t-1} + i * g                                       int32 at Q14 (c_{t-1} int16 at Q7)
//   c_t = sat16(rhu_shift(c14, 7))                                  int16 at Q7 (the cell state kept)
//   h_t = sat8(rhu_shift(o * tanh(sat16(rhu_shift(c14, 3))), 14 - Qh))   int8 at Qh (Q14 -> Q11 -> table)
//
// The hidden state is read and written at the same exponent Qh (= the output exponent Qo: the output at step
// t is h_t). No heap: the caller passes the accumulators.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"
#include "linger/numerics/lut.h"

namespace linger {
namespace numerics {

// acc[r] = bias[r] + sum_k w[r, k] * v[k] for r < rows (w row-major [rows, k]); bias may be null.
inline void rnn_matvec(const int8_t* w, const int32_t* bias, const int8_t* v, int64_t rows, int64_t k, int64_t* acc) {
  for (int64_t r = 0; r < rows; ++r) {
    int64_t a = bias ? bias[r] : 0;
    const int8_t* wr = w + r * k;
    for (int64_t j = 0; j < k; ++j) a += static_cast<int32_t>(wr[j]) * static_cast<int32_t>(v[j]);
    acc[r] = a;
  }
}

// Gate pre-activation at Q11 from the two accumulators.
inline int16_t rnn_gate_q11(int64_t gi, int qi, int64_t gh, int qh) {
  return sat16(static_cast<int64_t>(to_q11(gi, qi)) + static_cast<int64_t>(to_q11(gh, qh)));
}

// The LSTM cell from the accumulators gi, gh [4H] (bias included) at exponents qi = Qx+Qiw, qhh = Qh+Qhw.
inline void lstm_cell(const int64_t* gi, const int64_t* gh, int qi, int qhh, const int16_t* c_prev, int64_t hidden,
                      int qh, int8_t* h_out, int16_t* c_out) {
  const int64_t H = hidden;
  for (int64_t u = 0; u < H; ++u) {
    const int32_t i = luna_sigmoid_q11(rnn_gate_q11(gi[u], qi, gh[u], qhh));
    const int32_t f = luna_sigmoid_q11(rnn_gate_q11(gi[H + u], qi, gh[H + u], qhh));
    const int32_t g = luna_tanh_q11(rnn_gate_q11(gi[2 * H + u], qi, gh[2 * H + u], qhh));
    const int32_t o = luna_sigmoid_q11(rnn_gate_q11(gi[3 * H + u], qi, gh[3 * H + u], qhh));
    const int64_t c14 = static_cast<int64_t>(f) * c_prev[u] + static_cast<int64_t>(i) * g;
    const int32_t tc = luna_tanh_q11(sat16(rhu_shift(c14, 3)));
    c_out[u] = sat16(rhu_shift(c14, 7));
    h_out[u] = sat8(rhu_shift(static_cast<int64_t>(o) * tc, 14 - qh));
  }
}

// One LSTM step of one row: x [I], h_prev [H], c_prev [H] -> h_out [H], c_out [H]; acc: 8H scratch.
inline void lstm_step(const int8_t* x, const int8_t* h_prev, const int16_t* c_prev, const int8_t* w_ih,
                      const int8_t* w_hh, const int32_t* b_ih, const int32_t* b_hh, int64_t input, int64_t hidden,
                      int qx, int qiw, int qh, int qhw, int8_t* h_out, int16_t* c_out, int64_t* acc) {
  rnn_matvec(w_ih, b_ih, x, 4 * hidden, input, acc);
  rnn_matvec(w_hh, b_hh, h_prev, 4 * hidden, hidden, acc + 4 * hidden);
  lstm_cell(acc, acc + 4 * hidden, qx + qiw, qh + qhw, c_prev, hidden, qh, h_out, c_out);
}

}  // namespace numerics
}  // namespace linger
