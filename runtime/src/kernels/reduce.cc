// The reduction family (thinker iqSum, iqVar): int8 at scale_x, reduced over
// `dims` (every dim when absent; `keepdim` keeps them as 1), int8 at scale_o,
// by numerics::reduce_row_int8 (include/linger/numerics/reduce.h).
#include <numeric>

#include "kernels/copy_util.h"
#include "kernels/kernel.h"
#include "linger/numerics/reduce.h"

namespace linger {
namespace runtime {

namespace {

class ReduceKernel final : public Kernel {
 public:
  explicit ReduceKernel(OpKind kind) { params_.op = to_op_id(kind); }

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    std::vector<bool> red(static_cast<size_t>(rank), !n.has_attr("dims"));
    for (int64_t d : n.attr_ints("dims", {})) red[static_cast<size_t>(ctx.axis(d, rank, "dims"))] = true;
    const bool keep = n.attr_int("keepdim", 0) != 0;
    params_.qx = n.scale_exponent("scale_x");
    params_.qo = n.scale_exponent("scale_o");
    params_.unbiased = n.attr_int("unbiased", 1) != 0;
    Dims out, kept, perm;
    for (int64_t d = 0; d < rank; ++d) {
      if (!red[static_cast<size_t>(d)]) {
        out.push_back(in[static_cast<size_t>(d)]);
        kept.push_back(in[static_cast<size_t>(d)]);
        perm.push_back(d);
      } else if (keep) {
        out.push_back(1);
      }
    }
    Dims reduced;
    for (int64_t d = 0; d < rank; ++d)
      if (red[static_cast<size_t>(d)]) {
        perm.push_back(d);
        reduced.push_back(in[static_cast<size_t>(d)]);
      }
    if (ctx.complete()) {
      count_ = dims_numel(reduced);
      in_numel_ = dims_numel(in);
      if (count_ < 1 || count_ > numerics::kMaxReduceCount)
        ctx.fail("shape", "reduces " + std::to_string(count_) + " elements per output; supported: 1 to " +
                              std::to_string(numerics::kMaxReduceCount));
      // the input viewed with the kept dims first and the reduced dims last
      const std::vector<int64_t> strides = contiguous_strides(in);
      perm_dims_.clear();
      perm_strides_.clear();
      for (int64_t d : perm) {
        perm_dims_.push_back(in[static_cast<size_t>(d)]);
        perm_strides_.push_back(strides[static_cast<size_t>(d)]);
      }
    }
    ctx.set_output(0, DType::kInt8, out);
  }

  int64_t workspace_bytes(opt::Isa) const override { return in_numel_; }  // the input re-laid out as rows

  void run(const RunContext& ctx) override {
    const Tensor& x = ctx.in(0);
    std::vector<int8_t> rows(static_cast<size_t>(x.numel()));  // kept dims first, reduced dims last
    strided_copy(x.data<int8_t>(), rows.data(), 1, perm_dims_, 0, perm_strides_);
    int8_t* y = ctx.out(0).data<int8_t>();
    const int64_t outer = ctx.out(0).numel();
    for (int64_t i = 0; i < outer; ++i) y[i] = numerics::reduce_row_int8(params_, rows.data() + i * count_, count_, 1);
  }

 private:
  numerics::ReduceParams params_;
  int64_t count_ = 1, in_numel_ = 0;
  Dims perm_dims_;
  std::vector<int64_t> perm_strides_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Reduce(OpKind kind) { return std::make_unique<ReduceKernel>(kind); }

}  // namespace runtime
}  // namespace linger
