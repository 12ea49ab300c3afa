// Shared load-time checks of the RNN kernels (GRUInt, LSTMInt): fixed input slots, the geometry and the
// exponents of one layer and one direction (docs/onnx-dialect.md).
#pragma once

#include <cstdint>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

struct RnnGeometry {
  bool batch_first = false, forward = true;
  int64_t T = 0, B = 0, I = 0, H = 0;
  int qx = 0, qiw = 0, qhw = 0, qh = 0;
};

// Slots: x 0, h0 1 (optional), then (LSTM) c0 2; W_ih at w_slot, W_hh at w_slot + 1, the optional biases
// at w_slot + 2 and w_slot + 3. `gates` is 3 (GRU) or 4 (LSTM). Sets output 0 (y) and, when present,
// output 1 (h_n, int8 at Qo); every failure names the node and the rule.
RnnGeometry infer_rnn(InferContext& ctx, int gates, int w_slot);

}  // namespace runtime
}  // namespace linger
