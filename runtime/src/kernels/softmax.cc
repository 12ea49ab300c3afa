// The softmax family (thinker SoftmaxInt, LogSoftmaxInt): int8 at scale_x,
// along `dim`, int8 at scale_o (include/linger/numerics/softmax.h).
#include "kernels/kernel.h"
#include "linger/numerics/softmax.h"

namespace linger {
namespace runtime {

namespace {

class SoftmaxKernel final : public Kernel {
 public:
  explicit SoftmaxKernel(OpKind kind) : op_(to_op_id(kind)) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    const Dims& in = ctx.dims(0);
    const int64_t rank = static_cast<int64_t>(in.size());
    if (rank == 0) ctx.fail("shape", "input must have rank >= 1");
    const int64_t axis = ctx.axis(n.attr("dim")->i, rank, "dim");
    qx_ = n.scale_exponent("scale_x");
    qo_ = n.scale_exponent("scale_o");
    if (ctx.complete()) {
      len_ = in[static_cast<size_t>(axis)];
      inner_ = dims_numel(Dims(in.begin() + axis + 1, in.end()));
      outer_ = dims_numel(Dims(in.begin(), in.begin() + axis));
      if (len_ > (int64_t{1} << 24)) ctx.fail("shape", "softmax over more than 2^24 elements is not supported");
    }
    ctx.set_output(0, DType::kInt8, in);
  }

  void run(const RunContext& ctx) override {
    if (len_ == 0) return;
    const int8_t* x = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        const int64_t base = o * len_ * inner_ + i;
        if (op_ == OpId::LogSoftmaxInt)
          numerics::log_softmax_int_row(x + base, len_, inner_, qx_, qo_, y + base, inner_);
        else
          numerics::softmax_int_row(x + base, len_, inner_, qx_, qo_, y + base, inner_);
      }
  }

 private:
  OpId op_;
  int qx_ = 0, qo_ = 0;
  int64_t len_ = 0, inner_ = 1, outer_ = 1;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_IntSoftmax(OpKind kind) { return std::make_unique<SoftmaxKernel>(kind); }

}  // namespace runtime
}  // namespace linger
