// Flatten (standard): [d0..d(axis-1)] x [d(axis)..] -> 2-D; data unchanged.
#include <cstring>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class FlattenKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    int64_t axis = ctx.node().attr_int("axis", 1);
    if (axis < -rank || axis > rank)
      ctx.fail("attribute-value", "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    if (axis < 0) axis += rank;
    const Dims outer(in.begin(), in.begin() + axis);
    const Dims inner(in.begin() + axis, in.end());
    ctx.set_output(0, ctx.dtype(0), Dims{dims_numel(outer), dims_numel(inner)});
  }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).nbytes()) std::memcpy(ctx.out(0).raw_data(), ctx.in(0).raw_data(), ctx.in(0).nbytes());
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Flatten(OpKind) { return std::make_unique<FlattenKernel>(); }

}  // namespace runtime
}  // namespace linger
