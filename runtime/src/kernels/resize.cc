// ResizeInt (domain linger): int8 [N, C, H, W] -> [N, C, size[0], size[1]],
// nearest or bilinear (align_corners 0/1) as defined in
// include/linger/numerics/resize.h; scale_o must equal scale_x.
#include "kernels/kernel.h"
#include "linger/numerics/resize.h"

namespace linger {
namespace runtime {

namespace {

class ResizeKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input");
    ctx.expect_rank(0, 4, "input");
    if (n.scale_exponent("scale_o") != n.scale_exponent("scale_x"))
      ctx.fail("attribute-value", "scale_o must equal scale_x (resize keeps the scale)");
    const auto size = ctx.attr_ints("size", 2, {}, 1, INT32_MAX);
    mode_ = n.attr("mode")->s == "bilinear" ? numerics::ResizeMode::kBilinear : numerics::ResizeMode::kNearest;
    const auto* ac = n.attr("align_corners");
    align_ = ac != nullptr && ac->i != 0;
    if (align_ && mode_ == numerics::ResizeMode::kNearest) ctx.fail("attribute-value", "align_corners needs mode bilinear");
    const Dims& in = ctx.dims(0);
    oh_ = size[0];
    ow_ = size[1];
    if (ctx.complete()) {
      planes_ = in[0] * in[1];
      ih_ = in[2];
      iw_ = in[3];
      if (ih_ < 1 || iw_ < 1) ctx.fail("shape", "input planes must not be empty, got " + shape_str(in));
    }
    ctx.set_output(0, DType::kInt8, Dims{in[0], in[1], oh_, ow_});
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    int8_t* y = ctx.out(0).data<int8_t>();
    for (int64_t p = 0; p < planes_; ++p)
      numerics::resize_plane(mode_, align_, x + p * ih_ * iw_, ih_, iw_, y + p * oh_ * ow_, oh_, ow_);
  }

 private:
  numerics::ResizeMode mode_ = numerics::ResizeMode::kNearest;
  bool align_ = false;
  int64_t planes_ = 0, ih_ = 0, iw_ = 0, oh_ = 0, ow_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Resize(OpKind) { return std::make_unique<ResizeKernel>(); }

}  // namespace runtime
}  // namespace linger
