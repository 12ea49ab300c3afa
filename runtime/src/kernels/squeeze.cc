// Squeeze (standard): removes size-1 dimensions (the given axes, or all of
// them); data unchanged.
#include <algorithm>
#include <cstring>

#include "kernels/axes.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class SqueezeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    bool known = true;
    const std::optional<std::vector<int64_t>> raw = squeeze_axes(ctx, &known);
    if (!known) ctx.fail("constant-input", "axes input '" + ctx.input_name(1) + "' must be known at load");
    Dims out;
    if (!raw) {
      for (int64_t d : in) {
        if (d < 0) ctx.fail("shape", "Squeeze without axes needs static dimensions, input is " + shape_str(in));
        if (d != 1) out.push_back(d);
      }
    } else {
      const std::vector<int64_t> axes = normalize_axes(ctx, *raw, rank);
      for (int64_t i = 0; i < rank; ++i) {
        const int64_t d = in[static_cast<size_t>(i)];
        if (std::find(axes.begin(), axes.end(), i) == axes.end()) {
          out.push_back(d);
        } else if (d >= 0 && d != 1) {
          ctx.fail("shape", "cannot squeeze axis " + std::to_string(i) + " of size " + std::to_string(d) +
                                " (input " + shape_str(in) + ")");
        }
      }
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).nbytes()) std::memcpy(ctx.out(0).raw_data(), ctx.in(0).raw_data(), ctx.in(0).nbytes());
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Squeeze(OpKind) { return std::make_unique<SqueezeKernel>(); }

}  // namespace runtime
}  // namespace linger
