#include "kernels/pool_geometry.h"

#include "kernels/limits.h"

namespace linger {
namespace runtime {

Dims infer_pool2d(InferContext& ctx, numerics::Pool2dShape* s) {
  ctx.expect_dtype(0, {DType::kInt8}, "input x");
  ctx.expect_rank(0, 4, "input x");
  const std::vector<int64_t> ks = ctx.attr_ints("kernel_shape", 2, {}, 1, kMaxKernelDim);
  const std::vector<int64_t> strides = ctx.attr_ints("strides", 2, {1, 1}, 1, kMaxStride);
  const std::vector<int64_t> pads = ctx.attr_ints("pads", 4, {0, 0, 0, 0}, 0, kMaxPad);
  const bool ceil_mode = ctx.node().attr_int("ceil_mode", 0) != 0;
  const Dims& x = ctx.dims(0);
  for (size_t i = 0; i < 4; ++i)
    if (x[i] > kMaxSpatialDim || (i >= 1 && x[i] == 0))
      ctx.fail("shape", "input x shape " + shape_str(x) + " is not supported (dimensions 1.." +
                            std::to_string(kMaxSpatialDim) + ")");
  Dims y{x[0], x[1], kUnknownDim, kUnknownDim};
  for (size_t a = 0; a < 2; ++a) {
    const int64_t in = x[2 + a];
    if (in < 0) continue;
    if (in + pads[a] + pads[a + 2] < ks[a])
      ctx.fail("shape", "kernel_shape " + shape_str(ks) + " is larger than the padded input " + shape_str(x));
    y[2 + a] = numerics::Pool2dShape::out_size(static_cast<int>(in), static_cast<int>(ks[a]), static_cast<int>(strides[a]),
                                               static_cast<int>(pads[a]), static_cast<int>(pads[a + 2]), ceil_mode);
  }
  if (ctx.complete()) {
    s->n = static_cast<int>(x[0]);
    s->c = static_cast<int>(x[1]);
    s->h = static_cast<int>(x[2]);
    s->w = static_cast<int>(x[3]);
    s->kh = static_cast<int>(ks[0]);
    s->kw = static_cast<int>(ks[1]);
    s->stride_h = static_cast<int>(strides[0]);
    s->stride_w = static_cast<int>(strides[1]);
    s->pad_top = static_cast<int>(pads[0]);
    s->pad_left = static_cast<int>(pads[1]);
    s->pad_bottom = static_cast<int>(pads[2]);
    s->pad_right = static_cast<int>(pads[3]);
    s->ceil_mode = ceil_mode;
  }
  return y;
}

}  // namespace runtime
}  // namespace linger
