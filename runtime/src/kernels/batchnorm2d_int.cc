// BatchNorm2dInt (thinker): int8 x [N,C,H,W] (also [N,C] and [N,C,L]: standalone
// BatchNorm1d exports as this op), int8 W [C] (gamma/sigma folded),
// int32 B [C] at Qx+Qw; numerics::batchnorm_int, shift Qx+Qw-Qo.
#include "kernels/conv_common.h"
#include "kernels/kernel.h"
#include "linger/numerics/batchnorm.h"

namespace linger {
namespace runtime {

namespace {

class BatchNorm2dIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    if (ctx.dims(0).size() < 2 || ctx.dims(0).size() > 4)
      ctx.fail("shape", "input x must be [N, C], [N, C, L] or [N, C, H, W], got rank " +
                            std::to_string(ctx.dims(0).size()));
    ctx.expect_dtype(1, {DType::kInt8}, "weight W");
    ctx.expect_rank(1, 1, "weight W");
    ctx.expect_dtype(2, {DType::kInt32}, "bias B");
    ctx.expect_rank(2, 1, "bias B");
    const Dims& x = ctx.dims(0);
    for (int i = 1; i < 3; ++i)
      if (x[1] >= 0 && ctx.dims(i)[0] >= 0 && ctx.dims(i)[0] != x[1])
        ctx.fail("shape", "input x has " + std::to_string(x[1]) + " channels but " + (i == 1 ? "weight W" : "bias B") +
                              " has " + std::to_string(ctx.dims(i)[0]) + " values");
    out_bits_ = static_cast<int>(n.attr_int("o_bits", 8));
    shift_ = conv_shift(n, out_bits_);
    if (ctx.complete()) {
      n_ = x[0];
      c_ = x[1];
      spatial_ = 1;
      for (size_t d = 2; d < x.size(); ++d) spatial_ *= x[d];
    }
    ctx.set_output(0, conv_out_dtype(out_bits_), x);
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int8_t* w = ctx.in(1).data<int8_t>();
    const int32_t* b = ctx.in(2).data<int32_t>();
    void* y = ctx.out(0).raw_data();
    opt::batchnorm_int8(x, w, b, y, n_, c_, spatial_, shift_, out_bits_, ctx.isa, ctx.pool);
  }

 private:
  int out_bits_ = 8;
  int shift_ = 0;
  int64_t n_ = 0, c_ = 0, spatial_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_BatchNorm2d(OpKind) { return std::make_unique<BatchNorm2dIntKernel>(); }

}  // namespace runtime
}  // namespace linger
