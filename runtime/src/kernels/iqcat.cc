// iqCat (thinker): int8 inputs, input i at scale_x_<i>, each rescaled on its
// own to scale_o (numerics::iqcat_rescale) and joined along `dim`.
#include <cstring>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"
#include "linger/numerics/elementwise.h"

namespace linger {
namespace runtime {

namespace {

class IqCatKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    const int count = ctx.num_inputs();
    for (int i = 0; i < count; ++i) {
      if (!ctx.has_input(i)) ctx.fail("input-count", "input #" + std::to_string(i) + " is empty");
      ctx.expect_dtype(i, {DType::kInt8}, "input");
    }
    const Dims& first = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(first.size());
    if (rank == 0) ctx.fail("shape", "inputs must have rank >= 1");
    const int64_t axis = ctx.axis(n.attr("dim")->i, rank, "dim");
    const int qo = n.scale_exponent("scale_o");
    shifts_.clear();
    for (int i = 0; i < count; ++i) shifts_.push_back(n.scale_exponent("scale_x_" + std::to_string(i)) - qo);
    const Dims out = concat_dims(ctx, axis, "dim");
    if (ctx.complete()) {
      outer_ = dims_numel(Dims(first.begin(), first.begin() + axis));
      const int64_t inner = dims_numel(Dims(first.begin() + axis + 1, first.end()));
      chunks_.clear();
      for (int i = 0; i < count; ++i) chunks_.push_back(ctx.dims(i)[static_cast<size_t>(axis)] * inner);
    }
    ctx.set_output(0, DType::kInt8, out);
  }

  void run(const RunContext& ctx) override {
    int8_t* dst = ctx.out(0).data<int8_t>();
    for (int64_t o = 0; o < outer_; ++o)
      for (size_t i = 0; i < chunks_.size(); ++i) {
        const int8_t* src = ctx.in(static_cast<int>(i)).data<int8_t>() + o * chunks_[i];
        const int shift = shifts_[i];
        for (int64_t k = 0; k < chunks_[i]; ++k) dst[k] = numerics::iqcat_rescale(src[k], shift);
        dst += chunks_[i];
      }
  }

 private:
  std::vector<int> shifts_;
  int64_t outer_ = 0;
  std::vector<int64_t> chunks_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_IqCat(OpKind) { return std::make_unique<IqCatKernel>(); }

}  // namespace runtime
}  // namespace linger
