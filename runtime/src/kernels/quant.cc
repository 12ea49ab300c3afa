// Quant (thinker): float32 -> int8, q = sat8(floor(x * 2^Qx + 1/2)); NaN is an error.
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
    ctx.set_output(0, DType::kInt8, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& xt = ctx.in(0);
    const float* x = xt.data<float>();
    int8_t* y = ctx.out(0).data<int8_t>();
    const int64_t n = xt.numel();
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(x[i]))
        ctx.fail("input contains NaN at element " + std::to_string(i) + " (Quant rejects NaN; rule 'quant-nan')");
      y[i] = static_cast<int8_t>(numerics::quantize(x[i], q_, 8));
    }
  }

 private:
  int q_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Quant(OpKind) { return std::make_unique<QuantKernel>(); }

}  // namespace runtime
}  // namespace linger
