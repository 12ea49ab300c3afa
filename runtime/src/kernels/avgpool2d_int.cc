// AvgPool2dInt (thinker): int8 [N,C,H,W] -> int8, output Q = input Q.
// y = sat8(floor(S/k + 1/2)), S the window sum with zero padding, k = kh*kw
// (numerics::avgpool2d_int, planes split over the intra-op threads).
#include "kernels/kernel.h"
#include "kernels/pool_geometry.h"
#include "linger/numerics/pool.h"

namespace linger {
namespace runtime {

namespace {

class AvgPool2dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if (n.has_attr("scale_o") && n.scale_exponent("scale_o") != n.scale_exponent("scale_x"))
      ctx.fail("scale-consistency", "scale_o must equal scale_x (AvgPool2dInt keeps the input exponent)");
    ctx.set_output(0, DType::kInt8, infer_pool2d(ctx, &s_));
  }

  void run(const RunContext& ctx) override {
    if (s_.n == 0) return;
    opt::avgpool2d_int8(ctx.in(0).data<int8_t>(), ctx.out(0).data<int8_t>(), s_, ctx.pool);
  }

 private:
  numerics::Pool2dShape s_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_AvgPool2d(OpKind) { return std::make_unique<AvgPool2dIntKernel>(); }

}  // namespace runtime
}  // namespace linger
