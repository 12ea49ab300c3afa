// Unsqueeze (standard): inserts size-1 dimensions at the given axes (of the
// output); data unchanged.
#include <algorithm>
#include <cstring>

#include "kernels/axes.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class UnsqueezeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    bool known = true;
    const std::optional<std::vector<int64_t>> raw = squeeze_axes(ctx, &known);
    if (!known) ctx.fail("constant-input", "axes input '" + ctx.input_name(1) + "' must be known at load");
    if (!raw) ctx.fail("attribute-missing", "Unsqueeze needs axes");
    const int64_t out_rank = static_cast<int64_t>(in.size() + raw->size());
    const std::vector<int64_t> axes = normalize_axes(ctx, *raw, out_rank);
    Dims out;
    size_t next = 0;
    for (int64_t i = 0; i < out_rank; ++i) {
      if (std::find(axes.begin(), axes.end(), i) != axes.end()) out.push_back(1);
      else out.push_back(in[next++]);
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).nbytes()) std::memcpy(ctx.out(0).raw_data(), ctx.in(0).raw_data(), ctx.in(0).nbytes());
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Unsqueeze(OpKind) { return std::make_unique<UnsqueezeKernel>(); }

}  // namespace runtime
}  // namespace linger
