// Slice (standard, opset >= 10 form): inputs data, starts, ends, [axes],
// [steps], all known at load; ONNX clamping rules, negative steps allowed.
#include <algorithm>
#include <limits>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class SliceKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    const auto starts = ctx.const_ints(1, "starts");
    const auto ends = ctx.const_ints(2, "ends");
    std::optional<std::vector<int64_t>> axes, steps;
    if (ctx.has_input(3)) axes = ctx.const_ints(3, "axes");
    if (ctx.has_input(4)) steps = ctx.const_ints(4, "steps");
    const bool axes_known = !ctx.has_input(3) || axes;
    if (!starts || !ends || !axes_known || (ctx.has_input(4) && !steps)) {
      // Parameters not known yet (symbolic shapes): only the rank is.
      Dims out(in.size(), kUnknownDim);
      if (starts && axes_known) {
        std::vector<int64_t> touched = axes ? *axes : std::vector<int64_t>();
        if (!axes)
          for (size_t i = 0; i < starts->size(); ++i) touched.push_back(static_cast<int64_t>(i));
        out = in;
        for (int64_t a : touched) out[static_cast<size_t>(ctx.axis(a, rank, "axis"))] = kUnknownDim;
      }
      ctx.set_output(0, ctx.dtype(0), out);
      return;
    }
    const size_t count = starts->size();
    if (ends->size() != count || (axes && axes->size() != count) || (steps && steps->size() != count))
      ctx.fail("shape", "starts, ends, axes and steps must have the same length");
    std::vector<int64_t> ax(count);
    for (size_t i = 0; i < count; ++i) ax[i] = axes ? (*axes)[i] : static_cast<int64_t>(i);
    Dims out = in;
    offset_ = 0;
    const std::vector<int64_t> in_strides = contiguous_strides(in);
    strides_ = in_strides;
    std::vector<bool> seen(in.size(), false);
    for (size_t i = 0; i < count; ++i) {
      const size_t a = static_cast<size_t>(ctx.axis(ax[i], rank, "axis"));
      if (seen[a]) ctx.fail("attribute-value", "axis " + std::to_string(ax[i]) + " is repeated");
      seen[a] = true;
      int64_t step = steps ? (*steps)[i] : 1;
      if (step == 0) ctx.fail("attribute-value", "step 0 on axis " + std::to_string(ax[i]));
      const int64_t dim = in[a];
      if (dim < 0) {
        out[a] = kUnknownDim;
        continue;
      }
      if (step < -std::numeric_limits<int64_t>::max()) step = -std::numeric_limits<int64_t>::max();
      int64_t start = (*starts)[i], end = (*ends)[i];
      if (start < 0) start = start < -dim ? -1 : start + dim;  // keeps start + dim from overflowing
      if (end < 0) end = end < -dim ? -1 : end + dim;
      int64_t len;
      if (dim == 0) {
        len = 0;
      } else if (step > 0) {
        start = std::clamp<int64_t>(start, 0, dim);
        end = std::clamp<int64_t>(end, 0, dim);
        len = end > start ? (end - start - 1) / step + 1 : 0;
      } else {
        start = std::clamp<int64_t>(start, 0, dim - 1);
        end = std::clamp<int64_t>(end, -1, dim - 1);
        len = start > end ? (start - end - 1) / (-step) + 1 : 0;
      }
      out[a] = len;
      if (len > 0) offset_ += start * in_strides[a];
      strides_[a] = len > 1 ? in_strides[a] * step : 0;  // |step| < dim when len > 1: no overflow
    }
    out_ = out;
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    strided_copy(ctx.in(0).raw_data(), ctx.out(0).raw_data(), dtype_size(ctx.in(0).dtype()), out_, offset_, strides_);
  }

 private:
  Dims out_;
  int64_t offset_ = 0;
  std::vector<int64_t> strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Slice(OpKind) { return std::make_unique<SliceKernel>(); }

}  // namespace runtime
}  // namespace linger
