// AdaptiveAvgPool2dInt (linger): int8 [N,C,H,W] -> int8 [N,C,oh,ow], output Q =
// input Q; PyTorch's adaptive windows, each y = sat8(floor(S/k + 1/2)) with k
// the window's area (numerics::adaptive_avgpool2d_int).
#include "kernels/kernel.h"
#include "linger/numerics/pool.h"

namespace linger {
namespace runtime {

namespace {

class AdaptiveAvgPool2dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if (n.has_attr("scale_o") && n.scale_exponent("scale_o") != n.scale_exponent("scale_x"))
      ctx.fail("scale-consistency", "scale_o must equal scale_x (AdaptiveAvgPool2dInt keeps the input exponent)");
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_rank(0, 4, "input x");
    const std::vector<int64_t> out = ctx.attr_ints("output_size", 2, {}, 1, INT32_MAX);
    const Dims& x = ctx.dims(0);
    for (int i = 0; i < 2; ++i)
      if (x[static_cast<size_t>(2 + i)] == 0)
        ctx.fail("shape", "input x has an empty spatial dim (every adaptive window needs one element)");
    if (ctx.complete()) {
      planes_ = x[0] * x[1];
      h_ = static_cast<int>(x[2]);
      w_ = static_cast<int>(x[3]);
      oh_ = static_cast<int>(out[0]);
      ow_ = static_cast<int>(out[1]);
    }
    ctx.set_output(0, DType::kInt8, {x[0], x[1], out[0], out[1]});
  }

  void run(const RunContext& ctx) override {
    if (planes_ == 0) return;
    numerics::adaptive_avgpool2d_int(ctx.in(0).data<int8_t>(), ctx.out(0).data<int8_t>(), planes_, h_, w_, oh_, ow_);
  }

 private:
  int64_t planes_ = 0;
  int h_ = 1, w_ = 1, oh_ = 1, ow_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_AdaptiveAvgPool2d(OpKind) {
  return std::make_unique<AdaptiveAvgPool2dIntKernel>();
}

}  // namespace runtime
}  // namespace linger
