// Conv2dInt (thinker): int8 x [N,C,H,W], int8 W [O,C/g,kh,kw], optional int32
// B [O]. Wrapped int32 accumulation, sat32(acc + B), then
// sat_ob(rhu_shift(acc, Qx+Qw-Qo)) for o_bits 8/16/32, or the float
// acc * 2^-(Qx+Qw) without o_bits. Runs opt::conv2d_int8 (same integers as
// numerics::conv2d_int) with the session's ISA.
#include <vector>

#include "kernels/conv_common.h"
#include "kernels/kernel.h"
#include "kernels/limits.h"
#include "linger/numerics/conv.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

int64_t out_extent(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t p0, int64_t p1) {
  return (in + p0 + p1 - dil * (k - 1) - 1) / stride + 1;
}

class Conv2dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    has_bias_ = expect_conv_inputs(ctx, 4);
    const std::vector<int64_t> strides = ctx.attr_ints("strides", 2, {1, 1}, 1, kMaxStride);
    const std::vector<int64_t> dil = ctx.attr_ints("dilations", 2, {1, 1}, 1, kMaxDilation);
    const std::vector<int64_t> pads = ctx.attr_ints("pads", 4, {0, 0, 0, 0}, 0, kMaxPad);
    const int64_t group = n.attr_int("group", 1);
    const Dims& x = ctx.dims(0);
    const Dims& w = ctx.dims(1);
    for (size_t i = 0; i < 4; ++i) {
      if (x[i] > kMaxSpatialDim || (i >= 1 && x[i] == 0))
        ctx.fail("shape", "input x shape " + shape_str(x) + " is not supported (dimensions 1.." +
                              std::to_string(kMaxSpatialDim) + ")");
      const int64_t wmax = i < 2 ? kMaxSpatialDim : kMaxKernelDim;
      if (w[i] == 0 || w[i] > wmax)
        ctx.fail("shape", "weight W shape " + shape_str(w) + " is not supported");
    }
    if (n.has_attr("kernel_shape")) {
      const std::vector<int64_t> ks = ctx.attr_ints("kernel_shape", 2, {}, 1, kMaxKernelDim);
      if ((w[2] >= 0 && w[2] != ks[0]) || (w[3] >= 0 && w[3] != ks[1]))
        ctx.fail("shape", "kernel_shape " + shape_str(ks) + " does not match weight W shape " + shape_str(w));
    }
    if (w[0] >= 0 && w[0] % group != 0)
      ctx.fail("shape", "weight W has " + std::to_string(w[0]) + " output channels, not divisible by group " +
                            std::to_string(group));
    if (x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * group)
      ctx.fail("shape", "input x has " + std::to_string(x[1]) + " channels but weight W " + shape_str(w) +
                            " with group " + std::to_string(group) + " expects " + std::to_string(w[1] * group));
    if (has_bias_) {
      const Dims& b = ctx.dims(2);
      if (b[0] >= 0 && w[0] >= 0 && b[0] != w[0])
        ctx.fail("shape", "bias B has " + std::to_string(b[0]) + " values, weight W has " + std::to_string(w[0]) +
                              " output channels");
    }
    Dims y{x[0], w[0], kUnknownDim, kUnknownDim};
    for (int a = 0; a < 2; ++a) {
      const size_t i = static_cast<size_t>(2 + a);
      if (x[i] < 0 || w[i] < 0) continue;
      const int64_t span = x[i] + pads[static_cast<size_t>(a)] + pads[static_cast<size_t>(a + 2)];
      if (span < dil[static_cast<size_t>(a)] * (w[i] - 1) + 1)
        ctx.fail("shape", "the dilated kernel " + shape_str(w) + " is larger than the padded input " + shape_str(x));
      y[i] = out_extent(x[i], w[i], strides[static_cast<size_t>(a)], dil[static_cast<size_t>(a)],
                        pads[static_cast<size_t>(a)], pads[static_cast<size_t>(a + 2)]);
    }
    out_bits_ = static_cast<int>(n.attr_int("o_bits", 0));
    shift_ = conv_shift(n, out_bits_);
    if (ctx.complete()) {
      s_.n = static_cast<int>(x[0]);
      s_.c = static_cast<int>(x[1]);
      s_.h = static_cast<int>(x[2]);
      s_.w = static_cast<int>(x[3]);
      s_.o = static_cast<int>(w[0]);
      s_.kh = static_cast<int>(w[2]);
      s_.kw = static_cast<int>(w[3]);
      s_.stride_h = static_cast<int>(strides[0]);
      s_.stride_w = static_cast<int>(strides[1]);
      s_.dil_h = static_cast<int>(dil[0]);
      s_.dil_w = static_cast<int>(dil[1]);
      s_.pad_top = static_cast<int>(pads[0]);
      s_.pad_left = static_cast<int>(pads[1]);
      s_.pad_bottom = static_cast<int>(pads[2]);
      s_.pad_right = static_cast<int>(pads[3]);
      s_.groups = static_cast<int>(group);
      if (x[0] > 0 && !s_.valid()) ctx.fail("shape", "invalid convolution geometry for input " + shape_str(x));
      runner_.prepare(ctx, s_, has_bias_, out_bits_, shift_);
    }
    ctx.set_output(0, conv_out_dtype(out_bits_), y);
  }

  void run(const RunContext& ctx) override { runner_.run(ctx); }
  int64_t workspace_bytes(opt::Isa /*isa*/) const override { return runner_.workspace_bytes(); }

 private:
  numerics::Conv2dShape s_;
  bool has_bias_ = false;
  int out_bits_ = 0;
  int shift_ = 0;
  ConvRunner runner_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Conv2d(OpKind) { return std::make_unique<Conv2dIntKernel>(); }

}  // namespace runtime
}  // namespace linger
