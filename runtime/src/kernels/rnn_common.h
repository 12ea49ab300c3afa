// The shared part of the RNN kernels (GRUInt, LSTMInt): load-time checks of the fixed input slots, the
// geometry and exponents of one layer and one direction (docs/onnx-dialect.md), and the run over the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

struct RnnGeometry {
  bool batch_first = false, forward = true;
  int gates = 3;                           // 3 (GRU: r, z, n) or 4 (LSTM: i, f, g, o)
  int w_slot = 2;                          // slot of W_ih; W_hh, B_ih, B_hh, lengths follow
  int64_t T = 0, B = 0, I = 0, H = 0;
  int qx = 0, qiw = 0, qhw = 0, qh = 0;
  bool has_lengths = false;
  int lengths_slot() const { return w_slot + 4; }
};

// Slots: x 0, h0 1 (optional), then (LSTM) c0 2; W_ih at w_slot, W_hh at w_slot + 1, the optional biases
// at w_slot + 2 and w_slot + 3, the optional lengths (int64 [B]) at w_slot + 4. `gates` is 3 (GRU) or 4
// (LSTM). Sets output 0 (y) and, when present, output 1 (h_n, int8 at Qo) and (LSTM) output 2 (c_n int16 at
// Q7); every failure names the node and the rule.
RnnGeometry infer_rnn(InferContext& ctx, int gates, int w_slot);

// Scratch bytes of run_rnn (overflow-checked, saturating).
int64_t rnn_workspace_bytes(const RnnGeometry& g);

// Runs one layer and direction over the batch: the input projections W_ih x_t + b_ih of every row and step
// first (rnn_input_projections), then per row the recurrence over its first L_b steps (L_b = lengths[b], T
// without lengths; go_forward = 0 runs t = L_b - 1 .. 0); steps t >= L_b output zeros and leave the state
// as it was (PyTorch's pack / pad). A length outside [0, T] is an ExecutionError naming the node.
void run_rnn(const RunContext& ctx, const RnnGeometry& g);

// acc[r, :] = b_ih + W_ih x_r (int64, [rows, gates*H]) for the `rows` rows of x ([rows, I] int8). The one
// place the RNN kernels use the optimised int8 GEMM (opt_kernels.h); same integers as numerics::rnn_matvec.
void rnn_input_projections(const int8_t* x, const int8_t* w_ih, const int32_t* b_ih, int64_t rows, int64_t input,
                           int64_t gates_h, int64_t* acc, opt::Isa isa);

}  // namespace runtime
}  // namespace linger
