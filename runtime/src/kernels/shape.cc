// Shape (standard): the int64 dims of its input (start/end from opset 15).
// Known at load whenever those dims are static, so it folds to a constant.
#include <algorithm>

#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

class ShapeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if ((n.has_attr("start") || n.has_attr("end")) && ctx.opset() < 15)
      ctx.fail("attribute-unknown", "attributes 'start'/'end' need opset >= 15");
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    int64_t start = n.attr_int("start", 0), end = n.attr_int("end", rank);
    if (start < 0) start = std::max<int64_t>(0, start + rank);
    if (end < 0) end = std::max<int64_t>(0, end + rank);
    start_ = std::min(start, rank);
    end_ = std::max(start_, std::min(end, rank));
    const Dims dims(in.begin() + start_, in.begin() + end_);
    if (dims_known(dims)) {
      ctx.set_output_constant(0, Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims));
      return;
    }
    ctx.set_output(0, DType::kInt64, Dims{end_ - start_});
  }

  void run(const RunContext& ctx) override {
    const std::vector<int64_t>& s = ctx.in(0).shape();
    int64_t* y = ctx.out(0).data<int64_t>();
    for (int64_t i = start_; i < end_; ++i) y[i - start_] = s[static_cast<size_t>(i)];
  }

 private:
  int64_t start_ = 0, end_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Shape(OpKind) { return std::make_unique<ShapeKernel>(); }

}  // namespace runtime
}  // namespace linger
