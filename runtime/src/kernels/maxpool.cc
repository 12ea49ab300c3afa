// MaxPool (standard, on int8): max over the window, padding value -128; the
// exponent passes through (numerics::maxpool2d_int). dilations must be 1.
#include "kernels/kernel.h"
#include "kernels/pool_geometry.h"
#include "linger/numerics/pool.h"

namespace linger {
namespace runtime {

namespace {

class MaxPoolKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    ctx.attr_ints("dilations", 2, {1, 1}, 1, 1);
    ctx.set_output(0, DType::kInt8, infer_pool2d(ctx, &s_));
  }

  void run(const RunContext& ctx) override {
    if (s_.n == 0) return;
    numerics::maxpool2d_int(ctx.in(0).data<int8_t>(), ctx.out(0).data<int8_t>(), s_);
  }

 private:
  numerics::Pool2dShape s_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_MaxPool(OpKind) { return std::make_unique<MaxPoolKernel>(); }

}  // namespace runtime
}  // namespace linger
