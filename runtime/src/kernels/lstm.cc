// LSTMInt (thinker): one layer and one direction of linger's integer LSTM (include/linger/numerics/lstm.h).
// Inputs in fixed slots (docs/onnx-dialect.md; an absent optional input has the empty name):
//   0 x int8 [T, B, I] ([B, T, I] with batch_first) at scale_i    1 h0 int8 [B, H] at scale_h (optional: zeros)
//   2 c0 int16 [B, H] at Q7 (optional: zeros)
//   3 W_ih int8 [4H, I] at scale_iw   4 W_hh int8 [4H, H] at scale_hw
//   5 B_ih int32 [4H] at scale_i*scale_iw (optional)   6 B_hh int32 [4H] at scale_h*scale_hw (optional)
//   7 lengths int64 [B] (optional: every row runs T steps)
// Outputs: y int8 [T, B, H] ([B, T, H] with batch_first) and h_n int8 [B, H] at scale_o (= scale_h), c_n int16
// [B, H] at Q7. go_forward = 0 runs t = L_b-1 .. 0. The run is kernels/rnn_common.cc (numerics::lstm_cell).
#include "kernels/kernel.h"
#include "kernels/rnn_common.h"

namespace linger {
namespace runtime {

namespace {

class LstmKernel final : public Kernel {
 public:
  explicit LstmKernel(OpKind) {}
  void infer(InferContext& ctx) override {
    g_ = infer_rnn(ctx, 4, 3);
    prepare_rnn(ctx, g_, &w_);
  }
  int64_t workspace_bytes(opt::Isa /*isa*/) const override { return rnn_workspace_bytes(g_, w_); }
  void run(const RunContext& ctx) override { run_rnn(ctx, g_, w_); }

 private:
  RnnGeometry g_;
  RnnWeights w_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Lstm(OpKind kind) { return std::make_unique<LstmKernel>(kind); }

}  // namespace runtime
}  // namespace linger
