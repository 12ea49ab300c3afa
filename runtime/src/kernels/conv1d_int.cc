// Conv1dInt (thinker): int8 x [N,C,L], int8 W [O,C/g,K], optional int32 B [O].
// numerics/conv1d.h: the Conv2dInt definition with H = KH = 1, so this runs
// opt::conv2d_int8 on the [N,C,1,L] view (same integers as numerics::conv1d_int).
#include <algorithm>
#include <vector>

#include "kernels/conv_common.h"
#include "kernels/kernel.h"
#include "kernels/limits.h"
#include "kernels/opt/opt_matvec.h"
#include "linger/numerics/conv1d.h"

namespace linger {
namespace runtime {

namespace {

class Conv1dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    has_bias_ = expect_conv_inputs(ctx, 3);
    const int64_t stride = ctx.attr_ints("strides", 1, {1}, 1, kMaxStride)[0];
    const int64_t dil = ctx.attr_ints("dilations", 1, {1}, 1, kMaxDilation)[0];
    const std::vector<int64_t> pads = ctx.attr_ints("pads", 2, {0, 0}, 0, kMaxPad);
    const int64_t group = n.attr_int("group", 1);
    const Dims& x = ctx.dims(0);
    const Dims& w = ctx.dims(1);
    for (size_t i = 0; i < 3; ++i) {
      if (x[i] > kMaxSpatialDim || (i >= 1 && x[i] == 0))
        ctx.fail("shape", "input x shape " + shape_str(x) + " is not supported");
      if (w[i] == 0 || w[i] > (i < 2 ? kMaxSpatialDim : kMaxKernelDim))
        ctx.fail("shape", "weight W shape " + shape_str(w) + " is not supported");
    }
    if (n.has_attr("kernel_shape")) {
      const int64_t k = ctx.attr_ints("kernel_shape", 1, {}, 1, kMaxKernelDim)[0];
      if (w[2] >= 0 && w[2] != k) ctx.fail("shape", "kernel_shape does not match weight W shape " + shape_str(w));
    }
    if (w[0] >= 0 && w[0] % group != 0) ctx.fail("shape", "output channels not divisible by group");
    if (x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * group)
      ctx.fail("shape", "input x has " + std::to_string(x[1]) + " channels but weight W " + shape_str(w) +
                            " with group " + std::to_string(group) + " expects " + std::to_string(w[1] * group));
    if (has_bias_ && ctx.dims(2)[0] >= 0 && w[0] >= 0 && ctx.dims(2)[0] != w[0])
      ctx.fail("shape", "bias B size does not match the output channels of weight W " + shape_str(w));
    Dims y{x[0], w[0], kUnknownDim};
    if (x[2] >= 0 && w[2] >= 0) {
      if (x[2] + pads[0] + pads[1] < dil * (w[2] - 1) + 1)
        ctx.fail("shape", "the dilated kernel is larger than the padded input " + shape_str(x));
      y[2] = (x[2] + pads[0] + pads[1] - dil * (w[2] - 1) - 1) / stride + 1;
    }
    out_bits_ = static_cast<int>(n.attr_int("o_bits", 0));
    shift_ = conv_shift(n, out_bits_);
    if (ctx.complete()) {
      numerics::Conv1dShape s1;
      s1.n = static_cast<int>(x[0]);
      s1.c = static_cast<int>(x[1]);
      s1.l = static_cast<int>(x[2]);
      s1.o = static_cast<int>(w[0]);
      s1.k = static_cast<int>(w[2]);
      s1.stride = static_cast<int>(stride);
      s1.pad_left = static_cast<int>(pads[0]);
      s1.pad_right = static_cast<int>(pads[1]);
      s1.dil = static_cast<int>(dil);
      s1.groups = static_cast<int>(group);
      if (x[0] > 0 && !s1.valid()) ctx.fail("shape", "invalid convolution geometry for input " + shape_str(x));
      s_ = s1.to_conv2d();
      runner_.prepare(ctx, s_, has_bias_, out_bits_, shift_);
      // A kernel that tiles the input (the speech front-end): the GEMM reads the input rows directly.
      frames_ = opt::Conv1dFramesInt8();
      const Tensor* wt = ctx.constant(1);
      if (wt && group == 1 && dil == 1 && pads[0] == 0 && pads[1] == 0 && stride == w[2] && out_bits_ == 8) {
        frames_stage_ = output_stage(ctx, out_bits_, shift_);
        frames_ = opt::Conv1dFramesInt8(wt->data<int8_t>(), w[0], w[1], w[2], ctx.isa());
      }
    }
    ctx.set_output(0, conv_out_dtype(out_bits_), y);
  }

  void run(const RunContext& ctx) override {
    if (!frames_.ok() || !opt::Conv1dFramesInt8::stage_ok(frames_stage_) || s_.n == 0) return runner_.run(ctx);
    const int64_t c = s_.c, l = s_.w, o = s_.o, t_out = s_.out_w();
    std::vector<int32_t> scratch(static_cast<size_t>(frames_.scratch_words(t_out)));
    const int32_t* b = has_bias_ ? ctx.in(2).data<int32_t>() : nullptr;
    const int8_t* x = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    for (int64_t n = 0; n < s_.n; ++n) frames_.run(x + n * c * l, l, b, y + n * o * t_out, frames_stage_, scratch.data());
  }
  bool fuse_output_clamp(int64_t lo, int64_t hi) override {
    if (!runner_.fuse_clamp(lo, hi)) return false;
    frames_stage_.lo = static_cast<int32_t>(std::max<int64_t>(lo, frames_stage_.lo));  // as ConvRunner narrows
    frames_stage_.hi = static_cast<int32_t>(std::min<int64_t>(hi, frames_stage_.hi));
    return true;
  }
  int64_t workspace_bytes(opt::Isa /*isa*/) const override {
    return sat_add(runner_.workspace_bytes(), frames_.ok() ? sat_mul(frames_.scratch_words(s_.out_w()), 4) : 0);
  }

 private:
  numerics::Conv2dShape s_;
  bool has_bias_ = false;
  int out_bits_ = 0;
  int shift_ = 0;
  ConvRunner runner_;
  opt::Conv1dFramesInt8 frames_;     // when ok(): the tiling-kernel path (run on frames_stage_)
  opt::OutputStage frames_stage_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Conv1d(OpKind) { return std::make_unique<Conv1dIntKernel>(); }

}  // namespace runtime
}  // namespace linger
