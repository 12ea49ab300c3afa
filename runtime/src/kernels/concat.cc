// Concat (standard): joins inputs of one dtype along `axis`; every other
// dimension must agree. Inputs carrying exponents must carry the same one.
#include <cstring>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class ConcatKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const int n = ctx.num_inputs();
    for (int i = 0; i < n; ++i)
      if (!ctx.has_input(i)) ctx.fail("input-count", "input #" + std::to_string(i) + " is empty");
    const Dims& first = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(first.size());
    if (rank == 0) ctx.fail("shape", "inputs must have rank >= 1");
    const int64_t axis = ctx.axis(ctx.node().attr("axis")->i, rank, "axis");
    for (int i = 1; i < n; ++i)
      if (ctx.dtype(i) != ctx.dtype(0))
        ctx.fail("dtype", "input '" + ctx.input_name(i) + "' is " + dtype_name(ctx.dtype(i)) + ", input '" +
                              ctx.input_name(0) + "' is " + dtype_name(ctx.dtype(0)));
    const Dims out = concat_dims(ctx, axis, "axis");
    if (ctx.complete()) {
      outer_ = dims_numel(Dims(first.begin(), first.begin() + axis));
      const int64_t inner = dims_numel(Dims(first.begin() + axis + 1, first.end()));
      chunks_.clear();
      for (int i = 0; i < n; ++i)
        chunks_.push_back(static_cast<size_t>(ctx.dims(i)[static_cast<size_t>(axis)] * inner) * dtype_size(ctx.dtype(0)));
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    auto* dst = static_cast<unsigned char*>(ctx.out(0).raw_data());
    for (int64_t o = 0; o < outer_; ++o)
      for (size_t i = 0; i < chunks_.size(); ++i) {
        if (!chunks_[i]) continue;
        const auto* src = static_cast<const unsigned char*>(ctx.in(static_cast<int>(i)).raw_data());
        std::memcpy(dst, src + static_cast<size_t>(o) * chunks_[i], chunks_[i]);
        dst += chunks_[i];
      }
  }

 private:
  int64_t outer_ = 0;
  std::vector<size_t> chunks_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Concat(OpKind) { return std::make_unique<ConcatKernel>(); }

}  // namespace runtime
}  // namespace linger
