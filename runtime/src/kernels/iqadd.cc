// iqAdd (thinker): int8 x, int8 y (numpy-broadcastable) -> int8,
// sat8(sat8(rhu_shift(x, Qx-Qo)) + sat8(rhu_shift(y, Qy-Qo))) (numerics::iqadd).
#include "kernels/copy_util.h"
#include "kernels/kernel.h"
#include "linger/numerics/elementwise.h"

namespace linger {
namespace runtime {

namespace {

class IqAddKernel final : public Kernel {
 public:
  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_dtype(1, {DType::kInt8}, "input y");
    Dims out;
    if (!broadcast_dims(ctx.dims(0), ctx.dims(1), &out))
      ctx.fail("shape", "inputs of shapes " + shape_str(ctx.dims(0)) + " and " + shape_str(ctx.dims(1)) +
                            " are not broadcastable");
    const int qo = n.scale_exponent("scale_o");
    shift_x_ = n.scale_exponent("scale_x") - qo;
    shift_y_ = n.scale_exponent("scale_y") - qo;
    if (ctx.complete()) {
      same_shape_ = ctx.dims(0) == ctx.dims(1);
      out_ = out;
      stride_x_ = broadcast_strides(ctx.dims(0), out);
      stride_y_ = broadcast_strides(ctx.dims(1), out);
    }
    ctx.set_output(0, DType::kInt8, out);
  }

  void run(const RunContext& ctx) override {
    const int8_t* x = ctx.in(0).data<int8_t>();
    const int8_t* y = ctx.in(1).data<int8_t>();
    int8_t* z = ctx.out(0).data<int8_t>();
    const int sx = shift_x_, sy = shift_y_;
    if (same_shape_) {
      const int64_t n = ctx.out(0).numel();
      for (int64_t i = 0; i < n; ++i) z[i] = numerics::iqadd(x[i], y[i], sx, sy);
      return;
    }
    for_each_broadcast_row(out_, stride_x_, stride_y_, [&](int64_t ox, int64_t oy, int64_t o, int64_t count) {
      const int64_t dx = stride_x_.empty() ? 0 : stride_x_.back();
      const int64_t dy = stride_y_.empty() ? 0 : stride_y_.back();
      for (int64_t i = 0; i < count; ++i) z[o + i] = numerics::iqadd(x[ox + i * dx], y[oy + i * dy], sx, sy);
    });
  }

 private:
  int shift_x_ = 0, shift_y_ = 0;
  bool same_shape_ = true;
  Dims out_;
  std::vector<int64_t> stride_x_, stride_y_;
};

}  // namespace

std::unique_ptr<Kernel> make_iqadd_kernel() { return std::make_unique<IqAddKernel>(); }

}  // namespace runtime
}  // namespace linger
