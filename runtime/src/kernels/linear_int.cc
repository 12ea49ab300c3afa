// LinearInt (thinker): int8 x [..., K], int8 W [N, K], optional int32 B [N].
// int64 accumulation incl. bias, y = sat_ob(rhu_shift(acc, Qx+Qw-Qo)) for
// o_bits 8/16/32, or the float acc * 2^-(Qx+Qw) without o_bits. Runs
// opt::linear_int8 (same integers as numerics::linear_int).
#include "kernels/conv_common.h"
#include "kernels/kernel.h"
#include "linger/numerics/linear.h"

namespace linger {
namespace runtime {

namespace {

DType out_dtype(int bits) {
  switch (bits) {
    case 8: return DType::kInt8;
    case 16: return DType::kInt16;
    case 32: return DType::kInt32;
    default: return DType::kFloat32;
  }
}

class LinearIntKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_dtype(1, {DType::kInt8}, "weight W");
    ctx.expect_rank(1, 2, "weight W");
    has_bias_ = ctx.has_input(2);
    if (has_bias_) {
      ctx.expect_dtype(2, {DType::kInt32}, "bias B");
      ctx.expect_rank(2, 1, "bias B");
    }
    const Dims& x = ctx.dims(0);
    const Dims& w = ctx.dims(1);
    if (x.empty()) ctx.fail("shape", "input x '" + ctx.input_name(0) + "' must have rank >= 1, is a scalar");
    const int64_t k = x.back();
    if (w[1] == 0 || k == 0) ctx.fail("shape", "LinearInt needs K >= 1 input features");
    if (k >= 0 && w[1] >= 0 && k != w[1])
      ctx.fail("shape", "input x has K = " + std::to_string(k) + " features (shape " + shape_str(x) +
                            ") but weight W " + shape_str(w) + " expects " + std::to_string(w[1]));
    if (has_bias_) {
      const Dims& b = ctx.dims(2);
      if (b[0] >= 0 && w[0] >= 0 && b[0] != w[0])
        ctx.fail("shape", "bias B has " + std::to_string(b[0]) + " values, weight W has " + std::to_string(w[0]) + " rows");
    }
    Dims y = x;
    y.back() = w[0];
    out_bits_ = static_cast<int>(n.attr_int("o_bits", 0));
    const int q_sum = n.scale_exponent("scale_x") + n.scale_exponent("scale_w");
    shift_ = out_bits_ ? q_sum - n.scale_exponent("scale_o") : q_sum;
    if (ctx.complete()) {
      k_ = w[1];
      n_ = w[0];
      m_ = k_ ? dims_numel(x) / k_ : 0;
      stage_ = output_stage(ctx, out_bits_, shift_);
      isa_ = ctx.isa();
      threads_ = ctx.threads();
      if (const Tensor* wt = ctx.constant(1)) {  // weights packed once, here
        linear_ = opt::LinearInt8(wt->data<int8_t>(), k_, n_, isa_);
        packed_ = true;
      }
    }
    ctx.set_output(0, out_dtype(out_bits_), y);
  }

  int64_t workspace_bytes(opt::Isa /*isa*/) const override {
    if (m_ == 0 || n_ == 0) return 0;
    if (packed_) return linear_.workspace_bytes(m_, threads_);
    return opt::linear_workspace_bytes(m_, k_, n_, isa_);
  }

  void run(const RunContext& ctx) override {
    if (m_ == 0 || n_ == 0) return;
    const int32_t* b = has_bias_ ? ctx.in(2).data<int32_t>() : nullptr;
    std::vector<int8_t> local;
    std::vector<int8_t>* ws = ctx.workspace ? ctx.workspace : &local;
    if (!packed_) {  // weights computed at run time: packed here, one thread
      opt::LinearInt8(ctx.in(1).data<int8_t>(), k_, n_, isa_).run(ctx.in(0).data<int8_t>(), b, ctx.out(0).raw_data(),
                                                                  m_, stage_, ws, nullptr);
      return;
    }
    opt::ThreadPool* pool = opt::pool_threads(ctx.pool) <= threads_ ? ctx.pool : nullptr;
    linear_.run(ctx.in(0).data<int8_t>(), b, ctx.out(0).raw_data(), m_, stage_, ws, pool);
  }

 private:
  bool has_bias_ = false;
  int out_bits_ = 0;
  int shift_ = 0;
  int64_t m_ = 0, k_ = 0, n_ = 0;
  opt::OutputStage stage_;
  opt::Isa isa_ = opt::Isa::kAuto;
  int threads_ = 1;
  bool packed_ = false;
  opt::LinearInt8 linear_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Linear(OpKind) { return std::make_unique<LinearIntKernel>(); }

}  // namespace runtime
}  // namespace linger
