// Clip (standard, opset 11+: `min` and `max` are optional scalar inputs) on
// float32: what torch writes for a switched-off iqClamp, docs/onnx-dialect.md
// "Float ops (switched-off arithmetic)". y = min(max(x, lo), hi) like torch's
// clamp (so lo > hi gives hi; NaN passes through); exact. No exponent.
#include <cmath>
#include <limits>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class FloatClipKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32}, "input");
    has_lo_ = ctx.has_input(1);
    has_hi_ = ctx.has_input(2);
    for (int i = 1; i < 3; ++i) {
      if (!ctx.has_input(i)) continue;
      const char* role = i == 1 ? "min" : "max";
      ctx.expect_dtype(i, {DType::kFloat32}, role);
      const Dims& d = ctx.dims(i);
      const int64_t n = dims_numel(d);
      if (d.size() > 1 || (n >= 0 && n != 1))
        ctx.fail("shape", std::string(role) + " '" + ctx.input_name(i) + "' must be a scalar, has shape " + shape_str(d));
    }
    ctx.set_output(0, DType::kFloat32, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const float lo = has_lo_ ? *ctx.in(1).data<float>() : -std::numeric_limits<float>::infinity();
    const float hi = has_hi_ ? *ctx.in(2).data<float>() : std::numeric_limits<float>::infinity();
    const float* x = ctx.in(0).data<float>();
    float* y = ctx.out(0).data<float>();
    const int64_t n = ctx.in(0).numel();
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      if (std::isnan(v)) {
        y[i] = v;
        continue;
      }
      const float a = v < lo ? lo : v;
      y[i] = a > hi ? hi : a;
    }
  }

 private:
  bool has_lo_ = false, has_hi_ = false;  // inputs past the last one given are absent
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Clip(OpKind) { return std::make_unique<FloatClipKernel>(); }

}  // namespace runtime
}  // namespace linger
