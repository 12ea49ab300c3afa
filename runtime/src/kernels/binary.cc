// The binary elementwise family (thinker iqAdd, iqMul, iqDiv): int8 x at
// scale_x, int8 y at scale_y (numpy-broadcastable) -> int8 at scale_o, by
// numerics::binary_int8 (include/linger/numerics/binary.h).
#include "kernels/copy_util.h"
#include "kernels/kernel.h"
#include "linger/numerics/binary.h"

namespace linger {
namespace runtime {

namespace {

class BinaryKernel final : public Kernel {
 public:
  explicit BinaryKernel(OpKind kind) : op_(to_op_id(kind)) {}

  void infer(InferContext& ctx) override {
    const Node& n = ctx.node();
    ctx.expect_dtype(0, {DType::kInt8}, "input x");
    ctx.expect_dtype(1, {DType::kInt8}, "input y");
    Dims out;
    if (!broadcast_dims(ctx.dims(0), ctx.dims(1), &out))
      ctx.fail("shape", "inputs of shapes " + shape_str(ctx.dims(0)) + " and " + shape_str(ctx.dims(1)) +
                            " are not broadcastable");
    params_ = numerics::BinaryParams::make(op_, n.scale_exponent("scale_x"), n.scale_exponent("scale_y"),
                                           n.scale_exponent("scale_o"));
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
    if (same_shape_) {
      if (params_.op == OpId::iqAdd)  // vectorised, split over the intra-op threads
        opt::iqadd_int8(x, y, ctx.out(0).numel(), params_.s0, params_.s1, z, ctx.isa, ctx.pool);
      else
        numerics::binary_int8(params_, x, 1, y, 1, z, ctx.out(0).numel());
      return;
    }
    const int64_t dx = stride_x_.empty() ? 0 : stride_x_.back();
    const int64_t dy = stride_y_.empty() ? 0 : stride_y_.back();
    for_each_broadcast_row(out_, stride_x_, stride_y_, [&](int64_t ox, int64_t oy, int64_t o, int64_t count) {
      numerics::binary_int8(params_, x + ox, dx, y + oy, dy, z + o, count);
    });
  }

 private:
  OpId op_;
  numerics::BinaryParams params_;
  bool same_shape_ = true;
  Dims out_;
  std::vector<int64_t> stride_x_, stride_y_;
};

}  // namespace

std::unique_ptr<Kernel> make_kernel_Binary(OpKind kind) { return std::make_unique<BinaryKernel>(kind); }

}  // namespace runtime
}  // namespace linger
