// LayerNormInt (thinker) and GroupNormInt (linger): int8 x at scale_x, int16
// weight at scale_w, int32 bias at 2^10 * scale_w -> int8 at scale_o, by
// numerics::layernorm_int (include/linger/numerics/layernorm.h).
// LayerNormInt normalises over the trailing dims that W covers (W and B have
// the shape of normalized_shape); GroupNormInt normalises x [N, C, ...] over
// groups of C/num_groups channels, with W and B [C]. eps_q is the integer
// epsilon term (see the header).
#include "kernels/kernel.h"
#include "linger/numerics/layernorm.h"

namespace linger {
namespace runtime {

namespace {

class LayerNormKernel final : public Kernel {
 public:
  explicit LayerNormKernel(OpKind kind) : group_(kind == OpKind::GroupNormInt) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_dtype(1, {DType::kInt16}, "weight W");
    ctx.expect_dtype(2, {DType::kInt32}, "bias B");
    const Dims& x = ctx.dims(0);
    const Dims& w = ctx.dims(1);
    if (ctx.dims(2) != w) ctx.fail("shape", "bias B must have the shape of weight W");
    p_.eps_q = n.attr_int("eps_q", -1);
    if (p_.eps_q < 0 || p_.eps_q > numerics::kMaxLayerNormEpsQ)
      ctx.fail("attribute-value", "eps_q must be in [0, 2^52]");
    p_.shift = numerics::kLayerNormQ + n.scale_exponent("scale_w") - n.scale_exponent("scale_o");
    p_.out_bits = 8;
    if (group_) {
      groups_ = n.attr_int("num_groups", 0);
      if (x.size() < 2) ctx.fail("shape", "input x must be [N, C, ...]");
      if (w.size() != 1 || (x[1] >= 0 && w[0] >= 0 && w[0] != x[1]))
        ctx.fail("shape", "weight W must be [C] with C the channels of x");
      if (groups_ < 1 || (x[1] >= 0 && x[1] % groups_ != 0))
        ctx.fail("attribute-value", "num_groups must be >= 1 and divide the channels");
    } else {
      groups_ = 1;
      if (w.empty() || w.size() > x.size()) ctx.fail("shape", "weight W must cover 1 to rank(x) trailing dims of x");
      for (size_t i = 0; i < w.size(); ++i) {
        const int64_t xd = x[x.size() - w.size() + i];
        if (xd >= 0 && w[i] >= 0 && xd != w[i]) ctx.fail("shape", "weight W must have the shape of x's trailing dims");
      }
    }
    if (ctx.complete()) {
      const int64_t total = dims_numel(x);
      if (group_) {
        Dims spatial(x.begin() + 2, x.end());
        p_.inner = dims_numel(spatial);
        p_.count = (x[1] / groups_) * p_.inner;
      } else {
        p_.inner = 1;
        p_.count = dims_numel(w);
      }
      if (p_.count < 1 || p_.count > numerics::kMaxLayerNormCount)
        ctx.fail("shape", "normalises " + std::to_string(p_.count) + " elements per row; supported: 1 to " +
                              std::to_string(numerics::kMaxLayerNormCount));
      rows_ = total / p_.count;
    }
    ctx.set_output(0, DType::kInt8, x);
  }

  void run(const RunContext& ctx) override {
    if (rows_ == 0) return;
    numerics::layernorm_int(ctx.in(0).data<int8_t>(), ctx.in(1).data<int16_t>(), ctx.in(2).data<int32_t>(),
                            ctx.out(0).data<int8_t>(), rows_, groups_, p_);
  }

 private:
  bool group_;
  int64_t groups_ = 1;
  int64_t rows_ = 0;
  numerics::LayerNormParams p_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_LayerNorm(OpKind kind) { return std::make_unique<LayerNormKernel>(kind); }

}  // namespace runtime
}  // namespace linger
