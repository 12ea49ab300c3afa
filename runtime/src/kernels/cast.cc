// Cast (standard) between float32 and the integer types.
//
// Used for shape computations (integers -> int64) and around ops that ONNX
// defines only on float below opset 14: torch writes a ReLU on int8 data as
// Cast(float) -> Relu -> Cast(int8). Integer -> float is exact for the 8/16-bit
// codes (and for int32/int64 up to 2^24); float -> integer rounds toward zero
// and saturates to the target type (NaN -> 0), which is exact for the integer
// values such chains carry. The exponent passes through.
#include <cmath>
#include <limits>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

DType dtype_of(int64_t onnx_type) {
  switch (onnx_type) {
    case onnx::kFloat: return DType::kFloat32;
    case onnx::kInt8: return DType::kInt8;
    case onnx::kInt16: return DType::kInt16;
    case onnx::kInt32: return DType::kInt32;
    default: return DType::kInt64;
  }
}

template <typename To>
To from_float(float v) {
  if (std::isnan(v)) return To{0};
  const double lo = static_cast<double>(std::numeric_limits<To>::lowest());
  const double hi = static_cast<double>(std::numeric_limits<To>::max());
  const double t = std::trunc(static_cast<double>(v));
  if (t <= lo) return std::numeric_limits<To>::lowest();
  if (t >= hi) return std::numeric_limits<To>::max();
  return static_cast<To>(t);
}

template <typename From, typename To>
void convert(const Tensor& in, Tensor* out) {
  const From* x = in.data<From>();
  To* y = out->data<To>();
  const int64_t n = in.numel();
  if constexpr (std::is_same_v<From, float> && !std::is_same_v<To, float>) {
    for (int64_t i = 0; i < n; ++i) y[i] = from_float<To>(x[i]);
  } else if constexpr (!std::is_same_v<From, float> && !std::is_same_v<To, float> && (sizeof(To) < sizeof(From))) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t v = static_cast<int64_t>(x[i]);
      y[i] = static_cast<To>(v < std::numeric_limits<To>::lowest() ? std::numeric_limits<To>::lowest()
                             : v > std::numeric_limits<To>::max()  ? std::numeric_limits<To>::max()
                                                                   : v);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<To>(x[i]);
  }
}

template <typename From>
void convert_from(const Tensor& in, Tensor* out) {
  switch (out->dtype()) {
    case DType::kFloat32: convert<From, float>(in, out); break;
    case DType::kInt8: convert<From, int8_t>(in, out); break;
    case DType::kInt16: convert<From, int16_t>(in, out); break;
    case DType::kInt32: convert<From, int32_t>(in, out); break;
    default: convert<From, int64_t>(in, out); break;
  }
}

class CastKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32, DType::kInt8, DType::kInt16, DType::kInt32, DType::kInt64}, "input");
    ctx.set_output(0, dtype_of(ctx.node().attr_int("to", onnx::kInt64)), ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    Tensor* y = &ctx.out(0);
    switch (x.dtype()) {
      case DType::kFloat32: convert_from<float>(x, y); break;
      case DType::kInt8: convert_from<int8_t>(x, y); break;
      case DType::kInt16: convert_from<int16_t>(x, y); break;
      case DType::kInt32: convert_from<int32_t>(x, y); break;
      default: convert_from<int64_t>(x, y); break;
    }
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Cast(OpKind) { return std::make_unique<CastKernel>(); }

}  // namespace runtime
}  // namespace linger
