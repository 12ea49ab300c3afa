// Identity (standard): a copy; the exponent passes through.
#include <cstring>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class IdentityKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override { ctx.set_output(0, ctx.dtype(0), ctx.dims(0)); }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).nbytes()) std::memcpy(ctx.out(0).raw_data(), ctx.in(0).raw_data(), ctx.in(0).nbytes());
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Identity(OpKind) { return std::make_unique<IdentityKernel>(); }

}  // namespace runtime
}  // namespace linger
