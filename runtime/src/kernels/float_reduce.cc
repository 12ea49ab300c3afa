// ReduceSum, ReduceMean, ReduceProd (standard): what torch writes for a
// switched-off iqSum (ReduceSum) and inside its decomposition of a switched-off
// torch.var (ReduceMean, and ReduceProd of the reduced dims' sizes),
// docs/onnx-dialect.md "Float ops (switched-off arithmetic)". No exponent.
//
// `axes`: an attribute before opset 13; for ReduceSum an optional int64 input
// from opset 13 on (then `noop_with_empty_axes` = 1 with no axes is the
// identity). No axes: every axis. `keepdims` (default 1) keeps reduced axes
// as 1.
//
// float32: accumulated in double in row-major order, rounded once to float32
// at the end; ReduceMean = float(sum) / float(count), as torch's CPU mean (a
// sum, then a division). For the dequantized int8 codes these ops see, the sum
// is exact in float32 whatever the order (below 2^24 units of the scale), so
// ReduceSum is bit-identical to torch's. int64 (ReduceSum, ReduceProd; shape
// arithmetic): wraps like two's complement.
#include <algorithm>

#include "kernels/axes.h"
#include "kernels/copy_util.h"
#include "kernels/kernel.h"

namespace linger {
namespace runtime {

namespace {

enum class RedOp { kSum, kMean, kProd };

RedOp red_op(OpKind kind) {
  switch (kind) {
    case OpKind::ReduceSum: return RedOp::kSum;
    case OpKind::ReduceMean: return RedOp::kMean;
    default: return RedOp::kProd;
  }
}

class FloatReduceKernel final : public Kernel {
 public:
  explicit FloatReduceKernel(OpKind kind) : op_(red_op(kind)) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    if (op_ == RedOp::kMean) ctx.expect_dtype(0, {DType::kFloat32}, "input");
    else ctx.expect_dtype(0, {DType::kFloat32, DType::kInt64}, "input");
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());

    const bool axes_input = op_ == RedOp::kSum && ctx.opset() >= 13;
    std::optional<std::vector<int64_t>> axes;
    if (axes_input) {
      if (n.has_attr("axes"))
        ctx.fail("attribute-unknown", "ReduceSum takes axes as an input from opset 13 on, not an attribute (opset " +
                                          std::to_string(ctx.opset()) + ")");
      if (ctx.has_input(1)) {
        axes = ctx.const_ints(1, "axes");
        if (!axes) ctx.fail("constant-input", "axes input '" + ctx.input_name(1) + "' must be known at load");
      }
    } else {
      if (ctx.num_inputs() > 1)
        ctx.fail("input-count", std::string("axes is an attribute ") +
                                    (op_ == RedOp::kSum ? "before opset 13" : "up to opset 17") +
                                    ", not an input (opset " + std::to_string(ctx.opset()) + ")");
      if (n.has_attr("noop_with_empty_axes"))
        ctx.fail("attribute-unknown", "noop_with_empty_axes exists from opset 13 on (ReduceSum)");
      if (n.has_attr("axes")) axes = n.attr_ints("axes", {});
    }
    const bool noop = n.attr_int("noop_with_empty_axes", 0) != 0;
    const bool keep = n.attr_int("keepdims", 1) != 0;
    std::vector<bool> red(static_cast<size_t>(rank), false);
    if (!axes || axes->empty()) {
      if (!noop) std::fill(red.begin(), red.end(), true);
    } else {
      for (int64_t a : normalize_axes(ctx, *axes, rank)) red[static_cast<size_t>(a)] = true;
    }
    Dims out;
    for (int64_t d = 0; d < rank; ++d) {
      if (!red[static_cast<size_t>(d)]) out.push_back(in[static_cast<size_t>(d)]);
      else if (keep) out.push_back(1);
    }
    if (dims_known(in)) {
      in_ = in;
      // stride of each input axis in the output (0 on reduced axes)
      out_strides_.assign(static_cast<size_t>(rank), 0);
      int64_t s = 1;
      for (int64_t d = rank; d-- > 0;)
        if (!red[static_cast<size_t>(d)]) {
          out_strides_[static_cast<size_t>(d)] = s;
          s *= in[static_cast<size_t>(d)];
        }
      count_ = s > 0 ? dims_numel(in) / s : 0;
    }
    ctx.set_output(0, ctx.dtype(0), out);
  }

  void run(const RunContext& ctx) override {
    const int64_t n_out = ctx.out(0).numel();
    if (ctx.in(0).dtype() == DType::kFloat32) {
      std::vector<double> acc(static_cast<size_t>(n_out), op_ == RedOp::kProd ? 1.0 : 0.0);
      const float* x = ctx.in(0).data<float>();
      walk([&](int64_t i, int64_t o) {
        if (op_ == RedOp::kProd) acc[static_cast<size_t>(o)] *= static_cast<double>(x[i]);
        else acc[static_cast<size_t>(o)] += static_cast<double>(x[i]);
      });
      float* y = ctx.out(0).data<float>();
      for (int64_t o = 0; o < n_out; ++o) {
        const float v = static_cast<float>(acc[static_cast<size_t>(o)]);
        y[o] = op_ == RedOp::kMean ? v / static_cast<float>(count_) : v;
      }
      return;
    }
    std::vector<uint64_t> acc(static_cast<size_t>(n_out), op_ == RedOp::kProd ? 1u : 0u);
    const int64_t* x = ctx.in(0).data<int64_t>();
    walk([&](int64_t i, int64_t o) {
      if (op_ == RedOp::kProd) acc[static_cast<size_t>(o)] *= static_cast<uint64_t>(x[i]);
      else acc[static_cast<size_t>(o)] += static_cast<uint64_t>(x[i]);
    });
    int64_t* y = ctx.out(0).data<int64_t>();
    for (int64_t o = 0; o < n_out; ++o) y[o] = static_cast<int64_t>(acc[static_cast<size_t>(o)]);
  }

 private:
  // fn(input offset, output offset) over the input in row-major order.
  template <typename Fn>
  void walk(Fn fn) const {
    const size_t r = in_.size();
    const int64_t n = dims_numel(in_);
    if (n <= 0) return;
    std::vector<int64_t> idx(r, 0);
    int64_t o = 0;
    for (int64_t i = 0; i < n; ++i) {
      fn(i, o);
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        o += out_strides_[d];
        if (idx[d] < in_[d]) break;
        o -= out_strides_[d] * in_[d];
        idx[d] = 0;
      }
    }
  }

  RedOp op_;
  Dims in_;
  std::vector<int64_t> out_strides_;
  int64_t count_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_ReduceSum(OpKind kind) { return std::make_unique<FloatReduceKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_ReduceMean(OpKind kind) { return std::make_unique<FloatReduceKernel>(kind); }
std::unique_ptr<Kernel> make_kernel_ReduceProd(OpKind kind) { return std::make_unique<FloatReduceKernel>(kind); }

}  // namespace runtime
}  // namespace linger
