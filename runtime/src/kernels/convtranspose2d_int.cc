// ConvTranspose2dInt (thinker): int8 x [N,C,H,W], int8 W [C,O/g,kh,kw],
// optional int32 B [O]; numerics::convtranspose2d_int (scalar reference:
// wrapped int32 sums, then the conv requantisation).
#include <vector>

#include "kernels/conv_common.h"
#include "kernels/kernel.h"
#include "kernels/limits.h"
#include "linger/numerics/convtranspose.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

class ConvTranspose2dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    has_bias_ = expect_conv_inputs(ctx, 4);
    const std::vector<int64_t> strides = ctx.attr_ints("strides", 2, {1, 1}, 1, kMaxStride);
    const std::vector<int64_t> dil = ctx.attr_ints("dilations", 2, {1, 1}, 1, kMaxDilation);
    const std::vector<int64_t> pads = ctx.attr_ints("pads", 4, {0, 0, 0, 0}, 0, kMaxPad);
    const std::vector<int64_t> opad = ctx.attr_ints("output_padding", 2, {0, 0}, 0, kMaxStride);
    const int64_t group = n.attr_int("group", 1);
    const Dims& x = ctx.dims(0);
    const Dims& w = ctx.dims(1);
    for (size_t i = 0; i < 4; ++i) {
      if (x[i] > kMaxSpatialDim || (i >= 1 && x[i] == 0))
        ctx.fail("shape", "input x shape " + shape_str(x) + " is not supported");
      if (w[i] == 0 || w[i] > (i < 2 ? kMaxSpatialDim : kMaxKernelDim))
        ctx.fail("shape", "weight W shape " + shape_str(w) + " is not supported");
    }
    if (n.has_attr("kernel_shape")) {
      const std::vector<int64_t> ks = ctx.attr_ints("kernel_shape", 2, {}, 1, kMaxKernelDim);
      if ((w[2] >= 0 && w[2] != ks[0]) || (w[3] >= 0 && w[3] != ks[1]))
        ctx.fail("shape", "kernel_shape does not match weight W shape " + shape_str(w));
    }
    if (x[1] >= 0 && w[0] >= 0 && x[1] != w[0])
      ctx.fail("shape", "input x has " + std::to_string(x[1]) + " channels but weight W " + shape_str(w) +
                            " expects " + std::to_string(w[0]));
    if (w[0] >= 0 && w[0] % group != 0) ctx.fail("shape", "input channels not divisible by group");
    if (w[1] >= 0 && w[1] * group > kMaxSpatialDim)
      ctx.fail("shape", "weight W " + shape_str(w) + " with group " + std::to_string(group) +
                            " gives more output channels than supported");
    const int64_t o = w[1] >= 0 ? w[1] * group : kUnknownDim;
    if (has_bias_ && ctx.dims(2)[0] >= 0 && o >= 0 && ctx.dims(2)[0] != o)
      ctx.fail("shape", "bias B has " + std::to_string(ctx.dims(2)[0]) + " values, the output has " +
                            std::to_string(o) + " channels");
    for (int a = 0; a < 2; ++a) {
      const size_t i = static_cast<size_t>(a);
      if (opad[i] >= std::max(strides[i], dil[i]))
        ctx.fail("attribute-value", "output_padding must be smaller than the stride or the dilation");
    }
    Dims y{x[0], o, kUnknownDim, kUnknownDim};
    for (int a = 0; a < 2; ++a) {
      const size_t i = static_cast<size_t>(2 + a), k = static_cast<size_t>(a);
      if (x[i] < 0 || w[i] < 0) continue;
      y[i] = numerics::ConvTranspose2dShape::out_size64(static_cast<int>(x[i]), static_cast<int>(w[i]),
                                                         static_cast<int>(strides[k]), static_cast<int>(pads[k]),
                                                         static_cast<int>(pads[k + 2]), static_cast<int>(opad[k]),
                                                         static_cast<int>(dil[k]));
      if (y[i] <= 0 || y[i] > kMaxSpatialDim) ctx.fail("shape", "the output size is empty or too large");
    }
    out_bits_ = static_cast<int>(n.attr_int("o_bits", 0));
    shift_ = conv_shift(n, out_bits_);
    if (ctx.complete()) {
      s_.n = static_cast<int>(x[0]);
      s_.c = static_cast<int>(x[1]);
      s_.h = static_cast<int>(x[2]);
      s_.w = static_cast<int>(x[3]);
      s_.o = static_cast<int>(o);
      s_.kh = static_cast<int>(w[2]);
      s_.kw = static_cast<int>(w[3]);
      s_.stride_h = static_cast<int>(strides[0]);
      s_.stride_w = static_cast<int>(strides[1]);
      s_.pad_top = static_cast<int>(pads[0]);
      s_.pad_left = static_cast<int>(pads[1]);
      s_.pad_bottom = static_cast<int>(pads[2]);
      s_.pad_right = static_cast<int>(pads[3]);
      s_.out_pad_h = static_cast<int>(opad[0]);
      s_.out_pad_w = static_cast<int>(opad[1]);
      s_.dil_h = static_cast<int>(dil[0]);
      s_.dil_w = static_cast<int>(dil[1]);
      s_.groups = static_cast<int>(group);
      if (x[0] > 0 && !s_.valid()) ctx.fail("shape", "invalid transposed-convolution geometry");
    }
    ctx.set_output(0, conv_out_dtype(out_bits_), y);
  }

  int64_t workspace_bytes(opt::Isa /*isa*/) const override {
    if (out_bits_ || s_.n == 0) return 0;  // the int32 accumulators of a float output
    int64_t acc = 4;
    for (int64_t d : {int64_t{s_.n}, int64_t{s_.o}, int64_t{s_.out_h()}, int64_t{s_.out_w()}}) acc = sat_mul(acc, d);
    return acc;
  }

  bool fuse_output_clamp(int64_t lo, int64_t hi) override { return fuse_conv_clamp(out_bits_, lo, hi, &clamp_); }

  void run(const RunContext& ctx) override {
    if (s_.n == 0) return;
    run_unclamped(ctx);
    clamp_.apply(&ctx.out(0));
  }

 private:
  void run_unclamped(const RunContext& ctx) const {
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int8_t* w = ctx.in(1).data<int8_t>();
    const int32_t* b = has_bias_ ? ctx.in(2).data<int32_t>() : nullptr;
    void* y = ctx.out(0).raw_data();
    switch (out_bits_) {
      case 8: numerics::convtranspose2d_int(x, w, b, static_cast<int8_t*>(y), s_, shift_, false, 8); break;
      case 16: numerics::convtranspose2d_int(x, w, b, static_cast<int16_t*>(y), s_, shift_, false, 16); break;
      case 32: numerics::convtranspose2d_int(x, w, b, static_cast<int32_t*>(y), s_, shift_, false, 32); break;
      default: {
        const int64_t n = static_cast<int64_t>(s_.n) * s_.o * s_.out_h() * s_.out_w();
        std::vector<int32_t> acc(static_cast<size_t>(n));  // local: kernels are shared between threads
        numerics::convtranspose2d_int(x, w, b, acc.data(), s_, 0, false, 32);
        float* yf = static_cast<float*>(y);
        for (int64_t i = 0; i < n; ++i) yf[i] = numerics::dequantize(acc[static_cast<size_t>(i)], shift_);
      }
    }
  }

  numerics::ConvTranspose2dShape s_;
  bool has_bias_ = false;
  int out_bits_ = 0;
  int shift_ = 0;
  OutputClamp clamp_;  // a fused activation (graph/fuse.cc)
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_ConvTranspose2d(OpKind) { return std::make_unique<ConvTranspose2dIntKernel>(); }

}  // namespace runtime
}  // namespace linger
