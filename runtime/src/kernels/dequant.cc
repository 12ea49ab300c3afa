// Dequant (thinker): int8/int16/int32 -> float32, x = q * 2^-Qo (exact).
#include "kernels/kernel.h"
#include "linger/numerics/quantize.h"

namespace linger {
namespace runtime {

namespace {

template <typename T>
void dequantize_all(const Tensor& in, Tensor* out, int q) {
  const T* x = in.data<T>();
  float* y = out->data<float>();
  const int64_t n = in.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = numerics::dequantize(x[i], q);
}

class DequantKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kInt8, DType::kInt16, DType::kInt32}, "input");
    q_ = ctx.node().scale_exponent("scale_o");
    ctx.set_output(0, DType::kFloat32, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    switch (x.dtype()) {
      case DType::kInt8: dequantize_all<int8_t>(x, &ctx.out(0), q_); break;
      case DType::kInt16: dequantize_all<int16_t>(x, &ctx.out(0), q_); break;
      default: dequantize_all<int32_t>(x, &ctx.out(0), q_); break;
    }
  }

 private:
  int q_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Dequant(OpKind) { return std::make_unique<DequantKernel>(); }

}  // namespace runtime
}  // namespace linger
