// Clip (standard, opset 11+: `min` and `max` are optional scalar inputs) on
// float32: what torch writes for a switched-off iqClamp, docs/onnx-dialect.md
// "Float ops (switched-off arithmetic)". y = min(max(x, lo), hi) like torch's
// clamp (so lo > hi gives hi; NaN passes through); exact. No exponent.
// On int8 (linger 1.x's ReLU6Int export: int8 x, int8 scalar constants min/max):
// y = numerics::iqclamp(x, lo, hi) with the constants read at load (lo <= hi
// required); the exponent passes through.
#include <cmath>
#include <limits>

#include "kernels/kernel.h"
#include "linger/numerics/elementwise.h"

namespace linger {
namespace runtime {

namespace {

class FloatClipKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.expect_dtype(0, {DType::kFloat32, DType::kInt8}, "input");
    int8_ = ctx.dtype(0) == DType::kInt8;
    has_lo_ = ctx.has_input(1);
    has_hi_ = ctx.has_input(2);
    for (int i = 1; i < 3; ++i) {
      if (!ctx.has_input(i)) continue;
      const char* role = i == 1 ? "min" : "max";
      ctx.expect_dtype(i, {int8_ ? DType::kInt8 : DType::kFloat32}, role);
      const Dims& d = ctx.dims(i);
      const int64_t n = dims_numel(d);
      if (d.size() > 1 || (n >= 0 && n != 1))
        ctx.fail("shape", std::string(role) + " '" + ctx.input_name(i) + "' must be a scalar, has shape " + shape_str(d));
    }
    if (int8_) {
      if (!has_lo_ || !has_hi_) ctx.fail("constant-input", "an int8 Clip needs int8 constant min and max (1.x ReLU6Int)");
      for (int i = 1; i < 3; ++i) {
        const Tensor* c = ctx.constant(i);
        if (c == nullptr)
          ctx.fail("constant-input", std::string(i == 1 ? "min" : "max") + " of an int8 Clip must be a constant");
        (i == 1 ? lo8_ : hi8_) = *c->data<int8_t>();
      }
      if (lo8_ > hi8_) ctx.fail("attribute-value", "int8 Clip needs min <= max");
    } else {
      // Integer-valued constant bounds (lo <= hi): on integer-valued data the
      // float clip is then an integer clamp (integer_clamp, for fusion).
      int_lo_ = std::numeric_limits<int64_t>::min();
      int_hi_ = std::numeric_limits<int64_t>::max();
      int_bounds_ = true;
      for (int i = 1; i < 3 && int_bounds_; ++i) {
        if (!ctx.has_input(i)) continue;
        const Tensor* c = ctx.constant(i);
        const float v = c ? *c->data<float>() : 0.0f;
        if (!c || !(std::fabs(v) < 1e15f) || std::trunc(v) != v) {
          int_bounds_ = false;
          break;
        }
        (i == 1 ? int_lo_ : int_hi_) = static_cast<int64_t>(v);
      }
      if (int_lo_ > int_hi_) int_bounds_ = false;
    }
    ctx.set_output(0, int8_ ? DType::kInt8 : DType::kFloat32, ctx.dims(0));
  }

  bool integer_clamp(int64_t* lo, int64_t* hi) const override {
    if (int8_) {
      *lo = lo8_;
      *hi = hi8_;
      return true;
    }
    *lo = int_lo_;
    *hi = int_hi_;
    return int_bounds_;
  }

  void run(const RunContext& ctx) override {
    if (int8_) {
      const int8_t* x = ctx.in(0).data<int8_t>();
      int8_t* y = ctx.out(0).data<int8_t>();
      const int64_t n = ctx.in(0).numel();
      for (int64_t i = 0; i < n; ++i) y[i] = numerics::iqclamp(x[i], lo8_, hi8_);
      return;
    }
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
  bool int8_ = false;
  int lo8_ = -128, hi8_ = 127;
  bool int_bounds_ = false;  // float: constant, integer-valued bounds
  int64_t int_lo_ = 0, int_hi_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Clip(OpKind) { return std::make_unique<FloatClipKernel>(); }

}  // namespace runtime
}  // namespace linger
