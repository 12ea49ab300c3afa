// The lookup-table family (thinker iqSigmoid, iqTanh): int8 at scale_x,
// requantized to int16 at Q11, then the engine's 16-segment tables
// (include/linger/numerics/lut.h); int8 output at Q7 (scale_o must be 128).
#include "kernels/kernel.h"
#include "linger/numerics/lut.h"

namespace linger {
namespace runtime {

namespace {

class LutKernel final : public Kernel {
 public:
  explicit LutKernel(OpKind kind) : op_(to_op_id(kind)) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    qx_ = n.scale_exponent("scale_x");
    if (n.scale_exponent("scale_o") != numerics::kLutOutExponent)
      ctx.fail("attribute-value", "scale_o must be 128 (the tables give Q7 outputs)");
    ctx.set_output(0, DType::kInt8, ctx.dims(0));
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    const int64_t count = ctx.out(0).numel();
    // one table lookup per distinct code: the op is a pure function of the int8 code
    int8_t table[256];
    for (int c = -128; c < 128; ++c)
      table[c + 128] = op_ == OpId::iqTanh ? numerics::iqtanh(static_cast<int8_t>(c), qx_)
                                           : numerics::iqsigmoid(static_cast<int8_t>(c), qx_);
    for (int64_t i = 0; i < count; ++i) y[i] = table[x[i] + 128];
  }

 private:
  OpId op_;
  int qx_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_UnaryLut(OpKind kind) { return std::make_unique<LutKernel>(kind); }

}  // namespace runtime
}  // namespace linger
