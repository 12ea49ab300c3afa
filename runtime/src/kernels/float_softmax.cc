// Softmax, LogSoftmax (standard) on float32: what torch writes for a
// switched-off SoftmaxInt / LogSoftmaxInt, docs/onnx-dialect.md "Float ops
// (switched-off arithmetic)". No exponent.
//
// `axis` follows the model's opset: before 13 the input is coerced to 2-D
// [prod(dims[:axis]), prod(dims[axis:])] and each row of that matrix is
// normalised (default axis 1); from 13 on one axis is normalised (default -1).
//
// Per row, in float32, the steps of torch's CPU kernels:
//   m = max(x);  e_i = exp(x_i - m);  s = e_0 + e_1 + ... (in row order)
//   Softmax:     y_i = e_i * (1 / s) when the axis is the innermost one (a
//                contiguous row; torch's last-dim kernel), else y_i = e_i / s
//   LogSoftmax:  y_i = (x_i - m) - log(s)
// x_i - m is exact for the dequantized codes this op sees (same scale). torch
// uses SLEEF's 1-ulp vectorised exp and sums 8/16 lanes at a time, so a float
// result can differ from torch's by an ulp; after the Quant that follows it
// changes a code only on a rounding boundary (tests/python/test_switches.py).
#include <cmath>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class FloatSoftmaxKernel final : public Kernel {
 public:
  explicit FloatSoftmaxKernel(OpKind kind) : log_(kind == OpKind::LogSoftmax) {}

  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32}, "input");
    const Dims& d = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(d.size());
    if (rank == 0) ctx.fail("shape", "input '" + ctx.input_name(0) + "' must have rank >= 1");
    const bool coerce_2d = ctx.opset() < 13;
    const int64_t axis = ctx.axis(ctx.node().attr_int("axis", coerce_2d ? 1 : -1), rank, "axis");
    if (dims_known(d)) {
      const Dims before(d.begin(), d.begin() + axis);
      outer_ = dims_numel(before);
      if (coerce_2d) {
        len_ = dims_numel(Dims(d.begin() + axis, d.end()));
        inner_ = 1;
      } else {
        len_ = d[static_cast<size_t>(axis)];
        inner_ = dims_numel(Dims(d.begin() + axis + 1, d.end()));
      }
    }
    ctx.set_output(0, DType::kFloat32, d);
  }

  void run(const RunContext& ctx) override {
    const float* x = ctx.in(0).data<float>();
    float* y = ctx.out(0).data<float>();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        const int64_t base = o * len_ * inner_ + i;
        row(x + base, y + base, inner_);
      }
  }

 private:
  void row(const float* x, float* y, int64_t step) const {
    if (len_ <= 0) return;
    float m = x[0];
    for (int64_t k = 1; k < len_; ++k) m = x[k * step] > m ? x[k * step] : m;
    float s = 0.0f;
    for (int64_t k = 0; k < len_; ++k) {
      const float e = std::exp(x[k * step] - m);
      if (!log_) y[k * step] = e;
      s += e;
    }
    if (log_) {
      const float ls = std::log(s);
      for (int64_t k = 0; k < len_; ++k) y[k * step] = (x[k * step] - m) - ls;
    } else if (step == 1) {  // a contiguous row: torch's last-dim kernel multiplies by 1/s
      const float r = 1.0f / s;
      for (int64_t k = 0; k < len_; ++k) y[k] = y[k] * r;
    } else {  // torch's kernel for other dims divides
      for (int64_t k = 0; k < len_; ++k) y[k * step] = y[k * step] / s;
    }
  }

  bool log_;
  int64_t outer_ = 0, len_ = 0, inner_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Softmax(OpKind kind) { return std::make_unique<FloatSoftmaxKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_LogSoftmax(OpKind kind) { return std::make_unique<FloatSoftmaxKernel>(kind); }

}  // namespace runtime
}  // namespace linger
