// Transpose (standard): out dim i = in dim perm[i] (default: reversed).
#include <algorithm>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class TransposeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Dims& in = ctx.dims(0);
    const size_t rank = in.size();
    std::vector<int64_t> perm(rank);
    for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
    if (ctx.node().has_attr("perm")) {
      perm = ctx.node().attr_ints("perm", {});
      std::vector<int64_t> sorted = perm;
      std::sort(sorted.begin(), sorted.end());
      bool ok = sorted.size() == rank;
      for (size_t i = 0; ok && i < rank; ++i) ok = sorted[i] == static_cast<int64_t>(i);
      if (!ok)
        ctx.fail("attribute-value", "perm " + shape_str(perm) + " is not a permutation of the " + std::to_string(rank) +
                                        " axes of input " + shape_str(in));
    }
    Dims out(rank);
    for (size_t i = 0; i < rank; ++i) out[i] = in[static_cast<size_t>(perm[i])];
    if (ctx.complete()) {
      const std::vector<int64_t> in_strides = contiguous_strides(in);
      strides_.resize(rank);
      for (size_t i = 0; i < rank; ++i) strides_[i] = in_strides[static_cast<size_t>(perm[i])];
      out_ = out;
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    strided_copy(ctx.in(0).raw_data(), ctx.out(0).raw_data(), dtype_size(ctx.in(0).dtype()), out_, 0, strides_);
  }

 private:
  Dims out_;
  std::vector<int64_t> strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Transpose(OpKind) { return std::make_unique<TransposeKernel>(); }

}  // namespace runtime
}  // namespace linger
