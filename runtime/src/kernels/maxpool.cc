// MaxPool (standard, on int8): max over the window, padding value -128; the
// exponent passes through (numerics::maxpool2d_int, run by opt::maxpool2d_int8:
// AVX2 rows for horizontal strides 1 and 2, planes split over the intra-op
// threads). dilations must be 1.
#include <vector>

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
    isa_ = ctx.isa();
    threads_ = ctx.threads();
  }

  int64_t workspace_bytes(opt::Isa /*isa*/) const override {
    return s_.n == 0 ? 0 : opt::maxpool2d_workspace_bytes(s_, threads_);
  }

  void run(const RunContext& ctx) override {
    if (s_.n == 0) return;
    std::vector<int8_t> local;
    opt::ThreadPool* pool = opt::pool_threads(ctx.pool) <= threads_ ? ctx.pool : nullptr;
    opt::maxpool2d_int8(ctx.in(0).data<int8_t>(), ctx.out(0).data<int8_t>(), s_, isa_,
                        ctx.workspace ? ctx.workspace : &local, pool);
  }

 private:
  numerics::Pool2dShape s_;
  opt::Isa isa_ = opt::Isa::kAuto;
  int threads_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_MaxPool(OpKind) { return std::make_unique<MaxPoolKernel>(); }

}  // namespace runtime
}  // namespace linger
