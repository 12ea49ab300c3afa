// linger integer numerics: GRUInt (numerics.md "LSTMInt / GRUInt"; the engine's gruint.h arithmetic,
// shared/reference/thinker-integer-runtime.md §2.2). One time step of one batch row:
//
//   gi = W_ih x_t + b_ih   int64 at Qi = Qx + Qiw        gh = W_hh h_{t-1} + b_hh   int64 at Qhh = Qh + Qhw
//   gates in PyTorch order (r, z, n), each H wide
//   r  = sigmoid(sat16(to_q11(gi_r, Qi) + to_q11(gh_r, Qhh)))            int8 at Q7
//   z  = sigmoid(sat16(to_q11(gi_z, Qi) + to_q11(gh_z, Qhh)))            int8 at Q7
//   rh = sat16(rhu_shift(r * to_q11(gh_n, Qhh), 7))                      Q7 * Q11 = Q18 -> Q11
//   n  = tanh(sat16(to_q11(gi_n, Qi) + rh))                              int8 at Q7
//   h7 = sat16(rhu_shift(h_{t-1}, Qh - 7))                               the previous hidden at Q7
//   h_t = sat8(rhu_shift(z * h7 + (128 - z) * n, 14 - Qh))               Q14 -> int8 at Qh
//
// Decision (the engine leaves it open, numerics.md): the hidden state is int8 at Qh = Qo (the output
// exponent, as for LSTMInt) and is brought to Q7 by rhu_shift before the z-blend. The engine hard-codes a
// 1-bit shift ("Q14 -> Q8"), which is this rule for Qh = 8 only; for every other Qh it would mix formats.
#pragma once

#include <cstdint>

#include "linger/numerics/fixedpoint.h"
#include "linger/numerics/lstm.h"
#include "linger/numerics/lut.h"

namespace linger {
namespace numerics {

// The GRU cell from the accumulators gi, gh [3H] (bias included) at exponents qi, qhh.
inline void gru_cell(const int64_t* gi, const int64_t* gh, int qi, int qhh, const int8_t* h_prev, int64_t hidden,
                     int qh, int8_t* h_out) {
  const int64_t H = hidden;
  for (int64_t u = 0; u < H; ++u) {
    const int32_t r = luna_sigmoid_q11(rnn_gate_q11(gi[u], qi, gh[u], qhh));
    const int32_t z = luna_sigmoid_q11(rnn_gate_q11(gi[H + u], qi, gh[H + u], qhh));
    const int16_t rh = sat16(rhu_shift(static_cast<int64_t>(r) * to_q11(gh[2 * H + u], qhh), 7));
    const int32_t n = luna_tanh_q11(sat16(static_cast<int64_t>(to_q11(gi[2 * H + u], qi)) + rh));
    const int64_t h7 = sat16(rhu_shift(h_prev[u], qh - 7));
    h_out[u] = sat8(rhu_shift(static_cast<int64_t>(z) * h7 + static_cast<int64_t>(128 - z) * n, 14 - qh));
  }
}

// One GRU step of one row: x [I], h_prev [H] -> h_out [H]; acc: 6H scratch.
inline void gru_step(const int8_t* x, const int8_t* h_prev, const int8_t* w_ih, const int8_t* w_hh,
                     const int32_t* b_ih, const int32_t* b_hh, int64_t input, int64_t hidden, int qx, int qiw, int qh,
                     int qhw, int8_t* h_out, int64_t* acc) {
  rnn_matvec(w_ih, b_ih, x, 3 * hidden, input, acc);
  rnn_matvec(w_hh, b_hh, h_prev, 3 * hidden, hidden, acc + 3 * hidden);
  gru_cell(acc, acc + 3 * hidden, qx + qiw, qh + qhw, h_prev, hidden, qh, h_out);
}

}  // namespace numerics
}  // namespace linger
