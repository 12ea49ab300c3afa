// Cast (standard) to int64, from an integer tensor (shape computations).
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

template <typename T>
void widen(const Tensor& in, Tensor* out) {
  const T* x = in.data<T>();
  int64_t* y = out->data<int64_t>();
  for (int64_t i = 0; i < in.numel(); ++i) y[i] = x[i];
}

class CastKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kInt8, DType::kInt16, DType::kInt32, DType::kInt64}, "input");
    ctx.set_output(0, DType::kInt64, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    switch (x.dtype()) {
      case DType::kInt8: widen<int8_t>(x, &ctx.out(0)); break;
      case DType::kInt16: widen<int16_t>(x, &ctx.out(0)); break;
      case DType::kInt32: widen<int32_t>(x, &ctx.out(0)); break;
      default: widen<int64_t>(x, &ctx.out(0)); break;
    }
  }
};

}  // namespace

std::unique_ptr<Kernel> make_cast_kernel() { return std::make_unique<CastKernel>(); }

}  // namespace runtime
}  // namespace linger
