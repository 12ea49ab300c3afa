// iqClamp (thinker): int8 at scale_x; the bounds `min`/`max` (floats) are
// quantized at the input exponent with numerics::quantize, then
// y = numerics::iqclamp(x, lo, hi); scale_o must equal scale_x.
#include "kernels/kernel.h"
#include "linger/numerics/elementwise.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

class ClampKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    const int qx = n.scale_exponent("scale_x");
    if (n.scale_exponent("scale_o") != qx) ctx.fail("attribute-value", "scale_o must equal scale_x (clamp keeps the scale)");
    const float lo = n.attr("min")->f, hi = n.attr("max")->f;
    if (!(lo <= hi)) ctx.fail("attribute-value", "min must be <= max (and neither NaN)");
    lo_ = static_cast<int>(numerics::quantize(lo, qx, 8));
    hi_ = static_cast<int>(numerics::quantize(hi, qx, 8));
    ctx.set_output(0, DType::kInt8, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    opt::clamp_int8(x, ctx.out(0).numel(), lo_, hi_, y, ctx.isa, ctx.pool);
  }

 private:
  int lo_ = -128, hi_ = 127;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Clamp(OpKind) { return std::make_unique<ClampKernel>(); }

}  // namespace runtime
}  // namespace linger
