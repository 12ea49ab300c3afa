// Reshape (standard): new shape from the int64 `shape` input (0 copies the
// input dimension unless allowzero, -1 is inferred); data unchanged.
#include <cstring>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class ReshapeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if (n.has_attr("allowzero") && ctx.opset() < 14)
      ctx.fail("attribute-unknown", "attribute 'allowzero' needs opset >= 14");
    const bool allowzero = n.attr_int("allowzero", 0) != 0;
    const Dims& in = ctx.dims(0);
    const std::optional<std::vector<int64_t>> shape = ctx.const_ints(1, "shape");
    if (!shape) {
      const Dims& sd = ctx.dims(1);
      if (sd.size() != 1 || sd[0] < 0)
        ctx.fail("constant-input", "shape input '" + ctx.input_name(1) + "' must have a static length");
      if (sd[0] > static_cast<int64_t>(kMaxRank)) ctx.fail("shape", "target rank " + std::to_string(sd[0]) + " is too high");
      ctx.set_output(0, ctx.dtype(0), Dims(static_cast<size_t>(sd[0]), kUnknownDim));
      return;
    }
    if (shape->size() > kMaxRank) ctx.fail("shape", "target rank " + std::to_string(shape->size()) + " is too high");
    Dims out(shape->size());
    int infer_at = -1;
    for (size_t i = 0; i < shape->size(); ++i) {
      const int64_t v = (*shape)[i];
      if (v == 0 && !allowzero) {
        if (i >= in.size())
          ctx.fail("shape", "shape " + shape_str(*shape) + " copies dimension " + std::to_string(i) +
                                " but the input has rank " + std::to_string(in.size()));
        out[i] = in[i];
      } else if (v == -1) {
        if (infer_at >= 0) ctx.fail("shape", "shape " + shape_str(*shape) + " has more than one -1");
        infer_at = static_cast<int>(i);
      } else if (v < -1) {
        ctx.fail("shape", "shape " + shape_str(*shape) + " has a negative dimension");
      } else {
        out[i] = v;
      }
    }
    if (allowzero && infer_at >= 0)
      for (int64_t v : *shape)
        if (v == 0) ctx.fail("shape", "shape " + shape_str(*shape) + " mixes 0 and -1 with allowzero = 1");
    const int64_t total = dims_numel(in);
    if (infer_at >= 0) {
      Dims rest = out;
      rest[static_cast<size_t>(infer_at)] = 1;
      const int64_t part = dims_numel(rest);
      if (part == 0) ctx.fail("shape", "cannot infer the -1 of shape " + shape_str(*shape) + " next to a zero dimension");
      if (part >= kSaturatedNumel) ctx.fail("shape", "shape " + shape_str(*shape) + " is too large");
      if (total >= 0 && part >= 0) {
        if (total % part != 0)
          ctx.fail("shape", "cannot reshape " + shape_str(in) + " to " + shape_str(*shape) +
                                " (element count not divisible)");
        out[static_cast<size_t>(infer_at)] = total / part;
      } else {
        out[static_cast<size_t>(infer_at)] = kUnknownDim;
      }
    }
    const int64_t count = dims_numel(out);
    if (total >= 0 && count >= 0 && total != count)
      ctx.fail("shape", "cannot reshape " + shape_str(in) + " (" + std::to_string(total) + " elements) to " +
                            shape_str(out));
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    if (ctx.in(0).nbytes()) std::memcpy(ctx.out(0).raw_data(), ctx.in(0).raw_data(), ctx.in(0).nbytes());
  }
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Reshape(OpKind) { return std::make_unique<ReshapeKernel>(); }

}  // namespace runtime
}  // namespace linger
