// Quant (thinker): float32 -> int8 (int16 with data_bits 16), q = sat(floor(x * 2^Qx + 1/2)); NaN is an error.
// Runs opt::quantize_f32 (vectorised, same integers as numerics::quantize).
#include "kernels/kernel.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

class QuantKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32}, "input");
    q_ = ctx.node().scale_exponent("scale_x");
    bits_ = static_cast<int>(ctx.node().attr_int("data_bits", 8));
    ctx.set_output(0, bits_ == 16 ? DType::kInt16 : DType::kInt8, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& xt = ctx.in(0);
    const int64_t nan_at = opt::quantize_f32(xt.data<float>(), xt.numel(), q_, bits_, ctx.out(0).raw_data(), ctx.isa,
                                             ctx.pool);
    if (nan_at >= 0)
      ctx.fail("input contains NaN at element " + std::to_string(nan_at) + " (Quant rejects NaN; rule 'quant-nan')");
  }

 private:
  int q_ = 0;
  int bits_ = 8;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Quant(OpKind) { return std::make_unique<QuantKernel>(); }

}  // namespace runtime
}  // namespace linger
