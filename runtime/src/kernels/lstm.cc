// LSTMInt (thinker): one layer and one direction of linger's integer LSTM (include/linger/numerics/lstm.h).
// Inputs in fixed slots (docs/onnx-dialect.md; an absent optional input has the empty name):
//   0 x int8 [T, B, I] ([B, T, I] with batch_first) at scale_i    1 h0 int8 [B, H] at scale_h (optional: zeros)
//   2 c0 int16 [B, H] at Q7 (optional: zeros)
//   3 W_ih int8 [4H, I] at scale_iw   4 W_hh int8 [4H, H] at scale_hw
//   5 B_ih int32 [4H] at scale_i*scale_iw (optional)   6 B_hh int32 [4H] at scale_h*scale_hw (optional)
// Outputs: y int8 [T, B, H] ([B, T, H] with batch_first) and h_n int8 [B, H] at scale_o (= scale_h), c_n int16
// [B, H] at Q7. go_forward = 0 runs t = T-1 .. 0. Scalar: numerics::lstm_step per row and time step.
#include <algorithm>
#include <vector>

#include "kernels/kernel.h"
#include "kernels/rnn_common.h"
#include "linger/numerics/lstm.h"

namespace linger {
namespace runtime {

namespace {

class LstmKernel final : public Kernel {
 public:
  explicit LstmKernel(OpKind) {}

  void infer(InferContext& ctx) override {
    g_ = infer_rnn(ctx, 4, 3);
    T_ = g_.T;
    B_ = g_.B;
    I_ = g_.I;
    H_ = g_.H;
    batch_first_ = g_.batch_first;
    forward_ = g_.forward;
    qx_ = g_.qx;
    qiw_ = g_.qiw;
    qhw_ = g_.qhw;
    qh_ = g_.qh;
    auto bad = [](int64_t d, int64_t want) { return d >= 0 && d != want; };
    if (ctx.has_input(2)) {
      ctx.expect_dtype(2, {DType::kInt16}, "initial cell state c0 (int16 at Q7)");
      ctx.expect_rank(2, 2, "initial cell state c0");
      if (bad(ctx.dims(2)[0], B_) || bad(ctx.dims(2)[1], H_)) ctx.fail("shape", "c0 must be [batch, hidden_size]");
    }
    if (ctx.node().outputs.size() > 2) ctx.set_output(2, DType::kInt16, Dims{B_, H_});
  }

  void run(const RunContext& ctx) override {
    const int64_t T = T_, B = B_, I = I_, H = H_;
    const int8_t* x = ctx.in(0).data<int8_t>();
    const Tensor* h0 = ctx.in_opt(1);
    const Tensor* c0 = ctx.in_opt(2);
    const int8_t* wi = ctx.in(3).data<int8_t>();
    const int8_t* wh = ctx.in(4).data<int8_t>();
    const int32_t* bi = ctx.in_opt(5) ? ctx.in_opt(5)->data<int32_t>() : nullptr;
    const int32_t* bh = ctx.in_opt(6) ? ctx.in_opt(6)->data<int32_t>() : nullptr;
    int8_t* y = ctx.out(0).data<int8_t>();
    const size_t n_out = ctx.node->outputs.size();
    std::vector<int64_t> acc(static_cast<size_t>(8 * H));
    std::vector<int8_t> h(static_cast<size_t>(H)), hn(static_cast<size_t>(H));
    std::vector<int16_t> c(static_cast<size_t>(H)), cn(static_cast<size_t>(H));
    for (int64_t b = 0; b < B; ++b) {
      if (h0) std::copy(h0->data<int8_t>() + b * H, h0->data<int8_t>() + (b + 1) * H, h.begin());
      else std::fill(h.begin(), h.end(), 0);
      if (c0) std::copy(c0->data<int16_t>() + b * H, c0->data<int16_t>() + (b + 1) * H, c.begin());
      else std::fill(c.begin(), c.end(), 0);
      for (int64_t t0 = 0; t0 < T; ++t0) {
        const int64_t t = forward_ ? t0 : T - 1 - t0;
        const int64_t row = batch_first_ ? b * T + t : t * B + b;
        numerics::lstm_step(x + row * I, h.data(), c.data(), wi, wh, bi, bh, I, H, qx_, qiw_, qh_, qhw_, hn.data(),
                            cn.data(), acc.data());
        std::copy(hn.begin(), hn.end(), h.begin());
        std::copy(cn.begin(), cn.end(), c.begin());
        std::copy(hn.begin(), hn.end(), y + row * H);
      }
      if (n_out > 1) std::copy(h.begin(), h.end(), ctx.out(1).data<int8_t>() + b * H);
      if (n_out > 2) std::copy(c.begin(), c.end(), ctx.out(2).data<int16_t>() + b * H);
    }
  }

 private:
  RnnGeometry g_;
  bool batch_first_ = false, forward_ = true;
  int64_t T_ = 0, B_ = 0, I_ = 0, H_ = 0;
  int qx_ = 0, qiw_ = 0, qhw_ = 0, qh_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Lstm(OpKind kind) { return std::make_unique<LstmKernel>(kind); }

}  // namespace runtime
}  // namespace linger
