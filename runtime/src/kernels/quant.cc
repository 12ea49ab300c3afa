// Quant (thinker): float32 -> int8 (int16 with data_bits 16), q = sat(floor(x * 2^Qx + 1/2)); NaN is an error.
#include <cmath>

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
    const float* x = xt.data<float>();
    const int64_t n = xt.numel();
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(x[i]))
        ctx.fail("input contains NaN at element " + std::to_string(i) + " (Quant rejects NaN; rule 'quant-nan')");
      if (bits_ == 16) ctx.out(0).data<int16_t>()[i] = static_cast<int16_t>(numerics::quantize(x[i], q_, 16));
      else ctx.out(0).data<int8_t>()[i] = static_cast<int8_t>(numerics::quantize(x[i], q_, 8));
    }
  }

 private:
  int q_ = 0;
  int bits_ = 8;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Quant(OpKind) { return std::make_unique<QuantKernel>(); }

}  // namespace runtime
}  // namespace linger
