// Dequant (thinker): int8/int16/int32 -> float32, x = q * 2^-Qo (exact), through
// opt::dequantize_f32 (vectorised, same floats as numerics::dequantize).
#include "kernels/kernel.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

class DequantKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kInt8, DType::kInt16, DType::kInt32}, "input");
    q_ = ctx.node().scale_exponent("scale_o");
    ctx.set_output(0, DType::kFloat32, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    const int bits = x.dtype() == DType::kInt8 ? 8 : (x.dtype() == DType::kInt16 ? 16 : 32);
    opt::dequantize_f32(x.raw_data(), bits, x.numel(), q_, ctx.out(0).data<float>(), ctx.isa, ctx.pool);
  }

 private:
  int q_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Dequant(OpKind) { return std::make_unique<DequantKernel>(); }

}  // namespace runtime
}  // namespace linger
