// Relu (standard): max(0, x) on int8/int16/int32, and on float32 (torch writes an int8 ReLU
// below opset 14 as Cast(float) -> Relu -> Cast(int8)); the exponent passes through.
#include <limits>

#include "kernels/kernel.h"
#include "linger/numerics/elementwise.h"

namespace linger {
namespace runtime {

namespace {

template <typename T>
T relu(T v) {
  return v < 0 ? T{0} : v;
}
template <>
int8_t relu<int8_t>(int8_t v) {
  return numerics::relu8(v);
}

template <typename T>
void relu_all(const Tensor& in, Tensor* out) {
  const T* x = in.data<T>();
  T* y = out->data<T>();
  const int64_t n = in.numel();
  for (int64_t i = 0; i < n; ++i) y[i] = relu<T>(x[i]);
}

class ReluKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kInt8, DType::kInt16, DType::kInt32, DType::kFloat32}, "input");
    ctx.set_output(0, ctx.dtype(0), ctx.dims(0));
  }

  // max(x, 0) on any type (float: on the integer-valued data of torch's Cast chain).
  bool integer_clamp(int64_t* lo, int64_t* hi) const override {
    *lo = 0;
    *hi = std::numeric_limits<int64_t>::max();
    return true;
  }

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    switch (x.dtype()) {
      case DType::kInt8: relu_all<int8_t>(x, &ctx.out(0)); break;
      case DType::kInt16: relu_all<int16_t>(x, &ctx.out(0)); break;
      case DType::kFloat32: relu_all<float>(x, &ctx.out(0)); break;
      default: relu_all<int32_t>(x, &ctx.out(0)); break;
    }
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Relu(OpKind) { return std::make_unique<ReluKernel>(); }

}  // namespace runtime
}  // namespace linger
