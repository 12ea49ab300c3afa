// The shared part of the RNN kernels (GRUInt, LSTMInt): load-time checks of the fixed input slots, the
// geometry and exponents of one layer and one direction (docs/onnx-dialect.md), and the run over the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/opt/opt_kernels.h"
#include "kernels/opt/opt_matvec.h"

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

// The weights packed at load for the session's ISA (prepare_rnn). isa kScalar: the reference path
// (numerics::rnn_matvec and gru_cell / lstm_cell per row and step); a SIMD ISA: the fast path -- W_ih x_t
// (every row and step, int32) and W_hh h_{t-1} through prepacked matrix-vector products (opt::MatVecInt8),
// the cell through gru_cell_lut / lstm_cell_lut. Both give the same integers. `packed` is false when W_ih / W_hh are not constants (then run_rnn packs them
// on every run).
struct RnnWeights {
  opt::Isa isa = opt::Isa::kScalar;
  bool packed = false;
  int fits32 = -1;  // rnn_sums_fit_int32 of both biases when they are constants (1 / 0), else -1 (run time)
  opt::MatVecInt8 w_ih, w_hh;
};

// The ISA run_rnn uses for this geometry on `isa` (the session's): kScalar where the fast path does not
// apply (the scalar session; I or H too wide for int32 accumulation).
opt::Isa rnn_isa(const RnnGeometry& g, opt::Isa isa);

// Called from infer() with the geometry infer_rnn returned: packs the constant weights once.
void prepare_rnn(InferContext& ctx, const RnnGeometry& g, RnnWeights* w);

// Scratch bytes of run_rnn (overflow-checked, saturating).
int64_t rnn_workspace_bytes(const RnnGeometry& g, const RnnWeights& w);

// Runs one layer and direction over the batch: the input projections W_ih x_t + b_ih of every row and step
// first, then per row the recurrence over its first L_b steps (L_b = lengths[b], T without lengths;
// go_forward = 0 runs t = L_b - 1 .. 0); steps t >= L_b output zeros and leave the state as it was
// (PyTorch's pack / pad). A length outside [0, T] is an ExecutionError naming the node.
void run_rnn(const RunContext& ctx, const RnnGeometry& g, const RnnWeights& w);

// The GRU / LSTM cells of numerics/gru.h and numerics/lstm.h (same integers, every input) from
// gi = gi32 + b_ih and gh = gh32 + b_hh (biases may be null), with the sigmoid and tanh read from tables of
// every int16 input (built once from numerics::luna_sigmoid_q11 / luna_tanh_q11) instead of the segment
// search. GRU: `vector_isa` other than kScalar runs the first units on vector lanes (opt::gru_cell_vector),
// which needs every gi and gh to fit int32 (rnn_sums_fit_int32); kScalar: int64 arithmetic throughout.
void gru_cell_lut(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int qi, int qhh,
                  const int8_t* h_prev, int64_t hidden, int qh, int8_t* h_out, opt::Isa vector_isa);
void lstm_cell_lut(const int32_t* gi32, const int32_t* b_ih, const int32_t* gh32, const int32_t* b_hh, int qi,
                   int qhh, const int16_t* c_prev, int64_t hidden, int qh, int8_t* h_out, int16_t* c_out);
// True when acc + bias[j] fits int32 for every |acc| <= k * 2^14 (an int8 dot product of length k).
bool rnn_sums_fit_int32(const int32_t* bias, int64_t n, int64_t k);

// acc[r, :] = b_ih + W_ih x_r (int64, [rows, gates*H]) for the `rows` rows of x ([rows, I] int8). The one
// place the RNN kernels use the optimised int8 GEMM (opt_kernels.h); same integers as numerics::rnn_matvec.
void rnn_input_projections(const int8_t* x, const int8_t* w_ih, const int32_t* b_ih, int64_t rows, int64_t input,
                           int64_t gates_h, int64_t* acc, opt::Isa isa);

}  // namespace runtime
}  // namespace linger
