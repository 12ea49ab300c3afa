// Elementwise float32 functions (standard): Sigmoid, Tanh (what torch writes for
// a switched-off iqSigmoid / iqTanh), and Exp, Log, Sqrt, Neg, Abs,
// docs/onnx-dialect.md "Float ops (switched-off arithmetic)". No exponent.
//
// Each is computed in float32 with the formula torch uses on CPU:
//   Sigmoid(x) = 1 / (1 + exp(-x))   (three float32 roundings, as in torch's
//                                     sigmoid_kernel)
//   Tanh, Exp, Log                   libm tanhf / expf / logf
//   Sqrt, Neg, Abs                   exact (IEEE correctly rounded / sign ops)
// torch evaluates exp and tanh with SLEEF's vectorised 1-ulp functions (and
// libm on the tail of a row), so an element can differ from torch by an ulp in
// float; after the following Quant that changes a code only when the float
// lands on a rounding boundary (in practice: never or almost never, see
// tests/python/test_switches.py).
#include <cmath>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

enum class UnOp { kSigmoid, kTanh, kExp, kLog, kSqrt, kNeg, kAbs };

UnOp un_op(OpKind kind) {
  switch (kind) {
    case OpKind::Sigmoid: return UnOp::kSigmoid;
    case OpKind::Tanh: return UnOp::kTanh;
    case OpKind::Exp: return UnOp::kExp;
    case OpKind::Log: return UnOp::kLog;
    case OpKind::Sqrt: return UnOp::kSqrt;
    case OpKind::Neg: return UnOp::kNeg;
    default: return UnOp::kAbs;
  }
}

template <UnOp op>
inline float apply(float x) {
  if constexpr (op == UnOp::kSigmoid) {
    const float e = std::exp(-x);
    const float d = 1.0f + e;
    return 1.0f / d;
  }
  if constexpr (op == UnOp::kTanh) return std::tanh(x);
  if constexpr (op == UnOp::kExp) return std::exp(x);
  if constexpr (op == UnOp::kLog) return std::log(x);
  if constexpr (op == UnOp::kSqrt) return std::sqrt(x);
  if constexpr (op == UnOp::kNeg) return -x;
  return std::fabs(x);
}

template <UnOp op>
void apply_all(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = apply<op>(x[i]);
}

class FloatUnaryKernel final : public Kernel {
 public:
  explicit FloatUnaryKernel(OpKind kind) : op_(un_op(kind)) {}

  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32}, "input");
    ctx.set_output(0, DType::kFloat32, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const float* x = ctx.in(0).data<float>();
    float* y = ctx.out(0).data<float>();
    const int64_t n = ctx.in(0).numel();
    switch (op_) {
      case UnOp::kSigmoid: apply_all<UnOp::kSigmoid>(x, y, n); break;
      case UnOp::kTanh: apply_all<UnOp::kTanh>(x, y, n); break;
      case UnOp::kExp: apply_all<UnOp::kExp>(x, y, n); break;
      case UnOp::kLog: apply_all<UnOp::kLog>(x, y, n); break;
      case UnOp::kSqrt: apply_all<UnOp::kSqrt>(x, y, n); break;
      case UnOp::kNeg: apply_all<UnOp::kNeg>(x, y, n); break;
      case UnOp::kAbs: apply_all<UnOp::kAbs>(x, y, n); break;
    }
  }

 private:
  UnOp op_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Sigmoid(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Tanh(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Exp(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Log(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Sqrt(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Neg(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_Abs(OpKind kind) { return std::make_unique<FloatUnaryKernel>(kind); }

}  // namespace runtime
}  // namespace linger
